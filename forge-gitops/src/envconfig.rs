//! EnvironmentConfig (SPEC §6.5): environment-specific values for resource inputs, from the two
//! `env.yml` tiers of the GitOps repository.
//!
//! Cluster tier, `environments/<env>/env.yml` — defaults per resource type:
//! ```yaml
//! defaults:
//!   database: {size: small, version: "16"}
//! ```
//! Project tier, `environments/<env>/<owner>/<name>/<project>/env.yml` — overrides per
//! resource name:
//! ```yaml
//! overrides:
//!   main-db: {size: large}
//! ```
//! Both files may carry `apiVersion: forge.projectcatalyst.io/v1` and
//! `kind: EnvironmentConfig`; any other key is rejected.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use forge_core::{Environment, PointerPath};
use serde::Serialize;
use serde_json::Value as Json;
use serde_yaml::Value;

use crate::error::{GitopsError, Result};
use crate::pointer::{API_VERSION, Walker, join};

/// `kind` of an env.yml file.
pub const ENV_KIND: &str = "EnvironmentConfig";

/// Input values keyed by input name.
pub type Inputs = BTreeMap<String, Json>;

/// Where a resolved value came from, in precedence order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueSource {
    /// The per-project `env.yml` override for the named resource.
    ProjectOverride,
    /// The value written in the resource spec.
    ResourceSpec,
    /// The cluster-wide `env.yml` default for the resource type.
    ClusterDefault,
    /// The built-in default of the resource type.
    BuiltIn,
}

/// A resolved input value and its source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resolved {
    /// The value.
    pub value: Json,
    /// Where it came from.
    pub source: ValueSource,
}

/// The two tiers of one environment and project.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EnvironmentConfig {
    /// Cluster-wide defaults: resource type → input → value.
    pub defaults: BTreeMap<String, Inputs>,
    /// Per-project overrides: resource name → input → value.
    pub overrides: BTreeMap<String, Inputs>,
}

impl EnvironmentConfig {
    /// Parses the tiers; either may be absent. Each is `(file name, bytes)`.
    pub fn parse(cluster: Option<(&str, &[u8])>, project: Option<(&str, &[u8])>) -> Result<Self> {
        let mut out = Self::default();
        if let Some((file, bytes)) = cluster {
            out.defaults = parse_tier(file, bytes, "defaults")?;
        }
        if let Some((file, bytes)) = project {
            out.overrides = parse_tier(file, bytes, "overrides")?;
        }
        Ok(out)
    }

    /// Reads both tiers for `pointer` from a checked-out GitOps repository at `root`.
    pub fn load_dir(root: &Path, pointer: &PointerPath) -> Result<Self> {
        let cluster = root.join("environments").join(pointer.environment.as_str()).join("env.yml");
        let project = root.join(pointer.dir()).join("env.yml");
        let read = |p: &Path| -> Result<Option<(String, Vec<u8>)>> {
            match std::fs::read(p) {
                Ok(b) => Ok(Some((p.display().to_string(), b))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(GitopsError::io(p, &e)),
            }
        };
        let c = read(&cluster)?;
        let p = read(&project)?;
        Self::parse(
            c.as_ref().map(|(f, b)| (f.as_str(), b.as_slice())),
            p.as_ref().map(|(f, b)| (f.as_str(), b.as_slice())),
        )
    }

    /// Resolves `input` of the resource `name` of type `kind`: per-project override → the
    /// value in the resource spec → cluster-wide default → built-in default.
    pub fn resolve(
        &self,
        kind: &str,
        name: &str,
        input: &str,
        spec_value: Option<&Json>,
        built_in: Option<&Json>,
    ) -> Option<Resolved> {
        let hit = |v: &Json, source| Some(Resolved { value: v.clone(), source });
        if let Some(v) = self.overrides.get(name).and_then(|m| m.get(input)) {
            return hit(v, ValueSource::ProjectOverride);
        }
        if let Some(v) = spec_value {
            return hit(v, ValueSource::ResourceSpec);
        }
        if let Some(v) = self.defaults.get(kind).and_then(|m| m.get(input)) {
            return hit(v, ValueSource::ClusterDefault);
        }
        built_in.and_then(|v| hit(v, ValueSource::BuiltIn))
    }
}

fn parse_tier(file: &str, bytes: &[u8], section: &str) -> Result<BTreeMap<String, Inputs>> {
    let root: Value = serde_yaml::from_slice(bytes)
        .map_err(|e| GitopsError::Yaml { file: file.to_owned(), message: e.to_string() })?;
    let mut out = BTreeMap::new();
    if root.is_null() {
        return Ok(out);
    }
    let w = Walker { file };
    let mut f = w.fields(&root, "", &["apiVersion", "kind", section])?;
    if let Some(v) = f.opt("apiVersion") {
        let s = w.string(v, "apiVersion")?;
        if s != API_VERSION {
            return Err(GitopsError::invalid(file, "apiVersion", format!("expected `{API_VERSION}`, found `{s}`")));
        }
    }
    if let Some(v) = f.opt("kind") {
        let s = w.string(v, "kind")?;
        if s != ENV_KIND {
            return Err(GitopsError::invalid(file, "kind", format!("expected `{ENV_KIND}`, found `{s}`")));
        }
    }
    let Some(sec) = f.opt(section) else { return Ok(out) };
    for (k, v) in w.mapping(sec, section)? {
        let key = w.string(k, section)?.to_owned();
        let path = join(section, &key);
        let mut inputs = Inputs::new();
        if !v.is_null() {
            for (ik, iv) in w.mapping(v, &path)? {
                let name = w.string(ik, &path)?.to_owned();
                let json = serde_json::to_value(iv).map_err(|e| {
                    GitopsError::invalid(file, &join(&path, &name), format!("not representable as JSON: {e}"))
                })?;
                inputs.insert(name, json);
            }
        }
        out.insert(key, inputs);
    }
    Ok(out)
}

/// The secret path of SPEC §6.5: `<env>/<path>`, or `global/<path>` when `global` is set.
pub fn secret_path(environment: &Environment, path: &str, global: bool) -> Result<String> {
    let p = path.trim_start_matches('/');
    if p.is_empty() || p.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
        return Err(GitopsError::Reference {
            input: path.to_owned(),
            message: "a secret path is `/`-separated non-empty segments without `.` or `..`".into(),
        });
    }
    Ok(if global { format!("global/{p}") } else { format!("{environment}/{p}") })
}

/// The scope of a [`Reference`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "scope", content = "owner", rename_all = "snake_case")]
pub enum ReferenceScope {
    /// The same project: `<type>/<name>/<field>`.
    Local,
    /// Another project: `<repo>-<project>::…` (the prefix as written).
    Project(String),
    /// Platform-provided: `platform::…`.
    Platform,
}

/// A reference to a field of another resource (SPEC §6.5).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Reference {
    /// Whose resource.
    pub scope: ReferenceScope,
    /// Resource type.
    pub kind: String,
    /// Resource name.
    pub name: String,
    /// Field (may contain `.`).
    pub field: String,
}

impl Reference {
    /// Parses `<type>/<name>/<field>`, `<repo>-<project>::<type>/<name>/<field>` or
    /// `platform::<type>/<name>/<field>`.
    pub fn parse(input: &str) -> Result<Self> {
        let err = |m: &str| GitopsError::Reference { input: input.to_owned(), message: m.to_owned() };
        let (scope, rest) = match input.split_once("::") {
            None => (ReferenceScope::Local, input),
            Some(("platform", rest)) => (ReferenceScope::Platform, rest),
            Some((prefix, rest)) => {
                let ok = prefix.contains('-')
                    && !prefix.starts_with('-')
                    && !prefix.ends_with('-')
                    && prefix.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
                if !ok {
                    return Err(err("the prefix before `::` must be `platform` or `<repo>-<project>`"));
                }
                (ReferenceScope::Project(prefix.to_owned()), rest)
            }
        };
        if rest.contains("::") {
            return Err(err("at most one `::` is allowed"));
        }
        let parts: Vec<&str> = rest.split('/').collect();
        let [kind, name, field] = parts[..] else {
            return Err(err("expected `<type>/<name>/<field>` after the optional `<scope>::`"));
        };
        for (what, v) in [("type", kind), ("name", name), ("field", field)] {
            if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
                return Err(err(&format!("the {what} `{v}` must be non-empty A-Z, a-z, 0-9, `-`, `_` or `.`")));
            }
        }
        Ok(Self { scope, kind: kind.to_owned(), name: name.to_owned(), field: field.to_owned() })
    }

    /// Whether a `<repo>-<project>` scope designates `repo_name` and `project`.
    pub fn is_project(&self, repo_name: &str, project: &str) -> bool {
        matches!(&self.scope, ReferenceScope::Project(p) if *p == format!("{repo_name}-{project}"))
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.scope {
            ReferenceScope::Local => {}
            ReferenceScope::Project(p) => write!(f, "{p}::")?,
            ReferenceScope::Platform => f.write_str("platform::")?,
        }
        write!(f, "{}/{}/{}", self.kind, self.name, self.field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tiers_and_errors() -> Result<()> {
        let cluster = b"apiVersion: forge.projectcatalyst.io/v1\nkind: EnvironmentConfig\ndefaults:\n  database: {size: small, version: \"16\"}\n";
        let project = b"overrides:\n  main-db: {size: large}\n";
        let c = EnvironmentConfig::parse(Some(("env.yml", cluster)), Some(("p/env.yml", project)))?;
        let r = c.resolve("database", "main-db", "size", Some(&Json::from("medium")), None);
        assert_eq!(r.map(|r| (r.value, r.source)), Some((Json::from("large"), ValueSource::ProjectOverride)));
        let r = c.resolve("database", "other", "version", None, Some(&Json::from("15")));
        assert_eq!(r.map(|r| r.source), Some(ValueSource::ClusterDefault));
        let e = EnvironmentConfig::parse(Some(("env.yml", b"default: {}\n")), None).err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("env.yml: default: unknown field (expected one of: apiVersion, kind, defaults)"));
        let e =
            EnvironmentConfig::parse(None, Some(("p/env.yml", b"overrides: {db: [1]}\n"))).err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("p/env.yml: overrides.db: expected a mapping, found a sequence"));
        Ok(())
    }

    #[test]
    fn secrets_and_references() -> Result<()> {
        let env: Environment = "dev".parse().map_err(|_| GitopsError::NotFound { what: "env".into() })?;
        assert_eq!(secret_path(&env, "db/password", false)?, "dev/db/password");
        assert_eq!(secret_path(&env, "/db/password", true)?, "global/db/password");
        assert!(secret_path(&env, "../x", false).is_err());
        let r = Reference::parse("database/main/endpoint")?;
        assert_eq!(r.scope, ReferenceScope::Local);
        let r = Reference::parse("shop-web::database/main/status.endpoint")?;
        assert!(r.is_project("shop", "web"));
        assert_eq!(r.to_string(), "shop-web::database/main/status.endpoint");
        assert_eq!(Reference::parse("platform::vpc/main/id")?.scope, ReferenceScope::Platform);
        for bad in ["a/b", "a/b/c/d", "x::a/b/c", "-a::a/b/c", "a//c", "platform::a/b/c::d", "a/b/c d"] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn precedence(
            over in proptest::option::of(0i64..100),
            spec in proptest::option::of(100i64..200),
            cluster in proptest::option::of(200i64..300),
            builtin in proptest::option::of(300i64..400),
        ) {
            let mut c = EnvironmentConfig::default();
            if let Some(v) = over {
                c.overrides.entry("res".into()).or_default().insert("in".into(), Json::from(v));
            }
            // Noise that must never match: other names, types and inputs.
            c.overrides.entry("other".into()).or_default().insert("in".into(), Json::from(-1));
            c.defaults.entry("kind2".into()).or_default().insert("in".into(), Json::from(-2));
            if let Some(v) = cluster {
                c.defaults.entry("kind".into()).or_default().insert("in".into(), Json::from(v));
            }
            c.defaults.entry("kind".into()).or_default().insert("in2".into(), Json::from(-3));
            let spec_v = spec.map(Json::from);
            let built_v = builtin.map(Json::from);
            let got = c.resolve("kind", "res", "in", spec_v.as_ref(), built_v.as_ref());
            let expected = over.map(|v| (v, ValueSource::ProjectOverride))
                .or(spec.map(|v| (v, ValueSource::ResourceSpec)))
                .or(cluster.map(|v| (v, ValueSource::ClusterDefault)))
                .or(builtin.map(|v| (v, ValueSource::BuiltIn)));
            prop_assert_eq!(got.map(|r| (r.value, r.source)), expected.map(|(v, s)| (Json::from(v), s)));
        }

        #[test]
        fn reference_round_trip(kind in "[a-z][a-z0-9-]{0,10}", name in "[a-z0-9][a-z0-9._-]{0,10}", field in "[a-zA-Z][a-zA-Z0-9.]{0,10}", scope in 0u8..3) {
            let prefix = match scope { 0 => String::new(), 1 => "platform::".into(), _ => "repo-proj::".into() };
            let text = format!("{prefix}{kind}/{name}/{field}");
            let r = Reference::parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(r.to_string(), text);
        }
    }
}
