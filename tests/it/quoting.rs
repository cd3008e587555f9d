//! Quote removal agrees with real bash, byte for byte.
//!
//! Every word here is fully static: no parameters, substitutions, unquoted globs or braces,
//! no tilde that bash would expand. For such a word gatekeep must give a `Word::Literal`
//! holding exactly the bytes bash passes to a program. The words are generated from a fixed
//! seed (a small PRNG in this file), plus a hand-written table of tricky ones; one bash
//! process prints them all with `printf '%s\0'`, so the whole batch costs one process.
//!
//! `$'\xHH'`, `$'\NNN'` and `$'\u...'` are generated only for values whose output is valid
//! UTF-8 and not NUL: bash can emit any byte, while gatekeep's words are Rust strings (decoded
//! with `from_utf8_lossy`), and bash cuts a `$'...'` string at a NUL. NUL gets its own test.
//!
//! One difference cannot be read exactly (brush-parser drops `\<newline>` inside `$'...'`):
//! such lines are unreadable, and the last test checks that they escalate.

use std::path::Path;
use std::process::Command;

use gatekeep::journey::{self, Command as GateCommand};
use gatekeep::policy::{Decision, layers};
use gatekeep::shell::word::expand;
use gatekeep::shell::{Word, parse_shell};

/// Marks the end of one record in bash's output (a record is one `printf` line).
const END: &[u8] = b"\x1fend-of-record\x1f";

/// Runs `printf '%s\0' ARGS` for each record in one bash process, each record followed by
/// the [`END`] marker, and returns the arguments bash printed for each record.
fn bash_argvs(records: &[String]) -> Vec<Vec<Vec<u8>>> {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("cannot make a temp dir: {e}"));
    let mut script = String::new();
    for args in records {
        script.push_str("printf '%s\\0' ");
        script.push_str(args);
        script.push_str("\nprintf '\\037end-of-record\\037\\0'\n");
    }
    let path = dir.path().join("words.sh");
    std::fs::write(&path, &script)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    let out = run_bash(dir.path(), &path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.is_empty(),
        "bash failed ({}):\n{stderr}",
        out.status
    );

    let mut argvs = Vec::new();
    let mut current = Vec::new();
    let body = out.stdout.strip_suffix(b"\0").unwrap_or(&out.stdout);
    for arg in body.split(|&b| b == 0) {
        if arg == END {
            argvs.push(std::mem::take(&mut current));
        } else {
            current.push(arg.to_vec());
        }
    }
    assert!(
        current.is_empty(),
        "bash printed arguments after the last record: {current:?}"
    );
    assert_eq!(
        argvs.len(),
        records.len(),
        "bash printed {} records for {} lines; its word boundaries differ from the generator's",
        argvs.len(),
        records.len()
    );
    argvs
}

/// A plain, non-interactive bash in a UTF-8 locale (for `$'\u...'`), in an empty directory
/// (so that nothing could glob), with a fixed `HOME`.
fn run_bash(dir: &Path, script: &Path) -> std::process::Output {
    Command::new("bash")
        .args(["--norc", "--noprofile"])
        .arg(script)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent-home")
        .env("LC_ALL", "C.UTF-8")
        .output()
        .unwrap_or_else(|e| panic!("cannot run bash: {e}"))
}

/// gatekeep's value for one word, or why it has none.
fn gatekeep_literal(raw: &str) -> Result<String, String> {
    let expanded = expand(raw);
    if expanded.globs {
        return Err("gatekeep says it globs".into());
    }
    if !expanded.substitutions.is_empty() || !expanded.unreadable.is_empty() {
        return Err(format!(
            "gatekeep found substitutions {:?} / unreadable parts {:?}",
            expanded.substitutions, expanded.unreadable
        ));
    }
    match expanded.word {
        Word::Literal(s) => Ok(s),
        Word::Dynamic { why, .. } => Err(format!("gatekeep says it is dynamic: {why}")),
    }
}

/// Compares gatekeep with bash for every word; returns one line per mismatch.
fn word_mismatches(words: &[String], from_bash: &[Vec<Vec<u8>>]) -> Vec<String> {
    let mut mismatches = Vec::new();
    for (raw, argv) in words.iter().zip(from_bash) {
        let [bash] = argv.as_slice() else {
            mismatches.push(format!("{raw:?}: bash saw {} words: {argv:?}", argv.len()));
            continue;
        };
        match gatekeep_literal(raw) {
            Ok(ours) if ours.as_bytes() == bash.as_slice() => {}
            Ok(ours) => mismatches.push(format!(
                "{raw:?}: gatekeep {ours:?}, bash {:?} (bytes {bash:?})",
                String::from_utf8_lossy(bash)
            )),
            Err(why) => mismatches.push(format!(
                "{raw:?}: {why}; bash {:?}",
                String::from_utf8_lossy(bash)
            )),
        }
    }
    mismatches
}

// ---------------------------------------------------------------------------------------------
// The generator.

/// splitmix64: small, deterministic, good enough to spread choices.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo + (self.next() % u64::from(hi - lo + 1)) as u32
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
}

/// Characters that stand for themselves unquoted, anywhere in a word.
const PLAIN: &[&str] = &[
    "a", "b", "k", "z", "Q", "0", "7", "-", "_", ".", "/", ",", ":", "@", "%", "+", "^", "]", "!",
    "é", "ß", "Ω", "日", "本", "🦀",
];
/// Characters that stand for themselves unquoted, but not at the start of a word (a comment, a
/// tilde expansion).
const PLAIN_INNER: &[&str] = &["#", "~"];
/// `$` followed by a character that cannot start a parameter: bash keeps the `$`.
const LONE_DOLLARS: &[&str] = &["$/", "$.", "$,", "$:", "$%", "$+", "$^", "$]", "$~"];
/// Characters that are special unquoted, escaped with a backslash.
const ESCAPED: &[&str] = &[
    "*", "?", "[", "]", "{", "}", "$", "'", "\"", "\\", " ", "\t", ";", "|", "&", "<", ">", "(",
    ")", "~", "#", "!", "=", "a", "n", "é", "🦀",
];
/// Inside single quotes anything but `'` is literal.
const SINGLE: &[&str] = &[
    "a", "Z", "9", " ", "  ", "\t", "\n", "\"", "\\", "\\n", "$", "$x", "${x}", "`", "$(id)", "*",
    "?", "[a]", "{a,b}", "~", "!", "#", ";", "|", "&", "<", ">", "(", ")", "é", "日本", "🦀",
];
/// Inside double quotes: characters literal there, and backslashes that stay (`\a`).
const DOUBLE: &[&str] = &[
    "a", "Z", "9", " ", "\t", "\n", "'", "*", "?", "[a]", "{a,b}", "~", "~/x", "!", "#", ";", "|",
    "&", "<", ">", "(", ")", "é", "日本", "🦀", "\\a", "\\n", "\\'", "\\{", "\\*", "\\é", "\\ ",
    "\\\\", "\\\"", "\\$", "\\`", "\\\n", "$ ", "$/", "$.", "$,", "$:",
];
/// Inside `$'...'`: characters literal there, simple escapes, and unknown escapes (kept).
const ANSI_C: &[&str] = &[
    "a", "Z", "9", " ", "\"", "$", "$x", "`", "*", "{a,b}", "~", "#", "é", "日本", "🦀", "\\n",
    "\\t", "\\\\", "\\'", "\\\"", "\\a", "\\b", "\\e", "\\E", "\\f", "\\r", "\\v", "\\?", "\\z",
    "\\$", "\\{", "\\ ", "\\\n", "\\é",
];
/// `\cX` control characters that are neither NUL nor a quote.
const CONTROL: &[&str] = &[
    "a", "A", "m", "Z", "z", "[", "]", "^", "_", "?", "1", "\\\\", "\\a", "\\x41",
];

/// A plain run of characters; `inner` when the word already has something before it.
fn plain(rng: &mut Rng, inner: bool) -> String {
    let mut s = String::new();
    for i in 0..rng.range(1, 5) {
        if (inner || i > 0) && rng.one_in(8) {
            s.push_str(rng.pick(PLAIN_INNER));
        } else if (inner || i > 0) && rng.one_in(12) {
            s.push_str(rng.pick(LONE_DOLLARS));
        } else {
            s.push_str(rng.pick(PLAIN));
        }
    }
    s
}

fn single_quoted(rng: &mut Rng) -> String {
    let mut s = String::from("'");
    for _ in 0..rng.range(0, 4) {
        s.push_str(rng.pick(SINGLE));
    }
    s.push('\'');
    s
}

fn double_quoted(rng: &mut Rng) -> String {
    let mut s = String::from("\"");
    for _ in 0..rng.range(0, 5) {
        s.push_str(rng.pick(DOUBLE));
    }
    // A `$` right before the closing quote is literal too.
    if rng.one_in(10) {
        s.push('$');
    }
    s.push('"');
    s
}

/// A Unicode scalar value other than NUL, spread over the byte lengths of UTF-8.
fn scalar(rng: &mut Rng) -> u32 {
    loop {
        let n = match rng.below(4) {
            0 => rng.range(1, 0x7f),
            1 => rng.range(0x80, 0x7ff),
            2 => rng.range(0x800, 0xffff),
            _ => rng.range(0x1_0000, 0x10_ffff),
        };
        if char::from_u32(n).is_some() {
            return n;
        }
    }
}

/// Upper or lower case hex digits, as written.
fn hex(rng: &mut Rng, n: u32, width: usize) -> String {
    if rng.one_in(2) {
        format!("{n:0width$x}")
    } else {
        format!("{n:0width$X}")
    }
}

/// `in_line`: the word goes into a command line read by `parse_shell`, whose tokenizer drops a
/// `\<newline>` inside `$'...'` (see `ansi_c_line_continuation_in_a_command_line`).
fn ansi_c(rng: &mut Rng, in_line: bool) -> String {
    let mut s = String::from("$'");
    for _ in 0..rng.range(0, 5) {
        let item = match rng.below(10) {
            0..=3 => {
                let mut item = rng.pick(ANSI_C);
                while in_line && item == "\\\n" {
                    item = rng.pick(ANSI_C);
                }
                item.to_owned()
            }
            // Full-width numeric escapes: the next character can never extend them.
            4 => {
                let n = rng.range(1, 0x7f);
                format!("\\x{}", hex(rng, n, 2))
            }
            5 => format!("\\{:03o}", rng.range(1, 0o177)),
            6 => {
                let n = scalar(rng);
                format!("\\u{}", hex(rng, n.clamp(1, 0xffff), 4))
            }
            7 => {
                let n = scalar(rng);
                format!("\\U{}", hex(rng, n, 8))
            }
            8 => format!("\\c{}", rng.pick(CONTROL)),
            // Short numeric escapes, ended by a character that is not a digit.
            _ => match rng.below(3) {
                0 => {
                    let n = rng.range(1, 0xf);
                    format!("\\x{};", hex(rng, n, 1))
                }
                1 => format!("\\{:o}g", rng.range(1, 0o77)),
                _ => {
                    let n = rng.range(1, 0xff);
                    format!("\\u{}-", hex(rng, n, 2))
                }
            },
        };
        s.push_str(&item);
    }
    s.push('\'');
    s
}

/// One fully static word, as written.
fn word(rng: &mut Rng, in_line: bool) -> String {
    let mut raw = String::new();
    // Whether anything but line continuations has been written: a continuation vanishes
    // before bash looks for a leading `#` or `~`, and a word of continuations alone is no word.
    let mut started = false;
    for _ in 0..rng.range(1, 5) {
        let piece = match rng.below(14) {
            0..=2 => plain(rng, started),
            3 | 4 => single_quoted(rng),
            5 | 6 => double_quoted(rng),
            7 | 8 => format!("\\{}", rng.pick(ESCAPED)),
            9 | 10 => ansi_c(rng, in_line),
            11 if started => format!("~{}", plain(rng, true)),
            11 | 12 => "\\\n".to_owned(),
            _ => format!("$\"{}\"", plain(rng, true)),
        };
        started |= piece != "\\\n";
        raw.push_str(&piece);
    }
    if !started {
        raw.push_str(&plain(rng, false));
    }
    raw
}

/// A program name written with quoting that bash removes: `k"ubectl"`, `$'\x72'm`, `\r\m`.
fn obfuscated(rng: &mut Rng, name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        // Quote one character at a time, so every style lands in the middle of a name too.
        let piece = match rng.below(7) {
            0..=2 => c.to_string(),
            3 => format!("'{c}'"),
            4 => format!("\"{c}\""),
            5 => format!("\\{c}"),
            _ => match rng.below(3) {
                0 => format!("$'\\x{:02x}'", u32::from(c)),
                1 => format!("$'\\{:03o}'", u32::from(c)),
                _ => format!("$'\\u{:04X}'", u32::from(c)),
            },
        };
        out.push_str(&piece);
        if rng.one_in(8) {
            out.push_str(rng.pick(&["''", "\"\""]));
        }
    }
    out
}

const PROGRAMS: &[&str] = &[
    "kubectl",
    "rm",
    "git",
    "terraform",
    "psql",
    "docker",
    "helm",
    "dd",
    "chmod",
    "curl",
];
/// Separators between words: blanks, and line continuations next to a blank.
const SEPARATORS: &[&str] = &[" ", "  ", "\t", " \\\n", "\\\n ", " \\\n\t"];

/// A command line: `(line, words as written)`.
fn command_line(rng: &mut Rng) -> (String, Vec<String>) {
    let program = rng.pick(PROGRAMS);
    let mut words = vec![obfuscated(rng, program)];
    for _ in 0..rng.range(0, 5) {
        words.push(if rng.one_in(3) {
            let arg = rng.pick(&[
                "delete", "-rf", "/", "ns", "prod", "push", "--force", "destroy",
            ]);
            obfuscated(rng, arg)
        } else {
            word(rng, true)
        });
    }
    let mut line = words[0].clone();
    for w in &words[1..] {
        line.push_str(rng.pick(SEPARATORS));
        line.push_str(w);
    }
    (line, words)
}

// ---------------------------------------------------------------------------------------------
// The tests.

/// Words chosen by hand, with the value bash gives them (checked against bash as well).
const TRICKY: &[(&str, &str)] = &[
    ("k\"ubectl\"", "kubectl"),
    ("del'ete'", "delete"),
    ("\\rm", "rm"),
    ("r\\m", "rm"),
    ("\"r\"'m'", "rm"),
    ("''", ""),
    ("\"\"", ""),
    ("''\"\"''", ""),
    ("a\\ b", "a b"),
    ("'a b'", "a b"),
    ("\"a  b\"", "a  b"),
    // Line continuations vanish unquoted and in double quotes, not in single quotes or $'...'.
    ("a\\\nb", "ab"),
    ("\"a\\\nb\"", "ab"),
    ("'a\\\nb'", "a\\\nb"),
    ("$'a\\\nb'", "a\\\nb"),
    ("\"\\\n\"", ""),
    // In double quotes only \\ \" \$ \` and \<newline> are escapes.
    ("\"\\\\\\\"\\$\\`\"", "\\\"$`"),
    ("\"\\a\\n\\'\\{\\*\"", "\\a\\n\\'\\{\\*"),
    ("\"\\é\"", "\\é"),
    ("'\\'", "\\"),
    ("'\"'", "\""),
    ("\"'\"", "'"),
    ("\\'\\\"", "'\""),
    // A `$` that starts nothing is kept.
    ("a$", "a$"),
    ("\"a$\"", "a$"),
    ("\"$ x\"", "$ x"),
    ("$/x", "$/x"),
    ("\"$'x'\"", "$'x'"),
    ("\\$'x'", "$x"),
    ("'$'\"x\"", "$x"),
    ("$\"abc\"", "abc"),
    ("$\"a\\\"b\"", "a\"b"),
    // Globs, braces and tildes that bash leaves alone.
    ("\\*", "*"),
    ("'?'", "?"),
    ("\"[a]\"", "[a]"),
    ("\\[a]", "[a]"),
    ("{}", "{}"),
    ("{", "{"),
    ("}", "}"),
    ("{a}", "{a}"),
    ("\\{a,b}", "{a,b}"),
    ("{a\\,b}", "{a,b}"),
    ("\"{\"a,b}", "{a,b}"),
    ("{a.'.'c}", "{a..c}"),
    ("a~", "a~"),
    ("a/~/b", "a/~/b"),
    ("\\~", "~"),
    ("\"~\"", "~"),
    ("'~'/x", "~/x"),
    ("a#b", "a#b"),
    ("\\#x", "#x"),
    ("a'='b", "a=b"),
    ("a:~+", "a:~+"),
    ("x:~/y", "x:~/y"),
    ("--opt=value", "--opt=value"),
    ("é\\é", "éé"),
    ("'日本語'\"🦀\"", "日本語🦀"),
    // $'...': every escape bash knows, and the ones it keeps.
    ("$'\\x72m'", "rm"),
    ("$'\\162\\155'", "rm"),
    ("$'\\u0072m'", "rm"),
    ("$'\\U00000072m'", "rm"),
    ("$'it\\'s'", "it's"),
    (
        "$'\\a\\b\\e\\E\\f\\n\\r\\t\\v\\\\\\'\\\"\\?'",
        "\x07\x08\x1b\x1b\x0c\n\r\t\x0b\\'\"?",
    ),
    ("$'\\z\\$\\{\\é'", "\\z\\$\\{\\é"),
    ("$'\\x'", "\\x"),
    ("$'\\xg'", "\\xg"),
    ("$'\\x1x'", "\x01x"),
    ("$'\\x411'", "A1"),
    ("$'\\x4G'", "\x04G"),
    ("$'\\8\\9'", "\\8\\9"),
    ("$'\\0101'", "\x081"),
    ("$'\\1011'", "A1"),
    ("$'\\7'", "\x07"),
    ("$'\\u'", "\\u"),
    ("$'\\U'", "\\U"),
    ("$'\\u00411'", "A1"),
    ("$'\\U000000411'", "A1"),
    ("$'\\u00e9'", "é"),
    ("$'\\U0001F980'", "🦀"),
    ("$'\\uD7FF'", "\u{d7ff}"),
    ("$'\\c'", "\\c"),
    (
        "$'\\ca\\cA\\cz\\c[\\c]\\c^\\c_\\c1'",
        "\x01\x01\x1a\x1b\x1d\x1e\x1f\x11",
    ),
    // `\c?` is DEL, not `?` & 0x1f.
    ("$'\\c?'", "\x7f"),
    // `\c\` is 0x1c; a second backslash right after it belongs to it.
    ("$'\\c\\\\x'", "\x1cx"),
    ("$'\\c\\\\'", "\x1c"),
    ("$'\\c\\a'", "\x1ca"),
    ("$'\\c\\x41'", "\x1cx41"),
    ("$'\\c\\'x'", "\x1c'x"),
    ("a$'\\t'b", "a\tb"),
];

#[test]
fn tricky_words_match_bash() {
    let words: Vec<String> = TRICKY.iter().map(|(raw, _)| (*raw).to_owned()).collect();
    let from_bash = bash_argvs(&words);
    let mut failures = word_mismatches(&words, &from_bash);
    for ((raw, want), argv) in TRICKY.iter().zip(&from_bash) {
        if argv.iter().map(Vec::as_slice).ne([want.as_bytes()]) {
            failures.push(format!(
                "{raw:?}: the table says {want:?}, bash says {argv:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn generated_words_match_bash() {
    let mut rng = Rng(0x6761_7465_6b65_6570);
    let words: Vec<String> = (0..500).map(|_| word(&mut rng, false)).collect();
    // The generator must cover what it claims to.
    for needle in [
        "$'", "\\\n", "\"", "'", "\\x", "\\u", "\\U", "\\c", "~", "🦀",
    ] {
        let n = words.iter().filter(|w| w.contains(needle)).count();
        assert!(n >= 10, "only {n} generated words contain {needle:?}");
    }
    let failures = word_mismatches(&words, &bash_argvs(&words));
    assert!(
        failures.is_empty(),
        "{} of {} words differ from bash:\n{}",
        failures.len(),
        words.len(),
        failures.join("\n")
    );
}

#[test]
fn command_lines_split_and_unquote_as_bash_does() {
    let mut rng = Rng(0x0b5c_0000_5eed);
    let lines: Vec<(String, Vec<String>)> = (0..80).map(|_| command_line(&mut rng)).collect();
    // bash runs `printf '%s\0' LINE`: the program becomes printf's first argument.
    let texts: Vec<String> = lines.iter().map(|(line, _)| line.clone()).collect();
    let from_bash = bash_argvs(&texts);
    let mut failures = Vec::new();
    for ((line, words), bash) in lines.iter().zip(&from_bash) {
        let script = parse_shell(line);
        if !script.unreadable.is_empty() {
            failures.push(format!(
                "{line:?}: gatekeep could not read it: {:?}",
                script.unreadable
            ));
            continue;
        }
        let Some(first) = script.invocations.first() else {
            failures.push(format!("{line:?}: gatekeep found no command"));
            continue;
        };
        let ours: Vec<Option<&str>> = first.argv.iter().map(Word::literal).collect();
        let theirs: Vec<Option<&str>> = bash.iter().map(|a| std::str::from_utf8(a).ok()).collect();
        if ours != theirs || bash.len() != words.len() {
            failures.push(format!("{line:?}: gatekeep {ours:?}, bash {theirs:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} lines differ from bash:\n{}",
        failures.len(),
        lines.len(),
        failures.join("\n")
    );
}

/// bash cuts a `$'...'` string at a NUL it decodes (it builds a C string); the rest of the
/// word still follows. gatekeep must agree, or `$'rm\0x'` would hide `rm` from the rules.
#[test]
fn nul_in_ansi_c_strings_ends_the_string_as_in_bash() {
    let cases = [
        ("$'\\x00'", ""),
        ("$'a\\x00b'c", "ac"),
        ("$'a\\0b'", "a"),
        ("$'a\\000b'", "a"),
        ("$'a\\u0000b'", "a"),
        ("$'a\\U00000000b'", "a"),
        ("$'a\\c@b'", "a"),
        ("$'a\\c`b'", "a"),
        ("$'rm\\0-x'", "rm"),
        ("x$'\\0'y$'z'", "xyz"),
    ];
    let words: Vec<String> = cases.iter().map(|(raw, _)| (*raw).to_owned()).collect();
    let mut failures = word_mismatches(&words, &bash_argvs(&words));
    for (raw, want) in cases {
        if gatekeep_literal(raw).as_deref() != Ok(want) {
            failures.push(format!(
                "{raw:?}: expected {want:?}, gatekeep {:?}",
                expand(raw).word
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    let policy = layers::combine(&[]).unwrap_or_else(|e| panic!("built-in policy: {e}"));
    for line in [
        "$'rm\\0x' -rf /",
        "$'r\\x00'm -rf /",
        "$'\\x72m\\u0000' -rf /",
    ] {
        let script = parse_shell(line);
        assert_eq!(
            script.invocations.first().and_then(|i| i.program()),
            Some("rm"),
            "{line}"
        );
        let got = journey::assess(&GateCommand::Shell(line.to_owned()), &policy);
        assert_ne!(got.decision, Decision::Allow, "{line}: {}", got.reason);
    }
}

/// `$'...'` escapes whose output is not valid UTF-8 in bash: gatekeep's value is bash's bytes
/// read with `from_utf8_lossy`, and bytes that do form UTF-8 together decode to characters.
#[test]
fn byte_escapes_agree_with_bash_once_read_as_utf8() {
    let cases = [
        ("$'\\xc3\\xa9'", "é"),
        ("$'\\303\\251'", "é"),
        ("$'\\xe6\\x97\\xa5\\360\\237\\246\\200'", "日🦀"),
        ("$'\\xff'", "\u{fffd}"),
        ("$'\\377x'", "\u{fffd}x"),
        ("$'\\xc3'", "\u{fffd}"),
        // `\c` takes one byte: of `é` (C3 A9) that is C3 & 0x1f, and A9 is left over.
        ("$'\\cé'", "\x03\u{fffd}"),
        ("$'\\c日x'", "\x06\u{fffd}\u{fffd}x"),
    ];
    let words: Vec<String> = cases.iter().map(|(raw, _)| (*raw).to_owned()).collect();
    let from_bash = bash_argvs(&words);
    let mut failures = Vec::new();
    for ((raw, want), argv) in cases.iter().zip(&from_bash) {
        let bash: Vec<String> = argv
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let ours = gatekeep_literal(raw);
        if bash != [*want] || ours.as_deref() != Ok(*want) {
            failures.push(format!(
                "{raw:?}: expected {want:?}, gatekeep {ours:?}, bash {bash:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// bash keeps `\<newline>` inside `$'...'` (it is an unknown escape there), and `\c\` takes
/// only the backslash. brush-parser's tokenizer removes the pair before the word reaches
/// gatekeep, so a shell string `echo ^\<newline>rm -rf /`, where bash sees two commands, would
/// read as one `echo`. gatekeep cannot read such lines exactly, so it reports them unreadable:
/// they escalate instead of being read wrong.
#[test]
fn ansi_c_line_continuation_is_unreadable() {
    let policy = layers::combine(&[]).unwrap_or_else(|e| panic!("built-in policy: {e}"));
    let mut failures = Vec::new();
    for line in [
        "x $'a\\\nb'",
        "x $'\\c\\\nm'",
        "bash -c $'echo \\c\\\nrm -rf /'",
        "bash -c $'echo \\\\\\\nrm -rf /'",
    ] {
        let script = parse_shell(line);
        if script.unreadable.is_empty() {
            failures.push(format!(
                "{line:?}: read as {:?}",
                script
                    .invocations
                    .iter()
                    .map(|i| i.display_argv())
                    .collect::<Vec<_>>()
            ));
        }
        let got = journey::assess(&GateCommand::Shell(line.to_owned()), &policy);
        if got.decision == Decision::Allow {
            failures.push(format!("{line:?}: allowed"));
        }
    }
    // A `$'...'` without a line continuation is read as usual.
    assert!(parse_shell("x $'a\\nb' 'c\\\nd'").unreadable.is_empty());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
