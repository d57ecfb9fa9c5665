//! The Maildir reader (placeholder until the MTA-integration work lands).

use mailcast_spool::Spool;
use mailcast_store::Store;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::directory::Directory;
use crate::runner::Wakeup;

/// Starts the reader when Maildir ingestion is enabled.
pub fn start(
    _settings: &Settings,
    _store: &Store,
    _spool: &Spool,
    _directory: &Directory,
    _wake: mpsc::UnboundedSender<Wakeup>,
    _shutdown: CancellationToken,
) -> Option<JoinHandle<()>> {
    None
}
