//! Approvers signing in through a real OpenID provider (npm `oidc-provider`, see
//! `support/oidc.rs`) with the authorization code flow, PKCE and `state`, and deciding with
//! the approver session that gatekeep issues.
//!
//! Tokens the provider would never issue (for another audience, expired, with a foreign
//! `nonce` or an HMAC algorithm) are signed by the test with the provider's own key, whose
//! private half the test made, and checked by the server's validator
//! (`gatekeep::server::oidc::Oidc::verify_id_token`) against the live provider's discovery
//! and JWKS: the provider itself only signs good tokens, and the token endpoint's answer
//! cannot be swapped without a stand-in provider, which would test less.

#![expect(clippy::unwrap_used, reason = "a test fails loudly on setup errors")]

use std::os::unix::fs::PermissionsExt;

use gatekeep::api::protocol::{Identity, Role, State};
use gatekeep::approval::remote::{Client, RemoteError};
use gatekeep::server::config::{OidcConfig, Secret};
use gatekeep::server::oidc::Oidc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::support::oidc::{Browser, CLIENT_SECRET, Provider, free_port};
use crate::support::service::{Machine, Server, text};

/// Touching `marker*` needs one approval from group `sre`.
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
id = "ask-pair"
decision = "approve"
risk = "critical"
message = "Touching a pair file needs two SREs."
program = ["touch"]
args = ["pair*"]
approvers = ["sre"]
quorum = 2
local_approval = false
timeout = 60
"#;

/// A provider and a gatekeep server that sends approvers to it.
struct Setup {
    provider: Provider,
    server: Server,
    /// gatekeep's public URL (`http://127.0.0.1:PORT`).
    public: String,
    _config: TempDir,
}

impl Setup {
    /// `allowed_groups = ["sre", "platform"]`; `static_tokens` is `[auth]
    /// static_approver_tokens`.
    fn new(static_tokens: bool) -> Setup {
        let port = free_port();
        let public = format!("http://127.0.0.1:{port}");
        let provider = Provider::start(&format!("{public}/auth/callback"));
        let config = tempfile::tempdir().unwrap();
        let secret = config.path().join("client-secret");
        std::fs::write(&secret, CLIENT_SECRET).unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        let file = config.path().join("server.toml");
        std::fs::write(
            &file,
            format!(
                r#"[web]
public_url = "{public}"

[oidc]
issuer = "{}"
client_id = "gatekeep"
client_secret_file = "client-secret"
name_claim = "email"
groups_claim = "groups"
allowed_groups = ["sre", "platform"]

[auth]
static_approver_tokens = {static_tokens}
"#,
                provider.issuer
            ),
        )
        .unwrap();
        let mut server = Server::new(tempfile::tempdir().unwrap());
        server.port = port;
        server.options = vec!["--config".into(), file.display().to_string()];
        server.launch();
        Setup {
            provider,
            server,
            public,
            _config: config,
        }
    }

    /// Signs `login` in with a new browser; returns the browser and the callback's answer.
    fn sign_in(&self, login: &str) -> (Browser, crate::support::oidc::Answer) {
        let mut browser = Browser::default();
        let callback = browser.sign_in_until_callback(&self.public, login);
        let answer = browser.get(&callback);
        (browser, answer)
    }

    /// Signs `login` in; returns the session token from the cookie.
    fn session(&self, login: &str) -> String {
        let (browser, answer) = self.sign_in(login);
        assert_eq!(answer.status, 200, "{}", answer.body);
        browser.cookie(&self.public, "gk_session").unwrap()
    }

    fn whoami(&self, token: &str) -> Result<Identity, RemoteError> {
        Client::new(&self.server.url, Some(token.to_owned())).whoami()
    }
}

#[test]
fn a_sign_in_gives_an_approver_session_that_decides_and_is_audited() {
    let setup = Setup::new(false);
    let (browser, answer) = setup.sign_in("bob");
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(
        answer.body.contains("signed in as bob@example.com"),
        "{}",
        answer.body
    );
    // The session cookie: not readable by scripts, not sent on cross-site subrequests, for
    // the whole site. (No `Secure`: public_url is plain http on loopback here.)
    let cookie = answer
        .set_cookies
        .iter()
        .find(|c| c.starts_with("gk_session="))
        .unwrap();
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=43200"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "{cookie}");
    let session = browser.cookie(&setup.public, "gk_session").unwrap();
    assert!(session.starts_with("gks_"), "{session}");

    // The API takes the session as a bearer token, never from the cookie (a form on
    // another site could otherwise make this browser decide).
    let cookie_only = ureq::get(format!("{}/v1/whoami", setup.server.url))
        .header("cookie", format!("gk_session={session}"))
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .unwrap();
    assert_eq!(cookie_only.status().as_u16(), 401);

    // The session is an approver identity with the provider's name and groups.
    let me = setup.whoami(&session).unwrap();
    assert_eq!(me.name, "bob@example.com");
    assert_eq!(me.role, Role::Approver);
    assert_eq!(me.groups, ["sre", "platform"]);

    // A request waits; a static approver token may not decide (they are switched off), the
    // session may, and the agent's command runs.
    let agent = Machine::with_policy("agent-user", POLICY);
    agent.login(&setup.server, &setup.server.agent_token());
    let mut client = agent.exec("touch marker");
    let id = client.request_id();
    let static_token = setup.server.approver_token("carol", "sre");
    match Client::new(&setup.server.url, Some(static_token)).decide(&id, true, None) {
        Err(RemoteError::Refused { status: 403, .. }) => {}
        other => panic!("a static approver token decided: {other:?}"),
    }
    let view = Client::new(&setup.server.url, Some(session.clone()))
        .decide(&id, true, Some("looks right".into()))
        .unwrap();
    assert_eq!(view.state, State::Approved);
    let (code, err) = client.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(agent.file("marker").exists());

    // The trail holds the sign-in and the approval with the IdP subject, issuer, auth_time.
    let events = setup.server.audit_events();
    let signed_in = events.iter().find(|e| e["kind"] == "signed_in").unwrap();
    assert_eq!(signed_in["actor"], "bob@example.com", "{signed_in}");
    assert_eq!(signed_in["detail"]["idp"]["subject"], "bob", "{signed_in}");
    let approved = events.iter().find(|e| e["kind"] == "approved").unwrap();
    assert_eq!(approved["actor"], "bob@example.com", "{approved}");
    let idp = &approved["detail"]["idp"];
    assert_eq!(idp["subject"], "bob", "{approved}");
    assert_eq!(idp["issuer"], setup.provider.issuer.as_str(), "{approved}");
    let auth_time = idp["auth_time"].as_u64().unwrap();
    let now = gatekeep::api::verdict::unix_now();
    assert!(auth_time <= now && auth_time + 120 > now, "{approved}");
    let check = setup.server.admin(&["audit", "verify"]);
    assert!(check.status.success(), "{}", text(&check));

    // Signing out ends the session at once.
    let out = ureq::post(format!("{}/auth/logout", setup.server.url))
        .header("authorization", format!("Bearer {session}"))
        .send_empty()
        .unwrap();
    assert!(
        out.headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("gk_session=;"))
    );
    match setup.whoami(&session) {
        Err(RemoteError::Refused { status: 401, .. }) => {}
        other => panic!("a signed-out session still works: {other:?}"),
    }
}

/// The agent works for `alice` (its token says `--on-behalf-of alice`): alice, signed in
/// as alice@example.com (subject `alice`), cannot approve its request; carol, outside the
/// rule's `approvers` group, cannot either; bob can.
#[test]
fn approvers_cannot_decide_their_own_requests_or_outside_the_rules_groups() {
    let setup = Setup::new(true);
    let agent = Machine::with_policy("agent-user", POLICY);
    agent.login(&setup.server, &setup.server.agent_token());
    let mut client = agent.exec("touch marker");
    let id = client.request_id();
    let alice = setup.session("alice");
    match Client::new(&setup.server.url, Some(alice)).decide(&id, true, None) {
        Err(RemoteError::Refused {
            status: 403,
            message,
        }) => {
            assert!(
                message.contains("the identity provider says it is their own"),
                "{message}"
            );
        }
        other => panic!("alice approved her own agent's request: {other:?}"),
    }
    // The rule asks for `sre`: carol (platform only) signed in fine but may not decide it.
    let carol = setup.session("carol");
    match Client::new(&setup.server.url, Some(carol)).decide(&id, true, None) {
        Err(RemoteError::Refused {
            status: 403,
            message,
        }) => {
            assert!(message.contains("not in any group"), "{message}");
        }
        other => panic!("carol approved a request for sre: {other:?}"),
    }
    let bob = setup.session("bob");
    let view = Client::new(&setup.server.url, Some(bob))
        .decide(&id, true, None)
        .unwrap();
    assert_eq!(view.state, State::Approved);
    let (code, err) = client.finish();
    assert_eq!(code, Some(0), "{err}");
}

/// A two-person rule is not met by one person twice: bob with his static approver token
/// and bob signed in at the provider (`bob@example.com`) are one approver.
#[test]
fn one_person_with_a_static_token_and_a_sign_in_is_one_approval() {
    let setup = Setup::new(true);
    let agent = Machine::with_policy("agent-user", POLICY);
    agent.login(&setup.server, &setup.server.agent_token());
    let mut client = agent.exec("touch pair");
    let id = client.request_id();
    let by_token = setup.server.approver_token("bob", "sre");
    let first = Client::new(&setup.server.url, Some(by_token))
        .decide(&id, true, None)
        .unwrap();
    assert_eq!(first.state, State::Pending);
    match Client::new(&setup.server.url, Some(setup.session("bob"))).decide(&id, true, None) {
        Err(RemoteError::Refused {
            status: 403,
            message,
        }) => assert!(
            message.contains("has already approved") && message.contains("(as bob)"),
            "{message}"
        ),
        other => panic!("bob met the two-person rule alone: {other:?}"),
    }
    assert!(client.is_running());
    let done = Client::new(&setup.server.url, Some(setup.session("erin")))
        .decide(&id, true, None)
        .unwrap();
    assert_eq!(done.state, State::Approved);
    let (code, err) = client.finish();
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn a_wrong_state_or_another_browser_is_refused() {
    let setup = Setup::new(true);
    let mut browser = Browser::default();
    let callback = browser.sign_in_until_callback(&setup.public, "alice");
    let state = callback
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("state="))
        .unwrap()
        .to_owned();
    // A state this browser never started.
    let forged = callback.replace(&format!("state={state}"), "state=forged-state");
    let answer = browser.get(&forged);
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.body.contains("`state`"), "{}", answer.body);
    assert!(browser.cookie(&setup.public, "gk_session").is_none());

    // The right callback in another browser (login CSRF: someone else's code and state).
    let mut other = Browser::default();
    let answer = other.get(&callback);
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(other.cookie(&setup.public, "gk_session").is_none());
    // ...and that attempt used the state up: not even the right browser gets in with it.
    let answer = browser.get(&callback);
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(
        answer.body.contains("unknown, already used or expired"),
        "{}",
        answer.body
    );

    // A fresh sign-in in the right browser works.
    let session = setup.session("alice");
    assert_eq!(setup.whoami(&session).unwrap().name, "alice@example.com");
}

#[test]
fn a_replayed_code_is_refused() {
    let setup = Setup::new(true);
    let mut browser = Browser::default();
    let callback = browser.sign_in_until_callback(&setup.public, "alice");
    let login_cookie = browser.cookie(&setup.public, "gk_login").unwrap();
    let answer = browser.get(&callback);
    assert_eq!(answer.status, 200, "{}", answer.body);

    // The same callback again, with the login cookie it had: its state is spent.
    let mut replay = Browser::default();
    let again = ureq::get(&callback)
        .header("cookie", format!("gk_login={login_cookie}"))
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .unwrap();
    assert_eq!(again.status().as_u16(), 400);

    // The spent code under a new, valid state: the provider refuses to redeem it twice.
    let fresh = replay.sign_in_until_callback(&setup.public, "alice");
    let code = callback
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("code="))
        .unwrap();
    let fresh_code = fresh
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("code="))
        .unwrap();
    let answer = replay.get(&fresh.replace(fresh_code, code));
    assert_ne!(answer.status, 200, "{}", answer.body);
    assert!(answer.body.contains("sign-in refused"), "{}", answer.body);
    assert!(replay.cookie(&setup.public, "gk_session").is_none());
}

#[test]
fn a_user_outside_the_allowed_groups_is_refused() {
    let setup = Setup::new(true);
    let (browser, answer) = setup.sign_in("mallory");
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert!(
        answer.body.contains("none of the groups"),
        "{}",
        answer.body
    );
    assert!(browser.cookie(&setup.public, "gk_session").is_none());
    let refused = setup
        .server
        .audit_events()
        .into_iter()
        .find(|e| e["kind"] == "refused")
        .unwrap();
    assert_eq!(refused["actor"], "oidc:mallory", "{refused}");
    assert_eq!(refused["detail"]["action"], "sign_in", "{refused}");
    // Someone in an allowed group gets in.
    assert_eq!(
        setup.whoami(&setup.session("carol")).unwrap().groups,
        ["platform"]
    );
}

#[test]
fn a_key_rotation_at_the_provider_still_validates() {
    let mut setup = Setup::new(true);
    let first = setup.session("alice");
    let old_kid = setup.provider.keys[0].kid();
    let new = setup.provider.rotate();
    assert_ne!(new.kid(), old_kid);
    // The server has the old key set cached; the new kid makes it fetch the set again.
    let second = setup.session("bob");
    assert_eq!(setup.whoami(&second).unwrap().name, "bob@example.com");
    assert_eq!(setup.whoami(&first).unwrap().name, "alice@example.com");
}

/// The server's validator, pointed at the live provider.
fn validator(provider: &Provider) -> Oidc {
    let config = OidcConfig {
        issuer: provider.issuer.clone(),
        client_id: "gatekeep".into(),
        client_secret: Secret::new(CLIENT_SECRET.into()),
        name_claim: "email".into(),
        groups_claim: "groups".into(),
        allowed_groups: Vec::new(),
    };
    Oidc::new(config, &"http://127.0.0.1:1".parse().unwrap()).unwrap()
}

fn sign(provider: &Provider, alg: Algorithm, claims: &Value) -> String {
    let key = &provider.keys[0];
    let mut header = Header::new(alg);
    header.kid = Some(key.kid());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(&key.pkcs8)).unwrap()
}

#[test]
fn id_tokens_for_another_audience_expired_or_forged_are_refused() {
    let provider = Provider::start("http://127.0.0.1:1/auth/callback");
    let oidc = validator(&provider);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let now = gatekeep::api::verdict::unix_now();
    let good = json!({
        "iss": provider.issuer, "sub": "alice", "aud": "gatekeep", "nonce": "n-1",
        "iat": now, "exp": now + 300, "auth_time": now, "email": "alice@example.com",
    });
    let verify =
        |token: &str, nonce: &str| runtime.block_on(oidc.verify_id_token(token, nonce, now));
    let claims = verify(&sign(&provider, Algorithm::ES256, &good), "n-1").unwrap();
    assert_eq!(claims.subject, "alice");

    let with = |changes: Value| {
        let mut claims = good.clone();
        for (k, v) in changes.as_object().unwrap() {
            claims[k] = v.clone();
        }
        sign(&provider, Algorithm::ES256, &claims)
    };
    let refused = |token: &str, why: &str| {
        let err = verify(token, "n-1").unwrap_err().to_string();
        assert!(err.contains(why), "want {why:?} in: {err}");
    };
    refused(&with(json!({"aud": "another-client"})), "InvalidAudience");
    refused(&with(json!({"exp": now - 61})), "ExpiredSignature");
    refused(&with(json!({"nbf": now + 120})), "ImmatureSignature");
    refused(&with(json!({"iss": "http://127.0.0.1:9"})), "InvalidIssuer");
    refused(&with(json!({"iat": now + 120})), "`iat`");
    refused(&with(json!({"nonce": "n-2"})), "`nonce`");
    refused(&with(json!({"aud": ["gatekeep", "other"]})), "no `azp`");
    refused(
        &with(json!({"aud": ["gatekeep", "other"], "azp": "other"})),
        "`azp`",
    );
    // Within the 60 s skew: still good.
    assert!(verify(&with(json!({"exp": now - 30})), "n-1").is_ok());
    assert!(
        verify(
            &with(json!({"aud": ["gatekeep", "other"], "azp": "gatekeep"})),
            "n-1"
        )
        .is_ok()
    );

    // An HMAC token "signed" with the provider's public key, and an unsigned one.
    let public_jwk = {
        let mut jwk = provider.keys[0].jwk.clone();
        jwk.as_object_mut().unwrap().remove("d");
        jwk.to_string()
    };
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(provider.keys[0].kid());
    let hmac = jsonwebtoken::encode(
        &header,
        &good,
        &EncodingKey::from_secret(public_jwk.as_bytes()),
    )
    .unwrap();
    refused(&hmac, "HS256");
    let body = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        good.to_string(),
    );
    refused(&format!("eyJhbGciOiJub25lIn0.{body}."), "not a signed JWT");
    // A key the provider does not publish.
    let mut stranger = Header::new(Algorithm::ES256);
    stranger.kid = Some("not-the-providers".into());
    let other_key = crate::support::oidc::Key::new();
    let token = jsonwebtoken::encode(
        &stranger,
        &good,
        &EncodingKey::from_ec_der(&other_key.pkcs8),
    )
    .unwrap();
    refused(
        &token,
        "publishes no ES256 key with kid `not-the-providers`",
    );
    // The provider's kid on a token signed by another key: the signature fails.
    let mut forged = Header::new(Algorithm::ES256);
    forged.kid = Some(provider.keys[0].kid());
    let token =
        jsonwebtoken::encode(&forged, &good, &EncodingKey::from_ec_der(&other_key.pkcs8)).unwrap();
    refused(&token, "InvalidSignature");
}

/// A token under a `kid` the cached key set lacks makes the validator fetch the set again,
/// but only once per 30 s: a second new `kid` right after is refused without a fetch (a
/// stream of made-up kids cannot make the service hammer its provider).
#[test]
fn an_unknown_kid_refetches_the_keys_at_most_every_30_seconds() {
    let mut provider = Provider::start("http://127.0.0.1:1/auth/callback");
    let oidc = validator(&provider);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let now = gatekeep::api::verdict::unix_now();
    let claims = json!({
        "iss": provider.issuer, "sub": "alice", "aud": "gatekeep", "nonce": "n-1",
        "iat": now, "exp": now + 300,
    });
    let verify = |token: &str| runtime.block_on(oidc.verify_id_token(token, "n-1", now));
    // The first use fetches the set.
    verify(&sign(&provider, Algorithm::ES256, &claims)).unwrap();
    // Rotation: the new kid is fetched.
    provider.rotate();
    verify(&sign(&provider, Algorithm::ES256, &claims)).unwrap();
    // Another rotation within 30 s: the refetch is not allowed yet.
    let third = provider.rotate();
    let err = verify(&sign(&provider, Algorithm::ES256, &claims))
        .unwrap_err()
        .to_string();
    assert!(err.contains(&format!("kid `{}`", third.kid())), "{err}");
    // Keys already known still verify meanwhile.
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(provider.keys[1].kid());
    let token = jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_ec_der(&provider.keys[1].pkcs8),
    )
    .unwrap();
    verify(&token).unwrap();
}
