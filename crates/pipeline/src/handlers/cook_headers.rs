//! `cook_headers`: `Precedence: list` when the post has no Precedence, `X-BeenThere: <posting
//! address>` (the loop marker), and Reply-To munging per `reply_goes_to_list`:
//!
//! - `explicit_header` / `explicit_header_only`: `reply_to_address` first;
//! - the poster's own Reply-To addresses next, unless `first_strip_reply_to`;
//! - `point_to_list`: the posting address (named by the list's description) last.
//!
//! Addresses are de-duplicated and written as one Reply-To. When the result is exactly the
//! poster's single Reply-To field, that field is left untouched (Mailman rewrites it anyway;
//! keeping it preserves the poster's DKIM signature). With `personalize = full` and no
//! `point_to_list`, the posting address is added to Cc (unless `explicit_header_only` or an
//! anonymous list) so members who get a personal `To:` can still reply to the list.

use mailcast_model::settings::{Personalization, ReplyToMunging};

use super::HandlerContext;
use crate::encoded_word::{Value, mailbox};
use crate::message::{Addressee, parse_addresses};
use crate::rewrite::Rewrite;

/// Runs the handler.
pub fn run(ctx: &HandlerContext<'_>, rewrite: &mut Rewrite<'_>) {
    let settings = ctx.list.settings();
    let posting = ctx.list.address().posting_address();
    if !rewrite.has("Precedence") {
        rewrite.append("Precedence", Value::Raw("list"));
    }
    rewrite.append("X-BeenThere", Value::Raw(&posting));

    let mode = settings.reply_goes_to_list;
    let description = settings.description.0.trim();
    let named = |email: &str| Addressee {
        name: (!description.is_empty()).then(|| description.to_string()),
        email: email.to_string(),
    };
    let original: Vec<Addressee> = rewrite
        .raw_values("Reply-To")
        .into_iter()
        .flat_map(parse_addresses)
        .collect();
    let mut wanted: Vec<Addressee> = Vec::new();
    if matches!(
        mode,
        ReplyToMunging::ExplicitHeader | ReplyToMunging::ExplicitHeaderOnly
    ) {
        wanted.extend(parse_addresses(settings.reply_to_address.0.as_bytes()));
    }
    if !settings.first_strip_reply_to {
        wanted.extend(original.iter().cloned());
    }
    if mode == ReplyToMunging::PointToList {
        wanted.push(named(&posting));
    }
    let wanted = dedup(wanted);
    let unchanged = wanted == original && rewrite.raw_values("Reply-To").len() <= 1;
    if !unchanged {
        rewrite.remove("Reply-To");
        if !wanted.is_empty() {
            rewrite.append("Reply-To", Value::Raw(&join(&wanted)));
        }
    }

    if settings.personalize == Personalization::Full
        && mode != ReplyToMunging::PointToList
        && !settings.anonymous_list
    {
        let mut cc: Vec<Addressee> = rewrite
            .raw_values("Cc")
            .into_iter()
            .flat_map(parse_addresses)
            .collect();
        if mode != ReplyToMunging::ExplicitHeaderOnly {
            cc.push(named(&posting));
        }
        let cc = dedup(cc);
        rewrite.remove("Cc");
        if !cc.is_empty() {
            rewrite.append("Cc", Value::Raw(&join(&cc)));
        }
    }
}

fn dedup(addresses: Vec<Addressee>) -> Vec<Addressee> {
    let mut out: Vec<Addressee> = Vec::with_capacity(addresses.len());
    for a in addresses {
        if !out.iter().any(|o| o.email == a.email) {
            out.push(a);
        }
    }
    out
}

fn join(addresses: &[Addressee]) -> String {
    addresses
        .iter()
        .map(|a| mailbox(a.name.as_deref(), &a.email))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use crate::handlers::testing_list::process;
    use mailcast_model::settings::{Personalization, ReplyToMunging};

    const POST: &str =
        "From: anne@example.com\nReply-To: Anne <anne@home.example>\nSubject: s\n\nbody\n";

    fn reply_to(out: &str) -> Vec<&str> {
        out.split("\r\n")
            .filter_map(|l| l.strip_prefix("Reply-To: "))
            .collect()
    }

    #[test]
    fn precedence_and_been_there() {
        let out = process("From: a@example.com\n\nb\n", |s| s.subject_prefix.0.clear());
        assert!(
            out.contains("Precedence: list\r\nX-BeenThere: ant@example.com\r\n"),
            "{out}"
        );
        let out = process("From: a@example.com\nPrecedence: bulk\n\nb\n", |_| {});
        assert!(
            out.contains("Precedence: bulk\r\n") && !out.contains("Precedence: list"),
            "{out}"
        );
    }

    #[test]
    fn reply_to_munging_table() {
        type Case = (ReplyToMunging, bool, &'static str, Vec<&'static str>);
        let cases: Vec<Case> = vec![
            (
                ReplyToMunging::NoMunging,
                false,
                "",
                vec!["Reply-To: Anne <anne@home.example>"],
            ),
            (ReplyToMunging::NoMunging, true, "", vec![]),
            (
                ReplyToMunging::PointToList,
                false,
                "",
                vec!["Anne <anne@home.example>, Ant talk <ant@example.com>"],
            ),
            (
                ReplyToMunging::PointToList,
                true,
                "",
                vec!["Ant talk <ant@example.com>"],
            ),
            (
                ReplyToMunging::ExplicitHeader,
                false,
                "Sink <sink@example.com>",
                vec!["Sink <sink@example.com>, Anne <anne@home.example>"],
            ),
            (
                ReplyToMunging::ExplicitHeaderOnly,
                true,
                "sink@example.com",
                vec!["sink@example.com"],
            ),
        ];
        for (mode, strip, address, want) in cases {
            let out = process(POST, |s| {
                s.reply_goes_to_list = mode;
                s.first_strip_reply_to = strip;
                s.reply_to_address.0 = address.into();
                s.description.0 = "Ant talk".into();
            });
            if mode == ReplyToMunging::NoMunging && !strip {
                // Untouched, in its original position.
                assert!(
                    out.contains(
                        "From: anne@example.com\r\nReply-To: Anne <anne@home.example>\r\nSubject:"
                    ),
                    "{out}"
                );
            } else {
                assert_eq!(reply_to(&out), want, "{mode:?} strip={strip}: {out}");
            }
        }
    }

    #[test]
    fn full_personalisation_puts_the_list_in_cc() {
        let out = process("From: a@example.com\nCc: b@example.com\n\nbody\n", |s| {
            s.personalize = Personalization::Full
        });
        assert!(
            out.contains("Cc: b@example.com, ant@example.com\r\n"),
            "{out}"
        );
        let out = process("From: a@example.com\n\nbody\n", |s| {
            s.personalize = Personalization::Full;
            s.reply_goes_to_list = ReplyToMunging::PointToList;
        });
        assert!(!out.contains("Cc:"), "{out}");
    }
}
