//! Do-Not-Track and Global Privacy Control: a visitor who sends either is
//! recorded nowhere, not even as a count.

use crate::outcome::DropReason;

/// The refusal a request carries, if any. `dnt` and `gpc` are the raw values of
/// the `DNT` and `Sec-GPC` headers.
pub fn refusal(dnt: Option<&[u8]>, gpc: Option<&[u8]>) -> Option<DropReason> {
    if dnt.is_some_and(is_one) {
        Some(DropReason::DoNotTrack)
    } else if gpc.is_some_and(is_one) {
        Some(DropReason::GlobalPrivacyControl)
    } else {
        None
    }
}

/// Both specifications define exactly "1" as the opt-out; surrounding
/// whitespace is tolerated because some proxies add it.
fn is_one(value: &[u8]) -> bool {
    value.trim_ascii() == b"1"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opt_out_signals() {
        type Header = Option<&'static [u8]>;
        let cases: &[(Header, Header, Option<DropReason>)] = &[
            (None, None, None),
            (Some(b"1"), None, Some(DropReason::DoNotTrack)),
            (Some(b" 1 "), None, Some(DropReason::DoNotTrack)),
            (Some(b"0"), None, None),
            (Some(b"null"), None, None),
            (None, Some(b"1"), Some(DropReason::GlobalPrivacyControl)),
            (None, Some(b"0"), None),
            (Some(b"1"), Some(b"1"), Some(DropReason::DoNotTrack)),
            (
                Some(b"0"),
                Some(b"1"),
                Some(DropReason::GlobalPrivacyControl),
            ),
            (Some(b"11"), Some(b""), None),
        ];
        for (dnt, gpc, expected) in cases {
            assert_eq!(refusal(*dnt, *gpc), *expected, "DNT {dnt:?} GPC {gpc:?}");
        }
    }
}
