//! Code that runs from configuration rather than from the command line.
//!
//! git runs commands named by configuration keys (pagers, editors, hooks, filters, helpers),
//! wherever the configuration comes from: `-c`, `--config-env`, `GIT_CONFIG_KEY_n`, a file
//! written by `git config`. sqlite3 and psql have meta-commands that run shell commands or
//! run query results as SQL. Where the command is given literally it is read as a script;
//! where it comes from somewhere gatekeep does not see, or is stored to run later, it is
//! unreadable (escalated).
//!
//! `git -c KEY=VALUE` for the common keys is read in `tools::git`; this module adds the
//! keys and the other ways in that it leaves out.

use super::Step;
use super::args::{option_value, skip_options};
use super::tools::GIT_VALUE_OPTIONS;
use crate::shell::{Stdin, Word};

/// Whether a git configuration key (lower-cased) names a command git runs, or a place it
/// loads commands from. Matched on the key's last part, as git reads `<section>.<sub>.<key>`.
pub fn git_key_runs(key: &str) -> bool {
    let last = key.rsplit('.').next().unwrap_or(key);
    let section = key.split('.').next().unwrap_or(key);
    matches!(
        last,
        "sshcommand"
            | "pager"
            | "editor"
            | "fsmonitor"
            | "hookspath"
            | "textconv"
            | "askpass"
            | "command"
            | "cmd"
            | "program"
            | "external"
            | "packobjectshook"
            | "clean"
            | "smudge"
            | "process"
            | "helper"
            | "gitproxy"
            | "receivepack"
            | "uploadpack"
            | "path"
    ) && section != "user"
        || (section == "alias")
        || (section == "protocol" && last == "allow")
        || section == "include"
        || section == "includeif"
        || (section == "hook" && last == "command")
}

/// What git runs from configuration given outside `-c`: `--config-env`, `GIT_CONFIG_*`
/// variables, `difftool -x`, `grep -O`, `git config KEY VALUE` of a key that runs commands,
/// and keys `tools::git` does not read (`credential.helper`, `protocol.*.allow`).
pub(super) fn git(args: &[Word], assignments: &[(String, Word)]) -> Vec<Step> {
    let mut steps = Vec::new();
    env_config(assignments, &mut steps);
    let mut i = 0;
    while i < args.len() {
        let Some(arg) = args[i].literal() else {
            i += 1;
            continue;
        };
        if arg == "--config-env" || arg.starts_with("--config-env=") {
            let value = match arg.strip_prefix("--config-env=") {
                Some(v) => Some(v.to_owned()),
                None => args.get(i + 1).and_then(Word::literal).map(str::to_owned),
            };
            let key = value
                .as_deref()
                .and_then(|v| v.split_once('='))
                .map(|(k, _)| k.to_ascii_lowercase());
            if key.as_deref().is_none_or(git_key_runs) {
                steps.push(Step::Unreadable {
                    why: format!(
                        "git --config-env sets `{}` from an environment variable gatekeep does not see",
                        value.as_deref().unwrap_or("?")
                    ),
                });
            }
        }
        if arg == "-c"
            && let Some(Word::Literal(kv)) = args.get(i + 1)
            && let Some((key, value)) = kv.split_once('=')
        {
            let key = key.to_ascii_lowercase();
            // `tools::git` reads `!command` values; a helper name is a git program.
            if key == "credential.helper" && !value.starts_with('!') {
                steps.push(command_of(&key, &Word::Literal(value.to_owned()), "git -c"));
            } else if key.starts_with("protocol.") && key.ends_with(".allow") {
                steps.push(Step::Unreadable {
                    why: format!("git -c {key}={value} enables a transport (such as `ext::`) that runs commands"),
                });
            }
        }
        if arg == "--" {
            break;
        }
        i += 1;
    }
    let (start, _) = skip_options(args, GIT_VALUE_OPTIONS);
    let Some(sub) = args.get(start).and_then(Word::literal) else {
        return steps;
    };
    let rest = &args[start + 1..];
    match sub {
        "difftool" | "mergetool" => {
            if let Some(text) = option_value(rest, &["-x", "--extcmd"]) {
                steps.push(Step::Script {
                    text,
                    via: format!("git {sub} --extcmd"),
                });
            }
        }
        "grep" => {
            if let Some(text) = open_in_pager(rest) {
                steps.push(Step::Script {
                    text,
                    via: "git grep --open-files-in-pager".into(),
                });
            }
        }
        "config" => steps.extend(config_write(rest)),
        "clone" | "fetch" | "pull" | "push" | "ls-remote" | "archive" | "submodule" => {
            if let Some(url) = rest
                .iter()
                .filter_map(Word::literal)
                .find(|w| w.starts_with("ext::") || w.starts_with("fd::"))
            {
                steps.push(Step::Unreadable {
                    why: format!("git {sub} `{url}` runs a command as the remote transport"),
                });
            }
        }
        _ => {}
    }
    steps
}

/// `grep -O[CMD]`, `--open-files-in-pager[=CMD]`: the value is attached or absent.
fn open_in_pager(args: &[Word]) -> Option<Word> {
    args.iter().filter_map(Word::literal).find_map(|w| {
        let value = w
            .strip_prefix("--open-files-in-pager=")
            .or_else(|| w.strip_prefix("-O").filter(|v| !v.is_empty()))?;
        Some(Word::Literal(value.to_owned()))
    })
}

/// `git config [options] KEY VALUE` (and `git config set KEY VALUE`): a key that runs
/// commands is stored to run later, in commands gatekeep will see without their config.
fn config_write(args: &[Word]) -> Vec<Step> {
    let value_opts = ["-f", "--file", "--blob", "--type", "--default", "--comment"];
    let (start, _) = skip_options(args, &value_opts);
    let reading = args[..start].iter().filter_map(Word::literal).any(|w| {
        matches!(
            w,
            "--get" | "--get-all" | "--get-regexp" | "--list" | "-l" | "--unset" | "--unset-all"
        )
    });
    let mut words = &args[start.min(args.len())..];
    if let Some(verb) = words.first().and_then(Word::literal) {
        match verb {
            "set" => words = &words[1..],
            "get" | "list" | "unset" | "edit" | "rename-section" | "remove-section" => {
                return Vec::new();
            }
            _ => {}
        }
        // `git config set` takes options after the verb too.
        let (skip, _) = skip_options(words, &value_opts);
        words = &words[skip.min(words.len())..];
    }
    if reading || words.len() < 2 {
        return Vec::new();
    }
    match words[0].literal() {
        Some(key) if !git_key_runs(&key.to_ascii_lowercase()) => Vec::new(),
        Some(key) => vec![command_of(
            &key.to_ascii_lowercase(),
            &words[1],
            "git config",
        )],
        None => vec![Step::Unreadable {
            why: format!(
                "git config stores a value under `{}`, a key only known at run time",
                words[0].display()
            ),
        }],
    }
}

/// The command git runs for configuration `key` set to `value`, read as a script: an alias
/// is a git command (or, after `!`, a shell command), a credential helper a
/// `git credential-NAME` program unless it is a path or a command. Keys that name a place
/// to load hooks or configuration from are unreadable: gatekeep does not read those files.
fn command_of(key: &str, value: &Word, via: &str) -> Step {
    let Word::Literal(value) = value else {
        return Step::Unreadable {
            why: format!(
                "{via} sets `{key}` to `{}`, only known at run time, and git runs it as a command",
                value.display()
            ),
        };
    };
    if key.ends_with("hookspath") || key.starts_with("include") || key.starts_with("protocol.") {
        return Step::Unreadable {
            why: format!(
                "{via} sets `{key}` = `{value}`: git then runs hooks, configuration or transports that gatekeep does not read"
            ),
        };
    }
    let text = if let Some(shell) = value.strip_prefix('!') {
        shell.to_owned()
    } else if key.starts_with("alias.") {
        format!("git {value}")
    } else if key == "credential.helper" && !value.starts_with('/') {
        format!("git credential-{value}")
    } else {
        value.clone()
    };
    Step::Script {
        text: Word::Literal(text),
        via: format!("{via} {key}"),
    }
}

/// `GIT_CONFIG_COUNT=n GIT_CONFIG_KEY_i=K GIT_CONFIG_VALUE_i=V`, `GIT_CONFIG_PARAMETERS`, and
/// files named by `GIT_CONFIG_GLOBAL`/`GIT_CONFIG_SYSTEM`/`GIT_CONFIG` (other than
/// `/dev/null`, which only isolates git from the user's configuration).
fn env_config(assignments: &[(String, Word)], steps: &mut Vec<Step>) {
    let var = |name: &str| {
        assignments
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    };
    for (name, value) in assignments {
        if let Some(n) = name.strip_prefix("GIT_CONFIG_KEY_") {
            let key = value.literal().map(str::to_ascii_lowercase);
            if key.as_deref().is_some_and(|k| !git_key_runs(k)) {
                continue;
            }
            let via = format!("GIT_CONFIG_KEY_{n}");
            steps.push(match (key.as_deref(), var(&format!("GIT_CONFIG_VALUE_{n}"))) {
                (Some(k), Some(val)) => command_of(k, val, &via),
                _ => Step::Unreadable {
                    why: format!(
                        "{via} sets `{}`, a key under which git runs a command gatekeep cannot read",
                        value.display()
                    ),
                },
            });
        } else if name == "GIT_CONFIG_PARAMETERS" {
            steps.push(Step::Unreadable {
                why: "GIT_CONFIG_PARAMETERS passes git configuration that may name commands".into(),
            });
        } else if matches!(
            name.as_str(),
            "GIT_CONFIG_GLOBAL" | "GIT_CONFIG_SYSTEM" | "GIT_CONFIG"
        ) && value.literal() != Some("/dev/null")
        {
            steps.push(Step::Unreadable {
                why: format!(
                    "{name} makes git load configuration from `{}`, which may name commands gatekeep does not read",
                    value.display()
                ),
            });
        }
    }
}

/// sqlite3's dot-commands that run a shell command or load code: `.shell`, `.system`,
/// `.read '|CMD'`, `.output '|CMD'`, `.once '|CMD'`, `.import '|CMD'`, `.load`. Read from
/// every literal argument (the SQL argument and `-cmd` values) and from known stdin text.
pub(super) fn sqlite(args: &[Word], stdin: &Stdin) -> Vec<Step> {
    let texts = args.iter().filter_map(Word::literal).chain(match stdin {
        Stdin::Text(t) => Some(t.as_str()),
        _ => None,
    });
    for text in texts {
        for line in text.lines().flat_map(|l| l.split(';')) {
            let line = line.trim_start();
            let mut parts = line.splitn(2, char::is_whitespace);
            let cmd = parts.next().unwrap_or("");
            let arg = parts.next().unwrap_or("").trim_start();
            let arg = arg.trim_start_matches(['\'', '"']);
            let runs = match cmd {
                ".shell" | ".system" | ".load" => true,
                ".read" | ".output" | ".once" | ".import" | ".excel" => arg.starts_with('|'),
                _ => false,
            };
            if runs {
                return vec![Step::Unreadable {
                    why: format!(
                        "sqlite3 `{}` runs a shell command or loads code that gatekeep does not read",
                        line.trim_end()
                    ),
                }];
            }
        }
    }
    Vec::new()
}

/// psql meta-commands and functions that run text gatekeep cannot read: `\gexec` runs query
/// results as SQL, a variable set by `\set` or `-v` runs where `:var` uses it, and
/// `dblink_exec`/`dblink` run SQL on another connection. Read from `-c` values and known
/// stdin text.
pub(super) fn psql(args: &[Word], stdin: &Stdin) -> Vec<Step> {
    let mut texts: Vec<&str> = args.iter().filter_map(Word::literal).collect();
    if let Stdin::Text(t) = stdin {
        texts.push(t);
    }
    let joined = texts.join("\n").to_ascii_lowercase();
    // A variable is set by `\set` or by `-v`/`--set`/`--variable` on the command line.
    let sets = joined.contains("\\set")
        || args.iter().filter_map(Word::literal).any(|w| {
            ["-v", "--set", "--variable"]
                .iter()
                .any(|o| w == *o || (w.starts_with(o) && w.len() > o.len()))
        });
    let found = ["\\gexec", "dblink_exec", "dblink(", "dblink ("]
        .into_iter()
        .find(|needle| joined.contains(needle))
        .or_else(|| (sets && interpolates(&joined)).then_some(":variable"));
    match found {
        Some(what) => vec![Step::Unreadable {
            why: format!(
                "psql runs SQL built at run time (`{what}`), which gatekeep cannot read ahead"
            ),
        }],
        None => Vec::new(),
    }
}

/// Whether SQL text uses a psql variable (`:name`, `:'name'`, `:"name"`), which runs what
/// `\set` put in it; a cast (`::date`) is not one.
fn interpolates(sql: &str) -> bool {
    let bytes = sql.as_bytes();
    bytes.iter().enumerate().any(|(i, &b)| {
        b == b':'
            && (i == 0 || bytes[i - 1] != b':')
            && bytes
                .get(i + 1)
                .is_some_and(|&n| n.is_ascii_alphabetic() || matches!(n, b'_' | b'\'' | b'"'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &[&str]) -> Vec<Word> {
        s.iter().map(|w| Word::Literal((*w).to_owned())).collect()
    }

    #[test]
    fn config_keys_that_run() {
        for k in [
            "core.pager",
            "core.hookspath",
            "alias.x",
            "credential.helper",
            "diff.x.textconv",
            "uploadpack.packobjectshook",
            "protocol.ext.allow",
            "include.path",
        ] {
            assert!(git_key_runs(k), "{k}");
        }
        for k in ["user.email", "user.name", "color.ui", "init.defaultbranch"] {
            assert!(!git_key_runs(k), "{k}");
        }
    }

    #[test]
    fn git_config_writes() {
        assert_eq!(git(&words(&["config", "alias.x", "!id"]), &[]).len(), 1);
        assert!(matches!(
            git(&words(&["config", "--local", "core.pager", "less"]), &[])[0],
            Step::Script { .. }
        ));
        assert!(matches!(
            git(&words(&["config", "core.hooksPath", "/tmp/h"]), &[])[0],
            Step::Unreadable { .. }
        ));
        assert!(git(&words(&["config", "user.email", "a@b"]), &[]).is_empty());
        assert!(git(&words(&["config", "--get", "core.pager"]), &[]).is_empty());
        assert!(git(&words(&["config", "core.pager"]), &[]).is_empty());
    }

    #[test]
    fn sqlite_dot_commands() {
        assert_eq!(
            sqlite(&words(&["a.db", ".read '|id'"]), &Stdin::Inherited).len(),
            1
        );
        assert_eq!(
            sqlite(&words(&["-cmd", ".shell id", "a.db"]), &Stdin::Inherited).len(),
            1
        );
        assert!(sqlite(&words(&["a.db", ".read x.sql"]), &Stdin::Inherited).is_empty());
        assert!(sqlite(&words(&["a.db", "select 1"]), &Stdin::Inherited).is_empty());
    }

    #[test]
    fn psql_runs_sql_built_at_run_time() {
        let text = |t: &str| Stdin::Text(t.to_owned());
        assert_eq!(
            psql(&words(&["-c", "select 'x' \\gexec"]), &Stdin::Inherited).len(),
            1
        );
        assert_eq!(psql(&[], &text("\\set q 'drop table t'\n:q;")).len(), 1);
        assert!(psql(&[], &text("\\set ON_ERROR_STOP on\nselect now()::date;")).is_empty());
        assert!(psql(&words(&["-c", "select 1"]), &Stdin::Inherited).is_empty());
        assert_eq!(
            psql(
                &words(&["-v", "q=drop table t", "-c", ":q"]),
                &Stdin::Inherited
            )
            .len(),
            1
        );
    }
}
