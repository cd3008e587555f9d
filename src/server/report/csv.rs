//! The requests of the period as CSV, one row each, for a spreadsheet: the columns are data
//! (a heading and how a request fills it), every cell written by [`crate::csv`], which
//! defuses what a spreadsheet would run as a formula.

use super::period::{Period, seconds};
use super::trail::{Request, Trail};

/// A column: its heading and the request's value, as plain text.
type Column = (&'static str, fn(&Request<'_>) -> String);

const COLUMNS: [Column; 13] = [
    ("request_id", |r| r.id.to_owned()),
    ("created", |r| r.created.clone()),
    ("requester", |r| r.requester.to_owned()),
    ("on_behalf_of", |r| {
        r.on_behalf_of.clone().unwrap_or_default()
    }),
    ("command", |r| r.command.clone()),
    ("rules", |r| r.rules.join("; ")),
    ("risk", |r| r.risk.clone()),
    ("state", |r| r.state.name().to_owned()),
    ("approvers", |r| r.approvers().join("; ")),
    ("reason", |r| r.decision_reasons()),
    ("decided_at", |r| r.closed_at.clone().unwrap_or_default()),
    ("time_to_decision_s", |r| {
        r.time_to_decision().map(seconds).unwrap_or_default()
    }),
    ("exit_code", |r| {
        r.outcome
            .as_ref()
            .and_then(|o| o.exit_code.clone())
            .unwrap_or_default()
    }),
];

/// A header, then one row per request created in `period`, in the order of the trail.
pub(super) fn render(trail: &Trail<'_>, period: &Period) -> String {
    let mut out = crate::csv::row(&COLUMNS.map(|(head, _)| head));
    for r in trail
        .requests
        .iter()
        .filter(|r| period.contains(&r.created))
    {
        let cells = COLUMNS.map(|(_, cell)| cell(r));
        out.push_str(&crate::csv::row(&cells.each_ref().map(String::as_str)));
    }
    out
}
