//! The prototype archiver's Maildir (Mailman's `prototype`): one file per post in
//! `var/archives/prototype/<fqdn_listname>/new/`, written to `tmp/`, synced, then linked into
//! `new/`. The file name is the same on every run for the same post
//! ([`super::naming::maildir_name`]), so a re-run after a crash finds the file (in `new/`, or
//! in `cur/` once a reader took it without flags) and writes nothing twice. Mailman takes a
//! lock with a one-second timeout and drops the post when it cannot; a link into `new/` needs
//! no lock, so nothing is dropped here.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// Stores `message` as `name` in the Maildir `dir` unless it is there; returns whether it
/// wrote it. Blocking.
pub fn deliver(dir: &Path, name: &str, message: &[u8]) -> io::Result<bool> {
    let (tmp, new, cur) = (dir.join("tmp"), dir.join("new"), dir.join("cur"));
    if !new.is_dir() || !cur.is_dir() || !tmp.is_dir() {
        for sub in [&tmp, &new, &cur] {
            fs::create_dir_all(sub)?;
        }
        if let Some(parent) = dir.parent() {
            File::open(parent)?.sync_all()?;
        }
        File::open(dir)?.sync_all()?;
    }
    let target = new.join(name);
    if target.exists() || cur.join(format!("{name}:2,")).exists() {
        return Ok(false);
    }
    let scratch = tmp.join(name);
    let mut file = File::create(&scratch)?;
    file.write_all(message)?;
    file.sync_all()?;
    drop(file);
    let linked = match fs::hard_link(&scratch, &target) {
        Ok(()) => true,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
        Err(e) => return Err(e),
    };
    fs::remove_file(&scratch)?;
    File::open(&new)?.sync_all()?;
    Ok(linked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_post_is_stored_once() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("prototype/ant@example.com");
        assert!(deliver(&dir, "1.a.host", b"A: b\n\nx\n").unwrap());
        assert!(!deliver(&dir, "1.a.host", b"A: b\n\nx\n").unwrap());
        assert_eq!(fs::read(dir.join("new/1.a.host")).unwrap(), b"A: b\n\nx\n");
        fs::rename(dir.join("new/1.a.host"), dir.join("cur/1.a.host:2,")).unwrap();
        assert!(
            !deliver(&dir, "1.a.host", b"A: b\n\nx\n").unwrap(),
            "read already"
        );
        assert_eq!(fs::read_dir(dir.join("tmp")).unwrap().count(), 0);
    }
}
