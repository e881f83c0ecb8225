//! The cosign signature artifact: writing and verifying `sha256-<hex>.sig`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use forge_core::ports::ImageStore;
use p256::ecdsa::VerifyingKey;
use serde::Serialize;

use super::error::SignError;
use super::key::{Signer, key_id, verify_with};
use super::payload::{MAX_PAYLOAD_BYTES, SimpleSigning, identity_matches};
use crate::digest::Digest;
use crate::manifest::{Descriptor, ImageManifest, MEDIA_TYPE_OCI_MANIFEST};

/// Media type of the payload layer of a cosign signature artifact.
pub const MEDIA_TYPE_SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// Media type of the signature artifact's config (an OCI image config, as cosign writes).
pub const MEDIA_TYPE_OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// Layer annotation holding the base64 DER signature.
pub const ANNOTATION_SIGNATURE: &str = "dev.cosignproject.cosign/signature";
/// Layer annotation holding a keyless signer's certificate.
pub const ANNOTATION_CERTIFICATE: &str = "dev.sigstore.cosign/certificate";
/// Layer annotation holding a keyless signer's certificate chain.
pub const ANNOTATION_CHAIN: &str = "dev.sigstore.cosign/chain";
/// Layer annotation holding a Rekor bundle.
pub const ANNOTATION_BUNDLE: &str = "dev.sigstore.cosign/bundle";

/// The tag of a manifest's signature artifact: `sha256-<hex>.sig`.
pub fn signature_tag(digest: &Digest) -> String {
    format!("sha256-{}.sig", digest.hex())
}

/// How to sign, beyond the key.
#[derive(Debug, Clone, Default)]
pub struct SignOptions {
    /// The `docker-reference` to sign for. Default: the store repository path as given. For a
    /// registry, pass `<registry>/<repository>` (see [`registry_reference`](crate::sign::registry_reference))
    /// so that containers/image (`skopeo`, `podman`) with `matchRepository` accepts it.
    pub docker_reference: Option<String>,
    /// `optional` fields of the payload (cosign's `-a key=value`).
    pub optional: serde_json::Map<String, serde_json::Value>,
}

/// What [`sign_image`] wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignedImage {
    /// The signed manifest digest.
    pub manifest_digest: Digest,
    /// The signature tag (`sha256-<hex>.sig`).
    pub signature_tag: String,
    /// Digest of the signature artifact's manifest.
    pub signature_manifest_digest: String,
    /// Digest of the payload blob.
    pub payload_digest: Digest,
    /// The signer's key id.
    pub key_id: String,
    /// The signed docker reference.
    pub docker_reference: String,
    /// False when an identical signature was already present (nothing written).
    pub written: bool,
}

/// The cosign-style config blob: an OCI image config whose rootfs lists the layers.
fn config_blob(layers: &[Descriptor]) -> Vec<u8> {
    let diff_ids: Vec<&str> = layers.iter().map(|l| l.digest.as_str()).collect();
    let v = serde_json::json!({
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "config": {},
    });
    serde_json::to_vec(&v).unwrap_or_default()
}

fn is_not_found(e: &forge_core::Error) -> bool {
    matches!(e, forge_core::Error::NotFound { .. })
}

/// Signs `digest` in `repository` with the default [`SignOptions`] (the docker reference is
/// `repository` itself). See [`sign_image_with`].
pub async fn sign_image(
    store: &dyn ImageStore,
    repository: &str,
    digest: &Digest,
    signer: &dyn Signer,
) -> Result<SignedImage, SignError> {
    sign_image_with(store, repository, digest, signer, &SignOptions::default()).await
}

/// Signs the manifest `digest` of `repository` and stores the cosign signature artifact at
/// `sha256-<hex>.sig` in the same repository: an OCI image manifest whose layers are
/// simple-signing payloads (`application/vnd.dev.cosign.simplesigning.v1+json`), each
/// annotated with its base64 signature (`dev.cosignproject.cosign/signature`).
///
/// Existing signatures are kept (the new one is appended, as cosign does); signing twice with
/// the same key is idempotent (deterministic ECDSA) and writes nothing. Concurrent signers of
/// one digest race on the tag (the last write wins). The manifest itself is not read: the
/// caller vouches for the digest (it just pushed or verified it).
pub async fn sign_image_with(
    store: &dyn ImageStore,
    repository: &str,
    digest: &Digest,
    signer: &dyn Signer,
    options: &SignOptions,
) -> Result<SignedImage, SignError> {
    if repository.is_empty() && options.docker_reference.is_none() {
        return Err(SignError::InvalidInput {
            field: "repository".into(),
            message: "an empty repository needs SignOptions::docker_reference".into(),
        });
    }
    let docker_reference = options.docker_reference.clone().unwrap_or_else(|| repository.to_owned());
    let optional = (!options.optional.is_empty()).then(|| options.optional.clone());
    let payload = SimpleSigning::new(&docker_reference, digest, optional)?.to_bytes();
    let material = signer.sign(&payload).await?;
    let signature_b64 = B64.encode(&material.signature);
    let mut layer =
        Descriptor::of(MEDIA_TYPE_SIMPLE_SIGNING, &payload).with_annotation(ANNOTATION_SIGNATURE, &signature_b64);
    for (key, value) in [
        (ANNOTATION_CERTIFICATE, &material.certificate),
        (ANNOTATION_CHAIN, &material.chain),
        (ANNOTATION_BUNDLE, &material.bundle),
    ] {
        if let Some(v) = value {
            layer = layer.with_annotation(key, v);
        }
    }
    let tag = signature_tag(digest);
    let mut layers = match store.get_manifest(repository, &tag).await {
        Ok(stored) => ImageManifest::parse(&stored.bytes)?.layers,
        Err(e) if is_not_found(&e) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let key_id = signer.key_id();
    let result = |written: bool, manifest: String| SignedImage {
        manifest_digest: digest.clone(),
        signature_tag: tag.clone(),
        signature_manifest_digest: manifest,
        payload_digest: layer.digest.clone(),
        key_id: key_id.clone(),
        docker_reference: docker_reference.clone(),
        written,
    };
    if layers.iter().any(|l| l == &layer) {
        let existing = store.get_manifest(repository, &tag).await?;
        return Ok(result(false, existing.digest));
    }
    layers.push(layer.clone());
    let config = config_blob(&layers);
    let config_desc = Descriptor::of(MEDIA_TYPE_OCI_CONFIG, &config);
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(MEDIA_TYPE_OCI_MANIFEST.to_owned()),
        artifact_type: None,
        config: config_desc.clone(),
        layers,
        subject: None,
        annotations: None,
    };
    let manifest_bytes = manifest.to_bytes();
    for (d, data) in [(&layer.digest, payload), (&config_desc.digest, config)] {
        if !store.has_blob(repository, d.as_str()).await? {
            store.put_blob(repository, d.as_str(), Bytes::from(data)).await?;
        }
    }
    let stored = store.put_manifest(repository, &tag, MEDIA_TYPE_OCI_MANIFEST, Bytes::from(manifest_bytes)).await?;
    tracing::info!(repository, digest = %digest, key_id = %key_id, tag = %tag, "image signed");
    Ok(result(true, stored))
}

/// The result of checking one signature layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureCheck {
    /// Position of the layer in the signature artifact.
    pub index: usize,
    /// Digest of the payload blob.
    pub payload_digest: String,
    /// The payload's `docker-reference`, when it parsed.
    pub docker_reference: Option<String>,
    /// The id of the trusted key that verified it.
    pub key_id: Option<String>,
    /// Whether this signature is valid for the manifest, the repository and a trusted key.
    pub ok: bool,
    /// What was found.
    pub detail: String,
}

/// The result of [`verify_signature`]. Serialisable for `--json` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureReport {
    /// Repository.
    pub repository: String,
    /// The manifest digest checked.
    pub manifest_digest: String,
    /// The signature tag looked up.
    pub signature_tag: String,
    /// Whether a signature artifact exists.
    pub signed: bool,
    /// True when at least one signature is valid for a trusted key.
    pub ok: bool,
    /// One entry per simple-signing layer.
    pub signatures: Vec<SignatureCheck>,
}

impl SignatureReport {
    /// A one-line reason when not ok (`None` when ok).
    pub fn reason(&self) -> Option<String> {
        if self.ok {
            return None;
        }
        if !self.signed {
            return Some(format!("no signature artifact ({})", self.signature_tag));
        }
        if self.signatures.is_empty() {
            return Some("signature artifact has no simple-signing layer".into());
        }
        let parts: Vec<String> = self.signatures.iter().map(|s| format!("#{}: {}", s.index, s.detail)).collect();
        Some(parts.join("; "))
    }
}

/// Verifies the cosign signatures of manifest `digest` in `repository` against trusted P-256
/// public keys.
///
/// Reads `sha256-<hex>.sig`; for each `application/vnd.dev.cosign.simplesigning.v1+json`
/// layer, reads the payload blob (digest-checked, at most 4 MiB), requires a strict
/// simple-signing payload whose `docker-manifest-digest` equals `digest` and whose
/// `docker-reference` names `repository` (equal, or `<registry>/<repository>`; a tag or
/// digest suffix is ignored), and an ECDSA P-256/SHA-256 signature valid for one of `keys`.
/// The report is `ok` when at least one layer passes. Unsigned or tampered images give
/// `Ok(report)` with `ok == false`; errors are access problems only. `digest` must be the
/// digest of the manifest the caller uses (computed from its bytes).
pub async fn verify_signature(
    store: &dyn ImageStore,
    repository: &str,
    digest: &Digest,
    keys: &[VerifyingKey],
) -> Result<SignatureReport, SignError> {
    let tag = signature_tag(digest);
    let mut report = SignatureReport {
        repository: repository.to_owned(),
        manifest_digest: digest.to_string(),
        signature_tag: tag.clone(),
        signed: false,
        ok: false,
        signatures: Vec::new(),
    };
    let stored = match store.get_manifest(repository, &tag).await {
        Ok(s) => s,
        Err(e) if is_not_found(&e) => return Ok(report),
        Err(e) => return Err(e.into()),
    };
    report.signed = true;
    let manifest = match ImageManifest::parse(&stored.bytes) {
        Ok(m) => m,
        Err(e) => {
            report.signatures.push(SignatureCheck {
                index: 0,
                payload_digest: String::new(),
                docker_reference: None,
                key_id: None,
                ok: false,
                detail: format!("signature artifact manifest: {e}"),
            });
            return Ok(report);
        }
    };
    let key_ids: Vec<String> = keys.iter().map(key_id).collect();
    for (index, layer) in manifest.layers.iter().enumerate() {
        if layer.media_type != MEDIA_TYPE_SIMPLE_SIGNING {
            continue;
        }
        let mut check = SignatureCheck {
            index,
            payload_digest: layer.digest.to_string(),
            docker_reference: None,
            key_id: None,
            ok: false,
            detail: String::new(),
        };
        check.detail = check_layer(store, repository, digest, layer, keys, &key_ids, &mut check).await?;
        report.signatures.push(check);
    }
    report.ok = report.signatures.iter().any(|s| s.ok);
    Ok(report)
}

async fn check_layer(
    store: &dyn ImageStore,
    repository: &str,
    digest: &Digest,
    layer: &Descriptor,
    keys: &[VerifyingKey],
    key_ids: &[String],
    check: &mut SignatureCheck,
) -> Result<String, SignError> {
    let Some(sig_b64) = layer.annotation(ANNOTATION_SIGNATURE) else {
        return Ok(format!("no {ANNOTATION_SIGNATURE} annotation"));
    };
    let Ok(signature) = B64.decode(sig_b64.trim()) else {
        return Ok("signature annotation is not base64".into());
    };
    if layer.size > MAX_PAYLOAD_BYTES {
        return Ok(format!("payload of {} bytes is over the {MAX_PAYLOAD_BYTES}-byte limit", layer.size));
    }
    let payload = match store.get_blob(repository, layer.digest.as_str()).await {
        Ok(p) => p,
        Err(e) if is_not_found(&e) => return Ok("payload blob missing".into()),
        Err(e) => return Err(e.into()),
    };
    if let Err(e) = layer.verify("signature payload", &payload) {
        return Ok(e.to_string());
    }
    let parsed = match SimpleSigning::parse(&payload) {
        Ok(p) => p,
        Err(e) => return Ok(e),
    };
    let reference = parsed.critical.identity.docker_reference.clone();
    check.docker_reference = Some(reference.clone());
    // The signature first: claims of an unauthenticated payload are not worth reporting as such.
    let Some(k) = keys.iter().position(|k| verify_with(k, &payload, &signature)) else {
        return Ok(if keys.is_empty() {
            "no trusted public key configured".into()
        } else {
            format!("signature not valid for any of {} trusted key(s)", keys.len())
        });
    };
    check.key_id = key_ids.get(k).cloned();
    let signed_digest = &parsed.critical.image.docker_manifest_digest;
    if signed_digest != digest.as_str() {
        return Ok(format!("signed for another manifest ({signed_digest})"));
    }
    if !identity_matches(&reference, repository) {
        return Ok(format!("signed for repository `{reference}`, not `{repository}`"));
    }
    check.ok = true;
    Ok(format!("valid signature by {}", key_ids.get(k).map_or("?", String::as_str)))
}
