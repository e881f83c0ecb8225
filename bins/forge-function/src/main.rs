//! `forge-function`: the Forge Crossplane composition function server.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use forge_function::FunctionError;

/// Serves `apiextensions.fn.proto.v1.FunctionRunnerService` for the `forge.io/v1` catalog.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "FORGE_FUNCTION_LISTEN", default_value = "0.0.0.0:9443")]
    listen: SocketAddr,
    /// Directory with tls.crt, tls.key and ca.crt for mTLS (needs a TLS-enabled build).
    #[arg(long, env = "FORGE_FUNCTION_TLS_CERT_DIR")]
    tls_cert_dir: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> Result<(), FunctionError> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let args = Args::parse();
    if args.tls_cert_dir.is_some() {
        return Err(FunctionError::Invalid {
            what: "--tls-cert-dir".into(),
            message: "this build has no TLS support; terminate TLS in front of the function".into(),
        });
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|source| FunctionError::Listen { addr: args.listen.to_string(), source })?;
    tracing::info!(addr = %args.listen, "forge-function listening");
    forge_function::serve(listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
