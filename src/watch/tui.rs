//! The full-screen view of `gatekeep pending --watch`: the requests this approver may
//! decide, newest first, updated as the service reports changes; keys to move, open one
//! (what `gatekeep show` prints), approve (after a `y`), deny with a reason typed here,
//! refresh and quit.
//!
//! Three threads feed one loop through one channel: the keyboard, the long poll and the
//! signals. The loop also wakes once a second, only to redraw the ages and countdowns; the
//! service is never asked on a timer.
//!
//! Everything a requester controls (command, names, host, risk, reason, ids) is drawn
//! through [`render::terminal_safe`], and cut to its column by display width, so that no
//! text from an agent can move the cursor or redraw another line.

use std::io::Write;
use std::process::ExitCode;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::Duration;

use anyhow::Result;
use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use crossterm::style::{Attribute, Print, SetAttribute};
use crossterm::{cursor, queue, terminal};

use super::{Model, backoff, left_and_age, state_word, terminal::Screen, transient};
use crate::api::changes::{Change, Changes};
use crate::api::protocol::{MAX_WAIT_SECS, RequestView};
use crate::approval::remote::{Client, RemoteError};
use crate::exit;
use crate::render::{self, terminal_safe};

/// The longest deny reason typed in the view (the service takes more; this is a screen).
const MAX_REASON_CHARS: usize = 1000;

enum Msg {
    Key(KeyEvent),
    Resize,
    Feed(Changes),
    FeedError(String),
    Signal(i32),
}

enum Mode {
    List,
    /// One request, scrolled down by the number.
    Detail(String, usize),
    /// `a` was pressed on this request: `y` approves.
    Confirm(String),
    /// `d` was pressed: the reason being typed.
    Deny(String, String),
}

struct View {
    client: Client,
    model: Model,
    mode: Mode,
    /// The request under the cursor, followed by id so that an arrival never moves it.
    selected: Option<String>,
    /// Where the cursor was, for when its request leaves the list.
    index: usize,
    status: String,
    title: String,
}

/// Runs the view until the approver quits or a signal ends it.
pub fn run(client: Client, url: &str) -> Result<ExitCode> {
    let me = client.whoami()?;
    let (tx, rx) = mpsc::channel();
    super::terminal::signals(tx.clone(), Msg::Signal)?;
    let screen = Screen::enter()?;
    spawn_keys(tx.clone());
    spawn_feed(client.clone(), tx);
    let mut view = View {
        client,
        model: Model::default(),
        mode: Mode::List,
        selected: None,
        index: 0,
        status: "connecting…".into(),
        title: format!(
            "gatekeep pending --watch — {} as {}",
            terminal_safe(url),
            terminal_safe(&me.name)
        ),
    };
    let code = loop {
        view.draw()?;
        let msg = match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(msg) => msg,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break exit::code(exit::SUCCESS),
        };
        match msg {
            Msg::Key(key) => {
                if view.key(key) {
                    break exit::code(exit::SUCCESS);
                }
            }
            Msg::Resize => {}
            Msg::Feed(changes) => {
                if view.status.starts_with("connecting") || view.status.starts_with("cannot") {
                    view.status.clear();
                }
                view.model.apply(changes);
            }
            Msg::FeedError(why) => view.status = why,
            Msg::Signal(signal) => {
                break exit::code(u8::try_from(128 + signal).unwrap_or(exit::ERROR));
            }
        }
    };
    drop(screen);
    Ok(code)
}

/// Reads the keyboard on its own thread.
fn spawn_keys(tx: Sender<Msg>) {
    std::thread::spawn(move || {
        loop {
            let msg = match event::read() {
                Ok(Event::Key(key)) if key.kind != KeyEventKind::Release => Msg::Key(key),
                Ok(Event::Resize(..)) => Msg::Resize,
                Ok(_) => continue,
                Err(e) => Msg::FeedError(format!("cannot read the keyboard: {e}")),
            };
            if tx.send(msg).is_err() {
                break;
            }
        }
    });
}

/// Follows the service's long poll on its own thread, one call at a time.
fn spawn_feed(client: Client, tx: Sender<Msg>) {
    std::thread::spawn(move || {
        let mut cursor: Option<String> = None;
        let mut failures = 0u32;
        loop {
            let msg = match client.changes(cursor.as_deref(), MAX_WAIT_SECS) {
                Ok(changes) => {
                    failures = 0;
                    cursor = Some(changes.cursor.clone());
                    Msg::Feed(changes)
                }
                Err(e) => {
                    let retry = transient(&e);
                    let msg = Msg::FeedError(format!(
                        "cannot follow the list: {}{}",
                        terminal_safe(&e.to_string()),
                        if retry {
                            "; retrying"
                        } else {
                            "; press q to quit"
                        }
                    ));
                    if tx.send(msg).is_err() || !retry {
                        break;
                    }
                    std::thread::sleep(backoff(failures));
                    failures += 1;
                    continue;
                }
            };
            if tx.send(msg).is_err() {
                break;
            }
        }
    });
}

impl View {
    /// Handles one key; returns whether to quit.
    fn key(&mut self, key: KeyEvent) -> bool {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return true;
        }
        match std::mem::replace(&mut self.mode, Mode::List) {
            Mode::List => match key.code {
                KeyCode::Char('q') | KeyCode::Esc => return true,
                KeyCode::Up | KeyCode::Char('k') => self.step(-1),
                KeyCode::Down | KeyCode::Char('j') => self.step(1),
                KeyCode::Enter | KeyCode::Char('o') => {
                    if let Some(id) = self.current() {
                        self.mode = Mode::Detail(id, 0);
                    }
                }
                KeyCode::Char('a') => self.ask_approve(),
                KeyCode::Char('d') => self.ask_deny(),
                KeyCode::Char('r') => self.refresh(),
                _ => {}
            },
            Mode::Detail(id, scroll) => match key.code {
                KeyCode::Char('q') => return true,
                KeyCode::Esc | KeyCode::Left | KeyCode::Backspace => {}
                KeyCode::Up | KeyCode::Char('k') => {
                    self.mode = Mode::Detail(id, scroll.saturating_sub(1));
                }
                KeyCode::Down | KeyCode::Char('j') => self.mode = Mode::Detail(id, scroll + 1),
                KeyCode::Char('a') => {
                    self.selected = Some(id);
                    self.ask_approve();
                }
                KeyCode::Char('d') => {
                    self.selected = Some(id);
                    self.ask_deny();
                }
                _ => self.mode = Mode::Detail(id, scroll),
            },
            Mode::Confirm(id) => match key.code {
                KeyCode::Char('y' | 'Y') => self.decide(&id, true, None),
                _ => self.status = "not approved".into(),
            },
            Mode::Deny(id, mut reason) => match key.code {
                KeyCode::Esc => self.status = "not denied".into(),
                KeyCode::Enter if reason.trim().is_empty() => {
                    self.status = "a denial needs a reason: the agent reads it".into();
                    self.mode = Mode::Deny(id, reason);
                }
                KeyCode::Enter => self.decide(&id, false, Some(reason)),
                KeyCode::Backspace => {
                    reason.pop();
                    self.mode = Mode::Deny(id, reason);
                }
                KeyCode::Char(c) => {
                    self.status.clear();
                    if reason.chars().count() < MAX_REASON_CHARS {
                        reason.push(c);
                    }
                    self.mode = Mode::Deny(id, reason);
                }
                _ => self.mode = Mode::Deny(id, reason),
            },
        }
        false
    }

    /// The id under the cursor, keeping the cursor on the list.
    fn current(&mut self) -> Option<String> {
        let list = self.model.actionable();
        if list.is_empty() {
            self.selected = None;
            return None;
        }
        let index = self
            .selected
            .as_ref()
            .and_then(|id| list.iter().position(|c| &c.request.id == id))
            .unwrap_or(self.index.min(list.len() - 1));
        self.index = index;
        let id = list[index].request.id.clone();
        self.selected = Some(id.clone());
        Some(id)
    }

    fn step(&mut self, by: isize) {
        if self.current().is_none() {
            return;
        }
        let list = self.model.actionable();
        let index = self
            .index
            .saturating_add_signed(by)
            .min(list.len().saturating_sub(1));
        self.index = index;
        self.selected = list.get(index).map(|c| c.request.id.clone());
    }

    fn ask_approve(&mut self) {
        match self.current() {
            Some(id) => {
                self.status.clear();
                self.mode = Mode::Confirm(id);
            }
            None => self.status = "nothing to approve".into(),
        }
    }

    fn ask_deny(&mut self) {
        match self.current() {
            Some(id) => {
                self.status.clear();
                self.mode = Mode::Deny(id, String::new());
            }
            None => self.status = "nothing to deny".into(),
        }
    }

    /// Reads the whole list again, as a reset.
    fn refresh(&mut self) {
        match self.client.changes(None, 0) {
            Ok(changes) => {
                self.model.apply(changes);
                self.status = "refreshed".into();
            }
            Err(e) => self.status = failed("refresh", &e),
        }
    }

    /// Approves or denies `id` through the API, as `gatekeep approve`/`deny` do.
    fn decide(&mut self, id: &str, approve: bool, reason: Option<String>) {
        match self.client.decide(id, approve, reason) {
            Ok(request) => {
                self.status = format!(
                    "{} request {}: now {}",
                    if approve { "approved" } else { "denied" },
                    terminal_safe(id),
                    state_word(&request)
                );
                // Not this approver's to decide any more, whatever the quorum says; the
                // feed brings the rest.
                self.model.update(Change {
                    actionable: false,
                    request,
                });
            }
            Err(e) => self.status = failed(if approve { "approve" } else { "deny" }, &e),
        }
    }

    /// Draws the whole screen.
    fn draw(&mut self) -> std::io::Result<()> {
        let (cols, rows) = terminal::size().unwrap_or((80, 24));
        let (width, height) = (usize::from(cols.max(20)), usize::from(rows.max(5)));
        let current = self.current();
        let mut lines: Vec<(String, bool)> = vec![(fit(&self.title, width), true)];
        let body = height - 3;
        match &self.mode {
            Mode::Detail(id, scroll) => {
                let detail = match self.model.requests.get(id) {
                    Some(change) => crate::service_cli::request_lines(&change.request, Some(width))
                        .iter()
                        .flat_map(|l| l.split('\n').map(str::to_owned).collect::<Vec<_>>())
                        .collect(),
                    None => vec![format!(
                        "request {} is no longer waiting for you",
                        terminal_safe(id)
                    )],
                };
                let scroll = (*scroll).min(detail.len().saturating_sub(1));
                lines.extend(
                    detail
                        .into_iter()
                        .skip(scroll)
                        .take(body)
                        .map(|l| (fit(&l, width), false)),
                );
            }
            _ => {
                let list = self.model.actionable();
                lines.push((fit(&header(width), width), false));
                if list.is_empty() {
                    lines.push(("no requests are waiting for you".into(), false));
                }
                // The cursor's row stays on the screen.
                let skip = self.index.saturating_sub(body.saturating_sub(2));
                for change in list.iter().skip(skip).take(body - 1) {
                    let on = current.as_deref() == Some(change.request.id.as_str());
                    lines.push((fit(&row(&change.request, width, on), width), on));
                }
            }
        }
        while lines.len() < height - 2 {
            lines.push((String::new(), false));
        }
        lines.push((fit(&self.prompt(), width), self.asking()));
        lines.push((fit(&self.keys(), width), false));
        let mut out = std::io::stdout().lock();
        for (n, (text, reverse)) in lines.iter().take(height).enumerate() {
            let y = u16::try_from(n).unwrap_or(u16::MAX);
            queue!(out, cursor::MoveTo(0, y))?;
            if *reverse {
                queue!(out, SetAttribute(Attribute::Reverse))?;
            }
            queue!(
                out,
                Print(text),
                SetAttribute(Attribute::Reset),
                terminal::Clear(terminal::ClearType::UntilNewLine)
            )?;
        }
        out.flush()
    }

    fn asking(&self) -> bool {
        matches!(self.mode, Mode::Confirm(_) | Mode::Deny(..))
    }

    /// The status line: a question being asked, or the last thing that happened.
    fn prompt(&self) -> String {
        let command = |id: &str| {
            self.model
                .requests
                .get(id)
                .map(|c| terminal_safe(&c.request.command).into_owned())
                .unwrap_or_default()
        };
        match &self.mode {
            Mode::Confirm(id) => format!(
                "approve request {} `{}`? [y/N]",
                terminal_safe(id),
                command(id)
            ),
            Mode::Deny(id, reason) => format!(
                "{}deny request {}; reason (Enter sends, Esc cancels): {}",
                if self.status.is_empty() {
                    String::new()
                } else {
                    format!("({}) ", self.status)
                },
                terminal_safe(id),
                terminal_safe(reason)
            ),
            _ => self.status.clone(),
        }
    }

    fn keys(&self) -> String {
        match self.mode {
            Mode::Detail(..) => "a approve  d deny  ↑↓ scroll  Esc back  q quit".into(),
            Mode::Confirm(_) => "y approve  any other key: back".into(),
            Mode::Deny(..) => "type the reason the agent will read".into(),
            Mode::List => format!(
                "{} waiting   ↑↓ move  Enter open  a approve  d deny  r refresh  q quit",
                self.model.actionable().len()
            ),
        }
    }
}

/// The status line for a call that failed.
fn failed(what: &str, e: &RemoteError) -> String {
    format!("cannot {what}: {}", terminal_safe(&e.to_string()))
}

/// Column widths: risk, requester, host, age, time left; the command takes the rest.
const RISK: usize = 8;
const WHO: usize = 14;
const HOST: usize = 12;
const AGE: usize = 6;
const LEFT: usize = 7;

fn header(width: usize) -> String {
    // Under the rows' cursor mark.
    " ".to_owned()
        + &columns(
            ["RISK", "COMMAND", "REQUESTER", "HOST", "AGE", "LEFT"].map(str::to_owned),
            width,
        )
}

/// One request's row, every field terminal-safe and cut to its column.
fn row(r: &RequestView, width: usize, selected: bool) -> String {
    let (left, age) = left_and_age(r);
    let line = columns(
        [
            terminal_safe(&r.ask.risk).into_owned(),
            terminal_safe(&r.command).into_owned(),
            terminal_safe(&r.requester).into_owned(),
            terminal_safe(&r.ask.origin.host).into_owned(),
            duration(age),
            duration(left),
        ],
        width,
    );
    format!("{}{}", if selected { ">" } else { " " }, line)
}

fn columns(fields: [String; 6], width: usize) -> String {
    let fixed = RISK + WHO + HOST + AGE + LEFT + 6;
    let command = width.saturating_sub(fixed).max(10);
    let [risk, cmd, who, host, age, left] = fields;
    format!(
        "{} {} {} {} {:>AGE$} {:>LEFT$}",
        fit(&risk, RISK),
        fit(&cmd, command),
        fit(&who, WHO),
        fit(&host, HOST),
        fit(age.trim(), AGE).trim_end(),
        fit(left.trim(), LEFT).trim_end()
    )
}

/// `12s`, `4m05s`, `2h03m`.
fn duration(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs / 60 % 60),
    }
}

/// `text` (already terminal-safe) cut or padded to exactly `cols` display columns; a cut
/// ends in `…`.
fn fit(text: &str, cols: usize) -> String {
    let mut out = String::new();
    let mut used = 0;
    if render::columns(text) <= cols {
        out.push_str(text);
        used = render::columns(text);
    } else {
        let budget = cols.saturating_sub(1);
        for c in text.chars() {
            let w = render::char_columns(c);
            if used + w > budget {
                break;
            }
            out.push(c);
            used += w;
        }
        if cols > 0 {
            out.push('…');
            used += 1;
        }
    }
    out.extend(std::iter::repeat_n(' ', cols.saturating_sub(used)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_cut_to_their_columns() {
        assert_eq!(fit("abc", 5), "abc  ");
        assert_eq!(fit("abcdef", 4), "abc…");
        // Wide characters count twice and are never split.
        assert_eq!(fit("日本語", 4), "日… ");
        assert_eq!(duration(5), "5s");
        assert_eq!(duration(245), "4m05s");
        assert_eq!(duration(7380), "2h03m");
    }
}
