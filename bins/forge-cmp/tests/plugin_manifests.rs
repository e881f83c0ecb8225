//! The shipped Argo CD wiring (examples/deploy/argocd) matches the plugin contract.

use std::path::PathBuf;

use serde_yaml::Value;

type R<T> = Result<T, Box<dyn std::error::Error>>;

fn example(name: &str) -> R<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/deploy/argocd").join(name);
    Ok(serde_yaml::from_slice(&std::fs::read(path)?)?)
}

#[test]
fn plugin_contract() -> R<()> {
    let plugin = example("plugin.yaml")?;
    assert_eq!(plugin["kind"], Value::from("ConfigManagementPlugin"));
    assert_eq!(plugin["spec"]["discover"]["fileName"], Value::from("./release.yaml"));
    assert_eq!(plugin["spec"]["generate"]["command"], serde_yaml::from_str::<Value>("[forge-cmp, generate]")?);
    // The ConfigMap carries the same plugin.yaml.
    let cm = example("plugin-configmap.yaml")?;
    let embedded: Value = serde_yaml::from_str(cm["data"]["plugin.yaml"].as_str().ok_or("no data.plugin.yaml")?)?;
    assert_eq!(embedded, plugin);
    // The Application uses the plugin under its versioned name.
    let name = format!(
        "{}-{}",
        plugin["metadata"]["name"].as_str().ok_or("name")?,
        plugin["spec"]["version"].as_str().ok_or("version")?
    );
    let app = example("application.yaml")?;
    assert_eq!(app["spec"]["source"]["plugin"]["name"], Value::from(name.as_str()));
    let path = app["spec"]["source"]["path"].as_str().ok_or("path")?;
    assert!(format!("{path}/release.yaml").parse::<forge_core::PointerPath>().is_ok(), "{path}");
    let set = example("applicationset.yaml")?;
    assert_eq!(set["spec"]["template"]["spec"]["source"]["plugin"]["name"], Value::from(name.as_str()));
    // The sidecar mounts the ConfigMap where the cmp-server reads it.
    let patch = example("repo-server-patch.yaml")?;
    let mounts = &patch["spec"]["template"]["spec"]["containers"][0]["volumeMounts"];
    let found = mounts
        .as_sequence()
        .into_iter()
        .flatten()
        .any(|m| m["mountPath"] == "/home/argocd/cmp-server/config/plugin.yaml" && m["subPath"] == "plugin.yaml");
    assert!(found);
    Ok(())
}
