//! Images as bytes (built or pulled and verified), and moving them between stores.

use std::collections::HashSet;

use bytes::Bytes;
use forge_core::ports::ImageStore;

use crate::digest::Digest;
use crate::error::OciError;
use crate::manifest::{Descriptor, ImageIndex, ImageManifest, MEDIA_TYPE_OCI_MANIFEST, is_index_media_type};

/// An image manifest with all the blobs it references, every digest and size checked.
///
/// Produced by the builders ([`build_release_image`](crate::build_release_image),
/// [`build_tracking_image`](crate::build_tracking_image)) and by [`pull_image`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltImage {
    /// The parsed manifest.
    pub manifest: ImageManifest,
    /// The exact manifest bytes.
    pub manifest_bytes: Bytes,
    /// The manifest digest (the SHA-256 of `manifest_bytes`).
    pub digest: Digest,
    /// The config blob.
    pub config: Bytes,
    /// The layer blobs, in manifest order.
    pub layers: Vec<Bytes>,
}

/// An image read back from a store, every digest and size verified. Same type as
/// [`BuiltImage`].
pub type PulledImage = BuiltImage;

impl BuiltImage {
    /// Assembles an image from a manifest and its blobs, serialising the manifest canonically.
    pub(crate) fn assemble(manifest: ImageManifest, config: Bytes, layers: Vec<Bytes>) -> Self {
        let manifest_bytes = Bytes::from(manifest.to_bytes());
        let digest = Digest::of(&manifest_bytes);
        Self { manifest, manifest_bytes, digest, config, layers }
    }

    /// The media type of the manifest.
    pub fn media_type(&self) -> &str {
        self.manifest.media_type.as_deref().unwrap_or(MEDIA_TYPE_OCI_MANIFEST)
    }

    /// The descriptors and bytes of every blob (config first, then layers).
    pub fn blobs(&self) -> impl Iterator<Item = (&Descriptor, &Bytes)> {
        std::iter::once((&self.manifest.config, &self.config))
            .chain(self.manifest.layers.iter().zip(self.layers.iter()))
    }

    /// The descriptor of this manifest (for an index or a report).
    pub fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: self.media_type().to_owned(),
            digest: self.digest.clone(),
            size: self.manifest_bytes.len() as u64,
            artifact_type: self.manifest.artifact_type.clone(),
            annotations: None,
            platform: None,
        }
    }

    /// Re-checks every digest and size (manifest and blobs) from the bytes held.
    pub fn verify(&self) -> Result<(), OciError> {
        self.digest.verify("manifest", &self.manifest_bytes)?;
        if self.layers.len() != self.manifest.layers.len() {
            return Err(OciError::manifest(format!(
                "manifest lists {} layers but {} were supplied",
                self.manifest.layers.len(),
                self.layers.len()
            )));
        }
        for (i, (d, b)) in self.blobs().enumerate() {
            d.verify(&blob_label(i), b)?;
        }
        Ok(())
    }
}

fn blob_label(i: usize) -> String {
    if i == 0 { "config".to_owned() } else { format!("layer {}", i - 1) }
}

/// Limits applied when pulling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PullLimits {
    /// Largest blob fetched (checked against the descriptor before fetching).
    pub max_blob_bytes: u64,
    /// Largest total of all blobs.
    pub max_total_bytes: u64,
}

impl Default for PullLimits {
    /// 512 MiB per blob, 1 GiB in total.
    fn default() -> Self {
        Self { max_blob_bytes: 512 * 1024 * 1024, max_total_bytes: 1024 * 1024 * 1024 }
    }
}

/// Pushes an image: uploads only the blobs the store lacks (one existence check per blob),
/// then stores the manifest under each tag (or by digest when `tags` is empty). Returns the
/// manifest digest. Pushing an unchanged image uploads no blob.
pub async fn push_image(
    store: &dyn ImageStore,
    repository: &str,
    image: &BuiltImage,
    tags: &[&str],
) -> Result<Digest, OciError> {
    let mut done: HashSet<&Digest> = HashSet::new();
    for (d, data) in image.blobs() {
        if !done.insert(&d.digest) {
            continue;
        }
        if !store.has_blob(repository, d.digest.as_str()).await? {
            store.put_blob(repository, d.digest.as_str(), data.clone()).await?;
        }
    }
    let refs: Vec<&str> = if tags.is_empty() { vec![image.digest.as_str()] } else { tags.to_vec() };
    for r in refs {
        let got = store.put_manifest(repository, r, image.media_type(), image.manifest_bytes.clone()).await?;
        if got != image.digest.as_str() {
            return Err(OciError::DigestMismatch {
                what: format!("manifest stored at {repository}:{r}"),
                expected: image.digest.to_string(),
                actual: got,
            });
        }
    }
    Ok(image.digest.clone())
}

/// Pulls an image manifest by tag or digest with every blob, verifying the manifest digest
/// (against the reference when it is a digest), each blob's digest and size, and the default
/// [`PullLimits`].
pub async fn pull_image(store: &dyn ImageStore, repository: &str, reference: &str) -> Result<PulledImage, OciError> {
    pull_image_with(store, repository, reference, &PullLimits::default()).await
}

/// [`pull_image`] with explicit limits.
pub async fn pull_image_with(
    store: &dyn ImageStore,
    repository: &str,
    reference: &str,
    limits: &PullLimits,
) -> Result<PulledImage, OciError> {
    let (bytes, digest, media_type) = get_verified_manifest(store, repository, reference).await?;
    if is_index_media_type(&media_type) {
        return Err(OciError::manifest(format!(
            "{repository}:{reference} is an image index ({media_type}); pull one of its manifests by digest"
        )));
    }
    let manifest = ImageManifest::parse(&bytes)?;
    let mut total: u64 = 0;
    let descriptors: Vec<Descriptor> =
        std::iter::once(&manifest.config).chain(manifest.layers.iter()).cloned().collect();
    let mut blobs = Vec::with_capacity(descriptors.len());
    for (i, d) in descriptors.iter().enumerate() {
        if d.size > limits.max_blob_bytes {
            return Err(OciError::LimitExceeded {
                what: format!("size of {}", blob_label(i)),
                limit: limits.max_blob_bytes,
                actual: d.size,
            });
        }
        total = total.saturating_add(d.size);
        if total > limits.max_total_bytes {
            return Err(OciError::LimitExceeded {
                what: "total image size".into(),
                limit: limits.max_total_bytes,
                actual: total,
            });
        }
        let data = store.get_blob(repository, d.digest.as_str()).await?;
        d.verify(&blob_label(i), &data)?;
        blobs.push(data);
    }
    let mut it = blobs.into_iter();
    let config = it.next().unwrap_or_default();
    Ok(BuiltImage { manifest, manifest_bytes: bytes, digest, config, layers: it.collect() })
}

/// Reads a manifest and checks its digest (the computed digest must match the store's and,
/// for a digest reference, the reference). Returns bytes, digest and media type.
pub(crate) async fn get_verified_manifest(
    store: &dyn ImageStore,
    repository: &str,
    reference: &str,
) -> Result<(Bytes, Digest, String), OciError> {
    let stored = store.get_manifest(repository, reference).await?;
    let digest = Digest::of(&stored.bytes);
    if Digest::is_digest_reference(reference) {
        let want: Digest = reference.parse()?;
        if want != digest {
            return Err(OciError::DigestMismatch {
                what: format!("manifest {repository}@{reference}"),
                expected: want.to_string(),
                actual: digest.to_string(),
            });
        }
    }
    if !stored.digest.is_empty() && stored.digest != digest.as_str() {
        return Err(OciError::DigestMismatch {
            what: format!("manifest {repository}:{reference} (digest reported by the store)"),
            expected: stored.digest,
            actual: digest.to_string(),
        });
    }
    Ok((stored.bytes, digest, stored.media_type))
}

/// Copies the manifest `reference` of `repository` (an image manifest, or an index with its
/// manifests) from `src` to `dst`, uploading only missing blobs, and stores it under the same
/// reference. Returns the manifest digest, identical in both stores.
pub async fn copy(
    src: &dyn ImageStore,
    dst: &dyn ImageStore,
    repository: &str,
    reference: &str,
) -> Result<Digest, OciError> {
    copy_image(src, repository, dst, repository, reference, &[]).await
}

/// Copies between repositories: reads `reference` from `src_repository` of `src` and stores
/// it in `dst_repository` of `dst` under `tags` (or, when empty, under `reference`).
pub async fn copy_image(
    src: &dyn ImageStore,
    src_repository: &str,
    dst: &dyn ImageStore,
    dst_repository: &str,
    reference: &str,
    tags: &[&str],
) -> Result<Digest, OciError> {
    let (bytes, digest, media_type) = copy_content(src, src_repository, dst, dst_repository, reference, 0).await?;
    let refs: Vec<&str> = if tags.is_empty() { vec![reference] } else { tags.to_vec() };
    for r in refs {
        dst.put_manifest(dst_repository, r, &media_type, bytes.clone()).await?;
    }
    Ok(digest)
}

type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Copies the blobs (and, for an index, the child manifests by digest) of a manifest.
fn copy_content<'a>(
    src: &'a dyn ImageStore,
    src_repository: &'a str,
    dst: &'a dyn ImageStore,
    dst_repository: &'a str,
    reference: &'a str,
    depth: u32,
) -> BoxFuture<'a, Result<(Bytes, Digest, String), OciError>> {
    Box::pin(async move {
        let (bytes, digest, media_type) = get_verified_manifest(src, src_repository, reference).await?;
        if is_index_media_type(&media_type) {
            if depth > 2 {
                return Err(OciError::manifest("image indexes nested too deeply"));
            }
            let index = ImageIndex::parse(&bytes)?;
            for child in &index.manifests {
                let (cb, cd, cmt) =
                    copy_content(src, src_repository, dst, dst_repository, child.digest.as_str(), depth + 1).await?;
                child.verify(&format!("index entry {cd}"), &cb)?;
                dst.put_manifest(dst_repository, cd.as_str(), &cmt, cb).await?;
            }
        } else {
            let manifest = ImageManifest::parse(&bytes)?;
            for (i, d) in std::iter::once(&manifest.config).chain(manifest.layers.iter()).enumerate() {
                if dst.has_blob(dst_repository, d.digest.as_str()).await? {
                    continue;
                }
                let data = src.get_blob(src_repository, d.digest.as_str()).await?;
                d.verify(&blob_label(i), &data)?;
                dst.put_blob(dst_repository, d.digest.as_str(), data).await?;
            }
        }
        Ok((bytes, digest, media_type))
    })
}
