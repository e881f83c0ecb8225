//! `repo.cue` (SPEC §2.3).

use std::collections::BTreeMap;
use std::time::Duration;

use forge_core::ports::{SecretRef, SecretRefValidator};
use serde::Serialize;
use serde_json::{Map, Value as Json};

use super::decode::{Decoder, join};
use super::secret::secret_ref;
use crate::error::ConfigError;
use crate::tree::{Document, Node};

/// The configuration version this build of Forge implements: **v1.0.x**.
///
/// A `forgeVersion` with another major is rejected; the same major with a newer minor is
/// accepted with a warning (fields this build does not know may be ignored or rejected);
/// any patch of a supported minor is accepted silently.
pub const SUPPORTED_FORGE_VERSION: semver::Version = semver::Version::new(1, 0, 0);

/// The tagging strategy of the repository (SPEC §2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum TaggingStrategy {
    /// Tags `<project>/vX.Y.Z` release one project.
    #[serde(rename = "monorepo")]
    Monorepo,
    /// Tags `vX.Y.Z` release every project.
    #[serde(rename = "tag-all")]
    TagAll,
}

impl TaggingStrategy {
    /// The name used in `repo.cue` (`monorepo`, `tag-all`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Monorepo => "monorepo",
            Self::TagAll => "tag-all",
        }
    }
}

/// `tagging`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Tagging {
    /// The strategy.
    pub strategy: TaggingStrategy,
}

/// One phase of the pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhaseConfig {
    /// Stage: lower runs first; phases of the same group run together.
    pub group: u32,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Timeout as written (`"10m"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Timeout, parsed.
    #[serde(skip)]
    pub timeout_duration: Option<Duration>,
    /// Every project must define steps for it.
    pub required: bool,
}

/// A publisher of the repository.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublisherConfig {
    /// Publisher type (`docker`, `docs`, `github`, `crate`, `pypi`, `cue`, or a custom one).
    #[serde(rename = "type")]
    pub kind: String,
    /// Credentials (a secret reference, validated against its provider's schema).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<SecretRef>,
    /// Type-specific fields (registry, namespace, owner, repo, bucket…).
    #[serde(flatten)]
    pub fields: Map<String, Json>,
}

/// A decoded, validated `repo.cue`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RepoConfig {
    /// `forgeVersion` as written.
    pub forge_version: String,
    /// Tagging.
    pub tagging: Tagging,
    /// Phases by name.
    pub phases: BTreeMap<String, PhaseConfig>,
    /// Publishers by name.
    pub publishers: BTreeMap<String, PublisherConfig>,
    /// The whole configuration as JSON, what `@repo(path=…)` reads.
    #[serde(skip)]
    pub raw: Json,
}

/// A successfully decoded `repo.cue` and its warnings.
#[derive(Debug, Clone)]
pub struct RepoDecoded {
    /// The configuration.
    pub config: RepoConfig,
    /// Non-fatal findings (a newer minor `forgeVersion`).
    pub warnings: Vec<ConfigError>,
}

fn parse_version(s: &str) -> Option<semver::Version> {
    semver::Version::parse(s.strip_prefix('v').unwrap_or(s)).ok()
}

/// Decodes and validates a repository configuration; every error in it is reported.
pub fn decode_repo(doc: &Document, validator: &dyn SecretRefValidator) -> Result<RepoDecoded, Vec<ConfigError>> {
    let mut d = Decoder::new(doc);
    let root = &doc.root;
    let mut warnings = Vec::new();
    d.fields(root, "");
    d.closed(root, "", &["forgeVersion", "tagging", "phases", "publishers"]);

    let forge_version = match root.get("forgeVersion") {
        None => {
            d.missing(root, "", "forgeVersion", "a semantic version such as \"v1.0.0\"");
            None
        }
        Some(n) => d.string(n, "forgeVersion").and_then(|s| match parse_version(&s) {
            None => {
                d.errors.push(
                    ConfigError::new(format!("`{s}` is not a semantic version"))
                        .expected_found("a semantic version such as \"v1.0.0\"", format!("{s:?}"))
                        .at_field("forgeVersion")
                        .at(doc, n.span),
                );
                None
            }
            Some(v) if v.major != SUPPORTED_FORGE_VERSION.major => {
                d.errors.push(
                    ConfigError::new(format!(
                        "forgeVersion {s} is not supported: this forge implements v{}",
                        SUPPORTED_FORGE_VERSION
                    ))
                    .expected_found(format!("v{}.x.y", SUPPORTED_FORGE_VERSION.major), format!("{s:?}"))
                    .at_field("forgeVersion")
                    .at(doc, n.span)
                    .hint(if v.major > SUPPORTED_FORGE_VERSION.major {
                        "upgrade forge to a release that supports this major version"
                    } else {
                        "migrate the configuration to the supported major version"
                    }),
                );
                None
            }
            Some(v) => {
                if v.minor > SUPPORTED_FORGE_VERSION.minor {
                    warnings.push(
                        ConfigError::new(format!(
                            "forgeVersion {s} is newer than this forge (v{}); continuing, newer features may be rejected",
                            SUPPORTED_FORGE_VERSION
                        ))
                        .at_field("forgeVersion")
                        .at(doc, n.span)
                        .hint("upgrade forge"),
                    );
                }
                Some(s)
            }
        }),
    };

    let tagging = match root.get("tagging") {
        None => {
            d.missing(root, "", "tagging", "{strategy: \"monorepo\" | \"tag-all\"}");
            None
        }
        Some(t) => {
            d.fields(t, "tagging");
            d.closed(t, "tagging", &["strategy"]);
            match t.get("strategy") {
                None => {
                    d.missing(t, "tagging", "strategy", "\"monorepo\" | \"tag-all\"");
                    None
                }
                Some(s) => d.one_of(s, "tagging.strategy", &["monorepo", "tag-all"]).map(|s| Tagging {
                    strategy: if s == "monorepo" { TaggingStrategy::Monorepo } else { TaggingStrategy::TagAll },
                }),
            }
        }
    };

    let mut phases = BTreeMap::new();
    if let Some(p) = root.get("phases")
        && let Some(fields) = d.fields(p, "phases")
    {
        for (name, phase) in fields {
            if let Some(cfg) = decode_phase(&mut d, phase, &join("phases", name)) {
                phases.insert(name.clone(), cfg);
            }
        }
    }

    let mut publishers = BTreeMap::new();
    if let Some(p) = root.get("publishers")
        && let Some(fields) = d.fields(p, "publishers")
    {
        for (name, publ) in fields {
            if let Some(cfg) = decode_publisher(&mut d, publ, &join("publishers", name), validator) {
                publishers.insert(name.clone(), cfg);
            }
        }
    }

    let raw = match root.to_json() {
        Some(j) => j,
        None => {
            if d.errors.is_empty() {
                d.error(root, "", "repository configuration is not concrete");
            }
            Json::Null
        }
    };

    match (forge_version, tagging) {
        (Some(forge_version), Some(tagging)) if d.errors.is_empty() => {
            Ok(RepoDecoded { config: RepoConfig { forge_version, tagging, phases, publishers, raw }, warnings })
        }
        _ => Err(d.errors),
    }
}

fn decode_phase(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<PhaseConfig> {
    d.fields(node, path)?;
    d.closed(node, path, &["group", "description", "timeout", "required"]);
    let group = match node.get("group") {
        None => {
            d.missing(node, path, "group", "int & >=1");
            None
        }
        Some(g) => {
            let gp = join(path, "group");
            d.int(g, &gp).and_then(|v| match u32::try_from(v) {
                Ok(v) if v >= 1 => Some(v),
                _ => {
                    d.error(g, &gp, "phase group must be at least 1").expected = Some("int & >=1".into());
                    None
                }
            })
        }
    };
    let description = node.get("description").and_then(|n| d.string(n, &join(path, "description")));
    let timeout = node.get("timeout").and_then(|n| d.duration(n, &join(path, "timeout")));
    let required = node.get("required").and_then(|n| d.boolean(n, &join(path, "required"))).unwrap_or(false);
    let (timeout, timeout_duration) = match timeout {
        Some((s, t)) => (Some(s), Some(t)),
        None => (None, None),
    };
    Some(PhaseConfig { group: group?, description, timeout, timeout_duration, required })
}

fn decode_publisher(
    d: &mut Decoder<'_>,
    node: &Node,
    path: &str,
    validator: &dyn SecretRefValidator,
) -> Option<PublisherConfig> {
    let fields = d.fields(node, path)?;
    let kind = match node.get("type") {
        None => {
            d.missing(
                node,
                path,
                "type",
                "\"docker\" | \"docs\" | \"github\" | \"crate\" | \"pypi\" | \"cue\" | string",
            );
            None
        }
        Some(t) => d.string(t, &join(path, "type")),
    };
    let credentials =
        node.get("credentials").and_then(|c| secret_ref(d, c, &join(path, "credentials"), validator, false));
    let mut rest = Map::new();
    for (k, v) in fields {
        if k == "type" || k == "credentials" {
            continue;
        }
        match v.to_json() {
            Some(j) => {
                rest.insert(k.clone(), j);
            }
            None => d.mismatch(v, &join(path, k), "a concrete value"),
        }
    }
    Some(PublisherConfig { kind: kind?, credentials, fields: rest })
}
