//! The in-process phase scheduler (SPEC §3.2).
//!
//! - Phase groups run one at a time in ascending order; all phases of a group run together.
//! - Inside a phase, each project's steps run in priority tiers: every step of the highest
//!   priority together, then the next tier.
//! - Fail-fast: a failed step cancels the running steps of the whole run (their process groups
//!   are killed), everything not started is marked `skipped`, the run fails, later groups never
//!   start.
//! - A step over its timeout fails; a phase over its timeout fails (and so fails the run);
//!   the whole run is limited to [`PIPELINE_HARD_LIMIT`].
//!
//! Every status change goes through forge-core's [`StatusMachine::transition`] and is reported
//! to a [`StatusSink`]. Entities move to `running` only when their first step starts, so an
//! entity that never ran goes `pending → skipped`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use forge_core::model::StepAction;
use forge_core::ports::{Executor, StepSpec};
use forge_core::status::aggregate;
use forge_core::{ExecStatus, RunStatus, StatusMachine};
use futures::future::join_all;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::plan::{PipelinePlan, StepPlan};

/// The pipeline hard limit (SPEC §3.2): 24 hours.
pub const PIPELINE_HARD_LIMIT: Duration = Duration::from_secs(24 * 3600);

/// A status change of the run or one of its executions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "level", rename_all = "snake_case")]
pub enum StatusEvent {
    /// The run.
    Run {
        /// New status.
        status: RunStatus,
    },
    /// A phase.
    Phase {
        /// Phase.
        phase: String,
        /// New status.
        status: ExecStatus,
    },
    /// A task (one project in one phase).
    Task {
        /// Phase.
        phase: String,
        /// Project.
        project: String,
        /// New status.
        status: ExecStatus,
    },
    /// A step.
    Step {
        /// Phase.
        phase: String,
        /// Project.
        project: String,
        /// Step.
        step: String,
        /// New status.
        status: ExecStatus,
        /// Exit code, once finished.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
        /// Log key in the blob store, once started.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        log_key: Option<String>,
        /// Failure reason.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
}

/// Observes status changes (the API store, a CLI progress display, a test recorder).
/// Called synchronously, in order; implementations must be quick and must not block.
pub trait StatusSink: Send + Sync {
    /// One status change.
    fn report(&self, event: &StatusEvent);
}

/// A sink that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopSink;

impl StatusSink for NoopSink {
    fn report(&self, _event: &StatusEvent) {}
}

/// A sink that keeps every event (tests, small runs).
#[derive(Debug, Default)]
pub struct RecordingSink {
    events: Mutex<Vec<StatusEvent>>,
}

impl RecordingSink {
    /// The events so far.
    pub fn events(&self) -> Vec<StatusEvent> {
        self.events.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl StatusSink for RecordingSink {
    fn report(&self, event: &StatusEvent) {
        self.events.lock().unwrap_or_else(|p| p.into_inner()).push(event.clone());
    }
}

/// The final state of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    /// Run status.
    pub status: RunStatus,
    /// Phases in execution order (group, then plan order).
    pub phases: Vec<PhaseReport>,
}

/// The final state of a phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseReport {
    /// Phase name.
    pub name: String,
    /// Group.
    pub group: u32,
    /// Status.
    pub status: ExecStatus,
    /// Tasks.
    pub tasks: Vec<TaskReport>,
}

/// The final state of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskReport {
    /// Project.
    pub project: String,
    /// Status.
    pub status: ExecStatus,
    /// Steps, in plan order.
    pub steps: Vec<StepReport>,
}

/// The final state of a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepReport {
    /// Step name.
    pub name: String,
    /// Status.
    pub status: ExecStatus,
    /// Exit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Log key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_key: Option<String>,
    /// Failure reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl RunReport {
    /// Finds a step.
    pub fn step(&self, phase: &str, project: &str, step: &str) -> Option<&StepReport> {
        self.phases
            .iter()
            .filter(|p| p.name == phase)
            .flat_map(|p| &p.tasks)
            .filter(|t| t.project == project)
            .flat_map(|t| &t.steps)
            .find(|s| s.name == step)
    }
}

/// Runs [`PipelinePlan`]s with an [`Executor`].
#[derive(Clone)]
pub struct Scheduler {
    executor: Arc<dyn Executor>,
    sink: Arc<dyn StatusSink>,
    repo_root: PathBuf,
    log_prefix: String,
    hard_limit: Duration,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("repo_root", &self.repo_root)
            .field("log_prefix", &self.log_prefix)
            .field("hard_limit", &self.hard_limit)
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    /// A scheduler running steps with `executor` and reporting to `sink`, in the current
    /// directory, with logs under `logs/`.
    pub fn new(executor: Arc<dyn Executor>, sink: Arc<dyn StatusSink>) -> Self {
        Self {
            executor,
            sink,
            repo_root: PathBuf::from("."),
            log_prefix: "logs".into(),
            hard_limit: PIPELINE_HARD_LIMIT,
        }
    }

    /// The repository checkout the steps run in.
    pub fn with_repo_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.repo_root = root.into();
        self
    }

    /// The blob-key prefix of step logs (`logs/<run id>`): a step logs to
    /// `<prefix>/<phase>/<project>/<step>.log`.
    pub fn with_log_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.log_prefix = prefix.into();
        self
    }

    /// Overrides the pipeline hard limit (tests).
    pub fn with_hard_limit(mut self, limit: Duration) -> Self {
        self.hard_limit = limit;
        self
    }

    /// Runs `plan` to completion. Cancelling `cancel` stops the run (running steps are
    /// cancelled, the rest skipped, the run `cancelled`).
    pub async fn run(&self, plan: &PipelinePlan, cancel: CancellationToken) -> RunReport {
        let run = Arc::new(RunState::new(self, plan, cancel.child_token()));
        run.sink.report(&StatusEvent::Run { status: RunStatus::Running });
        let mut groups: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for (i, (g, _)) in run.phases.iter().enumerate() {
            groups.entry(*g).or_default().push(i);
        }
        let body = {
            let run = run.clone();
            async move {
                for phases in groups.values() {
                    if run.token.is_cancelled() {
                        break;
                    }
                    join_all(phases.iter().map(|&p| run.clone().run_phase(p))).await;
                }
            }
        };
        tokio::pin!(body);
        tokio::select! {
            () = &mut body => {}
            () = tokio::time::sleep(self.hard_limit) => {
                tracing::warn!(limit = ?self.hard_limit, "pipeline hit its hard limit; stopping it");
                run.fail();
                body.await;
            }
        }
        let status = if run.failed.load(Ordering::SeqCst) {
            RunStatus::Failed
        } else if cancel.is_cancelled() {
            RunStatus::Cancelled
        } else {
            RunStatus::Success
        };
        let mut st = run.lock();
        for p in 0..st.phases.len() {
            run.finalize_phase(&mut st, p);
        }
        st.status = status;
        run.sink.report(&StatusEvent::Run { status });
        st.clone()
    }
}

struct RunState {
    executor: Arc<dyn Executor>,
    sink: Arc<dyn StatusSink>,
    repo_root: PathBuf,
    log_prefix: String,
    /// (group, plan) per phase, in report order.
    phases: Vec<(u32, crate::plan::PhasePlan)>,
    token: CancellationToken,
    failed: AtomicBool,
    report: Mutex<RunReport>,
}

fn key_part(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' }).collect()
}

fn set<S: StatusMachine>(current: &mut S, to: S, what: &str) -> bool {
    match current.transition(to) {
        Ok(s) => {
            let changed = *current != s;
            *current = s;
            changed
        }
        Err(e) => {
            tracing::error!(error = %e, entity = what, "scheduler bug: illegal transition refused");
            false
        }
    }
}

impl RunState {
    fn new(s: &Scheduler, plan: &PipelinePlan, token: CancellationToken) -> Self {
        let mut groups: Vec<_> = plan.groups.iter().collect();
        groups.sort_by_key(|g| g.group);
        let phases: Vec<(u32, crate::plan::PhasePlan)> =
            groups.iter().flat_map(|g| g.phases.iter().map(|p| (g.group, p.clone()))).collect();
        let report = RunReport {
            status: RunStatus::Running,
            phases: phases
                .iter()
                .map(|(g, p)| PhaseReport {
                    name: p.name.clone(),
                    group: *g,
                    status: ExecStatus::Pending,
                    tasks: p
                        .tasks
                        .iter()
                        .map(|t| TaskReport {
                            project: t.project.clone(),
                            status: ExecStatus::Pending,
                            steps: t
                                .steps
                                .iter()
                                .map(|st| StepReport {
                                    name: st.name.clone(),
                                    status: ExecStatus::Pending,
                                    exit_code: None,
                                    log_key: None,
                                    error: None,
                                })
                                .collect(),
                        })
                        .collect(),
                })
                .collect(),
        };
        Self {
            executor: s.executor.clone(),
            sink: s.sink.clone(),
            repo_root: s.repo_root.clone(),
            log_prefix: s.log_prefix.clone(),
            phases,
            token,
            failed: AtomicBool::new(false),
            report: Mutex::new(report),
        }
    }

    fn lock(&self) -> MutexGuard<'_, RunReport> {
        self.report.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fail(&self) {
        self.failed.store(true, Ordering::SeqCst);
        self.token.cancel();
    }

    fn set_phase(&self, st: &mut RunReport, p: usize, to: ExecStatus) {
        let phase = &mut st.phases[p];
        if set(&mut phase.status, to, "phase") {
            self.sink.report(&StatusEvent::Phase { phase: phase.name.clone(), status: to });
        }
    }

    fn set_task(&self, st: &mut RunReport, p: usize, t: usize, to: ExecStatus) {
        let phase = &mut st.phases[p];
        let task = &mut phase.tasks[t];
        if set(&mut task.status, to, "task") {
            self.sink.report(&StatusEvent::Task {
                phase: phase.name.clone(),
                project: task.project.clone(),
                status: to,
            });
        }
    }

    fn set_step(&self, st: &mut RunReport, (p, t, s): (usize, usize, usize), to: ExecStatus) {
        let phase = &st.phases[p];
        let task = &phase.tasks[t];
        let (phase_name, project) = (phase.name.clone(), task.project.clone());
        let step = &mut st.phases[p].tasks[t].steps[s];
        if set(&mut step.status, to, "step") {
            self.sink.report(&StatusEvent::Step {
                phase: phase_name,
                project,
                step: step.name.clone(),
                status: to,
                exit_code: step.exit_code,
                log_key: step.log_key.clone(),
                error: step.error.clone(),
            });
        }
    }

    /// Marks the phase and task running (if not yet). Returns false when the run is stopped.
    fn start(&self, p: usize, t: Option<usize>) -> bool {
        let mut st = self.lock();
        if self.token.is_cancelled() {
            return false;
        }
        if st.phases[p].status == ExecStatus::Pending {
            self.set_phase(&mut st, p, ExecStatus::Running);
        }
        if let Some(t) = t
            && st.phases[p].tasks[t].status == ExecStatus::Pending
        {
            self.set_task(&mut st, p, t, ExecStatus::Running);
        }
        true
    }

    async fn run_phase(self: Arc<Self>, p: usize) {
        let plan = &self.phases[p].1;
        let empty = plan.tasks.iter().all(|t| t.steps.is_empty());
        if empty {
            self.start(p, None);
        }
        let tasks = join_all((0..plan.tasks.len()).map(|t| self.clone().run_task(p, t)));
        tokio::pin!(tasks);
        let timed_out = match plan.timeout {
            Some(limit) => {
                tokio::select! {
                    _ = &mut tasks => false,
                    () = tokio::time::sleep(limit) => {
                        tracing::warn!(phase = %plan.name, ?limit, "phase timed out; stopping the run");
                        self.fail();
                        tasks.await;
                        true
                    }
                }
            }
            None => {
                tasks.await;
                false
            }
        };
        let mut st = self.lock();
        if timed_out {
            self.set_phase(&mut st, p, ExecStatus::Failed);
        }
        self.finalize_phase(&mut st, p);
    }

    async fn run_task(self: Arc<Self>, p: usize, t: usize) {
        let task = &self.phases[p].1.tasks[t];
        if task.steps.is_empty() {
            self.start(p, Some(t));
            return;
        }
        // Tiers: priority descending; steps of a tier in plan order.
        let mut tiers: BTreeMap<std::cmp::Reverse<i64>, Vec<usize>> = BTreeMap::new();
        for (i, s) in task.steps.iter().enumerate() {
            tiers.entry(std::cmp::Reverse(s.priority)).or_default().push(i);
        }
        for tier in tiers.values() {
            if self.token.is_cancelled() {
                break;
            }
            join_all(tier.iter().map(|&s| self.clone().run_step(p, t, s))).await;
        }
    }

    fn spec(&self, p: usize, t: usize, step: &StepPlan) -> StepSpec {
        let phase = &self.phases[p].1;
        let task = &phase.tasks[t];
        StepSpec {
            name: step.name.clone(),
            action: step.action,
            target: step.target.clone(),
            run: step.run.clone(),
            shell: step.shell.clone().unwrap_or_else(|| "sh".into()),
            args: step.args.clone(),
            repo_root: self.repo_root.clone(),
            project_path: task.project_path.clone(),
            timeout: step.timeout,
            secrets: step.secrets.clone(),
            log_key: format!(
                "{}/{}/{}/{}.log",
                self.log_prefix.trim_end_matches('/'),
                key_part(&phase.name),
                key_part(&task.project),
                key_part(&step.name)
            ),
        }
    }

    async fn run_step(self: Arc<Self>, p: usize, t: usize, s: usize) {
        let step = &self.phases[p].1.tasks[t].steps[s];
        let spec = self.spec(p, t, step);
        {
            // Start under the lock, so that no step starts after a failure was recorded.
            let mut st = self.lock();
            if self.token.is_cancelled() {
                return;
            }
            if st.phases[p].status == ExecStatus::Pending {
                self.set_phase(&mut st, p, ExecStatus::Running);
            }
            if st.phases[p].tasks[t].status == ExecStatus::Pending {
                self.set_task(&mut st, p, t, ExecStatus::Running);
            }
            st.phases[p].tasks[t].steps[s].log_key = Some(spec.log_key.clone());
            self.set_step(&mut st, (p, t, s), ExecStatus::Running);
        }
        let span = tracing::info_span!("step", phase = %self.phases[p].1.name, project = %self.phases[p].1.tasks[t].project, step = %step.name);
        let cancel = Box::pin(self.token.clone().cancelled_owned());
        let result = tracing::Instrument::instrument(self.executor.run(&spec, cancel), span).await;
        let (status, exit_code, error) = match result {
            Ok(o) if o.success() => (ExecStatus::Success, o.exit_code, None),
            Ok(o) if o.cancelled => (ExecStatus::Cancelled, None, Some("cancelled: the run was stopped".to_owned())),
            Ok(o) if o.timed_out => {
                let limit = step.timeout.unwrap_or_default();
                (ExecStatus::Failed, None, Some(format!("timed out after {limit:?}")))
            }
            Ok(o) => {
                let why = match o.exit_code {
                    Some(c) => format!("exited with code {c}"),
                    None => "killed by a signal".to_owned(),
                };
                (ExecStatus::Failed, o.exit_code, Some(why))
            }
            Err(e) => (ExecStatus::Failed, None, Some(e.to_string())),
        };
        let mut st = self.lock();
        if status == ExecStatus::Failed {
            // Record the failure and stop the run in one critical section.
            self.failed.store(true, Ordering::SeqCst);
            self.token.cancel();
        }
        let r = &mut st.phases[p].tasks[t].steps[s];
        r.exit_code = exit_code;
        r.error = error;
        self.set_step(&mut st, (p, t, s), status);
    }

    fn finalize_phase(&self, st: &mut RunReport, p: usize) {
        for t in 0..st.phases[p].tasks.len() {
            for s in 0..st.phases[p].tasks[t].steps.len() {
                if st.phases[p].tasks[t].steps[s].status == ExecStatus::Pending {
                    self.set_step(st, (p, t, s), ExecStatus::Skipped);
                }
            }
            let task = &st.phases[p].tasks[t];
            let to = if task.status == ExecStatus::Pending {
                ExecStatus::Skipped
            } else {
                aggregate(task.steps.iter().map(|s| s.status))
            };
            if !task.status.is_terminal() {
                self.set_task(st, p, t, to);
            }
        }
        let phase = &st.phases[p];
        if phase.status.is_terminal() {
            return;
        }
        let to = if phase.status == ExecStatus::Pending {
            ExecStatus::Skipped
        } else {
            aggregate(phase.tasks.iter().map(|t| t.status))
        };
        self.set_phase(st, p, to);
    }
}

/// Whether the plan has an `earthly` step (callers can check that `earthly` is installed first).
pub fn needs_earthly(plan: &PipelinePlan) -> bool {
    plan.groups
        .iter()
        .flat_map(|g| &g.phases)
        .flat_map(|p| &p.tasks)
        .flat_map(|t| &t.steps)
        .any(|s| s.action == StepAction::Earthly)
}
