//! The runners: move committed entries through the stages (placeholder until the runner
//! issue work lands; see ARCHITECTURE.md).

use std::sync::Arc;

use mailcast_spool::{Committer, EntryId, Spool, Stage};
use mailcast_store::Store;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Settings;
use crate::directory::Directory;
use crate::posting::Posting;

/// Everything the runners use.
#[derive(Clone)]
pub struct RunnerContext {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub spool: Spool,
    pub committer: Committer,
    pub directory: Directory,
    pub posting: Arc<Posting>,
}

/// Why the runners should look at the spool now.
#[derive(Debug, Clone)]
pub enum Wakeup {
    /// An entry became visible in a stage (from the spool's committer).
    Visible(Stage, EntryId),
    /// The directory snapshot changed.
    DirectoryChanged,
    /// Something else (Maildir reader, periodic scan) added entries.
    Scan,
}

/// The running runners.
pub struct Runners {
    tasks: TaskTracker,
}

impl Runners {
    /// Waits until every runner task has stopped.
    pub async fn wait(self) {
        self.tasks.wait().await;
    }
}

/// Starts the runners.
pub fn start(
    _ctx: RunnerContext,
    _wake_tx: mpsc::UnboundedSender<Wakeup>,
    mut wake_rx: mpsc::UnboundedReceiver<Wakeup>,
    shutdown: CancellationToken,
) -> Runners {
    let tasks = TaskTracker::new();
    tasks.spawn(async move {
        loop {
            tokio::select! {
                w = wake_rx.recv() => if w.is_none() { return },
                () = shutdown.cancelled() => return,
            }
        }
    });
    tasks.close();
    Runners { tasks }
}
