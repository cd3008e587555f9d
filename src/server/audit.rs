//! The server's audit trail: every event of every request, hash-chained; checking the chain
//! (`verify`), the signed checkpoints of it (`verify_checkpoints`) and the request rows
//! against it (`verify_rows`), and writing it out for auditors (`export`).
//!
//! Pure functions over events the store hands over: no database, no async, no clock. The
//! CSV quoting here is shared with `report`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::audit::ledger::{GENESIS, record_hash};
use crate::csv;

/// One event of the server's audit trail. Events are chained: `prev` is the previous event's
/// `hash`, and `hash` is the SHA-256 of the event's canonical JSON without `hash`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// 1, 2, 3...: gap-free.
    pub seq: i64,
    /// RFC 3339 UTC with milliseconds.
    pub time: String,
    /// The request the event is about; empty for events about tokens.
    pub request_id: String,
    /// `created`, `notified`, `approved`, `denied`, `expired`, `cancelled`, `outcome`,
    /// `token_created`, `token_revoked`.
    pub kind: String,
    /// Who caused it: the requester's or approver's identity name, or `server`.
    pub actor: String,
    /// Where an approver acted (`cli`, `api`; later `slack`, `teams`, `web`).
    pub channel: Option<String>,
    /// Kind-specific fields, secrets already masked.
    pub detail: Value,
    pub prev: String,
    pub hash: String,
}

impl Event {
    /// The hash this event must carry, computed from every other field.
    pub fn compute_hash(&self) -> String {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut v {
            map.remove("hash");
            record_hash(map)
        } else {
            String::new()
        }
    }
}

/// The `prev` of the first event.
pub const FIRST_PREV: &str = GENESIS;

/// What [`verify`] found.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct VerifyReport {
    /// How many events were checked.
    pub events: usize,
    /// Problems that mean the trail was changed, in trail order: the first names the first
    /// broken event.
    pub errors: Vec<String>,
}

impl VerifyReport {
    /// True when the chain is whole: no event altered, removed, inserted or reordered.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Checks the chain of `events`, as the store hands them over (ordered by seq): `seq` runs
/// 1, 2, 3... without gaps, each `prev` is the hash of the event before it (the first's is
/// [`FIRST_PREV`]), and each `hash` matches the event's content.
///
/// Each event is checked against the one just before it, so one change gives one or two
/// errors, not one for every later event, and independent changes are all reported.
///
/// What a chain alone cannot show: events cut off the end, or a tail rewritten with fresh
/// hashes by someone who can write the store. Signed checkpoints of the chain, kept
/// somewhere else too (exported files, clients' ledgers), are the anchor for those: see
/// [`verify_checkpoints`].
pub fn verify(events: &[Event]) -> VerifyReport {
    let mut report = VerifyReport {
        events: events.len(),
        errors: Vec::new(),
    };
    let mut prev_seq = 0i64;
    let mut prev_hash = FIRST_PREV;
    for (i, event) in events.iter().enumerate() {
        let n = i + 1;
        let seq = event.seq;
        if event.compute_hash() != event.hash {
            report.errors.push(format!(
                "event {seq} (position {n}) was altered: its content does not match its hash"
            ));
        }
        let expected = prev_seq.saturating_add(1);
        if seq == expected {
            // The numbering is right, so a broken link means the event before it is not the
            // one this event was chained onto.
            if event.prev != prev_hash {
                report.errors.push(if n == 1 {
                    format!("event {seq} (position {n}) does not start the trail: its prev is not the 64 zeros of a first event; it was rewritten")
                } else {
                    format!("event {seq} (position {n}) does not follow the event before it: event {prev_seq} was altered and re-hashed, or replaced")
                });
            }
        } else if seq > expected {
            let missing = if seq - expected == 1 {
                format!("event {expected} was removed or moved")
            } else {
                format!("events {expected}..{} were removed or moved", seq - 1)
            };
            report.errors.push(format!(
                "event {seq} (position {n}) should be event {expected}: {missing}"
            ));
        } else if seq == prev_seq {
            report.errors.push(format!(
                "event {seq} (position {n}) repeats the seq of the event before it: an event was inserted"
            ));
        } else {
            report.errors.push(format!(
                "event {seq} (position {n}) comes after event {prev_seq}: events were reordered or inserted"
            ));
        }
        prev_seq = seq;
        prev_hash = &event.hash;
    }
    report
}

/// What [`verify_checkpoints`] found.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CheckpointReport {
    /// Distinct checkpoints whose signature verified and whose event the chain holds.
    pub matched: usize,
    /// The highest checkpointed event among them, and when it was signed.
    pub latest: Option<(i64, String)>,
    pub errors: Vec<String>,
}

/// Checks signed checkpoints against the chain: each must verify with one of the service's
/// `keys` (current or previous: a checkpoint signed before a rotation still counts)
/// (a checkpoint signed by anything else proves nothing and is reported), and the chain
/// must hold its event with its hash. A chain shorter than a checkpoint lost its tail; a
/// different hash means the chain was rewritten at or before that event (a re-hashed tail
/// passes [`verify`], but not this).
///
/// `checkpoints` holds each checkpoint's JWS with where it came from (the database, a
/// file and line), for the report; the same checkpoint from several places is checked once.
pub fn verify_checkpoints(
    events: &[Event],
    checkpoints: &[(String, String)],
    keys: &[ed25519_dalek::VerifyingKey],
) -> CheckpointReport {
    let mut report = CheckpointReport::default();
    let mut seen = std::collections::HashSet::new();
    let last = events.last().map_or(0, |e| e.seq);
    for (source, jws) in checkpoints {
        if !seen.insert(jws.trim()) {
            continue;
        }
        // The first key it verifies with; else the last key's reason.
        let verified = keys
            .iter()
            .map(|key| crate::api::checkpoint::verify(jws, key))
            .reduce(Result::or);
        let claims = match verified {
            Some(Ok(claims)) => claims,
            Some(Err(e)) => {
                let kids: Vec<String> = keys.iter().map(crate::api::verdict::thumbprint).collect();
                report.errors.push(format!(
                    "the checkpoint from {source} is refused: {e}; this service's keys are {}, so it proves nothing about this chain (forged, from another service, or signed by a key rotated out more than one rotation ago)",
                    kids.join(" and ")
                ));
                continue;
            }
            None => {
                report.errors.push(format!(
                    "the checkpoint from {source} cannot be checked: no key"
                ));
                continue;
            }
        };
        let (seq, time) = (claims.seq, &claims.time);
        match events.iter().find(|e| e.seq == seq) {
            Some(event) if event.hash == claims.head => {
                report.matched += 1;
                if report.latest.as_ref().is_none_or(|(s, _)| seq > *s) {
                    report.latest = Some((seq, time.clone()));
                }
            }
            Some(event) => report.errors.push(format!(
                "event {seq} does not match the checkpoint of event {seq} signed at {time} ({source}): its hash is {}, the checkpoint says {}; the chain was rewritten at or before event {seq} (an edited event with the tail re-hashed after it)",
                event.hash, claims.head
            )),
            None if seq > last => report.errors.push(format!(
                "the chain ends at event {last}, but the checkpoint signed at {time} ({source}) covers event {seq}: {} removed from its end",
                if seq == last + 1 {
                    format!("event {seq} was")
                } else {
                    format!("events {}..{seq} were", last + 1)
                }
            )),
            None => report.errors.push(format!(
                "the chain has no event {seq}, which the checkpoint signed at {time} ({source}) covers: events were removed"
            )),
        }
    }
    report
}

/// What [`verify_rows`] found.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RowReport {
    /// Request rows whose hash matches the one in their last change's event.
    pub matched: usize,
    /// Rows whose events all predate row hashes (written by an older version).
    pub unhashed: usize,
    pub errors: Vec<String>,
}

/// A stored request row as [`verify_rows`] checks it (the store's rows implement it, so this
/// module needs nothing of the store's).
pub trait HashedRow {
    fn id(&self) -> &str;
    fn state(&self) -> &str;
    /// The hash the row's last event must carry.
    fn hash(&self) -> String;
}

/// Checks every `requests` row against the chain: the last event that changed the request
/// carries the hash of the row as it was after the change ([`HashedRow::hash`]), so a row
/// edited outside the service (its state, approvals, verdict, outcome) no longer matches.
/// A row with no event was inserted by hand; a request with events but no row was deleted.
pub fn verify_rows<R: HashedRow>(events: &[Event], rows: &[R]) -> RowReport {
    let mut report = RowReport::default();
    let mut last_change: std::collections::HashMap<&str, &Event> = Default::default();
    let mut created: std::collections::HashMap<&str, &Event> = Default::default();
    for event in events.iter().filter(|e| !e.request_id.is_empty()) {
        created.entry(&event.request_id).or_insert(event);
        if event.detail.get("row").is_some_and(Value::is_string) {
            last_change.insert(&event.request_id, event);
        }
    }
    for row in rows {
        let id = row.id();
        match last_change.get(id) {
            Some(event) => {
                let want = event.detail["row"].as_str().unwrap_or_default();
                if row.hash() == want {
                    report.matched += 1;
                } else {
                    report.errors.push(format!(
                        "request {id} (state {}) was edited outside the service: its row does not match the hash in event {} ({} at {}), its last change",
                        row.state(), event.seq, event.kind, event.time
                    ));
                }
            }
            None if created.contains_key(id) => report.unhashed += 1,
            None => report.errors.push(format!(
                "request {id} has a row but no event in the chain: it was inserted outside the service"
            )),
        }
    }
    let stored: std::collections::HashSet<&str> = rows.iter().map(HashedRow::id).collect();
    let mut created: Vec<(&str, &Event)> = created.into_iter().collect();
    created.sort_by_key(|(_, e)| e.seq);
    for (id, event) in created {
        if !stored.contains(id) {
            report.errors.push(format!(
                "request {id} has events in the chain (from event {}) but no row: it was deleted outside the service",
                event.seq
            ));
        }
    }
    report
}

/// The formats of [`export`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// One event per line as a JSON object, with the fields of [`Event`].
    Jsonl,
    /// RFC 4180 CSV (CRLF line ends): `seq,time,request_id,kind,actor,channel,detail,prev,hash`,
    /// `detail` as compact JSON.
    Csv,
}

/// The CSV header of [`export`].
const CSV_COLUMNS: [&str; 9] = [
    "seq",
    "time",
    "request_id",
    "kind",
    "actor",
    "channel",
    "detail",
    "prev",
    "hash",
];

/// Writes `events` to `out`, every field exactly as stored, so that the export can be checked
/// again with [`verify`] (`detail` parsed back from its JSON gives the same hash).
///
/// JSON Lines is the exact form. CSV cells are defused for spreadsheets like every CSV
/// gatekeep writes (see `crate::csv::field`): the actor, request id and detail come from outside.
pub fn export(
    events: &[Event],
    format: ExportFormat,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    match format {
        ExportFormat::Jsonl => {
            for event in events {
                serde_json::to_writer(&mut *out, event)?;
                out.write_all(b"\n")?;
            }
        }
        ExportFormat::Csv => {
            out.write_all(csv::row(&CSV_COLUMNS).as_bytes())?;
            for event in events {
                let seq = event.seq.to_string();
                let detail = serde_json::to_string(&event.detail)?;
                let row = csv::row(&[
                    &seq,
                    &event.time,
                    &event.request_id,
                    &event.kind,
                    &event.actor,
                    event.channel.as_deref().unwrap_or(""),
                    &detail,
                    &event.prev,
                    &event.hash,
                ]);
                out.write_all(row.as_bytes())?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;
    use crate::csv::tests::parse_csv;

    /// Gives every event its place in a valid chain: seq 1..n, `prev`, `hash`.
    fn rechain(events: &mut [Event]) {
        let mut prev = FIRST_PREV.to_owned();
        for (i, event) in events.iter_mut().enumerate() {
            event.seq = i64::try_from(i).unwrap() + 1;
            event.prev = prev;
            event.hash = event.compute_hash();
            prev = event.hash.clone();
        }
    }

    fn trail(n: usize) -> Vec<Event> {
        let mut events: Vec<Event> = (0..n)
            .map(|i| Event {
                seq: 0,
                time: format!("2025-03-04T10:00:{i:02}.000Z"),
                request_id: format!("r{}", i / 3),
                kind: ["created", "notified", "approved"][i % 3].to_owned(),
                actor: "bob".to_owned(),
                channel: (i % 3 == 2).then(|| "cli".to_owned()),
                detail: json!({"n": i, "reason": "ok"}),
                prev: String::new(),
                hash: String::new(),
            })
            .collect();
        rechain(&mut events);
        events
    }

    #[track_caller]
    fn assert_errors(events: &[Event], expected: &[&str]) {
        let report = verify(events);
        assert!(!report.is_ok(), "{report:?}");
        assert_eq!(report.errors.len(), expected.len(), "{report:#?}");
        for (error, want) in report.errors.iter().zip(expected) {
            assert!(error.contains(want), "{error:?} should contain {want:?}");
        }
    }

    #[test]
    fn a_valid_chain_verifies() {
        let events = trail(7);
        assert_eq!(
            verify(&events),
            VerifyReport {
                events: 7,
                errors: vec![]
            }
        );
        assert!(verify(&[]).is_ok());
    }

    #[test]
    fn an_altered_detail_is_caught() {
        let mut events = trail(6);
        events[3].detail["reason"] = json!("changed later");
        assert_errors(&events, &["event 4 (position 4) was altered"]);
    }

    #[test]
    fn an_altered_and_rehashed_event_breaks_the_next_link() {
        let mut events = trail(6);
        events[3].actor = "mallory".to_owned();
        events[3].hash = events[3].compute_hash();
        assert_errors(
            &events,
            &["event 5 (position 5) does not follow the event before it: event 4 was altered"],
        );
    }

    #[test]
    fn a_removed_event_is_caught() {
        let mut events = trail(6);
        events.remove(2);
        assert_errors(
            &events,
            &["event 4 (position 3) should be event 3: event 3 was removed"],
        );
        let mut events = trail(6);
        events.drain(1..4);
        assert_errors(&events, &["events 2..4 were removed"]);
        let mut events = trail(6);
        events.remove(0);
        assert_errors(&events, &["event 2 (position 1) should be event 1"]);
    }

    #[test]
    fn swapped_events_are_caught() {
        let mut events = trail(6);
        events.swap(2, 3);
        assert_errors(
            &events,
            &[
                "event 4 (position 3) should be event 3: event 3 was removed or moved",
                "event 3 (position 4) comes after event 4: events were reordered",
                "event 5 (position 5) should be event 4",
            ],
        );
    }

    #[test]
    fn an_inserted_event_with_a_correct_own_hash_is_caught() {
        let mut events = trail(6);
        let mut forged = events[2].clone();
        forged.actor = "mallory".to_owned();
        forged.detail = json!({"reason": "forged"});
        forged.hash = forged.compute_hash();
        assert_eq!(
            forged.prev, events[1].hash,
            "the forgery chains onto event 2"
        );
        events.insert(2, forged);
        assert_errors(
            &events,
            &["event 3 (position 4) repeats the seq of the event before it: an event was inserted"],
        );

        // Numbered after the last event instead: its successor goes backwards.
        let mut events = trail(6);
        let mut forged = events[5].clone();
        forged.seq = 7;
        forged.prev = events[2].hash.clone();
        forged.hash = forged.compute_hash();
        events.insert(3, forged);
        assert_errors(
            &events,
            &[
                "event 7 (position 4) should be event 4: events 4..6 were removed or moved",
                "event 4 (position 5) comes after event 7: events were reordered or inserted",
            ],
        );
    }

    #[test]
    fn a_rewritten_first_event_is_caught() {
        let mut events = trail(3);
        events[0].prev = "f".repeat(64);
        events[0].hash = events[0].compute_hash();
        assert_errors(
            &events,
            &[
                "event 1 (position 1) does not start the trail",
                "event 2 (position 2) does not follow the event before it",
            ],
        );
    }

    fn row(id: &str, state: &str) -> crate::server::store::RequestRow {
        crate::server::store::RequestRow {
            id: id.into(),
            state: state.into(),
            expires_unix: 100,
            body: json!({"id": id, "state": state}),
        }
    }

    #[test]
    fn rows_are_held_against_their_last_change_and_older_ones_are_counted_apart() {
        let mut events = trail(6);
        // r0: created, notified, approved; r1: the same. r0's last change carries its row's
        // hash; r1's events predate row hashes.
        events[2].detail["row"] = json!(row("r0", "approved").hash());
        rechain(&mut events);
        let report = verify_rows(&events, &[row("r0", "approved"), row("r1", "approved")]);
        assert_eq!((report.matched, report.unhashed), (1, 1), "{report:?}");
        assert!(report.errors.is_empty(), "{report:?}");

        let report = verify_rows(&events, &[row("r0", "pending"), row("r1", "approved")]);
        assert!(
            report.errors[0].contains("request r0 (state pending) was edited outside the service")
                && report.errors[0].contains("event 3 (approved at"),
            "{report:?}"
        );
        // A row deleted, and a row inserted by hand.
        let report = verify_rows(&events, &[row("r0", "approved"), row("r9", "approved")]);
        assert_eq!(report.errors.len(), 2, "{report:?}");
        assert!(report.errors[0].contains("request r9 has a row but no event in the chain"));
        assert!(report.errors[1].contains(
            "request r1 has events in the chain (from event 4) but no row: it was deleted"
        ));
    }

    #[test]
    fn checkpoints_pin_the_chain_they_saw() {
        let events = trail(6);
        let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
        let pinned = key.verifying_key();
        let at = |seq: i64, head: &str| {
            let (_, jws) =
                crate::api::checkpoint::sign(seq, head, "2026-12-05T10:00:00.000Z", &key).unwrap();
            (format!("test {seq}"), jws)
        };
        let good = [at(3, &events[2].hash), at(6, &events[5].hash)];
        let report = verify_checkpoints(&events, &good, &[pinned]);
        assert_eq!((report.matched, report.errors.len()), (2, 0), "{report:?}");
        assert_eq!(report.latest.as_ref().map(|l| l.0), Some(6));
        // The tail cut: the later checkpoint shows it.
        let report = verify_checkpoints(&events[..4], &good, &[pinned]);
        assert_eq!(report.matched, 1);
        assert!(
            report.errors[0].contains("the chain ends at event 4")
                && report.errors[0].contains("events 5..6 were removed"),
            "{report:?}"
        );
        // Another head at the same seq: a rewrite.
        let report = verify_checkpoints(&events, &[at(3, &"0".repeat(64))], &[pinned]);
        assert!(
            report.errors[0].contains("event 3 does not match the checkpoint of event 3"),
            "{report:?}"
        );
        // The same checkpoint from two places is checked once.
        let twice = [good[0].clone(), ("elsewhere".into(), good[0].1.clone())];
        assert_eq!(verify_checkpoints(&events, &twice, &[pinned]).matched, 1);
    }

    #[test]
    fn jsonl_export_is_one_event_per_line_and_verifies_again() {
        let events = trail(4);
        let mut out = Vec::new();
        export(&events, ExportFormat::Jsonl, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 4);
        assert!(text.ends_with('\n'));
        let back: Vec<Event> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(back, events);
        assert!(verify(&back).is_ok());
    }

    #[test]
    fn csv_export_round_trips_commas_quotes_and_newlines() {
        let mut events = trail(3);
        events[1].actor = "bob, \"the\"\napprover".to_owned();
        events[1].detail = json!({"reason": "line one\nline \"two\", with commas,\r\nend"});
        events[2].channel = Some("api".to_owned());
        rechain(&mut events);
        let mut out = Vec::new();
        export(&events, ExportFormat::Csv, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("seq,time,request_id,kind,actor,channel,detail,prev,hash\r\n"));
        let actor_cell = "\"bob, \"\"the\"\"\napprover\"";
        let detail_cell = r#""{""reason"":""line one\nline \""two\"", with commas,\r\nend""}""#;
        assert!(
            text.contains(&format!(",{actor_cell},,{detail_cell},")),
            "{text}"
        );

        let rows = parse_csv(&text);
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[0], CSV_COLUMNS);
        let back: Vec<Event> = rows[1..]
            .iter()
            .map(|r| Event {
                seq: r[0].parse().unwrap(),
                time: r[1].clone(),
                request_id: r[2].clone(),
                kind: r[3].clone(),
                actor: r[4].clone(),
                channel: (!r[5].is_empty()).then(|| r[5].clone()),
                detail: serde_json::from_str(&r[6]).unwrap(),
                prev: r[7].clone(),
                hash: r[8].clone(),
            })
            .collect();
        assert_eq!(back, events);
        assert!(verify(&back).is_ok(), "the CSV export verifies again");
    }
}
