//! The client's command lines, written straight into the output buffer.
//!
//! Callers have already checked addresses with `envelope::is_writable_path`; nothing here
//! validates or escapes. Each function appends exactly one CRLF-terminated line.

use std::io::Write as _;

/// Parameters of MAIL FROM that depend on the message and on what the server offers.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MailParams {
    /// `SIZE=<n>` (RFC 1870), when the server offers SIZE.
    pub(crate) size: Option<usize>,
    /// `BODY=8BITMIME`, when the body has 8-bit octets and the server offers 8BITMIME.
    pub(crate) eight_bit: bool,
    /// `SMTPUTF8`, when an address is not ASCII and the server offers SMTPUTF8.
    pub(crate) smtputf8: bool,
}

/// `EHLO name`, `LHLO name` or `HELO name`.
pub(crate) fn hello(out: &mut Vec<u8>, verb: &str, name: &str) {
    out.extend_from_slice(verb.as_bytes());
    out.push(b' ');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// `MAIL FROM:<path>` with its parameters.
pub(crate) fn mail_from(out: &mut Vec<u8>, path: &str, params: MailParams) {
    out.extend_from_slice(b"MAIL FROM:<");
    out.extend_from_slice(path.as_bytes());
    out.push(b'>');
    if let Some(size) = params.size {
        // Writing into a Vec cannot fail.
        let _ = write!(out, " SIZE={size}");
    }
    if params.eight_bit {
        out.extend_from_slice(b" BODY=8BITMIME");
    }
    if params.smtputf8 {
        out.extend_from_slice(b" SMTPUTF8");
    }
    out.extend_from_slice(b"\r\n");
}

/// `RCPT TO:<path>`.
pub(crate) fn rcpt_to(out: &mut Vec<u8>, path: &str) {
    out.extend_from_slice(b"RCPT TO:<");
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b">\r\n");
}

/// `BDAT <n> LAST`.
pub(crate) fn bdat_last(out: &mut Vec<u8>, octets: usize) {
    // Writing into a Vec cannot fail.
    let _ = write!(out, "BDAT {octets} LAST\r\n");
}

/// `DATA`.
pub(crate) fn data(out: &mut Vec<u8>) {
    out.extend_from_slice(b"DATA\r\n");
}

/// The lone `.` that ends a DATA the server accepted although no recipient was (RFC 2197).
pub(crate) fn lone_dot(out: &mut Vec<u8>) {
    out.extend_from_slice(b".\r\n");
}

/// `RSET`.
pub(crate) fn rset(out: &mut Vec<u8>) {
    out.extend_from_slice(b"RSET\r\n");
}

/// `QUIT`.
pub(crate) fn quit(out: &mut Vec<u8>) {
    out.extend_from_slice(b"QUIT\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_from_with_every_parameter() {
        let mut out = Vec::new();
        let params = MailParams {
            size: Some(4096),
            eight_bit: true,
            smtputf8: true,
        };
        mail_from(&mut out, "", params);
        rcpt_to(&mut out, "a@example.org");
        bdat_last(&mut out, 12);
        assert_eq!(
            out,
            b"MAIL FROM:<> SIZE=4096 BODY=8BITMIME SMTPUTF8\r\nRCPT TO:<a@example.org>\r\nBDAT 12 LAST\r\n"
        );
    }
}
