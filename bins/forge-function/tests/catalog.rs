//! The XRD catalog and Compositions in examples/deploy/crossplane/: valid against Crossplane's
//! CRD schemas, one per kind, strict input schemas that accept the fixtures and refuse unknown
//! fields.

mod common;

use std::collections::BTreeSet;

use common::*;
use forge_function::KINDS;
use serde_json::{Value, json};

fn catalog(dir: &str) -> R<Vec<Value>> {
    let mut out = Vec::new();
    for f in yaml_files(&root().join("examples/deploy/crossplane").join(dir))? {
        out.extend(yaml_docs(&f)?);
    }
    Ok(out)
}

fn xrd_schema(xrds: &[Value], kind: &str) -> R<Value> {
    let xrd = xrds
        .iter()
        .find(|x| x.pointer("/spec/names/kind").and_then(Value::as_str) == Some(kind))
        .ok_or_else(|| anyhow::anyhow!("no XRD for {kind}"))?;
    let mut s = xrd
        .pointer("/spec/versions/0/schema/openAPIV3Schema")
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("{kind}: no schema"))?;
    // apiVersion/kind/metadata are validated by the API server itself.
    if let Some(p) = s.get_mut("properties").and_then(Value::as_object_mut) {
        p.insert("apiVersion".into(), json!({"type": "string"}));
        p.insert("kind".into(), json!({"type": "string"}));
        p.insert("metadata".into(), json!({"type": "object"}));
    }
    strict(&mut s);
    Ok(s)
}

#[test]
fn xrds_are_valid_crossplane_objects_one_per_kind() -> R {
    let schema = crd_schema("apiextensions.crossplane.io_compositeresourcedefinitions.yaml", "v2")?;
    let xrds = catalog("xrds")?;
    let mut kinds = BTreeSet::new();
    for x in &xrds {
        let name = x.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("?");
        let errors = validate(&schema, x)?;
        assert!(errors.is_empty(), "{name}: {errors:?}");
        assert_eq!(x["apiVersion"], "apiextensions.crossplane.io/v2", "{name}");
        assert_eq!(x.pointer("/spec/group"), Some(&json!("forge.io")), "{name}");
        assert_eq!(x.pointer("/spec/scope"), Some(&json!("Namespaced")), "{name}");
        assert_eq!(x.pointer("/spec/versions/0/name"), Some(&json!("v1")), "{name}");
        let text = serde_json::to_string(x)?;
        assert!(!text.contains("x-kubernetes-preserve-unknown-fields"), "{name} preserves unknown fields");
        kinds.insert(x.pointer("/spec/names/kind").and_then(Value::as_str).unwrap_or_default().to_owned());
    }
    assert_eq!(kinds, KINDS.iter().map(|k| (*k).to_owned()).collect::<BTreeSet<_>>());
    assert_eq!(xrds.len(), KINDS.len());
    Ok(())
}

#[test]
fn compositions_are_pipelines_calling_forge_function() -> R {
    let schema = crd_schema("apiextensions.crossplane.io_compositions.yaml", "v1")?;
    let comps = catalog("compositions")?;
    let xrds = catalog("xrds")?;
    let mut kinds = BTreeSet::new();
    for c in &comps {
        let name = c.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("?").to_owned();
        let errors = validate(&schema, c)?;
        assert!(errors.is_empty(), "{name}: {errors:?}");
        assert_eq!(c.pointer("/spec/mode"), Some(&json!("Pipeline")), "{name}");
        assert_eq!(c.pointer("/spec/pipeline/0/functionRef/name"), Some(&json!("forge-function")), "{name}");
        assert_eq!(c.pointer("/spec/compositeTypeRef/apiVersion"), Some(&json!("forge.io/v1")), "{name}");
        let kind = c.pointer("/spec/compositeTypeRef/kind").and_then(Value::as_str).unwrap_or_default().to_owned();
        // The XRD of the kind names this Composition as its default.
        let xrd = xrds.iter().find(|x| x.pointer("/spec/names/kind").and_then(Value::as_str) == Some(&kind));
        assert_eq!(xrd.and_then(|x| x.pointer("/spec/defaultCompositionRef/name")), Some(&json!(name)));
        kinds.insert(kind);
    }
    assert_eq!(kinds.len(), KINDS.len());
    assert_eq!(comps.len(), KINDS.len());
    Ok(())
}

#[test]
fn fixtures_match_the_xrd_schemas_and_unknown_fields_are_refused() -> R {
    let xrds = catalog("xrds")?;
    let fixtures = yaml_docs(&root().join("bins/forge-function/tests/fixtures/xrs.yaml"))?;
    assert_eq!(fixtures.len(), KINDS.len());
    for xr in &fixtures {
        let kind = xr["kind"].as_str().unwrap_or_default();
        let schema = xrd_schema(&xrds, kind)?;
        let errors = validate(&schema, xr)?;
        assert!(errors.is_empty(), "{kind}: {errors:?}");
        // Environment-specific or unknown inputs are refused.
        for (field, value) in [("domain", json!("example.com")), ("storageClass", json!("gp3")), ("bogus", json!(1))] {
            let mut bad = xr.clone();
            bad["spec"][field] = value;
            assert!(!validate(&schema, &bad)?.is_empty(), "{kind} accepted spec.{field}");
        }
    }
    // Nested objects are strict too.
    let schema = xrd_schema(&xrds, "Network")?;
    let bad = json!({"apiVersion": "forge.io/v1", "kind": "Network", "metadata": {},
        "spec": {"workload": {"kind": "Deployment", "name": "api", "host": "x"}, "port": 80, "subdomain": "a"}});
    assert!(!validate(&schema, &bad)?.is_empty());
    let bad = json!({"apiVersion": "forge.io/v1", "kind": "Network", "metadata": {},
        "spec": {"workload": {"kind": "Job", "name": "api"}, "port": 80, "subdomain": "a"}});
    assert!(!validate(&schema, &bad)?.is_empty(), "a Job cannot be exposed");
    Ok(())
}

#[test]
fn environment_configs_are_valid_and_parse() -> R {
    let schema = crd_schema("apiextensions.crossplane.io_environmentconfigs.yaml", "v1beta1")?;
    for env in ["dev", "production"] {
        let dir = root().join("examples/deploy/crossplane/environments").join(env);
        let cluster = yaml_doc(&dir.join("env.yaml"))?;
        let project = yaml_doc(&dir.join("project-shop-web.yaml"))?;
        for d in [&cluster, &project] {
            let errors = validate(&schema, d)?;
            assert!(errors.is_empty(), "{env}: {errors:?}");
        }
        let xr = json!({"apiVersion": "forge.io/v1", "kind": "Storage", "metadata": {"name": "x"}, "spec": {}});
        let objs = forge_function::preview(&xr, &cluster, &project)?;
        assert_eq!(objs.len(), 1, "{env}");
    }
    Ok(())
}
