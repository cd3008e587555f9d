//! `git push` to the remote's default branch when no branch is named.
//!
//! `git push origin main` names the branch, and the built-in rule `git-push-default-branch`
//! matches it. A bare `git push`, `git push origin` or `git push origin HEAD` pushes the
//! branch that is checked out, which only the repository on disk tells: the host reads
//! `.git/HEAD` (and `refs/remotes/REMOTE/HEAD` for the remote's default, `main` or `master`
//! when that is absent). Without a host (`gatekeep policy test`, the corpus) the push is read
//! as spelled and stays as before. The same rule decides both, so a system layer that
//! disables it disables this too.
//!
//! Only `git push` invocations get here, and each reads at most a few small files: the
//! allowed fast path for other commands does no I/O.

use super::{Certainty, CommandVerdict, Decision, Policy, paths, verdict};
use crate::shell::Invocation;

/// The rule whose message and risk a push to the default branch carries.
const RULE: &str = "git-push-default-branch";

/// How many directories up a repository is looked for.
const MAX_DEPTH: usize = 64;

/// git's global options that take the next word as their value.
const GIT_VALUE_OPTIONS: &[&str] = &[
    "-C",
    "-c",
    "--git-dir",
    "--work-tree",
    "--namespace",
    "--config-env",
    "--super-prefix",
];

/// `git push` options that take the next word as their value.
const PUSH_VALUE_OPTIONS: &[&str] = &["--repo", "-o", "--push-option", "--receive-pack", "--exec"];

/// What a push without a named branch would push.
struct Push {
    /// `-C` directories, in order.
    dirs: Vec<String>,
    git_dir: Option<String>,
    remote: Option<String>,
}

impl Policy {
    /// A push of the checked-out branch when that branch is the remote's default.
    pub(super) fn push_to_default(
        &self,
        inv: &Invocation,
        host: &dyn paths::Host,
    ) -> Option<CommandVerdict> {
        if inv.program() != Some("git") {
            return None;
        }
        let push = read_push(inv)?;
        let rule = self.active().find(|&i| self.id(i) == RULE)?;
        let cwd = host.cwd()?;
        let mut dir = cwd;
        for d in &push.dirs {
            dir = join(&dir, d);
        }
        let git_dir = match &push.git_dir {
            Some(g) => join(&dir, g),
            None => find_git_dir(&dir, host)?,
        };
        let head = read(host, &format!("{git_dir}/HEAD"))?;
        let branch = head.trim().strip_prefix("ref: refs/heads/")?.to_owned();
        let remote = push.remote.as_deref().unwrap_or("origin");
        let default = read(host, &format!("{git_dir}/refs/remotes/{remote}/HEAD")).and_then(|t| {
            t.trim()
                .strip_prefix(&format!("ref: refs/remotes/{remote}/"))
                .map(str::to_owned)
        });
        let is_default = match &default {
            Some(d) => *d == branch,
            None => branch == "main" || branch == "master",
        };
        if !is_default {
            return None;
        }
        let why = format!("the checked-out branch `{branch}` is the remote's default branch");
        let hit = self.hit(rule, Decision::Approve, Certainty::Certain, Some(why));
        Some(verdict(inv.display_argv(), inv.via.clone(), vec![hit]))
    }
}

/// The push, when it names no branch (bare, a remote only, or `HEAD`) and is not a dry run
/// or a push of everything (other rules read those).
fn read_push(inv: &Invocation) -> Option<Push> {
    let mut words = inv.argv[1..].iter().map(|w| w.literal());
    let mut push = Push {
        dirs: Vec::new(),
        git_dir: None,
        remote: None,
    };
    loop {
        let word = words.next()??;
        if word == "push" {
            break;
        }
        if let Some(dir) = word.strip_prefix("--git-dir=") {
            push.git_dir = Some(dir.to_owned());
        } else if GIT_VALUE_OPTIONS.contains(&word) {
            let value = words.next()??;
            match word {
                "-C" => push.dirs.push(value.to_owned()),
                "--git-dir" => push.git_dir = Some(value.to_owned()),
                _ => {}
            }
        } else if !word.starts_with('-') {
            return None;
        }
    }
    let mut operands = Vec::new();
    while let Some(word) = words.next() {
        let word = word?;
        if PUSH_VALUE_OPTIONS.contains(&word) {
            words.next();
            continue;
        }
        let short = word.starts_with('-') && !word.starts_with("--");
        if matches!(
            word,
            "--dry-run" | "--all" | "--branches" | "--mirror" | "--tags" | "--delete"
        ) || (short && word[1..].contains(['n', 'd']))
        {
            return None;
        }
        if !word.starts_with('-') {
            operands.push(word);
        }
    }
    match operands.as_slice() {
        [] => {}
        [remote] => push.remote = Some((*remote).to_owned()),
        [remote, refs @ ..] if refs.iter().all(|r| matches!(*r, "HEAD" | "@")) => {
            push.remote = Some((*remote).to_owned());
        }
        _ => return None,
    }
    Some(push)
}

/// `path` read from `base` (absolute paths as they are).
fn join(base: &str, path: &str) -> String {
    if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("{}/{path}", base.trim_end_matches('/'))
    }
}

/// The text of a file of the repository, through the host's files (none where files are not
/// read: case tables, rule examples).
fn read(host: &dyn paths::Host, path: &str) -> Option<String> {
    host.files()?.read(path).ok()
}

/// The repository's git directory: `.git` in `dir` or a parent, or the directory a `.git`
/// file points to (worktrees, submodules).
fn find_git_dir(dir: &str, host: &dyn paths::Host) -> Option<String> {
    let mut dir = dir.trim_end_matches('/').to_owned();
    for _ in 0..MAX_DEPTH {
        let candidate = format!("{dir}/.git");
        if read(host, &format!("{candidate}/HEAD")).is_some() {
            return Some(candidate);
        }
        if let Some(pointer) = read(host, &candidate)
            && let Some(target) = pointer.trim().strip_prefix("gitdir: ")
        {
            return Some(join(&dir, target));
        }
        let parent = dir.rfind('/')?;
        dir.truncate(parent);
        if dir.is_empty() {
            return None;
        }
    }
    None
}
