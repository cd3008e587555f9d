//! The approvers' web page, against a real OpenID provider (npm `oidc-provider`, see
//! `support/oidc.rs`) and a real `gatekeep server`:
//!
//! - over HTTP: the page's headers, the redirect to sign in and back (and no open redirect),
//!   the escaping of what an agent controls, CSRF (a missing, wrong or cross-site token
//!   decides nothing), an approver's inbox showing only what they may decide, and the
//!   service's refusals shown on the page;
//! - in a real browser: Debian's headless chromium driven over WebDriver (chromedriver,
//!   `fantoccini`): sign in at the provider, see the request in the inbox, open it, click
//!   Approve, and the waiting `gatekeep exec` runs its command; Deny with a reason, and the
//!   reason reaches the agent's stderr. With `GK_SCREENSHOTS=docs` it also writes
//!   `docs/web-inbox.png` and `docs/web-request.png`.

#![expect(clippy::unwrap_used, reason = "a test fails loudly on setup errors")]

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use tempfile::TempDir;

use crate::support::oidc::{Browser, CLIENT_SECRET, Provider, free_port};
use crate::support::service::{GK, Machine, Pipe, STEP, Server, Waiting};

/// Touching `marker*` needs one approval from `sre`; a production rollout needs two.
const POLICY: &str = r#"
[[rule]]
id = "ask-marker"
decision = "approve"
risk = "high"
message = "Touching a marker needs approval."
program = ["touch"]
args = ["marker*"]
approvers = ["sre"]
timeout = 300

[[rule]]
id = "deploy-production"
decision = "approve"
risk = "critical"
message = "Production rollouts need two people from SRE."
program = ["kubectl"]
subcommand = ["rollout *"]
approvers = ["sre"]
quorum = 2
timeout = 900

[[rule]]
id = "ask-fresh"
decision = "approve"
risk = "critical"
message = "Touching a fresh file needs a sign-in within the last second."
program = ["touch"]
args = ["fresh*"]
approvers = ["sre"]
fresh_auth = 1
timeout = 300
"#;

/// The policy the page's responses must carry, word for word.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A provider, a gatekeep server that sends approvers to it, and an agent's machine.
struct Web {
    _provider: Provider,
    server: Server,
    /// gatekeep's public URL (`http://127.0.0.1:PORT`).
    public: String,
    agent: Machine,
    _config: TempDir,
}

/// One HTTP answer: status, headers (lowercase names, last value) and body.
struct Page {
    status: u16,
    headers: HashMap<String, String>,
    body: String,
}

impl Page {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }
}

fn page(answer: ureq::http::Response<ureq::Body>) -> Page {
    let status = answer.status().as_u16();
    let headers = answer
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = answer.into_body().read_to_string().unwrap_or_default();
    Page {
        status,
        headers,
        body,
    }
}

impl Web {
    fn start() -> Web {
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
static_approver_tokens = false
"#,
                provider.issuer
            ),
        )
        .unwrap();
        let mut server = Server::new(tempfile::tempdir().unwrap());
        server.port = port;
        server.options = vec!["--config".into(), file.display().to_string()];
        server.launch();
        let agent = Machine::with_policy("agent-user", POLICY);
        agent.login(&server, &server.agent_token());
        Web {
            _provider: provider,
            server,
            public,
            agent,
            _config: config,
        }
    }

    /// Signs `login` in at the provider; returns the session cookie's value.
    fn web_session(&self, login: &str) -> String {
        let mut browser = Browser::default();
        let callback = browser.sign_in_until_callback(&self.public, login);
        let answer = browser.get(&callback);
        assert_eq!(answer.status, 200, "{}", answer.body);
        browser.cookie(&self.public, "gk_session").unwrap()
    }

    fn web_get(&self, path: &str, session: Option<&str>) -> Page {
        let mut request = ureq::get(format!("{}{path}", self.public));
        if let Some(session) = session {
            request = request.header("cookie", format!("gk_session={session}"));
        }
        page(
            request
                .config()
                .http_status_as_error(false)
                .max_redirects(0)
                .build()
                .call()
                .unwrap(),
        )
    }

    fn web_post(
        &self,
        path: &str,
        session: &str,
        headers: &[(&str, &str)],
        form: &[(&str, &str)],
    ) -> Page {
        let mut request = ureq::post(format!("{}{path}", self.public))
            .header("cookie", format!("gk_session={session}"));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        page(
            request
                .config()
                .http_status_as_error(false)
                .max_redirects(0)
                .build()
                .send_form(form.iter().copied())
                .unwrap(),
        )
    }

    /// The CSRF token in a page's forms.
    fn csrf_of(page: &Page) -> String {
        let at = page.body.find(r#"name="csrf" value=""#).unwrap();
        let rest = &page.body[at + r#"name="csrf" value=""#.len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }

    /// The request's state as the service holds it.
    fn web_state(&self, id: &str) -> String {
        self.agent.show(id).state.to_string()
    }
}

impl Machine {
    /// `gatekeep exec --reason REASON -- ARGV...` in a new session (no terminal to ask on),
    /// waiting on the service.
    fn web_exec(&self, reason: &str, argv: &[&str]) -> Waiting {
        let mut cmd = Command::new("setsid");
        self.isolate(&mut cmd);
        let mut child = cmd
            .args(["-w", GK, "exec", "--reason", reason, "--"])
            .args(argv)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Pipe::collect(child.stderr.take().unwrap());
        Waiting { child, stderr }
    }
}

#[test]
fn pages_need_a_session_and_carry_strict_headers() {
    let web = Web::start();
    // No cookie: to the sign-in, with the page to come back to.
    for (path, next) in [
        ("/", "%2F"),
        ("/requests/r-1", "%2Frequests%2Fr-1"),
        ("/history?state=denied", "%2Fhistory%3Fstate%3Ddenied"),
    ] {
        let answer = web.web_get(path, None);
        assert_eq!(answer.status, 303, "{path}: {}", answer.body);
        assert_eq!(
            answer.header("location"),
            format!("/auth/login?next={next}")
        );
    }
    // A session token that was never issued is no session.
    let answer = web.web_get("/", Some("gks_forged"));
    assert_eq!(answer.status, 303);

    let session = web.web_session("bob");
    let inbox = web.web_get("/", Some(&session));
    assert_eq!(inbox.status, 200, "{}", inbox.body);
    assert_eq!(inbox.header("content-type"), "text/html; charset=utf-8");
    assert_eq!(inbox.header("content-security-policy"), CSP);
    assert_eq!(inbox.header("x-content-type-options"), "nosniff");
    assert_eq!(inbox.header("referrer-policy"), "no-referrer");
    assert_eq!(inbox.header("cache-control"), "no-store");
    assert!(inbox.body.contains("bob@example.com"), "{}", inbox.body);
    assert!(inbox.body.contains(r#"name="viewport""#), "{}", inbox.body);
    // No inline script or style: the CSP would block them, and none is needed.
    assert!(!inbox.body.contains("<script>"), "{}", inbox.body);
    assert!(!inbox.body.contains("style="), "{}", inbox.body);
    for asset in ["/static/gatekeep.js", "/static/gatekeep.css"] {
        assert!(inbox.body.contains(asset), "{}", inbox.body);
        let answer = web.web_get(asset, None);
        assert_eq!(answer.status, 200, "{asset}");
        assert_eq!(answer.header("x-content-type-options"), "nosniff");
    }
    // The refresh endpoint without a session: nothing.
    let list = web.web_get("/inbox/list", None);
    assert_eq!(list.status, 401);
    assert!(list.body.is_empty(), "{}", list.body);
}

#[test]
fn sign_in_returns_to_a_path_on_this_site_and_nowhere_else() {
    let web = Web::start();
    // `next` is kept (base64url) beside the login's state only when it is a local path.
    let cookies_for = |next: &str| -> Vec<String> {
        let encoded: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
        let answer = ureq::get(format!("{}/auth/login?next={encoded}", web.public))
            .config()
            .max_redirects(0)
            .build()
            .call()
            .unwrap();
        assert_eq!(answer.status().as_u16(), 303, "{next}");
        answer
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    };
    let kept = cookies_for("/history");
    assert!(
        kept.iter().any(|c| c.starts_with("gk_next=L2hpc3Rvcnk;")
            && c.contains("Path=/auth")
            && c.contains("HttpOnly")),
        "{kept:?}"
    );
    for bad in [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
    ] {
        // Nothing kept: the cookie is cleared.
        let cookies = cookies_for(bad);
        assert!(
            cookies
                .iter()
                .any(|c| c.starts_with("gk_next=;") && c.contains("Max-Age=0")),
            "{bad}: {cookies:?}"
        );
    }

    // The callback checks the cookie again: one planted by another site (here: set by
    // hand) with another host in it signs in without going there.
    let callback_with = |next: &str| {
        let mut browser = Browser::default();
        let callback = browser.sign_in_until_callback(&web.public, "bob");
        let login = browser.cookie(&web.public, "gk_login").unwrap();
        let next = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(next);
        page(
            ureq::get(&callback)
                .header("cookie", format!("gk_login={login}; gk_next={next}"))
                .config()
                .http_status_as_error(false)
                .max_redirects(0)
                .build()
                .call()
                .unwrap(),
        )
    };
    let evil = callback_with("//evil.example/");
    assert_eq!(evil.status, 200, "{}", evil.body);
    assert_eq!(evil.header("location"), "");
    assert!(
        evil.body.contains("signed in as bob@example.com"),
        "{}",
        evil.body
    );
    let home = callback_with("/history?state=denied");
    assert_eq!(home.status, 303, "{}", home.body);
    assert_eq!(home.header("location"), "/history?state=denied");
}

#[test]
fn the_inbox_shows_only_what_the_approver_may_decide_and_escapes_it() {
    let web = Web::start();
    // The agent controls its command: markup and a terminal escape in a file name.
    // (No `/` in it: the rule's `marker*` names a file here, not a path.)
    let hostile = "touch 'marker<script>alert(1)<img src=x onerror=alert(2)>\u{1b}]0;owned\u{7}'";
    let mut waiting = web.agent.exec(hostile);
    let id = waiting.request_id();

    // bob (sre) may decide it: it is in his inbox, inert.
    let bob = web.web_session("bob");
    let inbox = web.web_get("/", Some(&bob));
    assert_eq!(inbox.status, 200);
    assert!(
        inbox.body.contains(&format!(r#"data-request="{id}""#)),
        "{}",
        inbox.body
    );
    for page in [&inbox, &web.web_get(&format!("/requests/{id}"), Some(&bob))] {
        assert!(!page.body.contains("<script>alert"), "{}", page.body);
        assert!(!page.body.contains("<img src=x"), "{}", page.body);
        assert!(
            !page.body.contains('\u{1b}') && !page.body.contains('\u{7}'),
            "{}",
            page.body
        );
        assert!(
            page.body.contains("&lt;script&gt;alert(1)&lt;img src=x"),
            "{}",
            page.body
        );
    }
    let list = web.web_get("/inbox/list", Some(&bob));
    assert!(
        list.body.contains(&format!(r#"data-request="{id}""#)),
        "{}",
        list.body
    );

    // carol (platform only) signs in but may not decide a request for sre; alice is the
    // person the agent works for (her own request, by the provider's account).
    for who in ["carol", "alice"] {
        let session = web.web_session(who);
        for path in ["/", "/inbox/list"] {
            let page = web.web_get(path, Some(&session));
            assert_eq!(page.status, 200, "{who} {path}");
            assert!(
                !page.body.contains(&id),
                "{who} sees {id} at {path}:\n{}",
                page.body
            );
            assert!(!page.body.contains("marker"), "{who}: {}", page.body);
        }
    }

    // alice opening the request and approving it: the service's refusal, on the page.
    let alice = web.web_session("alice");
    let detail = web.web_get(&format!("/requests/{id}"), Some(&alice));
    let csrf = Web::csrf_of(&detail);
    let refused = web.web_post(
        &format!("/requests/{id}/approve"),
        &alice,
        &[],
        &[("csrf", &csrf)],
    );
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("their own"), "{}", refused.body);
    assert_eq!(web.web_state(&id), "pending");
    assert!(waiting.is_running());

    // History lists it for anyone signed in, with its event trail.
    let history = web.web_get("/history?state=pending&rule=ask-marker", Some(&bob));
    assert!(
        history.body.contains(&format!("/requests/{id}/events")),
        "{}",
        history.body
    );
    let none = web.web_get("/history?state=approved", Some(&bob));
    assert!(!none.body.contains(&id), "{}", none.body);
    let events = web.web_get(&format!("/requests/{id}/events"), Some(&bob));
    assert_eq!(events.status, 200);
    assert!(events.body.contains("created"), "{}", events.body);
    assert!(events.body.contains("refused"), "{}", events.body);
    assert!(!events.body.contains("<script>alert"), "{}", events.body);
}

/// A rule with `fresh_auth` refuses an approval from an older sign-in; the page sends the
/// browser through the provider again with `max_age`, and back to the request, and nothing
/// is decided meanwhile.
#[test]
fn a_step_up_refusal_sends_the_browser_to_sign_in_again_and_back() {
    let web = Web::start();
    let mut waiting = web.agent.exec("touch fresh-file");
    let id = waiting.request_id();
    let bob = web.web_session("bob");
    let detail = web.web_get(&format!("/requests/{id}"), Some(&bob));
    let csrf = Web::csrf_of(&detail);
    // The rule wants a sign-in no older than a second.
    std::thread::sleep(Duration::from_millis(2_200));
    let answer = web.web_post(
        &format!("/requests/{id}/approve"),
        &bob,
        &[],
        &[("csrf", &csrf)],
    );
    assert_eq!(answer.status, 303, "{}", answer.body);
    assert_eq!(
        answer.header("location"),
        format!("/auth/login?max_age=1&next=%2Frequests%2F{id}")
    );
    assert_eq!(web.web_state(&id), "pending");
    assert!(waiting.is_running());
}

#[test]
fn a_decision_needs_the_sessions_csrf_token_from_this_site() {
    let web = Web::start();
    let mut waiting = web.agent.exec("touch marker");
    let id = waiting.request_id();
    let bob = web.web_session("bob");
    let detail = web.web_get(&format!("/requests/{id}"), Some(&bob));
    assert_eq!(detail.status, 200, "{}", detail.body);
    for shown in [
        "ask-marker",
        "Touching a marker needs approval.",
        "ci-bot",
        "alice",
        ">0 of 1<",
    ] {
        assert!(detail.body.contains(shown), "{shown}: {}", detail.body);
    }
    let csrf = Web::csrf_of(&detail);
    let approve = format!("/requests/{id}/approve");

    // Missing, wrong, another session's: refused, and nothing decided.
    let carol = web.web_session("carol");
    let carols = Web::csrf_of(&web.web_get("/", Some(&carol)));
    for form in [
        vec![],
        vec![("csrf", "0".repeat(64))],
        vec![("csrf", carols.clone())],
    ] {
        let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let answer = web.web_post(&approve, &bob, &[], &fields);
        assert_eq!(answer.status, 403, "{form:?}: {}", answer.body);
        assert!(answer.body.contains("CSRF token"), "{}", answer.body);
    }
    // The right token from another site.
    for headers in [
        vec![("origin", "https://evil.example")],
        vec![("sec-fetch-site", "cross-site")],
    ] {
        let answer = web.web_post(&approve, &bob, &headers, &[("csrf", &csrf)]);
        assert_eq!(answer.status, 403, "{headers:?}: {}", answer.body);
    }
    // No session at all: to the sign-in, back to the request.
    let anonymous = page(
        ureq::post(format!("{}{approve}", web.public))
            .config()
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .send_form([("csrf", csrf.as_str())])
            .unwrap(),
    );
    assert_eq!(anonymous.status, 303);
    assert_eq!(
        anonymous.header("location"),
        format!("/auth/login?next=%2Frequests%2F{id}")
    );
    assert_eq!(web.web_state(&id), "pending");
    assert!(waiting.is_running());
    let refusals = web
        .server
        .audit_events()
        .into_iter()
        .filter(|e| e["kind"] == "refused" && e["detail"]["request"] == id.as_str())
        .count();
    assert!(refusals >= 5, "{refusals} refusals recorded");

    // A denial without a reason: the service's own refusal, on the page.
    let deny = web.web_post(
        &format!("/requests/{id}/deny"),
        &bob,
        &[
            ("origin", web.public.as_str()),
            ("sec-fetch-site", "same-origin"),
        ],
        &[("csrf", &csrf), ("reason", "  ")],
    );
    assert_eq!(deny.status, 422, "{}", deny.body);
    assert!(
        deny.body.contains("a denial needs a reason"),
        "{}",
        deny.body
    );
    assert_eq!(web.web_state(&id), "pending");

    // The right token, same origin: approved through the service, channel `web`.
    let answer = web.web_post(
        &approve,
        &bob,
        &[
            ("origin", web.public.as_str()),
            ("sec-fetch-site", "same-origin"),
        ],
        &[("csrf", &csrf), ("reason", "checked the marker")],
    );
    assert_eq!(answer.status, 303, "{}", answer.body);
    assert_eq!(
        answer.header("location"),
        format!("/requests/{id}?done=approved")
    );
    let (code, err) = waiting.finish();
    assert_eq!(code, Some(0), "{err}");
    let events = web.server.audit_events();
    let approved = events.iter().find(|e| e["kind"] == "approved").unwrap();
    assert_eq!(approved["channel"], "web", "{approved}");
    assert_eq!(approved["actor"], "bob@example.com", "{approved}");
    assert_eq!(approved["detail"]["idp"]["subject"], "bob", "{approved}");
    // Deciding again: the service says it is over.
    let again = web.web_post(&approve, &bob, &[], &[("csrf", &csrf)]);
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(again.body.contains("already approved"), "{}", again.body);

    // The history finds it by approver, state, requester and day, and not outside them.
    let today = &approved["time"].as_str().unwrap()[..10];
    for (query, found) in [
        ("approver=bob%40example.com&state=approved", true),
        ("requester=ci-bot", true),
        ("requester=alice", true),
        (&format!("from={today}&to={today}") as &str, true),
        ("approver=carol%40example.com", false),
        ("state=denied", false),
        ("rule=deploy-production", false),
        ("from=2000-01-01&to=2000-01-02", false),
    ] {
        let history = web.web_get(&format!("/history?{query}"), Some(&bob));
        assert_eq!(history.status, 200, "{query}");
        assert_eq!(
            history.body.contains(&format!("/requests/{id}/events")),
            found,
            "{query}: {}",
            history.body
        );
    }
    assert_eq!(
        web.web_get("/history?from=yesterday", Some(&bob)).status,
        422
    );

    // Signing out needs the token too; with it, the session ends.
    let forged = web.web_post("/auth/logout", &bob, &[], &[]);
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert_eq!(web.web_get("/", Some(&bob)).status, 200);
    let out = web.web_post("/auth/logout", &bob, &[], &[("csrf", &csrf)]);
    assert_eq!(out.status, 303, "{}", out.body);
    assert_eq!(out.header("location"), "/signed-out");
    assert_eq!(web.web_get("/", Some(&bob)).status, 303);
}

/// chromedriver on a free loopback port, in a process group of its own so that the
/// chromium it starts goes with it; killed on drop.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> Driver {
        use std::os::unix::process::CommandExt;
        let port = free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("chromedriver is needed for the browser test (Debian: apt-get install chromium chromium-driver): {e}")
            });
        let driver = Driver { child, port };
        let deadline = Instant::now() + STEP;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        driver
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// Where screenshots go when `GK_SCREENSHOTS=docs`.
fn screenshot_dir() -> Option<std::path::PathBuf> {
    (std::env::var("GK_SCREENSHOTS").as_deref() == Ok("docs"))
        .then(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs"))
}

mod browser {
    use std::time::{Duration, Instant};

    use fantoccini::elements::Element;
    use fantoccini::{Client, Locator};

    use crate::support::service::STEP;

    /// Waits for the element `css` to appear (the page may still be loading or refreshing).
    pub async fn wait_for(client: &Client, css: &str) -> Element {
        let deadline = Instant::now() + STEP;
        loop {
            if let Ok(found) = client.find(Locator::Css(css)).await {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "no `{css}` at {}:\n{}",
                client.current_url().await.unwrap(),
                client.source().await.unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Signs in as `login` at the provider's pages, from wherever the browser was sent to
    /// sign in, until the browser is back on gatekeep at `public`.
    pub async fn sign_in(client: &Client, public: &str, login: &str) {
        let deadline = Instant::now() + STEP;
        loop {
            let url = client.current_url().await.unwrap();
            if url.as_str().starts_with(public) && !url.path().starts_with("/auth/") {
                return;
            }
            if let Ok(field) = client.find(Locator::Css("input[name=login]")).await {
                field.send_keys(login).await.unwrap();
                let password = client
                    .find(Locator::Css("input[name=password]"))
                    .await
                    .unwrap();
                password.send_keys("any").await.unwrap();
                let submit = client
                    .find(Locator::Css("button[type=submit]"))
                    .await
                    .unwrap();
                submit.click().await.unwrap();
            } else if let Ok(button) = client.find(Locator::Css("button[type=submit]")).await {
                // The provider's consent page.
                button.click().await.unwrap();
            }
            assert!(
                Instant::now() < deadline,
                "sign-in did not return to gatekeep: at {url}:\n{}",
                client.source().await.unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }
}

#[test]
fn in_a_real_browser_an_approver_signs_in_approves_and_denies() {
    let web = Web::start();
    // Two requests wait: one to approve, one to deny (and, for the screenshots, a third).
    let mut to_approve = web.agent.web_exec(
        "mark the build as released (ticket OPS-1423)",
        &["touch", "marker-approved"],
    );
    let approve_id = to_approve.request_id();
    let mut to_deny = web
        .agent
        .web_exec("clean up the release markers", &["touch", "marker-denied"]);
    let deny_id = to_deny.request_id();
    let shots = screenshot_dir();
    let rollout: Option<Waiting> = shots.as_ref().map(|_| {
        let mut w = web.agent.web_exec(
            "roll out the payments fix from PR 2291",
            &[
                "kubectl",
                "--context",
                "prod-eu",
                "rollout",
                "restart",
                "deployment/payments-api",
            ],
        );
        w.request_id();
        w
    });

    let driver = Driver::start();
    let profile = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--window-size=1200,940",
                    "--hide-scrollbars",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = fantoccini::ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await
            .unwrap();

        // The inbox, not signed in: to the provider, and back to the inbox.
        client.goto(&format!("{}/", web.public)).await.unwrap();
        browser::sign_in(&client, &web.public, "bob").await;
        assert_eq!(client.current_url().await.unwrap().path(), "/");
        let who = browser::wait_for(&client, "#who").await;
        assert_eq!(who.text().await.unwrap(), "bob@example.com");
        browser::wait_for(&client, &format!("a[data-request='{deny_id}']")).await;
        let item = browser::wait_for(&client, &format!("a[data-request='{approve_id}']")).await;
        if let Some(dir) = &shots {
            // Let the countdowns tick once.
            tokio::time::sleep(Duration::from_millis(1200)).await;
            std::fs::write(
                dir.join("web-inbox.png"),
                client.screenshot().await.unwrap(),
            )
            .unwrap();
        }

        // Open it, approve it: the waiting exec runs its command.
        item.click().await.unwrap();
        browser::wait_for(&client, "form#approve").await;
        let command = browser::wait_for(&client, "#command").await;
        assert!(
            command
                .text()
                .await
                .unwrap()
                .contains("touch marker-approved")
        );
        if let Some(dir) = &shots {
            tokio::time::sleep(Duration::from_millis(1200)).await;
            std::fs::write(
                dir.join("web-request.png"),
                client.screenshot().await.unwrap(),
            )
            .unwrap();
        }
        browser::wait_for(&client, "#approve-reason")
            .await
            .send_keys("looks right")
            .await
            .unwrap();
        browser::wait_for(&client, "form#approve button")
            .await
            .click()
            .await
            .unwrap();
        let notice = browser::wait_for(&client, "#notice").await;
        assert!(notice.text().await.unwrap().contains("You approved"));

        // Back to the inbox: the approved one is gone; deny the other with a reason.
        client.goto(&format!("{}/", web.public)).await.unwrap();
        browser::wait_for(&client, &format!("a[data-request='{deny_id}']"))
            .await
            .click()
            .await
            .unwrap();
        browser::wait_for(&client, "#deny-reason")
            .await
            .send_keys("use the staging bucket instead")
            .await
            .unwrap();
        browser::wait_for(&client, "form#deny button")
            .await
            .click()
            .await
            .unwrap();
        let notice = browser::wait_for(&client, "#notice").await;
        assert!(notice.text().await.unwrap().contains("You denied"));

        // The inbox updates itself: a request made while it is open appears without a
        // reload, and its countdown ticks.
        client.goto(&format!("{}/", web.public)).await.unwrap();
        browser::wait_for(&client, "#inbox").await;
        // (Killed on drop: it is never decided.)
        let mut late = web
            .agent
            .web_exec("one more marker", &["touch", "marker-late"]);
        let late_id = late.request_id();
        let item = browser::wait_for(&client, &format!("a[data-request='{late_id}']")).await;
        let left = item.find(fantoccini::Locator::Css(".left")).await.unwrap();
        let before = left.text().await.unwrap();
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let item = browser::wait_for(&client, &format!("a[data-request='{late_id}']")).await;
        let after = item
            .find(fantoccini::Locator::Css(".left"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_ne!(before, after, "the countdown did not tick");
        assert!(after.ends_with("left"), "{after}");
        client.close().await.unwrap();
    });
    let (code, err) = to_approve.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(web.agent.file("marker-approved").exists());
    let (code, err) = to_deny.finish();
    assert_ne!(code, Some(0), "{err}");
    assert!(err.contains("use the staging bucket instead"), "{err}");
    assert!(!web.agent.file("marker-denied").exists());
    let events = web.server.audit_events();
    for kind in ["approved", "denied"] {
        let event = events.iter().find(|e| e["kind"] == kind).unwrap();
        assert_eq!(event["channel"], "web", "{event}");
        assert_eq!(event["actor"], "bob@example.com", "{event}");
    }
    drop(rollout);
}
