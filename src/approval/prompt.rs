//! The terminal approval prompt, drawn on the controlling terminal (`/dev/tty`).
//!
//! It never reads standard input: stdin may be the child's input or an agent's pipe, and an
//! agent must not be able to answer its own prompt. It opens `/dev/tty` itself and flushes
//! what was typed before the prompt appeared, so a keypress meant for something else cannot
//! approve. Written with termios directly rather than crossterm: crossterm reads keys from
//! stdin whenever stdin is a terminal, and the prompt needs nothing beyond raw key reads.
//!
//! The terminal is always restored: by a guard on every return path, by a panic hook (the
//! release build aborts on panic, so destructors would not run), and on SIGINT, SIGTERM,
//! SIGHUP and SIGQUIT, which are taken through a signalfd while the prompt waits.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{self, LocalFlags, SetArg, SpecialCharacterIndices, Termios};

use crate::render;

/// What the person at the terminal decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    Approved,
    Denied {
        reason: Option<String>,
    },
    /// Nobody answered before the deadline.
    Expired,
    /// gatekeep was told to stop (a signal) while waiting.
    Interrupted(i32),
}

/// What the prompt shows.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    /// The command with secrets masked.
    pub command: &'a str,
    /// `(rule id, layer, risk, message)` of every rule that asks for approval.
    pub rules: Vec<(String, String, String, String)>,
    pub risk: String,
    pub cwd: &'a str,
    /// The git branch the command runs on, when it runs in a repository.
    pub branch: Option<&'a str>,
    /// `user@host`, and the agent's name when it gave one.
    pub requester: String,
    pub reason: Option<&'a str>,
    pub request_id: &'a str,
}

/// `(id, layer, risk, message)` of every rule in `a` that asks for approval, for
/// [`Request::rules`].
pub fn rules_asking(a: &crate::policy::Assessment) -> Vec<(String, String, String, String)> {
    a.commands
        .iter()
        .flat_map(|c| &c.rules)
        .filter(|h| h.decision == crate::policy::Decision::Approve)
        .map(|h| {
            (
                h.id.clone(),
                h.layer.to_string(),
                h.risk.to_string(),
                h.message.clone(),
            )
        })
        .collect()
}

/// The terminal and its state before the prompt, for the panic hook.
static SAVED: Mutex<Option<(File, Termios)>> = Mutex::new(None);

/// Opens the controlling terminal, or `None` when there is none (CI, a detached agent).
pub fn open_terminal() -> Option<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()
}

/// Restores the terminal when dropped.
struct RawMode {
    tty: File,
    original: Termios,
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(self.tty.as_fd(), SetArg::TCSANOW, &self.original);
        if let Ok(mut saved) = SAVED.lock() {
            *saved = None;
        }
    }
}

fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Ok(saved) = SAVED.lock()
                && let Some((tty, original)) = saved.as_ref()
            {
                let _ = termios::tcsetattr(tty.as_fd(), SetArg::TCSANOW, original);
            }
            previous(info);
        }));
    });
}

/// Asks the person at `tty` to approve `request`, waiting at most `timeout`.
pub fn ask(tty: &mut File, request: &Request<'_>, timeout: Duration) -> io::Result<Answer> {
    let original = termios::tcgetattr(tty.as_fd()).map_err(io::Error::from)?;
    let mut raw = original.clone();
    // No line buffering, no echo, no signals from keys: Ctrl-C arrives as a byte and means
    // "deny". Output processing stays on so `\n` still returns the carriage.
    raw.local_flags
        .remove(LocalFlags::ICANON | LocalFlags::ECHO | LocalFlags::ISIG | LocalFlags::IEXTEN);
    raw.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
    raw.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;

    // Signals that would kill gatekeep are taken as events while the prompt is up.
    let mut signals = SigSet::empty();
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ] {
        signals.add(s);
    }
    let previous_mask = signals
        .thread_swap_mask(nix::sys::signal::SigmaskHow::SIG_BLOCK)
        .map_err(io::Error::from)?;
    let sigfd = SignalFd::with_flags(&signals, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(io::Error::from)?;

    install_panic_hook();
    if let Ok(mut saved) = SAVED.lock() {
        *saved = Some((tty.try_clone()?, original.clone()));
    }
    // TCSAFLUSH drops typeahead: only keys pressed after the prompt is drawn count.
    termios::tcsetattr(tty.as_fd(), SetArg::TCSAFLUSH, &raw).map_err(io::Error::from)?;
    let answer = {
        let _guard = RawMode {
            tty: tty.try_clone()?,
            original: original.clone(),
        };
        let mut out = tty.try_clone()?;
        draw(&mut out, request)?;
        let answer = read_answer(tty, &sigfd, timeout, &raw);
        let note = match &answer {
            Ok(Answer::Approved) => "approved".to_owned(),
            Ok(Answer::Denied { .. }) => "denied".to_owned(),
            Ok(Answer::Expired) => "expired: nobody answered in time".to_owned(),
            Ok(Answer::Interrupted(_)) => "interrupted".to_owned(),
            Err(e) => format!("error: {e}"),
        };
        let _ = write!(out, "\r\x1b[K  gatekeep: {note}\r\n");
        answer
    };
    let _ = previous_mask.thread_set_mask();
    answer
}

fn draw(out: &mut File, r: &Request<'_>) -> io::Result<()> {
    // Every value here may come from the agent (the command, its reason and name, the
    // directory and branch it chose, `$USER`, a project policy's rule messages): each is
    // rendered terminal-safe and wrapped under its label, so none can move the cursor,
    // rewrite a line or start a line that looks like a label of its own.
    let width = render::terminal_width(&*out).or(Some(render::DEFAULT_WIDTH));
    let mut lines = vec![
        String::new(),
        "\x1b[1mgatekeep: approval needed\x1b[0m".to_owned(),
        render::field("  command:   ", r.command, width),
        render::field("  risk:      ", &r.risk, width),
    ];
    for (id, layer, risk, message) in &r.rules {
        lines.push(render::field(
            "  rule:      ",
            &format!("{id} ({layer} layer, {risk}): {message}"),
            width,
        ));
    }
    lines.push(render::field("  directory: ", r.cwd, width));
    if let Some(branch) = r.branch {
        lines.push(render::field("  branch:    ", branch, width));
    }
    lines.push(render::field("  requester: ", &r.requester, width));
    if let Some(reason) = r.reason {
        lines.push(render::field("  reason:    ", reason, width));
    }
    lines.push(render::field("  request:   ", r.request_id, width));
    // The rendered values hold no newline of their own: each `\n` here is a line break
    // that gatekeep chose. The terminal is in raw mode, so return the carriage too.
    let mut text = lines.join("\n").replace('\n', "\r\n");
    text.push_str("\r\n");
    out.write_all(text.as_bytes())?;
    out.flush()
}

fn status_line(out: &mut File, left: Duration) -> io::Result<()> {
    let secs = left.as_secs();
    write!(
        out,
        "\r\x1b[K  [a] approve once   [d] deny   [r] deny with a reason   ({}:{:02} left) ",
        secs / 60,
        secs % 60
    )?;
    out.flush()
}

fn read_answer(
    tty: &mut File,
    sigfd: &SignalFd,
    timeout: Duration,
    raw: &Termios,
) -> io::Result<Answer> {
    let deadline = Instant::now() + timeout;
    let mut out = tty.try_clone()?;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(Answer::Expired);
        }
        status_line(&mut out, left)?;
        // Wake at least once a second to redraw the countdown.
        match wait(tty, sigfd, left.min(Duration::from_secs(1)))? {
            Event::Timeout => continue,
            Event::Signal(sig) => return Ok(Answer::Interrupted(sig)),
            Event::Readable => {}
        }
        let mut byte = [0u8; 1];
        if tty.read(&mut byte)? == 0 {
            // The terminal went away.
            return Ok(Answer::Expired);
        }
        match byte[0] {
            b'a' | b'A' | b'y' | b'Y' => return Ok(Answer::Approved),
            b'd' | b'D' | b'n' | b'N' => return Ok(Answer::Denied { reason: None }),
            0x03 => {
                return Ok(Answer::Denied {
                    reason: Some("interrupted at the prompt (Ctrl-C)".into()),
                });
            }
            b'r' | b'R' => {
                write!(out, "\r\x1b[K  reason (Enter to send): ")?;
                out.flush()?;
                // Line editing and echo for the reason; still no signals from keys.
                let mut cooked = raw.clone();
                cooked
                    .local_flags
                    .insert(LocalFlags::ICANON | LocalFlags::ECHO);
                cooked.local_flags.remove(LocalFlags::ISIG);
                termios::tcsetattr(tty.as_fd(), SetArg::TCSANOW, &cooked)
                    .map_err(io::Error::from)?;
                let reason = read_line(tty, sigfd, deadline)?;
                termios::tcsetattr(tty.as_fd(), SetArg::TCSANOW, raw).map_err(io::Error::from)?;
                return Ok(match reason {
                    LineResult::Line(text) => Answer::Denied {
                        reason: Some(text).filter(|t| !t.is_empty()),
                    },
                    LineResult::Expired => Answer::Expired,
                    LineResult::Signal(sig) => Answer::Interrupted(sig),
                });
            }
            _ => {
                out.write_all(b"\x07")?;
            }
        }
    }
}

enum LineResult {
    Line(String),
    Expired,
    Signal(i32),
}

fn read_line(tty: &mut File, sigfd: &SignalFd, deadline: Instant) -> io::Result<LineResult> {
    let mut line = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(LineResult::Expired);
        }
        match wait(tty, sigfd, left)? {
            Event::Timeout => return Ok(LineResult::Expired),
            Event::Signal(sig) => return Ok(LineResult::Signal(sig)),
            Event::Readable => {}
        }
        let mut buf = [0u8; 256];
        let n = tty.read(&mut buf)?;
        if n == 0 {
            return Ok(LineResult::Line(
                String::from_utf8_lossy(&line).trim().to_owned(),
            ));
        }
        line.extend_from_slice(&buf[..n]);
        if line.contains(&b'\n') || line.len() > 4096 {
            let text = String::from_utf8_lossy(&line);
            let first = text.lines().next().unwrap_or("").trim().to_owned();
            return Ok(LineResult::Line(first));
        }
    }
}

enum Event {
    Readable,
    Timeout,
    Signal(i32),
}

fn wait(tty: &File, sigfd: &SignalFd, timeout: Duration) -> io::Result<Event> {
    let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
    let mut fds = [
        PollFd::new(tty.as_fd(), PollFlags::POLLIN),
        PollFd::new(sigfd.as_fd(), PollFlags::POLLIN),
    ];
    let ready = match poll(&mut fds, PollTimeout::from(ms)) {
        Ok(n) => n,
        Err(nix::errno::Errno::EINTR) => return Ok(Event::Timeout),
        Err(e) => return Err(e.into()),
    };
    if ready == 0 {
        return Ok(Event::Timeout);
    }
    if fds[1]
        .revents()
        .is_some_and(|r| r.contains(PollFlags::POLLIN))
        && let Ok(Some(info)) = sigfd.read_signal()
    {
        return Ok(Event::Signal(info.ssi_signo as i32));
    }
    if fds[0].revents().is_some_and(|r| !r.is_empty()) {
        return Ok(Event::Readable);
    }
    Ok(Event::Timeout)
}
