//! Cosign-compatible keyed signing and verification of images (issue 14).
//!
//! ## Format
//!
//! Exactly what `cosign sign --key` writes, so that cosign, containers/image (`skopeo`,
//! `podman`) and this crate verify each other's signatures:
//!
//! - **payload** — the simple-signing JSON document ([`SimpleSigning`]):
//!   `{"critical":{"identity":{"docker-reference":"<registry>/<repo>"},"image":{"docker-manifest-digest":"sha256:…"},"type":"cosign container image signature"},"optional":null}`
//!   (`optional` holds [`SignOptions::optional`] when given);
//! - **signature** — ECDSA P-256 over the payload bytes with SHA-256, ASN.1 DER, base64
//!   (standard alphabet), computed by the RustCrypto `p256` crate (RFC 6979 deterministic
//!   nonces, so re-signing is idempotent);
//! - **artifact** — an OCI image manifest tagged `sha256-<hex>.sig` (see [`signature_tag`]) in
//!   the image's own repository; config: an OCI image config (as cosign writes it, rootfs
//!   listing the layers); one layer per signature, media type
//!   `application/vnd.dev.cosign.simplesigning.v1+json`, the payload blob, annotated
//!   `dev.cosignproject.cosign/signature: <base64>`. More signatures are appended as layers.
//!
//! It works on any [`ImageStore`](forge_core::ports::ImageStore): the registry and the
//! on-disk OCI layout ([`LayoutStore`](crate::LayoutStore): ref.name `<repo>:sha256-<hex>.sig`).
//!
//! ## Keys
//!
//! [`KeySigner`] (ECDSA P-256) reads a PEM private key through the secret-provider port
//! ([`KeySigner::from_secrets`]: a `SecretRef` to the PEM and an optional one to its password)
//! — unencrypted PKCS#8 (`PRIVATE KEY`), password-encrypted PKCS#8 (`ENCRYPTED PRIVATE KEY`,
//! PBES2 with PBKDF2 or scrypt and AES-CBC) and SEC1 (`EC PRIVATE KEY`). Cosign's own
//! `ENCRYPTED SIGSTORE PRIVATE KEY` (scrypt + NaCl secretbox) is **not** supported: it is
//! refused with a message; use a PKCS#8 key and import it into cosign with
//! `cosign import-key-pair` if cosign must use it too. The key is decoded in memory, never
//! written to disk, zeroed on drop, and never appears in `Debug`, logs or errors (only its
//! key id, [`key_id`], and the secret *reference*).
//!
//! Public keys are PEM SPKI (`PUBLIC KEY`, what `cosign.pub` holds): [`parse_public_key`],
//! [`load_public_keys`].
//!
//! Keyless signing (Fulcio certificates, Rekor bundles) is not implemented; the [`Signer`]
//! trait is the port for it: a keyless signer returns the certificate, chain and bundle in
//! [`SignatureMaterial`] and [`sign_image_with`] stores them in the cosign annotations.
//!
//! ## Identity
//!
//! [`sign_image`] signs for `docker-reference = <repository>` as passed to the store. Tools
//! that match the repository (containers/image `signedIdentity: matchRepository`, cosign)
//! need the registry host in it: for registry images pass
//! `SignOptions { docker_reference: Some(registry_reference(&store, repo)), .. }`
//! ([`registry_reference`], feature `registry`) to [`sign_image_with`]. [`verify_signature`]
//! accepts either form (equal to the repository, or `<registry>/<repository>`), ignoring a tag
//! or digest suffix; trust comes from the keys.
//!
//! ## Argo CD plugin policy
//!
//! [`Policy::from_env`] reads the trusted keys from `ARGOCD_ENV_FORGE_SIGNATURE_KEYS`
//! (comma-separated paths of PEM public key files, set per Application as plugin env
//! `FORGE_SIGNATURE_KEYS`) — unless the sidecar container itself sets `FORGE_SIGNATURE_KEYS`
//! (same format), which wins: an Application author can change the `ARGOCD_ENV_` value, so an
//! operator who wants the requirement enforced for everyone sets the sidecar variable.
//! [`Policy::enforce`] returns `Ok(())` for an image with a valid signature from one key and
//! otherwise an error whose `Display` is the one-line reason; the plugin prints nothing else.
//!
//! ## Interoperability
//!
//! - **skopeo 1.9.3 as shipped by Debian cannot verify sigstore signatures**: upstream
//!   containers/image 5.23 knows `sigstoreSigned` policies and `use-sigstore-attachments`, but
//!   Debian patches sigstore support out, and every such requirement is refused with
//!   `Source image rejected: Debian-local change: sigstore disabled` — signed or not (it fails
//!   closed). The registry test detects this and still runs skopeo where it works (an upstream
//!   build, or a later Debian package), with the policy
//!   `{"default":[{"type":"reject"}],"transports":{"docker":{"<registry>/<repo>":[{"type":"sigstoreSigned","keyPath":"cosign.pub","signedIdentity":{"type":"matchRepository"}}]}}}`
//!   and a `registries.d` entry `docker: {<registry>: {use-sigstore-attachments: true}}`.
//! - The independent check that runs everywhere: a verifier in Python's standard library
//!   (reads the manifest and `sha256-<hex>.sig` over the distribution API, checks the blob
//!   digests, the payload's type, digest and `<registry>/<repo>` identity) with the **OpenSSL
//!   CLI** checking the ECDSA signature (`openssl dgst -sha256 -verify cosign.pub`). It
//!   accepts our signatures and refuses the unsigned, wrong-key, changed-manifest,
//!   other-digest and changed-payload cases, as our verifier does.
//! - cosign itself is not packaged in Debian and was not run; the layout follows cosign's
//!   (`pkg/oci` static signature layers, `sha256-<hex>.sig` tags) and containers/image's
//!   reader (`OCI1` manifest served as `application/vnd.oci.image.manifest.v1+json`, layers of
//!   the simple-signing media type, strict payload with `critical` and `optional`).
//!
//! ```
//! use forge_oci::sign::{KeySigner, sign_image, verify_signature};
//! use forge_oci::{Digest, LayoutStore};
//! # let rt = tokio::runtime::Builder::new_current_thread().build()?;
//! # rt.block_on(async {
//! let dir = tempfile::tempdir()?;
//! let store = LayoutStore::open(dir.path())?;
//! let signer = KeySigner::from_signing_key(p256::ecdsa::SigningKey::from_slice(&[7u8; 32])?);
//! let digest = Digest::of(b"{}"); // the manifest digest of an image pushed before
//! sign_image(&store, "acme/web", &digest, &signer).await?;
//! let report = verify_signature(&store, "acme/web", &digest, &[*signer.verifying_key()]).await?;
//! assert!(report.ok);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod artifact;
mod error;
mod key;
mod payload;
mod policy;

pub use artifact::{
    ANNOTATION_BUNDLE, ANNOTATION_CERTIFICATE, ANNOTATION_CHAIN, ANNOTATION_SIGNATURE, MEDIA_TYPE_OCI_CONFIG,
    MEDIA_TYPE_SIMPLE_SIGNING, SignOptions, SignatureCheck, SignatureReport, SignedImage, sign_image, sign_image_with,
    signature_tag, verify_signature,
};
pub use error::SignError;
pub use key::{KeySigner, SignatureMaterial, Signer, key_id, load_public_keys, parse_public_key, public_key_pem};
pub use p256::ecdsa::{SigningKey, VerifyingKey};
pub use payload::{Critical, Identity, ImageClaim, MAX_PAYLOAD_BYTES, SIGNATURE_TYPE, SimpleSigning};
pub use policy::{ENV_APP_KEYS, ENV_SIDECAR_KEYS, Policy};

/// The docker reference of `repository` in a registry store: `<registry>/<repository>`, what
/// containers/image and cosign compare a signature's identity with.
#[cfg(feature = "registry")]
pub fn registry_reference(store: &crate::RegistryStore, repository: &str) -> String {
    format!("{}/{repository}", store.registry().as_str())
}
