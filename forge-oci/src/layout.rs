//! The on-disk OCI image layout store (the embedded default).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use bytes::Bytes;
use forge_core::ports::{ImageStore, StoredManifest};

use crate::digest::Digest;
use crate::error::OciError;
use crate::manifest::{ANNOTATION_REF_NAME, Descriptor, ImageIndex, MEDIA_TYPE_OCI_INDEX, sniff_media_type};

const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

/// An OCI image layout directory (`oci-layout`, `index.json`, `blobs/sha256/`) used as an
/// [`ImageStore`].
///
/// One layout holds any number of repositories. A tag `t` of repository `r` is the index entry
/// annotated `org.opencontainers.image.ref.name: r:t`; with the empty repository `""` it is
/// plain `t`, which is what `skopeo copy … oci:DIR:t` writes and reads. Manifests stored by
/// digest get an index entry without a name. Blobs are shared by all repositories.
///
/// Writes are atomic (temporary file, then rename) and `index.json` updates are serialised
/// across every `LayoutStore` of the same directory in the process. Reads verify every digest.
#[derive(Debug, Clone)]
pub struct LayoutStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    lock: Arc<Mutex<()>>,
}

/// One entry of a layout's `index.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutEntry {
    /// The `org.opencontainers.image.ref.name` annotation, if any.
    pub ref_name: Option<String>,
    /// The descriptor of the manifest.
    pub descriptor: Descriptor,
}

fn lock_for(root: &Path) -> Arc<Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>> = OnceLock::new();
    let map = LOCKS.get_or_init(|| Mutex::new(HashMap::new()));
    let mut map = map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    map.entry(root.to_path_buf()).or_insert_with(|| Arc::new(Mutex::new(()))).clone()
}

fn tmp_name(root: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    root.join(format!(".forge-tmp-{}-{n}", std::process::id()))
}

/// Writes `data` to `path` atomically (temporary file in `root`, fsync, rename).
fn write_atomic(root: &Path, path: &Path, data: &[u8]) -> Result<(), OciError> {
    let tmp = tmp_name(root);
    let res = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(OciError::io("write", path, e));
    }
    Ok(())
}

impl LayoutStore {
    /// Opens the layout at `root`, creating it (and `oci-layout`, `index.json`, `blobs/sha256`)
    /// when absent. An existing `oci-layout` must declare version 1.x.
    pub fn open(root: impl AsRef<Path>) -> Result<Self, OciError> {
        let root = root.as_ref();
        std::fs::create_dir_all(root.join("blobs").join("sha256"))
            .map_err(|e| OciError::io("create directory", root, e))?;
        let root = std::fs::canonicalize(root).map_err(|e| OciError::io("resolve", root, e))?;
        let lock = lock_for(&root);
        {
            let _g = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let layout = root.join("oci-layout");
            match std::fs::read(&layout) {
                Ok(b) => {
                    let v: serde_json::Value = serde_json::from_slice(&b)
                        .map_err(|e| OciError::manifest(format!("{}: {e}", layout.display())))?;
                    let version = v.get("imageLayoutVersion").and_then(|v| v.as_str()).unwrap_or("");
                    if !version.starts_with("1.") {
                        return Err(OciError::manifest(format!(
                            "{}: unsupported imageLayoutVersion `{version}`",
                            layout.display()
                        )));
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => write_atomic(&root, &layout, OCI_LAYOUT)?,
                Err(e) => return Err(OciError::io("read", layout, e)),
            }
            let index = root.join("index.json");
            if !index.exists() {
                let empty = ImageIndex {
                    schema_version: 2,
                    media_type: Some(MEDIA_TYPE_OCI_INDEX.to_owned()),
                    manifests: vec![],
                    annotations: None,
                };
                write_atomic(&root, &index, &empty.to_bytes())?;
            }
        }
        Ok(Self { inner: Arc::new(Inner { root, lock }) })
    }

    /// The layout directory.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// The entries of `index.json`.
    pub fn entries(&self) -> Result<Vec<LayoutEntry>, OciError> {
        Ok(self
            .inner
            .read_index()?
            .manifests
            .into_iter()
            .map(|d| LayoutEntry { ref_name: d.annotation(ANNOTATION_REF_NAME).map(str::to_owned), descriptor: d })
            .collect())
    }

    async fn run<T, F>(&self, f: F) -> forge_core::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, OciError> + Send + 'static,
    {
        let inner = self.inner.clone();
        match tokio::task::spawn_blocking(move || f(&inner)).await {
            Ok(r) => r.map_err(Into::into),
            Err(e) => Err(forge_core::Error::other(crate::error::COMPONENT, "layout store task failed", e)),
        }
    }
}

/// The index name of `reference` in `repository`.
fn ref_name(repository: &str, tag: &str) -> String {
    if repository.is_empty() { tag.to_owned() } else { format!("{repository}:{tag}") }
}

fn check_tag(tag: &str) -> Result<(), OciError> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && tag.as_bytes()[0] != b'.'
        && tag.as_bytes()[0] != b'-'
        && tag.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(OciError::invalid("tag", format!("`{tag}` must match [A-Za-z0-9_][A-Za-z0-9._-]{{0,127}}")))
    }
}

impl Inner {
    fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs").join("sha256").join(digest.hex())
    }

    fn read_index(&self) -> Result<ImageIndex, OciError> {
        let path = self.root.join("index.json");
        let bytes = std::fs::read(&path).map_err(|e| OciError::io("read", &path, e))?;
        ImageIndex::parse(&bytes)
    }

    fn read_blob(&self, digest: &Digest) -> Result<Bytes, OciError> {
        let path = self.blob_path(digest);
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(OciError::NotFound {
                    what: format!("blob {digest}"),
                    message: Some(format!("in layout {}", self.root.display())),
                });
            }
            Err(e) => return Err(OciError::io("read", path, e)),
        };
        digest.verify(&format!("blob {digest}"), &data)?;
        Ok(Bytes::from(data))
    }

    fn write_blob(&self, digest: &Digest, data: &[u8]) -> Result<(), OciError> {
        digest.verify("uploaded blob", data)?;
        let path = self.blob_path(digest);
        if let Ok(meta) = std::fs::metadata(&path)
            && meta.len() == data.len() as u64
        {
            return Ok(());
        }
        write_atomic(&self.root, &path, data)
    }

    fn put_manifest(
        &self,
        repository: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<String, OciError> {
        let digest = Digest::of(bytes);
        let by_digest = Digest::is_digest_reference(reference);
        if by_digest {
            let want: Digest = reference.parse()?;
            if want != digest {
                return Err(OciError::DigestMismatch {
                    what: "manifest".into(),
                    expected: want.to_string(),
                    actual: digest.to_string(),
                });
            }
        } else {
            check_tag(reference)?;
        }
        self.write_blob(&digest, bytes)?;
        let mut desc = Descriptor::of(media_type, bytes);
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes)
            && let Some(at) = v.get("artifactType").and_then(|a| a.as_str())
        {
            desc.artifact_type = Some(at.to_owned());
        }
        let _g = self.lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut index = self.read_index()?;
        if by_digest {
            if index.manifests.iter().any(|d| d.digest == digest) {
                return Ok(digest.to_string());
            }
        } else {
            let name = ref_name(repository, reference);
            index.manifests.retain(|d| d.annotation(ANNOTATION_REF_NAME) != Some(name.as_str()));
            desc = desc.with_annotation(ANNOTATION_REF_NAME, &name);
        }
        index.manifests.push(desc);
        index.manifests.sort_by(|a, b| {
            (a.annotation(ANNOTATION_REF_NAME), &a.digest).cmp(&(b.annotation(ANNOTATION_REF_NAME), &b.digest))
        });
        if index.media_type.is_none() {
            index.media_type = Some(MEDIA_TYPE_OCI_INDEX.to_owned());
        }
        write_atomic(&self.root, &self.root.join("index.json"), &index.to_bytes())?;
        Ok(digest.to_string())
    }

    fn get_manifest(&self, repository: &str, reference: &str) -> Result<StoredManifest, OciError> {
        let index = self.read_index()?;
        let (digest, media_type) = if Digest::is_digest_reference(reference) {
            let digest: Digest = reference.parse()?;
            let mt = index.manifests.iter().find(|d| d.digest == digest).map(|d| d.media_type.clone());
            (digest, mt)
        } else {
            let name = ref_name(repository, reference);
            let d =
                index.manifests.iter().find(|d| d.annotation(ANNOTATION_REF_NAME) == Some(name.as_str())).ok_or_else(
                    || OciError::NotFound {
                        what: format!("manifest `{name}`"),
                        message: Some(format!("no such ref.name in {}", self.root.join("index.json").display())),
                    },
                )?;
            (d.digest.clone(), Some(d.media_type.clone()))
        };
        let bytes = self.read_blob(&digest).map_err(|e| match e {
            OciError::NotFound { .. } => {
                OciError::NotFound { what: format!("manifest {repository}@{digest}"), message: None }
            }
            other => other,
        })?;
        let media_type = media_type.unwrap_or_else(|| sniff_media_type(&bytes));
        Ok(StoredManifest { bytes, media_type, digest: digest.to_string() })
    }

    fn list_tags(&self, repository: &str) -> Result<Vec<String>, OciError> {
        let index = self.read_index()?;
        let mut tags: Vec<String> = index
            .manifests
            .iter()
            .filter_map(|d| d.annotation(ANNOTATION_REF_NAME))
            .filter_map(|n| {
                if repository.is_empty() {
                    (!n.contains(':')).then(|| n.to_owned())
                } else {
                    n.strip_prefix(repository)
                        .and_then(|r| r.strip_prefix(':'))
                        .filter(|t| !t.contains(':'))
                        .map(str::to_owned)
                }
            })
            .collect();
        tags.sort();
        tags.dedup();
        Ok(tags)
    }
}

#[async_trait]
impl ImageStore for LayoutStore {
    async fn has_blob(&self, _repository: &str, digest: &str) -> forge_core::Result<bool> {
        let digest: Digest = digest.parse()?;
        self.run(move |i| Ok(i.blob_path(&digest).is_file())).await
    }

    async fn put_blob(&self, _repository: &str, digest: &str, data: Bytes) -> forge_core::Result<()> {
        let digest: Digest = digest.parse()?;
        self.run(move |i| i.write_blob(&digest, &data)).await
    }

    async fn get_blob(&self, _repository: &str, digest: &str) -> forge_core::Result<Bytes> {
        let digest: Digest = digest.parse()?;
        self.run(move |i| i.read_blob(&digest)).await
    }

    async fn put_manifest(
        &self,
        repository: &str,
        reference: &str,
        media_type: &str,
        bytes: Bytes,
    ) -> forge_core::Result<String> {
        let (r, t, m) = (repository.to_owned(), reference.to_owned(), media_type.to_owned());
        self.run(move |i| i.put_manifest(&r, &t, &m, &bytes)).await
    }

    async fn get_manifest(&self, repository: &str, reference: &str) -> forge_core::Result<StoredManifest> {
        let (r, t) = (repository.to_owned(), reference.to_owned());
        self.run(move |i| i.get_manifest(&r, &t)).await
    }

    async fn list_tags(&self, repository: &str) -> forge_core::Result<Vec<String>> {
        let r = repository.to_owned();
        self.run(move |i| i.list_tags(&r)).await
    }
}
