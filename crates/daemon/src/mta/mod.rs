//! The MTA's files: what `mailcast mta postfix|exim|sendmail` writes under `var/data/`, and the
//! regeneration that runs whenever a list or domain is created or removed.
//!
//! Rendering is pure (`postfix`, `exim`, `sendmail` modules); this module only gathers the lists,
//! writes each file atomically (`<file>.new`, fsync, rename, directory fsync), serialises
//! concurrent regenerations with a lock file, and runs `postmap`/`postalias`. A failing command is
//! an error that names the command and its exit status. It also keeps `var/lists/<list-id>/`
//! for every list (Mailman 3's Exim recipe checks that directory).

pub mod exim;
pub mod postfix;
pub mod sendmail;

use std::fs::{self, File};
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use mailcast_model::recipient::SUFFIXES;

use crate::cli::MtaKind;
use crate::config::{MtaDelivery, Settings, TransportFileType};
use postfix::MapKind;

/// The sub-address suffixes in the order Mailman writes them.
pub const SUFFIX_ADDRESSES: [&str; 8] = SUFFIXES;

/// One list as the MTA files need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MtaList {
    /// The list name (local part of the posting address).
    pub name: String,
    /// The list's domain.
    pub mail_host: String,
    /// The domain's `alias_domain`, if it has one.
    pub alias_domain: Option<String>,
}

impl MtaList {
    /// The domain the MTA routes on: the alias domain if there is one, else the mail host.
    pub fn effective_domain(&self) -> &str {
        self.alias_domain.as_deref().unwrap_or(&self.mail_host)
    }
}

/// The lists as the MTA files need them, from the store.
pub async fn lists_from_store(store: &mailcast_store::Store) -> anyhow::Result<Vec<MtaList>> {
    let dir = store.directory().await?;
    let aliases: std::collections::HashMap<_, _> = dir
        .domains
        .iter()
        .map(|d| (d.mail_host.clone(), d.alias_domain.clone()))
        .collect();
    Ok(dir
        .lists
        .iter()
        .map(|l| MtaList {
            name: l.address.name().to_string(),
            mail_host: l.address.domain().to_string(),
            alias_domain: aliases
                .get(l.address.domain())
                .cloned()
                .flatten()
                .map(|d| d.to_string()),
        })
        .collect())
}

/// Rewrites the files of every MTA whose files already exist under var/data (the operator ran
/// `mailcast mta <kind>` once), and keeps `var/lists/` current in any case.
pub fn regenerate_existing(settings: &Settings, lists: &[MtaList]) -> anyhow::Result<()> {
    let data = settings.data_dir();
    let mut done_any = false;
    for (kind, marker) in [
        (MtaKind::Postfix, "postfix_lmtp"),
        (MtaKind::Exim, "exim4_mailcast_main"),
        (MtaKind::Sendmail, "sendmail_mailertable"),
    ] {
        if data.join(marker).exists() {
            write_files(settings, kind, lists)?;
            done_any = true;
        }
    }
    if !done_any {
        sync_list_dirs(&settings.var_dir.join("lists"), lists)?;
    }
    Ok(())
}

/// The local time stamp written in file headers (`YYYY-MM-DD HH:MM:SS`, as Mailman writes it).
pub fn generated_at() -> String {
    jiff::ZonedDateTime::now()
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// Writes the files for `kind` from `lists` into `<var_dir>/data` and updates `var/lists/`.
/// Returns the paths written.
pub fn write_files(
    settings: &Settings,
    kind: MtaKind,
    lists: &[MtaList],
) -> anyhow::Result<Vec<PathBuf>> {
    let data = settings.data_dir();
    fs::create_dir_all(&data).with_context(|| format!("cannot create {}", data.display()))?;
    let _lock = lock(&data.join(".mta.lock"))?;
    sync_list_dirs(&settings.var_dir.join("lists"), lists)?;
    let now = generated_at();
    let mta = &settings.mta;
    let map_kind = match mta.transport_file_type {
        TransportFileType::Hash => MapKind::Hash,
        TransportFileType::Regex => MapKind::Regex,
    };
    let mut written = Vec::new();
    let mut maps = Vec::new();
    let mut put = |name: &str, text: &str, map: bool| -> anyhow::Result<()> {
        let path = data.join(name);
        write_atomic(&path, text.as_bytes())?;
        if map {
            maps.push(path.clone());
        }
        written.push(path);
        Ok(())
    };
    match kind {
        MtaKind::Postfix => {
            put(
                "postfix_lmtp",
                &postfix::lmtp(lists, map_kind, &mta.lmtp_host, mta.lmtp_port, &now),
                true,
            )?;
            put(
                "postfix_domains",
                &postfix::domains(lists, map_kind, &now),
                true,
            )?;
            match postfix::vmap(lists, map_kind, &now) {
                Some(text) => put("postfix_vmap", &text, true)?,
                None => remove_map(&data.join("postfix_vmap"))?,
            }
            match mta.delivery {
                MtaDelivery::Lmtp => {}
                MtaDelivery::Maildir => {
                    put(
                        "postfix_vmailbox",
                        &postfix::vmailbox(lists, map_kind, &now),
                        true,
                    )?;
                    put(
                        "postfix_vmailbox_domains",
                        &postfix::vmailbox_domains(lists, map_kind, &now),
                        true,
                    )?;
                }
                MtaDelivery::Pipe => {
                    put(
                        "postfix_pipe_vmap",
                        &postfix::pipe_vmap(lists, map_kind, &now),
                        true,
                    )?;
                    put(
                        "postfix_pipe_domains",
                        &postfix::pipe_domains(lists, map_kind, &now),
                        true,
                    )?;
                    let command = pipe_command(settings);
                    put(
                        "postfix_aliases",
                        &postfix::pipe_aliases(lists, &command, &now),
                        false,
                    )?;
                }
            }
        }
        MtaKind::Exim => {
            let var = settings.var_dir.display().to_string();
            let cfg = exim::render(lists, &mta.lmtp_host, mta.lmtp_port, &var, &now);
            put("exim4_mailcast_main", &cfg.main, false)?;
            put("exim4_mailcast_router", &cfg.router, false)?;
            put("exim4_mailcast_transport", &cfg.transport, false)?;
        }
        MtaKind::Sendmail => {
            put(
                "sendmail_mailertable",
                &sendmail::mailertable(lists, &mta.lmtp_host, &now),
                false,
            )?;
            put(
                "sendmail_mailer.m4",
                &sendmail::mailer(mta.lmtp_port, &now),
                false,
            )?;
        }
    }
    if map_kind == MapKind::Hash && kind == MtaKind::Postfix {
        for path in &maps {
            run_tool(&mta.postmap_command, path)?;
        }
        if mta.delivery == MtaDelivery::Pipe {
            let aliases = data.join("postfix_aliases");
            run_tool(&postalias_command(&mta.postmap_command), &aliases)?;
            give_to_var_owner(&settings.var_dir, &aliases)?;
        }
    }
    Ok(written)
}

/// The command line local(8) runs for a piped list address.
fn pipe_command(settings: &Settings) -> String {
    let mut cmd = settings.mta.mailcast_command.display().to_string();
    if let Some(cfg) = &settings.config_path {
        let abs = cfg.canonicalize().unwrap_or_else(|_| cfg.clone());
        cmd.push_str(&format!(" --config {}", abs.display()));
    }
    cmd
}

/// `postalias` lives beside `postmap` and takes the same options (`postmap -c DIR` gives
/// `postalias -c DIR`).
fn postalias_command(postmap: &str) -> String {
    let mut words = postmap.split_whitespace();
    let program = match words.next().and_then(|p| p.rsplit_once('/')) {
        Some((dir, _)) => format!("{dir}/postalias"),
        None => "postalias".to_string(),
    };
    std::iter::once(program.as_str())
        .chain(words)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Postfix's local(8) runs an alias's command as the owner of the alias database, or as
/// `default_privs` (nobody) when root owns it. The piped `mailcast inject` must write the
/// spool and the store, so the database (and its source) belong to the owner of the var
/// directory, the account that runs mailcast. Changing the owner needs root; a file already
/// owned by that account is left alone.
fn give_to_var_owner(var_dir: &Path, aliases: &Path) -> anyhow::Result<()> {
    let owner =
        fs::metadata(var_dir).with_context(|| format!("cannot inspect {}", var_dir.display()))?;
    // postalias names the database after the table type: hash and btree give .db.
    let candidates = ["", "db", "lmdb", "cdb"].map(|ext| match ext {
        "" => aliases.to_path_buf(),
        ext => aliases.with_extension(ext),
    });
    for path in candidates {
        let Ok(meta) = fs::metadata(&path) else {
            continue;
        };
        if (meta.uid(), meta.gid()) == (owner.uid(), owner.gid()) {
            continue;
        }
        std::os::unix::fs::chown(&path, Some(owner.uid()), Some(owner.gid())).with_context(
            || {
                format!(
                    "cannot give {} to uid {} (the owner of {}), as Postfix needs to run the pipe \
                 command as that user: run `mailcast mta postfix` as that user or as root",
                    path.display(),
                    owner.uid(),
                    var_dir.display()
                )
            },
        )?;
    }
    Ok(())
}

/// Runs `postmap FILE` (or `postalias FILE`); the command may carry arguments.
fn run_tool(command: &str, path: &Path) -> anyhow::Result<()> {
    let mut words = command.split_whitespace();
    let program = words.next().context("empty postmap command")?;
    let status = Command::new(program)
        .args(words)
        .arg(path)
        .status()
        .with_context(|| format!("cannot run `{command} {}`", path.display()))?;
    if !status.success() {
        bail!("`{command} {}` failed with {status}", path.display());
    }
    Ok(())
}

fn remove_map(path: &Path) -> anyhow::Result<()> {
    for p in [path.to_path_buf(), path.with_extension("db")] {
        match fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot remove {}", p.display())),
        }
    }
    Ok(())
}

/// Writes `path` atomically and durably.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("new");
    let mut f = File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    fs::rename(&tmp, path)
        .with_context(|| format!("cannot rename {} into place", tmp.display()))?;
    if let Some(dir) = path.parent() {
        File::open(dir).and_then(|d| d.sync_all()).ok();
    }
    Ok(())
}

/// Keeps exactly one `var/lists/<list-id>/` per list: creates missing ones, removes directories of
/// lists that no longer exist when they are empty.
fn sync_list_dirs(root: &Path, lists: &[MtaList]) -> anyhow::Result<()> {
    fs::create_dir_all(root).with_context(|| format!("cannot create {}", root.display()))?;
    let wanted: std::collections::HashSet<String> = lists
        .iter()
        .map(|l| format!("{}.{}", l.name, l.mail_host))
        .collect();
    for id in &wanted {
        // List names and domains were validated by mailcast-model: no '/', no '..'.
        fs::create_dir_all(root.join(id))
            .with_context(|| format!("cannot create list directory {id}"))?;
    }
    for entry in fs::read_dir(root)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !wanted.contains(&name) && entry.file_type()?.is_dir() {
            // Only empty directories go; anything an operator left there stays.
            let _ = fs::remove_dir(entry.path());
        }
    }
    Ok(())
}

/// An exclusive lock held until dropped.
struct LockFile(File);

fn lock(path: &Path) -> anyhow::Result<LockFile> {
    let f = File::create(path).with_context(|| format!("cannot create lock {}", path.display()))?;
    rustix::fs::flock(f.as_fd(), rustix::fs::FlockOperation::LockExclusive)
        .with_context(|| format!("cannot lock {}", path.display()))?;
    Ok(LockFile(f))
}

impl Drop for LockFile {
    fn drop(&mut self) {
        let _ = rustix::fs::flock(self.0.as_fd(), rustix::fs::FlockOperation::Unlock);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postalias_keeps_the_postmap_options() {
        assert_eq!(
            postalias_command("/usr/sbin/postmap"),
            "/usr/sbin/postalias"
        );
        assert_eq!(
            postalias_command("/usr/sbin/postmap -c /srv/pf/etc"),
            "/usr/sbin/postalias -c /srv/pf/etc"
        );
        assert_eq!(postalias_command("postmap"), "postalias");
        assert_eq!(postalias_command("postmap -v"), "postalias -v");
    }

    #[test]
    fn alias_database_goes_to_the_var_owner() {
        let dir = tempfile::tempdir().unwrap();
        let var = dir.path().join("var");
        fs::create_dir(&var).unwrap();
        let aliases = var.join("postfix_aliases");
        fs::write(&aliases, "x: y\n").unwrap();
        fs::write(aliases.with_extension("db"), "").unwrap();
        let me = fs::metadata(&aliases).unwrap();
        if me.uid() != 0 {
            // Only root can give files away; without it, files already ours stay as they are.
            give_to_var_owner(&var, &aliases).unwrap();
            return;
        }
        std::os::unix::fs::chown(&var, Some(65534), Some(65534)).unwrap();
        give_to_var_owner(&var, &aliases).unwrap();
        for path in [aliases.clone(), aliases.with_extension("db")] {
            let meta = fs::metadata(&path).unwrap();
            assert_eq!(
                (meta.uid(), meta.gid()),
                (65534, 65534),
                "{}",
                path.display()
            );
        }
    }
}
