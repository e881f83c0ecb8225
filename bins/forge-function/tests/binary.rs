//! The `forge-function` binary: listens where `FORGE_FUNCTION_LISTEN` says and answers
//! RunFunction; refuses `--tls-cert-dir` when built without the `tls` feature.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use forge_function::convert::json_to_struct;
use forge_function::proto::function_runner_service_client::FunctionRunnerServiceClient;
use forge_function::proto::{Resource, RunFunctionRequest, State};
use serde_json::json;
use tonic::transport::Channel;

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn serves_on_the_configured_address() -> R {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let _child = Child(
        Command::new(env!("CARGO_BIN_EXE_forge-function"))
            .env("FORGE_FUNCTION_LISTEN", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let mut channel = None;
    for _ in 0..100 {
        if let Ok(c) = Channel::from_shared(format!("http://127.0.0.1:{port}"))?.connect().await {
            channel = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let channel = channel.ok_or_else(|| anyhow::anyhow!("the binary did not listen on {port}"))?;
    let xr = json!({"apiVersion": "forge.io/v1", "kind": "Storage", "metadata": {"name": "data"}, "spec": {}});
    let req = RunFunctionRequest {
        observed: Some(State {
            composite: Some(Resource { resource: Some(json_to_struct(&xr)?), ..Resource::default() }),
            ..State::default()
        }),
        ..RunFunctionRequest::default()
    };
    let resp = FunctionRunnerServiceClient::new(channel).run_function(req).await?.into_inner();
    // First round: the function asks for the cluster EnvironmentConfig.
    assert!(resp.requirements.is_some_and(|r| r.resources.contains_key(forge_function::server::REQ_CLUSTER)));
    Ok(())
}

#[cfg(not(feature = "tls"))]
#[test]
fn tls_needs_the_feature() -> R {
    let out = Command::new(env!("CARGO_BIN_EXE_forge-function"))
        .args(["--listen", "127.0.0.1:0", "--tls-cert-dir", "/nonexistent"])
        .output()?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--features tls"));
    Ok(())
}

#[test]
fn preview_explains_refusals_and_reads_bare_data() -> R {
    let xr = json!({"apiVersion": "forge.io/v1", "kind": "Network", "metadata": {"name": "web"},
        "spec": {"workload": {"kind": "Deployment", "name": "web"}, "port": 80, "subdomain": "www"}});
    // No domain in the environment: refused, with the reason.
    let err = forge_function::preview(&xr, &json!({"environment": "dev"}), &json!(null)).err();
    let msg = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("has no `domain`"), "{msg}");
    // Bare data maps work as well as EnvironmentConfig objects.
    let objs = forge_function::preview(&xr, &json!({"environment": "dev", "domain": "d.example"}), &json!({}))?;
    let kinds: Vec<&str> = objs.iter().filter_map(|o| o["kind"].as_str()).collect();
    assert_eq!(kinds, ["Service", "HTTPRoute"], "no dnsTarget: no DNSEndpoint");
    assert_eq!(objs[1]["spec"]["hostnames"], json!(["www.d.example"]));
    // An unknown key of a tier is refused.
    let err = forge_function::preview(&xr, &json!({"environment": "dev"}), &json!({"defaults": {}})).err();
    assert!(
        err.map(|e| e.to_string()).unwrap_or_default().contains("project EnvironmentConfig data.defaults: unknown key")
    );
    // The environment name is validated.
    assert!(forge_function::preview(&xr, &json!({"environment": "Not A Label"}), &json!(null)).is_err());
    Ok(())
}
