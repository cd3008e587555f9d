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
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::api::protocol::Role;
use crate::approval::credentials::{self, Stored};
use crate::approval::remote::{self, ServerConfig};
use crate::audit::redact;
use crate::env_vars;
use crate::policy::layers::{self, PolicyPaths};

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

/// Which file pins the server key, whether the agent can write it or a directory above it,
/// and whether the URL is https or loopback.
fn server_checks(paths: &Paths, agent: &Agent, checks: &mut Vec<Check>) -> Option<ServerConfig> {
    let mut pinned = None;
    for path in [Some(&paths.system_config), paths.user_config.as_ref()]
        .into_iter()
        .flatten()
    {
        match remote::read_config_unchecked(path) {
            Ok(Some(config)) => {
                pinned = Some(config);
                break;
            }
            Ok(None) => {}
            Err(e) => {
                checks.push(
                    Check::new("server key", Status::Fail, format!("{e}"))
                        .fix(format!("fix or remove {}; `gatekeep exec` refuses every command that needs approval while it does not read", path.display())),
                );
                return None;
            }
        }
    }
    let Some(config) = pinned else {
        checks.push(Check::new(
            "server key",
            Status::Warn,
            format!(
                "no approval service is configured (neither {} nor {} names one): approvals happen only at a terminal, and an unattended agent's commands that need one are refused",
                paths.system_config.display(),
                paths
                    .user_config
                    .as_ref()
                    .map_or("a user config".into(), |p| p.display().to_string())
            ),
        ));
        return None;
    };
    let system = config.source == paths.system_config;
    let file = config.source.display().to_string();
    match writable_by(&paths.root, &config.source, agent) {
        Some(why) => {
            let etc = paths.system_config.display().to_string();
            let etc_dir = paths
                .system_config
                .parent()
                .map_or(String::new(), |d| d.display().to_string());
            let fix = if system {
                format!(
                    "sudo chown root:root {etc_dir} {etc} && sudo chmod 0755 {etc_dir} && sudo chmod 0644 {etc} (and make every directory above it root-owned and not writable by others)"
                )
            } else {
                format!(
                    "pin the service where the agent cannot write: sudo install -d -m 0755 -o root -g root {etc_dir} && sudo install -m 0644 -o root -g root {file} {etc}"
                )
            };
            checks.push(
                Check::new(
                    "server key",
                    Status::Fail,
                    format!(
                        "the key of {} is pinned by {file}, and {why}: the agent could pin a service of its own",
                        config.url
                    ),
                )
                .fix(fix),
            );
        }
        None => match remote::read_config(&config.source) {
            // Not writable by the agent, but gatekeep will not trust it (another user's
            // file, or group-writable): every command that needs approval is refused.
            Err(e) => checks.push(
                Check::new("server key", Status::Fail, e.to_string())
                    .fix(format!("chown it to its user (or root) and chmod go-w {file}")),
            ),
            Ok(_) => checks.push(Check::new(
            "server key",
            Status::Ok,
            format!(
                "the key of {} (thumbprint {}) is pinned by {file}, which {} cannot write, nor any directory above it",
                config.url,
                config.key_id(),
                agent.name
            ),
        )),
        },
    }
    checks.push(url_check(&config));
    Some(config)
}

fn url_check(config: &ServerConfig) -> Check {
    let url = &config.url;
    if url.starts_with("https://") {
        return Check::new("server url", Status::Ok, format!("{url} is https"));
    }
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or("");
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        Check::new(
            "server url",
            Status::Ok,
            format!("{url} is plain http, but to this machine (loopback)"),
        )
    } else {
        Check::new(
            "server url",
            Status::Fail,
            format!(
                "{url} is plain http to another host: anything on the way reads the bearer tokens and can change what an approver is shown"
            ),
        )
        .fix(format!(
            "serve it over TLS (a TLS proxy in front of `gatekeep server`), then `gatekeep login --server https://{authority}` and re-pin it in {}",
            config.source.display()
        ))
    }
}

fn credentials_check(paths: &Paths, server: Option<&ServerConfig>, tokens: &Tokens) -> Check {
    let Some(server) = server else {
        return Check::new(
            "credentials",
            Status::Ok,
            "no service, so no token is needed".into(),
        );
    };
    match tokens {
        Tokens::Found(Some(Stored::Keyring)) => Check::new(
            "credentials",
            Status::Ok,
            format!("the requester token for {} is in the OS keyring", server.url),
        ),
        Tokens::Found(Some(Stored::File(path))) => Check::new(
            "credentials",
            Status::Ok,
            format!(
                "the requester token for {} is in the file {} (0600, checked like an ssh key); no keyring holds it",
                server.url,
                path.display()
            ),
        ),
        Tokens::Found(None) => Check::new(
            "credentials",
            Status::Warn,
            format!("no requester token for {} in the keyring or the credentials file", server.url),
        )
        .fix(format!(
            "gatekeep login --server {} (with a token from `gatekeep server token create --agent NAME`)",
            server.url
        )),
        Tokens::Error(e) => Check::new("credentials", Status::Warn, e.clone()),
        Tokens::NotAsked => {
            let Some(path) = &paths.credentials else {
                return Check::new(
                    "credentials",
                    Status::Warn,
                    "the agent has no configuration directory for a credentials file".into(),
                );
            };
            match std::fs::symlink_metadata(path) {
                Ok(meta) if meta.is_file() && meta.mode() & 0o077 == 0 => Check::new(
                    "credentials",
                    Status::Ok,
                    format!(
                        "a credentials file {} (mode {:04o}); the agent's keyring was not asked (another user or tree)",
                        path.display(),
                        meta.mode() & 0o7777
                    ),
                ),
                Ok(meta) => Check::new(
                    "credentials",
                    Status::Warn,
                    format!(
                        "the credentials file {} is not a private regular file (mode {:04o}): gatekeep refuses to use it",
                        path.display(),
                        meta.mode() & 0o7777
                    ),
                )
                .fix(format!("chmod 600 {}", path.display())),
                Err(_) => Check::new(
                    "credentials",
                    Status::Ok,
                    format!(
                        "no credentials file at {}: the token is in the agent's keyring, or it is not logged in (the keyring was not asked: another user or tree)",
                        path.display()
                    ),
                ),
            }
        }
    }
}

/// The ledger and its directory: not links, writable only by their owner (the agent, or
/// root), as `gatekeep exec` requires before it writes a record.
fn ledger_check(paths: &Paths, agent: &Agent) -> Check {
    let ledger = &paths.ledger;
    let head = {
        let mut h = ledger.as_os_str().to_owned();
        h.push(".head");
        PathBuf::from(h)
    };
    let dir = ledger.parent().unwrap_or(Path::new("/"));
    let mut problems = Vec::new();
    let mut fixes = Vec::new();
    let mut seen = Vec::new();
    for (what, path) in [
        ("directory", dir),
        ("ledger", ledger.as_path()),
        ("head", &head),
    ] {
        let meta = match std::fs::symlink_metadata(path) {
            Ok(meta) => meta,
            Err(_) => continue,
        };
        let name = path.display();
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(path).map_or("?".into(), |t| t.display().to_string());
            problems.push(format!(
                "the {what} {name} is a symbolic link (to {target})"
            ));
            fixes.push(format!(
                "mv {name} {name}.suspect && gatekeep audit verify --against-server"
            ));
            continue;
        }
        let mode = meta.mode() & 0o7777;
        if mode & 0o022 != 0 {
            problems.push(format!(
                "the {what} {name} can be written by other users (mode {mode:04o})"
            ));
            fixes.push(format!("chmod go-w {name}"));
        }
        if meta.uid() != agent.uid && meta.uid() != 0 {
            problems.push(format!(
                "the {what} {name} is owned by uid {}, not by {} (uid {})",
                meta.uid(),
                agent.name,
                agent.uid
            ));
            fixes.push(format!("sudo chown {} {name}", agent.name));
        }
        seen.push(format!("{what} {mode:04o}"));
    }
    if !problems.is_empty() {
        return Check::new(
            "ledger",
            Status::Fail,
            format!(
                "{}: gatekeep refuses to write or read such a ledger",
                problems.join("; ")
            ),
        )
        .fix(fixes.join(" && "));
    }
    if seen.is_empty() {
        return Check::new(
            "ledger",
            Status::Ok,
            format!(
                "{} is not written yet; gatekeep creates it 0600 in a 0700 directory",
                ledger.display()
            ),
        );
    }
    Check::new(
        "ledger",
        Status::Ok,
        format!(
            "{} ({}): not links, writable only by their owner; the agent's user can still rewrite its own trail, so compare it with the service: `gatekeep audit verify --against-server`",
            ledger.display(),
            seen.join(", ")
        ),
    )
}

/// Proxy and certificate variables in this environment (values masked: a proxy URL may hold
/// a password).
fn env_checks(env: &[(String, String)]) -> Vec<Check> {
    let present: Vec<String> = env
        .iter()
        .filter(|(k, v)| PROXY_VARS.contains(&k.as_str()) && !v.is_empty())
        .map(|(k, v)| format!("{k}={}", redact::mask_text(v)))
        .collect();
    if present.is_empty() {
        return vec![Check::new(
            "environment",
            Status::Ok,
            format!("none of {} is set", PROXY_VARS.join(", ")),
        )];
    }
    vec![
        Check::new(
            "environment",
            Status::Warn,
            format!(
                "set here: {}; a proxy on the way to a plain-http service sees its tokens, and certificate variables change which servers are trusted",
                present.join(", ")
            ),
        )
        .fix(format!(
            "unset them in the agent's environment (`unset {}`), or make sure the service is https",
            env.iter()
                .filter(|(k, v)| PROXY_VARS.contains(&k.as_str()) && !v.is_empty())
                .map(|(k, _)| k.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        )),
    ]
}

/// Which policy layers load, and who can write them. The system layer may loosen, so the
/// agent writing it is a FAIL; the others can only tighten (informational).
fn policy_checks(paths: &Paths, agent: &Agent) -> Vec<Check> {
    let mut checks = Vec::new();
    let policy = &paths.policy;
    let loaded = match policy.load() {
        Ok(p) => p,
        Err(e) => {
            return vec![
                Check::new(
                    "policy",
                    Status::Fail,
                    format!("the policy does not load, so no command runs: {e}"),
                )
                .fix("fix the file named above; `gatekeep policy lint FILE` checks it".into()),
            ];
        }
    };
    let names: Vec<String> = loaded
        .layers
        .iter()
        .map(|l| match &l.path {
            Some(p) => format!("{} ({})", l.kind, p.display()),
            None => l.kind.to_string(),
        })
        .collect();
    checks.push(Check::new(
        "policy",
        Status::Ok,
        format!("layers loaded: {}", names.join(", ")),
    ));
    if let Some(system) = &policy.system {
        let exists = std::fs::symlink_metadata(system).is_ok();
        match writable_by(&paths.root, system, agent) {
            Some(why) => {
                let dir = system
                    .parent()
                    .map_or(String::new(), |d| d.display().to_string());
                let verb = if exists {
                    ""
                } else {
                    " (it does not exist, but could be created)"
                };
                checks.push(
                    Check::new(
                        "policy system",
                        Status::Fail,
                        format!(
                            "{}{verb}: {why}; the system layer may loosen every rule",
                            system.display()
                        ),
                    )
                    .fix(format!(
                        "sudo chown root:root {dir} && sudo chmod 0755 {dir}{}",
                        if exists {
                            format!(
                                " && sudo chown root:root {0} && sudo chmod 0644 {0}",
                                system.display()
                            )
                        } else {
                            String::new()
                        }
                    )),
                );
            }
            None => checks.push(Check::new(
                "policy system",
                Status::Ok,
                format!(
                    "{} {}: {} cannot write it or any directory above it",
                    system.display(),
                    if exists { "exists" } else { "is absent" },
                    agent.name
                ),
            )),
        }
    }
    for layer in loaded.layers.iter().filter(|l| !l.kind.may_loosen()) {
        let Some(path) = &layer.path else { continue };
        let who = match writable_by(&paths.root, path, agent) {
            Some(_) => "writable by the agent",
            None => "not writable by the agent",
        };
        checks.push(Check::new(
            "policy layer",
            Status::Ok,
            format!(
                "{} layer {} is {who}; it can only tighten",
                layer.kind,
                path.display()
            ),
        ));
    }
    checks
}

/// Why `agent` can change what `path` holds (write it, or replace it through a directory
/// above it up to `root`), or `None`.
pub fn writable_by(root: &Path, path: &Path, agent: &Agent) -> Option<String> {
    if agent.is_root() {
        return Some(format!(
            "the agent's user {} is root, and root can write everything",
            agent.name
        ));
    }
    let mut child_owner: Option<u32> = None;
    let mut current = Some(path);
    while let Some(p) = current {
        let meta = match std::fs::symlink_metadata(p) {
            // A link is judged by where it leads; the directory holding it is checked next.
            Ok(meta) if meta.file_type().is_symlink() => std::fs::metadata(p).ok(),
            Ok(meta) => Some(meta),
            Err(_) => None,
        };
        if let Some(meta) = meta {
            if let Some(how) = writes(&meta, agent) {
                let is_dir = meta.is_dir() && p != path;
                let sticky_protects = is_dir
                    && meta.mode() & 0o1000 != 0
                    && child_owner.is_some_and(|o| o != agent.uid);
                if !sticky_protects {
                    return Some(if is_dir {
                        format!(
                            "{} {how} the directory {} (mode {:04o}, owner uid {}), so it can replace {}",
                            agent.name,
                            p.display(),
                            meta.mode() & 0o7777,
                            meta.uid(),
                            path.display()
                        )
                    } else {
                        format!(
                            "{} {how} {} (mode {:04o}, owner uid {})",
                            agent.name,
                            p.display(),
                            meta.mode() & 0o7777,
                            meta.uid()
                        )
                    });
                }
            }
            child_owner = Some(meta.uid());
        } else {
            child_owner = None;
        }
        if p == root {
            break;
        }
        current = p.parent();
    }
    None
}

/// How `agent` may write a file or directory with this metadata, if it may.
fn writes(meta: &std::fs::Metadata, agent: &Agent) -> Option<&'static str> {
    let mode = meta.mode();
    if meta.uid() == agent.uid {
        Some("owns")
    } else if mode & 0o020 != 0 && agent.groups.contains(&meta.gid()) {
        Some("may write (through its group)")
    } else if mode & 0o002 != 0 {
        Some("may write (everyone may)")
    } else {
        None
    }
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
    use super::*;
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
