//! Waiting for a verdict: long polls that reconnect with backoff, a spinner on a terminal,
//! and the signals that cancel the wait taken here (so the caller can cancel the request).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::remote::{Client, RemoteError};
use crate::api::protocol::{MAX_WAIT_SECS, RequestView};
use crate::api::verdict;
use crate::render::Safe;

/// How a wait for a verdict ended.
#[derive(Debug)]
pub enum WaitEnd {
    /// The request is final (its verdict still to be verified).
    Final(Box<RequestView>),
    /// A signal arrived (SIGINT, SIGTERM, SIGHUP, SIGQUIT).
    Signal(i32),
    /// The service stopped answering, or refused, past any hope of a verdict.
    Failed(String),
}

enum Event {
    Final(Box<RequestView>),
    Lost(String),
    Back,
    Failed(String),
}

/// Waits for request `id` to become final, with long polls that reconnect with backoff;
/// shows a spinner with the request id, the approve hint and a countdown on a terminal, one
/// line otherwise. Signals are taken while waiting so that the caller can cancel.
pub fn wait_for_verdict(client: &Client, id: &str, expires_unix: u64) -> WaitEnd {
    use nix::sys::signal::{SigSet, SigmaskHow, Signal};
    use nix::sys::signalfd::{SfdFlags, SignalFd};

    let mut mask = SigSet::empty();
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ] {
        mask.add(s);
    }
    // Blocked before the poller starts, so it inherits the mask and signals queue for us.
    let old = mask.thread_swap_mask(SigmaskHow::SIG_BLOCK).ok();
    let restore = || {
        if let Some(old) = old {
            let _ = old.thread_set_mask();
        }
    };
    let sfd = match SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC) {
        Ok(sfd) => sfd,
        Err(e) => {
            restore();
            return WaitEnd::Failed(format!("cannot watch for signals: {e}"));
        }
    };

    let (tx, rx) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    {
        let client = client.clone();
        let id = id.to_owned();
        let stop = stop.clone();
        std::thread::spawn(move || poll(&client, &id, &tx, &stop));
    }

    let tty = nix::unistd::isatty(std::io::stderr()).unwrap_or(false);
    // The wait line repeats text from the configuration and the service's error messages:
    // rendered terminal-safe like everything else that reaches the terminal.
    let id = Safe(id);
    let url = Safe(&client.url);
    let hint = format!("gatekeep approve {id}");
    let left = |now: u64| {
        let s = expires_unix.saturating_sub(now);
        format!("{}:{:02}", s / 60, s % 60)
    };
    if !tty {
        eprintln!(
            "gatekeep: waiting for approval of request {id} at {url} (approver runs: {hint}); expires in {}",
            left(verdict::unix_now())
        );
    }
    let frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
    let started = Instant::now();
    let mut status: Option<String> = None;
    let end = loop {
        if let Ok(Some(info)) = sfd.read_signal() {
            break WaitEnd::Signal(i32::try_from(info.ssi_signo).unwrap_or(15));
        }
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(Event::Final(view)) => break WaitEnd::Final(view),
            Ok(Event::Failed(why)) => break WaitEnd::Failed(why),
            Ok(Event::Lost(why)) => {
                if !tty && status.is_none() {
                    eprintln!(
                        "gatekeep: lost the approval service ({}); retrying",
                        Safe(&why)
                    );
                }
                status = Some(why);
            }
            Ok(Event::Back) => {
                if !tty && status.is_some() {
                    eprintln!("gatekeep: reconnected; still waiting for request {id}");
                }
                status = None;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                break WaitEnd::Failed("the wait ended unexpectedly".into());
            }
        }
        let now = verdict::unix_now();
        // Past the deadline, the service should have expired it; if it cannot be reached
        // for a minute more, give up rather than wait forever.
        if now > expires_unix + 60 && status.is_some() {
            break WaitEnd::Failed(format!(
                "the request expired and the approval service is still unreachable ({})",
                status.unwrap_or_default()
            ));
        }
        if tty {
            let frame = frames[(started.elapsed().as_millis() / 100) as usize % frames.len()];
            let line = match &status {
                Some(why) => format!(
                    "{frame} request {id}: reconnecting ({}) · {} left",
                    Safe(why),
                    left(now)
                ),
                None => format!(
                    "{frame} waiting for approval: request {id} · approve with `{hint}` · {} left",
                    left(now)
                ),
            };
            eprint!("\r\x1b[2K{line}");
        }
    };
    if tty {
        eprint!("\r\x1b[2K");
    }
    stop.store(true, Ordering::Relaxed);
    drop(sfd);
    restore();
    end
}

/// The poller thread: long polls until final, reconnecting with capped backoff.
fn poll(client: &Client, id: &str, tx: &mpsc::Sender<Event>, stop: &AtomicBool) {
    let mut backoff = Duration::from_millis(200);
    let mut lost = false;
    while !stop.load(Ordering::Relaxed) {
        match client.wait(id, MAX_WAIT_SECS) {
            Ok(view) => {
                if lost {
                    lost = false;
                    let _ = tx.send(Event::Back);
                }
                backoff = Duration::from_millis(200);
                if view.state.is_final() {
                    let _ = tx.send(Event::Final(Box::new(view)));
                    return;
                }
            }
            // A restarting server answers 503 or not at all: both are worth waiting out.
            Err(
                RemoteError::Unreachable { why, .. }
                | RemoteError::Refused {
                    status: 503,
                    message: why,
                },
            ) => {
                lost = true;
                let _ = tx.send(Event::Lost(why));
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(3));
            }
            Err(e) => {
                let _ = tx.send(Event::Failed(e.to_string()));
                return;
            }
        }
    }
}
