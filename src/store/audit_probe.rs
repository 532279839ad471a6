//! What `beaconhouse audit` reads in ClickHouse, besides the salts
//! (`salt_keeper::stored_salt_days`) and the partitions
//! (`retention_job::Retention::expired`): every table of the collector's
//! two databases and its text columns ([`tables`]); a bounded sample of
//! each table's text, tested in ClickHouse against the shapes of
//! `privacy::audit_rules` ([`sample`]: only counts come back); and whether
//! the staff SQL user is refused the raw tables ([`staff_reads`]).
//!
//! A sample reads a table's last [`SAMPLE_DAYS`] days when it is
//! partitioned by date, and at most [`SAMPLE_ROWS`] rows and
//! [`SAMPLE_SECONDS`] seconds of it: ClickHouse stops there and answers
//! what it read (`read_overflow_mode` and `timeout_overflow_mode` =
//! `break`), so a sample never fails for being large.
//!
//! Owns: those statements (pure builders, table-tested; their shapes run on
//! a current ClickHouse too, [`statement_shapes`]) and running them, through
//! the read-only endpoints of `Endpoints::read_only` and the staff user's
//! `Endpoints::as_staff`.
//! Must never: fetch a sampled value (a count is all that comes back, and
//! the conditions of a finding are made of the rules' patterns), write
//! anything, or put into SQL any name but those ClickHouse lists in
//! `system.tables` and `system.columns`, quoted, and only when made of
//! letters, digits, `_` and `.`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::clickhouse::{Endpoints, describe, exception_code};
use super::statement::{Bind, Statement};
use crate::clock;
use crate::privacy::audit_rules::{self, Shape, TextColumn};

/// The days of recent rows a sample reads in a table partitioned by date.
pub const SAMPLE_DAYS: u16 = 31;
/// The most rows a sample reads of one table.
pub const SAMPLE_ROWS: u64 = 500_000;
/// The longest a sample reads one table.
pub const SAMPLE_SECONDS: u64 = 30;

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(
        "cannot list the tables of {databases}: {cause}; check that ClickHouse is up and that clickhouse.user may read system.tables and system.columns"
    )]
    List { databases: String, cause: String },
    #[error(
        "cannot sample {table}: {cause}; check that ClickHouse is up and that clickhouse.user may read {table}"
    )]
    Sample { table: String, cause: String },
    #[error(
        "the staff SQL user {user} cannot sign in or read {database}: {cause}; check audit.staff_user and audit.staff_password (BEACONHOUSE_AUDIT_STAFF_PASSWORD) against the staff user's users.d file or grants"
    )]
    StaffSignIn {
        user: String,
        database: String,
        cause: String,
    },
    #[error(
        "asking ClickHouse whether the staff SQL user {user} may read {table} failed: {cause}; check that ClickHouse is up and run the audit again"
    )]
    Staff {
        user: String,
        table: String,
        cause: String,
    },
}

/// A table of one of the collector's databases, as ClickHouse lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub database: String,
    pub name: String,
    pub engine: String,
    /// In table order.
    pub columns: Vec<Column>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub type_name: String,
    pub in_partition_key: bool,
}

impl Table {
    /// `database.table`, for people.
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.database, self.name)
    }
}

#[derive(Debug, clickhouse::Row, Deserialize)]
struct TableRow {
    database: String,
    name: String,
    engine: String,
}

#[derive(Debug, clickhouse::Row, Deserialize)]
struct ColumnRow {
    database: String,
    table: String,
    name: String,
    type_name: String,
    in_partition_key: u8,
}

/// Every table of `databases`, with its columns, sorted by database and
/// name.
pub async fn tables(endpoints: &Endpoints, databases: [&str; 2]) -> Result<Vec<Table>, ProbeError> {
    let failed = |cause: clickhouse::error::Error| ProbeError::List {
        databases: databases.join(" and "),
        cause: describe(&cause),
    };
    let listed: Vec<TableRow> = endpoints
        .fetch_all(&tables_statement(databases))
        .await
        .map_err(failed)?;
    let columns: Vec<ColumnRow> = endpoints
        .fetch_all(&columns_statement(databases))
        .await
        .map_err(failed)?;
    Ok(assemble(listed, columns))
}

fn tables_statement(databases: [&str; 2]) -> Statement {
    let mut statement = Statement::new("SELECT database, name, engine FROM system.tables");
    in_databases(&mut statement, databases);
    statement
}

/// The columns of the tables of `databases`, in table order (18.16's
/// `system.columns` has no position: it lists them in order).
fn columns_statement(databases: [&str; 2]) -> Statement {
    let mut statement = Statement::new(
        "SELECT database, table, name, type, is_in_partition_key FROM system.columns",
    );
    in_databases(&mut statement, databases);
    statement
}

fn in_databases(statement: &mut Statement, [first, second]: [&str; 2]) {
    statement
        .push_bound(" WHERE database IN (?", Bind::Text(first.into()))
        .push_bound(", ?)", Bind::Text(second.into()));
}

fn assemble(listed: Vec<TableRow>, columns: Vec<ColumnRow>) -> Vec<Table> {
    let mut tables: BTreeMap<(String, String), Table> = listed
        .into_iter()
        .map(|row| {
            let key = (row.database.clone(), row.name.clone());
            let table = Table {
                database: row.database,
                name: row.name,
                engine: row.engine,
                columns: Vec::new(),
            };
            (key, table)
        })
        .collect();
    for column in columns {
        if let Some(table) = tables.get_mut(&(column.database, column.table)) {
            table.columns.push(Column {
                name: column.name,
                type_name: column.type_name,
                in_partition_key: column.in_partition_key != 0,
            });
        }
    }
    tables.into_values().collect()
}

/// A name as SQL writes it, in backquotes; `None` for a name with anything
/// but letters, digits, `_` and `.` (which the audit does not put into SQL).
fn quoted(name: &str) -> Option<String> {
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    plain.then(|| format!("`{name}`"))
}

/// What to sample of one table, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// `database.table`.
    pub table: String,
    /// The rows are counted, then each cell's matches, in order.
    pub statement: Statement,
    /// What each count after the first counts.
    pub cells: Vec<Cell>,
    /// The first day sampled, for a table partitioned by date.
    pub since: Option<u16>,
}

/// One column and one shape of a sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub column: String,
    pub shape: Shape,
    /// Whether a row's text of `column` takes `shape` ([`condition`]).
    pub condition: Statement,
}

/// A table that is not sampled because of a name the audit does not put
/// into SQL: `database.table` or `database.table.column`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnusualName(pub String);

/// How `table` is sampled when it is `today`: `Ok(None)` for a table with
/// no rows of its own or no text column but secrets by design.
pub fn plan(table: &Table, today: u16) -> Result<Option<Plan>, UnusualName> {
    if !audit_rules::holds_rows(&table.engine) {
        return Ok(None);
    }
    let (Some(database), Some(name)) = (quoted(&table.database), quoted(&table.name)) else {
        return Err(UnusualName(table.qualified()));
    };
    let mut cells = Vec::new();
    for column in &table.columns {
        let Some(text) = audit_rules::text_column(&column.type_name) else {
            continue;
        };
        if audit_rules::secret_by_design(&table.name, &column.name) {
            continue;
        }
        if quoted(&column.name).is_none() {
            return Err(UnusualName(format!(
                "{}.{}",
                table.qualified(),
                column.name
            )));
        }
        for shape in Shape::ALL {
            cells.push(Cell {
                column: column.name.clone(),
                shape,
                condition: condition(&column.name, text, shape),
            });
        }
    }
    if cells.is_empty() {
        return Ok(None);
    }
    let mut statement = Statement::new("SELECT count(), [");
    for (i, cell) in cells.iter().enumerate() {
        statement.push(if i == 0 { "countIf(" } else { ", countIf(" });
        statement.append(cell.condition.clone()).push(")");
    }
    statement.push(&format!("] FROM {database}.{name}"));
    let window = audit_rules::window_column(
        table
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.type_name.as_str(), c.in_partition_key)),
    )
    .and_then(quoted);
    let since = window.as_ref().map(|_| today.saturating_sub(SAMPLE_DAYS));
    if let (Some(column), Some(since)) = (&window, since) {
        statement.push_bound(
            &format!(" WHERE toDate({column}) >= toDate(?)"),
            Bind::Text(clock::iso_date(since)),
        );
    }
    statement.push(&format!(
        " SETTINGS max_rows_to_read = {SAMPLE_ROWS}, read_overflow_mode = 'break', max_execution_time = {SAMPLE_SECONDS}, timeout_overflow_mode = 'break'"
    ));
    Ok(Some(Plan {
        table: table.qualified(),
        statement,
        cells,
        since,
    }))
}

/// Whether the text of `column` takes `shape`: for an array, whether any of
/// its texts does; NULL is no text. The condition a finding tells the
/// operator to delete rows by, too.
pub fn condition(column: &str, text: TextColumn, shape: Shape) -> Statement {
    let column = format!("`{column}`");
    let value = |name: &str| {
        if text.nullable {
            format!("ifNull({name}, '')")
        } else {
            name.to_string()
        }
    };
    let mut condition = Statement::default();
    if text.array {
        condition.push("arrayExists(audit_value -> ");
        condition.append(shape_condition(&value("audit_value"), shape));
        condition.push(&format!(", {column})"));
    } else {
        condition.append(shape_condition(&value(&column), shape));
    }
    condition
}

/// Whether the text `value` takes `shape`, the patterns bound.
fn shape_condition(value: &str, shape: Shape) -> Statement {
    let pattern = |pattern: &str| Bind::Text(pattern.to_string());
    let mut condition = Statement::default();
    match shape {
        Shape::Ipv4 => {
            condition.push_bound(&format!("match({value}, ?)"), pattern(audit_rules::IPV4))
        }
        Shape::Ipv6 => {
            condition.push_bound(&format!("match({value}, ?)"), pattern(audit_rules::IPV6))
        }
        Shape::Email => {
            condition.push_bound(&format!("match({value}, ?)"), pattern(audit_rules::EMAIL))
        }
        Shape::Token => condition
            .push_bound(&format!("(match({value}, ?)"), pattern(audit_rules::UUID))
            .push(&format!(
                " OR arrayExists(audit_run -> (length(audit_run) >= {}",
                audit_rules::TOKEN_LENGTH
            ))
            .push_bound(" OR match(audit_run, ?))", pattern(audit_rules::HEX_RUN))
            .push_bound(" AND match(audit_run, ?)", pattern(audit_rules::DIGIT))
            .push_bound(" AND match(audit_run, ?)", pattern(audit_rules::LETTER))
            .push_bound(
                &format!(", extractAll({value}, ?)))"),
                pattern(audit_rules::TOKEN_RUN),
            ),
    };
    condition
}

/// What a sample of one table found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// `database.table`.
    pub table: String,
    /// Rows read.
    pub rows: u64,
    pub since: Option<u16>,
    /// Each cell with rows of its shape, and how many.
    pub found: Vec<(Cell, u64)>,
}

#[derive(Debug, clickhouse::Row, Deserialize)]
struct SampleRow {
    rows: u64,
    counts: Vec<u64>,
}

/// Runs `plan`: how many rows it read, and which cells hold text of a shape.
pub async fn sample(endpoints: &Endpoints, plan: &Plan) -> Result<Sample, ProbeError> {
    let row: SampleRow = endpoints
        .fetch_one(&plan.statement)
        .await
        .map_err(|cause| ProbeError::Sample {
            table: plan.table.clone(),
            cause: describe(&cause),
        })?;
    let found = plan
        .cells
        .iter()
        .zip(row.counts)
        .filter(|(_, count)| *count > 0)
        .map(|(cell, count)| (cell.clone(), count))
        .collect();
    Ok(Sample {
        table: plan.table.clone(),
        rows: row.rows,
        since: plan.since,
        found,
    })
}

/// Of `tables` (of the raw database), those the staff SQL user `user`, on
/// `staff`, may read: each is asked for one row, and only an access denial
/// counts as refused. Fails when staff cannot sign in at all.
pub async fn staff_reads(
    staff: &Endpoints,
    user: &str,
    database: &str,
    tables: &[&Table],
) -> Result<Vec<String>, ProbeError> {
    staff
        .fetch_one::<u8>(&Statement::new("SELECT 1"))
        .await
        .map_err(|cause| ProbeError::StaffSignIn {
            user: user.to_string(),
            database: database.to_string(),
            cause: describe(&cause),
        })?;
    let mut readable = Vec::new();
    for table in tables {
        let Some(statement) = read_one_statement(table) else {
            continue;
        };
        match staff.fetch_all::<u8>(&statement).await {
            Ok(_) => readable.push(table.qualified()),
            Err(error) if access_denied(&error) => {}
            Err(cause) => {
                return Err(ProbeError::Staff {
                    user: user.to_string(),
                    table: table.qualified(),
                    cause: describe(&cause),
                });
            }
        }
    }
    Ok(readable)
}

/// `SELECT 1 FROM <database>.<table> LIMIT 1`; `None` for a name the audit
/// does not put into SQL.
fn read_one_statement(table: &Table) -> Option<Statement> {
    Some(Statement::new(&format!(
        "SELECT 1 FROM {}.{} LIMIT 1",
        quoted(&table.database)?,
        quoted(&table.name)?
    )))
}

/// Whether ClickHouse refused a query for who asked: `DATABASE_ACCESS_DENIED`
/// (291, ClickHouse 18.16's `allow_databases`) or `ACCESS_DENIED` (497, the
/// grants of 20.5 and later).
fn access_denied(error: &clickhouse::error::Error) -> bool {
    matches!(error, clickhouse::error::Error::BadResponse(body) if matches!(exception_code(body), Some(291 | 497)))
}

/// A statement of every shape the audit runs, values bound as for a
/// database `beaconhouse` of the shipped schema: what
/// `tests/schema_on_current_clickhouse.py` runs on a current release.
pub fn statement_shapes() -> Vec<Statement> {
    let databases = ["beaconhouse", "beaconhouse_released"];
    let column = |name: &str, type_name: &str, in_partition_key| Column {
        name: name.into(),
        type_name: type_name.into(),
        in_partition_key,
    };
    let events = Table {
        database: "beaconhouse".into(),
        name: "events".into(),
        engine: "MergeTree".into(),
        columns: vec![
            column("site", "String", false),
            column("ts", "DateTime('UTC')", true),
            column("path", "String", false),
        ],
    };
    let revocations = Table {
        database: "beaconhouse".into(),
        name: "session_revocations".into(),
        engine: "ReplacingMergeTree".into(),
        columns: vec![column("holder", "String", false)],
    };
    let today = clock::day_from_civil(2026, 11, 25).unwrap_or_default();
    let mut shapes = vec![tables_statement(databases), columns_statement(databases)];
    for table in [&events, &revocations] {
        if let Ok(Some(plan)) = plan(table, today) {
            shapes.push(plan.statement);
        }
    }
    let mut array = Statement::new("SELECT countIf(");
    array
        .append(condition(
            "tags",
            TextColumn {
                array: true,
                nullable: true,
            },
            Shape::Token,
        ))
        .push(") FROM (SELECT [NULL, 'x'] AS tags)");
    shapes.push(array);
    shapes.extend(read_one_statement(&events));
    shapes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, type_name: &str, in_partition_key: bool) -> Column {
        Column {
            name: name.into(),
            type_name: type_name.into(),
            in_partition_key,
        }
    }

    fn table(name: &str, engine: &str, columns: Vec<Column>) -> Table {
        Table {
            database: "stats".into(),
            name: name.into(),
            engine: engine.into(),
            columns,
        }
    }

    fn day(y: u32, m: u32, d: u32) -> u16 {
        clock::day_from_civil(y, m, d).unwrap()
    }

    #[test]
    fn a_table_is_sampled_over_its_recent_days_within_bounds() {
        let events = table(
            "events",
            "MergeTree",
            vec![
                column("ts", "DateTime('UTC')", true),
                column("visitor_id", "UInt64", false),
                column("path", "String", false),
            ],
        );
        let plan = plan(&events, day(2026, 11, 25)).unwrap().unwrap();
        assert_eq!(plan.table, "stats.events");
        assert_eq!(plan.since, Some(day(2026, 10, 25)));
        let cells: Vec<(&str, Shape)> = plan
            .cells
            .iter()
            .map(|cell| (cell.column.as_str(), cell.shape))
            .collect();
        assert_eq!(
            cells,
            Shape::ALL.map(|shape| ("path", shape)),
            "one count per shape of each text column"
        );
        let text = plan.statement.bound_text();
        assert!(
            text.starts_with("SELECT count(), [countIf(match(`path`, '"),
            "{text}"
        );
        assert!(
            text.ends_with("] FROM `stats`.`events` WHERE toDate(`ts`) >= toDate('2026-10-25') SETTINGS max_rows_to_read = 500000, read_overflow_mode = 'break', max_execution_time = 30, timeout_overflow_mode = 'break'"),
            "{text}"
        );
        assert_eq!(text.matches("countIf(").count(), 4);
    }

    #[test]
    fn tables_without_rows_or_text_but_secrets_are_not_sampled() {
        let today = day(2026, 11, 25);
        let view = table("events", "View", vec![column("path", "String", false)]);
        assert_eq!(plan(&view, today), Ok(None));
        let salts = table(
            "visitor_salts",
            "MergeTree",
            vec![column("day", "Date", true), column("salt", "String", false)],
        );
        assert_eq!(plan(&salts, today), Ok(None));
        let keys = table(
            "recipient_keys",
            "MergeTree",
            vec![column("key", "String", false)],
        );
        assert_eq!(plan(&keys, today), Ok(None));
        let revocations = table(
            "session_revocations",
            "ReplacingMergeTree",
            vec![column("holder", "Nullable(String)", false)],
        );
        let plan = plan(&revocations, today).unwrap().unwrap();
        assert_eq!(
            plan.since, None,
            "not partitioned by date: rows alone bound it"
        );
        let text = plan.statement.bound_text();
        assert!(text.contains("match(ifNull(`holder`, ''), '"), "{text}");
        assert!(
            text.contains("FROM `stats`.`session_revocations` SETTINGS "),
            "{text}"
        );
    }

    #[test]
    fn unusual_names_are_never_put_into_sql() {
        let today = day(2026, 11, 25);
        let odd_table = table(
            "ev`ents",
            "MergeTree",
            vec![column("path", "String", false)],
        );
        assert_eq!(
            plan(&odd_table, today),
            Err(UnusualName("stats.ev`ents".into()))
        );
        let odd_column = table(
            "events",
            "MergeTree",
            vec![column("pa?th", "String", false)],
        );
        assert_eq!(
            plan(&odd_column, today),
            Err(UnusualName("stats.events.pa?th".into()))
        );
        assert_eq!(read_one_statement(&odd_table), None);
        let nested = table(
            "events",
            "MergeTree",
            vec![column("props.value", "Array(String)", false)],
        );
        let text = plan(&nested, today)
            .unwrap()
            .unwrap()
            .statement
            .bound_text();
        assert!(
            text.contains("countIf(arrayExists(audit_value -> match(audit_value, '"),
            "{text}"
        );
        assert!(text.contains(", `props.value`))"), "{text}");
    }

    #[test]
    fn a_token_is_a_uuid_or_a_long_mixed_run() {
        let plain = TextColumn {
            array: false,
            nullable: false,
        };
        let text = condition("path", plain, Shape::Token).bound_text();
        assert_eq!(
            text,
            format!(
                "(match(`path`, '{}') OR arrayExists(audit_run -> (length(audit_run) >= 20 OR match(audit_run, '^[0-9A-Fa-f]+$')) AND match(audit_run, '[0-9]') AND match(audit_run, '[A-Za-z]'), extractAll(`path`, '[A-Za-z0-9]{{16,}}')))",
                audit_rules::UUID
            )
        );
    }

    #[test]
    fn only_an_access_denial_is_a_refusal() {
        use clickhouse::error::Error;
        let cases = [
            (
                "Code: 291, e.displayText() = DB::Exception: Access denied to database stats for user reporting",
                true,
            ),
            (
                "Code: 497. DB::Exception: reporting: Not enough privileges.",
                true,
            ),
            (
                "Code: 193, e.displayText() = DB::Exception: Wrong password for user reporting",
                false,
            ),
            (
                "Code: 60. DB::Exception: Table stats.events doesn't exist.",
                false,
            ),
        ];
        for (body, denied) in cases {
            assert_eq!(
                access_denied(&Error::BadResponse(body.into())),
                denied,
                "{body}"
            );
        }
        assert!(!access_denied(&Error::TimedOut));
    }

    #[test]
    fn tables_are_assembled_with_their_columns_in_order() {
        let listed = vec![
            TableRow {
                database: "stats_released".into(),
                name: "daily".into(),
                engine: "ReplacingMergeTree".into(),
            },
            TableRow {
                database: "stats".into(),
                name: "events".into(),
                engine: "MergeTree".into(),
            },
        ];
        let columns = ["ts", "path"]
            .iter()
            .map(|name| ColumnRow {
                database: "stats".into(),
                table: "events".into(),
                name: name.to_string(),
                type_name: "String".into(),
                in_partition_key: u8::from(*name == "ts"),
            })
            .chain([ColumnRow {
                database: "stats".into(),
                table: "gone".into(),
                name: "x".into(),
                type_name: "String".into(),
                in_partition_key: 0,
            }])
            .collect();
        let tables = assemble(listed, columns);
        let names: Vec<String> = tables.iter().map(Table::qualified).collect();
        assert_eq!(names, ["stats.events", "stats_released.daily"]);
        let events: Vec<(&str, bool)> = tables[0]
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.in_partition_key))
            .collect();
        assert_eq!(events, [("ts", true), ("path", false)]);
        assert!(tables[1].columns.is_empty());
    }

    /// Also writes the statements to `$BEACONHOUSE_TEST_AUDIT_SQL_OUT`, one
    /// per line, for `tests/schema_on_current_clickhouse.py` to run on a
    /// current ClickHouse (`tests/run.sh` does both).
    #[test]
    fn every_audit_statement_is_fully_bound() {
        let statements: Vec<String> = statement_shapes()
            .iter()
            .map(Statement::bound_text)
            .collect();
        assert_eq!(statements.len(), 6);
        for statement in &statements {
            assert!(!statement.contains('?'), "{statement}");
            assert!(!statement.contains('\n'), "{statement}");
            assert!(statement.starts_with("SELECT "), "{statement}");
        }
        if let Some(path) = std::env::var_os("BEACONHOUSE_TEST_AUDIT_SQL_OUT") {
            std::fs::write(path, statements.join("\n") + "\n").unwrap();
        }
    }
}
