//! The outbox: every mail mailcast generates is created here, as a delivery job in the
//! spool's `outgoing` stage, and the outgoing runner sends it like any other job.
//!
//! Generated mail is: the notices about posts (held, rejected, expired; [`notices`]), the
//! membership mails (confirmations, welcome and goodbye, owner notices; [`membership`]), the
//! answers to email commands and the autoresponses ([`membership`]), and the mails of bounce
//! processing (warnings, probes, owners' notices; [`bounces`]). The texts come from the
//! pipeline's pure builders and Mailman's named templates (with the overrides kept in the
//! store); this module decides who may be answered ([`answer`]: RFC 3834 and Mailman's daily
//! cap), generates ids and dates, and writes the job ([`write`], the one writer of delivery
//! jobs, shared with the runners' post and retry jobs; [`job`] is the job format).
//!
//! A generated mail's job id derives from what caused it (`<entry>.nreject`, `<entry>.r0`,
//! ...), so a re-run after a crash finds it and creates nothing twice; mail caused by an
//! operator (the CLI, the REST API) gets a fresh id. The outbox never sends anything itself.

pub mod answer;
pub mod bounces;
pub mod job;
pub mod membership;
pub mod notices;
pub mod write;

use std::collections::HashSet;

use anyhow::Context;
use jiff::Timestamp;
use mailcast_model::{DeliveryStatus, EmailAddress, ListAddress};
use mailcast_pipeline::notice::NoticeIds;
use mailcast_pipeline::templates::Overrides;
use mailcast_spool::{EntryId, Spool, Stage};
use mailcast_store::Store;
use tracing::{debug, warn};

use crate::config::Settings;
use crate::directory::Directory;
use job::{JobAttrs, JobKind, Mode, sort_by_domain};
use write::{JobLimits, NewJob};

/// Where generated mail goes, and what writing it needs. Cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    spool: Spool,
    store: Store,
    directory: Directory,
    limits: JobLimits,
    hostname: String,
    site_owner: String,
    max_autoresponses_per_day: u64,
}

/// One generated mail, ready to queue.
#[derive(Debug)]
pub struct Mail {
    /// The job id: derived from the cause, or [`EntryId::generate`]d.
    pub id: EntryId,
    /// The list it is about.
    pub list: ListAddress,
    /// The envelope sender (`""`: the null sender).
    pub mail_from: String,
    /// The envelope recipients.
    pub rcpts: Vec<String>,
    /// The message.
    pub body: Vec<u8>,
}

/// The Message-ID, Date and boundary of one generated mail.
pub struct Generated {
    message_id: String,
    date: i64,
    boundary: String,
}

impl Generated {
    /// The ids as the pipeline's builders take them.
    pub fn ids(&self) -> NoticeIds<'_> {
        NoticeIds {
            message_id: &self.message_id,
            date: self.date,
            boundary: &self.boundary,
        }
    }
}

impl Outbox {
    /// An outbox writing into `spool`, with the limits and names of `settings`.
    pub fn new(spool: Spool, store: Store, directory: Directory, settings: &Settings) -> Outbox {
        Outbox {
            spool,
            store,
            directory,
            limits: JobLimits::from_smtp(&settings.smtp),
            hostname: settings.hostname.clone(),
            site_owner: settings.site_owner.clone(),
            max_autoresponses_per_day: settings.site.max_autoresponses_per_day,
        }
    }

    /// The limits jobs are written with.
    pub fn limits(&self) -> &JobLimits {
        &self.limits
    }

    /// A fresh Message-ID, Date and boundary.
    pub fn generated(&self) -> Generated {
        Generated {
            message_id: crate::ids::message_id(&self.hostname),
            date: Timestamp::now().as_second(),
            boundary: crate::ids::boundary(),
        }
    }

    /// The template overrides that apply to `list` (list, then domain, then site).
    pub async fn overrides(&self, list: &ListAddress) -> anyhow::Result<Overrides> {
        let records = self
            .store
            .templates_for_list(list)
            .await
            .with_context(|| format!("cannot read the templates of {list}"))?;
        let mut overrides = Overrides::new();
        for record in records {
            overrides.set(record.name, record.text);
        }
        Ok(overrides)
    }

    /// Queues `mail` as a bulk job. An existing job with its id is left as it is, and
    /// recipients that are not addresses are left out (logged). Returns the job's id when it
    /// was created now. Failures of generated mail are not scored as member bounces.
    pub async fn queue(&self, mail: Mail) -> anyhow::Result<Option<EntryId>> {
        self.write(mail, JobKind::Notice, Mode::Bulk, false).await
    }

    /// Queues one digest to its recipients (`mail.id` derives from the digest, so a re-run
    /// finds it), in `mode` with VERP when `verp`. Its failures count as member bounces; its
    /// copies are never decorated per member.
    pub async fn queue_digest(
        &self,
        mail: Mail,
        mode: Mode,
        verp: bool,
    ) -> anyhow::Result<Option<EntryId>> {
        self.write(mail, JobKind::Digest, mode, verp).await
    }

    async fn write(
        &self,
        mail: Mail,
        kind: JobKind,
        mode: Mode,
        verp: bool,
    ) -> anyhow::Result<Option<EntryId>> {
        let Mail {
            id,
            list,
            mail_from,
            rcpts,
            body,
        } = mail;
        debug!(job = %id, recipients = rcpts.len(), ?kind, "queueing generated mail");
        let mut lines: Vec<String> = Vec::with_capacity(rcpts.len());
        let mut seen = HashSet::new();
        for rcpt in rcpts {
            match EmailAddress::parse(&rcpt) {
                Ok(parsed) if seen.insert(parsed.as_str().to_owned()) => {
                    lines.push(parsed.original().to_owned());
                }
                Ok(_) => {}
                // Retrying cannot make the address valid; the other recipients still get it.
                Err(err) => warn!(job = %id, error = %err, "leaving out a recipient"),
            }
        }
        if lines.is_empty() {
            warn!(job = %id, "generated mail has no valid recipient; nothing to send");
            return Ok(None);
        }
        sort_by_domain(&mut lines);
        let now = Timestamp::now();
        let message_id = mailcast_pipeline::Message::parse(&body)
            .ok()
            .and_then(|m| m.message_id());
        let attrs = JobAttrs::new(
            kind,
            mode,
            verp,
            self.limits.deadline(now),
            id.clone(),
            message_id,
        );
        let job = NewJob {
            rcpt_to: lines[0].clone(),
            id,
            list: list.posting_address(),
            mail_from,
            received_at: now,
            attrs,
            lines,
            body,
        };
        write::write_job(&self.spool, &self.limits, job, Stage::Outgoing, None).await
    }

    /// The owners and moderators with delivery enabled, each once; the site owner when there
    /// are none (Mailman's owner-recipients handler). Notices and owner mail go to them.
    pub async fn staff(&self, list: &ListAddress) -> anyhow::Result<Vec<String>> {
        let mut seen = HashSet::new();
        let mut rcpts: Vec<String> = self
            .store
            .owners_and_moderators(list)
            .await
            .with_context(|| format!("cannot read the owners and moderators of {list}"))?
            .into_iter()
            .filter(|m| m.delivery_status == DeliveryStatus::Enabled)
            .filter(|m| seen.insert(m.address.as_str().to_string()))
            .map(|m| m.address.original().to_string())
            .collect();
        if rcpts.is_empty() {
            rcpts.push(self.site_owner.clone());
        }
        Ok(rcpts)
    }

    /// Whether `address` is one of our list addresses (never answered automatically).
    pub fn is_list_address(&self, address: &str) -> bool {
        mailcast_model::recipient::resolve(address, &*self.directory.snapshot()).is_ok()
    }
}
