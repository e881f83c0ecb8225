//! `forge`: the Forge command line. Argument parsing and adapter wiring only; every command's
//! logic lives in the library crates (see `cmd/`).

mod cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Output format of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub(crate) enum Output {
    /// Human-readable, coloured on a terminal.
    #[default]
    Human,
    /// Machine-readable JSON on stdout.
    Json,
}

/// Forge: from a monorepo commit to a deployment.
#[derive(Debug, Parser)]
#[command(name = "forge", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// Output format.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Output::Human, env = "FORGE_OUTPUT")]
    output: Output,
    /// More logs on stderr (-v info, -vv debug); `RUST_LOG` overrides.
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole pipeline of a repository locally: discovery, phases, release, deploy to dev.
    Run(cmd::run::RunArgs),
    /// Create a project's `.forge/project.cue` (and, with --repo, the repository's `repo.cue`).
    Init {
        /// Project name (SPEC §1 rule).
        name: String,
        /// Project directory (default: the current directory).
        #[arg(long, default_value = ".")]
        path: PathBuf,
        /// Also create `.forge/repo.cue` in the repository root.
        #[arg(long)]
        repo: bool,
    },
    /// Validate the repository and project configuration.
    Validate {
        /// Repository root or a folder inside it.
        #[arg(default_value = ".")]
        path: PathBuf,
    },
    /// Discover projects and print the pipeline (SPEC §2.5).
    Discover {
        /// Repository root or a folder inside it.
        #[arg(default_value = ".")]
        path: PathBuf,
        /// Git branch for release triggers.
        #[arg(long)]
        branch: Option<String>,
        /// Git tag for release triggers.
        #[arg(long)]
        tag: Option<String>,
    },
    /// Render a project's deployment resources.
    Render {
        /// Project name.
        project: String,
        /// Repository root or a folder inside it.
        #[arg(long, default_value = ".")]
        path: PathBuf,
        /// Artifact outputs (JSON, SPEC §4.4) to resolve `@artifact` with.
        #[arg(long)]
        artifacts: Option<PathBuf>,
        /// Fill unresolved `@artifact` values with visible placeholders.
        #[arg(long)]
        preview: bool,
        /// Preview for an environment: `forge.io/v1` resources are replaced by what the
        /// composition function would compose from the GitOps repository's EnvironmentConfigs.
        #[arg(long = "env")]
        environment: Option<String>,
        /// The GitOps working tree holding `environments/<env>/env.yml` (with --env; default
        /// `<repo>/.forge-local/gitops`).
        #[arg(long, requires = "environment")]
        gitops: Option<PathBuf>,
        /// The repository `owner/name` (with --env; default `local/<repo folder>`).
        #[arg(long, requires = "environment")]
        repository: Option<String>,
    },
    /// CUE tools.
    Cue {
        #[command(subcommand)]
        command: CueCommand,
    },
    /// Release projects on the embedded defaults (`forge release [PROJECT] [--dry-run]`),
    /// retry the failed publishers of a partial release (`forge release retry`), or verify a
    /// release image (`forge release verify`).
    #[command(args_conflicts_with_subcommands = true)]
    Release {
        #[command(subcommand)]
        command: Option<ReleaseCommand>,
        #[command(flatten)]
        args: cmd::release::ReleaseArgs,
    },
    /// Secret reference tools.
    Secrets {
        #[command(subcommand)]
        command: SecretsCommand,
    },
    /// Deploy a release to an environment.
    Deploy(cmd::ops::DeployArgs),
    /// Roll a project back to its previous release in an environment.
    Rollback(cmd::ops::RollbackArgs),
    /// Approve a release for an environment.
    Approve(cmd::ops::ApproveArgs),
    /// Show runs, releases and deployments of the local store.
    Status(cmd::ops::StatusArgs),
}

#[derive(Debug, Subcommand)]
enum CueCommand {
    /// Print the JSON `cue export --out=json` would print for the files (one instance).
    Export {
        /// CUE files of one package.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ReleaseCommand {
    /// Verify a release image offline: every digest re-derived from the bytes.
    Verify {
        /// `oci:PATH[:tag]` (an OCI image layout) or a registry reference `host/repo:tag`.
        target: String,
        /// Also require a valid cosign signature from one of these PEM public keys.
        #[arg(long = "key")]
        keys: Vec<PathBuf>,
    },
    /// Republish only the failed destinations of a `partial` release (same commit), and record
    /// the results; exit 1 while some still fail.
    Retry(Box<cmd::release::RetryArgs>),
}

#[derive(Debug, Subcommand)]
enum SecretsCommand {
    /// Resolve every secret reference of a repository's configuration and report failures
    /// (never values).
    Check(SecretsCheckArgs),
}

#[derive(Debug, Args)]
struct SecretsCheckArgs {
    /// Repository root or a folder inside it.
    #[arg(default_value = ".")]
    path: PathBuf,
}

fn init_tracing(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
}

fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    let json = cli.output == Output::Json;
    match cli.command {
        Command::Run(args) => cmd::run::run(args, cli.output),
        Command::Init { name, path, repo } => cmd::config::init(&name, &path, repo, json),
        Command::Validate { path } => cmd::config::validate(&path, json),
        Command::Discover { path, branch, tag } => {
            cmd::config::discover(&path, branch.as_deref(), tag.as_deref(), json)
        }
        Command::Render { project, path, artifacts, preview, environment, gitops, repository } => {
            let env = environment.map(|environment| cmd::config::EnvPreview { environment, gitops, repository });
            cmd::config::render(&project, &path, artifacts.as_deref(), preview, env.as_ref(), json)
        }
        Command::Cue { command: CueCommand::Export { files } } => cmd::cue::run(&files),
        Command::Release { command: Some(ReleaseCommand::Verify { target, keys }), .. } => {
            if keys.is_empty() {
                cmd::release_verify::run(&target, json)
            } else {
                cmd::release_verify::run_with_keys(&target, &keys, json)
            }
        }
        Command::Release { command: Some(ReleaseCommand::Retry(args)), .. } => cmd::release::retry(*args, cli.output),
        Command::Release { command: None, args } => cmd::release::run(args, cli.output),
        Command::Secrets { command: SecretsCommand::Check(args) } => cmd::secrets_check::run(&args.path, json),
        Command::Deploy(args) => cmd::ops::deploy(args, cli.output),
        Command::Rollback(args) => cmd::ops::rollback(args, cli.output),
        Command::Approve(args) => cmd::ops::approve(args, cli.output),
        Command::Status(args) => cmd::ops::status(args, cli.output),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_tracing(cli.verbose);
    match dispatch(cli) {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
