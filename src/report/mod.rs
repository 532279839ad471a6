//! Aggregate reports for marketing staff: summary, time series, breakdowns
//! and email campaigns, for the stats API, the dashboard and
//! `beaconhouse report`.
//!
//! The wing in floors, each importing only the floors below it:
//! - [`vocabulary`]: the words requests and answers are made of (report
//!   kinds, dimensions, filters, intervals, days, formats) and the request
//!   errors.
//! - [`parameters`] (the one table of request parameters) and [`answer`]
//!   (the answers' shapes); [`error`] (why there is no answer).
//! - [`request`] (parsing a request from name/value pairs), [`sql`] (every
//!   report statement, and which table answers), [`output`] (answers as
//!   text).
//! - [`suppress`] (the threshold rule) and [`coalesce`] (identical
//!   statements, and requests, in flight run once).
//! - [`engine`] ([`Reporter`], which answers any request) and [`bounded`]
//!   (the path `serve`'s reports take).
//!
//! Separate from collection: reports read through the reports' own,
//! read-only clients and write nothing; the daily rollup they read is
//! computed by `rollup`, beside the pipeline.
//! Must never: return a row of `events` or `email_opens`, or a group counted
//! over fewer than `min_group_size` people.

pub mod answer;
pub mod bounded;
pub mod coalesce;
pub mod engine;
pub mod error;
pub mod output;
pub mod parameters;
pub mod request;
pub mod sql;
pub mod suppress;
pub mod vocabulary;

pub use answer::AnyReport;
pub use engine::Reporter;
pub use error::ReportError;
