//! Checking the local ledger against the heads the approval service recorded for it
//! (`gatekeep audit verify --against-server`).
//!
//! Every request sent to the service carries the ledger's head at that moment: the seq and
//! hash of the request's own record. The service keeps it in its hash chain, out of the
//! agent's reach. The local chain can be rewritten consistently (edit, re-hash every later
//! record and the head) or wiped with its head; neither can change what the service holds.
//! So each anchor must still be in the ledger: a record with that seq and that hash. Because
//! records are chained, a matching anchor vouches for every record before it; a record the
//! service anchored that is gone or different shows where the history was cut or rewritten.
//!
//! Pure: records and anchors in, findings out. No I/O.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::api::protocol::Anchor;

/// What the comparison found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AnchorReport {
    /// Anchors for this user and host, checked.
    pub checked: usize,
    /// Anchors recorded for the same token from another user or host (another ledger).
    pub other_ledgers: usize,
    /// The highest anchored seq: every record up to it is covered.
    pub last_anchored: u64,
    /// Records up to the last anchored one that the ledger no longer holds.
    pub missing: Vec<u64>,
    /// Records that were changed: the anchored ones that differ, and those between the last
    /// anchor that still matches and them (re-hashing carries a change forward, so it lies
    /// somewhere in that range).
    pub changed: Vec<u64>,
    /// Request ids of the missing and changed records, as far as they are known (from the
    /// service's anchors and from the ledger's records).
    pub request_ids: Vec<String>,
    /// One line per finding, for people.
    pub errors: Vec<String>,
}

impl AnchorReport {
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Compares the ledger's `records` (as [`crate::audit::ledger::Ledger::records`] reads them) with the
/// service's `anchors`, keeping only those made from `user`@`host`.
pub fn check(records: &[Value], anchors: &[Anchor], user: &str, host: &str) -> AnchorReport {
    let mut report = AnchorReport::default();
    // seq -> (hash, request id) of every local record with that seq.
    let mut local: BTreeMap<u64, Vec<(&str, &str)>> = BTreeMap::new();
    for r in records {
        if let Some(seq) = r.get("seq").and_then(Value::as_u64) {
            let hash = r.get("hash").and_then(Value::as_str).unwrap_or("");
            let id = r.get("id").and_then(Value::as_str).unwrap_or("");
            local.entry(seq).or_default().push((hash, id));
        }
    }
    let mut mine: Vec<&Anchor> = anchors
        .iter()
        .filter(|a| a.user == user && a.host == host)
        .collect();
    report.other_ledgers = anchors.len() - mine.len();
    mine.sort_by_key(|a| (a.seq, a.event_seq));
    report.checked = mine.len();
    report.last_anchored = mine.last().map_or(0, |a| a.seq);

    let mut ids = BTreeSet::new();
    let mut changed = BTreeSet::new();
    // The highest seq whose anchor still matches, below the anchor being looked at.
    let mut good = 0u64;
    for a in &mine {
        let here = local.get(&a.seq);
        if here.is_some_and(|v| v.iter().any(|(h, _)| *h == a.hash)) {
            good = good.max(a.seq);
            continue;
        }
        ids.insert(a.request_id.clone());
        let Some(here) = here else {
            report.errors.push(format!(
                "record {} (request {}, anchored by the service at {}, its event {}) is missing from the ledger",
                a.seq, a.request_id, a.time, a.event_seq
            ));
            continue;
        };
        let found = here.first().map_or("", |(h, _)| h);
        report.errors.push(format!(
            "record {} (request {}, anchored by the service at {}, its event {}) was changed: the service holds hash {}, the ledger {}",
            a.seq,
            a.request_id,
            a.time,
            a.event_seq,
            short(&a.hash),
            short(found)
        ));
        // A re-hashed chain carries a change forward: it lies after the last anchor that
        // still matches, up to this one.
        for seq in good + 1..=a.seq {
            if let Some(v) = local.get(&seq) {
                changed.insert(seq);
                ids.extend(
                    v.iter()
                        .map(|(_, id)| (*id).to_owned())
                        .filter(|i| !i.is_empty()),
                );
            }
        }
    }
    report.missing = (1..=report.last_anchored)
        .filter(|s| !local.contains_key(s))
        .collect();
    if !report.missing.is_empty() {
        report.errors.push(format!(
            "records {} are missing: the service anchored records up to {}, so they existed (the ledger was cut, wiped or replaced)",
            ranges(&report.missing),
            report.last_anchored
        ));
    }
    if !changed.is_empty() {
        report.changed = changed.into_iter().collect();
        report.errors.push(format!(
            "records {} no longer lead to the heads the service holds: one or more of them were changed and the chain re-hashed after it",
            ranges(&report.changed)
        ));
    }
    ids.remove("");
    report.request_ids = ids.into_iter().collect();
    if !report.errors.is_empty() && !report.request_ids.is_empty() {
        report.errors.push(format!(
            "requests concerned: {}",
            report.request_ids.join(", ")
        ));
    }
    report
}

/// The first 12 hex digits: enough for a person to compare.
fn short(hash: &str) -> &str {
    if hash.is_empty() {
        return "(none)";
    }
    hash.get(..12).unwrap_or(hash)
}

/// `1..3, 5, 7..9` from sorted seqs.
fn ranges(seqs: &[u64]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < seqs.len() {
        let start = seqs[i];
        let mut end = start;
        while i + 1 < seqs.len() && seqs[i + 1] == end + 1 {
            i += 1;
            end = seqs[i];
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}..{end}")
        });
        i += 1;
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn anchor(seq: u64, hash: &str, rid: &str) -> Anchor {
        Anchor {
            request_id: rid.into(),
            seq,
            hash: hash.into(),
            user: "u".into(),
            host: "h".into(),
            event_seq: i64::try_from(seq).unwrap() * 2,
            time: "2026-12-05T09:00:00Z".into(),
        }
    }

    fn recs(n: u64, prefix: &str) -> Vec<Value> {
        (1..=n)
            .map(|s| json!({"seq": s, "hash": format!("{prefix}{s}"), "id": format!("r{s}")}))
            .collect()
    }

    #[test]
    fn matching_anchors_pass_and_other_ledgers_are_set_aside() {
        let mut other = anchor(9, "zz", "x");
        other.host = "elsewhere".into();
        let anchors = [anchor(2, "a2", "r2"), anchor(4, "a4", "r4"), other];
        let r = check(&recs(5, "a"), &anchors, "u", "h");
        assert!(r.is_ok(), "{r:?}");
        assert_eq!((r.checked, r.other_ledgers, r.last_anchored), (2, 1, 4));
    }

    #[test]
    fn a_wipe_names_every_missing_record_and_the_anchored_requests() {
        let anchors = [anchor(2, "a2", "r2"), anchor(5, "a5", "r5")];
        let r = check(&[], &anchors, "u", "h");
        assert_eq!(r.missing, vec![1, 2, 3, 4, 5]);
        assert_eq!(r.request_ids, vec!["r2", "r5"]);
        assert!(
            r.errors
                .iter()
                .any(|e| e.contains("records 1..5 are missing")),
            "{r:?}"
        );
        // A wipe followed by new commands reuses the seqs, with other hashes.
        let r = check(&recs(3, "b"), &anchors, "u", "h");
        assert_eq!(r.missing, vec![4, 5]);
        assert_eq!(r.changed, vec![1, 2]);
        assert!(
            r.errors.iter().any(|e| e.contains("record 2 (request r2")),
            "{r:?}"
        );
    }

    #[test]
    fn a_rewrite_is_placed_between_the_last_good_anchor_and_the_first_bad_one() {
        // Record 4 was edited and everything after it re-hashed.
        let mut rewritten = recs(7, "a");
        for r in &mut rewritten[3..] {
            let s = r["seq"].as_u64().unwrap();
            r["hash"] = json!(format!("b{s}"));
        }
        let anchors = [anchor(2, "a2", "r2"), anchor(6, "a6", "r6")];
        let r = check(&rewritten, &anchors, "u", "h");
        assert_eq!(r.changed, vec![3, 4, 5, 6]);
        assert!(r.missing.is_empty());
        assert_eq!(r.request_ids, vec!["r3", "r4", "r5", "r6"]);
        assert!(
            r.errors
                .iter()
                .any(|e| e.contains("records 3..6 no longer lead")),
            "{r:?}"
        );
    }

    #[test]
    fn ranges_are_compact() {
        assert_eq!(ranges(&[1, 2, 3, 5, 7, 8]), "1..3, 5, 7..8");
        assert_eq!(ranges(&[4]), "4");
    }
}
