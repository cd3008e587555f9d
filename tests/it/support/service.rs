//! The approval-service harness the end-to-end modules share: a real `gatekeep server` on a
//! loopback port with its own data directory, "machines" (isolated HOME and XDG directories
//! and a user name) running the real `gatekeep`, and a `gatekeep exec` waiting on the
//! service. A module adds what only it needs in its own `impl` blocks.
//!
//! Every gatekeep invocation sets `GATEKEEP_KEYRING=off`, so tokens go to a 0600 file in the
//! isolated config directory rather than into the keyring of whoever runs the tests.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gatekeep::api::protocol::RequestView;
use serde_json::Value;
use tempfile::TempDir;

use super::sandbox;

pub const GK: &str = env!("CARGO_BIN_EXE_gatekeep");

/// How long any single step may take before the test gives up.
pub const STEP: Duration = Duration::from_secs(20);

/// A child's pipe, read to its end on a thread so that the child never blocks on it.
#[derive(Clone)]
pub struct Pipe {
    bytes: Arc<Mutex<Vec<u8>>>,
    closed: Arc<AtomicBool>,
}

impl Pipe {
    pub fn collect(mut pipe: impl Read + Send + 'static) -> Pipe {
        let collected = Pipe {
            bytes: Arc::default(),
            closed: Arc::default(),
        };
        let sink = collected.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.bytes.lock().unwrap().extend_from_slice(&buf[..n]);
            }
            sink.closed.store(true, Ordering::SeqCst);
        });
        collected
    }

    /// Everything read so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes.lock().unwrap()).into_owned()
    }

    /// The complete lines read so far (a line still being written is left out).
    pub fn lines(&self) -> Vec<String> {
        let text = self.text();
        let complete = text.rfind('\n').map_or("", |end| &text[..end]);
        complete.lines().map(str::to_owned).collect()
    }

    /// Everything, once the writer has closed the pipe.
    pub fn rest(&self) -> String {
        let deadline = Instant::now() + STEP;
        while !self.closed.load(Ordering::SeqCst) {
            assert!(
                Instant::now() < deadline,
                "the pipe stays open:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        self.text()
    }

    /// Waits until a complete line starts with `prefix`; returns the rest of it, trimmed.
    pub fn line_after(&self, prefix: &str) -> String {
        let deadline = Instant::now() + STEP;
        loop {
            if let Some(rest) = self
                .lines()
                .iter()
                .find_map(|l| l.strip_prefix(prefix).map(|r| r.trim().to_owned()))
            {
                return rest;
            }
            assert!(
                Instant::now() < deadline,
                "no line {prefix:?} in:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A finished process's status and output, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A `gatekeep server` with its own data directory; killed on drop.
pub struct Server {
    pub data: TempDir,
    child: Option<Child>,
    /// The server's stderr.
    pub log: Pipe,
    /// The address it listens on (`127.0.0.1` unless chosen).
    pub host: String,
    pub port: u16,
    pub url: String,
    /// The signing key's thumbprint, as the server printed it.
    pub key_id: String,
    /// Extra `gatekeep server` options.
    pub options: Vec<String>,
    /// A lower open-file limit to start the server under.
    pub nofile: Option<u32>,
    /// Its PostgreSQL database, when the tests run on PostgreSQL (see [`super::pg`]).
    pub database: Option<super::pg::Database>,
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// A server started with extra options.
    pub fn start_with(options: &[&str]) -> Server {
        let mut server = Server::new(tempfile::tempdir().unwrap());
        server.options = options.iter().map(|o| (*o).to_owned()).collect();
        server.launch();
        server
    }

    /// A server whose data directory was prepared beforehand.
    pub fn start_in(data: TempDir) -> Server {
        let mut server = Server::new(data);
        server.launch();
        server
    }

    /// A server not started yet: set its fields, then [`Server::launch`].
    pub fn new(data: TempDir) -> Server {
        Server {
            data,
            child: None,
            log: Pipe::collect(std::io::empty()),
            host: "127.0.0.1".to_owned(),
            port: 0,
            url: String::new(),
            key_id: String::new(),
            options: Vec::new(),
            nofile: None,
            database: super::pg::enabled().then(|| super::pg::cluster().database()),
        }
    }

    /// Starts the server process on `self.port` (0 the first time) and waits for its
    /// address and key lines.
    pub fn launch(&mut self) {
        assert!(self.child.is_none(), "the server is already running");
        let mut cmd = match self.nofile {
            // `ulimit -n` lowers both limits, so the server cannot raise them back.
            Some(n) => {
                let mut cmd = Command::new("sh");
                cmd.args(["-c", &format!("ulimit -n {n} && exec \"$0\" \"$@\""), GK]);
                cmd
            }
            None => Command::new(GK),
        };
        let mut child = self
            .isolate(&mut cmd)
            .arg("server")
            .arg("--listen")
            .arg(format!("{}:{}", self.host, self.port))
            .arg("--data")
            .arg(self.data.path())
            .args(self.database_args())
            .args(&self.options)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Pipe::collect(child.stderr.take().unwrap());
        let deadline = Instant::now() + STEP;
        let (url, key) = loop {
            let lines = log.lines();
            let find = |prefix: &str| {
                lines
                    .iter()
                    .find_map(|l| l.strip_prefix(prefix).map(|v| v.trim().to_owned()))
            };
            if let (Some(url), Some(key)) = (
                find("gatekeep server: listening on "),
                find("gatekeep server: signing key "),
            ) {
                break (url, key);
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("gatekeep server exited with {status}:\n{}", log.text());
            }
            assert!(
                Instant::now() < deadline,
                "gatekeep server did not start:\n{}",
                log.text()
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        let port = url.rsplit(':').next().unwrap().parse().unwrap();
        if self.port != 0 && !self.key_id.is_empty() {
            assert_eq!(
                (port, key.as_str()),
                (self.port, self.key_id.as_str()),
                "a restart keeps its port and key"
            );
        }
        self.port = port;
        self.url = url;
        self.key_id = key;
        self.child = Some(child);
        self.log = log;
    }

    /// The isolated environment of the server's processes.
    fn isolate<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.data.path())
            .env("USER", "ops")
            .env("GATEKEEP_KEYRING", "off")
            .env("GATEKEEP_LOG", "warn")
            .stdin(Stdio::null())
    }

    /// `--database URL --database-password-file FILE` on PostgreSQL, else nothing.
    pub fn database_args(&self) -> Vec<String> {
        match &self.database {
            Some(db) => vec![
                "--database".to_owned(),
                db.url.clone(),
                "--database-password-file".to_owned(),
                db.password_file.display().to_string(),
                "--key-encryption-key-file".to_owned(),
                db.kek_file.display().to_string(),
            ],
            None => Vec::new(),
        }
    }

    pub fn data(&self) -> &Path {
        self.data.path()
    }

    /// `gatekeep server ARGS --data DIR` (the global `--data` goes last: clap refuses it
    /// before a subcommand).
    pub fn admin(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(GK);
        self.isolate(&mut cmd)
            .arg("server")
            .args(args)
            .arg("--data")
            .arg(self.data())
            .args(self.database_args())
            .output()
            .unwrap()
    }

    /// `gatekeep server token create ARGS`: the token it prints.
    pub fn token(&self, args: &[&str]) -> String {
        let out = self.admin(&[&["token", "create"], args].concat());
        assert!(out.status.success(), "token create: {}", text(&out));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// The agent's requester token: `ci-bot`, working for `alice`.
    pub fn agent_token(&self) -> String {
        self.token(&["--agent", "ci-bot", "--on-behalf-of", "alice"])
    }

    /// An approver's token, in `groups` (comma-separated; empty: none).
    pub fn approver_token(&self, name: &str, groups: &str) -> String {
        if groups.is_empty() {
            self.token(&["--approver", name])
        } else {
            self.token(&["--approver", name, "--groups", groups])
        }
    }

    /// The audit trail, as `gatekeep server audit export` prints it (JSON lines), read by a
    /// separate process.
    pub fn audit_events(&self) -> Vec<Value> {
        let out = self.admin(&["audit", "export"]);
        assert!(out.status.success(), "audit export: {}", text(&out));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The running server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Sends `signal` to the running server.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.pid()).unwrap());
        nix::sys::signal::kill(pid, signal).unwrap();
    }

    /// Kills the server outright (SIGKILL): no graceful shutdown, no flushing.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server the way an operator does (SIGTERM) and waits for a clean exit.
    pub fn stop(&mut self) {
        let mut child = self.child.take().unwrap();
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let deadline = Instant::now() + STEP;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(
                    status.success(),
                    "the server stopped with {status}:\n{}",
                    self.log.text()
                );
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not stop on SIGTERM:\n{}",
                self.log.text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One machine: an isolated home with its own config, state and data directories, a user
/// name, and environment variables to add.
pub struct Machine {
    home: TempDir,
    pub user: String,
    pub env: Vec<(String, String)>,
}

impl Machine {
    pub fn new(user: &str) -> Machine {
        let home = tempfile::tempdir().unwrap();
        for dir in [".config/gatekeep", "state", "data"] {
            std::fs::create_dir_all(home.path().join(dir)).unwrap();
        }
        Machine {
            home,
            user: user.to_owned(),
            env: Vec::new(),
        }
    }

    /// A machine whose user policy is `policy`.
    pub fn with_policy(user: &str, policy: &str) -> Machine {
        let m = Machine::new(user);
        std::fs::write(m.config_dir().join("policy.toml"), policy).unwrap();
        m
    }

    pub fn dir(&self) -> &Path {
        self.home.path()
    }

    pub fn config_dir(&self) -> PathBuf {
        self.dir().join(".config/gatekeep")
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir().join(name)
    }

    /// The local ledger's path.
    pub fn ledger_path(&self) -> PathBuf {
        self.dir().join("state/gatekeep/ledger.jsonl")
    }

    /// gatekeep with this machine's environment.
    pub fn gk(&self) -> Command {
        let mut cmd = Command::new(GK);
        self.isolate(&mut cmd);
        cmd
    }

    pub fn isolate(&self, cmd: &mut Command) {
        sandbox::isolate(cmd, self.dir(), Some(&self.user));
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
    }

    /// Runs `gatekeep ARGS` to the end.
    pub fn run(&self, args: &[&str]) -> Output {
        self.gk().args(args).output().unwrap()
    }

    /// `gatekeep ARGS` with `token` on stdin.
    pub fn login_with(&self, args: &[&str], token: &str) -> Output {
        let mut child = self
            .gk()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        // A refused login may exit before it reads the token.
        let _ = writeln!(stdin, "{token}");
        drop(stdin);
        child.wait_with_output().unwrap()
    }

    /// `gatekeep login --server URL --key=KEY EXTRA...` with the token on stdin. (`--key=`:
    /// a thumbprint may start with `-`.)
    pub fn try_login(&self, url: &str, key: &str, token: &str, extra: &[&str]) -> Output {
        let key = format!("--key={key}");
        self.login_with(&[&["login", "--server", url, &key], extra].concat(), token)
    }

    /// [`Machine::try_login`], which must succeed.
    pub fn login_to(&self, url: &str, key: &str, token: &str, extra: &[&str]) {
        let out = self.try_login(url, key, token, extra);
        assert!(
            out.status.success(),
            "login as {}: {}",
            self.user,
            text(&out)
        );
    }

    /// Logs in to `server` with `token`, which must succeed.
    pub fn login(&self, server: &Server, token: &str) {
        self.login_to(&server.url, &server.key_id, token, &[]);
    }

    /// `gatekeep exec -- sh -c SCRIPT` in a new session, so it has no terminal to ask on
    /// and must go through the service.
    pub fn exec(&self, script: &str) -> Waiting {
        self.exec_in(script, |_| {})
    }

    /// [`Machine::exec`] with the environment changed by `env` first.
    pub fn exec_in(&self, script: &str, env: impl FnOnce(&mut Command)) -> Waiting {
        let mut cmd = Command::new("setsid");
        self.isolate(&mut cmd);
        env(&mut cmd);
        let mut child = cmd
            .args(["-w", GK, "exec", "--", "sh", "-c", script])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Pipe::collect(child.stderr.take().unwrap());
        Waiting { child, stderr }
    }

    /// `gatekeep show ID --json`.
    pub fn show(&self, id: &str) -> RequestView {
        let out = self.run(&["show", id, "--json"]);
        assert!(out.status.success(), "show {id}: {}", text(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Every record of the local ledger.
    pub fn records(&self) -> Vec<Value> {
        std::fs::read_to_string(self.ledger_path())
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The records of the local ledger about request `id`.
    pub fn ledger(&self, id: &str) -> Vec<Value> {
        let mut records = self.records();
        records.retain(|r| r["id"] == id);
        records
    }

    /// The ledger's final decision record about request `id`.
    pub fn decision(&self, id: &str) -> Value {
        self.ledger(id)
            .into_iter()
            .rfind(|r| r["event"] == "decision")
            .unwrap_or_else(|| panic!("no decision recorded for {id}"))
    }
}

/// A `gatekeep exec` waiting on the service.
pub struct Waiting {
    pub child: Child,
    pub stderr: Pipe,
}

impl Waiting {
    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// Waits until stderr shows `needle`; returns all of it.
    pub fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + STEP;
        loop {
            let err = self.stderr();
            if err.contains(needle) {
                return err;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                let err = self.stderr.rest();
                assert!(
                    err.contains(needle),
                    "exec ended ({status}) without printing {needle:?}:\n{err}"
                );
                return err;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {needle:?}:\n{err}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The id of the request the client is waiting on, from its waiting line.
    pub fn request_id(&mut self) -> String {
        const LINE: &str = "gatekeep: waiting for approval of request ";
        self.wait_for(LINE);
        // The line may arrive in pieces: read the id from the complete line.
        let rest = self.stderr.line_after(LINE);
        rest.split_whitespace().next().unwrap().to_owned()
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        nix::sys::signal::kill(pid, signal).unwrap();
    }

    /// Waits for the exit; returns the exit code and everything written to stderr.
    pub fn finish(mut self) -> (Option<i32>, String) {
        let deadline = Instant::now() + STEP;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "exec did not finish:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        (status.code(), self.stderr.rest())
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if self.is_running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
