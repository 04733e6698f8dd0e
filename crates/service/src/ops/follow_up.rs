//! Preservation and its follow-up (issue 13): a request names the preservation request it
//! follows up (`follows`, the earlier request's id); the node links the two cases
//! (`preservation.followed`), keeps the hold while the follow-up is pending, even past its date,
//! and warns the requester a configurable number of days before a hold lapses
//! (`preservation.lapse_warned`). Renewals go through the extension model
//! ([`super::extension`], kind `preservation`).
//!
//! Rules and their legal basis:
//! * the followed request must be a preservation, received at this node from the same
//!   authority; another authority's case is treated as unknown, so nothing of it is revealed;
//! * a hold is kept while a follow-up is pending: Budapest art. 29(7) (confirmed: preservation
//!   for not less than sixty days, and once a request for access is received, the data stay
//!   preserved pending a decision on it); UNCC art. 42 follows it (not confirmed in the
//!   project's research). "Pending" runs until the follow-up is delivered, closed, refused or
//!   withdrawn: a follow-up decided to be executed still needs the preserved data to produce;
//! * the warning before a lapse, and its number of days, are an operator default (no treaty
//!   text asks it); cf. EU Reg. 2023/1543 art. 11(1) (confirmed: a preservation ends after
//!   60 days unless the issuing authority confirms a follow-up or extends it).

use custos_model::{EventType, Request};
use custos_store::{Batch, CaseStatus, Hold, Store};
use jiff::Timestamp;
use serde_json::json;

use super::{Appended, Case, Documents, days, emit, internal};
use crate::problem::{FieldProblem, Problem};

/// A follow-up is pending until it is delivered, closed, refused or withdrawn.
pub fn pending(status: CaseStatus) -> bool {
    !matches!(
        status,
        CaseStatus::Delivered | CaseStatus::Closed | CaseStatus::Refused | CaseStatus::Withdrawn
    )
}

/// A 422 problem at `$.follows`.
fn refused(detail: String) -> Problem {
    let mut p = Problem::unprocessable("invalid-follows", format!("$.follows: {detail}"));
    p.errors.push(FieldProblem {
        pointer: "$.follows".into(),
        detail,
    });
    p
}

/// The preservation case `request` follows up, checked: it exists at this node, was sent by the
/// same authority (`authority_kid`) and is a preservation. `None` when the request follows
/// nothing.
pub async fn followed_case(
    b: &mut Batch,
    authority_kid: &str,
    request: &Request,
) -> Result<Option<Case>, Problem> {
    let Some(follows) = &request.follows else {
        return Ok(None);
    };
    // Looked up among the sender's own cases only: another authority's is "not found".
    let Some(case) = b
        .find_case::<Documents>(authority_kid, follows.as_str())
        .await?
    else {
        return Err(refused(format!(
            "you sent no request {:?} to this node; give the id of your earlier preservation request \
             exactly as you sent it, or leave follows out",
            follows.as_str()
        )));
    };
    if !case.measure.is_preservation() {
        return Err(refused(format!(
            "your request {:?} (case {}) asks {}, not a preservation; follows names the preservation \
             request (preserve_stored_data or disclose_preserved_traffic) this one follows up. Leave it out, \
             or give that request's id",
            follows.as_str(),
            case.case_id,
            case.measure.as_str()
        )));
    }
    Ok(Some(case))
}

/// Logs the link of a follow-up (`follower`) to the preservation case it follows.
pub async fn record_link(
    b: &mut Batch,
    out: &mut Appended,
    follower: i64,
    followed: &Case,
    at: Timestamp,
) -> Result<(), Problem> {
    emit(
        b,
        out,
        EventType::PreservationFollowed,
        at,
        Some(follower),
        json!({ "follows_case": followed.case_id, "follows_request_id": followed.request_id }),
    )
    .await
}

/// A supplement keeps the link its request was received with.
pub fn same_link(old: &Case, new: &Request) -> Result<(), Problem> {
    let old: Request = serde_json::from_str(&old.request_json).map_err(internal)?;
    if old.follows == new.follows {
        return Ok(());
    }
    Err(refused(format!(
        "a supplement cannot change which request this one follows (received with {}); keep follows as it was",
        old.follows
            .as_ref()
            .map_or("none".to_owned(), |f| format!("{:?}", f.as_str()))
    )))
}

/// The first follow-up of `hold`'s case that is still pending, if any: the hold is kept for it.
pub async fn keeping(b: &mut Batch, hold: &Hold) -> Result<Option<i64>, Problem> {
    let Some(case) = b.case::<Documents>(hold.case_id).await? else {
        return Ok(None);
    };
    Ok(
        b.cases_following::<Documents>(&case.authority_kid, &case.request_id)
            .await?
            .into_iter()
            .find(|c| pending(c.status))
            .map(|c| c.case_id),
    )
}

/// The scheduler's warnings at `now`: each hold in force that lapses within `warning_days`
/// (and has not lapsed) is warned once per end date (`preservation.lapse_warned`), unless a
/// pending follow-up keeps it anyway.
pub async fn warn_lapses(
    b: &mut Batch,
    out: &mut Appended,
    warning_days: u32,
    now: Timestamp,
) -> Result<(), Problem> {
    if warning_days == 0 {
        return Ok(());
    }
    for hold in b.expired_holds(now + days(warning_days)).await? {
        if hold.expires_at <= now || keeping(b, &hold).await?.is_some() {
            continue;
        }
        let warned = b
            .latest_case_event(hold.case_id, EventType::PreservationLapseWarned)
            .await?
            .and_then(|e| serde_json::from_str::<serde_json::Value>(&e.body).ok())
            .is_some_and(|body| body["expires_at"] == json!(hold.expires_at.to_string()));
        if warned {
            continue;
        }
        emit(
            b,
            out,
            EventType::PreservationLapseWarned,
            now,
            Some(hold.case_id),
            json!({ "expires_at": hold.expires_at.to_string(), "days_before": warning_days }),
        )
        .await?;
    }
    Ok(())
}

/// The cases linked to `case`: the preservation it follows, and its follow-ups.
#[derive(Debug, Clone, Default)]
pub struct Links {
    /// The preservation case this one follows.
    pub follows: Option<Case>,
    /// The cases that follow this one, by number.
    pub followed_by: Vec<Case>,
}

/// The links of `case`, read from the store.
pub async fn links(store: &Store, case: &Case) -> Result<Links, Problem> {
    let request: Request = serde_json::from_str(&case.request_json).map_err(internal)?;
    let follows = match &request.follows {
        Some(id) => {
            store
                .find_case::<Documents>(&case.authority_kid, id.as_str())
                .await?
        }
        None => None,
    };
    let followed_by = store
        .cases_following::<Documents>(&case.authority_kid, &case.request_id)
        .await?;
    Ok(Links {
        follows,
        followed_by,
    })
}

/// The latest lapse warning of `case`'s hold, if it warned of `expires_at` (the end in force):
/// when it was logged.
pub async fn lapse_warned(
    store: &Store,
    case_id: i64,
    expires_at: Timestamp,
) -> Result<Option<Timestamp>, Problem> {
    Ok(store
        .latest_case_event(case_id, EventType::PreservationLapseWarned)
        .await?
        .filter(|e| {
            serde_json::from_str::<serde_json::Value>(&e.body)
                .is_ok_and(|body| body["expires_at"] == json!(expires_at.to_string()))
        })
        .map(|e| e.at))
}
