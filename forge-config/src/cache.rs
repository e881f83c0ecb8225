//! A content-addressed cache of evaluated configuration: the key is the SHA-256 of the file
//! names and bytes of one package, so an unchanged `.forge` folder is never evaluated twice and
//! a changed one is never served stale. Safe to share between threads (the hot discovery worker
//! keeps one for its lifetime).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::error::ConfigError;
use crate::schema::ProjectConfig;
use crate::tree::{Document, Source};

/// The outcome of evaluating one package, shared between cache users.
pub type Evaluated = Arc<Result<Document, Vec<ConfigError>>>;

/// The outcome of decoding one project against one repository configuration.
pub type Decoded = Arc<Result<(Arc<ProjectConfig>, Arc<Document>), Vec<ConfigError>>>;

/// (project content hash, repository content hash).
type DecodedKey = ([u8; 32], [u8; 32]);

/// Content hash of a package: file names and bytes, length-prefixed.
pub fn content_hash(sources: &[Source]) -> [u8; 32] {
    let mut h = Sha256::new();
    for s in sources {
        h.update((s.name().len() as u64).to_le_bytes());
        h.update(s.name().as_bytes());
        h.update((s.text().len() as u64).to_le_bytes());
        h.update(s.text().as_bytes());
    }
    h.finalize().into()
}

/// The cache: evaluated packages by content hash, and decoded projects by the content hashes
/// of the project and of the repository configuration it was checked against. Entries are
/// bounded: when a map holds more than the capacity, it is cleared (the working set of one
/// repository is small; this only protects long-lived processes). One cache assumes one
/// secret-reference validator.
#[derive(Debug)]
pub struct ConfigCache {
    entries: Mutex<HashMap<[u8; 32], Evaluated>>,
    decoded: Mutex<HashMap<DecodedKey, Decoded>>,
    capacity: usize,
}

impl Default for ConfigCache {
    fn default() -> Self {
        Self::with_capacity(4096)
    }
}

impl ConfigCache {
    /// A cache holding at most `capacity` packages.
    pub fn with_capacity(capacity: usize) -> Self {
        Self { entries: Mutex::new(HashMap::new()), decoded: Mutex::new(HashMap::new()), capacity: capacity.max(1) }
    }

    /// The evaluated package, from the cache or by calling `eval` (outside the lock).
    pub fn get_or_eval(
        &self,
        sources: Vec<Source>,
        eval: impl FnOnce(Vec<Source>) -> Result<Document, Vec<ConfigError>>,
    ) -> Evaluated {
        let key = content_hash(&sources);
        if let Some(hit) = self.lock().get(&key) {
            return hit.clone();
        }
        let value: Evaluated = Arc::new(eval(sources));
        let mut map = self.lock();
        if map.len() >= self.capacity {
            map.clear();
        }
        map.insert(key, value.clone());
        value
    }

    /// The decoded project for (project hash, repository hash), from the cache or by calling
    /// `decode` (outside the lock).
    pub fn get_or_decode(&self, key: ([u8; 32], [u8; 32]), decode: impl FnOnce() -> Decoded) -> Decoded {
        let lock = || self.decoded.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(hit) = lock().get(&key) {
            return hit.clone();
        }
        let value = decode();
        let mut map = lock();
        if map.len() >= self.capacity {
            map.clear();
        }
        map.insert(key, value.clone());
        value
    }

    /// Number of cached packages.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every entry.
    pub fn clear(&self) {
        self.lock().clear();
        self.decoded.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Evaluated>> {
        // A panic while holding the lock cannot leave the map inconsistent: recover it.
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn hits_and_misses() {
        let cache = ConfigCache::default();
        let calls = AtomicUsize::new(0);
        let eval = |s: Vec<Source>| {
            calls.fetch_add(1, Ordering::SeqCst);
            crate::eval::evaluate(s)
        };
        let a = || vec![Source::new("a.cue", "x: 1")];
        cache.get_or_eval(a(), eval);
        cache.get_or_eval(a(), eval);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        cache.get_or_eval(vec![Source::new("a.cue", "x: 2")], eval);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        cache.get_or_eval(vec![Source::new("b.cue", "x: 2")], eval);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(cache.len(), 3);
    }
}
