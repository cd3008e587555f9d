//! `gatekeep doctor` on trees made here and read as `/` (`--root DIR`), never the real
//! `/etc/gatekeep` (other tests run in parallel, and its config wins over theirs).
//!
//! The agent's user is `nobody` wherever the setup needs a user other than the files'
//! owner: the files are the test runner's (root in CI, a normal user elsewhere), and
//! `nobody` is neither, so every case runs the same whoever runs it. The case where the
//! agent is the current user (the key pinned in its own config) fails either way: as a
//! normal user because it owns the file, as root because root writes everything.

#![expect(clippy::unwrap_used, reason = "a test fails loudly on setup errors")]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::Value;

const GK: &str = env!("CARGO_BIN_EXE_gatekeep");

fn key() -> String {
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
    B64.encode(key.as_bytes())
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A tree with `/etc/gatekeep/config.toml` pinning `url`, laid out the way the README says:
/// directories 0755 and the file 0644, owned by whoever runs the test (not `nobody`).
fn tree(url: &str) -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    set_mode(root.path(), 0o755);
    let etc = root.path().join("etc/gatekeep");
    std::fs::create_dir_all(&etc).unwrap();
    set_mode(&root.path().join("etc"), 0o755);
    set_mode(&etc, 0o755);
    let config = etc.join("config.toml");
    std::fs::write(
        &config,
        format!("[server]\nurl = \"{url}\"\nkey = \"{}\"\n", key()),
    )
    .unwrap();
    set_mode(&config, 0o644);
    (root, config)
}

fn doctor(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(GK)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GATEKEEP_KEYRING", "off")
        .envs(env.iter().copied())
        .current_dir(root)
        .arg("doctor")
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The report's line for `check` (`ok    server key: ...`), with its fix line if any.
fn line(out: &Output, check: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    let i = lines
        .iter()
        .position(|l| {
            l.get(6..)
                .is_some_and(|r| r.starts_with(&format!("{check}:")))
        })
        .unwrap_or_else(|| panic!("no {check} line in:\n{stdout}"));
    let mut found = lines[i].to_owned();
    if let Some(fix) = lines
        .get(i + 1)
        .filter(|l| l.trim_start().starts_with("fix:"))
    {
        found.push('\n');
        found.push_str(fix);
    }
    found
}

#[test]
fn passes_on_a_root_pinned_setup_and_fails_naming_a_file_the_agent_can_write() {
    let (root, config) = tree("https://gk.example.invalid");
    let out = doctor(root.path(), &["--user", "nobody"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let pinned = line(&out, "server key");
    assert!(
        pinned.starts_with("ok ")
            && pinned.contains(&format!("pinned by {}", config.display()))
            && pinned.contains("nobody cannot write"),
        "{pinned}"
    );
    assert!(
        line(&out, "server url").starts_with("ok "),
        "{}",
        text(&out)
    );
    assert!(line(&out, "ledger").starts_with("ok "), "{}", text(&out));
    assert!(
        line(&out, "policy system").starts_with("ok "),
        "{}",
        text(&out)
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("FAIL"),
        "{}",
        text(&out)
    );

    // The file itself writable by everyone: named, with the commands that fix it.
    set_mode(&config, 0o646);
    let out = doctor(root.path(), &["--user", "nobody"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let pinned = line(&out, "server key");
    assert!(
        pinned.starts_with("FAIL ")
            && pinned.contains(&format!("pinned by {}", config.display()))
            && pinned.contains("everyone may")
            && pinned.contains(&format!("sudo chmod 0644 {}", config.display())),
        "{pinned}"
    );
    set_mode(&config, 0o644);

    // A directory above it writable by everyone: the agent could replace the file.
    let etc = config.parent().unwrap();
    set_mode(etc, 0o777);
    let out = doctor(root.path(), &["--user", "nobody"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let pinned = line(&out, "server key");
    assert!(
        pinned.starts_with("FAIL ")
            && pinned.contains(&format!("the directory {} (mode 0777", etc.display()))
            && pinned.contains(&format!("so it can replace {}", config.display())),
        "{pinned}"
    );
    // The system policy layer lives there too, and it may loosen.
    let policy = line(&out, "policy system");
    assert!(
        policy.starts_with("FAIL ") && policy.contains("may loosen"),
        "{policy}"
    );
    // The same as JSON.
    let out = doctor(root.path(), &["--user", "nobody", "--json"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false, "{v}");
    let key_check = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "server key")
        .unwrap();
    assert_eq!(key_check["status"], "fail", "{v}");
    assert!(
        key_check["message"]
            .as_str()
            .unwrap()
            .contains(&config.display().to_string())
            && key_check["fix"].as_str().unwrap().contains("sudo"),
        "{v}"
    );
    set_mode(etc, 0o755);
    assert!(
        doctor(root.path(), &["--user", "nobody"], &[])
            .status
            .success()
    );
}

#[test]
fn a_key_pinned_in_the_agents_own_config_fails() {
    // No system config: the agent's (the current user's) own config pins the key.
    let (root, config) = tree("https://gk.example.invalid");
    std::fs::remove_file(&config).unwrap();
    let home = root.path().join("home/agent");
    std::fs::create_dir_all(home.join(".config/gatekeep")).unwrap();
    let user_config = home.join(".config/gatekeep/config.toml");
    std::fs::write(
        &user_config,
        format!(
            "[server]\nurl = \"https://gk.example.invalid\"\nkey = \"{}\"\n",
            key()
        ),
    )
    .unwrap();
    let out = doctor(root.path(), &[], &[("HOME", "/home/agent")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let pinned = line(&out, "server key");
    assert!(
        pinned.starts_with("FAIL ")
            && pinned.contains(&format!("pinned by {}", user_config.display()))
            && pinned.contains(&format!(
                "sudo install -m 0644 -o root -g root {} {}",
                user_config.display(),
                config.display()
            )),
        "{pinned}"
    );
}

#[test]
fn plain_http_a_symlinked_ledger_and_proxy_variables_are_reported() {
    let (root, _) = tree("http://gk.example.invalid:8700");
    // nobody's ledger, under its home as the tree has it, replaced by a link.
    let home = nix::unistd::User::from_name("nobody")
        .unwrap()
        .expect("the user nobody exists")
        .dir;
    let state = root
        .path()
        .join(home.strip_prefix("/").unwrap())
        .join(".local/state/gatekeep");
    std::fs::create_dir_all(&state).unwrap();
    set_mode(&state, 0o700);
    std::os::unix::fs::symlink("/dev/null", state.join("ledger.jsonl")).unwrap();
    let out = doctor(
        root.path(),
        &["--user", "nobody"],
        &[(
            "HTTPS_PROXY",
            "http://mallory:s3cret-pass@proxy.invalid:3128",
        )],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let url = line(&out, "server url");
    assert!(
        url.starts_with("FAIL ")
            && url.contains("plain http to another host")
            && url.contains("fix: "),
        "{url}"
    );
    let ledger = line(&out, "ledger");
    assert!(
        ledger.starts_with("FAIL ")
            && ledger.contains(&format!(
                "{} is a symbolic link (to /dev/null)",
                state.join("ledger.jsonl").display()
            )),
        "{ledger}"
    );
    let env = line(&out, "environment");
    assert!(
        env.starts_with("warn ") && env.contains("HTTPS_PROXY=") && !env.contains("s3cret-pass"),
        "{env}"
    );
}
