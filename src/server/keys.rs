//! The service's signing keys: the current key, which signs, and the one before it, still
//! published so that clients pinned to it follow the rotation (see [`crate::api::keys`]).
//! `gatekeep server key rotate` makes a new current key and keeps the old one as previous;
//! any older key is dropped.
//!
//! Where they live:
//! - SQLite (one server): `signing-key` and `signing-key.previous` in the data directory,
//!   0600 and the server's own, rewritten by a rotation through a temporary file and a
//!   rename each. A running server reads them again on SIGHUP.
//! - PostgreSQL (replicas): table `signing_keys`, each seed sealed with AES-256-GCM under a
//!   key-encryption key that every replica reads from a file of its own (never from the
//!   database, so a copy of the database alone does not give the keys away). The first
//!   replica on an empty table imports its `signing-key` (made if missing); the others load
//!   what it stored. A rotation is announced on [`KEYS_CHANNEL`], and every replica listening
//!   loads the set again.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::{SigningKey, VerifyingKey};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use sqlx::Row;
use sqlx::postgres::PgPool;

use crate::api::keys;
use crate::api::verdict::{self, Jwk, JwkSet};

/// Announces a rotation to every replica (the payload is the new key's thumbprint).
pub const KEYS_CHANNEL: &str = "gatekeep_keys";
/// The advisory lock serialising imports and rotations across replicas ("gk keys").
const KEYS_LOCK: i64 = 0x676b_206b_6579_7300;
/// The previous key's file beside `signing-key`.
const PREVIOUS: &str = "signing-key.previous";

/// The current signing key and, after a rotation, the one before it.
pub struct KeySet {
    pub current: SigningKey,
    pub previous: Option<SigningKey>,
}

impl KeySet {
    pub fn single(current: SigningKey) -> KeySet {
        KeySet {
            current,
            previous: None,
        }
    }

    /// The current key's thumbprint.
    pub fn kid(&self) -> String {
        verdict::thumbprint(&self.current.verifying_key())
    }

    pub fn previous_kid(&self) -> Option<String> {
        self.previous
            .as_ref()
            .map(|k| verdict::thumbprint(&k.verifying_key()))
    }

    /// Every key whose signatures are the service's: the current, then the previous.
    pub fn public(&self) -> Vec<VerifyingKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .map(SigningKey::verifying_key)
            .collect()
    }

    /// The JWK Set: the current key first, carrying the previous key's endorsement of it
    /// (made here: the endorsement is deterministic, so every replica publishes the same).
    pub fn jwks(&self) -> JwkSet {
        let mut current = Jwk::from_key(&self.current.verifying_key());
        current.gatekeep_endorsed_by = self
            .previous
            .as_ref()
            .map(|p| keys::endorse(p, &self.current.verifying_key()));
        let previous = self
            .previous
            .as_ref()
            .map(|p| Jwk::from_key(&p.verifying_key()));
        JwkSet {
            keys: std::iter::once(current).chain(previous).collect(),
        }
    }

    /// The set after a rotation to `next`: the current key becomes the previous one.
    fn rotated(self, next: SigningKey) -> KeySet {
        KeySet {
            current: next,
            previous: Some(self.current),
        }
    }
}

fn random<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("cannot read random bytes: {e}"))?;
    Ok(bytes)
}

fn new_key() -> Result<SigningKey> {
    Ok(SigningKey::from_bytes(&random()?))
}

/// Reads 32 base64url bytes from a secret file that must be the server's own and private;
/// `None` when it does not exist. `what` names it in errors.
fn read_secret(path: &Path, what: &str) -> Result<Option<[u8; 32]>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let meta = std::fs::metadata(path)?;
    let uid = nix::unistd::getuid().as_raw();
    if meta.uid() != uid {
        bail!(
            "{} is owned by uid {}, not by the server's uid {uid}; the {what} must be the server's alone\nhint: chown it to the user that runs `gatekeep server`",
            path.display(),
            meta.uid()
        );
    }
    if meta.permissions().mode() & 0o077 != 0 {
        bail!(
            "{} is readable by others (mode {:o}); the {what} must be private\nhint: chmod 600 {}",
            path.display(),
            meta.permissions().mode() & 0o777,
            path.display()
        );
    }
    let bytes: [u8; 32] = B64
        .decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .with_context(|| {
            format!(
                "{} does not hold 32 base64url bytes (the {what})",
                path.display()
            )
        })?;
    Ok(Some(bytes))
}

/// Writes 32 bytes, base64url, to a new file `path` (0600, synced); never over a file
/// that exists (two servers starting at once make one key, not two).
fn create_secret(path: &Path, bytes: &[u8; 32]) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    writeln!(file, "{}", B64.encode(bytes))?;
    file.sync_all()?;
    Ok(())
}

/// Replaces `path` with 32 bytes, base64url (0600), through a temporary file and a rename,
/// so that a reader sees the old content or the new, never a part.
fn write_secret(path: &Path, bytes: &[u8; 32]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    create_secret(&tmp, bytes)?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

/// Loads the signing key from `data`, creating it (0600) on first start.
pub fn signing_key(data: &Path) -> Result<SigningKey> {
    let path = data.join("signing-key");
    if let Some(seed) = read_secret(&path, "signing key (an Ed25519 seed)")? {
        return Ok(SigningKey::from_bytes(&seed));
    }
    create_secret(&path, &new_key()?.to_bytes())?;
    tracing::info!(path = %path.display(), "created a new signing key");
    signing_key(data)
}

/// The key set in the data directory (SQLite), the current key made on first start.
pub fn load_files(data: &Path) -> Result<KeySet> {
    let current = signing_key(data)?;
    let previous = read_secret(&data.join(PREVIOUS), "previous signing key")?
        .map(|seed| SigningKey::from_bytes(&seed))
        // A rotation stopped between its two renames leaves the current key in both.
        .filter(|p| p.to_bytes() != current.to_bytes());
    Ok(KeySet { current, previous })
}

/// Rotates the key set in the data directory. The previous file is written first: a stop
/// between the two renames leaves the old key current (and previous), a valid set.
pub fn rotate_files(data: &Path) -> Result<KeySet> {
    if read_secret(&data.join("signing-key"), "signing key")?.is_none() {
        bail!(
            "no signing key in {} to rotate\nhint: pass the server's --data directory",
            data.display()
        );
    }
    let set = load_files(data)?.rotated(new_key()?);
    if let Some(previous) = &set.previous {
        write_secret(&data.join(PREVIOUS), &previous.to_bytes())?;
    }
    write_secret(&data.join("signing-key"), &set.current.to_bytes())?;
    Ok(set)
}

/// The key-encryption key, read from its file (32 random bytes, base64url; the server's own
/// and 0600, like the signing key). Never shown: `Debug` prints only where it came from.
pub struct Kek {
    key: LessSafeKey,
    path: PathBuf,
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Kek({})", self.path.display())
    }
}

impl Kek {
    pub fn read(path: &Path) -> Result<Kek> {
        let bytes = read_secret(path, "key-encryption key")?.with_context(|| {
            format!(
                "the key-encryption key file {} does not exist\nhint: make one with `gatekeep server key new-kek {}` and give every replica a copy",
                path.display(),
                path.display()
            )
        })?;
        Ok(Kek {
            key: LessSafeKey::new(
                UnboundKey::new(&AES_256_GCM, &bytes)
                    .map_err(|_| anyhow::anyhow!("AES-256-GCM refused the key"))?,
            ),
            path: path.to_owned(),
        })
    }

    /// `nonce || ciphertext || tag`, base64url; the key's thumbprint is the associated data,
    /// so that a sealed seed moved to another row does not open.
    fn seal(&self, key: &SigningKey) -> Result<String> {
        let nonce: [u8; NONCE_LEN] = random()?;
        let mut sealed = key.to_bytes().to_vec();
        let kid = verdict::thumbprint(&key.verifying_key());
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), aad(&kid), &mut sealed)
            .map_err(|_| anyhow::anyhow!("cannot seal the signing key"))?;
        Ok(B64.encode([&nonce[..], &sealed].concat()))
    }

    fn open(&self, kid: &str, sealed: &str) -> Result<SigningKey> {
        let wrong = || {
            anyhow::anyhow!(
                "cannot unseal signing key {kid} from the database with the key-encryption key in {}: it is not the key the signing keys were sealed with (or the row was altered)\nhint: give every replica a copy of the same key-encryption key file as the replica that first started on this database",
                self.path.display()
            )
        };
        let bytes = B64.decode(sealed).map_err(|_| wrong())?;
        if bytes.len() < NONCE_LEN {
            return Err(wrong());
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| wrong())?;
        let mut rest = rest.to_vec();
        let seed: [u8; 32] = self
            .key
            .open_in_place(nonce, aad(kid), &mut rest)
            .map_err(|_| wrong())?
            .try_into()
            .map_err(|_| wrong())?;
        let key = SigningKey::from_bytes(&seed);
        if verdict::thumbprint(&key.verifying_key()) != kid {
            return Err(wrong());
        }
        Ok(key)
    }
}

fn aad(kid: &str) -> Aad<String> {
    Aad::from(format!("gatekeep signing key v1\n{kid}"))
}

/// `gatekeep server key new-kek FILE`: a new key-encryption key, in a file that must not
/// exist yet.
pub fn new_kek(path: &Path) -> Result<()> {
    create_secret(path, &random()?)
        .context("a new key-encryption key is never written over a file that exists")
}

/// The key-encryption key a PostgreSQL server needs, or an error saying how to give one.
pub fn kek_for(file: Option<&Path>) -> Result<Kek> {
    match file {
        Some(path) => Kek::read(path),
        None => bail!(
            "on PostgreSQL the signing keys are kept in the database, sealed with a key-encryption key: none was given\nhint: make one with `gatekeep server key new-kek FILE`, give every replica a copy, and pass --key-encryption-key-file FILE (or key_encryption_key_file in --config)"
        ),
    }
}

fn db(e: sqlx::Error) -> anyhow::Error {
    anyhow::anyhow!("the signing keys in the database: {e}")
}

/// The sealed rows: (slot, kid, sealed seed).
async fn rows(conn: &mut sqlx::PgConnection) -> Result<Vec<(String, String, String)>> {
    let rows = sqlx::query("SELECT slot, kid, sealed_seed FROM signing_keys")
        .fetch_all(conn)
        .await
        .map_err(db)?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

fn open_rows(kek: &Kek, rows: &[(String, String, String)]) -> Result<Option<KeySet>> {
    let get = |slot: &str| {
        rows.iter()
            .find(|r| r.0 == slot)
            .map(|(_, kid, sealed)| kek.open(kid, sealed))
            .transpose()
    };
    let Some(current) = get("current")? else {
        return Ok(None);
    };
    Ok(Some(KeySet {
        current,
        previous: get("previous")?,
    }))
}

async fn insert(
    conn: &mut sqlx::PgConnection,
    kek: &Kek,
    slot: &str,
    key: &SigningKey,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO signing_keys (slot, kid, sealed_seed, added_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(slot)
    .bind(verdict::thumbprint(&key.verifying_key()))
    .bind(kek.seal(key)?)
    .bind(crate::time::now_rfc3339())
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// The key set in the database. On an empty table, the first replica stores its own
/// `signing-key` from `data` (made if missing), under a lock, so replicas starting together
/// agree on one.
pub async fn load_db(pool: &PgPool, kek: &Kek, data: &Path) -> Result<KeySet> {
    let mut conn = pool.acquire().await.map_err(db)?;
    if let Some(set) = open_rows(kek, &rows(&mut conn).await?)? {
        return Ok(set);
    }
    drop(conn);
    let mut tx = pool.begin().await.map_err(db)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(KEYS_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    if let Some(set) = open_rows(kek, &rows(&mut tx).await?)? {
        return Ok(set);
    }
    let key = signing_key(data)?;
    insert(&mut tx, kek, "current", &key).await?;
    tx.commit().await.map_err(db)?;
    tracing::info!(kid = %verdict::thumbprint(&key.verifying_key()), "stored the signing key in the database, sealed");
    Ok(KeySet::single(key))
}

/// Rotates the key set in the database and tells every replica.
pub async fn rotate_db(pool: &PgPool, kek: &Kek) -> Result<KeySet> {
    let mut tx = pool.begin().await.map_err(db)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(KEYS_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    // Opened first: a wrong key-encryption key must not seal the new key under itself.
    let Some(set) = open_rows(kek, &rows(&mut tx).await?)? else {
        bail!(
            "the database holds no signing key yet\nhint: start `gatekeep server` on it once: the first replica stores its key"
        );
    };
    let set = set.rotated(new_key()?);
    sqlx::query("DELETE FROM signing_keys WHERE slot = 'previous'")
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    sqlx::query("UPDATE signing_keys SET slot = 'previous' WHERE slot = 'current'")
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    insert(&mut tx, kek, "current", &set.current).await?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(KEYS_CHANNEL)
        .bind(set.kid())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(set)
}

/// The key set in the database, opened with `kek`, for `gatekeep server audit verify`:
/// `None` when none was stored yet. Opened, not read from a column in the clear: whoever
/// can write the database could put a key of their own there and sign checkpoints over a
/// rewritten chain with it; a sealed seed does not open without the key-encryption key.
pub async fn stored_db(pool: &PgPool, kek: &Kek) -> Result<Option<KeySet>> {
    let mut conn = pool.acquire().await.map_err(db)?;
    open_rows(kek, &rows(&mut conn).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signing_key_is_created_private_and_refused_when_not() {
        let dir = tempfile::tempdir().unwrap();
        let key = signing_key(dir.path()).unwrap();
        let path = dir.path().join("signing-key");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            signing_key(dir.path()).unwrap().to_bytes(),
            key.to_bytes(),
            "the same key on every start"
        );

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = signing_key(dir.path()).unwrap_err().to_string();
        assert!(e.contains("chmod 600"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();

        if nix::unistd::getuid().is_root() {
            nix::unistd::chown(&path, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
            let e = signing_key(dir.path()).unwrap_err().to_string();
            assert!(e.contains("owned by uid 65534"), "{e}");
        }

        std::fs::write(&path, "not a key\n").unwrap();
        if nix::unistd::getuid().is_root() {
            nix::unistd::chown(&path, Some(nix::unistd::getuid()), None).unwrap();
        }
        let e = signing_key(dir.path()).unwrap_err().to_string();
        assert!(e.contains("32 base64url bytes"), "{e}");
    }

    #[test]
    fn a_rotation_keeps_one_previous_key_and_endorses_the_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let k0 = load_files(dir.path()).unwrap();
        assert!(k0.previous.is_none());
        assert_eq!(k0.jwks().keys.len(), 1);
        let k1 = rotate_files(dir.path()).unwrap();
        assert_eq!(k1.previous_kid(), Some(k0.kid()));
        let loaded = load_files(dir.path()).unwrap();
        assert_eq!(
            (loaded.kid(), loaded.previous_kid()),
            (k1.kid(), Some(k0.kid()))
        );
        let mode = std::fs::metadata(dir.path().join(PREVIOUS))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let jwks = loaded.jwks();
        assert_eq!(jwks.keys[0].kid, k1.kid());
        assert_eq!(jwks.keys[1].kid, k0.kid());
        let pin = k0.current.verifying_key();
        assert_eq!(
            keys::trusted_key(&pin, &jwks, &k1.kid()),
            Ok(k1.current.verifying_key())
        );
        let k2 = rotate_files(dir.path()).unwrap();
        let loaded = load_files(dir.path()).unwrap();
        assert_eq!(loaded.previous_kid(), Some(k1.kid()), "k0 is dropped");
        assert!(keys::trusted_key(&pin, &loaded.jwks(), &k2.kid()).is_err());
        // The current key in both files (a rotation stopped between its renames) is one key.
        std::fs::copy(dir.path().join("signing-key"), dir.path().join(PREVIOUS)).unwrap();
        assert!(load_files(dir.path()).unwrap().previous.is_none());
    }

    #[test]
    fn a_sealed_seed_opens_only_with_its_key_and_kid() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        new_kek(&a).unwrap();
        new_kek(&b).unwrap();
        assert!(new_kek(&a).is_err(), "never overwritten");
        let (ka, kb) = (Kek::read(&a).unwrap(), Kek::read(&b).unwrap());
        assert!(!format!("{ka:?}").contains(&std::fs::read_to_string(&a).unwrap()));
        let key = SigningKey::from_bytes(&[5; 32]);
        let kid = verdict::thumbprint(&key.verifying_key());
        let sealed = ka.seal(&key).unwrap();
        assert!(!sealed.contains(&B64.encode(key.to_bytes())));
        assert_eq!(ka.open(&kid, &sealed).unwrap().to_bytes(), key.to_bytes());
        let e = kb.open(&kid, &sealed).unwrap_err().to_string();
        assert!(e.contains("same key-encryption key"), "{e}");
        let other = verdict::thumbprint(&SigningKey::from_bytes(&[6; 32]).verifying_key());
        assert!(ka.open(&other, &sealed).is_err(), "bound to its kid");
        assert!(kek_for(None).unwrap_err().to_string().contains("new-kek"));
    }
}
