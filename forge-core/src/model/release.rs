//! Releases, aliases, triggers and release artifacts (SPEC §4, §5).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::id::{ArtifactName, CanonicalId, CommitSha, ProjectName, Repository};
use crate::status::ReleaseStatus;

/// What caused a release or a deployment (SPEC §6.4 `allowed_triggers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum TriggerType {
    /// A push to a branch matching a release trigger.
    BranchPush,
    /// A pushed tag.
    Tag,
    /// A person or tool asked for it.
    Manual,
}

impl TriggerType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BranchPush => "branch_push",
            Self::Tag => "tag",
            Self::Manual => "manual",
        }
    }
}

impl fmt::Display for TriggerType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The trigger of a release (SPEC §5.2 `trigger`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseTrigger {
    /// Kind of trigger.
    #[serde(rename = "type")]
    pub kind: TriggerType,
    /// Branch, for branch pushes (and manual releases of a branch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Tag, for tag pushes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Identity that caused it.
    pub actor: String,
}

/// Kind of a release alias (SPEC §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum AliasKind {
    /// The release number (`42`).
    Numeric,
    /// The git tag without the `<project>/` prefix (`v1.2.3`).
    Tag,
    /// `<branch>-<number>` (`main-42`).
    Branch,
    /// Anything a user assigned.
    Custom,
}

/// A release alias.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub struct ReleaseAlias {
    /// Kind.
    pub kind: AliasKind,
    /// Value, unique per release.
    pub alias: String,
}

/// Kind of artifact (SPEC §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum ArtifactType {
    /// A container image.
    Container,
    /// A binary file.
    Binary,
    /// A tar.gz, zip or tar.bz2 archive.
    Archive,
}

impl ArtifactType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Container => "container",
            Self::Binary => "binary",
            Self::Archive => "archive",
        }
    }
}

/// Result of one publisher for one artifact (SPEC §4.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishResult {
    /// Publisher name from `repo.cue`.
    pub publisher: String,
    /// Whether it succeeded.
    pub success: bool,
    /// Where it was published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// The failure, when it failed (never a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// An artifact of a release (SPEC §5.2 `artifacts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseArtifact {
    /// Artifact name.
    pub name: ArtifactName,
    /// Type.
    #[serde(rename = "type")]
    pub kind: ArtifactType,
    /// Content digest (`sha256:…`).
    pub digest: String,
    /// Tracking image reference.
    pub tracking_ref: String,
    /// URI from the first publisher in declaration order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_uri: Option<String>,
    /// Per-publisher results.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub publishers: Vec<PublishResult>,
}

/// A release (SPEC §5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Release {
    /// Release id.
    pub id: Uuid,
    /// Repository.
    pub repository: Repository,
    /// Project.
    pub project: ProjectName,
    /// Commit.
    pub commit_sha: CommitSha,
    /// Gapless number per (repository, project), from 1.
    pub release_number: u64,
    /// Publication state.
    pub status: ReleaseStatus,
    /// Trigger.
    pub trigger: ReleaseTrigger,
    /// Release image reference.
    pub oci_ref: String,
    /// Release image manifest digest.
    pub oci_digest: String,
    /// Aliases.
    #[serde(default)]
    pub aliases: Vec<ReleaseAlias>,
    /// Artifacts.
    #[serde(default)]
    pub artifacts: Vec<ReleaseArtifact>,
    /// Run that produced it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<Uuid>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl Release {
    /// The canonical triplet of the release.
    pub fn canonical_id(&self) -> CanonicalId {
        CanonicalId::new(self.repository.clone(), self.project.clone(), self.commit_sha)
    }
    /// The most descriptive alias for messages: tag, else branch, else the number.
    pub fn display_alias(&self) -> String {
        for kind in [AliasKind::Tag, AliasKind::Branch, AliasKind::Custom] {
            if let Some(a) = self.aliases.iter().find(|a| a.kind == kind) {
                return a.alias.clone();
            }
        }
        self.release_number.to_string()
    }
}

/// Body of `POST /releases`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateRelease {
    /// Repository.
    pub repository: Repository,
    /// Project.
    pub project: ProjectName,
    /// Commit.
    pub commit_sha: CommitSha,
    /// Trigger.
    pub trigger: ReleaseTrigger,
    /// Release image reference.
    pub oci_ref: String,
    /// Release image digest.
    pub oci_digest: String,
    /// Aliases besides the numeric one (tag, branch — the branch alias gets its number
    /// appended by the store).
    #[serde(default)]
    pub aliases: Vec<ReleaseAlias>,
    /// Artifacts.
    #[serde(default)]
    pub artifacts: Vec<ReleaseArtifact>,
    /// Status.
    #[serde(default = "complete")]
    pub status: ReleaseStatus,
    /// Run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<Uuid>,
    /// The release number baked into the release image. When set and the project's next
    /// number is a different one (another release of the project was recorded meanwhile), the
    /// store records nothing and answers a conflict, so the caller rebuilds the image with the
    /// new number: a record never disagrees with its image. Absent: the store numbers freely.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_number: Option<u64>,
}

fn complete() -> ReleaseStatus {
    ReleaseStatus::Complete
}

/// A page of releases (`GET /releases/{owner}/{name}/{project}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleasePage {
    /// Releases, newest first.
    pub releases: Vec<Release>,
    /// Total count.
    pub total: u64,
    /// Page size.
    pub limit: u32,
    /// Offset.
    pub offset: u64,
}
