//! `gatekeep server report`: the audit trail read as evidence for auditors.
//!
//! Owns turning the server's events into a report for a period: who asked for what, who
//! approved or denied it, when and why, how long the decision took, what ran, per-rule and
//! per-approver summaries, anomalies, and whether the trail's hash chain holds. Every section
//! names the SOC 2 and NIST 800-53 controls it gives evidence for.
//!
//! A pure function of the events: no database, no clock, no I/O; the same trail and period
//! give the same report byte for byte. It shows only what the events carry: commands as the
//! server recorded them, secrets already masked, never argv or anything raw.
//!
//! Markdown escapes what a renderer would read as markup (a command cannot inject HTML into a
//! rendered `.md`), HTML escapes every text and forbids scripts by its own CSP, and CSV cells
//! of free text are defused for spreadsheets (by `crate::csv`), as the report is meant to be
//! opened in one. The exact data is in `export`.
//!
//! The stages, each depending only on the ones before it: `period` (the bounds and the
//! times) → `trail` (events read into requests, tokens and anomalies) → `sections` and
//! `summaries` (what the report says, as a `document`) → `markdown` and `html` (the document
//! rendered). `csv` renders the trail's requests directly: one row each, no sections.

mod csv;
mod deliveries;
mod document;
mod html;
mod markdown;
mod period;
mod sections;
mod summaries;
mod trail;

#[cfg(test)]
mod fixture;
#[cfg(test)]
mod tests;

pub use period::ReportError;

use super::audit::Event;

/// The formats of [`report`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// Markdown: headings and GitHub-flavoured tables.
    Md,
    /// One self-contained HTML page (inline CSS, no scripts), printable.
    Html,
    /// One row per request, for a spreadsheet.
    Csv,
}

/// The report on the requests created between `from` and `to`, in `format`.
///
/// `from` and `to` are RFC 3339 times or `YYYY-MM-DD` dates (UTC; `to` includes the whole
/// day); either may be left open. A request is in the period when its `created` event is,
/// and then all its events count, even those after `to`. The integrity section always
/// verifies the whole trail, and identities are shown as issued up to the end of the period.
pub fn report(
    events: &[Event],
    from: Option<&str>,
    to: Option<&str>,
    format: ReportFormat,
) -> Result<String, ReportError> {
    let period = period::Period::parse(from, to)?;
    let trail = trail::Trail::read(events);
    Ok(match format {
        ReportFormat::Csv => csv::render(&trail, &period),
        ReportFormat::Md => markdown::render(&sections::document(events, &trail, &period)),
        ReportFormat::Html => html::render(&sections::document(events, &trail, &period)),
    })
}
