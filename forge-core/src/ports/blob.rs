use async_trait::async_trait;
use bytes::Bytes;

use crate::Result;

/// Stores results and logs by key (a local directory by default; S3-compatible optionally).
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Writes (or replaces) a blob atomically.
    async fn put(&self, key: &str, data: Bytes) -> Result<()>;
    /// Reads a blob; `NotFound` when absent.
    async fn get(&self, key: &str) -> Result<Bytes>;
    /// Appends to a blob (creating it), used for streaming logs.
    async fn append(&self, key: &str, data: &[u8]) -> Result<()>;
    /// A URI naming the blob for other processes (`file:///…`, `s3://…`).
    fn uri(&self, key: &str) -> String;
}
