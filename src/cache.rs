//! A small per-process cache with a time to live, for lookups every webhook repeats
//! (its workflow, its key). Entries are few and short-lived, so a mutex-guarded map is enough.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct TtlCache<K, V> {
    ttl: Duration,
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

/// Beyond this many entries the expired ones are swept, so a flood of random ids cannot
/// grow the map without bound.
const SWEEP_THRESHOLD: usize = 4096;

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, key: &K) -> Option<V> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    pub fn insert(&self, key: K, value: V) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= SWEEP_THRESHOLD {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
            if entries.len() >= SWEEP_THRESHOLD {
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now(), value));
    }

    pub fn invalidate(&self, key: &K) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_what_was_inserted() {
        let cache = TtlCache::new(Duration::from_secs(60));
        cache.insert("a", 1);
        assert_eq!(cache.get(&"a"), Some(1));
        assert_eq!(cache.get(&"b"), None);
    }

    #[test]
    fn zero_ttl_disables_caching() {
        let cache = TtlCache::new(Duration::ZERO);
        cache.insert("a", 1);
        assert_eq!(cache.get(&"a"), None);
    }

    #[test]
    fn invalidate_forgets_an_entry() {
        let cache = TtlCache::new(Duration::from_secs(60));
        cache.insert("a", 1);
        cache.invalidate(&"a");
        assert_eq!(cache.get(&"a"), None);
    }

    #[test]
    fn size_stays_bounded() {
        let cache = TtlCache::new(Duration::from_secs(60));
        for i in 0..(SWEEP_THRESHOLD * 2) {
            cache.insert(i, i);
        }
        assert!(cache.entries.lock().unwrap().len() <= SWEEP_THRESHOLD);
    }
}
