//! The document as one HTML page: every text escaped, inline CSS, and a Content Security
//! Policy that forbids scripts and loading anything, so that even an escaping mistake could
//! not run code in an auditor's browser.

use std::fmt::Write as _;

use super::document::{Block, Cell, Document, slug};

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

const CSS: &str = "body{font:14px/1.45 system-ui,sans-serif;color:#111;margin:2em auto;max-width:90em;padding:0 1em}\
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:.5em 0 1.5em}\
th,td{border:1px solid #bbb;padding:.25em .5em;text-align:left;vertical-align:top}\
th{background:#eee}code{font:12px ui-monospace,monospace;white-space:pre-wrap;word-break:break-all}\
.controls{color:#444;font-style:italic}.alert{color:#a00;font-weight:bold}\
@media print{body{margin:0;max-width:none}h2{break-after:avoid}tr{break-inside:avoid}}";

fn html_cell(cell: &Cell) -> String {
    match cell {
        Cell::Text(s) => esc(s),
        Cell::Code(s) if s.is_empty() => String::new(),
        Cell::Code(s) => format!("<code>{}</code>", esc(s)),
        Cell::Sections(titles) => titles
            .iter()
            .map(|title| format!("<a href=\"#{}\">{}</a>", slug(title), esc(title)))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn html_blocks(out: &mut String, blocks: &[Block]) {
    for block in blocks {
        match block {
            Block::Para(p) if p.is_empty() => {}
            Block::Para(p) => {
                let _ = writeln!(out, "<p>{}</p>", esc(p));
            }
            Block::Alert(p) => {
                let _ = writeln!(out, "<p class=\"alert\">{}</p>", esc(p));
            }
            Block::Table { head, rows } => {
                out.push_str("<table>\n<thead><tr>");
                for h in head {
                    let _ = write!(out, "<th>{}</th>", esc(h));
                }
                out.push_str("</tr></thead>\n<tbody>\n");
                for row in rows {
                    out.push_str("<tr>");
                    for cell in row {
                        let _ = write!(out, "<td>{}</td>", html_cell(cell));
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</tbody>\n</table>\n");
            }
        }
    }
}

/// The document as one self-contained HTML page: inline CSS, no scripts, printable.
pub(super) fn render(doc: &Document) -> String {
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    // Defence in depth: even an escaping mistake could not run a script or load anything.
    out.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n");
    let _ = writeln!(
        out,
        "<title>gatekeep audit report: {}</title>",
        esc(&doc.period)
    );
    let _ = writeln!(out, "<style>{CSS}</style>\n</head>\n<body>");
    out.push_str("<h1>gatekeep audit report</h1>\n");
    let _ = writeln!(
        out,
        "<p>Period: {} (UTC; a request belongs to the period it was made in)</p>",
        esc(&doc.period)
    );
    html_blocks(&mut out, &doc.overview);
    for section in &doc.sections {
        let _ = writeln!(
            out,
            "<h2 id=\"{}\">{}</h2>",
            slug(section.title),
            esc(section.title)
        );
        let cites: Vec<String> = section.controls.iter().map(|c| c.cite()).collect();
        let _ = writeln!(
            out,
            "<p class=\"controls\">Controls: {}</p>",
            esc(&cites.join("; "))
        );
        html_blocks(&mut out, &section.blocks);
    }
    out.push_str("</body>\n</html>\n");
    out
}
