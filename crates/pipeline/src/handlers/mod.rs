//! The handlers an accepted post goes through, in Mailman's order (mailman3.md §5.3):
//!
//! ```text
//!  cleanse         remove approval, receipt-request and Archived-At headers; anonymise
//!  cook_headers    Precedence, X-BeenThere, Reply-To munging (and Cc for full personalisation)
//!  subject_prefix  the list's prefix on the Subject, once, with Re: handling
//!  rfc_2369        List-Id and the List-* headers
//!  decorate        header and footer texts around the body (MIME-aware)
//! ```
//!
//! The first four share the same shape, `fn run(ctx: &HandlerContext<'_>, rewrite: &mut
//! Rewrite<'_>)`, and only edit header fields, so the body bytes pass through untouched.
//! Decoration changes the body and runs last; it is skipped when the outbound runner renders
//! one copy per recipient with [`crate::personalize::Personalizer`]. Recipient calculation,
//! archiving, digests and delivery are the daemon's (they need the store and the spool).

pub mod cleanse;
pub mod cook_headers;
pub mod decorate;
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
}

/// Runs the handlers over an accepted post and returns the message to distribute.
pub fn process(
    raw: &[u8],
    list: &ListContext,
    options: &ProcessOptions<'_>,
) -> Result<Vec<u8>, ParseError> {
    let message = Message::parse(raw)?;
    let ctx = HandlerContext {
        message: &message,
        list,
        options,
    };
    let mut rewrite = Rewrite::new(&message);
    cleanse::run(&ctx, &mut rewrite);
    cook_headers::run(&ctx, &mut rewrite);
    subject_prefix::run(&ctx, &mut rewrite);
    rfc_2369::run(&ctx, &mut rewrite);
    let headed = rewrite.finish();
    if !options.decorate {
        return Ok(headed);
    }
    let message = Message::parse(&headed)?;
    Ok(decorate::decorate(&message, list).unwrap_or(headed))
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
        };
        let out = run(raw.as_bytes(), &list(edit), &options).expect("test posts parse");
        String::from_utf8(out).expect("test posts are UTF-8")
    }
}
