//! The two kinds of patterns list settings contain, compiled once per list snapshot:
//! address lists (`accept_these_nonmembers`, `acceptable_aliases`, ...: literal addresses,
//! `^regex` entries and `@list` entries) and header patterns (`header_matches`,
//! `bounce_matching_headers`, the site's `header_checks`: a header name and a regex searched
//! case-insensitively in each of its values).
//!
//! Regular expressions use the `regex` crate's syntax, which covers what list owners write in
//! practice (no look-around or back-references). Entries that do not compile are skipped and
//! described in the caller's problem list. Nothing here reads a message.

use regex::{Regex, RegexBuilder};

/// Compiled size limit for one setting's regular expression.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A header name and a case-insensitive regular expression.
#[derive(Debug, Clone)]
pub(crate) struct HeaderPattern {
    /// The header name, lower-cased.
    pub(crate) header: String,
    /// The compiled expression.
    pub(crate) regex: Regex,
}

/// Compiles `(header, pattern)` pairs; failures are reported under `setting` and skipped.
pub(crate) fn compile_header_patterns<'a>(
    items: impl IntoIterator<Item = (&'a str, &'a str)>,
    setting: &str,
    problems: &mut Vec<String>,
) -> Vec<HeaderPattern> {
    items
        .into_iter()
        .filter_map(|(header, pattern)| match compile(pattern) {
            Ok(regex) => Some(HeaderPattern {
                header: header.trim().to_ascii_lowercase(),
                regex,
            }),
            Err(e) => {
                problems.push(format!(
                    "{setting}: invalid regular expression {pattern:?} for {header}: {e}"
                ));
                None
            }
        })
        .collect()
}

#[derive(Debug, Clone)]
enum AddressPattern {
    /// A literal address, lower-cased.
    Exact(String),
    /// A `^regex` entry, matched at the start of the address.
    Regex(Regex),
    /// An `@list` entry: members of that list (its posting address, lower-cased).
    List(String),
}

/// A compiled address-list setting.
#[derive(Debug, Clone, Default)]
pub(crate) struct AddressPatterns {
    entries: Vec<AddressPattern>,
}

impl AddressPatterns {
    /// Compiles the entries of the setting `name`.
    pub(crate) fn compile(
        name: &str,
        entries: &[String],
        problems: &mut Vec<String>,
    ) -> AddressPatterns {
        let entries = entries
            .iter()
            .map(|e| e.trim())
            .filter(|e| !e.is_empty())
            .filter_map(|entry| {
                if entry.starts_with('^') {
                    match compile(entry) {
                        Ok(regex) => Some(AddressPattern::Regex(regex)),
                        Err(e) => {
                            problems
                                .push(format!("{name}: invalid regular expression {entry:?}: {e}"));
                            None
                        }
                    }
                } else if let Some(list) = entry.strip_prefix('@') {
                    Some(AddressPattern::List(list.to_lowercase()))
                } else {
                    Some(AddressPattern::Exact(entry.to_lowercase()))
                }
            })
            .collect();
        AddressPatterns { entries }
    }

    /// How many usable entries there are.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether `address` (lower-cased) matches an entry; `member_of` answers `@list` entries.
    pub(crate) fn matches(&self, address: &str, member_of: &[String]) -> bool {
        self.entries.iter().any(|entry| match entry {
            AddressPattern::Exact(exact) => exact == address,
            AddressPattern::Regex(regex) => regex.is_match(address),
            AddressPattern::List(list) => member_of.iter().any(|m| m.eq_ignore_ascii_case(list)),
        })
    }
}

fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_patterns_match_literals_regexes_and_lists() {
        let mut problems = Vec::new();
        let entries = [
            "Anne@Example.com",
            "^.*@spam\\.example$",
            "@friends@example.com",
            "^[bad",
        ]
        .map(String::from);
        let patterns = AddressPatterns::compile("test", &entries, &mut problems);
        assert_eq!(patterns.len(), 3);
        assert_eq!(problems.len(), 1);
        assert!(patterns.matches("anne@example.com", &[]));
        assert!(patterns.matches("x@spam.example", &[]));
        assert!(!patterns.matches("x@spam.example.org", &[]));
        assert!(patterns.matches("bart@example.com", &["friends@example.com".into()]));
        assert!(!patterns.matches("bart@example.com", &[]));
    }

    #[test]
    fn regex_entries_are_anchored_only_where_written() {
        let mut problems = Vec::new();
        let patterns = AddressPatterns::compile("t", &["^anne".to_string()], &mut problems);
        assert!(patterns.matches("anne@example.com", &[]));
        assert!(!patterns.matches("joanne@example.com", &[]));
    }
}
