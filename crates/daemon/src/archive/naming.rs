//! Where archives live, pure: file and directory names under `var/archives/`.
//!
//! - mbox: `var/archives/<list-id>/<YYYY>-<MM>.mbox`, the month of the post's receipt (UTC);
//! - prototype: `var/archives/prototype/<fqdn_listname>/{cur,new,tmp}` as in Mailman, one
//!   file per post named `<receipt seconds>.<entry id>.<host>`: the same name for the same
//!   post on every run, so a re-run after a crash finds it.
//!
//! List ids and list addresses passed `ListName::parse` and `DomainName::parse`, and entry ids
//! `EntryId::parse`: all are safe as one path component (no `/`, no `..`, no `:`).

use std::path::{Path, PathBuf};

use jiff::Timestamp;

/// The mbox file of a list for the month of `received_at`.
pub fn mbox_file(archives: &Path, list_id: &str, received_at: Timestamp) -> PathBuf {
    archives
        .join(list_id)
        .join(format!("{}.mbox", received_at.strftime("%Y-%m")))
}

/// The prototype archiver's Maildir of a list.
pub fn maildir(archives: &Path, fqdn_listname: &str) -> PathBuf {
    archives.join("prototype").join(fqdn_listname)
}

/// The Maildir file name of one post; `host` loses the characters Maildir reserves.
pub fn maildir_name(entry_id: &str, received_at: Timestamp, host: &str) -> String {
    let host: String = host
        .chars()
        .map(|c| match c {
            '/' => "\\057".to_string(),
            ':' => "\\072".to_string(),
            c => c.to_string(),
        })
        .collect();
    format!("{}.{entry_id}.{host}", received_at.as_second())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_layout() {
        let at: Timestamp = "2026-03-31T23:59:59Z".parse().unwrap();
        assert_eq!(
            mbox_file(Path::new("/v/archives"), "ant.example.com", at),
            PathBuf::from("/v/archives/ant.example.com/2026-03.mbox")
        );
        let next: Timestamp = "2026-04-01T00:00:00Z".parse().unwrap();
        assert!(
            mbox_file(Path::new("a"), "x.y", next).ends_with("x.y/2026-04.mbox"),
            "months are UTC"
        );
        assert_eq!(
            maildir(Path::new("/v/archives"), "ant@example.com"),
            PathBuf::from("/v/archives/prototype/ant@example.com")
        );
        assert_eq!(
            maildir_name("0061b4c3d2e1f-9a3c01fe.arch", at, "mx:1/a"),
            "1775001599.0061b4c3d2e1f-9a3c01fe.arch.mx\\0721\\057a"
        );
    }
}
