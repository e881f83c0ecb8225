//! Composition of one `forge.io/v1` composite resource into Kubernetes objects.
//!
//! Every environment-specific input is resolved by SPEC §6.5 precedence through forge-gitops'
//! [`forge_gitops::EnvironmentConfig::resolve`]: the per-project override for the XR's name, the
//! value in the XR spec, the cluster-wide default for the XR's kind, the built-in default below.
//!
//! | kind | inputs resolved (built-in default) | composed |
//! |---|---|---|
//! | `Deployment` | `replicas` (1), `cpu` (100m), `memory` (128Mi), `highAvailability` (false) | Deployment, PodDisruptionBudget when highly available |
//! | `Stateful` | the same + `storageSize` (1Gi), `storageClass` | StatefulSet, PodDisruptionBudget when highly available |
//! | `Job` | `cpu`, `memory`, `backoffLimit` (3) | Job |
//! | `CronJob` | `cpu`, `memory`, `backoffLimit` (3), `concurrencyPolicy` (Forbid), `suspend` (false) | CronJob |
//! | `Network` | `gateway` ({name: forge, namespace: gateway}), `dnsTarget`, `dnsTTL` (300) | Service, HTTPRoute, DNSEndpoint |
//! | `Secrets` | `global` (false), `store` ({kind: ClusterSecretStore, name: forge}), `refreshInterval` (1h) | ExternalSecret |
//! | `ConfigMaps` | each key of `data`, per key | ConfigMap |
//! | `Storage` | `size` (1Gi), `accessMode` (ReadWriteOnce), `storageClass` | PersistentVolumeClaim |
//!
//! References in `env[].ref` and `volumes[].ref` use the three forms of SPEC §6.5: local
//! `secrets/<name>/<key>`, `configmaps/<name>/<key>` and `storage/<name>/<field>` wire Kubernetes
//! objects of the same project; `<repo>-<project>::…` and `platform::…` take their value from the
//! cluster EnvironmentConfig's `references`. Anything else is refused with a FATAL result.

use forge_gitops::{Reference, ReferenceScope, secret_path};
use serde_json::{Map, Value, json};

use crate::env::Env;

/// The API version of every composite resource the function composes.
pub const XR_API_VERSION: &str = "forge.io/v1";
/// The XR kinds of the catalog.
pub const KINDS: [&str; 8] =
    ["Deployment", "Stateful", "Job", "CronJob", "Network", "Secrets", "ConfigMaps", "Storage"];
/// Kinds a `Network` may expose.
pub const NETWORK_WORKLOAD_KINDS: [&str; 2] = ["Deployment", "Stateful"];
/// The `app.kubernetes.io/managed-by` value of composed objects.
pub const MANAGED_BY: &str = "forge-function";

/// How bad a finding is (mirrors the protocol's `Severity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum Severity {
    /// Composition is refused.
    Fatal,
    /// Composed, but something deserves attention.
    Warning,
    /// Informational.
    Normal,
}

/// One explained result of a composition.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// Severity.
    pub severity: Severity,
    /// A CamelCase machine-readable reason, e.g. `UnknownReference`.
    pub reason: String,
    /// A human-readable explanation.
    pub message: String,
}

/// Whether the workload a `Network` exposes exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadCheck {
    /// Crossplane returned the workload XR.
    Found,
    /// Crossplane looked and found nothing.
    Missing,
    /// Not checked (preview without a cluster, or not yet fetched).
    NotChecked,
}

/// The outcome of composing one XR.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Composed {
    /// Desired composed resources, keyed by their stable composition name.
    pub resources: Vec<(String, Value)>,
    /// Results; any [`Severity::Fatal`] means `resources` is empty.
    pub findings: Vec<Finding>,
}

impl Composed {
    /// Whether composition was refused.
    pub fn is_refused(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Fatal)
    }
}

/// The identity of an XR, read from its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XrId {
    /// The XR kind (one of [`KINDS`]).
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` (namespaced XRs, Crossplane v2).
    pub namespace: Option<String>,
}

/// Reads and checks the identity of an XR; the error explains the refusal.
pub fn xr_id(xr: &Value) -> Result<XrId, Finding> {
    let bad = |m: String| fatal("InvalidComposite", m);
    let api = xr.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    if api != XR_API_VERSION {
        return Err(bad(format!("apiVersion must be `{XR_API_VERSION}`, found `{api}`")));
    }
    let kind = xr.get("kind").and_then(Value::as_str).unwrap_or_default();
    if !KINDS.contains(&kind) {
        return Err(bad(format!("kind `{kind}` is not in the catalog ({})", KINDS.join(", "))));
    }
    let meta = xr.get("metadata");
    let name = meta.and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or_default();
    if !forge_core::id::is_valid_dns_label(name) {
        return Err(bad(format!("{kind} metadata.name `{name}` must be a DNS label (at most 63 of a-z, 0-9, `-`)")));
    }
    let namespace = meta.and_then(|m| m.get("namespace")).and_then(Value::as_str).map(str::to_owned);
    Ok(XrId { kind: kind.to_owned(), name: name.to_owned(), namespace })
}

fn fatal(reason: &str, message: String) -> Finding {
    Finding { severity: Severity::Fatal, reason: reason.to_owned(), message }
}

fn warning(reason: &str, message: String) -> Finding {
    Finding { severity: Severity::Warning, reason: reason.to_owned(), message }
}

/// Composes `xr` in `env`. Never panics on input; every refusal is a FATAL [`Finding`].
pub fn compose(xr: &Value, env: &Env, workload: WorkloadCheck) -> Composed {
    let id = match xr_id(xr) {
        Ok(id) => id,
        Err(f) => return Composed { resources: Vec::new(), findings: vec![f] },
    };
    let empty = Map::new();
    let spec = xr.get("spec").and_then(Value::as_object).unwrap_or(&empty);
    let mut c = Ctx { id, spec, env, findings: Vec::new(), resources: Vec::new() };
    match c.id.kind.as_str() {
        "Deployment" | "Stateful" | "Job" | "CronJob" => c.workload(),
        "Network" => c.network(workload),
        "Secrets" => c.secrets(),
        "ConfigMaps" => c.config_maps(),
        _ => c.storage(),
    }
    let mut out = Composed { resources: c.resources, findings: c.findings };
    if out.is_refused() {
        out.resources.clear();
    }
    out
}

struct Ctx<'a> {
    id: XrId,
    spec: &'a Map<String, Value>,
    env: &'a Env,
    findings: Vec<Finding>,
    resources: Vec<(String, Value)>,
}

impl Ctx<'_> {
    fn what(&self) -> String {
        format!("{} `{}`", self.id.kind, self.id.name)
    }

    fn refuse(&mut self, reason: &str, message: String) {
        let m = format!("{}: {message}", self.what());
        self.findings.push(fatal(reason, m));
    }

    /// SPEC §6.5 precedence for `input`, with the spec value at `spec_value`.
    fn resolve(&self, input: &str, spec_value: Option<&Value>, built_in: Option<Value>) -> Option<Value> {
        self.env.config.resolve(&self.id.kind, &self.id.name, input, spec_value, built_in.as_ref()).map(|r| r.value)
    }

    fn resolve_spec(&self, input: &str, built_in: Option<Value>) -> Option<Value> {
        self.resolve(input, self.spec.get(input), built_in)
    }

    fn string(&mut self, input: &str, v: Option<Value>) -> Option<String> {
        match v {
            None => None,
            Some(Value::String(s)) => Some(s),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(other) => {
                self.refuse("InvalidInput", format!("`{input}` must be a string, found {other}"));
                None
            }
        }
    }

    fn int(&mut self, input: &str, v: Option<Value>) -> Option<i64> {
        match v {
            None => None,
            Some(Value::Number(n)) if n.as_i64().is_some_and(|i| i >= 0) => n.as_i64(),
            Some(other) => {
                self.refuse("InvalidInput", format!("`{input}` must be a non-negative integer, found {other}"));
                None
            }
        }
    }

    fn bool(&mut self, input: &str, v: Option<Value>) -> bool {
        match v {
            None => false,
            Some(Value::Bool(b)) => b,
            Some(other) => {
                self.refuse("InvalidInput", format!("`{input}` must be a boolean, found {other}"));
                false
            }
        }
    }

    fn metadata(&self, extra_labels: &[(&str, &str)]) -> Value {
        let mut labels = Map::new();
        labels.insert("app.kubernetes.io/name".into(), json!(self.id.name));
        labels.insert("app.kubernetes.io/managed-by".into(), json!(MANAGED_BY));
        labels.insert("forge.io/kind".into(), json!(self.id.kind));
        for (k, v) in extra_labels {
            labels.insert((*k).to_owned(), json!(v));
        }
        let mut m = Map::new();
        m.insert("name".into(), json!(self.id.name));
        if let Some(ns) = &self.id.namespace {
            m.insert("namespace".into(), json!(ns));
        }
        m.insert("labels".into(), Value::Object(labels));
        Value::Object(m)
    }

    fn push(&mut self, key: &str, api_version: &str, kind: &str, spec_key: &str, spec: Value) {
        let mut o = Map::new();
        o.insert("apiVersion".into(), json!(api_version));
        o.insert("kind".into(), json!(kind));
        o.insert("metadata".into(), self.metadata(&[]));
        o.insert(spec_key.into(), spec);
        self.resources.push((key.to_owned(), Value::Object(o)));
    }

    // ----- workloads -------------------------------------------------------------------------

    fn workload(&mut self) {
        let kind = self.id.kind.clone();
        let selector = json!({"app.kubernetes.io/name": self.id.name, "forge.io/kind": kind});
        let Some(pod) = self.pod_template(&selector) else { return };
        let long_running = kind == "Deployment" || kind == "Stateful";
        let mut replicas = None;
        if long_running {
            let r = self.resolve_spec("replicas", Some(json!(1)));
            replicas = self.int("replicas", r);
        }
        match kind.as_str() {
            "Deployment" => {
                let spec = json!({"replicas": replicas, "selector": {"matchLabels": selector}, "template": pod});
                self.push("deployment", "apps/v1", "Deployment", "spec", spec);
            }
            "Stateful" => {
                let mut spec = json!({
                    "serviceName": self.id.name, "replicas": replicas,
                    "selector": {"matchLabels": selector}, "template": pod,
                });
                if let Some(claim) = self.stateful_storage() {
                    spec["volumeClaimTemplates"] = json!([claim]);
                }
                self.push("statefulset", "apps/v1", "StatefulSet", "spec", spec);
            }
            "Job" => {
                let spec = self.job_spec(pod);
                self.push("job", "batch/v1", "Job", "spec", spec);
            }
            _ => {
                let schedule = self.spec.get("schedule").and_then(Value::as_str).map(str::to_owned);
                let Some(schedule) = schedule else {
                    return self.refuse("InvalidInput", "`schedule` (a cron expression) is required".into());
                };
                let cp = self.resolve_spec("concurrencyPolicy", Some(json!("Forbid")));
                let cp = self.string("concurrencyPolicy", cp);
                if let Some(p) = &cp
                    && !["Allow", "Forbid", "Replace"].contains(&p.as_str())
                {
                    self.refuse("InvalidInput", format!("concurrencyPolicy `{p}` is not Allow, Forbid or Replace"));
                }
                let suspend = self.resolve_spec("suspend", Some(json!(false)));
                let suspend = self.bool("suspend", suspend);
                let job = self.job_spec(pod);
                let spec = json!({
                    "schedule": schedule, "concurrencyPolicy": cp, "suspend": suspend,
                    "jobTemplate": {"spec": job},
                });
                self.push("cronjob", "batch/v1", "CronJob", "spec", spec);
            }
        }
        if long_running {
            let ha = self.resolve_spec("highAvailability", Some(json!(false)));
            if self.bool("highAvailability", ha) {
                if replicas.unwrap_or(1) < 2 {
                    let m = format!(
                        "{}: highly available with {} replica(s): the PodDisruptionBudget blocks voluntary evictions",
                        self.what(),
                        replicas.unwrap_or(1)
                    );
                    self.findings.push(warning("HighAvailabilityWithOneReplica", m));
                }
                let spec = json!({"maxUnavailable": 1, "selector": {"matchLabels": selector}});
                self.push("pdb", "policy/v1", "PodDisruptionBudget", "spec", spec);
            }
        }
    }

    fn job_spec(&mut self, pod: Value) -> Value {
        let b = self.resolve_spec("backoffLimit", Some(json!(3)));
        let backoff = self.int("backoffLimit", b);
        json!({"backoffLimit": backoff, "template": pod})
    }

    fn stateful_storage(&mut self) -> Option<Value> {
        let storage = self.spec.get("storage")?;
        let spec_size = storage.get("size");
        let size = self.resolve("storageSize", spec_size, Some(json!("1Gi")));
        let size = self.string("storageSize", size)?;
        let class = self.resolve("storageClass", None, None);
        let class = self.string("storageClass", class);
        let mut spec = json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}});
        if let Some(c) = class {
            spec["storageClassName"] = json!(c);
        }
        Some(json!({"metadata": {"name": "data"}, "spec": spec}))
    }

    fn pod_template(&mut self, selector: &Value) -> Option<Value> {
        let Some(image) = self.spec.get("image").and_then(Value::as_str).map(str::to_owned) else {
            self.refuse("InvalidInput", "`image` is required".into());
            return None;
        };
        let spec_res = self.spec.get("resources");
        let cpu = self.resolve("cpu", spec_res.and_then(|r| r.get("cpu")), Some(json!("100m")));
        let cpu = self.string("cpu", cpu);
        let memory = self.resolve("memory", spec_res.and_then(|r| r.get("memory")), Some(json!("128Mi")));
        let memory = self.string("memory", memory);
        let mut container = Map::new();
        container.insert("name".into(), json!("main"));
        container.insert("image".into(), json!(image));
        for k in ["command", "args"] {
            if let Some(v) = self.spec.get(k) {
                container.insert(k.into(), v.clone());
            }
        }
        if let Some(p) = self.spec.get("port") {
            container.insert("ports".into(), json!([{"name": "http", "containerPort": p}]));
        }
        let env = self.env_vars();
        if !env.is_empty() {
            container.insert("env".into(), Value::Array(env));
        }
        container.insert(
            "resources".into(),
            json!({"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}}),
        );
        let (volumes, mut mounts) = self.volumes();
        if self.id.kind == "Stateful"
            && let Some(path) = self.spec.get("storage").and_then(|s| s.get("mountPath")).and_then(Value::as_str)
        {
            mounts.push(json!({"name": "data", "mountPath": path}));
        }
        if !mounts.is_empty() {
            container.insert("volumeMounts".into(), Value::Array(mounts));
        }
        let mut pod = Map::new();
        pod.insert("containers".into(), json!([Value::Object(container)]));
        if !volumes.is_empty() {
            pod.insert("volumes".into(), Value::Array(volumes));
        }
        if self.id.kind == "Job" || self.id.kind == "CronJob" {
            pod.insert("restartPolicy".into(), json!("Never"));
        }
        Some(json!({"metadata": {"labels": selector}, "spec": Value::Object(pod)}))
    }

    /// Parses a reference and explains a refusal.
    fn reference(&mut self, field: &str, text: &str) -> Option<Reference> {
        match Reference::parse(text) {
            Ok(r) => Some(r),
            Err(e) => {
                self.refuse("InvalidReference", format!("{field}: {e}"));
                None
            }
        }
    }

    fn env_vars(&mut self) -> Vec<Value> {
        let items = self.spec.get("env").and_then(Value::as_array).cloned().unwrap_or_default();
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let name = item.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
            let field = format!("env[{i}] `{name}`");
            match (item.get("value"), item.get("ref").and_then(Value::as_str)) {
                (Some(v), None) => out.push(json!({"name": name, "value": v})),
                (None, Some(text)) => {
                    let Some(r) = self.reference(&field, text) else { continue };
                    if let Some(v) = self.env_from_reference(&field, &name, &r) {
                        out.push(v);
                    }
                }
                _ => self.refuse("InvalidInput", format!("{field}: exactly one of `value` and `ref` is required")),
            }
        }
        out
    }

    fn external(&mut self, field: &str, r: &Reference) -> Option<Value> {
        let text = r.to_string();
        match self.env.references.get(&text) {
            Some(v) => Some(v.clone()),
            None => {
                let whose = match &r.scope {
                    ReferenceScope::Platform => "the platform".to_owned(),
                    ReferenceScope::Project(p) => format!("project `{p}`"),
                    ReferenceScope::Local => "this project".to_owned(),
                };
                self.refuse(
                    "UnknownReference",
                    format!(
                        "{field}: unknown reference `{text}`: {whose} exports no such value in environment `{}`",
                        self.env.environment
                    ),
                );
                None
            }
        }
    }

    fn env_from_reference(&mut self, field: &str, name: &str, r: &Reference) -> Option<Value> {
        if r.scope != ReferenceScope::Local {
            let v = self.external(field, r)?;
            let v = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            return Some(json!({"name": name, "value": v}));
        }
        let key = match r.kind.as_str() {
            "secrets" => "secretKeyRef",
            "configmaps" => "configMapKeyRef",
            other => {
                self.refuse(
                    "UnknownReference",
                    format!("{field}: unknown reference `{r}`: an environment variable refers to `secrets/<name>/<key>` or `configmaps/<name>/<key>`, not `{other}`"),
                );
                return None;
            }
        };
        Some(json!({"name": name, "valueFrom": {key: {"name": r.name, "key": r.field}}}))
    }

    fn volumes(&mut self) -> (Vec<Value>, Vec<Value>) {
        let items = self.spec.get("volumes").and_then(Value::as_array).cloned().unwrap_or_default();
        let (mut volumes, mut mounts) = (Vec::new(), Vec::new());
        for (i, item) in items.iter().enumerate() {
            let name = item.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
            let field = format!("volumes[{i}] `{name}`");
            let mount = item.get("mountPath").and_then(Value::as_str);
            let (Some(mount), Some(text)) = (mount, item.get("ref").and_then(Value::as_str)) else {
                self.refuse("InvalidInput", format!("{field}: `mountPath` and `ref` are required"));
                continue;
            };
            let Some(r) = self.reference(&field, text) else { continue };
            if r.scope != ReferenceScope::Local {
                self.refuse(
                    "UnknownReference",
                    format!("{field}: `{r}`: volumes mount objects of this project only (no `::` scope)"),
                );
                continue;
            }
            let source = match r.kind.as_str() {
                "storage" => json!({"persistentVolumeClaim": {"claimName": r.name}}),
                "secrets" => json!({"secret": {"secretName": r.name, "items": [{"key": r.field, "path": r.field}]}}),
                "configmaps" => json!({"configMap": {"name": r.name, "items": [{"key": r.field, "path": r.field}]}}),
                other => {
                    self.refuse(
                        "UnknownReference",
                        format!("{field}: unknown reference `{r}`: a volume refers to `storage/…`, `secrets/…` or `configmaps/…`, not `{other}`"),
                    );
                    continue;
                }
            };
            let mut vol = source;
            vol["name"] = json!(name);
            volumes.push(vol);
            let mut m = json!({"name": name, "mountPath": mount});
            if r.kind != "storage" {
                m["subPath"] = json!(r.field);
                m["readOnly"] = json!(true);
            }
            mounts.push(m);
        }
        (volumes, mounts)
    }

    // ----- network ---------------------------------------------------------------------------

    fn network(&mut self, workload: WorkloadCheck) {
        let wl = self.spec.get("workload");
        let wl_kind = wl.and_then(|w| w.get("kind")).and_then(Value::as_str).unwrap_or_default().to_owned();
        let wl_name = wl.and_then(|w| w.get("name")).and_then(Value::as_str).unwrap_or_default().to_owned();
        if !NETWORK_WORKLOAD_KINDS.contains(&wl_kind.as_str()) || wl_name.is_empty() {
            return self.refuse(
                "NetworkWithoutWorkload",
                "`workload` must name the Deployment or Stateful this Network exposes ({kind, name})".into(),
            );
        }
        match workload {
            WorkloadCheck::Missing => {
                return self.refuse(
                    "NetworkWithoutWorkload",
                    format!("the workload {wl_kind} `{wl_name}` does not exist in this project"),
                );
            }
            WorkloadCheck::NotChecked => {
                let m = format!("{}: the workload {wl_kind} `{wl_name}` was not checked (no cluster)", self.what());
                self.findings.push(warning("WorkloadNotChecked", m));
            }
            WorkloadCheck::Found => {}
        }
        let port = self.spec.get("port").cloned();
        let Some(port) = self.int("port", port) else {
            return self.refuse("InvalidInput", "`port` (the workload's container port) is required".into());
        };
        let sub = self.spec.get("subdomain").and_then(Value::as_str).unwrap_or_default().to_owned();
        if !forge_core::id::is_valid_dns_label(&sub) {
            return self.refuse("InvalidInput", format!("`subdomain` `{sub}` must be a DNS label"));
        }
        let Some(domain) = self.env.domain.clone() else {
            return self.refuse(
                "EnvironmentIncomplete",
                format!("environment `{}` has no `domain` in its cluster EnvironmentConfig", self.env.environment),
            );
        };
        let host = format!("{sub}.{domain}");
        let path = self.spec.get("path").and_then(Value::as_str).unwrap_or("/").to_owned();
        if !path.starts_with('/') {
            return self.refuse("InvalidInput", format!("`path` `{path}` must start with `/`"));
        }
        let selector = json!({"app.kubernetes.io/name": wl_name, "forge.io/kind": wl_kind});
        let service = json!({
            "selector": selector,
            "ports": [{"name": "http", "port": port, "targetPort": port, "protocol": "TCP"}],
        });
        self.push("service", "v1", "Service", "spec", service);
        let gateway = self.resolve("gateway", None, Some(json!({"name": "forge", "namespace": "gateway"})));
        let gateway = match gateway {
            Some(Value::Object(g)) if g.get("name").is_some_and(Value::is_string) => Value::Object(g),
            other => {
                return self.refuse(
                    "InvalidInput",
                    format!(
                        "`gateway` must be {{name, namespace?, sectionName?}}, found {}",
                        other.unwrap_or(Value::Null)
                    ),
                );
            }
        };
        let route = json!({
            "parentRefs": [gateway],
            "hostnames": [host],
            "rules": [{
                "matches": [{"path": {"type": "PathPrefix", "value": path}}],
                "backendRefs": [{"name": self.id.name, "port": port}],
            }],
        });
        self.push("httproute", "gateway.networking.k8s.io/v1", "HTTPRoute", "spec", route);
        let target = self.resolve("dnsTarget", None, None);
        let ttl = self.resolve("dnsTTL", None, Some(json!(300)));
        let ttl = self.int("dnsTTL", ttl);
        match self.string("dnsTarget", target) {
            Some(t) => {
                let record = if t.parse::<std::net::Ipv4Addr>().is_ok() { "A" } else { "CNAME" };
                let spec =
                    json!({"endpoints": [{"dnsName": host, "recordType": record, "recordTTL": ttl, "targets": [t]}]});
                self.push("dnsendpoint", "externaldns.k8s.io/v1alpha1", "DNSEndpoint", "spec", spec);
            }
            None => {
                let m = format!(
                    "{}: environment `{}` sets no Network `dnsTarget`: no DNSEndpoint for `{host}`",
                    self.what(),
                    self.env.environment
                );
                self.findings.push(warning("NoDnsTarget", m));
            }
        }
    }

    // ----- secrets, config maps, storage -----------------------------------------------------

    fn secrets(&mut self) {
        let g = self.resolve_spec("global", Some(json!(false)));
        let global = self.bool("global", g);
        let store = self.resolve_spec("store", Some(json!({"kind": "ClusterSecretStore", "name": "forge"})));
        let refresh = self.resolve_spec("refreshInterval", Some(json!("1h")));
        let refresh = self.string("refreshInterval", refresh);
        let items = self.spec.get("data").and_then(Value::as_array).cloned().unwrap_or_default();
        if items.is_empty() {
            return self.refuse("InvalidInput", "`data` must list at least one {key, path}".into());
        }
        let mut data = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let key = item.get("key").and_then(Value::as_str);
            let path = item.get("path").and_then(Value::as_str);
            let (Some(key), Some(path)) = (key, path) else {
                self.refuse("InvalidInput", format!("data[{i}]: `key` and `path` are required"));
                continue;
            };
            match secret_path(&self.env.environment, path, global) {
                Ok(remote) => {
                    let mut r = json!({"key": remote});
                    if let Some(p) = item.get("property") {
                        r["property"] = p.clone();
                    }
                    data.push(json!({"secretKey": key, "remoteRef": r}));
                }
                Err(e) => self.refuse("InvalidInput", format!("data[{i}]: {e}")),
            }
        }
        let spec = json!({
            "refreshInterval": refresh,
            "secretStoreRef": store,
            "target": {"name": self.id.name, "creationPolicy": "Owner"},
            "data": data,
        });
        self.push("externalsecret", "external-secrets.io/v1", "ExternalSecret", "spec", spec);
    }

    fn config_maps(&mut self) {
        let name = self.id.name.clone();
        let tier = |m: Option<&forge_gitops::Inputs>| m.and_then(|i| i.get("data")).and_then(Value::as_object).cloned();
        let cluster = tier(self.env.config.defaults.get(&self.id.kind));
        let over = tier(self.env.config.overrides.get(&name));
        let spec = self.spec.get("data").and_then(Value::as_object).cloned();
        // Per-key precedence: override → spec → cluster default.
        let mut keys: Vec<String> = Vec::new();
        for m in [&over, &spec, &cluster].into_iter().flatten() {
            keys.extend(m.keys().cloned());
        }
        keys.sort();
        keys.dedup();
        let mut data = Map::new();
        for k in keys {
            let v = [&over, &spec, &cluster].into_iter().flatten().find_map(|m| m.get(&k)).cloned();
            match v {
                Some(Value::String(s)) => {
                    data.insert(k, json!(s));
                }
                Some(other) => self.refuse("InvalidInput", format!("data.{k} must be a string, found {other}")),
                None => {}
            }
        }
        self.push("configmap", "v1", "ConfigMap", "data", Value::Object(data));
    }

    fn storage(&mut self) {
        let size = self.resolve_spec("size", Some(json!("1Gi")));
        let size = self.string("size", size);
        let mode = self.resolve_spec("accessMode", Some(json!("ReadWriteOnce")));
        let mode = self.string("accessMode", mode);
        if let Some(m) = &mode
            && !["ReadWriteOnce", "ReadWriteMany", "ReadOnlyMany", "ReadWriteOncePod"].contains(&m.as_str())
        {
            self.refuse("InvalidInput", format!("accessMode `{m}` is not a Kubernetes access mode"));
        }
        let class = self.resolve("storageClass", None, None);
        let class = self.string("storageClass", class);
        let mut spec = json!({"accessModes": [mode], "resources": {"requests": {"storage": size}}});
        if let Some(c) = class {
            spec["storageClassName"] = json!(c);
        }
        self.push("pvc", "v1", "PersistentVolumeClaim", "spec", spec);
    }
}
