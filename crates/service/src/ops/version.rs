//! A case's version, against lost updates (`ETag` / `If-Match`): the log index of the latest
//! event concerning the case. Derived from the log, never a counter of its own: every change of
//! a case appends an event, so a newer event is a newer version. The check that counts runs in
//! the writer's batch ([`check`]), where no other change can come between it and the change.

use axum::http::StatusCode;
use custos_store::{Batch, StoredEvent};

use crate::problem::{LastChange, Problem};

/// The strong `ETag` of case `case_id` whose latest event is at log index `seq`: `"c12-v7"`.
pub fn etag(case_id: i64, seq: u64) -> String {
    format!("\"c{case_id}-v{seq}\"")
}

/// Whether `If-Match` (a list of tags or `*`, RFC 9110 §13.1.1) names version `seq` of the
/// case; weak tags never match a strong comparison.
pub fn matches(case_id: i64, if_match: &str, seq: u64) -> bool {
    let current = etag(case_id, seq);
    if_match
        .split(',')
        .map(str::trim)
        .any(|t| t == "*" || t == current)
}

/// The refusal (412 `stale-version`) of a change whose `If-Match` no longer names the case's
/// version, saying what changed it, when and who, from the case's events in log order.
pub fn stale(case_id: i64, if_match: &str, events: &[StoredEvent]) -> Problem {
    let Some(latest) = events.last() else {
        return Problem::internal("a case with a version has no events");
    };
    let current = etag(case_id, latest.seq);
    let by = actor(events);
    let mut p = Problem::new(
        StatusCode::PRECONDITION_FAILED,
        "stale-version",
        "Precondition failed",
        format!(
            "case {case_id} changed since you read it (If-Match {if_match}, now {current}): {} at {}{}; nothing was changed. Read the case again and decide on what it says now.",
            latest.event_type,
            latest.at,
            by.as_deref()
                .map(|b| format!(" by {b}"))
                .unwrap_or_default(),
        ),
    );
    p.changed = Some(Box::new(LastChange {
        event: latest.event_type.clone(),
        at: latest.at,
        log_index: latest.seq,
        by,
        etag: current,
    }));
    p
}

/// Refuses a change whose `If-Match` no longer names the case's version, as the batch sees it.
/// No events: no case, left to the change's own 404. Only a refusal reads the events.
pub async fn check(b: &mut Batch, case_id: i64, if_match: &str) -> Result<(), Problem> {
    match b.case_version(case_id).await? {
        Some(seq) if !matches(case_id, if_match, seq) => {
            Err(stale(case_id, if_match, &b.case_events(case_id).await?))
        }
        _ => Ok(()),
    }
}

/// The person who made the case's latest change: the one named by its latest event, or by an
/// event of the same change (same time) before it (a decision's `reply.communicated` names no
/// one; its `decision.recorded` does).
fn actor(events: &[StoredEvent]) -> Option<String> {
    let at = events.last()?.at;
    events
        .iter()
        .rev()
        .take_while(|e| e.at == at)
        .find_map(|e| named(&serde_json::from_str(&e.body).ok()?))
}

/// The person an event's body names: `by`, `reviewer`, or the confirming or deciding reviewer of
/// the decision it carries.
fn named(body: &serde_json::Value) -> Option<String> {
    let text = |v: &serde_json::Value, k: &str| v.get(k)?.as_str().map(str::to_owned);
    text(body, "by")
        .or_else(|| text(body, "reviewer"))
        .or_else(|| {
            let d = body.get("decision")?;
            text(d, "confirmed_by").or_else(|| text(d, "reviewer"))
        })
}
