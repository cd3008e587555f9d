//! Where the approval-service tokens are kept: the OS keyring, or a 0600 file.
//!
//! `gatekeep login` stores a token per server URL and kind (the agent's *requester* token,
//! the person's *approver* token); `gatekeep exec` and `gatekeep approve` read it back.
//!
//! The keyring is the Secret Service over D-Bus (gnome-keyring, KWallet, KeePassXC). A
//! headless machine usually has none, so the tokens then go to
//! `$XDG_CONFIG_HOME/gatekeep/credentials.toml`, and [`store`] says which place it used so
//! the caller can say it out loud. The file is held to the rule ssh applies to private keys:
//! owned by the user and closed to everyone else, or it is not used at all.
//!
//! What this module must not do: touch D-Bus anywhere but inside [`store`], [`load`] and
//! [`remove`]. The allowed-command path never calls them, and the Secret Service connection
//! is built inside them, on a worker thread with a deadline, so an absent bus costs a failed
//! `connect(2)` and a wedged one (an unlock prompt nobody can see) costs a bounded wait
//! rather than a hung command. Secrets never appear in `Debug` output, logs or errors.

use std::fmt;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::api::protocol::Role;
use crate::env_vars;

/// Where [`store`] put a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stored {
    /// The OS keyring (Secret Service).
    Keyring,
    /// The credentials file, because no Secret Service answered or `GATEKEEP_KEYRING=off`.
    File(PathBuf),
}

/// A token that could not be stored, read or removed. No variant carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error(
        "credentials file {} can be read or written by other users (mode {mode:04o}); refusing to use it\nhint: run `chmod 600 {}`; if others could read it, treat its tokens as leaked and run `gatekeep login` again",
        path.display(),
        path.display()
    )]
    Insecure { path: PathBuf, mode: u32 },
    #[error(
        "credentials file {} is owned by uid {owner}, not by you (uid {uid}); refusing to use it\nhint: remove it (`rm {}`) and run `gatekeep login` again",
        path.display(),
        path.display()
    )]
    NotOwned { path: PathBuf, owner: u32, uid: u32 },
    #[error(
        "credentials file {} is not a regular file\nhint: remove it and run `gatekeep login` again",
        path.display()
    )]
    NotAFile { path: PathBuf },
    #[error(
        "cannot {action} credentials file {}: {source}\nhint: check the ownership and permissions of {}",
        path.display(),
        path.parent().unwrap_or(path).display()
    )]
    Io {
        path: PathBuf,
        action: &'static str,
        source: io::Error,
    },
    #[error(
        "{}:{line}:{column}: {message}\nhint: fix the file, or remove it and run `gatekeep login` again",
        path.display()
    )]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "no place for the credentials file: neither XDG_CONFIG_HOME nor HOME is set to an absolute path\nhint: set HOME, or use a desktop session with a keyring"
    )]
    NoConfigDir,
    #[error(
        "the OS keyring failed: {message}\nhint: unlock the keyring, or set GATEKEEP_KEYRING=off to keep tokens in the credentials file"
    )]
    Keyring { message: String },
}

/// Stores `token` for `server` (its URL, the key of the entry) in the OS keyring, or when no
/// Secret Service is reachable, in the 0600 file; says which via the return value.
///
/// A locked keyring whose unlock prompt is dismissed or never answered also sends the token
/// to the file. After a keyring store, a copy left in the file by an earlier fallback is
/// removed, so the file never holds a token the keyring also holds (and an unusable file,
/// say one others can read, is then an error even though the keyring has the token: the
/// old copy in it may have leaked). A keyring that answers but fails is an error, not a
/// fallback: storing elsewhere would leave its old token to shadow the new one.
pub fn store(server: &str, kind: Role, token: &str) -> Result<Stored, CredentialError> {
    let file = FileStore::default_location();
    if keyring_enabled() {
        let secret = Secret(token.to_owned());
        match keyring::call(server, kind, move |entry| entry.set_password(&secret.0)) {
            keyring::Outcome::Done(()) => {
                if let Ok(file) = &file {
                    file.remove(server, kind)?;
                }
                return Ok(Stored::Keyring);
            }
            keyring::Outcome::Absent(why) | keyring::Outcome::Locked(why) => {
                tracing::debug!("keyring not used, storing the {kind} token in the file: {why}");
            }
            keyring::Outcome::Missing => {
                return Err(CredentialError::Keyring {
                    message: "the keyring reported no entry while storing one".into(),
                });
            }
            keyring::Outcome::Failed(message) => return Err(CredentialError::Keyring { message }),
        }
    }
    let file = file?;
    file.store(server, kind, token)?;
    Ok(Stored::File(file.path))
}

/// Reads it back: keyring first, then the file. Ok(None) when neither has it.
///
/// A keyring that is present but locked or failing is an error only when the file does not
/// have the token either: "not logged in" would send the user to log in again when the
/// token is in fact there, behind a lock.
pub fn load(server: &str, kind: Role) -> Result<Option<String>, CredentialError> {
    let mut keyring_error = None;
    if keyring_enabled() {
        match keyring::call(server, kind, |entry| entry.get_password()) {
            keyring::Outcome::Done(token) => return Ok(Some(token)),
            keyring::Outcome::Missing | keyring::Outcome::Absent(_) => {}
            keyring::Outcome::Locked(message) | keyring::Outcome::Failed(message) => {
                keyring_error = Some(CredentialError::Keyring { message });
            }
        }
    }
    let found = match FileStore::default_location() {
        Ok(file) => file.load(server, kind)?,
        Err(_) => None,
    };
    match (found, keyring_error) {
        (Some(token), _) => Ok(Some(token)),
        (None, Some(e)) => Err(e),
        (None, None) => Ok(None),
    }
}

/// Where `load` would find the token, without handing it out (`gatekeep doctor`): the
/// keyring, the file, or neither.
pub fn locate(server: &str, kind: Role) -> Result<Option<Stored>, CredentialError> {
    let mut keyring_error = None;
    if keyring_enabled() {
        match keyring::call(server, kind, |entry| entry.get_password()) {
            keyring::Outcome::Done(_) => return Ok(Some(Stored::Keyring)),
            keyring::Outcome::Missing | keyring::Outcome::Absent(_) => {}
            keyring::Outcome::Locked(message) | keyring::Outcome::Failed(message) => {
                keyring_error = Some(CredentialError::Keyring { message });
            }
        }
    }
    let file = FileStore::default_location().ok();
    match (file, keyring_error) {
        (Some(file), _) if file.load(server, kind)?.is_some() => Ok(Some(Stored::File(file.path))),
        (_, Some(e)) => Err(e),
        _ => Ok(None),
    }
}

/// Removes it from both places; Ok(true) if anything was removed.
///
/// A locked or failing keyring is an error (after the file has been cleaned): the token may
/// still be in it.
pub fn remove(server: &str, kind: Role) -> Result<bool, CredentialError> {
    let mut removed = false;
    let mut keyring_error = None;
    if keyring_enabled() {
        match keyring::call(server, kind, |entry| entry.delete_credential()) {
            keyring::Outcome::Done(()) => removed = true,
            keyring::Outcome::Missing | keyring::Outcome::Absent(_) => {}
            keyring::Outcome::Locked(message) | keyring::Outcome::Failed(message) => {
                keyring_error = Some(CredentialError::Keyring { message });
            }
        }
    }
    if let Ok(file) = FileStore::default_location() {
        removed |= file.remove(server, kind)?;
    }
    match keyring_error {
        Some(e) => Err(e),
        None => Ok(removed),
    }
}

/// False when `GATEKEEP_KEYRING` turns the keyring off.
fn keyring_enabled() -> bool {
    std::env::var(env_vars::GATEKEEP_KEYRING).map_or(true, |v| {
        !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "off" | "0" | "false" | "no"
        )
    })
}

/// A token in memory: `Debug` shows that it is there, never what it is.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl<'de> Deserialize<'de> for Secret {
    /// Through `toml::Value` so that a mistyped token (a number, an array) gives our message
    /// rather than serde's, which would quote the value into the error.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match toml::Value::deserialize(d)? {
            toml::Value::String(s) => Ok(Secret(s)),
            _ => Err(serde::de::Error::custom("`token` must be a string")),
        }
    }
}

/// One `[[token]]` table of the credentials file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    server: String,
    kind: Role,
    token: Secret,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialsFile {
    #[serde(default, rename = "token")]
    tokens: Vec<Record>,
}

const FILE_HEADER: &str = "# Approval-service tokens, written by `gatekeep login`. Keep this file mode 0600:\n\
                           # gatekeep refuses to use it when other users can read or write it.\n\n";

/// The credentials file. The public functions use [`FileStore::default_location`]; tests
/// point it at a temporary directory.
#[derive(Clone, Debug)]
struct FileStore {
    path: PathBuf,
}

impl FileStore {
    /// `$XDG_CONFIG_HOME/gatekeep/credentials.toml`, or `$HOME/.config/...`. A relative
    /// `XDG_CONFIG_HOME` is ignored, as the XDG spec asks: a secrets file must not move with
    /// the working directory.
    fn default_location() -> Result<FileStore, CredentialError> {
        let absolute = |var| {
            std::env::var_os(var)
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
        };
        let config = absolute(env_vars::XDG_CONFIG_HOME)
            .or_else(|| absolute(env_vars::HOME).map(|h| h.join(".config")))
            .ok_or(CredentialError::NoConfigDir)?;
        Ok(FileStore {
            path: config.join("gatekeep").join("credentials.toml"),
        })
    }

    fn load(&self, server: &str, kind: Role) -> Result<Option<String>, CredentialError> {
        Ok(self
            .read()?
            .tokens
            .into_iter()
            .find(|r| r.server == server && r.kind == kind)
            .map(|r| r.token.0))
    }

    fn store(&self, server: &str, kind: Role, token: &str) -> Result<(), CredentialError> {
        let mut file = self.read()?;
        file.tokens
            .retain(|r| !(r.server == server && r.kind == kind));
        file.tokens.push(Record {
            server: server.to_owned(),
            kind,
            token: Secret(token.to_owned()),
        });
        self.write(&file)
    }

    /// Ok(true) if the file held the token. A missing file is left missing.
    fn remove(&self, server: &str, kind: Role) -> Result<bool, CredentialError> {
        let mut file = self.read()?;
        let before = file.tokens.len();
        file.tokens
            .retain(|r| !(r.server == server && r.kind == kind));
        if file.tokens.len() == before {
            return Ok(false);
        }
        self.write(&file)?;
        Ok(true)
    }

    fn err(&self, action: &'static str) -> impl FnOnce(io::Error) -> CredentialError + '_ {
        move |source| CredentialError::Io {
            path: self.path.clone(),
            action,
            source,
        }
    }

    /// The file's contents, empty when it does not exist. The checks are made on the opened
    /// descriptor, so the file checked is the file read.
    fn read(&self) -> Result<CredentialsFile, CredentialError> {
        // O_NONBLOCK: a FIFO planted at the path must not hang the open; it is then refused
        // as not a regular file.
        let mut f = match OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NONBLOCK)
            .open(&self.path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(CredentialsFile::default()),
            Err(e) => return Err(self.err("open")(e)),
        };
        self.check(&f)?;
        let mut text = String::new();
        f.read_to_string(&mut text).map_err(self.err("read"))?;
        toml::from_str(&text).map_err(|e| {
            let (line, column) = e
                .span()
                .map_or((1, 1), |s| crate::policy::layers::line_col(&text, s.start));
            CredentialError::Invalid {
                path: self.path.clone(),
                line,
                column,
                message: e.message().trim_end().to_owned(),
            }
        })
    }

    /// The rule ssh applies to a private key: a regular file, owned by us, with no group or
    /// other permission bits. Writable by others is as bad as readable: whoever can write
    /// it can swap in their own token and have our requests signed as theirs.
    fn check(&self, f: &File) -> Result<(), CredentialError> {
        let meta = f.metadata().map_err(self.err("inspect"))?;
        if !meta.is_file() {
            return Err(CredentialError::NotAFile {
                path: self.path.clone(),
            });
        }
        let uid = nix::unistd::geteuid().as_raw();
        if meta.uid() != uid {
            return Err(CredentialError::NotOwned {
                path: self.path.clone(),
                owner: meta.uid(),
                uid,
            });
        }
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(CredentialError::Insecure {
                path: self.path.clone(),
                mode,
            });
        }
        Ok(())
    }

    /// Replaces the file atomically: a new 0600 file in the same directory, synced, renamed
    /// over the old one, and the directory synced. Readers see the old file or the new one,
    /// and the token is never on disk with wider permissions, not even for a moment.
    /// Concurrent writers are not locked out: the last rename wins.
    fn write(&self, file: &CredentialsFile) -> Result<(), CredentialError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(self.err("create the directory for"))?;
        let body = toml::to_string(file).map_err(|e| self.err("encode")(io::Error::other(e)))?;
        let text = format!("{FILE_HEADER}{body}");

        let (tmp, mut f) = self.create_temp(dir)?;
        let written = f
            .write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .and_then(|()| std::fs::rename(&tmp, &self.path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(self.err("write")(e));
        }
        // The rename is durable only once the directory is synced.
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(self.err("sync the directory of"))
    }

    /// A new file beside the real one, created with mode 0600 from the start (`O_EXCL`, no
    /// symlink followed).
    fn create_temp(&self, dir: &Path) -> Result<(PathBuf, File), CredentialError> {
        let name = self
            .path
            .file_name()
            .map_or_else(|| "credentials".into(), |n| n.to_string_lossy());
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let mut attempt = 0;
        loop {
            let tmp = dir.join(format!(
                ".{name}.{}.{nanos}.{attempt}.tmp",
                std::process::id()
            ));
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(nix::libc::O_NOFOLLOW)
                .open(&tmp)
            {
                Ok(f) => return Ok((tmp, f)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 16 => attempt += 1,
                Err(e) => return Err(self.err("create a temporary file for")(e)),
            }
        }
    }
}

/// The Secret Service, reached through keyring-core and the zbus store.
mod keyring {
    use super::*;

    use keyring_core::api::CredentialStoreApi;
    use nix::sys::signal::{SigSet, SigmaskHow};

    /// The service attribute of every entry; the user attribute is `{kind}@{server}`.
    const SERVICE: &str = "gatekeep";
    /// How long to wait for a connection and a session with the Secret Service. A missing
    /// bus fails at once (no socket); this bounds a bus that accepts and never answers, or
    /// a service being D-Bus-activated that never comes up.
    const CONNECT_DEADLINE: Duration = Duration::from_secs(3);
    /// How long one operation may take once connected. Long enough for a person to answer a
    /// desktop unlock prompt; bounded because on a headless machine nobody ever will.
    const OPERATION_DEADLINE: Duration = Duration::from_secs(60);

    /// What came of one keyring operation.
    pub(super) enum Outcome<T> {
        Done(T),
        /// The entry does not exist.
        Missing,
        /// No Secret Service: no bus, no provider on it, or no answer in time.
        Absent(String),
        /// A Secret Service answered but would not give access: locked, prompt dismissed,
        /// prompt unanswered.
        Locked(String),
        Failed(String),
    }

    enum Message<T> {
        Connected,
        Finished(Outcome<T>),
    }

    /// Runs `op` on the entry for `server` and `kind`, on a worker thread with deadlines.
    /// On a deadline the thread is abandoned: it holds nothing the caller needs, and the
    /// process exits without waiting for it.
    pub(super) fn call<T: Send + 'static>(
        server: &str,
        kind: Role,
        op: impl FnOnce(&keyring_core::Entry) -> keyring_core::Result<T> + Send + 'static,
    ) -> Outcome<T> {
        let user = format!("{kind}@{server}");
        let (tx, rx) = mpsc::channel();
        // The Secret Service client starts threads of its own (async-io's reactor,
        // `blocking`'s pool) from this worker, and they inherit its signal mask. With an empty
        // mask a TERM or INT sent to a waiting `gatekeep exec` lands on one of them and kills
        // the process by default action, so the request is never cancelled on the server.
        // Block every signal while the worker is created: it and everything it starts leave
        // the signals to the thread that waits for them (see `wait::wait_for_verdict`).
        let old_mask = SigSet::all().thread_swap_mask(SigmaskHow::SIG_BLOCK).ok();
        let spawned = std::thread::Builder::new()
            .name("gatekeep-keyring".into())
            .spawn(move || {
                let store = match zbus_secret_service_keyring_store::Store::new() {
                    Ok(store) => store,
                    Err(e) => {
                        let _ = tx.send(Message::Finished(Outcome::Absent(describe(&e))));
                        return;
                    }
                };
                let _ = tx.send(Message::Connected);
                let outcome = match store.build(SERVICE, &user, None).and_then(|e| op(&e)) {
                    Ok(v) => Outcome::Done(v),
                    Err(keyring_core::Error::NoEntry) => Outcome::Missing,
                    Err(e @ keyring_core::Error::NoStorageAccess(_)) => {
                        Outcome::Locked(describe(&e))
                    }
                    Err(e) => Outcome::Failed(describe(&e)),
                };
                let _ = tx.send(Message::Finished(outcome));
            });
        if let Some(old) = old_mask {
            let _ = old.thread_set_mask();
        }
        if let Err(e) = spawned {
            return Outcome::Absent(format!("cannot start the keyring thread: {e}"));
        }
        match rx.recv_timeout(CONNECT_DEADLINE) {
            Ok(Message::Finished(outcome)) => outcome,
            Ok(Message::Connected) => match rx.recv_timeout(OPERATION_DEADLINE) {
                Ok(Message::Finished(outcome)) => outcome,
                Ok(Message::Connected) => Outcome::Failed("the keyring thread misbehaved".into()),
                Err(mpsc::RecvTimeoutError::Timeout) => Outcome::Locked(format!(
                    "the Secret Service did not answer within {}s (an unlock prompt nobody can see?)",
                    OPERATION_DEADLINE.as_secs()
                )),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    Outcome::Failed("the keyring thread stopped without an answer".into())
                }
            },
            Err(mpsc::RecvTimeoutError::Timeout) => Outcome::Absent(format!(
                "no answer from the Secret Service within {}s",
                CONNECT_DEADLINE.as_secs()
            )),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Outcome::Failed("the keyring thread stopped without an answer".into())
            }
        }
    }

    /// keyring-core's message, minus the two variants that carry the secret's bytes.
    fn describe(e: &keyring_core::Error) -> String {
        match e {
            keyring_core::Error::BadEncoding(_) => "the stored token is not valid UTF-8".into(),
            keyring_core::Error::BadDataFormat(..) => "the stored token is malformed".into(),
            e => e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_in(dir: &Path) -> FileStore {
        FileStore {
            path: dir.join("gatekeep").join("credentials.toml"),
        }
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let fs = store_in(dir.path());
        let server = "https://gatekeep.example:8443";
        assert_eq!(fs.load(server, Role::Requester).unwrap(), None);
        assert!(!fs.remove(server, Role::Requester).unwrap());
        assert!(
            !fs.path.exists(),
            "a remove with nothing stored writes nothing"
        );

        fs.store(server, Role::Requester, "tok-1").unwrap();
        assert_eq!(
            fs.load(server, Role::Requester).unwrap().as_deref(),
            Some("tok-1")
        );
        fs.store(server, Role::Requester, "tok-2").unwrap();
        assert_eq!(
            fs.load(server, Role::Requester).unwrap().as_deref(),
            Some("tok-2")
        );
        assert_eq!(
            fs.read().unwrap().tokens.len(),
            1,
            "a new token replaces the old"
        );

        assert!(fs.remove(server, Role::Requester).unwrap());
        assert_eq!(fs.load(server, Role::Requester).unwrap(), None);
        assert!(!fs.remove(server, Role::Requester).unwrap());
    }

    #[test]
    fn servers_and_kinds_side_by_side() {
        let dir = tempfile::tempdir().unwrap();
        let fs = store_in(dir.path());
        let a = "https://a.example";
        let b = "https://b.example:9000/";
        let entries = [
            (a, Role::Requester, "a-req"),
            (a, Role::Approver, "a-app"),
            (b, Role::Requester, "b-req \"quoted\"\nnewline"),
            (b, Role::Approver, "b-app"),
        ];
        for (server, kind, token) in entries {
            fs.store(server, kind, token).unwrap();
        }
        for (server, kind, token) in entries {
            assert_eq!(fs.load(server, kind).unwrap().as_deref(), Some(token));
        }
        assert!(fs.remove(a, Role::Approver).unwrap());
        assert_eq!(fs.load(a, Role::Approver).unwrap(), None);
        assert_eq!(
            fs.load(a, Role::Requester).unwrap().as_deref(),
            Some("a-req")
        );
        assert_eq!(
            fs.load(b, Role::Approver).unwrap().as_deref(),
            Some("b-app")
        );
    }

    #[test]
    fn new_file_and_directory_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let fs = store_in(dir.path());
        fs.store("https://s", Role::Approver, "t").unwrap();
        assert_eq!(mode(&fs.path), 0o600);
        assert_eq!(mode(fs.path.parent().unwrap()), 0o700);
        let text = std::fs::read_to_string(&fs.path).unwrap();
        assert!(text.contains("[[token]]"), "{text}");
        assert!(text.contains(r#"kind = "approver""#), "{text}");
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(fs.path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["credentials.toml"]);
    }

    #[test]
    fn refuses_files_others_can_read_or_write() {
        for bad in [0o644, 0o660, 0o640, 0o604, 0o602, 0o620] {
            let dir = tempfile::tempdir().unwrap();
            let fs = store_in(dir.path());
            fs.store("https://s", Role::Requester, "t").unwrap();
            std::fs::set_permissions(&fs.path, std::fs::Permissions::from_mode(bad)).unwrap();

            let e = fs.load("https://s", Role::Requester).unwrap_err();
            assert!(
                matches!(&e, CredentialError::Insecure { mode, .. } if *mode == bad),
                "{bad:o}: {e:?}"
            );
            let msg = e.to_string();
            assert!(msg.contains(&fs.path.display().to_string()), "{msg}");
            assert!(
                msg.contains(&format!("chmod 600 {}", fs.path.display())),
                "{msg}"
            );
            // Storing does not quietly paper over it either.
            assert!(matches!(
                fs.store("https://s", Role::Requester, "u"),
                Err(CredentialError::Insecure { .. })
            ));
            assert!(matches!(
                fs.remove("https://s", Role::Requester),
                Err(CredentialError::Insecure { .. })
            ));
            assert_eq!(mode(&fs.path), bad, "the file is left as it was");
        }
    }

    #[test]
    fn refuses_a_file_owned_by_someone_else() {
        let dir = tempfile::tempdir().unwrap();
        let fs = store_in(dir.path());
        fs.store("https://s", Role::Requester, "t").unwrap();
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: chown to another uid needs root");
            return;
        }
        let nobody = 65534;
        std::os::unix::fs::chown(&fs.path, Some(nobody), None).unwrap();
        let e = fs.load("https://s", Role::Requester).unwrap_err();
        assert!(
            matches!(&e, CredentialError::NotOwned { owner, uid: 0, .. } if *owner == nobody),
            "{e:?}"
        );
        assert!(e.to_string().contains(&fs.path.display().to_string()));
    }

    #[test]
    fn refuses_what_is_not_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let fs = store_in(dir.path());
        std::fs::create_dir_all(&fs.path).unwrap();
        std::fs::set_permissions(&fs.path, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(matches!(
            fs.load("https://s", Role::Requester),
            Err(CredentialError::NotAFile { .. })
        ));
        // A FIFO must be refused, not block the open.
        std::fs::remove_dir(&fs.path).unwrap();
        nix::unistd::mkfifo(&fs.path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert!(matches!(
            fs.load("https://s", Role::Requester),
            Err(CredentialError::NotAFile { .. })
        ));
    }

    #[test]
    fn errors_name_the_place_and_never_the_token() {
        let dir = tempfile::tempdir().unwrap();
        let fs = store_in(dir.path());
        std::fs::create_dir_all(fs.path.parent().unwrap()).unwrap();
        let write = |text: &str| {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&fs.path)
                .unwrap();
            f.write_all(text.as_bytes()).unwrap();
        };

        write("[[token]]\nserver = \"https://s\"\nkind = \"requester\"\ntoken = 12345678\n");
        let e = fs.load("https://s", Role::Requester).unwrap_err();
        let msg = e.to_string();
        assert!(
            matches!(e, CredentialError::Invalid { line: 4, .. }),
            "{e:?}"
        );
        assert!(msg.contains("`token` must be a string"), "{msg}");
        assert!(!msg.contains("12345678"), "{msg}");

        write("[[token]]\nserver = \"https://s\"\nkind = \"owner\"\ntoken = \"sekrit\"\n");
        let msg = fs
            .load("https://s", Role::Requester)
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with(&format!("{}:3:", fs.path.display())),
            "{msg}"
        );
        assert!(!msg.contains("sekrit"), "{msg}");

        write("[[token]]\nserver = \"https://s\"\nkind = \"requester\"\ntoken = \"sekrit\n");
        let msg = fs
            .load("https://s", Role::Requester)
            .unwrap_err()
            .to_string();
        assert!(!msg.contains("sekrit"), "{msg}");

        let record = Record {
            server: "https://s".into(),
            kind: Role::Approver,
            token: Secret("sekrit".into()),
        };
        let debug = format!("{record:?}");
        assert!(!debug.contains("sekrit"), "{debug}");
    }

    #[test]
    fn kind_names() {
        assert_eq!(Role::Requester.to_string(), "requester");
        assert_eq!(Role::Approver.to_string(), "approver");
    }
}
