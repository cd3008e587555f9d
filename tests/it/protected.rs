//! gatekeep's own files cannot be written by an agent in any spelling, and the environment
//! that relocates gatekeep or its traffic cannot be changed without a person.
//!
//! Everything goes through the real binary's `gatekeep check` (exit 0 allow, 10 approve,
//! 77 deny), with its own HOME and working directory, so that `~`, `$HOME`, the XDG
//! variables, `cd`, `..` and symlinks are resolved exactly as `gatekeep exec` and the agent
//! hooks resolve them.

#![expect(clippy::unwrap_used, reason = "a test fails loudly on setup errors")]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

const ALLOW: i32 = 0;
const APPROVE: i32 = 10;
const DENY: i32 = 77;

/// An isolated home, working directory and scratch space for XDG directories.
struct Env {
    home: PathBuf,
    work: PathBuf,
    xdg: PathBuf,
    _root: TempDir,
}

impl Env {
    fn new() -> Env {
        let root = tempfile::tempdir().unwrap();
        // Canonical, so that the paths the test writes are the ones the kernel reports.
        let base = std::fs::canonicalize(root.path()).unwrap();
        let env = Env {
            home: base.join("home"),
            work: base.join("work"),
            xdg: base.join("xdg"),
            _root: root,
        };
        for dir in [
            env.home.join(".config/gatekeep"),
            env.home.join(".local/state/gatekeep"),
            env.home.join(".local/share/gatekeep/server"),
            env.work.join("src"),
            env.xdg.join("config/gatekeep"),
            env.xdg.join("state/gatekeep"),
            env.xdg.join("data/gatekeep/server"),
        ] {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(env.home.join(".config/gatekeep/config.toml"), "").unwrap();
        env
    }

    fn cmd(&self, cwd: &Path, xdg: bool) -> Command {
        let mut cmd = Command::cargo_bin("gatekeep").unwrap();
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .current_dir(cwd);
        if xdg {
            cmd.env("XDG_CONFIG_HOME", self.xdg.join("config"))
                .env("XDG_STATE_HOME", self.xdg.join("state"))
                .env("XDG_DATA_HOME", self.xdg.join("data"));
        }
        cmd
    }

    /// The exit code of `gatekeep check --shell LINE`, with its explanation on failure.
    fn check(&self, line: &str, cwd: &Path, xdg: bool, extra: &[(&str, &str)]) -> (i32, String) {
        let mut cmd = self.cmd(cwd, xdg);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let out = cmd.args(["check", "--shell", line]).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }
}

/// One protected file: where it is by default under the home directory, the XDG variable
/// that moves it, and its path inside that directory.
struct Protected {
    default_dir: &'static str,
    xdg_var: &'static str,
    xdg_dir: &'static str,
    rel: &'static str,
}

const PROTECTED: &[Protected] = &[
    Protected {
        default_dir: ".config",
        xdg_var: "XDG_CONFIG_HOME",
        xdg_dir: "config",
        rel: "gatekeep/config.toml",
    },
    Protected {
        default_dir: ".config",
        xdg_var: "XDG_CONFIG_HOME",
        xdg_dir: "config",
        rel: "gatekeep/credentials.toml",
    },
    Protected {
        default_dir: ".config",
        xdg_var: "XDG_CONFIG_HOME",
        xdg_dir: "config",
        rel: "gatekeep/policy.toml",
    },
    Protected {
        default_dir: ".local/state",
        xdg_var: "XDG_STATE_HOME",
        xdg_dir: "state",
        rel: "gatekeep/ledger.jsonl",
    },
    Protected {
        default_dir: ".local/state",
        xdg_var: "XDG_STATE_HOME",
        xdg_dir: "state",
        rel: "gatekeep/ledger.jsonl.head",
    },
    Protected {
        default_dir: ".local/share",
        xdg_var: "XDG_DATA_HOME",
        xdg_dir: "data",
        rel: "gatekeep/server/signing-key",
    },
];

/// Every way of writing a file that gatekeep must see as a write; `{}` is the path.
const WRITES: &[&str] = &[
    "printf '[server]\\nkey = \"x\"\\n' >> {}",
    "echo x > {}",
    ": > {}",
    "echo x >| {}",
    "ls &> {}",
    "cat <> {}",
    "echo x | tee {}",
    "echo x | tee -a {}",
    "cp /tmp/evil {}",
    "mv /tmp/evil {}",
    "ln -sf /tmp/evil {}",
    "install -m 600 /tmp/evil {}",
    "rsync /tmp/evil {}",
    "sed -i s/a/b/ {}",
    "perl -pi -e s/a/b/ {}",
    "truncate -s 0 {}",
    "dd if=/tmp/evil of={}",
    "touch {}",
    "chmod 666 {}",
    "chown 0 {}",
    "rm -f {}",
    "unlink {}",
    "shred -u {}",
    "vim {}",
    "nano {}",
];

/// A path and how to run a line so that it reaches the protected file.
struct Spelling {
    name: &'static str,
    /// What runs before the write in the same line (`cd DIR && `).
    prefix: String,
    path: String,
    cwd: PathBuf,
    xdg: bool,
}

impl Spelling {
    /// The line: the prefix, then the write form with the path in place of `{}`.
    fn line(&self, form: &str) -> String {
        format!("{}{}", self.prefix, form.replace("{}", &self.path))
    }
}

fn spellings(env: &Env, p: &Protected) -> Vec<Spelling> {
    let (dir, rel) = (p.default_dir, p.rel);
    let file = env.home.join(dir).join(rel);
    let (parent, name) = rel.rsplit_once('/').unwrap();
    let at = |name: &'static str, prefix: String, path: String| Spelling {
        name,
        prefix,
        path,
        cwd: env.work.clone(),
        xdg: false,
    };
    let plain = |name: &'static str, path: String| at(name, String::new(), path);
    let moved = env.work.join("moved");
    vec![
        plain("~", format!("~/{dir}/{rel}")),
        plain("$HOME", format!("$HOME/{dir}/{rel}")),
        plain("${HOME}", format!("\"${{HOME}}/{dir}/{rel}\"")),
        plain("absolute", file.display().to_string()),
        plain("..", format!("../home/{dir}/{parent}/../{rel}")),
        plain("~/x/..", format!("~/{dir}/other/../{rel}")),
        Spelling {
            xdg: true,
            ..plain("$XDG", format!("${}/{rel}", p.xdg_var))
        },
        Spelling {
            xdg: true,
            ..plain(
                "absolute under XDG",
                env.xdg.join(p.xdg_dir).join(rel).display().to_string(),
            )
        },
        at(
            "assigned earlier in the line",
            format!("H=$HOME; D=$H/{dir}; "),
            format!("$D/{rel}"),
        ),
        at(
            "XDG exported earlier in the line",
            format!("export {}={}; ", p.xdg_var, moved.display()),
            format!("${}/{rel}", p.xdg_var),
        ),
        at(
            "absolute under XDG exported earlier in the line",
            format!("export {}={}; ", p.xdg_var, moved.display()),
            moved.join(rel).display().to_string(),
        ),
        at(
            "relative after cd &&",
            format!("cd ~/{dir}/{parent} && "),
            name.to_owned(),
        ),
        at(
            "relative after cd ;",
            format!("cd $HOME/{dir}; cd {parent}; "),
            format!("./{name}"),
        ),
        at(
            "relative after pushd",
            format!("pushd ~/{dir} >/dev/null && "),
            rel.to_owned(),
        ),
        at(
            "relative after a bare cd",
            "cd && ".into(),
            format!("{dir}/{rel}"),
        ),
        Spelling {
            cwd: file.parent().unwrap().to_path_buf(),
            ..plain(
                "relative with the cwd inside the directory",
                name.to_owned(),
            )
        },
        plain(
            "through a symlinked parent",
            format!("linked-{}/{rel}", p.xdg_dir),
        ),
        plain("through a symlink file", format!("link-{name}")),
    ]
}

fn links(env: &Env) {
    for p in PROTECTED {
        let target = env.home.join(p.default_dir);
        let link = env.work.join(format!("linked-{}", p.xdg_dir));
        if !link.exists() {
            std::os::unix::fs::symlink(&target, &link).unwrap();
        }
        let name = p.rel.rsplit('/').next().unwrap();
        let file = target.join(p.rel);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        let link = env.work.join(format!("link-{name}"));
        std::os::unix::fs::symlink(&file, &link).unwrap();
    }
}

#[test]
fn every_protected_file_in_every_spelling_and_write_form_is_denied() {
    let env = Env::new();
    links(&env);
    let mut failures = Vec::new();
    let mut count = 0;
    for (i, p) in PROTECTED.iter().enumerate() {
        let spellings = spellings(&env, p);
        for (j, s) in spellings.iter().enumerate() {
            // config.toml takes every write form in every spelling; the other files take
            // a rotating share of the forms, so every pair of form and spelling is still
            // tried for some file.
            let forms: Vec<&str> = if i == 0 {
                WRITES.to_vec()
            } else {
                (0..5)
                    .map(|k| WRITES[(i * 5 + j * 3 + k) % WRITES.len()])
                    .collect()
            };
            for form in forms {
                let line = s.line(form);
                let (code, out) = env.check(&line, &s.cwd, s.xdg, &[]);
                count += 1;
                if code != DENY {
                    failures.push(format!(
                        "{} / {}: `{line}` gave {code}\n{out}",
                        p.rel, s.name
                    ));
                }
            }
        }
    }
    assert!(count > 500, "{count}");
    assert!(
        failures.is_empty(),
        "{} of {count} not denied:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_denial_says_what_a_person_runs_instead() {
    let env = Env::new();
    let (code, out) = env.check(
        "printf 'key = \"x\"' >> $HOME/.config/gatekeep/credentials.toml",
        &env.work,
        false,
        &[],
    );
    assert_eq!(code, DENY, "{out}");
    assert!(out.contains("gatekeep-self-write"), "{out}");
    assert!(
        out.contains("gatekeep login") && out.contains("/etc/gatekeep"),
        "{out}"
    );
}

#[test]
fn the_system_layer_and_gatekeeps_directories_are_denied() {
    let env = Env::new();
    for line in [
        "echo x > /etc/gatekeep/config.toml",
        "echo x | sudo tee /etc/gatekeep/policy.toml",
        "cd /etc/gatekeep && echo x > config.toml",
        "sudo sed -i s/a/b/ /etc/../etc/gatekeep/config.toml",
        "cp /tmp/x /etc/gatekeep/",
        "rm -rf ~/.config/gatekeep",
        "rm -rf ~/.config",
        "mv ~/.local/state/gatekeep /tmp/old",
        "mkdir -p $HOME/.config/gatekeep",
        "rmdir ~/.local/share/gatekeep",
        "cp -r /tmp/gatekeep ~/.config/",
        "cp -t ~/.config/gatekeep /tmp/config.toml",
        "tar -xzf x.tgz -C ~/.config/gatekeep",
        "unzip x.zip -d $HOME/.local/state/gatekeep",
        "bash -c 'echo x > ~/.config/gatekeep/config.toml'",
        "sh -c \"cd ~/.config/gatekeep; echo x > config.toml\"",
        "( cd ~/.config/gatekeep && echo x > config.toml )",
        "for f in a; do echo x >> ~/.config/gatekeep/config.toml; done",
    ] {
        let (code, out) = env.check(line, &env.work, false, &[]);
        assert_eq!(code, DENY, "`{line}`\n{out}");
    }
}

#[test]
fn a_write_target_only_known_at_run_time_is_escalated() {
    let env = Env::new();
    let config = env.home.join(".config/gatekeep/config.toml");
    let config = config.to_str().unwrap();
    // Unknown: it could be anything, gatekeep's config included.
    for line in [
        "echo x > \"$F\"",
        "echo x > $(mktemp)",
        "read F; echo x > $F",
        "cd \"$D\" && echo x > config.toml",
    ] {
        let (code, out) = env.check(line, &env.work, false, &[]);
        assert_eq!(code, APPROVE, "`{line}`\n{out}");
        assert!(out.contains("possible match"), "{out}");
    }
    // Known, from the environment gatekeep sees or from the line: decided for what it is.
    let (code, out) = env.check(
        "echo x > \"$F\"",
        &env.work,
        false,
        &[("F", "/tmp/out.txt")],
    );
    assert_eq!(code, ALLOW, "{out}");
    let (code, out) = env.check("echo x > \"$F\"", &env.work, false, &[("F", config)]);
    assert_eq!(code, DENY, "{out}");
    let (code, out) = env.check("F=/tmp/out.txt; echo x > $F", &env.work, false, &[]);
    assert_eq!(code, ALLOW, "{out}");
}

#[test]
fn environment_that_relocates_gatekeep_needs_a_person() {
    let env = Env::new();
    for line in [
        "export XDG_CONFIG_HOME=/tmp/x",
        "export XDG_STATE_HOME=/tmp/x",
        "export XDG_DATA_HOME=/tmp/x",
        "export HOME=/tmp/x",
        "declare -x XDG_CONFIG_HOME=/tmp/x",
        "declare -gx XDG_STATE_HOME=/tmp/x",
        "declare -rx HOME=/tmp/x",
        "typeset -x XDG_DATA_HOME=/tmp/x",
        "local XDG_CONFIG_HOME=/tmp/x",
        "readonly XDG_CONFIG_HOME=/tmp/x",
        "set -a; XDG_CONFIG_HOME=/elsewhere",
        "set -o allexport; XDG_STATE_HOME=/elsewhere",
        "HOME=/tmp/x",
        "XDG_CONFIG_HOME=/tmp/x; export XDG_CONFIG_HOME",
        "export GATEKEEP_POLICY=/tmp/p.toml",
        "export GATEKEEP_KEYRING=off",
        "env XDG_CONFIG_HOME=/tmp/x gatekeep exec -- kubectl delete ns prod",
        "XDG_CONFIG_HOME=/tmp/x gatekeep exec -- kubectl delete ns prod",
        "export HTTP_PROXY=http://127.0.0.1:8080",
        "export HTTPS_PROXY=http://127.0.0.1:8080",
        "export https_proxy=http://127.0.0.1:8080",
        "export ALL_PROXY=socks5://127.0.0.1:1080",
        "export all_proxy=socks5://127.0.0.1:1080",
        "export NO_PROXY='*'",
        "export no_proxy='*'",
        "HTTPS_PROXY=http://127.0.0.1:8080 gatekeep exec -- ls",
        "export SSL_CERT_FILE=/tmp/ca.pem",
        "export SSL_CERT_DIR=/tmp/certs",
        "printf -v XDG_CONFIG_HOME %s /tmp/x",
        "read -r XDG_CONFIG_HOME < /tmp/x",
        "mapfile -t HOME < /tmp/x",
        "unset XDG_CONFIG_HOME",
        "source ./env.sh",
        ". ./env.sh",
    ] {
        let (code, out) = env.check(line, &env.work, false, &[]);
        assert!(
            code == APPROVE || code == DENY,
            "`{line}` gave {code}\n{out}"
        );
        assert_ne!(code, ALLOW, "`{line}`");
    }
}

#[test]
fn benign_twins_stay_allowed() {
    let env = Env::new();
    for line in [
        "echo x > notes.txt",
        "cp a b",
        "mv a b",
        "sed -i s/a/b/ src/x.rs",
        "touch src/new.rs",
        "rm -f notes.txt",
        "echo x > $HOME/notes.txt",
        "echo x > ~/.config/other.toml",
        "F=/tmp/out.txt; echo x > $F",
        "cd src && echo x > config.toml",
        "(cd ~/.config/gatekeep); echo x > config.toml",
        // Reading gatekeep's configuration is harmless: it holds the service's URL and public
        // key, nothing secret. Reading its credentials is escalated (below).
        "cat ~/.config/gatekeep/config.toml",
        "ls -la ~/.config/gatekeep",
        "cp ~/.config/gatekeep/config.toml /tmp/config-backup.toml",
        "gatekeep audit verify",
        "export PATH=$PATH:/x",
        "export FOO=bar",
        "export RUST_LOG=debug",
        "FOO=bar; echo $FOO",
        "read -r line < notes.txt",
        "git status",
    ] {
        let (code, out) = env.check(line, &env.work, false, &[]);
        assert_eq!(code, ALLOW, "`{line}`\n{out}");
    }
    for line in [
        "cat ~/.config/gatekeep/credentials.toml",
        "cat $HOME/.config/gatekeep/credentials.toml",
        "cd ~/.config/gatekeep && cat credentials.toml",
    ] {
        let (code, out) = env.check(line, &env.work, false, &[]);
        assert_eq!(code, APPROVE, "`{line}`\n{out}");
    }
}

#[test]
fn exec_refuses_the_write_and_the_file_is_unchanged() {
    let env = Env::new();
    let config = env.home.join(".config/gatekeep/config.toml");
    std::fs::write(&config, "[server]\n").unwrap();
    let out = env
        .cmd(&env.work, false)
        .args([
            "exec",
            "--shell",
            "printf '[server]\\nurl = \"http://evil.invalid\"\\n' >> $HOME/.config/gatekeep/config.toml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(DENY), "{out:?}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "[server]\n");
}
