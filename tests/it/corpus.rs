//! Every line of the shared corpus and of our own case table (`tests/data/cases.jsonl`) is
//! classified as expected by the built-in policy. The shared corpus is read from its copy in
//! `tests/data/shared/` (made by `tests/data/shared/sync.sh` from `../shared`), so that the
//! tests pass in a plain clone; where `../shared` is present the copy must begin with it.
//! `escalate` passes with `approve` or `deny`; `deny` only with `deny`.

#![expect(clippy::expect_used, reason = "a test fails loudly on setup errors")]

use std::path::Path;

use gatekeep::journey::{self, Command};
use gatekeep::policy::{Decision, layers};

fn check_file(path: &Path) -> (usize, Vec<String>) {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let policy = layers::combine(&[]).expect("built-in policy loads");
    let mut failures = Vec::new();
    let mut count = 0;
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let case: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), n + 1));
        let cmd = case["cmd"].as_str().expect("cmd");
        let expect = case["expect"].as_str().expect("expect");
        let got = journey::assess(&Command::Shell(cmd.to_owned()), &policy);
        let ok = match expect {
            "allow" => got.decision == Decision::Allow,
            "escalate" => got.decision >= Decision::Approve,
            "deny" => got.decision == Decision::Deny,
            other => panic!("{}:{}: unknown expectation {other}", path.display(), n + 1),
        };
        count += 1;
        if !ok {
            failures.push(format!(
                "{}:{}: {cmd:?}: expected {expect}, got {} ({})",
                path.display(),
                n + 1,
                got.decision,
                got.reason
            ));
        }
    }
    (count, failures)
}

#[test]
fn shared_corpus_is_classified_as_expected() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/shared/commands.jsonl");
    let (count, failures) = check_file(&path);
    assert!(
        count >= 80,
        "the corpus should hold its 84 lines, found {count}"
    );
    assert!(
        failures.is_empty(),
        "{} of {count} misclassified:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The copy holds the corpus as published: checked wherever `../shared` sits beside the
/// project (as in CI, whose `.ci/run` requires it), so a stale copy cannot pass unnoticed
/// there. The copy may run ahead of an older `../shared` by the cases this project
/// contributed (appended at its end), never behind it.
#[test]
fn the_corpus_copy_holds_the_shared_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = root.join("../shared/corpus/commands.jsonl");
    if !shared.exists() {
        eprintln!(
            "note: {} is absent; the copy is not compared",
            shared.display()
        );
        return;
    }
    let shared_text = std::fs::read_to_string(&shared).expect("the shared corpus");
    let copy =
        std::fs::read_to_string(root.join("tests/data/shared/commands.jsonl")).expect("the copy");
    assert!(
        copy.starts_with(&shared_text),
        "tests/data/shared/commands.jsonl does not begin with {}\nhint: run tests/data/shared/sync.sh",
        shared.display()
    );
}

#[test]
fn own_cases_are_classified_as_expected() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let (count, failures) = check_file(&root.join("cases.jsonl"));
    assert!(count > 100, "expected the case table, found {count} lines");
    assert!(
        failures.is_empty(),
        "{} of {count} misclassified:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The adversarial tables, one file per family of techniques (`tests/data/cases/*.jsonl`),
/// each with benign twins that must stay allowed.
#[test]
fn adversarial_tables_are_classified_as_expected() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no tables in {}", dir.display());
    let mut failures = Vec::new();
    for file in &files {
        let (count, failed) = check_file(file);
        assert!(count > 0, "{} is empty", file.display());
        failures.extend(failed);
    }
    assert!(
        failures.is_empty(),
        "{} misclassified:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
