//! A statement as text plus bound values, and running it on the first
//! endpoint that answers: the plumbing the reports (which read) and the
//! rollup (which writes) share.
//!
//! Owns: [`Statement`] and [`Bind`], binding them to a client's query, and
//! fetching or executing them through [`Endpoints`]. Whether a statement may
//! write is the client's: the reports are handed read-only endpoints
//! (`Endpoints::for_reports`), the rollup the ingest user's.
//! Must never: put a value into the text; values travel as [`Bind`]s. Nor
//! leave a [`Statement::cancellable`] one running in ClickHouse once its
//! caller has dropped it: ClickHouse 18.16 goes on after the client hangs
//! up, so it is killed by its query id.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use clickhouse::Client;
use clickhouse::error::Error;

use super::clickhouse::Endpoints;

/// A value bound to a `?` of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    Text(String),
    Number(u64),
}

/// A statement and its bound values, in placeholder order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Statement {
    pub text: String,
    pub binds: Vec<Bind>,
    /// Names the query in ClickHouse's `system.processes`; set, the query
    /// is killed when its caller drops it before it ends.
    pub query_id: Option<String>,
}

impl Statement {
    pub fn new(text: &str) -> Statement {
        Statement {
            text: text.into(),
            binds: Vec::new(),
            query_id: None,
        }
    }

    /// The statement under a query id of its own, so that dropping it
    /// before it ends kills it in ClickHouse.
    pub fn cancellable(mut self) -> Statement {
        self.query_id = Some(new_query_id());
        self
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends `text`, which holds one `?` for `bind`.
    pub fn push_bound(&mut self, text: &str, bind: Bind) -> &mut Self {
        debug_assert_eq!(text.matches('?').count(), 1);
        self.text.push_str(text);
        self.binds.push(bind);
        self
    }

    pub fn append(&mut self, other: Statement) -> &mut Self {
        self.text.push_str(&other.text);
        self.binds.extend(other.binds);
        self
    }

    /// The statement with its values bound, ready to run on `client`.
    pub fn query(&self, client: &Client) -> clickhouse::query::Query {
        let mut query = client.query(&self.text);
        if let Some(query_id) = &self.query_id {
            query = query.with_setting("query_id", query_id.clone());
        }
        for bind in &self.binds {
            query = match bind {
                Bind::Text(text) => query.bind(text.as_str()),
                Bind::Number(n) => query.bind(*n),
            };
        }
        query
    }

    /// The text ClickHouse receives, values bound as the client binds them:
    /// what the checks of every statement shape on other releases and on
    /// every cluster node run.
    pub fn bound_text(&self) -> String {
        self.query(&Client::default()).sql_display().to_string()
    }
}

impl Endpoints {
    /// Every row `statement` answers, from the first endpoint that answers.
    pub async fn fetch_all<T>(&self, statement: &Statement) -> Result<Vec<T>, Error>
    where
        T: clickhouse::RowOwned + clickhouse::RowRead,
    {
        let running = KillIfDropped::new(self, statement);
        let rows = self
            .run(|client| statement.query(&client).fetch_all())
            .await;
        running.ended();
        rows
    }

    /// The one row `statement` answers, from the first endpoint that answers.
    pub async fn fetch_one<T>(&self, statement: &Statement) -> Result<T, Error>
    where
        T: clickhouse::RowOwned + clickhouse::RowRead,
    {
        let running = KillIfDropped::new(self, statement);
        let row = self
            .run(|client| statement.query(&client).fetch_one())
            .await;
        running.ended();
        row
    }

    /// Runs `statement`, which answers no rows, on the first endpoint that
    /// takes it.
    pub async fn execute(&self, statement: &Statement) -> Result<(), Error> {
        let running = KillIfDropped::new(self, statement);
        let done = self.run(|client| statement.query(&client).execute()).await;
        running.ended();
        done
    }
}

/// A query id no other query of any collector has: random per process,
/// counted within it.
fn new_query_id() -> String {
    static PROCESS: OnceLock<u64> = OnceLock::new();
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let process = PROCESS.get_or_init(|| getrandom::u64().unwrap_or(u64::from(std::process::id())));
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    format!("beaconhouse-{process:016x}-{n}")
}

/// Kills a cancellable statement's query in ClickHouse when it is dropped
/// before [`KillIfDropped::ended`]: its caller hung up.
struct KillIfDropped {
    running: Option<(Endpoints, String)>,
}

impl KillIfDropped {
    fn new(endpoints: &Endpoints, statement: &Statement) -> KillIfDropped {
        KillIfDropped {
            running: statement
                .query_id
                .clone()
                .map(|query_id| (endpoints.clone(), query_id)),
        }
    }

    fn ended(mut self) {
        self.running = None;
    }
}

impl Drop for KillIfDropped {
    fn drop(&mut self) {
        let Some((endpoints, query_id)) = self.running.take() else {
            return;
        };
        // Dropped outside a runtime, the process is ending: so is the query.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let mut kill = Statement::new("KILL QUERY");
            kill.push_bound(" WHERE query_id = ?", Bind::Text(query_id.clone()))
                .push(" ASYNC");
            if let Err(error) = endpoints.execute(&kill).await {
                tracing::warn!(%error, %query_id, "a dropped query could not be killed; ClickHouse stops it at max_execution_time");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_bound_in_placeholder_order_and_quoted() {
        let mut statement = Statement::new("SELECT 1 WHERE 1");
        statement
            .push_bound(" AND site = ?", Bind::Text("it's".into()))
            .append({
                let mut more = Statement::default();
                more.push_bound(" AND n = ?", Bind::Number(7));
                more
            })
            .push(" LIMIT 1");
        assert_eq!(
            statement.bound_text(),
            "SELECT 1 WHERE 1 AND site = 'it\\'s' AND n = 7 LIMIT 1"
        );
    }
}
