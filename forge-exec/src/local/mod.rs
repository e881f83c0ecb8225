//! `forge run`: the whole pipeline of a repository in one process on the embedded defaults
//! (ARCHITECTURE "The main job, locally").
//!
//! The same code the distributed deployment runs, wired to local adapters: discovery through
//! forge-config, the phases through the [`Scheduler`] with the `script`/`earthly`
//! executors (logs in a local blob store), the run recorded in the API [`Store`] (SQLite
//! by default), and — when a release trigger matches — the release of every triggered project
//! into an OCI image layout, a pointer commit in a local GitOps repository, and the manifests
//! the Argo CD plugin would produce from that pointer.
//!
//! Everything the run makes lives in `<root>/.forge-local/` ([`LocalPaths`]), which discovery
//! ignores.

mod git;
mod plan;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;
use forge_config::discovery::{Discoverer, Discovery};
use forge_core::model::{CreateRun, PhaseExecution, PipelineRun, StepExecution, TaskExecution};
use forge_core::ports::{SecretRefValidator, Store};
use forge_core::{CommitSha, Environment, Repository, RunStatus};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use git::{GitContext, github_repository};
pub use plan::plan_from_discovery;

use crate::blob::LocalBlobStore;
use crate::executor::ActionExecutor;
use crate::plan::PipelinePlan;
use crate::scheduler::{RunReport, Scheduler, StatusEvent, StatusSink};

/// Errors of a local run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocalError {
    /// Reading the git context failed.
    #[error("git: {message}")]
    Git {
        /// What went wrong and what to do.
        message: String,
    },
    /// Neither a git work tree nor `--commit`/`--branch`.
    #[error("{root} is not inside a git work tree: pass --commit <sha> and --branch <name> (or --tag <tag>) to run it")]
    NoGitContext {
        /// The repository root.
        root: PathBuf,
    },
    /// Discovery failed (invalid `repo.cue`, unsupported `forgeVersion`, limits).
    #[error("discovery failed: {0}")]
    Discovery(String),
    /// A file-system operation on `.forge-local` failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// Where.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A port (store, image store, GitOps) failed.
    #[error(transparent)]
    Port(#[from] forge_core::Error),
    /// A component failed.
    #[error("{component}: {message}")]
    Component {
        /// Component.
        component: &'static str,
        /// What failed.
        message: String,
    },
}

/// Where a local run keeps what it makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalPaths {
    /// The repository root.
    pub root: PathBuf,
    /// `<root>/.forge-local`.
    pub state: PathBuf,
    /// The OCI image layout holding release and tracking images.
    pub oci: PathBuf,
    /// The local GitOps repository (with a working tree).
    pub gitops: PathBuf,
    /// Rendered manifests, one file per (environment, project).
    pub manifests: PathBuf,
    /// Step logs and job results (the local blob store).
    pub blobs: PathBuf,
    /// Artifact staging directories.
    pub staging: PathBuf,
    /// The SQLite database of the embedded API store.
    pub database: PathBuf,
}

impl LocalPaths {
    /// The layout under `root`.
    pub fn new(root: &Path) -> Self {
        let state = root.join(".forge-local");
        Self {
            root: root.to_path_buf(),
            oci: state.join("oci"),
            gitops: state.join("gitops"),
            manifests: state.join("manifests"),
            blobs: state.join("blobs"),
            staging: state.join("staging"),
            database: state.join("forge.db"),
            state,
        }
    }

    /// Creates the directories.
    pub fn create(&self) -> Result<(), LocalError> {
        for d in [&self.state, &self.oci, &self.manifests, &self.blobs, &self.staging] {
            std::fs::create_dir_all(d).map_err(|source| LocalError::Io {
                action: "creating",
                path: d.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// The SQLite URL of the embedded store.
    pub fn database_url(&self) -> String {
        format!("sqlite://{}?mode=rwc", self.database.display())
    }
}

/// What a local run is asked to do.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// The repository root (holding `.forge/repo.cue`).
    pub root: PathBuf,
    /// Branch override (or the only source of it outside a git work tree).
    pub branch: Option<String>,
    /// Tag override.
    pub tag: Option<String>,
    /// Commit override; required outside a git work tree.
    pub commit: Option<CommitSha>,
    /// `owner/name`; default: the GitHub `origin` remote, else `local/<root folder name>`.
    pub repository: Option<Repository>,
    /// Environment to deploy releases to.
    pub environment: Environment,
    /// Identity recorded as actor, deployer and committer author.
    pub actor: String,
}

/// The resolved context of a run.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// Repository identity.
    pub repository: Repository,
    /// Commit.
    pub commit: CommitSha,
    /// Branch.
    pub branch: Option<String>,
    /// Tag.
    pub tag: Option<String>,
    /// Commit time (the only timestamp in release images).
    pub committed_at: chrono::DateTime<Utc>,
    /// Commit author.
    pub author: String,
    /// Commit subject.
    pub message: String,
}

impl RunContext {
    /// Resolves the context from the work tree and the overrides.
    pub fn resolve(opts: &LocalOptions) -> Result<Self, LocalError> {
        let git = GitContext::discover(&opts.root)?;
        let folder = opts
            .root
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "repository".into());
        let default_repo = || -> Result<Repository, LocalError> {
            let from_origin = git.as_ref().and_then(|g| g.origin.as_deref()).and_then(github_repository);
            let text = from_origin.unwrap_or_else(|| format!("local/{folder}"));
            text.parse().map_err(|e| LocalError::Component {
                component: "run",
                message: format!("{e}; pass --repository owner/name"),
            })
        };
        let repository = match &opts.repository {
            Some(r) => r.clone(),
            None => default_repo()?,
        };
        match (git, opts.commit) {
            (Some(g), commit) => Ok(Self {
                repository,
                commit: commit.unwrap_or(g.commit),
                branch: opts.branch.clone().or(g.branch),
                tag: opts.tag.clone().or(g.tag),
                committed_at: g.committed_at,
                author: g.author,
                message: g.message,
            }),
            (None, Some(commit)) if opts.branch.is_some() || opts.tag.is_some() => Ok(Self {
                repository,
                commit,
                branch: opts.branch.clone(),
                tag: opts.tag.clone(),
                // Outside git the commit time is unknown: the epoch keeps images reproducible.
                committed_at: chrono::DateTime::<Utc>::UNIX_EPOCH,
                author: opts.actor.clone(),
                message: String::new(),
            }),
            _ => Err(LocalError::NoGitContext { root: opts.root.clone() }),
        }
    }

    /// The git context forge-config evaluates release triggers against.
    pub fn trigger_context(&self) -> forge_config::trigger::GitContext {
        forge_config::trigger::GitContext { branch: self.branch.clone(), tag: self.tag.clone(), git_ref: None }
    }
}

/// Runs discovery on `root` for the context.
pub fn discover(
    root: &Path,
    ctx: &RunContext,
    validator: Arc<dyn SecretRefValidator>,
) -> Result<Discovery, LocalError> {
    Discoverer::new(validator).discover(root, &ctx.trigger_context()).map_err(|e| LocalError::Discovery(e.to_string()))
}

/// The run entity of a plan, every execution `pending`, as the store records it.
pub fn planned_run(id: Uuid, ctx: &RunContext, plan: &PipelinePlan, actor: &str) -> PipelineRun {
    let now = Utc::now();
    let phases = planned_phases(plan);
    PipelineRun {
        id,
        repository: ctx.repository.clone(),
        commit_sha: ctx.commit,
        branch: ctx.branch.clone(),
        tag: ctx.tag.clone(),
        attempt: 1,
        status: RunStatus::Pending,
        actor: actor.to_owned(),
        created_at: now,
        started_at: None,
        finished_at: None,
        phases,
    }
}

/// The phases → tasks → steps of a plan, every execution `pending` with a fresh id: the body
/// of `PUT /v1/runs/{id}/plan` and the phases of [`planned_run`].
pub fn planned_phases(plan: &PipelinePlan) -> Vec<PhaseExecution> {
    let mut phases = Vec::new();
    for g in &plan.groups {
        for p in &g.phases {
            phases.push(PhaseExecution {
                id: Uuid::new_v4(),
                name: p.name.clone(),
                group: g.group,
                status: forge_core::ExecStatus::Pending,
                started_at: None,
                finished_at: None,
                tasks: p
                    .tasks
                    .iter()
                    .map(|t| TaskExecution {
                        id: Uuid::new_v4(),
                        project: t.project.parse().unwrap_or_else(|_| fallback_project()),
                        project_path: t.project_path.clone(),
                        status: forge_core::ExecStatus::Pending,
                        started_at: None,
                        finished_at: None,
                        steps: t
                            .steps
                            .iter()
                            .map(|s| StepExecution {
                                id: Uuid::new_v4(),
                                name: s.name.clone(),
                                action: s.action,
                                priority: s.priority,
                                status: forge_core::ExecStatus::Pending,
                                exit_code: None,
                                log_key: None,
                                error: None,
                                started_at: None,
                                finished_at: None,
                            })
                            .collect(),
                    })
                    .collect(),
            });
        }
    }
    phases
}

fn fallback_project() -> forge_core::ProjectName {
    // Discovery only yields valid project names; this is never reached in practice.
    "project".parse().unwrap_or_else(|_| unreachable!("`project` is a valid project name"))
}

/// Applies a finished report to the run entity.
pub fn apply_report(run: &mut PipelineRun, report: &RunReport) {
    let now = Utc::now();
    run.status = report.status;
    run.finished_at = Some(now);
    for phase in &mut run.phases {
        let Some(pr) = report.phases.iter().find(|p| p.name == phase.name) else { continue };
        phase.status = pr.status;
        for task in &mut phase.tasks {
            let Some(tr) = pr.tasks.iter().find(|t| t.project == task.project.as_str()) else { continue };
            task.status = tr.status;
            for step in &mut task.steps {
                let Some(sr) = tr.steps.iter().find(|s| s.name == step.name) else { continue };
                step.status = sr.status;
                step.exit_code = sr.exit_code;
                step.log_key = sr.log_key.clone();
                step.error = sr.error.clone();
            }
        }
    }
}

/// Creates (or re-attempts) the run in the store and records its plan.
pub async fn record_run(
    store: &dyn Store,
    ctx: &RunContext,
    plan: &PipelinePlan,
    actor: &str,
) -> Result<PipelineRun, LocalError> {
    store
        .register_repository(
            &forge_core::model::RegisterRepository { repository: ctx.repository.clone(), clone_url: None },
            actor,
        )
        .await?;
    let created = store
        .create_run(
            &CreateRun {
                repository: ctx.repository.clone(),
                commit_sha: ctx.commit,
                branch: ctx.branch.clone(),
                tag: ctx.tag.clone(),
                rerun: true,
            },
            actor,
        )
        .await?;
    let mut run = planned_run(created.value.id, ctx, plan, actor);
    run.attempt = created.value.attempt;
    run.created_at = created.value.created_at;
    run.status = RunStatus::Running;
    run.started_at = Some(Utc::now());
    store.save_run(&run).await?;
    Ok(run)
}

/// Runs the phases of a plan with the local executors, logs under `paths.blobs`.
pub async fn run_phases(
    paths: &LocalPaths,
    run_id: Uuid,
    plan: &PipelinePlan,
    sink: Arc<dyn StatusSink>,
    cancel: CancellationToken,
) -> Result<RunReport, LocalError> {
    let blobs = Arc::new(
        LocalBlobStore::new(&paths.blobs)
            .map_err(|e| LocalError::Component { component: "blob store", message: e.to_string() })?,
    );
    let scheduler = Scheduler::new(Arc::new(ActionExecutor::new(blobs)), sink)
        .with_repo_root(&paths.root)
        .with_log_prefix(format!("logs/{run_id}"));
    Ok(scheduler.run(plan, cancel).await)
}

/// A sink fanning out to several sinks.
pub struct FanOut(pub Vec<Arc<dyn StatusSink>>);

impl StatusSink for FanOut {
    fn report(&self, event: &StatusEvent) {
        for s in &self.0 {
            s.report(event);
        }
    }
}

/// forge-config's discovery as the worker's [`Discoverer`](crate::handler::Discoverer): the
/// discovery document (SPEC §2.5) and the plan of a checkout, evaluated through a shared
/// content-hash cache (the hot discovery worker's configuration cache, SPEC §3.4). Release
/// triggers are evaluated against the branch and tag the job carries.
pub struct ConfigDiscoverer {
    validator: Arc<dyn SecretRefValidator>,
    cache: Arc<forge_config::cache::ConfigCache>,
}

impl std::fmt::Debug for ConfigDiscoverer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigDiscoverer").finish_non_exhaustive()
    }
}

impl ConfigDiscoverer {
    /// A discoverer validating secret references with `validator`.
    pub fn new(validator: Arc<dyn SecretRefValidator>) -> Self {
        Self { validator, cache: Arc::new(forge_config::cache::ConfigCache::default()) }
    }

    /// The full discovery of a checkout (what release creation needs), through the shared
    /// configuration cache.
    pub async fn discovery(
        &self,
        checkout: &Path,
        git: &forge_config::trigger::GitContext,
    ) -> forge_core::Result<forge_config::discovery::Discovery> {
        let discoverer = Discoverer::new(self.validator.clone()).with_cache(self.cache.clone());
        let root = checkout.to_path_buf();
        let git = git.clone();
        tokio::task::spawn_blocking(move || discoverer.discover(&root, &git))
            .await
            .map_err(|e| forge_core::Error::other("discovery", "the discovery task panicked", e))?
            .map_err(|e| forge_core::Error::Validation {
                component: "discovery",
                field: ".forge/repo.cue".into(),
                message: e.to_string(),
            })
    }
}

#[async_trait::async_trait]
impl crate::handler::Discoverer for ConfigDiscoverer {
    async fn discover(
        &self,
        checkout: &Path,
        _repository: &Repository,
        _commit: &CommitSha,
        git: &forge_config::trigger::GitContext,
    ) -> forge_core::Result<crate::handler::Discovered> {
        let discovery = self.discovery(checkout, git).await?;
        let document = serde_json::to_value(&discovery)
            .map_err(|e| forge_core::Error::other("discovery", "encoding the discovery output", e))?;
        Ok(crate::handler::Discovered { document, plan: plan_from_discovery(&discovery) })
    }
}
