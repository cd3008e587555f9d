//! The approval service's connections under abuse, with the real `gatekeep server` on
//! 127.0.0.1 and real sockets: silent and half-sent requests are closed after the header
//! timeout; at the cap, silent connections make room for clients with requests while long
//! polls are kept and newcomers get a 503; one address cannot take every place; a long poll
//! outlives the header and idle timeouts; the expiry sweep keeps working while connections
//! are saturated under a small open-file limit; TLS handshakes are bounded too; and the
//! client waits out a busy service (and says so when it gives up).
//!
//! Flood sockets come from 127.0.0.2 and up (all of 127/8 is loopback on Linux), so the
//! per-address cap can be told apart from the total. Timeouts are set to a second or two by
//! flags; nothing here asserts how long anything took, only that it ended within [`STEP`].

#![expect(clippy::unwrap_used, reason = "a test fails loudly on setup errors")]

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::support::pki::make_pki;
use crate::support::service::{Machine, STEP, Server, text};
use gatekeep::api::protocol::{CreateRequest, State};
use gatekeep::approval::remote::Client;
use serde_json::Value;

/// The agent's policy: `marker*` needs one approval within a minute, `expiring*` within 2 s.
const POLICY: &str = r#"
[[rule]]
id = "ask-marker"
decision = "approve"
risk = "high"
message = "Touching a marker needs approval."
program = ["touch"]
args = ["marker*"]
timeout = 60

[[rule]]
id = "ask-expiring"
decision = "approve"
risk = "medium"
message = "Touching an expiring file needs approval within 2 s."
program = ["touch"]
args = ["expiring*"]
timeout = 2
"#;

/// Starts `gatekeep server OPTIONS`, optionally under a lower open-file limit.
fn start_server(options: &[&str], nofile: Option<u32>) -> Server {
    let mut server = Server::new(tempfile::tempdir().unwrap());
    server.options = options.iter().map(|o| (*o).to_owned()).collect();
    server.nofile = nofile;
    server.launch();
    server
}

impl Server {
    /// `GET /healthz` from 127.0.0.1 on a fresh connection: the status line, or the error.
    fn healthz(&self) -> Result<String, String> {
        let mut s = connect_from(1, self.port).map_err(|e| e.to_string())?;
        send(
            &mut s,
            "GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        );
        let answer = read_to_close(&mut s).map_err(|e| e.to_string())?;
        Ok(answer)
    }

    /// Waits until `/healthz` answers 200 from 127.0.0.1.
    fn wait_healthy(&self) {
        let deadline = Instant::now() + STEP;
        loop {
            let answer = self.healthz();
            if answer
                .as_deref()
                .is_ok_and(|a| a.starts_with("HTTP/1.1 200"))
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "healthz never came back: {answer:?}\nserver log:\n{}",
                self.log.text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A TCP connection to the server from 127.0.0.`host`.
fn connect_from(host: u8, port: u16) -> std::io::Result<TcpStream> {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    let rt = RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap()
    });
    let stream = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from((Ipv4Addr::new(127, 0, 0, host), 0)))?;
        socket
            .connect(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
            .await?
            .into_std()
    })?;
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(STEP))?;
    Ok(stream)
}

fn send(s: &mut TcpStream, what: &str) {
    s.write_all(what.as_bytes()).unwrap();
}

/// Everything the server sends until it closes; a reset after some bytes counts as closed.
/// Fails if the server keeps the connection open past [`STEP`].
fn read_to_close(s: &mut TcpStream) -> std::io::Result<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => return Err(e),
        }
    }
    Ok(String::from_utf8_lossy(&got).into_owned())
}

/// Asserts that the server closes `s` (within [`STEP`]), after sending `expect_prefix`.
fn assert_closed(what: &str, s: &mut TcpStream, expect_prefix: &str) {
    match read_to_close(s) {
        Ok(answer) => assert!(
            answer.starts_with(expect_prefix),
            "{what}: the server sent {answer:?}"
        ),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            panic!("{what}: still open after {STEP:?}")
        }
        Err(e) => panic!("{what}: {e}"),
    }
}

/// The server's answer on a connection beyond its cap: a 503 with a JSON error, then closed.
fn assert_refused(what: &str, s: &mut TcpStream) -> String {
    send(s, "GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n");
    let answer = read_to_close(s).unwrap();
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("{what}: not an HTTP answer: {answer:?}"));
    assert!(
        head.starts_with("HTTP/1.1 503 Service Unavailable"),
        "{what}: {answer}"
    );
    assert!(
        head.to_ascii_lowercase().contains("retry-after:"),
        "{what}: {head}"
    );
    let body: Value = serde_json::from_str(body).unwrap();
    let error = body["error"].as_str().unwrap().to_owned();
    assert!(error.contains("connection limit"), "{what}: {error}");
    error
}

/// A valid create body. Built from JSON so that fields added later with serde defaults
/// need no change here.
fn request(id: &str, timeout_secs: u64) -> CreateRequest {
    serde_json::from_value(serde_json::json!({
        "id": id,
        "nonce": format!("nonce-{id}-0123456789"),
        "argv": ["touch", "marker"],
        "digest": "ab".repeat(32),
        "origin": {"user": "agent-user", "host": "build-1", "cwd": "/work"},
        "rules": ["ask-marker"],
        "risk": "high",
        "quorum": 1,
        "groups": [],
        "timeout_secs": timeout_secs,
    }))
    .unwrap()
}

/// A machine with the agent's policy, logged in to the server.
fn logged_in(server: &Server, user: &str, token: &str) -> Machine {
    let m = Machine::with_policy(user, POLICY);
    m.login(server, token);
    m
}

/// `gatekeep approve ID` on `approver`, asked again while the service answers 503 (at its
/// connection cap with every connection in a handler, a person would retry too), for at
/// most 20 s.
fn approve_retrying(approver: &Machine, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = approver.run(&["approve", id]);
        if out.status.success() {
            return;
        }
        assert!(
            text(&out).contains("HTTP 503") && Instant::now() < deadline,
            "approve {id}: {}",
            text(&out)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Opens `n` connections from 127.0.0.`host` that say nothing.
fn silent(host: u8, port: u16, n: usize) -> Vec<TcpStream> {
    (0..n).map(|_| connect_from(host, port).unwrap()).collect()
}

/// `n` silent connections from `127.0.0.HOST`, every one held by the server: when `n` is
/// all it allows that address, no other connection from there gets in. Tried again until all
/// are held, since a connection closed just before may not be released yet and a new one
/// refused meanwhile. A refused connection is answered (a 503, or closed) within a second
/// even when it says nothing; a held one hears nothing. (A probe refused after them would
/// not tell: it may be refused for the old connection's slot, which is freed a moment later.)
fn saturate(host: u8, port: u16, n: usize) -> Vec<TcpStream> {
    let deadline = Instant::now() + STEP;
    loop {
        let held = silent(host, port, n);
        std::thread::sleep(Duration::from_millis(1500));
        let quiet = |s: &TcpStream| {
            s.set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            let quiet = matches!(
                s.peek(&mut [0u8; 1]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
            );
            s.set_read_timeout(Some(STEP)).unwrap();
            quiet
        };
        if held.iter().all(quiet) {
            return held;
        }
        assert!(
            Instant::now() < deadline,
            "the server never held {n} connections from 127.0.0.{host}"
        );
        drop(held);
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn silent_connections_partial_heads_and_slow_bodies_are_closed() {
    let server = start_server(&["--header-timeout", "1", "--idle-timeout", "2"], None);

    let mut quiet = connect_from(1, server.port).unwrap();
    let mut partial = connect_from(1, server.port).unwrap();
    send(&mut partial, "GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: ");
    // A keep-alive connection is served, then closed once it sits idle.
    let mut kept = connect_from(1, server.port).unwrap();
    send(&mut kept, "GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n");
    // A body that stops arriving: half of a create.
    let mut slow = connect_from(1, server.port).unwrap();
    send(
        &mut slow,
        "POST /v1/requests HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"id\":",
    );

    assert_closed("a silent connection", &mut quiet, "");
    assert_closed("a partial head", &mut partial, "");
    assert_closed(
        "an idle keep-alive connection",
        &mut kept,
        "HTTP/1.1 200 OK",
    );
    // Refused (its body did not arrive within the idle timeout) and closed, not held.
    let answer = read_to_close(&mut slow)
        .unwrap_or_else(|e| panic!("a stalled body's connection is still open: {e}"));
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
        "a stalled body: {answer:?}"
    );
    // Still serving.
    server.wait_healthy();
}

/// Whether the server has answered or closed `s` (without waiting): a silent connection or
/// a long poll with no decision yet gets neither.
fn has_ended(s: &TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let ended = match s.peek(&mut [0u8; 1]) {
        Ok(_) => true,
        Err(e) => e.kind() != ErrorKind::WouldBlock,
    };
    s.set_nonblocking(false).unwrap();
    ended
}

/// A raw long poll on request `id`, as the agent's client makes it.
fn long_poll(host: u8, port: u16, token: &str, id: &str) -> TcpStream {
    let mut s = connect_from(host, port).unwrap();
    send(
        &mut s,
        &format!(
            "GET /v1/requests/{id}/wait?timeout=20 HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\nconnection: close\r\n\r\n"
        ),
    );
    s
}

/// The server options of a service with three places, all open to one address.
const THREE_PLACES: [&str; 6] = [
    "--max-connections",
    "3",
    "--max-connections-per-address",
    "3",
    "--header-timeout",
    "60",
];

#[test]
fn at_the_cap_a_silent_connection_makes_room_for_a_request() {
    let server = start_server(&THREE_PLACES, None);
    // Silent connections fill every place; a client with a request still gets in (once
    // they are past the second of grace a new connection has), and one of them is closed.
    let quiet = silent(2, server.port, 3);
    server.wait_healthy();
    let deadline = Instant::now() + STEP;
    while !quiet.iter().any(has_ended) {
        assert!(Instant::now() < deadline, "no silent connection was closed");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        quiet.iter().filter(|s| has_ended(s)).count(),
        1,
        "one place was needed, one connection closed"
    );
}

/// Creates request `id` on a connection of its own, closed after the answer.
fn create_on_own_connection(server: &Server, token: &str, id: &str) {
    let body = serde_json::to_string(&request(id, 60)).unwrap();
    let mut s = connect_from(1, server.port).unwrap();
    send(
        &mut s,
        &format!(
            "POST /v1/requests HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    let answer = read_to_close(&mut s).unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
}

#[test]
fn at_the_cap_long_polls_are_kept_and_newcomers_get_a_503() {
    let server = start_server(&THREE_PLACES, None);
    let agent_token = server.agent_token();
    for id in ["held-1", "held-2", "held-3"] {
        create_on_own_connection(&server, &agent_token, id);
    }
    // Long polls fill every place: they are never closed to make room, so newcomers are
    // answered 503 (once any connection left from the creates is gone).
    let mut polls: Vec<TcpStream> = ["held-1", "held-2", "held-3"]
        .iter()
        .map(|id| long_poll(4, server.port, &agent_token, id))
        .collect();
    let deadline = Instant::now() + STEP;
    let error = loop {
        let mut s = connect_from(3, server.port).unwrap();
        send(
            &mut s,
            "GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        );
        let answer = read_to_close(&mut s).unwrap();
        if answer.starts_with("HTTP/1.1 503") {
            let body = answer.split_once("\r\n\r\n").unwrap().1;
            let body: Value = serde_json::from_str(body).unwrap();
            break body["error"].as_str().unwrap().to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "never refused: {answer}\nserver log:\n{}",
            server.log.text()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        error.contains("connection limit (3 connections)"),
        "{error}"
    );
    // Past the grace a new connection has: still refused.
    std::thread::sleep(Duration::from_millis(1200));
    let mut again = connect_from(1, server.port).unwrap();
    assert_refused("a connection while every place is a long poll", &mut again);
    assert!(
        !polls.iter().any(has_ended),
        "a long poll was cut or refused"
    );

    // Give one place back: an approver gets in, and a kept long poll gets its decision.
    drop(polls.pop());
    let approver = Client::new(&server.url, Some(server.approver_token("bob", "")));
    let deadline = Instant::now() + STEP;
    let decided = loop {
        match approver.decide("held-1", true, None) {
            Ok(view) => break view,
            Err(e) => {
                assert!(Instant::now() < deadline, "cannot approve: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    };
    assert_eq!(decided.state, State::Approved);
    let answer = read_to_close(&mut polls[0]).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"approved\""), "{answer}");
}

#[test]
fn floods_leave_healthz_and_approvals_to_others() {
    let server = start_server(
        &[
            "--max-connections",
            "12",
            "--max-connections-per-address",
            "6",
            "--header-timeout",
            "60",
        ],
        None,
    );
    let agent = logged_in(&server, "agent-user", &server.agent_token());
    let approver = logged_in(&server, "bob", &server.approver_token("bob", ""));

    // One address takes every place it may hold; the rest of its connections are refused.
    let mut flood = silent(2, server.port, 6);
    for _ in 0..3 {
        let mut s = connect_from(2, server.port).unwrap();
        let error = assert_refused("a flood connection past its address's share", &mut s);
        assert!(
            error.contains("for your address (6 connections)"),
            "{error}"
        );
    }
    server.wait_healthy();
    // A second address fills the total: silent connections, which make room for requests.
    flood.extend(silent(3, server.port, 6));
    server.wait_healthy();

    let mut waiting = agent.exec("touch marker-flood");
    let id = waiting.request_id();
    approve_retrying(&approver, &id);
    let (code, err) = waiting.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(
        agent.file("marker-flood").exists(),
        "the approved command ran:\n{err}"
    );
}

#[test]
fn a_long_poll_outlives_the_header_and_idle_timeouts() {
    let server = start_server(&["--header-timeout", "1", "--idle-timeout", "1"], None);
    let agent_token = server.agent_token();
    let agent = Client::new(&server.url, Some(agent_token.clone()));
    let approver = Client::new(&server.url, Some(server.approver_token("bob", "")));
    agent.create(&request("long-poll-1", 60)).unwrap();

    let mut poll = connect_from(1, server.port).unwrap();
    send(
        &mut poll,
        &format!(
            "GET /v1/requests/long-poll-1/wait?timeout=20 HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {agent_token}\r\nconnection: close\r\n\r\n"
        ),
    );
    // Longer than both timeouts, and than the sweep's tick.
    std::thread::sleep(Duration::from_secs(3));
    approver.decide("long-poll-1", true, None).unwrap();
    let answer = read_to_close(&mut poll).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{answer}");
    let view: Value = serde_json::from_str(body).unwrap();
    assert_eq!(view["state"], "approved", "{view}");
}

#[test]
fn the_sweep_and_the_database_keep_their_descriptors_under_a_flood() {
    // 320 open files: the default cap is what is left after the reserve, half per address.
    let server = start_server(&["--header-timeout", "60"], Some(320));
    let agent = Client::new(&server.url, Some(server.agent_token()));
    agent.create(&request("swept-1", 2)).unwrap();

    // Four addresses, 90 silent connections each: past the cap, and past the open-file limit
    // itself (which, with no cap, would starve the sweep of descriptors).
    let mut flood = Vec::new();
    for host in 2..6 {
        for _ in 0..90 {
            match connect_from(host, server.port) {
                Ok(s) => flood.push(s),
                Err(e) => panic!("the flood could not connect: {e}"),
            }
        }
    }
    // Every place is taken: a newcomer is served in the place of a silent connection, or
    // refused (503, or closed at once while too many others are being refused) — never left
    // hanging.
    let mut extra = connect_from(9, server.port).unwrap();
    send(
        &mut extra,
        "GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    );
    let answer = read_to_close(&mut extra).unwrap();
    assert!(
        answer.is_empty()
            || answer.starts_with("HTTP/1.1 200")
            || answer.starts_with("HTTP/1.1 503"),
        "a connection while saturated: {answer:?}"
    );

    // The sweep still reaches the database: the request expires while the flood holds on.
    let deadline = Instant::now() + STEP;
    while !server
        .audit_events()
        .iter()
        .any(|e| e["request_id"] == "swept-1" && e["kind"] == "expired")
    {
        assert!(
            Instant::now() < deadline,
            "the request never expired:\n{}",
            server.log.text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(flood);
    server.wait_healthy();
    assert_eq!(agent.get("swept-1").unwrap().state, State::Expired);
    let log = server.log.text();
    assert!(
        !log.contains("Too many open files") && !log.contains("sweep failed"),
        "{log}"
    );
}

#[test]
fn the_client_waits_out_a_busy_service_and_says_so_when_it_gives_up() {
    // Everything here comes from 127.0.0.1, which may hold 2 connections.
    let server = start_server(
        &[
            "--max-connections-per-address",
            "2",
            "--header-timeout",
            "60",
        ],
        None,
    );
    let agent = logged_in(&server, "agent-user", &server.agent_token());
    let approver = logged_in(&server, "bob", &server.approver_token("bob", ""));

    // Busy, then free again: the create goes through and the approval flow completes.
    let held = saturate(1, server.port, 2);
    let mut waiting = agent.exec("touch marker-busy");
    waiting.wait_for("the approval service is busy");
    drop(held);
    let id = waiting.request_id();
    approve_retrying(&approver, &id);
    let (code, err) = waiting.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(agent.file("marker-busy").exists(), "{err}");

    // Busy for longer than the request may wait (2 s): refused, with the reason, not run.
    let _held = saturate(1, server.port, 2);
    let (code, err) = agent.exec("touch expiring-busy").finish();
    assert_eq!(code, Some(69), "{err}");
    assert!(
        err.contains("stayed busy") && err.contains("connection limit"),
        "{err}"
    );
    assert!(!agent.file("expiring-busy").exists());
}

#[test]
fn over_tls_stalled_handshakes_are_closed_and_the_cap_answers_503() {
    let pki = tempfile::tempdir().unwrap();
    make_pki(pki.path());
    let cert = pki.path().join("server.pem");
    let key = pki.path().join("server.key");
    let tls = [
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ];

    // The handshake counts against the header timeout: nothing, or half a ClientHello.
    let server = start_server(&[&tls[..], &["--header-timeout", "1"]].concat(), None);
    let mut quiet = connect_from(1, server.port).unwrap();
    let mut partial = connect_from(1, server.port).unwrap();
    partial
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .unwrap();
    assert_closed("a silent TLS connection", &mut quiet, "");
    assert_closed("half a ClientHello", &mut partial, "");
    drop(server);

    // Past its address's cap, a TLS client reads the 503 (after its handshake) as a refusal.
    let server = start_server(
        &[
            &tls[..],
            &[
                "--max-connections-per-address",
                "2",
                "--header-timeout",
                "60",
            ],
        ]
        .concat(),
        None,
    );
    assert!(server.url.starts_with("https://"), "{}", server.url);
    let connection = gatekeep::approval::remote::Connection {
        ca: Some(pki.path().join("ca.pem")),
        ..Default::default()
    };
    let token = server.agent_token();
    let client = Client::connect(&server.url, &connection, Some(token.clone())).unwrap();
    assert_eq!(
        client.whoami().unwrap().name,
        "ci-bot",
        "served below the cap"
    );
    drop(client);
    let mut held = silent(1, server.port, 2);
    // The connection of the client just dropped may still count when the silent ones arrive,
    // and then one of them is the one refused: while a client still gets in, hold one more
    // silent connection and ask again (each client's connection goes with it).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let client = Client::connect(&server.url, &connection, Some(token.clone())).unwrap();
        match client.whoami() {
            Err(gatekeep::approval::remote::RemoteError::Refused { status, message }) => {
                assert_eq!(status, 503);
                assert!(message.contains("connection limit"), "{message}");
                break;
            }
            Ok(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100));
                held.extend(silent(1, server.port, 1));
            }
            other => panic!("expected a 503 refusal, got {other:?}"),
        }
    }
    drop(held);
}
