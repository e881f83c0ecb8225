//! Offline verification and reproduction of release images.

use forge_core::ports::ImageStore;
use serde::Serialize;

use crate::digest::Digest;
use crate::error::OciError;
use crate::image::{BuiltImage, get_verified_manifest};
use crate::manifest::{ARTIFACT_TYPE_RELEASE, ImageManifest, is_index_media_type};
use crate::release::{ReleaseImage, build_release_image};
use crate::tarball::ExtractLimits;

/// One check of a [`VerifyReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked (`manifest digest`, `layer 1 (resources)`, …).
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// The digest or count found, or why it failed.
    pub detail: String,
}

/// The result of [`verify_release`]: every digest re-derived from the bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyReport {
    /// The repository checked.
    pub repository: String,
    /// The reference checked (tag or digest).
    pub reference: String,
    /// The manifest digest, when the manifest could be read.
    pub manifest_digest: Option<String>,
    /// The canonical id from the metadata, when it could be read.
    pub canonical_id: Option<String>,
    /// The release number from the metadata.
    pub release_number: Option<u64>,
    /// The number of resources extracted.
    pub resource_count: Option<u64>,
    /// Every check, in order.
    pub checks: Vec<Check>,
    /// Whether every check passed.
    pub ok: bool,
}

impl VerifyReport {
    fn new(repository: &str, reference: &str) -> Self {
        Self {
            repository: repository.to_owned(),
            reference: reference.to_owned(),
            manifest_digest: None,
            canonical_id: None,
            release_number: None,
            resource_count: None,
            checks: vec![],
            ok: true,
        }
    }
    fn pass(&mut self, name: &str, detail: impl Into<String>) {
        self.checks.push(Check { name: name.to_owned(), ok: true, detail: detail.into() });
    }
    fn fail(&mut self, name: &str, detail: impl Into<String>) {
        self.ok = false;
        self.checks.push(Check { name: name.to_owned(), ok: false, detail: detail.into() });
    }
    /// The failed checks.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.ok)
    }
}

/// Whether an error is about the content (a verification failure) rather than about reaching
/// it (not found, auth, I/O, transient).
pub fn is_content_error(e: &OciError) -> bool {
    match e {
        OciError::DigestMismatch { .. }
        | OciError::SizeMismatch { .. }
        | OciError::InvalidManifest { .. }
        | OciError::WrongImageKind { .. }
        | OciError::InvalidMetadata { .. }
        | OciError::UnsafeArchive { .. }
        | OciError::LimitExceeded { .. }
        | OciError::InvalidDigest { .. } => true,
        OciError::Store(forge_core::Error::Other { source: Some(s), .. }) => {
            s.downcast_ref::<OciError>().is_some_and(is_content_error)
        }
        _ => false,
    }
}

fn content_or<T>(r: Result<T, OciError>) -> Result<Result<T, OciError>, OciError> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(e) if is_content_error(&e) => Ok(Err(e)),
        Err(e) => Err(e),
    }
}

/// Verifies a release image offline: re-derives the manifest digest (and compares it with a
/// digest reference and the store's), the digest and size of the config and each layer, the
/// image shape (artifactType, media types, annotations, order), the metadata's resources
/// digest, safe extraction of every resource with the default [`ExtractLimits`], and finally
/// rebuilds the image from the recorded inputs and compares the manifest digest.
///
/// Content problems are reported as failed checks (`ok: false`); problems reaching the content
/// (not found, authentication, I/O, transient) are errors.
pub async fn verify_release(
    store: &dyn ImageStore,
    repository: &str,
    reference: &str,
) -> Result<VerifyReport, OciError> {
    let mut report = VerifyReport::new(repository, reference);
    let (bytes, digest, media_type) = match content_or(get_verified_manifest(store, repository, reference).await)? {
        Ok(v) => v,
        Err(e) => {
            report.fail("manifest digest", e.to_string());
            return Ok(report);
        }
    };
    report.manifest_digest = Some(digest.to_string());
    report.pass("manifest digest", digest.to_string());
    if is_index_media_type(&media_type) {
        report.fail("manifest", format!("an image index ({media_type}), not a release image manifest"));
        return Ok(report);
    }
    let manifest = match ImageManifest::parse(&bytes) {
        Ok(m) => m,
        Err(e) => {
            report.fail("manifest", e.to_string());
            return Ok(report);
        }
    };
    let mut blobs = Vec::new();
    let descriptors: Vec<_> = std::iter::once(manifest.config.clone()).chain(manifest.layers.iter().cloned()).collect();
    for (i, d) in descriptors.iter().enumerate() {
        let role = d.annotation(crate::manifest::ANNOTATION_LAYER_TYPE).unwrap_or("");
        let name = if i == 0 { "config".to_owned() } else { format!("layer {} ({role})", i - 1) };
        if d.size > crate::image::PullLimits::default().max_blob_bytes {
            report.fail(&name, format!("descriptor size {} is over the pull limit", d.size));
            continue;
        }
        match content_or(store.get_blob(repository, d.digest.as_str()).await.map_err(OciError::from))? {
            Ok(data) => match d.verify(&name, &data) {
                Ok(()) => {
                    report.pass(&name, format!("{} ({} bytes)", d.digest, d.size));
                    blobs.push(data);
                }
                Err(e) => report.fail(&name, e.to_string()),
            },
            Err(e) => report.fail(&name, e.to_string()),
        }
    }
    if !report.ok {
        return Ok(report);
    }
    let mut it = blobs.into_iter();
    let config = it.next().unwrap_or_default();
    let image = BuiltImage { manifest, manifest_bytes: bytes, digest: digest.clone(), config, layers: it.collect() };
    check_release(&mut report, image);
    Ok(report)
}

/// The release-level checks on a verified image.
fn check_release(report: &mut VerifyReport, image: BuiltImage) {
    let release = match ReleaseImage::from_image(image) {
        Ok(r) => r,
        Err(e @ OciError::DigestMismatch { .. }) => {
            report.fail("resources digest in metadata", e.to_string());
            return;
        }
        Err(e) => {
            report.fail("release image shape", e.to_string());
            return;
        }
    };
    report.pass("release image shape", ARTIFACT_TYPE_RELEASE);
    report.canonical_id = Some(release.metadata.release.canonical_id.to_string());
    report.release_number = Some(release.metadata.release.number);
    report.pass("resources digest in metadata", release.metadata.resources.digest.to_string());
    let limits = ExtractLimits::default();
    match release.extract_resources(&limits) {
        Ok(files) => {
            report.resource_count = Some(files.len() as u64);
            report.pass("resources extraction", format!("{} files", files.len()));
        }
        Err(e) => {
            report.fail("resources extraction", e.to_string());
            return;
        }
    }
    match reproduce_image(&release) {
        Ok(r) if r.identical => report.pass("reproduce", r.rebuilt.to_string()),
        Ok(r) => report.fail("reproduce", format!("rebuilt {} differs: {}", r.rebuilt, r.differences.join("; "))),
        Err(e) => report.fail("reproduce", e.to_string()),
    }
}

/// The result of rebuilding a release image from its recorded inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReproduceReport {
    /// The manifest digest read.
    pub original: Digest,
    /// The manifest digest rebuilt.
    pub rebuilt: Digest,
    /// Whether they are equal.
    pub identical: bool,
    /// What differs (`layer 1: sha256:… != sha256:…`), empty when identical.
    pub differences: Vec<String>,
}

/// Rebuilds a release image from the inputs it records (metadata and resources) and compares.
pub fn reproduce_image(release: &ReleaseImage) -> Result<ReproduceReport, OciError> {
    let input = release.to_input(&ExtractLimits::default())?;
    let rebuilt = build_release_image(&input)?;
    let original = &release.image;
    let mut differences = Vec::new();
    let a: Vec<_> = original.blobs().map(|(d, _)| d.digest.clone()).collect();
    let b: Vec<_> = rebuilt.blobs().map(|(d, _)| d.digest.clone()).collect();
    for (i, (x, y)) in a.iter().zip(b.iter()).enumerate() {
        if x != y {
            let what = if i == 0 { "config".to_owned() } else { format!("layer {}", i - 1) };
            differences.push(format!("{what}: {x} != {y}"));
        }
    }
    if a.len() != b.len() {
        differences.push(format!("{} blobs != {}", a.len(), b.len()));
    }
    if differences.is_empty() && original.digest != rebuilt.digest {
        differences.push("manifest bytes (annotations or field order)".to_owned());
    }
    Ok(ReproduceReport {
        identical: original.digest == rebuilt.digest,
        original: original.digest.clone(),
        rebuilt: rebuilt.digest,
        differences,
    })
}

/// Pulls a release image and rebuilds it from its recorded inputs (see [`reproduce_image`]).
pub async fn reproduce_release(
    store: &dyn ImageStore,
    repository: &str,
    reference: &str,
) -> Result<ReproduceReport, OciError> {
    let image = crate::image::pull_image(store, repository, reference).await?;
    reproduce_image(&ReleaseImage::from_image(image)?)
}

/// Pulls and checks a release image in one go: every digest verified, shape checked, metadata
/// parsed. The usual entry point for readers such as the Argo CD plugin.
pub async fn pull_release(store: &dyn ImageStore, repository: &str, reference: &str) -> Result<ReleaseImage, OciError> {
    ReleaseImage::from_image(crate::image::pull_image(store, repository, reference).await?)
}
