//! Forge configuration: the CUE dialect evaluator, the repository and project schemas,
//! discovery, release triggers and rendering (SPEC §2).
//!
//! The CUE language core lives in [`cue`]; see `CUE_API.md` for a summary.

pub mod cue;

pub mod cache;
pub mod discovery;
pub mod error;
pub mod eval;
pub mod init;
pub mod render;
pub mod schema;
mod suggest;
pub mod tree;
pub mod trigger;
