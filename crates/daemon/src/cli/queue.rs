//! `mailcast queue list|show|retry|delete`: inspect and repair the spool.
//!
//! These commands read the spool directly (it is ordinary files); a running daemon notices
//! entries moved back into a working stage at its next scan (within a few seconds).

use anyhow::bail;
use mailcast_spool::{Durability, EntryId, Spool, Stage};

use super::QueueCommand;
use crate::config::Settings;

/// The attribute naming the stage a shunted entry failed in.
pub const WHICH_STAGE: &str = "whichq";

pub fn run(settings: &Settings, cmd: QueueCommand) -> anyhow::Result<()> {
    let spool = settings.open_spool()?;
    match cmd {
        QueueCommand::List { stage: None } => {
            for (stage, n) in spool.counts()? {
                println!("{:<10} {n}", stage.as_str());
            }
        }
        QueueCommand::List { stage: Some(name) } => {
            let stage = Stage::parse(&name).map_err(|_| {
                let names: Vec<&str> = Stage::ALL.iter().map(|s| s.as_str()).collect();
                anyhow::anyhow!("unknown stage {name:?}; stages are: {}", names.join(", "))
            })?;
            for (id, summary) in spool.summaries(stage)? {
                match summary.meta {
                    Some(m) => println!(
                        "{id}\t{}\t{}\tfrom=<{}>\trcpt=<{}>\tattempts={}{}",
                        m.received_at,
                        m.list,
                        m.mail_from,
                        m.rcpt_to,
                        m.attempts,
                        m.last_error
                            .map(|e| format!("\terror={e}"))
                            .unwrap_or_default()
                    ),
                    None => println!("{id}\tunreadable: {}", summary.problem.unwrap_or_default()),
                }
            }
        }
        QueueCommand::Show { id, body } => {
            let (id, stage) = find(&spool, &id)?;
            let summary = spool.summary(stage, &id)?;
            println!("stage: {}", stage.as_str());
            if let Some(meta) = &summary.meta {
                println!("{}", serde_json::to_string_pretty(meta)?);
            }
            if let Some(problem) = &summary.problem {
                println!("problem: {problem}");
            }
            if let Some(job) = &summary.job {
                println!(
                    "delivery batches: {} done of {}",
                    job.batches() - job.pending().len() as u64,
                    job.batches()
                );
            }
            let text = spool.read_body(&id).unwrap_or_default();
            let shown = if body {
                &text[..]
            } else {
                let end = mailcast_pipeline::split_header_section(&text).unwrap_or(text.len());
                &text[..end]
            };
            println!();
            print!("{}", String::from_utf8_lossy(shown));
        }
        QueueCommand::Retry { id } => {
            let (id, stage) = find(&spool, &id)?;
            let target = match stage {
                Stage::Shunt => {
                    let meta = spool.read_meta(stage, &id)?;
                    meta.attrs
                        .get(WHICH_STAGE)
                        .and_then(|v| v.as_str())
                        .and_then(|s| Stage::parse(s).ok())
                        .unwrap_or(Stage::Incoming)
                }
                Stage::Deferred => Stage::Deferred,
                Stage::Held => {
                    bail!("{id} is held for moderation: use `mailcast held approve|reject|discard`")
                }
                other => bail!(
                    "{id} is in stage {}: only shunted and deferred entries can be retried",
                    other.as_str()
                ),
            };
            spool.move_entry(&id, stage, target, Durability::Sync, |m| {
                m.attempts = 0;
                m.not_before = None;
                m.last_error = None;
                m.attrs.remove(WHICH_STAGE);
            })?;
            println!("{id}: moved from {} to {}", stage.as_str(), target.as_str());
        }
        QueueCommand::Delete { id } => {
            let (id, stage) = find(&spool, &id)?;
            if stage == Stage::Held {
                bail!("{id} is held for moderation: use `mailcast held discard`");
            }
            spool.remove(stage, &id)?;
            println!("{id}: deleted from {}", stage.as_str());
        }
    }
    Ok(())
}

fn find(spool: &Spool, id: &str) -> anyhow::Result<(EntryId, Stage)> {
    let id = EntryId::parse(id).map_err(|_| anyhow::anyhow!("{id:?} is not a spool entry id"))?;
    match spool.find(&id)? {
        Some(stage) => Ok((id, stage)),
        None => bail!("no spool entry {id}"),
    }
}
