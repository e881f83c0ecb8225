//! `forge-cmp`: the Forge Argo CD config management plugin (SPEC §6.6). Argument parsing and
//! wiring only; the logic is `forge_gitops::cmp`.
//!
//! `forge-cmp generate` reads `release.yaml` in the working directory (or `--dir`), pulls and
//! verifies the release image, and prints the manifests as one YAML stream on stdout. On any
//! failure it prints one line on stderr, nothing on stdout, and exits with status 1. Settings
//! come from the environment Argo CD passes (see `forge_gitops::cmp::CmpOptions::from_env`).
//! `FORGE_CMP_LOG=debug` turns on diagnostics on stderr.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use forge_gitops::cmp::{CmpOptions, generate};

/// The Forge Argo CD config management plugin.
#[derive(Debug, Parser)]
#[command(name = "forge-cmp", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the manifests of the release the pointer in the directory names.
    Generate {
        /// Directory holding `release.yaml` (Argo CD runs the plugin in the source path).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
}

fn fail(message: &str) -> ExitCode {
    let line: String = message.chars().map(|c| if c == '\n' || c == '\r' { ' ' } else { c }).collect();
    let _ = writeln!(std::io::stderr().lock(), "forge-cmp: {line}");
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => return fail(&e.to_string()),
        Err(e) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
    };
    if let Ok(filter) = std::env::var("FORGE_CMP_LOG") {
        let _ = tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(filter).try_init();
    }
    match cli.command {
        Command::Generate { dir } => {
            let opts = match CmpOptions::from_env(|k| std::env::var(k).ok()) {
                Ok(o) => o,
                Err(e) => return fail(&e.to_string()),
            };
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(r) => r,
                Err(e) => return fail(&format!("cannot start the runtime: {e}")),
            };
            match runtime.block_on(generate(&dir, &opts)) {
                Ok(out) => {
                    tracing::debug!(reference = %out.reference, digest = %out.digest, cached = out.cached, network = out.network, "generated");
                    let mut stdout = std::io::stdout().lock();
                    match stdout.write_all(&out.manifests).and_then(|()| stdout.flush()) {
                        Ok(()) => ExitCode::SUCCESS,
                        Err(e) => fail(&format!("writing stdout: {e}")),
                    }
                }
                Err(e) => fail(&e.to_string()),
            }
        }
    }
}
