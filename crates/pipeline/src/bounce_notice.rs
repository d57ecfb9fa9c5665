//! The mails of bounce processing, as Mailman 3.3.10 writes them: the owners' notices of a
//! bounce score increment, of delivery disabled and of removal; the member's "delivery is
//! disabled" warning and the probe; and the owners' copy of a bounce nobody could read.
//!
//! Texts are Mailman's named templates (possibly overridden), subjects Mailman's. Whether to
//! send one, to whom and with which attachment is the daemon's.

use crate::context::ListContext;
use crate::membership_notice::{COLUMNS, Notice, person};
use crate::templates::{Overrides, expand, wrap};

/// Which owners' notice about a member's bounces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerNotice {
    /// The score went up (`bounce_notify_owner_on_bounce_increment`).
    Increment,
    /// Delivery was disabled (`bounce_notify_owner_on_disable`).
    Disable,
    /// The member was removed after the last warning (`bounce_notify_owner_on_removal`).
    Removal,
}

/// The owners' notice about `member_email`, from the site owner, for `-owner`.
pub fn owner_notice(
    list: &ListContext,
    overrides: &Overrides,
    which: OwnerNotice,
    member_name: Option<&str>,
    member_email: &str,
) -> Notice {
    let member = person(member_name, member_email);
    let display = list.display_name();
    let (template, subject) = match which {
        OwnerNotice::Increment => (
            "list:admin:notice:increment",
            format!("{member}'s bounce score incremented on {display}"),
        ),
        OwnerNotice::Disable => (
            "list:admin:notice:disable",
            format!("{member}'s subscription disabled on {display}"),
        ),
        OwnerNotice::Removal => (
            "list:admin:notice:removal",
            format!("{member} unsubscribed from {display} mailing list due to bounces"),
        ),
    };
    // Mailman does not wrap these; a long name would make lines too long to read.
    let text = wrap(
        &expand(
            overrides.text(template),
            list,
            &[("member", member.clone()), ("mlist", display.to_string())],
        ),
        COLUMNS,
    );
    Notice::new(list.site().site_email.clone(), subject, text)
}

/// The member's warning that delivery is disabled (`list:user:notice:warning`), from
/// `-bounces`.
pub fn disabled_warning(list: &ListContext, overrides: &Overrides, email: &str) -> Notice {
    let text = expand(
        &wrap(overrides.text("list:user:notice:warning"), COLUMNS),
        list,
        &[("sender_email", email.to_string())],
    );
    let subject = format!(
        "Your subscription for {} mailing list has been disabled",
        list.display_name()
    );
    Notice::new(list.address().sub_address("bounces"), subject, text)
}

/// The probe (`list:user:notice:probe`): its envelope sender and From are
/// `probe_sender`, the `-bounces+TOKEN` address, so that its bounce names the token.
pub fn probe(list: &ListContext, overrides: &Overrides, email: &str, probe_sender: &str) -> Notice {
    let owner = list.address().sub_address("owner");
    let text = wrap(
        &expand(
            overrides.text("list:user:notice:probe"),
            list,
            &[
                ("sender_email", email.to_string()),
                ("address", email.to_string()),
                ("email", email.to_string()),
                ("owneraddr", owner),
            ],
        ),
        COLUMNS,
    );
    let subject = format!("{} mailing list probe message", list.display_name());
    Notice::new(probe_sender.to_string(), subject, text)
}

/// The owners' copy of a message to `-bounces` that is no bounce anyone could read
/// (`list:admin:notice:unrecognized`, `forward_unrecognized_bounces_to`).
pub fn unrecognized(list: &ListContext, overrides: &Overrides) -> Notice {
    let text = expand(overrides.text("list:admin:notice:unrecognized"), list, &[]);
    Notice::new(
        list.site().site_email.clone(),
        "Uncaught bounce notification".to_string(),
        text,
    )
}
