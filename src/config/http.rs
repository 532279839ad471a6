//! `[http]`: what the listener accepts: the proxies trusted to name the
//! client, body and header limits, timeouts, connections, the hit rate one
//! client may have stored, and the worker threads.
//!
//! Refuses a proxy entry that is not a network or an address, a rate or
//! burst of 0, and every number outside its range.

use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::validate::{ConfigError, in_range, millis, parse_networks};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawHttp {
    trusted_proxies: Vec<String>,
    max_body_bytes: usize,
    max_headers: usize,
    max_header_bytes: usize,
    request_timeout_ms: u64,
    keep_alive_ms: u64,
    max_connections: usize,
    rate_limit_per_second: u32,
    rate_limit_burst: u32,
    workers: usize,
}

impl Default for RawHttp {
    fn default() -> Self {
        RawHttp {
            trusted_proxies: Vec::new(),
            max_body_bytes: 4096,
            max_headers: 64,
            max_header_bytes: 16 * 1024,
            request_timeout_ms: 5_000,
            keep_alive_ms: 5_000,
            max_connections: 10_000,
            rate_limit_per_second: 20,
            rate_limit_burst: 200,
            workers: 0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Peers allowed to name the client in `X-Forwarded-For`.
    pub trusted_proxies: Vec<IpNet>,
    /// Largest accepted `POST /api/event` body; larger ones get 413.
    pub max_body_bytes: usize,
    /// A hit with more headers than this, or more header bytes, is answered
    /// and not stored (no browser sends that much).
    pub max_headers: usize,
    pub max_header_bytes: usize,
    /// A client that has not sent its request head within this is cut off;
    /// so is one whose body has not arrived within this of its head (a beacon,
    /// a dashboard sign-in), with a 408.
    pub request_timeout: Duration,
    /// How long an idle connection is kept open for a next request; zero
    /// closes it after each answer.
    pub keep_alive: Duration,
    /// Open connections per HTTP worker; past it, new ones wait to be
    /// accepted.
    pub max_connections: usize,
    /// Hits per second one client may have stored, and the burst above that.
    pub rate_limit_per_second: u32,
    pub rate_limit_burst: u32,
    /// actix worker threads; 0 means one per core.
    pub workers: usize,
}

/// How many open connections per HTTP worker may be configured.
const CONNECTIONS: std::ops::RangeInclusive<usize> = 16..=1_000_000;

impl RawHttp {
    pub(super) fn validate(self) -> Result<HttpConfig, ConfigError> {
        if self.rate_limit_per_second == 0 || self.rate_limit_burst == 0 {
            return Err(ConfigError::invalid(
                "http.rate_limit_per_second",
                "and http.rate_limit_burst must be at least 1",
            ));
        }
        Ok(HttpConfig {
            trusted_proxies: parse_networks("http.trusted_proxies", &self.trusted_proxies)?,
            max_body_bytes: in_range("http.max_body_bytes", self.max_body_bytes, 256..=1_048_576)?,
            max_headers: in_range("http.max_headers", self.max_headers, 8..=1024)?,
            max_header_bytes: in_range(
                "http.max_header_bytes",
                self.max_header_bytes,
                1024..=1_048_576,
            )?,
            request_timeout: millis(
                "http.request_timeout_ms",
                self.request_timeout_ms,
                100..=600_000,
            )?,
            keep_alive: millis("http.keep_alive_ms", self.keep_alive_ms, 0..=600_000)?,
            max_connections: in_range("http.max_connections", self.max_connections, CONNECTIONS)?,
            rate_limit_per_second: self.rate_limit_per_second,
            rate_limit_burst: self.rate_limit_burst,
            // 0 means one per core.
            workers: in_range("http.workers", self.workers, 0..=256)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::testing::{Case, MINIMAL, assert_rejections_name_their_keys};

    #[test]
    fn each_rejection_names_its_key() {
        let cases: &[Case] = &[
            (
                MINIMAL,
                &[("BEACONHOUSE_HTTP_TRUSTED_PROXIES", "[\"10.0.0.0/33\"]")],
                "http.trusted_proxies",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_HTTP_MAX_BODY_BYTES", "10")],
                "http.max_body_bytes",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_HTTP_WORKERS", "1000")],
                "http.workers",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_HTTP_REQUEST_TIMEOUT_MS", "5")],
                "http.request_timeout_ms",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_HTTP_KEEP_ALIVE_MS", "600001")],
                "http.keep_alive_ms",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_HTTP_MAX_CONNECTIONS", "8")],
                "http.max_connections",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_HTTP_RATE_LIMIT_BURST", "0")],
                "http.rate_limit_per_second",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_HTTP_MAX_HEADERS", "2")],
                "http.max_headers",
            ),
        ];
        assert_rejections_name_their_keys(cases);
    }
}
