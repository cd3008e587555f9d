//! Who can write a path: the file and every directory above it, for the agent's user.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::Agent;

/// Why `agent` can change what `path` holds (write it, or replace it through a directory
/// above it up to `root`), or `None`.
pub fn writable_by(root: &Path, path: &Path, agent: &Agent) -> Option<String> {
    if agent.is_root() {
        return Some(format!(
            "the agent's user {} is root, and root can write everything",
            agent.name
        ));
    }
    let mut child_owner: Option<u32> = None;
    let mut current = Some(path);
    while let Some(p) = current {
        let meta = match std::fs::symlink_metadata(p) {
            // A link is judged by where it leads; the directory holding it is checked next.
            Ok(meta) if meta.file_type().is_symlink() => std::fs::metadata(p).ok(),
            Ok(meta) => Some(meta),
            Err(_) => None,
        };
        if let Some(meta) = meta {
            if let Some(how) = writes(&meta, agent) {
                let is_dir = meta.is_dir() && p != path;
                let sticky_protects = is_dir
                    && meta.mode() & 0o1000 != 0
                    && child_owner.is_some_and(|o| o != agent.uid);
                if !sticky_protects {
                    return Some(if is_dir {
                        format!(
                            "{} {how} the directory {} (mode {:04o}, owner uid {}), so it can replace {}",
                            agent.name,
                            p.display(),
                            meta.mode() & 0o7777,
                            meta.uid(),
                            path.display()
                        )
                    } else {
                        format!(
                            "{} {how} {} (mode {:04o}, owner uid {})",
                            agent.name,
                            p.display(),
                            meta.mode() & 0o7777,
                            meta.uid()
                        )
                    });
                }
            }
            child_owner = Some(meta.uid());
        } else {
            child_owner = None;
        }
        if p == root {
            break;
        }
        current = p.parent();
    }
    None
}

/// How `agent` may write a file or directory with this metadata, if it may.
pub(super) fn writes(meta: &std::fs::Metadata, agent: &Agent) -> Option<&'static str> {
    let mode = meta.mode();
    if meta.uid() == agent.uid {
        Some("owns")
    } else if mode & 0o020 != 0 && agent.groups.contains(&meta.gid()) {
        Some("may write (through its group)")
    } else if mode & 0o002 != 0 {
        Some("may write (everyone may)")
    } else {
        None
    }
}
