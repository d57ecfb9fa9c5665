//! One copy per recipient: personalised delivery (`personalize = individual | full`) and
//! VERP delivery render each copy from a [`Personalizer`] prepared once per post.
//!
//! [`Personalizer::new`] takes the processed post (the handlers' output, *not* decorated:
//! `ProcessOptions::decorate` was false), indexes it and decides how to decorate it, decoding
//! the body once if it will need re-encoding. [`Personalizer::render`] then only fills the
//! per-recipient placeholders of the header and footer texts (`$user_address`, `$user_name`,
//! `$member`, ...), adds them, and for `full` sets `To:` to the recipient, appending into a
//! caller-owned buffer. Nothing that does not depend on the recipient is recomputed.

use std::borrow::Cow;

use mailcast_model::settings::Personalization;

use crate::context::{ListContext, RecipientFacts};
use crate::encoded_word::{Value, mailbox};
use crate::handlers::decorate::Plan;
use crate::header_block::{HeaderBlock, ParseError};
use crate::message::Message;
use crate::rewrite::Rewrite;
use crate::template::Template;

/// A processed post prepared for per-recipient rendering.
#[derive(Debug, Clone)]
pub struct Personalizer {
    raw: Vec<u8>,
    block: HeaderBlock,
    plan: Option<Plan>,
    header: Template,
    footer: Template,
    set_to: bool,
    /// `List-Unsubscribe`'s mailto part, when the list adds RFC 2369 headers.
    leave: Option<String>,
}

impl Personalizer {
    /// Prepares `processed` (an undecorated handlers' output) for the list.
    pub fn new(processed: &[u8], list: &ListContext) -> Result<Personalizer, ParseError> {
        let message = Message::parse(processed)?;
        let header = list.compiled.header_template.clone();
        let footer = list.compiled.footer_template.clone();
        let plan = (!header.is_empty() || !footer.is_empty()).then(|| Plan::of(&message));
        Ok(Personalizer {
            block: message.block().clone(),
            raw: processed.to_vec(),
            plan,
            header,
            footer,
            set_to: list.settings().personalize == Personalization::Full,
            leave: list
                .settings()
                .include_rfc2369_headers
                .then(|| format!("<mailto:{}>", list.address().sub_address("leave"))),
        })
    }

    /// Appends the copy for `recipient` to `out`.
    pub fn render(&self, recipient: &RecipientFacts<'_>, out: &mut Vec<u8>) {
        let message = Message::from_parts(&self.raw, self.block.clone());
        let mut rewrite = Rewrite::new(&message);
        if self.set_to {
            let to = mailbox(recipient.display_name, recipient.address.original());
            rewrite.set("To", Value::Raw(&to));
        }
        let unsubscribe = match (&self.leave, recipient.one_click) {
            (Some(leave), Some(url)) => Some(format!("{leave}, <{url}>")),
            _ => None,
        };
        if let Some(unsubscribe) = &unsubscribe {
            // RFC 8058: the member's own URL, and the POST body that triggers it.
            rewrite.set("List-Unsubscribe", Value::Raw(unsubscribe));
            rewrite.set(
                "List-Unsubscribe-Post",
                Value::Raw("List-Unsubscribe=One-Click"),
            );
        }
        let body = self.plan.as_ref().and_then(|plan| {
            let lookup = |name: &str| placeholder(recipient, name);
            let header = self.header.render(lookup);
            let footer = self.footer.render(lookup);
            plan.apply(&message, &mut rewrite, &header, &footer)
        });
        out.reserve(self.raw.len() + 1024);
        rewrite.write_headers(out);
        out.extend_from_slice(body.as_deref().unwrap_or(message.body()));
    }
}

/// The value of a per-recipient placeholder, as Mailman's decorate handler defines them.
fn placeholder<'r>(recipient: &RecipientFacts<'r>, name: &str) -> Option<Cow<'r, str>> {
    let address = recipient.address;
    let name_or_address = || {
        Cow::Borrowed(
            recipient
                .display_name
                .filter(|n| !n.is_empty())
                .unwrap_or(address.original()),
        )
    };
    Some(match name {
        "member" => Cow::Owned(mailbox(recipient.display_name, address.as_str())),
        "user_email" | "user_address" => Cow::Borrowed(address.original()),
        "user_delivered_to" => Cow::Borrowed(address.original()),
        "user_language" => Cow::Borrowed(recipient.language.unwrap_or("")),
        "user_name" => Cow::Borrowed(recipient.display_name.unwrap_or("")),
        "user_name_or_address" | "user_name_or_email" => name_or_address(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::testing_list;
    use crate::handlers::{ProcessOptions, process};
    use mailcast_model::EmailAddress;

    fn personalizer(
        raw: &str,
        edit: impl FnOnce(&mut mailcast_model::settings::ListSettings),
    ) -> Personalizer {
        let list = testing_list::list(edit);
        let options = ProcessOptions {
            post_number: 1,
            decorate: false,
            anonymous_message_id: "",
            remove_dkim_headers: false,
        };
        let processed = process(raw.replace('\n', "\r\n").as_bytes(), &list, &options).unwrap();
        Personalizer::new(&processed, &list).unwrap()
    }

    fn render(p: &Personalizer, address: &str, name: Option<&str>) -> String {
        let address = EmailAddress::parse(address).unwrap();
        let mut out = Vec::new();
        p.render(
            &RecipientFacts {
                address: &address,
                display_name: name,
                language: Some("English (USA)"),
                one_click: None,
            },
            &mut out,
        );
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn footer_placeholders_are_filled_per_recipient() {
        let p = personalizer(
            "From: a@example.com\nTo: ant@example.com\nSubject: s\n\nHello\n",
            |s| {
                s.footer_text.0 =
                    "Sent to $user_address ($user_name_or_address, $user_language) via $listname\n"
                        .into();
            },
        );
        let anne = render(&p, "Anne@Example.com", Some("Anne"));
        assert!(anne.ends_with("\r\n\r\nHello\r\nSent to Anne@Example.com (Anne, English (USA)) via ant@example.com\r\n"), "{anne}");
        assert!(
            anne.contains("To: ant@example.com\r\n"),
            "individual keeps To: {anne}"
        );
        let bart = render(&p, "bart@example.com", None);
        assert!(
            bart.ends_with(
                "Sent to bart@example.com (bart@example.com, English (USA)) via ant@example.com\r\n"
            ),
            "{bart}"
        );
    }

    #[test]
    fn each_copy_carries_its_members_one_click_url() {
        let p = personalizer(
            "From: a@example.com\nTo: ant@example.com\nSubject: s\n\nHello\n",
            |_| {},
        );
        let address = EmailAddress::parse("anne@example.com").unwrap();
        let facts = |url| RecipientFacts {
            address: &address,
            display_name: None,
            language: None,
            one_click: url,
        };
        let mut out = Vec::new();
        p.render(&facts(Some("https://lists.example.com/u/ANNE")), &mut out);
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("List-Unsubscribe: <mailto:ant-leave@example.com>,\r\n <https://lists.example.com/u/ANNE>\r\n"), "{out}");
        assert!(
            out.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"),
            "{out}"
        );
        assert_eq!(out.matches("List-Unsubscribe:").count(), 1, "{out}");
        let mut plain = Vec::new();
        p.render(&facts(None), &mut plain);
        let plain = String::from_utf8(plain).unwrap();
        assert!(
            plain.contains("List-Unsubscribe: <mailto:ant-leave@example.com>\r\n")
                && !plain.contains("List-Unsubscribe-Post"),
            "{plain}"
        );
        let off = personalizer("From: a@example.com\nSubject: s\n\nHello\n", |s| {
            s.include_rfc2369_headers = false
        });
        let mut none = Vec::new();
        off.render(&facts(Some("https://lists.example.com/u/ANNE")), &mut none);
        assert!(
            !String::from_utf8(none)
                .unwrap()
                .contains("List-Unsubscribe"),
            "include_rfc2369_headers off"
        );
    }

    #[test]
    fn full_personalisation_sets_to() {
        let p = personalizer(
            "From: a@example.com\nTo: ant@example.com\nSubject: s\n\nHello\n",
            |s| s.personalize = Personalization::Full,
        );
        let out = render(&p, "zoe@example.com", Some("Zoë Z"));
        assert!(
            out.contains("To: =?utf-8?B?Wm/DqyBa?= <zoe@example.com>\r\n"),
            "{out}"
        );
        assert!(out.contains("Cc: ant@example.com\r\n"), "{out}");
        assert!(out.ends_with("\r\n\r\nHello\r\n"), "{out}");
    }

    #[test]
    fn non_personal_footer_and_non_ascii_names_in_latin1_parts() {
        let p = personalizer(
            "From: a@example.com\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nCaf=E9\n",
            |s| s.footer_text.0 = "Bye $user_name\n".into(),
        );
        let latin = render(&p, "a@example.com", Some("Jörg"));
        assert!(
            latin.ends_with("\r\n\r\nCaf=E9\r\nBye J=F6rg\r\n"),
            "{latin}"
        );
        let other = render(&p, "b@example.com", Some("Ζωή"));
        assert!(other.contains("charset=\"utf-8\""), "{other}");
        assert!(
            other.ends_with("Caf=C3=A9\r\nBye =CE=96=CF=89=CE=AE\r\n"),
            "{other}"
        );
    }
}
