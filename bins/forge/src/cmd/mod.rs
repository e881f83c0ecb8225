//! Subcommands. Each is thin glue over a library crate.

pub(crate) mod config;
pub(crate) mod cue;
pub(crate) mod ops;
pub(crate) mod progress;
pub(crate) mod release;
pub(crate) mod release_verify;
pub(crate) mod run;
pub(crate) mod secrets;
pub(crate) mod secrets_check;
