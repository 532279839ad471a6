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
//!   report statement, and which table answers, returning exact counts per
//!   group and UTC day).
//! - [`released`] (the release step of reports: exact counts to noisy,
//!   thresholded figures, and [`Released`], which only it makes).
//! - [`output`] (released answers as text), [`suppress`] (which released
//!   groups a breakdown shows) and [`coalesce`] (identical statements, and
//!   requests, in flight run once).
//! - [`engine`] ([`Reporter`], which answers any request) and [`bounded`]
//!   (the path `serve`'s reports take).
//!
//! Separate from collection: reports read through the reports' own,
//! read-only clients and write nothing; the daily rollup they read is
//! computed by `rollup`, beside the pipeline.
//! Must never: return a row of `events`, `email_opens` or `email_clicks`,
//! or a figure that did not go through the release step.

pub mod answer;
pub mod bounded;
pub mod coalesce;
pub mod engine;
pub mod error;
pub mod output;
pub mod parameters;
pub mod released;
pub mod request;
pub mod sql;
pub mod suppress;
pub mod vocabulary;

pub use answer::AnyReport;
pub use engine::Reporter;
pub use error::ReportError;
pub use released::Released;
