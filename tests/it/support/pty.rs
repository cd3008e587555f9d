//! A command line run on a real pseudo-terminal (util-linux `script`), for the tests of the
//! approval prompt (`tests/exec.rs`) and of the shell integration (`tests/shell_init.rs`).

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub struct Pty {
    pub child: Child,
    output: mpsc::Receiver<Vec<u8>>,
    /// Everything the terminal has shown so far.
    pub seen: Vec<u8>,
}

impl Pty {
    /// Runs `line` under `script` on a new pseudo-terminal; `script` is the prepared command
    /// (environment and directory set) for the `script` program.
    pub fn start(mut script: Command, line: &str) -> Pty {
        let mut child = script
            .args(["-qec", line, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let (tx, output) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Pty {
            child,
            output,
            seen: Vec::new(),
        }
    }

    /// Reads the terminal until `shown(&self.seen)` holds, failing after 20 s with the
    /// screen and `what` was awaited.
    pub fn wait_until(&mut self, what: &str, shown: impl Fn(&[u8]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !shown(&self.seen) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting for {what:?}; screen:\n{}",
                String::from_utf8_lossy(&self.seen)
            );
            if let Ok(chunk) = self
                .output
                .recv_timeout(left.min(Duration::from_millis(200)))
            {
                self.seen.extend(chunk);
            }
        }
    }

    /// Types `keys`.
    pub fn send(&mut self, keys: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(keys.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// Closes the keyboard, waits (at most 20 s) for the line to end, which must be by an
    /// exit rather than a signal, and reads the rest of the screen.
    pub fn finish(&mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the line did not end; screen:\n{}",
                String::from_utf8_lossy(&self.seen)
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.code().is_some(), "script ended by a signal");
        // The reader ends when `script` closes the terminal; the timeout only guards it.
        while let Ok(chunk) = self.output.recv_timeout(Duration::from_secs(2)) {
            self.seen.extend(chunk);
        }
    }
}
