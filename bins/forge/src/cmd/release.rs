//! `forge release [PROJECT] [--dry-run]`: releases projects of a repository on the embedded
//! defaults (the OCI layout and store of `.forge-local/`), without running the phases.
//!
//! Without a project, every project whose release trigger matches the git context is
//! released; naming a project releases it even if no trigger matches (a manual release).
//!
//! `forge release retry <PROJECT>/<RELEASE>` republishes only the failed destinations of a
//! `partial` release (SPEC §4.3) from the same commit, and records the new results.

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

/// Arguments of `forge release retry`.
#[derive(Debug, Args)]
pub(crate) struct RetryArgs {
    /// The release: `<project>/<release>` where `<release>` is an alias, a release number or a
    /// commit-SHA prefix (e.g. `web/3`, `web/main-3`), or just `<release>` with `--project`.
    pub(crate) release: String,
    /// Project of the release (instead of the `<project>/` prefix).
    #[arg(long)]
    pub(crate) project: Option<String>,
    /// Republish nothing: show what would be retried.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Repository root or a folder inside it.
    #[arg(long, default_value = ".")]
    pub(crate) path: PathBuf,
    #[command(flatten)]
    pub(crate) source: SourceArgs,
}

/// What both commands start from.
struct Local {
    root: PathBuf,
    opts: forge_exec::local::LocalOptions,
    ctx: RunContext,
    paths: LocalPaths,
    secrets: Arc<forge_secrets::ProviderRegistry>,
    discovery: forge_config::discovery::Discovery,
}

fn open(path: &std::path::Path, source: &SourceArgs) -> anyhow::Result<Local> {
    let root = forge_config::discovery::find_repo_root(path)
        .with_context(|| format!("no `.forge/repo.cue` in {} or its parents", path.display()))?;
    let opts = source.options(root.clone(), "dev")?;
    let ctx = RunContext::resolve(&opts)?;
    let paths = LocalPaths::new(&root);
    paths.create()?;
    let secrets = Arc::new(forge_secrets::ProviderRegistry::with_defaults());
    let discovery = local::discover(&root, &ctx, secrets.clone())?;
    Ok(Local { root, opts, ctx, paths, secrets, discovery })
}

pub(crate) fn retry(args: RetryArgs, output: Output) -> anyhow::Result<i32> {
    let (project, release) = match (&args.project, args.release.split_once('/')) {
        (Some(p), _) => (p.clone(), args.release.clone()),
        (None, Some((p, r))) => (p.to_owned(), r.to_owned()),
        (None, None) => anyhow::bail!(
            "which project is release `{}` of? write `<project>/{}` or add `--project <project>`",
            args.release,
            args.release
        ),
    };
    super::runtime()?.block_on(async move {
        let json_out = output == Output::Json;
        let Local { root, opts, ctx, paths, secrets, discovery } = open(&args.path, &args.source)?;
        if discovery.project(&project).is_none() {
            anyhow::bail!("no project `{project}` in {} (run `forge discover` to list them)", root.display());
        }
        let store = super::open_local_store(&paths).await?;
        let progress = Arc::new(Progress::new(json_out, Default::default()));
        let env = super::run::release_env(
            &paths,
            &ctx,
            &opts,
            &store,
            None,
            secrets,
            progress.clone(),
            args.dry_run,
            args.source.signing_key.as_deref(),
        )
        .await?;
        let out = forge_exec::release::retry_release(&env, &discovery, &project, &release)
            .await
            .with_context(|| format!("retrying release {release} of {project}"))?;
        let r = &out.release;
        if json_out {
            let retried: Vec<_> = out
                .retried
                .iter()
                .map(|(a, p)| json!({"artifact": a, "publisher": p.publisher, "success": p.success, "uri": p.uri, "error": p.error}))
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({"dryRun": args.dry_run, "release": r, "retried": retried}))?
            );
        } else if out.retried.is_empty() {
            eprintln!("release {} of {project} is {}: nothing to retry", r.release_number, r.status);
        } else {
            let failed = out.retried.iter().filter(|(_, p)| !p.success).count();
            eprintln!(
                "release {} of {project}: {} publisher(s) retried, {failed} still failing → {}",
                r.release_number,
                out.retried.len(),
                r.status
            );
        }
        Ok(if r.status == forge_core::ReleaseStatus::Complete || args.dry_run { 0 } else { 1 })
    })
}

pub(crate) fn run(args: ReleaseArgs, output: Output) -> anyhow::Result<i32> {
    super::runtime()?.block_on(async move {
        let json_out = output == Output::Json;
        let Local { root, opts, ctx, paths, secrets, discovery } = open(&args.path, &args.source)?;
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
