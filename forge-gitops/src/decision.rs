//! Deployment decisions: the environment policy of SPEC §6.4 plus freeze windows, as one pure
//! function shared by the API, the CLI and tests.
//!
//! Environment policies come from a YAML file of the platform configuration:
//!
//! ```yaml
//! environments:
//!   production:
//!     allowed_triggers: [tag]
//!     allowed_branches: []
//!     auto_deploy: false
//!     requires_approval: true
//!     freeze:
//!       recurring:
//!         - {days: [sat, sun], reason: weekend}            # all day, UTC
//!         - {days: [fri], from: "16:00", to: "24:00", reason: friday afternoon}
//!       windows:
//!         - {start: "2026-12-20T00:00:00Z", end: "2027-01-04T00:00:00Z", reason: holidays}
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use chrono::{DateTime, Datelike, NaiveTime, Timelike, Utc, Weekday};
use forge_core::Environment;
use forge_core::model::{Approval, ReleaseTrigger, TriggerType};
use forge_core::policy::{EnvironmentPolicy, PolicyRefusal, evaluate_policy};
use serde::Serialize;
use serde_yaml::Value;

use crate::error::{GitopsError, Result};
use crate::pointer::{Walker, join};

/// A recurring weekly freeze in UTC: on `days`, from `from` (inclusive) to `to` (exclusive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecurringFreeze {
    /// Days of the week.
    pub days: Vec<Weekday>,
    /// Start of the frozen part of each day, in minutes after midnight UTC.
    pub from_minute: u32,
    /// End (exclusive), in minutes after midnight UTC; 1440 = end of day.
    pub to_minute: u32,
    /// Why (shown in refusals).
    pub reason: String,
}

/// A one-off freeze interval `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FreezeWindow {
    /// Start (inclusive).
    pub start: DateTime<Utc>,
    /// End (exclusive).
    pub end: DateTime<Utc>,
    /// Why (shown in refusals).
    pub reason: String,
}

/// The freezes of one environment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FreezeConfig {
    /// Weekly freezes.
    pub recurring: Vec<RecurringFreeze>,
    /// One-off intervals.
    pub windows: Vec<FreezeWindow>,
}

/// The freeze in force at some instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActiveFreeze {
    /// The freeze's reason.
    pub reason: String,
    /// Which rule: `recurring: sat, sun 00:00-24:00 UTC` or `window: <start> .. <end>`.
    pub rule: String,
}

impl fmt::Display for ActiveFreeze {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.reason, self.rule)
    }
}

fn hhmm(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

fn day_name(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

impl FreezeConfig {
    /// The freeze in force at `now`, if any (one-off windows first, then recurring ones).
    pub fn active_at(&self, now: DateTime<Utc>) -> Option<ActiveFreeze> {
        if let Some(w) = self.windows.iter().find(|w| w.start <= now && now < w.end) {
            return Some(ActiveFreeze {
                reason: w.reason.clone(),
                rule: format!(
                    "window: {} .. {}",
                    crate::pointer::timestamp(&w.start),
                    crate::pointer::timestamp(&w.end)
                ),
            });
        }
        let minute = now.hour() * 60 + now.minute();
        let day = now.weekday();
        self.recurring.iter().find(|r| r.days.contains(&day) && r.from_minute <= minute && minute < r.to_minute).map(
            |r| ActiveFreeze {
                reason: r.reason.clone(),
                rule: format!(
                    "recurring: {} {}-{} UTC",
                    r.days.iter().map(|d| day_name(*d)).collect::<Vec<_>>().join(", "),
                    hhmm(r.from_minute),
                    hhmm(r.to_minute)
                ),
            },
        )
    }
}

/// The policy and freezes of one environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvironmentSettings {
    /// SPEC §6.4 policy.
    pub policy: EnvironmentPolicy,
    /// Freeze windows.
    pub freeze: FreezeConfig,
}

/// The platform configuration of environments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlatformConfig {
    /// Settings per environment.
    pub environments: BTreeMap<Environment, EnvironmentSettings>,
}

impl PlatformConfig {
    /// Reads and parses a platform configuration file.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| GitopsError::io(path, &e))?;
        Self::parse(&path.display().to_string(), &bytes)
    }

    /// Parses a platform configuration strictly (unknown fields rejected with their path).
    /// Only the `environments` key is read; other top-level keys belong to other components
    /// and are ignored.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<Self> {
        let root: Value = serde_yaml::from_slice(bytes)
            .map_err(|e| GitopsError::Yaml { file: file.to_owned(), message: e.to_string() })?;
        let w = Walker { file };
        let mut out = Self::default();
        if root.is_null() {
            return Ok(out);
        }
        let top = w.mapping(&root, "")?;
        let Some(envs) = top.get("environments") else { return Ok(out) };
        if envs.is_null() {
            return Ok(out);
        }
        for (k, v) in w.mapping(envs, "environments")? {
            let name = k.as_str().unwrap_or_default();
            let path = join("environments", name);
            let env: Environment =
                name.parse().map_err(|e: forge_core::IdError| GitopsError::invalid(file, &path, e.to_string()))?;
            out.environments.insert(env, parse_settings(&w, v, &path)?);
        }
        Ok(out)
    }

    /// The settings of an environment; an environment that is not configured gets the
    /// default policy (every trigger, any branch, no approval) and no freezes.
    pub fn settings(&self, environment: &Environment) -> EnvironmentSettings {
        self.environments.get(environment).cloned().unwrap_or_default()
    }
}

fn parse_settings(w: &Walker<'_>, v: &Value, path: &str) -> Result<EnvironmentSettings> {
    let mut s = EnvironmentSettings::default();
    if v.is_null() {
        return Ok(s);
    }
    let mut f =
        w.fields(v, path, &["allowed_triggers", "allowed_branches", "auto_deploy", "requires_approval", "freeze"])?;
    if let Some(v) = f.opt("allowed_triggers") {
        let p = join(path, "allowed_triggers");
        s.policy.allowed_triggers = list(w, v, &p)?
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let p = format!("{p}[{i}]");
                match w.string(t, &p)? {
                    "branch_push" => Ok(TriggerType::BranchPush),
                    "tag" => Ok(TriggerType::Tag),
                    "manual" => Ok(TriggerType::Manual),
                    other => Err(GitopsError::invalid(
                        w.file,
                        &p,
                        format!("unknown trigger `{other}` (expected branch_push, tag or manual)"),
                    )),
                }
            })
            .collect::<Result<_>>()?;
    }
    if let Some(v) = f.opt("allowed_branches") {
        let p = join(path, "allowed_branches");
        let mut globs = Vec::new();
        for (i, g) in list(w, v, &p)?.iter().enumerate() {
            let p = format!("{p}[{i}]");
            let g = w.text(g, &p)?;
            globset::Glob::new(&g)
                .map_err(|e| GitopsError::invalid(w.file, &p, format!("invalid glob: {}", e.kind())))?;
            globs.push(g);
        }
        s.policy.allowed_branches = globs;
    }
    if let Some(v) = f.opt("auto_deploy") {
        s.policy.auto_deploy = boolean(w, v, &join(path, "auto_deploy"))?;
    }
    if let Some(v) = f.opt("requires_approval") {
        s.policy.requires_approval = boolean(w, v, &join(path, "requires_approval"))?;
    }
    if let Some(v) = f.opt("freeze") {
        s.freeze = parse_freeze(w, v, &join(path, "freeze"))?;
    }
    Ok(s)
}

fn list<'v>(w: &Walker<'_>, v: &'v Value, path: &str) -> Result<&'v Vec<Value>> {
    v.as_sequence().ok_or_else(|| GitopsError::invalid(w.file, path, "expected a list"))
}

fn boolean(w: &Walker<'_>, v: &Value, path: &str) -> Result<bool> {
    v.as_bool().ok_or_else(|| GitopsError::invalid(w.file, path, "expected true or false"))
}

fn parse_freeze(w: &Walker<'_>, v: &Value, path: &str) -> Result<FreezeConfig> {
    let mut out = FreezeConfig::default();
    let mut f = w.fields(v, path, &["recurring", "windows"])?;
    if let Some(v) = f.opt("recurring") {
        let p = join(path, "recurring");
        for (i, r) in list(w, v, &p)?.iter().enumerate() {
            let p = format!("{p}[{i}]");
            let mut rf = w.fields(r, &p, &["days", "from", "to", "reason"])?;
            let days_v = rf.req("days")?;
            let mut days = Vec::new();
            for (j, d) in list(w, days_v, &join(&p, "days"))?.iter().enumerate() {
                let dp = format!("{}[{j}]", join(&p, "days"));
                let day = w.string(d, &dp)?;
                days.push(parse_day(day).ok_or_else(|| {
                    GitopsError::invalid(w.file, &dp, format!("unknown day `{day}` (expected mon, tue, …, sun)"))
                })?);
            }
            if days.is_empty() {
                return Err(GitopsError::invalid(w.file, &join(&p, "days"), "list at least one day"));
            }
            let from = rf.opt("from").map(|v| minute_of(w, v, &join(&p, "from"))).transpose()?.unwrap_or(0);
            let to = rf.opt("to").map(|v| minute_of(w, v, &join(&p, "to"))).transpose()?.unwrap_or(1440);
            if from >= to {
                return Err(GitopsError::invalid(
                    w.file,
                    &p,
                    format!(
                        "`from` ({}) must be before `to` ({}); split overnight freezes in two",
                        hhmm(from),
                        hhmm(to)
                    ),
                ));
            }
            let reason = w.text(rf.req("reason")?, &join(&p, "reason"))?;
            out.recurring.push(RecurringFreeze { days, from_minute: from, to_minute: to, reason });
        }
    }
    if let Some(v) = f.opt("windows") {
        let p = join(path, "windows");
        for (i, r) in list(w, v, &p)?.iter().enumerate() {
            let p = format!("{p}[{i}]");
            let mut rf = w.fields(r, &p, &["start", "end", "reason"])?;
            let start = time(w, rf.req("start")?, &join(&p, "start"))?;
            let end = time(w, rf.req("end")?, &join(&p, "end"))?;
            if start >= end {
                return Err(GitopsError::invalid(w.file, &p, "`start` must be before `end`"));
            }
            let reason = w.text(rf.req("reason")?, &join(&p, "reason"))?;
            out.windows.push(FreezeWindow { start, end, reason });
        }
    }
    Ok(out)
}

fn parse_day(s: &str) -> Option<Weekday> {
    Some(match s.to_ascii_lowercase().as_str() {
        "mon" | "monday" => Weekday::Mon,
        "tue" | "tuesday" => Weekday::Tue,
        "wed" | "wednesday" => Weekday::Wed,
        "thu" | "thursday" => Weekday::Thu,
        "fri" | "friday" => Weekday::Fri,
        "sat" | "saturday" => Weekday::Sat,
        "sun" | "sunday" => Weekday::Sun,
        _ => return None,
    })
}

fn minute_of(w: &Walker<'_>, v: &Value, path: &str) -> Result<u32> {
    let s = w.string(v, path)?;
    if s == "24:00" {
        return Ok(1440);
    }
    NaiveTime::parse_from_str(s, "%H:%M")
        .map(|t| t.hour() * 60 + t.minute())
        .map_err(|_| GitopsError::invalid(w.file, path, format!("`{s}` is not a time `HH:MM` (00:00 to 24:00, UTC)")))
}

fn time(w: &Walker<'_>, v: &Value, path: &str) -> Result<DateTime<Utc>> {
    let s = w.string(v, path)?;
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| GitopsError::invalid(w.file, path, format!("`{s}` is not an RFC 3339 timestamp ({e})")))
}

/// The release being decided on.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// Its trigger (type and branch).
    pub trigger: &'a ReleaseTrigger,
    /// Its label for messages (number or id).
    pub release: &'a str,
    /// The target environment.
    pub environment: &'a Environment,
}

/// An operator's override of a freeze.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FreezeOverride {
    /// Who overrides.
    pub operator: String,
    /// Why (recorded with the deployment).
    pub justification: String,
}

/// Shortest accepted justification.
pub const MIN_JUSTIFICATION: usize = 10;

/// An allowed deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// The approval that satisfied `requires_approval`.
    pub approved_by: Option<String>,
    /// When that approval was given.
    pub approved_at: Option<DateTime<Utc>>,
    /// The freeze that was overridden, with the override to record.
    pub overridden_freeze: Option<(ActiveFreeze, FreezeOverride)>,
}

/// A refused deployment: the rule and the actual values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Refusal {
    /// A SPEC §6.4 policy rule refused.
    #[error(transparent)]
    Policy(PolicyRefusal),
    /// The environment is frozen.
    #[error(
        "environment `{environment}` is frozen at {at}: {freeze}; an operator may override with a recorded justification"
    )]
    Frozen {
        /// Environment.
        environment: String,
        /// The freeze in force.
        freeze: ActiveFreeze,
        /// The decision time.
        at: String,
    },
    /// An override was given without a usable justification.
    #[error(
        "freeze override by `{operator}` refused: the justification must be at least {MIN_JUSTIFICATION} characters (got {length})"
    )]
    Justification {
        /// The operator.
        operator: String,
        /// Length given.
        length: usize,
    },
}

/// Decides whether `candidate` may be deployed at `now`: the SPEC §6.4 policy first (trigger,
/// branch, approval), then the freezes — which an operator may override with a justification
/// of at least [`MIN_JUSTIFICATION`] characters. Pure: same inputs, same answer.
pub fn decide(
    policy: &EnvironmentPolicy,
    freeze: &FreezeConfig,
    candidate: Candidate<'_>,
    approvals: &[Approval],
    override_: Option<&FreezeOverride>,
    now: DateTime<Utc>,
) -> std::result::Result<Decision, Refusal> {
    let ok =
        evaluate_policy(policy, candidate.trigger, candidate.release, candidate.environment.as_str(), approvals, now)
            .map_err(Refusal::Policy)?;
    let mut decision = Decision { approved_by: ok.approved_by, approved_at: ok.approved_at, overridden_freeze: None };
    if let Some(active) = freeze.active_at(now) {
        match override_ {
            None => {
                return Err(Refusal::Frozen {
                    environment: candidate.environment.to_string(),
                    freeze: active,
                    at: crate::pointer::timestamp(&now),
                });
            }
            Some(o) => {
                let length = o.justification.trim().chars().count();
                if length < MIN_JUSTIFICATION || o.operator.trim().is_empty() {
                    return Err(Refusal::Justification { operator: o.operator.clone(), length });
                }
                decision.overridden_freeze = Some((active, o.clone()));
            }
        }
    }
    Ok(decision)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const CONFIG: &str = r#"
environments:
  dev: {}
  production:
    allowed_triggers: [tag, manual]
    allowed_branches: ["main", "release/*"]
    requires_approval: false
    freeze:
      recurring:
        - {days: [sat, sun], reason: weekend}
        - {days: [fri], from: "16:00", to: "24:00", reason: friday afternoon}
      windows:
        - {start: "2026-12-20T00:00:00Z", end: "2027-01-04T00:00:00Z", reason: holidays}
other_component: {anything: true}
"#;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).single().unwrap_or_default()
    }

    #[test]
    fn decisions() -> Result<()> {
        let cfg = PlatformConfig::parse("platform.yaml", CONFIG.as_bytes())?;
        let prod: Environment = "production".parse().map_err(|_| GitopsError::NotFound { what: "x".into() })?;
        let s = cfg.settings(&prod);
        let trig = ReleaseTrigger {
            kind: TriggerType::Tag,
            branch: Some("main".into()),
            tag: Some("v1".into()),
            actor: "ci".into(),
        };
        let c = Candidate { trigger: &trig, release: "42", environment: &prod };
        // Wednesday 2026-11-25 10:00 — open.
        assert!(decide(&s.policy, &s.freeze, c, &[], None, at(2026, 11, 25, 10, 0)).is_ok());
        // Saturday — frozen.
        let sat = at(2026, 11, 28, 10, 0);
        let refusal = decide(&s.policy, &s.freeze, c, &[], None, sat).err().map(|e| e.to_string());
        insta::assert_snapshot!(refusal.unwrap_or_default(), @"environment `production` is frozen at 2026-11-28T10:00:00Z: weekend (recurring: sat, sun 00:00-24:00 UTC); an operator may override with a recorded justification");
        // Friday 15:59 open, 16:00 frozen.
        assert!(decide(&s.policy, &s.freeze, c, &[], None, at(2026, 11, 27, 15, 59)).is_ok());
        assert!(decide(&s.policy, &s.freeze, c, &[], None, at(2026, 11, 27, 16, 0)).is_err());
        // Holidays window (a Tuesday).
        let e = decide(&s.policy, &s.freeze, c, &[], None, at(2026, 12, 22, 9, 0)).err().map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("holidays (window: 2026-12-20T00:00:00Z .. 2027-01-04T00:00:00Z)"));
        // Override.
        let weak = FreezeOverride { operator: "ops".into(), justification: "pls".into() };
        assert!(matches!(decide(&s.policy, &s.freeze, c, &[], Some(&weak), sat), Err(Refusal::Justification { .. })));
        let good = FreezeOverride { operator: "ops".into(), justification: "hotfix for incident 123".into() };
        let d = decide(&s.policy, &s.freeze, c, &[], Some(&good), sat)
            .map_err(|e| GitopsError::NotFound { what: e.to_string() })?;
        assert_eq!(d.overridden_freeze.map(|(f, o)| (f.reason, o.operator)), Some(("weekend".into(), "ops".into())));
        // Policy refusal comes first, even with an override.
        let push = ReleaseTrigger { kind: TriggerType::BranchPush, ..trig.clone() };
        let c2 = Candidate { trigger: &push, ..c };
        let e = decide(&s.policy, &s.freeze, c2, &[], Some(&good), sat).err().map(|e| e.to_string());
        insta::assert_snapshot!(e.unwrap_or_default(), @"policy rule allowed_triggers refuses trigger `branch_push` (allowed: tag, manual)");
        let feature = ReleaseTrigger { branch: Some("feature/x".into()), ..trig.clone() };
        let e = decide(&s.policy, &s.freeze, Candidate { trigger: &feature, ..c }, &[], None, sat).err();
        assert!(matches!(e, Some(Refusal::Policy(PolicyRefusal::AllowedBranches { .. }))));
        // Unconfigured environments get the default policy.
        let qa: Environment = "qa".parse().map_err(|_| GitopsError::NotFound { what: "x".into() })?;
        assert_eq!(cfg.settings(&qa), EnvironmentSettings::default());
        Ok(())
    }

    #[test]
    fn bad_configs() {
        let cases = [
            ("environments: {Prod: {}}", "environments.Prod"),
            ("environments: {dev: {allowed_triggers: [push]}}", "environments.dev.allowed_triggers[0]"),
            ("environments: {dev: {auto_deploy: yes please}}", "environments.dev.auto_deploy"),
            ("environments: {dev: {colour: red}}", "environments.dev.colour"),
            ("environments: {dev: {allowed_branches: [\"[\"]}}", "environments.dev.allowed_branches[0]"),
            (
                "environments: {dev: {freeze: {recurring: [{days: [caturday], reason: x}]}}}",
                "environments.dev.freeze.recurring[0].days[0]",
            ),
            (
                "environments: {dev: {freeze: {recurring: [{days: [mon], from: \"25:00\", reason: x}]}}}",
                "environments.dev.freeze.recurring[0].from",
            ),
            (
                "environments: {dev: {freeze: {recurring: [{days: [mon], from: \"10:00\", to: \"09:00\", reason: x}]}}}",
                "environments.dev.freeze.recurring[0]",
            ),
            (
                "environments: {dev: {freeze: {windows: [{start: \"2026-01-02T00:00:00Z\", end: \"2026-01-01T00:00:00Z\", reason: x}]}}}",
                "environments.dev.freeze.windows[0]",
            ),
            (
                "environments: {dev: {freeze: {windows: [{start: \"2026-01-01T00:00:00Z\", end: \"2026-01-02T00:00:00Z\"}]}}}",
                "environments.dev.freeze.windows[0].reason",
            ),
        ];
        let mut all = String::new();
        for (text, field) in cases {
            match PlatformConfig::parse("platform.yaml", text.as_bytes()) {
                Ok(c) => panic!("accepted {text}: {c:?}"),
                Err(e) => {
                    let e = e.to_string();
                    assert!(e.starts_with(&format!("platform.yaml: {field}: ")), "{e}");
                    all.push_str(&e);
                    all.push('\n');
                }
            }
        }
        insta::assert_snapshot!(all);
    }
}
