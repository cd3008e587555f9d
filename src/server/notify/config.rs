//! The channels' part of the settings file: `[slack]`, `[teams]`, `[[webhook]]` and
//! `[delivery]`. Secrets (the bot token, the signing secret, the Teams URL, webhook secrets)
//! are read from files by the settings loader and kept as [`Secret`]s, never logged.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::super::config::{ConfigError, Secret};
use crate::server::outbox::{Notice, Route};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSlack {
    bot_token_file: Spanned<PathBuf>,
    signing_secret_file: Spanned<PathBuf>,
    channel: Spanned<String>,
    api_url: Option<Spanned<String>>,
    users: Option<Spanned<String>>,
    #[serde(default)]
    user: Vec<RawSlackUser>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSlackUser {
    id: String,
    approver: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTeams {
    webhook_url_file: Spanned<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    url: Spanned<String>,
    secret_file: Spanned<PathBuf>,
    events: Option<Spanned<Vec<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDelivery {
    retry_first_ms: Option<u64>,
    retry_max_ms: Option<u64>,
    give_up_after_secs: Option<u64>,
}

/// The configured channels; none by default.
#[derive(Clone, Debug, Default)]
pub struct Channels {
    pub slack: Option<SlackConfig>,
    pub teams: Option<TeamsConfig>,
    pub webhooks: Vec<WebhookConfig>,
    pub delivery: Delivery,
}

#[derive(Clone, Debug)]
pub struct SlackConfig {
    pub bot_token: Secret,
    pub signing_secret: Secret,
    /// The channel requests are posted to.
    pub channel: String,
    /// The Web API's base, without a trailing slash.
    pub api_url: String,
    /// Look a Slack user up by the email on their profile (`users.info`) when the static map
    /// does not name them.
    pub by_email: bool,
    /// `[[slack.user]]`: Slack user id → approver name.
    pub users: Vec<(String, String)>,
}

#[derive(Clone, Debug)]
pub struct TeamsConfig {
    /// The Workflows webhook URL: it carries its own signature, so it is a secret.
    pub webhook_url: Secret,
}

#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// The receiver's URL, kept secret (query strings often carry tokens).
    pub url: Secret,
    pub secret: Secret,
    pub events: Vec<Notice>,
    /// `webhook:` and the first 12 hex digits of the URL's SHA-256: how deliveries name it.
    pub channel: String,
}

/// Retries: the first wait, doubled each attempt up to the most, until the notice is older
/// than `give_up_after_secs`.
#[derive(Clone, Copy, Debug)]
pub struct Delivery {
    pub retry_first_ms: u64,
    pub retry_max_ms: u64,
    pub give_up_after_secs: u64,
}

impl Default for Delivery {
    fn default() -> Delivery {
        Delivery {
            retry_first_ms: 2_000,
            retry_max_ms: 300_000,
            give_up_after_secs: 24 * 3600,
        }
    }
}

/// What a webhook receives unless its `events` says otherwise.
const WEBHOOK_DEFAULT: [Notice; 6] = [
    Notice::Created,
    Notice::Approved,
    Notice::Denied,
    Notice::Expired,
    Notice::Cancelled,
    Notice::Outcome,
];

impl Channels {
    /// The outbox routes: which channel takes which notices. Teams gets the request and its
    /// final state (a Workflows webhook cannot update a card); Slack gets everything (its
    /// message is updated in place).
    pub fn routes(&self) -> Vec<Route> {
        let mut routes = Vec::new();
        if self.slack.is_some() {
            routes.push(Route {
                channel: "slack".into(),
                notices: Notice::ALL.to_vec(),
            });
        }
        if self.teams.is_some() {
            routes.push(Route {
                channel: "teams".into(),
                notices: vec![
                    Notice::Created,
                    Notice::Approved,
                    Notice::Denied,
                    Notice::Expired,
                    Notice::Cancelled,
                ],
            });
        }
        for hook in &self.webhooks {
            routes.push(Route {
                channel: hook.channel.clone(),
                notices: hook.events.clone(),
            });
        }
        routes
    }
}

/// The settings file's raw sections.
pub struct Raw<'a> {
    pub slack: Option<&'a Spanned<RawSlack>>,
    pub teams: Option<&'a Spanned<RawTeams>>,
    pub webhooks: &'a [Spanned<RawWebhook>],
    pub delivery: Option<&'a Spanned<RawDelivery>>,
}

/// How the settings loader reports an error, finds a file and reads a secret.
pub struct Loader<'a> {
    pub fail: &'a dyn Fn(Option<Range<usize>>, String) -> ConfigError,
    pub path: &'a dyn Fn(&Path) -> PathBuf,
    pub secret: &'a dyn Fn(&Path) -> Result<Secret, String>,
}

pub fn resolve(raw: Raw<'_>, load: &Loader<'_>) -> Result<Channels, ConfigError> {
    let fail = load.fail;
    let secret = |field: &str, file: &Spanned<PathBuf>| {
        (load.secret)(&(load.path)(file.get_ref()))
            .map_err(|why| fail(Some(file.span()), format!("field `{field}`: {why}")))
    };
    let url = |field: &str, text: &str, span: Range<usize>| {
        super::super::config::secure_url(text)
            .map_err(|why| fail(Some(span), format!("field `{field}`: {why}")))
    };
    let slack = match raw.slack {
        Some(spanned) => {
            let s = spanned.get_ref();
            let api_url = match &s.api_url {
                Some(u) => url("slack.api_url", u.get_ref(), u.span())?
                    .as_str()
                    .trim_end_matches('/')
                    .to_owned(),
                None => "https://slack.com/api".to_owned(),
            };
            let by_email = match &s.users {
                Some(u) if u.get_ref() == "email" => true,
                Some(u) => {
                    return Err(fail(
                        Some(u.span()),
                        format!(
                            "field `slack.users`: `{}` is not a way to map users\nhint: write users = \"email\", or list `[[slack.user]]` id and approver",
                            u.get_ref()
                        ),
                    ));
                }
                None => false,
            };
            if !by_email && s.user.is_empty() {
                return Err(fail(
                    Some(spanned.span()),
                    "`[slack]` does not say who its users are as approvers\nhint: add users = \"email\", or `[[slack.user]]` entries with id and approver".into(),
                ));
            }
            if s.channel.get_ref().trim().is_empty() {
                return Err(fail(
                    Some(s.channel.span()),
                    "field `slack.channel` is empty".into(),
                ));
            }
            Some(SlackConfig {
                bot_token: secret("slack.bot_token_file", &s.bot_token_file)?,
                signing_secret: secret("slack.signing_secret_file", &s.signing_secret_file)?,
                channel: s.channel.get_ref().clone(),
                api_url,
                by_email,
                users: s
                    .user
                    .iter()
                    .map(|u| (u.id.clone(), u.approver.clone()))
                    .collect(),
            })
        }
        None => None,
    };
    let teams = match raw.teams {
        Some(spanned) => {
            let t = spanned.get_ref();
            let webhook_url = secret("teams.webhook_url_file", &t.webhook_url_file)?;
            // Checked, but never echoed: the URL is the credential.
            super::super::config::secure_url(webhook_url.expose()).map_err(|_| {
                fail(
                    Some(t.webhook_url_file.span()),
                    "field `teams.webhook_url_file`: the file does not hold an https URL".into(),
                )
            })?;
            Some(TeamsConfig { webhook_url })
        }
        None => None,
    };
    let mut webhooks = Vec::new();
    for spanned in raw.webhooks {
        let w = spanned.get_ref();
        url("webhook.url", w.url.get_ref(), w.url.span())?;
        let events = match &w.events {
            Some(list) => list
                .get_ref()
                .iter()
                .map(|e| {
                    Notice::parse(e).ok_or_else(|| {
                        fail(
                            Some(list.span()),
                            format!(
                                "field `webhook.events`: `{e}` is not an event\nhint: choose from {}",
                                Notice::ALL.map(Notice::as_str).join(", ")
                            ),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => WEBHOOK_DEFAULT.to_vec(),
        };
        let hash = crate::audit::ledger::sha256_hex(w.url.get_ref().as_bytes());
        webhooks.push(WebhookConfig {
            url: Secret::new(w.url.get_ref().clone()),
            secret: secret("webhook.secret_file", &w.secret_file)?,
            events,
            channel: format!("webhook:{}", &hash[..12]),
        });
    }
    let mut delivery = Delivery::default();
    if let Some(d) = raw.delivery {
        let r = d.get_ref();
        delivery.retry_first_ms = r.retry_first_ms.unwrap_or(delivery.retry_first_ms).max(1);
        delivery.retry_max_ms = r
            .retry_max_ms
            .unwrap_or(delivery.retry_max_ms)
            .max(delivery.retry_first_ms);
        delivery.give_up_after_secs = r.give_up_after_secs.unwrap_or(delivery.give_up_after_secs);
    }
    Ok(Channels {
        slack,
        teams,
        webhooks,
        delivery,
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::server::config::parse;

    /// A directory with the secret files, mode 0600.
    fn secrets() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, value) in [
            ("bot", "xoxb-1"),
            ("signing", "s1"),
            ("hook", "h1"),
            ("teams", "https://prod.example/workflows/x?sig=credential"),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, value).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        dir
    }

    fn load(dir: &tempfile::TempDir, text: &str) -> Result<Channels, String> {
        parse(&dir.path().join("server.toml"), text)
            .map(|c| c.channels)
            .map_err(|e| e.to_string())
    }

    const SLACK: &str =
        "[slack]\nbot_token_file = \"bot\"\nsigning_secret_file = \"signing\"\nchannel = \"C1\"\n";

    #[test]
    fn channels_read_with_their_secrets_from_files_and_never_show_them() {
        let dir = secrets();
        let text = format!(
            "{SLACK}users = \"email\"\n[[slack.user]]\nid = \"U1\"\napprover = \"bob\"\n\n[teams]\nwebhook_url_file = \"teams\"\n\n[[webhook]]\nurl = \"https://hooks.example/x\"\nsecret_file = \"hook\"\nevents = [\"created\", \"denied\"]\n\n[delivery]\nretry_first_ms = 10\n"
        );
        let channels = load(&dir, &text).unwrap();
        let slack = channels.slack.as_ref().unwrap();
        assert_eq!(slack.bot_token.expose(), "xoxb-1");
        assert_eq!(slack.api_url, "https://slack.com/api");
        assert!(slack.by_email);
        assert_eq!(slack.users, [("U1".to_owned(), "bob".to_owned())]);
        assert_eq!(
            channels.webhooks[0].events,
            [Notice::Created, Notice::Denied]
        );
        assert!(channels.webhooks[0].channel.starts_with("webhook:"));
        assert_eq!(channels.delivery.retry_first_ms, 10);
        let routes: Vec<String> = channels.routes().into_iter().map(|r| r.channel).collect();
        assert_eq!(routes[..2], ["slack", "teams"]);
        let shown = format!("{channels:?}");
        for secret in ["xoxb-1", "s1\"", "h1\"", "credential", "hooks.example"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }

    #[test]
    fn mistakes_name_the_field_and_what_to_do() {
        let dir = secrets();
        let e = load(&dir, SLACK).unwrap_err();
        assert!(e.contains("does not say who its users are"), "{e}");
        let e = load(&dir, &format!("{SLACK}users = \"name\"\n")).unwrap_err();
        assert!(
            e.contains("field `slack.users`") && e.contains(":5:"),
            "{e}"
        );
        let e = load(
            &dir,
            &format!("{SLACK}users = \"email\"\napi_url = \"http://slack.example\"\n"),
        )
        .unwrap_err();
        assert!(
            e.contains("field `slack.api_url`") && e.contains("hint: use https"),
            "{e}"
        );
        let e = load(&dir, "[[webhook]]\nurl = \"https://h.example\"\nsecret_file = \"hook\"\nevents = [\"approve\"]\n").unwrap_err();
        assert!(
            e.contains("`approve` is not an event") && e.contains("hint: choose from"),
            "{e}"
        );
        // A secret readable by every user is refused.
        let open = dir.path().join("signing");
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = load(&dir, &format!("{SLACK}users = \"email\"\n")).unwrap_err();
        assert!(
            e.contains("field `slack.signing_secret_file`") && e.contains("readable by every user"),
            "{e}"
        );
    }
}
