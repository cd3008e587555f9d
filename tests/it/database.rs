//! The service's databases: SQLite's versioned schema opening databases made before it, and
//! several replicas of `gatekeep server` on one real PostgreSQL (the throwaway cluster of
//! `support::pg`): one chain under concurrent appends, decisions on one replica waking clients
//! waiting on another, a quorum completed by approvals racing on two replicas, notices
//! delivered once across replicas and not lost with a replica killed mid-send.
//!
//! These always run on PostgreSQL, whatever `GK_TEST_BACKEND` says.

#![expect(clippy::unwrap_used, reason = "a test fails loudly on setup errors")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gatekeep::server::event::{EventDetail, EventDraft};
use gatekeep::server::postgres::Postgres;
use gatekeep::server::store::Store;

use crate::channels::{Call, Standin};
use crate::support::pg;
use crate::support::service::{Machine, STEP, Server, text};

/// Touching a marker needs one approval; a `deploy-*` marker needs two; a `brief-*` one
/// expires after two seconds.
const POLICY: &str = r#"
[[rule]]
id = "ask-marker"
decision = "approve"
risk = "high"
message = "Touching a marker needs approval."
program = ["touch"]
args = ["marker-*"]
timeout = 60

[[rule]]
id = "ask-brief"
decision = "approve"
risk = "high"
message = "A brief marker waits two seconds at most."
program = ["touch"]
args = ["brief*"]
timeout = 2

[[rule]]
id = "ask-deploy"
decision = "approve"
risk = "high"
message = "A deploy marker needs two approvers."
program = ["touch"]
args = ["deploy*"]
quorum = 2
timeout = 60
"#;

impl Server {
    /// A server on a fresh PostgreSQL database.
    fn on_postgres() -> Server {
        Server::on_cluster(pg::cluster())
    }

    /// A server on a fresh database in `cluster`.
    fn on_cluster(cluster: &pg::Cluster) -> Server {
        Server::on_cluster_with(cluster, &[])
    }

    /// A server on a fresh database in `cluster`, started with `options`.
    fn on_cluster_with(cluster: &pg::Cluster, options: &[String]) -> Server {
        let mut server = Server::new(tempfile::tempdir().unwrap());
        server.database = Some(cluster.database());
        server.options = options.to_vec();
        server.launch();
        server
    }

    /// Another replica on `first`'s database: it loads the signing key from the database
    /// (nothing is copied into its data directory).
    fn replica_of(first: &Server) -> Server {
        Server::replica_with(first, &[])
    }

    /// [`Server::replica_of`], started with `options`.
    fn replica_with(first: &Server, options: &[String]) -> Server {
        let data = tempfile::tempdir().unwrap();
        let mut server = Server::new(data);
        server.database = first.database.clone();
        server.options = options.to_vec();
        server.launch();
        assert_eq!(
            server.key_id, first.key_id,
            "the replicas sign with one key"
        );
        server
    }

    /// `gatekeep server audit verify`: its exit code and findings.
    fn audit_verify(&self) -> (Option<i32>, String) {
        let out = self.admin(&["audit", "verify"]);
        (out.status.code(), text(&out))
    }
}

impl Machine {
    /// Lists `replicas` in `urls` of the machine's `[server]`: where its client fails over.
    fn fail_over_to(&self, replicas: &[&Server]) {
        let path = self.config_dir().join("config.toml");
        let mut doc: toml::Table =
            toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let server = doc
            .get_mut("server")
            .and_then(toml::Value::as_table_mut)
            .unwrap();
        let urls = replicas.iter().map(|r| toml::Value::from(r.url.as_str()));
        server.insert("urls".into(), toml::Value::Array(urls.collect()));
        std::fs::write(&path, toml::to_string(&doc).unwrap()).unwrap();
    }
}

/// `approve ID` on `approver`, retried while the service answers 503 (its database is
/// coming back).
fn approve_patiently(approver: &Machine, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = approver.run(&["approve", id]);
        if out.status.success() {
            return;
        }
        assert!(Instant::now() < deadline, "approve {id}: {}", text(&out));
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// How many events of `kind` the trail holds about request `id`.
fn count(events: &[serde_json::Value], id: &str, kind: &str) -> usize {
    events
        .iter()
        .filter(|e| e["request_id"] == id && e["kind"] == kind)
        .count()
}

/// Two replicas' stores on one database append concurrently: the chain stays one chain,
/// every event in it, in order, each linked to the one before.
#[test]
fn concurrent_appends_from_two_replicas_stay_one_chain() {
    let db = pg::cluster().database();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let open = || Postgres::open(&db.url, Some(&db.password_file));
        let replicas = [
            Arc::new(open().await.unwrap()),
            Arc::new(open().await.unwrap()),
        ];
        let mut tasks = Vec::new();
        for (r, store) in replicas.iter().enumerate() {
            for i in 0..40 {
                let store = store.clone();
                tasks.push(tokio::spawn(async move {
                    let detail = EventDetail::Refused {
                        action: "approve".into(),
                        request: format!("r{r}-{i}"),
                        reason: "test".into(),
                        uncounted_before: 0,
                    };
                    let events = vec![
                        EventDraft::new("", format!("replica-{r}"), None, detail.clone()),
                        EventDraft::new("", format!("replica-{r}"), None, detail),
                    ];
                    store.record_events(events).await.unwrap();
                }));
            }
        }
        for task in tasks {
            task.await.unwrap();
        }
        let events = replicas[1].events().await.unwrap();
        assert_eq!(events.len(), 160, "every append is in the chain");
        let report = gatekeep::server::audit::verify(&events);
        assert!(report.is_ok(), "{:?}", report.errors);
        // Each transaction's two events are adjacent: appends did not interleave.
        for pair in events.chunks(2) {
            assert_eq!(pair[0].detail, pair[1].detail, "{pair:?}");
        }
    });
}

/// A replica's messages name the database without its password.
#[test]
fn the_database_password_is_never_shown() {
    let db = pg::cluster().database();
    let password = std::fs::read_to_string(&db.password_file).unwrap();
    let password = password.trim();
    let with_password = db
        .url
        .replacen("postgres@", &format!("postgres:{password}@"), 1)
        .replace(&db.name, "no_such_database");
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(crate::support::service::GK)
        .args(["server", "token", "list", "--database", &with_password])
        .arg("--data")
        .arg(dir.path())
        .env("GATEKEEP_KEYRING", "off")
        .output()
        .unwrap();
    let all = text(&out);
    assert!(!out.status.success(), "{all}");
    assert!(all.contains("no_such_database"), "{all}");
    assert!(
        !all.contains(password),
        "the password is in the output: {all}"
    );
    assert!(all.contains("***"), "{all}");
}

/// The password may come from PGPASSFILE (libpq's file), as operators keep it.
#[test]
fn the_password_may_come_from_pgpassfile() {
    let db = pg::cluster().database();
    let password = std::fs::read_to_string(&db.password_file).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pgpass = dir.path().join("pgpass");
    std::fs::write(&pgpass, format!("*:*:*:postgres:{}\n", password.trim())).unwrap();
    std::fs::set_permissions(&pgpass, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let out = Command::new(crate::support::service::GK)
        .args(["server", "token", "create", "--agent", "ci-bot"])
        .args(["--database", &db.url])
        .arg("--data")
        .arg(dir.path())
        .env("GATEKEEP_KEYRING", "off")
        .env("PGPASSFILE", &pgpass)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let out = Command::new(crate::support::service::GK)
        .args(["server", "token", "list", "--database", &db.url])
        .arg("--data")
        .arg(dir.path())
        .env("GATEKEEP_KEYRING", "off")
        .env("PGPASSFILE", dir.path().join("missing"))
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "no password, no entry: {}",
        text(&out)
    );
}

/// A decision taken on replica B wakes the client long-polling on replica A at once: the
/// command runs well before any poll would have come back.
#[test]
fn a_decision_on_one_replica_wakes_the_client_waiting_on_another() {
    let a = Server::on_postgres();
    let b = Server::replica_of(&a);
    let agent = Machine::with_policy("agent-user", POLICY);
    agent.login(&a, &a.token(&["--agent", "ci-bot"]));
    let bob = Machine::new("bob");
    bob.login(&b, &b.token(&["--approver", "bob"]));
    for round in 0..3 {
        let marker = format!("marker-{round}");
        let mut client = agent.exec(&format!("touch {marker}"));
        let id = client.request_id();
        // Let the client's long poll reach replica A.
        std::thread::sleep(Duration::from_millis(300));
        let out = bob.run(&["approve", &id]);
        assert!(out.status.success(), "{}", text(&out));
        let approved = Instant::now();
        while !agent.dir().join(&marker).exists() {
            assert!(
                approved.elapsed() < Duration::from_secs(3),
                "round {round}: the client on A did not wake:\n{}",
                client.stderr()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let (code, err) = client.finish();
        assert_eq!(code, Some(0), "{err}");
    }
    let (code, out) = b.audit_verify();
    assert_eq!(code, Some(0), "{out}");
}

/// Two approvals of a quorum-2 request, sent at once to two replicas: both count, the
/// request is approved once, and the command runs once.
#[test]
fn approvals_racing_on_two_replicas_complete_the_quorum_once() {
    let a = Server::on_postgres();
    let b = Server::replica_of(&a);
    let agent = Machine::with_policy("agent-user", POLICY);
    agent.login(&a, &a.token(&["--agent", "ci-bot"]));
    let bob = Machine::new("bob");
    bob.login(&a, &a.token(&["--approver", "bob"]));
    let carol = Machine::new("carol");
    carol.login(&b, &b.token(&["--approver", "carol"]));
    for round in 0..3 {
        let marker = format!("deploy-{round}");
        let mut client = agent.exec(&format!("touch {marker}"));
        let id = client.request_id();
        let approve = |who: &Machine| {
            let mut cmd = who.gk();
            cmd.args(["approve", &id])
                .stdout(std::process::Stdio::null());
            cmd.spawn().unwrap()
        };
        let (first, second) = (approve(&bob), approve(&carol));
        for mut child in [first, second] {
            assert!(child.wait().unwrap().success(), "an approval failed");
        }
        let (code, err) = client.finish();
        assert_eq!(code, Some(0), "{err}");
        let view = agent.show(&id);
        assert_eq!(view.approvals.len(), 2, "{view:?}");
        let events = a.audit_events();
        let finals: Vec<_> = events
            .iter()
            .filter(|e| e["request_id"] == id.as_str() && e["kind"] == "approved")
            .filter(|e| e["detail"]["final"] == true)
            .collect();
        assert_eq!(finals.len(), 1, "approved once: {events:?}");
    }
    let (code, out) = a.audit_verify();
    assert_eq!(code, Some(0), "{out}");
}

/// A database made by a gatekeep from before versioned migrations opens as it is: its
/// tokens still work and its trail still verifies.
#[test]
fn an_sqlite_database_from_before_migrations_still_opens() {
    let data = tempfile::tempdir().unwrap();
    // The schema those versions created, with a token they issued.
    let token = "gkr_made-by-an-older-version-0123456789abcdef";
    let hash = gatekeep::server::token_hash(token);
    let old_schema = format!(
        "CREATE TABLE tokens (id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
            role TEXT NOT NULL, groups TEXT NOT NULL, on_behalf_of TEXT, created_at TEXT NOT NULL,
            revoked_at TEXT);
         CREATE TABLE requests (id TEXT PRIMARY KEY, state TEXT NOT NULL,
            expires_unix INTEGER NOT NULL, body TEXT NOT NULL);
         CREATE INDEX requests_state ON requests (state, expires_unix);
         CREATE TABLE events (seq INTEGER PRIMARY KEY, time TEXT NOT NULL,
            request_id TEXT NOT NULL, kind TEXT NOT NULL, actor TEXT NOT NULL, channel TEXT,
            detail TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL);
         CREATE TABLE checkpoints (id INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER NOT NULL,
            head TEXT NOT NULL, time TEXT NOT NULL, jws TEXT NOT NULL);
         INSERT INTO tokens VALUES ('{}', '{hash}', 'ci-bot', 'requester', '[]', 'alice',
            '2026-01-01T00:00:00Z', NULL);",
        &hash[..12]
    );
    sqlite(&data.path().join("gatekeep.db"), &old_schema);
    let mut server = Server::new(data);
    server.database = None;
    server.launch();
    let agent = Machine::with_policy("agent-user", POLICY);
    agent.login(&server, token);
    let bob = Machine::new("bob");
    bob.login(&server, &server.token(&["--approver", "bob"]));
    let mut client = agent.exec("touch marker-old");
    let id = client.request_id();
    let out = bob.run(&["approve", &id]);
    assert!(out.status.success(), "{}", text(&out));
    let (code, err) = client.finish();
    assert_eq!(code, Some(0), "{err}");
    let (code, out) = server.audit_verify();
    assert_eq!(code, Some(0), "{out}");
    // The sessions table of a later version was added, and the migration recorded.
    let tables = sqlite(
        &server.data().join("gatekeep.db"),
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name;
         SELECT version FROM _sqlx_migrations;",
    );
    assert!(tables.contains("sessions"), "{tables}");
    assert!(tables.lines().any(|l| l == "1"), "{tables}");
}

fn sqlite(db: &Path, sql: &str) -> String {
    let out = Command::new("sqlite3").arg(db).arg(sql).output().unwrap();
    assert!(out.status.success(), "sqlite3: {}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// Clients long-polling a replica that is killed outright (SIGKILL) fail over to the other
/// one listed in their `urls`, keep waiting on the same requests, and run each command once
/// after its approval there.
#[test]
fn clients_waiting_on_a_killed_replica_resume_on_another_and_run_once() {
    let mut a = Server::on_postgres();
    let b = Server::replica_of(&a);
    let agent = Machine::with_policy("agent-user", POLICY);
    agent.login(&a, &a.token(&["--agent", "ci-bot"]));
    agent.fail_over_to(&[&b]);
    let bob = Machine::new("bob");
    bob.login(&b, &b.token(&["--approver", "bob"]));
    let mut clients: Vec<_> = (0..3)
        .map(|k| agent.exec(&format!("touch marker-{k}")))
        .collect();
    let ids: Vec<String> = clients.iter_mut().map(|c| c.request_id()).collect();
    // The clients are in their long polls on A.
    std::thread::sleep(Duration::from_millis(300));
    a.kill();
    for id in &ids {
        let out = bob.run(&["approve", id]);
        assert!(out.status.success(), "{}", text(&out));
    }
    for (k, client) in clients.into_iter().enumerate() {
        let (code, err) = client.finish();
        assert_eq!(code, Some(0), "{err}");
        assert!(agent.dir().join(format!("marker-{k}")).exists());
    }
    let events = b.audit_events();
    for id in &ids {
        assert_eq!(count(&events, id, "created"), 1, "{id} created once");
        assert_eq!(count(&events, id, "outcome"), 1, "{id} ran once");
    }
    let (code, out) = b.audit_verify();
    assert_eq!(code, Some(0), "{out}");
}

/// PostgreSQL restarted while a client waits: both replicas reconnect, the request is
/// still there, its approval taken after the restart wakes the client, and it is decided
/// and run once.
#[test]
fn a_database_restart_mid_wait_loses_nothing_and_decides_once() {
    let cluster = pg::Cluster::private();
    let a = Server::on_cluster(&cluster);
    let b = Server::replica_of(&a);
    let agent = Machine::with_policy("agent-user", POLICY);
    agent.login(&a, &a.token(&["--agent", "ci-bot"]));
    agent.fail_over_to(&[&b]);
    let bob = Machine::new("bob");
    bob.login(&b, &b.token(&["--approver", "bob"]));
    let mut client = agent.exec("touch marker-restart");
    let id = client.request_id();
    std::thread::sleep(Duration::from_millis(300));
    cluster.stop();
    std::thread::sleep(Duration::from_millis(500));
    cluster.launch();
    approve_patiently(&bob, &id);
    let (code, err) = client.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(agent.dir().join("marker-restart").exists());
    let events = a.audit_events();
    assert_eq!(count(&events, &id, "created"), 1);
    assert_eq!(count(&events, &id, "approved"), 1, "decided once");
    assert_eq!(count(&events, &id, "outcome"), 1, "ran once");
    let (code, out) = a.audit_verify();
    assert_eq!(code, Some(0), "{out}");
}

/// A replica whose data directory holds a signing key of its own still signs with the key
/// set in the database: the file is only imported by the first replica on an empty table.
#[test]
fn a_replica_signs_with_the_database_key_whatever_its_own_file_holds() {
    let a = Server::on_postgres();
    let data = tempfile::tempdir().unwrap();
    gatekeep::server::signing_key(data.path()).unwrap();
    let mut b = Server::new(data);
    b.database = a.database.clone();
    b.launch();
    assert_eq!(b.key_id, a.key_id);
}

/// Both replicas sweep for expired requests every second: each unanswered request is
/// expired once, by one of them.
#[test]
fn expiry_sweeps_on_every_replica_expire_each_request_once() {
    let a = Server::on_postgres();
    let b = Server::replica_of(&a);
    let agent = Machine::with_policy("agent-user", POLICY);
    agent.login(&a, &a.token(&["--agent", "ci-bot"]));
    let mut clients: Vec<_> = (0..4)
        .map(|k| agent.exec(&format!("touch brief-{k}")))
        .collect();
    let ids: Vec<String> = clients.iter_mut().map(|c| c.request_id()).collect();
    for client in clients {
        let (code, err) = client.finish();
        assert_ne!(code, Some(0), "an expired request never runs: {err}");
    }
    // Give the other replica's sweep its chance to expire them again.
    std::thread::sleep(Duration::from_millis(2500));
    let events = b.audit_events();
    for (k, id) in ids.iter().enumerate() {
        assert_eq!(count(&events, id, "expired"), 1, "{id}: {events:?}");
        assert!(!agent.dir().join(format!("brief-{k}")).exists());
    }
}

/// `--config FILE` for a server whose one channel is a webhook to `url` (signed with a
/// secret in `dir`), retried fast.
fn webhook_options(dir: &Path, url: &str) -> Vec<String> {
    let secret = dir.join("webhook-secret");
    std::fs::write(&secret, "test-webhook-secret").unwrap();
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let config: PathBuf = dir.join("server.toml");
    std::fs::write(
        &config,
        format!(
            "[[webhook]]\nurl = \"{url}/gatekeep\"\nsecret_file = \"webhook-secret\"\n\n\
             [delivery]\nretry_first_ms = 50\nretry_max_ms = 300\n"
        ),
    )
    .unwrap();
    vec!["--config".into(), config.display().to_string()]
}

/// The `delivery` events of the trail.
fn deliveries(server: &Server) -> Vec<serde_json::Value> {
    server
        .audit_events()
        .into_iter()
        .filter(|e| e["kind"] == "delivery")
        .collect()
}

/// Waits until `server`'s trail records `n` deliveries sent; returns every delivery event.
fn wait_sent(server: &Server, n: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + STEP;
    loop {
        let events = deliveries(server);
        let sent = events
            .iter()
            .filter(|e| e["detail"]["result"] == "sent")
            .count();
        if sent >= n {
            return events;
        }
        assert!(
            Instant::now() < deadline,
            "{sent} deliveries sent, not {n}: {:#?}",
            summary(&events)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What a list of delivery events says, one line each, for assertion messages.
fn summary(events: &[serde_json::Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            let d = &e["detail"];
            format!("{} {} {}", e["request_id"], d["notice"], d["result"])
        })
        .collect()
}

/// Two replicas, each with a webhook to one receiver, both running delivery workers: 20
/// requests created alternately on each and approved on the other reach the receiver with
/// every notice exactly once (created, approved, outcome), in that order per request.
#[test]
fn two_replicas_deliver_every_notice_once_and_in_order() {
    // A receiver that takes a moment, as a real one does: a replica's send is in flight
    // long enough for the other replica's worker to look for work meanwhile. In order means
    // one at a time on a channel: a call that arrives while another is unanswered is counted.
    let (in_flight, overlaps) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let hook = {
        let (in_flight, overlaps) = (in_flight.clone(), overlaps.clone());
        Standin::start(Arc::new(move |_: &Call| {
            if in_flight.fetch_add(1, Ordering::SeqCst) > 0 {
                overlaps.fetch_add(1, Ordering::SeqCst);
            }
            std::thread::sleep(Duration::from_millis(20));
            in_flight.fetch_sub(1, Ordering::SeqCst);
            (200, Vec::new(), String::new())
        }))
    };
    let dir = tempfile::tempdir().unwrap();
    let options = webhook_options(dir.path(), &hook.url);
    let a = Server::on_cluster_with(pg::cluster(), &options);
    let b = Server::replica_with(&a, &options);
    let replicas = [&a, &b];
    let agents: Vec<Machine> = replicas
        .iter()
        .enumerate()
        .map(|(k, replica)| {
            let agent = Machine::with_policy(&format!("agent-{k}"), POLICY);
            agent.login(replica, &a.token(&["--agent", &format!("ci-bot-{k}")]));
            agent
        })
        .collect();
    let bob_token = a.token(&["--approver", "bob"]);
    let approvers: Vec<Machine> = replicas
        .iter()
        .map(|replica| {
            let bob = Machine::new("bob");
            bob.login(replica, &bob_token);
            bob
        })
        .collect();
    const N: usize = 20;
    let mut clients: Vec<_> = (0..N)
        .map(|k| agents[k % 2].exec(&format!("touch marker-{k}")))
        .collect();
    let ids: Vec<String> = clients.iter_mut().map(|c| c.request_id()).collect();
    for (k, id) in ids.iter().enumerate() {
        // Decided on the replica the request was not created on.
        let out = approvers[(k + 1) % 2].run(&["approve", id]);
        assert!(out.status.success(), "{}", text(&out));
    }
    for client in clients {
        let (code, err) = client.finish();
        assert_eq!(code, Some(0), "{err}");
    }
    // created, approved and outcome for each: once every attempt is recorded as sent, every
    // call that will ever be made for them has reached the receiver.
    let events = wait_sent(&a, 3 * N);
    assert!(
        events.iter().all(|e| e["detail"]["result"] == "sent"),
        "{:#?}",
        summary(&events)
    );
    assert_eq!(
        events.len(),
        3 * N,
        "each row attempted once: {:#?}",
        summary(&events)
    );
    let calls = hook.calls_to("/gatekeep");
    let bodies: Vec<serde_json::Value> = calls.iter().map(Call::json).collect();
    let sent: Vec<String> = bodies
        .iter()
        .map(|b| format!("{} {} {}", b["id"], b["request"]["id"], b["event"]))
        .collect();
    assert_eq!(bodies.len(), 3 * N, "{sent:#?}");
    let mut rows: Vec<i64> = bodies.iter().map(|b| b["id"].as_i64().unwrap()).collect();
    rows.sort_unstable();
    rows.dedup();
    assert_eq!(rows.len(), 3 * N, "an outbox row was sent twice: {sent:#?}");
    assert_eq!(
        overlaps.load(Ordering::SeqCst),
        0,
        "a notice was sent while an earlier one was unanswered: {sent:#?}"
    );
    for id in &ids {
        let got: Vec<&str> = bodies
            .iter()
            .filter(|b| b["request"]["id"] == id.as_str())
            .map(|b| b["event"].as_str().unwrap())
            .collect();
        assert_eq!(got, ["created", "approved", "outcome"], "{id}");
    }
    let (code, out) = b.audit_verify();
    assert_eq!(code, Some(0), "{out}");
}

/// Replica A stops in the middle of sending a notice (`stop`, while the receiver holds its
/// call), replica B having been started beside it: B sends the notice within `within`, and
/// the receiver has seen it twice (at least once: one `id` to drop the repeat by).
fn a_notice_held_by_a_stopped_replica_is_sent_by_another(
    stop: impl FnOnce(&mut Server),
    within: Duration,
) {
    let first = Arc::new(AtomicBool::new(true));
    let hook = {
        let first = first.clone();
        Standin::start(Arc::new(move |_: &Call| {
            if first.swap(false, Ordering::SeqCst) {
                // Held until A is stopped (A's own timeout, 5 s, is not reached first: A is
                // stopped as soon as B is up).
                std::thread::sleep(Duration::from_secs(8));
            }
            (200, Vec::new(), String::new())
        }))
    };
    let dir = tempfile::tempdir().unwrap();
    let options = webhook_options(dir.path(), &hook.url);
    // A alone first, so that it is A that claims the first notice.
    let mut a = Server::on_cluster_with(pg::cluster(), &options);
    let agent = Machine::with_policy("agent-user", POLICY);
    agent.login(&a, &a.token(&["--agent", "ci-bot"]));
    let mut client = agent.exec("touch marker-held");
    let id = client.request_id();
    let held = hook.wait_for("/gatekeep", 1);
    assert_eq!(held[0].json()["event"], "created");
    let b = Server::replica_with(&a, &options);
    stop(&mut a);
    drop(client);
    let deadline = Instant::now() + within;
    let calls = loop {
        let calls = hook.calls_to("/gatekeep");
        if calls.len() >= 2 {
            break calls;
        }
        assert!(
            Instant::now() < deadline,
            "the notice A held was not sent again within {within:?}:\n{}",
            b.log.text()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        calls[1].json()["id"],
        held[0].json()["id"],
        "the same row again"
    );
    assert_eq!(calls[1].json()["request"]["id"], id.as_str());
    let events = wait_sent(&b, 1);
    // One attempt recorded, B's: A stopped before it could record its own (had A's call
    // timed out first, A would have recorded a retry and this would not test the stop).
    assert_eq!(events.len(), 1, "{:#?}", summary(&events));
    assert_eq!(events[0]["detail"]["notice"], "created");
    let (code, out) = b.audit_verify();
    assert_eq!(code, Some(0), "{out}");
}

/// A replica killed (SIGKILL) mid-send: its claim ends with its connection, at once.
#[test]
fn a_notice_claimed_by_a_killed_replica_is_sent_by_another() {
    a_notice_held_by_a_stopped_replica_is_sent_by_another(Server::kill, STEP);
}

/// A replica frozen (SIGSTOP) mid-send keeps its connection open: PostgreSQL ends its
/// session once the claim has been idle 15 s (three send timeouts), and the row is free.
#[test]
fn a_notice_claimed_by_a_frozen_replica_is_sent_by_another_after_the_bound() {
    a_notice_held_by_a_stopped_replica_is_sent_by_another(
        |a| {
            let pid = nix::unistd::Pid::from_raw(i32::try_from(a.pid()).unwrap());
            nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
        },
        Duration::from_secs(15) + STEP,
    );
}

/// The connection to PostgreSQL uses the binary's one TLS stack (rustls with ring): with
/// `sslmode=verify-full` a replica's every connection is TLS, checked against the CA the URL
/// names, and a server certificate from another CA stops the start instead of being trusted.
#[test]
fn verify_full_talks_tls_to_postgres_and_refuses_a_certificate_from_another_ca() {
    let pki = tempfile::tempdir().unwrap();
    crate::support::pki::make_pki(pki.path());
    let cluster = pg::Cluster::private_tls(pki.path());
    let with_ca = |db: &pg::Database, ca: &str| pg::Database {
        url: format!(
            "{}?sslmode=verify-full&sslrootcert={}",
            db.url,
            pki.path().join(ca).display()
        ),
        ..db.clone()
    };

    let plain = cluster.database();
    let mut server = Server::new(tempfile::tempdir().unwrap());
    server.database = Some(with_ca(&plain, "ca.pem"));
    server.launch();
    let agent = Machine::with_policy("agent-user", POLICY);
    agent.login(&server, &server.agent_token());
    let approver = Machine::new("bob");
    approver.login(&server, &server.approver_token("bob", ""));
    let mut client = agent.exec("touch marker-tls");
    let id = client.request_id();
    approve_patiently(&approver, &id);
    let (code, err) = client.finish();
    assert_eq!(code, Some(0), "{err}");
    let out = cluster.psql(
        "postgres",
        &format!(
            "SELECT count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE NOT s.ssl)
             FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.datname = '{}'",
            plain.name
        ),
    );
    let counts = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let (tls, clear) = counts.split_once('|').unwrap();
    assert!(tls.parse::<u32>().unwrap() > 0, "{counts}");
    assert_eq!(clear, "0", "every connection of the replica is TLS");

    let other = with_ca(&cluster.database(), "other-ca.pem");
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(crate::support::service::GK)
        .args(["server", "--listen", "127.0.0.1:0", "--data"])
        .arg(data.path())
        .args(["--database", &other.url, "--database-password-file"])
        .arg(&other.password_file)
        .env("GATEKEEP_KEYRING", "off")
        .env("HOME", data.path())
        .output()
        .unwrap();
    let all = text(&out);
    assert!(!out.status.success(), "{all}");
    assert!(
        all.contains("cannot open the database") && all.to_lowercase().contains("certificate"),
        "{all}"
    );
}

/// `audit verify` on PostgreSQL checks checkpoints with the keys it opens with the
/// key-encryption key, not with keys read in the clear: whoever can write the database and
/// copies in a key row of their own (sealed under their own key-encryption key, from a
/// gatekeep they run) does not get checkpoints signed with it believed.
#[test]
fn audit_verify_refuses_a_key_row_copied_from_another_service() {
    let victim = Server::on_postgres();
    let (code, out) = victim.audit_verify();
    assert_eq!(code, Some(0), "{out}");
    let attacker = Server::on_postgres();
    let name = |s: &Server| s.database.as_ref().unwrap().name.clone();
    let cluster = pg::cluster();
    let row = cluster.psql(
        &name(&attacker),
        "SELECT kid || ' ' || sealed_seed FROM signing_keys WHERE slot = 'current'",
    );
    let row = String::from_utf8_lossy(&row.stdout).trim().to_owned();
    let (kid, sealed) = row.split_once(' ').unwrap();
    let out = cluster.psql(
        &name(&victim),
        &format!(
            "UPDATE signing_keys SET kid = '{kid}', sealed_seed = '{sealed}' WHERE slot = 'current'"
        ),
    );
    assert!(out.status.success(), "{}", text(&out));
    let (code, out) = victim.audit_verify();
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("cannot unseal") && out.contains(kid), "{out}");
}
