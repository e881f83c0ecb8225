//! `forge run [PATH]`: the main job on the embedded defaults (forge-exec's `local` module).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use forge_core::ports::Store;
use forge_core::{Environment, Repository, RunStatus};
use forge_exec::local::{self, LocalOptions, LocalPaths, RunContext};
use forge_exec::scheduler::StatusSink;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::progress::Progress;
use crate::Output;

/// Arguments of `forge run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The repository root (holding `.forge/repo.cue`) or a folder inside it.
    #[arg(default_value = ".")]
    pub(crate) path: PathBuf,
    /// Branch for release triggers (default: the checked-out branch).
    #[arg(long)]
    pub(crate) branch: Option<String>,
    /// Tag for release triggers (default: a tag pointing at HEAD).
    #[arg(long)]
    pub(crate) tag: Option<String>,
    /// Commit SHA (required outside a git work tree).
    #[arg(long)]
    pub(crate) commit: Option<String>,
    /// Repository identity `owner/name` (default: the GitHub origin, else `local/<folder>`).
    #[arg(long)]
    pub(crate) repository: Option<String>,
    /// Environment released projects are deployed to.
    #[arg(long = "env", default_value = "dev")]
    pub(crate) environment: String,
    /// Identity recorded as actor and deployer.
    #[arg(long, env = "FORGE_ACTOR", default_value = "forge-local")]
    pub(crate) actor: String,
}

pub(crate) fn run(args: RunArgs, output: Output) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    rt.block_on(run_async(args, output))
}

async fn run_async(args: RunArgs, output: Output) -> anyhow::Result<i32> {
    let json_out = output == Output::Json;
    let started = Instant::now();
    let root = forge_config::discovery::find_repo_root(&args.path).with_context(|| {
        format!("no `.forge/repo.cue` in {} or its parents: run `forge init --repo` to create one", args.path.display())
    })?;
    let opts = LocalOptions {
        root: root.clone(),
        branch: args.branch,
        tag: args.tag,
        commit: args.commit.as_deref().map(str::parse).transpose().context("--commit")?,
        repository: args.repository.as_deref().map(str::parse::<Repository>).transpose().context("--repository")?,
        environment: args.environment.parse::<Environment>().context("--env")?,
        actor: args.actor,
    };
    let ctx = RunContext::resolve(&opts)?;
    let paths = LocalPaths::new(&root);
    paths.create()?;

    let secrets = Arc::new(forge_secrets::ProviderRegistry::with_defaults());
    let discovery = local::discover(&root, &ctx, secrets.clone())?;
    let plan = local::plan_from_discovery(&discovery);
    let groups: HashMap<String, u32> =
        discovery.phase_groups.iter().flat_map(|g| g.phases.iter().map(move |p| (p.clone(), g.group))).collect();
    let progress = Arc::new(Progress::new(json_out, groups));
    progress.line(&format!(
        "forge run {} @ {} ({}) — {} projects, {} steps{}",
        ctx.repository,
        ctx.commit.short(12),
        ctx.branch
            .as_deref()
            .map(|b| format!("branch {b}"))
            .or(ctx.tag.as_deref().map(|t| format!("tag {t}")))
            .unwrap_or_else(|| "detached".into()),
        discovery.projects.len(),
        plan.step_count(),
        if discovery.release_enabled {
            format!(", releasing {}", discovery.release_projects.join(", "))
        } else {
            String::new()
        }
    ));
    for e in &discovery.errors {
        progress
            .line(&format!("  skipped invalid project {}: {}:{}:{}: {}", e.path, e.file, e.line, e.column, e.message));
    }

    let store: Arc<dyn Store> = Arc::new(
        forge_api::store::SqlStore::open(&forge_api::store::StoreOptions::new(paths.database_url()))
            .await
            .context("opening the local store")?,
    );
    let mut run = local::record_run(&*store, &ctx, &plan, &opts.actor).await?;
    let sink: Arc<dyn StatusSink> = progress.clone();
    let cancel = CancellationToken::new();
    let ctrl_c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            ctrl_c.cancel();
        }
    });
    let report = local::run_phases(&paths, run.id, &plan, sink, cancel).await?;
    local::apply_report(&mut run, &report);
    store.save_run(&run).await?;

    let took = started.elapsed();
    let ok = report.status == RunStatus::Success;
    if json_out {
        let doc = json!({
            "run": run,
            "discovery": serde_json::to_value(&discovery).unwrap_or_default(),
            "paths": {
                "state": paths.state, "oci": paths.oci, "gitops": paths.gitops,
                "manifests": paths.manifests, "logs": paths.blobs, "database": paths.database,
            },
            "durationSeconds": took.as_secs_f64(),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print_summary(&run, &paths, took);
    }
    Ok(if ok { 0 } else { 1 })
}

fn print_summary(run: &forge_core::model::PipelineRun, paths: &LocalPaths, took: std::time::Duration) {
    eprintln!();
    eprintln!("{:<10} {:<8} {:<14} {:<20} {:<10} {}", "GROUP", "PHASE", "PROJECT", "STEP", "STATUS", "EXIT");
    for p in &run.phases {
        for t in &p.tasks {
            for s in &t.steps {
                eprintln!(
                    "{:<10} {:<8} {:<14} {:<20} {:<10} {}",
                    p.group,
                    p.name,
                    t.project,
                    s.name,
                    s.status,
                    s.exit_code.map(|c| c.to_string()).unwrap_or_else(|| "-".into())
                );
            }
        }
    }
    eprintln!();
    eprintln!("run {} {} in {:.1}s", run.id, run.status, took.as_secs_f64());
    eprintln!("  logs:      {}", paths.blobs.display());
    eprintln!("  database:  {}", paths.database.display());
}
