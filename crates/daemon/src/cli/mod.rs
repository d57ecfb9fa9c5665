//! The admin command line (DESIGN.md §7.1): one module per subcommand group.
//!
//! Commands open the store and the spool directly (the daemon notices their changes through
//! the store's change counter within a second). They never talk to a running daemon.

mod args;
mod bans;
mod bounces;
mod digests;
mod dkim;
mod domains;
mod held;
mod lists;
mod members;
mod mta;
mod queue;
mod requests;
mod templates;

pub use args::*;

use crate::config::Settings;

/// An error that carries a specific exit status (sysexits.h codes for `inject`).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Exit {
    /// The process exit status.
    pub code: u8,
    /// The one-line message.
    pub message: String,
}

/// Runs one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve => crate::serve::run_blocking(settings),
        Command::Domains(cmd) => block_on(domains::run(&settings, cmd)),
        Command::Lists(cmd) => block_on(lists::run(settings, cmd)),
        Command::Members(cmd) => block_on(members::run(settings, cmd)),
        Command::Inject(args) => crate::inbound::inject::run(&settings, args),
        Command::Mta(args) => block_on(mta::run(&settings, args)),
        Command::Queue(cmd) => queue::run(&settings, cmd),
        Command::Held(cmd) => block_on(held::run(settings, cmd)),
        Command::Requests(cmd) => block_on(requests::run(settings, cmd)),
        Command::Bans(cmd) => block_on(bans::run(settings, cmd)),
        Command::Templates(cmd) => block_on(templates::run(settings, cmd)),
        Command::Bounces(args) => block_on(bounces::run(settings, args)),
        Command::Digests(args) => block_on(digests::run(settings, args)),
        Command::Dkim(cmd) => dkim::run(&settings, cmd),
    }
}

/// Opens the admin layer for one command.
pub async fn open_admin(settings: Settings) -> anyhow::Result<crate::admin::Admin> {
    crate::admin::Admin::open(std::sync::Arc::new(settings)).await
}

/// `KEY=VALUE` arguments as pairs.
pub fn key_values(pairs: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    pairs
        .iter()
        .map(|pair| {
            pair.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.to_string()))
                .ok_or_else(|| anyhow::anyhow!("{pair:?} is not KEY=VALUE"))
        })
        .collect()
}

/// Opens the configured store.
pub async fn open_store(settings: &Settings) -> anyhow::Result<mailcast_store::Store> {
    Ok(mailcast_store::Store::open(&settings.database_url).await?)
}

/// After a list or domain change: rewrite the MTA files an operator has generated before
/// (Mailman 3 regenerates on every create and delete) and keep `var/lists/` in step.
pub async fn regenerate_mta(
    settings: &Settings,
    store: &mailcast_store::Store,
) -> anyhow::Result<()> {
    if !settings.mta.regenerate_on_change {
        return Ok(());
    }
    let lists = crate::mta::lists_from_store(store).await?;
    crate::mta::regenerate_existing(settings, &lists).map_err(|e| {
        anyhow::anyhow!("the change is saved, but regenerating the MTA files failed: {e:#}")
    })
}

/// Runs an admin command's future on a small current-thread runtime.
fn block_on<F: std::future::Future<Output = anyhow::Result<()>>>(fut: F) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(fut)
}
