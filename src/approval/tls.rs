//! TLS for the approval service's client: which certificates it trusts and, optionally, which
//! server key it insists on. Built only when a client for the service is made (the approval
//! path and the approver's commands), never on the allowed-command path.
//!
//! Trusted: the system's CA bundle, read from the distribution's fixed location, plus the
//! `ca = "FILE"` of `config.toml`. `SSL_CERT_FILE` and `SSL_CERT_DIR` are deliberately not
//! read: they are environment an agent can set, and the trust anchor must not move with it.
//! A `tls_pin = "sha256/BASE64"` additionally requires the server certificate's public key
//! (the SHA-256 of its DER SubjectPublicKeyInfo, base64, as HPKP and `curl --pinnedpubkey`
//! write it) to be that one, after the usual chain and name checks.
//!
//! ureq's own TLS connector takes no custom verifier, so this module supplies the TLS step of
//! ureq's connector chain itself (on ring, the provider ureq's rustls already uses).

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, StreamOwned};
use sha2::{Digest, Sha256};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport,
    TransportAdapter,
};

/// Where distributions keep the system CA bundle; the first that exists is used.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The pin of a certificate's public key: `sha256/` and the base64 SHA-256 of its DER
/// SubjectPublicKeyInfo. `gatekeep server` prints its own at start.
pub fn spki_pin(cert: &CertificateDer<'_>) -> Result<String, String> {
    let parsed = rustls::server::ParsedCertificate::try_from(cert)
        .map_err(|e| format!("cannot read the certificate: {e}"))?;
    Ok(format!(
        "sha256/{}",
        B64.encode(Sha256::digest(parsed.subject_public_key_info().as_ref()))
    ))
}

/// Reads a `tls_pin` value: `sha256/BASE64` (curl's `sha256//BASE64` too). Base64 itself may
/// begin with `/`, so curl's extra slash is dropped only when the value does not decode as is.
pub fn parse_pin(pin: &str) -> Result<[u8; 32], String> {
    let decode = |b: &str| {
        B64.decode(b)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
    };
    pin.strip_prefix("sha256/")
        .and_then(|b| decode(b).or_else(|| b.strip_prefix('/').and_then(decode)))
        .ok_or_else(|| {
            format!("`{pin}` is not a key pin: expected sha256/ and the base64 SHA-256 of the server certificate's public key (as `gatekeep server` prints it)")
        })
}

/// Reads every certificate of a PEM file.
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read certificates from {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(certs)
}

/// The client's TLS configuration: system roots plus `ca`, and the key `pin` if any.
pub fn client_config(ca: Option<&Path>, pin: Option<&str>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    if let Some(bundle) = SYSTEM_BUNDLES.iter().map(Path::new).find(|p| p.exists()) {
        // A system bundle with a stray unreadable entry still trusts the rest.
        if let Ok(certs) = read_certs(bundle) {
            roots.add_parsable_certificates(certs);
        }
    }
    if let Some(ca) = ca {
        for cert in read_certs(ca)? {
            roots
                .add(cert)
                .map_err(|e| format!("{}: not a usable CA certificate: {e}", ca.display()))?;
        }
    }
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let config = match pin {
        None => builder.with_root_certificates(roots).with_no_client_auth(),
        Some(pin) => {
            let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| format!("no certificate authority to trust: {e}"))?;
            let verifier = PinnedVerifier {
                inner,
                pin: parse_pin(pin)?,
            };
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth()
        }
    };
    Ok(Arc::new(config))
}

/// The usual verification, then the pinned key.
#[derive(Debug)]
struct PinnedVerifier {
    inner: Arc<WebPkiServerVerifier>,
    pin: [u8; 32],
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified =
            self.inner
                .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)?;
        let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
        let got: [u8; 32] = Sha256::digest(parsed.subject_public_key_info().as_ref()).into();
        if got != self.pin {
            return Err(rustls::Error::General(format!(
                "the server's certificate key is sha256/{}, not the tls_pin sha256/{} of the gatekeep config",
                B64.encode(got),
                B64.encode(self.pin)
            )));
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The TLS step of the client's connector chain (after TCP, and after a CONNECT through a
/// configured proxy): wraps https connections with [`client_config`].
#[derive(Debug)]
pub struct TlsConnector {
    pub config: Arc<ClientConfig>,
}

impl<In: Transport> Connector<In> for TlsConnector {
    type Out = Either<In, TlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let host = details
            .uri
            .host()
            .ok_or(ureq::Error::Tls("the URL has no host"))?;
        let name = ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']'))
            .map_err(|_| ureq::Error::Tls("the server name is not valid for TLS"))?
            .to_owned();
        let mut conn = ClientConnection::new(self.config.clone(), name)?;
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        sock.set_timeout(details.timeout);
        conn.complete_io(&mut sock)?;
        Ok(Some(Either::B(TlsTransport {
            buffers: LazyBuffers::new(
                details.config.input_buffer_size(),
                details.config.output_buffer_size(),
            ),
            stream: StreamOwned { conn, sock },
        })))
    }
}

/// One TLS connection to the service.
pub struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl std::fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsTransport").finish_non_exhaustive()
    }
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_are_read_in_both_spellings_and_refused_otherwise() {
        let b64 = B64.encode([7u8; 32]);
        assert_eq!(parse_pin(&format!("sha256/{b64}")).unwrap(), [7u8; 32]);
        assert_eq!(parse_pin(&format!("sha256//{b64}")).unwrap(), [7u8; 32]);
        // A digest whose base64 begins with `/` (0xfc…) in both spellings.
        let slash = B64.encode([0xfcu8; 32]);
        assert!(slash.starts_with('/'));
        assert_eq!(parse_pin(&format!("sha256/{slash}")).unwrap(), [0xfc; 32]);
        assert_eq!(parse_pin(&format!("sha256//{slash}")).unwrap(), [0xfc; 32]);
        for bad in [
            b64.clone(),
            format!("sha1/{b64}"),
            "sha256/not-base64!".to_owned(),
            format!("sha256/{}", B64.encode([7u8; 20])),
        ] {
            assert!(
                parse_pin(&bad).unwrap_err().contains("not a key pin"),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_ca_file_without_certificates_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let e = client_config(Some(&path), None).unwrap_err();
        assert!(
            e.contains("ca.pem") && e.contains("no PEM certificate"),
            "{e}"
        );
        let e = client_config(Some(&dir.path().join("missing.pem")), None).unwrap_err();
        assert!(e.contains("missing.pem"), "{e}");
    }
}
