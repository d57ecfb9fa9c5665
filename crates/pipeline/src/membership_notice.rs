//! The texts of the mails around membership and automatic replies, as Mailman 3.3.10 writes
//! them: subject, body (a named template, possibly overridden, expanded and wrapped as
//! Mailman does for that mail), the sender address and the extra header fields.
//!
//! Covered: confirmation requests (subscribe, unsubscribe, invite), welcome and goodbye, the
//! owners' subscribe / unsubscribe notices and approval requests, autoresponses, the "no more
//! today" notice, post acknowledgements, and mailcast's own notices of a held post discarded
//! after `max_days_to_hold` days. Deciding whether to send one (policies, the daily cap, the
//! grace period) and to whom is the daemon's; [`Notice::mail`] gives the mail to
//! [`crate::generated::build`].

use crate::context::ListContext;
use crate::encoded_word::mailbox;
use crate::generated::{AutoSubmitted, GeneratedMail, Mailbox};
use crate::pytext::splitlines;
use crate::templates::{Overrides, expand, wrap};

/// Mailman wraps notice texts to this many columns.
pub(crate) const COLUMNS: usize = 70;

/// A generated mail's contents, without its recipients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The `From` address (Mailman's sender for this notice).
    pub from: String,
    /// The Subject.
    pub subject: String,
    /// The body text.
    pub text: String,
    /// `Auto-Submitted`.
    pub auto_submitted: AutoSubmitted,
    /// Header fields Mailman adds to this notice.
    pub extra_headers: Vec<(&'static str, String)>,
}

impl Notice {
    /// The mail to `to`, ready for [`crate::generated::build`].
    pub fn mail<'a>(&'a self, to: Vec<Mailbox<'a>>) -> GeneratedMail<'a> {
        GeneratedMail {
            auto_submitted: self.auto_submitted,
            extra_headers: self.extra_headers.clone(),
            ..GeneratedMail::new(Mailbox::bare(&self.from), to, &self.subject, &self.text)
        }
    }

    pub(crate) fn new(from: String, subject: String, text: String) -> Notice {
        Notice {
            from,
            subject,
            text,
            auto_submitted: AutoSubmitted::Generated,
            extra_headers: Vec::new(),
        }
    }
}

/// What a confirmation request asks to confirm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// Joining the list (`list:user:action:subscribe`).
    Subscribe,
    /// Leaving the list (`list:user:action:unsubscribe`).
    Unsubscribe,
    /// Accepting an invitation (`list:user:action:invite`).
    Invite,
}

/// A membership change the moderators must approve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// A subscription (`list:admin:action:subscribe`).
    Subscription,
    /// An unsubscription (`list:admin:action:unsubscribe`).
    Unsubscription,
}

/// Which of the list's autoresponse texts answers a mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Autoresponse {
    /// Mail to `-owner` (`autoresponse_owner_text`).
    Owner,
    /// A post (`autoresponse_postings_text`).
    Postings,
    /// Mail to `-request` (`autoresponse_request_text`).
    Request,
}

/// The address replies to a confirmation go to: `<list>-confirm+<token>@<domain>` (Mailman's
/// `verp_confirm_format`).
pub fn confirmation_address(list: &ListContext, token: &str) -> String {
    let address = list.address();
    format!("{}-confirm+{token}@{}", address.name(), address.domain())
}

/// A confirmation request to `user_email`. With `verp_confirmations` (Mailman's default) it
/// comes from [`confirmation_address`] with Mailman's long subject; without, from `-request`
/// with the subject `confirm <token>`. Not wrapped, no `Precedence`, as in Mailman.
pub fn confirmation_request(
    list: &ListContext,
    overrides: &Overrides,
    kind: Confirmation,
    user_email: &str,
    token: &str,
    verp_confirmations: bool,
) -> Notice {
    let listname = list.address().posting_address();
    let (template, subject) = match kind {
        Confirmation::Subscribe => (
            "list:user:action:subscribe",
            format!("Your confirmation is needed to join the {listname} mailing list."),
        ),
        Confirmation::Unsubscribe => (
            "list:user:action:unsubscribe",
            format!("Your confirmation is needed to leave the {listname} mailing list."),
        ),
        Confirmation::Invite => (
            "list:user:action:invite",
            format!("You have been invited to join the {listname} mailing list."),
        ),
    };
    let confirm = confirmation_address(list, token);
    let owner = list.address().sub_address("owner");
    let text = expand(
        overrides.text(template),
        list,
        &[
            ("token", token.to_string()),
            ("subject", subject.clone()),
            ("confirm_email", confirm.clone()),
            ("user_email", user_email.to_string()),
            ("confirm_address", confirm.clone()),
            ("email_address", user_email.to_string()),
            ("domain_name", list.address().domain().to_string()),
            ("contact_address", owner),
        ],
    );
    if verp_confirmations {
        Notice::new(confirm, subject, text)
    } else {
        let request = list.address().sub_address("request");
        Notice::new(request, format!("confirm {token}"), text)
    }
}

/// The welcome message to a new member (`list:user:notice:welcome`, wrapped before it is
/// expanded, as Mailman does), from `-request`, marked `X-No-Archive: yes`.
pub fn welcome(
    list: &ListContext,
    overrides: &Overrides,
    member_name: Option<&str>,
    member_email: &str,
    digest: bool,
) -> Notice {
    let address = list.address();
    let text = expand(
        &wrap(overrides.text("list:user:notice:welcome"), COLUMNS),
        list,
        &[
            ("user_name", member_name.unwrap_or_default().to_string()),
            ("user_email", member_email.to_string()),
            ("user_address", member_email.to_string()),
            ("fqdn_listname", address.posting_address()),
            ("list_name", list.display_name().to_string()),
            ("list_requests", address.sub_address("request")),
        ],
    );
    let subject = format!(
        "Welcome to the \"{}\" mailing list{}",
        list.display_name(),
        if digest { " (Digest mode)" } else { "" }
    );
    let mut notice = Notice::new(address.sub_address("request"), subject, text);
    notice
        .extra_headers
        .push(("X-No-Archive", "yes".to_string()));
    notice
}

/// The goodbye message to a former member (`list:user:notice:goodbye`, empty by default),
/// from `-bounces`.
pub fn goodbye(list: &ListContext, overrides: &Overrides, email: &str) -> Notice {
    let address = list.address();
    let text = wrap(
        &expand(
            overrides.text("list:user:notice:goodbye"),
            list,
            &[
                ("user_email", email.to_string()),
                ("user_address", email.to_string()),
                ("fqdn_listname", address.posting_address()),
                ("list_name", list.display_name().to_string()),
                ("list_requests", address.sub_address("request")),
            ],
        ),
        COLUMNS,
    );
    let subject = format!(
        "You have been unsubscribed from the {} mailing list",
        list.display_name()
    );
    Notice::new(address.sub_address("bounces"), subject, text)
}

/// The owners' notice that someone joined (`list:admin:notice:subscribe`), from the site
/// owner, for the list's `-owner` address (`admin_notify_mchanges`).
pub fn owner_subscribed(
    list: &ListContext,
    overrides: &Overrides,
    member_name: Option<&str>,
    member_email: &str,
) -> Notice {
    owner_membership_notice(
        list,
        overrides,
        "list:admin:notice:subscribe",
        format!("{} subscription notification", list.display_name()),
        &person(member_name, member_email),
    )
}

/// The owners' notice that someone left (`list:admin:notice:unsubscribe`).
pub fn owner_unsubscribed(
    list: &ListContext,
    overrides: &Overrides,
    member_name: Option<&str>,
    member_email: &str,
) -> Notice {
    owner_membership_notice(
        list,
        overrides,
        "list:admin:notice:unsubscribe",
        format!("{} unsubscription notification", list.display_name()),
        &person(member_name, member_email),
    )
}

fn owner_membership_notice(
    list: &ListContext,
    overrides: &Overrides,
    template: &str,
    subject: String,
    member: &str,
) -> Notice {
    let text = expand(
        overrides.text(template),
        list,
        &[("member", member.to_string())],
    );
    Notice::new(list.site().site_email.clone(), subject, text)
}

/// The moderators' request to approve a (un)subscription (`list:admin:action:*`), from and
/// for `-owner` (`admin_immed_notify`). Mailman's template names no token: mailcast's adds
/// `$token` and the `confirm` command that approves (`$request_email`).
pub fn moderator_approval(
    list: &ListContext,
    overrides: &Overrides,
    request: Request,
    member_name: Option<&str>,
    member_email: &str,
    token: &str,
) -> Notice {
    let (template, what) = match request {
        Request::Subscription => ("list:admin:action:subscribe", "subscription"),
        Request::Unsubscription => ("list:admin:action:unsubscribe", "unsubscription"),
    };
    let member = match member_name.filter(|n| !n.is_empty()) {
        Some(name) => format!("{name} <{member_email}>"),
        None => member_email.to_string(),
    };
    let text = wrap(
        &expand(
            overrides.text(template),
            list,
            &[("member", member), ("token", token.to_string())],
        ),
        COLUMNS,
    );
    let subject = format!(
        "New {what} request to {} from {member_email}",
        list.display_name()
    );
    Notice::new(list.address().sub_address("owner"), subject, text)
}

/// The list's autoresponse (`autoresponse_*_text` expanded and wrapped), from `-bounces`,
/// `auto-replied`, with `X-Ack: No` against loops.
pub fn autoresponse(list: &ListContext, which: Autoresponse) -> Notice {
    let settings = list.settings();
    let response = match which {
        Autoresponse::Owner => &settings.autoresponse_owner_text.0,
        Autoresponse::Postings => &settings.autoresponse_postings_text.0,
        Autoresponse::Request => &settings.autoresponse_request_text.0,
    };
    let address = list.address();
    let text = wrap(
        &expand(
            response,
            list,
            &[
                ("list_name", address.name().to_string()),
                ("display_name", list.display_name().to_string()),
                ("requestemail", address.sub_address("request")),
                ("owneremail", address.sub_address("owner")),
            ],
        ),
        COLUMNS,
    );
    let subject = format!(
        "Auto-response for your message to the \"{}\" mailing list",
        list.display_name()
    );
    let mut notice = Notice::new(address.sub_address("bounces"), subject, text);
    notice.auto_submitted = AutoSubmitted::Replied;
    notice.extra_headers = vec![
        ("X-Mailer", "The mailcast Replybot".to_string()),
        ("X-Ack", "No".to_string()),
    ];
    notice
}

/// The last automatic reply of the day to `sender_email` (`list:user:notice:no-more-today`),
/// sent instead of the reply that reached `[mta] max_autoresponses_per_day`; from `-owner`.
pub fn no_more_today(
    list: &ListContext,
    overrides: &Overrides,
    sender_email: &str,
    count: u32,
) -> Notice {
    let owner = list.address().sub_address("owner");
    let text = wrap(
        &expand(
            overrides.text("list:user:notice:no-more-today"),
            list,
            &[
                ("count", count.to_string()),
                ("sender_email", sender_email.to_string()),
                ("sender", sender_email.to_string()),
                ("owneremail", owner.clone()),
            ],
        ),
        COLUMNS,
    );
    Notice::new(
        owner,
        "Last autoresponse notification for today".to_string(),
        text,
    )
}

/// The acknowledgement of an accepted post (`list:user:notice:post`) to a member who asked
/// for one; `original_subject` is the post's decoded Subject before the list prefix.
pub fn post_acknowledgement(
    list: &ListContext,
    overrides: &Overrides,
    original_subject: Option<&str>,
) -> Notice {
    let text = expand(
        overrides.text("list:user:notice:post"),
        list,
        &[
            (
                "subject",
                one_line(original_subject.unwrap_or("(no subject)")),
            ),
            ("list_name", list.address().name().to_string()),
        ],
    );
    let subject = format!("{} post acknowledgment", list.display_name());
    Notice::new(list.address().sub_address("bounces"), subject, text)
}

/// mailcast's notice to the poster that a held post was discarded after `days` days without
/// a decision (`list:user:notice:held-expired`), from `-bounces` like the held notice.
pub fn held_expired_for_poster(
    list: &ListContext,
    overrides: &Overrides,
    original_subject: Option<&str>,
    days: u32,
) -> Notice {
    let listname = list.address().posting_address();
    let text = wrap(
        &expand(
            overrides.text("list:user:notice:held-expired"),
            list,
            &[
                (
                    "subject",
                    one_line(original_subject.unwrap_or("(no subject)")),
                ),
                ("days", days.to_string()),
            ],
        ),
        COLUMNS,
    );
    let subject = format!("Your held message to {listname} was discarded");
    Notice::new(list.address().sub_address("bounces"), subject, text)
}

/// mailcast's notice to the moderators that a held post from `sender_email` was discarded
/// after `days` days (`list:admin:notice:held-expired`), from and for `-owner`.
pub fn held_expired_for_moderators(
    list: &ListContext,
    overrides: &Overrides,
    sender_email: &str,
    original_subject: Option<&str>,
    days: u32,
) -> Notice {
    let listname = list.address().posting_address();
    let text = wrap(
        &expand(
            overrides.text("list:admin:notice:held-expired"),
            list,
            &[
                ("sender_email", sender_email.to_string()),
                (
                    "subject",
                    one_line(original_subject.unwrap_or("(no subject)")),
                ),
                ("days", days.to_string()),
            ],
        ),
        COLUMNS,
    );
    let subject = format!("{listname}: a held post from {sender_email} was discarded");
    Notice::new(list.address().sub_address("owner"), subject, text)
}

/// Mailman's `oneline`: the lines of a header value joined without separators.
fn one_line(value: &str) -> String {
    splitlines(value, false).concat()
}

/// `Name <address>` for a notice body: quoted like `formataddr` when the name has specials,
/// but never RFC 2047 encoded (Mailman encodes non-ASCII names even in bodies).
pub(crate) fn person(name: Option<&str>, email: &str) -> String {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) if !name.is_ascii() => format!("{name} <{email}>"),
        name => mailbox(name, email),
    }
}
