//! Commit statuses along a run's lifecycle (SPEC §3.7), through the
//! [`CommitStatusReporter`] port (GitHub REST in production, see `forge_exec::github`).
//!
//! Updates, in order, under the context `ci/catalyst-forge`:
//! - run created → `pending` "Pipeline created";
//! - plan recorded (discovery done) → `pending` "Discovered N projects, M phases";
//! - a status update that finishes its phase (and not the run) → `pending` "Running phase X of
//!   N (Y% complete)", with the counts the store computed in that update's transaction (so a
//!   later update never repeats or skips it);
//! - run finished → `success` "Pipeline succeeded in 3m12s", `failure` "Pipeline failed after …",
//!   or `error` for a cancelled run.
//!
//! Updates go through one background task fed by a channel: the API never waits for GitHub,
//! the order of updates is kept, and failures are logged, never returned (they never fail a
//! run or a request).

use std::sync::Arc;

use forge_core::StatusMachine;
use forge_core::model::PipelineRun;
use forge_core::ports::{CommitStatusReporter, StatusChange, Store, commit_state_for};
use forge_exec::github::status_descriptions as text;
use tokio::sync::mpsc;

/// What happened to a run.
#[derive(Debug)]
enum Update {
    Created(Box<PipelineRun>),
    Planned(Box<PipelineRun>),
    /// A task or step of the run changed status.
    Progressed(StatusChange),
    Finished(Box<PipelineRun>),
}

/// Sends commit statuses for runs; cheap to clone.
#[derive(Debug, Clone)]
pub struct RunStatusNotifier {
    tx: mpsc::UnboundedSender<Update>,
}

impl RunStatusNotifier {
    /// Starts the background task (call inside a Tokio runtime). `store` is read to find the
    /// phase of a changed task or step.
    pub fn spawn(reporter: Arc<dyn CommitStatusReporter>, store: Arc<dyn Store>) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Update>();
        tokio::spawn(async move {
            while let Some(update) = rx.recv().await {
                handle(&*reporter, &*store, update).await;
            }
        });
        Self { tx }
    }

    fn send(&self, update: Update) {
        if self.tx.send(update).is_err() {
            tracing::warn!("the commit-status task has stopped; status not reported");
        }
    }

    /// A run was created.
    pub fn created(&self, run: &PipelineRun) {
        self.send(Update::Created(Box::new(run.clone())));
    }
    /// A run's plan was recorded (discovery done).
    pub fn planned(&self, run: &PipelineRun) {
        self.send(Update::Planned(Box::new(run.clone())));
    }
    /// A task or step of a run changed status (the store's account of the change).
    pub fn progressed(&self, change: StatusChange) {
        if change.run_completed || change.phase_completed {
            self.send(Update::Progressed(change));
        }
    }
    /// A run finished (or was cancelled).
    pub fn finished(&self, run: &PipelineRun) {
        self.send(Update::Finished(Box::new(run.clone())));
    }
}

async fn set(reporter: &dyn CommitStatusReporter, run: &PipelineRun, state: &str, description: &str) {
    forge_exec::github::report(reporter, &run.repository, &run.commit_sha, commit_state_for(state), description).await;
}

async fn finished(reporter: &dyn CommitStatusReporter, run: &PipelineRun) {
    let start = run.started_at.unwrap_or(run.created_at);
    let took = run.finished_at.unwrap_or_else(chrono::Utc::now).signed_duration_since(start);
    let took = took.to_std().unwrap_or_default();
    let description = match run.status {
        forge_core::RunStatus::Cancelled => "Pipeline cancelled".to_owned(),
        s => text::finished(s == forge_core::RunStatus::Success, took),
    };
    set(reporter, run, run.status.as_str(), &description).await;
}

async fn handle(reporter: &dyn CommitStatusReporter, store: &dyn Store, update: Update) {
    match update {
        Update::Created(run) => set(reporter, &run, "pending", &text::created()).await,
        Update::Planned(run) => {
            let projects: std::collections::BTreeSet<&str> =
                run.phases.iter().flat_map(|p| p.tasks.iter().map(|t| t.project.as_str())).collect();
            set(reporter, &run, "pending", &text::discovered(projects.len(), run.phases.len())).await;
            if run.status.is_terminal() {
                finished(reporter, &run).await;
            }
        }
        Update::Finished(run) => finished(reporter, &run).await,
        Update::Progressed(change) => {
            // The run is read for its repository and commit (and, once finished, its times).
            let run = match store.get_run(change.run_id).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(run = %change.run_id, error = %e, "reading the run for its commit status failed");
                    return;
                }
            };
            if change.run_completed {
                finished(reporter, &run).await;
            } else if change.phase_completed && !change.run_status.is_terminal() {
                set(reporter, &run, "running", &text::phase_done(change.phases_done, change.phases_total)).await;
            }
        }
    }
}
