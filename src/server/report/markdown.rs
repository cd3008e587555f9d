//! The document as Markdown, meant to be rendered (GitHub, a wiki) and read raw with `cat`:
//! every text escapes Markdown's markup, so that a command or a reason cannot become HTML,
//! a link or a table column, and controls are shown as escapes.

use std::fmt::Write as _;

use super::document::{Block, Cell, Document, slug};

/// One line of text with Markdown's markup characters escaped (so that a reason or a name
/// cannot become HTML, a link or a table column) and line breaks shown as `↵`.
fn md_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in one_line(s).chars() {
        if matches!(
            ch,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '&' | '#' | '!' | '~'
        ) {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// A code span: long enough a fence for the backticks inside, pipes escaped for tables.
fn md_code(s: &str) -> String {
    let s = one_line(s).replace('|', "\\|");
    let mut longest = 0;
    let mut run = 0;
    for ch in s.chars() {
        run = if ch == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') || (s.starts_with(' ') && s.ends_with(' '))
    {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

/// One line of text, with line breaks marked and every other control, bidirectional or
/// invisible character shown as an escape: a Markdown report is often read with `cat`.
fn one_line(s: &str) -> String {
    let s = s.replace("\r\n", "\n").replace(['\n', '\r'], " ↵ ");
    crate::render::terminal_safe(&s).into_owned()
}

fn md_cell(cell: &Cell) -> String {
    match cell {
        Cell::Text(s) => md_text(s),
        Cell::Code(s) if s.is_empty() => String::new(),
        Cell::Code(s) => md_code(s),
        Cell::Sections(titles) => titles
            .iter()
            .map(|title| format!("[{title}](#{})", slug(title)))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn md_blocks(out: &mut String, blocks: &[Block]) {
    for block in blocks {
        match block {
            Block::Para(p) if p.is_empty() => continue,
            Block::Para(p) => out.push_str(&md_text(p)),
            Block::Alert(p) => {
                let _ = write!(out, "**{}**", md_text(p));
            }
            Block::Table { head, rows } => {
                let _ = writeln!(out, "| {} |", head.join(" | "));
                let _ = writeln!(out, "|{}", "---|".repeat(head.len()));
                for row in rows {
                    let cells: Vec<String> = row.iter().map(md_cell).collect();
                    let _ = writeln!(out, "| {} |", cells.join(" | "));
                }
                out.pop();
            }
        }
        out.push_str("\n\n");
    }
}

/// The document as Markdown: GitHub-flavoured tables, every text escaped.
pub(super) fn render(doc: &Document) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# gatekeep audit report\n");
    let _ = writeln!(
        out,
        "Period: {} (UTC; a request belongs to the period it was made in)\n",
        md_text(&doc.period)
    );
    md_blocks(&mut out, &doc.overview);
    for section in &doc.sections {
        let _ = writeln!(out, "## {}\n", section.title);
        let cites: Vec<String> = section.controls.iter().map(|c| c.cite()).collect();
        let _ = writeln!(out, "Controls: {}\n", md_text(&cites.join("; ")));
        md_blocks(&mut out, &section.blocks);
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_shows_controls_as_escapes() {
        let text = "kubectl delete ns prod #\x1b[2K\x1b[1G\u{202e}";
        let code = md_code(text);
        assert_eq!(code, "`kubectl delete ns prod #\\e[2K\\e[1G\\u202e`");
        let cell = md_text(text);
        assert!(!cell.contains(['\x1b', '\u{202e}']), "{cell}");
        assert!(cell.contains("\\\\e\\[2K"), "{cell}");
    }
}
