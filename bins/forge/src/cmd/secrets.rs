//! `forge secrets check <config path>`: resolves every secret reference the configuration
//! uses and reports which fail, without ever printing a value.

use std::io::Write;

use forge_core::ports::SecretRef;
use forge_secrets::{CheckReport, ProviderRegistry, check_references};

/// Checks `refs` (each paired with where the configuration uses it) with the default providers
/// (`env`, `file`, and `aws` when built in) and prints the report to stdout: text, or JSON when
/// `output_json`. Relative `file` paths resolve against the working directory.
///
/// Returns the exit code: 0 when every reference resolved, 1 when any did not.
pub async fn run(refs: Vec<(String, SecretRef)>, output_json: bool) -> anyhow::Result<i32> {
    let registry = ProviderRegistry::with_defaults();
    let report = check(&registry, &refs).await;
    let mut out = std::io::stdout().lock();
    out.write_all(render(&report, output_json).as_bytes())?;
    out.flush()?;
    Ok(exit_code(&report))
}

/// Runs the check with a given registry (for tests and custom provider sets).
pub async fn check(registry: &ProviderRegistry, refs: &[(String, SecretRef)]) -> CheckReport {
    tracing::debug!(references = refs.len(), "checking secret references");
    check_references(refs, registry).await
}

/// The report as printed: JSON, or one line per reference and a summary.
pub fn render(report: &CheckReport, output_json: bool) -> String {
    if output_json {
        format!("{}\n", report.to_json())
    } else if report.total() == 0 {
        "no secret references found in the configuration\n".to_owned()
    } else {
        format!("{report}\n")
    }
}

/// 0 when every reference resolved, 1 otherwise.
pub fn exit_code(report: &CheckReport) -> i32 {
    if report.is_ok() { 0 } else { 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(v: serde_json::Value) -> SecretRef {
        serde_json::from_value(v).unwrap_or_else(|e| panic!("bad reference: {e}"))
    }

    #[tokio::test]
    async fn reports_failures_with_exit_code_one() {
        let dir = std::env::temp_dir().join(format!("forge-secrets-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.join("token"), "cli-secret-0451").unwrap_or_else(|e| panic!("{e}"));
        let registry = ProviderRegistry::with_defaults_in(&dir);
        let refs = vec![
            ("a".to_owned(), r(serde_json::json!({"provider": "file", "path": "token"}))),
            ("b".to_owned(), r(serde_json::json!({"provider": "file", "path": "missing"}))),
        ];
        let report = check(&registry, &refs).await;
        for json in [false, true] {
            let text = render(&report, json);
            assert!(!text.contains("cli-secret-0451"), "{text}");
            assert!(text.contains("missing"), "{text}");
        }
        assert_eq!(exit_code(&report), 1);
        assert_eq!(exit_code(&check(&registry, &refs[..1]).await), 0);
        assert_eq!(render(&check(&registry, &[]).await, false), "no secret references found in the configuration\n");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
