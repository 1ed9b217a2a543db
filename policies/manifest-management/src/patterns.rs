//! Label value patterns: regular expressions matched against the whole value, with
//! `regex-lite` (small in a wasm module; no Unicode classes, which label values, ASCII by
//! the API's rules, do not need).

pub use regex_lite::Regex as Pattern;

/// Longest pattern accepted: label values are at most 63 characters, and a settings file
/// should not be able to make the module compile something huge.
const MAX_PATTERN: usize = 1024;

/// Compiles `pattern`, anchored at both ends.
pub fn compile(pattern: &str) -> Result<Pattern, String> {
    if pattern.len() > MAX_PATTERN {
        return Err(format!("it is longer than {MAX_PATTERN} characters"));
    }
    regex_lite::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(1 << 20)
        .nest_limit(64)
        .build()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_values() {
        let p = compile("[a-z]+(-[a-z]+)*").unwrap();
        assert!(p.is_match("team-payments"));
        assert!(!p.is_match("Team"));
        assert!(!p.is_match("team-"));
        assert!(!p.is_match("x team"));
        // An alternation is anchored as a whole.
        let p = compile("prod|staging").unwrap();
        assert!(p.is_match("prod"));
        assert!(!p.is_match("production"));
        assert!(!p.is_match("pre-staging"));
        assert!(compile("[a-z").is_err());
        assert!(compile(&"a".repeat(2000)).is_err());
    }
}
