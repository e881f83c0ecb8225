//! The phase scheduler's rules (SPEC §3.2), checked against a reference model with random
//! pipelines and a fake executor in virtual time, plus targeted cases with real processes.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use forge_core::ports::{Executor, StepOutcome, StepSpec};
use forge_core::status::aggregate;
use forge_core::{ExecStatus, RunStatus, StatusMachine};
use forge_exec::executor::CancelFuture;
use forge_exec::plan::{GroupPlan, PhasePlan, PipelinePlan, StepPlan, TaskPlan};
use forge_exec::scheduler::{RecordingSink, Scheduler, StatusEvent};
use proptest::prelude::*;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Runs each step for its configured duration, then succeeds or fails; returns `cancelled` at
/// once when cancelled. Records (step, start, end) in milliseconds since `origin`.
struct FakeExecutor {
    behaviour: HashMap<String, (Duration, bool)>,
    origin: Instant,
    log: Mutex<Vec<(String, u64, u64, bool)>>,
}

#[async_trait]
impl Executor for FakeExecutor {
    async fn run(&self, spec: &StepSpec, cancel: CancelFuture) -> forge_core::Result<StepOutcome> {
        let (d, fails) = self.behaviour.get(&spec.name).copied().unwrap_or((Duration::ZERO, false));
        let start = self.origin.elapsed().as_millis() as u64;
        let outcome = tokio::select! {
            () = tokio::time::sleep(d) => StepOutcome { exit_code: Some(if fails { 1 } else { 0 }), timed_out: false, cancelled: false },
            () = cancel => StepOutcome { exit_code: None, timed_out: false, cancelled: true },
        };
        let end = self.origin.elapsed().as_millis() as u64;
        self.log.lock().unwrap_or_else(|p| p.into_inner()).push((spec.name.clone(), start, end, outcome.cancelled));
        Ok(outcome)
    }
}

/// group number → phases → tasks → steps (priority, fails)
type Shape = Vec<(u32, Vec<Vec<Vec<(i64, bool)>>>)>;

const UNIT_MS: u64 = 100;

fn build(shape: &Shape) -> (PipelinePlan, HashMap<String, (Duration, bool)>) {
    let mut behaviour = HashMap::new();
    let mut i = 0u32;
    let groups = shape
        .iter()
        .enumerate()
        .map(|(gi, (group, phases))| GroupPlan {
            group: *group,
            phases: phases
                .iter()
                .enumerate()
                .map(|(pi, tasks)| PhasePlan {
                    name: format!("g{gi}p{pi}"),
                    timeout: None,
                    tasks: tasks
                        .iter()
                        .enumerate()
                        .map(|(ti, steps)| TaskPlan {
                            project: format!("proj{ti}"),
                            project_path: format!("proj{ti}"),
                            steps: steps
                                .iter()
                                .map(|&(prio, fails)| {
                                    let name = format!("s{i}");
                                    // Distinct powers of two: no two events ever coincide.
                                    behaviour.insert(name.clone(), (Duration::from_millis(UNIT_MS << i), fails));
                                    i += 1;
                                    StepPlan::script(name, "true").with_priority(prio)
                                })
                                .collect(),
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();
    (PipelinePlan { groups }, behaviour)
}

struct Expected {
    run: RunStatus,
    steps: BTreeMap<String, ExecStatus>,
    starts: BTreeMap<String, u64>,
}

/// The reference model: a direct simulation of SPEC §3.2 in integer time.
fn model(plan: &PipelinePlan, behaviour: &HashMap<String, (Duration, bool)>) -> Expected {
    let mut merged: BTreeMap<u32, Vec<&PhasePlan>> = BTreeMap::new();
    for g in &plan.groups {
        merged.entry(g.group).or_default().extend(g.phases.iter());
    }
    let (mut t0, mut stopped) = (0u64, false);
    let mut steps = BTreeMap::new();
    let mut starts = BTreeMap::new();
    for phases in merged.values() {
        let all: Vec<&StepPlan> = phases.iter().flat_map(|p| &p.tasks).flat_map(|t| &t.steps).collect();
        if stopped {
            for s in all {
                steps.insert(s.name.clone(), ExecStatus::Skipped);
            }
            continue;
        }
        let mut sched = Vec::new(); // (name, start, end, fails)
        for task in phases.iter().flat_map(|p| &p.tasks) {
            let mut tiers: BTreeMap<std::cmp::Reverse<i64>, Vec<&StepPlan>> = BTreeMap::new();
            for s in &task.steps {
                tiers.entry(std::cmp::Reverse(s.priority)).or_default().push(s);
            }
            let mut t = t0;
            for tier in tiers.values() {
                let mut end = t;
                for s in tier {
                    let (d, fails) = behaviour[&s.name];
                    let d = d.as_millis() as u64;
                    sched.push((s.name.clone(), t, t + d, fails));
                    end = end.max(t + d);
                }
                t = end;
            }
        }
        match sched.iter().filter(|s| s.3).map(|s| s.2).min() {
            None => {
                for (name, start, end, _) in &sched {
                    steps.insert(name.clone(), ExecStatus::Success);
                    starts.insert(name.clone(), *start);
                    t0 = t0.max(*end);
                }
            }
            Some(fail_at) => {
                stopped = true;
                for (name, start, end, _) in &sched {
                    let status = if *end < fail_at {
                        ExecStatus::Success
                    } else if *end == fail_at {
                        ExecStatus::Failed
                    } else if *start < fail_at {
                        ExecStatus::Cancelled
                    } else {
                        ExecStatus::Skipped
                    };
                    if status != ExecStatus::Skipped {
                        starts.insert(name.clone(), *start);
                    }
                    steps.insert(name.clone(), status);
                }
            }
        }
    }
    Expected { run: if stopped { RunStatus::Failed } else { RunStatus::Success }, steps, starts }
}

fn shape_strategy() -> impl Strategy<Value = Shape> {
    let step = (0i64..3, prop::bool::weighted(0.12));
    let task = prop::collection::vec(step, 0..=2);
    let phase = prop::collection::vec(task, 1..=2);
    let group = (0u32..4, prop::collection::vec(phase, 1..=2));
    prop::collection::vec(group, 1..=3)
}

/// Every entity's event sequence is a legal chain from `pending`.
fn check_transitions(events: &[StatusEvent]) {
    let mut state: HashMap<String, ExecStatus> = HashMap::new();
    for e in events {
        let (key, to) = match e {
            StatusEvent::Run { .. } => continue,
            StatusEvent::Phase { phase, status } => (format!("phase/{phase}"), *status),
            StatusEvent::Task { phase, project, status } => (format!("task/{phase}/{project}"), *status),
            StatusEvent::Step { phase, project, step, status, .. } => {
                (format!("step/{phase}/{project}/{step}"), *status)
            }
        };
        let from = state.get(&key).copied().unwrap_or(ExecStatus::Pending);
        assert!(from != to && from.transition(to).is_ok(), "illegal {key}: {from} → {to}");
        state.insert(key, to);
    }
}

fn run_case(shape: &Shape) -> Result<(), TestCaseError> {
    let (plan, behaviour) = build(shape);
    let expected = model(&plan, &behaviour);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let (report, events, log) = rt.block_on(async {
        let exec =
            Arc::new(FakeExecutor { behaviour: behaviour.clone(), origin: Instant::now(), log: Mutex::new(vec![]) });
        let sink = Arc::new(RecordingSink::default());
        let s = Scheduler::new(exec.clone(), sink.clone()).with_hard_limit(Duration::from_secs(60 * 86_400));
        let report = s.run(&plan, CancellationToken::new()).await;
        let log = exec.log.lock().unwrap_or_else(|p| p.into_inner()).clone();
        (report, sink.events(), log)
    });
    prop_assert_eq!(report.status, expected.run);
    let got: BTreeMap<String, ExecStatus> = report
        .phases
        .iter()
        .flat_map(|p| &p.tasks)
        .flat_map(|t| &t.steps)
        .map(|s| (s.name.clone(), s.status))
        .collect();
    prop_assert_eq!(&got, &expected.steps);
    // Exactly the started steps reached the executor, each once, at the model's start time
    // (groups in order, tiers in order, nothing started after the failure).
    let started: BTreeMap<String, u64> = log.iter().map(|(n, s, _, _)| (n.clone(), *s)).collect();
    prop_assert_eq!(started.len(), log.len(), "each step runs once");
    prop_assert_eq!(started.keys().collect::<Vec<_>>(), expected.starts.keys().collect::<Vec<_>>());
    for (name, at) in &started {
        let want = expected.starts[name];
        prop_assert!(at.abs_diff(want) <= 5, "{} started at {} ms, model says {} ms", name, at, want);
    }
    // Tasks and phases agree with forge-core's aggregation; never-started ones are skipped.
    for p in &report.phases {
        for t in &p.tasks {
            let any_started = t.steps.iter().any(|s| s.status != ExecStatus::Skipped);
            let want = if any_started || t.steps.is_empty() && report.status == RunStatus::Success {
                aggregate(t.steps.iter().map(|s| s.status))
            } else if t.steps.is_empty() {
                t.status // an empty task in a stopped run may or may not have started
            } else {
                ExecStatus::Skipped
            };
            prop_assert_eq!(t.status, want, "task {}/{}", p.name, t.project);
        }
        prop_assert!(p.status.is_terminal());
    }
    // No step starts after the first failure is reported.
    if let Some(first_fail) =
        events.iter().position(|e| matches!(e, StatusEvent::Step { status: ExecStatus::Failed, .. }))
    {
        let late =
            events[first_fail..].iter().any(|e| matches!(e, StatusEvent::Step { status: ExecStatus::Running, .. }));
        prop_assert!(!late, "a step started after the first failure");
    }
    check_transitions(&events);
    prop_assert_eq!(events.first(), Some(&StatusEvent::Run { status: RunStatus::Running }));
    prop_assert_eq!(events.last(), Some(&StatusEvent::Run { status: expected.run }));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn scheduler_matches_the_reference_model(shape in shape_strategy()) {
        run_case(&shape)?;
    }
}

#[test]
fn tiers_and_groups_on_a_fixed_pipeline() -> Result<(), TestCaseError> {
    // Group 2 listed first: groups run by number, not by position.
    let shape: Shape = vec![
        (2, vec![vec![vec![(0, false)]]]),
        (1, vec![vec![vec![(5, false), (5, false), (1, false)]], vec![vec![(0, false)]]]),
    ];
    run_case(&shape)
}

#[test]
fn a_failure_stops_later_groups_and_cancels_running_steps() -> Result<(), TestCaseError> {
    let shape: Shape =
        vec![(1, vec![vec![vec![(0, true)], vec![(0, false), (0, false)]]]), (2, vec![vec![vec![(0, false)]]])];
    run_case(&shape)
}

fn one_phase(timeout: Option<Duration>, steps: Vec<StepPlan>) -> PipelinePlan {
    let task = TaskPlan { project: "web".into(), project_path: ".".into(), steps };
    PipelinePlan {
        groups: vec![GroupPlan {
            group: 1,
            phases: vec![PhasePlan { name: "build".into(), timeout, tasks: vec![task] }],
        }],
    }
}

#[tokio::test(start_paused = true)]
async fn a_phase_over_its_timeout_fails_the_run() {
    let behaviour = HashMap::from([("slow".to_owned(), (Duration::from_secs(60), false))]);
    let exec = Arc::new(FakeExecutor { behaviour, origin: Instant::now(), log: Mutex::new(vec![]) });
    let plan = one_phase(
        Some(Duration::from_secs(5)),
        vec![StepPlan::script("slow", "true"), StepPlan::script("after", "true").with_priority(-1)],
    );
    let report = Scheduler::new(exec, Arc::new(RecordingSink::default())).run(&plan, CancellationToken::new()).await;
    assert_eq!(report.status, RunStatus::Failed);
    assert_eq!(report.phases[0].status, ExecStatus::Failed);
    assert_eq!(report.step("build", "web", "slow").map(|s| s.status), Some(ExecStatus::Cancelled));
    assert_eq!(report.step("build", "web", "after").map(|s| s.status), Some(ExecStatus::Skipped));
}

#[tokio::test(start_paused = true)]
async fn an_operator_cancel_cancels_the_run() {
    let behaviour = HashMap::from([("slow".to_owned(), (Duration::from_secs(60), false))]);
    let exec = Arc::new(FakeExecutor { behaviour, origin: Instant::now(), log: Mutex::new(vec![]) });
    let plan =
        one_phase(None, vec![StepPlan::script("slow", "true"), StepPlan::script("after", "true").with_priority(-1)]);
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        c.cancel();
    });
    let report = Scheduler::new(exec, Arc::new(RecordingSink::default())).run(&plan, cancel).await;
    assert_eq!(report.status, RunStatus::Cancelled);
    assert_eq!(report.step("build", "web", "slow").map(|s| s.status), Some(ExecStatus::Cancelled));
    assert_eq!(report.step("build", "web", "after").map(|s| s.status), Some(ExecStatus::Skipped));
}

#[tokio::test]
async fn real_processes_fail_fast_and_step_timeouts() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let blobs = Arc::new(forge_exec::blob::LocalBlobStore::new(dir.path().join("blobs"))?);
    let exec = Arc::new(forge_exec::executor::ActionExecutor::new(blobs.clone()));
    let mut slow = StepPlan::script("slow", "sleep 30");
    slow.timeout = Some(Duration::from_millis(300));
    let plan = one_phase(None, vec![slow, StepPlan::script("long", "sleep 30")]);
    let started = std::time::Instant::now();
    let report = Scheduler::new(exec, Arc::new(RecordingSink::default()))
        .with_repo_root(dir.path())
        .with_log_prefix("logs/run")
        .run(&plan, CancellationToken::new())
        .await;
    assert!(started.elapsed() < Duration::from_secs(10), "fail-fast stopped `long`");
    let slow = report.step("build", "web", "slow").ok_or("slow")?;
    assert_eq!(slow.status, ExecStatus::Failed);
    assert!(slow.error.as_deref().unwrap_or_default().contains("timed out"));
    assert_eq!(slow.log_key.as_deref(), Some("logs/run/build/web/slow.log"));
    assert_eq!(report.step("build", "web", "long").map(|s| s.status), Some(ExecStatus::Cancelled));
    insta::assert_json_snapshot!(report);
    Ok(())
}
