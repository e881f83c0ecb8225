//! Converts forge-config's discovery output (SPEC §2.5) into the scheduler's plan.

use std::collections::BTreeMap;

use forge_config::discovery::Discovery;
use forge_config::schema::{StepAction as ConfigAction, parse_duration};
use forge_core::model::StepAction;

use crate::plan::{GroupPlan, PhasePlan, PipelinePlan, StepPlan, TaskPlan};

/// Builds the pipeline plan of a discovery: its phase groups in ascending order, each phase
/// with one task per project that has steps in it (projects in path order, steps in the order
/// discovery sorted them: priority descending, then name). Phase and step timeouts come from
/// the configuration (Go-style durations).
pub fn plan_from_discovery(discovery: &Discovery) -> PipelinePlan {
    let mut groups = Vec::new();
    for g in &discovery.phase_groups {
        let mut phases = Vec::new();
        for phase in &g.phases {
            let timeout = discovery.repository.phases.get(phase).and_then(|p| p.timeout_duration);
            let tasks: Vec<TaskPlan> = discovery
                .projects
                .iter()
                .filter_map(|p| {
                    let steps = p.phases.get(phase)?;
                    if steps.is_empty() {
                        return None;
                    }
                    Some(TaskPlan {
                        project: p.name.clone(),
                        project_path: p.path.clone(),
                        steps: steps
                            .iter()
                            .map(|s| StepPlan {
                                name: s.name.clone(),
                                action: match s.action {
                                    ConfigAction::Earthly => StepAction::Earthly,
                                    ConfigAction::Script => StepAction::Script,
                                },
                                target: s.target.clone(),
                                run: s.run.clone(),
                                shell: Some(s.shell.clone()),
                                args: s.args.clone(),
                                priority: s.priority,
                                timeout: s.timeout.as_deref().and_then(parse_duration),
                                secrets: BTreeMap::new(),
                            })
                            .collect(),
                    })
                })
                .collect();
            if !tasks.is_empty() {
                phases.push(PhasePlan { name: phase.clone(), timeout, tasks });
            }
        }
        if !phases.is_empty() {
            groups.push(GroupPlan { group: g.group, phases });
        }
    }
    PipelinePlan { groups }
}
