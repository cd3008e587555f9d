//! Text that someone else wrote, made safe to show on a terminal or in a log line.
//!
//! An agent controls much of what a person reads before deciding: the command, its words,
//! `--reason`, its name, the directory and git branch it runs in, even `$USER`, and a project
//! policy's rule messages. A terminal obeys control sequences inside that text: with
//! `kubectl delete ns prod #ESC[2K ESC[1G command: kubectl get pods` it erases the line it
//! is drawing and shows `kubectl get pods` in its place. Everything such a field reaches a
//! terminal or a log through goes through [`terminal_safe`] (or [`Safe`], or [`field`]),
//! which shows every character that could move the cursor, change what is drawn, reorder
//! text or hide in it as a visible escape:
//!
//! | characters | shown as |
//! |---|---|
//! | ESC | `\e` |
//! | newline, tab, carriage return | `\n`, `\t`, `\r` |
//! | other C0 controls, DEL, C1 controls (U+0080–U+009F) | `\x01`, `\x7f`, `\x9b` |
//! | bidirectional overrides, isolates and marks (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C) | `\u202e` |
//! | zero-width and invisible characters (U+200B–U+200D, U+2060–U+2064, U+FEFF, U+180E, U+00AD, tags U+E0000–U+E007F, ...) | `\u200b`, `\u{e0041}` |
//! | spaces other than U+0020 (no-break, en, ideographic, ...) and line/paragraph separators | `\xa0`, `\u3000`, `\u2028` |
//!
//! `\xNN` names a code point below U+0100, `\uNNNN` one in the rest of the BMP, `\u{N}` one
//! above it. Spaces other than U+0020 are escaped because they look like a word break and
//! are not one to the shell. Everything else, `é`, CJK and emoji included, is left as is.
//!
//! **Backslashes.** A literal backslash is shown doubled (`\\`) only where it could be read
//! as the start of an escape: before `\`, `e`, `n`, `r`, `t`, `x`, `u`, or before a character
//! that is itself escaped. Anywhere else it is shown as one backslash, so `sed 's/\./,/'`
//! reads as written. Read back left to right (`\\` is one backslash, the escapes above are
//! their characters, any other backslash is itself), the rendering gives back the exact text:
//! no two texts render the same.
//!
//! **Length.** Nothing is ever cut. [`field`] wraps a value to the terminal's width under its
//! label (continuation lines are indented, so a value can never start a line of its own that
//! looks like a label), breaking at spaces where it can and after every `\n` escape, so that a
//! multi-line script reads line by line while each break stays visible.
//!
//! None of this is on `gatekeep exec`'s allowed path, which prints nothing; it is cheap
//! anyway: text with nothing to escape is borrowed, not copied.

use std::borrow::Cow;
use std::fmt;
use std::os::fd::AsFd;

/// The width assumed for a terminal that does not report one (a fresh pseudo-terminal).
pub const DEFAULT_WIDTH: usize = 80;

/// The fewest columns a wrapped value gets, however long its label or narrow the terminal.
const MIN_VALUE_WIDTH: usize = 20;

/// `text` with every character that could act on a terminal shown as a visible escape, on
/// one line (newlines included). Borrows when there is nothing to escape.
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    render(text, false)
}

/// As [`terminal_safe`], but newlines stay line breaks: for messages gatekeep composed
/// itself (an error with its `hint:` line) around parts it does not control. Prefer
/// [`terminal_safe`] on the parts when they can be told apart: a newline inside a part can
/// still start a line here.
pub fn terminal_safe_lines(text: &str) -> Cow<'_, str> {
    render(text, true)
}

/// Shows a `&str` through [`terminal_safe`] without allocating, for `format!` and tracing
/// fields (`command = %Safe(&command)`).
#[derive(Clone, Copy, Debug)]
pub struct Safe<'a>(pub &'a str);

impl fmt::Display for Safe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_safe(f, self.0, false)
    }
}

/// `label` followed by `value` made terminal-safe, wrapped to `width` columns when given:
/// continuation lines are indented to the width of `label`. Lines are joined with `\n` and
/// there is no final newline. Without a width (output that is not a terminal) the value
/// stays on one line.
pub fn field(label: &str, value: &str, width: Option<usize>) -> String {
    let Some(width) = width else {
        let mut out = String::with_capacity(label.len() + value.len());
        out.push_str(label);
        out.push_str(&terminal_safe(value));
        return out;
    };
    let indent = columns(label);
    let room = width.saturating_sub(indent).max(MIN_VALUE_WIDTH);
    let lines = wrap(value, room);
    let mut out = String::from(label);
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', indent));
        }
        out.push_str(line);
    }
    out
}

/// The width of the terminal at `fd`: `None` when it is not a terminal, [`DEFAULT_WIDTH`]
/// when it is one that does not say.
pub fn terminal_width(fd: impl AsFd) -> Option<usize> {
    if !nix::unistd::isatty(fd.as_fd()).unwrap_or(false) {
        return None;
    }
    Some(
        terminal_size::terminal_size_of(fd)
            .map(|(w, _)| usize::from(w.0))
            .filter(|&w| w > 0)
            .unwrap_or(DEFAULT_WIDTH),
    )
}

/// Whether `c` is shown as an escape rather than as itself.
fn escaped(c: char, keep_newlines: bool) -> bool {
    match c {
        '\n' => !keep_newlines,
        '\0'..='\x1f' | '\x7f'..='\u{9f}' => true,
        _ => hidden(c),
    }
}

/// Characters that draw nothing, draw a blank that is not a space to the shell, or reorder
/// what is around them.
fn hidden(c: char) -> bool {
    matches!(
        u32::from(c),
        0xA0 | 0xAD                  // no-break space, soft hyphen
        | 0x34F                      // combining grapheme joiner
        | 0x61C                      // Arabic letter mark
        | 0x115F | 0x1160 | 0x3164 | 0xFFA0 // Hangul fillers
        | 0x1680                     // Ogham space
        | 0x17B4 | 0x17B5            // Khmer inherent vowels
        | 0x180B..=0x180F            // Mongolian selectors, vowel separator
        | 0x2000..=0x200F            // spaces, zero-width characters, LRM, RLM
        | 0x2028..=0x202F            // line/paragraph separators, bidi embeddings and overrides
        | 0x205F..=0x206F            // word joiner, invisible operators, bidi isolates
        | 0x3000                     // ideographic space
        | 0xFEFF                     // zero-width no-break space (BOM)
        | 0xFFF9..=0xFFFB            // interlinear annotations
        | 0x1BCA0..=0x1BCA3          // shorthand format controls
        | 0x1D173..=0x1D17A          // musical format controls
        | 0xE0000..=0xE007F // tags
    )
}

/// Whether a backslash before `next` must be doubled to stay a literal backslash.
fn doubles(next: char, keep_newlines: bool) -> bool {
    matches!(next, '\\' | 'e' | 'n' | 'r' | 't' | 'x' | 'u') || escaped(next, keep_newlines)
}

fn render(text: &str, keep_newlines: bool) -> Cow<'_, str> {
    if is_clean(text, keep_newlines) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    // Writing into a String cannot fail.
    let _ = write_safe(&mut out, text, keep_newlines);
    Cow::Owned(out)
}

fn is_clean(text: &str, keep_newlines: bool) -> bool {
    // Printable ASCII without a backslash is the common case, checked a byte at a time.
    if text
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'\\')
    {
        return true;
    }
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if escaped(c, keep_newlines)
            || (c == '\\' && chars.peek().is_some_and(|&n| doubles(n, keep_newlines)))
        {
            return false;
        }
    }
    true
}

fn write_safe(out: &mut impl fmt::Write, text: &str, keep_newlines: bool) -> fmt::Result {
    let mut plain_from = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\\' {
            if chars
                .peek()
                .is_some_and(|&(_, n)| doubles(n, keep_newlines))
            {
                out.write_str(&text[plain_from..i])?;
                out.write_str("\\\\")?;
                plain_from = i + 1;
            }
        } else if escaped(c, keep_newlines) {
            out.write_str(&text[plain_from..i])?;
            write_escape(out, c)?;
            plain_from = i + c.len_utf8();
        }
    }
    out.write_str(&text[plain_from..])
}

fn write_escape(out: &mut impl fmt::Write, c: char) -> fmt::Result {
    match c {
        '\x1b' => out.write_str("\\e"),
        '\n' => out.write_str("\\n"),
        '\t' => out.write_str("\\t"),
        '\r' => out.write_str("\\r"),
        c if u32::from(c) < 0x100 => write!(out, "\\x{:02x}", u32::from(c)),
        c if u32::from(c) <= 0xFFFF => write!(out, "\\u{:04x}", u32::from(c)),
        c => write!(out, "\\u{{{:x}}}", u32::from(c)),
    }
}

/// One unit of rendered text for wrapping: a character or a whole escape, never split.
struct Piece {
    text: String,
    cols: usize,
    /// A space: a line may break after it.
    space: bool,
    /// The `\n` escape: the line breaks after it.
    newline: bool,
}

fn pieces(text: &str) -> Vec<Piece> {
    let mut out = Vec::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let mut piece = String::new();
        let cols = if c == '\\' && chars.peek().is_some_and(|&n| doubles(n, false)) {
            piece.push_str("\\\\");
            2
        } else if escaped(c, false) {
            // Escapes are ASCII: one column per byte.
            let _ = write_escape(&mut piece, c);
            piece.len()
        } else {
            piece.push(c);
            char_columns(c)
        };
        out.push(Piece {
            text: piece,
            cols,
            space: c == ' ',
            newline: c == '\n',
        });
    }
    out
}

/// `text` rendered and broken into lines of at most `room` columns.
fn wrap(text: &str, room: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut cols = 0;
    // Where the current line may break: the byte after its last space, and the columns
    // before that point.
    let mut space: Option<(usize, usize)> = None;
    for piece in pieces(text) {
        while cols > 0 && cols + piece.cols > room {
            match space.take() {
                Some((at, before)) if at < line.len() => {
                    let rest = line.split_off(at);
                    lines.push(std::mem::replace(&mut line, rest));
                    cols -= before;
                }
                _ => {
                    lines.push(std::mem::take(&mut line));
                    cols = 0;
                }
            }
        }
        line.push_str(&piece.text);
        cols += piece.cols;
        if piece.space {
            space = Some((line.len(), cols));
        }
        if piece.newline {
            lines.push(std::mem::take(&mut line));
            cols = 0;
            space = None;
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// The columns `text` takes on a terminal (see `char_columns`).
pub fn columns(text: &str) -> usize {
    text.chars().map(char_columns).sum()
}

/// Columns one character takes: 2 for East Asian wide characters and emoji, 0 for combining
/// marks and variation selectors, 1 otherwise. An approximation of `wcwidth` that is good
/// enough to wrap by: a wrong guess makes a line a little short or long, it never loses text.
pub fn char_columns(c: char) -> usize {
    match u32::from(c) {
        0x0300..=0x036F
        | 0x0483..=0x0489
        | 0x0591..=0x05BD
        | 0x0610..=0x061A
        | 0x064B..=0x065F
        | 0x1AB0..=0x1AFF
        | 0x1DC0..=0x1DFF
        | 0x200B..=0x200F
        | 0x20D0..=0x20FF
        | 0xFE00..=0xFE0F
        | 0xFE20..=0xFE2F
        | 0x1F3FB..=0x1F3FF
        | 0xE0100..=0xE01EF => 0,
        0x1100..=0x115F
        | 0x231A..=0x231B
        | 0x2329..=0x232A
        | 0x23E9..=0x23EC
        | 0x2614..=0x2615
        | 0x2648..=0x2653
        | 0x26A1
        | 0x26AA..=0x26AB
        | 0x26BD..=0x26BE
        | 0x26C4..=0x26C5
        | 0x26D4
        | 0x26EA
        | 0x26F2..=0x26F5
        | 0x26FA
        | 0x26FD
        | 0x2705
        | 0x270A..=0x270B
        | 0x2728
        | 0x274C
        | 0x2753..=0x2755
        | 0x2757
        | 0x2795..=0x2797
        | 0x27B0
        | 0x27BF
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xA960..=0xA97F
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE10..=0xFE19
        | 0xFE30..=0xFE6F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F004
        | 0x1F0CF
        | 0x1F18E
        | 0x1F191..=0x1F19A
        | 0x1F200..=0x1F251
        | 0x1F300..=0x1F64F
        | 0x1F680..=0x1F6FF
        | 0x1F7E0..=0x1F7EB
        | 0x1F90C..=0x1F9FF
        | 0x1FA70..=0x1FAFF
        | 0x20000..=0x2FFFD
        | 0x30000..=0x3FFFD => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Reads a rendering back: the inverse the module header promises.
    fn unrender(text: &str) -> String {
        let mut out = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.peek().copied() {
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                Some('e') => {
                    chars.next();
                    out.push('\x1b');
                }
                Some('n') => {
                    chars.next();
                    out.push('\n');
                }
                Some('t') => {
                    chars.next();
                    out.push('\t');
                }
                Some('r') => {
                    chars.next();
                    out.push('\r');
                }
                Some('x') => {
                    chars.next();
                    let hex: String = chars.by_ref().take(2).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
                }
                Some('u') => {
                    chars.next();
                    let hex: String = if chars.peek() == Some(&'{') {
                        chars.next();
                        chars.by_ref().take_while(|&c| c != '}').collect()
                    } else {
                        chars.by_ref().take(4).collect()
                    };
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
                }
                _ => out.push('\\'),
            }
        }
        out
    }

    /// Nothing in `shown` can act on a terminal.
    fn inert(shown: &str) -> bool {
        shown
            .chars()
            .all(|c| (' '..='~').contains(&c) || (!escaped(c, false) && c > '\u{9f}'))
    }

    #[test]
    fn controls_are_shown_as_escapes() {
        for (text, shown) in [
            ("a\x1b[2K\x1b[1Gb", "a\\e[2K\\e[1Gb"),
            ("a\nb", "a\\nb"),
            ("a\tb", "a\\tb"),
            ("a\rb", "a\\rb"),
            ("\0", "\\x00"),
            ("\x07\x08\x0b\x0c\x1f", "\\x07\\x08\\x0b\\x0c\\x1f"),
            ("\x7f", "\\x7f"),
            ("\u{80}\u{85}\u{9b}\u{9f}", "\\x80\\x85\\x9b\\x9f"),
        ] {
            assert_eq!(terminal_safe(text), shown, "{text:?}");
            assert_eq!(Safe(text).to_string(), shown);
        }
    }

    #[test]
    fn bidi_and_invisible_characters_are_shown_as_escapes() {
        for (text, shown) in [
            (
                "\u{202a}\u{202b}\u{202c}\u{202d}\u{202e}",
                "\\u202a\\u202b\\u202c\\u202d\\u202e",
            ),
            (
                "\u{2066}\u{2067}\u{2068}\u{2069}",
                "\\u2066\\u2067\\u2068\\u2069",
            ),
            ("\u{200e}\u{200f}\u{61c}", "\\u200e\\u200f\\u061c"),
            (
                "\u{200b}\u{200c}\u{200d}\u{2060}\u{feff}\u{180e}",
                "\\u200b\\u200c\\u200d\\u2060\\ufeff\\u180e",
            ),
            ("\u{2028}\u{2029}", "\\u2028\\u2029"),
            ("a\u{a0}b\u{3000}c\u{ad}", "a\\xa0b\\u3000c\\xad"),
            ("\u{e0041}\u{e007f}", "\\u{e0041}\\u{e007f}"),
        ] {
            assert_eq!(terminal_safe(text), shown, "{text:?}");
        }
    }

    #[test]
    fn the_attack_from_the_issue_is_visible() {
        let text = "kubectl delete ns prod #\x1b[2K\x1b[1G command: kubectl get pods";
        assert_eq!(
            terminal_safe(text),
            "kubectl delete ns prod #\\e[2K\\e[1G command: kubectl get pods"
        );
    }

    #[test]
    fn text_in_any_script_is_left_as_is_and_borrowed() {
        for text in [
            "kubectl delete ns prod",
            "café crème, naïve",
            "部署到生产环境",
            "배포",
            "🚀 deploy 👍🏽 ❤️",
            "Привет",
            "שלום",
            "sed 's/\\./,/' a\\b c\\",
        ] {
            assert!(
                matches!(terminal_safe(text), Cow::Borrowed(t) if t == text),
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_backslash_is_doubled_only_where_it_could_start_an_escape() {
        for (text, shown) in [
            ("a\\b", "a\\b"),
            ("a\\", "a\\"),
            ("\\.", "\\."),
            ("\\e", "\\\\e"),
            ("\\n\\t\\r\\x41\\u202e", "\\\\n\\\\t\\\\r\\\\x41\\\\u202e"),
            ("\\\\", "\\\\\\"),
            ("\\\x1b", "\\\\\\e"),
            ("\\\u{202e}", "\\\\\\u202e"),
        ] {
            assert_eq!(terminal_safe(text), shown, "{text:?}");
            assert_eq!(unrender(&terminal_safe(text)), text);
        }
        // The escape and the literal text it spells render differently.
        assert_ne!(terminal_safe("\x1b"), terminal_safe("\\e"));
        assert_ne!(terminal_safe("\n"), terminal_safe("\\n"));
    }

    #[test]
    fn lines_keep_newlines_and_nothing_else() {
        assert_eq!(terminal_safe_lines("a\nb"), "a\nb");
        assert_eq!(terminal_safe_lines("a\n\x1b[2Kb\r"), "a\n\\e[2Kb\\r");
        assert_eq!(terminal_safe_lines("a\\\nb"), "a\\\nb");
    }

    #[test]
    fn fields_wrap_under_their_label_and_lose_nothing() {
        let text =
            "kubectl delete namespace production --wait=true --timeout=600s --cascade=foreground";
        let shown = field("  command:   ", text, Some(40));
        let lines: Vec<&str> = shown.lines().collect();
        assert!(lines.len() > 2, "{shown}");
        assert!(lines[0].starts_with("  command:   kubectl "));
        for l in &lines[1..] {
            assert!(
                l.starts_with("             ") && !l[13..].starts_with(' '),
                "{shown}"
            );
        }
        assert!(lines.iter().all(|l| columns(l) <= 40), "{shown}");
        let joined: String = lines.iter().map(|l| &l[13..]).collect();
        assert_eq!(joined, text);
    }

    #[test]
    fn a_word_longer_than_the_line_is_split_not_cut() {
        let word = "x".repeat(55);
        let shown = field("v: ", &word, Some(23));
        assert_eq!(
            shown,
            format!(
                "v: {}\n   {}\n   {}",
                &word[..20],
                &word[20..40],
                &word[40..]
            )
        );
    }

    #[test]
    fn escapes_are_never_split_and_scripts_break_after_newlines() {
        let shown = field(
            "",
            "ab\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b",
            Some(21),
        );
        assert_eq!(shown, "ab\\e\\e\\e\\e\\e\\e\\e\\e\\e\n\\e\\e");
        let shown = field("$ ", "set -e\ncd /srv\nmake deploy\n", Some(80));
        assert_eq!(shown, "$ set -e\\n\n  cd /srv\\n\n  make deploy\\n");
        // Without a terminal, one line.
        assert_eq!(field("$ ", "set -e\ncd /srv", None), "$ set -e\\ncd /srv");
    }

    #[test]
    fn wide_characters_take_two_columns() {
        assert_eq!(columns("部署"), 4);
        assert_eq!(columns("🚀a"), 3);
        assert_eq!(columns("e\u{301}"), 1);
        let shown = field("", &"部".repeat(30), Some(20));
        assert!(shown.lines().all(|l| columns(l) == 20), "{shown}");
    }

    proptest! {
        #[test]
        fn any_text_renders_inert_and_reads_back(text in any::<String>()) {
            let shown = terminal_safe(&text);
            prop_assert!(inert(&shown), "{shown:?}");
            prop_assert_eq!(unrender(&shown), text.clone());
            let wrapped = field("> ", &text, Some(30));
            let unwrapped: String = wrapped[2..].split("\n  ").collect();
            prop_assert_eq!(unwrapped, shown.into_owned());
        }

        #[test]
        fn text_made_of_hostile_pieces_reads_back(parts in proptest::collection::vec(
            prop_oneof![
                Just("\\"), Just("e"), Just("n"), Just("x"), Just("u"), Just("{"), Just("1b"),
                Just("\x1b"), Just("\n"), Just("\u{9b}"), Just("\u{202e}"), Just(" "), Just("é"),
            ],
            0..40,
        )) {
            let text: String = parts.concat();
            let shown = terminal_safe(&text);
            prop_assert!(inert(&shown));
            prop_assert_eq!(unrender(&shown), text);
        }
    }
}
