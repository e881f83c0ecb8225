//! `forge deploy`, `forge rollback`, `forge approve`, `forge status`: against the local store
//! of `forge run` (`<repo>/.forge-local/`) or, with `--api URL`, a remote Forge API.
//!
//! Locally, deployments go through the same [`GitopsDeployer`] the API runs (policy and
//! approval checks, one pointer commit, then the record) with the local GitOps repository as
//! the remote, and the caller acting as an operator.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Args;
use forge_api::deploy::{Deployer, GitopsDeployer};
use forge_core::auth::Role;
use forge_core::model::{CreateApproval, CreateDeployment, Deployment};
use forge_core::ports::{Principal, Store};
use forge_core::{Environment, ProjectName, Repository};
use forge_exec::local::{LocalPaths, RunContext};
use serde_json::json;

use crate::Output;

/// Where the command acts.
#[derive(Debug, Args)]
pub(crate) struct Target {
    /// Repository root (holding `.forge/repo.cue`) whose `.forge-local` store to use.
    #[arg(long, default_value = ".")]
    path: PathBuf,
    /// Repository `owner/name` (default: as `forge run` resolves it).
    #[arg(long)]
    repository: Option<String>,
    /// A remote Forge API base URL instead of the local store.
    #[arg(long, env = "FORGE_API_URL")]
    api: Option<String>,
    /// Bearer token for the remote API.
    #[arg(long, env = "FORGE_API_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Identity recorded as deployer/approver in local mode.
    #[arg(long, env = "FORGE_ACTOR", default_value = "forge-local")]
    actor: String,
}

/// `forge deploy`.
#[derive(Debug, Args)]
pub(crate) struct DeployArgs {
    /// Project.
    project: String,
    /// Release: alias, number or commit-SHA prefix (SPEC §5.1).
    release: String,
    /// Environment.
    #[arg(long = "env")]
    environment: String,
    #[command(flatten)]
    target: Target,
}

/// `forge rollback`.
#[derive(Debug, Args)]
pub(crate) struct RollbackArgs {
    /// Project.
    project: String,
    /// Environment.
    #[arg(long = "env")]
    environment: String,
    #[command(flatten)]
    target: Target,
}

/// `forge approve`.
#[derive(Debug, Args)]
pub(crate) struct ApproveArgs {
    /// Project.
    project: String,
    /// Release: alias, number or commit-SHA prefix.
    release: String,
    /// Environment.
    #[arg(long = "env")]
    environment: String,
    /// Comment recorded with the approval.
    #[arg(long)]
    comment: Option<String>,
    #[command(flatten)]
    target: Target,
}

/// `forge status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// Only this project.
    #[arg(long)]
    project: Option<String>,
    #[command(flatten)]
    target: Target,
}

struct Local {
    paths: LocalPaths,
    repository: Repository,
    store: Arc<dyn Store>,
}

async fn open_local(t: &Target) -> anyhow::Result<Local> {
    let root = forge_config::discovery::find_repo_root(&t.path)
        .with_context(|| format!("no `.forge/repo.cue` in {} or its parents", t.path.display()))?;
    let paths = LocalPaths::new(&root);
    if !paths.database.is_file() {
        bail!("no local store at {}: run `forge run {}` first", paths.database.display(), root.display());
    }
    let repository = match &t.repository {
        Some(r) => r.parse().context("--repository")?,
        None => {
            let opts = forge_exec::local::LocalOptions {
                root: root.clone(),
                branch: Some("main".into()),
                tag: None,
                commit: None,
                repository: None,
                environment: "dev".parse()?,
                actor: t.actor.clone(),
            };
            RunContext::resolve(&opts).map(|c| c.repository).or_else(|_| format!("local/{}", folder(&root)).parse())?
        }
    };
    let store = super::open_local_store(&paths).await?;
    Ok(Local { paths, repository, store })
}

fn folder(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "repository".into())
}

fn operator(actor: &str) -> Principal {
    Principal { subject: actor.to_owned(), roles: BTreeSet::from([Role::Operator]) }
}

/// Deploys through the local GitOps repository (the embedded default of the API's deployer).
pub(crate) async fn deploy_local(
    local_paths: &LocalPaths,
    store: Arc<dyn Store>,
    req: &CreateDeployment,
    actor: &str,
) -> anyhow::Result<Deployment> {
    let repo = forge_gitops::GitopsRepo::open_local(&local_paths.gitops)
        .await
        .with_context(|| format!("opening the GitOps repository {}", local_paths.gitops.display()))?;
    let deployer = GitopsDeployer::new(store, Arc::new(repo), Default::default());
    deployer.deploy(req, &operator(actor)).await.map_err(|e| anyhow::anyhow!("{e}"))
}

async fn remote(
    t: &Target,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> anyhow::Result<serde_json::Value> {
    let base = t.api.as_deref().unwrap_or_default().trim_end_matches('/');
    let client = reqwest::Client::new();
    let mut rb = client.request(method, format!("{base}/v1{path}"));
    if let Some(tok) = &t.token {
        rb = rb.bearer_auth(tok);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let resp = rb.send().await.with_context(|| format!("calling {base}"))?;
    let status = resp.status();
    let v: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
    if !status.is_success() {
        let msg = v["error"]["message"].as_str().unwrap_or("no message");
        bail!("the API answered {status}: {msg}");
    }
    Ok(v)
}

fn print(output: Output, value: &serde_json::Value, human: String) -> anyhow::Result<()> {
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(value)?),
        Output::Human => println!("{human}"),
    }
    Ok(())
}

fn deployment_line(d: &Deployment) -> String {
    format!(
        "{} {} release {} → {} ({}) commit {}",
        if d.rollback { "rolled back" } else { "deployed" },
        d.project,
        d.release_number,
        d.environment,
        d.status,
        d.gitops_commit.as_deref().map(|c| &c[..c.len().min(12)]).unwrap_or("-")
    )
}

async fn deploy_or_rollback(
    t: &Target,
    project: &str,
    release: &str,
    env: &str,
    rollback: bool,
    output: Output,
) -> anyhow::Result<i32> {
    let project: ProjectName = project.parse()?;
    let environment: Environment = env.parse().context("--env")?;
    if t.api.is_some() {
        let repository: Repository = t.repository.as_deref().context("--repository is required with --api")?.parse()?;
        let req = CreateDeployment { repository, project, release: release.to_owned(), environment, rollback };
        let v = remote(t, reqwest::Method::POST, "/deployments", Some(serde_json::to_value(&req)?)).await?;
        let d: Deployment = serde_json::from_value(v.clone())?;
        print(output, &v, deployment_line(&d))?;
        return Ok(0);
    }
    let local = open_local(t).await?;
    let req = CreateDeployment {
        repository: local.repository.clone(),
        project,
        release: release.to_owned(),
        environment,
        rollback,
    };
    let d = deploy_local(&local.paths, local.store.clone(), &req, &t.actor).await?;
    print(output, &serde_json::to_value(&d)?, deployment_line(&d))?;
    Ok(0)
}

pub(crate) fn deploy(a: DeployArgs, output: Output) -> anyhow::Result<i32> {
    super::runtime()?.block_on(deploy_or_rollback(&a.target, &a.project, &a.release, &a.environment, false, output))
}

pub(crate) fn rollback(a: RollbackArgs, output: Output) -> anyhow::Result<i32> {
    super::runtime()?.block_on(deploy_or_rollback(&a.target, &a.project, "", &a.environment, true, output))
}

pub(crate) fn approve(a: ApproveArgs, output: Output) -> anyhow::Result<i32> {
    super::runtime()?.block_on(async move {
        let project: ProjectName = a.project.parse()?;
        let environment: Environment = a.environment.parse().context("--env")?;
        if a.target.api.is_some() {
            let repository: Repository =
                a.target.repository.as_deref().context("--repository is required with --api")?.parse()?;
            let req = CreateApproval { repository, project, release: a.release, environment, comment: a.comment };
            let v = remote(&a.target, reqwest::Method::POST, "/approvals", Some(serde_json::to_value(&req)?)).await?;
            print(output, &v, format!("approved until {}", v["expires_at"].as_str().unwrap_or("?")))?;
            return Ok(0);
        }
        let local = open_local(&a.target).await?;
        let release = local.store.get_release(&local.repository, &project, &a.release).await?;
        let req = CreateApproval {
            repository: local.repository.clone(),
            project,
            release: a.release,
            environment,
            comment: a.comment,
        };
        let ap = local.store.create_approval(&req, &release, &a.target.actor).await?;
        let line = format!(
            "approved {} release {} for {} until {}",
            release.project,
            release.release_number,
            ap.environment,
            ap.expires_at.to_rfc3339()
        );
        print(output, &serde_json::to_value(&ap)?, line)?;
        Ok(0)
    })
}

pub(crate) fn status(a: StatusArgs, output: Output) -> anyhow::Result<i32> {
    super::runtime()?.block_on(async move {
        if a.target.api.is_some() {
            let repository = a.target.repository.as_deref().context("--repository is required with --api")?;
            let project = a.project.as_deref().context("--project is required with --api")?;
            let v = remote(&a.target, reqwest::Method::GET, &format!("/releases/{repository}/{project}?limit=20"), None).await?;
            print(output, &v, serde_json::to_string_pretty(&v)?)?;
            return Ok(0);
        }
        let local = open_local(&a.target).await?;
        let discovery = forge_config::discovery::Discoverer::new(Arc::new(forge_secrets::ProviderRegistry::with_defaults()))
            .discover(&local.paths.root, &Default::default())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut projects: Vec<String> = discovery.projects.iter().map(|p| p.name.clone()).collect();
        if let Some(p) = &a.project {
            projects.retain(|n| n == p);
        }
        let gitops = forge_gitops::GitopsRepo::open_local(&local.paths.gitops).await.ok();
        let deployed = match &gitops {
            Some(g) => g.deployed(None).await.unwrap_or_default(),
            None => Vec::new(),
        };
        let mut doc = Vec::new();
        let mut human = String::new();
        for name in projects {
            let project: ProjectName = name.parse()?;
            let page = local.store.list_releases(&local.repository, &project, 5, 0).await?;
            let pointers: Vec<_> = deployed.iter().filter(|(p, _)| p.project == project).collect();
            human.push_str(&format!("{name}: {} releases\n", page.total));
            for r in &page.releases {
                human.push_str(&format!(
                    "  release {:>3}  {}  {}  {}\n",
                    r.release_number,
                    r.commit_sha.short(12),
                    r.display_alias(),
                    r.oci_digest
                ));
            }
            for (path, ptr) in &pointers {
                human.push_str(&format!("  deployed in {}: {}\n", path.environment, ptr.release));
            }
            doc.push(json!({
                "project": name,
                "releases": page,
                "deployed": pointers.iter().map(|(p, ptr)| json!({"environment": p.environment, "release": ptr.release})).collect::<Vec<_>>(),
            }));
        }
        print(output, &json!({"repository": local.repository, "projects": doc}), human.trim_end().to_owned())?;
        Ok(0)
    })
}
