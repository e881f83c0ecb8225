//! OCI manifest, index and descriptor types, media types and parsing with limits.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::OciError;

/// OCI image manifest media type.
pub const MEDIA_TYPE_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index media type.
pub const MEDIA_TYPE_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker schema 2 manifest media type (accepted when reading, never written).
pub const MEDIA_TYPE_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list media type (accepted when reading, never written).
pub const MEDIA_TYPE_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// The OCI empty descriptor media type (`{}`).
pub const MEDIA_TYPE_EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// The `Accept` header value for manifest reads: every manifest type a store may hold.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// artifactType of a release image (SPEC §5.2).
pub const ARTIFACT_TYPE_RELEASE: &str = "application/vnd.forge.release.v1";
/// Media type of the release metadata layer.
pub const MEDIA_TYPE_RELEASE_METADATA: &str = "application/vnd.forge.release.metadata.v1+json";
/// Media type of the release resources layer (uncompressed tar).
pub const MEDIA_TYPE_RELEASE_RESOURCES: &str = "application/vnd.forge.release.resources.v1+tar";
/// artifactType of an artifact tracking image (SPEC §4.5).
pub const ARTIFACT_TYPE_TRACKING: &str = "application/vnd.forge.artifact.v1";
/// Media type of the tracking metadata layer.
pub const MEDIA_TYPE_TRACKING_METADATA: &str = "application/vnd.forge.artifact.metadata.v1+json";
/// Media type of an SPDX JSON SBOM layer.
pub const MEDIA_TYPE_SPDX: &str = "application/spdx+json";
/// Media type of a Syft JSON SBOM layer.
pub const MEDIA_TYPE_SYFT: &str = "application/vnd.syft+json";
/// Media type of the in-toto attestation layer.
pub const MEDIA_TYPE_IN_TOTO: &str = "application/vnd.in-toto+json";

/// Layer annotation naming the role of a layer.
pub const ANNOTATION_LAYER_TYPE: &str = "org.catalyst-forge.layer.type";
/// Manifest annotation: the commit SHA.
pub const ANNOTATION_REVISION: &str = "org.opencontainers.image.revision";
/// Manifest annotation: the source repository URL.
pub const ANNOTATION_SOURCE: &str = "org.opencontainers.image.source";
/// Manifest annotation: the creation time (the commit time, never the wall clock).
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";
/// Index annotation naming a manifest in an OCI image layout.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";

/// The content of the OCI empty descriptor.
pub const EMPTY_JSON: &[u8] = b"{}";

/// Largest manifest or index accepted when reading (4 MiB, as most registries).
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;
/// Largest number of layers (or index entries) accepted when reading.
pub const MAX_DESCRIPTORS: usize = 1024;

/// An OCI content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the content.
    pub media_type: String,
    /// Digest of the content.
    pub digest: Digest,
    /// Size in bytes.
    pub size: u64,
    /// artifactType (index entries of artifacts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Annotations, sorted by key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Platform of an index entry, kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<serde_json::Value>,
}

impl Descriptor {
    /// A descriptor of `data`.
    pub fn of(media_type: &str, data: &[u8]) -> Self {
        Self {
            media_type: media_type.to_owned(),
            digest: Digest::of(data),
            size: data.len() as u64,
            artifact_type: None,
            annotations: None,
            platform: None,
        }
    }
    /// The OCI empty descriptor (`{}`, 2 bytes).
    pub fn empty() -> Self {
        Self::of(MEDIA_TYPE_EMPTY, EMPTY_JSON)
    }
    /// Adds one annotation.
    pub fn with_annotation(mut self, key: &str, value: &str) -> Self {
        self.annotations.get_or_insert_with(BTreeMap::new).insert(key.to_owned(), value.to_owned());
        self
    }
    /// One annotation's value.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.as_ref()?.get(key).map(String::as_str)
    }
    /// Checks `data` against the size and digest; `what` names the content in errors.
    pub fn verify(&self, what: &str, data: &[u8]) -> Result<(), OciError> {
        if data.len() as u64 != self.size {
            return Err(OciError::SizeMismatch {
                what: what.to_owned(),
                expected: self.size,
                actual: data.len() as u64,
            });
        }
        self.digest.verify(what, data)
    }
}

/// An OCI image manifest (also used for artifacts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// Always 2.
    pub schema_version: u32,
    /// `application/vnd.oci.image.manifest.v1+json` (or the Docker v2 type when read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The artifact type (`application/vnd.forge.release.v1`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The config descriptor.
    pub config: Descriptor,
    /// The layers, in order.
    pub layers: Vec<Descriptor>,
    /// The subject (referrers), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations, sorted by key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

impl ImageManifest {
    /// Parses and checks a manifest: size limit, `schemaVersion: 2`, a manifest media type,
    /// at most [`MAX_DESCRIPTORS`] layers, valid digests.
    pub fn parse(bytes: &[u8]) -> Result<Self, OciError> {
        check_size(bytes)?;
        let m: Self = serde_json::from_slice(bytes).map_err(|e| OciError::manifest(e.to_string()))?;
        if m.schema_version != 2 {
            return Err(OciError::manifest(format!("schemaVersion is {}, expected 2", m.schema_version)));
        }
        if let Some(mt) = &m.media_type
            && mt != MEDIA_TYPE_OCI_MANIFEST
            && mt != MEDIA_TYPE_DOCKER_MANIFEST
        {
            return Err(OciError::manifest(format!("mediaType `{mt}` is not an image manifest")));
        }
        if m.layers.len() > MAX_DESCRIPTORS {
            return Err(OciError::LimitExceeded {
                what: "layer count".into(),
                limit: MAX_DESCRIPTORS as u64,
                actual: m.layers.len() as u64,
            });
        }
        Ok(m)
    }
    /// The canonical bytes Forge writes: compact JSON, fields in spec order, annotations sorted.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising plain structs, strings and maps cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
    /// One manifest annotation's value.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.as_ref()?.get(key).map(String::as_str)
    }
}

/// An OCI image index (also the `index.json` of an image layout).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    /// Always 2.
    pub schema_version: u32,
    /// `application/vnd.oci.image.index.v1+json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The manifests.
    pub manifests: Vec<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

impl ImageIndex {
    /// Parses and checks an index (size and entry-count limits, `schemaVersion: 2`).
    pub fn parse(bytes: &[u8]) -> Result<Self, OciError> {
        check_size(bytes)?;
        let i: Self = serde_json::from_slice(bytes).map_err(|e| OciError::manifest(e.to_string()))?;
        if i.schema_version != 2 {
            return Err(OciError::manifest(format!("schemaVersion is {}, expected 2", i.schema_version)));
        }
        if let Some(mt) = &i.media_type
            && mt != MEDIA_TYPE_OCI_INDEX
            && mt != MEDIA_TYPE_DOCKER_LIST
        {
            return Err(OciError::manifest(format!("mediaType `{mt}` is not an image index")));
        }
        if i.manifests.len() > MAX_DESCRIPTORS {
            return Err(OciError::LimitExceeded {
                what: "index entry count".into(),
                limit: MAX_DESCRIPTORS as u64,
                actual: i.manifests.len() as u64,
            });
        }
        Ok(i)
    }
    /// Compact JSON bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Whether a media type names an index rather than an image manifest.
pub fn is_index_media_type(media_type: &str) -> bool {
    media_type == MEDIA_TYPE_OCI_INDEX || media_type == MEDIA_TYPE_DOCKER_LIST
}

/// The media type of manifest bytes: the `mediaType` field, else guessed from the shape
/// (`manifests` → index, else image manifest).
pub fn sniff_media_type(bytes: &[u8]) -> String {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
    }
    match serde_json::from_slice::<Probe>(bytes) {
        Ok(Probe { media_type: Some(mt), .. }) => mt,
        Ok(Probe { manifests: Some(_), .. }) => MEDIA_TYPE_OCI_INDEX.to_owned(),
        _ => MEDIA_TYPE_OCI_MANIFEST.to_owned(),
    }
}

fn check_size(bytes: &[u8]) -> Result<(), OciError> {
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(OciError::LimitExceeded {
            what: "manifest size".into(),
            limit: MAX_MANIFEST_BYTES as u64,
            actual: bytes.len() as u64,
        });
    }
    Ok(())
}
