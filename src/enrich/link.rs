//! Email links (`GET /l`): where a click may be sent, and what is kept of
//! its destination.
//!
//! The collector is no open redirect: it sends a click on only to an
//! absolute `http(s)` URL, without user name or password, whose host the
//! configuration allows for email links (a site's `hostnames`, and
//! `email.link_hosts`: a host, or `*.` and a domain for its subdomains), or
//! whose signature the mail tool made with `email.signing_key`
//! (`enrich::campaign`). Any other destination gets a plain page that shows
//! it, as text, and sends nowhere ([`Target::NotVouched`]). The honeypot
//! link (`h=1`) has no destination at all.
//!
//! What is kept of a destination: its host and path, cleaned as a page's
//! (`enrich::url`, percent-decoded, bounded), never its query or fragment;
//! the caller scrubs the path as a page path.
//!
//! Owns: the destination rules, as pure functions.
//! Must never: let a destination the rules did not vouch for into a
//! `Location` header, or a URL's text into a page unescaped.

use url::Url;

use super::url::clean_page_url;

/// A host `email.link_hosts` allows: exactly, or (`*.example.com`) every
/// subdomain of a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkHost {
    Exact(String),
    Subdomains(String),
}

impl LinkHost {
    /// An entry of `email.link_hosts`: a host name, or `*.` and one.
    pub fn parse(entry: &str) -> Option<LinkHost> {
        let entry = entry.trim().to_ascii_lowercase();
        let (host, subdomains) = match entry.strip_prefix("*.") {
            Some(domain) => (domain.to_string(), true),
            None => (entry, false),
        };
        let plain = !host.is_empty()
            && host.contains('.')
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !plain {
            return None;
        }
        Some(if subdomains {
            LinkHost::Subdomains(host)
        } else {
            LinkHost::Exact(host)
        })
    }

    fn allows(&self, host: &str) -> bool {
        match self {
            LinkHost::Exact(allowed) => host == allowed,
            LinkHost::Subdomains(domain) => host
                .strip_suffix(domain.as_str())
                .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
        }
    }
}

/// The hosts a click may be sent to without a signature.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkHosts(pub Vec<LinkHost>);

impl LinkHosts {
    /// Whether `host` (lower case, as [`destination`] gives it) is allowed.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.strip_suffix('.').unwrap_or(host);
        self.0.iter().any(|allowed| allowed.allows(host))
    }
}

/// A destination a click may go to, once vouched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// The URL as the `Location` header carries it: parsed and
    /// serialized again, so nothing of the request reaches the header raw.
    pub location: String,
    /// Lower case, as the URL standard writes it.
    pub host: String,
    /// Cleaned as a page's path, not yet scrubbed.
    pub path: String,
}

/// The destination `u` names, if it is an absolute `http(s)` URL with a
/// host and no user name or password (`https://good.example@bad.example/`
/// is refused, whoever vouches for it).
pub fn destination(u: &str) -> Option<Destination> {
    let url = Url::parse(u.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https")
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return None;
    }
    let host = url.host_str()?.to_string();
    let page = clean_page_url(url.as_str())?;
    Some(Destination {
        location: url.to_string(),
        host,
        path: page.path,
    })
}

/// How a click on `/l` is answered, whether or not it is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A redirect to the destination.
    Redirect(Destination),
    /// A page that shows the destination (`u` as sent) and sends nowhere:
    /// neither its host is allowed nor its signature checks.
    NotVouched(String),
    /// The honeypot link: a page with nothing on it.
    Honeypot,
    /// No destination, or not one a browser could go to.
    NoLink,
}

/// `text` with `&`, `<`, `>`, `"` and `'` written as HTML entities.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(entries: &[&str]) -> LinkHosts {
        LinkHosts(
            entries
                .iter()
                .map(|e| LinkHost::parse(e).unwrap())
                .collect(),
        )
    }

    #[test]
    fn hosts_are_allowed_exactly_or_as_subdomains() {
        let allowed = hosts(&["optimumabq.com", "*.optimumabq.events"]);
        for host in [
            "optimumabq.com",
            "optimumabq.com.",
            "tickets.optimumabq.events",
            "a.b.optimumabq.events",
        ] {
            assert!(allowed.allows(host), "{host}");
        }
        for host in [
            "www.optimumabq.com",
            "optimumabq.events",
            "evil-optimumabq.events",
            "xoptimumabq.com",
            "com",
        ] {
            assert!(!allowed.allows(host), "{host}");
        }
        for bad in [
            "",
            "*.",
            "com",
            "*.com",
            "https://optimumabq.com",
            "a b.com",
            "a..com",
            "*x.com",
            "host:80.com",
        ] {
            assert_eq!(LinkHost::parse(bad), None, "{bad:?}");
        }
        assert_eq!(
            LinkHost::parse(" Optimumabq.COM "),
            Some(LinkHost::Exact("optimumabq.com".into()))
        );
    }

    #[test]
    fn a_destination_is_an_absolute_web_url_without_credentials() {
        let d = destination(
            "https://OptimumABQ.com/Tour%20Days/?utm_source=x&email=jo%40example.com#book",
        )
        .unwrap();
        assert_eq!(d.host, "optimumabq.com");
        assert_eq!(d.path, "/Tour Days/");
        assert_eq!(
            d.location,
            "https://optimumabq.com/Tour%20Days/?utm_source=x&email=jo%40example.com#book"
        );
        // Nothing raw reaches the header: control characters are encoded or dropped.
        let d = destination("https://optimumabq.com/a\r\nSet-Cookie: x=1").unwrap();
        assert!(!d.location.contains('\r') && !d.location.contains('\n'));
        assert_eq!(destination("http://optimumabq.com").unwrap().path, "/");
        for bad in [
            "",
            "/pricing",
            "//evil.example/",
            "javascript:alert(1)",
            "data:text/html,hi",
            "ftp://optimumabq.com/",
            "https://optimumabq.com@evil.example/",
            "https://user:pass@optimumabq.com/",
            "https://",
            "https://:443/",
            "not a url",
        ] {
            assert_eq!(destination(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
