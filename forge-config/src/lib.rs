//! Forge configuration: the CUE dialect evaluator, the repository and project schemas,
//! discovery, release triggers and rendering (SPEC §2).
