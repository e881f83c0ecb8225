//! `forge-worker`: the Forge hot worker (SPEC §3.3, §3.4). Argument parsing and adapter
//! wiring only; the runtime lives in `forge_exec::worker`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use forge_core::model::{Job, JobType};
use forge_core::ports::{BlobStore, JobQueue};
use forge_exec::blob::LocalBlobStore;
use forge_exec::executor::ActionExecutor;
use forge_exec::handler::{ArtifactHandler, DiscoveryCache, DiscoveryHandler, PlanFileDiscoverer, TaskHandler};
use forge_exec::metrics::WorkerMetrics;
use forge_exec::queue::sqs::{SqsClient, SqsQueue, ensure_queues};
use forge_exec::queue::{EmbeddedQueue, QueueSettings};
use forge_exec::repo_cache::RepoCache;
use forge_exec::scheduler::NoopSink;
use forge_exec::worker::{Worker, WorkerConfig};
use tokio_util::sync::CancellationToken;

/// The Forge hot worker: receives discovery, task and (with --api-url and --release-registry)
/// artifact jobs from a queue (SQS or embedded), runs them in per-job worktrees of cached bare
/// clones, records each result under its job id in
/// the blob store, and only then deletes the message.
///
/// Every option can also be set through the environment variable shown.
#[derive(Debug, Parser)]
#[command(name = "forge-worker", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Consume jobs until SIGTERM/SIGINT: then stop receiving, let running jobs finish within
    /// --shutdown-grace, and release the rest back to the queue.
    Run(Box<RunArgs>),
    /// The dispatcher of an Argo Workflow step (SPEC §3.6): submits one job to the queue (a
    /// deterministic job id, so a retried step re-attaches) and waits for its result in the
    /// shared blob store, then writes the step's output parameters into --output-dir.
    Dispatcher(Box<DispatcherArgs>),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum QueueKind {
    /// Discovery queue settings: visibility 300 s, retention 3600 s.
    Discovery,
    /// Tasks queue settings: visibility 1800 s, retention 7200 s.
    Tasks,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// SQS queue URL to consume (AWS settings come from the usual AWS_* variables, including
    /// AWS_ENDPOINT_URL for emulators).
    #[arg(long, env = "FORGE_WORKER_QUEUE_URL", conflicts_with_all = ["embedded", "ensure_queue"])]
    queue_url: Option<String>,
    /// Create (or update) the SQS queue NAME and its dead-letter queue NAME-dlq with the SPEC
    /// settings of --queue-kind, then consume it.
    #[arg(long, env = "FORGE_WORKER_ENSURE_QUEUE", value_name = "NAME", conflicts_with = "embedded")]
    ensure_queue: Option<String>,
    /// Use the in-process queue instead of SQS (local runs; seed it with --seed-jobs).
    #[arg(long, env = "FORGE_WORKER_EMBEDDED")]
    embedded: bool,
    /// With --embedded: a file of jobs (one JSON job message per line) to enqueue at start.
    #[arg(long, env = "FORGE_WORKER_SEED_JOBS", requires = "embedded")]
    seed_jobs: Option<PathBuf>,
    /// With --embedded: exit once the queue is empty and no job runs.
    #[arg(long, env = "FORGE_WORKER_EXIT_WHEN_IDLE", requires = "embedded")]
    exit_when_idle: bool,
    /// Which SPEC queue settings apply (default visibility timeout, retention).
    #[arg(long, env = "FORGE_WORKER_QUEUE_KIND", value_enum, default_value = "tasks")]
    queue_kind: QueueKind,
    /// Jobs run at once.
    #[arg(long, env = "FORGE_WORKER_CONCURRENCY", default_value_t = 4)]
    concurrency: usize,
    /// Address of the Prometheus endpoint (GET /metrics, GET /healthz); "off" disables it.
    #[arg(long, env = "FORGE_WORKER_METRICS_ADDR", default_value = "127.0.0.1:9464")]
    metrics_addr: String,
    /// Directory of the local blob store (job results and step logs).
    #[arg(long, env = "FORGE_WORKER_BLOB_DIR", default_value = "forge-worker/blobs")]
    blob_dir: PathBuf,
    /// Where the pipeline of a commit comes from.
    #[arg(long, env = "FORGE_WORKER_DISCOVERER", value_enum, default_value = "config")]
    discoverer: DiscovererKind,
    /// Directory of the repository cache (bare clones and job worktrees).
    #[arg(long, env = "FORGE_WORKER_CACHE_DIR", default_value = "forge-worker/cache")]
    cache_dir: PathBuf,
    /// Size bound of the bare clones; least recently used idle clones are evicted beyond it.
    #[arg(long, env = "FORGE_WORKER_CACHE_MAX_BYTES", default_value_t = 10 * 1024 * 1024 * 1024)]
    cache_max_bytes: u64,
    /// Clone URL of a repository, with {owner}, {name} and {repository} (= owner/name).
    #[arg(long, env = "FORGE_WORKER_REPO_URL_TEMPLATE", default_value = "https://github.com/{repository}.git")]
    repo_url_template: String,
    /// Visibility timeout set by each heartbeat (e.g. 1800, 30s, 5m); default: the queue kind's.
    #[arg(long, env = "FORGE_WORKER_VISIBILITY_TIMEOUT", value_parser = parse_duration)]
    visibility_timeout: Option<Duration>,
    /// Interval of visibility extensions of a running job; default: a third of the timeout.
    #[arg(long, env = "FORGE_WORKER_HEARTBEAT", value_parser = parse_duration)]
    heartbeat: Option<Duration>,
    /// Long-poll wait of each receive (at most 20 s on SQS).
    #[arg(long, env = "FORGE_WORKER_WAIT_TIME", value_parser = parse_duration, default_value = "20s")]
    wait_time: Duration,
    /// Longest a job may run before it is cancelled and recorded as failed.
    #[arg(long, env = "FORGE_WORKER_JOB_TIMEOUT", value_parser = parse_duration, default_value = "3h")]
    job_timeout: Duration,
    /// On SIGTERM, how long running jobs may take to finish before they are released.
    #[arg(long, env = "FORGE_WORKER_SHUTDOWN_GRACE", value_parser = parse_duration, default_value = "25s")]
    shutdown_grace: Duration,
    /// Log format (logs go to stderr; the level comes from RUST_LOG, default info).
    #[arg(long, env = "FORGE_WORKER_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
    #[command(flatten)]
    release: ReleaseSettings,
}

/// Release (`artifact` job) settings. Artifact jobs are handled when --api-url and
/// --release-registry are both set: releases are built here and recorded through the API.
#[derive(Debug, clap::Args)]
struct ReleaseSettings {
    /// Forge API base URL (e.g. `http://forge-api.forge.svc:8080`) the releases are recorded at.
    #[arg(long, env = "FORGE_API_URL")]
    api_url: Option<String>,
    /// Bearer token for the API (a service-account token; never logged).
    #[arg(long, env = "FORGE_API_TOKEN", hide_env_values = true)]
    api_token: Option<String>,
    /// Registry release images are pushed to (`host[:port]`; http for loopback hosts).
    #[arg(long, env = "FORGE_RELEASE_REGISTRY")]
    release_registry: Option<String>,
    /// Registry tracking images are pushed to [default: the release registry].
    #[arg(long, env = "FORGE_TRACKING_REGISTRY")]
    tracking_registry: Option<String>,
    /// Username for both registries (password from FORGE_REGISTRY_PASSWORD only).
    #[arg(long, env = "FORGE_REGISTRY_USERNAME")]
    registry_username: Option<String>,
    /// Folder of the per-job staging directories of artifacts.
    #[arg(long, env = "FORGE_WORKER_STAGING_DIR", default_value = "forge-worker/staging")]
    staging_dir: PathBuf,
    /// Identity recorded as the release trigger's actor.
    #[arg(long, env = "FORGE_WORKER_ACTOR", default_value = "forge-worker")]
    actor: String,
}

impl ReleaseSettings {
    /// The artifact-job settings, when releases are configured.
    fn build(
        &self,
        secrets: Arc<forge_secrets::ProviderRegistry>,
    ) -> anyhow::Result<Option<forge_exec::handler::ArtifactSettings>> {
        use forge_core::ports::SecretValue;
        use forge_exec::release::publisher::{Credentials, PublisherSet};
        let (Some(api), Some(release)) = (&self.api_url, &self.release_registry) else {
            return Ok(None);
        };
        let auth = match (&self.registry_username, std::env::var("FORGE_REGISTRY_PASSWORD")) {
            (Some(username), Ok(password)) => forge_oci::RegistryAuth::Basic {
                username: username.clone(),
                password: SecretValue::from_string(password),
            },
            (Some(_), Err(_)) => bail!("--registry-username needs FORGE_REGISTRY_PASSWORD in the environment"),
            (None, _) => forge_oci::RegistryAuth::Anonymous,
        };
        let store = |name: &str| -> anyhow::Result<(forge_core::Registry, Arc<dyn forge_core::ports::ImageStore>)> {
            let registry: forge_core::Registry = name.parse().with_context(|| format!("registry `{name}`"))?;
            let config = forge_oci::RegistryConfig { auth: auth.clone(), ..Default::default() };
            let s = forge_oci::RegistryStore::new(registry.clone(), config)
                .with_context(|| format!("registry client for {name}"))?;
            Ok((registry, Arc::new(s)))
        };
        let (release_registry, release_store) = store(release)?;
        let (tracking_registry, tracking_store) = match &self.tracking_registry {
            Some(t) => store(t)?,
            None => (release_registry.clone(), release_store.clone()),
        };
        let mut publishers =
            PublisherSet::local_defaults(Credentials(secrets.clone()), &self.staging_dir.join("published"));
        publishers
            .register("github", Arc::new(forge_exec::release::github::GithubPublisher::new(Credentials(secrets))?));
        let token = self.api_token.clone().map(SecretValue::from_string);
        let records = forge_exec::api_client::ApiReleaseRecords::new(api, token)?;
        Ok(Some(forge_exec::handler::ArtifactSettings {
            release_registry,
            release_store,
            tracking_registry,
            tracking_store,
            publishers,
            records: Arc::new(records),
            staging_root: self.staging_dir.clone(),
            actor: self.actor.clone(),
            signer: None,
        }))
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DispatchType {
    /// Discovery of the run's commit.
    Discovery,
    /// One project's steps of one phase.
    Task,
    /// A project's release.
    Artifact,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
enum DiscovererKind {
    /// forge-config's discovery of `.forge/` (production).
    Config,
    /// A ready-made plan in `.forge/plan.json` (tests, tooling).
    PlanFile,
}

#[derive(Debug, clap::Args)]
struct DispatcherArgs {
    /// The API base URL: the run's plan (after discovery) and its task and step statuses are
    /// reported there, with the token from FORGE_API_TOKEN. Reporting failures are logged and
    /// never fail the step; results travel through the blob store.
    #[arg(long, env = "FORGE_API_URL")]
    api_url: Option<String>,
    /// Run id.
    #[arg(long)]
    run_id: uuid::Uuid,
    /// Repository `owner/name`.
    #[arg(long)]
    repository: String,
    /// Commit SHA.
    #[arg(long)]
    commit_sha: String,
    /// Job type.
    #[arg(long = "type", value_enum)]
    kind: DispatchType,
    /// Project (task and artifact jobs; empty for discovery).
    #[arg(long, default_value = "")]
    project: String,
    /// Phase (task jobs).
    #[arg(long, default_value = "")]
    phase: String,
    /// Branch of the run (release triggers of discovery and artifact jobs; empty: none).
    #[arg(long, default_value = "")]
    branch: String,
    /// Tag of the run (release triggers of discovery and artifact jobs; empty: none).
    #[arg(long, default_value = "")]
    tag: String,
    /// Where the step's output parameters are written.
    #[arg(long, default_value = "/tmp/forge")]
    output_dir: PathBuf,
    /// SQS queue URL the job is sent to.
    #[arg(long, env = "FORGE_WORKER_QUEUE_URL")]
    queue_url: String,
    /// The blob store the workers write results to (a shared volume).
    #[arg(long, env = "FORGE_WORKER_BLOB_DIR", default_value = "forge-worker/blobs")]
    blob_dir: PathBuf,
    /// Longest wait for the result.
    #[arg(long, env = "FORGE_DISPATCHER_TIMEOUT", value_parser = parse_duration, default_value = "24h")]
    timeout: Duration,
}

async fn dispatcher(args: DispatcherArgs) -> anyhow::Result<bool> {
    use forge_core::ports::SecretValue;
    use forge_exec::api_client::ApiRunReporter;
    use forge_exec::dispatch::{DispatchRequest, dispatch, report, write_outputs};
    let kind = match args.kind {
        DispatchType::Discovery => JobType::Discovery,
        DispatchType::Task => JobType::Task,
        DispatchType::Artifact => JobType::Artifact,
    };
    let req = DispatchRequest {
        run_id: args.run_id,
        repository: args.repository.parse().context("--repository")?,
        commit_sha: args.commit_sha.parse().context("--commit-sha")?,
        kind,
        project: (!args.project.is_empty()).then(|| args.project.parse()).transpose().context("--project")?,
        phase: (!args.phase.is_empty()).then(|| args.phase.clone()),
        branch: (!args.branch.is_empty()).then(|| args.branch.clone()),
        tag: (!args.tag.is_empty()).then(|| args.tag.clone()),
    };
    let queue = SqsQueue::new(SqsClient::from_env().await, args.queue_url.clone());
    let blobs = LocalBlobStore::new(&args.blob_dir)?;
    // A bad API URL must not fail the step either: reporting is best-effort.
    let reporter = args.api_url.as_deref().filter(|u| !u.trim().is_empty()).and_then(|url| {
        let token = std::env::var("FORGE_API_TOKEN").ok().filter(|t| !t.is_empty()).map(SecretValue::from_string);
        if token.is_none() {
            tracing::warn!("--api-url without FORGE_API_TOKEN: reports will be refused unless the API allows it");
        }
        ApiRunReporter::new(url, token).inspect_err(|e| tracing::warn!(error = %e, "not reporting to the API")).ok()
    });
    let result = dispatch(&queue, &blobs, &req, args.timeout, Duration::from_secs(1)).await?;
    let ok = write_outputs(&args.output_dir, kind, &result)?;
    if let Some(reporter) = &reporter {
        report(reporter, &req, &result).await;
    }
    tracing::info!(job_id = %result.job_id, status = %result.status, "job finished");
    Ok(ok)
}

/// Parses `90`, `90s`, `500ms`, `5m`, `3h`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.find(|c: char| c.is_ascii_alphabetic()).map_or((s, "s"), |i| s.split_at(i));
    let v: f64 = num.trim().parse().map_err(|_| format!("invalid duration {s:?}: use e.g. 30s, 500ms, 5m, 3h"))?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        "m" => v * 60.0,
        "h" => v * 3600.0,
        _ => return Err(format!("invalid duration unit {unit:?} in {s:?}: use ms, s, m or h")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("invalid duration {s:?}: {e}"))
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime").and_then(
            |rt| {
                rt.block_on(async {
                    match cli.command {
                        Command::Run(args) => run(*args).await,
                        Command::Dispatcher(args) => {
                            init_logs(LogFormat::Text);
                            if dispatcher(*args).await? { Ok(()) } else { bail!("the job failed (see result.json)") }
                        }
                    }
                })
            },
        );
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("forge-worker: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    init_logs(args.log_format);
    let settings = match args.queue_kind {
        QueueKind::Discovery => QueueSettings::DISCOVERY,
        QueueKind::Tasks => QueueSettings::TASKS,
    };
    let visibility = args.visibility_timeout.unwrap_or(settings.visibility_timeout);
    let config = WorkerConfig {
        concurrency: args.concurrency.max(1),
        wait: args.wait_time,
        visibility_timeout: visibility,
        heartbeat: args.heartbeat.unwrap_or(visibility / 3),
        job_timeout: args.job_timeout,
        shutdown_grace: args.shutdown_grace,
    };

    let mut embedded = None;
    let queue: Arc<dyn JobQueue> = if args.embedded {
        let q = Arc::new(EmbeddedQueue::new(settings.with_visibility(visibility)));
        if let Some(path) = &args.seed_jobs {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                let job: Job = serde_json::from_str(line)
                    .with_context(|| format!("{}:{}: not a job message", path.display(), i + 1))?;
                q.send(&job).await?;
            }
        }
        embedded = Some(q.clone());
        q
    } else {
        let client = SqsClient::from_env().await;
        let url = match (&args.queue_url, &args.ensure_queue) {
            (Some(url), _) => url.clone(),
            (None, Some(name)) => {
                ensure_queues(&client, name, settings).await.with_context(|| format!("creating queue {name}"))?.queue
            }
            (None, None) => bail!("no queue: pass --queue-url URL, --ensure-queue NAME or --embedded"),
        };
        tracing::info!(queue = %url, "consuming SQS queue");
        Arc::new(SqsQueue::new(client, url))
    };

    let blobs = Arc::new(LocalBlobStore::new(&args.blob_dir)?);
    let repos = Arc::new(RepoCache::new(&args.cache_dir, &args.repo_url_template, args.cache_max_bytes)?);
    let secrets = Arc::new(forge_secrets::ProviderRegistry::with_defaults());
    let config_discoverer = Arc::new(forge_exec::local::ConfigDiscoverer::new(secrets.clone()));
    let discoverer: Arc<dyn forge_exec::handler::Discoverer> = match args.discoverer {
        DiscovererKind::Config => config_discoverer.clone(),
        DiscovererKind::PlanFile => Arc::new(PlanFileDiscoverer),
    };
    let artifacts = args.release.build(secrets)?;
    let discovery = Arc::new(DiscoveryCache::new(discoverer, 256));
    let executor = Arc::new(ActionExecutor::new(blobs.clone() as Arc<dyn BlobStore>));
    let metrics = WorkerMetrics::new();
    let mut builder = Worker::builder(queue, blobs)
        .handler(
            JobType::Task,
            Arc::new(TaskHandler::new(repos.clone(), discovery.clone(), executor, Arc::new(NoopSink))),
        )
        .handler(JobType::Discovery, Arc::new(DiscoveryHandler::new(repos.clone(), discovery)));
    match artifacts {
        Some(settings) => {
            tracing::info!(registry = %settings.release_registry, "handling artifact jobs (releases)");
            builder =
                builder.handler(JobType::Artifact, Arc::new(ArtifactHandler::new(repos, config_discoverer, settings)));
        }
        None => tracing::info!("not handling artifact jobs: set --api-url and --release-registry to release"),
    }
    let worker = builder.metrics(metrics.clone()).config(config).build();

    let shutdown = CancellationToken::new();
    if args.metrics_addr != "off" {
        let addr: SocketAddr =
            args.metrics_addr.parse().with_context(|| format!("invalid --metrics-addr {:?}", args.metrics_addr))?;
        let listener = forge_exec::metrics::bind(addr).await?;
        tracing::info!(addr = %listener.local_addr().unwrap_or(addr), "serving metrics on /metrics");
        tokio::spawn(forge_exec::metrics::serve_metrics(listener, metrics.clone(), shutdown.clone()));
    }
    {
        let shutdown = shutdown.clone();
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM: draining"),
                _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: draining"),
            }
            shutdown.cancel();
        });
    }
    if let (Some(q), true) = (embedded, args.exit_when_idle) {
        let (shutdown, metrics) = (shutdown.clone(), metrics.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if q.is_empty() && metrics.running.get() == 0 {
                    shutdown.cancel();
                    return;
                }
            }
        });
    }
    tracing::info!(?config, "worker started");
    let stats = worker.run(shutdown).await;
    tracing::info!(received = stats.received, "worker stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("0.5"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("5 weeks").is_err());
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
