//! The hot worker runtime (SPEC §3.3, §3.4): receives jobs with long polling, runs up to N at
//! once, extends the visibility of running jobs (heartbeat), enforces a per-job timeout,
//! records each result under its job id *before* deleting the message, and on shutdown stops
//! receiving, lets running jobs finish within a grace period, then cancels and releases them.
//!
//! Running a job twice is harmless: a job whose result already exists is acknowledged
//! without running again.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use forge_core::JobStatus;
use forge_core::model::{Job, JobType};
use forge_core::ports::{BlobStore, Delivery, JobQueue};
use serde::{Deserialize, Serialize};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use crate::handler::{JobHandler, JobOutput};
use crate::metrics::WorkerMetrics;

/// Worker settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerConfig {
    /// Jobs run at once.
    pub concurrency: usize,
    /// Long-poll wait of each receive (SPEC: 20 s).
    pub wait: Duration,
    /// Visibility timeout set by each heartbeat.
    pub visibility_timeout: Duration,
    /// Interval between heartbeats (visibility extensions) of a running job.
    pub heartbeat: Duration,
    /// Longest a job may run; then it is cancelled and recorded as failed.
    pub job_timeout: Duration,
    /// On shutdown, how long running jobs may take to finish before they are cancelled and
    /// released back to the queue.
    pub shutdown_grace: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            concurrency: 4,
            wait: crate::queue::LONG_POLL,
            visibility_timeout: crate::queue::QueueSettings::TASKS.visibility_timeout,
            heartbeat: Duration::from_secs(60),
            job_timeout: Duration::from_secs(3 * 3600),
            shutdown_grace: Duration::from_secs(25),
        }
    }
}

/// The result document stored at [`result_key`] for each job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobResult {
    /// Job id.
    pub job_id: Uuid,
    /// Run id.
    pub run_id: Uuid,
    /// Kind.
    #[serde(rename = "type")]
    pub kind: JobType,
    /// `completed` or `failed`.
    pub status: JobStatus,
    /// The handler's output.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub result: serde_json::Value,
    /// Failure reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Which delivery of the message produced this result.
    pub receive_count: u32,
    /// When it was recorded.
    pub finished_at: chrono::DateTime<chrono::Utc>,
}

/// The blob key of a job's result: `results/<job id>.json`. A dispatcher sets a job's
/// `result_path` to the blob store's URI of this key.
pub fn result_key(job_id: Uuid) -> String {
    format!("results/{job_id}.json")
}

/// What the worker did, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerStats {
    /// Jobs received.
    pub received: u64,
}

/// The worker. Cheap to clone.
#[derive(Clone)]
pub struct Worker {
    inner: Arc<Inner>,
}

struct Inner {
    queue: Arc<dyn JobQueue>,
    blobs: Arc<dyn BlobStore>,
    handlers: HashMap<JobType, Arc<dyn JobHandler>>,
    metrics: WorkerMetrics,
    config: WorkerConfig,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

/// Builds a [`Worker`].
pub struct WorkerBuilder {
    queue: Arc<dyn JobQueue>,
    blobs: Arc<dyn BlobStore>,
    handlers: HashMap<JobType, Arc<dyn JobHandler>>,
    metrics: Option<WorkerMetrics>,
    config: WorkerConfig,
}

impl std::fmt::Debug for WorkerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerBuilder").field("config", &self.config).finish_non_exhaustive()
    }
}

impl WorkerBuilder {
    /// Adds the handler of a job type.
    pub fn handler(mut self, kind: JobType, handler: Arc<dyn JobHandler>) -> Self {
        self.handlers.insert(kind, handler);
        self
    }

    /// Uses these metrics (to serve them elsewhere).
    pub fn metrics(mut self, metrics: WorkerMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Sets the configuration.
    pub fn config(mut self, config: WorkerConfig) -> Self {
        self.config = config;
        self
    }

    /// The worker.
    pub fn build(self) -> Worker {
        Worker {
            inner: Arc::new(Inner {
                queue: self.queue,
                blobs: self.blobs,
                handlers: self.handlers,
                metrics: self.metrics.unwrap_or_default(),
                config: self.config,
            }),
        }
    }
}

impl Worker {
    /// A builder for a worker consuming `queue` and recording results in `blobs`.
    pub fn builder(queue: Arc<dyn JobQueue>, blobs: Arc<dyn BlobStore>) -> WorkerBuilder {
        WorkerBuilder { queue, blobs, handlers: HashMap::new(), metrics: None, config: WorkerConfig::default() }
    }

    /// The worker's metrics.
    pub fn metrics(&self) -> &WorkerMetrics {
        &self.inner.metrics
    }

    /// Runs until `shutdown` fires, then drains (see the module docs).
    pub async fn run(&self, shutdown: CancellationToken) -> WorkerStats {
        let cfg = self.inner.config;
        let permits = Arc::new(Semaphore::new(cfg.concurrency.max(1)));
        let force = CancellationToken::new();
        let mut jobs = JoinSet::new();
        let mut stats = WorkerStats::default();
        let mut backoff = Duration::from_millis(200);
        loop {
            while jobs.try_join_next().is_some() {}
            let first = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            };
            let mut held = vec![first];
            while held.len() < 10 {
                match permits.clone().try_acquire_owned() {
                    Ok(p) => held.push(p),
                    Err(_) => break,
                }
            }
            // Shutdown wins over a receive that completes at the same time. (An SQS receive
            // dropped mid-poll may leave messages in flight; they return after the visibility
            // timeout.)
            let received = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                r = self.inner.queue.receive(held.len(), cfg.wait) => r,
            };
            match received {
                Ok(deliveries) => {
                    backoff = Duration::from_millis(200);
                    for d in deliveries {
                        let Some(permit) = held.pop() else { break };
                        stats.received += 1;
                        let inner = self.inner.clone();
                        let force = force.clone();
                        jobs.spawn(async move { inner.process(d, permit, force).await });
                    }
                }
                Err(e) => {
                    self.inner.metrics.receive_errors.inc();
                    tracing::warn!(error = %e, retry_in = ?backoff, "receive failed");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = shutdown.cancelled() => break,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
        tracing::info!(running = jobs.len(), grace = ?cfg.shutdown_grace, "worker stopping: no more receives");
        let drain = async { while jobs.join_next().await.is_some() {} };
        tokio::pin!(drain);
        tokio::select! {
            () = &mut drain => {}
            () = tokio::time::sleep(cfg.shutdown_grace) => {
                tracing::warn!("shutdown grace over: cancelling and releasing running jobs");
                force.cancel();
                drain.await;
            }
        }
        stats
    }
}

impl Inner {
    async fn process(self: Arc<Self>, d: Delivery, _permit: OwnedSemaphorePermit, force: CancellationToken) {
        let job = d.job.clone();
        let kind = job_type_label(job.kind);
        let span = tracing::info_span!("job", job_id = %job.job_id, run_id = %job.run_id, r#type = kind, receive_count = d.receive_count);
        async move {
            if let Some(sent) = d.sent_at {
                let lag = (chrono::Utc::now() - sent).to_std().unwrap_or_default();
                self.metrics.queue_lag.with_label_values(&[kind]).observe(lag.as_secs_f64());
            }
            let started = Instant::now();
            let outcome = self.process_inner(&d, &job, force).await;
            self.metrics.jobs.with_label_values(&[kind, outcome]).inc();
            self.metrics.duration.with_label_values(&[kind, outcome]).observe(started.elapsed().as_secs_f64());
            tracing::info!(outcome, elapsed = ?started.elapsed(), "job done");
        }
        .instrument(span)
        .await;
    }

    async fn process_inner(&self, d: &Delivery, job: &Job, force: CancellationToken) -> &'static str {
        let key = result_key(job.job_id);
        if self.blobs.get(&key).await.is_ok() {
            tracing::info!("result already recorded: acknowledging the duplicate delivery");
            self.ack(d).await;
            return "duplicate";
        }
        let Some(handler) = self.handlers.get(&job.kind).cloned() else {
            let error = format!("this worker has no handler for {} jobs", job_type_label(job.kind));
            return if self.record(d, job, JobStatus::Failed, serde_json::Value::Null, Some(error)).await {
                self.ack(d).await;
                "failed"
            } else {
                "error"
            };
        };
        self.metrics.running.inc();
        let token = force.child_token();
        let heartbeat = {
            let (queue, d, cfg) = (self.queue.clone(), d.clone(), self.config);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(cfg.heartbeat).await;
                    if let Err(e) = queue.extend_visibility(&d, cfg.visibility_timeout).await {
                        tracing::warn!(error = %e, "visibility extension failed");
                    }
                }
            })
        };
        let run = handler.handle(job, token.clone());
        tokio::pin!(run);
        let mut timed_out = false;
        let result = tokio::select! {
            r = &mut run => r,
            () = tokio::time::sleep(self.config.job_timeout) => {
                timed_out = true;
                token.cancel();
                run.await
            }
        };
        heartbeat.abort();
        self.metrics.running.dec();
        if force.is_cancelled() && !timed_out {
            // Forced shutdown: give the job back for another worker.
            if let Err(e) = self.queue.release(d).await {
                tracing::warn!(error = %e, "release failed; the job returns after its visibility timeout");
            }
            return "released";
        }
        let (status, output, error, outcome) = match result {
            _ if timed_out => {
                let error = format!("job timed out after {:?}", self.config.job_timeout);
                (JobStatus::Failed, serde_json::Value::Null, Some(error), "timeout")
            }
            Ok(JobOutput { failed: false, result }) => (JobStatus::Completed, result, None, "completed"),
            Ok(JobOutput { failed: true, result }) => (JobStatus::Failed, result, None, "failed"),
            Err(e) if e.is_transient() => {
                tracing::warn!(error = %e, "transient failure: releasing the job for another attempt");
                if let Err(e) = self.queue.release(d).await {
                    tracing::warn!(error = %e, "release failed; the job returns after its visibility timeout");
                }
                return "retry";
            }
            Err(e) => (JobStatus::Failed, serde_json::Value::Null, Some(e.to_string()), "failed"),
        };
        if self.record(d, job, status, output, error).await {
            self.ack(d).await;
            outcome
        } else {
            "error"
        }
    }

    /// Writes the result. On failure the message is not deleted, so the job runs again.
    async fn record(
        &self,
        d: &Delivery,
        job: &Job,
        status: JobStatus,
        result: serde_json::Value,
        error: Option<String>,
    ) -> bool {
        let doc = JobResult {
            job_id: job.job_id,
            run_id: job.run_id,
            kind: job.kind,
            status,
            result,
            error,
            receive_count: d.receive_count,
            finished_at: chrono::Utc::now(),
        };
        let bytes = match serde_json::to_vec_pretty(&doc) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "could not encode the job result");
                return false;
            }
        };
        match self.blobs.put(&result_key(job.job_id), Bytes::from(bytes)).await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, "could not record the job result; leaving the message for redelivery");
                false
            }
        }
    }

    async fn ack(&self, d: &Delivery) {
        if let Err(e) = self.queue.ack(d).await {
            tracing::warn!(error = %e, "delete failed; the job will be redelivered and acknowledged as a duplicate");
        }
    }
}

fn job_type_label(kind: JobType) -> &'static str {
    match kind {
        JobType::Discovery => "discovery",
        JobType::Task => "task",
        JobType::Artifact => "artifact",
    }
}
