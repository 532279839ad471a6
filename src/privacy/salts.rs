//! The salts behind the hashes: one random visitor salt per UTC day and one
//! installation recipient key, shared through ClickHouse by every collector
//! writing to the same database.
//!
//! Agreement without coordination: each collector proposes a random salt for a
//! day and everyone uses the smallest one stored. Tomorrow's salt is proposed a
//! day ahead, so by midnight every collector has long read the same winner. Salts
//! older than yesterday are dropped from ClickHouse and from memory; from then on
//! nobody, the operator included, can recompute that day's visitor ids.
//!
//! Owns: the `visitor_salts` and `recipient_keys` tables and the in-memory copy.
//! Must never: derive a daily salt from a fixed secret, or log a salt.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use clickhouse::Client;
use serde::{Deserialize, Serialize};

use super::hash::Salt;
use crate::clock;

/// How often the keeper re-reads and rotates.
const REFRESH: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum SaltError {
    #[error(
        "cannot read or store hashing salts in ClickHouse: {0}; check that ClickHouse is up and `beaconhouse migrate` has run"
    )]
    ClickHouse(#[from] clickhouse::error::Error),
    #[error("the table {0} holds a value that is not a 64-digit hex salt; delete that row")]
    Unreadable(&'static str),
}

/// The salts a collector hashes with right now. Cheap to read from every request.
#[derive(Debug, Clone)]
pub struct Salts {
    inner: Arc<RwLock<Held>>,
}

#[derive(Debug)]
struct Held {
    /// (day, salt) for today and tomorrow; at most a handful of entries.
    visitor: Vec<(u16, Salt)>,
    recipient_key: Salt,
}

impl Salts {
    /// Salts held only in memory: used by tests and by a collector that could not
    /// reach ClickHouse at start (the keeper replaces them once it can).
    pub fn in_memory(recipient_key: Salt) -> Salts {
        Salts {
            inner: Arc::new(RwLock::new(Held {
                visitor: Vec::new(),
                recipient_key,
            })),
        }
    }

    /// The visitor salt of `day`. A day nobody has proposed a salt for yet (the
    /// keeper could not reach ClickHouse) gets a local random one, so hashing never
    /// stops; the keeper publishes or replaces it later.
    pub fn visitor_salt(&self, day: u16) -> Salt {
        if let Some(salt) = self.read().visitor.iter().find(|(d, _)| *d == day) {
            return salt.1;
        }
        let mut held = self.write();
        if let Some(salt) = held.visitor.iter().find(|(d, _)| *d == day) {
            return salt.1;
        }
        let salt = Salt::random();
        held.visitor.push((day, salt));
        salt
    }

    pub fn recipient_key(&self) -> Salt {
        self.read().recipient_key
    }

    fn set_visitor(&self, day: u16, salt: Salt) {
        let mut held = self.write();
        held.visitor.retain(|(d, _)| *d != day);
        held.visitor.push((day, salt));
    }

    fn forget_before(&self, first_kept: u16) {
        self.write().visitor.retain(|(d, _)| *d >= first_kept);
    }

    fn set_recipient_key(&self, key: Salt) {
        self.write().recipient_key = key;
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Held> {
        // A panic while holding the lock cannot leave `Held` half-written (every
        // write is a single push/retain), so a poisoned lock is still usable.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Held> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Debug, clickhouse::Row, Serialize, Deserialize)]
struct VisitorSaltRow {
    day: u16,
    salt: String,
    created_at: u32,
}

#[derive(Debug, clickhouse::Row, Serialize, Deserialize)]
struct RecipientKeyRow {
    key: String,
    created_at: u32,
}

/// Reads, proposes and destroys salts in ClickHouse.
#[derive(Clone)]
pub struct SaltKeeper {
    client: Client,
    salts: Salts,
}

impl SaltKeeper {
    /// A keeper whose salts are local and random until the first [`rotate`]
    /// reaches ClickHouse.
    ///
    /// [`rotate`]: SaltKeeper::rotate
    pub fn new(client: Client) -> SaltKeeper {
        SaltKeeper {
            client,
            salts: Salts::in_memory(Salt::random()),
        }
    }

    pub fn salts(&self) -> Salts {
        self.salts.clone()
    }

    /// Keeps salts current until the process ends.
    pub async fn run(self) {
        let mut tick = tokio::time::interval(REFRESH);
        tick.tick().await;
        loop {
            tick.tick().await;
            let today = clock::day_of(clock::now_unix());
            if let Err(error) = self.rotate(today).await {
                tracing::warn!(%error, "salt rotation failed; will retry in a minute");
            }
        }
    }

    /// Agrees on today's and tomorrow's salts and destroys the ones before yesterday.
    pub async fn rotate(&self, today: u16) -> Result<(), SaltError> {
        let key = agree_on_recipient_key(&self.client).await?;
        self.salts.set_recipient_key(key);
        for day in [today, today.saturating_add(1)] {
            let salt = self.agree_on_visitor_salt(day).await?;
            self.salts.set_visitor(day, salt);
        }
        let first_kept = today.saturating_sub(1);
        self.salts.forget_before(first_kept);
        self.destroy_before(first_kept).await
    }

    async fn agree_on_visitor_salt(&self, day: u16) -> Result<Salt, SaltError> {
        if let Some(salt) = self.stored_visitor_salt(day).await? {
            return Ok(salt);
        }
        // Propose the salt we may already be hashing with, so a collector that
        // started without ClickHouse keeps its ids if nobody else proposed one.
        let candidate = self.salts.visitor_salt(day);
        let mut insert = self
            .client
            .insert::<VisitorSaltRow>("visitor_salts")
            .await?;
        insert
            .write(&VisitorSaltRow {
                day,
                salt: candidate.to_hex(),
                created_at: clock::now_unix(),
            })
            .await?;
        insert.end().await?;
        Ok(self.stored_visitor_salt(day).await?.unwrap_or(candidate))
    }

    async fn stored_visitor_salt(&self, day: u16) -> Result<Option<Salt>, SaltError> {
        let stored: Vec<String> = self
            .client
            .query("SELECT salt FROM visitor_salts WHERE toUInt16(day) = ? ORDER BY salt LIMIT 1")
            .bind(day)
            .fetch_all()
            .await?;
        Ok(stored.first().and_then(|hex| Salt::from_hex(hex)))
    }

    async fn destroy_before(&self, first_kept: u16) -> Result<(), SaltError> {
        let old_partitions: Vec<u16> = self
            .client
            .query(
                "SELECT DISTINCT toUInt16(day) FROM visitor_salts WHERE toUInt16(day) < ? ORDER BY 1",
            )
            .bind(first_kept)
            .fetch_all()
            .await?;
        for day in old_partitions {
            self.client
                .query("ALTER TABLE visitor_salts DROP PARTITION ?")
                .bind(clock::yyyymmdd(day))
                .execute()
                .await?;
        }
        Ok(())
    }
}

async fn agree_on_recipient_key(client: &Client) -> Result<Salt, SaltError> {
    let query = "SELECT key FROM recipient_keys ORDER BY key LIMIT 1";
    let stored: Vec<String> = client.query(query).fetch_all().await?;
    if let Some(key) = stored.first().and_then(|hex| Salt::from_hex(hex)) {
        return Ok(key);
    }
    let mut insert = client.insert::<RecipientKeyRow>("recipient_keys").await?;
    insert
        .write(&RecipientKeyRow {
            key: Salt::random().to_hex(),
            created_at: clock::now_unix(),
        })
        .await?;
    insert.end().await?;
    let stored: Vec<String> = client.query(query).fetch_all().await?;
    stored
        .first()
        .and_then(|hex| Salt::from_hex(hex))
        .ok_or(SaltError::Unreadable("recipient_keys"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_without_a_published_salt_gets_one_random_salt() {
        let salts = Salts::in_memory(Salt([0; 32]));
        let first = salts.visitor_salt(100);
        assert_eq!(salts.visitor_salt(100), first);
        assert_ne!(salts.visitor_salt(101), first);
    }

    #[test]
    fn forgotten_days_get_new_salts() {
        let salts = Salts::in_memory(Salt([0; 32]));
        salts.set_visitor(100, Salt([1; 32]));
        salts.set_visitor(101, Salt([2; 32]));
        salts.forget_before(101);
        assert_ne!(salts.visitor_salt(100), Salt([1; 32]));
        assert_eq!(salts.visitor_salt(101), Salt([2; 32]));
    }
}
