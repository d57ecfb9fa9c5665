//! The people model's closed vocabularies: roles, delivery modes and statuses, and the
//! moderation actions a rule can take. Spellings are Mailman 3's, as its REST API shows them.

crate::vocabulary! {
    /// The role an address has on a list.
    pub enum MemberRole {
        /// Receives posts.
        Member = "member",
        /// Administers the list, receives `-owner` mail.
        Owner = "owner",
        /// Moderates posts, receives `-owner` mail.
        Moderator = "moderator",
        /// Not subscribed, but known to the list (for moderation actions).
        Nonmember = "nonmember",
    }
}

crate::vocabulary! {
    /// How a member receives posts.
    pub enum DeliveryMode {
        /// Every post, individually.
        Regular = "regular",
        /// RFC 1153 plain-text digests.
        PlaintextDigests = "plaintext_digests",
        /// MIME digests.
        MimeDigests = "mime_digests",
        /// Summary digests.
        SummaryDigests = "summary_digests",
    }
}

crate::vocabulary! {
    /// Whether delivery to a member is enabled, and if not, who disabled it.
    pub enum DeliveryStatus {
        /// Delivery is on.
        Enabled = "enabled",
        /// The member turned delivery off.
        ByUser = "by_user",
        /// Disabled by bounce processing.
        ByBounces = "by_bounces",
        /// A moderator turned delivery off.
        ByModerator = "by_moderator",
        /// Disabled for an unknown reason (legacy data).
        Unknown = "unknown",
    }
}

crate::vocabulary! {
    /// What moderation does with a post (Mailman 3's `Action`).
    pub enum Action {
        /// Hold for a moderator.
        Hold = "hold",
        /// Refuse, with a notice to the sender.
        Reject = "reject",
        /// Drop silently.
        Discard = "discard",
        /// Accept.
        Accept = "accept",
        /// No decision here: fall through to the next rule.
        Defer = "defer",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_round_trips_and_rejects_unknown_words() {
        for role in MemberRole::ALL {
            assert_eq!(MemberRole::parse(role.as_str()), Ok(*role));
        }
        let err = Action::parse("maybe").unwrap_err();
        assert_eq!(err.allowed, "hold, reject, discard, accept, defer");
    }
}
