//! Who may get an automatic answer, and how many a day.
//!
//! RFC 3834 §2, and Mailman's `can_acknowledge`: never the null sender, never a message
//! marked `Auto-Submitted` (other than `no`), `Precedence: bulk | junk | list` or carrying a
//! `List-Id` (list traffic), and never an address that looks automatic (`MAILER-DAEMON`,
//! `owner-*`, `*-request`, `*-bounces`) or is one of our own list addresses. Answers to
//! posters go out from the null sender or `-bounces` (RFC 3834 §3.3), so that they cannot
//! start a loop.
//!
//! The daily cap is Mailman's `max_autoresponses_per_day` (`[site]`): per address, list and
//! kind of answer, counted in the store so that every node sees the same count. Up to the cap
//! an answer goes out; the first one over it is replaced by one "no more today" notice; the
//! rest of the day is silent. mailcast applies the cap to command results too (Mailman only
//! to hold notices), so that a forged sender cannot make a list mail one victim without end.

use jiff::Timestamp;
use mailcast_model::EmailAddress;
use mailcast_model::ListAddress;
use mailcast_pipeline::message::Message;
use mailcast_store::ResponseKind;

use super::Outbox;

/// What the daily cap allows for one more answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowance {
    /// Send the answer.
    Send,
    /// Send the "no more today" notice instead; `count` answers were asked for today.
    LastToday {
        /// Answers asked for today, this one included.
        count: u64,
    },
    /// Send nothing.
    Silent,
}

impl Outbox {
    /// Whether an automatic answer to `message` may go to `address` (see the module docs).
    pub fn may_answer(&self, message: &Message<'_>, envelope_sender: &str, address: &str) -> bool {
        may_answer_message(message, envelope_sender)
            && may_answer_address(address, |a| self.is_list_address(a))
    }

    /// Counts one more answer of `kind` to `address` on `list` today and says what the cap
    /// allows.
    pub async fn allowance(
        &self,
        list: &ListAddress,
        address: &EmailAddress,
        kind: ResponseKind,
    ) -> anyhow::Result<Allowance> {
        let today = today_utc();
        let count = self
            .store
            .note_autoresponse(list, address, kind, today)
            .await?;
        Ok(cap(self.max_autoresponses_per_day, count))
    }
}

/// Today's date in UTC (Mailman's `date_sent` of autoresponse records).
pub fn today_utc() -> jiff::civil::Date {
    jiff::tz::Offset::UTC.to_datetime(Timestamp::now()).date()
}

/// The cap's verdict for the `count`-th answer of a day under `max` (0: no cap).
fn cap(max: u64, count: u64) -> Allowance {
    if max == 0 || count <= max {
        Allowance::Send
    } else if count == max + 1 {
        Allowance::LastToday { count }
    } else {
        Allowance::Silent
    }
}

/// RFC 3834's rules about the message: not from the null sender, not automatic, not list
/// traffic.
fn may_answer_message(message: &Message<'_>, envelope_sender: &str) -> bool {
    let value = |name: &str| message.text(name).map(|v| v.trim().to_ascii_lowercase());
    !envelope_sender.trim().is_empty()
        && matches!(value("Auto-Submitted").as_deref(), None | Some("no"))
        && !matches!(
            value("Precedence").as_deref(),
            Some("bulk" | "junk" | "list")
        )
        && !message.has("List-Id")
}

/// RFC 3834's rules about the address: a real, non-automatic mailbox that is not one of our
/// lists (`is_list`).
fn may_answer_address(poster: &str, is_list: impl Fn(&str) -> bool) -> bool {
    let Ok(address) = EmailAddress::parse(poster) else {
        return false;
    };
    let local = address.local_part();
    !(local == "mailer-daemon"
        || local.starts_with("owner-")
        || local.ends_with("-request")
        || local.ends_with("-bounces")
        || local.contains("-bounces+")
        || is_list(address.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_allows_max_then_one_last_notice_then_silence() {
        let verdicts: Vec<Allowance> = (1..=5).map(|n| cap(3, n)).collect();
        assert_eq!(
            verdicts,
            [
                Allowance::Send,
                Allowance::Send,
                Allowance::Send,
                Allowance::LastToday { count: 4 },
                Allowance::Silent
            ]
        );
        assert_eq!(cap(0, 1_000), Allowance::Send);
    }

    #[test]
    fn automatic_and_list_mail_is_not_answered() {
        for (headers, sender, answer) in [
            ("", "anne@example.com", true),
            ("", "", false),
            (
                "Auto-Submitted: auto-replied\r\n",
                "anne@example.com",
                false,
            ),
            ("Auto-Submitted: No\r\n", "anne@example.com", true),
            ("Precedence: Bulk\r\n", "anne@example.com", false),
            ("Precedence: first-class\r\n", "anne@example.com", true),
            (
                "List-Id: <other.example.org>\r\n",
                "anne@example.com",
                false,
            ),
        ] {
            let raw = format!("From: anne@example.com\r\n{headers}Subject: x\r\n\r\nbody\r\n");
            let message = Message::parse(raw.as_bytes()).unwrap();
            assert_eq!(
                may_answer_message(&message, sender),
                answer,
                "{headers:?} <{sender}>"
            );
        }
    }

    #[test]
    fn automatic_addresses_and_our_lists_are_not_answered() {
        let ours = |a: &str| a == "ant@lists.example.org";
        for (poster, answer) in [
            ("anne@example.com", true),
            ("Anne.Lee@Example.com", true),
            ("MAILER-DAEMON@example.com", false),
            ("owner-foo@example.com", false),
            ("foo-request@example.com", false),
            ("foo-bounces+x=y@example.com", false),
            ("ant@lists.example.org", false),
            ("not an address", false),
        ] {
            assert_eq!(may_answer_address(poster, ours), answer, "{poster}");
        }
    }
}
