//! Running the child, exactly the argv that was decided on.
//!
//! Allowed commands are exec'd in place ([`exec_in_place`]): gatekeep becomes the command,
//! with the same argv, PATH lookup and environment, and nothing of gatekeep stays behind.
//!
//! Approved commands run supervised ([`run_supervised`]) so their outcome can be recorded.
//! gatekeep blocks the signals it handles (including SIGCHLD) and takes them one at a time
//! with `sigwait`, so there are no signal handlers and no races with the child's exit:
//!
//! - INT, TERM, HUP, QUIT, USR1, USR2 sent to gatekeep are forwarded to the child.
//! - On a terminal where gatekeep is in the foreground, the child gets its own process group
//!   and the terminal's foreground: keys (Ctrl-C, Ctrl-Z) and window changes reach it
//!   directly, and only signals sent to gatekeep itself are forwarded.
//! - When the child stops (Ctrl-Z, or TSTP forwarded), gatekeep takes the terminal back and
//!   stops too, so the shell's job control sees one job; on CONT it hands the terminal back
//!   and continues the child.
//! - The exit status is the child's, or 128+N when a signal ended it.
//!
//! A child inherits the signal mask of the thread that starts it, and std's spawn (through
//! `posix_spawn`) does not reset it: without the `pre_exec` hook below the child would start
//! with TERM, INT and the rest blocked and never see them. That hook is the crate's only
//! `unsafe` code.

#![expect(
    unsafe_code,
    reason = "the one reviewed pre_exec hook that resets the child's signal mask"
)]

use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Instant;

use nix::sys::signal::{SigSet, Signal, kill, killpg, raise};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, getpgrp, isatty, tcgetpgrp, tcsetpgrp};

/// How a supervised child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ExitStatus {
    /// The exit code gatekeep itself exits with: the child's, or 128+N for signal N.
    pub exit_code: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    pub duration_ms: u64,
}

/// The argv that runs a shell string exactly as `bash -c` would.
pub fn shell_argv(text: &str) -> Vec<String> {
    // Prefer the system bash, the shell whose grammar gatekeep parsed the string with.
    let bash = if std::path::Path::new("/bin/bash").exists() {
        "/bin/bash"
    } else {
        "bash"
    };
    vec![bash.to_owned(), "-c".to_owned(), text.to_owned()]
}

fn command(argv: &[String]) -> Command {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    cmd
}

/// Replaces this process with `argv`. Returns only if the exec failed.
pub fn exec_in_place(argv: &[String]) -> io::Error {
    if argv.is_empty() {
        return io::Error::new(io::ErrorKind::InvalidInput, "no command to run");
    }
    command(argv).exec()
}

/// The exit code a shell uses when a command cannot be started.
pub fn spawn_error_code(e: &io::Error) -> i32 {
    match e.kind() {
        io::ErrorKind::NotFound => 127,
        _ => 126,
    }
}

const FORWARDED: [Signal; 6] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// Runs `argv` as a supervised child and waits for it, forwarding signals. `close` are
/// descriptors of gatekeep's own (a result channel) that the child must not inherit.
pub fn run_supervised(argv: &[String], close: &[i32]) -> io::Result<ExitStatus> {
    if argv.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no command to run",
        ));
    }
    let stdin = io::stdin();
    let interactive = isatty(&stdin).unwrap_or(false) && tcgetpgrp(&stdin).ok() == Some(getpgrp());

    let mut handled = SigSet::empty();
    for s in FORWARDED {
        handled.add(s);
    }
    for s in [
        Signal::SIGCHLD,
        Signal::SIGWINCH,
        Signal::SIGTSTP,
        Signal::SIGCONT,
        Signal::SIGTTIN,
        Signal::SIGTTOU,
    ] {
        handled.add(s);
    }
    let previous = handled
        .thread_swap_mask(nix::sys::signal::SigmaskHow::SIG_BLOCK)
        .map_err(io::Error::from)?;

    let started = Instant::now();
    let mut cmd = command(argv);
    if interactive {
        cmd.process_group(0);
    }
    let close = close.to_vec();
    // SAFETY: the closure runs in the child between fork and exec, where only
    // async-signal-safe functions may be called; it calls only pthread_sigmask (through
    // nix, which allocates nothing for an empty set) and close(2), and touches no shared
    // state (`close` was copied before the fork and is only read).
    unsafe {
        cmd.pre_exec(move || {
            for &fd in &close {
                // SAFETY: closing a descriptor number in the child cannot affect the
                // parent; a number that is not open only returns EBADF.
                nix::libc::close(fd);
            }
            SigSet::empty().thread_set_mask().map_err(io::Error::from)
        });
    }
    let child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            let _ = previous.thread_set_mask();
            return Err(e);
        }
    };
    let pid = Pid::from_raw(child.id() as i32);
    let terminal = Terminal {
        interactive,
        own: getpgrp(),
        child: pid,
    };
    terminal.give_to_child();

    let result = supervise(&handled, &terminal, pid);
    terminal.take_back();
    let _ = previous.thread_set_mask();
    let (exit_code, signal) = result?;
    Ok(ExitStatus {
        exit_code,
        signal,
        duration_ms: started.elapsed().as_millis().try_into().unwrap_or(u64::MAX),
    })
}

/// Who holds the terminal: gatekeep's process group or the child's.
struct Terminal {
    interactive: bool,
    own: Pid,
    child: Pid,
}

impl Terminal {
    fn give_to_child(&self) {
        if self.interactive {
            // SIGTTOU is blocked, so this works from the background too.
            let _ = tcsetpgrp(io::stdin(), self.child);
        }
    }

    fn take_back(&self) {
        if self.interactive {
            let _ = tcsetpgrp(io::stdin(), self.own);
        }
    }

    /// Sends `sig` to the child (its whole group when it has one of its own).
    fn signal(&self, sig: Signal) {
        let _ = if self.interactive {
            killpg(self.child, sig)
        } else {
            kill(self.child, sig)
        };
    }
}

fn supervise(handled: &SigSet, terminal: &Terminal, pid: Pid) -> io::Result<(i32, Option<i32>)> {
    loop {
        // A status change may have happened before we started waiting: check first.
        if let Some(done) = reap(terminal, pid)? {
            return Ok(done);
        }
        match handled.wait().map_err(io::Error::from)? {
            Signal::SIGCHLD | Signal::SIGTTIN | Signal::SIGTTOU => {}
            Signal::SIGWINCH if !terminal.interactive => terminal.signal(Signal::SIGWINCH),
            Signal::SIGWINCH => {}
            Signal::SIGTSTP => terminal.signal(Signal::SIGTSTP),
            Signal::SIGCONT => {
                terminal.give_to_child();
                terminal.signal(Signal::SIGCONT);
            }
            other => terminal.signal(other),
        }
    }
}

/// Collects the child's status changes; returns its end when it has ended.
fn reap(terminal: &Terminal, pid: Pid) -> io::Result<Option<(i32, Option<i32>)>> {
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG | WaitPidFlag::WUNTRACED))
            .map_err(io::Error::from)?
        {
            WaitStatus::Exited(_, code) => return Ok(Some((code, None))),
            WaitStatus::Signaled(_, sig, _) => {
                return Ok(Some((128 + sig as i32, Some(sig as i32))));
            }
            WaitStatus::Stopped(_, Signal::SIGTTIN | Signal::SIGTTOU) if terminal.interactive => {
                // It touched the terminal before we handed it over: hand over and go on.
                terminal.give_to_child();
                terminal.signal(Signal::SIGCONT);
            }
            WaitStatus::Stopped(_, _) => {
                // Mirror the stop so the shell sees one stopped job; resume together.
                terminal.take_back();
                let _ = raise(Signal::SIGSTOP);
                terminal.give_to_child();
                terminal.signal(Signal::SIGCONT);
            }
            WaitStatus::StillAlive => return Ok(None),
            _ => {}
        }
    }
}
