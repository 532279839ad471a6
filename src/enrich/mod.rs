//! Enrichment: turns what a request says (URLs, user agent, address) into the
//! coarse, bounded values a row stores.
//!
//! Owns: URL and referrer cleaning, user-agent classes and bot detection, the
//! GeoIP lookup, mail-client and image-proxy detection, which campaign
//! names an open or a click may carry, where an email link may send a
//! click, which clicks a scanner made, and which event properties are kept.
//! Must never: keep anything finer than a row stores (no full user agent, no
//! coordinates, no query string beyond `utm_*`), or log its inputs.

pub mod campaign;
pub mod email;
pub mod geo;
pub mod link;
pub mod props;
pub mod scanner;
pub mod scrub;
pub mod spam;
pub mod ua;
pub mod url;

/// `text` with control characters removed, cut to at most `max_chars`
/// characters on a character boundary. Every stored string passes through here.
pub fn bounded(text: &str, max_chars: usize) -> String {
    // Nearly every value is printable ASCII: one byte per character and
    // nothing to drop, so one slice and one allocation do.
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return text[..text.len().min(max_chars)].trim().to_string();
    }
    text.chars()
        .filter(|c| !c.is_control())
        .take(max_chars)
        .collect::<String>()
        .trim()
        .to_string()
}

/// The longest prefix of `text` of at most `max_bytes` bytes that ends on a
/// character boundary: how untrusted input is cut before any work is done on it.
pub fn truncate_bytes(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::{bounded, truncate_bytes};

    #[test]
    fn truncate_bytes_keeps_whole_characters() {
        assert_eq!(truncate_bytes("abc", 10), "abc");
        assert_eq!(truncate_bytes("abc", 2), "ab");
        assert_eq!(truncate_bytes("aé", 2), "a");
        assert_eq!(truncate_bytes("", 0), "");
    }

    #[test]
    fn bounded_cuts_on_characters_and_drops_controls() {
        assert_eq!(bounded("héllo wörld", 4), "héll");
        assert_eq!(bounded("a\u{0}b\nc\u{7f}", 10), "abc");
        assert_eq!(bounded("  padded  ", 100), "padded");
        assert_eq!(bounded(&"€".repeat(1000), 300).chars().count(), 300);
        assert_eq!(bounded(&"ab ".repeat(100), 5), "ab ab");
        assert_eq!(bounded(" ab\u{7f}", 3), "ab");
    }
}
