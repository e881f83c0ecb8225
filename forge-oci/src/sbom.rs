//! SPDX 2.3 JSON SBOMs for binary and archive artifacts (SPEC §4.5), from typed structs.

use std::io::Read;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest as _, Sha256};

use crate::digest::Digest;
use crate::error::OciError;
use crate::tarball::ExtractLimits;

/// One file described by an SBOM.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SbomFile {
    /// Path inside the artifact (`bin/web`), or the binary's file name.
    pub path: String,
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// SHA-1, lowercase hex (SPDX 2.3 requires a SHA1 checksum for every file).
    pub sha1: String,
}

impl SbomFile {
    /// Describes a file from its content.
    pub fn from_bytes(path: impl Into<String>, data: &[u8]) -> Self {
        Self { path: path.into(), sha256: hex::encode(Sha256::digest(data)), sha1: hex::encode(Sha1::digest(data)) }
    }
}

/// Lists the regular files of an uncompressed tar archive for an SBOM (safe reading, limits
/// apply; other entry kinds are skipped).
pub fn sbom_files_from_tar(tar_bytes: &[u8], limits: &ExtractLimits) -> Result<Vec<SbomFile>, OciError> {
    sbom_files_from_reader(tar_bytes, limits)
}

/// Lists the regular files of a `.tar.gz` archive for an SBOM.
pub fn sbom_files_from_tar_gz(tgz: &[u8], limits: &ExtractLimits) -> Result<Vec<SbomFile>, OciError> {
    sbom_files_from_reader(flate2::read::GzDecoder::new(tgz), limits)
}

fn sbom_files_from_reader(r: impl Read, limits: &ExtractLimits) -> Result<Vec<SbomFile>, OciError> {
    let mut archive = tar::Archive::new(r);
    let entries =
        archive.entries().map_err(|e| OciError::unsafe_entry("<archive>", format!("unreadable archive: {e}")))?;
    let mut out = Vec::new();
    let mut total = 0u64;
    for entry in entries {
        let mut entry = entry.map_err(|e| OciError::unsafe_entry("<archive>", format!("unreadable entry: {e}")))?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        if out.len() >= limits.max_entries {
            return Err(OciError::LimitExceeded {
                what: "archive entry count".into(),
                limit: limits.max_entries as u64,
                actual: out.len() as u64 + 1,
            });
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).trim_start_matches("./").to_owned();
        let size = entry.size();
        if size > limits.max_file_bytes {
            return Err(OciError::LimitExceeded {
                what: format!("size of `{name}`"),
                limit: limits.max_file_bytes,
                actual: size,
            });
        }
        total = total.saturating_add(size);
        if total > limits.max_total_bytes {
            return Err(OciError::LimitExceeded {
                what: "archive size".into(),
                limit: limits.max_total_bytes,
                actual: total,
            });
        }
        let mut data = Vec::new();
        (&mut entry)
            .take(size)
            .read_to_end(&mut data)
            .map_err(|e| OciError::unsafe_entry(&name, format!("truncated: {e}")))?;
        out.push(SbomFile::from_bytes(name, &data));
    }
    out.sort();
    Ok(out)
}

/// What an SBOM is generated from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SbomInput {
    /// Artifact name (the package name).
    pub name: String,
    /// Version (the commit SHA or release tag).
    pub version: String,
    /// A stable, unique URI part for `documentNamespace` (e.g. the tracking reference).
    pub namespace: String,
    /// Creation time (the commit time, for reproducibility).
    pub created: DateTime<Utc>,
    /// Digest of the artifact itself (binary or archive file).
    pub artifact_digest: Digest,
    /// The files (sorted in the document).
    pub files: Vec<SbomFile>,
}

/// An SPDX 2.3 document (the JSON subset Forge writes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpdxDocument {
    /// `SPDX-2.3`.
    pub spdx_version: String,
    /// `CC0-1.0`.
    pub data_license: String,
    /// `SPDXRef-DOCUMENT`.
    #[serde(rename = "SPDXID")]
    pub spdx_id: String,
    /// Document name.
    pub name: String,
    /// Unique namespace URI.
    pub document_namespace: String,
    /// Creation info.
    pub creation_info: SpdxCreationInfo,
    /// The artifact package.
    pub packages: Vec<SpdxPackage>,
    /// The files.
    pub files: Vec<SpdxFile>,
    /// DESCRIBES and CONTAINS relationships.
    pub relationships: Vec<SpdxRelationship>,
}

/// SPDX creation info.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpdxCreationInfo {
    /// RFC 3339 UTC, seconds.
    pub created: String,
    /// `Tool: forge-oci-<version>`.
    pub creators: Vec<String>,
}

/// An SPDX checksum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpdxChecksum {
    /// `SHA1` or `SHA256`.
    pub algorithm: String,
    /// Lowercase hex.
    pub checksum_value: String,
}

/// An SPDX package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpdxPackage {
    /// Package name.
    pub name: String,
    /// Element id.
    #[serde(rename = "SPDXID")]
    pub spdx_id: String,
    /// Version.
    pub version_info: String,
    /// `NOASSERTION`.
    pub download_location: String,
    /// `false`: files are listed without a verification code.
    pub files_analyzed: bool,
    /// The artifact's own SHA-256.
    pub checksums: Vec<SpdxChecksum>,
    /// `NOASSERTION`.
    pub license_concluded: String,
    /// `NOASSERTION`.
    pub license_declared: String,
    /// `NOASSERTION`.
    pub copyright_text: String,
}

/// An SPDX file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpdxFile {
    /// `./path`.
    pub file_name: String,
    /// Element id.
    #[serde(rename = "SPDXID")]
    pub spdx_id: String,
    /// SHA1 and SHA256.
    pub checksums: Vec<SpdxChecksum>,
    /// `NOASSERTION`.
    pub license_concluded: String,
    /// `NOASSERTION`.
    pub copyright_text: String,
}

/// An SPDX relationship.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpdxRelationship {
    /// From.
    pub spdx_element_id: String,
    /// `DESCRIBES`, `CONTAINS`.
    pub relationship_type: String,
    /// To.
    pub related_spdx_element: String,
}

fn spdx_id_part(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '-' }).collect()
}

const NOASSERTION: &str = "NOASSERTION";

impl SpdxDocument {
    /// Generates the SBOM of a binary or archive artifact: one package (the artifact, with its
    /// SHA-256) containing the files, sorted by path.
    pub fn generate(input: &SbomInput) -> Self {
        let pkg_id = format!("SPDXRef-Package-{}", spdx_id_part(&input.name));
        let mut files = input.files.clone();
        files.sort();
        files.dedup();
        let spdx_files: Vec<SpdxFile> = files
            .iter()
            .enumerate()
            .map(|(i, f)| SpdxFile {
                file_name: format!("./{}", f.path.trim_start_matches("./")),
                spdx_id: format!("SPDXRef-File-{}", i + 1),
                checksums: vec![
                    SpdxChecksum { algorithm: "SHA1".into(), checksum_value: f.sha1.clone() },
                    SpdxChecksum { algorithm: "SHA256".into(), checksum_value: f.sha256.clone() },
                ],
                license_concluded: NOASSERTION.into(),
                copyright_text: NOASSERTION.into(),
            })
            .collect();
        let mut relationships = vec![SpdxRelationship {
            spdx_element_id: "SPDXRef-DOCUMENT".into(),
            relationship_type: "DESCRIBES".into(),
            related_spdx_element: pkg_id.clone(),
        }];
        relationships.extend(spdx_files.iter().map(|f| SpdxRelationship {
            spdx_element_id: pkg_id.clone(),
            relationship_type: "CONTAINS".into(),
            related_spdx_element: f.spdx_id.clone(),
        }));
        Self {
            spdx_version: "SPDX-2.3".into(),
            data_license: "CC0-1.0".into(),
            spdx_id: "SPDXRef-DOCUMENT".into(),
            name: input.name.clone(),
            document_namespace: format!(
                "https://forge.projectcatalyst.io/spdx/{}-{}",
                input.namespace.trim_matches('/'),
                input.artifact_digest.hex()
            ),
            creation_info: SpdxCreationInfo {
                created: crate::release::commit_time(&input.created).0,
                creators: vec![format!("Tool: forge-oci-{}", env!("CARGO_PKG_VERSION"))],
            },
            packages: vec![SpdxPackage {
                name: input.name.clone(),
                spdx_id: pkg_id,
                version_info: input.version.clone(),
                download_location: NOASSERTION.into(),
                files_analyzed: false,
                checksums: vec![SpdxChecksum {
                    algorithm: "SHA256".into(),
                    checksum_value: input.artifact_digest.hex().to_owned(),
                }],
                license_concluded: NOASSERTION.into(),
                license_declared: NOASSERTION.into(),
                copyright_text: NOASSERTION.into(),
            }],
            files: spdx_files,
            relationships,
        }
    }

    /// Compact JSON bytes (stable field order).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}
