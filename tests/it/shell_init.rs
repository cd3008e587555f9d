//! `gatekeep init bash|zsh|fish` in the real shells. Each test starts an interactive shell on
//! a pseudo-terminal (util-linux `script`), with its own HOME and XDG directories and an rc
//! file that loads the snippet the way the README says, types command lines into it and
//! reads the screen.
//!
//! The user policy denies `touch marker*` and asks before `touch approved*`, so a command
//! that gets through the guard leaves a file behind and nothing else can be harmed.
//! `SHELL_INIT_SHOW=1 cargo test --test shell_init -- --nocapture` prints each session.

#![expect(clippy::unwrap_used, reason = "a test fails loudly on setup errors")]

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use crate::support;
use support::pty::Pty;

const GK: &str = env!("CARGO_BIN_EXE_gatekeep");

const POLICY: &str = r#"
[[rule]]
id = "no-marker"
decision = "deny"
risk = "low"
message = "The marker must not be touched."
program = ["touch"]
args = ["marker*"]

[[rule]]
id = "ask-approved"
decision = "approve"
risk = "low"
message = "Touching approved files needs approval."
program = ["touch"]
args = ["approved*"]
timeout = 30

# Guards these names without refusing anything they are used for here: `sh` and `tr` get
# functions in aliases mode; the shell builtins among them must not.
[[rule]]
id = "guard-names"
decision = "deny"
risk = "low"
message = "Never matches in these tests."
program = ["sh", "tr", "kill", "set", "cd", "export", "history", "umask"]
args = ["never-matches-in-these-tests"]
"#;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Sh {
    Bash,
    Zsh,
    Fish,
}

impl Sh {
    fn name(self) -> &'static str {
        match self {
            Sh::Bash => "bash",
            Sh::Zsh => "zsh",
            Sh::Fish => "fish",
        }
    }

    /// `echo rc=<last status>` in this shell.
    fn echo_status(self) -> &'static str {
        match self {
            Sh::Fish => "echo rc=$status",
            _ => "echo rc=$?",
        }
    }
}

/// An isolated home: policy, state, a working directory, and a copy of gatekeep that a test
/// may remove.
struct Home {
    dir: TempDir,
}

impl Home {
    fn new() -> Home {
        let dir = tempfile::tempdir().unwrap();
        let policy = dir.path().join(".config/gatekeep/policy.toml");
        std::fs::create_dir_all(policy.parent().unwrap()).unwrap();
        std::fs::write(policy, POLICY).unwrap();
        std::fs::create_dir_all(dir.path().join("work")).unwrap();
        // Without it, fish's first start builds completions from every man page (in the
        // background: slow, and not what these tests are about).
        std::fs::create_dir_all(dir.path().join("data/fish/generated_completions")).unwrap();
        Home { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn work(&self) -> PathBuf {
        self.path().join("work")
    }

    fn exists(&self, file: &str) -> bool {
        self.work().join(file).exists()
    }

    fn ledger(&self) -> String {
        std::fs::read_to_string(self.path().join("state/gatekeep/ledger.jsonl")).unwrap_or_default()
    }

    /// gatekeep at another path (a hard link, or a copy across file systems), so that a test
    /// can take it away.
    fn own_gatekeep(&self, dir: &str) -> PathBuf {
        let dir = self.path().join(dir);
        std::fs::create_dir_all(&dir).unwrap();
        let bin = dir.join("gatekeep");
        if std::fs::hard_link(GK, &bin).is_err() {
            std::fs::copy(GK, &bin).unwrap();
        }
        bin
    }

    /// A command with only this home's environment; PATH does not hold gatekeep.
    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path())
            .env("XDG_CONFIG_HOME", self.path().join(".config"))
            .env("XDG_STATE_HOME", self.path().join("state"))
            .env("XDG_DATA_HOME", self.path().join("data"))
            .env("ZDOTDIR", self.path())
            .env("TERM", "xterm")
            .env("LANG", "C.UTF-8")
            .current_dir(self.work());
        cmd
    }

    /// Writes the rc file of `shell`: a prompt that counts command lines (`GK<n>> `), extra
    /// lines, then the line that loads the snippet.
    fn rc(&self, shell: Sh, extra: &str, load: &str) -> PathBuf {
        let (path, text) = match shell {
            Sh::Bash => (
                self.path().join(".bashrc"),
                format!("PS1='GK\\#> '\n{extra}\n{load}\n"),
            ),
            Sh::Zsh => (
                self.path().join(".zshrc"),
                format!(
                    "unsetopt prompt_sp\nsetopt prompt_subst\ntypeset -gi __n=0\n\
                     precmd() {{ (( __n++ )) }}\nPROMPT='GK${{__n}}> '\n{extra}\n{load}\n"
                ),
            ),
            Sh::Fish => (
                self.path().join(".config/fish/config.fish"),
                format!(
                    "set -g fish_greeting ''\nset -g __n 0\n\
                     function __count --on-event fish_prompt; set -g __n (math $__n + 1); end\n\
                     function fish_prompt; printf 'GK%s> ' $__n; end\n\
                     function fish_title; end\n{extra}\n{load}\n"
                ),
            ),
        };
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// The line that loads the snippet, as the README says (`bin` is the gatekeep to run).
fn load_line(shell: Sh, mode: &str, bin: &Path) -> String {
    let bin = bin.display();
    match shell {
        Sh::Fish => format!("'{bin}' init fish --mode {mode} | source"),
        _ => format!("eval \"$('{bin}' init {} --mode {mode})\"", shell.name()),
    }
}

/// An interactive shell on a pseudo-terminal.
struct Session {
    pty: Pty,
    prompt: usize,
}

impl Session {
    /// Starts `shell` with the rc file already written by [`Home::rc`], and waits for its
    /// first prompt.
    fn start(home: &Home, shell: Sh) -> Session {
        let line = match shell {
            Sh::Bash => format!(
                "bash --rcfile '{}' -i",
                home.path().join(".bashrc").display()
            ),
            Sh::Zsh => "zsh -i".to_owned(),
            Sh::Fish => "fish -i".to_owned(),
        };
        let mut session = Session {
            pty: Pty::start(home.command("script"), &line),
            prompt: 0,
        };
        session.wait_for_prompt(1, 0);
        session
    }

    /// Everything shown since byte `from`, without terminal escapes.
    fn screen(&self, from: usize) -> String {
        plain(&self.pty.seen[from.min(self.pty.seen.len())..])
    }

    /// Bytes shown so far: a mark for [`Session::screen`].
    fn shown(&self) -> usize {
        self.pty.seen.len()
    }

    /// Waits until the screen shows `text` after byte `from`.
    fn wait_for(&mut self, text: &str, from: usize) {
        self.pty.wait_until(text, |seen| {
            plain(&seen[from.min(seen.len())..]).contains(text)
        });
    }

    fn wait_for_prompt(&mut self, n: usize, from: usize) {
        self.wait_for(&format!("GK{n}> "), from);
        self.prompt = n;
    }

    fn send(&mut self, keys: &str) {
        self.pty.send(keys);
    }

    /// Types `line` and Enter, waits for the next prompt, and returns what was shown.
    fn run(&mut self, line: &str) -> String {
        let from = self.shown();
        self.send(&format!("{line}\r"));
        self.wait_for_prompt(self.prompt + 1, from);
        self.screen(from)
    }

    /// Types `line`, answers gatekeep's approval prompt with `key`, waits for the next
    /// prompt, and returns what was shown.
    fn run_and_answer(&mut self, line: &str, key: &str) -> String {
        let from = self.shown();
        self.send(&format!("{line}\r"));
        self.wait_for("[a] approve once", from);
        self.send(key);
        self.wait_for_prompt(self.prompt + 1, from);
        self.screen(from)
    }

    /// Types `exit` and waits for the shell to end.
    fn exit(mut self) {
        if std::env::var_os("SHELL_INIT_SHOW").is_some() {
            eprintln!("{}", self.screen(0));
        }
        self.send("exit\r");
        self.pty.finish();
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // On a failed assertion, do not leave a shell behind.
        let _ = self.pty.child.kill();
        let _ = self.pty.child.wait();
    }
}

/// `bytes` as text, without terminal control sequences or carriage returns.
fn plain(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            0x1b => {
                i += 1;
                match bytes.get(i) {
                    Some(b'[') => {
                        i += 1;
                        while i < bytes.len() && !(0x40..=0x7e).contains(&bytes[i]) {
                            i += 1;
                        }
                    }
                    Some(b']') => {
                        while i < bytes.len() && bytes[i] != 0x07 && bytes[i] != 0x1b {
                            i += 1;
                        }
                    }
                    Some(b'(' | b')') => i += 1,
                    _ => {}
                }
                i += 1;
            }
            b'\r' => i += 1,
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A session of `shell` in `mode` with the snippet loaded from gatekeep at `bin`.
fn session(home: &Home, shell: Sh, mode: &str, bin: &Path, extra: &str) -> Session {
    home.rc(shell, extra, &load_line(shell, mode, bin));
    Session::start(home, shell)
}

/// What every mode must keep: an allowed command runs as usual and `$?` is its own.
fn allowed_commands_run_as_usual(s: &mut Session, shell: Sh, home: &Home) {
    let out = s.run(&format!("false; {}", shell.echo_status()));
    assert!(out.contains("rc=1"), "{out}");
    let out = s.run(&format!("sh -c 'exit 3'; {}", shell.echo_status()));
    assert!(out.contains("rc=3"), "{out}");
    let out = s.run("printf 'abc\\n' | tr a-z A-Z");
    assert!(out.contains("ABC"), "{out}");
    let out = s.run(&format!("touch plain-file; {}", shell.echo_status()));
    assert!(out.contains("rc=0") && home.exists("plain-file"), "{out}");
}

/// `touch marker` and its disguises never run; each says why.
fn denied_lines_never_run(s: &mut Session, shell: Sh, home: &Home, lines: &[&str]) {
    for line in lines {
        let out = s.run(line);
        assert!(out.contains("gatekeep: denied:"), "{line}: {out}");
        assert!(out.contains("[no-marker]"), "{line}: {out}");
        assert!(!home.exists("marker"), "{shell:?}: `{line}` ran");
        assert!(!out.contains("after-denial"), "{line}: {out}");
    }
}

#[test]
fn bash_aliases() {
    let home = Home::new();
    let mut s = session(
        &home,
        Sh::Bash,
        "aliases",
        Path::new(GK),
        "complete -W 'alpha beta' touch",
    );
    allowed_commands_run_as_usual(&mut s, Sh::Bash, &home);
    let out = s.run("type -t sh tr touch kill set cd export history umask");
    assert!(
        out.contains(
            "function\nfunction\nfunction\nbuiltin\nbuiltin\nbuiltin\nbuiltin\nbuiltin\nbuiltin"
        ),
        "guarded programs are functions, builtins stay builtins: {out}"
    );
    let out = s.run("touch marker; echo rc=$?");
    assert!(
        out.contains("gatekeep: denied:") && out.contains("[no-marker]"),
        "{out}"
    );
    assert!(out.contains("rc=77") && !home.exists("marker"), "{out}");
    // Completion is still attached to the name.
    s.run("touch al\t");
    assert!(
        home.exists("alpha") && !home.exists("al"),
        "{}",
        s.screen(0)
    );
    // Approval: the prompt, then the command runs and its status comes back.
    let out = s.run_and_answer("touch approved-a; echo rc=$?", "a");
    assert!(out.contains("rc=0") && home.exists("approved-a"), "{out}");
    s.exit();
    let ledger = home.ledger();
    for command in [
        "sh -c",
        "tr a-z",
        "touch plain-file",
        "touch marker",
        "touch alpha",
    ] {
        assert!(
            ledger.contains(command),
            "`{command}` went through gatekeep: {ledger}"
        );
    }
}

#[test]
fn bash_preexec() {
    let home = Home::new();
    // After the snippet, the rc file is still the user's own start-up: not checked, except
    // that another DEBUG trap may not replace gatekeep's.
    let load = format!(
        "{}\ntouch started-file\ntrap 'echo other-trap' DEBUG",
        load_line(Sh::Bash, "preexec", Path::new(GK))
    );
    home.rc(
        Sh::Bash,
        // Counted without arithmetic on a variable an earlier line set: `$((n + 1))` on
        // such a variable is a run-time code path (a value `a[$(cmd)]` runs cmd) and is
        // escalated; the length of a string is not.
        "PROMPT_COMMAND='prompt_count=$(( ${#prompt_ticks} + 1 )); prompt_ticks+=x'\nalias tm='touch marker'",
        &load,
    );
    let mut s = Session::start(&home, Sh::Bash);
    let start = s.screen(0);
    assert!(home.exists("started-file"), "{start}");
    assert!(
        start.contains("would take the DEBUG trap from gatekeep"),
        "{start}"
    );
    allowed_commands_run_as_usual(&mut s, Sh::Bash, &home);
    assert!(!s.screen(0).contains("\nother-trap\n"), "{}", s.screen(0));
    // PROMPT_COMMAND still runs before every prompt (its commands are checked too).
    let out = s.run("echo \"pc=$prompt_count\"");
    assert!(out.contains(&format!("pc={}\n", s.prompt - 1)), "{out}");
    let out = s.run("for i in 1 2; do echo \"i=$i\"; done; x=$(echo sub); echo \"x=$x\"");
    assert!(out.contains("i=2") && out.contains("x=sub"), "{out}");
    let out = s.run("echo one two; echo \"last=$_\"");
    assert!(out.contains("last=two"), "`$_` survives the trap: {out}");

    denied_lines_never_run(
        &mut s,
        Sh::Bash,
        &home,
        &[
            "touch marker; printf 'after-%s\\n' denial",
            "\\touch marker",
            "command touch marker",
            "/usr/bin/env touch marker",
            "echo x | touch marker | cat; printf 'after-%s\\n' denial",
            // The trap sees commands after alias expansion and inside functions.
            "tm",
            "f() { touch marker; }; f",
        ],
    );
    // bash cannot give a skipped command a status: the line stops, as with Ctrl-C.
    let out = s.run("touch marker; printf 'after-%s\\n' denial");
    assert!(
        out.contains("status 77: the rest of this command line was not run"),
        "{out}"
    );
    let out = s.run("echo rc=$?");
    assert!(out.contains("rc=130"), "{out}");
    // In a subshell the denied command fails with gatekeep's status.
    let out = s.run("(touch marker); echo sub=$?");
    assert!(out.contains("sub=77") && !home.exists("marker"), "{out}");

    // A command that needs approval runs, once approved, with the variables and positional
    // parameters it would have had here.
    let out = s.run_and_answer(
        "f() { local n=$1; touch \"approved-$n\" && echo \"made $n\"; }; f one; echo rc=$?",
        "a",
    );
    assert!(out.contains("made one") && out.contains("rc=0"), "{out}");
    assert!(home.exists("approved-one"), "{out}");
    let out = s.run_and_answer("touch approved-two; printf 'after-%s\\n' denial", "d");
    assert!(
        !home.exists("approved-two") && !out.contains("after-denial"),
        "{out}"
    );

    // The guard does not switch itself off.
    let out = s.run("trap - DEBUG");
    assert!(out.contains("would switch off gatekeep"), "{out}");
    let out = s.run("shopt -u extdebug");
    assert!(out.contains("would switch off gatekeep"), "{out}");
    denied_lines_never_run(&mut s, Sh::Bash, &home, &["touch marker"]);
    s.exit();
}

#[test]
fn zsh_aliases() {
    let home = Home::new();
    let mut s = session(&home, Sh::Zsh, "aliases", Path::new(GK), "");
    allowed_commands_run_as_usual(&mut s, Sh::Zsh, &home);
    let out = s.run("whence -w sh tr touch kill set cd export history umask");
    for expected in [
        "sh: function",
        "tr: function",
        "touch: function",
        "kill: builtin",
        "set: builtin",
        "cd: builtin",
        "export: reserved",
        "history: builtin",
        "umask: builtin",
    ] {
        assert!(out.contains(expected), "{expected}: {out}");
    }
    let out = s.run("touch marker; echo rc=$?");
    assert!(
        out.contains("gatekeep: denied:") && out.contains("[no-marker]"),
        "{out}"
    );
    assert!(out.contains("rc=77") && !home.exists("marker"), "{out}");
    let out = s.run_and_answer("touch approved-a; echo rc=$?", "a");
    assert!(out.contains("rc=0") && home.exists("approved-a"), "{out}");
    s.exit();
    assert!(home.ledger().contains("tr a-z A-Z"));
}

#[test]
fn zsh_preexec() {
    let home = Home::new();
    // A plugin that wrapped accept-line before gatekeep keeps working.
    let plugin = "typeset -gi plugin_calls=0\n\
                  plugin-accept() { (( plugin_calls++ )); zle .accept-line }\n\
                  zle -N accept-line plugin-accept\n\
                  print -s 'command touch marker'\n\
                  alias tm='touch marker'";
    let mut s = session(&home, Sh::Zsh, "preexec", Path::new(GK), plugin);
    allowed_commands_run_as_usual(&mut s, Sh::Zsh, &home);
    let out = s.run("echo \"calls=$plugin_calls\"");
    assert!(out.contains("calls=5\n"), "{out}");
    denied_lines_never_run(
        &mut s,
        Sh::Zsh,
        &home,
        &[
            "touch marker; printf 'after-%s\\n' denial",
            "printf 'after-%s\\n' denial; \\touch marker",
            "command touch marker",
            "/usr/bin/env touch marker",
            "echo x | touch marker | cat",
            "noglob touch marker",
            "repeat 2 touch marker",
            // `#` is no comment in zsh (INTERACTIVE_COMMENTS is off), but is one for bash.
            "echo # ; touch marker",
            // History expansion happens after the line editor: expanded before the check.
            "!command",
            // Aliases are expanded when zsh runs the line: expanded before the check.
            "tm",
        ],
    );
    let out = s.run("r touch");
    assert!(out.contains("re-run history lines"), "{out}");
    assert!(!home.exists("marker"), "{out}");
    let out = s.run("touch marker");
    assert!(out.contains("gatekeep: denied:"), "{out}");
    let out = s.run("echo \"rc=$? calls=$plugin_calls\"");
    assert!(
        out.contains("rc=77 calls=17\n"),
        "a denied line's status is gatekeep's, and the plugin saw every line: {out}"
    );
    let out = s.run_and_answer("touch approved-z && echo made; echo rc=$?", "a");
    assert!(
        out.contains("made") && out.contains("rc=0") && home.exists("approved-z"),
        "{out}"
    );
    // A command zsh read over several lines: offered again in gatekeep's form.
    let from = s.shown();
    s.send("for i in 1 2; do\r");
    s.wait_for("for> ", from);
    s.send("touch marker$i; done\r");
    s.wait_for("press Enter to run it through gatekeep", from);
    let prompt = s.prompt + 1;
    s.wait_for_prompt(prompt, from);
    let out = s.run_and_answer("", "d");
    assert!(out.contains("gatekeep: denied"), "{out}");
    assert!(!home.exists("marker1") && !home.exists("marker2"), "{out}");
    s.exit();
}

#[test]
fn fish_aliases() {
    let home = Home::new();
    let mut s = session(&home, Sh::Fish, "aliases", Path::new(GK), "");
    allowed_commands_run_as_usual(&mut s, Sh::Fish, &home);
    let out = s.run("type -t sh tr touch set cd export history");
    assert!(
        out.contains("function\nfunction\nfunction\nbuiltin\nfunction\nfunction\nfunction"),
        "{out}"
    );
    // fish's own `cd`, `export` and `history` functions are left alone.
    let out = s.run("functions cd export history | grep -c __gatekeep_run");
    assert!(out.contains("\n0\n"), "{out}");
    let out = s.run("touch marker; echo rc=$status");
    assert!(
        out.contains("gatekeep: denied:") && out.contains("[no-marker]"),
        "{out}"
    );
    assert!(out.contains("rc=77") && !home.exists("marker"), "{out}");
    let out = s.run_and_answer("touch approved-a; echo rc=$status", "a");
    assert!(out.contains("rc=0") && home.exists("approved-a"), "{out}");
    s.exit();
    assert!(home.ledger().contains("tr a-z A-Z"));
}

#[test]
fn fish_preexec() {
    let home = Home::new();
    let mut s = session(
        &home,
        Sh::Fish,
        "preexec",
        Path::new(GK),
        "abbr -a tm touch marker\nabbr -a --regex '^tt[0-9]+' -- ttn touch marker",
    );
    allowed_commands_run_as_usual(&mut s, Sh::Fish, &home);
    let out = s.run("true; and printf 'x%s\\n' and; false; or printf 'x%s\\n' or; not false; and printf 'x%s\\n' not");
    assert!(
        out.contains("xand\n") && out.contains("xor\n") && out.contains("xnot\n"),
        "{out}"
    );
    denied_lines_never_run(
        &mut s,
        Sh::Fish,
        &home,
        &[
            "touch marker; printf 'after-%s\\n' denial",
            "command touch marker",
            "/usr/bin/env touch marker",
            "echo x | touch marker | cat",
            "true; and touch marker",
            "false; or touch marker",
            "not touch marker",
        ],
    );
    // An abbreviation at the cursor is expanded (and shown) first; Enter again checks what
    // it became.
    for abbreviation in ["tm", "tt5"] {
        let from = s.shown();
        s.send(&format!("{abbreviation}\r"));
        s.wait_for("touch marker", from);
        denied_lines_never_run(&mut s, Sh::Fish, &home, &[""]);
    }
    let out = s.run("echo rc=$status");
    assert!(out.contains("rc=77"), "{out}");
    let out = s.run_and_answer("touch approved-f; and echo made; echo rc=$status", "a");
    assert!(
        out.contains("made") && out.contains("rc=0") && home.exists("approved-f"),
        "{out}"
    );
    // The guard does not switch itself off.
    for line in ["bind \\r execute", "functions -e __gatekeep_execute"] {
        let out = s.run(line);
        assert!(out.contains("would switch off gatekeep"), "{out}");
    }
    denied_lines_never_run(&mut s, Sh::Fish, &home, &["touch marker"]);
    s.exit();
}

/// gatekeep gone when the shell starts: one warning, and a shell that works unguarded.
/// Gone later: guarded commands are refused, and the shell still answers.
fn missing_gatekeep(shell: Sh, mode: &str) {
    let home = Home::new();
    let bin = home.own_gatekeep("bin");
    let snippet = Command::new(&bin)
        .args(["init", shell.name(), "--mode", mode])
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join(".config"))
        .output()
        .unwrap();
    assert!(snippet.status.success());
    let file = home.path().join("snippet");
    std::fs::write(&file, &snippet.stdout).unwrap();
    let load = format!("source '{}'", file.display());

    // Gone before the shell starts.
    std::fs::remove_file(&bin).unwrap();
    home.rc(shell, "", &load);
    let mut s = Session::start(&home, shell);
    let start = s.screen(0);
    assert_eq!(
        start
            .matches("this shell is NOT guarded by gatekeep")
            .count(),
        1,
        "{shell:?} {mode}: {start}"
    );
    let out = s.run(&format!("touch marker; {}", shell.echo_status()));
    assert!(out.contains("rc=0") && home.exists("marker"), "{out}");
    s.exit();
    std::fs::remove_file(home.work().join("marker")).unwrap();

    // Gone after the shell started.
    let bin = home.own_gatekeep("bin");
    let mut s = Session::start(&home, shell);
    assert!(!s.screen(0).contains("NOT guarded"), "{}", s.screen(0));
    let out = s.run("touch marker");
    assert!(out.contains("gatekeep: denied:"), "{out}");
    std::fs::remove_file(&bin).unwrap();
    let out = s.run(&format!("touch marker; {}", shell.echo_status()));
    assert!(!home.exists("marker"), "{shell:?} {mode}: {out}");
    assert!(out.contains("gatekeep is no longer at"), "{out}");
    if mode == "aliases" {
        assert!(out.contains("rc=127"), "{out}");
        let out = s.run("echo still-here");
        assert!(out.contains("still-here\n"), "{out}");
    }
    // The shell still reads commands, and `exit` leaves it.
    s.exit();
}

#[test]
fn bash_without_gatekeep() {
    missing_gatekeep(Sh::Bash, "aliases");
    missing_gatekeep(Sh::Bash, "preexec");
}

#[test]
fn zsh_without_gatekeep() {
    missing_gatekeep(Sh::Zsh, "aliases");
    missing_gatekeep(Sh::Zsh, "preexec");
}

#[test]
fn fish_without_gatekeep() {
    missing_gatekeep(Sh::Fish, "aliases");
    missing_gatekeep(Sh::Fish, "preexec");
}

/// The snippet names the binary it came from, quoted for each shell, even in a path with
/// quotes, spaces, `$` and backslashes.
#[test]
fn the_binary_path_is_quoted_for_each_shell() {
    let home = Home::new();
    let bin = home.own_gatekeep("it's a $dir \\ `x`");
    let script = |shell: Sh| match shell {
        Sh::Bash => {
            "eval \"$(\"$GKBIN\" init bash)\"; printf '%s\\n' \"$__gatekeep_bin\"; touch marker; echo rc=$?"
        }
        Sh::Zsh => {
            "eval \"$(\"$GKBIN\" init zsh)\"; print -r -- $__gatekeep_bin; touch marker; echo rc=$?"
        }
        // Aliases are defined at fish's first prompt; a script has none, so emit it.
        Sh::Fish => {
            "$GKBIN init fish | source; printf '%s\\n' $__gatekeep_bin; emit fish_prompt; touch marker; echo rc=$status"
        }
    };
    for shell in [Sh::Bash, Sh::Zsh, Sh::Fish] {
        let mut cmd = home.command(shell.name());
        match shell {
            Sh::Zsh => cmd.arg("-f"),
            Sh::Fish => cmd.arg("-N"),
            Sh::Bash => cmd.arg("--norc"),
        };
        let out = cmd
            .arg("-c")
            .arg(script(shell))
            .env("GKBIN", &bin)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            stdout.lines().next(),
            Some(bin.to_str().unwrap()),
            "{shell:?}: {stdout}{stderr}"
        );
        assert!(stdout.contains("rc=77"), "{shell:?}: {stdout}{stderr}");
        assert!(stderr.contains("gatekeep: denied:"), "{shell:?}: {stderr}");
        assert!(!home.exists("marker"));
    }
}

/// No builtin or keyword of the installed shells is ever replaced by a function in that
/// shell, whatever the policy guards: neither in the list the snippet is made with, nor once
/// it is loaded.
#[test]
fn builtins_and_keywords_are_never_wrapped() {
    let list = |shell: &str, script: &str| -> Vec<String> {
        let out = Command::new(shell).args(["-c", script]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter(|w| {
                w.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                    && w.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_.+-".contains(c))
            })
            .map(str::to_owned)
            .collect()
    };
    let shells = [
        (Sh::Bash, list("bash", "compgen -b -k")),
        (Sh::Zsh, list("zsh", "print -l ${(k)builtins} $reswords")),
        (Sh::Fish, list("fish", "builtin -n")),
    ];
    let mut names: Vec<String> = shells.iter().flat_map(|(_, l)| l.clone()).collect();
    names.sort();
    names.dedup();
    assert!(
        names.len() > 100 && names.iter().any(|n| n == "kill"),
        "{names:?}"
    );
    let home = Home::new();
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    std::fs::write(
        home.path().join(".config/gatekeep/policy.toml"),
        format!(
            "[[rule]]\nid = \"all-builtins\"\ndecision = \"deny\"\nrisk = \"low\"\n\
             message = \"m\"\nprogram = [\"touch\", {}]\nargs = [\"never-matches\"]\n",
            quoted.join(", ")
        ),
    )
    .unwrap();

    for (shell, own) in &shells {
        let snippet = home
            .command(GK)
            .args(["init", shell.name()])
            .output()
            .unwrap();
        assert!(
            snippet.status.success(),
            "{}",
            String::from_utf8_lossy(&snippet.stderr)
        );
        let snippet = String::from_utf8_lossy(&snippet.stdout).into_owned();
        // The program list: the `\`-continued lines around the one that names `touch`,
        // after the word that starts it (`__gatekeep_define`, `}` or `in`).
        let lines: Vec<&str> = snippet.lines().collect();
        let at = lines.iter().position(|l| l.contains(" touch")).unwrap();
        let first = (0..=at)
            .rev()
            .find(|&i| i == 0 || !lines[i - 1].ends_with('\\'))
            .unwrap();
        let last = (at..lines.len())
            .find(|&i| !lines[i].ends_with('\\'))
            .unwrap();
        let words: Vec<&str> = lines[first..=last]
            .iter()
            .flat_map(|l| l.split_whitespace())
            .collect();
        let lead = words
            .iter()
            .position(|w| ["__gatekeep_define", "}", "in"].contains(w))
            .unwrap();
        let list = &words[lead + 1..];
        assert!(list.contains(&"touch"), "{shell:?}: {list:?}");
        for name in own {
            assert!(
                !list.contains(&name.as_str()),
                "{shell:?} would wrap its `{name}`"
            );
        }

        let file = home.path().join("snippet");
        std::fs::write(&file, &snippet).unwrap();
        let check = match shell {
            Sh::Bash => "source \"$SNIPPET\"; for n in $NAMES; do declare -F \"$n\"; done",
            Sh::Zsh => {
                "source $SNIPPET; for n in ${=NAMES}; do (( $+functions[$n] )) && print -r -- $n; done"
            }
            Sh::Fish => {
                "source $SNIPPET; emit fish_prompt; for n in (string split ' ' -- $NAMES); functions $n 2>/dev/null | string match -q '*__gatekeep_run*'; and echo $n; end"
            }
        };
        let mut cmd = home.command(shell.name());
        match shell {
            Sh::Zsh => cmd.arg("-f"),
            Sh::Fish => cmd.arg("-N"),
            Sh::Bash => cmd.arg("--norc"),
        };
        let out = cmd
            .arg("-c")
            .arg(check)
            .env("SNIPPET", &file)
            .env("NAMES", format!("touch {}", own.join(" ")))
            .output()
            .unwrap();
        let wrapped = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            wrapped.split_whitespace().collect::<Vec<_>>(),
            ["touch"],
            "{shell:?}: only `touch` may become a function; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Every snippet, as `gatekeep init` writes it, is read without error by its own shell's
/// syntax check (`bash -n`, `zsh -n`, `fish --no-execute`): the snippets live in real
/// `.bash`/`.zsh`/`.fish` files under `src/integrations/shell/`, and this keeps them real.
#[test]
fn every_snippet_passes_its_shells_syntax_check() {
    for (shell, check) in [
        ("bash", &["-n"][..]),
        ("zsh", &["-n"][..]),
        ("fish", &["--no-execute"][..]),
    ] {
        for mode in ["aliases", "preexec"] {
            let out = Command::new(GK)
                .args(["init", shell, "--mode", mode])
                .output()
                .unwrap();
            assert!(out.status.success(), "init {shell} {mode}");
            let dir = TempDir::new().unwrap();
            let file = dir.path().join(format!("snippet.{shell}"));
            std::fs::write(&file, &out.stdout).unwrap();
            let checked = Command::new(shell).args(check).arg(&file).output().unwrap();
            assert!(
                checked.status.success(),
                "{shell} {mode}: {}",
                String::from_utf8_lossy(&checked.stderr)
            );
        }
    }
}
