//! `forge release [PROJECT] [--dry-run]`: releases projects of a repository on the embedded
//! defaults (the OCI layout and store of `.forge-local/`), without running the phases.
//!
//! Without a project, every project whose release trigger matches the git context is
//! released; naming a project releases it even if no trigger matches (a manual release).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use forge_exec::local::{self, LocalPaths, RunContext};
use serde_json::json;

use super::progress::Progress;
use super::run::{Deliver, SourceArgs, deliver, print_delivered};
use crate::Output;

/// Arguments of `forge release`.
#[derive(Debug, Args)]
pub(crate) struct ReleaseArgs {
    /// Project to release (default: every project whose trigger matches).
    pub(crate) project: Option<String>,
    /// Build artifacts and images, but publish, push and record nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Repository root or a folder inside it.
    #[arg(long, default_value = ".")]
    pub(crate) path: PathBuf,
    #[command(flatten)]
    pub(crate) source: SourceArgs,
}

pub(crate) fn run(args: ReleaseArgs, output: Output) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    rt.block_on(async move {
        let json_out = output == Output::Json;
        let root = forge_config::discovery::find_repo_root(&args.path)
            .with_context(|| format!("no `.forge/repo.cue` in {} or its parents", args.path.display()))?;
        let opts = args.source.options(root.clone(), "dev")?;
        let ctx = RunContext::resolve(&opts)?;
        let paths = LocalPaths::new(&root);
        paths.create()?;
        let secrets = Arc::new(forge_secrets::ProviderRegistry::with_defaults());
        let discovery = local::discover(&root, &ctx, secrets.clone())?;
        let projects = match &args.project {
            Some(p) => {
                if discovery.project(p).is_none() {
                    anyhow::bail!("no project `{p}` in {} (run `forge discover` to list them)", root.display());
                }
                vec![p.clone()]
            }
            None => discovery.release_projects.clone(),
        };
        if projects.is_empty() {
            eprintln!(
                "no release trigger matches {} — name a project to release it manually",
                ctx.branch.as_deref().or(ctx.tag.as_deref()).unwrap_or("this commit")
            );
            return Ok(0);
        }
        let store = super::open_local_store(&paths).await?;
        store
            .register_repository(
                &forge_core::model::RegisterRepository { repository: ctx.repository.clone(), clone_url: None },
                &opts.actor,
            )
            .await?;
        let progress = Arc::new(Progress::new(json_out, Default::default()));
        let what =
            Deliver { projects, dry_run: args.dry_run, deploy: false, signing_key: args.source.signing_key.clone() };
        let delivered = deliver(&paths, &ctx, &opts, &discovery, &store, None, secrets, progress, &what).await?;
        if json_out {
            println!(
                "{}",
                serde_json::to_string_pretty(
                    &json!({"dryRun": args.dry_run, "releases": delivered.iter().map(|d| d.json()).collect::<Vec<_>>()})
                )?
            );
        } else {
            print_delivered(&delivered, &paths);
        }
        Ok(0)
    })
}
