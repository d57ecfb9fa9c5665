//! The replies the LMTP session itself sends, by name, so that every literal text lives in
//! one place and the shell can reuse the ones it needs (per-recipient failures, the 421 of a
//! refused connection).
//!
//! Nothing here decides when a reply is sent; that is the session's job.

use super::Reply;

impl Reply {
    /// `220 <host> LMTP ready`: the greeting.
    pub fn greeting(hostname: &str) -> Reply {
        Reply::basic(220, format!("{hostname} LMTP ready"))
    }

    /// The LHLO reply: `250-<host>` then one capability per line.
    pub fn lhlo(hostname: &str, max_message_size: u64, chunking: bool) -> Reply {
        let mut reply = Reply::basic(250, hostname)
            .with_line("PIPELINING")
            .with_line("ENHANCEDSTATUSCODES")
            .with_line("8BITMIME")
            .with_line("SMTPUTF8")
            .with_line(format!("SIZE {max_message_size}"));
        if chunking {
            reply = reply.with_line("CHUNKING");
        }
        reply
    }

    /// `250 2.0.0 Ok`: NOOP, RSET, and the default per-recipient success.
    pub fn ok() -> Reply {
        Reply::new(250, (2, 0, 0), "Ok")
    }

    /// `250 2.1.0 Ok`: MAIL accepted.
    pub fn sender_ok() -> Reply {
        Reply::new(250, (2, 1, 0), "Ok")
    }

    /// `250 2.1.5 Ok`: RCPT accepted.
    pub fn recipient_ok() -> Reply {
        Reply::new(250, (2, 1, 5), "Ok")
    }

    /// `250 2.0.0 <n> octets received`: a non-LAST BDAT chunk.
    pub fn chunk_received(octets: usize) -> Reply {
        Reply::new(250, (2, 0, 0), format!("{octets} octets received"))
    }

    /// `354 End data with <CR><LF>.<CR><LF>`.
    pub fn start_data() -> Reply {
        Reply::basic(354, "End data with <CR><LF>.<CR><LF>")
    }

    /// `221 2.0.0 Bye`: QUIT.
    pub fn bye() -> Reply {
        Reply::new(221, (2, 0, 0), "Bye")
    }

    /// `214 2.0.0 ...`: HELP.
    pub fn help(chunking: bool) -> Reply {
        let bdat = if chunking { " BDAT" } else { "" };
        Reply::new(
            214,
            (2, 0, 0),
            format!("Commands: LHLO MAIL RCPT DATA{bdat} RSET NOOP QUIT VRFY HELP"),
        )
    }

    /// `252 2.0.0 Cannot VRFY user, ...`: VRFY never reveals whether an address exists.
    pub fn cannot_vrfy() -> Reply {
        Reply::new(
            252,
            (2, 0, 0),
            "Cannot VRFY user, but will accept message and attempt delivery",
        )
    }

    /// `421 4.4.2 <host> Error: timeout exceeded`.
    pub fn timeout(hostname: &str) -> Reply {
        Reply::new(
            421,
            (4, 4, 2),
            format!("{hostname} Error: timeout exceeded"),
        )
    }

    /// `421 4.3.2 Service shutting down`.
    pub fn shutting_down() -> Reply {
        Reply::new(421, (4, 3, 2), "Service shutting down")
    }

    /// `421 4.7.0 Too many errors`.
    pub fn too_many_errors() -> Reply {
        Reply::new(421, (4, 7, 0), "Too many errors")
    }

    /// `500 5.5.1 Use LHLO`: HELO and EHLO do not exist in LMTP (RFC 2033 §4.1).
    pub fn use_lhlo() -> Reply {
        Reply::new(500, (5, 5, 1), "Use LHLO")
    }

    /// `500 5.5.1 Unknown command`.
    pub fn unknown_command() -> Reply {
        Reply::new(500, (5, 5, 1), "Unknown command")
    }

    /// `500 5.5.2 Line too long`: a command line over the limit.
    pub fn command_too_long() -> Reply {
        Reply::new(500, (5, 5, 2), "Line too long")
    }

    /// `502 5.5.1 Command not implemented`: a known SMTP command we do not offer.
    pub fn not_implemented() -> Reply {
        Reply::new(502, (5, 5, 1), "Command not implemented")
    }

    /// `502 5.5.1 EXPN not available`: list membership is never expanded.
    pub fn expn_refused() -> Reply {
        Reply::new(502, (5, 5, 1), "EXPN not available")
    }

    /// `501 5.5.4 Syntax: <usage>`: a command with bad arguments.
    pub fn syntax(usage: &str) -> Reply {
        Reply::new(501, (5, 5, 4), format!("Syntax: {usage}"))
    }

    /// `501 5.1.7 Bad sender address syntax`.
    pub fn bad_sender_syntax() -> Reply {
        Reply::new(501, (5, 1, 7), "Bad sender address syntax")
    }

    /// `501 5.1.3 Bad recipient address syntax`.
    pub fn bad_recipient_syntax() -> Reply {
        Reply::new(501, (5, 1, 3), "Bad recipient address syntax")
    }

    /// `501 5.5.4 Invalid <name> parameter`: a supported parameter with a bad value, or given twice.
    pub fn invalid_parameter(name: &str) -> Reply {
        Reply::new(501, (5, 5, 4), format!("Invalid {name} parameter"))
    }

    /// `555 5.5.4 Unsupported parameter`.
    pub fn unsupported_parameter() -> Reply {
        Reply::new(555, (5, 5, 4), "Unsupported parameter")
    }

    /// `553 5.6.7 Non-ASCII address requires SMTPUTF8` (RFC 6531 §3.7).
    pub fn needs_smtputf8() -> Reply {
        Reply::new(553, (5, 6, 7), "Non-ASCII address requires SMTPUTF8")
    }

    /// `503 5.5.1 Send LHLO first`.
    pub fn lhlo_first() -> Reply {
        Reply::new(503, (5, 5, 1), "Send LHLO first")
    }

    /// `503 5.5.1 Nested MAIL command`.
    pub fn nested_mail() -> Reply {
        Reply::new(503, (5, 5, 1), "Nested MAIL command")
    }

    /// `503 5.5.1 Need MAIL command`.
    pub fn need_mail() -> Reply {
        Reply::new(503, (5, 5, 1), "Need MAIL command")
    }

    /// `503 5.5.1 No valid recipients`: DATA (or a non-LAST BDAT) with no accepted RCPT.
    pub fn no_valid_recipients() -> Reply {
        Reply::new(503, (5, 5, 1), "No valid recipients")
    }

    /// `503 5.5.1 Bad sequence of commands`: DATA after BDAT, RCPT after BDAT.
    pub fn bad_sequence() -> Reply {
        Reply::new(503, (5, 5, 1), "Bad sequence of commands")
    }

    /// `503 5.5.1 Previous data chunk failed, issue RSET first`.
    pub fn chunk_failed() -> Reply {
        Reply::new(
            503,
            (5, 5, 1),
            "Previous data chunk failed, issue RSET first",
        )
    }

    /// `452 4.5.3 Too many recipients`.
    pub fn too_many_recipients() -> Reply {
        Reply::new(452, (4, 5, 3), "Too many recipients")
    }

    /// `552 5.3.4 Message too big`: MAIL SIZE= over the limit, or per recipient after data.
    pub fn message_too_big() -> Reply {
        Reply::new(552, (5, 3, 4), "Message too big")
    }

    /// `554 5.6.0 Line too long`: a data line over the limit, per recipient.
    pub fn data_line_too_long() -> Reply {
        Reply::new(554, (5, 6, 0), "Line too long")
    }

    /// `554 5.6.0 NUL character in message`, per recipient.
    pub fn nul_in_message() -> Reply {
        Reply::new(554, (5, 6, 0), "NUL character in message")
    }

    /// `550 5.6.0 Message contains bare CR or LF`, per recipient.
    pub fn bare_line_ending() -> Reply {
        Reply::new(550, (5, 6, 0), "Message contains bare CR or LF")
    }

    /// `550 5.1.1 No such list`: for the shell, an unknown list, domain or sub-address.
    pub fn no_such_list() -> Reply {
        Reply::new(550, (5, 1, 1), "No such list")
    }

    /// `451 4.3.0 Temporary failure, try again later`: for the shell, any internal failure.
    pub fn temporary_failure() -> Reply {
        Reply::new(451, (4, 3, 0), "Temporary failure, try again later")
    }
}
