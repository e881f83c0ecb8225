//! The `github` publisher: a release asset through the GitHub REST API (feature `github`).
//!
//! Endpoints, as GitHub documents them: `GET /repos/{owner}/{repo}/releases/tags/{tag}`
//! (404 → `POST /repos/{owner}/{repo}/releases`), `GET /repos/{owner}/{repo}/releases/{id}/assets`,
//! and the upload `POST {upload_url}?name=<file>` with the raw bytes. An asset with the same
//! name and the same `digest` (`sha256:…`, which GitHub reports for assets) is left alone; one
//! with the same name and another digest is an error (assets are immutable by name — delete it
//! or release under a new tag). GitHub is out of reach here: the adapter is thin and its wire
//! contract is tested against a local HTTP server implementing these endpoints.
//!
//! Settings: `owner`, `repo` (repository level), `tag` (default: the git tag alias, else
//! `<project>-<sha12>`), `api` (default the public API URL). Credentials resolve to a token.

use async_trait::async_trait;
use serde_json::{Map, Value, json};

use super::ReleaseError;
use super::publisher::{Credentials, PublishRequest, PublishResponse, Publisher, perr};

const PUBLIC_API: &str = "https://api.github.com";

/// The `github` publisher.
#[derive(Debug, Clone)]
pub struct GithubPublisher {
    credentials: Credentials,
    http: reqwest::Client,
}

impl GithubPublisher {
    /// A publisher resolving its token through `credentials`.
    pub fn new(credentials: Credentials) -> Result<Self, ReleaseError> {
        let http = reqwest::Client::builder()
            .user_agent("forge")
            .timeout(std::time::Duration::from_secs(300))
            .build()
            .map_err(|e| perr("github", e))?;
        Ok(Self { credentials, http })
    }
}

async fn json_of(p: &str, what: &str, resp: reqwest::Response) -> Result<(u16, Value), ReleaseError> {
    let status = resp.status().as_u16();
    let v = resp.json::<Value>().await.unwrap_or(Value::Null);
    if status >= 400 && status != 404 {
        let msg = v.get("message").and_then(Value::as_str).unwrap_or("no message");
        return Err(perr(p, format!("{what}: GitHub answered {status}: {msg}")));
    }
    Ok((status, v))
}

#[async_trait]
impl Publisher for GithubPublisher {
    fn kind(&self) -> &str {
        "github"
    }

    async fn publish(&self, req: &PublishRequest<'_>) -> Result<PublishResponse, ReleaseError> {
        let p = req.publisher;
        let owner = req.required("owner")?.to_owned();
        let repo = req.required("repo")?.to_owned();
        let api = req.field("api").unwrap_or(PUBLIC_API).trim_end_matches('/').to_owned();
        let sha = &req.git.commit_sha;
        let tag = req
            .field("tag")
            .map(str::to_owned)
            .or_else(|| req.git.tag.clone())
            .unwrap_or_else(|| format!("{}-{}", req.project, &sha[..12.min(sha.len())]));
        let token = match &req.repo_config.credentials {
            Some(r) => Some(self.credentials.resolve_public(r, p).await?),
            None => None,
        };
        let auth = |rb: reqwest::RequestBuilder| {
            let rb = rb.header("Accept", "application/vnd.github+json").header("X-GitHub-Api-Version", "2022-11-28");
            match &token {
                Some(t) => rb.bearer_auth(t.expose_str().unwrap_or_default()),
                None => rb,
            }
        };
        let send = |rb: reqwest::RequestBuilder, what: &'static str| async move {
            rb.send().await.map_err(|e| perr(p, format!("{what}: {e}")))
        };

        // The release for the tag.
        let url = format!("{api}/repos/{owner}/{repo}/releases/tags/{tag}");
        let (status, mut release) =
            json_of(p, "reading the release", send(auth(self.http.get(&url)), "reading the release").await?).await?;
        if status == 404 {
            let body =
                json!({"tag_name": tag, "target_commitish": sha, "name": tag, "draft": false, "prerelease": false});
            let url = format!("{api}/repos/{owner}/{repo}/releases");
            let (_, r) = json_of(
                p,
                "creating the release",
                send(auth(self.http.post(&url).json(&body)), "creating the release").await?,
            )
            .await?;
            release = r;
        }
        let id = release["id"].as_u64().ok_or_else(|| perr(p, "the release has no id"))?;
        let upload_url = release["upload_url"].as_str().ok_or_else(|| perr(p, "the release has no upload_url"))?;
        let upload_url = upload_url.split('{').next().unwrap_or(upload_url).to_owned();

        let name = req
            .produced
            .location
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| req.produced.name.clone());
        let url = format!("{api}/repos/{owner}/{repo}/releases/{id}/assets?per_page=100");
        let (_, assets) =
            json_of(p, "listing assets", send(auth(self.http.get(&url)), "listing assets").await?).await?;
        let existing = assets.as_array().and_then(|a| a.iter().find(|x| x["name"].as_str() == Some(&name)).cloned());
        let digest = req.produced.digest.clone();
        let (download, skipped) = match existing {
            Some(a) if a["digest"].as_str() == Some(digest.as_str()) => {
                (a["browser_download_url"].as_str().unwrap_or_default().to_owned(), true)
            }
            Some(a) => {
                return Err(perr(
                    p,
                    format!(
                        "asset `{name}` of release {tag} exists with digest {} (this artifact is {digest}); assets are immutable by name",
                        a["digest"].as_str().unwrap_or("unknown")
                    ),
                ));
            }
            None => {
                let data = tokio::fs::read(&req.produced.location)
                    .await
                    .map_err(|e| perr(p, format!("reading {}: {e}", req.produced.location.display())))?;
                let rb = self
                    .http
                    .post(format!("{upload_url}?name={name}"))
                    .header("Content-Type", "application/octet-stream")
                    .body(data);
                let (_, a) = json_of(p, "uploading the asset", send(auth(rb), "uploading the asset").await?).await?;
                (a["browser_download_url"].as_str().unwrap_or_default().to_owned(), false)
            }
        };
        let metadata = Map::from_iter([
            ("uri".to_owned(), json!(download)),
            ("owner".to_owned(), json!(owner)),
            ("repo".to_owned(), json!(repo)),
            ("tag".to_owned(), json!(tag)),
            ("asset".to_owned(), json!(name)),
            ("digest".to_owned(), json!(digest)),
        ]);
        Ok(PublishResponse { uri: download, metadata, skipped })
    }
}
