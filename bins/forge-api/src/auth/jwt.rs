//! OIDC bearer JWTs verified against the issuer's JWKS (SPEC §8).
//!
//! Only RS256 and ES256 are accepted, and the key named by `kid` must be of the family of the
//! token's `alg` (an RSA key for RS256, a P-256 key for ES256): `alg: none`, HMAC algorithms and
//! algorithm confusion (HS256 signed with a public key) are refused before any verification.
//! The key set is cached and refetched when a token names an unknown `kid` (at most once per
//! `refetch_interval`).

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use forge_core::Error;
use forge_core::auth::Role;
use forge_core::ports::{Identity, Principal};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::{Mutex, RwLock};

const COMPONENT: &str = "auth";

/// OIDC settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// Issuer URL (the `iss` claim), e.g. `https://keycloak.example/realms/forge`.
    pub issuer: String,
    /// Expected audience (the `aud` claim).
    pub audience: String,
    /// JWKS URL; default: `jwks_uri` from `<issuer>/.well-known/openid-configuration`.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// Dot-separated path of the roles claim (default `realm_access.roles`).
    #[serde(default = "default_roles_claim")]
    pub roles_claim: String,
    /// Clock leeway for `exp`/`nbf`, seconds (default 30).
    #[serde(default = "default_leeway")]
    pub leeway_secs: u64,
}

fn default_roles_claim() -> String {
    "realm_access.roles".into()
}

fn default_leeway() -> u64 {
    30
}

impl OidcConfig {
    /// Settings with defaults for an issuer and audience.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            jwks_url: None,
            roles_claim: default_roles_claim(),
            leeway_secs: default_leeway(),
        }
    }
}

struct CachedKey {
    key: DecodingKey,
    alg: Algorithm,
}

/// Verifies OIDC JWTs.
pub struct JwtIdentity {
    cfg: OidcConfig,
    client: reqwest::Client,
    keys: RwLock<HashMap<String, CachedKey>>,
    last_fetch: Mutex<Option<Instant>>,
    refetch_interval: Duration,
}

impl std::fmt::Debug for JwtIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtIdentity").field("cfg", &self.cfg).finish_non_exhaustive()
    }
}

fn unauthorized(message: impl Into<String>) -> Error {
    Error::Unauthorized { component: COMPONENT, message: message.into() }
}

#[derive(Deserialize)]
struct Discovery {
    jwks_uri: String,
}

#[derive(Deserialize)]
struct RawJwks {
    keys: Vec<Value>,
}

/// The algorithm a JWK may verify, or `None` if it is not an accepted signing key.
fn key_alg(jwk: &Jwk) -> Option<Algorithm> {
    if matches!(jwk.common.public_key_use, Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)) {
        return None;
    }
    let family = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => Algorithm::ES256,
        _ => return None,
    };
    match jwk.common.key_algorithm {
        None => Some(family),
        Some(KeyAlgorithm::RS256) if family == Algorithm::RS256 => Some(family),
        Some(KeyAlgorithm::ES256) if family == Algorithm::ES256 => Some(family),
        Some(_) => None,
    }
}

impl JwtIdentity {
    /// A verifier for `cfg` (keys are fetched on first use).
    pub fn new(cfg: OidcConfig) -> Result<Self, Error> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| Error::other(COMPONENT, "building the JWKS HTTP client", e))?;
        Ok(Self {
            cfg,
            client,
            keys: RwLock::new(HashMap::new()),
            last_fetch: Mutex::new(None),
            refetch_interval: Duration::from_secs(5),
        })
    }

    /// Sets the minimum interval between two JWKS fetches (default 5 s).
    pub fn with_refetch_interval(mut self, interval: Duration) -> Self {
        self.refetch_interval = interval;
        self
    }

    async fn jwks_url(&self) -> Result<String, Error> {
        if let Some(u) = &self.cfg.jwks_url {
            return Ok(u.clone());
        }
        let url = format!("{}/.well-known/openid-configuration", self.cfg.issuer.trim_end_matches('/'));
        let d: Discovery = self
            .client
            .get(&url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| Error::transient(COMPONENT, format!("fetching OIDC discovery from {url}"), e))?
            .json()
            .await
            .map_err(|e| Error::other(COMPONENT, "parsing OIDC discovery", e))?;
        Ok(d.jwks_uri)
    }

    /// Fetches the key set, replacing the cache (rate-limited by `refetch_interval`).
    async fn refresh(&self) -> Result<(), Error> {
        let mut last = self.last_fetch.lock().await;
        if let Some(t) = *last
            && t.elapsed() < self.refetch_interval
        {
            return Ok(());
        }
        *last = Some(Instant::now());
        let url = self.jwks_url().await?;
        let raw: RawJwks = self
            .client
            .get(&url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| Error::transient(COMPONENT, format!("fetching the JWKS from {url}"), e))?
            .json()
            .await
            .map_err(|e| Error::other(COMPONENT, "parsing the JWKS", e))?;
        let mut keys = HashMap::new();
        for v in raw.keys {
            // Keys of kinds this crate cannot parse (or encryption keys) are skipped.
            let Ok(jwk) = serde_json::from_value::<Jwk>(v) else { continue };
            let (Some(kid), Some(alg)) = (jwk.common.key_id.clone(), key_alg(&jwk)) else { continue };
            if let Ok(key) = DecodingKey::from_jwk(&jwk) {
                keys.insert(kid, CachedKey { key, alg });
            }
        }
        tracing::info!(keys = keys.len(), "fetched the JWKS");
        *self.keys.write().await = keys;
        Ok(())
    }

    fn roles_from(&self, claims: &Value) -> BTreeSet<Role> {
        let mut node = claims;
        for part in self.cfg.roles_claim.split('.') {
            match node.get(part) {
                Some(n) => node = n,
                None => return BTreeSet::new(),
            }
        }
        match node {
            Value::Array(items) => items.iter().filter_map(Value::as_str).filter_map(Role::parse).collect(),
            Value::String(s) => s.split([' ', ',']).filter_map(Role::parse).collect(),
            _ => BTreeSet::new(),
        }
    }
}

#[async_trait]
impl Identity for JwtIdentity {
    async fn authenticate(&self, token: &str) -> forge_core::Result<Principal> {
        let header = decode_header(token).map_err(|_| unauthorized("the token is malformed"))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(unauthorized(format!("token algorithm {:?} is not accepted (RS256, ES256)", header.alg)));
        }
        let kid = header.kid.ok_or_else(|| unauthorized("the token has no `kid`"))?;
        if !self.keys.read().await.contains_key(&kid) {
            self.refresh().await?;
        }
        let keys = self.keys.read().await;
        let cached = keys.get(&kid).ok_or_else(|| unauthorized("the token's signing key is unknown"))?;
        if cached.alg != header.alg {
            return Err(unauthorized("the token's algorithm does not match its key"));
        }
        let mut validation = Validation::new(cached.alg);
        validation.set_issuer(&[self.cfg.issuer.as_str()]);
        validation.set_audience(&[self.cfg.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.leeway = self.cfg.leeway_secs;
        validation.validate_nbf = true;
        let data = decode::<Value>(token, &cached.key, &validation)
            .map_err(|e| unauthorized(format!("the token is not valid ({:?})", e.kind())))?;
        let claims = data.claims;
        let subject = claims
            .get("preferred_username")
            .or_else(|| claims.get("sub"))
            .and_then(Value::as_str)
            .ok_or_else(|| unauthorized("the token has no subject"))?
            .to_owned();
        Ok(Principal { subject, roles: self.roles_from(&claims) })
    }
}
