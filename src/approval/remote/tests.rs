use super::*;

fn write(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn reads_the_server_and_refuses_broken_pins() {
    let dir = tempfile::tempdir().unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]).verifying_key();
    let x = verdict::Jwk::from_key(&key).x;
    let path = write(
        dir.path(),
        &format!("[server]\nurl = \"http://gk:8700/\"\nkey = \"{x}\"\n"),
    );
    let config = read_config(&path).unwrap().unwrap();
    assert_eq!(config.url, "http://gk:8700");
    assert_eq!(config.key, key);

    // No [server]: not configured (policy-only files are fine).
    assert!(
        read_config(&write(dir.path(), "[other]\n"))
            .unwrap()
            .is_none()
    );
    assert!(
        read_config(&dir.path().join("missing.toml"))
            .unwrap()
            .is_none()
    );

    // A pin that is not an Ed25519 key, a missing key, a non-http URL: errors that
    // name the file, never "not configured" (which would silently skip the service).
    for bad in [
        "[server]\nurl = \"http://gk\"\nkey = \"not-a-key\"\n",
        "[server]\nurl = \"http://gk\"\n",
        &format!("[server]\nurl = \"file:///x\"\nkey = \"{x}\"\n"),
        "[server\n",
    ] {
        let e = read_config(&write(dir.path(), bad))
            .unwrap_err()
            .to_string();
        assert!(e.contains("config.toml"), "{e}");
    }
}

#[test]
fn a_config_others_can_write_or_own_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]).verifying_key();
    let x = verdict::Jwk::from_key(&key).x;
    let path = write(
        dir.path(),
        &format!("[server]\nurl = \"http://gk:8700/\"\nkey = \"{x}\"\n"),
    );
    for mode in [0o620, 0o602, 0o666] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let e = read_config(&path).unwrap_err().to_string();
        assert!(
            e.contains("config.toml") && e.contains("writable by group or others"),
            "{mode:o}: {e}"
        );
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(read_config(&path).unwrap().is_some());
    // Another user's file (only root can hand a file to someone else).
    if nix::unistd::geteuid().is_root() {
        let nobody = nix::unistd::Uid::from_raw(65534);
        nix::unistd::chown(&path, Some(nobody), None).unwrap();
        let e = read_config(&path).unwrap_err().to_string();
        assert!(e.contains("owned by uid 65534"), "{e}");
    }
}

#[test]
fn connection_keys_are_read_checked_and_saved() {
    let dir = tempfile::tempdir().unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]).verifying_key();
    let x = verdict::Jwk::from_key(&key).x;
    let pin = format!(
        "sha256/{}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [1u8; 32])
    );
    let path = write(
        dir.path(),
        &format!(
            "[server]\nurl = \"https://gk.example:8700\"\nkey = \"{x}\"\nproxy = \"http://127.0.0.1:3128\"\nca = \"/etc/gatekeep/ca.pem\"\ntls_pin = \"{pin}\"\ninsecure_http = true\nurls = [\"https://gk.example:8700\", \"https://gk2.example:8700/\"]\n"
        ),
    );
    let want = Connection {
        proxy: Some("http://127.0.0.1:3128".into()),
        ca: Some("/etc/gatekeep/ca.pem".into()),
        tls_pin: Some(pin.clone()),
        insecure_http: true,
        // The URL itself is not repeated among the replicas.
        replicas: vec!["https://gk2.example:8700".into()],
    };
    assert_eq!(read_config(&path).unwrap().unwrap().connection, want);
    save_config(&path, "https://gk.example:8700", &key, &want).unwrap();
    assert_eq!(read_config(&path).unwrap().unwrap().connection, want);

    for bad in [
        "proxy = \"socks5://127.0.0.1:1080\"",
        "ca = \"relative/ca.pem\"",
        "tls_pin = \"sha1/abc\"",
        "insecure_http = \"yes\"",
        "proxy = 3",
        "urls = [3]",
        "urls = [\"ftp://gk3.example\"]",
    ] {
        let path = write(
            dir.path(),
            &format!("[server]\nurl = \"https://gk\"\nkey = \"{x}\"\n{bad}\n"),
        );
        let e = read_config(&path).unwrap_err().to_string();
        assert!(
            e.contains("config.toml") && e.contains("[server]"),
            "{bad}: {e}"
        );
    }
}

#[test]
fn plain_http_is_for_loopback_unless_accepted() {
    for url in [
        "http://127.0.0.1:8700",
        "http://127.1.2.3",
        "http://localhost:1",
        "http://LOCALHOST",
        "http://[::1]:8700",
        "https://gk.invalid",
    ] {
        assert!(check_http(url, false).is_ok(), "{url}");
    }
    for url in [
        "http://gk.invalid:8700",
        "http://10.0.0.1",
        "http://[::2]:1",
        "http://localhost.gk.invalid",
        "http://127.0.0.1.gk.invalid",
    ] {
        let e = check_http(url, false).unwrap_err().to_string();
        assert!(
            e.contains("refusing plain http") && e.contains("--insecure-http"),
            "{e}"
        );
        assert!(check_http(url, true).is_ok(), "{url}");
    }
}

#[test]
fn saving_keeps_other_tables_and_clearing_removes_only_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "[other]\nx = 1\n");
    let key = ed25519_dalek::SigningKey::from_bytes(&[4; 32]).verifying_key();
    save_config(&path, "http://gk:1", &key, &Connection::default()).unwrap();
    let config = read_config(&path).unwrap().unwrap();
    assert_eq!((config.url.as_str(), config.key), ("http://gk:1", key));
    assert_eq!(config.connection, Connection::default());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("[other]") && text.contains(&verdict::thumbprint(&key)));

    assert!(clear_config(&path).unwrap());
    assert!(read_config(&path).unwrap().is_none());
    assert!(std::fs::read_to_string(&path).unwrap().contains("[other]"));
    assert!(!clear_config(&path).unwrap());
}
