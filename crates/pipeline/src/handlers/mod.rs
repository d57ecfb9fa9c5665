//! The handlers an accepted post goes through, in Mailman's order (mailman3.md §5.3):
//!
//! ```text
//!  mime_delete     content filtering (filter_content): run first and on its own, mime_delete::run
//!  cleanse         remove approval, receipt-request and Archived-At headers; anonymise
//!  cook_headers    Precedence, X-BeenThere, Reply-To munging (and Cc for full personalisation)
//!  subject_prefix  the list's prefix on the Subject, once, with Re: handling
//!  rfc_2369        List-Id and the List-* headers, List-Archive and Archived-At
//!                  (archives and digests take the post here)
//!  dmarc           DMARC mitigation of the members' copy: munge From or wrap the post
//!  decorate        header and footer texts around the body (MIME-aware)
//! ```
//!
//! Content filtering comes first, as Mailman's `mime-delete` does, but on its own
//! ([`mime_delete::run`], called by the daemon before [`process_parts`]): it can take the whole
//! post away, and a post filtered away takes no post number. The next four share the same shape, `fn run(ctx: &HandlerContext<'_>, rewrite: &mut
//! Rewrite<'_>)`, and only edit header fields, so the body bytes pass through untouched.
//! Decoration changes the body and runs last; it is skipped when the outbound runner renders
//! one copy per recipient with [`crate::personalize::Personalizer`]. Recipient calculation,
//! archiving, digests and delivery are the daemon's (they need the store and the spool).

pub mod cleanse;
pub mod cook_headers;
pub mod decorate;
pub mod dmarc;
pub mod mime_delete;
pub mod rfc_2369;
pub mod subject_prefix;

use crate::context::ListContext;
use crate::header_block::ParseError;
use crate::message::Message;
use crate::rewrite::Rewrite;

/// What the handlers need besides the post and the list.
#[derive(Debug, Clone, Copy)]
pub struct ProcessOptions<'a> {
    /// The list's post number for this post (Mailman's `post_id`), for `%d` in the prefix.
    pub post_number: u64,
    /// Whether to decorate now; `false` when the outbound runner renders one copy per
    /// recipient (personalised or VERP delivery), which decorates each copy itself.
    pub decorate: bool,
    /// The Message-ID an anonymous list gives the post (unused otherwise).
    pub anonymous_message_id: &'a str,
    /// The site's `[mta] remove_dkim_headers` (Mailman's cleanse-dkim): drop the poster's
    /// DKIM, DomainKey, Authentication-Results and ARC headers.
    pub remove_dkim_headers: bool,
}

/// The inputs of a header handler.
#[derive(Debug, Clone, Copy)]
pub struct HandlerContext<'a> {
    /// The post as it entered the handlers.
    pub message: &'a Message<'a>,
    /// The list.
    pub list: &'a ListContext,
    /// The options of this run.
    pub options: &'a ProcessOptions<'a>,
    /// Whether the message is a digest (Mailman's `isdigest`): no `Archived-At`.
    pub is_digest: bool,
}

/// Runs the handlers over an accepted post and returns the message to distribute.
pub fn process(
    raw: &[u8],
    list: &ListContext,
    options: &ProcessOptions<'_>,
) -> Result<Vec<u8>, ParseError> {
    Ok(process_parts(raw, list, options)?.distributed())
}

/// What the handlers make of a post: the message after the header handlers (what Mailman
/// archives and puts in digests: prefixed, cleansed, with the List-* headers, without the
/// footer), the members' copy when DMARC mitigation changed it and, when decorating now, the
/// decorated members' copy to distribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    /// After the header handlers.
    pub headed: Vec<u8>,
    /// The members' copy munged or wrapped by [`dmarc`], when it was.
    pub mitigated: Option<Vec<u8>>,
    /// The members' copy with header and footer texts, when `options.decorate` (and
    /// decoration applied).
    pub decorated: Option<Vec<u8>>,
}

impl Processed {
    /// The message to distribute to the members.
    pub fn distributed(self) -> Vec<u8> {
        self.decorated.or(self.mitigated).unwrap_or(self.headed)
    }
}

/// Runs the handlers over an accepted post; see [`Processed`].
pub fn process_parts(
    raw: &[u8],
    list: &ListContext,
    options: &ProcessOptions<'_>,
) -> Result<Processed, ParseError> {
    process_for_members(raw, list, options, None)
}

/// Runs the handlers over an accepted post, with the DMARC mitigation of the members' copy
/// (between the header handlers and decoration) when `dmarc` is given; see [`Processed`].
pub fn process_for_members(
    raw: &[u8],
    list: &ListContext,
    options: &ProcessOptions<'_>,
    dmarc: Option<&dmarc::Mitigation<'_>>,
) -> Result<Processed, ParseError> {
    let message = Message::parse(raw)?;
    let ctx = HandlerContext {
        message: &message,
        list,
        options,
        is_digest: false,
    };
    let mut rewrite = Rewrite::new(&message);
    cleanse::run(&ctx, &mut rewrite);
    cook_headers::run(&ctx, &mut rewrite);
    subject_prefix::run(&ctx, &mut rewrite);
    rfc_2369::run(&ctx, &mut rewrite);
    let headed = rewrite.finish();
    let mitigated = match dmarc {
        Some(mitigation) => dmarc::apply(&Message::parse(&headed)?, list, mitigation),
        None => None,
    };
    if !options.decorate {
        return Ok(Processed {
            headed,
            mitigated,
            decorated: None,
        });
    }
    let message = Message::parse(mitigated.as_deref().unwrap_or(&headed))?;
    let decorated = decorate::decorate(&message, list);
    Ok(Processed {
        headed,
        mitigated,
        decorated,
    })
}

/// Mailman's "virgin" pipeline for a mail the list writes itself and sends to its members (a
/// digest): `cook_headers` and `rfc_2369` only, no subject prefix, no decoration.
pub fn virgin(raw: &[u8], list: &ListContext) -> Result<Vec<u8>, ParseError> {
    let message = Message::parse(raw)?;
    let options = ProcessOptions {
        post_number: 0,
        decorate: false,
        anonymous_message_id: "",
        remove_dkim_headers: false,
    };
    let ctx = HandlerContext {
        message: &message,
        list,
        options: &options,
        // The archive hook: a digest gets List-Archive but never Archived-At.
        is_digest: true,
    };
    let mut rewrite = Rewrite::new(&message);
    cook_headers::run(&ctx, &mut rewrite);
    rfc_2369::run(&ctx, &mut rewrite);
    Ok(rewrite.finish())
}

/// Running the handlers in tests over the list `ant@example.com`.
#[cfg(test)]
pub(crate) mod testing_list {
    use mailcast_model::ListAddress;
    use mailcast_model::settings::ListSettings;

    use super::{ProcessOptions, process as run};
    use crate::context::{ListContext, SiteFacts};

    /// The list with Mailman's defaults, no footer, and `edit` applied.
    pub(crate) fn list(edit: impl FnOnce(&mut ListSettings)) -> ListContext {
        let address = ListAddress::parse("ant@example.com").expect("a valid list address");
        let mut settings = ListSettings::defaults_for(&address);
        settings.footer_text.0.clear();
        edit(&mut settings);
        ListContext::new(address, settings, SiteFacts::default())
    }

    /// Processes `text` (written with `\n`, sent with `\r\n`) as post number 7.
    pub(crate) fn process(text: &str, edit: impl FnOnce(&mut ListSettings)) -> String {
        let raw = text.replace('\n', "\r\n");
        let options = ProcessOptions {
            post_number: 7,
            decorate: true,
            anonymous_message_id: "anon.1@example.com",
            remove_dkim_headers: false,
        };
        let out = run(raw.as_bytes(), &list(edit), &options).expect("test posts parse");
        String::from_utf8(out).expect("test posts are UTF-8")
    }
}
