//! The real `gatekeep` binary: `check` output and exit codes, policy files found where a
//! user would put them, and `policy test|lint|show`. Each test runs with its own HOME and
//! XDG directories so no file of the machine's user leaks in.

#![expect(clippy::unwrap_used, reason = "a test fails loudly on setup errors")]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

/// An isolated home and working directory.
struct Env {
    home: TempDir,
    work: TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            home: tempfile::tempdir().unwrap(),
            work: tempfile::tempdir().unwrap(),
        }
    }

    fn cmd(&self) -> Command {
        let mut cmd = Command::cargo_bin("gatekeep").unwrap();
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join(".config"))
            .current_dir(self.work.path());
        cmd
    }

    fn user_policy(&self) -> PathBuf {
        self.home.path().join(".config/gatekeep/policy.toml")
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn json(out: &[u8]) -> serde_json::Value {
    let text = String::from_utf8_lossy(out);
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    assert!(
        lines.next().is_none(),
        "--json prints exactly one object: {text}"
    );
    serde_json::from_str(first).unwrap()
}

#[test]
fn check_exit_codes_follow_the_decision() {
    let env = Env::new();
    env.cmd()
        .args(["check", "--", "ls", "-la"])
        .assert()
        .code(0);
    env.cmd()
        .args(["check", "--", "kubectl", "delete", "ns", "prod"])
        .assert()
        .code(10);
    env.cmd()
        .args(["check", "--shell", "rm -rf /"])
        .assert()
        .code(77);
    env.cmd()
        .args(["check", "--shell", "echo 'rm -rf /' > notes.txt"])
        .assert()
        .code(0);
    // A string that does not parse is escalated, never allowed.
    env.cmd()
        .args(["check", "--shell", "echo 'unterminated"])
        .assert()
        .code(10);
    // Usage errors are clap's code 2.
    env.cmd().args(["check"]).assert().code(2);
}

#[test]
fn check_json_has_the_documented_shape() {
    let env = Env::new();
    let out = env
        .cmd()
        .args(["check", "--json", "--shell", "cd /srv && sudo rm -rf data"])
        .assert()
        .code(10)
        .get_output()
        .stdout
        .clone();
    let v = json(&out);
    assert_eq!(v["decision"], "approve");
    assert_eq!(v["risk"], "high");
    assert!(v["reason"].as_str().unwrap().contains("rm -rf data"), "{v}");
    let commands = v["commands"].as_array().unwrap();
    let argvs: Vec<String> = commands
        .iter()
        .map(|c| {
            c["argv"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w.as_str().unwrap())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert_eq!(argvs, ["cd /srv", "sudo rm -rf data", "rm -rf data"]);
    let rm = &commands[2];
    assert_eq!(rm["decision"], "approve");
    assert_eq!(rm["rules"][0]["id"], "rm-recursive");
    assert_eq!(rm["rules"][0]["layer"], "builtin");
    assert_eq!(rm["via"][0], "sudo");
    assert_eq!(commands[1]["rules"][0]["id"], "sudo");
    assert!(commands[0]["reason"].is_string());
}

#[test]
fn check_argv_form_reads_exact_words() {
    let env = Env::new();
    // As an argv, `rm -rf /` in one word is a program name, not a command line...
    env.cmd().args(["check", "--", "rm -rf /"]).assert().code(0);
    // ...but a shell given a string still runs it as a script.
    env.cmd()
        .args(["check", "--", "bash", "-c", "rm -rf /"])
        .assert()
        .code(77);
}

#[test]
fn check_explains_in_words() {
    let env = Env::new();
    let out = env
        .cmd()
        .args(["check", "--shell", "echo $(kubectl delete ns prod)"])
        .assert()
        .code(10)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("approve: waits for a person"), "{text}");
    assert!(
        text.contains("kubectl-mutate [built-in layer, high]"),
        "{text}"
    );
    assert!(text.contains("(via $(...))"), "{text}");
}

#[test]
fn user_project_and_env_layers_are_found_and_tighten() {
    let env = Env::new();
    let rule = |id: &str, program: &str| {
        format!(
            "[[rule]]\nid = \"{id}\"\ndecision = \"deny\"\nrisk = \"low\"\nmessage = \"no {program} here\"\nprogram = [\"{program}\"]\n"
        )
    };
    write(&env.user_policy(), &rule("user-no-make", "make"));
    // The project file sits above the working directory: found by walking up.
    write(
        &env.work.path().join(".gatekeep.toml"),
        &rule("project-no-npm", "npm"),
    );
    let sub = env.work.path().join("pkg/src");
    std::fs::create_dir_all(&sub).unwrap();
    let env_file = env.home.path().join("extra.toml");
    write(&env_file, &rule("env-no-cargo", "cargo"));

    let check = |cmd: &str, code: i32| {
        let out = env
            .cmd()
            .current_dir(&sub)
            .env("GATEKEEP_POLICY", &env_file)
            .args(["check", "--json", "--", cmd])
            .assert()
            .code(code)
            .get_output()
            .stdout
            .clone();
        json(&out)
    };
    assert_eq!(
        check("make", 77)["commands"][0]["rules"][0]["layer"],
        "user"
    );
    assert_eq!(
        check("npm", 77)["commands"][0]["rules"][0]["layer"],
        "project"
    );
    assert_eq!(
        check("cargo", 77)["commands"][0]["rules"][0]["layer"],
        "env"
    );
    check("ls", 0);
}

#[test]
fn a_project_file_that_tries_to_loosen_stops_everything() {
    let env = Env::new();
    write(
        &env.work.path().join(".gatekeep.toml"),
        "# agents wrote this\n[[rule]]\nid = \"yolo\"\ndecision = \"allow\"\nrisk = \"low\"\nmessage = \"x\"\nprogram = [\"rm\"]\n",
    );
    for args in [
        vec!["check", "--", "ls"],
        vec!["check", "--shell", "rm -rf /srv"],
        vec!["policy", "show"],
        vec!["policy", "test"],
    ] {
        let out = env.cmd().args(&args).assert().code(78).get_output().clone();
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(".gatekeep.toml:2:1:"), "{args:?}: {err}");
        assert!(err.contains("no command is allowed"), "{err}");
        assert!(out.stdout.is_empty(), "nothing on stdout: {:?}", out.stdout);
    }
}

#[test]
fn missing_env_policy_file_is_an_error() {
    let env = Env::new();
    let out = env
        .cmd()
        .env("GATEKEEP_POLICY", "/nonexistent/policy.toml")
        .args(["check", "--", "ls"])
        .assert()
        .code(78)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    assert!(
        err.contains("/nonexistent/policy.toml") && err.contains("hint:"),
        "{err}"
    );
}

#[test]
fn policy_test_runs_every_example() {
    let env = Env::new();
    let out = env
        .cmd()
        .args(["policy", "test"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let last = text.lines().last().unwrap();
    assert!(last.ends_with("passed, 0 failed"), "{text}");
    let passed: usize = last.split_whitespace().next().unwrap().parse().unwrap();
    assert!(
        passed > 300,
        "the built-in pack carries its examples: {passed}"
    );

    // A user rule whose example is wrong fails the policy as it loads.
    write(
        &env.user_policy(),
        "[[rule]]\nid = \"r\"\ndecision = \"approve\"\nrisk = \"low\"\nmessage = \"m\"\nprogram = [\"make\"]\nnot_match = [\"make all\"]\n",
    );
    let out = env
        .cmd()
        .args(["policy", "test"])
        .assert()
        .code(78)
        .get_output()
        .stderr
        .clone();
    assert!(
        String::from_utf8(out)
            .unwrap()
            .contains("example `make all` should not match but does")
    );
}

#[test]
fn policy_lint_checks_files_as_a_chosen_layer() {
    let env = Env::new();
    let file = env.work.path().join("p.toml");
    write(&file, "disable = [\"git-clean\"]\n");
    env.cmd()
        .args(["policy", "lint", "--as", "system"])
        .arg(&file)
        .assert()
        .code(0)
        .stdout(predicates_contains("checked as the system layer"));
    let out = env
        .cmd()
        .args(["policy", "lint"])
        .arg(&file)
        .assert()
        .code(78)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    assert!(
        err.contains("p.toml:1:12: the user layer cannot disable rules"),
        "{err}"
    );
}

#[test]
fn policy_show_prints_layers_and_rules() {
    let env = Env::new();
    write(
        &env.user_policy(),
        "[[rule]]\nid = \"mine\"\ndecision = \"approve\"\nrisk = \"low\"\nmessage = \"m\"\nprogram = [\"make\"]\n",
    );
    let out = env
        .cmd()
        .args(["policy", "show"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("#   built-in    compiled into gatekeep"),
        "{text}"
    );
    assert!(text.contains("id = \"rm-recursive\""), "{text}");
    assert!(
        text.contains("# from the user layer\n[[rule]]\nid = \"mine\""),
        "{text}"
    );
    // What `show` prints is itself a valid policy file.
    let rules_only: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let parsed: toml::Table = toml::from_str(&rules_only).unwrap_or_default();
    assert!(!parsed.is_empty());

    let out = env
        .cmd()
        .args(["policy", "show", "--json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let v = json(&out);
    assert_eq!(v["layers"][1]["kind"], "user");
    assert!(
        v["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["rule"]["id"] == "mine" && r["layer"] == "user")
    );
}

fn predicates_contains(s: &'static str) -> impl predicates::Predicate<[u8]> {
    use predicates::prelude::PredicateStrExt;
    predicates::str::contains(s).from_utf8()
}

/// `--max-timeout 0` is refused with a message, not a panic (clamp's bounds crossed and the
/// abort-on-panic server exited).
#[test]
fn server_refuses_a_zero_max_timeout() {
    let data = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatekeep"))
        .args([
            "server",
            "--listen",
            "127.0.0.1:0",
            "--max-timeout",
            "0",
            "--data",
        ])
        .arg(data.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--max-timeout"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
