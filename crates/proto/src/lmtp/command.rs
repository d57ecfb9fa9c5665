//! One command line in, one [`Command`] out: the verb, and its arguments checked into values
//! or into the reply that refuses them.
//!
//! smtp-proto does the RFC 5321 grammar (paths, MAIL parameters, BDAT sizes); this module
//! adds what LMTP and mailcast need on top: the verb is matched strictly (no leading space,
//! case-insensitive), paths are kept exactly as sent, only BODY, SIZE and SMTPUTF8 are
//! accepted on MAIL and nothing on RCPT. It knows nothing about session state: whether a
//! command is allowed *now* is the session's business.

use memchr::memchr;
use smtp_proto::{
    Error as ParseError, MAIL_BODY_7BIT, MAIL_BODY_8BITMIME, MAIL_BODY_BINARYMIME, MAIL_SMTPUTF8,
    Request,
};

use super::step::{BodyType, MailParams};
use crate::Reply;

/// A parsed command line. Arguments that failed to parse carry the reply refusing them.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Command {
    Lhlo(Result<String, Reply>),
    /// HELO or EHLO, which LMTP does not have.
    Helo,
    Mail(Result<MailCommand, Reply>),
    Rcpt(Result<Vec<u8>, Reply>),
    Data(Result<(), Reply>),
    Bdat(Result<Chunk, Reply>),
    Rset(Result<(), Reply>),
    Noop,
    Quit,
    Vrfy(Result<(), Reply>),
    Expn,
    Help,
    /// A known SMTP command that LMTP here does not offer (STARTTLS, AUTH, ...).
    NotImplemented,
    Unknown,
}

/// A MAIL command that parsed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct MailCommand {
    pub(crate) reverse_path: String,
    pub(crate) params: MailParams,
}

/// A BDAT command that parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Chunk {
    pub(crate) size: usize,
    pub(crate) last: bool,
}

/// The verb of a command line: the bytes before the first space, after removing the line
/// end (LF, and one CR before it).
pub(crate) fn verb(line: &[u8]) -> &[u8] {
    let content = strip_line_end(line);
    match memchr(b' ', content) {
        Some(space) => &content[..space],
        None => content,
    }
}

/// Parses one complete command line (ending in LF).
pub(crate) fn parse(line: &[u8]) -> Command {
    let verb = verb(line);
    let args = &strip_line_end(line)[verb.len()..];
    let no_args = args.iter().all(|&b| b == b' ' || b == b'\t');
    let no_args_or = |usage: &str| {
        if no_args {
            Ok(())
        } else {
            Err(Reply::syntax(usage))
        }
    };
    let upper = verb.to_ascii_uppercase();
    match upper.as_slice() {
        b"LHLO" => Command::Lhlo(parse_lhlo(line)),
        b"HELO" | b"EHLO" => Command::Helo,
        b"MAIL" => Command::Mail(parse_mail(line)),
        b"RCPT" => Command::Rcpt(parse_rcpt(line)),
        b"DATA" => Command::Data(no_args_or("DATA")),
        b"BDAT" => Command::Bdat(parse_bdat(line)),
        b"RSET" => Command::Rset(no_args_or("RSET")),
        b"NOOP" => Command::Noop,
        b"QUIT" => Command::Quit,
        b"VRFY" if no_args => Command::Vrfy(Err(Reply::syntax("VRFY address"))),
        b"VRFY" => Command::Vrfy(Ok(())),
        b"EXPN" => Command::Expn,
        b"HELP" => Command::Help,
        b"STARTTLS" | b"AUTH" | b"ETRN" | b"ATRN" | b"BURL" | b"TURN" => Command::NotImplemented,
        _ => Command::Unknown,
    }
}

/// Checks a path's characters and turns it into a string: no control characters, not ending
/// in `@`; non-ASCII only with SMTPUTF8 (else `553 5.6.7`), and then valid UTF-8.
pub(crate) fn decode_path(
    path: Vec<u8>,
    smtputf8: bool,
    bad_syntax: Reply,
) -> Result<String, Reply> {
    if path.iter().any(|&b| b < 0x20 || b == 0x7f) || path.last() == Some(&b'@') {
        return Err(bad_syntax);
    }
    if !path.is_ascii() && !smtputf8 {
        return Err(Reply::needs_smtputf8());
    }
    String::from_utf8(path).map_err(|_| bad_syntax)
}

fn strip_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn parse_lhlo(line: &[u8]) -> Result<String, Reply> {
    match Request::parse(&mut line.iter()) {
        Ok(Request::Lhlo { host }) => Ok(host.into_owned()),
        _ => Err(Reply::syntax("LHLO hostname")),
    }
}

fn parse_bdat(line: &[u8]) -> Result<Chunk, Reply> {
    match Request::parse(&mut line.iter()) {
        Ok(Request::Bdat {
            chunk_size,
            is_last,
        }) => Ok(Chunk {
            size: chunk_size,
            last: is_last,
        }),
        _ => Err(Reply::syntax("BDAT chunk-size [LAST]")),
    }
}

fn parse_mail(line: &[u8]) -> Result<MailCommand, Reply> {
    let from = match Request::parse(&mut line.iter()) {
        Ok(Request::Mail { from }) => from,
        Err(ParseError::InvalidSenderAddress) => return Err(Reply::bad_sender_syntax()),
        Err(ParseError::InvalidParameter { param }) if param == "BODY" || param == "SIZE" => {
            return Err(Reply::invalid_parameter(param));
        }
        Err(ParseError::InvalidParameter { .. } | ParseError::UnsupportedParameter { .. }) => {
            return Err(Reply::unsupported_parameter());
        }
        _ => return Err(Reply::syntax("MAIL FROM:<address> [parameters]")),
    };
    let Some((path, rest)) = split_path(line) else {
        return Err(Reply::syntax("MAIL FROM:<address> [parameters]"));
    };
    let mut seen: Vec<String> = Vec::new();
    for keyword in parameter_keywords(rest) {
        if !matches!(keyword.as_str(), "BODY" | "SIZE" | "SMTPUTF8") {
            return Err(Reply::unsupported_parameter());
        }
        if seen.contains(&keyword) {
            return Err(Reply::invalid_parameter(&keyword));
        }
        seen.push(keyword);
    }
    if from.flags & MAIL_BODY_BINARYMIME != 0 {
        return Err(Reply::unsupported_parameter());
    }
    let body = if from.flags & MAIL_BODY_8BITMIME != 0 {
        Some(BodyType::EightBitMime)
    } else if from.flags & MAIL_BODY_7BIT != 0 {
        Some(BodyType::SevenBit)
    } else {
        None
    };
    let smtputf8 = from.flags & MAIL_SMTPUTF8 != 0;
    let size = seen.iter().any(|k| k == "SIZE").then_some(from.size as u64);
    let reverse_path = decode_path(path.to_vec(), smtputf8, Reply::bad_sender_syntax())?;
    Ok(MailCommand {
        reverse_path,
        params: MailParams {
            body,
            smtputf8,
            size,
        },
    })
}

fn parse_rcpt(line: &[u8]) -> Result<Vec<u8>, Reply> {
    match Request::parse(&mut line.iter()) {
        Ok(Request::Rcpt { .. }) => {}
        Err(ParseError::InvalidParameter { .. } | ParseError::UnsupportedParameter { .. }) => {
            return Err(Reply::unsupported_parameter());
        }
        _ => return Err(Reply::bad_recipient_syntax()),
    }
    let Some((path, rest)) = split_path(line) else {
        return Err(Reply::bad_recipient_syntax());
    };
    if parameter_keywords(rest).next().is_some() {
        // No RCPT parameter is offered (no DSN), so any is unsupported.
        return Err(Reply::unsupported_parameter());
    }
    if path.is_empty() {
        return Err(Reply::bad_recipient_syntax());
    }
    Ok(path.to_vec())
}

/// Splits `...<path>rest` into the path between the brackets (quotes honoured, as
/// smtp-proto reads them) and what follows the closing bracket, line end removed.
fn split_path(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let content = strip_line_end(line);
    let open = memchr(b'<', content)?;
    let (mut in_quote, mut escaped) = (false, false);
    for (offset, &byte) in content[open + 1..].iter().enumerate() {
        if escaped {
            escaped = false;
        } else if in_quote {
            match byte {
                b'\\' => escaped = true,
                b'"' => in_quote = false,
                _ => {}
            }
        } else if byte == b'"' {
            in_quote = true;
        } else if byte == b'>' {
            let close = open + 1 + offset;
            return Some((&content[open + 1..close], &content[close + 1..]));
        }
    }
    None
}

/// The upper-cased keywords of the `key[=value]` parameters in `rest`.
fn parameter_keywords(rest: &[u8]) -> impl Iterator<Item = String> {
    rest.split(|b| b.is_ascii_whitespace())
        .filter(|param| !param.is_empty())
        .map(|param| {
            let key = param.split(|&b| b == b'=').next().unwrap_or(param);
            String::from_utf8_lossy(key).to_ascii_uppercase()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(line: &str) -> Result<MailCommand, Reply> {
        match parse(line.as_bytes()) {
            Command::Mail(result) => result,
            other => panic!("{line:?} parsed as {other:?}"),
        }
    }

    fn rcpt(line: &str) -> Result<Vec<u8>, Reply> {
        match parse(line.as_bytes()) {
            Command::Rcpt(result) => result,
            other => panic!("{line:?} parsed as {other:?}"),
        }
    }

    fn code(reply: Reply) -> (u16, String) {
        (reply.code(), reply.enhanced().unwrap().to_string())
    }

    #[test]
    fn verbs_are_strict() {
        assert_eq!(parse(b"noop\r\n"), Command::Noop);
        assert_eq!(parse(b"NOOP anything\n"), Command::Noop);
        assert_eq!(parse(b" NOOP\r\n"), Command::Unknown);
        assert_eq!(parse(b"NOOP\r\r\n"), Command::Unknown);
        assert_eq!(parse(b"EHLO x\r\n"), Command::Helo);
        assert_eq!(parse(b"STARTTLS\r\n"), Command::NotImplemented);
        assert!(matches!(parse(b"DATA x\r\n"), Command::Data(Err(_))));
        assert!(matches!(parse(b"RSET x\r\n"), Command::Rset(Err(_))));
        assert_eq!(parse(b"DATA \r\n"), Command::Data(Ok(())));
    }

    #[test]
    fn mail_parameters() {
        let ok = mail("MAIL FROM:<a@b.example> BODY=8BITMIME SIZE=10 SMTPUTF8\r\n").unwrap();
        assert_eq!(ok.reverse_path, "a@b.example");
        assert_eq!(
            ok.params,
            MailParams {
                body: Some(BodyType::EightBitMime),
                smtputf8: true,
                size: Some(10),
            }
        );
        assert_eq!(mail("MAIL FROM:<>\r\n").unwrap().reverse_path, "");
        let unsupported = [
            "MAIL FROM:<a@b> RET=FULL\r\n",
            "MAIL FROM:<a@b> ENVID=x\r\n",
            "MAIL FROM:<a@b> FOO=1\r\n",
            "MAIL FROM:<a@b> BODY=BINARYMIME\r\n",
        ];
        for line in unsupported {
            assert_eq!(
                code(mail(line).unwrap_err()),
                (555, "5.5.4".into()),
                "{line}"
            );
        }
        for line in [
            "MAIL FROM:<a@b> BODY=9BIT\r\n",
            "MAIL FROM:<a@b> SIZE=x\r\n",
            "MAIL FROM:<a@b> SIZE=1 SIZE=2\r\n",
            "MAIL FROM:a@b\r\n",
        ] {
            assert_eq!(code(mail(line).unwrap_err()).0, 501, "{line}");
        }
        assert_eq!(
            code(mail("MAIL FROM:<a..b@c>\r\n").unwrap_err()),
            (501, "5.1.7".into())
        );
    }

    #[test]
    fn mail_non_ascii_needs_smtputf8() {
        let line = "MAIL FROM:<j\u{f6}rg@b.example>\r\n";
        assert_eq!(code(mail(line).unwrap_err()), (553, "5.6.7".into()));
        let line = "MAIL FROM:<j\u{f6}rg@b.example> SMTPUTF8\r\n";
        assert_eq!(mail(line).unwrap().reverse_path, "j\u{f6}rg@b.example");
        let invalid = b"MAIL FROM:<j\xffrg@b.example> SMTPUTF8\r\n";
        assert!(matches!(parse(invalid), Command::Mail(Err(r)) if r.code() == 501));
    }

    #[test]
    fn rcpt_paths_are_kept_as_sent() {
        assert_eq!(
            rcpt("RCPT TO:<List@Example.ORG>\r\n").unwrap(),
            b"List@Example.ORG"
        );
        assert_eq!(rcpt("RCPT TO:<Postmaster>\r\n").unwrap(), b"Postmaster");
        assert_eq!(
            rcpt("RCPT TO:<\"a>b\"@x.example>\n").unwrap(),
            b"\"a>b\"@x.example"
        );
        assert_eq!(
            rcpt("RCPT TO:<@r.example:l@x.example>\r\n").unwrap(),
            b"@r.example:l@x.example"
        );
        assert_eq!(
            code(rcpt("RCPT TO:<>\r\n").unwrap_err()),
            (501, "5.1.3".into())
        );
        assert_eq!(
            code(rcpt("RCPT TO:<a@b\r\n").unwrap_err()),
            (501, "5.1.3".into())
        );
        assert_eq!(
            code(rcpt("RCPT TO:<a@b> NOTIFY=NEVER\r\n").unwrap_err()),
            (555, "5.5.4".into())
        );
    }

    #[test]
    fn bdat_arguments() {
        assert_eq!(
            parse(b"BDAT 12 LAST\r\n"),
            Command::Bdat(Ok(Chunk {
                size: 12,
                last: true
            }))
        );
        assert_eq!(
            parse(b"bdat 0\n"),
            Command::Bdat(Ok(Chunk {
                size: 0,
                last: false
            }))
        );
        assert!(matches!(parse(b"BDAT x\r\n"), Command::Bdat(Err(_))));
        assert!(matches!(parse(b"BDAT\r\n"), Command::Bdat(Err(_))));
    }
}
