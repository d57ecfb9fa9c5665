//! The client side of TLS to the relay: a rustls configuration (ring provider) built once per
//! relay from [`TlsConfig`], and the handshake over a TCP stream.
//!
//! Trust: the built-in webpki roots (Mozilla's list), or only the certificates of
//! [`TlsConfig::ca_file`]. The name checked (and sent in SNI) is
//! [`TlsConfig::server_name`], else the relay's host; an IP address is checked against the
//! certificate's IP addresses. `opportunistic` never checks the certificate (RFC 7435: a check
//! whose failure falls back to plain text protects nothing), nor does verification turned off;
//! the handshake's signatures are still checked, so the session is at least encrypted to
//! whoever holds the certificate's key.

use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::security::{TlsConfig, TlsMode};

/// TLS could not be set up for a relay (before any connection).
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// The CA file could not be read.
    #[error("cannot read the CA file {path}: {source}")]
    CaFile {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The CA file holds no usable certificate.
    #[error("the CA file {path} holds no usable PEM certificate{detail}")]
    NoCertificates {
        /// The file.
        path: String,
        /// What rustls said about a certificate it refused, if any.
        detail: String,
    },
    /// The name to check is neither a DNS name nor an IP address.
    #[error("{name:?} is not a valid TLS server name (a DNS name or an IP address)")]
    ServerName {
        /// The name.
        name: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// What a relay's connections need for TLS: the rustls connector and the name to check.
pub struct TlsClient {
    connector: TlsConnector,
    name: ServerName<'static>,
}

impl TlsClient {
    /// Builds the TLS client for a relay at `host` (used for the name unless the config
    /// names one). `Ok(None)` when the mode is `off`.
    pub fn new(config: &TlsConfig, host: &str) -> Result<Option<TlsClient>, TlsSetupError> {
        if config.mode == TlsMode::Off {
            return Ok(None);
        }
        let provider = ring_provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        let checked = config.verify && config.mode.authenticates();
        let client = if checked {
            let roots = match &config.ca_file {
                Some(path) => roots_from_file(path)?,
                None => RootCertStore {
                    roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                },
            };
            builder.with_root_certificates(roots).with_no_client_auth()
        } else {
            let verifier = AnyCertificate(provider.signature_verification_algorithms);
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth()
        };
        let name = config.server_name.as_deref().unwrap_or(host);
        let name = ServerName::try_from(name.to_string())
            .map_err(|_| TlsSetupError::ServerName { name: name.into() })?;
        Ok(Some(TlsClient {
            connector: TlsConnector::from(Arc::new(client)),
            name,
        }))
    }

    /// Runs the client handshake over `stream`.
    pub(crate) async fn handshake(&self, stream: TcpStream) -> io::Result<TlsStream<TcpStream>> {
        self.connector.connect(self.name.clone(), stream).await
    }
}

/// rustls's ring provider (the project keeps ring, never aws-lc-rs; rustls deprecates it only
/// for lacking post-quantum key exchange, which a relay hop does not need yet). Shared with
/// the test sink.
#[allow(deprecated)]
pub(crate) fn ring_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificates of a PEM bundle, as the only trust anchors.
fn roots_from_file(path: &Path) -> Result<RootCertStore, TlsSetupError> {
    let shown = path.display().to_string();
    let pem = std::fs::read(path).map_err(|source| TlsSetupError::CaFile {
        path: shown.clone(),
        source,
    })?;
    let mut roots = RootCertStore::empty();
    let mut detail = String::new();
    for certificate in CertificateDer::pem_slice_iter(&pem) {
        let added = certificate
            .map_err(|e| format!("{e:?}"))
            .and_then(|der| roots.add(der).map_err(|e| e.to_string()));
        if let Err(why) = added {
            detail = format!(" ({why})");
        }
    }
    if roots.is_empty() {
        return Err(TlsSetupError::NoCertificates {
            path: shown,
            detail,
        });
    }
    Ok(roots)
}

/// Accepts any certificate chain, but still checks the handshake's signatures.
#[derive(Debug)]
struct AnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}
