//! Issue 12, cause 4: allow-by-default over enumerated lists. Possible commands after
//! programs gatekeep does not know, readers of code from standard input, configuration that
//! runs code, and the `default_unknown` setting with its layering invariants. The per-line
//! expectations live in `tests/data/cases/lists.jsonl` (run by `corpus.rs`).

#![expect(clippy::expect_used, reason = "a test fails loudly on setup errors")]

use std::path::PathBuf;

use gatekeep::journey::{self, Command};
use gatekeep::policy::{Certainty, Decision, LayerKind, Policy};
use gatekeep::shell::load::{Files, LoadError};

use crate::support::policy::{decide, layer, load};

fn builtin() -> Policy {
    load(&[]).expect("built-in policy loads")
}

const APPROVE: &str = "default_unknown = \"approve\"\n";
const ALLOW: &str = "default_unknown = \"allow\"\n";

#[test]
fn an_unknown_program_followed_by_a_guarded_command_is_a_possible_match() {
    let policy = builtin();
    for cmd in [
        "setarch x86_64 kubectl delete ns prod",
        "ssh-agent kubectl delete ns prod",
        "someday-wrapper -q --x=1 terraform destroy -auto-approve",
    ] {
        let got = journey::assess(&Command::Shell(cmd.to_owned()), &policy);
        assert_eq!(got.decision, Decision::Approve, "{cmd}");
        let inner = got
            .commands
            .iter()
            .flat_map(|c| &c.rules)
            .find(|h| h.certainty == Certainty::Possible)
            .unwrap_or_else(|| panic!("{cmd}: a possible match is reported"));
        assert!(
            inner
                .why
                .as_deref()
                .is_some_and(|w| w.contains("does not know")),
            "{cmd}: {:?}",
            inner.why
        );
    }
}

#[test]
fn a_possible_match_never_denies() {
    // The inner command would be denied if it ran for certain; after an unknown program it
    // only may run, so a person decides.
    let policy = builtin();
    assert_eq!(decide(&policy, "rm -rf /"), Decision::Deny);
    assert_eq!(decide(&policy, "frobnicate rm -rf /"), Decision::Approve);
}

#[test]
fn safe_programs_and_harmless_inner_commands_stay_allowed() {
    let policy = builtin();
    for cmd in [
        "grep -r kubectl delete docs/",
        "echo terraform destroy",
        "man kubectl",
        "mytool kubectl get pods",
        "ssh-agent bash",
    ] {
        assert_eq!(decide(&policy, cmd), Decision::Allow, "{cmd}");
    }
}

#[test]
fn stdin_readers_are_fed_by_the_pipe() {
    let policy = builtin();
    // Known harmless text piped to a shell through /dev/stdin is read, as for `| sh`.
    assert_eq!(
        decide(&policy, "echo 'echo hi' | bash /dev/./stdin"),
        Decision::Allow
    );
    for cmd in [
        "echo 'all:' | make -f -",
        "echo 's/a/b/' | sed -f /dev/stdin notes.txt",
        "echo '{print}' | awk -f - data.txt",
        "echo 'print(1)' | python3 /proc/self/fd/0",
    ] {
        assert_eq!(decide(&policy, cmd), Decision::Approve, "{cmd}");
    }
}

#[test]
fn default_unknown_allow_is_the_default() {
    let policy = builtin();
    assert_eq!(decide(&policy, "frobnicate --all"), Decision::Allow);
}

#[test]
fn default_unknown_approve_escalates_unknown_programs_only() {
    let policy = load(&[layer(LayerKind::System, APPROVE)]).expect("loads");
    assert_eq!(decide(&policy, "frobnicate --all"), Decision::Approve);
    assert_eq!(decide(&policy, "./build-it.sh"), Decision::Approve);
    for cmd in [
        "ls -la",
        "cat README.md | grep x",
        "git status",
        "cargo test",
        "make -j4",
        "npm test",
        "pytest -q",
    ] {
        assert_eq!(decide(&policy, cmd), Decision::Allow, "{cmd}");
    }
    // Wrappers are read through: what they run decides.
    assert_eq!(decide(&policy, "timeout 60 npm test"), Decision::Allow);
    assert_eq!(decide(&policy, "timeout 60 frobnicate"), Decision::Approve);
}

#[test]
fn lower_layers_may_tighten_default_unknown() {
    for kind in [LayerKind::User, LayerKind::Project, LayerKind::Env] {
        let policy = load(&[layer(kind, APPROVE)]).expect("tightening loads");
        assert_eq!(decide(&policy, "frobnicate"), Decision::Approve, "{kind}");
    }
}

#[test]
fn lower_layers_cannot_loosen_default_unknown() {
    for kind in [LayerKind::User, LayerKind::Project, LayerKind::Env] {
        let err = load(&[layer(LayerKind::System, APPROVE), layer(kind, ALLOW)])
            .err()
            .unwrap_or_else(|| panic!("{kind}: `allow` must be refused"));
        let msg = err.to_string();
        assert!(msg.contains("default_unknown"), "{kind}: {msg}");
        assert!(msg.contains(":1:"), "{kind}: names the line: {msg}");
        // Even with nothing to undo, `allow` from a lower layer is refused.
        assert!(load(&[layer(kind, ALLOW)]).is_err(), "{kind}");
    }
}

#[test]
fn the_system_layer_may_set_either() {
    let policy = load(&[layer(LayerKind::System, ALLOW)]).expect("loads");
    assert_eq!(decide(&policy, "frobnicate"), Decision::Allow);
    let policy = load(&[
        layer(LayerKind::System, APPROVE),
        layer(LayerKind::User, APPROVE),
    ])
    .expect("loads");
    assert_eq!(decide(&policy, "frobnicate"), Decision::Approve);
}

#[test]
fn a_bad_default_unknown_value_is_an_error() {
    let err = load(&[layer(LayerKind::System, "default_unknown = \"maybe\"\n")])
        .expect_err("an unknown value is refused");
    assert!(err.to_string().contains(":1:"), "{err}");
}

#[test]
fn git_config_that_runs_code_is_read_or_escalated() {
    let policy = builtin();
    // A stored editor is read as the command it names.
    assert_eq!(
        decide(&policy, "git config --global core.editor nano"),
        Decision::Allow
    );
    for cmd in [
        "git config core.hooksPath /tmp/h",
        "git --config-env=core.pager=P log",
        "GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.hooksPath GIT_CONFIG_VALUE_0=/tmp/h git commit",
        "git clone 'ext::sh -c x' repo",
        "sqlite3 a.db \".read '|x'\"",
        "psql db -c \"select 'x' \\gexec\"",
    ] {
        assert_eq!(decide(&policy, cmd), Decision::Approve, "{cmd}");
    }
}

/// Detection figures over the shared corpus and every case table, read as the corpus test
/// reads them (built-in policy, no host): dangerous lines caught (escalated or denied) and
/// benign lines over-blocked, under `default_unknown = "allow"` and `"approve"`. Prints a
/// table; run by `benches/detection.sh` (`DETAIL=1` also lists each miss).
#[test]
#[ignore = "prints figures; run by benches/detection.sh"]
fn detection_figures() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![
        root.join("tests/data/shared/commands.jsonl"),
        root.join("tests/data/cases.jsonl"),
    ];
    let mut tables: Vec<PathBuf> = std::fs::read_dir(root.join("tests/data/cases"))
        .expect("case tables")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    tables.sort();
    files.extend(tables);
    let modes = [
        ("allow", builtin()),
        (
            "approve",
            load(&[layer(LayerKind::System, APPROVE)]).expect("loads"),
        ),
    ];
    let detail = std::env::var_os("DETAIL").is_some();
    println!(
        "{:<34} {:<8} {:>22} {:>24}",
        "set", "mode", "dangerous caught", "benign over-blocked"
    );
    let pct = |n: usize, d: usize| {
        if d == 0 {
            "    -  ".to_owned()
        } else {
            format!("{:5.1} %", 100.0 * n as f64 / d as f64)
        }
    };
    let mut totals = [[0usize; 4]; 2];
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable table");
        let cases: Vec<serde_json::Value> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
        let name = file
            .strip_prefix(root)
            .unwrap_or(file)
            .display()
            .to_string();
        for (m, (mode, policy)) in modes.iter().enumerate() {
            let (mut caught, mut bad, mut over, mut good) = (0, 0, 0, 0);
            for case in &cases {
                let cmd = case["cmd"].as_str().expect("cmd");
                let blocked = decide(policy, cmd) >= Decision::Approve;
                if case["expect"] == "allow" {
                    good += 1;
                    over += usize::from(blocked);
                    if blocked && detail {
                        eprintln!("  over-blocked ({mode}): {cmd}");
                    }
                } else {
                    bad += 1;
                    caught += usize::from(blocked);
                    if !blocked && detail {
                        eprintln!("  missed ({mode}): {cmd}");
                    }
                }
            }
            for (t, v) in totals[m].iter_mut().zip([caught, bad, over, good]) {
                *t += v;
            }
            println!(
                "{name:<34} {mode:<8} {caught:>6}/{bad:<6} {} {over:>8}/{good:<6} {}",
                pct(caught, bad),
                pct(over, good)
            );
        }
    }
    for (m, (mode, _)) in modes.iter().enumerate() {
        let [c, b, o, g] = totals[m];
        println!(
            "{:<34} {mode:<8} {c:>6}/{b:<6} {} {o:>8}/{g:<6} {}",
            "all sets",
            pct(c, b),
            pct(o, g)
        );
    }
}

/// A repository on a host described in memory: `.git/HEAD` and the remote's default.
struct Repo {
    head: &'static str,
    remote_default: Option<&'static str>,
}

impl gatekeep::policy::paths::Host for Repo {
    fn var(&self, _: &str) -> Option<String> {
        None
    }
    fn cwd(&self) -> Option<String> {
        Some("/work/repo/src".into())
    }
    fn resolve(&self, _: &str) -> Option<String> {
        None
    }
    fn files(&self) -> Option<&dyn Files> {
        Some(self)
    }
}

impl Files for Repo {
    fn read(&self, path: &str) -> Result<String, LoadError> {
        match path {
            "/work/repo/.git/HEAD" => Ok(format!("ref: refs/heads/{}\n", self.head)),
            "/work/repo/.git/refs/remotes/origin/HEAD" => self
                .remote_default
                .map(|d| format!("ref: refs/remotes/origin/{d}\n"))
                .ok_or(LoadError::Missing),
            _ => Err(LoadError::Missing),
        }
    }
    fn home(&self) -> Option<String> {
        None
    }
}

#[test]
fn a_push_without_a_branch_asks_when_the_default_branch_is_checked_out() {
    let policy = builtin();
    let on = |head, remote_default, cmd: &str| {
        journey::assess_in(
            &Command::Shell(cmd.to_owned()),
            &policy,
            &Repo {
                head,
                remote_default,
            },
        )
        .decision
    };
    for cmd in ["git push", "git push origin", "git push -u origin HEAD"] {
        assert_eq!(on("main", None, cmd), Decision::Approve, "{cmd}");
        assert_eq!(on("trunk", Some("trunk"), cmd), Decision::Approve, "{cmd}");
        assert_eq!(on("feature-x", None, cmd), Decision::Allow, "{cmd}");
        // The remote says its default is another branch: `master` is then ordinary.
        assert_eq!(on("master", Some("develop"), cmd), Decision::Allow, "{cmd}");
    }
    assert_eq!(on("main", None, "git push --dry-run"), Decision::Allow);
    assert_eq!(
        on("main", None, "git push origin feature-x"),
        Decision::Allow
    );
    // Without a host the push is read as spelled, as before.
    assert_eq!(decide(&policy, "git push"), Decision::Allow);
}

#[test]
fn disabling_the_rule_disables_the_default_branch_push_check() {
    let policy = load(&[layer(
        LayerKind::System,
        "disable = [\"git-push-default-branch\"]\n",
    )])
    .expect("loads");
    let got = journey::assess_in(
        &Command::Shell("git push".to_owned()),
        &policy,
        &Repo {
            head: "main",
            remote_default: None,
        },
    );
    assert_eq!(got.decision, Decision::Allow);
}
