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

/// The async runtime every subcommand that talks to services runs on.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context as _;
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

/// The embedded API store of a repository's `.forge-local/` (SQLite, migrated on open).
pub(crate) async fn open_local_store(
    paths: &forge_exec::local::LocalPaths,
) -> anyhow::Result<std::sync::Arc<dyn forge_core::ports::Store>> {
    use anyhow::Context as _;
    let store = forge_api::store::SqlStore::open(&forge_api::store::StoreOptions::new(paths.database_url()))
        .await
        .context("opening the local store")?;
    Ok(std::sync::Arc::new(store))
}
