//! A throwaway PostgreSQL cluster for the tests: `initdb` into a temporary directory and a
//! `postgres` on a free loopback port (unix sockets in the same directory), started once per
//! test binary because a start costs seconds; every test gets a fresh database in it.
//!
//! `GK_TEST_BACKEND=postgres` makes every [`super::service::Server`] run on this cluster
//! instead of SQLite in its data directory, so that the service suite runs on both backends.
//!
//! initdb and postgres refuse to run as root: as root the cluster runs as the `postgres`
//! user (Debian's package creates it). The server dies with the test process (its parent
//! death signal), and the directory is removed at exit.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The superuser's password (TCP connections need it; unix-socket ones are trusted).
const PASSWORD: &str = "gk-test-Pw-7";

/// Whether the tests run the service on PostgreSQL (`GK_TEST_BACKEND=postgres`).
pub fn enabled() -> bool {
    std::env::var("GK_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

pub struct Cluster {
    pub dir: PathBuf,
    pub port: u16,
    /// The running postmaster's pid (0 while stopped).
    pid: AtomicI32,
    bin: PathBuf,
    /// Who the cluster runs as (`None`: as this process's user).
    user: Option<(u32, u32)>,
    /// Whether it serves TLS too, with `server.pem` and `server.key` in `dir`.
    ssl: bool,
}

/// A database of its own in the shared cluster.
#[derive(Clone)]
pub struct Database {
    pub url: String,
    /// A file holding the password, for `--database-password-file`.
    pub password_file: PathBuf,
    /// The key-encryption key every replica on it shares (`--key-encryption-key-file`).
    pub kek_file: PathBuf,
    pub name: String,
}

/// The directory holding initdb, pg_ctl and postgres (Debian: /usr/lib/postgresql/N/bin).
fn bin_dir() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    dirs.retain(|d| d.join("initdb").exists());
    // The newest version, by number.
    dirs.sort_by_key(|d| {
        d.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
    });
    dirs.pop().unwrap_or_else(|| {
        panic!("no PostgreSQL server under /usr/lib/postgresql/*/bin: install Debian's `postgresql` (.ci/run does)")
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();

/// The cluster every test of this binary shares, started on first use.
pub fn cluster() -> &'static Cluster {
    static CLEANUP: std::sync::Once = std::sync::Once::new();
    let cluster = CLUSTER.get_or_init(Cluster::start);
    // The cluster lives in a static, which is never dropped: it is shut down and removed
    // when the test process exits instead (libtest returns from main, or exits on failure).
    CLEANUP.call_once(|| {
        #[expect(unsafe_code, reason = "atexit with a plain extern \"C\" fn")]
        unsafe {
            nix::libc::atexit(remove_at_exit);
        }
    });
    cluster
}

extern "C" fn remove_at_exit() {
    if let Some(cluster) = CLUSTER.get() {
        cluster.shut_down();
    }
}

impl Cluster {
    /// A cluster of the caller's own (for a test that stops and restarts it), removed on drop.
    pub fn private() -> Cluster {
        Cluster::start()
    }

    /// A private cluster that also serves TLS with the certificate `server.pem` and its key
    /// `server.key` from `pki` (see [`super::pki::make_pki`]).
    pub fn private_tls(pki: &Path) -> Cluster {
        Cluster::start_with(Some(pki))
    }

    fn start() -> Cluster {
        Cluster::start_with(None)
    }

    fn start_with(pki: Option<&Path>) -> Cluster {
        let bin = bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("gk-pg-")
            .tempdir()
            .unwrap()
            .keep();
        let user = nix::unistd::getuid().is_root().then(|| {
            let pg = nix::unistd::User::from_name("postgres")
                .unwrap()
                .unwrap_or_else(|| panic!("no `postgres` user to run the test cluster as (Debian's postgresql package creates it)"));
            (pg.uid.as_raw(), pg.gid.as_raw())
        });
        if let Some((uid, gid)) = user {
            nix::unistd::chown(
                &dir,
                Some(nix::unistd::Uid::from_raw(uid)),
                Some(nix::unistd::Gid::from_raw(gid)),
            )
            .unwrap();
        }
        let pwfile = dir.join("pw");
        std::fs::write(&pwfile, PASSWORD).unwrap();
        if let Some((uid, gid)) = user {
            nix::unistd::chown(
                &pwfile,
                Some(nix::unistd::Uid::from_raw(uid)),
                Some(nix::unistd::Gid::from_raw(gid)),
            )
            .unwrap();
        }
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(dir.join("data"))
            .args(["-U", "postgres", "-E", "UTF8", "--no-sync"])
            .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .env("LC_ALL", "C");
        if let Some((uid, gid)) = user {
            std::os::unix::process::CommandExt::uid(&mut initdb, uid);
            std::os::unix::process::CommandExt::gid(&mut initdb, gid);
        }
        let out = initdb.output().unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            super::service::text(&out)
        );
        if let Some(pki) = pki {
            // The key must be the server's own and private, or postgres refuses it.
            for name in ["server.pem", "server.key"] {
                let to = dir.join(name);
                std::fs::copy(pki.join(name), &to).unwrap();
                std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
                if let Some((uid, gid)) = user {
                    nix::unistd::chown(
                        &to,
                        Some(nix::unistd::Uid::from_raw(uid)),
                        Some(nix::unistd::Gid::from_raw(gid)),
                    )
                    .unwrap();
                }
            }
        }
        let cluster = Cluster {
            dir,
            port: free_port(),
            pid: AtomicI32::new(0),
            bin,
            user,
            ssl: pki.is_some(),
        };
        cluster.launch();
        cluster
    }

    /// Starts the postmaster (again, after [`Cluster::stop`]: same port, same data).
    pub fn launch(&self) {
        let mut postgres = Command::new(self.bin.join("postgres"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("postgres.log"))
            .unwrap();
        postgres
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-k")
            .arg(&self.dir)
            .args(["-c", "listen_addresses=127.0.0.1"])
            // Throwaway data: no fsync. Room for many servers' pools at once.
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off", "-c", "max_connections=500"])
            .args(if self.ssl {
                vec![
                    "-c".to_owned(),
                    "ssl=on".to_owned(),
                    "-c".to_owned(),
                    format!("ssl_cert_file={}", self.dir.join("server.pem").display()),
                    "-c".to_owned(),
                    format!("ssl_key_file={}", self.dir.join("server.key").display()),
                ]
            } else {
                Vec::new()
            })
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if let Some((uid, gid)) = self.user {
            std::os::unix::process::CommandExt::uid(&mut postgres, uid);
            std::os::unix::process::CommandExt::gid(&mut postgres, gid);
        }
        // The server stops (immediate shutdown) when the thread that started it ends: that
        // thread waits on it for as long as it runs.
        #[expect(
            unsafe_code,
            reason = "pre_exec: one async-signal-safe prctl in the child"
        )]
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut postgres, || {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGQUIT)
                    .map_err(std::io::Error::from)
            });
        }
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || match postgres.spawn() {
            Ok(mut child) => {
                let _ = tx.send(Ok(i32::try_from(child.id()).unwrap()));
                let _ = child.wait();
            }
            Err(e) => {
                let _ = tx.send(Err(e));
            }
        });
        self.pid
            .store(rx.recv().unwrap().unwrap(), Ordering::SeqCst);
        self.wait_ready();
    }

    /// Stops the postmaster the way an operator's restart does (fast shutdown: clients are
    /// disconnected) and waits until it is gone.
    pub fn stop(&self) {
        self.signal_and_wait(nix::sys::signal::Signal::SIGINT);
    }

    fn signal_and_wait(&self, signal: nix::sys::signal::Signal) {
        let pid = self.pid.swap(0, Ordering::SeqCst);
        if pid == 0 {
            return;
        }
        let pid = nix::unistd::Pid::from_raw(pid);
        let _ = nix::sys::signal::kill(pid, signal);
        let deadline = Instant::now() + Duration::from_secs(20);
        while nix::sys::signal::kill(pid, None).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the server answers on its socket.
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = self.psql("postgres", "SELECT 1");
            if out.status.success() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the test PostgreSQL did not start: {}",
                super::service::text(&out)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs `sql` with psql over the unix socket (trusted: no password).
    pub fn psql(&self, database: &str, sql: &str) -> std::process::Output {
        let mut cmd = Command::new(self.bin.join("psql"));
        cmd.arg("-h")
            .arg(&self.dir)
            .arg("-p")
            .arg(self.port.to_string())
            .args(["-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1"])
            .args(["-X", "-q", "-A", "-t", "-c", sql])
            .env_remove("PGPASSFILE");
        if let Some((uid, gid)) = self.user {
            std::os::unix::process::CommandExt::uid(&mut cmd, uid);
            std::os::unix::process::CommandExt::gid(&mut cmd, gid);
        }
        cmd.current_dir("/").output().unwrap()
    }

    /// A fresh database, and a password file readable by this process.
    pub fn database(&self) -> Database {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "gk_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let out = self.psql("postgres", &format!("CREATE DATABASE {name}"));
        assert!(
            out.status.success(),
            "CREATE DATABASE: {}",
            super::service::text(&out)
        );
        let password_file = std::env::temp_dir().join(format!("{name}.pw"));
        std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
        let kek_file = std::env::temp_dir().join(format!("{name}.kek"));
        let _ = std::fs::remove_file(&kek_file);
        let out = std::process::Command::new(super::service::GK)
            .args(["server", "key", "new-kek"])
            .arg(&kek_file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "new-kek: {}",
            super::service::text(&out)
        );
        Database {
            url: format!("postgres://postgres@127.0.0.1:{}/{name}", self.port),
            password_file,
            kek_file,
            name,
        }
    }

    fn shut_down(&self) {
        self.signal_and_wait(nix::sys::signal::Signal::SIGQUIT);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Cluster {
    /// A private cluster goes with its test (the shared one lives in a static: see
    /// [`cluster`]).
    fn drop(&mut self) {
        self.shut_down();
    }
}
