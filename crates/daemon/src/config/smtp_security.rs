//! `[smtp]` TLS and AUTH keys, validated: `tls`, `tls_verify`, `tls_ca_file`,
//! `tls_server_name`, `auth_user`, `auth_password` or `auth_password_file`,
//! `auth_mechanism`, `auth_allow_plaintext` (Mailman's `[mta] smtp_secure_mode`,
//! `smtp_verify_cert`/`smtp_verify_hostname`, `smtp_user`, `smtp_pass`; README.md).
//!
//! The CA file is read here, so that a missing or empty bundle stops the daemon at start-up
//! instead of deferring every delivery. The password is never part of an error.

use std::path::{Path, PathBuf};

use anyhow::bail;
use mailcast_outbound::{
    AuthMechanism, Credentials, TlsClient, TlsConfig, TlsMode, TlsSetupError, is_loopback,
};

use super::raw::RawSmtp;

/// The TLS settings and the credentials of `[smtp]`.
pub(super) fn security(
    raw: &RawSmtp,
    resolve: &dyn Fn(&str) -> PathBuf,
) -> anyhow::Result<(TlsConfig, Option<Credentials>)> {
    let mode = match raw.tls.as_str() {
        "off" => TlsMode::Off,
        "opportunistic" => TlsMode::Opportunistic,
        "required" => TlsMode::Required,
        "implicit" => TlsMode::Implicit,
        other => {
            bail!("key `smtp.tls`: {other:?} is not one of off, opportunistic, required, implicit")
        }
    };
    let server_name = match raw.tls_server_name.as_deref().map(str::trim) {
        Some("") => bail!("key `smtp.tls_server_name`: must not be empty"),
        name => name.map(String::from),
    };
    let tls = TlsConfig {
        mode,
        verify: raw.tls_verify,
        ca_file: raw.tls_ca_file.as_deref().map(resolve),
        server_name,
    };
    check_tls(&tls, &raw.host)?;
    let credentials = credentials(raw, resolve)?;
    if let Some(credentials) = &credentials
        && mode == TlsMode::Off
        && !credentials.allow_plaintext
        && !is_loopback(&raw.host)
    {
        bail!(
            "key `smtp.auth_user`: the credentials would cross the network in clear: set \
             `smtp.tls` to \"required\" or \"implicit\" (or `smtp.auth_allow_plaintext = true`)"
        );
    }
    Ok((tls, credentials))
}

/// Builds the TLS client once, as the relay will, to report a bad CA file or name now.
fn check_tls(tls: &TlsConfig, host: &str) -> anyhow::Result<()> {
    if tls.mode == TlsMode::Off && tls.ca_file.is_none() {
        return Ok(());
    }
    // Checked as if verifying, so that the CA file is read whatever the mode.
    let checked = TlsConfig {
        mode: TlsMode::Required,
        verify: true,
        ..tls.clone()
    };
    match TlsClient::new(&checked, host) {
        Ok(_) => Ok(()),
        Err(error @ (TlsSetupError::CaFile { .. } | TlsSetupError::NoCertificates { .. })) => {
            bail!("key `smtp.tls_ca_file`: {error}")
        }
        Err(error @ TlsSetupError::ServerName { .. }) => match tls.server_name {
            Some(_) => bail!("key `smtp.tls_server_name`: {error}"),
            None => bail!("key `smtp.host`: {error}; set `smtp.tls_server_name`"),
        },
        Err(error) => bail!("key `smtp.tls`: {error}"),
    }
}

fn credentials(
    raw: &RawSmtp,
    resolve: &dyn Fn(&str) -> PathBuf,
) -> anyhow::Result<Option<Credentials>> {
    let user = raw.auth_user.as_deref();
    let password = match (&raw.auth_password, &raw.auth_password_file) {
        (Some(_), Some(_)) => bail!(
            "key `smtp.auth_password_file`: give `smtp.auth_password` or \
             `smtp.auth_password_file`, not both"
        ),
        (Some(password), None) => Some(password.clone()),
        (None, Some(file)) => Some(read_password(&resolve(file))?),
        (None, None) => None,
    };
    let mechanism = match raw.auth_mechanism.as_deref() {
        None => None,
        Some(name) => match AuthMechanism::parse(name) {
            Some(mechanism) => Some(mechanism),
            None => bail!("key `smtp.auth_mechanism`: {name:?} is not one of PLAIN, LOGIN"),
        },
    };
    let (user, password) = match (user, password) {
        (None, None) if mechanism.is_some() => {
            bail!("key `smtp.auth_mechanism`: needs `smtp.auth_user`")
        }
        (None, None) => return Ok(None),
        (None, Some(_)) => bail!("key `smtp.auth_password`: needs `smtp.auth_user`"),
        (Some(_), None) => {
            bail!("key `smtp.auth_user`: needs `smtp.auth_password` or `smtp.auth_password_file`")
        }
        (Some(user), Some(password)) => (user, password),
    };
    if user.is_empty() || user.contains(['\0', '\r', '\n']) {
        bail!("key `smtp.auth_user`: must be a non-empty name without NUL or line breaks");
    }
    if password.is_empty() || password.contains('\0') {
        bail!("key `smtp.auth_password`: must not be empty or contain NUL");
    }
    Ok(Some(Credentials {
        user: user.to_string(),
        password,
        mechanism,
        allow_plaintext: raw.auth_allow_plaintext,
    }))
}

/// The password file's content without its final line break.
fn read_password(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        anyhow::anyhow!(
            "key `smtp.auth_password_file`: cannot read {}: {e}",
            path.display()
        )
    })?;
    let password = text
        .strip_suffix('\n')
        .map(|p| p.strip_suffix('\r').unwrap_or(p))
        .unwrap_or(&text);
    if password.is_empty() {
        bail!("key `smtp.auth_password_file`: {} is empty", path.display());
    }
    Ok(password.to_string())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::Settings;
    use super::*;

    fn load(dir: &Path, smtp: &str) -> anyhow::Result<Settings> {
        Settings::from_toml(&format!("[smtp]\n{smtp}"), dir, None)
    }

    #[test]
    fn off_by_default_with_verification_on() {
        let dir = tempfile::tempdir().unwrap();
        let settings = load(dir.path(), "").unwrap();
        assert_eq!(settings.smtp.tls, TlsConfig::off());
        assert!(settings.smtp.tls.verify);
        assert_eq!(settings.smtp.auth, None);
    }

    #[test]
    fn a_remote_relay_on_587() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("relay.pass"), "s3cret\n").unwrap();
        let smtp = "host = \"smtp.example.net\"\nport = 587\ntls = \"required\"\n\
                    auth_user = \"lists@example.net\"\nauth_password_file = \"relay.pass\"\n\
                    auth_mechanism = \"login\"\n";
        let settings = load(dir.path(), smtp).unwrap();
        assert_eq!(settings.smtp.tls.mode, TlsMode::Required);
        let auth = settings.smtp.auth.clone().unwrap();
        assert_eq!(
            (auth.user.as_str(), auth.password.as_str()),
            ("lists@example.net", "s3cret")
        );
        assert_eq!(auth.mechanism, Some(AuthMechanism::Login));
        let shown = format!("{:?}", settings.smtp);
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn bad_values_name_the_key_and_never_the_password() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("empty.pem"), "not a certificate\n").unwrap();
        let cases = [
            (
                "tls = \"starttls\"",
                "key `smtp.tls`: \"starttls\" is not one of",
            ),
            (
                "tls = \"required\"\ntls_ca_file = \"missing.pem\"",
                "key `smtp.tls_ca_file`: cannot read",
            ),
            (
                "tls = \"required\"\ntls_ca_file = \"empty.pem\"",
                "key `smtp.tls_ca_file`: the CA file",
            ),
            (
                "tls = \"required\"\ntls_server_name = \"\"",
                "key `smtp.tls_server_name`: must not be empty",
            ),
            (
                "tls = \"required\"\ntls_server_name = \"bad name!\"",
                "key `smtp.tls_server_name`:",
            ),
            (
                "auth_user = \"u\"",
                "key `smtp.auth_user`: needs `smtp.auth_password`",
            ),
            (
                "auth_password = \"hunter2\"",
                "key `smtp.auth_password`: needs `smtp.auth_user`",
            ),
            (
                "auth_user = \"u\"\nauth_password = \"hunter2\"\nauth_password_file = \"p\"",
                "not both",
            ),
            (
                "auth_user = \"u\"\nauth_password_file = \"nope\"",
                "key `smtp.auth_password_file`: cannot read",
            ),
            (
                "auth_user = \"u\"\nauth_password = \"hunter2\"\nauth_mechanism = \"CRAM-MD5\"",
                "key `smtp.auth_mechanism`: \"CRAM-MD5\" is not one of PLAIN, LOGIN",
            ),
            (
                "host = \"smtp.example.net\"\nauth_user = \"u\"\nauth_password = \"hunter2\"",
                "key `smtp.auth_user`: the credentials would cross the network in clear",
            ),
        ];
        for (smtp, expected) in cases {
            let error = format!("{:#}", load(dir.path(), smtp).expect_err(smtp));
            assert!(error.contains(expected), "{smtp}: {error}");
            assert!(!error.contains("hunter2"), "{smtp}: {error}");
        }
    }

    #[test]
    fn credentials_in_clear_to_a_loopback_relay_or_when_allowed() {
        let dir = tempfile::tempdir().unwrap();
        for smtp in [
            "auth_user = \"u\"\nauth_password = \"p\"",
            "host = \"smtp.example.net\"\nauth_user = \"u\"\nauth_password = \"p\"\n\
             auth_allow_plaintext = true",
        ] {
            let settings = load(dir.path(), smtp).unwrap();
            assert!(settings.smtp.auth.is_some(), "{smtp}");
        }
    }
}
