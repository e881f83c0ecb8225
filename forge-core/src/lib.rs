//! # forge-core
//!
//! The domain of Forge with no I/O: validated identifiers (SPEC §1), the entities of runs,
//! releases, deployments, approvals and jobs (SPEC §3, §5, §6, §9), status machines with legal
//! transitions only, alias resolution, environment policy decisions, the retry policy
//! (SPEC §10), the permission table (SPEC §8), and the ports every adapter implements.
//!
//! ```
//! use forge_core::{CanonicalId, ReleaseRef, Registry, Namespace};
//!
//! let id: CanonicalId = "acme/shop/web/0123456789abcdef0123456789ABCDEF01234567".parse()?;
//! assert_eq!(id.commit.as_str(), "0123456789abcdef0123456789abcdef01234567");
//! let image = ReleaseRef::new("registry.example:5000".parse::<Registry>()?, id.clone());
//! assert_eq!(image.to_string(), "registry.example:5000/acme/shop/web:0123456789abcdef0123456789abcdef01234567");
//! assert_eq!(Namespace::for_project(&id.repository, &id.project).as_str(), "shop-web");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Crate features
//! - `proptest`: exports the `strategies` module, `proptest` strategies for every identifier and entity,
//!   so that consumers can property-test against Forge's contracts.

pub mod alias;
pub mod auth;
mod error;
pub mod id;
pub mod model;
pub mod policy;
pub mod ports;
pub mod retry;
pub mod status;
#[cfg(feature = "proptest")]
pub mod strategies;

pub use error::{BoxError, Error, ErrorClass, ErrorCode, Result, classify_http_status};
pub use id::{
    ArtifactName, CanonicalId, CommitSha, Environment, IdError, Namespace, PointerPath, ProjectName, Registry,
    ReleaseRef, Repository, TrackingRef,
};
pub use status::{DeploymentStatus, ExecStatus, JobStatus, ReleaseStatus, RunStatus, StatusMachine, TransitionError};
