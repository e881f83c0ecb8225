//! The core of `forge-cmp`, the Argo CD config management plugin (SPEC §6.6).
//!
//! [`generate`] reads the `release.yaml` pointer in the application's source directory, pulls
//! the release image by commit SHA from the configured store (an OCI registry, or an on-disk OCI
//! image layout with `oci:PATH`), verifies every digest (manifest, layers, and the resources
//! digest in the metadata), checks that the image is the release the pointer names, extracts the
//! resources layer safely and returns the manifests as one YAML stream.
//!
//! A content-addressed cache keyed by manifest digest holds the verified output: a refresh of an
//! unchanged pointer costs one manifest request (to resolve the tag), and none at all when tags
//! are immutable by policy ([`CmpOptions::immutable_tags`]) and the SHA was seen before.
//!
//! Every failure is a [`CmpError`] whose `Display` is one line naming the problem.
//!
//! ```
//! use forge_gitops::cmp::inject_namespace;
//!
//! let stream = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n";
//! let out = String::from_utf8(inject_namespace(stream, "shop-web")?)?;
//! assert!(out.contains("namespace: shop-web"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use forge_core::ports::{ImageStore, SecretValue};
use forge_core::retry::RetryPolicy;
use forge_core::{CanonicalId, Namespace, ProjectName, Registry, ReleaseRef, Repository};
use forge_oci::{
    Digest, ExtractLimits, LayoutStore, OciError, RegistryAuth, RegistryConfig, RegistryStore, is_content_error,
    pull_release,
};
use serde_yaml::Value;
use sha2::{Digest as _, Sha256};

use crate::error::GitopsError;
use crate::pointer::ReleasePointer;

/// The pointer file name Argo CD's discovery matches.
pub const POINTER_FILE: &str = "release.yaml";

/// Why `forge-cmp generate` failed. `Display` is one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CmpError {
    /// The pointer is missing or invalid (the message names the file and field).
    #[error("pointer invalid: {0}")]
    Pointer(String),
    /// A signature is required and the release image has no valid one from a trusted key.
    #[error("signature policy refused {reference}: {message}")]
    Signature {
        /// The release image.
        reference: String,
        /// Why (the one-line reason of the policy).
        message: String,
    },
    /// A plugin setting is missing or invalid.
    #[error("configuration: {name}: {message}")]
    Config {
        /// The environment variable or parameter.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// The image (tag) does not exist.
    #[error("release image {reference} not found{}", detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    ImageMissing {
        /// The image reference.
        reference: String,
        /// The store's message.
        detail: Option<String>,
    },
    /// A digest did not verify.
    #[error("digest mismatch in {reference}: {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The image reference.
        reference: String,
        /// What was checked.
        what: String,
        /// Expected digest.
        expected: String,
        /// Actual digest.
        actual: String,
    },
    /// The image is not a valid release, or its resources layer is unsafe or too large.
    #[error("release image {reference} rejected: {message}")]
    InvalidRelease {
        /// The image reference.
        reference: String,
        /// What is wrong.
        message: String,
    },
    /// The image is a release, but not the one the pointer names.
    #[error(
        "release image {reference} does not match the pointer: {field}: pointer says `{expected}`, image says `{actual}`"
    )]
    Mismatch {
        /// The image reference.
        reference: String,
        /// The field compared.
        field: String,
        /// The pointer's value.
        expected: String,
        /// The image's value.
        actual: String,
    },
    /// The registry could not be reached (after retries) or refused access.
    #[error("registry {registry} unreachable: {message}")]
    Unreachable {
        /// The registry or layout.
        registry: String,
        /// The last failure.
        message: String,
    },
    /// The registry refused the credentials or access.
    #[error("registry {registry} denied access: {message}")]
    Denied {
        /// The registry.
        registry: String,
        /// The registry's message.
        message: String,
    },
    /// The cache directory or output could not be written.
    #[error("{path}: {message}")]
    Io {
        /// Path.
        path: String,
        /// OS message.
        message: String,
    },
}

/// Where release images come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// An OCI distribution registry (`host[:port][/prefix]`).
    Registry(Registry),
    /// An on-disk OCI image layout (`oci:PATH`).
    Layout(PathBuf),
}

impl std::fmt::Display for ImageSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Registry(r) => write!(f, "{r}"),
            Self::Layout(p) => write!(f, "oci:{}", p.display()),
        }
    }
}

/// Registry credentials read from a mounted file (never printed).
#[derive(Clone, Default)]
pub struct Credentials {
    username: String,
    password: Option<SecretValue>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, <redacted>)", self.username)
    }
}

impl Credentials {
    /// Reads a credentials file: either one line `username:password`, or a Docker
    /// `config.json` with `auths.<host>.auth` (base64 `username:password`) for `host`.
    pub fn from_file(path: &Path, host: &str) -> Result<Self, CmpError> {
        let name = "ARGOCD_ENV_FORGE_REGISTRY_CREDENTIALS";
        let bytes = std::fs::read(path).map_err(|e| CmpError::Config {
            name: name.into(),
            message: format!("cannot read {}: {e}", path.display()),
        })?;
        let text = String::from_utf8(bytes)
            .map_err(|_| CmpError::Config { name: name.into(), message: format!("{} is not UTF-8", path.display()) })?;
        let pair = if text.trim_start().starts_with('{') {
            let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| CmpError::Config {
                name: name.into(),
                message: format!("{} is not a Docker config.json: {e}", path.display()),
            })?;
            let auth = v.get("auths").and_then(|a| a.get(host)).and_then(|h| h.get("auth")).and_then(|a| a.as_str());
            let auth = auth.ok_or_else(|| CmpError::Config {
                name: name.into(),
                message: format!("{} has no auths.\"{host}\".auth", path.display()),
            })?;
            let raw = base64::engine::general_purpose::STANDARD.decode(auth.trim()).map_err(|_| CmpError::Config {
                name: name.into(),
                message: format!("auths.\"{host}\".auth in {} is not base64", path.display()),
            })?;
            String::from_utf8(raw).unwrap_or_default()
        } else {
            text.lines().next().unwrap_or_default().to_owned()
        };
        let Some((user, pass)) = pair.split_once(':') else {
            return Err(CmpError::Config {
                name: name.into(),
                message: format!("{}: expected `username:password`", path.display()),
            });
        };
        Ok(Self { username: user.to_owned(), password: Some(SecretValue::from_string(pass.to_owned())) })
    }
}

/// Settings of one `generate` run, usually from Argo CD's environment ([`CmpOptions::from_env`]).
#[derive(Debug, Clone)]
pub struct CmpOptions {
    /// Where release images come from.
    pub source: ImageSource,
    /// The project's repository (`owner/name`); from the source path when not set explicitly.
    pub repository: Option<Repository>,
    /// The application's source path in the GitOps repository
    /// (`environments/<env>/<owner>/<name>/<project>`), checked against the pointer.
    pub source_path: Option<String>,
    /// Add `metadata.namespace: <name>-<project>` to namespaced resources without one.
    pub inject_namespace: bool,
    /// Cache directory; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// Tags are immutable by registry policy: a cached SHA needs no network at all.
    pub immutable_tags: bool,
    /// Registry credentials.
    pub credentials: Option<Credentials>,
    /// Retries for transient registry failures.
    pub retry: RetryPolicy,
    /// Limits on the resources layer.
    pub limits: ExtractLimits,
    /// Require a valid cosign signature from one of these keys before printing anything
    /// (`ARGOCD_ENV_FORGE_SIGNATURE_KEYS`, or `FORGE_SIGNATURE_KEYS` set on the sidecar, which
    /// wins; see [`forge_oci::sign::Policy`]).
    pub signature_policy: Option<forge_oci::sign::Policy>,
}

impl CmpOptions {
    /// Options with defaults for `source`: no namespace injection, no cache, mutable tags.
    pub fn new(source: ImageSource) -> Self {
        Self {
            source,
            repository: None,
            source_path: None,
            inject_namespace: false,
            cache_dir: None,
            immutable_tags: false,
            credentials: None,
            retry: RetryPolicy::default(),
            limits: ExtractLimits::default(),
            signature_policy: None,
        }
    }

    /// Reads the options from the environment Argo CD gives a plugin:
    ///
    /// | variable | meaning |
    /// |---|---|
    /// | `ARGOCD_ENV_FORGE_REGISTRY` | registry host (`host[:port][/prefix]`) or `oci:PATH` (required) |
    /// | `ARGOCD_ENV_FORGE_REPOSITORY` | `owner/name`, when the source path does not give it |
    /// | `ARGOCD_APP_SOURCE_PATH` | `environments/<env>/<owner>/<name>/<project>` |
    /// | `ARGOCD_ENV_FORGE_CACHE_DIR` | cache directory (default `$XDG_CACHE_HOME/forge-cmp`, `$HOME/.cache/forge-cmp`); `off` disables |
    /// | `ARGOCD_ENV_FORGE_IMMUTABLE_TAGS` | `true`: tags never move, a cached SHA needs no network |
    /// | `ARGOCD_ENV_FORGE_INJECT_NAMESPACE`, parameter `inject-namespace` | `true`: namespace injection |
    /// | `ARGOCD_ENV_FORGE_REGISTRY_CREDENTIALS` | file with `user:password` or a Docker `config.json` |
    /// | `ARGOCD_ENV_FORGE_RETRY_ATTEMPTS`, `ARGOCD_ENV_FORGE_RETRY_BASE_MS` | registry retry policy |
    /// | `ARGOCD_ENV_FORGE_SIGNATURE_KEYS` (`FORGE_SIGNATURE_KEYS` on the sidecar wins) | comma-separated PEM public keys: refuse releases without a valid cosign signature from one of them |
    ///
    /// Parameters come as `PARAM_<NAME>` (upper case, `-` → `_`) or in the JSON list
    /// `ARGOCD_APP_PARAMETERS`; a parameter wins over the `ARGOCD_ENV_FORGE_*` variable.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, CmpError> {
        let cfg = |name: &str, message: String| CmpError::Config { name: name.to_owned(), message };
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let registry = get("ARGOCD_ENV_FORGE_REGISTRY")
            .ok_or_else(|| cfg("ARGOCD_ENV_FORGE_REGISTRY", "not set (a registry host, or oci:PATH)".into()))?;
        let source = match registry.strip_prefix("oci:") {
            Some(path) => ImageSource::Layout(PathBuf::from(path)),
            None => ImageSource::Registry(
                registry
                    .trim()
                    .parse()
                    .map_err(|e: forge_core::IdError| cfg("ARGOCD_ENV_FORGE_REGISTRY", e.to_string()))?,
            ),
        };
        let mut o = Self::new(source);
        if let Some(r) = get("ARGOCD_ENV_FORGE_REPOSITORY") {
            o.repository = Some(
                r.trim().parse().map_err(|e: forge_core::IdError| cfg("ARGOCD_ENV_FORGE_REPOSITORY", e.to_string()))?,
            );
        }
        o.source_path = get("ARGOCD_APP_SOURCE_PATH");
        let params = parameters(get("ARGOCD_APP_PARAMETERS").as_deref())?;
        let flag = |param: &str, var: &str| -> Result<bool, CmpError> {
            let env_param = format!("PARAM_{}", param.to_ascii_uppercase().replace('-', "_"));
            let (name, value) = match (params.get(param), get(&env_param), get(var)) {
                (Some(v), _, _) => (param.to_owned(), Some(v.clone())),
                (None, Some(v), _) => (env_param, Some(v)),
                (None, None, Some(v)) => (var.to_owned(), Some(v)),
                _ => return Ok(false),
            };
            match value.as_deref().map(|v| v.trim().to_ascii_lowercase()).as_deref() {
                Some("true" | "1" | "yes" | "on") => Ok(true),
                Some("false" | "0" | "no" | "off") => Ok(false),
                other => Err(cfg(&name, format!("expected true or false, found `{}`", other.unwrap_or_default()))),
            }
        };
        o.inject_namespace = flag("inject-namespace", "ARGOCD_ENV_FORGE_INJECT_NAMESPACE")?;
        o.immutable_tags = flag("immutable-tags", "ARGOCD_ENV_FORGE_IMMUTABLE_TAGS")?;
        o.cache_dir = match get("ARGOCD_ENV_FORGE_CACHE_DIR") {
            Some(d) if d == "off" => None,
            Some(d) => Some(PathBuf::from(d)),
            None => get("XDG_CACHE_HOME")
                .map(|x| PathBuf::from(x).join("forge-cmp"))
                .or_else(|| get("HOME").map(|h| PathBuf::from(h).join(".cache").join("forge-cmp"))),
        };
        if let Some(attempts) = get("ARGOCD_ENV_FORGE_RETRY_ATTEMPTS") {
            o.retry.attempts = attempts.trim().parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                cfg("ARGOCD_ENV_FORGE_RETRY_ATTEMPTS", format!("`{attempts}` is not a positive integer"))
            })?;
        }
        if let Some(ms) = get("ARGOCD_ENV_FORGE_RETRY_BASE_MS") {
            let ms: u64 = ms.trim().parse().map_err(|_| {
                cfg("ARGOCD_ENV_FORGE_RETRY_BASE_MS", format!("`{ms}` is not a number of milliseconds"))
            })?;
            o.retry.base = Duration::from_millis(ms);
            o.retry.jitter = Duration::from_millis(ms.min(1000));
        }
        if let Some(file) = get("ARGOCD_ENV_FORGE_REGISTRY_CREDENTIALS") {
            let host = match &o.source {
                ImageSource::Registry(r) => r.host().to_owned(),
                ImageSource::Layout(_) => String::new(),
            };
            o.credentials = Some(Credentials::from_file(Path::new(&file), &host)?);
        }
        o.signature_policy = forge_oci::sign::Policy::from_lookup(get)
            .map_err(|e| cfg("ARGOCD_ENV_FORGE_SIGNATURE_KEYS", e.to_string()))?;
        Ok(o)
    }
}

/// `ARGOCD_APP_PARAMETERS`: `[{"name": "...", "string": "..."}]`.
fn parameters(json: Option<&str>) -> Result<BTreeMap<String, String>, CmpError> {
    let mut out = BTreeMap::new();
    let Some(json) = json else { return Ok(out) };
    let v: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| CmpError::Config { name: "ARGOCD_APP_PARAMETERS".into(), message: format!("not JSON: {e}") })?;
    for p in v.as_array().into_iter().flatten() {
        if let (Some(name), Some(value)) =
            (p.get("name").and_then(|n| n.as_str()), p.get("string").and_then(|s| s.as_str()))
        {
            out.insert(name.to_owned(), value.to_owned());
        }
    }
    Ok(out)
}

/// What [`generate`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// The manifests, one YAML stream.
    pub manifests: Vec<u8>,
    /// The release image reference.
    pub reference: String,
    /// The manifest digest.
    pub digest: String,
    /// Whether the output came from the cache.
    pub cached: bool,
    /// Whether any network (or layout) access happened.
    pub network: bool,
}

/// Resolves the repository and project for a pointer from the options or the directory.
fn identify(dir: &Path, pointer: &ReleasePointer, opts: &CmpOptions) -> Result<CanonicalId, CmpError> {
    let from_path = |p: &str| -> Option<(String, String, String, String)> {
        let parts: Vec<&str> = p.trim_matches('/').split('/').filter(|s| !s.is_empty() && *s != ".").collect();
        let n = parts.len();
        (n >= 5 && parts[n - 5] == "environments").then(|| {
            (parts[n - 4].to_owned(), parts[n - 3].to_owned(), parts[n - 2].to_owned(), parts[n - 1].to_owned())
        })
    };
    let located = opts.source_path.as_deref().and_then(from_path).or_else(|| dir.to_str().and_then(from_path));
    if let Some((env, _, _, project)) = &located {
        if env != pointer.environment.as_str() {
            return Err(CmpError::Pointer(format!(
                "{POINTER_FILE}: metadata.environment: `{}` but the pointer sits under environments/{env}/",
                pointer.environment
            )));
        }
        if project != pointer.name.as_str() {
            return Err(CmpError::Pointer(format!(
                "{POINTER_FILE}: metadata.name: `{}` but the pointer sits in directory `{project}`",
                pointer.name
            )));
        }
    }
    let repository = match (&opts.repository, &located) {
        (Some(r), _) => r.clone(),
        (None, Some((_, owner, name, _))) => Repository::new(owner, name)
            .map_err(|e| CmpError::Config { name: "ARGOCD_APP_SOURCE_PATH".into(), message: e.to_string() })?,
        (None, None) => {
            return Err(CmpError::Config {
                name: "ARGOCD_ENV_FORGE_REPOSITORY".into(),
                message: "not set, and the source path is not environments/<env>/<owner>/<name>/<project>".into(),
            });
        }
    };
    let project: ProjectName = pointer.name.clone();
    Ok(CanonicalId::new(repository, project, pointer.release))
}

fn io(path: &Path, e: &std::io::Error) -> CmpError {
    CmpError::Io { path: path.display().to_string(), message: e.to_string() }
}

/// Reads and parses `<dir>/release.yaml`.
pub fn read_pointer(dir: &Path) -> Result<ReleasePointer, CmpError> {
    let path = dir.join(POINTER_FILE);
    let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => CmpError::Pointer(format!("no {POINTER_FILE} in {}", dir.display())),
        _ => CmpError::Pointer(format!("{}: {e}", path.display())),
    })?;
    ReleasePointer::parse(POINTER_FILE, &bytes).map_err(|e: GitopsError| CmpError::Pointer(e.to_string()))
}

/// The cache: `<dir>/manifests/<hex>.yaml` (first line `sha256:<hex of the rest>`), and
/// `<dir>/tags/<hex of source+ref>` holding a manifest digest.
struct Cache<'a> {
    dir: &'a Path,
}

impl Cache<'_> {
    fn output_path(&self, digest: &str) -> Option<PathBuf> {
        let hex = digest.strip_prefix("sha256:")?;
        (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| self.dir.join("manifests").join(format!("{hex}.yaml")))
    }

    fn tag_path(&self, source: &ImageSource, reference: &str) -> PathBuf {
        let key = hex::encode(Sha256::digest(format!("{source}\n{reference}").as_bytes()));
        self.dir.join("tags").join(key)
    }

    /// A verified cached output, or `None` (a corrupt entry is ignored).
    fn get(&self, digest: &str) -> Option<Vec<u8>> {
        let data = std::fs::read(self.output_path(digest)?).ok()?;
        let nl = data.iter().position(|b| *b == b'\n')?;
        let want = std::str::from_utf8(&data[..nl]).ok()?.strip_prefix("sha256:")?;
        let body = &data[nl + 1..];
        (hex::encode(Sha256::digest(body)) == want).then(|| body.to_vec())
    }

    fn tag(&self, source: &ImageSource, reference: &str) -> Option<String> {
        let d = std::fs::read_to_string(self.tag_path(source, reference)).ok()?;
        let d = d.trim().to_owned();
        self.output_path(&d).map(|_| d)
    }

    fn put(&self, source: &ImageSource, reference: &str, digest: &str, body: &[u8]) -> Result<(), CmpError> {
        let Some(path) = self.output_path(digest) else { return Ok(()) };
        let mut data = format!("sha256:{}\n", hex::encode(Sha256::digest(body))).into_bytes();
        data.extend_from_slice(body);
        write_atomic(&path, &data)?;
        write_atomic(&self.tag_path(source, reference), digest.as_bytes())
    }
}

fn write_atomic(path: &Path, data: &[u8]) -> Result<(), CmpError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io(dir, &e))?;
    let tmp = dir.join(format!(".tmp-{}-{}", std::process::id(), rand::random::<u64>()));
    let mut f = std::fs::File::create(&tmp).map_err(|e| io(&tmp, &e))?;
    f.write_all(data).map_err(|e| io(&tmp, &e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(path, &e)
    })
}

fn store_for(opts: &CmpOptions) -> Result<Box<dyn ImageStore>, CmpError> {
    match &opts.source {
        ImageSource::Layout(path) => {
            if !path.join("index.json").is_file() {
                return Err(CmpError::Unreachable {
                    registry: opts.source.to_string(),
                    message: "no OCI image layout there (index.json missing)".into(),
                });
            }
            let store = LayoutStore::open(path)
                .map_err(|e| CmpError::Unreachable { registry: opts.source.to_string(), message: e.to_string() })?;
            Ok(Box::new(store))
        }
        ImageSource::Registry(registry) => {
            let auth = match &opts.credentials {
                Some(Credentials { username, password: Some(p) }) => {
                    RegistryAuth::Basic { username: username.clone(), password: p.clone() }
                }
                _ => RegistryAuth::Anonymous,
            };
            let config = RegistryConfig { auth, retry: opts.retry, ..RegistryConfig::default() };
            let store = RegistryStore::new(registry.clone(), config)
                .map_err(|e| CmpError::Config { name: "ARGOCD_ENV_FORGE_REGISTRY".into(), message: e.to_string() })?;
            Ok(Box::new(store))
        }
    }
}

fn from_core(e: forge_core::Error, reference: &str, source: &ImageSource) -> CmpError {
    use forge_core::Error as E;
    match e {
        E::NotFound { what, .. } => CmpError::ImageMissing { reference: reference.to_owned(), detail: Some(what) },
        E::Transient { message, .. } => CmpError::Unreachable { registry: source.to_string(), message },
        E::Unauthorized { message, .. } | E::PermissionDenied { message, .. } => {
            CmpError::Denied { registry: source.to_string(), message }
        }
        E::Other { source: Some(inner), message, .. } => match inner.downcast::<OciError>() {
            Ok(oci) => from_oci(*oci, reference, source),
            Err(_) => CmpError::Unreachable { registry: source.to_string(), message },
        },
        other => CmpError::InvalidRelease { reference: reference.to_owned(), message: other.to_string() },
    }
}

fn from_oci(e: OciError, reference: &str, source: &ImageSource) -> CmpError {
    let r = reference.to_owned();
    let e = match e {
        OciError::Store(core) => return from_core(core, reference, source),
        other => other,
    };
    if let OciError::DigestMismatch { what, expected, actual } = e {
        return CmpError::DigestMismatch { reference: r, what, expected, actual };
    }
    if is_content_error(&e) {
        return CmpError::InvalidRelease { reference: r, message: e.to_string() };
    }
    match e {
        OciError::NotFound { message, what } => {
            CmpError::ImageMissing { reference: r, detail: Some(message.unwrap_or(what)) }
        }
        OciError::Unauthorized { message, .. } | OciError::Denied { message, .. } => {
            CmpError::Denied { registry: source.to_string(), message }
        }
        other => CmpError::Unreachable { registry: source.to_string(), message: other.to_string() },
    }
}

/// Produces the manifests for the pointer in `dir` (SPEC §6.6).
pub async fn generate(dir: &Path, opts: &CmpOptions) -> Result<Generated, CmpError> {
    let abs = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let pointer = read_pointer(&abs)?;
    let id = identify(&abs, &pointer, opts)?;
    let placeholder: Registry = "local"
        .parse()
        .map_err(|e: forge_core::IdError| CmpError::Config { name: "registry".into(), message: e.to_string() })?;
    let registry = match &opts.source {
        ImageSource::Registry(r) => r.clone(),
        ImageSource::Layout(_) => placeholder,
    };
    let rref = ReleaseRef::new(registry, id.clone());
    let repo_path = rref.repository_path();
    let tag = rref.tag().to_owned();
    let reference = match &opts.source {
        ImageSource::Registry(_) => rref.to_string(),
        ImageSource::Layout(p) => format!("oci:{}:{repo_path}:{tag}", p.display()),
    };
    let cache = opts.cache_dir.as_deref().map(|dir| Cache { dir });
    let tag_key = format!("{repo_path}:{tag}");

    // Immutable tags: a SHA seen before needs no network at all (unless a signature must be
    // checked, which reads the signature artifact from the store).
    if let (Some(c), true, None) = (&cache, opts.immutable_tags, &opts.signature_policy)
        && let Some(digest) = c.tag(&opts.source, &tag_key)
        && let Some(body) = c.get(&digest)
    {
        let manifests = finish(body, &id, opts)?;
        return Ok(Generated { manifests, reference, digest, cached: true, network: false });
    }

    let store = store_for(opts)?;
    // Resolve the tag (one manifest request), then look in the cache by digest.
    let stored = store.get_manifest(&repo_path, &tag).await.map_err(|e| from_core(e, &reference, &opts.source))?;
    let digest = Digest::of(&stored.bytes).to_string();
    if !stored.digest.is_empty() && stored.digest != digest {
        return Err(CmpError::DigestMismatch {
            reference,
            what: "manifest (digest reported by the registry)".into(),
            expected: stored.digest,
            actual: digest,
        });
    }
    if let Some(policy) = &opts.signature_policy {
        let d: Digest = digest.parse().map_err(|e: forge_oci::OciError| CmpError::Signature {
            reference: reference.clone(),
            message: e.to_string(),
        })?;
        policy
            .enforce(store.as_ref(), &repo_path, &d)
            .await
            .map_err(|e| CmpError::Signature { reference: reference.clone(), message: e.to_string() })?;
    }
    if let Some(c) = &cache
        && let Some(body) = c.get(&digest)
    {
        c.put(&opts.source, &tag_key, &digest, &body)?;
        let manifests = finish(body, &id, opts)?;
        return Ok(Generated { manifests, reference, digest, cached: true, network: true });
    }

    // Pull by digest: every blob verified, the metadata's resources digest checked.
    let release =
        pull_release(store.as_ref(), &repo_path, &digest).await.map_err(|e| from_oci(e, &reference, &opts.source))?;
    let meta = &release.metadata.release.canonical_id;
    let checks = [
        ("release.canonicalId.commit", id.commit.to_string(), meta.commit.to_string()),
        ("release.canonicalId.project", id.project.to_string(), meta.project.to_string()),
        (
            "release.canonicalId.repository",
            id.repository.to_string().to_ascii_lowercase(),
            meta.repository.to_string().to_ascii_lowercase(),
        ),
    ];
    for (field, expected, actual) in checks {
        if expected != actual {
            return Err(CmpError::Mismatch { reference, field: field.into(), expected, actual });
        }
    }
    if let Some(n) = pointer.aliases.numeric
        && n != release.metadata.release.number
    {
        return Err(CmpError::Mismatch {
            reference,
            field: "release.number".into(),
            expected: n.to_string(),
            actual: release.metadata.release.number.to_string(),
        });
    }
    let body = release.resources_yaml_stream(&opts.limits).map_err(|e| from_oci(e, &reference, &opts.source))?;
    if let Some(c) = &cache {
        c.put(&opts.source, &tag_key, &digest, &body)?;
    }
    let manifests = finish(body, &id, opts)?;
    Ok(Generated { manifests, reference, digest, cached: false, network: true })
}

fn finish(body: Vec<u8>, id: &CanonicalId, opts: &CmpOptions) -> Result<Vec<u8>, CmpError> {
    if !opts.inject_namespace {
        return Ok(body);
    }
    let ns = Namespace::for_project(&id.repository, &id.project);
    inject_namespace(&body, ns.as_str())
}

/// Kinds without a namespace (left untouched by injection).
const CLUSTER_SCOPED: &[&str] = &[
    "APIService",
    "CertificateSigningRequest",
    "ClusterIssuer",
    "ClusterRole",
    "ClusterRoleBinding",
    "ComponentStatus",
    "CSIDriver",
    "CSINode",
    "CustomResourceDefinition",
    "FlowSchema",
    "IngressClass",
    "MutatingWebhookConfiguration",
    "Namespace",
    "Node",
    "PersistentVolume",
    "PriorityClass",
    "PriorityLevelConfiguration",
    "RuntimeClass",
    "StorageClass",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration",
    "VolumeAttachment",
    "VolumeSnapshotClass",
];

/// Adds `metadata.namespace` to every namespaced document of a YAML stream that has none.
pub fn inject_namespace(stream: &[u8], namespace: &str) -> Result<Vec<u8>, CmpError> {
    let text = std::str::from_utf8(stream).map_err(|_| CmpError::InvalidRelease {
        reference: "resources".into(),
        message: "a resource is not UTF-8".into(),
    })?;
    let mut out = Vec::with_capacity(stream.len() + 64);
    for doc in serde_yaml::Deserializer::from_str(text) {
        let mut v: Value = serde::Deserialize::deserialize(doc)
            .map_err(|e| CmpError::InvalidRelease { reference: "resources".into(), message: e.to_string() })?;
        if v.is_null() {
            continue;
        }
        let kind = v.get("kind").and_then(Value::as_str).unwrap_or_default().to_owned();
        let key = Value::from("namespace");
        if !CLUSTER_SCOPED.contains(&kind.as_str())
            && let Some(meta) = v.get_mut("metadata").and_then(Value::as_mapping_mut)
            && meta.get(&key).is_none_or(Value::is_null)
        {
            meta.insert(key, Value::from(namespace));
        }
        out.extend_from_slice(b"---\n");
        let s = serde_yaml::to_string(&v)
            .map_err(|e| CmpError::InvalidRelease { reference: "resources".into(), message: e.to_string() })?;
        out.extend_from_slice(s.as_bytes());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_from_env() -> Result<(), CmpError> {
        let env: BTreeMap<&str, &str> = [
            ("ARGOCD_ENV_FORGE_REGISTRY", "oci:/var/lib/forge/oci"),
            ("ARGOCD_APP_SOURCE_PATH", "environments/dev/acme/shop/web"),
            ("ARGOCD_ENV_FORGE_INJECT_NAMESPACE", "false"),
            ("ARGOCD_APP_PARAMETERS", r#"[{"name":"inject-namespace","string":"true"}]"#),
            ("ARGOCD_ENV_FORGE_CACHE_DIR", "off"),
            ("ARGOCD_ENV_FORGE_RETRY_ATTEMPTS", "2"),
        ]
        .into_iter()
        .collect();
        let o = CmpOptions::from_env(|k| env.get(k).map(|v| (*v).to_owned()))?;
        assert_eq!(o.source, ImageSource::Layout("/var/lib/forge/oci".into()));
        assert!(o.inject_namespace);
        assert_eq!(o.cache_dir, None);
        assert_eq!(o.retry.attempts, 2);
        let e = CmpOptions::from_env(|_| None).err().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("configuration: ARGOCD_ENV_FORGE_REGISTRY: not set (a registry host, or oci:PATH)")
        );
        let e = CmpOptions::from_env(|k| match k {
            "ARGOCD_ENV_FORGE_REGISTRY" => Some("127.0.0.1:5000".into()),
            "PARAM_INJECT_NAMESPACE" => Some("maybe".into()),
            _ => None,
        })
        .err()
        .map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("configuration: PARAM_INJECT_NAMESPACE: expected true or false, found `maybe`"));
        Ok(())
    }

    #[test]
    fn namespace_injection() -> Result<(), CmpError> {
        let stream = b"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: b\n  namespace: keep\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: c\n";
        let out = inject_namespace(stream, "shop-web")?;
        insta::assert_snapshot!(String::from_utf8_lossy(&out));
        Ok(())
    }
}
