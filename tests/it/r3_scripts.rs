//! Issue 12, "read the scripts an agent runs": commands that run a file are judged by the
//! file's content, read from a real directory at check time (shell scripts, sourced files,
//! Makefiles, package.json and justfile scripts, shell-outs of Python/Node/Perl/Ruby). The
//! files here are only read by gatekeep, never run.

#![expect(clippy::expect_used, reason = "a test fails loudly on setup errors")]

use std::cell::Cell;
use std::path::Path;

use gatekeep::host::LiveHost;
use gatekeep::journey::{self, Command};
use gatekeep::policy::{Assessment, Decision, layers};
use gatekeep::shell::load::{Files, LoadError};

fn decide(dir: &Path, line: &str) -> Assessment {
    let policy = layers::combine(&[]).expect("built-in policy loads");
    journey::assess_in(
        &Command::Shell(line.to_owned()),
        &policy,
        &LiveHost::new(dir),
    )
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, text).expect("write");
}

fn assert_decides(dir: &Path, line: &str, expected: Decision) {
    let got = decide(dir, line);
    assert_eq!(
        got.decision, expected,
        "{line:?}: expected {expected}, got {} ({})",
        got.decision, got.reason
    );
}

#[test]
fn shell_scripts_are_read_from_disk() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    write(
        d,
        "build.sh",
        "#!/bin/sh\nset -e\ncargo build --release\necho done\n",
    );
    write(d, "clean.sh", "#!/bin/bash\nrm -rf /srv\n");
    write(d, "deploy", "#!/usr/bin/env bash\nkubectl delete ns prod\n");
    write(d, "nested.sh", "cd sub\nbash inner.sh\n");
    write(d, "sub/inner.sh", "rm -rf /srv\n");
    write(d, "env.sh", "export APP_ENV=dev\nalias ll='ls -la'\n");
    assert_decides(d, "bash build.sh", Decision::Allow);
    assert_decides(d, "sh ./build.sh && ./build.sh", Decision::Allow);
    assert_decides(d, "bash clean.sh", Decision::Deny);
    assert_decides(d, "./clean.sh", Decision::Deny);
    assert_decides(d, "./deploy", Decision::Approve);
    // A script's commands run where its `cd` leads, relative to the command's directory.
    assert_decides(d, "bash nested.sh", Decision::Deny);
    assert_decides(d, "source env.sh && ls", Decision::Allow);
    assert_decides(d, ". ./clean.sh", Decision::Deny);
    // Without a directory the same line is judged by its words, as before.
    let policy = layers::combine(&[]).expect("built-in policy loads");
    let pure = journey::assess(&Command::Shell("bash clean.sh".into()), &policy);
    assert_eq!(pure.decision, Decision::Allow);
}

#[test]
fn missing_large_binary_and_recursive_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    // Sourcing or running a file that is not there: whatever is there later runs.
    assert_decides(d, "bash missing.sh", Decision::Approve);
    assert_decides(d, "source missing.sh", Decision::Approve);
    // Too large to read.
    write(d, "big.sh", &"echo x\n".repeat(200_000));
    assert_decides(d, "bash big.sh", Decision::Approve);
    // A compiled program is judged by its name.
    std::fs::write(d.join("prog"), b"\x7fELF\x02\x01\x01\0\0\0").expect("write");
    assert_decides(d, "./prog --help", Decision::Allow);
    // A script that sources itself stops at the depth limit, unreadable.
    write(d, "loop.sh", "echo hi\n. ./loop.sh\n");
    let got = decide(d, "bash loop.sh");
    assert_eq!(got.decision, Decision::Approve, "{}", got.reason);
    assert!(got.reason.contains("deep"), "{}", got.reason);
}

#[test]
fn makefile_recipes_are_read() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    write(
        d,
        "Makefile",
        "RM = rm -rf\n.PHONY: test deploy\nall: test\ntest:\n\tcargo test\nclean:\n\t@$(RM) /srv\ndeploy: clean\n\techo deployed\n",
    );
    assert_decides(d, "make test", Decision::Allow);
    assert_decides(d, "make", Decision::Allow);
    // The prerequisite's recipe runs too.
    assert_decides(d, "make deploy", Decision::Deny);
    write(d, "sub/Makefile", "all:\n\tkubectl delete ns prod\n");
    assert_decides(d, "make -C sub", Decision::Approve);
    assert_decides(d, "cd sub && make", Decision::Approve);
    write(d, "inc/Makefile", "include rules.mk\nall:\n\ttrue\n");
    assert_decides(d, "make -C inc", Decision::Allow);
    // A target that may come from an include gatekeep could not read.
    assert_decides(d, "make -C inc release", Decision::Approve);
}

#[test]
fn package_and_just_scripts_are_read() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    write(
        d,
        "package.json",
        r#"{"name":"x","scripts":{"lint":"eslint .","test":"jest","predeploy":"rm -rf /srv","deploy":"echo ok"}}"#,
    );
    assert_decides(d, "npm run lint", Decision::Allow);
    assert_decides(d, "npm test && yarn lint", Decision::Allow);
    assert_decides(d, "npm run deploy", Decision::Deny);
    assert_decides(d, "pnpm deploy", Decision::Deny);
    // A script name only known at run time may be any of them.
    assert_decides(d, "npm run \"$S\"", Decision::Deny);
    write(
        d,
        "justfile",
        "build: fmt\n    cargo build\n\nfmt:\n    cargo fmt\n\nnuke:\n    kubectl delete ns prod\n",
    );
    assert_decides(d, "just", Decision::Allow);
    assert_decides(d, "just build", Decision::Allow);
    assert_decides(d, "just nuke", Decision::Approve);
}

#[test]
fn interpreter_files_are_scanned_for_shell_outs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    write(d, "ok.py", "import os\nprint(os.getcwd())\n");
    write(d, "lit.py", "import os\nos.system('rm -rf /srv')\n");
    write(
        d,
        "dyn.py",
        "import subprocess, sys\nsubprocess.run(sys.argv[1], shell=True)\n",
    );
    write(
        d,
        "lit.js",
        "const cp = require('child_process');\ncp.execSync('rm -rf /srv');\n",
    );
    write(d, "lit.pl", "system('rm', '-rf', '/srv');\n");
    write(d, "lit.rb", "%x{rm -rf /srv}\n");
    write(
        d,
        "tool",
        "#!/usr/bin/env python3\nimport os\nos.system('kubectl delete ns prod')\n",
    );
    assert_decides(d, "python3 ok.py", Decision::Allow);
    assert_decides(d, "python3 -m pytest", Decision::Allow);
    assert_decides(d, "python3 lit.py", Decision::Deny);
    assert_decides(d, "node lit.js", Decision::Deny);
    assert_decides(d, "perl lit.pl", Decision::Deny);
    assert_decides(d, "ruby lit.rb", Decision::Deny);
    assert_decides(d, "./tool", Decision::Approve);
    let got = decide(d, "python3 dyn.py 'ls'");
    assert_eq!(got.decision, Decision::Approve, "{}", got.reason);
    assert!(
        got.commands
            .iter()
            .flat_map(|c| &c.rules)
            .any(|r| r.id == "script-shell-out"),
        "{:?}",
        got.commands
    );
}

#[test]
fn the_line_overrides_the_disk_for_files_it_writes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    write(d, "x.sh", "echo harmless\n");
    // What runs is what the line writes, not what is on disk now.
    assert_decides(d, "echo 'rm -rf /srv' > x.sh; bash x.sh", Decision::Deny);
    assert_decides(d, "echo ls > y.sh; bash y.sh", Decision::Allow);
    // An archive extracted first may replace any file it runs.
    assert_decides(d, "tar xf a.tar && bash x.sh", Decision::Approve);
    assert_decides(d, "tar xf a.tar && make test", Decision::Approve);
}

/// Counts reads: a line that runs no file must not touch the disk.
struct Counting(Cell<usize>);

impl Files for Counting {
    fn read(&self, _: &str) -> Result<String, LoadError> {
        self.0.set(self.0.get() + 1);
        Err(LoadError::Missing)
    }
    fn home(&self) -> Option<String> {
        None
    }
}

#[test]
fn commands_that_run_no_file_read_nothing() {
    let files = Counting(Cell::new(0));
    for line in [
        "ls -la",
        "git status && cargo test --workspace",
        "kubectl get pods -n prod | grep api",
        "python3 -m pytest -q",
        "echo hi > out.txt; cat out.txt",
    ] {
        gatekeep::shell::parse_shell_in(line, Some(&files));
    }
    assert_eq!(files.0.get(), 0);
    gatekeep::shell::parse_shell_in("bash build.sh", Some(&files));
    assert_eq!(files.0.get(), 1);
}

#[test]
fn gatekeep_check_reads_scripts_in_its_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "Makefile", "test:\n\trm -rf /srv\n");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatekeep"))
        .args(["check", "--cwd"])
        .arg(dir.path())
        .args(["--shell", "make test"])
        .env("HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .output()
        .expect("gatekeep runs");
    assert_eq!(
        out.status.code(),
        Some(77),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Each command keeps the variables assigned before it, so a script of thousands of
/// assignments would cost memory quadratic in its length: past the line's budget it is too
/// large to read and escalates, while the same shape at a tenth of the size is read.
#[test]
fn a_script_with_too_many_assignments_for_its_commands_escalates() {
    let script = |n: usize| {
        (0..n)
            .map(|i| format!("V_{i}=\"{i}\"\necho \"$V_{i}\"\n"))
            .collect::<String>()
    };
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "small.sh", &script(150));
    write(dir.path(), "big.sh", &script(1_500));
    assert_decides(dir.path(), "bash small.sh", Decision::Allow);
    let a = decide(dir.path(), "bash big.sh");
    assert_eq!(a.decision, Decision::Approve, "{}", a.reason);
    assert!(a.reason.contains("too many variables"), "{}", a.reason);
}
