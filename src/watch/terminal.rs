//! The terminal of `gatekeep pending --watch`, put back as it was on every way out: the
//! [`Screen`] guard on a normal return and on an error (its `Drop`), the panic hook on a
//! panic, and SIGTERM and SIGHUP turned into a message for the view's loop ([`signals`])
//! so that they end it through the same guard instead of killing the process mid-screen.
//! (Ctrl-C arrives as a key in raw mode, not as SIGINT.)

use std::io::Write;
use std::sync::mpsc::Sender;

use crossterm::{cursor, execute, terminal};

/// The terminal in raw mode on the alternate screen, cursor hidden, until dropped.
pub struct Screen(());

impl Screen {
    /// Switches to the view's screen; the panic hook restores the terminal before the
    /// panic message is printed, so that the message is readable and the shell usable.
    pub fn enter() -> std::io::Result<Screen> {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
        terminal::enable_raw_mode()?;
        // Constructed before anything else can fail, so that the guard undoes raw mode.
        let screen = Screen(());
        execute!(
            std::io::stdout(),
            terminal::EnterAlternateScreen,
            cursor::Hide
        )?;
        Ok(screen)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves the alternate screen, shows the cursor and ends raw mode. Idempotent, and
/// errors are ignored: there is nothing better to do with them on the way out.
fn restore() {
    let mut out = std::io::stdout();
    let _ = execute!(out, terminal::LeaveAlternateScreen, cursor::Show);
    let _ = out.flush();
    let _ = terminal::disable_raw_mode();
}

/// Sends each SIGTERM or SIGHUP, as its number, to `to`, from a thread of its own. While
/// this is registered the signals no longer end the process by themselves: the view's
/// loop must end on the message.
pub fn signals<T: Send + 'static>(to: Sender<T>, wrap: fn(i32) -> T) -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGHUP])?;
    std::thread::spawn(move || {
        for signal in signals.forever() {
            if to.send(wrap(signal)).is_err() {
                break;
            }
        }
    });
    Ok(())
}
