//! The OCI distribution registry store (feature `registry`).

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use bytes::Bytes;
use forge_core::ports::{ImageStore, SecretProvider, SecretRef, SecretValue, StoredManifest};
use forge_core::retry::RetryPolicy;
use forge_core::{ErrorClass, Registry, classify_http_status};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, LOCATION, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode, Url};

use crate::digest::Digest;
use crate::error::{OciError, truncate};
use crate::manifest::{MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, sniff_media_type};

/// URL scheme for a registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `https://` (rustls, web PKI roots).
    Https,
    /// `http://`, for local test registries.
    Http,
}

/// Credentials for a registry. Secret parts are [`SecretValue`]s: redacted in `Debug`, zeroed
/// on drop, sent only in `Authorization` headers, never logged.
#[derive(Clone, Default)]
pub enum RegistryAuth {
    /// No credentials.
    #[default]
    Anonymous,
    /// Username and password (or token) for Basic auth, also used at a Bearer token endpoint.
    Basic {
        /// Username.
        username: String,
        /// Password.
        password: SecretValue,
    },
    /// A pre-issued bearer token, sent as is.
    Bearer {
        /// The token.
        token: SecretValue,
    },
}

impl fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Anonymous => f.write_str("Anonymous"),
            Self::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
            Self::Bearer { .. } => f.write_str("Bearer(<redacted>)"),
        }
    }
}

impl RegistryAuth {
    /// Basic credentials whose password is resolved through a secret provider at the point
    /// of use.
    pub async fn basic_from_secret(
        provider: &dyn SecretProvider,
        username: impl Into<String>,
        password: &SecretRef,
    ) -> Result<Self, OciError> {
        Ok(Self::Basic { username: username.into(), password: provider.resolve(password).await? })
    }
}

/// How to reach a registry.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Scheme; `None` picks `http` for loopback hosts (`127.*`, `localhost`, `[::1]`) and
    /// `https` otherwise.
    pub scheme: Option<Scheme>,
    /// Credentials.
    pub auth: RegistryAuth,
    /// Retry policy for transient failures (SPEC §10).
    pub retry: RetryPolicy,
    /// Timeout of one request.
    pub timeout: Duration,
    /// Largest blob read (the body is cut off and refused beyond it).
    pub max_blob_bytes: u64,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            scheme: None,
            auth: RegistryAuth::Anonymous,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(120),
            max_blob_bytes: 1024 * 1024 * 1024,
        }
    }
}

/// Counts of HTTP requests sent to the registry (token requests counted apart).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestStats {
    /// HEAD requests.
    pub head: u64,
    /// GET requests.
    pub get: u64,
    /// PUT requests.
    pub put: u64,
    /// POST requests.
    pub post: u64,
    /// PATCH requests.
    pub patch: u64,
    /// Requests to a bearer token endpoint.
    pub token: u64,
    /// Bytes sent in request bodies.
    pub bytes_sent: u64,
}

impl RequestStats {
    /// All registry requests (not token requests).
    pub fn total(&self) -> u64 {
        self.head + self.get + self.put + self.post + self.patch
    }
}

#[derive(Default)]
struct Counters {
    head: AtomicU64,
    get: AtomicU64,
    put: AtomicU64,
    post: AtomicU64,
    patch: AtomicU64,
    token: AtomicU64,
    bytes_sent: AtomicU64,
}

#[derive(Clone)]
enum Challenge {
    Basic,
    Bearer { realm: String, service: Option<String> },
}

/// An [`ImageStore`] over the OCI distribution API.
///
/// Sends [`MANIFEST_ACCEPT`] on manifest reads, verifies every digest it reads and the digest
/// of every blob it uploads, sorts tags, retries transient failures (connection errors,
/// timeouts, 408, 429, 5xx) per its [`RetryPolicy`], and fails at once on other statuses with
/// the registry's own message. Basic auth and Bearer-token auth (`WWW-Authenticate`
/// challenge → token endpoint, tokens cached per scope) are supported.
pub struct RegistryStore {
    registry: Registry,
    base: Url,
    prefix: String,
    client: reqwest::Client,
    config: RegistryConfig,
    challenge: Mutex<Option<Challenge>>,
    tokens: Mutex<HashMap<String, SecretValue>>,
    counters: Counters,
}

impl fmt::Debug for RegistryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryStore").field("registry", &self.registry).field("auth", &self.config.auth).finish()
    }
}

fn is_loopback(host: &str) -> bool {
    let h = host.rsplit_once(':').map_or(host, |(h, p)| if p.bytes().all(|c| c.is_ascii_digit()) { h } else { host });
    h == "localhost" || h.starts_with("127.") || h == "[::1]"
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The `error` part of a registry error body.
fn registry_message(status: StatusCode, body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct E {
        code: Option<String>,
        message: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Body {
        errors: Vec<E>,
    }
    if let Ok(b) = serde_json::from_slice::<Body>(body)
        && !b.errors.is_empty()
    {
        return b
            .errors
            .iter()
            .map(|e| match (&e.code, &e.message) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (Some(c), None) => c.clone(),
                (None, Some(m)) => m.clone(),
                (None, None) => String::new(),
            })
            .collect::<Vec<_>>()
            .join("; ");
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() { status.to_string() } else { truncate(text, 300) }
}

/// Parses `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`.
fn parse_challenge(h: &str) -> Option<Challenge> {
    let (scheme, rest) = h.trim().split_once(' ').unwrap_or((h.trim(), ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut params = HashMap::new();
    let mut s = rest;
    while !s.is_empty() {
        let Some((k, v)) = s.split_once('=') else { break };
        let k = k.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let v = v.trim_start();
        let (val, rest) = if let Some(v) = v.strip_prefix('"') {
            let end = v.find('"')?;
            (&v[..end], &v[end + 1..])
        } else {
            let end = v.find(',').unwrap_or(v.len());
            (&v[..end], &v[end..])
        };
        params.insert(k, val.to_owned());
        s = rest.trim_start_matches([',', ' ']);
    }
    Some(Challenge::Bearer { realm: params.remove("realm")?, service: params.remove("service") })
}

impl RegistryStore {
    /// A store for `registry` (host, port and optional path prefix, e.g. `127.0.0.1:5000` or
    /// `registry.example/acme`).
    pub fn new(registry: Registry, config: RegistryConfig) -> Result<Self, OciError> {
        let host = registry.host().to_owned();
        let prefix = registry.as_str().strip_prefix(&host).unwrap_or("").trim_start_matches('/').to_owned();
        let scheme = config.scheme.unwrap_or(if is_loopback(&host) { Scheme::Http } else { Scheme::Https });
        let scheme = match scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        let base = Url::parse(&format!("{scheme}://{host}/"))
            .map_err(|e| OciError::invalid("registry", format!("`{registry}`: {e}")))?;
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("forge-oci/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| OciError::invalid("registry client", e.to_string()))?;
        Ok(Self {
            registry,
            base,
            prefix,
            client,
            config,
            challenge: Mutex::new(None),
            tokens: Mutex::new(HashMap::new()),
            counters: Counters::default(),
        })
    }

    /// The registry this store talks to.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Requests sent so far.
    pub fn stats(&self) -> RequestStats {
        let c = &self.counters;
        RequestStats {
            head: c.head.load(Ordering::Relaxed),
            get: c.get.load(Ordering::Relaxed),
            put: c.put.load(Ordering::Relaxed),
            post: c.post.load(Ordering::Relaxed),
            patch: c.patch.load(Ordering::Relaxed),
            token: c.token.load(Ordering::Relaxed),
            bytes_sent: c.bytes_sent.load(Ordering::Relaxed),
        }
    }

    /// Checks that the registry answers `GET /v2/` (with the configured credentials).
    pub async fn ping(&self) -> Result<(), OciError> {
        let url = self.url("v2/")?;
        let resp = self.send(Method::GET, url, "", HeaderMap::new(), None).await?;
        self.expect(resp, &[StatusCode::OK], "registry API").await.map(|_| ())
    }

    fn name(&self, repository: &str) -> String {
        if self.prefix.is_empty() { repository.to_owned() } else { format!("{}/{repository}", self.prefix) }
    }

    fn url(&self, path: &str) -> Result<Url, OciError> {
        self.base.join(path).map_err(|e| OciError::invalid("registry URL", format!("`{path}`: {e}")))
    }

    fn count(&self, method: &Method, body: usize) {
        let c = &self.counters;
        let slot = match *method {
            Method::HEAD => &c.head,
            Method::GET => &c.get,
            Method::PUT => &c.put,
            Method::POST => &c.post,
            Method::PATCH => &c.patch,
            _ => return,
        };
        slot.fetch_add(1, Ordering::Relaxed);
        c.bytes_sent.fetch_add(body as u64, Ordering::Relaxed);
    }

    fn transient(&self, message: String, attempts: u32, source: Option<forge_core::BoxError>) -> OciError {
        OciError::Transient { registry: self.registry.to_string(), message, attempts, source }
    }

    /// The `Authorization` header for a request in `scope`, if one is known.
    fn auth_header(&self, scope: &str) -> Option<HeaderValue> {
        let challenge = lock(&self.challenge).clone();
        let value = match (&self.config.auth, challenge) {
            (RegistryAuth::Bearer { token }, _) => format!("Bearer {}", token.expose_str()?),
            (RegistryAuth::Basic { username, password }, Some(Challenge::Basic)) => {
                let mut raw = username.as_bytes().to_vec();
                raw.push(b':');
                raw.extend_from_slice(password.expose());
                let v = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(&raw));
                zeroize_vec(raw);
                v
            }
            (_, Some(Challenge::Bearer { .. })) => {
                let tokens = lock(&self.tokens);
                format!("Bearer {}", tokens.get(scope)?.expose_str()?)
            }
            _ => return None,
        };
        let mut h = HeaderValue::from_str(&value).ok()?;
        h.set_sensitive(true);
        Some(h)
    }

    /// Answers a 401 challenge: remembers the scheme and, for Bearer, fetches a token for
    /// `scope`. Returns whether retrying the request can help.
    async fn authenticate(&self, headers: &HeaderMap, scope: &str) -> Result<bool, OciError> {
        let Some(challenge) = headers.get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).and_then(parse_challenge)
        else {
            return Ok(false);
        };
        *lock(&self.challenge) = Some(challenge.clone());
        match challenge {
            Challenge::Basic => Ok(matches!(self.config.auth, RegistryAuth::Basic { .. })),
            Challenge::Bearer { realm, service } => {
                if matches!(self.config.auth, RegistryAuth::Bearer { .. }) {
                    return Ok(false);
                }
                let mut url =
                    Url::parse(&realm).map_err(|e| OciError::invalid("token realm", format!("`{realm}`: {e}")))?;
                {
                    let mut q = url.query_pairs_mut();
                    if let Some(s) = &service {
                        q.append_pair("service", s);
                    }
                    if !scope.is_empty() {
                        q.append_pair("scope", scope);
                    }
                }
                let mut req = self.client.get(url);
                if let RegistryAuth::Basic { username, password } = &self.config.auth {
                    req = req.basic_auth(username, Some(String::from_utf8_lossy(password.expose())));
                }
                self.counters.token.fetch_add(1, Ordering::Relaxed);
                let resp = req.send().await.map_err(|e| self.transient(format!("token request: {e}"), 1, None))?;
                let status = resp.status();
                let body = resp.bytes().await.unwrap_or_default();
                if !status.is_success() {
                    return Err(OciError::Unauthorized {
                        registry: self.registry.to_string(),
                        message: format!("token endpoint answered {status}: {}", registry_message(status, &body)),
                    });
                }
                #[derive(serde::Deserialize)]
                struct Token {
                    token: Option<String>,
                    access_token: Option<String>,
                }
                let t: Token = serde_json::from_slice(&body).map_err(|e| OciError::Unauthorized {
                    registry: self.registry.to_string(),
                    message: format!("unreadable token response: {e}"),
                })?;
                let Some(token) = t.token.or(t.access_token) else {
                    return Err(OciError::Unauthorized {
                        registry: self.registry.to_string(),
                        message: "token response holds no token".into(),
                    });
                };
                lock(&self.tokens).insert(scope.to_owned(), SecretValue::from_string(token));
                Ok(true)
            }
        }
    }

    /// Sends a request with auth and retries. Returns any response that is not a transient
    /// failure (the caller interprets the status).
    async fn send(
        &self,
        method: Method,
        url: Url,
        scope: &str,
        headers: HeaderMap,
        body: Option<Bytes>,
    ) -> Result<reqwest::Response, OciError> {
        let policy = self.config.retry;
        let mut attempt: u32 = 0;
        let mut authed = false;
        loop {
            let mut req = self.client.request(method.clone(), url.clone()).headers(headers.clone());
            // Credentials go only to the registry itself, never to another host named in a
            // `Location` header.
            let same_origin = url.host_str() == self.base.host_str()
                && url.port_or_known_default() == self.base.port_or_known_default();
            if same_origin && let Some(h) = self.auth_header(scope) {
                req = req.header(AUTHORIZATION, h);
            }
            let len = body.as_ref().map_or(0, Bytes::len);
            if let Some(b) = &body {
                req = req.body(b.clone());
            }
            self.count(&method, len);
            tracing::debug!(method = %method, path = url.path(), attempt, "registry request");
            let failure = match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    if status == StatusCode::UNAUTHORIZED && !authed {
                        authed = true;
                        if self.authenticate(resp.headers(), scope).await? {
                            continue;
                        }
                        return Ok(resp);
                    }
                    if classify_http_status(status.as_u16()) == ErrorClass::Persistent {
                        return Ok(resp);
                    }
                    let text = resp.bytes().await.unwrap_or_default();
                    (format!("{method} {} answered {status}: {}", url.path(), registry_message(status, &text)), None)
                }
                Err(e) => {
                    let kind = if e.is_timeout() {
                        "timed out"
                    } else if e.is_connect() {
                        "connection failed"
                    } else {
                        "failed"
                    };
                    let source: forge_core::BoxError = Box::new(e);
                    (format!("{method} {} {kind}", url.path()), Some(source))
                }
            };
            if !policy.should_retry(attempt, ErrorClass::Transient) {
                return Err(self.transient(failure.0, attempt + 1, failure.1));
            }
            let delay = policy.delay(attempt, &mut rand_rng());
            tracing::debug!(delay_ms = delay.as_millis() as u64, "retrying: {}", failure.0);
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// Turns a non-expected status into the right error, with the registry's message.
    async fn expect(
        &self,
        resp: reqwest::Response,
        ok: &[StatusCode],
        what: &str,
    ) -> Result<reqwest::Response, OciError> {
        let status = resp.status();
        if ok.contains(&status) {
            return Ok(resp);
        }
        let body = resp.bytes().await.unwrap_or_default();
        let message = registry_message(status, &body);
        let registry = self.registry.to_string();
        Err(match status {
            StatusCode::UNAUTHORIZED => OciError::Unauthorized { registry, message: format!("{what}: {message}") },
            StatusCode::FORBIDDEN => OciError::Denied { registry, message: format!("{what}: {message}") },
            StatusCode::NOT_FOUND => {
                OciError::NotFound { what: what.to_owned(), message: Some(format!("{registry}: {message}")) }
            }
            _ => OciError::Registry { registry, status: status.as_u16(), message: format!("{what}: {message}") },
        })
    }

    /// Reads a body up to `limit` bytes.
    async fn read_limited(&self, mut resp: reqwest::Response, limit: u64, what: &str) -> Result<Bytes, OciError> {
        if let Some(len) = resp.content_length()
            && len > limit
        {
            return Err(OciError::LimitExceeded { what: format!("size of {what}"), limit, actual: len });
        }
        let mut buf = Vec::with_capacity(resp.content_length().map_or(0, |l| l as usize));
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if (buf.len() + chunk.len()) as u64 > limit {
                        return Err(OciError::LimitExceeded {
                            what: format!("size of {what}"),
                            limit,
                            actual: (buf.len() + chunk.len()) as u64,
                        });
                    }
                    buf.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(Bytes::from(buf)),
                Err(e) => return Err(self.transient(format!("reading {what}: {e}"), 1, None)),
            }
        }
    }

    async fn upload(&self, repository: &str, digest: &Digest, data: Bytes) -> Result<(), OciError> {
        let name = self.name(repository);
        let scope = format!("repository:{name}:pull,push");
        let url = self.url(&format!("v2/{name}/blobs/uploads/"))?;
        let resp = self.send(Method::POST, url, &scope, HeaderMap::new(), None).await?;
        let resp =
            self.expect(resp, &[StatusCode::ACCEPTED, StatusCode::CREATED], &format!("upload of {digest}")).await?;
        if resp.status() == StatusCode::CREATED {
            return Ok(());
        }
        let location = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| OciError::Registry {
                registry: self.registry.to_string(),
                status: 202,
                message: "upload session without a Location header".into(),
            })?
            .to_owned();
        let mut put_url =
            self.url(&format!("v2/{name}/blobs/uploads/"))?.join(&location).map_err(|e| OciError::Registry {
                registry: self.registry.to_string(),
                status: 202,
                message: format!("bad upload Location `{}`: {e}", truncate(&location, 200)),
            })?;
        put_url.query_pairs_mut().append_pair("digest", digest.as_str());
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
        let resp = self.send(Method::PUT, put_url, &scope, headers, Some(data)).await?;
        self.expect(
            resp,
            &[StatusCode::CREATED, StatusCode::NO_CONTENT, StatusCode::OK],
            &format!("upload of {digest}"),
        )
        .await?;
        Ok(())
    }
}

fn zeroize_vec(mut v: Vec<u8>) {
    for b in v.iter_mut() {
        *b = 0;
    }
    std::hint::black_box(&v);
}

/// A jitter source seeded from the clock (jitter needs no cryptographic randomness).
fn rand_rng() -> rand::rngs::StdRng {
    use rand::SeedableRng;
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    rand::rngs::StdRng::seed_from_u64(nanos ^ SEQ.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed))
}

#[async_trait]
impl ImageStore for RegistryStore {
    async fn has_blob(&self, repository: &str, digest: &str) -> forge_core::Result<bool> {
        let digest: Digest = digest.parse()?;
        let name = self.name(repository);
        let url = self.url(&format!("v2/{name}/blobs/{digest}"))?;
        let resp = self.send(Method::HEAD, url, &format!("repository:{name}:pull"), HeaderMap::new(), None).await?;
        match resp.status() {
            StatusCode::OK => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self
                .expect(resp, &[], &format!("blob {digest}"))
                .await
                .err()
                .unwrap_or_else(|| OciError::manifest("unreachable"))
                .into()),
        }
    }

    async fn put_blob(&self, repository: &str, digest: &str, data: Bytes) -> forge_core::Result<()> {
        let digest: Digest = digest.parse()?;
        digest.verify("uploaded blob", &data)?;
        Ok(self.upload(repository, &digest, data).await?)
    }

    async fn get_blob(&self, repository: &str, digest: &str) -> forge_core::Result<Bytes> {
        let digest: Digest = digest.parse()?;
        let name = self.name(repository);
        let url = self.url(&format!("v2/{name}/blobs/{digest}"))?;
        let resp = self.send(Method::GET, url, &format!("repository:{name}:pull"), HeaderMap::new(), None).await?;
        let what = format!("blob {name}@{digest}");
        let resp = self.expect(resp, &[StatusCode::OK], &what).await?;
        let data = self.read_limited(resp, self.config.max_blob_bytes, &what).await?;
        digest.verify(&what, &data)?;
        Ok(data)
    }

    async fn put_manifest(
        &self,
        repository: &str,
        reference: &str,
        media_type: &str,
        bytes: Bytes,
    ) -> forge_core::Result<String> {
        let digest = Digest::of(&bytes);
        if Digest::is_digest_reference(reference) {
            let want: Digest = reference.parse()?;
            if want != digest {
                return Err(OciError::DigestMismatch {
                    what: "manifest".into(),
                    expected: want.to_string(),
                    actual: digest.to_string(),
                }
                .into());
            }
        }
        let name = self.name(repository);
        let url = self.url(&format!("v2/{name}/manifests/{reference}"))?;
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_str(media_type)
                .map_err(|_| OciError::invalid("media type", format!("`{media_type}`")))?,
        );
        let resp = self.send(Method::PUT, url, &format!("repository:{name}:pull,push"), headers, Some(bytes)).await?;
        let resp =
            self.expect(resp, &[StatusCode::CREATED, StatusCode::OK], &format!("manifest {name}:{reference}")).await?;
        if let Some(d) = resp.headers().get("docker-content-digest").and_then(|v| v.to_str().ok())
            && d != digest.as_str()
        {
            return Err(OciError::DigestMismatch {
                what: format!("manifest {name}:{reference} (digest reported by the registry)"),
                expected: digest.to_string(),
                actual: d.to_owned(),
            }
            .into());
        }
        Ok(digest.to_string())
    }

    async fn get_manifest(&self, repository: &str, reference: &str) -> forge_core::Result<StoredManifest> {
        let name = self.name(repository);
        let url = self.url(&format!("v2/{name}/manifests/{reference}"))?;
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static(MANIFEST_ACCEPT));
        let resp = self.send(Method::GET, url, &format!("repository:{name}:pull"), headers, None).await?;
        let what = format!("manifest {name}:{reference}");
        let resp = self.expect(resp, &[StatusCode::OK], &what).await?;
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.split(';').next().unwrap_or(s).trim().to_owned());
        let header_digest =
            resp.headers().get("docker-content-digest").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let bytes = self.read_limited(resp, MAX_MANIFEST_BYTES as u64, &what).await?;
        let media_type = match content_type {
            Some(ct) if ct.starts_with("application/vnd.") => ct,
            _ => sniff_media_type(&bytes),
        };
        let digest = header_digest.unwrap_or_else(|| Digest::of(&bytes).to_string());
        Ok(StoredManifest { bytes, media_type, digest })
    }

    async fn list_tags(&self, repository: &str) -> forge_core::Result<Vec<String>> {
        #[derive(serde::Deserialize)]
        struct Tags {
            tags: Option<Vec<String>>,
        }
        let name = self.name(repository);
        let mut url = self.url(&format!("v2/{name}/tags/list"))?;
        let mut all = Vec::new();
        for _ in 0..1000 {
            let resp =
                self.send(Method::GET, url.clone(), &format!("repository:{name}:pull"), HeaderMap::new(), None).await?;
            let resp = self.expect(resp, &[StatusCode::OK], &format!("repository {name}")).await?;
            let next = resp
                .headers()
                .get(reqwest::header::LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| l.split_once('<').and_then(|(_, r)| r.split_once('>')).map(|(u, _)| u.to_owned()));
            let body = self.read_limited(resp, 16 * 1024 * 1024, "tag list").await?;
            let t: Tags = serde_json::from_slice(&body).map_err(|e| OciError::Registry {
                registry: self.registry.to_string(),
                status: 200,
                message: format!("unreadable tag list: {e}"),
            })?;
            all.extend(t.tags.unwrap_or_default());
            match next {
                Some(n) => url = url.join(&n).map_err(|e| OciError::invalid("tag list link", e.to_string()))?,
                None => break,
            }
        }
        all.sort();
        all.dedup();
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        match parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#,
        ) {
            Some(Challenge::Bearer { realm, service }) => {
                assert_eq!(realm, "https://auth.example/token");
                assert_eq!(service.as_deref(), Some("registry.example"));
            }
            _ => panic!("bearer not parsed"),
        }
        assert!(matches!(parse_challenge(r#"Basic realm="forge-test""#), Some(Challenge::Basic)));
        assert!(parse_challenge("Negotiate").is_none());
    }

    #[test]
    fn loopback() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost"));
        assert!(!is_loopback("registry.example"));
    }

    #[test]
    fn auth_debug_redacts() {
        let a = RegistryAuth::Basic { username: "forge".into(), password: SecretValue::from_string("s3cret".into()) };
        assert!(!format!("{a:?}").contains("s3cret"));
    }
}
