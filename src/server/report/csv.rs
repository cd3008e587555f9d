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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csv::tests::parse_csv;
    use crate::server::report::fixture::{Trail, march};
    use crate::server::report::{ReportFormat, report};

    #[test]
    fn csv_has_one_quoted_row_per_request() {
        let csv = report(&march(), None, Some("2025-03-31"), ReportFormat::Csv).unwrap();
        let rows = parse_csv(&csv);
        assert_eq!(rows.len(), 6, "a header and five requests:\n{csv}");
        assert_eq!(rows[0], COLUMNS.map(|(head, _)| head));
        assert_eq!(
            rows[1],
            [
                "r1",
                "2025-03-03T10:00:00.000Z",
                "ci-agent",
                "alice",
                "kubectl delete ns staging-old",
                "kubectl-delete",
                "high",
                "approved",
                "bob; carol",
                "bob: checked with alice; carol: ticket OPS-42",
                "2025-03-03T10:12:30.000Z",
                "750",
                "0",
            ]
        );
        assert_eq!(
            rows[2][7..12],
            [
                "denied",
                "",
                "dave: not during the freeze",
                "2025-03-05T14:05:00.000Z",
                "300"
            ]
        );
        assert_eq!(rows[3][7], "expired");
        assert_eq!(rows[4][9], "ci-agent: retried\ndifferently");
        assert_eq!(rows[5][4], "kubectl annotate deploy api note=\"a, b\"");
        assert_eq!(rows[5][5], "kubectl-delete; prod");
        assert_eq!(rows[5][9], "carol: rollback, per INC-7");
        assert!(
            csv.contains(r#","kubectl annotate deploy api note=""a, b""","#),
            "{csv}"
        );
        assert!(csv.contains("\"ci-agent: retried\ndifferently\""));
        // A cell a spreadsheet would run as a formula is defused.
        let mut events = march();
        events.truncate(4);
        let mut t = Trail { events };
        t.created(
            "2025-03-01T00:00:00.000Z",
            "r9",
            "=HYPERLINK(\"http://x\")",
            &[],
            "low",
            1,
            &[],
            None,
        );
        let csv = report(&t.events, None, None, ReportFormat::Csv).unwrap();
        assert_eq!(parse_csv(&csv)[1][4], "'=HYPERLINK(\"http://x\")");
    }
}
