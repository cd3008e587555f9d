//! The report as a whole: what each section says about a month of requests, the period,
//! a broken chain, the anomalies, and golden files that pin every byte of every format.

use serde_json::json;

use super::fixture::{Trail, characterization_trail, march, md, row, section};
use super::{ReportFormat, report};
use crate::csv::tests::parse_csv;
use crate::server::audit::Event;

#[test]
fn each_section_names_its_controls_under_its_heading() {
    let report = md(&march(), None, None);
    let expected: &[(&str, &[&str])] = &[
        ("Integrity of the audit trail", &["NIST 800-53 AU-9"]),
        (
            "Approved changes",
            &["SOC 2 CC8.1", "NIST 800-53 CM-5", "NIST 800-53 AU-10"],
        ),
        ("Denied requests", &["SOC 2 CC7.2", "NIST 800-53 AU-10"]),
        ("Expired requests", &["SOC 2 CC7.2"]),
        ("Cancelled requests", &["SOC 2 CC7.2"]),
        ("Outcomes", &["SOC 2 CC8.1", "NIST 800-53 AU-3"]),
        ("Summary per rule", &["SOC 2 CC8.1", "NIST 800-53 CM-5"]),
        ("Summary per approver", &["SOC 2 CC6.3", "NIST 800-53 AC-6"]),
        ("Who may approve", &["SOC 2 CC6.1", "NIST 800-53 AC-6"]),
        ("Anomalies", &["SOC 2 CC7.2"]),
        ("Events recorded", &["NIST 800-53 AU-2", "NIST 800-53 AU-3"]),
    ];
    for (title, controls) in expected {
        let lines = section(&report, title);
        let first = lines.iter().find(|l| !l.is_empty()).unwrap();
        assert!(first.starts_with("Controls: "), "{title}: {first}");
        for control in *controls {
            assert!(first.contains(control), "{title}: {first} lacks {control}");
        }
    }
    // The index at the top points at the sections.
    assert!(report.contains(
        "| SOC 2 CC6.1 | logical access: who may approve | [Who may approve](#who-may-approve) |"
    ));
    assert!(report.contains("| NIST 800-53 AU-9 | protection of audit information | [Integrity of the audit trail](#integrity-of-the-audit-trail) |"));
}

#[test]
fn the_report_says_who_asked_who_approved_when_why_and_how_long_it_took() {
    let report = md(&march(), Some("2025-03-01"), Some("2025-03-31"));
    assert!(report.contains("Period: 2025-03-01T00:00:00.000Z to 2025-03-31T23:59:59.999Z"));
    assert!(
        report
            .contains("5 request(s): 2 approved, 1 denied, 1 expired, 1 cancelled, 0 still open.")
    );
    assert!(report.contains("The audit trail verifies: 25 event(s), hash chain intact."));

    let r1 = row(&report, "Approved changes", "`r1`");
    for part in [
        "2025-03-03T10:00:00.000Z",
        "ci-agent (agent claude-code, deploy@runner-3)",
        "| alice |",
        "`kubectl delete ns staging-old`",
        "kubectl-delete",
        "clean up the old staging",
        "bob, carol",
        "2025-03-03T10:12:30.000Z",
        "| 12m 30s |",
    ] {
        assert!(r1.contains(part), "{part:?} not in {r1}");
    }
    // One row per approval: the signatures, with their reasons.
    let signatures: Vec<&str> = section(&report, "Approved changes")
        .into_iter()
        .filter(|l| l.starts_with("| `r1` | bob") || l.starts_with("| `r1` | carol"))
        .collect();
    assert_eq!(signatures.len(), 2, "{report}");
    assert!(
        signatures[0]
            .contains("| cli | 2025-03-03T10:02:00.000Z | 1 of 2 | checked with alice | 2m 00s |")
    );
    assert!(
        signatures[1].contains("| api | 2025-03-03T10:12:30.000Z | 2 of 2 | ticket OPS-42 |"),
        "{}",
        signatures[1]
    );

    let r2 = row(&report, "Denied requests", "`r2`");
    assert!(
        r2.contains("`terraform destroy -target=module.db \\| tee log`"),
        "{r2}"
    );
    assert!(
        r2.contains("| dave | cli | not during the freeze | 2025-03-05T14:05:00.000Z | 5m 00s |"),
        "{r2}"
    );
    let r3 = row(&report, "Expired requests", "`r3`");
    assert!(
        r3.contains("| dba | 0 of 1 | \\<img src=x onerror=alert(1)\\> | 2025-03-10T09:00:00.000Z | 1h 00m |"),
        "{r3}"
    );
    let r4 = row(&report, "Cancelled requests", "`r4`");
    assert!(r4.contains("| ci-agent | retried ↵ differently |"), "{r4}");
    let outcome = row(&report, "Outcomes", "`r1`");
    assert!(
        outcome.contains("| bob, carol | 0 | - | 4.2s |"),
        "{outcome}"
    );
    assert!(report.contains("Approved requests with no outcome reported: 1."));

    // Per rule: r1 approved in 12m 30s, r4 cancelled, r5 approved in 1m: median 6m 45s.
    assert_eq!(
        row(&report, "Summary per rule", "kubectl-delete"),
        "| kubectl-delete | 3 | 2 | 0 | 0 | 1 | 0 | 6m 45s |"
    );
    assert_eq!(
        row(&report, "Summary per rule", "terraform-destroy"),
        "| terraform-destroy | 1 | 0 | 1 | 0 | 0 | 0 | 5m 00s |"
    );
    assert_eq!(
        row(&report, "Summary per rule", "psql-drop"),
        "| psql-drop | 1 | 0 | 0 | 1 | 0 | 0 | - |"
    );
    // Per approver: bob gave one approval that did not complete the quorum.
    assert_eq!(
        row(&report, "Summary per approver", "bob"),
        "| bob | sre | 1 | 0 | 0 | 0 | 2m 00s |"
    );
    assert_eq!(
        row(&report, "Summary per approver", "carol"),
        "| carol | dba, sre | 2 | 2 | 0 | 1 | 6m 45s |"
    );
    assert_eq!(
        row(&report, "Summary per approver", "dave"),
        "| dave | dba | 0 | 0 | 1 | 1 | 5m 00s |"
    );
    assert_eq!(
        row(&report, "Summary per approver", "sre"),
        "| sre | 3 | 2 | 0 | 0 | 1 | 0 | 6m 45s |"
    );
    let dave = row(&report, "Who may approve", "dave");
    assert!(
        dave.contains("| 2025-03-20T12:00:00.000Z | admin |"),
        "{dave}"
    );
    assert!(
        !report.contains("`token_created`"),
        "issued before March: {report}"
    );
    assert!(report.contains("| `notified` | 5 |"), "{report}");
    assert!(report.contains("| `token_revoked` | 1 |"), "{report}");
    assert!(report.contains("| `approved` | 3 |"), "{report}");
    assert_eq!(
        section(&report, "Anomalies")
            .iter()
            .rfind(|l| !l.is_empty()),
        Some(&"None found.")
    );
    // Free text cannot become markup in a rendered Markdown file.
    assert!(
        report.contains("\\<img src=x onerror=alert(1)\\>"),
        "{report}"
    );
    assert!(!report.replace("\\<", "").contains("<img"));
}

#[test]
fn the_period_selects_requests_by_their_creation() {
    let events = march();
    let report = md(&events, Some("2025-03-06"), Some("2025-03-31"));
    for gone in ["`r1`", "`r2`", "`r6`"] {
        assert!(!report.contains(gone), "{gone} is out of the period");
    }
    for kept in ["`r3`", "`r4`", "`r5`"] {
        assert!(report.contains(kept), "{kept} is in the period");
    }
    assert!(report.contains("3 request(s):"));
    // `to` takes the whole day; an offset is converted to UTC; bounds are inclusive.
    let report = md(&events, Some("2025-04-02"), Some("2025-04-02"));
    assert!(report.contains("`r6`") && report.contains("1 request(s):"));
    let report = md(
        &events,
        Some("2025-03-05T15:00:00+01:00"),
        Some("2025-03-05T14:00:00Z"),
    );
    assert!(
        report.contains("`r2`") && report.contains("1 request(s):"),
        "{report}"
    );
    // The whole trail is still verified, and tokens issued before the period are shown.
    assert!(report.contains("The audit trail verifies: 25 event(s)"));
    assert!(row(&report, "Who may approve", "bob").contains("| approver | sre |"));
}

#[test]
fn an_empty_period_says_there_were_no_requests() {
    let events = march();
    for format in [ReportFormat::Md, ReportFormat::Html] {
        let report = report(&events, Some("2026-01-01"), None, format).unwrap();
        assert!(
            report.contains("There were no requests in this period."),
            "{report}"
        );
        assert!(report.contains("None in this period."));
        assert!(!report.contains("r1"));
    }
    let csv = report(&events, Some("2026-01-01"), None, ReportFormat::Csv).unwrap();
    assert_eq!(csv.matches("\r\n").count(), 1, "the header only: {csv}");
    let report = md(&[], None, None);
    assert!(report.contains("There were no requests in this period."));
    assert!(report.contains("The audit trail verifies: 0 event(s)"));
}

#[test]
fn a_tampered_trail_shows_in_the_integrity_section() {
    let mut events = march();
    let denial = events.iter_mut().find(|e| e.kind == "denied").unwrap();
    denial.detail = json!({"reason": "fine by me"});
    let seq = denial.seq;
    let report = md(&events, None, None);
    assert!(
        report.contains("**The audit trail FAILED verification (1 error(s))"),
        "{report}"
    );
    let integrity = section(&report, "Integrity of the audit trail").join("\n");
    assert!(
        integrity.contains("**Result: VERIFICATION FAILED with 1 error(s)."),
        "{integrity}"
    );
    assert!(
        integrity.contains(&format!(
            "| 1 | event {seq} (position {seq}) was altered: its content does not match its hash |"
        )),
        "{integrity}"
    );
    assert!(row(&report, "Anomalies", "-").contains("failed verification"));
    let page = super::report(&events, None, None, ReportFormat::Html);
    assert!(
        page.unwrap()
            .contains("<p class=\"alert\">Result: VERIFICATION FAILED")
    );
}

#[test]
fn anomalies_are_listed() {
    let mut t = Trail { events: march() };
    // dave's token was revoked on 2025-03-20; alice is the one the agent acts for.
    t.created(
        "2025-03-21T10:00:00.000Z",
        "r7",
        "rm -rf /srv/cache",
        &["rm-rf"],
        "high",
        2,
        &["sre"],
        None,
    )
    .approved(
        "2025-03-21T10:01:00.000Z",
        "r7",
        "dave",
        "cli",
        "ok",
        (1, 2),
    )
    .approved(
        "2025-03-21T10:02:00.000Z",
        "r7",
        "alice",
        "api",
        "mine",
        (2, 2),
    )
    .approved(
        "2025-03-21T10:03:00.000Z",
        "r7",
        "bob",
        "cli",
        "late",
        (3, 2),
    );
    t.created(
        "2025-03-22T10:00:00.000Z",
        "r8",
        "reboot",
        &["reboot"],
        "high",
        1,
        &["sre"],
        None,
    )
    .push(
        "2025-03-22T10:05:00.000Z",
        "r8",
        "outcome",
        "ci-agent",
        None,
        json!({"exit_code": 143, "signal": "SIGTERM", "duration_ms": 10}),
    )
    .push(
        "2025-03-23T10:00:00.000Z",
        "ghost",
        "approved",
        "bob",
        Some("cli"),
        json!({"final": true}),
    );
    t.created(
        "2025-03-24T10:00:00.000Z",
        "r9",
        "reboot",
        &["reboot"],
        "high",
        2,
        &["sre"],
        None,
    )
    .approved("2025-03-24T10:01:00.000Z", "r9", "bob", "cli", "ok", (1, 2))
    .approved(
        "2025-03-24T10:02:00.000Z",
        "r9",
        "bob",
        "api",
        "ok again",
        (2, 2),
    )
    .token(
        "2025-03-25T09:00:00.000Z",
        "token_created",
        "erin",
        &["dba"],
    );
    t.created(
        "2025-03-25T10:00:00.000Z",
        "r10",
        "reboot",
        &["reboot"],
        "high",
        1,
        &["sre"],
        None,
    )
    .approved(
        "2025-03-25T10:01:00.000Z",
        "r10",
        "erin",
        "cli",
        "ok",
        (1, 1),
    );
    let report = md(&t.events, Some("2025-03-21"), None);
    let anomalies = section(&report, "Anomalies").join("\n");
    for what in [
        "| `r7` | dave decided without an approver token valid at that time |",
        "| `r7` | alice approved a request made by or for themselves |",
        "| `r7` | an approval by bob after the request was approved |",
        "| `r8` | an outcome was reported although the request was open: the command ran without an approval |",
        "| `ghost` | events (approved) for a request the trail never created |",
        "| `r9` | bob approved twice |",
        "| `r9` | approved by 1 distinct approver(s) for a quorum of 2 |",
        "| `r10` | erin decided although none of their groups (dba) was asked (sre) |",
    ] {
        assert!(anomalies.contains(what), "{what:?} not in\n{anomalies}");
    }
    assert!(report.contains("8 anomalies found"), "{report}");
    // Out of the period, and clean before it.
    assert!(md(&t.events, None, Some("2025-03-20")).contains("0 anomalies found"));
}

/// The report of [`characterization_trail`] in every format, compared with the files
/// made by the code before the report was split into modules: the split (and any later
/// refactoring) must not change a byte. `GATEKEEP_TEST_BLESS=1` rewrites the files after
/// an intended change; review their diff before committing.
#[test]
fn reports_match_the_golden_files() {
    let intact = characterization_trail();
    let mut broken = intact.clone();
    // A denial rewritten outside the service: its hash no longer matches.
    let denial = broken.iter_mut().find(|e| e.kind == "denied").unwrap();
    denial.detail = json!({"reason": "fine by me"});
    // (file name, events, --from, --to)
    type Case<'e> = (
        &'static str,
        &'e [Event],
        Option<&'static str>,
        Option<&'static str>,
    );
    let cases: [Case<'_>; 3] = [
        ("whole-broken", &broken, None, None),
        (
            "march-intact",
            &intact,
            Some("2025-03-02"),
            Some("2025-03-31T12:00:00+02:00"),
        ),
        ("empty", &intact, Some("2030-01-01"), None),
    ];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/report");
    let bless = std::env::var_os("GATEKEEP_TEST_BLESS").is_some();
    for (name, events, from, to) in cases {
        for (ext, format) in [
            ("md", ReportFormat::Md),
            ("html", ReportFormat::Html),
            ("csv", ReportFormat::Csv),
        ] {
            let got = report(events, from, to, format).unwrap();
            let path = dir.join(format!("{name}.{ext}"));
            if bless {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &got).unwrap();
            }
            let want = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(got == want, "{} differs:\n{got}", path.display());
        }
    }
}

#[test]
fn html_is_one_escaped_page_without_scripts() {
    let page = report(&march(), None, None, ReportFormat::Html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<style>") && page.contains("default-src 'none'"));
    assert!(page.contains(
        "<code>psql -c &#39;DROP TABLE users&#39; # &lt;script&gt;alert(1)&lt;/script&gt;</code>"
    ));
    assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(!page.contains("<script") && !page.contains("<img"));
    assert!(page.contains("<h2 id=\"approved-changes\">Approved changes</h2>\n<p class=\"controls\">Controls: SOC 2 CC8.1"));
    assert!(page.contains("<a href=\"#who-may-approve\">Who may approve</a>"));
    assert!(page.contains("<td>12m 30s</td>"));
}

#[test]
fn csv_has_one_quoted_row_per_request() {
    let csv = report(&march(), None, Some("2025-03-31"), ReportFormat::Csv).unwrap();
    let rows = parse_csv(&csv);
    assert_eq!(rows.len(), 6, "a header and five requests:\n{csv}");
    assert_eq!(
        rows[0],
        [
            "request_id",
            "created",
            "requester",
            "on_behalf_of",
            "command",
            "rules",
            "risk",
            "state",
            "approvers",
            "reason",
            "decided_at",
            "time_to_decision_s",
            "exit_code",
        ]
    );
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

#[test]
fn a_bad_period_is_refused_in_every_format() {
    for format in [ReportFormat::Md, ReportFormat::Html, ReportFormat::Csv] {
        assert_eq!(
            report(&march(), Some("2025-03-01"), Some("2025-02-30"), format),
            Err(super::ReportError::BadDate {
                bound: "--to",
                value: "2025-02-30".to_owned()
            })
        );
    }
}
