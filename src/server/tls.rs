//! HTTPS for `gatekeep server --tls-cert FILE --tls-key FILE`: rustls on ring (the provider
//! the client already uses; no OpenSSL). Connections are served by [`super::conn`], the same
//! way as plain HTTP: the handshake runs in the connection's own task, off the accept loop,
//! within the header timeout, so a client that connects and stalls holds up no one else.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The server's TLS settings and the pin clients may put in `tls_pin`.
pub struct Tls {
    pub config: Arc<ServerConfig>,
    /// `sha256/BASE64` of the certificate's public key.
    pub pin: String,
}

/// Reads the PEM certificate chain and private key.
pub fn server_config(cert: &Path, key: &Path) -> Result<Tls> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("cannot read the certificate chain {}", cert.display()))?;
    let Some(leaf) = certs.first() else {
        bail!(
            "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)\nhint: --tls-cert takes the server certificate, then any intermediates, in PEM",
            cert.display()
        );
    };
    let pin = crate::approval::tls::spki_pin(leaf)
        .map_err(anyhow::Error::msg)
        .with_context(|| cert.display().to_string())?;
    let private = PrivateKeyDer::from_pem_file(key).with_context(|| {
        format!(
            "cannot read a PEM private key from {}\nhint: --tls-key takes the certificate's key (PKCS#8, PKCS#1 or SEC1 PEM)",
            key.display()
        )
    })?;
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .context("cannot set up TLS")?
            .with_no_client_auth()
            .with_single_cert(certs, private)
            .with_context(|| {
                format!(
                    "{} and {} do not make a usable certificate and key pair",
                    cert.display(),
                    key.display()
                )
            })?;
    // The service speaks HTTP/1.1 only (axum is built without http2).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Tls {
        config: Arc::new(config),
        pin,
    })
}
