//! The local-directory [`BlobStore`] adapter: atomic puts, appends for logs, `file://` URIs.

use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use forge_core::ports::BlobStore;
use tokio::io::AsyncWriteExt;

use crate::error::{Error, Result};

/// Stores blobs as files under a root directory.
///
/// `put` writes a temporary file next to the target and renames it, so readers never see a
/// partial blob; `append` opens with `O_APPEND`, so concurrent appends of whole chunks do not
/// interleave within a chunk.
#[derive(Debug, Clone)]
pub struct LocalBlobStore {
    root: PathBuf,
}

impl LocalBlobStore {
    /// Uses (and creates) `root`. The root is made absolute so URIs name it unambiguously.
    pub fn new(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref();
        std::fs::create_dir_all(root).map_err(|e| Error::io("creating blob root", root, e))?;
        let root = std::fs::canonicalize(root).map_err(|e| Error::io("resolving blob root", root, e))?;
        Ok(Self { root })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file path of a key, after checking the key cannot escape the root.
    pub fn path_of(&self, key: &str) -> Result<PathBuf> {
        let bad = |reason| Error::InvalidKey { key: key.to_owned(), reason };
        if key.is_empty() {
            return Err(bad("empty"));
        }
        let rel = Path::new(key);
        for c in rel.components() {
            match c {
                Component::Normal(_) => {}
                Component::ParentDir => return Err(bad("contains `..`")),
                _ => return Err(bad("must be relative with plain segments")),
            }
        }
        Ok(self.root.join(rel))
    }

    /// Whether a blob exists.
    pub async fn exists(&self, key: &str) -> Result<bool> {
        let path = self.path_of(key)?;
        tokio::fs::try_exists(&path).await.map_err(|e| Error::io("checking blob", &path, e))
    }

    async fn put_inner(&self, key: &str, data: &[u8]) -> Result<()> {
        let path = self.path_of(key)?;
        let dir = path.parent().unwrap_or(&self.root);
        tokio::fs::create_dir_all(dir).await.map_err(|e| Error::io("creating blob directory", dir, e))?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = dir.join(format!(".{name}.tmp-{}", uuid::Uuid::new_v4().simple()));
        let result = async {
            let mut f = tokio::fs::File::create(&tmp).await.map_err(|e| Error::io("creating blob", &tmp, e))?;
            f.write_all(data).await.map_err(|e| Error::io("writing blob", &tmp, e))?;
            f.sync_all().await.map_err(|e| Error::io("syncing blob", &tmp, e))?;
            tokio::fs::rename(&tmp, &path).await.map_err(|e| Error::io("renaming blob into place", &path, e))
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result
    }

    async fn append_inner(&self, key: &str, data: &[u8]) -> Result<()> {
        let path = self.path_of(key)?;
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(|e| Error::io("creating blob directory", dir, e))?;
        }
        let mut f = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .await
            .map_err(|e| Error::io("opening blob for append", &path, e))?;
        f.write_all(data).await.map_err(|e| Error::io("appending to blob", &path, e))?;
        // A tokio file finishes writes on a blocking thread: without this flush the append
        // could land after the caller has returned (a step's last log line missing for a
        // reader that looks right after the step).
        f.flush().await.map_err(|e| Error::io("appending to blob", &path, e))
    }
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    async fn put(&self, key: &str, data: Bytes) -> forge_core::Result<()> {
        Ok(self.put_inner(key, &data).await?)
    }

    async fn get(&self, key: &str) -> forge_core::Result<Bytes> {
        let path = self.path_of(key)?;
        match tokio::fs::read(&path).await {
            Ok(b) => Ok(Bytes::from(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(forge_core::Error::NotFound { component: "blob-store", what: format!("blob {key:?}") })
            }
            Err(e) => Err(Error::io("reading blob", path, e).into()),
        }
    }

    async fn append(&self, key: &str, data: &[u8]) -> forge_core::Result<()> {
        Ok(self.append_inner(key, data).await?)
    }

    fn uri(&self, key: &str) -> String {
        format!("file://{}/{}", self.root.display(), key.trim_start_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_get_append_uri() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store = LocalBlobStore::new(dir.path())?;
        store.put("results/a.json", Bytes::from_static(b"{}")).await?;
        assert_eq!(&store.get("results/a.json").await?[..], b"{}");
        store.put("results/a.json", Bytes::from_static(b"[1]")).await?;
        assert_eq!(&store.get("results/a.json").await?[..], b"[1]");
        store.append("logs/x.log", b"one\n").await?;
        store.append("logs/x.log", b"two\n").await?;
        assert_eq!(&store.get("logs/x.log").await?[..], b"one\ntwo\n");
        assert!(store.uri("logs/x.log").starts_with("file:///"));
        assert!(store.uri("logs/x.log").ends_with("/logs/x.log"));
        assert!(matches!(store.get("missing").await, Err(forge_core::Error::NotFound { .. })));
        assert!(store.exists("logs/x.log").await?);
        // no temporary files are left behind
        let names: Vec<_> = std::fs::read_dir(dir.path().join("results"))?.flatten().map(|e| e.file_name()).collect();
        assert_eq!(names.len(), 1);
        Ok(())
    }

    /// An append is on disk when it returns: a reader right after it (here a synchronous
    /// one, the most likely to race a write still queued on tokio's blocking pool) sees it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_append_is_visible_as_soon_as_it_returns() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store = LocalBlobStore::new(dir.path())?;
        for i in 1..=200usize {
            store.append("logs/race.log", b"x").await?;
            assert_eq!(std::fs::read(dir.path().join("logs/race.log"))?.len(), i, "append {i} not on disk yet");
        }
        Ok(())
    }

    #[tokio::test]
    async fn keys_cannot_escape() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store = LocalBlobStore::new(dir.path())?;
        for key in ["", "../x", "/etc/passwd", "a/../../b"] {
            assert!(store.put(key, Bytes::new()).await.is_err(), "{key}");
        }
        Ok(())
    }
}
