//! The result lines of Mailman 3.3.10's email commands, for the daemon to print while it runs
//! the commands that need the store (`confirm`, `join`, `leave`, `who`), and the two that do
//! not (`echo`, an unknown command). They are protocol: people and scripts recognise them, so
//! they are Mailman's texts exactly.
//!
//! Person names are formatted like Python's `formataddr` ([`person`]); list names are the
//! posting address (`ant@example.com`). Nothing here decides which line applies.

use crate::encoded_word::mailbox;

/// `confirm` without a token.
pub const NO_CONFIRMATION_TOKEN: &str = "No confirmation token found";
/// `confirm` of a pending (un)subscription that succeeded.
pub const CONFIRMED: &str = "Confirmed";
/// `confirm` with an unknown or expired token.
pub const TOKEN_DID_NOT_MATCH: &str = "Confirmation token did not match";
/// `confirm` of a held post with a wrong `Approved:` password.
pub const INVALID_APPROVED_PASSWORD: &str = "Invalid Approved: password";
/// `who` from someone the roster visibility does not allow.
pub const ROSTER_NOT_AUTHORIZED: &str = "You are not authorized to see the membership list.";

/// A word that is no command.
pub fn no_such_command(name: &str) -> String {
    format!("No such command: {name}")
}

/// `echo`'s line: the arguments lower-cased, as Mailman prints them.
pub fn echo(args: &[&str]) -> String {
    format!("echo {}", args.join(" ").to_lowercase())
}

/// `confirm` of a held post: it was accepted or discarded.
pub fn held_message(accepted: bool) -> String {
    format!(
        "Message {}",
        if accepted { "accepted" } else { "discarded" }
    )
}

/// `Name <address>` or the bare address, as Python's `formataddr`.
pub fn person(name: Option<&str>, email: &str) -> String {
    mailbox(name, email)
}

/// `join`: the confirmation request was sent.
pub fn confirmation_sent(person: &str) -> String {
    format!("Confirmation email sent to {person}")
}

/// `join`: a subscription of that address is already waiting.
pub fn pending_subscription(person: &str, list: &str) -> String {
    format!("{person} has a pending subscription for {list}")
}

/// `join` (or `subscribe`, `command` being the word used) without any usable address.
pub fn no_address_to_subscribe(command: &str) -> String {
    format!("{command}: No valid address found to subscribe")
}

/// `leave` (or `unsubscribe`) without a sender address.
pub fn no_address_to_unsubscribe(command: &str) -> String {
    format!("{command}: No valid email address found to unsubscribe")
}

/// `leave` from an address no user has.
pub fn no_registered_user(email: &str) -> String {
    format!("No registered user for email address: {email}")
}

/// `leave` from an address not verified.
pub fn unverified_address(email: &str) -> String {
    format!("Invalid or unverified email address: {email}")
}

/// `leave` from someone who is not a member.
pub fn not_a_member(command: &str, email: &str, list: &str) -> String {
    format!("{command}: {email} is not a member of {list}")
}

/// `leave` that unsubscribed at once.
pub fn left(person: &str, list: &str) -> String {
    format!("{person} left {list}")
}

/// `leave` that needs the member's confirmation.
pub fn leave_confirmation_sent(person: &str, list: &str) -> String {
    format!("Confirmation email sent to {person} to leave {list}")
}

/// What `who` was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WhoArgs {
    /// `delivery=enabled` (`Some(true)`) or `delivery=disabled` (`Some(false)`).
    pub delivery_enabled: Option<bool>,
    /// `mode=digest` (`Some(true)`) or `mode=regular` (`Some(false)`).
    pub digest: Option<bool>,
}

/// Parses `who`'s arguments (the last of each kind wins); any other argument makes the whole
/// command Mailman's `Unrecognized or invalid argument(s):` followed by them, one per line.
pub fn who_args(args: &[&str]) -> Result<WhoArgs, String> {
    let mut out = WhoArgs::default();
    let mut unrecognized = Vec::new();
    for arg in args {
        let arg = arg.to_lowercase();
        match arg.as_str() {
            "delivery=enabled" => out.delivery_enabled = Some(true),
            "delivery=disabled" => out.delivery_enabled = Some(false),
            "mode=digest" => out.digest = Some(true),
            "mode=regular" => out.digest = Some(false),
            _ => unrecognized.push(arg),
        }
    }
    if unrecognized.is_empty() {
        Ok(out)
    } else {
        Err(format!(
            "Unrecognized or invalid argument(s):\n{}",
            unrecognized.join("\n")
        ))
    }
}

/// `who`'s roster: the members (display name, address) sorted by address, each on a line of
/// its own indented by four spaces.
pub fn roster(list: &str, members: &[(Option<&str>, &str)]) -> String {
    let mut members: Vec<&(Option<&str>, &str)> = members.iter().collect();
    members.sort_by_key(|(_, email)| *email);
    let lines: Vec<String> = members
        .iter()
        .map(|(name, email)| format!("    {}", person(*name, email)))
        .collect();
    format!("Members of the {list} mailing list:\n{}", lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_lines_table() {
        let anne = person(Some("Anne Person"), "anne@example.com");
        for (got, want) in [
            (no_such_command("frob"), "No such command: frob"),
            (echo(&["Hello", "World"]), "echo hello world"),
            (echo(&[]), "echo "),
            (held_message(true), "Message accepted"),
            (held_message(false), "Message discarded"),
            (
                confirmation_sent(&anne),
                "Confirmation email sent to Anne Person <anne@example.com>",
            ),
            (
                pending_subscription("a@x", "ant@example.com"),
                "a@x has a pending subscription for ant@example.com",
            ),
            (
                no_address_to_subscribe("subscribe"),
                "subscribe: No valid address found to subscribe",
            ),
            (
                no_address_to_unsubscribe("leave"),
                "leave: No valid email address found to unsubscribe",
            ),
            (
                no_registered_user("a@x"),
                "No registered user for email address: a@x",
            ),
            (
                unverified_address("a@x"),
                "Invalid or unverified email address: a@x",
            ),
            (
                not_a_member("leave", "a@x", "ant@example.com"),
                "leave: a@x is not a member of ant@example.com",
            ),
            (left("a@x", "ant@example.com"), "a@x left ant@example.com"),
            (
                leave_confirmation_sent("a@x", "ant@example.com"),
                "Confirmation email sent to a@x to leave ant@example.com",
            ),
            (
                person(Some("Person, Anne"), "a@x"),
                "\"Person, Anne\" <a@x>",
            ),
            (person(None, "a@x"), "a@x"),
        ] {
            assert_eq!(got, want);
        }
    }

    #[test]
    fn who_arguments_and_roster() {
        assert_eq!(who_args(&[]), Ok(WhoArgs::default()));
        assert_eq!(
            who_args(&["DELIVERY=enabled", "mode=digest", "mode=regular"]),
            Ok(WhoArgs {
                delivery_enabled: Some(true),
                digest: Some(false)
            })
        );
        assert_eq!(
            who_args(&["mode=digest", "Everyone", "delivery=off"]),
            Err("Unrecognized or invalid argument(s):\neveryone\ndelivery=off".to_string())
        );
        assert_eq!(
            roster(
                "ant@example.com",
                &[
                    (None, "zed@example.com"),
                    (Some("Anne"), "anne@example.com")
                ]
            ),
            "Members of the ant@example.com mailing list:\n    Anne <anne@example.com>\n    zed@example.com"
        );
    }
}
