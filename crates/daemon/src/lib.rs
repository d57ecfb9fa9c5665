//! mailcast, the daemon and the command line.
//!
//! The binary (`main.rs`) only parses arguments and reports errors; everything else is here so
//! that tests and benchmarks can drive it. Modules follow the mail's path:
//! [`inbound`] (LMTP, inject, Maildir) → spool → [`runner`] (pipeline, moderation, commands,
//! delivery) → outbound SMTP; beside them [`admin`] (every operation the CLI, email commands
//! and REST API ask for), [`outbox`] (every mail mailcast generates), [`cli`], [`config`],
//! [`directory`] (the in-memory view of lists), [`posting`] (pipeline inputs), [`archive`]
//! (the archivers and the archive stage), [`mta`] (the MTA's files), [`api`] (the REST API's
//! backend over the admin layer) and [`http`] (the REST API, `/metrics` and the one-click
//! unsubscribe endpoint).

pub mod admin;
pub mod api;
pub mod arc;
pub mod archive;
pub mod cli;
pub mod config;
pub mod digest;
pub mod directory;
pub mod dkim;
pub mod dns;
pub mod http;
pub mod http_client;
pub mod ids;
pub mod inbound;
pub mod logging;
pub mod mta;
pub mod oneclick;
pub mod outbox;
pub mod posting;
pub mod runner;
pub mod serve;
