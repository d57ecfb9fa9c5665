//! The closed vocabularies of list settings, spelled as Mailman 3's REST API spells them.

use crate::member::Action;

crate::vocabulary! {
    /// `archive_policy`.
    pub enum ArchivePolicy { Never = "never", Private = "private", Public = "public", }
}
crate::vocabulary! {
    /// `archive_rendering_mode`.
    pub enum ArchiveRenderingMode { Text = "text", Markdown = "markdown", }
}
crate::vocabulary! {
    /// `autorespond_owner`, `autorespond_postings`, `autorespond_requests`.
    pub enum ResponseAction {
        None = "none",
        RespondAndDiscard = "respond_and_discard",
        RespondAndContinue = "respond_and_continue",
    }
}
crate::vocabulary! {
    /// `digest_volume_frequency`.
    pub enum DigestFrequency {
        Yearly = "yearly",
        Monthly = "monthly",
        Quarterly = "quarterly",
        Weekly = "weekly",
        Daily = "daily",
    }
}
crate::vocabulary! {
    /// `dmarc_mitigate_action`.
    pub enum DmarcMitigateAction {
        NoMitigation = "no_mitigation",
        MungeFrom = "munge_from",
        WrapMessage = "wrap_message",
        Reject = "reject",
        Discard = "discard",
    }
}
crate::vocabulary! {
    /// `filter_action`.
    pub enum FilterAction {
        Hold = "hold",
        Reject = "reject",
        Discard = "discard",
        Accept = "accept",
        Defer = "defer",
        Forward = "forward",
        Preserve = "preserve",
    }
}
crate::vocabulary! {
    /// `forward_unrecognized_bounces_to`.
    pub enum UnrecognizedBounceDisposition {
        Discard = "discard",
        Administrators = "administrators",
        SiteOwner = "site_owner",
    }
}
crate::vocabulary! {
    /// `member_roster_visibility`.
    pub enum RosterVisibility { Public = "public", Members = "members", Moderators = "moderators", }
}
crate::vocabulary! {
    /// `newsgroup_moderation`.
    pub enum NewsgroupModeration {
        None = "none",
        OpenModerated = "open_moderated",
        Moderated = "moderated",
    }
}
crate::vocabulary! {
    /// `personalize`.
    pub enum Personalization { None = "none", Individual = "individual", Full = "full", }
}
crate::vocabulary! {
    /// `reply_goes_to_list`.
    pub enum ReplyToMunging {
        NoMunging = "no_munging",
        PointToList = "point_to_list",
        ExplicitHeader = "explicit_header",
        ExplicitHeaderOnly = "explicit_header_only",
    }
}
crate::vocabulary! {
    /// `subscription_policy` and `unsubscription_policy`.
    pub enum SubscriptionPolicy {
        Open = "open",
        Confirm = "confirm",
        Moderate = "moderate",
        ConfirmThenModerate = "confirm_then_moderate",
    }
}

crate::vocabulary_setting!(
    Action,
    ArchivePolicy,
    ArchiveRenderingMode,
    ResponseAction,
    DigestFrequency,
    DmarcMitigateAction,
    FilterAction,
    UnrecognizedBounceDisposition,
    RosterVisibility,
    NewsgroupModeration,
    Personalization,
    ReplyToMunging,
    SubscriptionPolicy,
);
