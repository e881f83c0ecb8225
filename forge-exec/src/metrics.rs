//! Prometheus metrics of a worker and a tiny HTTP endpoint serving them.

use std::net::SocketAddr;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};

/// The worker's metrics, registered in their own registry.
#[derive(Clone)]
pub struct WorkerMetrics {
    registry: Registry,
    /// `forge_worker_jobs_total{type,outcome}`.
    pub jobs: IntCounterVec,
    /// `forge_worker_job_duration_seconds{type,outcome}`.
    pub duration: HistogramVec,
    /// `forge_worker_queue_lag_seconds{type}`: time from send to receive.
    pub queue_lag: HistogramVec,
    /// `forge_worker_jobs_running`.
    pub running: IntGauge,
    /// `forge_worker_receive_errors_total`.
    pub receive_errors: IntCounter,
}

impl std::fmt::Debug for WorkerMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerMetrics").finish_non_exhaustive()
    }
}

fn reg<T: prometheus::core::Collector + Clone + 'static>(r: &Registry, c: prometheus::Result<T>) -> T {
    // The metric definitions are constants; failures here are programming errors caught by
    // the unit test below, so fall back to an unregistered collector rather than panic.
    match c {
        Ok(c) => {
            if let Err(e) = r.register(Box::new(c.clone())) {
                tracing::error!(error = %e, "metric registration failed");
            }
            c
        }
        Err(e) => unreachable_metric(e),
    }
}

#[allow(clippy::panic)]
fn unreachable_metric(e: prometheus::Error) -> ! {
    panic!("invalid constant metric definition: {e}")
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl WorkerMetrics {
    /// Creates and registers the metrics.
    pub fn new() -> Self {
        let registry = Registry::new();
        let jobs = reg(
            &registry,
            IntCounterVec::new(
                Opts::new("forge_worker_jobs_total", "Jobs handled, by type and outcome."),
                &["type", "outcome"],
            ),
        );
        let duration = reg(
            &registry,
            HistogramVec::new(
                HistogramOpts::new("forge_worker_job_duration_seconds", "Job handling time, by type and outcome.")
                    .buckets(vec![0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0]),
                &["type", "outcome"],
            ),
        );
        let queue_lag = reg(
            &registry,
            HistogramVec::new(
                HistogramOpts::new("forge_worker_queue_lag_seconds", "Time from a job's send to its receive, by type.")
                    .buckets(vec![0.01, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0]),
                &["type"],
            ),
        );
        let running = reg(&registry, IntGauge::new("forge_worker_jobs_running", "Jobs running now."));
        let receive_errors =
            reg(&registry, IntCounter::new("forge_worker_receive_errors_total", "Failed queue receives."));
        Self { registry, jobs, duration, queue_lag, running, receive_errors }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::warn!(error = %e, "could not encode metrics");
        }
        String::from_utf8_lossy(&buf).into_owned()
    }
}

/// Binds `addr` for [`serve_metrics`].
pub async fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| Error::io("binding the metrics address", addr.to_string(), e))
}

/// Serves `GET /metrics` (Prometheus text format) and `GET /healthz` on `listener` until
/// `shutdown` fires.
pub async fn serve_metrics(listener: TcpListener, metrics: WorkerMetrics, shutdown: CancellationToken) {
    loop {
        let (mut sock, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => { tracing::warn!(error = %e, "metrics accept failed"); continue; }
            },
            () = shutdown.cancelled() => return,
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let mut n = 0;
            while n < buf.len() {
                match tokio::time::timeout(std::time::Duration::from_secs(5), sock.read(&mut buf[n..])).await {
                    Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
                    Ok(Ok(m)) => {
                        n += m;
                        if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                            break;
                        }
                    }
                }
            }
            let head = String::from_utf8_lossy(&buf[..n]);
            let path = head.split_whitespace().nth(1).unwrap_or("");
            let (status, ctype, body) = match (head.starts_with("GET "), path) {
                (true, "/metrics") => ("200 OK", "text/plain; version=0.0.4", metrics.render()),
                (true, "/healthz") => ("200 OK", "text/plain", "ok\n".to_owned()),
                _ => ("404 Not Found", "text/plain", "not found; try /metrics\n".to_owned()),
            };
            let resp = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
            let _ = sock.shutdown().await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn metrics_render_and_serve() -> Result<(), Box<dyn std::error::Error>> {
        let m = WorkerMetrics::new();
        m.jobs.with_label_values(&["task", "completed"]).inc();
        m.running.set(2);
        let text = m.render();
        assert!(text.contains(r#"forge_worker_jobs_total{outcome="completed",type="task"} 1"#), "{text}");
        let listener = bind("127.0.0.1:0".parse()?).await?;
        let addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let server = tokio::spawn(serve_metrics(listener, m, stop.clone()));
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await?;
        let mut out = String::new();
        s.read_to_string(&mut out).await?;
        assert!(out.starts_with("HTTP/1.1 200 OK"));
        assert!(out.contains("forge_worker_jobs_running 2"));
        stop.cancel();
        server.await?;
        Ok(())
    }
}
