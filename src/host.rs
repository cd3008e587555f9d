//! The place a command runs in, as the policy stage may ask about it: the environment the
//! command runs with, its working directory, and the symlinks on disk. The policy stage
//! does no I/O itself (see [`crate::policy::paths`]); this is the real [`Host`] that
//! `gatekeep exec`, `check` and the agent hooks hand it.
//!
//! Everything is looked up on demand: a command whose words meet no path pattern costs no
//! system call here, which keeps the allowed fast path as it was.

use std::path::{Component, Path, PathBuf};

use crate::policy::paths::Host;
use crate::shell::load::{Files, LoadError, MAX_FILE};

/// How many symlinks one path may pass through before it counts as unresolvable (the
/// kernel's own limit is 40; a loop is refused long before).
const MAX_LINKS: usize = 40;

/// The process's environment, and `cwd` as the directory the command runs in.
pub struct LiveHost {
    cwd: PathBuf,
}

impl LiveHost {
    pub fn new(cwd: &Path) -> LiveHost {
        LiveHost {
            cwd: cwd.to_path_buf(),
        }
    }
}

impl Host for LiveHost {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn cwd(&self) -> Option<String> {
        let cwd = if self.cwd.is_absolute() {
            self.cwd.clone()
        } else {
            std::env::current_dir().ok()?.join(&self.cwd)
        };
        cwd.to_str().map(str::to_owned)
    }

    fn resolve(&self, absolute: &str) -> Option<String> {
        resolve(Path::new(absolute), 0)?.to_str().map(str::to_owned)
    }

    fn files(&self) -> Option<&dyn Files> {
        Some(self)
    }
}

/// Reading the files a command runs, relative to `cwd`. Only called for commands that run
/// a file (`bash x.sh`, `make`, `npm run`...): other commands cost no system call here.
impl Files for LiveHost {
    fn read(&self, path: &str) -> Result<String, LoadError> {
        use std::io::Read;
        let full = self.cwd.join(path);
        let file = std::fs::File::open(&full).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => LoadError::Missing,
            _ => LoadError::Unreadable(e.to_string()),
        })?;
        let meta = file
            .metadata()
            .map_err(|e| LoadError::Unreadable(e.to_string()))?;
        if meta.is_dir() {
            return Err(LoadError::Unreadable("it is a directory".into()));
        }
        let mut file = file;
        let mut bytes = Vec::new();
        // The head first: a compiled program is not read further.
        let read = |file: &mut std::fs::File, bytes: &mut Vec<u8>, n: u64| {
            file.take(n)
                .read_to_end(bytes)
                .map_err(|e| LoadError::Unreadable(e.to_string()))
        };
        read(&mut file, &mut bytes, 1024)?;
        if bytes.starts_with(b"\x7fELF") || bytes.contains(&0) {
            return Err(LoadError::Binary);
        }
        // One byte over the limit tells a file that is too large from one that fits.
        read(&mut file, &mut bytes, MAX_FILE as u64 + 1 - 1024)?;
        if bytes.len() > MAX_FILE {
            return Err(LoadError::TooLarge(meta.len()));
        }
        String::from_utf8(bytes).map_err(|_| LoadError::Unreadable("it is not UTF-8 text".into()))
    }

    fn home(&self) -> Option<String> {
        std::env::var("HOME").ok()
    }
}

/// The path the kernel would reach: symlinks in the existing part resolved (a final
/// symlink too, even one whose target does not exist yet, since writing through it creates
/// the target), the part that does not exist appended as written, `..` in it dropped
/// lexically.
fn resolve(path: &Path, links: usize) -> Option<PathBuf> {
    if links > MAX_LINKS {
        return None;
    }
    if let Ok(real) = std::fs::canonicalize(path) {
        return Some(real);
    }
    // A dangling final symlink: follow it by hand.
    if let Ok(target) = std::fs::read_link(path) {
        let base = path.parent().unwrap_or(Path::new("/"));
        return resolve(&base.join(target), links + 1);
    }
    // The longest prefix that exists, resolved, and the rest appended.
    let parts: Vec<Component<'_>> = path.components().collect();
    for keep in (1..parts.len()).rev() {
        let prefix: PathBuf = parts[..keep].iter().collect();
        if prefix.symlink_metadata().is_err() {
            continue;
        }
        let base = match std::fs::canonicalize(&prefix) {
            Ok(base) => base,
            // It exists but cannot be resolved (a dangling link in the middle, a loop): follow
            // by hand once more, or give up.
            Err(_) => {
                let target = std::fs::read_link(&prefix).ok()?;
                let parent = prefix.parent().unwrap_or(Path::new("/"));
                resolve(&parent.join(target), links + 1)?
            }
        };
        let mut out = base;
        for part in &parts[keep..] {
            match part {
                Component::ParentDir => {
                    out.pop();
                }
                Component::CurDir => {}
                other => out.push(other.as_os_str()),
            }
        }
        return Some(out);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_symlinked_parents_and_final_links() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = std::fs::canonicalize(dir.path()).expect("canonical");
        let real = root.join("real");
        std::fs::create_dir(&real).expect("mkdir");
        std::os::unix::fs::symlink(&real, root.join("link")).expect("link");
        std::os::unix::fs::symlink(real.join("missing.toml"), root.join("dangling")).expect("link");
        let host = LiveHost::new(&root);
        let r = |p: &Path| host.resolve(p.to_str().expect("utf-8"));
        assert_eq!(
            r(&root.join("link/new/x.toml")),
            Some(real.join("new/x.toml").display().to_string())
        );
        assert_eq!(
            r(&root.join("dangling")),
            Some(real.join("missing.toml").display().to_string())
        );
        assert_eq!(
            r(&root.join("link/../real/y")),
            Some(real.join("y").display().to_string())
        );
    }
}
