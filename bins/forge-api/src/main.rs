//! `forge-api` binary: argument parsing and adapter wiring only.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use forge_api::auth::{AuthChain, DevIdentity, JwtIdentity};
use forge_api::config::{Config, DEFAULT_DATABASE_URL, DEFAULT_LISTEN};
use forge_api::deploy::{GitopsDeployer, NoGitopsRemote};
use forge_api::events::LogSink;
use forge_api::metrics::Metrics;
use forge_api::ratelimit::RateLimiter;
use forge_api::store::{SqlStore, StoreOptions, connect, migrate};
use forge_api::{AppState, app, check_dev_mode};
use forge_core::ports::{Identity, Store};

/// The Forge REST API server (SPEC §8, §9).
///
/// Configuration comes from a YAML file (`--config`), overridden by flags, which can also be
/// given as `FORGE_API_*` environment variables. The file may set: `database_url`, `listen`,
/// `oidc: {issuer, audience, jwks_url?, roles_claim? (default realm_access.roles),
/// leeway_secs? (default 30)}`, `environments: {<env>: {allowed_triggers, allowed_branches,
/// auto_deploy, requires_approval}}`, `rate_limits: {runs_per_minute (100),
/// deployments_per_minute (10)}`, `gitops: {url, branch}`, `workflows: {api_server?, image,
/// api_url}` and `github: {api_url, target_url?}` (commit statuses; token from
/// `FORGE_API_GITHUB_TOKEN`).
#[derive(Debug, Parser)]
#[command(name = "forge-api", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the migrations, then serves the API.
    Serve(ServeArgs),
    /// Runs the embedded database migrations and exits.
    Migrate(MigrateArgs),
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "FORGE_API_LISTEN")]
    listen: Option<SocketAddr>,
    /// Database URL: postgres://user@host/db or sqlite://path [default: sqlite://forge-api.db].
    #[arg(long, env = "FORGE_API_DATABASE_URL")]
    database_url: Option<String>,
    /// YAML configuration file (OIDC, environment policies, rate limits, GitOps remote).
    #[arg(long, env = "FORGE_API_CONFIG")]
    config: Option<PathBuf>,
    /// Static bearer token with the operator role, for development. Refused unless the listen
    /// address is loopback.
    #[arg(long, env = "FORGE_API_DEV_TOKEN", hide_env_values = true)]
    dev_token: Option<String>,
    /// OIDC issuer URL (overrides the file).
    #[arg(long, env = "FORGE_API_OIDC_ISSUER")]
    oidc_issuer: Option<String>,
    /// OIDC audience (overrides the file).
    #[arg(long, env = "FORGE_API_OIDC_AUDIENCE")]
    oidc_audience: Option<String>,
}

#[derive(Debug, clap::Args)]
struct MigrateArgs {
    /// Database URL: postgres://user@host/db or sqlite://path [default: sqlite://forge-api.db].
    #[arg(long, env = "FORGE_API_DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    database_url: String,
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut cfg = match &args.config {
        Some(p) => Config::from_file(p)?,
        None => Config::default(),
    };
    let listen: SocketAddr = match (args.listen, &cfg.listen) {
        (Some(l), _) => l,
        (None, Some(l)) => l.parse().with_context(|| format!("invalid listen address `{l}` in the configuration"))?,
        (None, None) => DEFAULT_LISTEN.parse()?,
    };
    check_dev_mode(listen, args.dev_token.is_some())?;
    match (args.oidc_issuer, args.oidc_audience) {
        (Some(issuer), Some(audience)) => {
            let roles = cfg.oidc.as_ref().map(|o| o.roles_claim.clone());
            let mut oidc = forge_api::auth::OidcConfig::new(issuer, audience);
            if let Some(r) = roles {
                oidc.roles_claim = r;
            }
            cfg.oidc = Some(oidc);
        }
        (None, None) => {}
        _ => bail!("--oidc-issuer and --oidc-audience go together"),
    }
    if cfg.oidc.is_none() && args.dev_token.is_none() {
        bail!("no authentication configured: set `oidc` in the configuration file, or --dev-token on loopback");
    }
    let database_url = args.database_url.or(cfg.database_url.clone()).unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
    let store = Arc::new(SqlStore::open(&StoreOptions::new(database_url)).await?);
    let dev = args.dev_token.map(DevIdentity::new).transpose()?;
    let oidc: Option<Arc<dyn Identity>> = match cfg.oidc.clone() {
        Some(o) => Some(Arc::new(JwtIdentity::new(o)?)),
        None => None,
    };
    // The GitOps repository: a private bare clone of the configured remote per API process.
    let remote: Arc<dyn forge_core::ports::GitopsRemote> = match &cfg.gitops {
        Some(g) => {
            let cache = std::env::temp_dir().join(format!("forge-api-gitops-{}", std::process::id()));
            let repo = forge_gitops::GitopsRepo::open_remote(&g.url, &cache)
                .await
                .with_context(|| format!("opening the GitOps repository {}", g.url))?
                .with_branch(&g.branch)
                .with_context(|| format!("GitOps branch {}", g.branch))?;
            tracing::info!(url = %g.url, branch = %g.branch, "GitOps repository ready");
            Arc::new(repo)
        }
        None => {
            tracing::warn!("no `gitops` configured: deployments answer 409 until one is set");
            Arc::new(NoGitopsRemote)
        }
    };
    let workflows: Option<Arc<dyn forge_core::ports::WorkflowEngine>> = match &cfg.workflows {
        Some(w) => {
            let client = match &w.api_server {
                Some(url) => forge_exec::argo::ArgoClient::new(url, None)?,
                None => forge_exec::argo::ArgoClient::in_cluster()?,
            };
            Some(Arc::new(forge_exec::argo::ArgoEngine { client, image: w.image.clone(), api_url: w.api_url.clone() }))
        }
        None => None,
    };
    let store_dyn: Arc<dyn Store> = store.clone();
    let statuses = match &cfg.github {
        Some(g) => {
            let token = std::env::var("FORGE_API_GITHUB_TOKEN").context(
                "`github` is configured: set FORGE_API_GITHUB_TOKEN to a token that may write commit statuses",
            )?;
            let reporter = forge_exec::github::GithubStatusReporter::new(
                &g.api_url,
                forge_core::ports::SecretValue::from_string(token),
                g.target_url.clone(),
            )?;
            tracing::info!(api = %g.api_url, "reporting commit statuses");
            Some(forge_api::commit_status::RunStatusNotifier::spawn(Arc::new(reporter), store_dyn.clone()))
        }
        None => None,
    };
    let state = AppState {
        store: store_dyn.clone(),
        identity: Arc::new(AuthChain::new(dev, oidc)),
        events: Arc::new(LogSink),
        deployer: Arc::new(GitopsDeployer::new(store_dyn, remote, cfg.environments.clone())),
        limits: Arc::new(RateLimiter::new(cfg.rate_limits)),
        metrics: Arc::new(Metrics::new()?),
        workflows,
        statuses,
    };
    // Expired job records are purged hourly (SPEC §3.3: 7 days).
    let purge = store.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            if let Err(e) = purge.purge_expired_jobs().await {
                tracing::warn!(error = %e, "purging expired jobs failed");
            }
        }
    });
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("binding {listen}"))?;
    tracing::info!(%listen, "forge-api listening");
    axum::serve(listener, app(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Migrate(args) => {
            let (pool, backend) = connect(&StoreOptions::new(args.database_url)).await?;
            migrate(&pool, backend).await?;
            println!("migrations applied ({backend:?})");
            Ok(())
        }
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("forge-api: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
