//! Signed checkpoints of the approval service's audit chain, and request rows covered by
//! it: the real binary, a real server process, and the real SQLite database tampered with
//! through the `sqlite3` CLI, as someone who can write the server's files would.
//!
//! Each test runs one approved `gatekeep exec`, stops the server with SIGTERM (so that it
//! signs its shutdown checkpoint), then changes the database and runs `gatekeep server
//! audit verify`: a cut tail, a cut tail with the checkpoint rows deleted too (caught by an
//! exported file and by the checkpoints a client holds), a tail re-hashed after an edit, an
//! edited request row, and forged checkpoints; and the untouched run passes.
//!
//! The harness (server, machines, waiting clients) is `support::service`.

#![expect(clippy::unwrap_used, reason = "a test fails loudly on setup errors")]

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};

use gatekeep::server::audit::Event;
use serde_json::Value;
use tempfile::TempDir;

use ed25519_dalek::SigningKey;
use gatekeep::api::protocol::{CreateRequest, Identity, Role, Shown, State};
use gatekeep::api::verdict;

use crate::support::fake::{self, Call, FakeHttp};
use crate::support::service::{Machine, Server, text};

/// Touching a file whose name starts with `marker` needs one approval.
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

impl Server {
    fn db(&self) -> PathBuf {
        self.data().join("gatekeep.db")
    }

    /// `gatekeep server audit verify [ARGS]`: exit code and stdout.
    fn verify(&self, args: &[&str]) -> (Option<i32>, String) {
        let out = self.admin(&[&["audit", "verify"], args].concat());
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// The chain as `gatekeep server audit export` writes it.
    fn events(&self) -> Vec<Event> {
        let out = self.admin(&["audit", "export"]);
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// `gatekeep server audit checkpoints`: the export's lines, parsed.
    fn checkpoints(&self) -> Vec<Value> {
        let out = self.admin(&["audit", "checkpoints"]);
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The service's public key, from its data directory.
    fn public_key(&self) -> ed25519_dalek::VerifyingKey {
        gatekeep::server::signing_key(self.data())
            .unwrap()
            .verifying_key()
    }

    /// Runs SQL on the stopped server's database with the `sqlite3` CLI.
    fn sql(&self, statements: &str) -> String {
        let out = Command::new("sqlite3")
            .arg(self.db())
            .arg(statements)
            .output()
            .unwrap();
        assert!(out.status.success(), "sqlite3: {}", text(&out));
        String::from_utf8(out.stdout).unwrap()
    }
}

/// One approved `gatekeep exec` through a real server, which is then stopped.
struct Run {
    server: Server,
    agent: Machine,
    /// The approved request.
    id: String,
    /// Where exported checkpoint files go: off the server's data directory.
    safe: TempDir,
}

fn approved_run() -> Run {
    let mut server = Server::start();
    let agent = Machine::with_policy("agent-user", POLICY);
    agent.login(&server, &server.token(&["--agent", "ci-bot"]));
    let bob = Machine::new("bob");
    bob.login(&server, &server.token(&["--approver", "bob"]));
    let mut client = agent.exec("touch marker-1");
    let id = client.request_id();
    let out = bob.run(&["approve", &id]);
    assert!(out.status.success(), "{}", text(&out));
    let (code, err) = client.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(agent.dir().join("marker-1").exists());
    server.stop();
    Run {
        server,
        agent,
        id,
        safe: tempfile::tempdir().unwrap(),
    }
}

impl Run {
    /// `gatekeep server audit checkpoints`, written to a file kept elsewhere.
    fn export_server_checkpoints(&self) -> PathBuf {
        let out = self.server.admin(&["audit", "checkpoints"]);
        assert!(out.status.success(), "{}", text(&out));
        let path = self.safe.path().join("server-checkpoints.jsonl");
        std::fs::write(&path, out.stdout).unwrap();
        path
    }

    /// `gatekeep audit checkpoints` on the agent's machine, written to a file.
    fn export_client_checkpoints(&self) -> PathBuf {
        let out = self.agent.run(&["audit", "checkpoints"]);
        assert!(out.status.success(), "{}", text(&out));
        let path = self.safe.path().join("client-checkpoints.jsonl");
        std::fs::write(&path, out.stdout).unwrap();
        path
    }

    /// The checkpoint the agent's ledger holds for the approved request.
    fn client_checkpoint(&self) -> String {
        let records = self.agent.records();
        let decision = records
            .iter()
            .find(|r| r["id"] == self.id.as_str() && r["event"] == "decision")
            .unwrap();
        assert_eq!(decision["decision"], "approve", "{decision}");
        decision["checkpoint"]
            .as_str()
            .unwrap_or_else(|| panic!("no checkpoint in the decision record: {decision}"))
            .to_owned()
    }
}

/// A string as an SQL literal.
fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[test]
fn an_untampered_run_verifies_and_the_client_holds_a_checkpoint_of_its_approval() {
    let run = approved_run();
    let events = run.server.events();
    let last = events.last().unwrap();

    // The client kept the checkpoint its verdict carried; it verifies with the service's key
    // and covers the approval (signed when the verdict was handed out, after its event).
    let jws = run.client_checkpoint();
    let claims = gatekeep::api::checkpoint::verify(&jws, &run.server.public_key()).unwrap();
    let approved = events
        .iter()
        .find(|e| e.request_id == run.id && e.kind == "approved")
        .unwrap();
    assert!(claims.seq >= approved.seq, "{claims:?} vs {approved:?}");
    let covered = events.iter().find(|e| e.seq == claims.seq).unwrap();
    assert_eq!(covered.hash, claims.head);
    // Not a verdict, whatever it is passed off as.
    assert!(gatekeep::api::verdict::verify(&jws, &run.server.public_key()).is_err());

    // The outcome came after the verdict; the shutdown checkpoint covers it.
    assert_eq!(last.kind, "outcome");
    let stored = run.server.checkpoints();
    let latest = stored.last().unwrap();
    assert_eq!(
        (latest["seq"].as_i64(), latest["head"].as_str()),
        (Some(last.seq), Some(last.hash.as_str())),
        "{stored:?}"
    );

    // Every event that changed the request carries its row's hash.
    for event in events.iter().filter(|e| e.request_id == run.id) {
        assert!(event.detail["row"].is_string(), "{event:?}");
    }

    let (code, out) = run.server.verify(&[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!("ok: {} events, chain intact", events.len()))
            && out.contains(&format!(
                "signed checkpoints ({} stored, 0 from files) match the chain; the latest covers event {}",
                stored.len(),
                last.seq
            ))
            && out.contains("ok: 1 request rows match their last events"),
        "{out}"
    );

    // What the client holds, exported, is checked against the server too.
    let file = run.export_client_checkpoints();
    let lines = std::fs::read_to_string(&file).unwrap();
    assert_eq!(lines.lines().count(), 1, "{lines}");
    let line: Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert_eq!(
        (line["jws"].as_str(), line["seq"].as_i64()),
        (Some(jws.as_str()), Some(claims.seq))
    );
    let (code, out) = run
        .server
        .verify(&["--checkpoints", file.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("1 from files"), "{out}");
}

#[test]
fn a_cut_tail_is_caught_by_the_checkpoint_that_covered_it() {
    let run = approved_run();
    let events = run.server.events();
    let last = events.last().unwrap().seq;
    run.server
        .sql(&format!("DELETE FROM events WHERE seq > {};", last - 2));
    let (code, out) = run.server.verify(&[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "the chain ends at event {}, but the checkpoint signed at",
            last - 2
        )) && out.contains(&format!(
            "(the database, event {last}) covers event {last}: events {}..{last} were removed from its end",
            last - 1
        )) && out.contains(&format!(
            "covers event {}: event {} was removed from its end",
            last - 1,
            last - 1
        )),
        "{out}"
    );
}

#[test]
fn a_cut_tail_with_its_checkpoints_deleted_is_caught_by_an_exported_file_and_by_a_client() {
    let run = approved_run();
    let server_file = run.export_server_checkpoints();
    let client_file = run.export_client_checkpoints();
    let client_seq =
        gatekeep::api::checkpoint::verify(&run.client_checkpoint(), &run.server.public_key())
            .unwrap()
            .seq;

    // Everything about the request goes: its events, its row, and every checkpoint row.
    let events = run.server.events();
    let first = events.iter().find(|e| e.request_id == run.id).unwrap().seq;
    run.server.sql(&format!(
        "DELETE FROM events WHERE seq >= {first}; DELETE FROM requests; DELETE FROM checkpoints;"
    ));
    // The database alone now tells a consistent story: that is why checkpoints are kept
    // elsewhere.
    let (code, out) = run.server.verify(&[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("no signed checkpoint yet"), "{out}");

    let (code, out) = run
        .server
        .verify(&["--checkpoints", server_file.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "the chain ends at event {}, but the checkpoint signed at",
            first - 1
        )) && out.contains(&format!("({} line ", server_file.display()))
            && out.contains(&format!("events {first}..")),
        "{out}"
    );

    let (code, out) = run
        .server
        .verify(&["--checkpoints", client_file.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "({} line 1) covers event {client_seq}: events {first}..{client_seq} were removed from its end",
            client_file.display()
        )),
        "{out}"
    );
}

#[test]
fn a_tail_rehashed_after_an_edit_passes_the_chain_but_not_the_checkpoints() {
    let run = approved_run();
    let mut events = run.server.events();
    // The approval is rewritten as someone else's, and every later event re-chained: the
    // chain alone is consistent again.
    let k = events
        .iter()
        .position(|e| e.request_id == run.id && e.kind == "approved")
        .unwrap();
    events[k].actor = "mallory".into();
    for i in k..events.len() {
        if i > k {
            events[i].prev = events[i - 1].hash.clone();
        }
        events[i].hash = events[i].compute_hash();
    }
    let sql: String = events[k..]
        .iter()
        .map(|e| {
            format!(
                "UPDATE events SET actor = {}, prev = {}, hash = {} WHERE seq = {};",
                q(&e.actor),
                q(&e.prev),
                q(&e.hash),
                e.seq
            )
        })
        .collect();
    run.server.sql(&sql);
    assert!(gatekeep::server::audit::verify(&run.server.events()).is_ok());

    let (code, out) = run.server.verify(&[]);
    assert_eq!(code, Some(1), "{out}");
    let approved_seq = events[k].seq;
    assert!(
        !out.contains("was altered") && !out.contains("does not follow"),
        "the chain itself is consistent: {out}"
    );
    assert!(
        out.contains(&format!(
            "error: event {approved_seq} does not match the checkpoint of event {approved_seq} signed at"
        )) && out.contains(&format!(
            "the chain was rewritten at or before event {approved_seq}"
        )),
        "{out}"
    );
    // The client's checkpoint, which covers the approval, says so too.
    let seq = gatekeep::api::checkpoint::verify(&run.client_checkpoint(), &run.server.public_key())
        .unwrap()
        .seq;
    assert!(seq >= approved_seq);
    run.server.sql("DELETE FROM checkpoints;");
    let file = run.export_client_checkpoints();
    let (code, out) = run
        .server
        .verify(&["--checkpoints", file.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "event {seq} does not match the checkpoint of event {seq} signed at"
        )),
        "{out}"
    );
}

#[test]
fn an_edited_request_row_is_caught_and_named() {
    let run = approved_run();
    let body = run.server.sql("SELECT body FROM requests;");
    let body = body.trim_end_matches('\n');

    // The approver's name in the row's body.
    run.server
        .sql("UPDATE requests SET body = json_set(body, '$.approvals[0].name', 'mallory');");
    let (code, out) = run.server.verify(&[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "error: request {} (state approved) was edited outside the service: its row does not match the hash in event",
            run.id
        )) && out.contains("(outcome at "),
        "{out}"
    );

    // Put back as it was: the same JSON in another member order still matches (the hash
    // is over the canonical form).
    let reordered: Value = serde_json::from_str(body).unwrap();
    let mut members: Vec<(String, Value)> =
        reordered.as_object().unwrap().clone().into_iter().collect();
    members.reverse();
    let text = format!(
        "{{{}}}",
        members
            .iter()
            .map(|(k, v)| format!("{}:{v}", Value::from(k.as_str())))
            .collect::<Vec<_>>()
            .join(",")
    );
    assert_ne!(text, body);
    run.server
        .sql(&format!("UPDATE requests SET body = {};", q(&text)));
    let (code, out) = run.server.verify(&[]);
    assert_eq!(code, Some(0), "{out}");

    // Only the state column, which the service queries by.
    run.server.sql("UPDATE requests SET state = 'pending';");
    let (code, out) = run.server.verify(&[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "error: request {} (state pending) was edited",
            run.id
        )),
        "{out}"
    );

    // A row nobody created through the service.
    run.server.sql("UPDATE requests SET state = 'approved';");
    run.server.sql(&format!(
        "INSERT INTO requests (id, state, expires_unix, body) VALUES ('forged-1', 'approved', 0, {});",
        q(&text)
    ));
    let (code, out) = run.server.verify(&[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("request forged-1 has a row but no event in the chain"),
        "{out}"
    );
}

#[test]
fn a_forged_checkpoint_is_refused_by_verify() {
    let run = approved_run();
    let events = run.server.events();
    let last = events.last().unwrap();
    let other = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let other_kid = gatekeep::api::verdict::thumbprint(&other.verifying_key());

    // A checkpoint of the real head, signed by another key: proves nothing.
    let (_, forged) =
        gatekeep::api::checkpoint::sign(last.seq, &last.hash, "2026-01-01T00:00:00.000Z", &other)
            .unwrap();
    let file = run.safe.path().join("forged.jsonl");
    let line = serde_json::to_string(&gatekeep::api::checkpoint::Line::of(&forged)).unwrap();
    std::fs::write(&file, format!("{line}\n")).unwrap();
    let (code, out) = run
        .server
        .verify(&["--checkpoints", file.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "the checkpoint from {} line 1 is refused",
            file.display()
        )) && out.contains(&format!("signed by key {other_kid}")),
        "{out}"
    );

    // The same, slipped into the database.
    run.server.sql(&format!(
        "INSERT INTO checkpoints (seq, head, time, jws) VALUES ({}, {}, 't', {});",
        last.seq,
        q(&last.hash),
        q(&forged)
    ));
    let (code, out) = run.server.verify(&[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "the checkpoint from the database, event {} is refused",
            last.seq
        )),
        "{out}"
    );
    run.server.sql("DELETE FROM checkpoints WHERE time = 't';");
    assert_eq!(run.server.verify(&[]).0, Some(0));

    // A verdict signed by the service's own key is not a checkpoint.
    let verdict = events
        .iter()
        .find_map(|e| e.detail["verdict"].as_str())
        .unwrap();
    let line = serde_json::to_string(&gatekeep::api::checkpoint::Line::of(verdict)).unwrap();
    std::fs::write(&file, format!("{line}\n")).unwrap();
    let (code, out) = run
        .server
        .verify(&["--checkpoints", file.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("gatekeep-checkpoint+jwt"), "{out}");
}

/// An approval service that is not what was pinned for its checkpoints: it signs verdicts
/// with the pinned key (so the verdict itself verifies) and hands out checkpoints signed by
/// `checkpoint_key`. Just enough HTTP for `login` and one `exec`; every call is logged.
fn fake_service(key: SigningKey, checkpoint_key: SigningKey) -> FakeHttp {
    let created: Mutex<Option<CreateRequest>> = Mutex::default();
    FakeHttp::start(Arc::new(move |call: &Call| {
        let approved = |c: &CreateRequest| {
            let now = verdict::unix_now();
            let claims = verdict::Claims {
                rid: c.id.clone(),
                digest: c.ask.digest.clone(),
                nonce: c.nonce.clone(),
                shown: Some(Shown::of(c).digest()),
                decision: verdict::FinalState::Approved,
                approvers: Vec::new(),
                reason: None,
                iat: now,
                exp: now + 60,
            };
            let (_, checkpoint) = gatekeep::api::checkpoint::sign(
                7,
                &"7".repeat(64),
                "2026-12-05T00:00:00.000Z",
                &checkpoint_key,
            )
            .unwrap();
            let jws = verdict::sign(&claims, &key).unwrap();
            fake::view(c, State::Approved, Some(jws), Some(checkpoint))
        };
        let current = created.lock().unwrap().clone();
        match (call.method.as_str(), call.path.as_str(), current) {
            ("GET", "/.well-known/jwks.json", _) => (
                200,
                Some(
                    serde_json::to_value(verdict::JwkSet {
                        keys: vec![verdict::Jwk::from_key(&key.verifying_key())],
                    })
                    .unwrap(),
                ),
            ),
            ("GET", "/v1/whoami", _) => (
                200,
                Some(
                    serde_json::to_value(Identity {
                        name: "ci-bot".into(),
                        role: Role::Requester,
                        groups: Vec::new(),
                        on_behalf_of: None,
                    })
                    .unwrap(),
                ),
            ),
            ("POST", "/v1/requests", _) => {
                let c: CreateRequest = serde_json::from_slice(&call.body).unwrap();
                *created.lock().unwrap() = Some(c.clone());
                (201, Some(fake::view(&c, State::Pending, None, None)))
            }
            ("GET", p, Some(c)) if p.ends_with("/wait") => (200, Some(approved(&c))),
            ("POST", p, Some(c)) if p.ends_with("/cancel") => (200, Some(approved(&c))),
            ("POST", p, Some(_)) if p.ends_with("/outcome") => (204, None),
            _ => (404, Some(serde_json::json!({"error": "not here"}))),
        }
    }))
}

/// The client checks the checkpoint a verdict carries against the pinned key: signed by
/// the pinned key it is kept and the command runs; signed by any other key, the verdict is
/// not believed and nothing runs, though the verdict itself verifies.
#[test]
fn the_client_refuses_a_verdict_whose_checkpoint_is_not_signed_by_the_pinned_key() {
    let key = ed25519_dalek::SigningKey::from_bytes(&[21; 32]);
    let key_id = gatekeep::api::verdict::thumbprint(&key.verifying_key());
    for (forged, marker) in [(false, "marker-good"), (true, "marker-forged")] {
        let checkpoint_key = if forged {
            ed25519_dalek::SigningKey::from_bytes(&[22; 32])
        } else {
            key.clone()
        };
        let fake = fake_service(key.clone(), checkpoint_key);
        let agent = Machine::with_policy("agent-user", POLICY);
        agent.login_to(&fake.url, &key_id, "gkr_fake", &[]);
        let (code, err) = agent.exec(&format!("touch {marker}")).finish();
        let records = agent.records();
        let decision = records
            .iter()
            .rev()
            .find(|r| r["event"] == "decision")
            .unwrap();
        if forged {
            assert_eq!(code, Some(77), "{err}");
            assert!(!agent.dir().join(marker).exists(), "the command ran");
            assert!(
                err.contains("checkpoint of its audit trail was rejected")
                    && err.contains("the pinned key")
                    && err.contains("did not endorse"),
                "{err}"
            );
            assert_eq!(
                decision["decided_by"], "gatekeep (checkpoint check)",
                "{decision}"
            );
            assert!(
                !fake.calls().iter().any(|c| c.ends_with("/outcome")),
                "an outcome was reported for a command that did not run"
            );
        } else {
            assert_eq!(code, Some(0), "{err}");
            assert!(agent.dir().join(marker).exists());
            let jws = decision["checkpoint"].as_str().unwrap();
            assert!(gatekeep::api::checkpoint::verify(jws, &key.verifying_key()).is_ok());
        }
    }
}
