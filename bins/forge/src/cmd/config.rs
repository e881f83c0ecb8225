//! `forge init`, `forge validate`, `forge discover`, `forge render`: thin wrappers over
//! `forge_config`. Human output by default (diagnostics rendered by miette, in colour on a
//! terminal), JSON with `--output json`. Exit codes: 0 ok, 1 invalid configuration, 2 usage
//! error (missing folder, not a repository, unknown project, unreadable artifacts file).
//!
//! `discover` exits 0 when discovery itself succeeds, even if some projects were skipped
//! (they are listed under `errors`); `validate` exits 1 when anything is invalid.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use forge_config::discovery::{Discoverer, Discovery, find_repo_root};
use forge_config::error::{ConfigError, DiscoveryError};
use forge_config::init::{InitError, init_project};
use forge_config::render::{RenderOptions, render as render_resources};
use forge_config::schema::SchemaValidator;
use forge_config::trigger::GitContext;
use serde_json::json;

const OK: i32 = 0;
const INVALID: i32 = 1;
const USAGE: i32 = 2;

fn print_json(v: &serde_json::Value) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, v)?;
    writeln!(out)?;
    Ok(())
}

fn report(d: impl miette::Diagnostic + Send + Sync + 'static) {
    eprintln!("{:?}", miette::Report::new(d));
}

fn discoverer() -> Discoverer {
    Discoverer::new(Arc::new(SchemaValidator::builtin()))
}

/// Finds the repository root from `path`, or prints a usage error.
fn repo_root(path: &Path, output_json: bool) -> anyhow::Result<Result<PathBuf, i32>> {
    if !path.exists() {
        usage(&format!("{} does not exist", path.display()), output_json)?;
        return Ok(Err(USAGE));
    }
    match find_repo_root(path) {
        Some(r) => Ok(Ok(r)),
        None => {
            let e = DiscoveryError::NotARepository { root: path.to_path_buf() };
            if output_json {
                print_json(&json!({"error": e.to_string()}))?;
            } else {
                report(e);
            }
            Ok(Err(USAGE))
        }
    }
}

fn usage(message: &str, output_json: bool) -> anyhow::Result<()> {
    if output_json {
        print_json(&json!({ "error": message }))?;
    } else {
        eprintln!("error: {message}");
    }
    Ok(())
}

/// Prints a discovery failure; returns its exit code.
fn discovery_failed(e: DiscoveryError, output_json: bool) -> anyhow::Result<i32> {
    let code = match &e {
        DiscoveryError::NotARepository { .. } | DiscoveryError::Io { .. } => USAGE,
        _ => INVALID,
    };
    if output_json {
        let errors = match &e {
            DiscoveryError::Repository(errs) => serde_json::to_value(errs)?,
            _ => json!([]),
        };
        print_json(&json!({"error": e.to_string(), "errors": errors}))?;
    } else {
        match e {
            DiscoveryError::Repository(errs) => errs.into_iter().for_each(report),
            other => report(other),
        }
    }
    Ok(code)
}

fn report_all(errors: &[ConfigError]) {
    for e in errors {
        report(e.clone());
    }
}

/// `forge init <name> [PATH] [--repo]`: creates `PATH/.forge/project.cue` (canonical style).
pub fn init(name: &str, path: &Path, create_repo: bool, output_json: bool) -> anyhow::Result<i32> {
    match init_project(path, name, create_repo) {
        Ok(outcome) => {
            if output_json {
                print_json(&serde_json::to_value(&outcome)?)?;
            } else {
                if let Some(r) = &outcome.repo_file {
                    println!("created {}", r.display());
                }
                println!("created {}", outcome.project_file.display());
            }
            Ok(OK)
        }
        Err(e) => {
            let code = match e {
                InitError::Io { .. } => INVALID,
                _ => USAGE,
            };
            if output_json {
                print_json(&json!({"error": e.to_string()}))?;
            } else {
                report(e);
            }
            Ok(code)
        }
    }
}

/// `forge validate [PATH]`: validates the repository and every project.
pub fn validate(path: &Path, output_json: bool) -> anyhow::Result<i32> {
    let root = match repo_root(path, output_json)? {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    let d = match discoverer().discover(&root, &GitContext::default()) {
        Ok(d) => d,
        Err(e) => return discovery_failed(e, output_json),
    };
    let valid = d.errors.is_empty();
    if output_json {
        print_json(&json!({
            "valid": valid,
            "projects": d.projects.iter().map(|p| json!({"name": p.name, "path": p.path})).collect::<Vec<_>>(),
            "errors": d.errors,
            "warnings": d.warnings.iter().map(ConfigError::located).collect::<Vec<_>>(),
        }))?;
    } else {
        report_all(&d.warnings);
        report_all(&d.diagnostics);
        let n = d.projects.len();
        if valid {
            println!("ok: repository and {n} project(s) are valid");
        } else {
            eprintln!("{} error(s); {n} valid project(s)", d.errors.len());
        }
    }
    Ok(if valid { OK } else { INVALID })
}

/// `forge discover [PATH] [--branch B] [--tag T]`: prints the discovery output (SPEC §2.5).
pub fn discover(path: &Path, branch: Option<&str>, tag: Option<&str>, output_json: bool) -> anyhow::Result<i32> {
    let root = match repo_root(path, output_json)? {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    let git = GitContext { branch: branch.map(str::to_owned), tag: tag.map(str::to_owned), git_ref: None };
    let d = match discoverer().discover(&root, &git) {
        Ok(d) => d,
        Err(e) => return discovery_failed(e, output_json),
    };
    if output_json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &d)?;
        writeln!(out)?;
    } else {
        report_all(&d.warnings);
        print_human(&d)?;
        report_all(&d.diagnostics);
    }
    Ok(OK)
}

fn print_human(d: &Discovery) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "repository {} (forgeVersion {}, tagging {})",
        d.root.display(),
        d.repository.forge_version,
        d.repository.tagging.strategy.as_str()
    )?;
    for g in &d.phase_groups {
        writeln!(out, "  group {}: {}", g.group, g.phases.join(", "))?;
    }
    writeln!(out, "{} project(s):", d.projects.len())?;
    for p in &d.projects {
        let mut flags = Vec::new();
        if p.release_triggered {
            flags.push("release");
        }
        if p.deployment_triggered {
            flags.push("deploy");
        }
        let flags = if flags.is_empty() { String::new() } else { format!(" [{}]", flags.join(", ")) };
        writeln!(out, "  {} ({}){flags}", p.name, p.path)?;
        for (phase, steps) in &p.phases {
            let names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
            writeln!(out, "    {phase}: {}", names.join(", "))?;
        }
    }
    if d.release_enabled {
        writeln!(out, "release: {}", d.release_projects.join(", "))?;
    }
    if !d.errors.is_empty() {
        writeln!(out, "{} project error(s), see below", d.errors.len())?;
    }
    Ok(())
}

/// `forge render <project> [PATH] [--artifacts FILE] [--preview]`: renders the project's
/// deployment resources as a YAML stream (JSON: the resources and one file per resource).
pub fn render(
    project: &str,
    path: &Path,
    artifacts_file: Option<&Path>,
    preview: bool,
    env: Option<&EnvPreview>,
    output_json: bool,
) -> anyhow::Result<i32> {
    let root = match repo_root(path, output_json)? {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    let artifacts = match artifacts_file {
        None => None,
        Some(f) => match std::fs::read(f)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).map_err(|e| format!("not JSON: {e}")))
        {
            Ok(v) if v.is_object() => Some(v),
            Ok(_) => {
                usage(
                    &format!(
                        "{}: the artifact output schema must be a JSON object keyed by artifact name",
                        f.display()
                    ),
                    output_json,
                )?;
                return Ok(USAGE);
            }
            Err(e) => {
                usage(&format!("cannot read {}: {e}", f.display()), output_json)?;
                return Ok(USAGE);
            }
        },
    };
    let d = match discoverer().discover(&root, &GitContext::default()) {
        Ok(d) => d,
        Err(e) => return discovery_failed(e, output_json),
    };
    let Some(p) = d.project(project) else {
        let own: Vec<&ConfigError> = d
            .diagnostics
            .iter()
            .filter(|e| {
                e.file
                    .as_deref()
                    .is_some_and(|f| f.starts_with(&format!("{project}/")) || f.contains(&format!("/{project}/")))
            })
            .collect();
        if !own.is_empty() {
            if output_json {
                print_json(&json!({"error": format!("project `{project}` is invalid"), "errors": own}))?;
            } else {
                own.into_iter().for_each(|e| report(e.clone()));
            }
            return Ok(INVALID);
        }
        let known: Vec<&str> = d.projects.iter().map(|p| p.name.as_str()).collect();
        usage(&format!("no project `{project}` (projects: {})", known.join(", ")), output_json)?;
        return Ok(USAGE);
    };
    match render_resources(&p.config, &p.document, &d.repository, artifacts.as_ref(), RenderOptions { preview }) {
        Ok(mut r) => {
            if let Some(e) = env {
                match compose_for_env(&r.resources, e, &root, project) {
                    Ok(composed) => r.resources = composed,
                    Err(message) => {
                        usage(&message, output_json)?;
                        return Ok(INVALID);
                    }
                }
            }
            if output_json {
                let files: Vec<serde_json::Value> = r
                    .to_files()?
                    .into_iter()
                    .map(|(name, content)| json!({"name": name, "content": content}))
                    .collect();
                print_json(&json!({
                    "project": p.name,
                    "resources": r.resources,
                    "files": files,
                    "placeholders": r.placeholders,
                }))?;
            } else {
                let mut out = std::io::stdout().lock();
                out.write_all(r.to_yaml_stream()?.as_bytes())?;
                out.flush()?;
            }
            Ok(OK)
        }
        Err(errs) => {
            if output_json {
                print_json(&json!({"error": format!("cannot render project `{project}`"), "errors": errs}))?;
            } else {
                report_all(&errs);
            }
            Ok(INVALID)
        }
    }
}

/// `forge render --env`: where the EnvironmentConfigs come from.
#[derive(Debug, Clone)]
pub(crate) struct EnvPreview {
    /// Environment name.
    pub(crate) environment: String,
    /// The GitOps repository working tree (default `<root>/.forge-local/gitops`).
    pub(crate) gitops: Option<std::path::PathBuf>,
    /// `owner/name` of the project's repository (default `local/<root folder>`).
    pub(crate) repository: Option<String>,
}

fn read_env_yml(path: &Path) -> Result<serde_json::Value, String> {
    match std::fs::read(path) {
        Ok(b) => serde_yaml::from_slice::<serde_json::Value>(&b).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(serde_json::Value::Null),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Replaces every `forge.io/v1` resource by what the composition function would compose for
/// the environment (the same library code as `forge-function`), reading the cluster-wide and
/// per-project `env.yml` of the GitOps repository (SPEC §6.1, §6.5).
fn compose_for_env(
    resources: &[serde_json::Value],
    e: &EnvPreview,
    root: &Path,
    project: &str,
) -> Result<Vec<serde_json::Value>, String> {
    let gitops = e.gitops.clone().unwrap_or_else(|| root.join(".forge-local/gitops"));
    let repository = e.repository.clone().unwrap_or_else(|| {
        format!("local/{}", root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
    });
    let env_dir = gitops.join("environments").join(&e.environment);
    let cluster = read_env_yml(&env_dir.join("env.yml"))?;
    if cluster.is_null() {
        return Err(format!(
            "no cluster-wide EnvironmentConfig at {}: create it (SPEC §6.1) or pass --gitops DIR",
            env_dir.join("env.yml").display()
        ));
    }
    let project_env = read_env_yml(&env_dir.join(&repository).join(project).join("env.yml"))?;
    let mut out = Vec::new();
    for r in resources {
        let is_xr = r.get("apiVersion").and_then(serde_json::Value::as_str).is_some_and(|v| v.starts_with("forge.io/"));
        if is_xr {
            let composed = forge_function::preview(r, &cluster, &project_env).map_err(|err| err.to_string())?;
            out.extend(composed);
        } else {
            out.push(r.clone());
        }
    }
    Ok(out)
}
