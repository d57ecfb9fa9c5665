//! The command runner: mail to `-request`, `-join`/`-subscribe`, `-leave`/`-unsubscribe` and
//! `-confirm` (Mailman's `command` runner). It consumes the `command` stage.
//!
//! For each entry, in order:
//! 1. **Automatic mail is dropped** (logged): `Precedence: bulk | junk | list` without
//!    `X-Ack: yes`, `Auto-Submitted` other than `no`, or the null sender. An autoresponder
//!    answering our confirmation therefore confirms nothing and gets no answer: no ping-pong.
//! 2. **The autoresponder** (`autorespond_requests`, `autoresponse_request_text`, with
//!    `autoresponse_grace_period`); `respond_and_discard` stops here.
//! 3. **The commands**: `-join` is one `join`, `-leave` one `leave`, `-confirm+TOKEN` one
//!    `confirm TOKEN` (the token from the address's `+` extension, else from the To header),
//!    all without a results mail. Mail to `-request` is read as a script
//!    (`mailcast_pipeline::commands::read`: the Subject, then up to
//!    `[site] email_commands_max_lines` lines of the first text/plain part) and answered with
//!    Mailman's results mail. Quoted lines and an `Approved:` password line are skipped.
//! 4. The entry is removed, after every mail it caused exists in `outgoing`.
//!
//! The commands act through the admin layer ([`crate::admin`]) with no `pre_*` vouching, so
//! mail can never subscribe an address that did not confirm. Answers go only where
//! [`crate::outbox::answer`] allows, within the daily cap. Every mail's job id derives from the
//! entry and the command's line number, so a re-run after a crash creates none twice.

use mailcast_model::{DeliveryMode, EmailAddress, ListAddress, Mailbox, MemberRole};
use mailcast_pipeline::commands::{self, CommandName, DigestChoice, Script};
use mailcast_pipeline::message::Message;
use mailcast_pipeline::{ListContext, rules};
use mailcast_spool::{EntryId, EntryMeta, Stage};
use mailcast_store::{RequestKind, ResponseKind};
use tracing::info;

use super::RunnerContext;
use super::board::Work;
use super::failure::Unprocessable;
use super::list_entry::{self, ListEntry};
use crate::admin::held::{Decided, Decision};
use crate::admin::subscriptions::{Progress, Vouch};
use crate::admin::{Admin, AdminError, Origin};
use crate::outbox::answer::Allowance;

/// Processes the command entry `id`; returns the mail it queued.
pub(crate) async fn process(ctx: &RunnerContext, id: &EntryId) -> anyhow::Result<Vec<Work>> {
    let ListEntry {
        meta,
        body,
        list,
        list_ctx,
    } = list_entry::read(ctx, Stage::Command, id).await?;
    let Some(list_ctx) = list_ctx else {
        return Err(Unprocessable::error(format!(
            "the list {list} no longer exists"
        )));
    };
    let admin = ctx.admin();
    let message = Message::parse(&body)
        .map_err(|e| Unprocessable::error(format!("the message cannot be parsed: {e}")))?;
    let mut queued = Vec::new();
    if is_automatic(&message, &meta.mail_from) {
        info!("automatic mail to a command address dropped");
        metrics::counter!("mailcast_commands_total", "result" => "automatic").increment(1);
    } else {
        let session = Session {
            admin: &admin,
            meta: &meta,
            list: &list,
            list_ctx: &list_ctx,
            message: &message,
            sender: sender(&message, &meta.mail_from),
        };
        queued = session.run().await?;
    }
    remove(ctx, id).await?;
    Ok(queued.into_iter().map(Work::outgoing).collect())
}

/// Mailman's loop guard for command mail, widened to RFC 3834's automatic mail.
fn is_automatic(message: &Message<'_>, envelope_sender: &str) -> bool {
    let value = |name: &str| message.text(name).map(|v| v.trim().to_ascii_lowercase());
    let acked = value("X-Ack").as_deref() == Some("yes");
    envelope_sender.trim().is_empty()
        || !matches!(value("Auto-Submitted").as_deref(), None | Some("no"))
        || (!acked
            && matches!(
                value("Precedence").as_deref(),
                Some("bulk" | "junk" | "list")
            ))
}

/// The address that sent the commands: the first of Mailman's senders.
fn sender(message: &Message<'_>, envelope_sender: &str) -> Option<EmailAddress> {
    let envelope = Some(envelope_sender).filter(|s| !s.is_empty());
    message
        .senders(envelope)
        .into_iter()
        .find_map(|s| EmailAddress::parse(&s).ok())
}

/// One command message being processed.
struct Session<'a> {
    admin: &'a Admin,
    meta: &'a EntryMeta,
    list: &'a ListAddress,
    list_ctx: &'a ListContext,
    message: &'a Message<'a>,
    sender: Option<EmailAddress>,
}

/// What one command line did.
struct Outcome {
    /// Lines for the results mail.
    lines: Vec<String>,
    /// Whether processing goes on with the next line.
    go_on: bool,
}

impl Outcome {
    fn line(text: impl Into<String>) -> Outcome {
        Outcome {
            lines: vec![text.into()],
            go_on: true,
        }
    }

    fn stop(text: impl Into<String>) -> Outcome {
        Outcome {
            lines: vec![text.into()],
            go_on: false,
        }
    }
}

impl Session<'_> {
    async fn run(&self) -> anyhow::Result<Vec<EntryId>> {
        let mut queued = Vec::new();
        if self.autorespond(&mut queued).await? {
            return Ok(queued);
        }
        let fixed = match self.meta.subaddress.as_deref() {
            Some("join") => Some("join".to_string()),
            Some("leave") => Some("leave".to_string()),
            Some("confirm") => self.confirm_token().map(|t| format!("confirm {t}")),
            _ => None,
        };
        if let Some(line) = fixed {
            let outcome = self.execute(&line, 0).await?;
            info!(command = %line.split(' ').next().unwrap_or(""), results = ?outcome.lines,
                "address command processed");
            metrics::counter!("mailcast_commands_total", "result" => "address").increment(1);
            return Ok(queued);
        }
        let max_lines = self.list_ctx.site().email_commands_max_lines;
        let Script { lines, ignored } = commands::read(self.message, max_lines);
        let mut results = Vec::new();
        let mut unprocessed = Vec::new();
        let mut done = false;
        for (n, line) in lines.iter().enumerate() {
            if done {
                unprocessed.push(line.clone());
                continue;
            }
            if skipped(line) {
                continue;
            }
            results.push(format!("> {}", line.trim()));
            let outcome = self.execute(line, n as u32 + 1).await?;
            results.extend(outcome.lines);
            results.push(String::new());
            done = !outcome.go_on;
        }
        metrics::counter!("mailcast_commands_total", "result" => "script").increment(1);
        queued.extend(self.send_results(&results, &unprocessed, &ignored).await?);
        Ok(queued)
    }

    /// `-confirm+TOKEN`: the token from the address's extension, else from the To header.
    fn confirm_token(&self) -> Option<String> {
        if let Some(ext) = self.meta.extension.as_deref()
            && !ext.is_empty()
            && ext.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Some(ext.to_string());
        }
        self.message
            .addresses("To")
            .into_iter()
            .find_map(|a| commands::confirm_token_from_address(&a.email))
    }

    /// Runs one command line.
    async fn execute(&self, line: &str, step: u32) -> anyhow::Result<Outcome> {
        let Some(parsed) = commands::parse_line(line) else {
            return Ok(Outcome::line(""));
        };
        let Some(command) = parsed.command else {
            // Mailman names the second word it tried; the first is what the sender meant.
            let first = line.split_whitespace().next().unwrap_or_default();
            return Ok(Outcome::line(commands::replies::no_such_command(
                &first.to_lowercase(),
            )));
        };
        let origin = Origin::entry(&self.meta.id, step);
        let args: Vec<&str> = parsed.args.to_vec();
        Ok(match command {
            CommandName::Echo => Outcome::line(commands::replies::echo(&args)),
            CommandName::End => Outcome {
                lines: Vec::new(),
                go_on: false,
            },
            CommandName::Help => Outcome {
                lines: commands::help_text(
                    args.first().copied(),
                    self.list_ctx,
                    &self.admin.outbox.overrides(self.list).await?,
                )
                .lines()
                .map(str::to_string)
                .collect(),
                go_on: true,
            },
            CommandName::Join => self.join(&parsed.name, &args, &origin).await?,
            CommandName::Leave => self.leave(&args, &origin).await?,
            CommandName::Confirm => self.confirm(&args, &origin).await?,
            CommandName::Who => self.who().await?,
        })
    }

    async fn join(&self, word: &str, args: &[&str], origin: &Origin) -> anyhow::Result<Outcome> {
        let parsed = match commands::join_args(args) {
            Ok(parsed) => parsed,
            Err(text) => return Ok(Outcome::stop(format!("{word} {text}"))),
        };
        let address = match parsed.address.as_deref() {
            Some(given) => match EmailAddress::parse(given) {
                Ok(address) => address,
                Err(e) => return Ok(Outcome::stop(format!("Invalid address: {given}: {e}"))),
            },
            None => match &self.sender {
                Some(sender) => sender.clone(),
                None => return Ok(Outcome::stop("join: No valid address found to subscribe")),
            },
        };
        let mode = match parsed.digest {
            None | Some(DigestChoice::No) => DeliveryMode::Regular,
            Some(DigestChoice::Mime) => DeliveryMode::MimeDigests,
            Some(DigestChoice::Plain) => DeliveryMode::PlaintextDigests,
        };
        let display_name = (parsed.address.is_none())
            .then(|| self.message.addresses("From").into_iter().next())
            .flatten()
            .and_then(|a| a.name)
            .filter(|n| !n.trim().is_empty());
        let who = Mailbox {
            display_name,
            address: address.clone(),
        };
        if !self
            .confirmation_allowed(&address, parsed.address.is_some())
            .await?
        {
            return Ok(Outcome::stop(format!(
                "Too many requests for {address} today; try again tomorrow"
            )));
        }
        Ok(
            match self
                .admin
                .subscribe(self.list, &who, mode, Vouch::default(), origin)
                .await
            {
                Ok(Progress::Done) => {
                    Outcome::line(format!("{address} is now a member of {}", self.list))
                }
                Ok(Progress::ConfirmationSent { .. }) => {
                    Outcome::line(format!("Confirmation email sent to {address}"))
                }
                Ok(Progress::AwaitingModerator { .. }) => Outcome::line(format!(
                    "The subscription of {address} waits for the list moderators' approval"
                )),
                Err(e) => refused(e)?,
            },
        )
    }

    async fn leave(&self, args: &[&str], origin: &Origin) -> anyhow::Result<Outcome> {
        let given = match commands::leave_args(args) {
            Ok(given) => given,
            Err(text) => return Ok(Outcome::stop(text)),
        };
        let address = match given.as_deref() {
            Some(given) => match EmailAddress::parse(given) {
                Ok(address) => address,
                Err(e) => return Ok(Outcome::stop(format!("Invalid address: {given}: {e}"))),
            },
            None => match &self.sender {
                Some(sender) => sender.clone(),
                None => {
                    return Ok(Outcome::stop(
                        "leave: No valid address found to unsubscribe",
                    ));
                }
            },
        };
        if !self.confirmation_allowed(&address, given.is_some()).await? {
            return Ok(Outcome::stop(format!(
                "Too many requests for {address} today; try again tomorrow"
            )));
        }
        Ok(
            match self
                .admin
                .unsubscribe(self.list, &address, Vouch::default(), origin)
                .await
            {
                Ok(Progress::Done) => Outcome::line(format!("{address} left {}", self.list)),
                Ok(Progress::ConfirmationSent { .. }) => Outcome::line(format!(
                    "Confirmation email sent to {address} to leave {}",
                    self.list
                )),
                Ok(Progress::AwaitingModerator { .. }) => Outcome::line(format!(
                    "The unsubscription of {address} waits for the list moderators' approval"
                )),
                Err(e) => refused(e)?,
            },
        )
    }

    async fn confirm(&self, args: &[&str], origin: &Origin) -> anyhow::Result<Outcome> {
        let Some(token) = args.first().copied() else {
            return Ok(Outcome::stop(commands::replies::NO_CONFIRMATION_TOKEN));
        };
        match self.admin.confirm(self.list, token, origin).await {
            Ok(confirmed) => {
                let what = match (confirmed.kind, &confirmed.progress) {
                    (_, Progress::AwaitingModerator { .. }) => {
                        "Confirmed; the request now waits for the list moderators".to_string()
                    }
                    (RequestKind::Subscription, _) => "Confirmed".to_string(),
                    (RequestKind::Unsubscription, _) => "Confirmed".to_string(),
                };
                return Ok(Outcome::line(what));
            }
            Err(AdminError::NotFound(_)) => {}
            Err(e) => return refused(e),
        }
        // Not a request: a moderator's reply to a held post's notice.
        let decision = if rules::approved::approves(self.message, self.list_ctx) {
            Decision::Approve
        } else {
            Decision::Discard
        };
        match self
            .admin
            .decide_held_by_token(self.list, token, decision.clone())
            .await
        {
            Ok((request_id, decided)) => Ok(Outcome::line(match (decision, decided) {
                (_, Decided::Recorded { node }) => {
                    format!("Held message {request_id}: decision recorded for node {node}")
                }
                (Decision::Approve, _) => format!("Held message {request_id} approved"),
                _ => format!("Held message {request_id} discarded"),
            })),
            Err(e) => refused(e),
        }
    }

    /// `who`: the roster, as `member_roster_visibility` allows the sender to see it.
    async fn who(&self) -> anyhow::Result<Outcome> {
        use mailcast_model::settings::RosterVisibility;
        let roles = match &self.sender {
            Some(sender) => self
                .admin
                .membership(self.list, sender)
                .await?
                .into_iter()
                .map(|m| m.role)
                .collect(),
            None => Vec::new(),
        };
        let staff = roles
            .iter()
            .any(|r| matches!(r, MemberRole::Owner | MemberRole::Moderator));
        let allowed = match self.list_ctx.settings().member_roster_visibility {
            RosterVisibility::Public => true,
            RosterVisibility::Members => staff || roles.contains(&MemberRole::Member),
            RosterVisibility::Moderators => staff,
        };
        if !allowed {
            return Ok(Outcome::line(format!(
                "You are not allowed to see the members of {}",
                self.list
            )));
        }
        let members = self
            .admin
            .store
            .members(self.list, Some(MemberRole::Member))
            .await?;
        let mut lines = vec![format!("Members of the {} mailing list:", self.list)];
        let mut hidden = 0;
        for m in members {
            if !staff && m.preferences.hide_address == Some(true) {
                hidden += 1;
                continue;
            }
            lines.push(format!("    {}", m.address));
        }
        if hidden > 0 {
            lines.push(format!("    ({hidden} members chose to be hidden)"));
        }
        Ok(Outcome { lines, go_on: true })
    }

    /// Whether one more confirmation for `address` fits in today's cap (a forged request
    /// cannot make the list mail one address without end). A request by `-request` mail for
    /// the sender itself is counted once, with its results mail.
    async fn confirmation_allowed(
        &self,
        address: &EmailAddress,
        third_party: bool,
    ) -> anyhow::Result<bool> {
        if !third_party && self.meta.subaddress.as_deref() == Some("request") {
            return Ok(true);
        }
        Ok(matches!(
            self.admin
                .outbox
                .allowance(self.list, address, ResponseKind::Command)
                .await?,
            Allowance::Send
        ))
    }

    /// The autoresponder for `-request` mail; true when the message is to be discarded.
    async fn autorespond(&self, queued: &mut Vec<EntryId>) -> anyhow::Result<bool> {
        use mailcast_model::settings::ResponseAction;
        let action = self.list_ctx.settings().autorespond_requests;
        if action == ResponseAction::None || self.meta.subaddress.as_deref() != Some("request") {
            return Ok(false);
        }
        if let Some(sender) = &self.sender
            && self
                .admin
                .outbox
                .may_answer(self.message, &self.meta.mail_from, sender.as_str())
        {
            let id = self.meta.id.derive("autoreply")?;
            queued.extend(
                self.admin
                    .outbox
                    .autoresponse(
                        self.list_ctx,
                        ResponseKind::Command,
                        self.message,
                        sender,
                        id,
                    )
                    .await?,
            );
        }
        Ok(action == ResponseAction::RespondAndDiscard)
    }

    /// The results mail to the sender, where an answer is allowed.
    async fn send_results(
        &self,
        results: &[String],
        unprocessed: &[String],
        ignored: &[String],
    ) -> anyhow::Result<Option<EntryId>> {
        let Some(sender) = &self.sender else {
            return Ok(None);
        };
        // `may_answer` applies RFC 3834's rules to both the message and the address.
        if !self
            .admin
            .outbox
            .may_answer(self.message, &self.meta.mail_from, sender.as_str())
        {
            info!("the sender of the commands is not answered (automatic or our own address)");
            return Ok(None);
        }
        let id = self.meta.id.derive("results")?;
        let text = commands::results::results_text(self.message, results, unprocessed, ignored);
        self.admin
            .outbox
            .command_results(self.list_ctx, self.message, sender, &text, id)
            .await
    }
}

/// Lines that are not commands: blank ones, quoted ones (`> ...`, a reply's quote of our own
/// mail), and an `Approved:` password line (never echoed back in the results).
fn skipped(line: &str) -> bool {
    let line = line.trim_start();
    let lower = line.to_ascii_lowercase();
    line.is_empty()
        || line.starts_with('>')
        || ["approved:", "approve:", "x-approved:", "x-approve:"]
            .iter()
            .any(|p| lower.starts_with(p))
}

/// A refusal as a results line that ends processing; internal failures stay errors (the
/// entry is retried).
fn refused(error: AdminError) -> anyhow::Result<Outcome> {
    match error.kind() {
        crate::admin::ErrorKind::Internal => Err(error.into()),
        _ => Ok(Outcome::stop(error.to_string())),
    }
}

async fn remove(ctx: &RunnerContext, id: &EntryId) -> anyhow::Result<()> {
    let id = id.clone();
    ctx.on_spool(move |spool| spool.remove(Stage::Command, &id))
        .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn quoted_blank_and_password_lines_are_not_commands() {
        for (line, skip) in [
            ("", true),
            ("   ", true),
            ("> confirm 0123", true),
            ("Approved: s3cret", true),
            ("approve: s3cret", true),
            ("confirm 0123", false),
            ("Re: confirm 0123", false),
            ("help", false),
        ] {
            assert_eq!(super::skipped(line), skip, "{line:?}");
        }
    }

    #[test]
    fn automatic_mail_is_recognised() {
        use mailcast_pipeline::message::Message;
        for (headers, sender, automatic) in [
            ("", "a@example.com", false),
            ("", "", true),
            ("Auto-Submitted: auto-replied\r\n", "a@example.com", true),
            ("Auto-Submitted: no\r\n", "a@example.com", false),
            ("Precedence: bulk\r\n", "a@example.com", true),
            ("Precedence: list\r\nX-Ack: yes\r\n", "a@example.com", false),
        ] {
            let raw = format!("From: a@example.com\r\n{headers}Subject: help\r\n\r\n");
            let message = Message::parse(raw.as_bytes()).unwrap();
            assert_eq!(
                super::is_automatic(&message, sender),
                automatic,
                "{headers:?} <{sender}>"
            );
        }
    }
}
