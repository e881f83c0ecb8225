//! in-toto v1 Statements with a SLSA provenance v1 predicate (SPEC §4.5), from typed structs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `_type` of an in-toto v1 Statement.
pub const IN_TOTO_STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// `predicateType` of SLSA provenance v1.
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
/// The `buildType` Forge records.
pub const FORGE_BUILD_TYPE: &str = "https://forge.projectcatalyst.io/buildtypes/artifact/v1";

/// An in-toto v1 Statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Statement {
    /// Always [`IN_TOTO_STATEMENT_V1`].
    #[serde(rename = "_type")]
    pub statement_type: String,
    /// What the statement is about.
    pub subject: Vec<ResourceDescriptor>,
    /// Always [`SLSA_PROVENANCE_V1`] here.
    pub predicate_type: String,
    /// The provenance.
    pub predicate: Provenance,
}

/// An in-toto ResourceDescriptor (subject, dependency or byproduct).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourceDescriptor {
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Digests by algorithm (`sha256`, `gitCommit`).
    pub digest: BTreeMap<String, String>,
}

/// SLSA provenance v1 predicate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    /// How it was built.
    pub build_definition: BuildDefinition,
    /// Who ran the build and when.
    pub run_details: RunDetails,
}

/// SLSA `buildDefinition`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildDefinition {
    /// [`FORGE_BUILD_TYPE`].
    pub build_type: String,
    /// User-controlled parameters (project, artifact, producer target and args).
    pub external_parameters: BTreeMap<String, serde_json::Value>,
    /// Platform parameters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub internal_parameters: BTreeMap<String, serde_json::Value>,
    /// Sources (the git commit).
    pub resolved_dependencies: Vec<ResourceDescriptor>,
}

/// SLSA `runDetails`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunDetails {
    /// The builder.
    pub builder: Builder,
    /// Invocation id and times.
    pub metadata: BuildMetadata,
}

/// SLSA `builder`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Builder {
    /// Builder id URI.
    pub id: String,
}

/// SLSA `metadata`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildMetadata {
    /// The run id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation_id: Option<String>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_on: Option<String>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_on: Option<String>,
}

impl Statement {
    /// A statement about `subject` with SLSA provenance.
    pub fn slsa(subject: Vec<ResourceDescriptor>, predicate: Provenance) -> Self {
        let mut subject = subject;
        subject.sort();
        Self {
            statement_type: IN_TOTO_STATEMENT_V1.into(),
            subject,
            predicate_type: SLSA_PROVENANCE_V1.into(),
            predicate,
        }
    }
    /// Compact JSON bytes (stable field order).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}
