//! A statement as text plus bound values, and running it on the first
//! endpoint that answers: the plumbing the reports (which read) and the
//! rollup (which writes) share.
//!
//! Owns: [`Statement`] and [`Bind`], binding them to a client's query, and
//! fetching or executing them through [`Endpoints`]. Whether a statement may
//! write is the client's: the reports are handed read-only endpoints
//! (`Endpoints::for_reports`), the rollup the ingest user's.
//! Must never: put a value into the text; values travel as [`Bind`]s.

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
}

impl Statement {
    pub fn new(text: &str) -> Statement {
        Statement {
            text: text.into(),
            binds: Vec::new(),
        }
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
        self.run(|client| statement.query(&client).fetch_all())
            .await
    }

    /// The one row `statement` answers, from the first endpoint that answers.
    pub async fn fetch_one<T>(&self, statement: &Statement) -> Result<T, Error>
    where
        T: clickhouse::RowOwned + clickhouse::RowRead,
    {
        self.run(|client| statement.query(&client).fetch_one())
            .await
    }

    /// Runs `statement`, which answers no rows, on the first endpoint that
    /// takes it.
    pub async fn execute(&self, statement: &Statement) -> Result<(), Error> {
        self.run(|client| statement.query(&client).execute()).await
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
