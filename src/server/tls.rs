//! HTTPS for `gatekeep server --tls-cert FILE --tls-key FILE`: rustls on ring (the provider
//! the client already uses; no OpenSSL), served through axum's own `serve`, so graceful
//! shutdown and long polls behave exactly as over plain HTTP.
//!
//! Handshakes run in their own tasks, off the accept loop: a client that connects and then
//! stalls cannot hold up everyone else's connections.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How long a client has to complete its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

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

/// A listener that yields connections whose TLS handshake has completed.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Starts accepting on `tcp`; the returned task does the accepting and handshakes (abort it
    /// once serving ends).
    pub fn start(
        tcp: TcpListener,
        config: Arc<ServerConfig>,
    ) -> (TlsListener, tokio::task::JoinHandle<()>) {
        let local = tcp
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let (tx, ready) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(config);
        let task = tokio::spawn(async move {
            loop {
                let (stream, peer) = match tcp.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of descriptors and the like: wait instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        (TlsListener { ready, local }, task)
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accepting task ended (aborted at shutdown): nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
