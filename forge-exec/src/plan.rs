//! The input of the phase scheduler: groups of phases of per-project tasks of steps.
//! forge-config's discovery output is converted into this shape.

use std::collections::BTreeMap;
use std::time::Duration;

use forge_core::model::StepAction;
use forge_core::ports::SecretValue;
use serde::{Deserialize, Serialize};

/// A whole pipeline: phase groups, run in ascending `group` order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PipelinePlan {
    /// Groups (any order; the scheduler sorts by number and merges equal numbers).
    pub groups: Vec<GroupPlan>,
}

/// The phases of one group, which run together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupPlan {
    /// Group number: lower runs first.
    pub group: u32,
    /// Phases.
    pub phases: Vec<PhasePlan>,
}

/// One phase: one task per project with steps in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhasePlan {
    /// Phase name.
    pub name: String,
    /// Phase timeout; over it, the phase fails (and fail-fast stops the run).
    #[serde(default, with = "opt_secs", skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Tasks.
    pub tasks: Vec<TaskPlan>,
}

/// The steps of one project in one phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskPlan {
    /// Project name.
    pub project: String,
    /// Project directory relative to the repository root.
    pub project_path: String,
    /// Steps (any order; the scheduler runs them in priority tiers, highest first).
    pub steps: Vec<StepPlan>,
}

/// One step. Equality compares secret names, not values.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepPlan {
    /// Step name, unique within the task.
    pub name: String,
    /// Action.
    pub action: StepAction,
    /// Earthly target (`+build`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Script text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// Shell for scripts (default `sh`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<String>,
    /// Extra arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Priority: higher runs first; equal priorities run together.
    #[serde(default)]
    pub priority: i64,
    /// Step timeout; over it, the step fails.
    #[serde(default, with = "opt_secs", skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Resolved secrets (environment name → value); never serialized.
    #[serde(skip)]
    pub secrets: BTreeMap<String, SecretValue>,
}

impl PartialEq for StepPlan {
    fn eq(&self, o: &Self) -> bool {
        self.name == o.name
            && self.action == o.action
            && self.target == o.target
            && self.run == o.run
            && self.shell == o.shell
            && self.args == o.args
            && self.priority == o.priority
            && self.timeout == o.timeout
            && self.secrets.keys().eq(o.secrets.keys())
    }
}

impl StepPlan {
    /// A `script` step.
    pub fn script(name: impl Into<String>, run: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            action: StepAction::Script,
            target: None,
            run: Some(run.into()),
            shell: None,
            args: Vec::new(),
            priority: 0,
            timeout: None,
            secrets: BTreeMap::new(),
        }
    }

    /// The same step with a priority.
    pub fn with_priority(mut self, priority: i64) -> Self {
        self.priority = priority;
        self
    }
}

impl PipelinePlan {
    /// Number of steps in the plan.
    pub fn step_count(&self) -> usize {
        self.groups.iter().flat_map(|g| &g.phases).flat_map(|p| &p.tasks).map(|t| t.steps.len()).sum()
    }

    /// The plan restricted to one phase of one project (and, when `steps` is not empty, to
    /// those steps): what a `task` job runs.
    pub fn select_task(&self, phase: &str, project: &str, steps: &[String]) -> Option<PipelinePlan> {
        for g in &self.groups {
            for p in g.phases.iter().filter(|p| p.name == phase) {
                if let Some(t) = p.tasks.iter().find(|t| t.project == project) {
                    let mut task = t.clone();
                    if !steps.is_empty() {
                        task.steps.retain(|s| steps.contains(&s.name));
                    }
                    let phase = PhasePlan { name: p.name.clone(), timeout: p.timeout, tasks: vec![task] };
                    return Some(PipelinePlan { groups: vec![GroupPlan { group: g.group, phases: vec![phase] }] });
                }
            }
        }
        None
    }
}

/// `Option<Duration>` as (fractional) seconds.
mod opt_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) if d.subsec_nanos() == 0 => s.serialize_u64(d.as_secs()),
            Some(d) => s.serialize_f64(d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let v = Option::<f64>::deserialize(d)?;
        v.map(|s| Duration::try_from_secs_f64(s).map_err(serde::de::Error::custom)).transpose()
    }
}
