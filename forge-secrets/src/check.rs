//! `forge secrets check`: resolve every reference a configuration uses and report which fail.

use std::fmt;

use forge_core::ErrorCode;
use forge_core::ports::SecretRef;
use serde::Serialize;

use crate::registry::ProviderRegistry;

/// What happened to one reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CheckOutcome {
    /// It resolved (the value was dropped at once and is not reported).
    Ok,
    /// It does not fit its provider (unknown provider or bad field); nothing was resolved.
    Invalid {
        /// The field path, relative to the reference.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// Resolution failed.
    Failed {
        /// The error code (`not_found`, `permission_denied`, …).
        code: ErrorCode,
        /// Whether retrying may help.
        transient: bool,
        /// The error, naming the reference and the provider's message.
        message: String,
    },
}

/// One checked reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckEntry {
    /// Where the configuration uses it (`project.ci.steps[2].secrets[0]`, …).
    pub location: String,
    /// The reference (safe to print).
    pub reference: SecretRef,
    /// The outcome.
    #[serde(flatten)]
    pub outcome: CheckOutcome,
}

impl CheckEntry {
    /// Whether the reference resolved.
    pub fn is_ok(&self) -> bool {
        self.outcome == CheckOutcome::Ok
    }
}

/// The result of [`check_references`]. Holds no secret value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    ok: bool,
    total: usize,
    failed: usize,
    entries: Vec<CheckEntry>,
}

impl CheckReport {
    /// Whether every reference resolved.
    pub fn is_ok(&self) -> bool {
        self.ok
    }
    /// How many references were checked.
    pub fn total(&self) -> usize {
        self.total
    }
    /// How many did not resolve.
    pub fn failed(&self) -> usize {
        self.failed
    }
    /// One entry per reference, in the order given.
    pub fn entries(&self) -> &[CheckEntry] {
        &self.entries
    }
    /// The report as pretty JSON (never fails: it holds only strings and numbers).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

impl fmt::Display for CheckReport {
    /// One line per reference, then a summary.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.entries {
            match &e.outcome {
                CheckOutcome::Ok => writeln!(f, "ok       {}  {}", e.location, e.reference)?,
                CheckOutcome::Invalid { message, .. } => {
                    writeln!(f, "INVALID  {}  {}\n         {message}", e.location, e.reference)?
                }
                CheckOutcome::Failed { message, .. } => {
                    writeln!(f, "FAILED   {}  {}\n         {message}", e.location, e.reference)?
                }
            }
        }
        let plural = if self.total == 1 { "" } else { "s" };
        write!(f, "{} secret reference{plural} checked, {} failed", self.total, self.failed)
    }
}

/// Checks then resolves every reference, in order, and reports which fail. Values are dropped
/// (and zeroed) as soon as they resolve; the report never holds one. References repeated in
/// the list are answered from the registry's cache.
pub async fn check_references(refs: &[(String, SecretRef)], registry: &ProviderRegistry) -> CheckReport {
    let mut entries = Vec::with_capacity(refs.len());
    for (location, reference) in refs {
        let outcome = match registry.check(reference) {
            Err(e) => {
                let field = e.to_ref_error().map(|r| r.field).unwrap_or_else(|| "provider".to_owned());
                CheckOutcome::Invalid { field, message: e.to_string() }
            }
            Ok(_) => match registry.resolve(reference).await {
                Ok(_value) => CheckOutcome::Ok,
                Err(e) => CheckOutcome::Failed {
                    code: e.code(),
                    transient: e.class() == forge_core::ErrorClass::Transient,
                    message: e.to_string(),
                },
            },
        };
        entries.push(CheckEntry { location: location.clone(), reference: reference.clone(), outcome });
    }
    let failed = entries.iter().filter(|e| !e.is_ok()).count();
    CheckReport { ok: failed == 0, total: entries.len(), failed, entries }
}
