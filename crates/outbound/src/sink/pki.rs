//! A throw-away certificate authority and server certificate for TLS tests, made with the
//! `openssl` command (installed by scripts/tools-install.sh): an EC P-256 CA, and a server
//! certificate it signed for `localhost` and 127.0.0.1, valid for two days.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The files of a test PKI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestPki {
    /// The CA certificate (PEM): what a client should trust.
    pub ca_file: PathBuf,
    /// The server's certificate (PEM), signed by the CA.
    pub cert_file: PathBuf,
    /// The server's private key (PEM, PKCS #8).
    pub key_file: PathBuf,
}

impl TestPki {
    /// Makes the CA and the server certificate in `dir`.
    pub fn generate(dir: &Path) -> io::Result<TestPki> {
        let path = |name: &str| dir.join(name);
        let ca_key = path("ca.key");
        let ca_file = path("ca.pem");
        let key_file = path("server.key");
        let csr = path("server.csr");
        let cert_file = path("server.pem");
        let extensions = path("server.ext");
        std::fs::write(
            &extensions,
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )?;
        let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2";
        let ca_head = format!("req -x509 {ec}");
        let mut ca: Vec<&str> = ca_head.split(' ').collect();
        ca.extend(["-subj", "/CN=mailcast test CA"]);
        ca.extend(["-addext", "basicConstraints=critical,CA:TRUE"]);
        ca.extend(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
        ca.extend(["-keyout", s(&ca_key), "-out", s(&ca_file)]);
        openssl(&ca)?;
        let request_head = format!("req -new {ec}");
        let mut request: Vec<&str> = request_head.split(' ').collect();
        request.extend([
            "-subj",
            "/CN=localhost",
            "-keyout",
            s(&key_file),
            "-out",
            s(&csr),
        ]);
        openssl(&request)?;
        #[rustfmt::skip]
        openssl(&[
            "x509", "-req", "-in", s(&csr), "-CA", s(&ca_file), "-CAkey", s(&ca_key),
            "-CAcreateserial", "-days", "2", "-extfile", s(&extensions), "-out", s(&cert_file),
        ])?;
        Ok(TestPki {
            ca_file,
            cert_file,
            key_file,
        })
    }
}

fn s(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

fn openssl(args: &[&str]) -> io::Result<()> {
    let output = Command::new("openssl").args(args).output()?;
    if output.status.success() {
        return Ok(());
    }
    Err(io::Error::other(format!(
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    )))
}
