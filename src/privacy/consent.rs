//! Do-Not-Track and Global Privacy Control: a visitor who sends either is
//! recorded nowhere, not even as a count. The HTTP edge asks [`opts_out`]
//! before it counts or reads anything else of the request.

/// Whether a request opts out. `dnt` and `gpc` are the raw values of the
/// `DNT` and `Sec-GPC` headers.
pub fn opts_out(dnt: Option<&[u8]>, gpc: Option<&[u8]>) -> bool {
    dnt.is_some_and(is_one) || gpc.is_some_and(is_one)
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
        let cases: &[(Header, Header, bool)] = &[
            (None, None, false),
            (Some(b"1"), None, true),
            (Some(b" 1 "), None, true),
            (Some(b"0"), None, false),
            (Some(b"null"), None, false),
            (None, Some(b"1"), true),
            (None, Some(b"0"), false),
            (Some(b"1"), Some(b"1"), true),
            (Some(b"0"), Some(b"1"), true),
            (Some(b"11"), Some(b""), false),
        ];
        for (dnt, gpc, expected) in cases {
            assert_eq!(opts_out(*dnt, *gpc), *expected, "DNT {dnt:?} GPC {gpc:?}");
        }
    }
}
