//! `gatekeep login --server URL --oidc` against a real OpenID provider (npm `oidc-provider`,
//! see `support/oidc.rs`): the device flow (RFC 8628) and the loopback redirect (RFC 8252),
//! both run through the service, and step-up (`fresh_auth` on a rule, `max_age` at the
//! provider, `auth_time` checked when approving).
//!
//! The tests play the person with the support's screenless browser: they read the URL the
//! CLI prints, and drive the provider's user-code, login and confirm pages over HTTP.

#![expect(clippy::unwrap_used, reason = "a test fails loudly on setup errors")]

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use gatekeep::api::cli_login::{self as wire, LoopbackExchange, LoopbackStart, LoopbackStarted};
use gatekeep::api::protocol::State;
use gatekeep::approval::remote::{Client, RemoteError};
use serde_json::Value;
use tempfile::TempDir;

use crate::support::oidc::{Browser, CLIENT_SECRET, Provider, form, free_port, resolve};
use crate::support::service::{Machine, Pipe, Server, Waiting, text};

/// Touching `marker*` needs one approval from `sre`; touching `fresh*` also needs a sign-in
/// at the provider within the last 3 seconds.
const POLICY: &str = r#"
[[rule]]
id = "ask-marker"
decision = "approve"
risk = "high"
message = "Touching a marker needs approval."
program = ["touch"]
args = ["marker*"]
approvers = ["sre"]
timeout = 60

[[rule]]
id = "ask-fresh"
decision = "approve"
risk = "critical"
message = "Touching a fresh marker needs a fresh sign-in."
program = ["touch"]
args = ["fresh*"]
fresh_auth = 3
timeout = 60

[[rule]]
id = "ask-fresh-cli"
decision = "approve"
risk = "critical"
message = "Touching a CLI marker needs a sign-in within 12 s."
program = ["touch"]
args = ["cli-fresh*"]
fresh_auth = 12
timeout = 60
"#;

/// A provider and a gatekeep server that sends approvers to it (static approver tokens on,
/// so that step-up can be seen refusing one).
struct Idp {
    provider: Provider,
    server: Server,
    public: String,
    _config: TempDir,
}

impl Idp {
    fn start() -> Idp {
        Idp::start_offering(true)
    }

    /// `device: false`: a provider without the device authorization grant.
    fn start_offering(device: bool) -> Idp {
        let port = free_port();
        let public = format!("http://127.0.0.1:{port}");
        let provider = Provider::start_offering(&format!("{public}/auth/callback"), device);
        let config = tempfile::tempdir().unwrap();
        let secret = config.path().join("client-secret");
        std::fs::write(&secret, CLIENT_SECRET).unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        let file = config.path().join("server.toml");
        std::fs::write(
            &file,
            format!(
                "[web]\npublic_url = \"{public}\"\n\n[oidc]\nissuer = \"{}\"\nclient_id = \"gatekeep\"\nclient_secret_file = \"client-secret\"\nname_claim = \"email\"\ngroups_claim = \"groups\"\nallowed_groups = [\"sre\", \"platform\"]\n",
                provider.issuer
            ),
        )
        .unwrap();
        let mut server = Server::new(tempfile::tempdir().unwrap());
        server.port = port;
        server.options = vec!["--config".into(), file.display().to_string()];
        server.launch();
        Idp {
            provider,
            server,
            public,
            _config: config,
        }
    }

    /// `gatekeep login --server URL --key=KEY --oidc EXTRA...` on `machine`, running.
    fn cli_login(&self, machine: &Machine, extra: &[&str]) -> Waiting {
        let key = format!("--key={}", self.server.key_id);
        let mut child = machine
            .gk()
            .args(["login", "--server", &self.server.url, &key, "--oidc"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Pipe::collect(child.stderr.take().unwrap());
        Waiting { child, stderr }
    }

    fn anonymous(&self) -> Client {
        Client::new(&self.server.url, None)
    }
}

/// Drives the provider's pages from `url` as `login` would in a browser: follows redirects,
/// fills the login form, confirms the device code (or aborts it with `abort`). Stops at the
/// first redirect that leaves the places in `stay` (returned), or at a page with no form
/// (the device flow's end, returned as its body).
fn drive(browser: &mut Browser, url: &str, login: &str, abort: bool, stay: &[&str]) -> String {
    drive_counting(browser, url, login, abort, stay).0
}

/// [`drive`], also telling whether the provider showed its login form.
fn drive_counting(
    browser: &mut Browser,
    url: &str,
    login: &str,
    abort: bool,
    stay: &[&str],
) -> (String, bool) {
    let mut asked = false;
    let mut url = url.to_owned();
    let mut answer = browser.get(&url);
    let mut aborted = false;
    for _ in 0..30 {
        match answer.status {
            301..=303 | 307 | 308 => {
                let next = answer.location.clone().unwrap();
                if !stay.iter().any(|s| next.starts_with(s)) {
                    return (next, asked);
                }
                url = next;
                answer = browser.get(&url);
            }
            // After an abort the provider shows its user-code form again, with the error.
            200 if answer.body.contains("<form") && !aborted => {
                let (action, mut fields) = form(&answer.body);
                for (name, value) in &mut fields {
                    match name.as_str() {
                        "login" => {
                            *value = login.to_owned();
                            asked = true;
                        }
                        "password" => *value = "any".to_owned(),
                        _ => {}
                    }
                }
                if abort && fields.iter().any(|(n, _)| n == "confirm") {
                    fields.push(("abort".into(), "yes".into()));
                    aborted = true;
                }
                url = resolve(&url, &action);
                answer = browser.post_form(&url, &fields);
            }
            200 => return (answer.body, asked),
            _ => panic!(
                "unexpected answer {} at {url}:\n{}",
                answer.status, answer.body
            ),
        }
    }
    panic!("no end after 30 steps from {url}");
}

/// The URL the CLI printed for the person to open.
fn printed_url(login: &mut Waiting) -> String {
    login.wait_for("to sign in, open");
    let line = login.stderr.line_after("gatekeep: to sign in, open");
    line.split_whitespace().next().unwrap().to_owned()
}

#[test]
fn a_device_sign_in_stores_a_session_that_approves() {
    let idp = Idp::start();
    let bob = Machine::new("bob");
    let mut login = idp.cli_login(&bob, &[]);
    // The device flow's complete URL carries the user code; the person opens it anywhere.
    let url = printed_url(&mut login);
    assert!(url.contains("user_code="), "{url}");
    let err = login.stderr();
    assert!(err.contains("and enter the code "), "{err}");
    let mut browser = Browser::default();
    let end = drive(&mut browser, &url, "bob", false, &[&idp.provider.issuer]);
    assert!(end.contains("Sign-in Success"), "{end}");
    let (code, err) = login.finish();
    assert_eq!(code, Some(0), "{err}");

    // The stored session is an approver from the provider.
    let me = bob.run(&["whoami"]);
    assert!(me.status.success(), "{}", text(&me));
    assert!(text(&me).contains("bob@example.com"), "{}", text(&me));

    // `gatekeep approve` with it decides, through the CLI channel, with the IdP login on
    // the record.
    let agent = Machine::with_policy("agent-user", POLICY);
    agent.login(&idp.server, &idp.server.agent_token());
    let mut waiting = agent.exec("touch marker");
    let id = waiting.request_id();
    let out = bob.run(&["approve", &id]);
    assert!(out.status.success(), "{}", text(&out));
    let (code, err) = waiting.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(agent.file("marker").exists());
    let events = idp.server.audit_events();
    let signed_in = events.iter().find(|e| e["kind"] == "signed_in").unwrap();
    assert_eq!(signed_in["channel"], "cli", "{signed_in}");
    let approved = events.iter().find(|e| e["kind"] == "approved").unwrap();
    assert_eq!(approved["actor"], "bob@example.com", "{approved}");
    assert_eq!(approved["channel"], "cli", "{approved}");
    assert_eq!(approved["detail"]["idp"]["subject"], "bob", "{approved}");
}

#[test]
fn a_device_sign_in_denied_at_the_provider_fails() {
    let idp = Idp::start();
    let bob = Machine::new("bob");
    let mut login = idp.cli_login(&bob, &[]);
    let url = printed_url(&mut login);
    let mut browser = Browser::default();
    let end = drive(&mut browser, &url, "bob", true, &[&idp.provider.issuer]);
    assert!(!end.contains("Sign-in Success"), "{end}");
    let (code, err) = login.finish();
    assert_ne!(code, Some(0), "{err}");
    assert!(err.contains("denied at the identity provider"), "{err}");
    let me = bob.run(&["whoami"]);
    assert!(!me.status.success(), "{}", text(&me));
}

#[test]
fn a_loopback_sign_in_stores_a_session_and_its_code_works_once() {
    let idp = Idp::start();
    let carol = Machine::new("carol");
    let mut login = idp.cli_login(&carol, &["--no-device"]);
    login.wait_for("open this URL in a browser");
    let url = login.stderr.line_after("  ");
    assert!(
        url.starts_with(&format!("{}/auth/login?cli=", idp.public)),
        "{url}"
    );
    let mut browser = Browser::default();
    // The browser is sent back to the CLI's loopback listener with a one-time code.
    let back = drive(
        &mut browser,
        &url,
        "carol",
        false,
        &[&idp.provider.issuer, &idp.public],
    );
    assert!(back.starts_with("http://127.0.0.1:"), "{back}");
    let code = back.split_once("code=").unwrap().1.to_owned();
    let page = browser.get(&back);
    assert_eq!(page.status, 200, "{}", page.body);
    let (status, err) = login.finish();
    assert_eq!(status, Some(0), "{err}");
    let me = carol.run(&["whoami"]);
    assert!(text(&me).contains("carol@example.com"), "{}", text(&me));

    // The code again, even with a verifier: spent.
    let replay = LoopbackExchange {
        code,
        code_verifier: "x".repeat(43),
    };
    match idp
        .anonymous()
        .call::<Value>("POST", wire::LOOPBACK_TOKEN, Some(&replay))
    {
        Err(RemoteError::Refused {
            status: 400,
            message,
        }) => {
            assert!(message.contains("already used"), "{message}");
        }
        other => panic!("a replayed code was accepted: {other:?}"),
    }
}

/// A provider without a device endpoint: `login --oidc` says so and signs in through the
/// browser instead.
#[test]
fn without_a_device_endpoint_the_cli_falls_back_to_a_loopback_redirect() {
    let idp = Idp::start_offering(false);
    let alice = Machine::new("alice");
    let mut login = idp.cli_login(&alice, &[]);
    login.wait_for("open this URL in a browser");
    assert!(
        login
            .stderr()
            .contains("has no device sign-in; signing in through a browser instead"),
        "{}",
        login.stderr()
    );
    let url = login.stderr.line_after("  ");
    let mut browser = Browser::default();
    let back = drive(
        &mut browser,
        &url,
        "alice",
        false,
        &[&idp.provider.issuer, &idp.public],
    );
    assert_eq!(browser.get(&back).status, 200);
    let (code, err) = login.finish();
    assert_eq!(code, Some(0), "{err}");
    let me = alice.run(&["whoami"]);
    assert!(text(&me).contains("alice@example.com"), "{}", text(&me));
}

/// The test plays a CLI: a code redeemed with the wrong verifier is refused and burnt (the
/// right one cannot use it after), and only loopback addresses are redirect targets.
#[test]
fn a_wrong_verifier_or_a_non_loopback_redirect_is_refused() {
    let idp = Idp::start();
    let client = idp.anonymous();
    for bad in [
        "http://evil.example:8080/cb",
        "http://localhost:8080/cb",
        "https://127.0.0.1:8080/cb",
        "http://10.1.2.3:8080/cb",
    ] {
        let start = LoopbackStart {
            redirect_uri: bad.into(),
            code_challenge: wire::challenge("v"),
            max_age: None,
        };
        match client.call::<LoopbackStarted>("POST", wire::LOOPBACK, Some(&start)) {
            Err(RemoteError::Refused {
                status: 400,
                message,
            }) => {
                assert!(message.contains("not a loopback redirect"), "{message}");
            }
            other => panic!("{bad} was accepted as a redirect: {other:?}"),
        }
    }

    let verifier = "the-right-verifier-0123456789-abcdefghijklmn";
    let port = free_port();
    let start = LoopbackStart {
        redirect_uri: format!("http://127.0.0.1:{port}/cb"),
        code_challenge: wire::challenge(verifier),
        max_age: None,
    };
    let started: LoopbackStarted = client.call("POST", wire::LOOPBACK, Some(&start)).unwrap();
    let mut browser = Browser::default();
    let back = drive(
        &mut browser,
        &started.url,
        "alice",
        false,
        &[&idp.provider.issuer, &idp.public],
    );
    assert!(
        back.starts_with(&format!("http://127.0.0.1:{port}/cb?code=")),
        "{back}"
    );
    let code = back.split_once("code=").unwrap().1.to_owned();
    let exchange = |verifier: &str| {
        client.call::<Value>(
            "POST",
            wire::LOOPBACK_TOKEN,
            Some(&LoopbackExchange {
                code: code.clone(),
                code_verifier: verifier.into(),
            }),
        )
    };
    match exchange("another-verifier-0123456789-abcdefghijklmnop") {
        Err(RemoteError::Refused {
            status: 403,
            message,
        }) => {
            assert!(message.contains("verifier does not match"), "{message}");
        }
        other => panic!("a wrong verifier was accepted: {other:?}"),
    }
    match exchange(verifier) {
        Err(RemoteError::Refused { status: 400, .. }) => {}
        other => panic!("a code survived a wrong verifier: {other:?}"),
    }
    // The handle in the URL was used by that browser: opening it again starts nothing.
    let again = Browser::default().get(&started.url);
    assert_eq!(again.status, 400, "{}", again.body);
}

/// Step-up: a rule with `fresh_auth = 3` refuses a static approver token and a session
/// signed in more than 3 s ago, with a typed error that says how to sign in again; a sign-in
/// at `/auth/login?max_age=3` makes the provider ask for the password again, and that
/// session approves.
#[test]
fn an_old_sign_in_is_refused_for_fresh_auth_and_a_fresh_one_approves() {
    let idp = Idp::start();
    let agent = Machine::with_policy("agent-user", POLICY);
    agent.login(&idp.server, &idp.server.agent_token());
    let mut waiting = agent.exec("touch fresh-marker");
    let id = waiting.request_id();
    // The request carries the step-up to the service, inside what is shown and signed.
    let view = agent.show(&id);
    assert_eq!(view.ask.fresh_auth, Some(3));

    let static_token = idp.server.approver_token("dave", "sre");
    match Client::new(&idp.server.url, Some(static_token)).decide(&id, true, None) {
        Err(RemoteError::Refused {
            status: 401,
            message,
        }) => {
            assert!(message.contains("static approver token"), "{message}");
        }
        other => panic!("a static token passed step-up: {other:?}"),
    }

    let mut browser = Browser::default();
    let callback = drive(
        &mut browser,
        &format!("{}/auth/login", idp.public),
        "bob",
        false,
        &[&idp.provider.issuer, &format!("{}/auth/login", idp.public)],
    );
    assert_eq!(browser.get(&callback).status, 200);
    let old = browser.cookie(&idp.public, "gk_session").unwrap();
    std::thread::sleep(std::time::Duration::from_secs(4));
    match Client::new(&idp.server.url, Some(old.clone())).decide(&id, true, None) {
        Err(RemoteError::Refused {
            status: 401,
            message,
        }) => {
            assert!(message.contains("fresh_auth = 3"), "{message}");
            assert!(message.contains("/auth/login?max_age=3"), "{message}");
            assert!(
                message.contains("gatekeep login --server URL --oidc --max-age 3"),
                "{message}"
            );
        }
        other => panic!("an old sign-in passed step-up: {other:?}"),
    }
    // A denial needs no step-up, but this one waits for the fresh approval.
    let refused = idp
        .server
        .audit_events()
        .into_iter()
        .filter(|e| e["kind"] == "refused" && e["detail"]["action"] == "approve")
        .count();
    assert_eq!(refused, 2);

    // Signing in again with max_age: the provider's session is older than 3 s, so it shows
    // its login form again (the browser still holds that session's cookie).
    let before = gatekeep::api::verdict::unix_now();
    let login = format!("{}/auth/login?max_age=3", idp.public);
    let first = browser.get(&login);
    let at_provider = first.location.unwrap();
    assert!(at_provider.contains("max_age=3"), "{at_provider}");
    let mut asked_for_password = false;
    let mut answer = browser.get(&at_provider);
    let mut url = at_provider;
    let callback = loop {
        match answer.status {
            301..=303 | 307 | 308 => {
                let next = answer.location.clone().unwrap();
                if next.starts_with(&format!("{}/auth/callback", idp.public)) {
                    break next;
                }
                url = next;
                answer = browser.get(&url);
            }
            200 if answer.body.contains("<form") => {
                let (action, mut fields) = form(&answer.body);
                for (name, value) in &mut fields {
                    if name == "login" {
                        *value = "bob".into();
                        asked_for_password = true;
                    } else if name == "password" {
                        *value = "any".into();
                    }
                }
                url = resolve(&url, &action);
                answer = browser.post_form(&url, &fields);
            }
            _ => panic!(
                "unexpected answer {} at {url}:\n{}",
                answer.status, answer.body
            ),
        }
    };
    assert!(asked_for_password, "the provider did not honour max_age");
    assert_eq!(browser.get(&callback).status, 200);
    let fresh = browser.cookie(&idp.public, "gk_session").unwrap();
    assert_ne!(fresh, old);
    let view = Client::new(&idp.server.url, Some(fresh))
        .decide(&id, true, None)
        .unwrap();
    assert_eq!(view.state, State::Approved);
    let (code, err) = waiting.finish();
    assert_eq!(code, Some(0), "{err}");
    let approved = idp
        .server
        .audit_events()
        .into_iter()
        .find(|e| e["kind"] == "approved")
        .unwrap();
    let auth_time = approved["detail"]["idp"]["auth_time"].as_u64().unwrap();
    assert!(auth_time + 1 >= before, "{approved}");
}

/// Step-up from the terminal: an approval with a sign-in older than the rule's `fresh_auth`
/// is refused with the command to run; `gatekeep login --oidc --max-age N` then makes the
/// provider ask for the password again (its session is older than N), and the new session
/// approves. (`fresh_auth = 12` leaves room for the device flow's 5 s polling.)
#[test]
fn a_terminal_approver_steps_up_with_login_max_age() {
    let idp = Idp::start();
    let bob = Machine::new("bob");
    let mut browser = Browser::default();
    let mut login = idp.cli_login(&bob, &[]);
    let url = printed_url(&mut login);
    let (_, asked) = drive_counting(&mut browser, &url, "bob", false, &[&idp.provider.issuer]);
    assert!(asked);
    let (code, err) = login.finish();
    assert_eq!(code, Some(0), "{err}");

    let agent = Machine::with_policy("agent-user", POLICY);
    agent.login(&idp.server, &idp.server.agent_token());
    let mut waiting = agent.exec("touch cli-fresh-marker");
    let id = waiting.request_id();
    std::thread::sleep(std::time::Duration::from_secs(13));
    let out = bob.run(&["approve", &id]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("gatekeep login --server URL --oidc --max-age 12"),
        "{}",
        text(&out)
    );

    // Signing in again without max_age: the provider's session still stands, no password
    // is asked, and the sign-in time it reports is the old one: still refused.
    let mut login = idp.cli_login(&bob, &[]);
    let url = printed_url(&mut login);
    let (_, asked) = drive_counting(&mut browser, &url, "bob", false, &[&idp.provider.issuer]);
    assert!(!asked);
    let (code, err) = login.finish();
    assert_eq!(code, Some(0), "{err}");
    let out = bob.run(&["approve", &id]);
    assert!(text(&out).contains("--max-age 12"), "{}", text(&out));

    let mut login = idp.cli_login(&bob, &["--max-age", "12"]);
    let url = printed_url(&mut login);
    let (_, asked) = drive_counting(&mut browser, &url, "bob", false, &[&idp.provider.issuer]);
    assert!(asked, "the provider did not honour max_age");
    let (code, err) = login.finish();
    assert_eq!(code, Some(0), "{err}");
    let out = bob.run(&["approve", &id]);
    assert!(out.status.success(), "{}", text(&out));
    let (code, err) = waiting.finish();
    assert_eq!(code, Some(0), "{err}");
}

/// `fresh_auth` in the layers: the strictest of the rules that fire wins, so a lower layer
/// can add one or a smaller one (tighten) but never lengthen or drop the system's; a rule
/// with it cannot be approved at the terminal; 0 is refused.
#[test]
fn fresh_auth_only_tightens_across_layers() {
    use crate::support::policy::{layer, load};
    use gatekeep::journey::{self, Command};
    use gatekeep::policy::LayerKind;

    let rule = |id: &str, fresh: u64| {
        format!(
            "[[rule]]\nid = \"{id}\"\ndecision = \"approve\"\nrisk = \"high\"\nmessage = \"deploys\"\nprogram = [\"make\"]\nargs = [\"deploy\"]\nfresh_auth = {fresh}\n"
        )
    };
    let requirements = |layers: &[(gatekeep::policy::Layer, String)]| {
        let policy = load(layers).unwrap();
        journey::assess(&Command::Shell("make deploy".into()), &policy)
            .requirements
            .unwrap()
    };
    let system = layer(LayerKind::System, &rule("sys-deploy", 600));
    let only = requirements(std::slice::from_ref(&system));
    assert_eq!((only.fresh_auth, only.local_approval), (Some(600), false));
    let tighter = requirements(&[system.clone(), layer(LayerKind::Project, &rule("p", 60))]);
    assert_eq!(tighter.fresh_auth, Some(60));
    let looser = requirements(&[system, layer(LayerKind::Env, &rule("e", 3600))]);
    assert_eq!(looser.fresh_auth, Some(600));
    // A rule without it next to one with it: the step-up stays.
    let plain = "[[rule]]\nid = \"u\"\ndecision = \"approve\"\nrisk = \"high\"\nmessage = \"m\"\nprogram = [\"make\"]\n";
    let mixed = requirements(&[
        layer(LayerKind::User, plain),
        layer(LayerKind::Project, &rule("p", 60)),
    ]);
    assert_eq!(mixed.fresh_auth, Some(60));
    let none = requirements(&[layer(LayerKind::User, plain)]);
    assert_eq!((none.fresh_auth, none.local_approval), (None, true));
    let err = load(&[layer(LayerKind::User, &rule("zero", 0))])
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("fresh_auth must be at least 1"), "{err}");
}

/// `allowed_groups` holds for the terminal too: mallory (marketing) signs in at the
/// provider both ways, gets no session, and the CLI says why instead of waiting.
#[test]
fn a_terminal_sign_in_outside_the_allowed_groups_is_refused() {
    let idp = Idp::start();
    let mallory = Machine::new("mallory");
    let mut login = idp.cli_login(&mallory, &[]);
    let url = printed_url(&mut login);
    let end = drive(
        &mut Browser::default(),
        &url,
        "mallory",
        false,
        &[&idp.provider.issuer],
    );
    assert!(end.contains("Sign-in Success"), "{end}");
    let (code, err) = login.finish();
    assert_ne!(code, Some(0), "{err}");
    assert!(err.contains("none of the groups"), "{err}");

    let mut login = idp.cli_login(&mallory, &["--no-device"]);
    login.wait_for("open this URL in a browser");
    let url = login.stderr.line_after("  ");
    let mut browser = Browser::default();
    let back = drive(
        &mut browser,
        &url,
        "mallory",
        false,
        &[&idp.provider.issuer, &idp.public],
    );
    assert!(back.contains("error=access_denied"), "{back}");
    assert_eq!(browser.get(&back).status, 403);
    let (code, err) = login.finish();
    assert_ne!(code, Some(0), "{err}");
    assert!(err.contains("none of the groups"), "{err}");
    assert!(!mallory.run(&["whoami"]).status.success());
    let refusals = idp
        .server
        .audit_events()
        .into_iter()
        .filter(|e| e["kind"] == "refused" && e["actor"] == "oidc:mallory")
        .count();
    assert_eq!(refusals, 2);
}
