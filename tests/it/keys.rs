//! Rotating the service's signing key (`gatekeep server key rotate`) without downtime: the
//! JWK Set publishes the current key and the previous one, which endorses it; a client
//! pinned to the previous key follows the endorsement and nothing else. A fake service
//! publishing an attacker's key with a missing or bad endorsement gets no command run, and
//! neither does a key two rotations from the pin. On PostgreSQL the key set lives in the
//! database, sealed under a key-encryption key, and every replica picks up a rotation.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on setup errors"
)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::SigningKey;
use gatekeep::api::keys::{self, Endorsement};
use gatekeep::api::protocol::CreateRequest;
use gatekeep::api::verdict::{self, Approval, Claims, FinalState, Jwk, JwkSet};
use gatekeep::approval::remote::Client;
use serde_json::{Value, json};

use crate::support::fake::{self, Call, FakeHttp};
use crate::support::pg;
use crate::support::service::{GK, Machine, STEP, Server, text};

/// Touching a `marker*` file needs one approval.
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

/// The `kid` in a compact JWS's header.
fn kid_of(jws: &str) -> String {
    let header = B64.decode(jws.split('.').next().unwrap()).unwrap();
    serde_json::from_slice::<Value>(&header).unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned()
}

impl Server {
    /// `gatekeep server key rotate`: the new key's thumbprint.
    fn rotate(&self) -> String {
        let out = self.admin(&["key", "rotate"]);
        assert!(out.status.success(), "key rotate: {}", text(&out));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// Waits until the running server says it signs with `kid`.
    fn wait_for_key(&self, kid: &str) {
        let line = format!("gatekeep server: now signing with key {kid}");
        let deadline = Instant::now() + STEP;
        while !self.log.text().contains(&line) {
            assert!(
                Instant::now() < deadline,
                "the server did not switch to {kid}:\n{}",
                self.log.text()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Rotates and makes the running server sign with the new key: SIGHUP on SQLite, the
    /// rotation's own announcement on PostgreSQL.
    fn rotate_live(&self) -> String {
        let kid = self.rotate();
        if self.database.is_none() {
            self.signal(nix::sys::signal::Signal::SIGHUP);
        }
        self.wait_for_key(&kid);
        kid
    }

    fn jwks(&self) -> JwkSet {
        Client::new(&self.url, None).jwks().unwrap()
    }
}

/// `touch NAME` approved by `approver`: the exit code, stderr, and the verdict's kid.
fn approved_run(agent: &Machine, approver: &Machine, name: &str) -> (Option<i32>, String) {
    let mut client = agent.exec(&format!("touch {name}"));
    let id = client.request_id();
    let out = approver.run(&["approve", &id]);
    assert!(out.status.success(), "{}", text(&out));
    client.finish()
}

/// The verdict the agent's ledger holds for its last decision.
fn last_verdict(agent: &Machine) -> String {
    agent
        .records()
        .into_iter()
        .rfind(|r| r["event"] == "decision")
        .and_then(|r| r["verdict"].as_str().map(str::to_owned))
        .expect("a verdict in the ledger")
}

#[test]
fn a_rotation_on_a_running_server_is_followed_by_clients_pinned_to_the_old_key() {
    let server = Server::start();
    let k0 = server.key_id.clone();
    let agent = Machine::with_policy("agent-user", POLICY);
    agent.login(&server, &server.agent_token());
    let bob = Machine::new("bob");
    bob.login(&server, &server.approver_token("bob", ""));
    let pinned = std::fs::read_to_string(agent.config_dir().join("config.toml")).unwrap();

    let (code, err) = approved_run(&agent, &bob, "marker-0");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(kid_of(&last_verdict(&agent)), k0);

    let k1 = server.rotate_live();
    assert_ne!(k1, k0);
    // Current first, endorsed by the previous key; then the previous key.
    let jwks = server.jwks();
    assert_eq!(
        jwks.keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(),
        [k1.as_str(), k0.as_str()]
    );
    let endorsement = jwks.keys[0].gatekeep_endorsed_by.clone().unwrap();
    assert_eq!(endorsement.kid, k0);
    keys::verify_endorsement(
        &jwks.keys[1].key().unwrap(),
        &jwks.keys[0].key().unwrap(),
        &endorsement,
    )
    .unwrap();
    assert!(jwks.keys[1].gatekeep_endorsed_by.is_none());

    // The client, still pinned to k0, accepts k1's verdict and runs the command.
    let (code, err) = approved_run(&agent, &bob, "marker-1");
    assert_eq!(code, Some(0), "{err}");
    assert!(agent.file("marker-1").exists());
    assert_eq!(kid_of(&last_verdict(&agent)), k1);
    let checkpoint = agent
        .records()
        .into_iter()
        .rfind(|r| r["event"] == "decision")
        .and_then(|r| r["checkpoint"].as_str().map(str::to_owned))
        .expect("a checkpoint in the ledger");
    assert_eq!(kid_of(&checkpoint), k1);
    assert_eq!(
        std::fs::read_to_string(agent.config_dir().join("config.toml")).unwrap(),
        pinned,
        "the pin is never rewritten"
    );
    // The rotation is in the audit trail, with who did it.
    let rotated: Vec<Value> = server
        .audit_events()
        .into_iter()
        .filter(|e| e["kind"] == "key_rotated")
        .collect();
    assert_eq!(rotated.len(), 1, "{rotated:?}");
    assert_eq!(rotated[0]["detail"], json!({"kid": k1, "previous": k0}));
    assert_eq!(rotated[0]["actor"], "admin (ops)");
    // Checkpoints signed by k0 before the rotation still verify, with k1's after it.
    let out = server.admin(&["audit", "verify"]);
    assert!(out.status.success(), "{}", text(&out));
    let kids: Vec<String> = String::from_utf8(server.admin(&["audit", "checkpoints"]).stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["kid"].to_string())
        .collect();
    assert!(
        kids.iter().any(|k| k.contains(&k0)) && kids.iter().any(|k| k.contains(&k1)),
        "{kids:?}"
    );

    // A second rotation: k2 is endorsed by k1, which k0 endorsed once, but k0 is no longer
    // published and its endorsement of k1 went with it. No chain from the pin: refused.
    let k2 = server.rotate_live();
    let mut client = agent.exec("touch marker-2");
    let id = client.request_id();
    assert!(bob.run(&["approve", &id]).status.success());
    let (code, err) = client.finish();
    assert_ne!(code, Some(0), "{err}");
    assert!(!agent.file("marker-2").exists());
    assert!(
        err.contains(&k2) && err.contains(&k0) && err.contains("gatekeep login"),
        "{err}"
    );

    // Re-pinned (after checking the thumbprint with the operator), it runs again.
    agent.login_to(&server.url, &k2, &server.agent_token_again(), &[]);
    let (code, err) = approved_run(&agent, &bob, "marker-3");
    assert_eq!(code, Some(0), "{err}");
}

impl Server {
    /// A second requester token for the agent (the first one's name is taken).
    fn agent_token_again(&self) -> String {
        self.token(&["--agent", "ci-bot-2", "--on-behalf-of", "alice"])
    }
}

/// `gatekeep login` against a service that has rotated pins the current key, not the
/// previous one.
#[test]
fn login_after_a_rotation_pins_the_current_key() {
    let server = Server::start();
    let k1 = server.rotate_live();
    let agent = Machine::with_policy("agent-user", POLICY);
    // In a new session, with no terminal to confirm on: the hint names the current key.
    let mut cmd = Command::new("setsid");
    agent.isolate(&mut cmd);
    let mut child = cmd
        .args(["-w", GK, "login", "--server", &server.url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let _ = writeln!(stdin, "{}", server.agent_token());
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("--key {k1}")),
        "{}",
        text(&out)
    );
}

// ---------------------------------------------------------------------------------------
// A fake service publishing an attacker's key
// ---------------------------------------------------------------------------------------

struct Forgery {
    jwks: JwkSet,
    /// Signs the verdict.
    signer: SigningKey,
    created: Mutex<Option<CreateRequest>>,
}

fn claims_for(c: &CreateRequest) -> Claims {
    let now = verdict::unix_now();
    Claims {
        rid: c.id.clone(),
        digest: c.ask.digest.clone(),
        nonce: c.nonce.clone(),
        shown: Some(gatekeep::api::protocol::Shown::of(c).digest()),
        decision: FinalState::Approved,
        approvers: vec![Approval {
            name: "mallory".into(),
            decision: "approved".into(),
            at: "2026-01-01T00:00:00Z".into(),
            channel: "cli".into(),
            reason: None,
            groups: Vec::new(),
        }],
        reason: None,
        iat: now,
        exp: now + 120,
    }
}

fn route(state: &Forgery, call: &Call) -> (u16, Option<Value>) {
    fake::requester_route(call, &state.jwks, &state.created, |c| {
        Some(verdict::sign(&claims_for(c), &state.signer).unwrap())
    })
}

/// Runs `touch marker` on a machine pinned to `pinned`, against a fake that publishes
/// `jwks` and signs the verdict with `signer`: the exit code and stderr.
fn against_fake(
    pinned: &SigningKey,
    jwks: JwkSet,
    signer: &SigningKey,
) -> (Option<i32>, String, bool) {
    let state = Arc::new(Forgery {
        jwks,
        signer: signer.clone(),
        created: Mutex::default(),
    });
    let routes = state.clone();
    let http = FakeHttp::start(Arc::new(move |call: &Call| route(&routes, call)));
    let agent = Machine::with_policy("agent-user", POLICY);
    let pin = verdict::thumbprint(&pinned.verifying_key());
    agent.login_to(&http.url, &pin, "gkr_anything", &[]);
    let (code, err) = agent.exec("touch marker").finish();
    (code, err, agent.file("marker").exists())
}

#[test]
fn a_published_key_without_a_valid_endorsement_by_the_pin_runs_nothing() {
    let pinned = SigningKey::from_bytes(&[1; 32]);
    let attacker = SigningKey::from_bytes(&[66; 32]);
    let other = SigningKey::from_bytes(&[2; 32]);
    let (pin_kid, evil_kid) = (
        verdict::thumbprint(&pinned.verifying_key()),
        verdict::thumbprint(&attacker.verifying_key()),
    );
    let set = |endorsed_by: Option<Endorsement>| {
        let mut evil = Jwk::from_key(&attacker.verifying_key());
        evil.gatekeep_endorsed_by = endorsed_by;
        JwkSet {
            keys: vec![evil, Jwk::from_key(&pinned.verifying_key())],
        }
    };

    // Control: the pinned key's real endorsement of the new key is followed.
    let genuine = keys::endorse(&pinned, &attacker.verifying_key());
    let (code, err, ran) = against_fake(&pinned, set(Some(genuine.clone())), &attacker);
    assert_eq!(code, Some(0), "{err}");
    assert!(ran);

    let mut self_signed = keys::endorse(&attacker, &attacker.verifying_key());
    self_signed.kid = pin_kid.clone();
    // A real endorsement by the pin, of another key, copied onto the attacker's.
    let of_another = keys::endorse(&pinned, &other.verifying_key());
    let mut flipped = genuine.clone();
    let mut sig = B64.decode(&flipped.sig).unwrap();
    sig[5] ^= 1;
    flipped.sig = B64.encode(sig);
    for (what, endorsement) in [
        ("missing", None),
        ("self-signed in the pin's name", Some(self_signed)),
        ("the pin's endorsement of another key", Some(of_another)),
        ("one flipped bit", Some(flipped)),
        (
            "by a key of its own",
            Some(keys::endorse(&other, &attacker.verifying_key())),
        ),
    ] {
        let (code, err, ran) = against_fake(&pinned, set(endorsement), &attacker);
        assert!(!ran, "{what}: the command ran\n{err}");
        assert_ne!(code, Some(0), "{what}: {err}");
        assert!(
            err.contains(&evil_kid) && err.contains(&pin_kid) && err.contains("--key"),
            "{what}: {err}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// PostgreSQL: the key set in the database
// ---------------------------------------------------------------------------------------

impl Server {
    /// A server on `database` (a fresh data directory: no signing key copied to it).
    fn on_database(database: &pg::Database) -> Server {
        let mut server = Server::new(tempfile::tempdir().unwrap());
        server.database = Some(database.clone());
        server.launch();
        server
    }
}

/// `gatekeep server` on `database` with `kek`: it must fail to start; its output.
fn refused_start(database: &pg::Database, kek: Option<&std::path::Path>) -> String {
    let data = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(GK);
    cmd.args(["server", "--listen", "127.0.0.1:0", "--data"])
        .arg(data.path())
        .args(["--database", &database.url, "--database-password-file"])
        .arg(&database.password_file)
        .env("GATEKEEP_KEYRING", "off")
        .env("HOME", data.path());
    if let Some(kek) = kek {
        cmd.arg("--key-encryption-key-file").arg(kek);
    }
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    text(&out)
}

/// These always run on PostgreSQL, whatever `GK_TEST_BACKEND` says.
#[test]
fn replicas_share_the_sealed_key_set_and_follow_a_rotation_without_restart() {
    let database = pg::cluster().database();
    let a = Server::on_database(&database);
    let b = Server::on_database(&database);
    let k0 = a.key_id.clone();
    assert_eq!(b.key_id, k0, "the second replica loads the first one's key");

    // Sealed: neither the seed's text nor its bytes are in the table.
    let seed = std::fs::read_to_string(a.data().join("signing-key")).unwrap();
    let raw = B64.decode(seed.trim()).unwrap();
    let out = pg::cluster().psql(&database.name, "SELECT kid, sealed_seed FROM signing_keys");
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && table.contains(&k0),
        "{}",
        text(&out)
    );
    assert!(!table.contains(seed.trim()), "{table}");
    let sealed = table
        .lines()
        .find_map(|l| l.split('|').nth(1).map(|s| s.trim().to_owned()))
        .unwrap();
    let sealed = B64.decode(&sealed).unwrap();
    assert!(!sealed.windows(32).any(|w| w == raw.as_slice()));

    // Rotated from a third process: both replicas switch, with no restart and no signal.
    let k1 = a.rotate();
    a.wait_for_key(&k1);
    b.wait_for_key(&k1);
    for replica in [&a, &b] {
        let agent = Machine::with_policy("agent-user", POLICY);
        // Pinned to the old key, which both still publish.
        agent.login_to(
            &replica.url,
            &k0,
            &replica.token(&["--agent", &format!("bot-{}", replica.port)]),
            &[],
        );
        let bob = Machine::new("bob");
        bob.login(
            replica,
            &replica.approver_token(&format!("bob-{}", replica.port), ""),
        );
        let (code, err) = approved_run(&agent, &bob, "marker-r");
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(kid_of(&last_verdict(&agent)), k1, "signed by the new key");
    }
    let out = a.admin(&["audit", "verify"]);
    assert!(out.status.success(), "{}", text(&out));

    // Another key-encryption key, or none: a clear refusal to start.
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong.kek");
    let out = Command::new(GK)
        .args(["server", "key", "new-kek"])
        .arg(&wrong)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let err = refused_start(&database, Some(&wrong));
    assert!(
        err.contains("cannot unseal") && err.contains("same key-encryption key"),
        "{err}"
    );
    let err = refused_start(&database, None);
    assert!(err.contains("--key-encryption-key-file"), "{err}");
}
