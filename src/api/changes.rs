//! `GET /v1/changes?since=CURSOR&wait=SECS`: the approver's list as a long poll, for
//! `gatekeep pending --watch` and for scripts.
//!
//! The answer holds what changed, among the requests the caller may see, after `since`
//! (a request created, approved, denied, expired or cancelled); the server holds the call
//! open up to `wait` seconds (at most [`super::protocol::MAX_WAIT_SECS`], default 0) until
//! there is something, so a client follows the list with one call at a time and no timer.
//!
//! **The cursor** is opaque to clients: pass back the `cursor` of the previous answer as
//! `since`. (It is the server run's random id and a change counter, `RUN.N`; the server
//! remembers its last few thousand changes in memory.) Without `since`, with a cursor from
//! another run of the server (it restarted), or with one older than what it remembers, the
//! answer is a *reset*: `reset` is true and `requests` is the caller's whole pending list,
//! each `actionable`. A client then drops what it held and starts again from this list.

use serde::{Deserialize, Serialize};

use super::protocol::RequestView;

/// The answer of `GET /v1/changes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    /// Pass back as `since` to learn what changes after this answer.
    pub cursor: String,
    /// `requests` is the caller's whole pending list (see the module header).
    pub reset: bool,
    /// Each request that changed, once, as it is now; oldest change first.
    pub requests: Vec<Change>,
}

/// One request that changed, as the caller may see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Whether the caller may decide it now: pending, not their own, from a group it asks
    /// for, and not already approved by them. A request that stops being actionable (it was
    /// decided, expired, cancelled, or the caller's approval now waits for others) comes
    /// once more with `false`, and then no more.
    pub actionable: bool,
    pub request: RequestView,
}
