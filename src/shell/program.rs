//! The name a program is known by (to unwrapping and to rules), whatever spelling ran it.
//!
//! An agent on Windows (Git Bash, MSYS2, Cygwin) or in WSL runs the same tools as
//! `git.exe`, `C:/Program Files/Git/bin/git.exe`, `C:\…\git.exe` or `KUBECTL.EXE`: a
//! Windows file system finds the program whatever the case of its name, and the `.exe` may
//! be left out or written. So the name rules match is the last part of the path (after `/`
//! or `\`), without an `.exe` suffix in any case, and in lower case when it had one (a
//! `.exe` is a Windows program, found case-insensitively even from WSL, where
//! `/mnt/c` is case-insensitive). Where gatekeep itself runs on a case-insensitive file
//! system by default (macOS, Windows), every program name is folded: `RM -rf /` runs `rm`.
//! On Linux, names without `.exe` keep their case: `RM` is another program there.

use std::borrow::Cow;

/// The name rules match for a program spelled `name` (a basename or a path).
pub fn key(name: &str) -> Cow<'_, str> {
    let trimmed = name.trim_end_matches(['/', '\\']);
    let base = trimmed.rsplit(['/', '\\']).next().unwrap_or(trimmed);
    let exe = base.len() > 4
        && base
            .get(base.len() - 4..)
            .is_some_and(|s| s.eq_ignore_ascii_case(".exe"));
    let stem = if exe { &base[..base.len() - 4] } else { base };
    if (exe || CASE_INSENSITIVE) && stem.chars().any(|c| c.is_uppercase()) {
        Cow::Owned(stem.to_lowercase())
    } else {
        Cow::Borrowed(stem)
    }
}

/// Whether the file systems gatekeep runs on find programs whatever the case of their name
/// by default.
const CASE_INSENSITIVE: bool = cfg!(any(target_os = "macos", windows));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_spellings_name_the_program() {
        for spelling in [
            "git",
            "git.exe",
            "/usr/bin/git",
            "C:/Program Files/Git/bin/git.exe",
            "C:\\Program Files\\Git\\bin\\git.exe",
            "GIT.EXE",
            "Git.Exe",
            "/mnt/c/Program Files/Git/cmd/git.exe",
        ] {
            assert_eq!(key(spelling), "git", "{spelling}");
        }
        assert_eq!(key(".exe"), ".exe");
        assert_eq!(key("mkfs.ext4"), "mkfs.ext4");
        assert_eq!(key("RM"), if CASE_INSENSITIVE { "rm" } else { "RM" });
    }
}
