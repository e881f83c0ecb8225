//! The release image of SPEC §5.2: builder, typed metadata, and reading it back.

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use forge_core::model::{ArtifactType, ReleaseAlias, ReleaseArtifact, ReleaseTrigger};
use forge_core::{ArtifactName, CanonicalId, CommitSha, Repository};
use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::OciError;
use crate::image::BuiltImage;
use crate::manifest::{
    ANNOTATION_CREATED, ANNOTATION_LAYER_TYPE, ANNOTATION_REVISION, ANNOTATION_SOURCE, ARTIFACT_TYPE_RELEASE,
    Descriptor, EMPTY_JSON, ImageManifest, MEDIA_TYPE_EMPTY, MEDIA_TYPE_OCI_MANIFEST, MEDIA_TYPE_RELEASE_METADATA,
    MEDIA_TYPE_RELEASE_RESOURCES,
};
use crate::tarball::{ExtractLimits, ExtractedFile, extract_tar, write_deterministic_tar};

/// The `apiVersion` of release metadata.
pub const RELEASE_API_VERSION: &str = "forge.projectcatalyst.io/v1";
/// Most resources in one release (file names carry a 4-digit sequence number).
pub const MAX_RESOURCES: usize = 9999;

/// One rendered Kubernetes resource, stored as `NNNN-<kind>-<name>.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    kind: String,
    name: String,
    yaml: Bytes,
}

impl Resource {
    /// A resource from its kind, `metadata.name` and rendered YAML. The kind must be
    /// `[A-Za-z0-9]{1,63}`; the name 1-253 characters of `a-z A-Z 0-9 . _ -`, not starting with
    /// `.` or `-`.
    pub fn new(kind: impl Into<String>, name: impl Into<String>, yaml: impl Into<Bytes>) -> Result<Self, OciError> {
        let (kind, name) = (kind.into(), name.into());
        check_kind(&kind)?;
        check_resource_name(&name)?;
        Ok(Self { kind, name, yaml: yaml.into() })
    }

    /// A resource from one YAML document, reading `kind` and `metadata.name` from it. The
    /// bytes are stored as given.
    pub fn from_yaml(yaml: impl Into<Bytes>) -> Result<Self, OciError> {
        #[derive(Deserialize)]
        struct Meta {
            name: String,
        }
        #[derive(Deserialize)]
        struct Head {
            kind: String,
            metadata: Meta,
        }
        let yaml = yaml.into();
        let head: Head = serde_yaml::from_slice(&yaml)
            .map_err(|e| OciError::invalid("resource", format!("needs `kind` and `metadata.name`: {e}")))?;
        Self::new(head.kind, head.metadata.name, yaml)
    }

    /// The kind (`Deployment`).
    pub fn kind(&self) -> &str {
        &self.kind
    }
    /// `metadata.name`.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The YAML bytes.
    pub fn yaml(&self) -> &Bytes {
        &self.yaml
    }
    /// The file name in the resources layer for position `index` (0-based).
    pub fn file_name(&self, index: usize) -> String {
        format!("{:04}-{}-{}.yaml", index + 1, self.kind, self.name)
    }
}

fn check_kind(kind: &str) -> Result<(), OciError> {
    if kind.is_empty() || kind.len() > 63 || !kind.bytes().all(|c| c.is_ascii_alphanumeric()) {
        return Err(OciError::invalid("resource kind", format!("`{kind}` must be 1-63 ASCII letters and digits")));
    }
    Ok(())
}

fn check_resource_name(name: &str) -> Result<(), OciError> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && !name.starts_with(['.', '-'])
        && name.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(OciError::invalid(
            "resource name",
            format!("`{name}` must be 1-253 characters of a-z, A-Z, 0-9, `.`, `_`, `-`, not starting with `.` or `-`"),
        ))
    }
}

/// Everything a release image is built from. Two equal inputs give byte-identical images,
/// whatever the order of `aliases` and `artifacts`; `resources` keep declaration order.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseInput {
    /// The canonical triplet (repository, project, commit).
    pub id: CanonicalId,
    /// The release number.
    pub number: u64,
    /// Aliases (sorted and de-duplicated in the image).
    pub aliases: Vec<ReleaseAlias>,
    /// What triggered the release.
    pub trigger: ReleaseTrigger,
    /// Commit author.
    pub author: String,
    /// Commit message.
    pub message: String,
    /// Commit time: the only timestamp in the image (sub-second precision is dropped).
    pub committed_at: DateTime<Utc>,
    /// Artifacts (sorted by name in the image).
    pub artifacts: Vec<ArtifactEntry>,
    /// Rendered resources, in declaration order.
    pub resources: Vec<Resource>,
}

/// The top-level release metadata document (layer 1 of a release image).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseMetadata {
    /// Always [`RELEASE_API_VERSION`].
    pub api_version: String,
    /// Release identity.
    pub release: ReleaseSection,
    /// What triggered it.
    pub trigger: ReleaseTrigger,
    /// The commit.
    pub source: SourceSection,
    /// The artifacts, sorted by name.
    pub artifacts: Vec<ArtifactEntry>,
    /// Summary of the resources layer.
    pub resources: ResourcesSection,
}

/// `release` of [`ReleaseMetadata`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseSection {
    /// Release number.
    pub number: u64,
    /// Aliases, sorted.
    pub aliases: Vec<ReleaseAlias>,
    /// `owner/name/project/sha`.
    pub canonical_id: CanonicalId,
}

/// `source` of [`ReleaseMetadata`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceSection {
    /// `owner/name`.
    pub repository: Repository,
    /// Commit SHA.
    pub commit: CommitSha,
    /// Commit author.
    pub author: String,
    /// Commit message.
    pub message: String,
    /// Commit time, RFC 3339 UTC with second precision (`2026-01-02T03:04:05Z`).
    pub committed_at: String,
}

/// One artifact in [`ReleaseMetadata`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactEntry {
    /// Artifact name.
    pub name: ArtifactName,
    /// Artifact type.
    #[serde(rename = "type")]
    pub kind: ArtifactType,
    /// Content digest.
    pub digest: String,
    /// Tracking image reference.
    pub tracking_ref: String,
    /// URI of the first publisher, if published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_uri: Option<String>,
}

impl From<&ReleaseArtifact> for ArtifactEntry {
    fn from(a: &ReleaseArtifact) -> Self {
        Self {
            name: a.name.clone(),
            kind: a.kind,
            digest: a.digest.clone(),
            tracking_ref: a.tracking_ref.clone(),
            primary_uri: a.primary_uri.clone(),
        }
    }
}

/// `resources` of [`ReleaseMetadata`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourcesSection {
    /// Digest of the resources layer.
    pub digest: Digest,
    /// Number of resources.
    pub count: u64,
    /// Resources per kind.
    pub kinds: BTreeMap<String, u64>,
}

/// The commit time in the image's format, and as tar mtime.
pub(crate) fn commit_time(t: &DateTime<Utc>) -> (String, u64) {
    (t.to_rfc3339_opts(SecondsFormat::Secs, true), u64::try_from(t.timestamp()).unwrap_or(0))
}

/// `https://github.com/<owner>/<name>`: the `org.opencontainers.image.source` annotation.
pub(crate) fn source_url(repository: &Repository) -> String {
    format!("https://github.com/{repository}")
}

/// Builds the release image of SPEC §5.2 from its inputs, byte-reproducibly.
pub fn build_release_image(input: &ReleaseInput) -> Result<BuiltImage, OciError> {
    if input.resources.len() > MAX_RESOURCES {
        return Err(OciError::invalid(
            "resources",
            format!("{} resources; at most {MAX_RESOURCES} fit a release", input.resources.len()),
        ));
    }
    let (created, mtime) = commit_time(&input.committed_at);
    if input.committed_at.timestamp() < 0 {
        return Err(OciError::invalid("committed_at", "commit time before 1970 cannot be a tar mtime"));
    }

    let names: Vec<String> = input.resources.iter().enumerate().map(|(i, r)| r.file_name(i)).collect();
    let tar = write_deterministic_tar(
        names.iter().map(String::as_str).zip(input.resources.iter().map(|r| r.yaml.as_ref())),
        mtime,
    )?;
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    for r in &input.resources {
        *kinds.entry(r.kind.clone()).or_default() += 1;
    }

    let mut aliases = input.aliases.clone();
    aliases.sort();
    aliases.dedup();
    let mut artifacts = input.artifacts.clone();
    artifacts.sort();
    if let Some(w) = artifacts.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(OciError::invalid("artifacts", format!("artifact `{}` is listed twice", w[0].name)));
    }

    let metadata = ReleaseMetadata {
        api_version: RELEASE_API_VERSION.to_owned(),
        release: ReleaseSection { number: input.number, aliases, canonical_id: input.id.clone() },
        trigger: input.trigger.clone(),
        source: SourceSection {
            repository: input.id.repository.clone(),
            commit: input.id.commit,
            author: input.author.clone(),
            message: input.message.clone(),
            committed_at: created.clone(),
        },
        artifacts,
        resources: ResourcesSection { digest: Digest::of(&tar), count: input.resources.len() as u64, kinds },
    };
    let metadata_bytes = serde_json::to_vec(&metadata).map_err(|e| OciError::invalid("metadata", e.to_string()))?;

    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(MEDIA_TYPE_OCI_MANIFEST.to_owned()),
        artifact_type: Some(ARTIFACT_TYPE_RELEASE.to_owned()),
        config: Descriptor::empty(),
        layers: vec![
            Descriptor::of(MEDIA_TYPE_RELEASE_METADATA, &metadata_bytes)
                .with_annotation(ANNOTATION_LAYER_TYPE, "metadata"),
            Descriptor::of(MEDIA_TYPE_RELEASE_RESOURCES, &tar).with_annotation(ANNOTATION_LAYER_TYPE, "resources"),
        ],
        subject: None,
        annotations: Some(BTreeMap::from([
            (ANNOTATION_CREATED.to_owned(), created),
            (ANNOTATION_REVISION.to_owned(), input.id.commit.to_string()),
            (ANNOTATION_SOURCE.to_owned(), source_url(&input.id.repository)),
        ])),
    };
    Ok(BuiltImage::assemble(
        manifest,
        Bytes::from_static(EMPTY_JSON),
        vec![Bytes::from(metadata_bytes), Bytes::from(tar)],
    ))
}

/// A release image read back and checked: the right artifactType, config, layer media types,
/// annotations and order, and a metadata document whose resources digest matches the layer.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseImage {
    /// The image (digests already verified).
    pub image: BuiltImage,
    /// The parsed metadata.
    pub metadata: ReleaseMetadata,
}

impl ReleaseImage {
    /// Checks the shape of a (verified) image and parses its metadata.
    pub fn from_image(image: BuiltImage) -> Result<Self, OciError> {
        let wrong = |m: String| OciError::WrongImageKind { expected: "release", message: m };
        let m = &image.manifest;
        if image.layers.len() != m.layers.len() {
            return Err(wrong(format!("{} layer blobs for {} descriptors", image.layers.len(), m.layers.len())));
        }
        if m.artifact_type.as_deref() != Some(ARTIFACT_TYPE_RELEASE) {
            return Err(wrong(format!("artifactType is {:?}, expected `{ARTIFACT_TYPE_RELEASE}`", m.artifact_type)));
        }
        if m.config.media_type != MEDIA_TYPE_EMPTY {
            return Err(wrong(format!("config media type `{}`, expected `{MEDIA_TYPE_EMPTY}`", m.config.media_type)));
        }
        let expected = [(MEDIA_TYPE_RELEASE_METADATA, "metadata"), (MEDIA_TYPE_RELEASE_RESOURCES, "resources")];
        if m.layers.len() != expected.len() {
            return Err(wrong(format!("{} layers, expected 2 (metadata, resources)", m.layers.len())));
        }
        for (i, (d, (mt, role))) in m.layers.iter().zip(expected).enumerate() {
            if d.media_type != mt {
                return Err(wrong(format!("layer {i} has media type `{}`, expected `{mt}`", d.media_type)));
            }
            if d.annotation(ANNOTATION_LAYER_TYPE) != Some(role) {
                return Err(wrong(format!("layer {i} is not annotated `{ANNOTATION_LAYER_TYPE}: {role}`")));
            }
        }
        let metadata_bytes = image.layers.first().cloned().unwrap_or_default();
        let metadata: ReleaseMetadata = serde_json::from_slice(&metadata_bytes)
            .map_err(|e| OciError::InvalidMetadata { message: e.to_string() })?;
        if metadata.api_version != RELEASE_API_VERSION {
            return Err(OciError::InvalidMetadata {
                message: format!("apiVersion `{}`, expected `{RELEASE_API_VERSION}`", metadata.api_version),
            });
        }
        let layer_digest = &m.layers[1].digest;
        if &metadata.resources.digest != layer_digest {
            return Err(OciError::DigestMismatch {
                what: "resources digest in metadata".into(),
                expected: metadata.resources.digest.to_string(),
                actual: layer_digest.to_string(),
            });
        }
        Ok(Self { image, metadata })
    }

    /// The metadata layer bytes.
    pub fn metadata_bytes(&self) -> &Bytes {
        &self.image.layers[0]
    }
    /// The resources layer bytes (an uncompressed tar).
    pub fn resources_layer(&self) -> &Bytes {
        &self.image.layers[1]
    }

    /// Extracts the resources into memory, in declaration order, safely (see
    /// [`extract_tar`]); also checks the count and kinds against the metadata.
    pub fn extract_resources(&self, limits: &ExtractLimits) -> Result<Vec<ExtractedFile>, OciError> {
        let files = extract_tar(self.resources_layer(), limits)?;
        if files.len() as u64 != self.metadata.resources.count {
            return Err(OciError::InvalidMetadata {
                message: format!(
                    "metadata counts {} resources, the layer holds {}",
                    self.metadata.resources.count,
                    files.len()
                ),
            });
        }
        Ok(files)
    }

    /// Extracts the resources into an empty or absent directory (see
    /// [`extract_tar_to_dir`](crate::extract_tar_to_dir)). Returns the file names.
    pub fn extract_resources_to_dir(
        &self,
        dir: &std::path::Path,
        limits: &ExtractLimits,
    ) -> Result<Vec<String>, OciError> {
        let files = self.extract_resources(limits)?;
        crate::tarball::write_files_to_dir(&files, dir)?;
        Ok(files.into_iter().map(|f| f.name).collect())
    }

    /// The manifests as one YAML stream (`---` between documents), in declaration order.
    pub fn resources_yaml_stream(&self, limits: &ExtractLimits) -> Result<Vec<u8>, OciError> {
        let files = self.extract_resources(limits)?;
        let mut out = Vec::with_capacity(files.iter().map(|f| f.data.len() + 5).sum());
        for f in files {
            if !f.data.starts_with(b"---") {
                out.extend_from_slice(b"---\n");
            }
            out.extend_from_slice(&f.data);
            if !f.data.ends_with(b"\n") {
                out.push(b'\n');
            }
        }
        Ok(out)
    }

    /// Recovers the inputs the image was built from (metadata plus the resources layer), so
    /// that [`build_release_image`] can rebuild it.
    pub fn to_input(&self, limits: &ExtractLimits) -> Result<ReleaseInput, OciError> {
        let files = self.extract_resources(limits)?;
        let mut resources = Vec::with_capacity(files.len());
        for (i, f) in files.into_iter().enumerate() {
            let bad = |why: &str| OciError::InvalidMetadata { message: format!("resource file `{}`: {why}", f.name) };
            let rest = f.name.strip_prefix(&format!("{:04}-", i + 1)).ok_or_else(|| bad("not numbered in sequence"))?;
            let rest = rest.strip_suffix(".yaml").ok_or_else(|| bad("not a `.yaml` file"))?;
            let (kind, name) = rest.split_once('-').ok_or_else(|| bad("expected `NNNN-<kind>-<name>.yaml`"))?;
            resources.push(Resource::new(kind, name, Bytes::from(f.data))?);
        }
        let md = &self.metadata;
        let committed_at = DateTime::parse_from_rfc3339(&md.source.committed_at)
            .map_err(|e| OciError::InvalidMetadata { message: format!("source.committedAt: {e}") })?
            .with_timezone(&Utc);
        Ok(ReleaseInput {
            id: md.release.canonical_id.clone(),
            number: md.release.number,
            aliases: md.release.aliases.clone(),
            trigger: md.trigger.clone(),
            author: md.source.author.clone(),
            message: md.source.message.clone(),
            committed_at: Utc.timestamp_opt(committed_at.timestamp(), 0).single().unwrap_or(committed_at),
            artifacts: md.artifacts.clone(),
            resources,
        })
    }
}
