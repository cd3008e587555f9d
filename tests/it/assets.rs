//! Completions and man pages are generated from the clap definitions and committed; this
//! fails when they are stale. Refresh them with:
//!
//! ```sh
//! for s in bash fish; do gatekeep completions $s > completions/gatekeep.$s; done
//! gatekeep completions zsh > completions/_gatekeep
//! gatekeep man man
//! ```

use std::path::Path;
use std::process::Command;

const GK: &str = env!("CARGO_BIN_EXE_gatekeep");

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn completions_are_current() {
    for (shell, file) in [
        ("bash", "gatekeep.bash"),
        ("zsh", "_gatekeep"),
        ("fish", "gatekeep.fish"),
    ] {
        let out = Command::new(GK)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success());
        let committed = std::fs::read(root().join("completions").join(file)).unwrap_or_default();
        assert!(
            committed == out.stdout,
            "completions/{file} is stale; regenerate it (see tests/assets.rs)"
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("exec"),
            "{shell} completion knows `exec`"
        );
    }
}

#[test]
fn man_pages_are_current() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        Command::new(GK)
            .arg("man")
            .arg(dir.path())
            .status()
            .unwrap()
            .success()
    );
    let mut generated: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    generated.sort();
    let mut committed: Vec<String> = std::fs::read_dir(root().join("man"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    committed.sort();
    assert_eq!(
        generated, committed,
        "man/ lists other pages than gatekeep generates"
    );
    assert!(generated.contains(&"gatekeep-exec.1".to_owned()));
    for name in generated {
        let fresh = std::fs::read(dir.path().join(&name)).unwrap();
        let old = std::fs::read(root().join("man").join(&name)).unwrap();
        assert!(
            fresh == old,
            "man/{name} is stale; regenerate it with `gatekeep man man`"
        );
    }
}

/// `gatekeep completions zsh | head -1`: a reader that stops early is not a failure (it used
/// to panic and abort, exit 134).
#[test]
fn completions_to_a_closed_pipe_exit_cleanly() {
    let out = Command::new("bash")
        .args([
            "-c",
            r#""$0" completions zsh | head -c 1 >/dev/null; exit "${PIPESTATUS[0]}""#,
        ])
        .arg(GK)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

/// install.sh with a stand-in `cargo` (a release build is too slow for the test suite) that
/// builds nothing but puts the test binary where a real one would go: under
/// CARGO_TARGET_DIR, wherever that points, and reports it as cargo does. Everything lands
/// under PREFIX, completions where each shell looks.
#[test]
fn install_follows_the_target_dir_and_keeps_everything_under_prefix() {
    let tmp = tempfile::tempdir().unwrap();
    let fake = tmp.path().join("fakebin");
    let target = tmp.path().join("elsewhere");
    let prefix = tmp.path().join("usr");
    std::fs::create_dir_all(&fake).unwrap();
    let write_exe = |name: &str, body: &str| {
        use std::os::unix::fs::PermissionsExt;
        let path = fake.join(name);
        std::fs::write(&path, body).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    write_exe(
        "cargo",
        r#"#!/bin/sh
out="$CARGO_TARGET_DIR/release/gatekeep"
mkdir -p "$(dirname "$out")" && cp "$GK_TEST_BIN" "$out"
printf '{"reason":"compiler-artifact","executable":"%s"}\n' "$out"
"#,
    );
    write_exe(
        "rustc",
        "#!/bin/sh\necho 'host: x86_64-unknown-linux-gnu'\n",
    );
    let path = format!(
        "{}:{}",
        fake.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .arg(root().join("install.sh"))
        .env("PATH", path)
        .env("HOME", tmp.path())
        .env("PREFIX", &prefix)
        .env("CARGO_TARGET_DIR", &target)
        .env("GK_TEST_BIN", GK)
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for file in [
        "bin/gatekeep",
        "share/man/man1/gatekeep.1",
        "share/bash-completion/completions/gatekeep",
        "share/zsh/site-functions/_gatekeep",
        "share/fish/vendor_completions.d/gatekeep.fish",
    ] {
        assert!(prefix.join(file).is_file(), "{file} missing under PREFIX");
    }
    // Nothing outside PREFIX (the old script put completions under ~/.local and ~/.config).
    assert!(!tmp.path().join(".local").exists());
    assert!(!tmp.path().join(".config").exists());
}
