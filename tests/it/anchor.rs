//! The local ledger anchored at the approval service, and the ledger's own defences when
//! there is no service: the real binary on every side.
//!
//! With a real `gatekeep server`: two approved commands, then `gatekeep audit verify
//! --against-server` passes; a wiped ledger (`: >`, or the ledger and its head removed) and a
//! consistently rewritten one (a record edited, every later hash and the head recomputed, so
//! that the plain `audit verify` is fooled) are caught, naming the records and requests.
//!
//! Without one: a symlinked ledger, head or ledger directory is never followed; a ledger
//! that others may write is refused; records without their head file are refused.
//!
//! The harness (server, machines, waiting clients) is `support::service`.

#![expect(clippy::unwrap_used, reason = "a test fails loudly on setup errors")]

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use gatekeep::audit::ledger::record_hash;
use serde_json::Value;

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

impl Machine {
    fn head(&self) -> PathBuf {
        self.dir().join("state/gatekeep/ledger.jsonl.head")
    }

    /// `gatekeep audit verify --against-server`: exit code and stdout.
    fn verify_against_server(&self) -> (Option<i32>, String) {
        let out = self.run(&["audit", "verify", "--against-server"]);
        assert!(
            out.stderr.is_empty(),
            "verify reports on stdout: {}",
            text(&out)
        );
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }
}

fn sorted(ids: &[String]) -> String {
    let mut ids = ids.to_vec();
    ids.sort();
    ids.join(", ")
}

/// Rewrites `lines` with record `edit` (0-based) changed by `f`, every `prev` and `hash`
/// recomputed after it, and returns the new lines and head: what someone who can write the
/// ledger and knows its format produces.
fn rehash(lines: &[String], edit: usize, f: impl Fn(&mut Value)) -> (Vec<String>, String) {
    let mut prev: Option<String> = None;
    let mut out = Vec::new();
    let mut head = String::new();
    for (i, line) in lines.iter().enumerate() {
        let mut record: Value = serde_json::from_str(line).unwrap();
        if i == edit {
            f(&mut record);
        }
        let map = record.as_object_mut().unwrap();
        if let Some(p) = &prev {
            map.insert("prev".into(), Value::from(p.clone()));
        }
        map.remove("hash");
        let hash = record_hash(map);
        map.insert("hash".into(), Value::from(hash.clone()));
        head = format!("{{\"seq\":{},\"hash\":\"{hash}\"}}\n", map["seq"]);
        prev = Some(hash);
        out.push(serde_json::to_string(&record).unwrap());
    }
    (out, head)
}

#[test]
fn the_service_holds_anchors_that_catch_a_wiped_or_rewritten_ledger() {
    let server = Server::start();
    let agent = Machine::with_policy("agent-user", POLICY);
    agent.login(&server, &server.token(&["--agent", "ci-bot"]));
    let bob = Machine::new("bob");
    bob.login(&server, &server.token(&["--approver", "bob"]));

    // A command that needs no approval first, so the anchored records are not record 1.
    assert!(agent.run(&["exec", "--", "true"]).status.success());
    let mut ids = Vec::new();
    for marker in ["marker-1", "marker-2"] {
        let mut client = agent.exec(&format!("touch {marker}"));
        let id = client.request_id();
        let out = bob.run(&["approve", &id]);
        assert!(out.status.success(), "{}", text(&out));
        let (code, err) = client.finish();
        assert_eq!(code, Some(0), "{err}");
        assert!(agent.dir().join(marker).exists());
        ids.push(id);
    }
    // The anchored records: each request's own `request` record.
    let records = agent.records();
    let anchored: Vec<u64> = ids
        .iter()
        .map(|id| {
            records
                .iter()
                .find(|r| r["id"] == id.as_str() && r["event"] == "request")
                .unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert!(anchored[0] > 1 && anchored[1] > anchored[0], "{anchored:?}");
    let last = anchored[1];

    // (a) The ledger as written matches every anchor.
    let (code, out) = agent.verify_against_server();
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!("ok: 2 anchors held by {}", server.url))
            && out.contains(&format!("records 1..{last} are anchored")),
        "{out}"
    );
    // The anchors are in the server's own chain: the `created` events carry them.
    let v: Value = serde_json::from_slice(
        &agent
            .run(&["audit", "verify", "--against-server", "--json"])
            .stdout,
    )
    .unwrap();
    assert_eq!(
        (
            &v["ok"],
            &v["anchors"]["checked"],
            &v["anchors"]["last_anchored"]
        ),
        (&Value::from(true), &Value::from(2), &Value::from(last)),
        "{v}"
    );

    let ledger_bytes = std::fs::read(agent.ledger_path()).unwrap();
    let head_bytes = std::fs::read(agent.head()).unwrap();
    let restore = || {
        std::fs::write(agent.ledger_path(), &ledger_bytes).unwrap();
        std::fs::write(agent.head(), &head_bytes).unwrap();
        assert_eq!(agent.verify_against_server().0, Some(0));
    };

    // (b) Wiped: the ledger and its head removed. The ledger alone looks empty and whole;
    // the service knows better, and names what is gone.
    std::fs::remove_file(agent.ledger_path()).unwrap();
    std::fs::remove_file(agent.head()).unwrap();
    let plain = agent.run(&["audit", "verify"]);
    assert!(plain.status.success(), "{}", text(&plain));
    let (code, out) = agent.verify_against_server();
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!("records 1..{last} are missing"))
            && out.contains(&format!("record {} (request {}", anchored[0], ids[0]))
            && out.contains(&format!("record {last} (request {}", ids[1]))
            && out.contains(&format!("requests concerned: {}", sorted(&ids))),
        "{out}"
    );
    restore();

    // Wiped with `: > ledger`, the head left: both checks see it.
    std::fs::write(agent.ledger_path(), b"").unwrap();
    let (code, out) = agent.verify_against_server();
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("were removed from the end of the ledger")
            && out.contains(&format!("records 1..{last} are missing")),
        "{out}"
    );
    restore();

    // (c) Rewritten consistently: the first request's record says another directory, and
    // every later record and the head are re-hashed. The local chain verifies; the anchors
    // do not, and the change is placed after the last record that still matches one.
    let lines: Vec<String> = String::from_utf8(ledger_bytes.clone())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let edit = usize::try_from(anchored[0]).unwrap() - 1;
    let (rewritten, head) = rehash(&lines, edit, |r| {
        r["requester"]["cwd"] = Value::from("/somewhere/harmless");
    });
    std::fs::write(agent.ledger_path(), rewritten.join("\n") + "\n").unwrap();
    std::fs::write(agent.head(), head).unwrap();
    let plain = agent.run(&["audit", "verify"]);
    assert!(
        plain.status.success(),
        "the rewrite is consistent, so the chain alone cannot tell: {}",
        text(&plain)
    );
    let (code, out) = agent.verify_against_server();
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!("record {} (request {}", anchored[0], ids[0]))
            && out.contains("was changed: the service holds hash")
            && out.contains(&format!("records 1..{last} no longer lead to the heads"))
            && out.contains(&ids[0])
            && out.contains(&ids[1])
            && !out.contains("are missing"),
        "{out}"
    );
    // An edit after the first anchor leaves it matching: the range starts after it.
    let edit = usize::try_from(anchored[1]).unwrap() - 1;
    let (rewritten, head) = rehash(&lines, edit, |r| {
        r["requester"]["cwd"] = Value::from("/somewhere/harmless");
    });
    std::fs::write(agent.ledger_path(), rewritten.join("\n") + "\n").unwrap();
    std::fs::write(agent.head(), head).unwrap();
    let (code, out) = agent.verify_against_server();
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "records {}..{last} no longer lead to the heads",
            anchored[0] + 1
        )) && out.contains(&ids[1])
            && !out.contains(&format!("record {} (request", anchored[0])),
        "{out}"
    );
    restore();
}

// ---------------------------------------------------------------------------------------
// The ledger without a service
// ---------------------------------------------------------------------------------------

/// A machine whose ledger holds `n` allowed commands.
fn written(n: usize) -> Machine {
    let m = Machine::new("agent-user");
    for i in 0..n {
        let out = m.run(&["exec", "--", "true", &i.to_string()]);
        assert!(out.status.success(), "{}", text(&out));
    }
    m
}

/// Every reader and writer refuses, naming `expect`: `exec` (the command does not run and
/// exits 70), `audit verify`, `audit show` and `audit export`.
fn every_path_refuses(m: &Machine, expect: &str) {
    let marker = m.dir().join("ran");
    let out = m.run(&["exec", "--", "touch", marker.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(70), "exec: {}", text(&out));
    assert!(!marker.exists(), "nothing runs without its record");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(expect),
        "exec: {}",
        text(&out)
    );
    for args in [
        &["audit", "verify"][..],
        &["audit", "show"],
        &["audit", "export"],
    ] {
        let out = m.run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(expect),
            "{args:?}: {}",
            text(&out)
        );
    }
}

#[test]
fn a_symlinked_ledger_head_or_directory_is_never_followed() {
    // The ledger moved elsewhere and a link left in its place.
    let m = written(2);
    let elsewhere = m.dir().join("elsewhere.jsonl");
    std::fs::rename(m.ledger_path(), &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, m.ledger_path()).unwrap();
    let before = std::fs::read(&elsewhere).unwrap();
    every_path_refuses(&m, "is a symbolic link");
    assert_eq!(
        std::fs::read(&elsewhere).unwrap(),
        before,
        "the target is untouched"
    );

    // A dangling link is not created through either.
    std::fs::remove_file(&elsewhere).unwrap();
    every_path_refuses(&m, "is a symbolic link");
    assert!(!elsewhere.exists(), "no file was created through the link");

    // The head.
    let m = written(2);
    let elsewhere = m.dir().join("elsewhere.head");
    std::fs::rename(m.head(), &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, m.head()).unwrap();
    let out = m.run(&["exec", "--", "true"]);
    assert_eq!(out.status.code(), Some(70), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is a symbolic link"),
        "{}",
        text(&out)
    );
    let out = m.run(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ledger.jsonl.head is a symbolic link"),
        "{}",
        text(&out)
    );

    // The directory holding both.
    let m = written(2);
    let dir = m.dir().join("state/gatekeep");
    let moved = m.dir().join("moved");
    std::fs::rename(&dir, &moved).unwrap();
    std::os::unix::fs::symlink(&moved, &dir).unwrap();
    every_path_refuses(&m, &format!("{} is a symbolic link", dir.display()));
}

#[test]
fn a_ledger_others_can_write_is_refused() {
    for mode in [0o620, 0o602, 0o666] {
        let m = written(2);
        std::fs::set_permissions(m.ledger_path(), std::fs::Permissions::from_mode(mode)).unwrap();
        every_path_refuses(
            &m,
            &format!("can be written by other users (mode {mode:04o})"),
        );
        // The head is held to the same rule.
        std::fs::set_permissions(m.ledger_path(), std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(m.run(&["audit", "verify"]).status.success());
        std::fs::set_permissions(m.head(), std::fs::Permissions::from_mode(mode)).unwrap();
        let out = m.run(&["audit", "verify"]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains("ledger.jsonl.head can be written by other users"),
            "{}",
            text(&out)
        );
    }
    // And its directory: whoever may write it can swap the files in it.
    let m = written(2);
    let dir = m.dir().join("state/gatekeep");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o770)).unwrap();
    every_path_refuses(
        &m,
        &format!(
            "{} can be written by other users (mode 0770)",
            dir.display()
        ),
    );
    // Readable by others is fine: auditors may read the trail.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(m.ledger_path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(m.run(&["exec", "--", "true"]).status.success());
    assert!(m.run(&["audit", "verify"]).status.success());
}

#[test]
fn records_without_their_head_are_refused() {
    let m = written(3);
    std::fs::remove_file(m.head()).unwrap();
    let out = m.run(&["audit", "verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stdout.contains("head file")
            && stdout.contains("is missing while the ledger holds records up to 3"),
        "{}",
        text(&out)
    );
    // The opposite: the head left, the ledger removed.
    let m = written(3);
    std::fs::remove_file(m.ledger_path()).unwrap();
    let out = m.run(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("records 1..3 were removed"),
        "{}",
        text(&out)
    );
}
