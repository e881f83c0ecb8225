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
    /// Directory with tls.crt, tls.key and ca.crt for mutual TLS (needs the `tls` feature).
    #[arg(long, env = "FORGE_FUNCTION_TLS_CERT_DIR")]
    tls_cert_dir: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> Result<(), FunctionError> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|source| FunctionError::Listen { addr: args.listen.to_string(), source })?;
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match args.tls_cert_dir {
        None => {
            tracing::info!(addr = %args.listen, "forge-function listening (plaintext)");
            forge_function::serve(listener, shutdown).await
        }
        #[cfg(feature = "tls")]
        Some(dir) => {
            tracing::info!(addr = %args.listen, dir = %dir.display(), "forge-function listening (mTLS)");
            forge_function::server::serve_tls(listener, &dir, shutdown).await
        }
        #[cfg(not(feature = "tls"))]
        Some(_) => Err(FunctionError::Invalid {
            what: "--tls-cert-dir".into(),
            message: "this build has no TLS support: build with `--features tls`".into(),
        }),
    }
}
