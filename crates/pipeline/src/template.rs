//! Mailman's `$placeholder` templates with *safe* substitution (PEP 292 `safe_substitute`):
//! `$name` and `${name}` are replaced when the name is known, left exactly as written when it
//! is not, and `$$` is a literal `$`.
//!
//! A template is compiled once per list ([`Template::compile`]): list-level placeholders are
//! substituted then, and what remains is a list of literal pieces and per-recipient
//! placeholders, so rendering one copy per recipient is a few string appends. Rendering also
//! applies Mailman's clean-up of decorations: trailing spaces before a line break are dropped
//! and `\r\n` becomes `\n`. [`substitute`] is the same substitution for a text used once
//! (Mailman's `expand`), without that clean-up. This module knows nothing about messages or
//! charsets.

use std::borrow::Cow;

/// One piece of a compiled template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Text copied as is.
    Literal(String),
    /// A placeholder left for the recipient stage; `written` is how it appeared (`$x` or
    /// `${x}`), used when the recipient does not know it either.
    Deferred { name: String, written: String },
}

/// A template with its list-level placeholders already substituted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Compiles `text`: placeholders `known` answers are substituted now; those `deferred`
    /// accepts are kept for [`Template::render`]; all others stay literally.
    pub fn compile(
        text: &str,
        known: impl Fn(&str) -> Option<String>,
        deferred: impl Fn(&str) -> bool,
    ) -> Template {
        let mut pieces: Vec<Piece> = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(dollar) = rest.find('$') {
            literal.push_str(&rest[..dollar]);
            let after = &rest[dollar + 1..];
            match placeholder(after) {
                Placeholder::Dollar => {
                    literal.push('$');
                    rest = &after[1..];
                }
                Placeholder::Name { name, len } => {
                    let written = &rest[dollar..dollar + 1 + len];
                    if let Some(value) = known(name) {
                        literal.push_str(&value);
                    } else if deferred(name) {
                        if !literal.is_empty() {
                            pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                        }
                        pieces.push(Piece::Deferred {
                            name: name.to_string(),
                            written: written.to_string(),
                        });
                    } else {
                        literal.push_str(written);
                    }
                    rest = &after[len..];
                }
                Placeholder::Invalid => {
                    literal.push('$');
                    rest = after;
                }
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Template { pieces }
    }

    /// Whether the template renders to nothing whatever the recipient.
    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    /// Whether the template has per-recipient placeholders.
    pub fn is_personal(&self) -> bool {
        self.pieces
            .iter()
            .any(|p| matches!(p, Piece::Deferred { .. }))
    }

    /// Renders the template; `lookup` answers the deferred placeholders (`None` leaves one as
    /// written). The result uses `\n` line breaks without trailing spaces before them.
    pub fn render<'v>(&self, lookup: impl Fn(&str) -> Option<Cow<'v, str>>) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(text) => out.push_str(text),
                Piece::Deferred { name, written } => match lookup(name) {
                    Some(value) => out.push_str(&value),
                    None => out.push_str(written),
                },
            }
        }
        clean_line_ends(&out)
    }
}

/// Safe substitution of a whole text at once (Mailman's `expand`): placeholders `lookup`
/// answers are replaced, all others stay as written, `$$` becomes `$`; unlike
/// [`Template::render`], line ends and trailing spaces are left alone.
pub fn substitute(text: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    Template::compile(text, lookup, |_| false)
        .pieces
        .into_iter()
        .map(|piece| match piece {
            Piece::Literal(text) => text,
            Piece::Deferred { written, .. } => written,
        })
        .collect()
}

enum Placeholder<'a> {
    /// `$$`.
    Dollar,
    /// `$name` or `${name}`; `len` is how many bytes after the `$` it spans.
    Name { name: &'a str, len: usize },
    /// A `$` not followed by a placeholder: kept literally.
    Invalid,
}

fn placeholder(after: &str) -> Placeholder<'_> {
    if after.starts_with('$') {
        return Placeholder::Dollar;
    }
    if let Some(braced) = after.strip_prefix('{') {
        return match braced.find('}') {
            Some(end) if is_identifier(&braced[..end]) => Placeholder::Name {
                name: &braced[..end],
                len: end + 2,
            },
            _ => Placeholder::Invalid,
        };
    }
    let len = after
        .char_indices()
        .find(|&(i, c)| !(c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
        .map_or(after.len(), |(i, _)| i);
    if len == 0 {
        Placeholder::Invalid
    } else {
        Placeholder::Name {
            name: &after[..len],
            len,
        }
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Mailman's `re.sub(r' *\r?\n', '\n', text)`.
fn clean_line_ends(text: &str) -> String {
    // Only lines followed by a break lose their trailing spaces and CR.
    let mut cleaned = String::with_capacity(text.len());
    let mut lines = text.split('\n').peekable();
    while let Some(line) = lines.next() {
        if lines.peek().is_some() {
            cleaned.push_str(
                line.strip_suffix('\r')
                    .unwrap_or(line)
                    .trim_end_matches(' '),
            );
            cleaned.push('\n');
        } else {
            cleaned.push_str(line);
        }
    }
    cleaned
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(text: &str) -> Template {
        Template::compile(
            text,
            |name| (name == "listname").then(|| "ant@example.com".to_string()),
            |name| name.starts_with("user_"),
        )
    }

    #[test]
    fn safe_substitution_table() {
        let user = |name: &str| (name == "user_name").then_some(Cow::Borrowed("Anne"));
        for (text, want) in [
            ("$listname", "ant@example.com"),
            ("${listname}!", "ant@example.com!"),
            ("$listnames", "$listnames"),
            ("${unknown} $unknown", "${unknown} $unknown"),
            ("cost: $$5", "cost: $5"),
            ("a $ b $", "a $ b $"),
            ("${not valid}", "${not valid}"),
            ("hi $user_name, ${user_name}", "hi Anne, Anne"),
            ("$user_address", "$user_address"),
            ("${user_address}", "${user_address}"),
            ("x  \r\ny \n", "x\ny\n"),
            ("$1 and $_x", "$1 and $_x"),
        ] {
            assert_eq!(compile(text).render(user), want, "{text:?}");
        }
    }

    #[test]
    fn substitute_keeps_line_ends() {
        let lookup = |name: &str| (name == "x").then(|| "1".to_string());
        for (text, want) in [
            ("$x ${x} $y $$ $", "1 1 $y $ $"),
            ("a  \r\nb \n", "a  \r\nb \n"),
            ("", ""),
        ] {
            assert_eq!(substitute(text, lookup), want, "{text:?}");
        }
    }

    #[test]
    fn personal_and_empty_templates_are_recognised() {
        assert!(compile("").is_empty());
        assert!(!compile("$listname").is_personal());
        assert!(compile("$user_name").is_personal());
    }
}
