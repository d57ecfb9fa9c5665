//! `dmarc`: Mailman's DMARC mitigation handler (mailman3-more.md §3.3), step 16 of its
//! posting pipeline: after the header handlers, archiving and digests, before decoration and
//! delivery. It changes only the copy sent to the members; archives and digests keep the
//! author's From.
//!
//! Whether a post is treated ([`treatment`]): the chain flagged it
//! ([`crate::chain::ChainResult::dmarc`]) or the list has `dmarc_mitigate_unconditionally`;
//! never on an anonymous list; then the list's `dmarc_mitigate_action` says how:
//! - `munge_from` ([`munge`]): the From becomes `"<name> via <list>" <posting address>` and the
//!   author goes to Reply-To or Cc; only header fields change, the body bytes stay;
//! - `wrap_message` ([`wrap`]): the post becomes a `message/rfc822` attachment of a new message
//!   from the list (with `dmarc_wrapped_message_text` as a text part before it).
//!
//! Both add `X-Original-From` with the author's From (our addition, so that clients can show
//! the author). `reject` and `discard` with `dmarc_mitigate_unconditionally` treat nothing
//! (Mailman logs "Invalid DMARC combination"): those actions act in the chain.
//!
//! Pure: the Message-ID of a wrapper is a parameter, boundaries are derived from the content.

pub mod munge;
pub mod wrap;

use mailcast_model::settings::DmarcMitigateAction;

use crate::context::ListContext;
use crate::message::Message;
use crate::rewrite::Rewrite;

/// What the handler needs besides the post and the list.
#[derive(Debug, Clone, Copy)]
pub struct Mitigation<'a> {
    /// The chain flagged the post (Mailman's `msgdata['dmarc']`).
    pub flagged: bool,
    /// The post's sender (Mailman's `original_sender`), named when From has no single
    /// address.
    pub original_sender: &'a str,
    /// The author's display name on the list's roster, used when From has none.
    pub member_name: Option<&'a str>,
    /// The Message-ID of a wrapping message, with its angle brackets.
    pub message_id: &'a str,
}

/// How the members' copy is changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Treatment {
    /// `munge_from`.
    MungeFrom,
    /// `wrap_message`.
    WrapMessage,
}

/// The treatment a post gets on `list`, given whether the chain flagged it; `None`: the
/// members get it as it is.
pub fn treatment(list: &ListContext, flagged: bool) -> Option<Treatment> {
    let settings = list.settings();
    if !(flagged || settings.dmarc_mitigate_unconditionally) || settings.anonymous_list {
        return None;
    }
    match settings.dmarc_mitigate_action {
        DmarcMitigateAction::MungeFrom => Some(Treatment::MungeFrom),
        DmarcMitigateAction::WrapMessage => Some(Treatment::WrapMessage),
        DmarcMitigateAction::NoMitigation
        | DmarcMitigateAction::Reject
        | DmarcMitigateAction::Discard => None,
    }
}

/// The members' copy of `message` (the post after the header handlers), or `None` when the
/// post is not treated.
pub fn apply(
    message: &Message<'_>,
    list: &ListContext,
    mitigation: &Mitigation<'_>,
) -> Option<Vec<u8>> {
    Some(match treatment(list, mitigation.flagged)? {
        Treatment::MungeFrom => {
            let mut rewrite = Rewrite::new(message);
            munge::munge_from(message, list, mitigation, &mut rewrite);
            rewrite.finish()
        }
        Treatment::WrapMessage => wrap::wrap_message(message, list, mitigation),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::testing_list::list;

    #[test]
    fn treatment_follows_mailmans_order_of_checks() {
        use DmarcMitigateAction::*;
        for (action, unconditional, anonymous, flagged, want) in [
            (MungeFrom, false, false, true, Some(Treatment::MungeFrom)),
            (MungeFrom, false, false, false, None),
            (MungeFrom, true, false, false, Some(Treatment::MungeFrom)),
            (
                WrapMessage,
                false,
                false,
                true,
                Some(Treatment::WrapMessage),
            ),
            (
                WrapMessage,
                true,
                false,
                false,
                Some(Treatment::WrapMessage),
            ),
            (WrapMessage, true, true, true, None),
            (Reject, true, false, false, None),
            (Discard, true, false, true, None),
            (NoMitigation, true, false, true, None),
        ] {
            let list = list(|s| {
                s.dmarc_mitigate_action = action;
                s.dmarc_mitigate_unconditionally = unconditional;
                s.anonymous_list = anonymous;
            });
            assert_eq!(
                treatment(&list, flagged),
                want,
                "{action:?} unconditional={unconditional} anonymous={anonymous} flagged={flagged}"
            );
        }
    }
}
