//! Issue 12, cause 1: bash's run-time code paths, checked against real bash.
//!
//! Every construct here is run by bash with a harmless stand-in: a function `probe` that only
//! prints a marker, reached through a variable whose value is `a[$(probe)]`. Where bash runs
//! `probe`, gatekeep must find the line unreadable; where it does not (the benign twins),
//! gatekeep must read the line. The case table `tests/data/cases/runtime.jsonl` (run by
//! `corpus.rs`) holds the dangerous spellings; this module grounds them in bash's behaviour.

use std::process::Command;

use gatekeep::shell::{Stdin, Word, parse_shell};

/// What bash prints when the stand-in runs.
const MARK: &str = "PROBE-RAN";

/// Runs `line` in bash after defining `probe` and setting `x` and `v` to a value whose
/// subscript calls it; true when `probe` ran.
fn bash_runs_probe(line: &str) -> bool {
    let script =
        format!("probe() {{ echo {MARK} >&2; }}\nx='a[$(probe)]'\nv='a[$(probe)]'\n{line}\n");
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap_or_else(|e| panic!("cannot run bash: {e}"));
    String::from_utf8_lossy(&out.stderr).contains(MARK)
}

/// Whether gatekeep reads `line` as holding something it cannot read.
fn unreadable(line: &str) -> bool {
    !parse_shell(line).unreadable.is_empty()
}

/// Lines in which bash evaluates `x` (or `v`) as code. Each must run `probe` in bash and be
/// unreadable to gatekeep.
const RUNS: &[&str] = &[
    "(( x ))",
    "echo $(( x ))",
    "echo $(( $x + 1 ))",
    "echo $[x]",
    "let x",
    "let 'y = x + 1'",
    "[[ x -eq 1 ]]",
    "[[ $x -eq 1 ]]",
    "[[ 1 -lt \"$x\" ]]",
    "for ((i=x; i<1; i++)); do :; done",
    "arr=(1); echo ${arr[x]}",
    "b[x]=1",
    "s=abc; echo ${s:x:1}",
    "declare -i n=x",
    "declare -i n; n=x",
    "printf -v \"$x\" %s 1",
    "read \"$x\" <<< 1",
    "declare \"$x=1\"",
    "test -v \"$x\"",
    "[ -v \"$x\" ]",
    "[[ -v $x ]]",
    "y=$x; echo ${!y}",
    "declare -n r=$x; r=1",
    "p='$(probe)'; echo ${p@P}",
];

/// Lines whose option or argument bash runs as a command: gatekeep must read that command
/// (here `probe`) and classify it like any other.
const RUNS_AS_COMMAND: &[&str] = &[
    "mapfile -C probe -c 1 l <<< a",
    "trap -- probe EXIT",
    "trap probe EXIT",
    "compgen -C probe x",
    "compgen -F probe x",
];

/// Lines in which bash does not run `probe` although `x` holds `a[$(probe)]`: gatekeep must
/// read them (no false alarm).
const QUIET: &[&str] = &[
    "[ \"$x\" -eq 1 ] 2>/dev/null",
    "test \"$x\" -gt 0 2>/dev/null",
    "echo $((1+2))",
    "i=0; (( i++ ))",
    "for ((i=0; i<2; i++)); do :; done",
    "for i in 1 2 3; do echo $((i*2)); done",
    "n=0; n=$((n+1)); echo $((n))",
    "echo $((RANDOM % 6))",
    "declare -A m; m[key]=1; echo ${m[key]}",
    "read -r line <<< 1",
    "printf -v out %s 1",
    "z=HOME; echo ${!z}",
    "echo \"${x@Q}\"",
    "trap -p",
    "trap 'echo done' EXIT",
];

#[test]
fn what_bash_evaluates_as_code_is_unreadable() {
    let mut wrong = Vec::new();
    for line in RUNS {
        if !bash_runs_probe(line) {
            wrong.push(format!(
                "bash does not run the stand-in for `{line}`: the table is wrong"
            ));
        }
        if !unreadable(line) {
            wrong.push(format!(
                "gatekeep reads `{line}`, which runs a[$(cmd)] in bash"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn code_given_to_builtins_is_read_as_a_command() {
    for line in RUNS_AS_COMMAND {
        assert!(
            bash_runs_probe(line),
            "bash does not run the stand-in for `{line}`"
        );
        let script = parse_shell(line);
        assert!(
            script
                .invocations
                .iter()
                .any(|i| i.program() == Some("probe")),
            "gatekeep does not see `probe` run by `{line}`: {:?}",
            script.invocations
        );
    }
}

#[test]
fn benign_twins_stay_readable() {
    let mut wrong = Vec::new();
    for line in QUIET {
        if bash_runs_probe(line) {
            wrong.push(format!(
                "bash runs the stand-in for `{line}`: the table is wrong"
            ));
        }
        if unreadable(line) {
            wrong.push(format!(
                "gatekeep cannot read `{line}`: {:?}",
                parse_shell(line).unreadable
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Escalated although bash (5.2, this machine) does not run the stand-in: the name or value
/// is dynamic and another bash version, another attribute or another value would run it.
#[test]
fn conservative_forms_escalate() {
    for line in [
        "declare \"$x\"",
        "unset \"$x\"",
        "sleep 0 & wait -p \"$x\"",
        "(( y ))",
        "fc -s",
        "enable -f ./x.so x",
        "BASH_CMDS[ls]=/tmp/x",
    ] {
        assert!(unreadable(line), "{line}");
    }
}

/// The text bash gives a command for an unquoted here-document, compared with gatekeep's.
#[test]
fn here_document_bodies_are_read_as_bash_expands_them() {
    let bodies = [
        "echo \\$(probe)",
        "echo \"\\$(probe)\"",
        "echo \\`probe\\`",
        "a\\\\b",
        "a\\b",
        "line\\\ncontinued",
        "'single' \"double\"",
        "\\\"kept\\\"",
        "tab\there",
        "x \\$HOME y",
    ];
    for body in bodies {
        let line = format!("cat <<EOF\n{body}\nEOF");
        let out = Command::new("bash")
            .arg("-c")
            .arg(&line)
            .env_clear()
            .output()
            .unwrap_or_else(|e| panic!("cannot run bash: {e}"));
        let want = String::from_utf8_lossy(&out.stdout).into_owned();
        let script = parse_shell(&line);
        let got = match &script.invocations[0].stdin {
            Stdin::Text(t) => t.clone(),
            other => panic!("{body:?}: stdin is {other:?}"),
        };
        assert_eq!(got, want, "here-document body {body:?}");
    }
}

/// A shell fed an unquoted here-document runs what the outer expansion leaves: `\$(...)`
/// and escaped backquotes become substitutions the inner shell runs.
#[test]
fn a_shell_reading_a_here_document_runs_the_expanded_text() {
    for (body, inner) in [
        ("echo \"\\$(probe)\"", "probe"),
        ("echo \"\\`probe\\`\"", "probe"),
        ("x=\\$(probe)", "probe"),
    ] {
        let line = format!("bash <<EOF\n{body}\nEOF");
        let script = parse_shell(&line);
        assert!(
            script
                .invocations
                .iter()
                .any(|i| i.program() == Some(inner)),
            "{line:?}: {:?}",
            script.invocations
        );
        let quoted = format!("bash <<'EOF'\n{body}\nEOF");
        assert!(
            !parse_shell(&quoted)
                .invocations
                .iter()
                .any(|i| i.program() == Some(inner) && i.via.iter().any(|v| v.contains("$("))),
            "{quoted:?} keeps the substitution escaped"
        );
    }
    // A variable expanded into the body may hold any code.
    assert!(unreadable("bash <<EOF\necho $cmd\nEOF"));
}

/// Brace expansion gives the words bash gives.
#[test]
fn brace_expansion_matches_bash() {
    let words = [
        "/etc/{passwd,shadow}",
        "a{b,c}d",
        "{1..4}",
        "{4..1}",
        "{a..g..3}",
        "x{,y}z",
        "{a,b}{1,2}",
        "'{a,b}'",
        "\"{a,b}\"c{d,e}",
        "{a}",
        "{a,{b,c}}",
        "pre{1..3..2}post",
    ];
    for word in words {
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!("printf '%s\\0' {word}"))
            .env_clear()
            .output()
            .unwrap_or_else(|e| panic!("cannot run bash: {e}"));
        let want: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .split('\0')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let script = parse_shell(&format!("printf '%s\\0' {word}"));
        let got: Vec<String> = script.invocations[0].argv[2..]
            .iter()
            .map(|w| match w {
                Word::Literal(s) => s.clone(),
                Word::Dynamic { raw, .. } => panic!("{word}: dynamic {raw}"),
            })
            .collect();
        assert_eq!(got, want, "{word}");
    }
}

/// Words bash expands as file-name patterns are marked as such; quoted ones are not.
#[test]
fn glob_words_are_marked() {
    let script = parse_shell("cat /etc/shad?w '/etc/x?y' ~/.ssh/*");
    let globs = &script.invocations[0].globs;
    assert!(globs.contains(&"/etc/shad?w".to_owned()));
    assert!(globs.contains(&"~/.ssh/*".to_owned()));
    assert!(!globs.contains(&"/etc/x?y".to_owned()));
    let wrapped = parse_shell("sudo cat /etc/sha*");
    assert!(
        wrapped
            .invocations
            .iter()
            .any(|i| i.program() == Some("cat") && i.globs.contains(&"/etc/sha*".to_owned()))
    );
}
