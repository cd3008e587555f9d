//! What one request and one requester may take of the service: field sizes checked on
//! every create, and the per-requester limits the service enforces (see `Service::create`).

use super::error::ServiceError;
use crate::api::protocol::{CreateRequest, RunReport};

/// What one requester may hold and send, so that one flooding token cannot starve the
/// approvers or the other requesters (the README lists the figures).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Pending requests one requester may have at a time.
    pub pending_per_requester: usize,
    /// Creates per minute one requester may make (a burst of this many, refilled evenly).
    pub creates_per_minute: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            pending_per_requester: 50,
            creates_per_minute: 120,
        }
    }
}

/// The longest a request's fields may be, in bytes: the command and every argument together,
/// the agent's reason, each rule id and origin field, and how many rules and groups.
pub const MAX_ARGV_BYTES: usize = 64 * 1024;
pub const MAX_ARGS: usize = 4096;
pub const MAX_REASON_BYTES: usize = 2048;
pub const MAX_FIELD_BYTES: usize = 4096;
pub const MAX_LIST_ITEMS: usize = 32;

/// The longest signal name an outcome may report (`signal 15`, `SIGTERM`).
pub const MAX_SIGNAL_BYTES: usize = 64;

/// Checks a create's fields before anything else looks at them: ids, digests and the size
/// limits above. Public for the fuzz targets (`fuzz/checks.rs`), which hold every body the
/// service reads against it.
pub fn validate(req: &CreateRequest) -> Result<(), ServiceError> {
    let id_ok = !req.id.is_empty()
        && req.id.len() <= 64
        && req
            .id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !id_ok {
        return Err(ServiceError::Invalid(
            "the request id must be 1-64 characters of [A-Za-z0-9_-]".into(),
        ));
    }
    if req.nonce.len() < 16 {
        return Err(ServiceError::Invalid(
            "the nonce must be at least 16 characters".into(),
        ));
    }
    if req.ask.digest.len() != 64 || !req.ask.digest.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ServiceError::Invalid(
            "the digest must be a SHA-256 hex string".into(),
        ));
    }
    if req.ask.argv.is_empty() {
        return Err(ServiceError::Invalid("the argv is empty".into()));
    }
    if let Some(head) = &req.ledger {
        let hex = head.hash.len() == 64 && head.hash.bytes().all(|b| b.is_ascii_hexdigit());
        if head.seq == 0 || !hex {
            return Err(ServiceError::Invalid(
                "the ledger head must be a seq from 1 and a SHA-256 hex hash".into(),
            ));
        }
    }
    if req.ask.quorum > 10 {
        return Err(ServiceError::Invalid(
            "a quorum above 10 is not supported".into(),
        ));
    }
    let too_large = |what: &str, size: usize, max: usize| {
        Err(ServiceError::TooLarge(format!(
            "the request's {what} is {size} bytes, over the service's limit of {max}"
        )))
    };
    let argv_bytes: usize = req.ask.argv.iter().map(String::len).sum();
    if argv_bytes > MAX_ARGV_BYTES {
        return too_large("command", argv_bytes, MAX_ARGV_BYTES);
    }
    if req.ask.argv.len() > MAX_ARGS {
        return Err(ServiceError::TooLarge(format!(
            "the command has {} arguments, over the service's limit of {MAX_ARGS}",
            req.ask.argv.len()
        )));
    }
    if let Some(reason) = &req.ask.reason
        && reason.len() > MAX_REASON_BYTES
    {
        return too_large("reason", reason.len(), MAX_REASON_BYTES);
    }
    let o = &req.ask.origin;
    for (what, field) in [
        ("user", o.user.as_str()),
        ("host", o.host.as_str()),
        ("agent", o.agent.as_deref().unwrap_or("")),
        ("directory", o.cwd.as_str()),
        ("risk", req.ask.risk.as_str()),
    ] {
        if field.len() > MAX_FIELD_BYTES {
            return too_large(what, field.len(), MAX_FIELD_BYTES);
        }
    }
    if let Some(long) = req.ask.messages.iter().find(|m| m.len() > MAX_FIELD_BYTES) {
        return too_large("rule message", long.len(), MAX_FIELD_BYTES);
    }
    let lists = [
        req.ask.rules.len(),
        req.ask.messages.len(),
        req.ask.groups.len(),
        req.ask.group_sets.len(),
    ]
    .into_iter()
    .chain(req.ask.group_sets.iter().map(Vec::len));
    let long_item = req
        .ask
        .rules
        .iter()
        .chain(&req.ask.groups)
        .chain(req.ask.group_sets.iter().flatten())
        .any(|item| item.len() > 256);
    if lists.max().unwrap_or(0) > MAX_LIST_ITEMS || long_item {
        return Err(ServiceError::TooLarge(format!(
            "the request names more than {MAX_LIST_ITEMS} rules or groups, or one longer than 256 bytes"
        )));
    }
    Ok(())
}

/// Checks the reason of an approval, denial or cancel: the same limit as a request's reason.
/// Without it the only bound is the body limit, and a cancel's reason goes into the signed
/// verdict and the audit trail.
pub fn validate_reason(reason: Option<&str>) -> Result<(), ServiceError> {
    match reason {
        Some(r) if r.len() > MAX_REASON_BYTES => Err(ServiceError::TooLarge(format!(
            "the reason is {} bytes, over the service's limit of {MAX_REASON_BYTES}",
            r.len()
        ))),
        _ => Ok(()),
    }
}

/// Checks a reported outcome: its signal name is short (it is stored in the audit trail).
pub fn validate_outcome(outcome: &RunReport) -> Result<(), ServiceError> {
    match &outcome.signal {
        Some(s) if s.len() > MAX_SIGNAL_BYTES => Err(ServiceError::TooLarge(format!(
            "the outcome's signal is {} bytes, over the service's limit of {MAX_SIGNAL_BYTES}",
            s.len()
        ))),
        _ => Ok(()),
    }
}
