//! Moderators' decisions on held posts: approve, reject, discard, defer; by request id (CLI,
//! REST) or by the token of the moderators' notice (a reply by mail).
//!
//! A held post is a spool entry in `held` on the node that held it (`<parent>.held`) plus a
//! row in the store with the facts a moderator sees, the token, and the node's name. The
//! decisions, each safe to repeat after a crash:
//! - **approve**: move the entry back to `incoming` with `attrs.approved = true` (a running
//!   daemon picks it up at its next scan; the posting chain is skipped), then remove the row;
//! - **reject**: queue the rejection notice to the poster (job `<held>.nreject`), then remove
//!   the entry and the row;
//! - **discard**: remove the entry, then the row (with `forward_auto_discards`, an expired
//!   post is forwarded to the moderators first);
//! - **defer**: nothing changes (Mailman's "decide later").
//!
//! **Across nodes.** The entry lives in one node's local spool. A decision taken on another
//! node is recorded in the row ([`Store::record_held_decision`]) and carried out by the owning
//! node's periodic work ([`Admin::apply_recorded_decisions`]); it is never lost and the post
//! is never orphaned. The row goes last, so a crash leaves at most a row whose entry has gone;
//! the next decision on it removes the row and says so.
//!
//! [`Store::record_held_decision`]: mailcast_store::Store::record_held_decision

use jiff::Timestamp;
use mailcast_model::{Action, ListAddress};
use mailcast_spool::{Durability, EntryId, Stage};
use mailcast_store::HeldRecord;
use serde_json::Value;
use tracing::info;

use super::{Admin, AdminError, Result};
use crate::outbox::notices::About;

/// `attrs` key: a moderator approved the entry; the posting chain is skipped.
pub const APPROVED: &str = "approved";
/// `attrs` key: when it was approved (RFC 3339), for `X-Mailman-Approved-At`.
pub const APPROVED_AT: &str = "approved_at";
/// `attrs` key of a held entry: the token of its `confirm <token>` message.
pub const TOKEN: &str = "token";

/// A moderator's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The post continues down the pipeline.
    Approve,
    /// The poster is told (with the reason) and the post is dropped.
    Reject(Option<String>),
    /// The post is dropped silently.
    Discard,
    /// Decide later.
    Defer,
}

impl Decision {
    fn action(&self) -> Action {
        match self {
            Decision::Approve => Action::Accept,
            Decision::Reject(_) => Action::Reject,
            Decision::Discard => Action::Discard,
            Decision::Defer => Action::Defer,
        }
    }

    fn from_record(action: Action, reason: Option<String>) -> Decision {
        match action {
            Action::Accept => Decision::Approve,
            Action::Reject => Decision::Reject(reason),
            Action::Discard => Decision::Discard,
            Action::Hold | Action::Defer => Decision::Defer,
        }
    }
}

/// What became of a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decided {
    /// Carried out here; for a rejection, whether the poster was told.
    Done {
        /// The poster was sent a rejection notice.
        told: bool,
    },
    /// Recorded for the node whose spool holds the post, which carries it out.
    Recorded {
        /// That node.
        node: String,
    },
    /// Deferred: nothing changed.
    Deferred,
}

impl Admin {
    /// The held posts of a list, oldest first.
    pub async fn held(&self, list: &ListAddress) -> Result<Vec<HeldRecord>> {
        self.list_info(list).await?;
        Ok(self.store.held(list).await?)
    }

    /// Carries out (or records) a decision on held post `request_id` of `list`.
    pub async fn decide_held(
        &self,
        list: &ListAddress,
        request_id: u64,
        decision: Decision,
    ) -> Result<Decided> {
        let record = match self.store.get_held(list, request_id).await {
            Ok(record) => record,
            Err(mailcast_store::Error::NotFound(_)) => {
                return Err(AdminError::NotFound(format!(
                    "{list} has no held message {request_id}"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        self.decide_record(record, decision).await
    }

    /// Carries out a decision on the held post whose moderators' notice carried `token`.
    /// Returns the list and request id with the outcome.
    pub async fn decide_held_by_token(
        &self,
        list: &ListAddress,
        token: &str,
        decision: Decision,
    ) -> Result<(u64, Decided)> {
        let record = match self.store.held_by_token(token).await {
            Ok(record) => record,
            Err(mailcast_store::Error::NotFound(_)) => {
                return Err(AdminError::NotFound(
                    "Confirmation token did not match".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        if &record.list != list {
            return Err(AdminError::Invalid(format!(
                "the token belongs to another list, not to {list}"
            )));
        }
        let id = record.request_id;
        Ok((id, self.decide_record(record, decision).await?))
    }

    async fn decide_record(&self, record: HeldRecord, decision: Decision) -> Result<Decided> {
        if decision == Decision::Defer {
            return Ok(Decided::Deferred);
        }
        let node = &self.settings().site.node;
        let here = record.message.node.is_empty() || &record.message.node == node;
        if !here {
            let reason = match &decision {
                Decision::Reject(reason) => reason.clone(),
                _ => None,
            };
            match self
                .store
                .record_held_decision(
                    &record.list,
                    record.request_id,
                    decision.action(),
                    reason.as_deref(),
                    Timestamp::now(),
                )
                .await
            {
                Ok(()) => {}
                Err(mailcast_store::Error::Conflict(_)) => {
                    return Err(AdminError::Conflict(format!(
                        "held message {} of {} was decided already; node {} is carrying it out",
                        record.request_id, record.list, record.message.node
                    )));
                }
                Err(e) => return Err(e.into()),
            }
            info!(list = %record.list, request_id = record.request_id, node = %record.message.node,
                "decision recorded for the node that holds the post");
            return Ok(Decided::Recorded {
                node: record.message.node.clone(),
            });
        }
        self.carry_out_decision(&record, &decision).await
    }

    /// Carries out the decisions other nodes recorded for posts held in this node's spool.
    /// Returns how many were carried out.
    pub async fn apply_recorded_decisions(&self) -> Result<usize> {
        let node = self.settings().site.node.clone();
        let mut done = 0;
        for record in self.store.decided_held(&node).await? {
            let Some(recorded) = record.decision.clone() else {
                continue;
            };
            let decision = Decision::from_record(recorded.action, recorded.reason);
            match self.carry_out_decision(&record, &decision).await {
                Ok(_) => done += 1,
                Err(AdminError::NotFound(text)) => {
                    info!(%text, "a recorded decision found no post")
                }
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    async fn carry_out_decision(
        &self,
        record: &HeldRecord,
        decision: &Decision,
    ) -> Result<Decided> {
        let list = &record.list;
        let request_id = record.request_id;
        let id = EntryId::parse(&record.message.spool_id).map_err(anyhow::Error::from)?;
        let told = match decision {
            Decision::Approve => {
                let now = Timestamp::now().to_string();
                let moved_id = id.clone();
                let moved = self
                    .on_spool(move |spool| {
                        spool.move_entry(
                            &moved_id,
                            Stage::Held,
                            Stage::Incoming,
                            Durability::Sync,
                            |m| {
                                m.attrs.insert(APPROVED.into(), Value::Bool(true));
                                m.attrs.insert(APPROVED_AT.into(), Value::String(now));
                                m.attempts = 0;
                                m.last_error = None;
                            },
                        )
                    })
                    .await;
                self.gone_if_missing(record, moved).await?;
                false
            }
            Decision::Reject(reason) => {
                let read_id = id.clone();
                let read = self
                    .on_spool(move |spool| spool.read_entry(Stage::Held, &read_id))
                    .await;
                let (meta, body) = self.gone_if_missing(record, read).await?;
                let list_ctx = self.list_context(list).await?;
                let reasons = vec![reason.clone().unwrap_or_else(|| "No reason given".into())];
                let about = About {
                    post: &body,
                    envelope_sender: &meta.mail_from,
                    poster: Some(record.message.sender.as_str()).filter(|s| !s.is_empty()),
                    reasons: &reasons,
                };
                let notice = self.outbox.rejected_notice(&id, &list_ctx, &about).await?;
                self.remove_held_entry(&id).await?;
                notice.is_some()
            }
            Decision::Discard => {
                let removed = self.remove_held_entry(&id).await;
                self.gone_if_missing(record, removed).await?;
                false
            }
            Decision::Defer => return Ok(Decided::Deferred),
        };
        self.store.remove_held(list, request_id).await?;
        info!(%list, request_id, entry = %id, ?decision, "held post decided");
        Ok(Decided::Done { told })
    }

    /// Passes `result` on; if it failed because the held entry is gone, removes the record
    /// and says so.
    async fn gone_if_missing<T>(
        &self,
        record: &HeldRecord,
        result: anyhow::Result<T>,
    ) -> Result<T> {
        let missing = match &result {
            Err(e) => e.chain().any(|c| {
                c.downcast_ref::<mailcast_spool::Error>()
                    .is_some_and(|s| s.is_not_found())
            }),
            Ok(_) => false,
        };
        if !missing {
            return Ok(result?);
        }
        match self
            .store
            .remove_held(&record.list, record.request_id)
            .await
        {
            Ok(()) | Err(mailcast_store::Error::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        Err(AdminError::NotFound(format!(
            "held message {} of {} is no longer in the spool; its record was removed",
            record.request_id, record.list
        )))
    }

    async fn remove_held_entry(&self, id: &EntryId) -> anyhow::Result<()> {
        let id = id.clone();
        self.on_spool(move |spool| spool.remove(Stage::Held, &id))
            .await
    }
}

impl Admin {
    /// Discards the held posts of this node older than their list's `max_days_to_hold`
    /// (0: kept until decided), telling the poster where an answer is allowed. Returns how
    /// many were discarded.
    pub async fn expire_held(&self) -> Result<usize> {
        let now = Timestamp::now();
        let node = self.settings().site.node.clone();
        let mut expired = 0;
        for record in self.store.held_before(now).await? {
            if !(record.message.node.is_empty() || record.message.node == node) {
                continue;
            }
            let Ok(info) = self.list_info(&record.list).await else {
                continue;
            };
            let days = info.settings.max_days_to_hold.0;
            if days == 0 {
                continue;
            }
            let age = now.duration_since(record.held_at);
            if age < jiff::SignedDuration::from_hours(24 * days as i64) {
                continue;
            }
            let id = EntryId::parse(&record.message.spool_id).map_err(anyhow::Error::from)?;
            let read_id = id.clone();
            let read = self
                .on_spool(move |spool| spool.read_entry(Stage::Held, &read_id))
                .await;
            if let Ok((meta, body)) = read {
                let list_ctx = self.list_context(&record.list).await?;
                let about = About {
                    post: &body,
                    envelope_sender: &meta.mail_from,
                    poster: Some(record.message.sender.as_str()).filter(|s| !s.is_empty()),
                    reasons: &record.message.reasons,
                };
                self.outbox
                    .expired_notice(&id, &list_ctx, &about, days)
                    .await?;
            }
            match self.carry_out_decision(&record, &Decision::Discard).await {
                Ok(_) | Err(AdminError::NotFound(_)) => expired += 1,
                Err(e) => return Err(e),
            }
            info!(list = %record.list, request_id = record.request_id, days, "held post expired");
        }
        Ok(expired)
    }
}
