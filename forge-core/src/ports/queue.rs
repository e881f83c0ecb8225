use std::time::Duration;

use async_trait::async_trait;

use crate::Result;
use crate::model::Job;

/// A job received from a queue, with what is needed to acknowledge it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The job.
    pub job: Job,
    /// Opaque handle for ack/release/extend (an SQS receipt handle, or an embedded token).
    pub receipt: String,
    /// How many times this message has been received, including this one.
    pub receive_count: u32,
    /// When the message was first sent, if the queue reports it (used for queue-lag metrics).
    pub sent_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A job queue with at-least-once delivery (SPEC §3.3).
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Enqueues a job.
    async fn send(&self, job: &Job) -> Result<()>;
    /// Receives up to `max` jobs, waiting up to `wait` for the first (long polling).
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>>;
    /// Deletes a delivered job after its result is recorded.
    async fn ack(&self, delivery: &Delivery) -> Result<()>;
    /// Makes a delivered job visible again at once (graceful shutdown).
    async fn release(&self, delivery: &Delivery) -> Result<()>;
    /// Sets the remaining visibility timeout of a job still being worked on to `by` from now
    /// (the heartbeat of a running job).
    async fn extend_visibility(&self, delivery: &Delivery, by: Duration) -> Result<()>;
}
