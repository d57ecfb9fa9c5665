//! Building SQL text whose shape depends on a count: numbered placeholder lists for batches.
//!
//! Only numbers are ever formatted into SQL here; values always travel as bound parameters.
//! It does not run queries.

/// `$first, $first+1, ...` (`n` placeholders), for `IN (...)`.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    let mut out = String::with_capacity(n * 6);
    for i in 0..n {
        if i > 0 {
            out.push_str(", ");
        }
        out.push('$');
        out.push_str(&(first + i).to_string());
    }
    out
}

/// `rows` comma-separated copies of `template`, each with its `{}` replaced by that row's own
/// `per_row` placeholders, numbered from `first` row by row. Shared parameters are written
/// into the template: `tuples("({}, $1)", 2, 2, 2)` is `($2, $3, $1), ($4, $5, $1)`.
pub(crate) fn tuples(template: &str, first: usize, rows: usize, per_row: usize) -> String {
    let mut out = String::with_capacity(rows * (template.len() + per_row * 7));
    for row in 0..rows {
        if row > 0 {
            out.push_str(", ");
        }
        out.push_str(&template.replace("{}", &placeholders(first + row * per_row, per_row)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering_is_contiguous() {
        assert_eq!(placeholders(2, 3), "$2, $3, $4");
        assert_eq!(placeholders(1, 0), "");
        assert_eq!(tuples("({})", 4, 2, 2), "($4, $5), ($6, $7)");
        assert_eq!(tuples("({}, $1)", 2, 2, 2), "($2, $3, $1), ($4, $5, $1)");
    }
}
