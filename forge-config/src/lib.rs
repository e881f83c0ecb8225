//! Forge configuration: the CUE dialect evaluator, the repository and project schemas,
//! discovery, release triggers and rendering (SPEC §2).
//!
//! The CUE language core lives in [`cue`]; see `CUE_API.md` for a summary.

pub mod cue;
