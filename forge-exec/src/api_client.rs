//! Recording releases ([`ApiReleaseRecords`]) and reporting run progress ([`ApiRunReporter`])
//! through the Forge REST API (SPEC §9).
//!
//! A worker in the distributed mode has no database: it records releases through the API with
//! a bearer token (the dispatcher token, a service account). The routes:
//!
//! | [`ReleaseRecords`] method  | request                                                           |
//! |----------------------------|-------------------------------------------------------------------|
//! | `get_release`              | `GET /v1/releases/{owner}/{name}/{project}/{id}`                  |
//! | `latest_release_number`    | `GET /v1/releases/{owner}/{name}/{project}?limit=1`               |
//! | `create_release`           | `POST /v1/releases` (201 → created, 200 → existing)               |
//! | `update_release_publishing`| `PUT /v1/releases/{owner}/{name}/{project}/{number}/publishing`   |
//!
//! The publishing route addresses a release by alias, number or commit-SHA prefix, not by its
//! UUID, so the client remembers the repository, project and number of every release it has
//! read or created; `update_release_publishing` works for those (release retry reads the release
//! first). The server accepts only a retry of the addressed release's own failed publishers
//! (same artifacts and digests), so a number shadowed by another release's alias is refused
//! (409), never applied to the wrong release; the returned release's id is checked as well.
//!
//! [`ApiRunReporter`] is the dispatcher's [`RunReporter`]: `GET /v1/runs/{id}`,
//! `PUT /v1/runs/{id}/plan`, `PUT /v1/tasks/{id}/status` and `PUT /v1/steps/{id}/status`.
//!
//! The `actor` arguments are not sent: the API records the token's subject as the actor.
//! API errors (`{"error":{"code","message","details"}}`) become [`forge_core::Error`]s: 404 →
//! `NotFound`, 409 → `Conflict` with the API's message (release creation retries on it), 401 →
//! `Unauthorized`, 403 → `PermissionDenied`, 422 → `Validation`, 408/429/5xx and connection
//! failures → `Transient`. The token never appears in `Debug` output, errors or logs.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use forge_core::model::{CreateRelease, PipelineRun, Release, ReleaseArtifact, ReleasePage, RunPlan, StatusUpdate};
use forge_core::ports::{Created, ReleaseRecords, SecretValue};
use forge_core::{Error, ErrorClass, ProjectName, ReleaseStatus, Repository, classify_http_status};
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

use crate::dispatch::RunReporter;

const COMPONENT: &str = "api-client";

/// Where a release lives, as the publishing route addresses it.
#[derive(Debug, Clone)]
struct Located {
    repository: Repository,
    project: ProjectName,
    number: u64,
}

/// The HTTP side shared by the API clients: base URL, bearer token, error mapping.
struct ApiHttp {
    http: reqwest::Client,
    base: Url,
    token: Option<SecretValue>,
}

/// [`ReleaseRecords`] over the Forge REST API, for processes without a database.
pub struct ApiReleaseRecords {
    api: ApiHttp,
    seen: Mutex<HashMap<Uuid, Located>>,
}

impl std::fmt::Debug for ApiReleaseRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiReleaseRecords")
            .field("base", &self.api.base.as_str())
            .field("token", &self.api.token)
            .finish_non_exhaustive()
    }
}

/// [`RunReporter`] over the Forge REST API: what a dispatcher records about its run.
pub struct ApiRunReporter {
    api: ApiHttp,
}

impl std::fmt::Debug for ApiRunReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiRunReporter")
            .field("base", &self.api.base.as_str())
            .field("token", &self.api.token)
            .finish_non_exhaustive()
    }
}

impl ApiRunReporter {
    /// A reporter for the API at `base_url` (`http://forge-api:8080`, optionally with a path
    /// prefix), sending `token` as a bearer token when given (a role that may update statuses,
    /// e.g. service-account).
    pub fn new(base_url: &str, token: Option<SecretValue>) -> Result<Self, Error> {
        Ok(Self { api: ApiHttp::new(base_url, token)? })
    }
}

#[async_trait]
impl RunReporter for ApiRunReporter {
    async fn get_run(&self, run_id: Uuid) -> Result<PipelineRun, Error> {
        let url = self.api.url(&["v1", "runs", &run_id.to_string()])?;
        let (_, run) = self.api.send(Method::GET, url, None, &format!("reading run {run_id}")).await?;
        Ok(run)
    }

    async fn plan_run(&self, run_id: Uuid, plan: &RunPlan) -> Result<PipelineRun, Error> {
        let url = self.api.url(&["v1", "runs", &run_id.to_string(), "plan"])?;
        let what = format!("recording the plan of run {run_id}");
        let (_, run) = self.api.send(Method::PUT, url, Some(json_body(plan)?), &what).await?;
        Ok(run)
    }

    async fn update_task(&self, task_id: Uuid, update: &StatusUpdate) -> Result<(), Error> {
        let url = self.api.url(&["v1", "tasks", &task_id.to_string(), "status"])?;
        let what = format!("setting task {task_id} {}", update.status);
        let (_, _): (_, serde::de::IgnoredAny) =
            self.api.send(Method::PUT, url, Some(json_body(update)?), &what).await?;
        Ok(())
    }

    async fn update_step(&self, step_id: Uuid, update: &StatusUpdate) -> Result<(), Error> {
        let url = self.api.url(&["v1", "steps", &step_id.to_string(), "status"])?;
        let what = format!("setting step {step_id} {}", update.status);
        let (_, _): (_, serde::de::IgnoredAny) =
            self.api.send(Method::PUT, url, Some(json_body(update)?), &what).await?;
        Ok(())
    }
}

#[derive(Serialize)]
struct PublishingBody<'a> {
    artifacts: &'a [ReleaseArtifact],
    status: ReleaseStatus,
}

impl ApiReleaseRecords {
    /// A client for the API at `base_url` (`https://forge.example.com`, optionally with a path
    /// prefix), sending `token` as a bearer token when given.
    pub fn new(base_url: &str, token: Option<SecretValue>) -> Result<Self, Error> {
        Ok(Self { api: ApiHttp::new(base_url, token)?, seen: Mutex::new(HashMap::new()) })
    }

    fn release_url(&self, repo: &Repository, project: &ProjectName, rest: &[&str]) -> Result<Url, Error> {
        let mut segments = vec!["v1", "releases", repo.owner(), repo.name(), project.as_str()];
        segments.extend_from_slice(rest);
        self.api.url(&segments)
    }

    fn remember(&self, release: &Release) {
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.insert(
            release.id,
            Located {
                repository: release.repository.clone(),
                project: release.project.clone(),
                number: release.release_number,
            },
        );
    }

    fn located(&self, id: Uuid) -> Option<Located> {
        self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&id).cloned()
    }
}

impl ApiHttp {
    fn new(base_url: &str, token: Option<SecretValue>) -> Result<Self, Error> {
        let invalid = |message: String| Error::Validation { component: COMPONENT, field: "api_url".into(), message };
        let base = Url::parse(base_url.trim()).map_err(|e| {
            invalid(format!("`{base_url}` is not a URL ({e}); pass the API base, e.g. `http://forge-api:8080`"))
        })?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(invalid(format!(
                "`{base_url}` is not an http(s) URL; pass the API base, e.g. `http://forge-api:8080`"
            )));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(invalid("the API URL must not carry credentials; pass the token separately".into()));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent("forge-worker")
            .build()
            .map_err(|e| Error::other(COMPONENT, "building the HTTP client", e))?;
        Ok(Self { http, base, token })
    }

    /// The URL of `segments` under the base (each segment percent-encoded).
    fn url(&self, segments: &[&str]) -> Result<Url, Error> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| Error::msg(COMPONENT, "the API URL cannot take a path"))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// Sends a request; returns the status and the decoded body of a 2xx answer, or the mapped
    /// error of any other.
    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        what: &str,
    ) -> Result<(StatusCode, T), Error> {
        let mut rb = self.http.request(method, url).header("Accept", "application/json");
        if let Some(t) = &self.token {
            rb = rb.bearer_auth(t.expose_str().unwrap_or_default());
        }
        if let Some(b) = body {
            rb = rb.header("Content-Type", "application/json").body(b);
        }
        let resp = rb.send().await.map_err(|e| {
            Error::transient(COMPONENT, format!("{what}: the Forge API could not be reached"), e.without_url())
        })?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| {
            Error::transient(COMPONENT, format!("{what}: reading the Forge API's answer failed"), e.without_url())
        })?;
        if status.is_success() {
            let value = serde_json::from_slice(&bytes).map_err(|e| {
                Error::other(COMPONENT, format!("{what}: the Forge API answered {status} with an unexpected body"), e)
            })?;
            return Ok((status, value));
        }
        Err(api_error(status.as_u16(), &bytes, what))
    }
}

/// Maps a non-2xx answer to the core error (SPEC §9 codes, §10 classes).
fn api_error(status: u16, body: &[u8], what: &str) -> Error {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let err = &parsed["error"];
    let api_message = err["message"].as_str().map(str::to_owned).unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() { "no message".to_owned() } else { text.chars().take(300).collect() }
    });
    let message = format!("{what}: the Forge API answered {status}: {api_message}");
    if classify_http_status(status) == ErrorClass::Transient {
        return Error::Transient { component: COMPONENT, message, source: None };
    }
    match status {
        401 => Error::Unauthorized {
            component: COMPONENT,
            message: format!("{message} (check the API token the worker was given)"),
        },
        403 => Error::PermissionDenied {
            component: COMPONENT,
            message: format!("{message} (the token needs a role that may do this, e.g. service-account)"),
        },
        404 => Error::NotFound { component: COMPONENT, what: format!("{what} ({api_message})") },
        409 => Error::Conflict { component: COMPONENT, message: api_message },
        422 => {
            let fields = err["details"]["fields"].as_array().cloned().unwrap_or_default();
            let names: Vec<&str> = fields.iter().filter_map(|f| f["field"].as_str()).collect();
            let problems: Vec<String> = fields
                .iter()
                .map(|f| format!("{}: {}", f["field"].as_str().unwrap_or("?"), f["message"].as_str().unwrap_or("?")))
                .collect();
            Error::Validation {
                component: COMPONENT,
                field: if names.is_empty() { "body".to_owned() } else { names.join(", ") },
                message: if problems.is_empty() {
                    message
                } else {
                    format!("{what}: {} ({api_message})", problems.join("; "))
                },
            }
        }
        _ => Error::msg(COMPONENT, message),
    }
}

/// A JSON request body.
fn json_body(value: &impl Serialize) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(value).map_err(|e| Error::other(COMPONENT, "encoding the request body", e))
}

#[async_trait]
impl ReleaseRecords for ApiReleaseRecords {
    async fn get_release(&self, repo: &Repository, project: &ProjectName, id: &str) -> Result<Release, Error> {
        let what = format!("release `{id}` of {repo}/{project}");
        // `.` and `..` would be dropped from the path (and an empty id lists the releases).
        if matches!(id, "" | "." | "..") {
            return Err(Error::NotFound { component: COMPONENT, what });
        }
        let url = self.release_url(repo, project, &[id])?;
        let (_, release): (_, Release) = self.api.send(Method::GET, url, None, &what).await?;
        self.remember(&release);
        Ok(release)
    }

    async fn latest_release_number(&self, repo: &Repository, project: &ProjectName) -> Result<Option<u64>, Error> {
        let mut url = self.release_url(repo, project, &[])?;
        url.query_pairs_mut().append_pair("limit", "1");
        let what = format!("the newest release of {repo}/{project}");
        let (_, page): (_, ReleasePage) = self.api.send(Method::GET, url, None, &what).await?;
        let newest = page.releases.first();
        if let Some(r) = newest {
            self.remember(r);
        }
        Ok(newest.map(|r| r.release_number))
    }

    async fn create_release(&self, req: &CreateRelease, _actor: &str) -> Result<Created<Release>, Error> {
        let url = self.api.url(&["v1", "releases"])?;
        let what = format!("recording the release of {}/{} at {}", req.repository, req.project, req.commit_sha);
        let (status, release): (_, Release) = self.api.send(Method::POST, url, Some(json_body(req)?), &what).await?;
        self.remember(&release);
        Ok(Created { value: release, created: status == StatusCode::CREATED })
    }

    async fn update_release_publishing(
        &self,
        release_id: Uuid,
        artifacts: &[ReleaseArtifact],
        status: ReleaseStatus,
        _actor: &str,
    ) -> Result<Release, Error> {
        let at = self.located(release_id).ok_or_else(|| Error::Validation {
            component: COMPONENT,
            field: "release_id".into(),
            message: format!(
                "release {release_id} has not been read or created through this API client, so its repository, \
                 project and number are unknown; call get_release (or create_release) on this client first"
            ),
        })?;
        let number = at.number.to_string();
        let url = self.release_url(&at.repository, &at.project, &[&number, "publishing"])?;
        let what = format!("recording the publisher retry of release {number} of {}/{}", at.repository, at.project);
        let body = json_body(&PublishingBody { artifacts, status })?;
        let (_, release): (_, Release) = self.api.send(Method::PUT, url, Some(body), &what).await?;
        if release.id != release_id {
            return Err(Error::Conflict {
                component: COMPONENT,
                message: format!(
                    "{what}: number {number} resolved to release {} instead of {release_id} (an alias shadows the \
                     number); retry the release by its commit SHA",
                    release.id
                ),
            });
        }
        self.remember(&release);
        Ok(release)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_map_to_core_errors() {
        let body = |code: &str, msg: &str| {
            serde_json::to_vec(&serde_json::json!({"error": {"code": code, "message": msg, "details": null}}))
                .unwrap_or_default()
        };
        assert!(matches!(api_error(404, &body("not_found", "gone"), "x"), Error::NotFound { .. }));
        match api_error(409, &body("conflict", "number 3 is taken"), "x") {
            Error::Conflict { message, .. } => assert_eq!(message, "number 3 is taken"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(api_error(401, &body("authentication_required", "no"), "x"), Error::Unauthorized { .. }));
        assert!(matches!(api_error(403, &body("permission_denied", "no"), "x"), Error::PermissionDenied { .. }));
        assert!(matches!(api_error(503, b"", "x"), Error::Transient { .. }));
        assert!(matches!(api_error(429, &body("rate_limited", "slow"), "x"), Error::Transient { .. }));
        assert!(matches!(api_error(400, b"bad", "x"), Error::Other { .. }));
        let v = serde_json::json!({"error": {"code": "validation_error", "message": "fix", "details":
            {"fields": [{"field": "status", "message": "unknown variant"}, {"field": "artifacts", "message": "missing"}]}}});
        match api_error(422, &serde_json::to_vec(&v).unwrap_or_default(), "x") {
            Error::Validation { field, message, .. } => {
                assert_eq!(field, "status, artifacts");
                assert!(message.contains("status: unknown variant; artifacts: missing"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn base_urls_are_checked() {
        assert!(ApiReleaseRecords::new("http://127.0.0.1:8080/", None).is_ok());
        assert!(matches!(ApiReleaseRecords::new("not a url", None), Err(Error::Validation { .. })));
        assert!(matches!(ApiReleaseRecords::new("mailto:ops@example.com", None), Err(Error::Validation { .. })));
        assert!(matches!(ApiReleaseRecords::new("http://u:p@127.0.0.1/", None), Err(Error::Validation { .. })));
    }

    #[test]
    fn urls_encode_segments_under_a_prefix() -> Result<(), Box<dyn std::error::Error>> {
        let c = ApiReleaseRecords::new("http://127.0.0.1:8080/forge/", None)?;
        let repo: Repository = "acme/shop".parse()?;
        let project: ProjectName = "web".parse()?;
        let url = c.release_url(&repo, &project, &["feature/x y", "publishing"])?;
        assert_eq!(url.as_str(), "http://127.0.0.1:8080/forge/v1/releases/acme/shop/web/feature%2Fx%20y/publishing");
        Ok(())
    }
}
