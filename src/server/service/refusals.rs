//! Refused attempts in the chain: every refusal is evidence (the report's anomalies), within a
//! per-minute budget so that a flood of them cannot slow the service down through the trail.

use super::{Service, ServiceError};
use crate::api::protocol::Identity;
use crate::api::verdict;
use crate::server::event::{EventDetail, EventDraft};
use crate::server::store::Store;

/// Refused attempts written to the chain per minute. Beyond it they are counted, and the
/// count goes into the next one written: a flood of refusals must not turn the trail (one
/// synced write each) into a way to slow the service down, nor vanish from it.
const REFUSALS_PER_MINUTE: u32 = 120;

#[derive(Default)]
pub(super) struct RefusalBudget {
    minute: u64,
    used: u32,
    suppressed: u64,
}

impl<S: Store> Service<S> {
    /// Whether a refusal would still be recorded this minute (see [`Service::refused`]), so
    /// that callers skip costly evidence gathering once the budget is spent.
    pub fn refusals_left(&self) -> bool {
        let budget = self.refusals.lock().unwrap_or_else(|e| e.into_inner());
        budget.minute != verdict::unix_now() / 60 || budget.used < REFUSALS_PER_MINUTE
    }

    /// Writes a refused attempt into the chain: who (`actor`), what they tried (`action`),
    /// on which request, and why it was refused. Evidence for the report's anomalies; a
    /// store failure here is logged, never turned into an answer the caller could mistake.
    pub async fn refused(
        &self,
        actor: &str,
        action: &str,
        request: &str,
        why: &str,
        channel: Option<&str>,
    ) {
        let suppressed = {
            let mut budget = self.refusals.lock().unwrap_or_else(|e| e.into_inner());
            let minute = verdict::unix_now() / 60;
            if budget.minute != minute {
                budget.minute = minute;
                budget.used = 0;
            }
            if budget.used >= REFUSALS_PER_MINUTE {
                budget.suppressed += 1;
                return;
            }
            budget.used += 1;
            std::mem::take(&mut budget.suppressed)
        };
        let detail = EventDetail::Refused {
            action: action.to_owned(),
            request: request.to_owned(),
            reason: why.to_owned(),
            uncounted_before: suppressed,
        };
        let event = EventDraft::new("", actor, channel, detail);
        if let Err(e) = self.store.record_events(vec![event]).await {
            tracing::warn!(error = %e, "could not record a refused attempt");
        }
    }

    /// Records `result`'s refusal (a `Forbidden`) in the chain before handing it on.
    pub(super) async fn note<T>(
        &self,
        who: &Identity,
        action: &str,
        id: &str,
        channel: Option<&str>,
        result: Result<T, ServiceError>,
    ) -> Result<T, ServiceError> {
        match &result {
            Err(ServiceError::Forbidden(why)) => {
                self.refused(&who.name, action, id, why, channel).await;
            }
            Err(ServiceError::StepUp(why)) => {
                self.refused(&who.name, action, id, &why.to_string(), channel)
                    .await;
            }
            _ => {}
        }
        result
    }
}
