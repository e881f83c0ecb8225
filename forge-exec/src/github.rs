//! GitHub commit statuses and the pull-request summary comment (SPEC §3.7).
//!
//! [`status_descriptions`] builds the texts; [`LogStatusReporter`] is the embedded default
//! (it logs); [`GithubStatusReporter`] (feature `github`) talks to the GitHub REST API:
//! `POST /repos/{owner}/{repo}/statuses/{sha}` with context `ci/catalyst-forge`, and for the
//! summary comment `GET /repos/{owner}/{repo}/issues/{n}/comments` then either
//! `PATCH /repos/{owner}/{repo}/issues/comments/{id}` (our earlier comment, found by a hidden
//! marker) or `POST /repos/{owner}/{repo}/issues/{n}/comments`. GitHub cannot be reached from
//! here, so the adapter is kept thin and its wire contract is tested against a local HTTP
//! server that implements those endpoints as GitHub documents them. [`report`] never fails a
//! run: errors are logged and swallowed.

use async_trait::async_trait;
use forge_core::ports::{CommitState, CommitStatusReporter};
use forge_core::{CommitSha, Repository};

/// Hidden marker identifying Forge's summary comment on a pull request.
pub const SUMMARY_MARKER: &str = "<!-- forge-run-summary -->";

/// Status descriptions used at each update point.
pub mod status_descriptions {
    use std::time::Duration;

    /// When the run is created.
    pub fn created() -> String {
        "Pipeline created".to_owned()
    }
    /// When discovery is done.
    pub fn discovered(projects: usize, phases: usize) -> String {
        format!("Discovered {projects} projects, {phases} phases")
    }
    /// After phase number `done` (1-based) of `total` finished.
    pub fn phase_done(done: usize, total: usize) -> String {
        let pct = (done * 100).checked_div(total).unwrap_or(100);
        format!("Running phase {done} of {total} ({pct}% complete)")
    }
    /// A human duration like `3m12s`.
    pub fn human(d: Duration) -> String {
        let s = d.as_secs();
        match (s / 3600, (s % 3600) / 60, s % 60) {
            (0, 0, sec) => format!("{sec}s"),
            (0, m, sec) => format!("{m}m{sec:02}s"),
            (h, m, sec) => format!("{h}h{m:02}m{sec:02}s"),
        }
    }
    /// When the run finished.
    pub fn finished(success: bool, took: Duration) -> String {
        if success {
            format!("Pipeline succeeded in {}", human(took))
        } else {
            format!("Pipeline failed after {}", human(took))
        }
    }
}

/// Sets a status and logs instead of failing (GitHub failures never fail the run).
pub async fn report(
    reporter: &dyn CommitStatusReporter,
    repo: &Repository,
    sha: &CommitSha,
    state: CommitState,
    description: &str,
) {
    if let Err(e) = reporter.set_status(repo, sha, state, description).await {
        tracing::warn!(error = %e, %repo, %sha, "commit status update failed; the run continues");
    }
}

/// The embedded default: logs statuses and comments.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogStatusReporter;

#[async_trait]
impl CommitStatusReporter for LogStatusReporter {
    async fn set_status(
        &self,
        repo: &Repository,
        sha: &CommitSha,
        state: CommitState,
        description: &str,
    ) -> forge_core::Result<()> {
        tracing::info!(%repo, sha = sha.short(12), ?state, description, "commit status");
        Ok(())
    }
    async fn comment(&self, repo: &Repository, pull_request: u64, body: &str) -> forge_core::Result<()> {
        tracing::info!(%repo, pull_request, bytes = body.len(), "pull request summary");
        Ok(())
    }
}

#[cfg(feature = "github")]
pub use rest::GithubStatusReporter;

#[cfg(feature = "github")]
mod rest {
    use super::*;
    use std::time::Duration;

    use forge_core::ports::STATUS_CONTEXT;
    use forge_core::ports::SecretValue;
    use forge_core::{Error, classify_http_status};
    use serde_json::json;

    const COMPONENT: &str = "github";

    /// Commit statuses through the GitHub REST API.
    pub struct GithubStatusReporter {
        http: reqwest::Client,
        base: String,
        token: SecretValue,
        target_url: Option<String>,
    }

    impl std::fmt::Debug for GithubStatusReporter {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("GithubStatusReporter").field("base", &self.base).field("token", &self.token).finish()
        }
    }

    impl GithubStatusReporter {
        /// A reporter for the API at `base` (the public API or an Enterprise `/api/v3` URL)
        /// authenticating with `token`; `target_url` links statuses to the run page.
        pub fn new(base: &str, token: SecretValue, target_url: Option<String>) -> forge_core::Result<Self> {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .user_agent("forge")
                .build()
                .map_err(|e| Error::other(COMPONENT, "building the HTTP client", e))?;
            Ok(Self { http, base: base.trim_end_matches('/').to_owned(), token, target_url })
        }

        fn auth(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
            let token = self.token.expose_str().unwrap_or_default();
            rb.bearer_auth(token)
                .header("Accept", "application/vnd.github+json")
                .header("X-GitHub-Api-Version", "2022-11-28")
        }

        async fn send(&self, rb: reqwest::RequestBuilder, what: &str) -> forge_core::Result<serde_json::Value> {
            let resp = self
                .auth(rb)
                .send()
                .await
                .map_err(|e| Error::transient(COMPONENT, format!("{what}: request failed"), e))?;
            let status = resp.status().as_u16();
            let body: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
            if (200..300).contains(&status) {
                return Ok(body);
            }
            let msg = format!(
                "{what}: GitHub answered {status}: {}",
                body.get("message").and_then(|m| m.as_str()).unwrap_or("no message")
            );
            Err(match classify_http_status(status) {
                forge_core::ErrorClass::Transient => {
                    Error::Transient { component: COMPONENT, message: msg, source: None }
                }
                _ if status == 401 => Error::Unauthorized { component: COMPONENT, message: msg },
                _ if status == 403 => Error::PermissionDenied { component: COMPONENT, message: msg },
                _ if status == 404 => Error::NotFound { component: COMPONENT, what: msg },
                _ => Error::msg(COMPONENT, msg),
            })
        }
    }

    #[async_trait]
    impl CommitStatusReporter for GithubStatusReporter {
        async fn set_status(
            &self,
            repo: &Repository,
            sha: &CommitSha,
            state: CommitState,
            description: &str,
        ) -> forge_core::Result<()> {
            let url = format!("{}/repos/{}/{}/statuses/{}", self.base, repo.owner(), repo.name(), sha);
            let state = match state {
                CommitState::Pending => "pending",
                CommitState::Success => "success",
                CommitState::Failure => "failure",
                CommitState::Error => "error",
            };
            // GitHub limits descriptions to 140 characters.
            let description: String = description.chars().take(140).collect();
            let mut body = json!({"state": state, "description": description, "context": STATUS_CONTEXT});
            if let Some(t) = &self.target_url {
                body["target_url"] = json!(t);
            }
            self.send(self.http.post(url).json(&body), "setting the commit status").await.map(|_| ())
        }

        async fn comment(&self, repo: &Repository, pull_request: u64, body: &str) -> forge_core::Result<()> {
            let body = format!("{SUMMARY_MARKER}\n{body}");
            let list = format!(
                "{}/repos/{}/{}/issues/{pull_request}/comments?per_page=100",
                self.base,
                repo.owner(),
                repo.name()
            );
            let comments = self.send(self.http.get(list), "listing pull request comments").await?;
            let existing = comments.as_array().and_then(|a| {
                a.iter()
                    .find(|c| c["body"].as_str().is_some_and(|b| b.starts_with(SUMMARY_MARKER)))
                    .and_then(|c| c["id"].as_u64())
            });
            match existing {
                Some(id) => {
                    let url = format!("{}/repos/{}/{}/issues/comments/{id}", self.base, repo.owner(), repo.name());
                    self.send(self.http.patch(url).json(&json!({"body": body})), "updating the summary comment")
                        .await?;
                }
                None => {
                    let url =
                        format!("{}/repos/{}/{}/issues/{pull_request}/comments", self.base, repo.owner(), repo.name());
                    self.send(self.http.post(url).json(&json!({"body": body})), "posting the summary comment").await?;
                }
            }
            Ok(())
        }
    }
}
