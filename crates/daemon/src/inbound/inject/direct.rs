//! The direct way of `mailcast inject`: decide from the database and commit the entry to the
//! spool in this process, with or without a daemon running.
//!
//! It runs once per message, started by the MTA, so it is kept small: a current-thread
//! runtime, the store opened for a command (one connection, the schema checked with one
//! query), and only the addressed list and its domain read ([`Store::directory_for`]), so
//! nothing here grows with the number of lists. The decision is the LMTP server's
//! ([`plan`]), DMARC lookups included; the commit is the spool's direct durable commit.
//!
//! Not here: the hand-off to a running daemon (`handoff`), reading the message (`inject`).

use mailcast_pipeline::{Refusal, intake};
use mailcast_spool::Submission;
use mailcast_store::Store;

use super::{EX_DATAERR, EX_NOPERM, EX_NOUSER, EX_TEMPFAIL, Letter, exit};
use crate::config::Settings;
use crate::directory::Snapshot;
use crate::dns::Dns;
use crate::inbound::plan::{self, Plan};
use crate::posting::Posting;

/// Decides and commits `letter` without the daemon.
pub(super) fn run(settings: &Settings, letter: &Letter) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| exit(EX_TEMPFAIL, e.to_string()))?;
    runtime.block_on(inject(settings, letter))
}

async fn inject(settings: &Settings, letter: &Letter) -> anyhow::Result<()> {
    let store = Store::open_for_command(&settings.database_url)
        .await
        .map_err(|e| exit(EX_TEMPFAIL, format!("{e}")))?;
    let addresses: Vec<&str> = std::iter::once(letter.list_address.as_str())
        .chain(letter.original_recipient.as_deref())
        .collect();
    let (domains, names) = lookups(&addresses);
    let domains: Vec<&str> = domains.iter().map(String::as_str).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let snapshot = Snapshot::from_store(
        store
            .directory_for(&domains, &names)
            .await
            .map_err(|e| exit(EX_TEMPFAIL, e.to_string()))?,
    );
    let rcpt = recipient(
        &snapshot,
        &letter.list_address,
        letter.original_recipient.as_deref(),
    );
    if let Err(refusal) = plan::resolve(&snapshot, &rcpt) {
        return Err(exit(EX_NOUSER, refusal.text));
    }
    let fixed = intake::fix_message(
        &letter.message,
        &letter.sender,
        &crate::ids::message_id(&settings.hostname),
    )
    .map_err(|e| exit(EX_DATAERR, e.refusal().text))?;
    let posting = Posting::for_settings(store.clone(), settings);
    // The MTA waits for our exit status, so a DMARC `reject` is decided now, as over LMTP
    // (no query is sent unless the list's rule needs one). Without a usable resolver the
    // incoming runner looks the policy up instead.
    let dns = match Dns::from_config(&settings.dns) {
        Ok(dns) => Some(dns),
        Err(e) => {
            tracing::warn!(error = %e, "no DNS resolver; the DMARC policy is looked up later");
            None
        }
    };
    let planned = plan::plan(
        &snapshot,
        &posting,
        dns.as_ref(),
        &rcpt,
        &letter.sender,
        &fixed,
        letter.original_size,
    )
    .await
    .map_err(|e| exit(EX_TEMPFAIL, format!("{e:#}")))?;
    match planned {
        // The address resolved above, so a refusal here is the list's policy.
        Plan::Refuse(Refusal { text, .. }) => Err(exit(EX_NOPERM, text)),
        Plan::Discard(_) => Ok(()),
        Plan::Store(envelope) => {
            let spool = settings
                .open_spool()
                .map_err(|e| exit(EX_TEMPFAIL, format!("{e:#}")))?;
            let mut submission = Submission::new(fixed, vec![envelope]);
            submission.original_size = Some(letter.original_size);
            spool
                .commit_direct(submission)
                .map_err(|e| exit(EX_TEMPFAIL, e.to_string()))?;
            Ok(())
        }
    }
}

/// The recipient: the argument, or Postfix's `ORIGINAL_RECIPIENT` when it names the same list
/// address with an extension (`list-bounces+anne=example.org@...`), which the alias lost.
fn recipient(snapshot: &Snapshot, arg: &str, original: Option<&str>) -> String {
    if let Some(original) = original
        && let (Ok(a), Ok(b)) = (
            plan::resolve(snapshot, arg),
            plan::resolve(snapshot, original),
        )
        && a.list == b.list
        && a.subaddress == b.subaddress
    {
        return original.to_string();
    }
    arg.to_string()
}

/// What resolving `addresses` with Mailman's rules may look up: their domains (mail hosts or
/// alias domains), and every list name each could denote: the local part up to its first
/// `+`, and what precedes its last `-` (`dev-bounces` is the list `dev-bounces` or the
/// `bounces` address of `dev`). Lower-cased, without duplicates.
fn lookups(addresses: &[&str]) -> (Vec<String>, Vec<String>) {
    let mut domains: Vec<String> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let add = |into: &mut Vec<String>, value: &str| {
        if !into.iter().any(|v| v == value) {
            into.push(value.to_string());
        }
    };
    for address in addresses {
        let address = plan::strip_source_route(address).trim().to_lowercase();
        let Some((local, domain)) = address.split_once('@') else {
            continue;
        };
        let local = local.split_once('+').map_or(local, |(base, _)| base);
        add(&mut domains, domain);
        add(&mut names, local);
        if let Some((prefix, _)) = local.rsplit_once('-')
            && !prefix.is_empty()
        {
            add(&mut names, prefix);
        }
    }
    (domains, names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_cover_every_reading_of_each_address() {
        let (domains, names) = lookups(&[
            "Dev-Bounces+anne=example.org@A.Example",
            "dev@a.example",
            "@relay.example:my-list-request@b.example",
            "-owner@c.example",
            "no-at-sign",
        ]);
        assert_eq!(domains, ["a.example", "b.example", "c.example"]);
        assert_eq!(
            names,
            ["dev-bounces", "dev", "my-list-request", "my-list", "-owner"]
        );
    }
}
