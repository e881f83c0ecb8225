//! Publishers (SPEC §4.3): put a produced artifact somewhere and say where.
//!
//! Every publisher first checks whether the destination already holds the artifact with the
//! same digest and skips the upload if so (idempotent). Credentials are resolved through the
//! secret-provider port at the moment of use, never earlier and never logged.
//!
//! | type | destination | exercised by tests against |
//! |---|---|---|
//! | `docker` | a container image (from the staged OCI layout) to a registry, or to an OCI layout with `registry: "oci:PATH"` | Distribution registry, OCI layout |
//! | `cue` | a CUE module folder as an OCI artifact | Distribution registry, OCI layout |
//! | `github` | a release asset through the GitHub REST API | a local HTTP server implementing the endpoints used |
//! | `local` | a copy under a folder (`file://` URI) | the file system |
//!
//! `forge run` (the embedded default) has no GitHub, docs bucket or package index to talk to: it
//! substitutes the `local` publisher for publisher types that need such a service
//! (`github`, `docs`, `crate`, `pypi`), writing under `.forge-local/published/<publisher>/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use forge_config::schema::PublisherConfig;
use forge_core::ports::{ImageStore, SecretProvider, SecretRef, SecretValue};
use forge_oci::{LayoutStore, RegistryAuth, RegistryConfig, RegistryStore};
use serde_json::{Map, Value, json};

use super::ReleaseError;
use super::producer::ProducerResponse;

/// The git facts a publisher sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishGit {
    /// Commit SHA.
    pub commit_sha: String,
    /// Tag (without the `<project>/` prefix under monorepo tagging).
    pub tag: Option<String>,
    /// Branch.
    pub branch: Option<String>,
}

/// A publish request.
#[derive(Debug, Clone)]
pub struct PublishRequest<'a> {
    /// Project.
    pub project: &'a str,
    /// Repository root.
    pub repo_root: &'a Path,
    /// Git facts.
    pub git: &'a PublishGit,
    /// Release id (canonical triplet).
    pub release_id: &'a str,
    /// The producer's response.
    pub produced: &'a ProducerResponse,
    /// Publisher name.
    pub publisher: &'a str,
    /// Repository-level configuration (with the credential reference).
    pub repo_config: &'a PublisherConfig,
    /// Project-level configuration.
    pub project_config: &'a Value,
}

impl PublishRequest<'_> {
    /// A string field: project level first, then repository level.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.project_config
            .get(name)
            .and_then(Value::as_str)
            .or_else(|| self.repo_config.fields.get(name).and_then(Value::as_str))
    }

    /// A string field that must be set (see [`PublishRequest::field`]).
    pub fn required(&self, name: &str) -> Result<&str, ReleaseError> {
        self.field(name).ok_or_else(|| perr(self.publisher, format!("no `{name}` configured")))
    }
}

/// A publish result.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishResponse {
    /// Where the artifact is.
    pub uri: String,
    /// Publisher metadata (docker: uri, registry, namespace, repository, tag, digest).
    pub metadata: Map<String, Value>,
    /// Whether the upload was skipped because the destination already had it.
    pub skipped: bool,
}

/// Publishes artifacts of one publisher type.
#[async_trait]
pub trait Publisher: Send + Sync {
    /// The publisher type (`docker`, `github`, …).
    fn kind(&self) -> &str;
    /// Publishes (or finds already published) the artifact.
    async fn publish(&self, req: &PublishRequest<'_>) -> Result<PublishResponse, ReleaseError>;
}

/// Resolves credentials at the moment of use.
#[derive(Clone)]
pub struct Credentials(pub Arc<dyn SecretProvider>);

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(..)")
    }
}

impl Credentials {
    /// Resolves a reference for `publisher`; errors name the reference, never a value.
    pub async fn resolve_public(&self, r: &SecretRef, publisher: &str) -> Result<SecretValue, ReleaseError> {
        self.resolve(r, publisher).await
    }

    async fn resolve(&self, r: &SecretRef, publisher: &str) -> Result<SecretValue, ReleaseError> {
        self.0.resolve(r).await.map_err(|e| ReleaseError::Publisher {
            publisher: publisher.to_owned(),
            message: format!("cannot resolve credentials {r}: {e}"),
        })
    }
}

/// A publisher error naming the publisher.
pub(super) fn perr(publisher: &str, message: impl std::fmt::Display) -> ReleaseError {
    ReleaseError::Publisher { publisher: publisher.to_owned(), message: message.to_string() }
}

/// An image store for a `registry` setting: `oci:PATH` (relative to the repository root) is an
/// OCI image layout, anything else a registry host.
pub async fn store_for(
    registry: &str,
    repo_root: &Path,
    credentials: Option<(&SecretRef, &Credentials)>,
    publisher: &str,
) -> Result<Arc<dyn ImageStore>, ReleaseError> {
    if let Some(path) = registry.strip_prefix("oci:") {
        let p = if Path::new(path).is_absolute() { PathBuf::from(path) } else { repo_root.join(path) };
        return Ok(Arc::new(LayoutStore::open(&p).map_err(|e| perr(publisher, e))?));
    }
    let host: forge_core::Registry = registry.parse().map_err(|e| perr(publisher, e))?;
    let auth = match credentials {
        Some((r, c)) => {
            let v = c.resolve(r, publisher).await?;
            let text = v.expose_str().unwrap_or_default();
            match text.split_once(':') {
                Some((user, pass)) => RegistryAuth::Basic {
                    username: user.to_owned(),
                    password: SecretValue::from_string(pass.to_owned()),
                },
                None => RegistryAuth::Bearer { token: SecretValue::from_string(text.to_owned()) },
            }
        }
        None => RegistryAuth::Anonymous,
    };
    let store = RegistryStore::new(host, RegistryConfig { auth, ..RegistryConfig::default() })
        .map_err(|e| perr(publisher, e))?;
    Ok(Arc::new(store))
}

/// The `docker` publisher: copies the staged OCI layout image to a registry (or layout).
///
/// Settings (project level overrides repository level): `registry` (required), `namespace`,
/// `repository` (default: the artifact name), `tag` (default: the git tag alias, else the
/// commit SHA). Credentials, when set, resolve to `user:password` (Basic) or a token (Bearer).
#[derive(Debug, Clone)]
pub struct DockerPublisher {
    credentials: Credentials,
}

impl DockerPublisher {
    /// A docker publisher resolving credentials through `credentials`.
    pub fn new(credentials: Credentials) -> Self {
        Self { credentials }
    }
}

#[async_trait]
impl Publisher for DockerPublisher {
    fn kind(&self) -> &str {
        "docker"
    }
    async fn publish(&self, req: &PublishRequest<'_>) -> Result<PublishResponse, ReleaseError> {
        let p = req.publisher;
        if req.produced.kind != forge_core::model::ArtifactType::Container {
            return Err(perr(
                p,
                format!(
                    "`docker` publishes container artifacts; `{}` is a {}",
                    req.produced.name,
                    req.produced.kind.as_str()
                ),
            ));
        }
        let registry = req.required("registry")?.to_owned();
        let namespace = req.field("namespace").unwrap_or_default().to_owned();
        let name = req.field("repository").unwrap_or(&req.produced.name).to_owned();
        let repository =
            if namespace.is_empty() { name.clone() } else { format!("{namespace}/{name}") }.to_ascii_lowercase();
        let tag = req
            .field("tag")
            .map(str::to_owned)
            .or_else(|| req.git.tag.clone())
            .unwrap_or_else(|| req.git.commit_sha.clone());
        let creds = req.repo_config.credentials.as_ref().map(|c| (c, &self.credentials));
        let dst = store_for(&registry, req.repo_root, creds, p).await?;
        let src = LayoutStore::open(&req.produced.location).map_err(|e| perr(p, e))?;
        let src_tag = req.produced.metadata.get("layout_tag").cloned().unwrap_or_else(|| "latest".into());
        let digest = req.produced.digest.clone();
        let skipped = match dst.get_manifest(&repository, &tag).await {
            Ok(m) => m.digest == digest,
            Err(_) => false,
        };
        if !skipped {
            let copied = forge_oci::copy_image(&src, "", &*dst, &repository, &src_tag, &[tag.as_str()])
                .await
                .map_err(|e| perr(p, e))?;
            if copied.as_str() != digest {
                return Err(perr(p, format!("copied image has digest {copied}, expected {digest}")));
            }
        }
        let uri = format!("{registry}/{repository}:{tag}");
        let metadata = Map::from_iter([
            ("uri".to_owned(), json!(uri)),
            ("registry".to_owned(), json!(registry)),
            ("namespace".to_owned(), json!(namespace)),
            ("repository".to_owned(), json!(repository)),
            ("tag".to_owned(), json!(tag)),
            ("digest".to_owned(), json!(digest)),
        ]);
        Ok(PublishResponse { uri, metadata, skipped })
    }
}

/// The `cue` publisher: pushes the CUE module folder of the artifact (or the project's
/// `.forge` folder when the artifact is an archive of one) as an OCI artifact with media type
/// `application/vnd.cue.module.v1+json` config — the shape CUE's module registry uses — so a
/// module can be fetched with standard OCI tooling.
#[derive(Debug, Clone)]
pub struct CuePublisher {
    credentials: Credentials,
}

impl CuePublisher {
    /// A cue publisher resolving credentials through `credentials`.
    pub fn new(credentials: Credentials) -> Self {
        Self { credentials }
    }
}

#[async_trait]
impl Publisher for CuePublisher {
    fn kind(&self) -> &str {
        "cue"
    }
    async fn publish(&self, req: &PublishRequest<'_>) -> Result<PublishResponse, ReleaseError> {
        let p = req.publisher;
        let registry = req.required("registry")?.to_owned();
        let module = req.field("module").unwrap_or(&req.produced.name).to_owned().to_ascii_lowercase();
        let tag = req
            .git
            .tag
            .clone()
            .unwrap_or_else(|| format!("v0.0.0-{}", &req.git.commit_sha[..12.min(req.git.commit_sha.len())]));
        // The module content: the produced archive as the single layer.
        let data = std::fs::read(&req.produced.location)
            .map_err(|e| perr(p, format!("reading {}: {e}", req.produced.location.display())))?;
        let layer = Bytes::from(data);
        let layer_digest = forge_oci::Digest::of(&layer);
        let config = Bytes::from_static(b"{}");
        let config_digest = forge_oci::Digest::of(&config);
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": "application/vnd.cue.module.v1+json",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config_digest.as_str(), "size": config.len()},
            "layers": [{"mediaType": "application/zip", "digest": layer_digest.as_str(), "size": layer.len()}],
            "annotations": {"org.opencontainers.image.revision": req.git.commit_sha},
        });
        let manifest_bytes = Bytes::from(serde_json::to_vec(&manifest).map_err(|e| perr(p, e))?);
        let digest = forge_oci::Digest::of(&manifest_bytes);
        let creds = req.repo_config.credentials.as_ref().map(|c| (c, &self.credentials));
        let store = store_for(&registry, req.repo_root, creds, p).await?;
        let skipped = matches!(store.get_manifest(&module, &tag).await, Ok(m) if m.digest == digest.as_str());
        if !skipped {
            for (d, b) in [(&config_digest, &config), (&layer_digest, &layer)] {
                if !store.has_blob(&module, d.as_str()).await.map_err(|e| perr(p, e))? {
                    store.put_blob(&module, d.as_str(), b.clone()).await.map_err(|e| perr(p, e))?;
                }
            }
            store
                .put_manifest(&module, &tag, "application/vnd.oci.image.manifest.v1+json", manifest_bytes)
                .await
                .map_err(|e| perr(p, e))?;
        }
        let uri = format!("{registry}/{module}:{tag}");
        let metadata = Map::from_iter([
            ("uri".to_owned(), json!(uri)),
            ("module".to_owned(), json!(module)),
            ("version".to_owned(), json!(tag)),
            ("digest".to_owned(), json!(digest.as_str())),
        ]);
        Ok(PublishResponse { uri, metadata, skipped })
    }
}

/// The `local` publisher: copies the artifact under a folder; the embedded stand-in for
/// publishers whose service is not available locally. Its URI is `file:<path>` relative to the
/// repository root when the folder is inside it (as `.forge-local/published` is).
#[derive(Debug, Clone)]
pub struct LocalPublisher {
    root: PathBuf,
}

impl LocalPublisher {
    /// Publishes under `root/<publisher>/<artifact>/`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }
}

fn copy_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    if src.is_dir() {
        std::fs::create_dir_all(dst)?;
        let mut entries: Vec<_> = std::fs::read_dir(src)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            copy_tree(&e.path(), &dst.join(e.file_name()))?;
        }
        Ok(())
    } else {
        std::fs::copy(src, dst).map(|_| ())
    }
}

#[async_trait]
impl Publisher for LocalPublisher {
    fn kind(&self) -> &str {
        "local"
    }
    async fn publish(&self, req: &PublishRequest<'_>) -> Result<PublishResponse, ReleaseError> {
        let p = req.publisher;
        let name = req
            .produced
            .location
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| req.produced.name.clone());
        let dir = self.root.join(p).join(&req.produced.name).join(&req.git.commit_sha);
        let dst = dir.join(&name);
        let digest_file = dir.join(".digest");
        let skipped = std::fs::read_to_string(&digest_file).map(|d| d.trim() == req.produced.digest).unwrap_or(false)
            && dst.exists();
        if !skipped {
            if dst.exists() {
                let _ = if dst.is_dir() { std::fs::remove_dir_all(&dst) } else { std::fs::remove_file(&dst) };
            }
            std::fs::create_dir_all(&dir).map_err(|e| perr(p, format!("creating {}: {e}", dir.display())))?;
            copy_tree(&req.produced.location, &dst)
                .map_err(|e| perr(p, format!("copying to {}: {e}", dst.display())))?;
            std::fs::write(&digest_file, &req.produced.digest).map_err(|e| perr(p, e))?;
        }
        // Relative to the repository root when inside it, so release metadata does not depend
        // on where the repository is checked out (release images stay reproducible).
        let uri = match dst.strip_prefix(req.repo_root) {
            Ok(rel) => format!("file:{}", rel.display()),
            Err(_) => format!("file://{}", dst.display()),
        };
        let metadata =
            Map::from_iter([("uri".to_owned(), json!(uri)), ("digest".to_owned(), json!(req.produced.digest))]);
        Ok(PublishResponse { uri, metadata, skipped })
    }
}

/// Publishers by type.
#[derive(Clone, Default)]
pub struct PublisherSet {
    by_type: BTreeMap<String, Arc<dyn Publisher>>,
}

impl std::fmt::Debug for PublisherSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.by_type.keys()).finish()
    }
}

impl PublisherSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }
    /// Registers a publisher under a type name (replacing any earlier one).
    pub fn register(&mut self, kind: impl Into<String>, p: Arc<dyn Publisher>) -> &mut Self {
        self.by_type.insert(kind.into(), p);
        self
    }
    /// The publisher for a type.
    pub fn get(&self, kind: &str) -> Option<&Arc<dyn Publisher>> {
        self.by_type.get(kind)
    }
    /// The embedded defaults of `forge run`: `docker` and `cue` (to registries or OCI layouts),
    /// `local` for `github`, `docs`, `crate`, `pypi` under `published`.
    pub fn local_defaults(credentials: Credentials, published: &Path) -> Self {
        let mut s = Self::new();
        let local: Arc<dyn Publisher> = Arc::new(LocalPublisher::new(published));
        s.register("docker", Arc::new(DockerPublisher::new(credentials.clone())));
        s.register("cue", Arc::new(CuePublisher::new(credentials)));
        for k in ["github", "docs", "crate", "pypi", "local"] {
            s.register(k, local.clone());
        }
        s
    }
}
