//! The local ledger: an append-only JSON Lines file, one record per event, each carrying the
//! SHA-256 of the record before it.
//!
//! Every record holds `seq` (1, 2, 3, ...), `prev` (the previous record's `hash`, or 64
//! zeros) and `hash` (SHA-256 of the record's canonical JSON without `hash`). An edit changes
//! a record's hash; a removal, insertion or reordering breaks `seq` or `prev`. A small head
//! file beside the ledger keeps the last `seq` and `hash`, so that cutting records off the
//! end is seen too. Without a key held elsewhere, someone who can rewrite the whole file and
//! its head can forge a consistent history: the approval service's ledger is the anchor for
//! that.
//!
//! Writers take an exclusive `flock` on the ledger, so concurrent gatekeep processes never
//! interleave or tear lines. A crash can still leave a torn last line; the next writer ends
//! it with a newline (never dropping or rewriting it), chains onto its bytes, and notes it,
//! and `verify` reports it.
//!
//! Every path that reads or writes the ledger or its head goes through `Ledger::open`: it
//! never follows a symbolic link (`O_NOFOLLOW`; a FIFO planted there does not hang it), and
//! it checks the opened descriptor the way ssh checks a private key, except that others may
//! read: a regular file, owned by us (or root), writable by nobody else. The directory
//! holding them must be a real directory (not a link) under the same rule. On the allowed
//! path this costs one `lstat` of the directory and the `fstat`s of files already open.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::canonical::canonical_object;

use crate::env_vars;

/// `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(
        "cannot write the ledger {path}: {source}\nhint: check that the directory is writable; nothing runs without its record"
    )]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "{path} is a symbolic link; gatekeep never follows one for its ledger\nhint: someone replaced it; keep the link's target as evidence, then `rm {path}` and run gatekeep again (check `gatekeep doctor`)"
    )]
    Symlink { path: String },
    #[error(
        "{path} is not a regular {what}; refusing to use it as the ledger\nhint: move it away and run gatekeep again"
    )]
    NotAFile { path: String, what: &'static str },
    #[error(
        "{path} is owned by uid {owner}, not by you (uid {uid}); refusing to use it for the ledger\nhint: whoever owns it can rewrite your trail; move it away, or `chown {uid} {path}` if it is yours"
    )]
    NotOwned { path: String, owner: u32, uid: u32 },
    #[error(
        "{path} can be written by other users (mode {mode:04o}); refusing to use it for the ledger\nhint: run `chmod go-w {path}`, then `gatekeep audit verify` to see whether it was changed"
    )]
    Insecure { path: String, mode: u32 },
}

/// The last record of a ledger: what the approval service is told, so that a later wipe or
/// rewrite shows.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
}

/// How [`Ledger::open`] opens a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    Read,
    /// The ledger itself: read and append, created 0600 if missing.
    Append,
    /// The head: positioned writes, created 0600 if missing.
    Write,
}

/// The ledger file and its head.
#[derive(Clone, Debug)]
pub struct Ledger {
    path: PathBuf,
}

/// What `verify` found.
#[derive(Debug, Default, serde::Serialize)]
pub struct Report {
    pub records: usize,
    /// Problems that mean the ledger was changed: the first is the first broken record.
    pub errors: Vec<String>,
    /// Torn records left by a crash, and a head file lagging by one.
    pub warnings: Vec<String>,
}

impl Ledger {
    pub fn at(path: impl Into<PathBuf>) -> Ledger {
        Ledger { path: path.into() }
    }

    /// `$XDG_STATE_HOME/gatekeep/ledger.jsonl` (`~/.local/state/gatekeep/ledger.jsonl`).
    pub fn default_location() -> Ledger {
        let state = std::env::var_os(env_vars::XDG_STATE_HOME)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os(env_vars::HOME).map(|h| PathBuf::from(h).join(".local/state"))
            })
            .unwrap_or_else(|| PathBuf::from("/tmp"));
        Ledger::at(state.join("gatekeep").join("ledger.jsonl"))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn head_path(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".head");
        PathBuf::from(name)
    }

    fn io(&self, source: std::io::Error) -> LedgerError {
        LedgerError::Io {
            path: self.path.display().to_string(),
            source,
        }
    }

    /// Appends one record (a JSON object; `seq`, `prev` and `hash` are filled in) and returns
    /// the new head: its seq and hash. `durable` records are fsynced before this returns.
    pub fn append(
        &self,
        mut record: Map<String, Value>,
        durable: bool,
    ) -> Result<Head, LedgerError> {
        // Create the directory only when the open says it is missing: one syscall less on
        // every command.
        let file = match self.open(&self.path, Access::Append)? {
            Some(file) => file,
            None => {
                if let Some(dir) = self.path.parent() {
                    std::fs::DirBuilder::new()
                        .recursive(true)
                        .mode(0o700)
                        .create(dir)
                        .map_err(|e| self.io(e))?;
                }
                self.open(&self.path, Access::Append)?
                    .ok_or_else(|| self.io(std::io::ErrorKind::NotFound.into()))?
            }
        };
        let mut file =
            Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| self.io(e.into()))?;
        let (last, torn) = self.tail(&file)?;
        let (seq, prev) = match &last {
            Some(line) if torn => {
                // End the torn line so it stays as it was written, then chain onto its bytes.
                file.write_all(b"\n").map_err(|e| self.io(e))?;
                record.insert("note".into(), Value::from("the record before this one was torn (an incomplete write, probably a crash); it is kept as written"));
                let seq = self.last_seq_before_torn()?.map_or(1, |s| s + 1);
                (seq, sha256_hex(line))
            }
            Some(line) => match serde_json::from_slice::<Value>(line) {
                Ok(value) => {
                    let seq = value.get("seq").and_then(Value::as_u64).unwrap_or(0) + 1;
                    let prev = value
                        .get("hash")
                        .and_then(Value::as_str)
                        .unwrap_or(GENESIS)
                        .to_owned();
                    (seq, prev)
                }
                // Someone damaged the last record. Refusing to write would stop every
                // command; instead chain onto its bytes and say so (`verify` reports it).
                Err(_) => {
                    record.insert(
                        "note".into(),
                        Value::from(
                            "the record before this one is not valid JSON; it is kept as found",
                        ),
                    );
                    (
                        self.last_seq_before_torn()?.map_or(1, |s| s + 1),
                        sha256_hex(line),
                    )
                }
            },
            None => (1, GENESIS.to_owned()),
        };
        record.insert("seq".into(), Value::from(seq));
        record.insert("prev".into(), Value::from(prev));
        record.remove("hash");
        let hash = record_hash(&record);
        record.insert("hash".into(), Value::from(hash.clone()));
        let mut line = serde_json::to_vec(&Value::Object(record)).map_err(|e| self.io(e.into()))?;
        line.push(b'\n');
        // One write on an O_APPEND file under the lock: no other writer can interleave.
        file.write_all(&line).map_err(|e| self.io(e))?;
        if durable {
            file.sync_data().map_err(|e| self.io(e))?;
        }
        self.write_head(seq, &hash)?;
        Ok(Head { seq, hash })
    }

    /// The last line (without its newline) and whether it is torn (no newline at the end).
    fn tail(&self, file: &File) -> Result<(Option<Vec<u8>>, bool), LedgerError> {
        let len = file.metadata().map_err(|e| self.io(e))?.len();
        if len == 0 {
            return Ok((None, false));
        }
        let mut window: u64 = 4096;
        loop {
            let start = len.saturating_sub(window);
            let mut buf = vec![0; (len - start) as usize];
            file.read_exact_at(&mut buf, start)
                .map_err(|e| self.io(e))?;
            let torn = buf.last() != Some(&b'\n');
            let body = if torn {
                &buf[..]
            } else {
                &buf[..buf.len() - 1]
            };
            match body.iter().rposition(|b| *b == b'\n') {
                Some(nl) => return Ok((Some(body[nl + 1..].to_vec()), torn)),
                None if start == 0 => return Ok((Some(body.to_vec()), torn)),
                None => window *= 4,
            }
        }
    }

    /// After a torn line, the seq of the last whole record (read from the whole file: rare).
    fn last_seq_before_torn(&self) -> Result<Option<u64>, LedgerError> {
        let text = self.read(&self.path)?.unwrap_or_default();
        Ok(text
            .split(|b| *b == b'\n')
            .rev()
            .filter_map(|l| serde_json::from_slice::<Value>(l).ok())
            .find_map(|v| v.get("seq").and_then(Value::as_u64)))
    }

    fn write_head(&self, seq: u64, hash: &str) -> Result<(), LedgerError> {
        // Padded to a fixed width with blanks (valid JSON), so one positioned write replaces
        // it whole.
        let head = format!(
            "{:<120}\n",
            format!("{{\"seq\":{seq},\"hash\":\"{hash}\"}}")
        );
        let file = self
            .open(&self.head_path(), Access::Write)?
            .ok_or_else(|| self.io(std::io::ErrorKind::NotFound.into()))?;
        file.write_all_at(head.as_bytes(), 0)
            .map_err(|e| self.io(e))?;
        Ok(())
    }

    /// Every whole record, in order (torn lines are skipped; `verify` reports them).
    pub fn records(&self) -> Result<Vec<Value>, LedgerError> {
        let Some(text) = self.read(&self.path)? else {
            return Ok(Vec::new());
        };
        Ok(text
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .filter_map(|l| serde_json::from_slice::<Value>(l).ok())
            .filter(Value::is_object)
            .collect())
    }

    /// Checks the whole chain; the first error names the first broken record.
    pub fn verify(&self) -> Result<Report, LedgerError> {
        let mut report = Report::default();
        // A missing ledger is checked like an empty one: its head may say records existed.
        let text = self.read(&self.path)?.unwrap_or_default();
        let ends_whole = text.last().is_none_or(|b| *b == b'\n');
        let mut lines: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
        if ends_whole {
            lines.pop();
        }
        let count = lines.len();
        let mut prev_hash = GENESIS.to_owned();
        let mut prev_seq = 0u64;
        let mut torn_before = false;
        for (i, raw) in lines.iter().enumerate() {
            let n = i + 1;
            let Ok(Value::Object(mut record)) = serde_json::from_slice::<Value>(raw) else {
                if n == count && !ends_whole {
                    report.warnings.push(format!("line {n} is torn: the last write did not finish (a crash?); it is kept as written"));
                    continue;
                }
                // A torn line in the middle is fine only if the next record says so and
                // chains onto its bytes.
                let next_notes = lines
                    .get(i + 1)
                    .and_then(|l| serde_json::from_slice::<Value>(l).ok())
                    .is_some_and(|v| {
                        v.get("note").is_some()
                            && v.get("prev").and_then(Value::as_str) == Some(&sha256_hex(raw))
                    });
                if next_notes {
                    report.warnings.push(format!("line {n} is torn (an incomplete write, probably a crash); the next record notes it"));
                    prev_hash = sha256_hex(raw);
                    torn_before = true;
                    continue;
                }
                report.errors.push(format!(
                    "line {n} is not a ledger record: it was edited or inserted"
                ));
                break;
            };
            report.records += 1;
            let claimed = record
                .remove("hash")
                .and_then(|h| h.as_str().map(str::to_owned))
                .unwrap_or_default();
            let seq = record.get("seq").and_then(Value::as_u64).unwrap_or(0);
            let prev = record
                .get("prev")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            if record_hash(&record) != claimed {
                report.errors.push(format!(
                    "record {seq} (line {n}) was edited: its content does not match its hash"
                ));
                break;
            }
            if prev != prev_hash {
                report.errors.push(format!("record {seq} (line {n}) does not follow the record before it: a record was removed, inserted or reordered before it"));
                break;
            }
            if seq != prev_seq + 1 && !(torn_before && seq > prev_seq) {
                report.errors.push(format!("record {seq} (line {n}) should be record {}: records were removed, inserted or reordered", prev_seq + 1));
                break;
            }
            torn_before = false;
            prev_seq = seq;
            prev_hash = claimed;
        }
        if report.errors.is_empty() {
            self.check_head(prev_seq, &prev_hash, &mut report)?;
        }
        Ok(report)
    }

    fn check_head(
        &self,
        last_seq: u64,
        last_hash: &str,
        report: &mut Report,
    ) -> Result<(), LedgerError> {
        let head = self.head_path();
        let Some(text) = self.read(&head)? else {
            // Every append writes the head, so records without one mean the head was
            // removed: and with it the only way to see records cut off the end.
            if last_seq > 0 {
                report.errors.push(format!(
                    "the head file {} is missing while the ledger holds records up to {last_seq}: it was removed, so records cut off the end cannot be ruled out (check against the service: `gatekeep audit verify --against-server`)",
                    head.display()
                ));
            }
            return Ok(());
        };
        let Ok(head) = serde_json::from_slice::<Value>(&text) else {
            report.errors.push(format!(
                "the head file {} is not what gatekeep writes: it was edited",
                head.display()
            ));
            return Ok(());
        };
        let seq = head.get("seq").and_then(Value::as_u64).unwrap_or(0);
        let hash = head.get("hash").and_then(Value::as_str).unwrap_or("");
        if seq > last_seq {
            report.errors.push(format!("records {}..{seq} were removed from the end of the ledger (its head says {seq} records were written)", last_seq + 1));
        } else if seq == last_seq && hash != last_hash {
            report.errors.push(format!(
                "record {seq}, the last one, does not match the head file: it was replaced"
            ));
        } else if seq + 1 == last_seq {
            report.warnings.push(
                "the head file lags one record behind (a crash between the two writes?)".into(),
            );
        } else if seq < last_seq {
            report.errors.push(format!("the ledger holds records after {seq} that its head does not know: they were added by hand"));
        }
        Ok(())
    }

    /// The one way the ledger and its head are opened, for reading and for writing. `None`
    /// when the file does not exist. Never follows a symbolic link in the last component,
    /// and checks the opened descriptor (see the module header); the ledger's directory is
    /// checked along with the ledger.
    fn open(&self, path: &Path, access: Access) -> Result<Option<File>, LedgerError> {
        let name = || path.display().to_string();
        let mut options = OpenOptions::new();
        // O_NONBLOCK: a FIFO planted at the path must not hang the open; it is then refused
        // as not a regular file (and the flag means nothing for a regular file).
        options.custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK);
        match access {
            Access::Read => options.read(true),
            Access::Append => options.create(true).read(true).append(true).mode(0o600),
            Access::Write => options.create(true).write(true).truncate(false).mode(0o600),
        };
        let file = match options.open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            // ELOOP is what O_NOFOLLOW gives for a link.
            Err(e) if e.raw_os_error() == Some(nix::libc::ELOOP) => {
                return Err(LedgerError::Symlink { path: name() });
            }
            Err(source) => {
                return Err(LedgerError::Io {
                    path: name(),
                    source,
                });
            }
        };
        let meta = file.metadata().map_err(|source| LedgerError::Io {
            path: name(),
            source,
        })?;
        if !meta.is_file() {
            return Err(LedgerError::NotAFile {
                path: name(),
                what: "file",
            });
        }
        check_owner(path, &meta)?;
        if path == self.path {
            self.check_dir()?;
        }
        Ok(Some(file))
    }

    /// The directory holding the ledger: a real directory, ours (or root's), that nobody
    /// else can write (else they could swap the files in it).
    fn check_dir(&self) -> Result<(), LedgerError> {
        let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) else {
            return Ok(());
        };
        let meta = std::fs::symlink_metadata(dir).map_err(|source| LedgerError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        if meta.file_type().is_symlink() {
            return Err(LedgerError::Symlink {
                path: dir.display().to_string(),
            });
        }
        if !meta.is_dir() {
            return Err(LedgerError::NotAFile {
                path: dir.display().to_string(),
                what: "directory",
            });
        }
        check_owner(dir, &meta)
    }

    /// The whole file, or `None` when it does not exist.
    fn read(&self, path: &Path) -> Result<Option<Vec<u8>>, LedgerError> {
        let Some(mut file) = self.open(path, Access::Read)? else {
            return Ok(None);
        };
        let mut text = Vec::new();
        file.read_to_end(&mut text)
            .map_err(|source| LedgerError::Io {
                path: path.display().to_string(),
                source,
            })?;
        Ok(Some(text))
    }
}

/// Owned by us or by root (as ssh allows), and writable by nobody else.
fn check_owner(path: &Path, meta: &Metadata) -> Result<(), LedgerError> {
    let uid = nix::unistd::geteuid().as_raw();
    if meta.uid() != uid && meta.uid() != 0 {
        return Err(LedgerError::NotOwned {
            path: path.display().to_string(),
            owner: meta.uid(),
            uid,
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(LedgerError::Insecure {
            path: path.display().to_string(),
            mode,
        });
    }
    Ok(())
}

/// SHA-256 of a record's canonical JSON ([`canonical_object`]: keys sorted, no `hash`). The
/// same bytes serde_json writes for a map that keeps keys sorted (its default), so ledgers
/// written before the canonical form existed verify unchanged.
pub fn record_hash(record: &Map<String, Value>) -> String {
    sha256_hex(canonical_object(record).as_bytes())
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(n: u64) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("event".into(), Value::from("decision"));
        m.insert("n".into(), Value::from(n));
        m
    }

    /// Every ledger ever written is checked against this hash: a change to how records are
    /// serialised for hashing (a serde_json feature, a new canonical form) breaks them all.
    #[test]
    fn a_known_record_has_a_known_hash() {
        let record: Map<String, Value> = serde_json::from_str(
            r#"{"time":"2026-12-05T10:00:00.000Z","event":"decision","id":"0123456789abcdef0123","seq":7,"prev":"00","decision":"allow","requester":{"user":"alice","uid":1000},"argv":["git","status"],"ok":true,"note":null,"é":"ü"}"#,
        )
        .unwrap();
        // Keys sorted by their UTF-8 bytes, no whitespace, at every depth (`printf %s TEXT | sha256sum`
        // gives the hash below).
        assert_eq!(
            canonical_object(&record),
            r#"{"argv":["git","status"],"decision":"allow","event":"decision","id":"0123456789abcdef0123","note":null,"ok":true,"prev":"00","requester":{"uid":1000,"user":"alice"},"seq":7,"time":"2026-12-05T10:00:00.000Z","é":"ü"}"#
        );
        assert_eq!(
            record_hash(&record),
            sha256_hex(canonical_object(&record).as_bytes())
        );
        assert_eq!(
            record_hash(&record),
            "566b6ea4ac786a64423e1454bfbc89e8b9b1d5e2510f4e953e45fba44a03562e"
        );
    }

    #[test]
    fn chain_verifies_and_head_tracks_it() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::at(dir.path().join("l.jsonl"));
        for i in 0..5 {
            ledger.append(rec(i), i % 2 == 0).unwrap();
        }
        let report = ledger.verify().unwrap();
        assert_eq!(
            (report.records, report.errors.len(), report.warnings.len()),
            (5, 0, 0),
            "{report:?}"
        );
        let records = ledger.records().unwrap();
        assert_eq!(records[4]["seq"], 5);
        assert_eq!(records[0]["prev"], GENESIS);
        assert_eq!(records[1]["prev"], records[0]["hash"]);
    }

    #[test]
    fn a_torn_last_line_is_kept_reported_and_chained_onto() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.jsonl");
        let ledger = Ledger::at(&path);
        ledger.append(rec(1), false).unwrap();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"event\":\"decis").unwrap();
        let report = ledger.verify().unwrap();
        assert!(
            report.errors.is_empty() && report.warnings[0].contains("line 2 is torn"),
            "{report:?}"
        );
        ledger.append(rec(2), false).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("{\"event\":\"decis\n"),
            "the torn bytes stay as written"
        );
        let report = ledger.verify().unwrap();
        assert!(report.errors.is_empty(), "{report:?}");
        assert!(
            report.warnings.iter().any(|w| w.contains("line 2 is torn")),
            "{report:?}"
        );
        assert_eq!(ledger.records().unwrap().last().unwrap()["seq"], 2);
    }
}
