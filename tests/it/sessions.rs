//! `gatekeep server session list|revoke` against approver sessions from a real OIDC sign-in
//! (npm `oidc-provider`, see `support/oidc.rs`): the list shows who, from which provider,
//! and until when; revoking ends the session with the next call and is recorded in the
//! audit chain.

#![expect(clippy::unwrap_used, reason = "a test fails loudly on setup errors")]

use std::os::unix::fs::PermissionsExt;

use gatekeep::approval::remote::{Client, RemoteError};
use serde_json::Value;
use tempfile::TempDir;

use crate::support::oidc::{Browser, CLIENT_SECRET, Provider, free_port};
use crate::support::service::{Server, text};

/// A provider and a gatekeep server that signs approvers in through it.
struct Signins {
    _provider: Provider,
    issuer: String,
    server: Server,
    public: String,
    _config: TempDir,
}

impl Signins {
    fn new() -> Signins {
        let port = free_port();
        let public = format!("http://127.0.0.1:{port}");
        let provider = Provider::start(&format!("{public}/auth/callback"));
        let config = tempfile::tempdir().unwrap();
        let secret = config.path().join("client-secret");
        std::fs::write(&secret, CLIENT_SECRET).unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        let file = config.path().join("server.toml");
        std::fs::write(
            &file,
            format!(
                "[web]\npublic_url = \"{public}\"\n\n[oidc]\nissuer = \"{}\"\nclient_id = \"gatekeep\"\nclient_secret_file = \"client-secret\"\nname_claim = \"email\"\ngroups_claim = \"groups\"\n",
                provider.issuer
            ),
        )
        .unwrap();
        let mut server = Server::new(tempfile::tempdir().unwrap());
        server.port = port;
        server.options = vec!["--config".into(), file.display().to_string()];
        server.launch();
        Signins {
            issuer: provider.issuer.clone(),
            _provider: provider,
            server,
            public,
            _config: config,
        }
    }

    /// Signs `login` in with a new browser; returns the session token.
    fn sign_in(&self, login: &str) -> String {
        let mut browser = Browser::default();
        let callback = browser.sign_in_until_callback(&self.public, login);
        let answer = browser.get(&callback);
        assert_eq!(answer.status, 200, "{}", answer.body);
        browser.cookie(&self.public, "gk_session").unwrap()
    }

    /// `gatekeep server session list --json`.
    fn sessions(&self) -> Vec<Value> {
        let out = self.server.admin(&["session", "list", "--json"]);
        assert!(out.status.success(), "{}", text(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn whoami(&self, session: &str) -> Result<String, RemoteError> {
        Client::new(&self.server.url, Some(session.to_owned()))
            .whoami()
            .map(|me| me.name)
    }
}

#[test]
fn operators_list_sessions_and_a_revoked_one_stops_at_once_on_the_record() {
    let setup = Signins::new();
    assert!(setup.sessions().is_empty());
    let alice = setup.sign_in("alice");
    let bob = setup.sign_in("bob");
    assert_eq!(setup.whoami(&alice).unwrap(), "alice@example.com");

    // Who, from which provider, since and until when; never the token.
    let listed = setup.sessions();
    assert_eq!(listed.len(), 2, "{listed:?}");
    let entry = listed
        .iter()
        .find(|s| s["name"] == "alice@example.com")
        .unwrap();
    assert_eq!(entry["issuer"], setup.issuer.as_str());
    assert_eq!(entry["subject"], "alice");
    assert_eq!(entry["groups"], serde_json::json!(["sre"]));
    assert!(entry["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(entry["expires_at"].as_str().unwrap() > entry["created_at"].as_str().unwrap());
    let id = entry["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 12);
    let table = setup.server.admin(&["session", "list"]);
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    assert!(
        table.starts_with("ID") && table.contains(&id) && table.contains(&setup.issuer),
        "{table}"
    );
    assert!(!table.contains(&alice), "the token is never shown");

    // Revoked by id: the next call with it is refused; bob's session goes on.
    let out = setup.server.admin(&["session", "revoke", &id]);
    assert!(out.status.success(), "{}", text(&out));
    match setup.whoami(&alice) {
        Err(RemoteError::Refused { status: 401, .. }) => {}
        other => panic!("a revoked session still works: {other:?}"),
    }
    assert_eq!(setup.whoami(&bob).unwrap(), "bob@example.com");
    assert_eq!(setup.sessions().len(), 1);

    // Revoked by holder name too; nothing left to revoke is an error that says what to do.
    let out = setup
        .server
        .admin(&["session", "revoke", "bob@example.com"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(setup.whoami(&bob).is_err());
    let out = setup.server.admin(&["session", "revoke", &id]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("session list"),
        "{}",
        text(&out)
    );

    // Each revocation is in the chain, by the operator, and the chain verifies.
    let events = setup.server.audit_events();
    let revoked: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == "session_revoked")
        .collect();
    assert_eq!(revoked.len(), 2, "{events:?}");
    assert_eq!(revoked[0]["detail"]["session"], id.as_str());
    assert_eq!(revoked[0]["detail"]["name"], "alice@example.com");
    assert!(
        revoked[0]["actor"].as_str().unwrap().starts_with("admin"),
        "{:?}",
        revoked[0]
    );
    let out = setup.server.admin(&["audit", "verify"]);
    assert!(out.status.success(), "{}", text(&out));
}
