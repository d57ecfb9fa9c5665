//! The one-click unsubscribe key (RFC 8058): 32 random bytes in `<data>/oneclick.key`,
//! made on first use with mode 0600. Tokens signed with it stay valid while the file does,
//! so it is kept, never rotated by mailcast. Nodes that share a database and a `[web]
//! base_url` must share this file too (copy it), or a token from one is refused by another.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use anyhow::Context;
use mailcast_model::{EmailAddress, ListAddress};
use mailcast_rest::oneclick::OneClick;

use crate::config::Settings;

/// Makes members' one-click URLs: the tokens under the public base URL of `[web]`.
#[derive(Clone, Debug)]
pub struct OneClickLinks {
    tokens: OneClick,
    base_url: String,
}

impl OneClickLinks {
    /// The links of this site, if `[web]` is configured.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Option<OneClickLinks>> {
        let Some(web) = &settings.web else {
            return Ok(None);
        };
        Ok(Some(OneClickLinks {
            tokens: tokens(settings)?,
            base_url: web.base_url.clone(),
        }))
    }

    /// The URL that unsubscribes `email` from `list`.
    pub fn url(&self, list: &ListAddress, email: &EmailAddress) -> String {
        self.tokens.url(&self.base_url, list, email)
    }
}

/// The key's length.
const KEY_LEN: usize = 32;

/// Where the key lives.
pub fn key_path(settings: &Settings) -> PathBuf {
    settings.data_dir().join("oneclick.key")
}

/// The token maker, with the key read or, the first time, made.
pub fn tokens(settings: &Settings) -> anyhow::Result<OneClick> {
    Ok(OneClick::new(&key(settings)?))
}

fn key(settings: &Settings) -> anyhow::Result<Vec<u8>> {
    let path = key_path(settings);
    match std::fs::read(&path) {
        Ok(bytes) if bytes.len() == KEY_LEN => return Ok(bytes),
        Ok(bytes) => anyhow::bail!(
            "{} holds {} bytes, not {KEY_LEN}: remove it to make a new key (links already sent stop working)",
            path.display(),
            bytes.len()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let key: [u8; KEY_LEN] = rand::random();
    let tmp = path.with_extension("key.tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    file.write_all(&key)?;
    file.sync_all()?;
    // A hard link fails if another process made the key meanwhile: then its key wins.
    match std::fs::hard_link(&tmp, &path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
    let _ = std::fs::remove_file(&tmp);
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    anyhow::ensure!(bytes.len() == KEY_LEN, "{} is damaged", path.display());
    Ok(bytes)
}
