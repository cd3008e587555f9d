//! The cost of reading the scripts a command runs: `bash big.sh` where `big.sh` is a
//! generated shell script of 2,500 or 5,000 lines (assignments, functions, conditionals,
//! loops, pipes, substitutions, the commands of a build script), read from a real temporary
//! directory and classified against the built-in pack; and, for comparison, a line that
//! runs no file.
//! Run with `cargo bench --bench scripts`.

use divan::{Bencher, black_box};
use gatekeep::host::LiveHost;
use gatekeep::journey::{self, Command};
use gatekeep::policy::{Decision, layers};

fn main() {
    divan::main();
}

/// A shell script of `lines` lines, as a long build or deploy script is written.
fn generated_script(lines: usize) -> String {
    let mut s = String::from("#!/usr/bin/env bash\nset -euo pipefail\n");
    let mut n = 2;
    let mut i = 0;
    while n < lines {
        let block = match i % 8 {
            0 => format!("VERSION_{i}=\"1.{i}.0\"\nexport BUILD_DIR_{i}=\"target/{i}\"\n"),
            1 => format!(
                "step_{i}() {{\n  echo \"step {i}: $1\"\n  mkdir -p \"$BUILD_DIR_{i}\"\n}}\nstep_{i} start\n"
            ),
            2 => format!(
                "if [ -f \"config/{i}.toml\" ]; then\n  cp \"config/{i}.toml\" \"out/{i}.toml\"\nelse\n  echo \"no config {i}\" >&2\nfi\n"
            ),
            3 => format!("for f in src/{i}/*.rs; do\n  grep -n TODO \"$f\" | wc -l\ndone\n"),
            4 => {
                format!("git log --oneline -n {i} | head -5\nkubectl get pods -n ns-{i} -o wide\n")
            }
            5 => format!(
                "COUNT_{i}=$(find . -name '*.{i}' | wc -l)\necho \"found $COUNT_{i}\" >> build.log\n"
            ),
            6 => format!(
                "case \"$MODE\" in\n  fast) cargo build --jobs {i} ;;\n  *) cargo build --release ;;\nesac\n"
            ),
            _ => format!(
                "sed -i 's/old{i}/new{i}/g' notes/{i}.md && tar czf out/{i}.tgz notes/{i}.md\n"
            ),
        };
        n += block.lines().count();
        s.push_str(&block);
        i += 1;
    }
    s
}

/// `bash big.sh` for a generated script of `lines` lines, read from a temporary directory.
fn bash_script(bencher: Bencher, lines: usize, expect: Decision) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let text = generated_script(lines);
    std::fs::write(dir.path().join("big.sh"), &text).unwrap_or_else(|e| panic!("write: {e}"));
    let policy = layers::combine(&[]).unwrap_or_default();
    let host = LiveHost::new(dir.path());
    let command = Command::Shell("bash big.sh".into());
    let check = journey::assess_in(&command, &policy, &host);
    assert_eq!(check.decision, expect, "{}", check.reason);
    assert!(text.lines().count() >= lines);
    bencher.bench_local(|| black_box(journey::assess_in(&command, &policy, &host)));
}

/// Read whole: every command classified.
#[divan::bench(sample_count = 20)]
fn bash_2500_line_script(bencher: Bencher) {
    bash_script(bencher, 2_500, Decision::Allow);
}

/// Over the scope budget (its 630 assignments would be copied into every later command):
/// escalated as too large to read, at the cost of reading it up to there.
#[divan::bench(sample_count = 20)]
fn bash_5000_line_script(bencher: Bencher) {
    bash_script(bencher, 5_000, Decision::Approve);
}

#[divan::bench]
fn line_that_runs_no_file(bencher: Bencher) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let policy = layers::combine(&[]).unwrap_or_default();
    let host = LiveHost::new(dir.path());
    let command = Command::Shell("git status --short && cargo test --workspace".into());
    bencher.bench_local(|| black_box(journey::assess_in(&command, &policy, &host)));
}
