//! Accounts with their connections, kept in memory for the hot path: a tool
//! call on a known account reads no row from the database.
//!
//! Every write this process makes to an account or a connection removes
//! what it changed before the write's caller goes on, so a revoked or
//! deleted account is never used after the request that changed it has
//! answered. A read that raced a write is not kept: each write moves a
//! generation counter, and a row read before it is dropped instead of
//! cached. Writes made by other replicas are seen once an entry is older
//! than the time to live. When an entry expires, one call reads the account
//! again while the others go on with the entry they have, so a busy account
//! never sends a burst of reads to the store (the bound is then the time to
//! live plus that one read, at most twice the time to live).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{ConnectedAccount, Connection};

/// At most this many accounts are kept; a full cache starts over.
const MAX_ENTRIES: usize = 100_000;

/// An account and its connection as last read.
pub type Entry = Arc<(ConnectedAccount, Connection)>;

/// How many writes the cache has seen: a row read at one generation is
/// kept only if no write came before it is put.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Generation(u64);

#[derive(Debug, Default)]
struct Inner {
    /// Moves on every write.
    generation: Generation,
    /// Each entry, when it was read, and whether a call is reading it again.
    entries: HashMap<String, (Entry, Instant, bool)>,
}

#[derive(Debug)]
pub struct AccountCache {
    ttl: Duration,
    inner: Mutex<Inner>,
}

impl AccountCache {
    /// A cache whose entries live `ttl` (zero: nothing is kept).
    pub fn new(ttl: Duration) -> AccountCache {
        AccountCache {
            ttl,
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The entry of account `id` if it is fresh (or being read again by
    /// another call); else the generation to hand back to
    /// [`AccountCache::put`] with the row this caller reads now.
    pub fn get(&self, id: &str) -> Result<Entry, Generation> {
        let mut inner = self.lock();
        let generation = inner.generation;
        let Some((entry, at, refreshing)) = inner.entries.get_mut(id) else {
            return Err(generation);
        };
        let age = at.elapsed();
        if age < self.ttl || (*refreshing && age < 2 * self.ttl) {
            return Ok(entry.clone());
        }
        *refreshing = true;
        Err(generation)
    }

    /// Keeps `entry`, read at `generation`, unless a write came since.
    pub fn put(&self, generation: Generation, entry: Entry) {
        if self.ttl.is_zero() {
            return;
        }
        let mut inner = self.lock();
        if inner.generation != generation {
            return;
        }
        if inner.entries.len() >= MAX_ENTRIES {
            inner.entries.clear();
        }
        inner
            .entries
            .insert(entry.0.id.clone(), (entry, Instant::now(), false));
    }

    /// Whether nothing is kept (a time to live of zero).
    pub fn is_off(&self) -> bool {
        self.ttl.is_zero()
    }

    /// Forgets account `id` (after a write to it).
    pub fn forget(&self, id: &str) {
        let mut inner = self.lock();
        inner.generation.0 += 1;
        inner.entries.remove(id);
    }

    /// Forgets every account (after a write to a connection).
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.generation.0 += 1;
        inner.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, label: &str) -> Entry {
        let account = ConnectedAccount {
            label: label.into(),
            ..ConnectedAccount::sample(id)
        };
        Arc::new((account, Connection::sample()))
    }

    #[test]
    fn a_read_that_raced_a_write_is_not_kept() {
        let cache = AccountCache::new(Duration::from_secs(60));
        let generation = cache.get("ca_1").unwrap_err();
        // The row was read before this write landed: it must not be kept.
        cache.forget("ca_1");
        cache.put(generation, entry("ca_1", "old"));
        let generation = cache.get("ca_1").unwrap_err();
        cache.put(generation, entry("ca_1", "new"));
        assert_eq!(cache.get("ca_1").unwrap().0.label, "new");
        cache.clear();
        assert!(cache.get("ca_1").is_err());
    }

    #[test]
    fn one_call_reads_an_expired_entry_again_while_the_others_go_on() {
        let ttl = Duration::from_millis(30);
        let cache = AccountCache::new(ttl);
        let generation = cache.get("ca_1").unwrap_err();
        cache.put(generation, entry("ca_1", "first"));
        std::thread::sleep(ttl);
        let generation = cache.get("ca_1").expect_err("the first caller reads again");
        assert_eq!(
            cache.get("ca_1").unwrap().0.label,
            "first",
            "the others go on"
        );
        std::thread::sleep(ttl);
        // A reader that never came back does not hold the entry forever.
        assert!(cache.get("ca_1").is_err());
        cache.put(generation, entry("ca_1", "second"));
        assert_eq!(cache.get("ca_1").unwrap().0.label, "second");
    }

    #[test]
    fn nothing_is_kept_without_a_time_to_live() {
        let cache = AccountCache::new(Duration::ZERO);
        let generation = cache.get("ca_1").unwrap_err();
        cache.put(generation, entry("ca_1", "x"));
        assert!(cache.get("ca_1").is_err());
    }
}
