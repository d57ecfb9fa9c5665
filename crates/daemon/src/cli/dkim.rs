//! `mailcast dkim keygen DOMAIN SELECTOR [--ed25519]`: writes the key to its default path and
//! prints the one-line TXT record to publish.

use anyhow::bail;

use crate::cli::DkimCommand;
use crate::config::{Settings, default_dkim_key_path};
use crate::dkim::KeyKind;
use crate::dkim::keygen::{generate, txt_record, write_key};

/// Runs `mailcast dkim …`.
pub fn run(settings: &Settings, cmd: DkimCommand) -> anyhow::Result<()> {
    match cmd {
        DkimCommand::Keygen {
            domain,
            selector,
            ed25519,
        } => {
            let domain = domain.trim_end_matches('.').to_ascii_lowercase();
            if mailcast_model::DomainName::parse(&domain).is_err() {
                bail!("{domain:?} is not a domain name");
            }
            if !crate::config::is_dkim_selector(&selector) {
                bail!("{selector:?} is not a DKIM selector (letters, digits, '-', '.')");
            }
            let kind = match ed25519 {
                true => KeyKind::Ed25519,
                false => KeyKind::Rsa,
            };
            let path = default_dkim_key_path(&settings.var_dir, &domain, &selector);
            if path.exists() {
                bail!(
                    "{} exists; refusing to overwrite a DKIM key (remove it first)",
                    path.display()
                );
            }
            let generated = generate(kind)?;
            write_key(&path, &generated.pem)?;
            println!("{}", txt_record(&domain, &selector, &generated.key));
            Ok(())
        }
    }
}
