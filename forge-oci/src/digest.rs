//! SHA-256 content digests.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

use crate::error::{OciError, truncate};

/// A `sha256:<64 lowercase hex>` content digest, the only algorithm Forge writes or accepts.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// The digest of `data`.
    pub fn of(data: &[u8]) -> Self {
        Self(format!("sha256:{}", hex::encode(Sha256::digest(data))))
    }
    /// The full `sha256:<hex>` string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The 64 hex digits.
    pub fn hex(&self) -> &str {
        &self.0[7..]
    }
    /// Checks that `data` hashes to this digest; `what` names the content in the error.
    pub fn verify(&self, what: &str, data: &[u8]) -> Result<(), OciError> {
        let actual = Self::of(data);
        if &actual == self {
            Ok(())
        } else {
            Err(OciError::DigestMismatch { what: what.to_owned(), expected: self.0.clone(), actual: actual.0 })
        }
    }
    /// Whether a reference (`tag` or `sha256:…`) is a digest.
    pub fn is_digest_reference(reference: &str) -> bool {
        reference.contains(':')
    }
}

impl FromStr for Digest {
    type Err = OciError;
    fn from_str(s: &str) -> Result<Self, OciError> {
        let bad = |reason: &str| OciError::InvalidDigest { input: truncate(s, 100), reason: reason.to_owned() };
        let Some((alg, hex)) = s.split_once(':') else {
            return Err(bad("expected `sha256:<64 hex digits>`"));
        };
        if alg != "sha256" {
            return Err(bad("only the sha256 algorithm is supported"));
        }
        if hex.len() != 64 || !hex.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)) {
            return Err(bad("expected 64 lowercase hex digits after `sha256:`"));
        }
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.0)
    }
}
impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}
impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_json_digest() {
        assert_eq!(
            Digest::of(b"{}").as_str(),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }

    #[test]
    fn parse_rules() {
        assert!("sha256:abc".parse::<Digest>().is_err());
        assert!("sha512:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a".parse::<Digest>().is_err());
        assert!("sha256:44136FA355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a".parse::<Digest>().is_err());
        assert!("sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a".parse::<Digest>().is_ok());
    }
}
