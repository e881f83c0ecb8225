//! The two EnvironmentConfig tiers as the function receives them.
//!
//! Both tiers are Crossplane `EnvironmentConfig` objects (`apiextensions.crossplane.io/v1beta1`)
//! whose `data` carries the values; the resolution itself (SPEC §6.5) is forge-gitops'
//! [`EnvironmentConfig`].
//!
//! Cluster tier (one per cluster, named [`CLUSTER_CONFIG_NAME`]):
//! ```yaml
//! data:
//!   environment: dev              # DNS label, required
//!   domain: dev.example.com       # the environment domain of Network hosts
//!   defaults:                     # XR kind → input → value
//!     Deployment: {replicas: 1, cpu: 100m, memory: 128Mi, highAvailability: false}
//!   references:                   # cross-project and platform reference values
//!     "platform::vpc/main/id": vpc-0123
//! ```
//! Project tier (labelled `forge.io/namespace: <project namespace>`):
//! ```yaml
//! data:
//!   overrides:                    # XR name → input → value
//!     api: {replicas: 3}
//! ```
//! The merged environment that `function-environment-configs` puts into the context key
//! [`CONTEXT_ENVIRONMENT_KEY`] holds the union of both shapes. Any other key is refused.

use std::collections::BTreeMap;

use forge_core::Environment;
use forge_gitops::{EnvironmentConfig, Inputs};
use serde_json::{Map, Value};

use crate::convert::json_kind;
use crate::error::FunctionError;

/// Name of the cluster-wide EnvironmentConfig.
pub const CLUSTER_CONFIG_NAME: &str = "forge-environment";
/// Label that selects the per-project EnvironmentConfig: its value is the project namespace.
pub const PROJECT_LABEL: &str = "forge.io/namespace";
/// The context key where Crossplane's environment (function-environment-configs) is found.
pub const CONTEXT_ENVIRONMENT_KEY: &str = "apiextensions.crossplane.io/environment";

/// The resolved view of one environment for one project.
#[derive(Debug, Clone, PartialEq)]
pub struct Env {
    /// The environment name.
    pub environment: Environment,
    /// The environment domain (`Network` hosts are `<subdomain>.<domain>`).
    pub domain: Option<String>,
    /// Both tiers, for [`EnvironmentConfig::resolve`].
    pub config: EnvironmentConfig,
    /// Values of cross-project and platform references, keyed by the reference text.
    pub references: BTreeMap<String, Value>,
}

/// Which keys a tier's `data` may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// The cluster-wide config.
    Cluster,
    /// The per-project config.
    Project,
    /// The merged context environment (both).
    Merged,
}

impl Tier {
    fn allowed(self) -> &'static [&'static str] {
        match self {
            Self::Cluster => &["environment", "domain", "defaults", "references"],
            Self::Project => &["overrides"],
            Self::Merged => &["environment", "domain", "defaults", "references", "overrides"],
        }
    }
}

/// The `data` of an EnvironmentConfig object, or the value itself when it is not one (a bare
/// data map, as `forge render` may pass). `null` is an empty map.
pub fn data_of(v: &Value) -> Value {
    match v {
        Value::Object(m) if m.get("kind").and_then(Value::as_str) == Some("EnvironmentConfig") => {
            m.get("data").cloned().unwrap_or_else(|| Value::Object(Map::new()))
        }
        Value::Object(m) if m.get("kind").and_then(Value::as_str) == Some("Environment") => {
            // function-environment-configs' context object: apiVersion/kind plus the data keys.
            let mut m = m.clone();
            m.remove("apiVersion");
            m.remove("kind");
            Value::Object(m)
        }
        Value::Null => Value::Object(Map::new()),
        other => other.clone(),
    }
}

impl Env {
    /// Builds the view from tier data (see [`data_of`]); `what` names each source in errors.
    pub fn from_tiers(tiers: &[(Tier, &str, &Value)]) -> Result<Self, FunctionError> {
        let mut config = EnvironmentConfig::default();
        let mut environment = None;
        let mut domain = None;
        let mut references = BTreeMap::new();
        for (tier, what, data) in tiers {
            let Value::Object(m) = data else {
                return Err(FunctionError::invalid(
                    *what,
                    format!("data must be an object, found {}", json_kind(data)),
                ));
            };
            for (k, v) in m {
                if !tier.allowed().contains(&k.as_str()) {
                    return Err(FunctionError::invalid(
                        format!("{what} data.{k}"),
                        format!("unknown key (expected one of: {})", tier.allowed().join(", ")),
                    ));
                }
                let field = format!("{what} data.{k}");
                match k.as_str() {
                    "environment" => {
                        let s = v.as_str().ok_or_else(|| FunctionError::invalid(&field, "must be a string"))?;
                        environment =
                            Some(s.parse::<Environment>().map_err(|e| FunctionError::invalid(&field, e.to_string()))?);
                    }
                    "domain" => {
                        let s = v.as_str().ok_or_else(|| FunctionError::invalid(&field, "must be a string"))?;
                        let ok = !s.is_empty() && s.split('.').all(forge_core::id::is_valid_dns_label);
                        if !ok {
                            return Err(FunctionError::invalid(&field, format!("`{s}` is not a DNS name")));
                        }
                        domain = Some(s.to_owned());
                    }
                    "defaults" => merge_tier(&mut config.defaults, v, &field)?,
                    "overrides" => merge_tier(&mut config.overrides, v, &field)?,
                    "references" => {
                        let Value::Object(r) = v else {
                            return Err(FunctionError::invalid(&field, "must be an object"));
                        };
                        for (rk, rv) in r {
                            forge_gitops::Reference::parse(rk)
                                .map_err(|e| FunctionError::invalid(format!("{field}.{rk}"), e.to_string()))?;
                            references.insert(rk.clone(), rv.clone());
                        }
                    }
                    _ => {}
                }
            }
        }
        let environment = environment.ok_or_else(|| {
            FunctionError::invalid("cluster EnvironmentConfig", "data.environment is required (the environment name)")
        })?;
        Ok(Self { environment, domain, config, references })
    }
}

fn merge_tier(into: &mut BTreeMap<String, Inputs>, v: &Value, field: &str) -> Result<(), FunctionError> {
    let Value::Object(m) = v else {
        return Err(FunctionError::invalid(field, format!("must be an object, found {}", json_kind(v))));
    };
    for (key, inputs) in m {
        let entry = into.entry(key.clone()).or_default();
        match inputs {
            Value::Null => {}
            Value::Object(i) => entry.extend(i.iter().map(|(k, v)| (k.clone(), v.clone()))),
            other => {
                return Err(FunctionError::invalid(
                    format!("{field}.{key}"),
                    format!("must be an object of inputs, found {}", json_kind(other)),
                ));
            }
        }
    }
    Ok(())
}
