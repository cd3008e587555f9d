//! Test certificates: private CAs and the server certificates they signed (rcgen).

use std::path::Path;

/// A CA and a server certificate for `localhost` and 127.0.0.1 that it signed, as PEM files
/// in `dir`: `ca.pem`, `server.pem`, `server.key`; and the same again from another CA.
pub fn make_pki(dir: &Path) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    for prefix in ["", "other-"] {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, format!("gatekeep test {prefix}CA"));
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        let mut leaf =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        leaf.distinguished_name
            .push(DnType::CommonName, "localhost");
        let cert = leaf.signed_by(&key, &issuer).unwrap();
        std::fs::write(dir.join(format!("{prefix}ca.pem")), ca_cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{prefix}server.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{prefix}server.key")), key.serialize_pem()).unwrap();
    }
}
