//! Dashboard sign-outs shared through ClickHouse, so that signing out on one
//! collector ends the session on every collector of the same database
//! without a session store: each sign-out is a row of
//! `session_revocations` (the holder and when), and each collector reads the
//! table every [`REFRESH`] into its [`SignOuts`], which the session check
//! consults. On a cluster the table is kept whole on every node.
//!
//! Owns: the `session_revocations` table and the loop that keeps a
//! collector's [`SignOuts`] current. Which sessions a sign-out ends is
//! `grant::SignOuts`'s rule; this module only carries the sign-outs.
//! Must never: hold a session or a grant (only a holder and a time), or wait
//! on ClickHouse in the request that signs out: the sign-out holds on this
//! collector at once, and a row ClickHouse did not take is sent again.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::clickhouse::Endpoints;
use crate::clock;
use crate::grant::{Holder, SESSION_SECONDS, SignOuts};

/// How long a sign-out on another collector may take to reach this one.
pub const REFRESH: Duration = Duration::from_secs(5);

const TABLE: &str = "session_revocations";

#[derive(Debug, Clone, PartialEq, Eq, clickhouse::Row, Serialize, Deserialize)]
struct SignOutRow {
    holder: String,
    subject: String,
    revoked_ms: u64,
}

/// A holder's latest sign-out, as the refresh reads it.
#[derive(Debug, clickhouse::Row, Deserialize)]
struct LatestRow {
    holder: String,
    subject: String,
    latest_ms: u64,
}

impl SignOutRow {
    fn new(holder: &Holder, revoked_ms: u64) -> SignOutRow {
        let (kind, subject) = match holder {
            Holder::Token(name) => ("token", name),
            Holder::Shared(site) => ("link", site),
        };
        SignOutRow {
            holder: kind.into(),
            subject: subject.clone(),
            revoked_ms,
        }
    }
}

/// The holder a row names; `None` for a kind this release does not know.
fn holder_of(kind: &str, subject: String) -> Option<Holder> {
    match kind {
        "token" => Some(Holder::Token(subject)),
        "link" => Some(Holder::Shared(subject)),
        _ => None,
    }
}

/// Records sign-outs and keeps a collector's [`SignOuts`] current.
#[derive(Clone)]
pub struct SignOutKeeper {
    endpoints: Endpoints,
    sign_outs: SignOuts,
    /// Sign-outs ClickHouse has not taken yet, sent again at each refresh.
    unsent: Arc<Mutex<Vec<SignOutRow>>>,
}

impl SignOutKeeper {
    pub fn new(endpoints: Endpoints) -> SignOutKeeper {
        SignOutKeeper {
            endpoints,
            sign_outs: SignOuts::default(),
            unsent: Arc::default(),
        }
    }

    /// What the session check consults.
    pub fn sign_outs(&self) -> SignOuts {
        self.sign_outs.clone()
    }

    /// Ends `holder`'s sessions opened up to `at_ms` on this collector at
    /// once; the future returned tells the others, through ClickHouse.
    pub fn record(&self, holder: &Holder, at_ms: u64) -> impl Future<Output = ()> + 'static {
        self.sign_outs.record(holder, at_ms);
        self.unsent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(SignOutRow::new(holder, at_ms));
        let keeper = self.clone();
        async move {
            if let Err(error) = keeper.send_unsent().await {
                tracing::warn!(
                    %error,
                    "a dashboard sign-out holds on this collector only until ClickHouse takes it; sent again every few seconds"
                );
            }
        }
    }

    /// Keeps the sign-outs current until the process ends.
    pub async fn run(self) {
        let mut tick = tokio::time::interval(REFRESH);
        loop {
            tick.tick().await;
            if let Err(error) = self.refresh().await {
                tracing::debug!(%error, "dashboard sign-outs not read; trying again");
            }
        }
    }

    /// Sends what ClickHouse has not taken, then reads every sign-out that
    /// can still end a session (those of the last [`SESSION_SECONDS`]).
    pub async fn refresh(&self) -> Result<(), clickhouse::error::Error> {
        self.send_unsent().await?;
        let since = clock::now_millis().saturating_sub(SESSION_SECONDS * 1000);
        let rows: Vec<LatestRow> = self
            .endpoints
            .run(|client| {
                client
                    .query(
                        "SELECT holder, subject, max(revoked_ms) AS latest_ms FROM session_revocations WHERE revoked_ms > ? GROUP BY holder, subject",
                    )
                    .bind(since)
                    .fetch_all()
            })
            .await?;
        for row in rows {
            if let Some(holder) = holder_of(&row.holder, row.subject) {
                self.sign_outs.record(&holder, row.latest_ms);
            }
        }
        Ok(())
    }

    async fn send_unsent(&self) -> Result<(), clickhouse::error::Error> {
        let rows = std::mem::take(&mut *self.unsent.lock().unwrap_or_else(|e| e.into_inner()));
        if rows.is_empty() {
            return Ok(());
        }
        let sent = self
            .endpoints
            .run(|client| {
                let rows = &rows;
                async move {
                    let mut insert = client.insert::<SignOutRow>(TABLE).await?;
                    for row in rows {
                        insert.write(row).await?;
                    }
                    insert.end().await
                }
            })
            .await;
        if sent.is_err() {
            self.unsent
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(rows);
        }
        sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_names_its_holder_and_an_unknown_kind_is_passed_over() {
        for holder in [
            Holder::Token("marketing".into()),
            Holder::Shared("optimumabq.com".into()),
        ] {
            let row = SignOutRow::new(&holder, 1);
            assert_eq!(holder_of(&row.holder, row.subject), Some(holder));
        }
        assert_eq!(holder_of("device", "x".into()), None);
    }
}
