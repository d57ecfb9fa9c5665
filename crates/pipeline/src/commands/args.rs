//! The arguments of the membership commands: `join`'s `digest=` and `address=` options,
//! `leave`'s `address=`, and the confirmation token carried by a `-confirm+<token>` address.
//!
//! Error texts are Mailman's; the result line is the command word, a space and the text
//! (`join bad argument: digest=weekly`). Whether an address may be subscribed or removed is
//! not decided here.

/// The delivery mode `join digest=` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestChoice {
    /// `digest=mime`: MIME digests.
    Mime,
    /// `digest=plain`: plain-text (RFC 1153) digests.
    Plain,
    /// `digest=no`: regular delivery.
    No,
}

/// What `join` was asked for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JoinArgs {
    /// The `digest=` option, if given (Mailman: regular delivery otherwise).
    pub digest: Option<DigestChoice>,
    /// The `address=` option, if given and not empty: subscribe this address instead of the
    /// sender.
    pub address: Option<String>,
}

/// Parses `join`'s arguments: each is `digest=<no|mime|plain>` or `address=<email>` (names
/// and digest values in any case; the last of each wins). Anything else, or an unknown digest
/// value, is Mailman's `bad argument: <argument>` (lower-cased, as Mailman prints it).
pub fn join_args(args: &[&str]) -> Result<JoinArgs, String> {
    let mut out = JoinArgs::default();
    for &argument in args {
        let bad = || format!("bad argument: {}", argument.to_lowercase());
        let (key, value) = argument.split_once('=').ok_or_else(bad)?;
        match key.to_lowercase().as_str() {
            "digest" => {
                out.digest = Some(match value.to_lowercase().as_str() {
                    "no" => DigestChoice::No,
                    "mime" => DigestChoice::Mime,
                    "plain" => DigestChoice::Plain,
                    _ => return Err(bad()),
                });
            }
            "address" => out.address = Some(value.to_string()),
            _ => return Err(bad()),
        }
    }
    out.address = out.address.filter(|a| !a.is_empty());
    Ok(out)
}

/// Reads `leave`'s arguments. Mailman 3.3.10's `leave` ignores its arguments and always
/// unsubscribes the sender; mailcast also reads an `address=<email>` option (the last one
/// wins) naming another address to remove, which the daemon must act on only through a
/// confirmation sent to that address. Other words are ignored, as in Mailman; an empty
/// `address=` is `bad argument: address=`.
pub fn leave_args(args: &[&str]) -> Result<Option<String>, String> {
    let mut address = None;
    for &argument in args {
        if let Some((key, value)) = argument.split_once('=')
            && key.eq_ignore_ascii_case("address")
        {
            if value.is_empty() {
                return Err(format!("bad argument: {}", argument.to_lowercase()));
            }
            address = Some(value.to_string());
        }
    }
    Ok(address)
}

/// The token of a confirmation address `<list>-confirm+<token>@<domain>` (Mailman's
/// `verp_confirm_regexp`: anything up to a last `<` is skipped, the token runs from the first
/// `+` of the local part to the `@`). Also accepts the local part alone. `None` unless the
/// token is non-empty and `[A-Za-z0-9]+`.
pub fn confirm_token_from_address(local_or_address: &str) -> Option<String> {
    let address = match local_or_address.rfind('<') {
        Some(lt) => &local_or_address[lt + 1..],
        None => local_or_address,
    };
    let address = address.trim().trim_end_matches('>');
    let local = address.split('@').next().unwrap_or_default();
    let (base, token) = local.split_once('+')?;
    let valid =
        !base.is_empty() && !token.is_empty() && token.bytes().all(|b| b.is_ascii_alphanumeric());
    valid.then(|| token.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_arguments_table() {
        let ok = |digest, address: Option<&str>| {
            Ok(JoinArgs {
                digest,
                address: address.map(str::to_string),
            })
        };
        for (args, want) in [
            (&[][..], ok(None, None)),
            (&["digest=mime"], ok(Some(DigestChoice::Mime), None)),
            (&["DIGEST=Plain"], ok(Some(DigestChoice::Plain), None)),
            (
                &["digest=no", "address=Anne@Example.com"],
                ok(Some(DigestChoice::No), Some("Anne@Example.com")),
            ),
            (&["address=a@x", "address="], ok(None, None)),
            (&["address=a=b@x"], ok(None, Some("a=b@x"))),
            (
                &["digest=weekly"],
                Err("bad argument: digest=weekly".to_string()),
            ),
            (&["please"], Err("bad argument: please".to_string())),
            (&["Me=you"], Err("bad argument: me=you".to_string())),
            (&["digest=mime", "x"], Err("bad argument: x".to_string())),
        ] {
            assert_eq!(join_args(args), want, "{args:?}");
        }
    }

    #[test]
    fn leave_arguments_table() {
        for (args, want) in [
            (&[][..], Ok(None)),
            (&["me", "please"], Ok(None)),
            (
                &["address=bart@example.com"],
                Ok(Some("bart@example.com".to_string())),
            ),
            (&["Address=a@x", "address=b@x"], Ok(Some("b@x".to_string()))),
            (&["address="], Err("bad argument: address=".to_string())),
            (&["digest=mime"], Ok(None)),
        ] {
            assert_eq!(leave_args(args), want, "{args:?}");
        }
    }

    #[test]
    fn confirm_tokens_from_addresses() {
        for (address, want) in [
            ("ant-confirm+0123abcdef@example.com", Some("0123abcdef")),
            ("ant-confirm+0123abcdef", Some("0123abcdef")),
            (
                "\"Ant list\" <ant-confirm+ABC123@example.com>",
                Some("ABC123"),
            ),
            ("a <b> <ant-confirm+tok@example.com>", Some("tok")),
            ("ant-confirm+tok+more@example.com", None),
            ("ant-confirm+@example.com", None),
            ("+tok@example.com", None),
            ("ant-confirm@example.com", None),
            ("ant-confirm+to-k@example.com", None),
            ("ant-confirm+tök@example.com", None),
            ("ant-confirm+tok\r\nBcc: x@example.com", None),
            ("", None),
        ] {
            assert_eq!(
                confirm_token_from_address(address).as_deref(),
                want,
                "{address:?}"
            );
        }
    }
}
