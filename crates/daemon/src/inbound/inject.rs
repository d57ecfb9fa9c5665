//! `mailcast inject LIST_ADDRESS`: delivery to a program, for MTAs without LMTP.
//!
//! Reads one message on standard input and gets it into the spool with the same recipient
//! mapping, intake fix-ups, early refusals and durability as the LMTP server. Two ways, tried
//! in this order:
//! - **hand-off** ([`handoff`]): when `mailcast serve` answers on its LMTP listener, the
//!   message goes to it over LMTP, as Cyrus' `deliver` hands mail to `lmtpd`. The daemon
//!   decides from its in-memory directory, commits through its group commit (one shared
//!   `fdatasync`) and starts processing at once; this process opens no database and no spool.
//!   Only the daemon's `250` is final. Any other answer stored nothing and the message takes
//!   the direct way, which decides again from the database, so the exit status and the text
//!   the MTA bounces with are the direct way's in every case but acceptance;
//! - **direct** ([`direct`]): no daemon needed. The store is opened with one connection, only
//!   the list addressed and its domain are read, and the spool commits the entry with its own
//!   fsyncs; the daemon's periodic scan picks it up.
//!
//! The exit status tells the MTA what to do (sysexits.h): 0 accepted (or discarded by list
//! policy), 65 EX_DATAERR the message cannot be parsed or is too big, 67 EX_NOUSER not a list
//! address, 77 EX_NOPERM refused by list policy (the MTA bounces it with our text), 75
//! EX_TEMPFAIL anything transient (the MTA retries). Postfix's local(8) passes the envelope in
//! `SENDER` and `ORIGINAL_RECIPIENT`; a leading mbox `From ` line, bare LF line ends and the
//! delivery agent's own leading fields (Return-Path, Delivered-To, X-Original-To) are handled
//! as for Maildir.
//!
//! Not here: retrying (the MTA retries on 75), and telling a running daemon about an entry
//! committed the direct way (its scan finds it).

mod direct;
mod handoff;

use std::io::Read;

use mailcast_pipeline::intake;

use crate::cli::{Exit, InjectArgs};
use crate::config::Settings;
use handoff::Handoff;

const EX_DATAERR: u8 = 65;
const EX_NOUSER: u8 = 67;
const EX_TEMPFAIL: u8 = 75;
const EX_NOPERM: u8 = 77;

fn exit(code: u8, message: impl Into<String>) -> anyhow::Error {
    Exit {
        code,
        message: message.into(),
    }
    .into()
}

/// The message and its envelope, as both ways take them.
struct Letter {
    /// The message without the mbox `From ` line and the delivery agent's fields, CRLF.
    message: Vec<u8>,
    /// The envelope sender (empty for the null sender).
    sender: String,
    /// The size of what the MTA handed over (Mailman's `original_size`).
    original_size: u64,
    /// The list address given as the argument.
    list_address: String,
    /// Postfix's `ORIGINAL_RECIPIENT`, which keeps the extension an alias loses.
    original_recipient: Option<String>,
}

/// Runs `mailcast inject`.
pub fn run(settings: &Settings, args: InjectArgs) -> anyhow::Result<()> {
    let mut raw = Vec::new();
    let limit = settings.lmtp.max_message_size;
    std::io::stdin()
        .take(limit + 1)
        .read_to_end(&mut raw)
        .map_err(|e| exit(EX_TEMPFAIL, format!("cannot read the message: {e}")))?;
    if raw.len() as u64 > limit {
        return Err(exit(
            EX_DATAERR,
            format!("message too big (limit {limit} octets)"),
        ));
    }
    let letter = Letter::new(
        &raw,
        args.sender.or_else(|| std::env::var("SENDER").ok()),
        args.list_address,
        std::env::var("ORIGINAL_RECIPIENT")
            .ok()
            .filter(|r| !r.is_empty()),
    );
    drop(raw);
    if let Some(rcpt) = handoff_recipient(&letter) {
        match handoff::deliver(settings, &letter.sender, rcpt, &letter.message) {
            Handoff::Accepted => return Ok(()),
            Handoff::Uncertain(why) => {
                return Err(exit(
                    EX_TEMPFAIL,
                    format!("the daemon may not have stored the message: {why}"),
                ));
            }
            // Nothing was stored: the direct way decides (and says why, if it refuses too).
            Handoff::Declined(_) => {}
        }
    }
    direct::run(settings, &letter)
}

impl Letter {
    fn new(
        raw: &[u8],
        sender: Option<String>,
        list_address: String,
        original_recipient: Option<String>,
    ) -> Letter {
        let (from_line_sender, message) = split_from_line(raw);
        let message = intake::crlf_line_ends(intake::strip_delivery_fields(message)).into_owned();
        let sender = sender.or(from_line_sender).unwrap_or_default();
        let sender = if sender == "MAILER-DAEMON" {
            String::new()
        } else {
            sender
        };
        Letter {
            message,
            sender,
            original_size: raw.len() as u64,
            list_address,
            original_recipient,
        }
    }
}

/// The recipient to hand to the daemon: the argument, or `ORIGINAL_RECIPIENT` when it is the
/// same address but for its `+extension` (and letter case), which makes it the same list and
/// sub-address under Mailman's rules. `None` when only the directory can tell whether the two
/// name the same list (an alias domain, another local part): the direct way decides then.
fn handoff_recipient(letter: &Letter) -> Option<&str> {
    let Some(original) = letter.original_recipient.as_deref() else {
        return Some(&letter.list_address);
    };
    let base = |address: &str| {
        let address = address.trim().to_lowercase();
        let (local, domain) = address.split_once('@')?;
        let local = local.split_once('+').map_or(local, |(base, _)| base);
        Some(format!("{local}@{domain}"))
    };
    match (base(original), base(&letter.list_address)) {
        (Some(a), Some(b)) if a == b => Some(original),
        _ => None,
    }
}

/// Splits off a leading mbox `From sender date` line, returning the sender it names.
fn split_from_line(raw: &[u8]) -> (Option<String>, &[u8]) {
    if !raw.starts_with(b"From ") {
        return (None, raw);
    }
    let end = raw
        .iter()
        .position(|&b| b == b'\n')
        .map_or(raw.len(), |i| i + 1);
    let line = String::from_utf8_lossy(&raw[5..end]);
    let sender = line.split_whitespace().next().map(String::from);
    (sender, &raw[end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_line() {
        let (sender, rest) = split_from_line(
            b"From anne@example.com Mon Jan  1 00:00:00 2026\nSubject: x\n\nbody\n",
        );
        assert_eq!(sender.as_deref(), Some("anne@example.com"));
        assert_eq!(rest, b"Subject: x\n\nbody\n");
        assert_eq!(split_from_line(b"Subject: x\n").0, None);
    }

    fn letter(sender: Option<&str>, original: Option<&str>) -> Letter {
        Letter::new(
            b"From bounce@example.com Mon Jan  1 00:00:00 2026\n\
              Delivered-To: dev@a.example\nSubject: x\n\nbody\n",
            sender.map(String::from),
            "dev-bounces@a.example".into(),
            original.map(String::from),
        )
    }

    #[test]
    fn letter_is_stripped_and_takes_the_envelope_sender_first() {
        let l = letter(Some("anne@example.com"), None);
        assert_eq!(l.message, b"Subject: x\r\n\r\nbody\r\n");
        assert_eq!(l.sender, "anne@example.com");
        assert_eq!(l.original_size, 94);
        assert_eq!(letter(None, None).sender, "bounce@example.com");
        assert_eq!(letter(Some("MAILER-DAEMON"), None).sender, "");
    }

    #[test]
    fn the_original_recipient_is_handed_off_only_when_it_is_the_same_address() {
        for (original, expected) in [
            (None, Some("dev-bounces@a.example")),
            (
                Some("dev-bounces+anne=example.org@a.example"),
                Some("dev-bounces+anne=example.org@a.example"),
            ),
            (Some("Dev-Bounces@A.Example"), Some("Dev-Bounces@A.Example")),
            // Another domain may be an alias domain, another local part an alias: only the
            // directory can tell.
            (Some("dev-bounces+anne=example.org@alias.example"), None),
            (Some("team@a.example"), None),
            (Some("not an address"), None),
        ] {
            let l = letter(None, original);
            assert_eq!(handoff_recipient(&l), expected, "{original:?}");
        }
    }
}
