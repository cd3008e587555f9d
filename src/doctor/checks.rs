//! The checks, one function per thing `gatekeep doctor` looks at.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::access::writable_by;
use super::{Agent, Check, PROXY_VARS, Paths, Status, Tokens};
use crate::approval::credentials::Stored;
use crate::approval::remote::{self, ServerConfig};
use crate::audit::redact;

/// Which file pins the server key, whether the agent can write it or a directory above it,
/// and whether the URL is https or loopback.
pub(super) fn server_checks(
    paths: &Paths,
    agent: &Agent,
    checks: &mut Vec<Check>,
) -> Option<ServerConfig> {
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

pub(super) fn url_check(config: &ServerConfig) -> Check {
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

pub(super) fn credentials_check(
    paths: &Paths,
    server: Option<&ServerConfig>,
    tokens: &Tokens,
) -> Check {
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
pub(super) fn ledger_check(paths: &Paths, agent: &Agent) -> Check {
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
pub(super) fn env_checks(env: &[(String, String)]) -> Vec<Check> {
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
pub(super) fn policy_checks(paths: &Paths, agent: &Agent) -> Vec<Check> {
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
