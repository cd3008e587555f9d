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
