//! Referrer spam: hosts that send fake referrers to get their name into
//! analytics reports. A hit whose referrer is one of them, or a subdomain of
//! one, is not counted (`outcome::DropReason::ReferrerSpam`).
//!
//! Owns: the shipped list (`referrer_spam.txt`: Matomo's public-domain
//! referrer-spam list, its source and date at its head, compiled in), the
//! operator's additions and removals (`[filter]`), and the match: the host
//! and each of its parent domains, case and a final dot aside.
//! Must never: do I/O (the list is compiled in), or match a host that only
//! ends with a listed name (`notsemalt.com` is not `semalt.com`).

use std::borrow::Cow;
use std::collections::HashSet;

/// The shipped list, as `deploy/refresh-referrer-spam.sh` writes it.
const SHIPPED: &str = include_str!("referrer_spam.txt");

/// The hosts whose referrers are spam.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpamHosts {
    hosts: HashSet<String>,
}

impl SpamHosts {
    /// The shipped list, plus `add`, less `remove` (hosts, any case).
    pub fn new(add: &[String], remove: &[String]) -> SpamHosts {
        let removed: HashSet<String> = remove.iter().map(|h| normal(h)).collect();
        let hosts = listed(SHIPPED)
            .chain(add.iter().map(|h| normal(h)))
            .filter(|host| !removed.contains(host))
            .collect();
        SpamHosts { hosts }
    }

    /// Whether `host` (a referrer's host) or one of its parent domains is
    /// listed.
    pub fn lists(&self, host: &str) -> bool {
        // On the hit path: a direct visit has no referrer host, and
        // `enrich::url::referrer_host` hands over lower case already.
        if host.is_empty() {
            return false;
        }
        let host = if host.ends_with('.') || host.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(normal(host))
        } else {
            Cow::Borrowed(host)
        };
        let mut rest: &str = &host;
        loop {
            if self.hosts.contains(rest) {
                return true;
            }
            match rest.split_once('.') {
                Some((_, parent)) if parent.contains('.') => rest = parent,
                _ => return false,
            }
        }
    }

    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }
}

/// The hosts of a list file: one a line, `#` comment lines and blank ones
/// skipped.
fn listed(text: &str) -> impl Iterator<Item = String> + '_ {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(normal)
}

/// Lower case, without a final dot: how hosts are compared.
fn normal(host: &str) -> String {
    host.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// Whether `text` is a plain host name (`a-b.example.org`), as `[filter]`
/// entries must be.
pub fn is_host_name(text: &str) -> bool {
    let text = text.trim_end_matches('.');
    text.contains('.')
        && text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(add: &[&str], remove: &[&str]) -> SpamHosts {
        let owned = |list: &[&str]| list.iter().map(|h| h.to_string()).collect::<Vec<_>>();
        SpamHosts::new(&owned(add), &owned(remove))
    }

    #[test]
    fn the_shipped_list_is_read_whole_with_its_source() {
        let shipped = hosts(&[], &[]);
        let lines: HashSet<String> = listed(SHIPPED).collect();
        assert_eq!(shipped.len(), lines.len());
        assert!(shipped.len() > 1_000, "{} hosts", shipped.len());
        assert!(SHIPPED.starts_with("# Referrer spam hosts"));
        // What deploy/refresh-referrer-spam.sh writes: the source, its
        // commit and its date.
        let source = SHIPPED
            .lines()
            .find(|l| {
                l.starts_with("# Source: matomo-org/referrer-spam-list, spammers.txt, at commit ")
            })
            .expect("the source line");
        assert_eq!(
            source.len(),
            "# Source: matomo-org/referrer-spam-list, spammers.txt, at commit b1c66b3".len()
        );
        let dated = SHIPPED.lines().any(|l| {
            l.starts_with("# (")
                && l.get(3..13)
                    .is_some_and(|d| d.len() == 10 && d.as_bytes()[4] == b'-')
        });
        assert!(dated, "the list's date");
        assert!(
            listed(SHIPPED).all(|host| is_host_name(&host)),
            "every line a host"
        );
    }

    #[test]
    fn a_listed_host_and_its_subdomains_match_and_nothing_else() {
        let shipped = hosts(&[], &[]);
        for spam in [
            "0-0.fr",
            "www.0-0.fr",
            "a.b.0-0.fr",
            "0-0.FR",
            "0-0.fr.",
            "qiwi.xyz",
        ] {
            assert!(shipped.lists(spam), "{spam}");
        }
        for fine in [
            "x0-0.fr",
            "fr",
            "0-0.fr.example.com",
            "google.com",
            "optimumabq.com",
            "",
        ] {
            assert!(!shipped.lists(fine), "{fine}");
        }
    }

    #[test]
    fn the_operator_adds_and_removes_hosts() {
        let edited = hosts(&["Spam.Example"], &["0-0.fr"]);
        assert!(edited.lists("www.spam.example"));
        assert!(!edited.lists("0-0.fr"), "removed");
        assert_eq!(edited.len(), hosts(&[], &[]).len());
    }

    #[test]
    fn host_names_are_told_from_other_text() {
        for host in ["spam.example", "a-b.c.example.org", "example.com."] {
            assert!(is_host_name(host), "{host}");
        }
        for text in [
            "example",
            "https://spam.example",
            "spam.example/x",
            "a..b",
            "sp am.io",
            "",
        ] {
            assert!(!is_host_name(text), "{text}");
        }
    }
}
