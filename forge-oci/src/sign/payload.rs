//! The simple-signing payload cosign and containers/image sign and verify.

use serde::{Deserialize, Serialize};

use super::error::SignError;
use crate::digest::Digest;

/// The `critical.type` of every cosign container image signature.
pub const SIGNATURE_TYPE: &str = "cosign container image signature";

/// Largest payload accepted when verifying (containers/image uses 4 MiB for signatures).
pub const MAX_PAYLOAD_BYTES: u64 = 4 * 1024 * 1024;

/// A simple-signing payload: what a signature says about an image.
///
/// Serialised exactly as cosign writes it: compact JSON, `critical` then `optional`, with
/// `"optional": null` when there are no optional fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimpleSigning {
    /// The signed claims.
    pub critical: Critical,
    /// Unsigned-by-meaning extras (still covered by the signature): `creator` (string),
    /// `timestamp` (number), or anything cosign's `-a key=value` adds. `null` when empty.
    pub optional: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The `critical` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Critical {
    /// The repository identity the image was signed for.
    pub identity: Identity,
    /// The signed manifest.
    pub image: ImageClaim,
    /// Always [`SIGNATURE_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
}

/// `critical.identity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// `docker-reference`: the repository (`registry/path`, without tag) the signer meant.
    #[serde(rename = "docker-reference")]
    pub docker_reference: String,
}

/// `critical.image`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageClaim {
    /// `docker-manifest-digest`: the signed manifest digest.
    #[serde(rename = "docker-manifest-digest")]
    pub docker_manifest_digest: String,
}

impl SimpleSigning {
    /// A payload for `digest` under `docker_reference`, with optional fields.
    ///
    /// `creator` must be a string and `timestamp` a number when present (containers/image
    /// refuses the signature otherwise).
    pub fn new(
        docker_reference: &str,
        digest: &Digest,
        optional: Option<serde_json::Map<String, serde_json::Value>>,
    ) -> Result<Self, SignError> {
        if docker_reference.is_empty() {
            return Err(SignError::InvalidInput {
                field: "docker-reference".into(),
                message: "must not be empty".into(),
            });
        }
        if let Some(map) = &optional {
            if map.get("creator").is_some_and(|v| !v.is_string()) {
                return Err(SignError::InvalidInput {
                    field: "optional.creator".into(),
                    message: "must be a string".into(),
                });
            }
            if map.get("timestamp").is_some_and(|v| !v.is_number()) {
                return Err(SignError::InvalidInput {
                    field: "optional.timestamp".into(),
                    message: "must be a number (Unix seconds)".into(),
                });
            }
        }
        Ok(Self {
            critical: Critical {
                identity: Identity { docker_reference: docker_reference.to_owned() },
                image: ImageClaim { docker_manifest_digest: digest.to_string() },
                kind: SIGNATURE_TYPE.to_owned(),
            },
            optional: optional.filter(|m| !m.is_empty()),
        })
    }

    /// The exact bytes that get signed.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Plain structs, strings and JSON values always serialise.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses a payload strictly: unknown fields in `critical` are refused, `type` must be
    /// [`SIGNATURE_TYPE`].
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let p: Self =
            serde_json::from_slice(bytes).map_err(|e| format!("payload is not a simple-signing document: {e}"))?;
        if p.critical.kind != SIGNATURE_TYPE {
            return Err(format!("payload type is `{}`, expected `{SIGNATURE_TYPE}`", truncate(&p.critical.kind)));
        }
        Ok(p)
    }
}

fn truncate(s: &str) -> String {
    crate::error::truncate(s, 100)
}

/// Strips a tag or digest from a docker reference: `host:5000/a/b:tag` → `host:5000/a/b`.
pub(crate) fn repository_of(reference: &str) -> &str {
    let no_digest = reference.split_once('@').map_or(reference, |(r, _)| r);
    let last_slash = no_digest.rfind('/').map_or(0, |i| i + 1);
    match no_digest[last_slash..].find(':') {
        Some(i) => &no_digest[..last_slash + i],
        None => no_digest,
    }
}

/// Whether a payload's docker reference names `repository` (a store repository path such as
/// `acme/shop/web`): equal to it, or `<registry>/<repository>`.
pub(crate) fn identity_matches(docker_reference: &str, repository: &str) -> bool {
    let r = repository_of(docker_reference);
    r == repository || r.strip_suffix(repository).is_some_and(|prefix| prefix.ends_with('/') && prefix.len() > 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_of_strips_tags_and_digests() {
        assert_eq!(repository_of("127.0.0.1:5000/a/b:v1"), "127.0.0.1:5000/a/b");
        assert_eq!(repository_of("127.0.0.1:5000/a/b"), "127.0.0.1:5000/a/b");
        assert_eq!(repository_of("a/b@sha256:00"), "a/b");
        assert_eq!(repository_of("a/b:t@sha256:00"), "a/b");
    }

    #[test]
    fn identity_matching() {
        assert!(identity_matches("127.0.0.1:5000/acme/web", "acme/web"));
        assert!(identity_matches("acme/web", "acme/web"));
        assert!(identity_matches("registry.example/acme/web:1", "acme/web"));
        assert!(!identity_matches("registry.example/evilacme/web", "acme/web"));
        assert!(!identity_matches("registry.example/acme/web2", "acme/web"));
        assert!(!identity_matches("/acme/web", "acme/web"));
    }
}
