//! Where approval-service tokens end up, tested for real: against a Secret Service
//! (gnome-keyring in a private `dbus-run-session`) and with no D-Bus at all.
//!
//! The library reads its environment (`XDG_CONFIG_HOME`, the bus address, `GATEKEEP_KEYRING`),
//! and changing the environment of a running multi-threaded test is unsound, so every
//! scenario runs in a child process: this test binary itself, re-run with
//! `--exact child_mode` and `GATEKEEP_TEST_CREDENTIALS_CHILD` naming the scenario. Without
//! that variable `child_mode` returns at once.
//!
//! The keyring tests need `dbus-run-session` (dbus-daemon) and `gnome-keyring-daemon`
//! (gnome-keyring); they fail rather than skip when those are missing. `.ci/run` installs
//! them.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on setup errors"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use gatekeep::api::protocol::Role;
use gatekeep::approval::credentials::{self, Stored};

const CHILD: &str = "GATEKEEP_TEST_CREDENTIALS_CHILD";
const SERVER: &str = "https://approvals.example:8443";
const OTHER: &str = "https://other.example";
/// The password of the test login keyring.
const UNLOCKED: &str = "gatekeep-test";
/// Generous: the point is "does not hang", not speed. The children print real timings.
const CHILD_DEADLINE: Duration = Duration::from_secs(120);

// ---- the children ----------------------------------------------------------------------

/// Runs one scenario when started as a child; a no-op in the normal test run.
#[test]
fn child_mode() {
    let Ok(scenario) = std::env::var(CHILD) else {
        return;
    };
    match scenario.as_str() {
        "keyring" => keyring_round_trip(),
        "keyring-off" => keyring_off(),
        "file-copy" => file_copy_before_keyring(),
        "keyring-after-file" => keyring_after_file(),
        "no-bus" => no_bus(),
        "no-login-keyring" => no_login_keyring(),
        "wedged-bus" => wedged_bus(),
        other => panic!("unknown scenario {other}"),
    }
    println!("child ok: {scenario}");
}

fn credentials_file() -> PathBuf {
    PathBuf::from(std::env::var_os("XDG_CONFIG_HOME").expect("XDG_CONFIG_HOME is set"))
        .join("gatekeep")
        .join("credentials.toml")
}

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let v = f();
    println!("{what}: {:?}", start.elapsed());
    v
}

fn keyring_round_trip() {
    let entries = [
        (SERVER, Role::Requester, "req-token-1"),
        (SERVER, Role::Approver, "app-token-1"),
        (OTHER, Role::Requester, "req-token-2"),
    ];
    for (server, kind, token) in entries {
        let stored = timed("store (keyring)", || {
            credentials::store(server, kind, token)
        });
        assert_eq!(stored.unwrap(), Stored::Keyring, "{kind}@{server}");
    }
    for (server, kind, token) in entries {
        let loaded = timed("load (keyring)", || credentials::load(server, kind));
        assert_eq!(loaded.unwrap().as_deref(), Some(token), "{kind}@{server}");
    }
    assert_eq!(credentials::load(OTHER, Role::Approver).unwrap(), None);
    // A second store replaces the token rather than adding an ambiguous twin.
    assert_eq!(
        credentials::store(SERVER, Role::Requester, "req-token-3").unwrap(),
        Stored::Keyring
    );
    assert_eq!(
        credentials::load(SERVER, Role::Requester)
            .unwrap()
            .as_deref(),
        Some("req-token-3")
    );
    assert!(
        !credentials_file().exists(),
        "the keyring was used, yet {} was written",
        credentials_file().display()
    );

    assert!(credentials::remove(SERVER, Role::Requester).unwrap());
    assert_eq!(credentials::load(SERVER, Role::Requester).unwrap(), None);
    assert!(!credentials::remove(SERVER, Role::Requester).unwrap());
    // The neighbours are untouched.
    assert_eq!(
        credentials::load(SERVER, Role::Approver)
            .unwrap()
            .as_deref(),
        Some("app-token-1")
    );
    assert!(!credentials_file().exists());
}

/// `GATEKEEP_KEYRING=off` with a working Secret Service on the bus: the file all the same.
fn keyring_off() {
    let stored = credentials::store(SERVER, Role::Approver, "file-token").unwrap();
    assert_eq!(stored, Stored::File(credentials_file()));
    assert_eq!(
        credentials::load(SERVER, Role::Approver)
            .unwrap()
            .as_deref(),
        Some("file-token")
    );
    assert!(credentials::remove(SERVER, Role::Approver).unwrap());
    assert_eq!(credentials::load(SERVER, Role::Approver).unwrap(), None);
}

/// First half of a pair: a token left in the file (keyring off) ...
fn file_copy_before_keyring() {
    let stored = credentials::store(SERVER, Role::Requester, "old-file-token").unwrap();
    assert_eq!(stored, Stored::File(credentials_file()));
}

/// ... and then stored in the keyring: the file copy goes, so it can neither linger on disk
/// nor shadow the keyring's token later.
fn keyring_after_file() {
    let text = std::fs::read_to_string(credentials_file()).unwrap();
    assert!(text.contains("old-file-token"), "the first half ran");
    assert_eq!(
        credentials::store(SERVER, Role::Requester, "new-keyring-token").unwrap(),
        Stored::Keyring
    );
    let text = std::fs::read_to_string(credentials_file()).unwrap();
    assert!(!text.contains("old-file-token"), "{text}");
    assert_eq!(
        credentials::load(SERVER, Role::Requester)
            .unwrap()
            .as_deref(),
        Some("new-keyring-token")
    );
    assert!(credentials::remove(SERVER, Role::Requester).unwrap());
}

/// No session bus: the file, at once.
fn no_bus() {
    let within = Duration::from_secs(2);
    let start = Instant::now();
    let stored = timed("store (no bus)", || {
        credentials::store(SERVER, Role::Requester, "t-1")
    });
    assert_eq!(stored.unwrap(), Stored::File(credentials_file()));
    let loaded = timed("load (no bus)", || {
        credentials::load(SERVER, Role::Requester)
    });
    assert_eq!(loaded.unwrap().as_deref(), Some("t-1"));
    let removed = timed("remove (no bus)", || {
        credentials::remove(SERVER, Role::Requester)
    });
    assert!(removed.unwrap());
    assert!(
        start.elapsed() < within * 3,
        "three operations with no bus took {:?}",
        start.elapsed()
    );
}

/// A Secret Service with no usable default collection: what a headless machine gets when
/// gnome-keyring is D-Bus-activated, or started without a password. It cannot store without
/// a prompt, and the prompt cannot be shown: the file, promptly.
fn no_login_keyring() {
    let start = Instant::now();
    let stored = timed("store (no login keyring)", || {
        credentials::store(SERVER, Role::Requester, "t-1")
    });
    assert_eq!(stored.unwrap(), Stored::File(credentials_file()));
    let loaded = timed("load (no login keyring)", || {
        credentials::load(SERVER, Role::Requester)
    });
    assert_eq!(loaded.unwrap().as_deref(), Some("t-1"));
    let removed = timed("remove (no login keyring)", || {
        credentials::remove(SERVER, Role::Requester)
    });
    assert!(removed.unwrap());
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
}

/// A bus socket that accepts and never answers: zbus has no handshake timeout of its own,
/// so this is the library's connect deadline at work.
fn wedged_bus() {
    let start = Instant::now();
    let stored = timed("store (wedged bus)", || {
        credentials::store(SERVER, Role::Requester, "t-1")
    });
    assert_eq!(stored.unwrap(), Stored::File(credentials_file()));
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "took {:?}",
        start.elapsed()
    );
}

// ---- the parents -----------------------------------------------------------------------

/// A private home for one test: config, data (gnome-keyring's keyrings) and runtime
/// directories, so nothing touches the real user's keyring or files.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["config", "data", "run"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        let private = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o700);
        std::fs::set_permissions(dir.path().join("run"), private).unwrap();
        Home { dir }
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    /// `program` with an environment of our own making and nothing inherited but `PATH`.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_DATA_HOME", self.path("data"))
            .env("XDG_RUNTIME_DIR", self.path("run"))
            .stdin(Stdio::null());
        c
    }
}

fn this_test_binary() -> PathBuf {
    std::env::current_exe().unwrap()
}

/// The arguments that make this binary run `child_mode` alone.
const CHILD_ARGS: &str = "--exact child_mode --nocapture --test-threads=1";

/// Runs `command` to completion, killing its process group if it outlives the deadline.
fn run(mut command: Command) -> Output {
    use std::os::unix::process::CommandExt;
    command
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = command.spawn().unwrap();
    let pgid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(CHILD_DEADLINE) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
            panic!("{command:?} did not finish within {CHILD_DEADLINE:?}");
        }
    }
}

fn assert_children_passed(output: &Output, scenarios: &[&str]) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report = format!(
        "status: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    assert!(output.status.success(), "{report}");
    for s in scenarios {
        // The marker proves the scenario ran, not that the filter matched nothing.
        assert!(
            stdout.contains(&format!("child ok: {s}\n")),
            "{s} did not run\n{report}"
        );
    }
    // Shown with `--nocapture`: the timings.
    println!("{report}");
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| is_executable(&dir.join(program)))
    })
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Runs each `(scenario, extra environment)` in turn, in one session bus with gnome-keyring
/// started (in a fresh data dir) and unlocked with `password`.
fn with_secret_service(home: &Home, password: &str, steps: &[(&str, &[(&str, &str)])]) -> Output {
    let missing: Vec<_> = ["dbus-run-session", "dbus-send", "gnome-keyring-daemon"]
        .into_iter()
        .filter(|p| !on_path(p))
        .collect();
    assert!(
        missing.is_empty(),
        "{} not found: the keyring tests need a real Secret Service\nhint: apt-get install dbus-daemon gnome-keyring (.ci/run does)",
        missing.join(", ")
    );
    // gnome-keyring-daemon reads the unlock password from stdin, creates the login keyring
    // with it and forks into the background; it takes org.freedesktop.secrets on the bus a
    // moment later, so wait for that (else the first call D-Bus-activates a second daemon).
    // With an empty password no login keyring is created, and storing wants a prompt, which
    // fails with no display. The daemon does not always exit with the bus, so it is stopped
    // by the pid the bus reports for the name.
    let mut script = String::from(
        r#"printf '%s' "$2" | gnome-keyring-daemon --unlock --components=secrets >/dev/null || exit 97
tries=0
until keyring=$(dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus \
    /org/freedesktop/DBus org.freedesktop.DBus.GetConnectionUnixProcessID \
    string:org.freedesktop.secrets 2>/dev/null | awk '{print $2}') && [ -n "$keyring" ]; do
  tries=$((tries + 1))
  [ "$tries" -lt 200 ] || { echo "gnome-keyring-daemon did not come up on the bus" >&2; exit 98; }
  sleep 0.05
done
trap 'kill "$keyring" 2>/dev/null' EXIT
"#,
    );
    for (scenario, env) in steps {
        script.push_str(&format!("env {CHILD}={scenario}"));
        for (k, v) in *env {
            script.push_str(&format!(" {k}={v}"));
        }
        script.push_str(&format!(" \"$1\" {CHILD_ARGS} || exit $?\n"));
    }
    let mut c = home.command("dbus-run-session");
    c.args(["--", "sh", "-c", &script, "sh"])
        .arg(this_test_binary())
        .arg(password);
    run(c)
}

#[test]
fn keyring_holds_tokens_when_a_secret_service_runs() {
    let home = Home::new();
    let out = with_secret_service(&home, UNLOCKED, &[("keyring", &[])]);
    assert_children_passed(&out, &["keyring"]);
    assert!(!home.path("config/gatekeep/credentials.toml").exists());
}

#[test]
fn keyring_off_uses_the_file_even_with_a_secret_service() {
    let home = Home::new();
    let out = with_secret_service(
        &home,
        UNLOCKED,
        &[("keyring-off", &[("GATEKEEP_KEYRING", "off")])],
    );
    assert_children_passed(&out, &["keyring-off"]);
}

#[test]
fn storing_in_the_keyring_drops_the_file_copy() {
    let home = Home::new();
    let out = with_secret_service(
        &home,
        UNLOCKED,
        &[
            ("file-copy", &[("GATEKEEP_KEYRING", "off")]),
            ("keyring-after-file", &[]),
        ],
    );
    assert_children_passed(&out, &["file-copy", "keyring-after-file"]);
}

#[test]
fn a_keyring_that_cannot_store_sends_tokens_to_the_file() {
    let home = Home::new();
    let out = with_secret_service(&home, "", &[("no-login-keyring", &[])]);
    assert_children_passed(&out, &["no-login-keyring"]);
}

#[test]
fn a_bus_that_never_answers_costs_a_bounded_wait() {
    let home = Home::new();
    // Held open (never accepted from) for the whole test: connecting succeeds, the
    // authentication handshake gets no reply.
    let _bus = std::os::unix::net::UnixListener::bind(home.path("run").join("bus")).unwrap();
    let mut c = home.command(this_test_binary());
    c.args(CHILD_ARGS.split(' ')).env(CHILD, "wedged-bus");
    let out = run(c);
    assert_children_passed(&out, &["wedged-bus"]);
}

#[test]
fn no_bus_falls_back_to_the_file_quickly() {
    let home = Home::new();
    // No DBUS_SESSION_BUS_ADDRESS (the environment is cleared) and an empty
    // XDG_RUNTIME_DIR, so there is no `$XDG_RUNTIME_DIR/bus` either.
    let mut c = home.command(this_test_binary());
    c.args(CHILD_ARGS.split(' ')).env(CHILD, "no-bus");
    let start = Instant::now();
    let out = run(c);
    assert_children_passed(&out, &["no-bus"]);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
}
