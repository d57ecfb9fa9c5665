//! `mailcast inject LIST_ADDRESS`: delivery to a program, for MTAs without LMTP.
//!
//! Reads one message on standard input and commits it to the spool with the same recipient
//! mapping, intake fix-ups, early refusals and durability as the LMTP server, without a running
//! daemon (the daemon's periodic scan picks the entry up). The exit status tells the MTA what to
//! do (sysexits.h): 0 accepted (or discarded by list policy), 65 EX_DATAERR the message cannot
//! be parsed or is too big, 67 EX_NOUSER not a list address, 77 EX_NOPERM refused by list
//! policy (the MTA bounces it with our text), 75 EX_TEMPFAIL anything transient (the MTA
//! retries). Postfix's local(8) passes the envelope in `SENDER` and `ORIGINAL_RECIPIENT`; a
//! leading mbox `From ` line bare LF line ends and the delivery agent's own leading fields (Return-Path, Delivered-To, X-Original-To) are handled as for Maildir.

use std::io::Read;

use mailcast_pipeline::{Refusal, intake};
use mailcast_spool::{Spool, Submission};
use mailcast_store::Store;

use super::plan::{self, Plan};
use crate::cli::{Exit, InjectArgs};
use crate::config::Settings;
use crate::directory::Snapshot;
use crate::posting::Posting;

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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| exit(EX_TEMPFAIL, e.to_string()))?;
    runtime.block_on(inject(settings, &args, raw))
}

async fn inject(settings: &Settings, args: &InjectArgs, raw: Vec<u8>) -> anyhow::Result<()> {
    let (from_line_sender, message) = split_from_line(&raw);
    let message = intake::crlf_line_ends(intake::strip_delivery_fields(message)).into_owned();
    let sender = args
        .sender
        .clone()
        .or_else(|| std::env::var("SENDER").ok())
        .or(from_line_sender)
        .unwrap_or_default();
    let sender = if sender == "MAILER-DAEMON" {
        String::new()
    } else {
        sender
    };

    let store = Store::open(&settings.database_url)
        .await
        .map_err(|e| exit(EX_TEMPFAIL, format!("{e}")))?;
    let snapshot = Snapshot::from_store(
        store
            .directory()
            .await
            .map_err(|e| exit(EX_TEMPFAIL, e.to_string()))?,
    );
    let rcpt = recipient(&snapshot, &args.list_address);
    if let Err(refusal) = plan::resolve(&snapshot, &rcpt) {
        return Err(exit(EX_NOUSER, refusal.text));
    }
    let fixed = intake::fix_message(
        &message,
        &sender,
        &crate::ids::message_id(&settings.hostname),
    )
    .map_err(|e| exit(EX_DATAERR, e.refusal().text))?;
    let posting = Posting::new(store.clone(), crate::posting::site_facts(settings));
    let planned = plan::plan(
        &snapshot,
        &posting,
        &rcpt,
        &sender,
        &fixed,
        raw.len() as u64,
    )
    .await
    .map_err(|e| exit(EX_TEMPFAIL, format!("{e:#}")))?;
    match planned {
        // The address resolved above, so a refusal here is the list's policy.
        Plan::Refuse(Refusal { text, .. }) => Err(exit(EX_NOPERM, text)),
        Plan::Discard(_) => Ok(()),
        Plan::Store(envelope) => {
            let spool = Spool::open(settings.spool_dir(), Default::default())
                .map_err(|e| exit(EX_TEMPFAIL, e.to_string()))?;
            let mut submission = Submission::new(fixed, vec![envelope]);
            submission.original_size = Some(raw.len() as u64);
            spool
                .commit_direct(submission)
                .map_err(|e| exit(EX_TEMPFAIL, e.to_string()))?;
            Ok(())
        }
    }
}

/// The recipient: the argument, or Postfix's `ORIGINAL_RECIPIENT` when it names the same list
/// address with an extension (`list-bounces+anne=example.org@...`), which the alias lost.
fn recipient(snapshot: &Snapshot, arg: &str) -> String {
    if let Ok(original) = std::env::var("ORIGINAL_RECIPIENT")
        && let (Ok(a), Ok(b)) = (
            plan::resolve(snapshot, arg),
            plan::resolve(snapshot, &original),
        )
        && a.list == b.list
        && a.subaddress == b.subaddress
    {
        return original;
    }
    arg.to_string()
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
}
