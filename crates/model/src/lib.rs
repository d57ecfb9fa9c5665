//! mailcast's domain types: what a list, an address, a member and a list setting *are*.
//!
//! This crate does no I/O and knows nothing about sockets, files, clocks or databases. Every
//! other crate speaks these types:
//! - [`address`]: validated email addresses and `Name <addr>` mailboxes;
//! - [`list`]: list names, domains and list addresses (the identity of a list);
//! - [`recipient`]: Mailman 3's rules from an envelope recipient to a list and sub-address;
//! - [`member`]: roles, delivery modes and statuses, moderation actions;
//! - [`settings`]: every list setting under Mailman 3's name, type and default;
//! - [`message_id`]: Mailman 3's `Message-ID-Hash`.
#![warn(missing_docs)]

pub mod address;
pub mod list;
pub mod member;
pub mod message_id;
pub mod recipient;
pub mod settings;
pub mod vocab;

pub use address::{AddressError, EmailAddress, Mailbox};
pub use list::{DomainName, ListAddress, ListAddressError, ListName};
pub use member::{Action, DeliveryMode, DeliveryStatus, MemberRole};
pub use recipient::{Destination, ListDirectory, Subaddress};
pub use settings::{ListSettings, SettingError};
