//! The integration tests, as one binary: each module was a test binary of
//! its own, and [`common`] is the harness they share, compiled once (so code
//! in it that no test uses is dead, and the compiler says so).
//!
//! Every module's tests run side by side in this one process. The
//! clickhouse-server of [`common::clickhouse`] is started once for all of
//! them, each test on a database of its own; a module whose tests must take
//! turns holds its own lock (`faults`, `cluster`), and one that needs a
//! server to itself starts its own (`faults` where it stops the server,
//! `limits`, `cluster`, `audit`). No test may change what the process shares: its
//! environment, its working directory, or the shared server's users and
//! settings.

mod common;

mod admission;
mod adversarial;
mod audit;
mod cli;
mod clickhouse_tls;
mod clicks;
mod cluster;
mod collector;
mod conversions;
mod dashboard;
mod deploy;
mod faults;
mod fuzz;
mod geo;
mod insider;
mod limits;
mod release;
mod report;
mod retention;
mod snippets;
mod today;
mod tracker;
