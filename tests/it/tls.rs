//! What lies between the client and the approval service, end to end with the real binary:
//!
//! - a man-in-the-middle proxy (written here, named in `config.toml`) that rewrites what the
//!   approver is shown while keeping the digest: the approver approves the rewritten text and
//!   the client refuses the verdict, because its `shown` claim is not what the client sent;
//! - proxy environment variables, which the client ignores;
//! - the whole approve flow over TLS with a CA and certificate made here (rcgen), a client
//!   without the CA, and a wrong key pin;
//! - plain http to a host that is not loopback, refused unless `--insecure-http`;
//! - the server's warning when it listens off loopback without TLS.
//!
//! All traffic stays on 127.0.0.1; the one name that must not resolve is under `.invalid`.
//! The harness is a trimmed copy of tests/service.rs's (one isolated HOME per machine,
//! `GATEKEEP_KEYRING=off`, tokens on stdin).

#![expect(clippy::unwrap_used, reason = "a test fails loudly on setup errors")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gatekeep::api::protocol::State;
use serde_json::{Value, json};

use crate::support::pki::make_pki;
use crate::support::service::{Machine, STEP, Server, text};

/// The agent's policy: touching a `marker*` file needs one approval, never at a terminal.
const POLICY: &str = r#"
[[rule]]
id = "ask-marker"
decision = "approve"
risk = "high"
message = "Touching a marker needs approval."
program = ["touch"]
args = ["marker*"]
local_approval = false
timeout = 60
"#;

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

impl Server {
    /// `gatekeep server --listen LISTEN:0 ARGS`, started.
    fn start_on(host: &str, args: &[&str]) -> Server {
        let mut server = Server::new(tempfile::tempdir().unwrap());
        host.clone_into(&mut server.host);
        server.options = args.iter().map(|a| (*a).to_owned()).collect();
        server.launch();
        server
    }

    /// The certificate key pin it printed (TLS only).
    fn tls_pin(&self) -> String {
        self.log.line_after("gatekeep server: tls key pin ")
    }
}

/// The agent's machine, with [`POLICY`].
fn agent_machine() -> Machine {
    Machine::with_policy("agent-user", POLICY)
}

impl Machine {
    fn config_path(&self) -> PathBuf {
        self.config_dir().join("config.toml")
    }

    /// Sets (or with `None` removes) one key of the `[server]` table of config.toml.
    fn set_server_key(&self, name: &str, value: Option<toml::Value>) {
        let path = self.config_path();
        let mut doc: toml::Table =
            toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let server = doc.get_mut("server").unwrap().as_table_mut().unwrap();
        match value {
            Some(v) => server.insert(name.to_owned(), v),
            None => server.remove(name),
        };
        std::fs::write(&path, toml::to_string(&doc).unwrap()).unwrap();
    }
}

/// Runs `script` on `agent`, has `approver` approve it, and returns (exit code, stderr).
fn approve_flow(
    agent: &Machine,
    approver: &Machine,
    script: &str,
) -> (String, Option<i32>, String) {
    let mut client = agent.exec(script);
    let id = client.request_id();
    let out = approver.run(&["approve", &id]);
    assert!(out.status.success(), "approve: {}", text(&out));
    let (code, err) = client.finish();
    (id, code, err)
}

// ---------------------------------------------------------------------------------------
// A man in the middle
// ---------------------------------------------------------------------------------------

/// An HTTP CONNECT proxy on 127.0.0.1 that relays the tunnel and, when `rewrite` is set,
/// rewrites every create request (`POST /v1/requests`) so that approvers see `ls` in place
/// of the real command, keeping id, nonce and digest.
struct Mitm {
    url: String,
    rewrite: Arc<AtomicBool>,
    /// CONNECTs received.
    tunnels: Arc<AtomicUsize>,
    /// Create requests rewritten.
    rewritten: Arc<AtomicUsize>,
}

impl Mitm {
    fn start() -> Mitm {
        Mitm::start_as(false)
    }

    /// A proxy that only relays the tunnel's bytes (for https, all it can do).
    fn relay() -> Mitm {
        Mitm::start_as(true)
    }

    fn start_as(relay_only: bool) -> Mitm {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let mitm = Mitm {
            url,
            rewrite: Arc::default(),
            tunnels: Arc::default(),
            rewritten: Arc::default(),
        };
        let (rewrite, tunnels, rewritten) = (
            mitm.rewrite.clone(),
            mitm.tunnels.clone(),
            mitm.rewritten.clone(),
        );
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (rewrite, tunnels, rewritten) =
                    (rewrite.clone(), tunnels.clone(), rewritten.clone());
                std::thread::spawn(move || {
                    let _ = tunnel(client, relay_only, &rewrite, &tunnels, &rewritten);
                });
            }
        });
        mitm
    }
}

/// Reads one HTTP message head (up to the blank line); `None` at end of stream.
fn read_head(reader: &mut impl BufRead) -> std::io::Result<Option<Vec<String>>> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if line.is_empty() {
            return Ok(Some(lines));
        }
        lines.push(line);
    }
}

fn tunnel(
    client: TcpStream,
    relay_only: bool,
    rewrite: &AtomicBool,
    tunnels: &AtomicUsize,
    rewritten: &AtomicUsize,
) -> std::io::Result<()> {
    let mut from_client = BufReader::new(client.try_clone()?);
    let mut to_client = client;
    let Some(head) = read_head(&mut from_client)? else {
        return Ok(());
    };
    let target = head[0]
        .strip_prefix("CONNECT ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("the client did not tunnel: {head:?}"))
        .to_owned();
    assert!(target.starts_with("127.0.0.1:"), "only loopback: {target}");
    tunnels.fetch_add(1, Ordering::SeqCst);
    let upstream = TcpStream::connect(&target)?;
    to_client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
    // Answers go back untouched.
    {
        let mut from_server = upstream.try_clone()?;
        let mut to_client = to_client.try_clone()?;
        std::thread::spawn(move || std::io::copy(&mut from_server, &mut to_client));
    }
    if relay_only {
        // Ciphertext (https through the proxy): relay it as it is.
        let mut to_server = upstream;
        std::io::copy(&mut from_client, &mut to_server)?;
        return Ok(());
    }
    // Requests are read one by one (the connection is kept alive) and may be rewritten.
    let mut to_server = upstream;
    while let Some(head) = read_head(&mut from_client)? {
        let length = head
            .iter()
            .find_map(|h| {
                let (name, value) = h.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().unwrap())
            })
            .unwrap_or(0);
        assert!(
            !head
                .iter()
                .any(|h| h.to_ascii_lowercase().starts_with("transfer-encoding")),
            "the proxy handles only sized bodies: {head:?}"
        );
        let mut body = vec![0; length];
        from_client.read_exact(&mut body)?;
        if head[0].starts_with("POST /v1/requests ") && rewrite.load(Ordering::SeqCst) {
            let mut create: Value = serde_json::from_slice(&body).unwrap();
            // What a person reads, changed; the digest (and id, nonce) kept.
            create["argv"] = json!(["sh", "-c", "ls"]);
            body = serde_json::to_vec(&create).unwrap();
            rewritten.fetch_add(1, Ordering::SeqCst);
        }
        let mut out = String::new();
        for h in &head {
            if !h.to_ascii_lowercase().starts_with("content-length:") {
                out.push_str(h);
                out.push_str("\r\n");
            }
        }
        out.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
        to_server.write_all(out.as_bytes())?;
        to_server.write_all(&body)?;
    }
    Ok(())
}

#[test]
fn a_proxy_that_changes_what_the_approver_reads_cannot_make_the_command_run() {
    let server = Server::start();
    let mitm = Mitm::start();
    let agent = agent_machine();
    agent.login_to(
        &server.url,
        &server.key_id,
        &server.agent_token(),
        &["--proxy", &mitm.url],
    );
    let config = std::fs::read_to_string(agent.config_path()).unwrap();
    assert!(
        config.contains(&format!("proxy = \"{}\"", mitm.url)),
        "{config}"
    );
    let bob = Machine::new("bob");
    bob.login_to(
        &server.url,
        &server.key_id,
        &server.approver_token("bob", ""),
        &[],
    );

    // Control: the proxy relays faithfully, and the approved command runs through it.
    let (id, code, err) = approve_flow(&agent, &bob, "touch marker-control");
    assert_eq!(code, Some(0), "{err}");
    assert!(agent.file("marker-control").exists());
    assert!(
        mitm.tunnels.load(Ordering::SeqCst) > 0,
        "the proxy was not used"
    );
    assert_eq!(agent.decision(&id)["decision"], "approve");

    // The attack: the approver is shown `ls`, approves it, and the verdict is genuine
    // (same digest, nonce and key) but its `shown` is not what the client sent.
    mitm.rewrite.store(true, Ordering::SeqCst);
    let mut client = agent.exec("touch marker");
    let id = client.request_id();
    let view = bob.show(&id);
    assert_eq!(
        view.command, "sh -c ls",
        "the approver reads the rewritten text: {view:?}"
    );
    let out = bob.run(&["approve", &id]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(bob.show(&id).state, State::Approved);
    let (code, err) = client.finish();
    assert_eq!(mitm.rewritten.load(Ordering::SeqCst), 1);
    assert_eq!(code, Some(77), "{err}");
    assert!(!agent.file("marker").exists(), "the command ran:\n{err}");
    assert!(
        err.contains("approvers were shown something other than what this client sent"),
        "{err}"
    );
    let decision = agent.decision(&id);
    assert_eq!(
        (&decision["decision"], &decision["decided_by"]),
        (&json!("deny"), &json!("gatekeep (verdict check)")),
        "{decision}"
    );
    assert!(
        decision["why"].as_str().unwrap().contains("shown digest"),
        "{decision}"
    );
    assert!(
        !agent.ledger(&id).iter().any(|r| r["event"] == "outcome"),
        "no outcome: nothing ran"
    );
}

#[test]
fn proxy_variables_in_the_environment_are_ignored() {
    // A listener standing in for an attacker's proxy: it must receive nothing.
    let trap = TcpListener::bind("127.0.0.1:0").unwrap();
    let trap_url = format!("http://{}", trap.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    {
        let hits = hits.clone();
        std::thread::spawn(move || {
            for stream in trap.incoming() {
                hits.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
    }
    let server = Server::start();
    let proxy_env: Vec<(String, String)> = [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ]
    .iter()
    .map(|k| ((*k).to_owned(), trap_url.clone()))
    .collect();
    let mut agent = agent_machine();
    agent.env = proxy_env.clone();
    agent.login_to(&server.url, &server.key_id, &server.agent_token(), &[]);
    let mut bob = Machine::new("bob");
    bob.env = proxy_env;
    bob.login_to(
        &server.url,
        &server.key_id,
        &server.approver_token("bob", ""),
        &[],
    );

    let (_, code, err) = approve_flow(&agent, &bob, "touch marker");
    assert_eq!(code, Some(0), "{err}");
    assert!(agent.file("marker").exists());
    assert_eq!(hits.load(Ordering::SeqCst), 0, "a proxy variable was used");
}

// ---------------------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------------------

#[test]
fn the_approve_flow_runs_over_tls_with_a_private_ca_and_refuses_without_it() {
    let pki = tempfile::tempdir().unwrap();
    make_pki(pki.path());
    let p = |name: &str| pki.path().join(name).display().to_string();
    let server = Server::start_with(&[
        "--tls-cert",
        &p("server.pem"),
        "--tls-key",
        &p("server.key"),
    ]);
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    let pin = server.tls_pin();
    assert!(
        !server.log.text().contains("without TLS"),
        "no plain-http warning with TLS:\n{}",
        server.log.text()
    );

    // Without the CA, login refuses the certificate and records nothing.
    let agent_token = server.agent_token();
    let stranger = Machine::new("stranger");
    let key = format!("--key={}", server.key_id);
    let out = stranger.login_with(&["login", "--server", &server.url, &key], &agent_token);
    assert!(!out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("did not present a certificate this client trusts"),
        "{err}"
    );
    assert!(!stranger.config_path().exists());

    // With it, the whole flow runs over TLS; `ca` is recorded as an absolute path.
    let agent = agent_machine();
    agent.login_to(
        &server.url,
        &server.key_id,
        &agent_token,
        &["--ca", &p("ca.pem")],
    );
    let config: toml::Table =
        toml::from_str(&std::fs::read_to_string(agent.config_path()).unwrap()).unwrap();
    assert_eq!(config["server"]["ca"].as_str(), Some(p("ca.pem").as_str()));
    let bob = Machine::new("bob");
    bob.login_to(
        &server.url,
        &server.key_id,
        &server.approver_token("bob", ""),
        &["--ca", &p("ca.pem")],
    );
    let (id, code, err) = approve_flow(&agent, &bob, "touch marker-tls");
    assert_eq!(code, Some(0), "{err}");
    assert!(agent.file("marker-tls").exists());
    assert_eq!(agent.decision(&id)["decision"], "approve");

    // The right pin, on top of the CA: still runs.
    agent.set_server_key("tls_pin", Some(pin.clone().into()));
    let (_, code, err) = approve_flow(&agent, &bob, "touch marker-pinned");
    assert_eq!(code, Some(0), "{err}");
    assert!(agent.file("marker-pinned").exists());

    // Through a configured proxy the tunnel carries TLS end to end.
    let relay = Mitm::relay();
    agent.set_server_key("proxy", Some(relay.url.clone().into()));
    let (_, code, err) = approve_flow(&agent, &bob, "touch marker-via-proxy");
    assert_eq!(code, Some(0), "{err}");
    assert!(agent.file("marker-via-proxy").exists());
    assert!(
        relay.tunnels.load(Ordering::SeqCst) > 0,
        "the proxy was not used"
    );
    agent.set_server_key("proxy", None);

    // A wrong pin (another certificate's key, from the same kind of file): refused.
    let other = std::fs::read_to_string(p("other-server.pem")).unwrap();
    let other_pin = {
        use rustls_pki_types::CertificateDer;
        use rustls_pki_types::pem::PemObject;
        let der = CertificateDer::from_pem_slice(other.as_bytes()).unwrap();
        gatekeep::approval::tls::spki_pin(&der).unwrap()
    };
    assert_ne!(other_pin, pin);
    agent.set_server_key("tls_pin", Some(other_pin.into()));
    let (code, err) = agent.exec("touch marker-wrong-pin").finish();
    assert_eq!(code, Some(69), "{err}");
    assert!(
        err.contains("not the tls_pin") && err.contains(&pin),
        "{err}"
    );
    assert!(!agent.file("marker-wrong-pin").exists());

    // A client that does not trust the CA: refused, nothing runs.
    agent.set_server_key("tls_pin", None);
    agent.set_server_key("ca", None);
    let (code, err) = agent.exec("touch marker-no-ca").finish();
    assert_eq!(code, Some(69), "{err}");
    assert!(
        err.contains("did not present a certificate this client trusts")
            && err.contains("--ca FILE"),
        "{err}"
    );
    assert!(!agent.file("marker-no-ca").exists());

    // A server certificate from another CA than the configured one: refused too.
    agent.set_server_key("ca", Some(p("other-ca.pem").into()));
    let (code, err) = agent.exec("touch marker-other-ca").finish();
    assert_eq!(code, Some(69), "{err}");
    assert!(!agent.file("marker-other-ca").exists());

    // Graceful shutdown over TLS: with a client holding a long poll, SIGTERM ends the server
    // cleanly (the poll is answered at once, as over plain http).
    agent.set_server_key("ca", Some(p("ca.pem").into()));
    let mut waiting = agent.exec("touch marker-shutdown");
    waiting.request_id();
    let mut server = server;
    server.stop();
    assert!(!agent.file("marker-shutdown").exists());
}

// ---------------------------------------------------------------------------------------
// Plain http
// ---------------------------------------------------------------------------------------

#[test]
fn plain_http_off_loopback_is_refused_unless_chosen_at_login() {
    let m = agent_machine();
    let url = "http://gk.invalid:8700";
    let out = m.login_with(&["login", "--server", url, "--key=abc"], "gkr_x");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refusing plain http to http://gk.invalid:8700"),
        "{err}"
    );
    assert!(
        err.contains("https://") && err.contains("--insecure-http"),
        "{err}"
    );
    assert!(!m.config_path().exists());

    // Chosen: login goes on to the connection, which fails (the name does not resolve).
    let out = m.login_with(
        &["login", "--server", url, "--key=abc", "--insecure-http"],
        "gkr_x",
    );
    assert!(!out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("refusing plain http"), "{err}");
    assert!(
        err.contains("cannot reach the approval service at http://gk.invalid:8700"),
        "{err}"
    );
    assert!(err.contains("warning: using plain http"), "{err}");

    // The client holds the same line: a config naming a plain-http server that login did
    // not accept refuses the command, saying why; one that records the choice goes on.
    let key = gatekeep::api::verdict::Jwk::from_key(
        &ed25519_dalek::SigningKey::from_bytes(&[1; 32]).verifying_key(),
    )
    .x;
    std::fs::write(
        m.config_path(),
        format!("[server]\nurl = \"{url}\"\nkey = \"{key}\"\n"),
    )
    .unwrap();
    let credentials = m.config_dir().join("credentials.toml");
    std::fs::write(
        &credentials,
        format!("[[token]]\nserver = \"{url}\"\nkind = \"requester\"\ntoken = \"gkr_x\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(
        &credentials,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let (code, err) = m.exec("touch marker").finish();
    assert_eq!(code, Some(69), "{err}");
    assert!(err.contains("refusing plain http"), "{err}");
    m.set_server_key("insecure_http", Some(true.into()));
    let (code, err) = m.exec("touch marker").finish();
    assert_eq!(code, Some(69), "{err}");
    assert!(!err.contains("refusing plain http"), "{err}");
    assert!(!m.file("marker").exists());
}

#[test]
fn the_server_warns_when_it_listens_off_loopback_without_tls() {
    // Binding the wildcard address sends no traffic anywhere; nothing connects to it.
    let server = Server::start_on("0.0.0.0", &[]);
    let deadline = Instant::now() + STEP;
    while !server.log.text().contains("warning: listening on") {
        assert!(Instant::now() < deadline, "{}", server.log.text());
        std::thread::sleep(Duration::from_millis(10));
    }
    let log = server.log.text();
    assert!(
        log.contains(&format!("0.0.0.0:{} without TLS", server.port)),
        "{log}"
    );
    assert!(log.contains("--tls-cert"), "{log}");

    let local = Server::start();
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        !local.log.text().contains("without TLS"),
        "{}",
        local.log.text()
    );
}
