//! `gatekeep doctor`: the posture a person wants to see before trusting gatekeep with an
//! unattended agent. Can the agent's unix user move the trust anchor (the pinned server key
//! and URL, the policy layer that may loosen, the ledger), and does anything sit between the
//! client and the service?
//!
//! Read-only. The checks are a function over [`Paths`] (where each file is) and an
//! [`Agent`] (whose writes matter), so tests can inspect a tree made for them (`--root DIR`
//! reads DIR as if it were `/`) without touching the real `/etc/gatekeep`. Nothing here can
//! change what `gatekeep exec` trusts: it only reads and reports.
//!
//! Whether the agent can write a file is judged from mode bits, owner and group membership,
//! for the file and every directory above it (whoever can write a directory can replace
//! what is in it, unless the sticky bit protects entries they do not own). The owner of a
//! file can always change its mode, so owning it counts as writing it. Root writes
//! everything.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::api::protocol::Role;
use crate::approval::credentials::{self, Stored};
use crate::approval::remote::{self};
use crate::env_vars;
use crate::policy::layers::{self, PolicyPaths};

mod access;
mod checks;

pub use access::writable_by;
use checks::{credentials_check, env_checks, ledger_check, policy_checks, server_checks};

/// How one check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    /// The agent could move the trust anchor, or gatekeep would refuse to work.
    Fail,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        }
    }
}

/// One line of the report.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub check: &'static str,
    pub status: Status,
    pub message: String,
    /// What to run to fix it (for a FAIL, always).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn new(check: &'static str, status: Status, message: String) -> Check {
        Check {
            check,
            status,
            message,
            fix: None,
        }
    }

    fn fix(mut self, fix: String) -> Check {
        self.fix = Some(fix);
        self
    }
}

/// The unix user the agent runs as.
#[derive(Clone, Debug, Serialize)]
pub struct Agent {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// Every group it is in, the primary one included.
    pub groups: Vec<u32>,
    /// Its home directory (from the password database).
    #[serde(skip)]
    pub home: PathBuf,
}

impl Agent {
    /// The user named `name`, or the current (effective) user.
    pub fn lookup(name: Option<&str>) -> Result<Agent, String> {
        let user = match name {
            Some(name) => nix::unistd::User::from_name(name)
                .map_err(|e| format!("cannot look up user {name}: {e}"))?
                .ok_or_else(|| format!("no user named {name}"))?,
            None => {
                let uid = nix::unistd::geteuid();
                nix::unistd::User::from_uid(uid)
                    .map_err(|e| format!("cannot look up uid {uid}: {e}"))?
                    .ok_or_else(|| format!("uid {uid} has no entry in the password database"))?
            }
        };
        let cname = CString::new(user.name.clone()).map_err(|e| e.to_string())?;
        let mut groups: Vec<u32> = nix::unistd::getgrouplist(&cname, user.gid)
            .map_err(|e| format!("cannot list the groups of {}: {e}", user.name))?
            .into_iter()
            .map(|g| g.as_raw())
            .collect();
        groups.sort_unstable();
        groups.dedup();
        Ok(Agent {
            name: user.name,
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            groups,
            home: user.dir,
        })
    }

    fn is_root(&self) -> bool {
        self.uid == 0
    }
}

/// Where gatekeep's files are for the agent, as paths on this machine's disk.
#[derive(Clone, Debug, Serialize)]
pub struct Paths {
    /// The tree read as `/` (normally `/`); nothing above it is inspected.
    pub root: PathBuf,
    pub system_config: PathBuf,
    pub user_config: Option<PathBuf>,
    pub credentials: Option<PathBuf>,
    pub ledger: PathBuf,
    /// The policy layers' files (the checks name the ones that load).
    #[serde(skip)]
    pub policy: PolicyPaths,
}

impl Paths {
    /// The paths gatekeep uses for `agent`: from this process's environment when the agent
    /// is the current user (as `gatekeep exec` would find them), else from its home
    /// directory with the XDG defaults. All of them read under `root`.
    pub fn for_agent(root: &Path, agent: &Agent, current_user: bool) -> Paths {
        let env = |var: &str| {
            std::env::var_os(var)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
        };
        let (config, state) = if current_user {
            let home = env(env_vars::HOME);
            (
                env(env_vars::XDG_CONFIG_HOME).or_else(|| home.as_ref().map(|h| h.join(".config"))),
                env(env_vars::XDG_STATE_HOME)
                    .or_else(|| home.as_ref().map(|h| h.join(".local/state")))
                    .unwrap_or_else(|| PathBuf::from("/tmp")),
            )
        } else {
            (
                Some(agent.home.join(".config")),
                agent.home.join(".local/state"),
            )
        };
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        let mut policy = PolicyPaths::discover(&cwd);
        policy.system = Some(under(root, Path::new(layers::SYSTEM_PATH)));
        policy.user = config
            .as_ref()
            .map(|c| under(root, &c.join("gatekeep/policy.toml")));
        if root != Path::new("/") || !current_user {
            // The working directory and environment are this process's, not the agent's.
            policy.project.clear();
            policy.env = None;
        }
        Paths {
            root: root.to_owned(),
            system_config: under(root, Path::new(remote::SYSTEM_CONFIG)),
            user_config: config
                .as_ref()
                .map(|c| under(root, &c.join("gatekeep/config.toml"))),
            credentials: config
                .as_ref()
                .map(|c| under(root, &c.join("gatekeep/credentials.toml"))),
            ledger: under(root, &state.join("gatekeep/ledger.jsonl")),
            policy,
        }
    }
}

/// `path` (absolute) read inside `root`.
fn under(root: &Path, path: &Path) -> PathBuf {
    if root == Path::new("/") {
        return path.to_owned();
    }
    root.join(path.strip_prefix("/").unwrap_or(path))
}

/// The environment variables that move gatekeep's traffic or its trust in certificates.
pub const PROXY_VARS: &[&str] = &[
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// What the keyring holds, when it can be asked (only for the current user on this root).
#[derive(Clone, Debug)]
pub enum Tokens {
    /// Not asked: another user or another tree.
    NotAsked,
    Found(Option<Stored>),
    Error(String),
}

/// Every check, in the order a person reads them.
pub fn run(paths: &Paths, agent: &Agent, env: &[(String, String)], tokens: &Tokens) -> Vec<Check> {
    let mut checks = Vec::new();
    if agent.is_root() {
        checks.push(
            Check::new(
                "agent user",
                Status::Fail,
                format!(
                    "the agent's user is {} (uid 0): root can write everything, /etc/gatekeep included, so nothing can be pinned against it",
                    agent.name
                ),
            )
            .fix(
                "run the agent as an unprivileged user (for example `sudo useradd --system --create-home agent`, then start it with `sudo -u agent ...`) and check again with `gatekeep doctor --user agent`".into(),
            ),
        );
    } else {
        checks.push(Check::new(
            "agent user",
            Status::Ok,
            format!(
                "checking what {} (uid {}, groups {}) can write",
                agent.name,
                agent.uid,
                agent
                    .groups
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        ));
    }
    let server = server_checks(paths, agent, &mut checks);
    checks.push(credentials_check(paths, server.as_ref(), tokens));
    checks.push(ledger_check(paths, agent));
    checks.extend(env_checks(env));
    checks.extend(policy_checks(paths, agent));
    checks
}

/// The report for people: one line per check, fixes indented below.
pub fn render(checks: &[Check], agent: &Agent, paths: &Paths) -> String {
    let mut out = format!(
        "gatekeep doctor: the posture for the agent's user {} (uid {}){}\n",
        agent.name,
        agent.uid,
        if paths.root == Path::new("/") {
            String::new()
        } else {
            format!(", reading {} as /", paths.root.display())
        }
    );
    for c in checks {
        out.push_str(&format!(
            "{:<4}  {}: {}\n",
            c.status.label(),
            c.check,
            c.message
        ));
        if let Some(fix) = &c.fix {
            out.push_str(&format!("      fix: {fix}\n"));
        }
    }
    let fails = checks.iter().filter(|c| c.status == Status::Fail).count();
    if fails == 0 {
        out.push_str(
            "nothing failed: the agent cannot move the trust anchor through these files\n",
        );
    } else {
        out.push_str(&format!(
            "{fails} FAIL: the agent's user could move the trust anchor or stop gatekeep; fix them before trusting an unattended agent\n"
        ));
    }
    out
}

/// `gatekeep doctor`: returns whether nothing failed.
pub fn doctor(root: Option<&Path>, user: Option<&str>, json: bool) -> Result<bool, String> {
    let root = root.unwrap_or(Path::new("/"));
    if !root.is_absolute() || !root.is_dir() {
        return Err(format!(
            "--root {}: expected an existing absolute directory",
            root.display()
        ));
    }
    let agent = Agent::lookup(user)?;
    let current = agent.uid == nix::unistd::geteuid().as_raw();
    let paths = Paths::for_agent(root, &agent, current);
    let env: Vec<(String, String)> = std::env::vars().collect();
    let tokens = if current && root == Path::new("/") {
        match remote::load_config() {
            Ok(Some(server)) => match credentials::locate(&server.url, Role::Requester) {
                Ok(found) => Tokens::Found(found),
                Err(e) => Tokens::Error(e.to_string()),
            },
            _ => Tokens::NotAsked,
        }
    } else {
        Tokens::NotAsked
    };
    let checks = run(&paths, &agent, &env, &tokens);
    let ok = !checks.iter().any(|c| c.status == Status::Fail);
    if json {
        let v = serde_json::json!({"ok": ok, "agent": agent, "paths": paths, "checks": checks});
        println!("{v}");
    } else {
        print!("{}", render(&checks, &agent, &paths));
    }
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::checks::url_check;
    use super::*;
    use crate::approval::remote::ServerConfig;
    use std::os::unix::fs::PermissionsExt;

    fn agent(uid: u32, groups: Vec<u32>) -> Agent {
        Agent {
            name: "a".into(),
            uid,
            gid: groups.first().copied().unwrap_or(uid),
            groups,
            home: PathBuf::from("/nonexistent"),
        }
    }

    #[test]
    fn owner_group_other_and_sticky_directories() {
        let dir = tempfile::tempdir().unwrap();
        let me = nix::unistd::geteuid().as_raw();
        let my_gid = nix::unistd::getegid().as_raw();
        let file = dir.path().join("f");
        std::fs::write(&file, "").unwrap();
        let set = |p: &Path, m: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
        };
        set(dir.path(), 0o755);
        set(&file, 0o644);
        let other = agent(me + 12345, vec![54321]);
        assert_eq!(writable_by(dir.path(), &file, &other), None);
        set(&file, 0o646);
        assert!(
            writable_by(dir.path(), &file, &other)
                .unwrap()
                .contains("everyone may")
        );
        set(&file, 0o664);
        let member = agent(me + 12345, vec![my_gid]);
        assert!(
            writable_by(dir.path(), &file, &member)
                .unwrap()
                .contains("group")
        );
        set(&file, 0o644);
        set(dir.path(), 0o777);
        assert!(
            writable_by(dir.path(), &file, &other)
                .unwrap()
                .contains("the directory")
        );
        // /tmp-like: sticky, and the file is not theirs.
        set(dir.path(), 0o1777);
        assert_eq!(writable_by(dir.path(), &file, &other), None);
        set(dir.path(), 0o700);
        if me != 0 {
            assert!(
                writable_by(dir.path(), &file, &agent(me, vec![]))
                    .unwrap()
                    .contains("owns")
            );
        }
        assert!(
            writable_by(dir.path(), &file, &agent(0, vec![0]))
                .unwrap()
                .contains("root can write everything")
        );
    }

    #[test]
    fn plain_http_only_to_loopback() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
        let cfg = |url: &str| ServerConfig {
            url: url.into(),
            key,
            source: PathBuf::from("/etc/gatekeep/config.toml"),
            connection: Default::default(),
        };
        for ok in [
            "https://gk.example",
            "http://127.0.0.1:8700",
            "http://[::1]:8700",
            "http://localhost:1",
        ] {
            assert_eq!(url_check(&cfg(ok)).status, Status::Ok, "{ok}");
        }
        for bad in [
            "http://gk.example.invalid",
            "http://10.0.0.1:8700",
            "http://127.0.0.1.evil.invalid",
        ] {
            assert_eq!(url_check(&cfg(bad)).status, Status::Fail, "{bad}");
        }
    }
}
