//! The idle connections of a relay, and the task that closes those idle too long.
//!
//! A plain stack behind a mutex that is never held across an await: the most recently used
//! connection is reused first, so that under light load a few connections stay warm and the
//! rest expire. Bounding how many connections exist is the relay's semaphore, not this.

use std::sync::{Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use tokio::time::Instant;

use super::Inner;
use crate::connection::Connection;

/// Idle connections, oldest first.
#[derive(Default)]
pub(super) struct Pool {
    idle: Mutex<Vec<Idle>>,
}

struct Idle {
    connection: Connection,
    since: Instant,
}

impl Pool {
    /// The most recently used idle connection that is still open and not idle for longer than
    /// `idle_timeout`; the others met on the way are closed.
    pub(super) fn checkout(&self, idle_timeout: Duration) -> Option<Connection> {
        let mut expired = Vec::new();
        let found = {
            let mut idle = self.lock();
            loop {
                let Some(entry) = idle.pop() else {
                    break None;
                };
                if entry.since.elapsed() >= idle_timeout {
                    expired.push(entry.connection);
                    continue;
                }
                let mut connection = entry.connection;
                if connection.is_still_open() {
                    break Some(connection);
                }
            }
        };
        for connection in expired {
            tokio::spawn(connection.quit());
        }
        found
    }

    /// Makes a connection available for reuse.
    pub(super) fn put(&self, connection: Connection) {
        self.lock().push(Idle {
            connection,
            since: Instant::now(),
        });
    }

    /// Takes out every connection idle for `idle_timeout` or longer.
    fn expire(&self, idle_timeout: Duration) -> Vec<Connection> {
        let mut idle = self.lock();
        let (expired, fresh): (Vec<Idle>, Vec<Idle>) = idle
            .drain(..)
            .partition(|entry| entry.since.elapsed() >= idle_timeout);
        *idle = fresh;
        expired.into_iter().map(|entry| entry.connection).collect()
    }

    /// Takes out every idle connection.
    pub(super) fn drain(&self) -> Vec<Connection> {
        self.lock()
            .drain(..)
            .map(|entry| entry.connection)
            .collect()
    }

    /// How many connections are idle.
    pub(super) fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Idle>> {
        // A panic while the lock was held cannot leave the vector inconsistent: every critical
        // section is a single push, pop or swap.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Closes idle connections once they pass the relay's idle timeout; ends when the relay is
/// dropped.
pub(super) fn spawn_reaper(relay: Weak<Inner>) {
    tokio::spawn(async move {
        loop {
            let period = match relay.upgrade() {
                Some(inner) => (inner.config.idle_timeout / 2).max(Duration::from_millis(100)),
                None => return,
            };
            tokio::time::sleep(period).await;
            let Some(inner) = relay.upgrade() else {
                return;
            };
            let expired = inner.pool.expire(inner.config.idle_timeout);
            drop(inner);
            for connection in expired {
                tokio::spawn(connection.quit());
            }
        }
    });
}
