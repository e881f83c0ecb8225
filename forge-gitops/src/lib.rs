//! # forge-gitops
//!
//! The GitOps repository as the deployment record (SPEC §6): [`ReleasePointer`] files, deploy
//! and rollback commits with conflict-safe pushes, deployment queries, deployment decisions
//! (policy + freeze windows), EnvironmentConfig resolution, and the core of the Argo CD config
//! management plugin.
//!
//! ```
//! use forge_gitops::{DeployRequest, GitopsRepo, PointerAliases};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let repo = GitopsRepo::open_local(dir.path().join("gitops")).await?;
//! let req = DeployRequest {
//!     path: "environments/dev/acme/shop/web/release.yaml".parse()?,
//!     release: "0123456789abcdef0123456789abcdef01234567".parse()?,
//!     aliases: PointerAliases { numeric: Some(7), tag: Some("v1.0.0".into()), branch: None },
//!     deployed_by: "alice@example.com".into(),
//!     approval: None,
//!     now: "2026-11-28T12:00:00Z".parse()?,
//! };
//! let out = repo.deploy(&req).await?;
//! assert_eq!(out.message, "Deploy web release 7 (v1.0.0) to dev");
//! // The working tree holds the pointer, byte for byte the canonical form.
//! let on_disk = std::fs::read_to_string(dir.path().join("gitops").join(req.path.to_string()))?;
//! assert_eq!(on_disk, out.pointer.to_yaml());
//! # Ok(()) }
//! ```
//!
//! ## Why the git CLI
//! Repository access drives the `git` command line (found on `PATH`, or `FORGE_GIT`) through
//! `tokio::process` rather than linking libgit2 (`git2`) or using `gix`:
//! - exact git semantics for fetch, push, ref locking and every transport (file, `git://`,
//!   smart HTTP, ssh) — including the server-side compare-and-swap a non-forced push gets,
//!   which is what makes concurrent writers safe;
//! - no C build and no second implementation of git to trust;
//! - every call has an explicit environment: inherited `GIT_*` variables are dropped, user and
//!   system configuration are ignored, `HOME` is private, hooks are disabled, author and
//!   committer are passed as `GIT_AUTHOR_*`/`GIT_COMMITTER_*`.
//!
//! Writes use plumbing (`hash-object`, a private index, `write-tree`, `commit-tree`) on the
//! current tip and move the branch by compare-and-swap, so there is never a merge commit:
//! a lost race re-applies the one-file change on the new tip after a backoff.
//!
//! ## Crate features
//! - `cmp` (off by default): the `cmp` module, the core of the Argo CD config
//!   management plugin; pulls in `forge-oci` (and its registry client).
//!
//! ## Modes
//! - local ([`GitopsRepo::open_local`]): a repository with a working tree and no remote, as
//!   `forge run` uses in `.forge-local/gitops`;
//! - remote ([`GitopsRepo::open_remote`]): a private bare clone of a remote (path, `file://`,
//!   `git://`, `http(s)://`, ssh); each write is pushed.

mod decision;
mod envconfig;
mod error;
mod git;
mod pointer;
mod repo;

pub use decision::{
    ActiveFreeze, Candidate, Decision, EnvironmentSettings, FreezeConfig, FreezeOverride, FreezeWindow,
    MIN_JUSTIFICATION, PlatformConfig, RecurringFreeze, Refusal, decide,
};
pub use envconfig::{
    ENV_KIND, EnvironmentConfig, Inputs, Reference, ReferenceScope, Resolved, ValueSource, secret_path,
};
pub use error::{GitopsError, Result};
pub use pointer::{API_VERSION, KIND, MAX_POINTER_BYTES, PointerAliases, ReleasePointer};
pub use repo::{
    ChangeKind, DEFAULT_CONFLICT_ATTEMPTS, DeployOutcome, DeployRequest, GitopsRepo, HistoryEntry, author_for,
    deploy_message, platform_committer, rollback_message,
};

#[cfg(feature = "cmp")]
pub mod cmp;
