//! Stores, reads and destroys the hashing salts in ClickHouse, so that every
//! collector writing to the same database hashes with the same salts.
//!
//! On a cluster both tables are kept whole on every node (see
//! `migrate::cluster`): a collector reads the salts of the node it reaches,
//! and dropping a day's partition there destroys it on every replica.
//!
//! Owns: the `visitor_salts` and `recipient_keys` tables, the loop that
//! keeps a collector's [`Salts`] current, and listing the stored days
//! ([`stored_salt_days`], which `beaconhouse audit` judges too). Which salt wins, which days are
//! agreed and which are destroyed are `privacy::salt_rules`'s rules; this module
//! only carries them out.
//! Must never: log a salt.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::clickhouse::Endpoints;
use crate::clock;
use crate::privacy::hash::Salt;
use crate::privacy::salt_rules::{self, Agreement, Salts};

/// How often the keeper re-reads and rotates.
const REFRESH: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum SaltError {
    #[error(
        "cannot read or store hashing salts in ClickHouse: {0}; check that ClickHouse is up and `beaconhouse migrate` has run"
    )]
    ClickHouse(#[from] clickhouse::error::Error),
    #[error(
        "the table {0} holds no readable 64-digit hex salt after an insert; delete its unreadable rows"
    )]
    Unreadable(&'static str),
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
    endpoints: Endpoints,
    salts: Salts,
}

impl SaltKeeper {
    /// A keeper whose salts are local and random until the first [`rotate`]
    /// reaches ClickHouse.
    ///
    /// [`rotate`]: SaltKeeper::rotate
    pub fn new(endpoints: Endpoints) -> SaltKeeper {
        SaltKeeper {
            endpoints,
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

    /// Agrees on the recipient key and the visitor salts of
    /// [`salt_rules::days_to_agree`], adopts them, and destroys the stored salts
    /// of expired days.
    pub async fn rotate(&self, today: u16) -> Result<(), SaltError> {
        let recipient_key = self.agree_on_recipient_key().await?;
        let mut visitor = Vec::new();
        for day in salt_rules::days_to_agree(today) {
            visitor.push((day, self.agree_on_visitor_salt(day).await?));
        }
        self.salts.adopt(&Agreement {
            today,
            recipient_key,
            visitor,
        });
        self.destroy_expired(today).await
    }

    async fn agree_on_visitor_salt(&self, day: u16) -> Result<Salt, SaltError> {
        if let Some(salt) = self.stored_visitor_salt(day).await? {
            return Ok(salt);
        }
        // Propose the salt we may already be hashing with, so a collector that
        // started without ClickHouse keeps its ids if nobody else proposed one.
        let candidate = self.salts.visitor_salt(day);
        let row = VisitorSaltRow {
            day,
            salt: candidate.to_hex(),
            created_at: clock::now_unix(),
        };
        self.insert_one("visitor_salts", &row).await?;
        Ok(self.stored_visitor_salt(day).await?.unwrap_or(candidate))
    }

    async fn stored_visitor_salt(&self, day: u16) -> Result<Option<Salt>, SaltError> {
        let stored = self
            .endpoints
            .run(|client| {
                client
                    .query("SELECT salt FROM visitor_salts WHERE toUInt16(day) = ?")
                    .bind(day)
                    .fetch_all()
            })
            .await?;
        Ok(winner_of(&stored))
    }

    async fn agree_on_recipient_key(&self) -> Result<Salt, SaltError> {
        if let Some(key) = self.stored_recipient_key().await? {
            return Ok(key);
        }
        let row = RecipientKeyRow {
            key: Salt::random().to_hex(),
            created_at: clock::now_unix(),
        };
        self.insert_one("recipient_keys", &row).await?;
        self.stored_recipient_key()
            .await?
            .ok_or(SaltError::Unreadable("recipient_keys"))
    }

    async fn stored_recipient_key(&self) -> Result<Option<Salt>, SaltError> {
        let stored = self
            .endpoints
            .run(|client| client.query("SELECT key FROM recipient_keys").fetch_all())
            .await?;
        Ok(winner_of(&stored))
    }

    async fn insert_one<T>(&self, table: &str, row: &T) -> Result<(), SaltError>
    where
        T: clickhouse::RowOwned + clickhouse::RowWrite,
    {
        let inserted = self
            .endpoints
            .run(|client| async move {
                let mut insert = client.insert::<T>(table).await?;
                insert.write(row).await?;
                insert.end().await
            })
            .await;
        Ok(inserted?)
    }

    async fn destroy_expired(&self, today: u16) -> Result<(), SaltError> {
        let stored_days = stored_salt_days(&self.endpoints).await?;
        for day in salt_rules::expired(&stored_days, today) {
            self.endpoints
                .run(|client| {
                    client
                        .query("ALTER TABLE visitor_salts DROP PARTITION ?")
                        .bind(clock::yyyymmdd(day))
                        .execute()
                })
                .await?;
        }
        Ok(())
    }
}

/// The days whose visitor salts are stored: what the keeper destroys
/// expired days of, and what `beaconhouse audit` judges.
pub async fn stored_salt_days(endpoints: &Endpoints) -> Result<Vec<u16>, SaltError> {
    let days = endpoints
        .run(|client| {
            client
                .query("SELECT DISTINCT toUInt16(day) FROM visitor_salts")
                .fetch_all()
        })
        .await?;
    Ok(days)
}

/// The winning salt among stored hex salts; unreadable ones are passed over.
fn winner_of(stored: &[String]) -> Option<Salt> {
    salt_rules::winner(stored.iter().filter_map(|hex| Salt::from_hex(hex)))
}
