//! The Maildir tree on disk: `<base>/<domain>/<local>/{tmp,new,cur}`, one Maildir per list
//! address, as Postfix's virtual(8) creates them from the `postfix_vmailbox` map.
//!
//! This module finds the list Maildirs, the messages ready in their `new/`, and the stale files
//! in their `tmp/`, following the Maildir conventions: only `new/` is read, names starting with
//! `.` are ignored, only regular files count (a symbolic link is never followed), and a file
//! in `tmp/` is an MTA's delivery in progress until it is 36 hours old. It does not read
//! messages or touch the spool; directory names are only ever joined below `base`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How old a file in `tmp/` must be before it is removed (the Maildir convention).
pub const TMP_MAX_AGE: Duration = Duration::from_secs(36 * 3600);

/// One list address's Maildir, `<base>/<domain>/<local>/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListMaildir {
    /// The domain directory's name.
    pub domain: String,
    /// The local-part directory's name.
    pub local: String,
    /// `<base>/<domain>/<local>`.
    pub path: PathBuf,
}

impl ListMaildir {
    /// The address the MTA delivered to this Maildir for: `<local>@<domain>`.
    pub fn address(&self) -> String {
        format!("{}@{}", self.local, self.domain)
    }

    /// `<path>/new`.
    pub fn new_dir(&self) -> PathBuf {
        self.path.join("new")
    }

    /// `<path>/tmp`.
    pub fn tmp_dir(&self) -> PathBuf {
        self.path.join("tmp")
    }

    /// `<domain>/<local>`, for logs and envelope attributes.
    pub fn label(&self) -> String {
        format!("{}/{}", self.domain, self.local)
    }
}

/// The directories below `base` that the reader watches: every domain directory, every
/// local-part directory (its `new/` may not exist yet: the MTA creates `tmp/`, `new/` and
/// `cur/` one after the other), and every list Maildir (those that have a `new/`). A missing
/// `base` has none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    /// `<base>/<domain>` directories.
    pub domains: Vec<PathBuf>,
    /// `<base>/<domain>/<local>` directories.
    pub locals: Vec<PathBuf>,
    /// The list Maildirs, sorted.
    pub maildirs: Vec<ListMaildir>,
}

/// Walks `base` two levels deep.
pub fn walk(base: &Path) -> io::Result<Tree> {
    let mut tree = Tree::default();
    for (domain, domain_path) in subdirs(base)? {
        for (local, path) in subdirs(&domain_path)? {
            tree.locals.push(path.clone());
            if is_dir(&path.join("new")) {
                tree.maildirs.push(ListMaildir {
                    domain: domain.clone(),
                    local,
                    path,
                });
            }
        }
        tree.domains.push(domain_path);
    }
    tree.maildirs.sort();
    Ok(tree)
}

/// The Maildir at `path` if it is `<base>/<domain>/<local>` with a `new/`.
pub fn maildir_at(base: &Path, path: &Path) -> Option<ListMaildir> {
    let rest = path.strip_prefix(base).ok()?;
    let mut parts = rest.iter().map(|p| p.to_str());
    let (Some(Some(domain)), Some(Some(local)), None) = (parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if domain.starts_with('.') || local.starts_with('.') || !is_dir(&path.join("new")) {
        return None;
    }
    Some(ListMaildir {
        domain: domain.to_string(),
        local: local.to_string(),
        path: path.to_path_buf(),
    })
}

/// The messages ready in `new/`: regular files whose names do not start with `.`, sorted by
/// name (Maildir names start with the delivery time, so this is arrival order).
pub fn ready_files(maildir: &ListMaildir) -> io::Result<Vec<PathBuf>> {
    let dir = maildir.new_dir();
    let mut files = Vec::new();
    for entry in read_dir_if_exists(&dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') || !entry.file_type()?.is_file() {
            continue;
        }
        files.push(dir.join(name));
    }
    files.sort();
    Ok(files)
}

/// Removes the regular files in `tmp/` last modified more than [`TMP_MAX_AGE`] before `now`;
/// returns how many went. Younger files are deliveries in progress and are never touched.
pub fn sweep_tmp(maildir: &ListMaildir, now: SystemTime) -> io::Result<usize> {
    let mut removed = 0;
    for entry in read_dir_if_exists(&maildir.tmp_dir())? {
        let entry = entry?;
        let meta = match entry.metadata() {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let age = now.duration_since(meta.modified()?).unwrap_or_default();
        if meta.is_file() && age > TMP_MAX_AGE {
            match fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}

/// The subdirectories of `dir` (not following links) whose names are UTF-8 and do not start
/// with `.`.
fn subdirs(dir: &Path) -> io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for entry in read_dir_if_exists(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') || !entry.file_type()?.is_dir() {
            continue;
        }
        out.push((name.to_string(), entry.path()));
    }
    Ok(out)
}

/// The entries of `dir`, or none when it does not exist (a list removed, a tree not yet made).
fn read_dir_if_exists(
    dir: &Path,
) -> io::Result<Box<dyn Iterator<Item = io::Result<fs::DirEntry>>>> {
    match fs::read_dir(dir) {
        Ok(entries) => Ok(Box::new(entries)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Box::new(std::iter::empty())),
        Err(e) => Err(e),
    }
}

/// Whether `path` is a directory itself (a symbolic link to one is not).
fn is_dir(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}
