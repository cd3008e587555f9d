//! The ledger under concurrent writers and against tampering, and masked secrets: what
//! `gatekeep audit verify` must catch, checked on files the real binary wrote.

#![expect(clippy::unwrap_used, reason = "a test fails loudly on setup errors")]

use std::path::{Path, PathBuf};
use std::process::Command;

use gatekeep::audit::ledger::Ledger;
use serde_json::{Map, Value, json};

const GK: &str = env!("CARGO_BIN_EXE_gatekeep");

fn gk(state: &Path, args: &[&str]) -> std::process::Output {
    Command::new(GK)
        .env("XDG_STATE_HOME", state)
        .env("HOME", state)
        .env("XDG_CONFIG_HOME", state.join("config"))
        .current_dir(state)
        .args(args)
        .output()
        .unwrap()
}

fn record(writer: usize, n: usize) -> Map<String, Value> {
    let Value::Object(m) = json!({"event": "decision", "writer": writer, "n": n}) else {
        unreachable!()
    };
    m
}

#[test]
fn eight_concurrent_writers_leave_a_clean_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gatekeep/ledger.jsonl");
    let threads: Vec<_> = (0..8)
        .map(|w| {
            let path = path.clone();
            // Each writer opens the file on its own, as separate processes do.
            std::thread::spawn(move || {
                for n in 0..200 {
                    Ledger::at(&path).append(record(w, n), n % 50 == 0).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let ledger = Ledger::at(&path);
    let report = ledger.verify().unwrap();
    assert_eq!(
        (report.records, report.errors.len(), report.warnings.len()),
        (1600, 0, 0),
        "{report:?}"
    );
    // Every record of every writer is there, in each writer's own order.
    let records = ledger.records().unwrap();
    for w in 0..8 {
        let ns: Vec<u64> = records
            .iter()
            .filter(|r| r["writer"] == w)
            .map(|r| r["n"].as_u64().unwrap())
            .collect();
        assert_eq!(ns, (0..200).collect::<Vec<u64>>());
    }
    let out = gk(dir.path(), &["audit", "verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ok: 1600 records"));
}

#[test]
fn concurrent_gatekeep_processes_keep_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().to_path_buf();
    let children: Vec<_> = (0..8)
        .map(|_| {
            let state = state.clone();
            std::thread::spawn(move || {
                for _ in 0..15 {
                    assert!(gk(&state, &["exec", "--", "true"]).status.success());
                }
            })
        })
        .collect();
    for c in children {
        c.join().unwrap();
    }
    let report = Ledger::at(state.join("gatekeep/ledger.jsonl"))
        .verify()
        .unwrap();
    assert_eq!(
        (report.records, report.errors.len()),
        (120, 0),
        "{report:?}"
    );
}

/// A ledger of `n` records written by the binary, and its lines.
fn written(n: usize) -> (tempfile::TempDir, PathBuf, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..n {
        assert!(
            gk(dir.path(), &["exec", "--", "true", &i.to_string()])
                .status
                .success()
        );
    }
    let path = dir.path().join("gatekeep/ledger.jsonl");
    let lines = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    (dir, path, lines)
}

fn verify_fails(dir: &Path, expect: &str) {
    let out = gk(dir, &["audit", "verify"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "verify must fail: {text}");
    assert!(text.contains(expect), "expected {expect:?} in: {text}");
}

#[test]
fn every_single_edit_removal_reordering_and_truncation_is_found() {
    let (dir, path, lines) = written(6);
    let write = |lines: &[String]| std::fs::write(&path, lines.join("\n") + "\n").unwrap();

    // An edit of any record, the last one included.
    for i in 0..lines.len() {
        let mut edited = lines.clone();
        edited[i] = edited[i].replacen("\"decision\":\"allow\"", "\"decision\":\"deny\"", 1);
        assert_ne!(edited[i], lines[i]);
        write(&edited);
        verify_fails(
            dir.path(),
            &format!("record {} (line {}) was edited", i + 1, i + 1),
        );
    }
    // Removing one record: in the middle, or the last (the head file knows).
    let mut removed = lines.clone();
    removed.remove(2);
    write(&removed);
    verify_fails(dir.path(), "record 4 (line 3) does not follow");
    let mut removed = lines.clone();
    removed.pop();
    write(&removed);
    verify_fails(dir.path(), "records 6..6 were removed from the end");
    // Swapping two records.
    let mut swapped = lines.clone();
    swapped.swap(1, 2);
    write(&swapped);
    verify_fails(dir.path(), "line 2) does not follow");
    // Inserting a copy of a record.
    let mut inserted = lines.clone();
    inserted.insert(3, lines[1].clone());
    write(&inserted);
    verify_fails(dir.path(), "line 4) does not follow");
    // Truncating the file in the middle of a record: a torn last line is reported, and
    // the record it cut is missing from the end.
    let whole = lines.join("\n") + "\n";
    std::fs::write(&path, &whole[..whole.len() - 40]).unwrap();
    let out = gk(dir.path(), &["audit", "verify"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("line 6 is torn") && text.contains("records 6..6 were removed"),
        "{text}"
    );

    // Restored, it verifies again.
    write(&lines);
    assert!(gk(dir.path(), &["audit", "verify"]).status.success());
}

#[test]
fn secrets_never_reach_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = [
        "hunter2-db-pass",
        "ghp_0123456789abcdefghijABCDEFGHIJ0123",
        "AKIAIOSFODNN7EXAMPLE",
        "xoxb-1234-5678-abcdefghijklmnop",
        "s3cr3t-in-url",
    ];
    let commands: [&[&str]; 5] = [
        &["exec", "--", "env", "DB_PASSWORD=hunter2-db-pass", "true"],
        &[
            "exec",
            "--reason",
            "token ghp_0123456789abcdefghijABCDEFGHIJ0123",
            "--",
            "true",
        ],
        &[
            "exec",
            "--shell",
            "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE true",
        ],
        &[
            "exec",
            "--",
            "curl",
            "-H",
            "Authorization: Bearer xoxb-1234-5678-abcdefghijklmnop",
            "--version",
        ],
        &[
            "exec",
            "--",
            "mysql",
            "-phunter2-db-pass",
            "-e",
            "DROP TABLE x",
            "postgres://u:s3cr3t-in-url@db/x",
        ],
    ];
    for args in commands {
        gk(dir.path(), args);
    }
    let text = std::fs::read_to_string(dir.path().join("gatekeep/ledger.jsonl")).unwrap();
    assert!(text.lines().count() >= 5, "{text}");
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "{secret} leaked into the ledger:\n{text}"
        );
    }
    assert!(
        text.contains("DB_PASSWORD=****") && text.contains("-p****"),
        "{text}"
    );
    // The masked display is also what `audit show` and `check` print.
    let shown = String::from_utf8_lossy(&gk(dir.path(), &["audit", "show"]).stdout).into_owned();
    let checked = String::from_utf8_lossy(
        &gk(
            dir.path(),
            &[
                "check",
                "--json",
                "--",
                "mysql",
                "-phunter2-db-pass",
                "-e",
                "DROP TABLE x",
            ],
        )
        .stdout,
    )
    .into_owned();
    for secret in secrets {
        assert!(
            !shown.contains(secret) && !checked.contains(secret),
            "{secret}"
        );
    }
}

#[test]
fn export_as_csv_and_jsonl() {
    let (dir, _, lines) = written(3);
    let jsonl = gk(dir.path(), &["audit", "export", "--format", "jsonl"]);
    assert_eq!(
        String::from_utf8_lossy(&jsonl.stdout).lines().count(),
        lines.len()
    );
    let csv =
        String::from_utf8(gk(dir.path(), &["audit", "export", "--format", "csv"]).stdout).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert!(
        rows[0].starts_with("seq,time,event,id,command,decision"),
        "{csv}"
    );
    assert_eq!(rows.len(), 4);
    assert!(
        rows[1].starts_with("1,")
            && rows[1].contains(",decision,")
            && rows[1].contains(",allow,policy,"),
        "{csv}"
    );
    let since_future = gk(
        dir.path(),
        &["audit", "show", "--since", "2999-01-01T00:00:00Z"],
    );
    assert!(since_future.stdout.is_empty());
    let since_hour = gk(dir.path(), &["audit", "show", "--since", "1h"]);
    assert_eq!(
        String::from_utf8_lossy(&since_hour.stdout).lines().count(),
        3
    );
}
