//! Slows guessing at stats credentials. A client (its address resolved as
//! for hits: `X-Forwarded-For` only from a trusted proxy) may fail [`BURST`]
//! authentications, a bearer token on the stats API or a dashboard sign-in,
//! and then one more every [`REFILL`]. While it has none left, its attempts
//! are refused with 429 and a `Retry-After` before any credential is looked
//! at, so a right guess cannot be told from a wrong one. Every failure and
//! every refusal is counted (`beaconhouse_stats_auth_failures_total`).
//!
//! A client's failures are counted per [`Scope`]: a dashboard sign-in that
//! names a configured token fails against that name alone, so a guesser
//! behind an office's address slows only the name it guesses at and the
//! colleagues signing in with their own names go on working; bearer tokens,
//! shared links and sign-ins naming no configured token share one scope.
//!
//! Owns: which attempts are checked, and counting the failures.
//! Must never: keep or log a client's address (failures are counted in
//! `rate_limit`'s keyed, bounded, in-memory buckets), or check a credential
//! of a client it refuses. A session cookie is not an attempt: it is a
//! signed grant, and checking one tells a guesser nothing.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use ipnet::IpNet;

use super::access::{Denied, Scope};
use crate::metrics::{AuthFailure, Metrics};
use crate::privacy::client_ip;
use crate::rate_limit::RateLimiter;

/// Failures a client may make before it is slowed: enough for a person who
/// mistypes a token a few times.
pub const BURST: u32 = 10;
/// Then one more failure every this long: two a minute.
pub const REFILL: Duration = Duration::from_secs(30);

/// Failed authentications per client and scope.
pub struct AuthThrottle {
    failures: RateLimiter,
    /// Peers whose `X-Forwarded-For` names the client.
    trusted: Vec<IpNet>,
    metrics: Arc<Metrics>,
}

impl AuthThrottle {
    pub fn new(trusted: Vec<IpNet>, metrics: Arc<Metrics>) -> AuthThrottle {
        AuthThrottle {
            failures: RateLimiter::refilling_every(REFILL, BURST),
            trusted,
            metrics,
        }
    }

    /// Runs `check` (an authentication) for `request` unless its client has
    /// failed too often in `scope`, and counts a failure there when it
    /// answers [`Denied::Unauthorized`]; refuses with [`Denied::Throttled`]
    /// without running it otherwise.
    pub fn check<T>(
        &self,
        request: &HttpRequest,
        scope: Scope<'_>,
        check: impl FnOnce() -> Result<T, Denied>,
    ) -> Result<T, Denied> {
        let now = Instant::now();
        let client = self.client(request);
        let scope = match scope {
            Scope::Token(name) => name,
            // No token name is empty (config refuses one).
            Scope::Other => "",
        };
        if let Some(wait) = client.and_then(|client| self.failures.wait(client, scope, now)) {
            self.metrics.auth_failed(AuthFailure::Throttled);
            return Err(Denied::Throttled {
                retry_after: wait
                    .as_millis()
                    .div_ceil(1000)
                    .try_into()
                    .unwrap_or(u64::MAX),
            });
        }
        let checked = check();
        if let Err(Denied::Unauthorized(_)) = &checked {
            self.metrics.auth_failed(AuthFailure::Rejected);
            if let Some(client) = client {
                self.failures.allow_in(client, scope, now);
            }
        }
        checked
    }

    /// The client of `request`, as hits resolve it.
    fn client(&self, request: &HttpRequest) -> Option<IpAddr> {
        let peer = request.peer_addr()?.ip();
        let forwarded_for = request
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok());
        Some(client_ip::resolve(peer, forwarded_for, &self.trusted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;
    use std::cell::Cell;

    fn from(peer: &str, forwarded_for: Option<&str>) -> HttpRequest {
        let mut request =
            TestRequest::default().peer_addr(format!("{peer}:40000").parse().unwrap());
        if let Some(client) = forwarded_for {
            request = request.insert_header(("X-Forwarded-For", client));
        }
        request.to_http_request()
    }

    fn wrong() -> Result<(), Denied> {
        Err(Denied::Unauthorized("the API token is not valid".into()))
    }

    #[test]
    fn a_client_that_fails_too_often_is_refused_without_its_credential_being_checked() {
        let metrics = Arc::new(Metrics::default());
        let throttle = AuthThrottle::new(vec!["127.0.0.1/32".parse().unwrap()], metrics.clone());
        let guesser = from("127.0.0.1", Some("203.0.113.7"));
        for _ in 0..BURST {
            assert_eq!(throttle.check(&guesser, Scope::Other, wrong), wrong());
        }
        let checked = Cell::new(false);
        let right = || {
            checked.set(true);
            Ok(())
        };
        let refused = throttle.check(&guesser, Scope::Other, right);
        assert!(
            matches!(refused, Err(Denied::Throttled { retry_after }) if (29..=30).contains(&retry_after)),
            "{refused:?}"
        );
        assert!(!checked.get(), "a right token is not even looked at");
        // Other clients, behind the same proxy or not, are not slowed.
        assert_eq!(
            throttle.check(&from("127.0.0.1", Some("203.0.113.8")), Scope::Other, right),
            Ok(())
        );
        assert_eq!(
            throttle.check(&from("198.51.100.1", None), Scope::Other, right),
            Ok(())
        );
        // An untrusted peer cannot pass as another client.
        let spoofing = from("203.0.113.7", Some("198.51.100.77"));
        assert!(matches!(
            throttle.check(&spoofing, Scope::Other, right),
            Err(Denied::Throttled { .. })
        ));
        let counted = metrics.render(crate::spool::SpoolStats {
            bytes: 0,
            segments: 0,
            max_bytes: 1,
            sync_failures: 0,
        });
        assert!(
            counted.contains("beaconhouse_stats_auth_failures_total{reason=\"rejected\"} 10\n")
        );
        assert!(
            counted.contains("beaconhouse_stats_auth_failures_total{reason=\"throttled\"} 2\n")
        );
    }

    #[test]
    fn a_guesser_slows_only_the_token_name_it_guesses_at_its_address() {
        let throttle = AuthThrottle::new(Vec::new(), Arc::new(Metrics::default()));
        let office = from("198.51.100.1", None);
        for _ in 0..BURST {
            assert_eq!(
                throttle.check(&office, Scope::Token("marketing"), wrong),
                wrong()
            );
        }
        let right = || Ok(());
        assert!(matches!(
            throttle.check(&office, Scope::Token("marketing"), right),
            Err(Denied::Throttled { .. })
        ));
        // Colleagues at the same address: another name, or no name.
        assert_eq!(
            throttle.check(&office, Scope::Token("agency"), right),
            Ok(())
        );
        assert_eq!(throttle.check(&office, Scope::Other, right), Ok(()));
        // And the other way round: guessing without a name slows no name.
        for _ in 0..BURST {
            let _ = throttle.check(&office, Scope::Other, wrong);
        }
        assert!(matches!(
            throttle.check(&office, Scope::Other, right),
            Err(Denied::Throttled { .. })
        ));
        assert_eq!(
            throttle.check(&office, Scope::Token("agency"), right),
            Ok(())
        );
    }

    #[test]
    fn only_invalid_credentials_count_as_failures() {
        let throttle = AuthThrottle::new(Vec::new(), Arc::new(Metrics::default()));
        let client = from("198.51.100.1", None);
        for _ in 0..BURST * 2 {
            let forbidden = throttle.check(&client, Scope::Other, || {
                Err::<(), _>(Denied::Forbidden("may not read".into()))
            });
            assert!(matches!(forbidden, Err(Denied::Forbidden(_))));
            assert_eq!(throttle.check(&client, Scope::Other, || Ok(())), Ok(()));
        }
    }
}
