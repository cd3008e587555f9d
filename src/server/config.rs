//! `gatekeep server --config FILE`: the service's settings file (TOML).
//!
//! It may set what the flags set (`listen`, `data`, `database`, `database_password_file`,
//! `key_encryption_key_file`, `tls_cert`, `tls_key`; a flag given on the command line wins)
//! and what only a file can: the public URL, the OpenID Connect provider and whether static
//! approver tokens may still decide. Secrets are named by file (`client_secret_file`,
//! `database_password_file`, `key_encryption_key_file`) and read where used, never taken
//! from the command line, and [`Secret`] never shows them in `Debug` output or logs.
//!
//! A file that does not read or validate stops the server before it listens: every error
//! names the file, the line and column, and the field (toml's spans locate them). Relative
//! paths are taken from the file's own directory, as a reader of the file expects.

use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

/// A secret read from a file: its `Debug` says only that it is there.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    /// The secret itself, for the one place that sends it (the token request).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

/// The validated settings.
#[derive(Clone, Debug, Default)]
pub struct ServerConfig {
    pub listen: Option<SocketAddr>,
    pub data: Option<PathBuf>,
    /// `database`: a `postgres://` URL (several replicas on one database).
    pub database: Option<String>,
    /// `database_password_file`: the password for a `database` URL without one.
    pub database_password_file: Option<PathBuf>,
    /// `key_encryption_key_file`: the key that seals the signing keys kept in PostgreSQL.
    pub key_encryption_key_file: Option<PathBuf>,
    pub tls: Option<(PathBuf, PathBuf)>,
    /// `[web] public_url`, without a trailing slash.
    pub public_url: Option<url::Url>,
    pub oidc: Option<OidcConfig>,
    /// `[auth] static_approver_tokens` (default true).
    pub static_approver_tokens: bool,
    /// Slack, Teams, webhooks and their delivery (see `super::notify`).
    pub channels: super::notify::config::Channels,
}

/// `[oidc]`.
#[derive(Clone, Debug)]
pub struct OidcConfig {
    /// The issuer exactly as configured (compared byte for byte with discovery and `iss`).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub name_claim: String,
    pub groups_claim: String,
    /// Empty: anyone the provider admits.
    pub allowed_groups: Vec<String>,
}

/// Why a settings file was refused.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {message}", file.display(), at.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
pub struct ConfigError {
    pub file: PathBuf,
    /// Line and column (1-based), when the error has a place in the file.
    pub at: Option<(usize, usize)>,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Option<Spanned<String>>,
    data: Option<PathBuf>,
    database: Option<Spanned<String>>,
    database_password_file: Option<PathBuf>,
    key_encryption_key_file: Option<PathBuf>,
    tls_cert: Option<Spanned<PathBuf>>,
    tls_key: Option<Spanned<PathBuf>>,
    web: Option<RawWeb>,
    oidc: Option<Spanned<RawOidc>>,
    auth: Option<RawAuth>,
    slack: Option<Spanned<super::notify::config::RawSlack>>,
    teams: Option<Spanned<super::notify::config::RawTeams>>,
    #[serde(default)]
    webhook: Vec<Spanned<super::notify::config::RawWebhook>>,
    delivery: Option<Spanned<super::notify::config::RawDelivery>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWeb {
    public_url: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOidc {
    issuer: Spanned<String>,
    client_id: Spanned<String>,
    client_secret_file: Spanned<PathBuf>,
    name_claim: Option<Spanned<String>>,
    groups_claim: Option<Spanned<String>>,
    #[serde(default)]
    allowed_groups: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    static_approver_tokens: Option<Spanned<bool>>,
}

/// Reads and validates the settings file at `path`.
pub fn load(path: &Path) -> Result<ServerConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_owned(),
        at: None,
        message: format!("cannot read the server settings: {e}"),
    })?;
    parse(path, &text)
}

/// Validates `text`, the contents of `path` (relative paths in it are taken from its
/// directory; secret files are read).
pub fn parse(path: &Path, text: &str) -> Result<ServerConfig, ConfigError> {
    let fail = |span: Option<Range<usize>>, message: String| ConfigError {
        file: path.to_owned(),
        at: span.map(|s| line_col(text, s.start)),
        message,
    };
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let field = e.span().and_then(|s| field_at(text, s.start));
        let message = match field {
            Some(field) => format!("field `{field}`: {}", e.message().trim()),
            None => e.message().trim().to_owned(),
        };
        fail(e.span(), message)
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let resolve = |p: &Path| {
        if p.is_absolute() {
            p.to_owned()
        } else {
            base.join(p)
        }
    };

    let listen = match &raw.listen {
        Some(listen) => Some(listen.get_ref().parse::<SocketAddr>().map_err(|e| {
            fail(
                Some(listen.span()),
                format!(
                    "field `listen`: `{}` is not an address and port ({e})\nhint: write it as \"127.0.0.1:8700\"",
                    listen.get_ref()
                ),
            )
        })?),
        None => None,
    };
    let database = match &raw.database {
        Some(url) if !super::backend::is_postgres(url.get_ref()) => {
            return Err(fail(
                Some(url.span()),
                format!(
                    "field `database`: {} is not a postgres:// URL\nhint: leave `database` out for SQLite in the data directory",
                    super::postgres::masked(url.get_ref())
                ),
            ));
        }
        Some(url) => Some(url.get_ref().clone()),
        None => None,
    };
    let tls = match (&raw.tls_cert, &raw.tls_key) {
        (Some(cert), Some(key)) => Some((resolve(cert.get_ref()), resolve(key.get_ref()))),
        (None, None) => None,
        (Some(one), None) | (None, Some(one)) => {
            return Err(fail(
                Some(one.span()),
                "`tls_cert` and `tls_key` go together: set both or neither".into(),
            ));
        }
    };

    let public_url = match raw.web.as_ref().and_then(|w| w.public_url.as_ref()) {
        Some(u) => {
            let url = secure_url(u.get_ref())
                .map_err(|why| fail(Some(u.span()), format!("field `web.public_url`: {why}")))?;
            if url.query().is_some() || url.fragment().is_some() || url.path() != "/" {
                return Err(fail(
                    Some(u.span()),
                    "field `web.public_url`: give the service's origin only (scheme, host and port), without a path, query or fragment".into(),
                ));
            }
            Some(url)
        }
        None => None,
    };

    let oidc = match &raw.oidc {
        Some(spanned) => {
            let o = spanned.get_ref();
            let issuer = o.issuer.get_ref();
            secure_url(issuer).map_err(|why| {
                fail(Some(o.issuer.span()), format!("field `oidc.issuer`: {why}"))
            })?;
            if public_url.is_none() {
                return Err(fail(
                    Some(spanned.span()),
                    "`[oidc]` needs `[web] public_url`: the provider sends people back to public_url + \"/auth/callback\"".into(),
                ));
            }
            if o.client_id.get_ref().trim().is_empty() {
                return Err(fail(
                    Some(o.client_id.span()),
                    "field `oidc.client_id` is empty".into(),
                ));
            }
            let secret_path = resolve(o.client_secret_file.get_ref());
            let secret = read_secret(&secret_path).map_err(|why| {
                fail(
                    Some(o.client_secret_file.span()),
                    format!("field `oidc.client_secret_file`: {why}"),
                )
            })?;
            let claim = |c: &Option<Spanned<String>>, field: &str, default: &str| match c {
                Some(c) if c.get_ref().trim().is_empty() => Err(fail(
                    Some(c.span()),
                    format!("field `oidc.{field}` is empty"),
                )),
                Some(c) => Ok(c.get_ref().clone()),
                None => Ok(default.to_owned()),
            };
            let mut allowed_groups = Vec::new();
            for g in &o.allowed_groups {
                super::names::validate("the group", g.get_ref()).map_err(|why| {
                    fail(
                        Some(g.span()),
                        format!("field `oidc.allowed_groups`: {why}"),
                    )
                })?;
                allowed_groups.push(g.get_ref().clone());
            }
            Some(OidcConfig {
                issuer: issuer.clone(),
                client_id: o.client_id.get_ref().clone(),
                client_secret: secret,
                name_claim: claim(&o.name_claim, "name_claim", "email")?,
                groups_claim: claim(&o.groups_claim, "groups_claim", "groups")?,
                allowed_groups,
            })
        }
        None => None,
    };

    let static_approver_tokens = match raw
        .auth
        .as_ref()
        .and_then(|a| a.static_approver_tokens.as_ref())
    {
        Some(flag) => {
            if !*flag.get_ref() && oidc.is_none() {
                return Err(fail(
                    Some(flag.span()),
                    "field `auth.static_approver_tokens` is false but there is no `[oidc]`: nobody could approve or deny anything\nhint: configure `[oidc]`, or keep static approver tokens".into(),
                ));
            }
            *flag.get_ref()
        }
        None => true,
    };

    let channels = super::notify::config::resolve(
        super::notify::config::Raw {
            slack: raw.slack.as_ref(),
            teams: raw.teams.as_ref(),
            webhooks: &raw.webhook,
            delivery: raw.delivery.as_ref(),
        },
        &super::notify::config::Loader {
            fail: &fail,
            path: &resolve,
            secret: &read_secret,
        },
    )?;

    Ok(ServerConfig {
        listen,
        data: raw.data.as_deref().map(resolve),
        database,
        database_password_file: raw.database_password_file.as_deref().map(resolve),
        key_encryption_key_file: raw.key_encryption_key_file.as_deref().map(resolve),
        tls,
        public_url,
        oidc,
        static_approver_tokens,
        channels,
    })
}

/// `text` as a URL that is `https`, or `http` to a loopback host only (tests, a proxy on the
/// same machine): anything else would carry codes, tokens and cookies in the clear.
pub(crate) fn secure_url(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|e| format!("`{text}` is not a URL ({e})"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("a URL must not carry credentials".into());
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(format!(
            "`{text}` is plain http to a host that is not loopback: logins and sessions would cross the network readable\nhint: use https"
        )),
        other => Err(format!("`{text}` has the scheme `{other}`; use https")),
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// The secret in `path`, trimmed: the file must be readable, not empty, and not readable by
/// every user of the machine.
fn read_secret(path: &Path) -> Result<Secret, String> {
    use std::os::unix::fs::PermissionsExt;
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if meta.permissions().mode() & 0o004 != 0 {
        return Err(format!(
            "{} is readable by every user (mode {:o}); a client secret must not be\nhint: chmod 600 {} (or 640 with the server's group)",
            path.display(),
            meta.permissions().mode() & 0o777,
            path.display()
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let secret = text.trim();
    if secret.is_empty() {
        return Err(format!("{} is empty", path.display()));
    }
    Ok(Secret(secret.to_owned()))
}

/// 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, col)
}

/// The dotted name of the key whose value starts at `offset` (`oidc.issuer`), read from the
/// line and the table header above it: toml's type errors point at the value, not the key.
fn field_at(text: &str, offset: usize) -> Option<String> {
    let start = text[..offset.min(text.len())]
        .rfind('\n')
        .map_or(0, |nl| nl + 1);
    let line = &text[start..];
    let line = line.lines().next().unwrap_or("");
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    if key.is_empty() || key.starts_with('[') {
        return None;
    }
    let table = text[..start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && !l.starts_with("[["))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned());
    Some(match table {
        Some(t) if !t.is_empty() => format!("{t}.{key}"),
        _ => key.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(Path::new("/etc/gk/server.toml"), text)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn unknown_keys_and_wrong_types_name_line_and_field() {
        let e = err("listen = \"127.0.0.1:1\"\n[web]\npublic_urll = \"https://x\"\n");
        assert!(e.starts_with("/etc/gk/server.toml:3:1: "), "{e}");
        assert!(e.contains("public_urll"), "{e}");
        let e = err("[auth]\nstatic_approver_tokens = \"no\"\n");
        assert!(e.starts_with("/etc/gk/server.toml:2:"), "{e}");
        assert!(e.contains("auth.static_approver_tokens"), "{e}");
    }

    #[test]
    fn plain_http_is_for_loopback_only() {
        let e = err("[web]\npublic_url = \"http://gk.example.com\"\n");
        assert!(e.contains(":2:14: field `web.public_url`"), "{e}");
        for ok in [
            "https://gk.example.com",
            "http://127.0.0.1:8700",
            "http://[::1]:1",
            "http://localhost:9",
        ] {
            let cfg = parse(
                Path::new("/x.toml"),
                &format!("[web]\npublic_url = \"{ok}\"\n"),
            )
            .unwrap();
            assert!(cfg.public_url.is_some());
        }
    }

    #[test]
    fn the_database_is_a_postgres_url_shown_without_its_password() {
        let cfg = parse(
            Path::new("/etc/gk/server.toml"),
            "database = \"postgres://gk@db.example/gatekeep\"\ndatabase_password_file = \"db.pw\"\nkey_encryption_key_file = \"keys/kek\"\n",
        )
        .unwrap();
        assert_eq!(
            cfg.key_encryption_key_file,
            Some(PathBuf::from("/etc/gk/keys/kek"))
        );
        assert_eq!(
            cfg.database.as_deref(),
            Some("postgres://gk@db.example/gatekeep")
        );
        assert_eq!(
            cfg.database_password_file,
            Some(PathBuf::from("/etc/gk/db.pw"))
        );
        let e = err("database = \"mysql://gk:s3cret@db.example/gatekeep\"\n");
        assert!(e.contains(":1:12: field `database`"), "{e}");
        assert!(!e.contains("s3cret") && e.contains("***"), "{e}");
    }

    #[test]
    fn secrets_never_show_in_debug() {
        assert_eq!(
            format!("{:?}", Secret("hunter2".into())),
            "Secret(redacted)"
        );
    }
}
