//! The one-line diagnostic a [`Recipient`](crate::Recipient) carries: whitespace folded to
//! single spaces, control characters dropped, at most [`MAX_DIAGNOSTIC`] characters.

/// The longest diagnostic kept, in characters.
pub(crate) const MAX_DIAGNOSTIC: usize = 500;

/// Folds `text` to one line of at most [`MAX_DIAGNOSTIC`] characters; `None` when nothing but
/// whitespace is left.
pub(crate) fn fold(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len().min(MAX_DIAGNOSTIC));
    let mut chars = 0;
    for word in text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
    {
        if chars > 0 {
            if chars + 1 >= MAX_DIAGNOSTIC {
                break;
            }
            out.push(' ');
            chars += 1;
        }
        for c in word.chars() {
            if chars == MAX_DIAGNOSTIC {
                break;
            }
            out.push(c);
            chars += 1;
        }
        if chars == MAX_DIAGNOSTIC {
            break;
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_to_one_bounded_line() {
        for (text, expected) in [
            (
                "550 5.1.1 user\r\n    unknown ",
                Some("550 5.1.1 user unknown"),
            ),
            ("\t a \u{0}b  ", Some("a b")),
            ("   \r\n ", None),
            ("", None),
        ] {
            assert_eq!(fold(text).as_deref(), expected, "{text:?}");
        }
        let long = "é".repeat(600);
        assert_eq!(fold(&long).unwrap().chars().count(), MAX_DIAGNOSTIC);
        let words = "ab ".repeat(400);
        let folded = fold(&words).unwrap();
        assert!(folded.chars().count() <= MAX_DIAGNOSTIC, "{}", folded.len());
        assert!(!folded.ends_with(' '));
    }
}
