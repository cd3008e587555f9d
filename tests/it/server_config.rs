//! `gatekeep server --config FILE`: what the file sets, that flags win over it, that a bad
//! file stops the server with the file, line and field named, that the client secret it
//! names never shows, and that `[auth] static_approver_tokens = false` takes decisions away
//! from static approver tokens while requester tokens keep working.

#![expect(clippy::unwrap_used, reason = "a test fails loudly on setup errors")]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use gatekeep::approval::remote::{Client, RemoteError};
use tempfile::TempDir;

use crate::support::service::{GK, Machine, Pipe, STEP, Server, text};

/// Touching `marker*` needs one approval.
const POLICY: &str = r#"
[[rule]]
id = "ask-marker"
decision = "approve"
risk = "high"
message = "Touching a marker needs approval."
program = ["touch"]
args = ["marker*"]
timeout = 60
"#;

const SECRET: &str = "s3cr3t-client-value-never-logged";

/// A directory holding `server.toml` (with `text`) and a private `client-secret`.
fn config_dir(text: &str) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("client-secret");
    std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let file = dir.path().join("server.toml");
    std::fs::write(&file, text).unwrap();
    (dir, file)
}

/// `gatekeep server --config FILE ARGS` run to its end (it must fail to start).
fn refused_start(file: &Path, data: &Path) -> Output {
    let out = Command::new(GK)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", data)
        .env("GATEKEEP_LOG", "debug")
        .args(["server", "--listen", "127.0.0.1:0", "--config"])
        .arg(file)
        .arg("--data")
        .arg(data)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success(), "the server started: {}", text(&out));
    out
}

const OIDC: &str = r#"
[web]
public_url = "https://gk.example.com"

[oidc]
issuer = "https://idp.example.com/oauth2/default"
client_id = "gatekeep"
client_secret_file = "client-secret"
allowed_groups = ["sre"]
"#;

#[test]
fn a_bad_file_stops_the_server_naming_file_line_and_field() {
    let data = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &[&str])] = &[
        // An unknown key (a typo must not silently drop a setting).
        (
            "[web]\npublic_url = \"https://gk.example.com\"\nsecure = true\n",
            ":3:1:",
            &["unknown field `secure`"],
        ),
        // A wrong type.
        (
            "[auth]\nstatic_approver_tokens = \"no\"\n",
            ":2:26:",
            &["auth.static_approver_tokens", "invalid type"],
        ),
        // Plain http to a host that is not loopback.
        (
            "[web]\npublic_url = \"http://gk.example.com\"\n",
            ":2:14:",
            &["web.public_url", "plain http"],
        ),
        (
            &OIDC.replace("https://idp.example.com", "http://idp.example.com"),
            ":6:10:",
            &["oidc.issuer", "plain http"],
        ),
        // The secret file is missing.
        (
            &OIDC.replace("\"client-secret\"", "\"no-such-file\""),
            ":8:22:",
            &["oidc.client_secret_file", "no-such-file", "cannot read"],
        ),
        // Approvers switched off with no provider to replace them.
        (
            "[auth]\nstatic_approver_tokens = false\n",
            ":2:26:",
            &["nobody could approve"],
        ),
        // OIDC without the public URL its redirect needs.
        (
            &OIDC.replace("public_url", "# public_url"),
            ":5:1:",
            &["needs `[web] public_url`"],
        ),
    ];
    for (body, at, needles) in cases {
        let (_dir, file) = config_dir(body);
        let out = refused_start(&file, data.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("{}{at}", file.display())),
            "want {at} in:\n{err}\nfor:\n{body}"
        );
        for needle in *needles {
            assert!(err.contains(needle), "want {needle:?} in:\n{err}");
        }
        assert!(!err.contains(SECRET), "{err}");
        assert!(!err.contains("listening on"), "{err}");
    }
}

#[test]
fn a_world_readable_secret_file_is_refused() {
    let data = tempfile::tempdir().unwrap();
    let (dir, file) = config_dir(OIDC);
    std::fs::set_permissions(
        dir.path().join("client-secret"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let out = refused_start(&file, data.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(":8:22: field `oidc.client_secret_file`"),
        "{err}"
    );
    assert!(err.contains("readable by every user"), "{err}");
}

/// `listen` and `data` from the file; `--listen` and `--data` win over them.
#[test]
fn the_file_sets_listen_and_data_and_flags_win() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (dir, file) = config_dir(&format!(
        "listen = \"127.0.0.1:{port}\"\ndata = \"state\"\n{OIDC}"
    ));
    let mut child = Command::new(GK)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("GATEKEEP_LOG", "debug")
        .args(["server", "--config"])
        .arg(&file)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = Pipe::collect(child.stderr.take().unwrap());
    let url = log.line_after("gatekeep server: listening on ");
    assert_eq!(url, format!("http://127.0.0.1:{port}"));
    // The data directory is the file's `state`, relative to the file.
    let deadline = std::time::Instant::now() + STEP;
    while !dir.path().join("state/gatekeep.db").exists() {
        assert!(std::time::Instant::now() < deadline, "{}", log.text());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    // Nothing the server said, even at debug level, holds the client secret.
    assert!(!log.text().contains(SECRET), "{}", log.text());

    // Flags win: the harness passes --listen 127.0.0.1:0 and --data.
    let mut server = Server::new(tempfile::tempdir().unwrap());
    server.options = vec!["--config".into(), file.display().to_string()];
    server.launch();
    assert_ne!(server.port, port);
    assert!(server.data().join("gatekeep.db").exists());
}

/// With `static_approver_tokens = false`, an approver token from `token create` cannot
/// decide (and the refusal is in the trail), while the requester token still creates and
/// waits.
#[test]
fn static_approver_tokens_can_be_switched_off() {
    let (_dir, file) = config_dir(&format!("{OIDC}\n[auth]\nstatic_approver_tokens = false\n"));
    let mut server = Server::new(tempfile::tempdir().unwrap());
    server.options = vec!["--config".into(), file.display().to_string()];
    server.launch();
    let agent = Machine::with_policy("agent-user", POLICY);
    agent.login(&server, &server.agent_token());
    let mut client = agent.exec("touch marker");
    let id = client.request_id();
    let bob = server.approver_token("bob", "sre");
    match Client::new(&server.url, Some(bob)).decide(&id, true, None) {
        Err(RemoteError::Refused {
            status: 403,
            message,
        }) => {
            assert!(
                message.contains("static approver tokens are switched off"),
                "{message}"
            );
        }
        other => panic!("a static approver token decided: {other:?}"),
    }
    assert!(client.is_running(), "the request must still wait");
    let refused = server
        .audit_events()
        .into_iter()
        .find(|e| e["kind"] == "refused")
        .expect("the refusal is recorded");
    assert_eq!(refused["actor"], "bob", "{refused}");
    assert_eq!(refused["request_id"], "", "{refused}");
    assert_eq!(refused["detail"]["request"], id.as_str(), "{refused}");
}
