//! inotify for the Maildir tree: wake the reader as soon as a message lands in a `new/`, or a
//! new domain or list Maildir appears.
//!
//! Watches: the base directory and each domain directory (a directory created there means a
//! new subtree: walk again), each list Maildir (its `new/` may be created after it), and each
//! `new/` (`IN_CREATE` for Postfix's link from `tmp/`, `IN_MOVED_TO` for MTAs that rename).
//! A kernel queue overflow asks for a full walk. Watches of removed directories are forgotten
//! when the kernel says so (`IN_IGNORED`). This is only an accelerator: the reader's periodic
//! rescan finds everything on its own, so any failure here (no inotify, the watch limit
//! reached) costs latency, never mail. It does not read directories or files itself.

use std::collections::{HashMap, HashSet};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};
use rustix::io::Errno;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// What changed since the last call to [`Watcher::changes`].
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// `new/` directories that got a file.
    pub new_dirs: HashSet<PathBuf>,
    /// Directories appeared (or events were lost): walk the whole tree again.
    pub rewalk: bool,
}

/// What a watched directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The base or a domain directory: subdirectories appearing there are new subtrees.
    Container,
    /// A list Maildir: its `new/` may appear.
    Maildir,
    /// A `new/` directory: files appearing there are messages.
    New,
}

/// An inotify instance and the directories it watches.
pub struct Watcher {
    fd: AsyncFd<OwnedFd>,
    watches: HashMap<i32, (PathBuf, Role)>,
    watched: HashSet<PathBuf>,
    buffer: Vec<MaybeUninit<u8>>,
}

impl Watcher {
    /// A new inotify instance (non-blocking, registered with the tokio reactor).
    pub fn new() -> io::Result<Watcher> {
        let fd = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK)?;
        // SAFETY: an `OwnedFd` is a valid open descriptor that is closed only when it is
        // dropped, which happens when the `AsyncFd` is dropped, and `as_raw_fd` always returns
        // that same descriptor.
        let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }
            .map_err(io::Error::from)?;
        Ok(Watcher {
            fd,
            watches: HashMap::new(),
            watched: HashSet::new(),
            buffer: vec![MaybeUninit::uninit(); 16 << 10],
        })
    }

    /// Watches `dir` in `role`; returns whether the watch is new (a directory already watched
    /// costs nothing).
    pub fn watch(&mut self, dir: &Path, role: Role) -> io::Result<bool> {
        if self.watched.contains(dir) {
            return Ok(false);
        }
        // The same events for every role: an entry created or renamed into the directory.
        let mask = WatchFlags::CREATE | WatchFlags::MOVED_TO | WatchFlags::ONLYDIR;
        let wd = inotify::add_watch(self.fd.get_ref(), dir, mask)?;
        self.watches.insert(wd, (dir.to_path_buf(), role));
        self.watched.insert(dir.to_path_buf());
        Ok(true)
    }

    /// How many directories are watched.
    pub fn watched_count(&self) -> usize {
        self.watches.len()
    }

    /// Waits for events and returns what they mean; never returns an empty set of changes.
    pub async fn changes(&mut self) -> io::Result<Changes> {
        loop {
            let mut guard = self.fd.readable().await?;
            let mut changes = Changes::default();
            let mut any = false;
            let mut forgotten = Vec::new();
            let mut reader = inotify::Reader::new(guard.get_inner(), &mut self.buffer);
            loop {
                match reader.next() {
                    Ok(event) => {
                        any = true;
                        let flags = event.events();
                        if flags.contains(ReadFlags::QUEUE_OVERFLOW) {
                            changes.rewalk = true;
                        } else if flags.contains(ReadFlags::IGNORED) {
                            forgotten.push(event.wd());
                        } else if let Some((path, role)) = self.watches.get(&event.wd()) {
                            match role {
                                Role::New => {
                                    changes.new_dirs.insert(path.clone());
                                }
                                Role::Container | Role::Maildir => {
                                    changes.rewalk |= flags.contains(ReadFlags::ISDIR)
                                }
                            }
                        }
                    }
                    Err(Errno::AGAIN) => break,
                    Err(Errno::INTR) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            guard.clear_ready();
            for wd in forgotten {
                if let Some((path, _)) = self.watches.remove(&wd) {
                    self.watched.remove(&path);
                }
            }
            if any && (changes.rewalk || !changes.new_dirs.is_empty()) {
                return Ok(changes);
            }
        }
    }
}
