//! Shared test helpers: repository paths, YAML loading, schema validation.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Test result.
pub type R<T = ()> = anyhow::Result<T>;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every YAML document of a file, as JSON.
pub fn yaml_docs(path: &Path) -> R<Vec<Value>> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let v: Value = serde::Deserialize::deserialize(doc)?;
        if !v.is_null() {
            out.push(v);
        }
    }
    Ok(out)
}

/// One YAML document.
pub fn yaml_doc(path: &Path) -> R<Value> {
    yaml_docs(path)?.into_iter().next().ok_or_else(|| anyhow::anyhow!("{}: empty", path.display()))
}

/// All `.yaml` files of a directory, sorted.
pub fn yaml_files(dir: &Path) -> R<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    v.sort();
    Ok(v)
}

/// Validates `instance` against `schema` (draft 7), returning every error message.
pub fn validate(schema: &Value, instance: &Value) -> R<Vec<String>> {
    // The kubeconform files name a meta-schema URL that cannot be fetched offline.
    let mut schema = schema.clone();
    if let Some(m) = schema.as_object_mut() {
        m.remove("$schema");
    }
    let v = jsonschema::draft7::new(&schema).map_err(|e| anyhow::anyhow!("schema: {e}"))?;
    Ok(v.iter_errors(instance).map(|e| format!("{} at {}", e, e.instance_path)).collect())
}

/// The `openAPIV3Schema` of the served `version` of a CRD file kept under
/// examples/deploy/schemas/crossplane/.
pub fn crd_schema(file: &str, version: &str) -> R<Value> {
    let crd = yaml_doc(&root().join("examples/deploy/schemas/crossplane").join(file))?;
    let versions = crd.pointer("/spec/versions").and_then(Value::as_array).cloned().unwrap_or_default();
    versions
        .into_iter()
        .find(|v| v.get("name").and_then(Value::as_str) == Some(version))
        .and_then(|v| v.pointer("/schema/openAPIV3Schema").cloned())
        .ok_or_else(|| anyhow::anyhow!("{file}: no version {version}"))
}

/// Adds `additionalProperties: false` to every object schema with `properties`: what the API
/// server's strict field validation does with a structural schema.
pub fn strict(schema: &mut Value) {
    match schema {
        Value::Object(m) => {
            if m.contains_key("properties") && !m.contains_key("additionalProperties") {
                m.insert("additionalProperties".into(), Value::Bool(false));
            }
            for v in m.values_mut() {
                strict(v);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(strict),
        _ => {}
    }
}

/// The Kubernetes v1.32 standalone-strict schema file of an object, or `None` for CRD kinds.
pub fn k8s_schema_file(obj: &Value) -> Option<PathBuf> {
    let api = obj.get("apiVersion")?.as_str()?;
    let kind = obj.get("kind")?.as_str()?.to_ascii_lowercase();
    let file = match api.split_once('/') {
        None => format!("{kind}-{api}.json"),
        Some((group, version)) => {
            let prefix = group.split('.').next()?;
            if group.contains('.') && !group.ends_with(".k8s.io") {
                return None;
            }
            format!("{kind}-{prefix}-{version}.json")
        }
    };
    let p = root().join("examples/deploy/schemas/kubernetes/v1.32.2-standalone-strict").join(file);
    p.exists().then_some(p)
}
