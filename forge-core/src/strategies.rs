//! `proptest` strategies for every identifier and entity (feature `proptest`).
//!
//! Every strategy produces only valid values, so consumers can property-test code that takes
//! Forge's types (round-trips, storage, wire formats) without re-deriving the rules of SPEC §1.
//!
//! ```
//! use proptest::prelude::*;
//! use forge_core::strategies;
//!
//! proptest!(|(id in strategies::canonical_id())| {
//!     let printed = id.to_string();
//!     prop_assert_eq!(printed.parse::<forge_core::CanonicalId>().unwrap(), id);
//! });
//! ```

use chrono::{DateTime, TimeZone, Utc};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use uuid::Uuid;

use crate::id::*;
use crate::model::*;
use crate::status::*;

fn parse<T: std::str::FromStr>(s: String) -> T
where
    T::Err: std::fmt::Debug,
{
    // The regexes below only generate valid inputs; a failure here is a bug in this module.
    match s.parse() {
        Ok(v) => v,
        Err(e) => panic!("strategy generated an invalid value {s:?}: {e:?}"),
    }
}

/// Repository parts: `[A-Za-z0-9._-]{1,100}`, never `.` or `..`.
fn repo_part() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_-][A-Za-z0-9._-]{0,20}".prop_filter("not . or ..", |s| s != "." && s != "..")
}

/// A DNS label.
pub fn dns_label() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?"
}

/// Any valid [`Repository`].
pub fn repository() -> impl Strategy<Value = Repository> {
    (repo_part(), repo_part()).prop_map(|(o, n)| parse(format!("{o}/{n}")))
}
/// Any valid [`ProjectName`].
pub fn project_name() -> impl Strategy<Value = ProjectName> {
    dns_label().prop_map(parse)
}
/// Any valid [`Environment`].
pub fn environment() -> impl Strategy<Value = Environment> {
    dns_label().prop_map(parse)
}
/// Any valid [`ArtifactName`].
pub fn artifact_name() -> impl Strategy<Value = ArtifactName> {
    dns_label().prop_map(parse)
}
/// Any valid [`CommitSha`] (generated in mixed case; stored lowercase).
pub fn commit_sha() -> impl Strategy<Value = CommitSha> {
    "[0-9a-fA-F]{40}".prop_map(parse)
}
/// Any valid [`CanonicalId`].
pub fn canonical_id() -> impl Strategy<Value = CanonicalId> {
    (repository(), project_name(), commit_sha()).prop_map(|(r, p, c)| CanonicalId::new(r, p, c))
}
/// Any valid [`Registry`] (`host[:port][/prefix]`).
pub fn registry() -> impl Strategy<Value = Registry> {
    ("[a-z][a-z0-9-]{0,10}(\\.[a-z]{2,5})?", option::of(1u16..65535), option::of("[a-z0-9]{1,8}")).prop_map(
        |(h, p, pre)| {
            let mut s = h;
            if let Some(p) = p {
                s.push_str(&format!(":{p}"));
            }
            if let Some(pre) = pre {
                s.push('/');
                s.push_str(&pre);
            }
            parse(s)
        },
    )
}
/// Any valid [`ReleaseRef`] (repository lowercased, as OCI requires).
pub fn release_ref() -> impl Strategy<Value = ReleaseRef> {
    (registry(), canonical_id()).prop_map(|(r, id)| parse::<ReleaseRef>(ReleaseRef::new(r, id).to_string()))
}
/// Any valid [`TrackingRef`].
pub fn tracking_ref() -> impl Strategy<Value = TrackingRef> {
    (registry(), canonical_id(), artifact_name())
        .prop_map(|(r, id, a)| parse::<TrackingRef>(TrackingRef::new(r, id, a).to_string()))
}
/// Any valid [`PointerPath`].
pub fn pointer_path() -> impl Strategy<Value = PointerPath> {
    (environment(), repository(), project_name()).prop_map(|(e, r, p)| PointerPath::new(e, r, p))
}

/// A UTC timestamp with second precision between 2000 and 2100.
pub fn timestamp() -> impl Strategy<Value = DateTime<Utc>> {
    (946_684_800i64..4_102_444_800).prop_map(|s| Utc.timestamp_opt(s, 0).single().unwrap_or_default())
}
/// A random UUID.
pub fn uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}
/// Any [`RunStatus`].
pub fn run_status() -> impl Strategy<Value = RunStatus> {
    proptest::sample::select(RunStatus::ALL)
}
/// Any [`ExecStatus`].
pub fn exec_status() -> impl Strategy<Value = ExecStatus> {
    proptest::sample::select(ExecStatus::ALL)
}
/// Any [`JobStatus`].
pub fn job_status() -> impl Strategy<Value = JobStatus> {
    proptest::sample::select(JobStatus::ALL)
}
/// Any [`DeploymentStatus`].
pub fn deployment_status() -> impl Strategy<Value = DeploymentStatus> {
    proptest::sample::select(DeploymentStatus::ALL)
}
/// Any [`TriggerType`].
pub fn trigger_type() -> impl Strategy<Value = TriggerType> {
    prop_oneof![Just(TriggerType::BranchPush), Just(TriggerType::Tag), Just(TriggerType::Manual)]
}
/// Any [`ReleaseTrigger`].
pub fn release_trigger() -> impl Strategy<Value = ReleaseTrigger> {
    (trigger_type(), option::of("[a-z]{1,8}(/[a-z0-9]{1,8})?"), option::of("v[0-9]\\.[0-9]\\.[0-9]"), "[a-z]{1,10}")
        .prop_map(|(kind, branch, tag, actor)| ReleaseTrigger { kind, branch, tag, actor })
}
/// Any [`ReleaseAlias`].
pub fn release_alias() -> impl Strategy<Value = ReleaseAlias> {
    (
        prop_oneof![Just(AliasKind::Numeric), Just(AliasKind::Tag), Just(AliasKind::Branch), Just(AliasKind::Custom)],
        "[a-z0-9.-]{1,12}",
    )
        .prop_map(|(kind, alias)| ReleaseAlias { kind, alias })
}
/// Any [`ArtifactType`].
pub fn artifact_type() -> impl Strategy<Value = ArtifactType> {
    prop_oneof![Just(ArtifactType::Container), Just(ArtifactType::Binary), Just(ArtifactType::Archive)]
}
/// A `sha256:<hex>` digest.
pub fn digest() -> impl Strategy<Value = String> {
    "[0-9a-f]{64}".prop_map(|h| format!("sha256:{h}"))
}
/// Any [`ReleaseArtifact`].
pub fn release_artifact() -> impl Strategy<Value = ReleaseArtifact> {
    (artifact_name(), artifact_type(), digest(), tracking_ref(), option::of("[a-z]{1,10}://[a-z]{1,10}")).prop_map(
        |(name, kind, digest, t, primary_uri)| ReleaseArtifact {
            name,
            kind,
            digest,
            tracking_ref: t.to_string(),
            primary_uri,
            publishers: Vec::new(),
        },
    )
}
/// Any [`Release`].
pub fn release() -> impl Strategy<Value = Release> {
    (
        uuid(),
        canonical_id(),
        1u64..100_000,
        release_trigger(),
        release_ref(),
        digest(),
        vec(release_alias(), 0..3),
        vec(release_artifact(), 0..3),
        timestamp(),
    )
        .prop_map(|(id, cid, n, trigger, r, d, aliases, artifacts, t)| Release {
            id,
            repository: cid.repository,
            project: cid.project,
            commit_sha: cid.commit,
            release_number: n,
            status: ReleaseStatus::Complete,
            trigger,
            oci_ref: r.to_string(),
            oci_digest: d,
            aliases,
            artifacts,
            run_id: None,
            created_at: t,
        })
}
/// Any [`StepExecution`].
pub fn step_execution() -> impl Strategy<Value = StepExecution> {
    (uuid(), dns_label(), any::<bool>(), -5i64..5, exec_status(), option::of(0i32..255), option::of(timestamp()))
        .prop_map(|(id, name, earthly, priority, status, exit_code, started_at)| StepExecution {
            id,
            name,
            action: if earthly { StepAction::Earthly } else { StepAction::Script },
            priority,
            status,
            exit_code,
            log_key: None,
            error: None,
            started_at,
            finished_at: None,
        })
}
/// Any [`TaskExecution`].
pub fn task_execution() -> impl Strategy<Value = TaskExecution> {
    (uuid(), project_name(), exec_status(), vec(step_execution(), 0..3)).prop_map(|(id, project, status, steps)| {
        TaskExecution {
            id,
            project_path: format!("services/{project}"),
            project,
            status,
            started_at: None,
            finished_at: None,
            steps,
        }
    })
}
/// Any [`PhaseExecution`].
pub fn phase_execution() -> impl Strategy<Value = PhaseExecution> {
    (uuid(), dns_label(), 1u32..5, exec_status(), vec(task_execution(), 0..3)).prop_map(
        |(id, name, group, status, tasks)| PhaseExecution {
            id,
            name,
            group,
            status,
            started_at: None,
            finished_at: None,
            tasks,
        },
    )
}
/// Any [`PipelineRun`].
pub fn pipeline_run() -> impl Strategy<Value = PipelineRun> {
    (
        uuid(),
        repository(),
        commit_sha(),
        option::of("[a-z]{1,8}"),
        1u32..5,
        run_status(),
        timestamp(),
        vec(phase_execution(), 0..3),
    )
        .prop_map(|(id, repository, commit_sha, branch, attempt, status, created_at, phases)| PipelineRun {
            id,
            repository,
            commit_sha,
            branch,
            tag: None,
            attempt,
            status,
            actor: "ci".into(),
            created_at,
            started_at: None,
            finished_at: None,
            phases,
        })
}
/// Any [`Deployment`].
pub fn deployment() -> impl Strategy<Value = Deployment> {
    (uuid(), uuid(), repository(), project_name(), environment(), 1u64..1000, deployment_status(), timestamp())
        .prop_map(|(id, release_id, repository, project, environment, n, status, created_at)| Deployment {
            id,
            release_id,
            repository,
            project,
            environment,
            release_number: n,
            status,
            deployed_by: "alice".into(),
            approved_by: None,
            gitops_commit: None,
            rollback: false,
            created_at,
        })
}
/// Any [`Approval`].
pub fn approval() -> impl Strategy<Value = Approval> {
    (uuid(), uuid(), environment(), "[a-z]{1,8}", timestamp()).prop_map(|(id, release_id, environment, approver, t)| {
        Approval {
            id,
            release_id,
            environment,
            approver,
            comment: None,
            created_at: t,
            expires_at: Approval::default_expiry(t),
        }
    })
}
/// Any [`JobType`].
pub fn job_type() -> impl Strategy<Value = JobType> {
    prop_oneof![Just(JobType::Discovery), Just(JobType::Task), Just(JobType::Artifact)]
}
/// Any [`Job`].
pub fn job() -> impl Strategy<Value = Job> {
    (
        (uuid(), uuid(), job_type(), repository(), commit_sha(), option::of(project_name()), vec(dns_label(), 0..3)),
        (option::of(dns_label()), option::of("v[0-9]\\.[0-9]\\.[0-9]")),
    )
        .prop_map(|((job_id, run_id, kind, repository, commit_sha, project, steps), (branch, tag))| Job {
            job_id,
            run_id,
            kind,
            payload: JobPayload {
                repository,
                commit_sha,
                phase: project.as_ref().map(|_| "build".to_owned()),
                project,
                steps,
                branch,
                tag,
            },
            result_path: format!("file:///var/forge/results/{job_id}.json"),
        })
}
