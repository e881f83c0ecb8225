use async_trait::async_trait;
use bytes::Bytes;

use crate::Result;

/// A manifest as read from an image store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredManifest {
    /// The exact bytes (their SHA-256 is the digest).
    pub bytes: Bytes,
    /// The media type reported by the store.
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
}

/// A content-addressed image store: an OCI distribution registry or an on-disk OCI image
/// layout. `repository` is the OCI repository path (`owner/name/project`).
#[async_trait]
pub trait ImageStore: Send + Sync {
    /// Whether a blob exists (a HEAD on a registry).
    async fn has_blob(&self, repository: &str, digest: &str) -> Result<bool>;
    /// Uploads a blob whose digest the caller computed; the store verifies it.
    async fn put_blob(&self, repository: &str, digest: &str, data: Bytes) -> Result<()>;
    /// Downloads a blob and verifies its digest.
    async fn get_blob(&self, repository: &str, digest: &str) -> Result<Bytes>;
    /// Stores a manifest under a tag (or by digest when `reference` is a digest); returns
    /// the manifest digest.
    async fn put_manifest(&self, repository: &str, reference: &str, media_type: &str, bytes: Bytes) -> Result<String>;
    /// Reads a manifest by tag or digest.
    async fn get_manifest(&self, repository: &str, reference: &str) -> Result<StoredManifest>;
    /// Lists the tags of a repository (sorted).
    async fn list_tags(&self, repository: &str) -> Result<Vec<String>>;
}
