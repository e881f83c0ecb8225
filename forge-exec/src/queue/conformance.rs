//! The behaviour every [`JobQueue`] adapter must show (SPEC §3.3), as async checks that panic
//! on violation — the way `object_store`'s integration suite is shared by its adapters.
//!
//! Each check expects a fresh, empty queue configured with visibility timeout `vt` (whole
//! seconds for SQS) and a dead-letter queue after `max_receives` receives. Run them from a test
//! of your adapter:
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use forge_exec::queue::{conformance, EmbeddedQueue, QueueSettings};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! let settings = QueueSettings::TASKS.with_visibility(Duration::from_millis(200));
//! let queue = EmbeddedQueue::new(settings);
//! conformance::send_receive_ack(&queue).await;
//! # });
//! # Ok::<(), std::io::Error>(())
//! ```
#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use forge_core::model::{Job, JobPayload, JobType};
use forge_core::ports::JobQueue;
use uuid::Uuid;

/// A no-op task job with a fresh id, for tests and benchmarks.
pub fn sample_job() -> Job {
    Job {
        job_id: Uuid::new_v4(),
        run_id: Uuid::new_v4(),
        kind: JobType::Task,
        payload: JobPayload {
            repository: "acme/shop".parse().expect("valid repository"),
            commit_sha: "0123456789abcdef0123456789abcdef01234567".parse().expect("valid sha"),
            project: Some("web".parse().expect("valid project")),
            phase: Some("build".into()),
            steps: vec!["compile".into()],
            branch: None,
            tag: None,
        },
        result_path: String::new(),
    }
}

const SHORT: Duration = Duration::from_millis(300);

/// Receives until a job arrives or `within` passes.
async fn receive_one(q: &dyn JobQueue, within: Duration) -> Option<forge_core::ports::Delivery> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let wait = left.clamp(SHORT, Duration::from_secs(20));
        let mut got = q.receive(1, wait).await.expect("receive");
        if let Some(d) = got.pop() {
            return Some(d);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
    }
}

/// A sent job is received once with receive count 1, with the same body; after `ack` it is
/// never delivered again.
pub async fn send_receive_ack(q: &dyn JobQueue) {
    let job = sample_job();
    q.send(&job).await.expect("send");
    let d = receive_one(q, Duration::from_secs(5)).await.expect("the sent job is delivered");
    assert_eq!(d.job, job, "the body round-trips");
    assert_eq!(d.receive_count, 1);
    q.ack(&d).await.expect("ack");
    let again = q.receive(10, SHORT).await.expect("receive");
    assert!(again.is_empty(), "an acknowledged job is gone: {again:?}");
}

/// Every one of `n` sent jobs is delivered at least once (and, when acked at once, exactly once).
pub async fn at_least_once(q: &dyn JobQueue, n: usize) {
    let mut want = BTreeSet::new();
    for _ in 0..n {
        let job = sample_job();
        want.insert(job.job_id);
        q.send(&job).await.expect("send");
    }
    let mut seen = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while seen.len() < n && tokio::time::Instant::now() < deadline {
        for d in q.receive(10, Duration::from_secs(1)).await.expect("receive") {
            seen.insert(d.job.job_id);
            q.ack(&d).await.expect("ack");
        }
    }
    assert_eq!(seen, want, "every job is delivered");
}

/// A received job that is not acknowledged comes back after the visibility timeout `vt`, with
/// a higher receive count, and is invisible before that.
pub async fn visibility_expiry_redelivers(q: &dyn JobQueue, vt: Duration) {
    let job = sample_job();
    q.send(&job).await.expect("send");
    let first = receive_one(q, Duration::from_secs(5)).await.expect("delivered");
    assert_eq!(first.receive_count, 1);
    let hidden = q.receive(1, SHORT.min(vt / 2)).await.expect("receive");
    assert!(hidden.is_empty(), "invisible during the visibility timeout");
    let second = receive_one(q, vt * 3 + Duration::from_secs(2)).await.expect("redelivered after expiry");
    assert_eq!(second.job.job_id, job.job_id);
    assert_eq!(second.receive_count, 2);
    q.ack(&second).await.expect("ack");
}

/// `release` makes a job visible again at once.
pub async fn release_redelivers_at_once(q: &dyn JobQueue) {
    let job = sample_job();
    q.send(&job).await.expect("send");
    let first = receive_one(q, Duration::from_secs(5)).await.expect("delivered");
    q.release(&first).await.expect("release");
    let second = receive_one(q, Duration::from_secs(2)).await.expect("visible at once after release");
    assert_eq!(second.job.job_id, job.job_id);
    assert_eq!(second.receive_count, 2);
    q.ack(&second).await.expect("ack");
}

/// A job whose visibility keeps being extended is not redelivered while it runs.
pub async fn extension_keeps_job_invisible(q: &dyn JobQueue, vt: Duration) {
    let job = sample_job();
    q.send(&job).await.expect("send");
    let d = receive_one(q, Duration::from_secs(5)).await.expect("delivered");
    // Heartbeat at a third of the timeout for twice the timeout.
    let beats = 6;
    for _ in 0..beats {
        tokio::time::sleep(vt / 3).await;
        q.extend_visibility(&d, vt).await.expect("extend");
        let got = q.receive(1, Duration::ZERO).await.expect("receive");
        assert!(got.is_empty(), "an extended job stays invisible: {got:?}");
    }
    q.ack(&d).await.expect("ack");
}

/// After `max_receives` deliveries without ack, the next receive moves the job to `dlq`.
pub async fn dead_letter_after_max_receives(q: &dyn JobQueue, dlq: &dyn JobQueue, max_receives: u32) {
    let job = sample_job();
    q.send(&job).await.expect("send");
    for n in 1..=max_receives {
        let d = receive_one(q, Duration::from_secs(5)).await.expect("delivered before the limit");
        assert_eq!(d.job.job_id, job.job_id);
        assert_eq!(d.receive_count, n);
        q.release(&d).await.expect("release");
    }
    let after = q.receive(1, Duration::from_secs(1)).await.expect("receive");
    assert!(after.is_empty(), "no delivery after {max_receives} receives: {after:?}");
    let dead = receive_one(dlq, Duration::from_secs(5)).await.expect("the job is on the dead-letter queue");
    assert_eq!(dead.job.job_id, job.job_id);
    dlq.ack(&dead).await.expect("ack on the dead-letter queue");
}

/// An empty long poll waits about `wait`, and wakes early when a job arrives.
pub async fn long_poll_waits_and_wakes(q: &dyn JobQueue, wait: Duration) {
    let start = tokio::time::Instant::now();
    let got = q.receive(1, wait).await.expect("receive");
    assert!(got.is_empty());
    assert!(start.elapsed() >= wait.mul_f32(0.9), "waited {:?} of {wait:?}", start.elapsed());
    let job = sample_job();
    let start = tokio::time::Instant::now();
    let (got, ()) = tokio::join!(q.receive(1, wait * 4), async {
        tokio::time::sleep(wait / 2).await;
        q.send(&job).await.expect("send");
    });
    let got = got.expect("receive");
    assert_eq!(got.len(), 1, "woken by the send");
    assert!(start.elapsed() < wait * 3, "woke early: {:?}", start.elapsed());
    q.ack(&got[0]).await.expect("ack");
}
