//! Typed repository and project configuration (SPEC §2.3, §2.4), decoded from the evaluated
//! tree with every check of the specification and precise errors.

pub(crate) mod decode;
pub mod project;
pub mod repo;
mod secret;
pub use secret::SchemaValidator;

pub use decode::parse_duration;
pub use project::{
    ArtifactConfig, Producer, ProjectConfig, ReleaseConfig, ReleaseOn, Step, StepAction, decode_project,
};
pub use repo::{
    PhaseConfig, PublisherConfig, RepoConfig, RepoDecoded, SUPPORTED_FORGE_VERSION, Tagging, TaggingStrategy,
    decode_repo,
};
