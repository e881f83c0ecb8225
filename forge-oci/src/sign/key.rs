//! Keys and signers.

use std::fmt;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use forge_core::ports::{SecretProvider, SecretRef, SecretValue};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{DerSignature, Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey};
use sha2::{Digest as _, Sha256};

use super::error::SignError;

/// What a [`Signer`] returns for one payload: the signature and, for keyless signers, the
/// material cosign stores next to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureMaterial {
    /// The ASN.1 DER ECDSA signature over the payload (SHA-256).
    pub signature: Vec<u8>,
    /// PEM certificate (`dev.sigstore.cosign/certificate`), keyless only.
    pub certificate: Option<String>,
    /// PEM chain (`dev.sigstore.cosign/chain`), keyless only.
    pub chain: Option<String>,
    /// Rekor bundle JSON (`dev.sigstore.cosign/bundle`), keyless only.
    pub bundle: Option<String>,
}

/// Something that signs simple-signing payloads: [`KeySigner`] today; a keyless
/// (Fulcio/Rekor) signer can implement it later and fill the certificate fields of
/// [`SignatureMaterial`].
#[async_trait]
pub trait Signer: Send + Sync {
    /// A name for the key or identity, safe to log (never secret material).
    fn key_id(&self) -> String;
    /// Signs `payload`.
    async fn sign(&self, payload: &[u8]) -> Result<SignatureMaterial, SignError>;
}

/// A keyed ECDSA P-256 signer (what `cosign sign --key` does).
///
/// Supported private key formats (PEM):
/// - `PRIVATE KEY`: unencrypted PKCS#8 (`openssl genpkey -algorithm EC -pkeyopt
///   ec_paramgen_curve:P-256`);
/// - `ENCRYPTED PRIVATE KEY`: password-protected PKCS#8 with PBES2 (PBKDF2 or scrypt,
///   AES-CBC), e.g. `openssl pkcs8 -topk8 -v2 aes-256-cbc`;
/// - `EC PRIVATE KEY`: unencrypted SEC1.
///
/// Not supported: cosign's own `ENCRYPTED SIGSTORE PRIVATE KEY` / `ENCRYPTED COSIGN PRIVATE
/// KEY` (scrypt + NaCl secretbox) — refused with a message saying how to convert. Only the
/// P-256 curve is accepted.
///
/// The key is decoded in memory from a [`SecretValue`] and zeroed when dropped; `Debug` shows
/// only the key id.
pub struct KeySigner {
    key: SigningKey,
    key_id: String,
}

impl fmt::Debug for KeySigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySigner").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

const SIGSTORE_LABELS: [&str; 2] = ["ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY"];

/// The label of the first PEM block, if it is one of the labels we know (never echoes input).
fn pem_label(text: &str) -> Option<&'static str> {
    const KNOWN: [&str; 6] = [
        "PRIVATE KEY",
        "ENCRYPTED PRIVATE KEY",
        "EC PRIVATE KEY",
        "PUBLIC KEY",
        "ENCRYPTED SIGSTORE PRIVATE KEY",
        "ENCRYPTED COSIGN PRIVATE KEY",
    ];
    let start = text.find("-----BEGIN ")? + "-----BEGIN ".len();
    let end = text[start..].find("-----")?;
    let label = &text[start..start + end];
    KNOWN.iter().copied().find(|k| *k == label)
}

impl KeySigner {
    /// Decodes a PEM private key, decrypting it with `password` when it is encrypted.
    /// `what` names the key in errors (a secret reference, never the value).
    pub fn from_pem(what: &str, pem: &SecretValue, password: Option<&SecretValue>) -> Result<Self, SignError> {
        let bad = |m: &str| SignError::private_key(what, m);
        let text = pem.expose_str().ok_or_else(|| bad("not UTF-8 PEM text"))?;
        let key = match pem_label(text) {
            Some("PRIVATE KEY") => p256::SecretKey::from_pkcs8_pem(text)
                .map_err(|_| bad("not a P-256 PKCS#8 private key (or malformed PEM)"))?,
            Some("ENCRYPTED PRIVATE KEY") => {
                let pw = password.ok_or_else(|| bad("the key is encrypted: configure a password secret reference"))?;
                p256::SecretKey::from_pkcs8_encrypted_pem(text, pw.expose())
                    .map_err(|_| bad("cannot decrypt: wrong password, unsupported cipher, or not a P-256 key"))?
            }
            Some("EC PRIVATE KEY") => p256::SecretKey::from_sec1_pem(text)
                .map_err(|_| bad("not a P-256 SEC1 private key (or malformed PEM)"))?,
            Some(l) if SIGSTORE_LABELS.contains(&l) => {
                return Err(bad("cosign's encrypted key format is not supported; use a PKCS#8 key \
                     (optionally encrypted with `openssl pkcs8 -topk8 -v2 aes-256-cbc`) and give cosign the \
                     same key with `cosign import-key-pair`"));
            }
            Some("PUBLIC KEY") => return Err(bad("this is a public key; a private key is needed to sign")),
            _ => return Err(bad("expected a PEM `PRIVATE KEY`, `ENCRYPTED PRIVATE KEY` or `EC PRIVATE KEY` block")),
        };
        let key = SigningKey::from(key);
        let key_id = key_id(key.verifying_key());
        Ok(Self { key, key_id })
    }

    /// Resolves the PEM (and the optional password) through the secret-provider port and
    /// decodes it. Nothing is written to disk.
    pub async fn from_secrets(
        provider: &dyn SecretProvider,
        key: &SecretRef,
        password: Option<&SecretRef>,
    ) -> Result<Self, SignError> {
        let pem = provider.resolve(key).await.map_err(|e| SignError::Secret {
            what: "signing key",
            reference: key.to_string(),
            message: e.to_string(),
        })?;
        let pw = match password {
            Some(r) => Some(provider.resolve(r).await.map_err(|e| SignError::Secret {
                what: "signing key password",
                reference: r.to_string(),
                message: e.to_string(),
            })?),
            None => None,
        };
        Self::from_pem(&key.to_string(), &pem, pw.as_ref())
    }

    /// Wraps an in-memory signing key (tests, key generation).
    pub fn from_signing_key(key: SigningKey) -> Self {
        let key_id = key_id(key.verifying_key());
        Self { key, key_id }
    }

    /// The public half.
    pub fn verifying_key(&self) -> &VerifyingKey {
        self.key.verifying_key()
    }

    /// The public key as PEM SPKI (`PUBLIC KEY`), what `cosign.pub` holds.
    pub fn public_key_pem(&self) -> Result<String, SignError> {
        public_key_pem(self.key.verifying_key())
    }

    /// Signs `payload` synchronously (deterministic ECDSA, RFC 6979): DER bytes.
    pub fn sign_bytes(&self, payload: &[u8]) -> Vec<u8> {
        let sig: Signature = self.key.sign(payload);
        let der: DerSignature = sig.to_der();
        der.as_bytes().to_vec()
    }
}

#[async_trait]
impl Signer for KeySigner {
    fn key_id(&self) -> String {
        self.key_id.clone()
    }
    async fn sign(&self, payload: &[u8]) -> Result<SignatureMaterial, SignError> {
        Ok(SignatureMaterial { signature: self.sign_bytes(payload), certificate: None, chain: None, bundle: None })
    }
}

/// A public key's id: `sha256:` and the first 16 hex digits of the SHA-256 of its SPKI DER.
pub fn key_id(key: &VerifyingKey) -> String {
    match key.to_public_key_der() {
        Ok(der) => format!("sha256:{}", &hex::encode(Sha256::digest(der.as_bytes()))[..16]),
        Err(_) => "sha256:?".to_owned(),
    }
}

/// A public key as PEM SPKI.
pub fn public_key_pem(key: &VerifyingKey) -> Result<String, SignError> {
    key.to_public_key_pem(p256::pkcs8::LineEnding::LF)
        .map_err(|e| SignError::public_key("public key", format!("cannot encode: {e}")))
}

/// Parses a PEM SPKI (`PUBLIC KEY`) P-256 public key, as `cosign.pub` holds. `what` names it
/// in errors.
pub fn parse_public_key(what: &str, pem: &str) -> Result<VerifyingKey, SignError> {
    match pem_label(pem) {
        Some("PUBLIC KEY") => VerifyingKey::from_public_key_pem(pem.trim())
            .map_err(|_| SignError::public_key(what, "not a P-256 ECDSA public key (PEM SPKI)")),
        Some(_) => Err(SignError::public_key(what, "expected a PEM `PUBLIC KEY` block, found a private key")),
        None => Err(SignError::public_key(what, "expected a PEM `PUBLIC KEY` block")),
    }
}

/// Reads PEM public keys from files (each holding one `PUBLIC KEY` block).
pub fn load_public_keys<P: AsRef<Path>>(paths: &[P]) -> Result<Vec<VerifyingKey>, SignError> {
    paths
        .iter()
        .map(|p| {
            let p = p.as_ref();
            let text = std::fs::read_to_string(p).map_err(|source| SignError::Io { path: PathBuf::from(p), source })?;
            parse_public_key(&p.display().to_string(), &text)
        })
        .collect()
}

/// Checks a DER (or, leniently, fixed-size) signature over `payload` against `key`.
pub(crate) fn verify_with(key: &VerifyingKey, payload: &[u8], signature: &[u8]) -> bool {
    let sig = match Signature::from_der(signature) {
        Ok(s) => s,
        Err(_) => match Signature::from_slice(signature) {
            Ok(s) => s,
            Err(_) => return false,
        },
    };
    key.verify(payload, &sig).is_ok()
}
