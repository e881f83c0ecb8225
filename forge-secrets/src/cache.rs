//! A short-lived, in-memory cache of resolved values, keyed by reference.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use forge_core::ports::{SecretRef, SecretValue};

/// The default time a resolved value is kept: short, so rotations are picked up quickly.
pub const DEFAULT_TTL: Duration = Duration::from_secs(30);

/// Resolved values kept in memory only for a short TTL, keyed by the whole reference.
///
/// Values stay [`SecretValue`]s (zeroed when evicted or cleared); nothing is ever written
/// anywhere else. Failures are not cached.
pub struct SecretCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, SecretValue)>>,
}

impl SecretCache {
    /// A cache keeping values for `ttl` (a zero TTL caches nothing).
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, entries: Mutex::new(HashMap::new()) }
    }

    /// The TTL.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The cached value of `reference`, if it is still fresh.
    pub fn get(&self, reference: &SecretRef) -> Option<SecretValue> {
        let key = cache_key(reference);
        let mut entries = self.lock();
        match entries.get(&key) {
            Some((at, value)) if at.elapsed() < self.ttl => Some(value.clone()),
            Some(_) => {
                entries.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Keeps `value` for `reference` (and evicts expired entries).
    pub fn insert(&self, reference: &SecretRef, value: &SecretValue) {
        if self.ttl.is_zero() {
            return;
        }
        let ttl = self.ttl;
        let mut entries = self.lock();
        entries.retain(|_, (at, _)| at.elapsed() < ttl);
        entries.insert(cache_key(reference), (Instant::now(), value.clone()));
    }

    /// Drops (and so zeroes) every cached value.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// How many entries are held (fresh or not yet evicted).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, (Instant, SecretValue)>> {
        // A panic while holding the lock cannot leave the map inconsistent: recover it.
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Default for SecretCache {
    fn default() -> Self {
        Self::new(DEFAULT_TTL)
    }
}

impl fmt::Debug for SecretCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretCache").field("ttl", &self.ttl).field("entries", &self.len()).finish()
    }
}

/// The cache key: the reference's canonical JSON (fields are sorted), so every field counts.
fn cache_key(reference: &SecretRef) -> String {
    serde_json::to_string(reference).unwrap_or_else(|_| reference.to_string())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn r(name: &str) -> SecretRef {
        let mut fields = BTreeMap::new();
        fields.insert("name".to_owned(), serde_json::Value::String(name.to_owned()));
        SecretRef { provider: "env".into(), fields }
    }

    #[test]
    fn keeps_values_until_ttl_and_clear() {
        let cache = SecretCache::new(Duration::from_secs(60));
        assert!(cache.get(&r("A")).is_none());
        cache.insert(&r("A"), &SecretValue::from_string("a".into()));
        assert_eq!(cache.get(&r("A")).map(|v| v.expose().to_vec()), Some(b"a".to_vec()));
        assert!(cache.get(&r("B")).is_none());
        assert_eq!(cache.len(), 1);
        assert_eq!(format!("{cache:?}"), "SecretCache { ttl: 60s, entries: 1 }");
        cache.clear();
        assert!(cache.is_empty());
        assert!(cache.get(&r("A")).is_none());
    }

    #[test]
    fn expires() {
        let cache = SecretCache::new(Duration::from_millis(20));
        cache.insert(&r("A"), &SecretValue::from_string("a".into()));
        std::thread::sleep(Duration::from_millis(40));
        assert!(cache.get(&r("A")).is_none());
        assert!(cache.is_empty());
    }

    #[test]
    fn zero_ttl_caches_nothing() {
        let cache = SecretCache::new(Duration::ZERO);
        cache.insert(&r("A"), &SecretValue::from_string("a".into()));
        assert!(cache.is_empty());
    }
}
