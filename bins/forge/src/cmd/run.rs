//! `forge run [PATH]`: the main job on the embedded defaults (forge-exec's `local` module).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use forge_core::ports::Store;
use forge_core::{Environment, ExecStatus, Repository, RunStatus};
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
    /// Environment released projects are deployed to.
    #[arg(long = "env", default_value = "dev")]
    pub(crate) environment: String,
    #[command(flatten)]
    pub(crate) source: SourceArgs,
}

/// What is run or released: the git context overrides, identity and signing key shared by
/// `forge run` and `forge release`.
#[derive(Debug, Args)]
pub(crate) struct SourceArgs {
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
    /// Identity recorded as actor and deployer.
    #[arg(long, env = "FORGE_ACTOR", default_value = "forge-local")]
    pub(crate) actor: String,
    /// Sign every tracking and release image with this PEM private key (PKCS#8, optionally
    /// encrypted with the password in `FORGE_SIGNING_KEY_PASSWORD`); a signing failure fails
    /// the release.
    #[arg(long, env = "FORGE_SIGNING_KEY")]
    pub(crate) signing_key: Option<PathBuf>,
}

impl SourceArgs {
    /// The local-run options for a repository root and environment.
    pub(crate) fn options(&self, root: PathBuf, environment: &str) -> anyhow::Result<LocalOptions> {
        Ok(LocalOptions {
            root,
            branch: self.branch.clone(),
            tag: self.tag.clone(),
            commit: self.commit.as_deref().map(str::parse).transpose().context("--commit")?,
            repository: self.repository.as_deref().map(str::parse::<Repository>).transpose().context("--repository")?,
            environment: environment.parse::<Environment>().context("--env")?,
            actor: self.actor.clone(),
        })
    }
}

pub(crate) fn run(args: RunArgs, output: Output) -> anyhow::Result<i32> {
    super::runtime()?.block_on(run_async(args, output))
}

async fn run_async(args: RunArgs, output: Output) -> anyhow::Result<i32> {
    let json_out = output == Output::Json;
    let started = Instant::now();
    let args_signing_key = args.source.signing_key.clone();
    let root = forge_config::discovery::find_repo_root(&args.path).with_context(|| {
        format!("no `.forge/repo.cue` in {} or its parents: run `forge init --repo` to create one", args.path.display())
    })?;
    let opts = args.source.options(root.clone(), &args.environment)?;
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

    let store = super::open_local_store(&paths).await?;
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
    let mut ok = report.status == RunStatus::Success;

    // Release, deploy, and render through the plugin, for every triggered project.
    let mut delivered: Vec<Delivered> = Vec::new();
    if ok && discovery.release_enabled {
        let what = Deliver {
            projects: discovery.release_projects.clone(),
            dry_run: false,
            deploy: true,
            signing_key: args_signing_key.clone(),
        };
        match deliver(&paths, &ctx, &opts, &discovery, &store, Some(run.id), secrets.clone(), progress.clone(), &what)
            .await
        {
            Ok(d) => delivered = d,
            Err(e) => {
                progress.line(&format!("✗ release failed: {e:#}"));
                ok = false;
            }
        }
    }

    let took = started.elapsed();
    if json_out {
        let doc = json!({
            "run": run,
            "discovery": serde_json::to_value(&discovery).unwrap_or_default(),
            "paths": {
                "state": paths.state, "oci": paths.oci, "gitops": paths.gitops,
                "manifests": paths.manifests, "logs": paths.blobs, "database": paths.database,
            },
            "releases": delivered.iter().map(Delivered::json).collect::<Vec<_>>(),
            "durationSeconds": took.as_secs_f64(),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print_summary(&run, &paths, took);
        print_delivered(&delivered, &paths);
    }
    Ok(if ok { 0 } else { 1 })
}

/// What `forge run` delivered for one project.
pub(crate) struct Delivered {
    project: String,
    release: forge_core::model::Release,
    created: bool,
    deployment: Option<forge_core::model::Deployment>,
    pointer: Option<PathBuf>,
    manifests: Option<PathBuf>,
    artifacts: Vec<forge_exec::release::ArtifactOutcome>,
}

impl Delivered {
    pub(crate) fn json(&self) -> serde_json::Value {
        json!({
            "project": self.project,
            "created": self.created,
            "release": self.release,
            "deployment": self.deployment,
            "pointer": self.pointer,
            "manifests": self.manifests,
            "artifacts": self.artifacts.iter().map(|a| json!({
                "name": a.name, "digest": a.digest, "tracking": a.tracking.0, "trackingDigest": a.tracking.1,
                "publishers": a.publishers, "skipped": a.skipped,
            })).collect::<Vec<_>>(),
        })
    }
}

pub(crate) struct ReleaseLines(pub(crate) Arc<Progress>);

/// What [`deliver`] does.
pub(crate) struct Deliver {
    /// Projects to release.
    pub(crate) projects: Vec<String>,
    /// Build without publishing, pushing or recording.
    pub(crate) dry_run: bool,
    /// Deploy released projects that have resources, and render them through the plugin.
    pub(crate) deploy: bool,
    /// Sign images with this PEM private key.
    pub(crate) signing_key: Option<PathBuf>,
}

/// Loads a signer from a PEM file through the secret-provider port (`file` provider), with the
/// password, if any, from the `FORGE_SIGNING_KEY_PASSWORD` environment variable (`env`).
async fn load_signer(
    secrets: &forge_secrets::ProviderRegistry,
    path: &std::path::Path,
) -> anyhow::Result<Arc<dyn forge_oci::sign::Signer>> {
    use forge_core::ports::SecretRef;
    let abs = std::fs::canonicalize(path).with_context(|| format!("signing key {}", path.display()))?;
    let key = SecretRef {
        provider: "file".into(),
        fields: [("path".to_owned(), json!(abs.display().to_string()))].into_iter().collect(),
    };
    let password = std::env::var_os("FORGE_SIGNING_KEY_PASSWORD").map(|_| SecretRef {
        provider: "env".into(),
        fields: [("name".to_owned(), json!("FORGE_SIGNING_KEY_PASSWORD"))].into_iter().collect(),
    });
    let signer = forge_oci::sign::KeySigner::from_secrets(secrets, &key, password.as_ref())
        .await
        .map_err(|e| anyhow::anyhow!("loading the signing key: {e}"))?;
    Ok(Arc::new(signer))
}

/// Release stages as bars under a `release <project>` bar: one per artifact build, publisher,
/// tracking image, render and release image, each with a spinner and its timing.
impl forge_exec::release::ReleaseProgress for ReleaseLines {
    fn started(&self, project: &str, stage: &str) {
        self.0.event(
            format!("release/{project}/{stage}"),
            Some(format!("release/{project}")),
            2,
            stage.to_owned(),
            ExecStatus::Running,
            "",
        );
    }
    fn finished(&self, project: &str, stage: &str, ok: bool, detail: &str) {
        let status = if ok { ExecStatus::Success } else { ExecStatus::Failed };
        let extra = if detail.is_empty() { String::new() } else { format!(" — {detail}") };
        self.0.event(
            format!("release/{project}/{stage}"),
            Some(format!("release/{project}")),
            2,
            stage.to_owned(),
            status,
            &extra,
        );
    }
}

impl ReleaseLines {
    /// The parent bar of a project's release stages.
    pub(crate) fn project(&self, project: &str, status: ExecStatus, extra: &str) {
        self.0.event(format!("release/{project}"), None, 0, format!("release {project}"), status, extra);
    }
}

/// The release environment of the embedded defaults: images into the OCI layout of
/// `.forge-local/oci` (registry name `forge.local`), the local publishers, the given store.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn release_env(
    paths: &LocalPaths,
    ctx: &RunContext,
    opts: &LocalOptions,
    store: &Arc<dyn Store>,
    run_id: Option<uuid::Uuid>,
    secrets: Arc<forge_secrets::ProviderRegistry>,
    progress: Arc<Progress>,
    dry_run: bool,
    signing_key: Option<&std::path::Path>,
) -> anyhow::Result<forge_exec::release::ReleaseEnv> {
    use forge_exec::release::publisher::{Credentials, PublisherSet};
    use forge_exec::release::{ReleaseEnv, ReleaseGit};

    let layout = Arc::new(forge_oci::LayoutStore::open(&paths.oci)?);
    let signer = match signing_key {
        Some(p) => Some(load_signer(&secrets, p).await?),
        None => None,
    };
    let local_registry: forge_core::Registry = "forge.local".parse()?;
    Ok(ReleaseEnv {
        repository: ctx.repository.clone(),
        repo_root: paths.root.clone(),
        git: ReleaseGit {
            commit: ctx.commit,
            branch: ctx.branch.clone(),
            tag: ctx.tag.clone(),
            committed_at: ctx.committed_at,
            author: ctx.author.clone(),
            message: ctx.message.clone(),
        },
        actor: opts.actor.clone(),
        run_id,
        release_registry: local_registry.clone(),
        release_store: layout.clone(),
        tracking_registry: local_registry,
        tracking_store: layout,
        publishers: PublisherSet::local_defaults(Credentials(secrets), &paths.state.join("published")),
        store: Arc::new(forge_core::ports::StoreReleases(store.clone())),
        staging_root: paths.staging.clone(),
        progress: Arc::new(ReleaseLines(progress)),
        dry_run,
        signer,
    })
}

/// Releases every triggered project into the local OCI layout, deploys it to the run's
/// environment through the local GitOps repository, and renders the manifests the Argo CD
/// plugin would produce from the pointer it wrote.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn deliver(
    paths: &LocalPaths,
    ctx: &RunContext,
    opts: &LocalOptions,
    discovery: &forge_config::discovery::Discovery,
    store: &Arc<dyn Store>,
    run_id: Option<uuid::Uuid>,
    secrets: Arc<forge_secrets::ProviderRegistry>,
    progress: Arc<Progress>,
    what: &Deliver,
) -> anyhow::Result<Vec<Delivered>> {
    let dry_run = what.dry_run;
    use forge_exec::release::release_project;
    let env =
        release_env(paths, ctx, opts, store, run_id, secrets, progress.clone(), dry_run, what.signing_key.as_deref())
            .await?;
    let mut out = Vec::new();
    for project in &what.projects {
        let bars = ReleaseLines(progress.clone());
        bars.project(project, ExecStatus::Running, "");
        let outcome = match release_project(&env, discovery, project).await {
            Ok(o) => {
                bars.project(project, ExecStatus::Success, if dry_run { " (dry run)" } else { "" });
                o
            }
            Err(e) => {
                bars.project(project, ExecStatus::Failed, "");
                return Err(anyhow::Error::new(e).context(format!("releasing {project}")));
            }
        };
        let r = &outcome.release;
        progress.line(&format!(
            "  {} {project} release {} ({}) {}",
            if dry_run {
                "○ would create"
            } else if outcome.created {
                "✓ created"
            } else {
                "= existing"
            },
            r.release_number,
            r.display_alias(),
            r.oci_digest
        ));
        let mut d = Delivered {
            project: project.clone(),
            release: r.clone(),
            created: outcome.created,
            deployment: None,
            pointer: None,
            manifests: None,
            artifacts: outcome.artifacts,
        };
        let deploys = what.deploy && !dry_run && discovery.project(project).is_some_and(|p| p.deployment_triggered);
        if deploys {
            let project_name: forge_core::ProjectName = project.parse()?;
            let current = store.list_deployments(&ctx.repository, &project_name, &opts.environment).await?;
            let active = current.iter().find(|x| x.status == forge_core::DeploymentStatus::Active);
            let deployment = match active {
                Some(a) if a.release_id == r.id => {
                    progress.line(&format!(
                        "  = {project} release {} already active in {}",
                        r.release_number, opts.environment
                    ));
                    a.clone()
                }
                _ => {
                    let req = forge_core::model::CreateDeployment {
                        repository: ctx.repository.clone(),
                        project: project_name.clone(),
                        release: r.release_number.to_string(),
                        environment: opts.environment.clone(),
                        rollback: false,
                    };
                    let dep = super::ops::deploy_local(paths, store.clone(), &req, &opts.actor).await?;
                    progress.line(&format!(
                        "  ✓ deployed {project} release {} to {} (gitops commit {})",
                        r.release_number,
                        opts.environment,
                        dep.gitops_commit.as_deref().map(|c| &c[..12.min(c.len())]).unwrap_or("-")
                    ));
                    dep
                }
            };
            let pointer = forge_core::PointerPath::new(opts.environment.clone(), ctx.repository.clone(), project_name);
            let dir = paths.gitops.join(pointer.dir());
            let mut cmp = forge_gitops::cmp::CmpOptions::new(forge_gitops::cmp::ImageSource::Layout(paths.oci.clone()));
            cmp.repository = Some(ctx.repository.clone());
            let generated =
                forge_gitops::cmp::generate(&dir, &cmp).await.map_err(|e| anyhow::anyhow!("argo cd plugin: {e}"))?;
            let file = paths.manifests.join(opts.environment.as_str()).join(format!("{project}.yaml"));
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&file, &generated.manifests)?;
            progress.line(&format!("  ✓ plugin rendered {} from {}", file.display(), generated.digest));
            d.deployment = Some(deployment);
            d.pointer = Some(paths.gitops.join(pointer.to_string()));
            d.manifests = Some(file);
        }
        out.push(d);
    }
    Ok(out)
}

pub(crate) fn print_delivered(delivered: &[Delivered], paths: &LocalPaths) {
    if delivered.is_empty() {
        return;
    }
    eprintln!();
    eprintln!("{:<10} {:<8} {:<10} {:<12} IMAGE DIGEST", "PROJECT", "RELEASE", "ALIAS", "DEPLOYED");
    for d in delivered {
        eprintln!(
            "{:<10} {:<8} {:<10} {:<12} {}",
            d.project,
            d.release.release_number,
            d.release.display_alias(),
            d.deployment.as_ref().map(|x| x.environment.to_string()).unwrap_or_else(|| "-".into()),
            d.release.oci_digest
        );
    }
    eprintln!();
    eprintln!("  images:    {} (OCI image layout)", paths.oci.display());
    eprintln!("  gitops:    {}", paths.gitops.display());
    for d in delivered {
        if let Some(m) = &d.manifests {
            eprintln!("  manifests: {}", m.display());
        }
    }
}

fn print_summary(run: &forge_core::model::PipelineRun, paths: &LocalPaths, took: std::time::Duration) {
    eprintln!();
    eprintln!("{:<10} {:<8} {:<14} {:<20} {:<10} EXIT", "GROUP", "PHASE", "PROJECT", "STEP", "STATUS");
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
