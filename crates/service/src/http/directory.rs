//! What the node keeps beside the cases, for its reviewers: the preservation holds in force, the
//! notices owed to persons concerned, and the directory of requesting authorities.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use jiff::Timestamp;

use super::extract::Staff;
use super::{ApiResult, parse_stored, stored_name};
use crate::node::Node;
use crate::problem::Problem;
use crate::wire::{AuthorityDetail, AuthorityView, HoldView, NoticeView};

pub(super) fn hold_view(h: &custos_store::Hold) -> HoldView {
    HoldView {
        case: h.case_id,
        started_at: h.started_at,
        expires_at: h.expires_at,
        renewals: h.renewals,
    }
}

/// A notice as staff read it at `now`.
pub(super) fn notice_view(n: &custos_store::Notice, now: Timestamp) -> NoticeView {
    NoticeView {
        case: n.case_id,
        due_at: n.due_at,
        due: n.due_at <= now && n.sent_at.is_none(),
        confidentiality_ended_at: n.ended_at,
        sent_at: n.sent_at,
        attempts: n.attempts,
        last_error: n.last_error.clone(),
        last_attempt_at: n.last_attempt_at,
        next_attempt_at: crate::ops::next_attempt(n),
    }
}

/// Preservation holds in force.
#[utoipa::path(get, path = "/v1/holds", security(("bearer" = [])), responses((status = 200, body = Vec<HoldView>), (status = 403, body = Problem)))]
pub(super) async fn list_holds(
    State(node): State<Arc<Node>>,
    _: Staff,
) -> ApiResult<Json<Vec<HoldView>>> {
    let holds = node.store.active_holds().await?;
    Ok(Json(holds.iter().map(hold_view).collect()))
}

/// Notices owed to persons concerned: when each falls due, whether confidentiality has ended,
/// whether it was sent, and its delivery attempts (the last error, the next try).
#[utoipa::path(get, path = "/v1/notices", security(("bearer" = [])), responses((status = 200, body = Vec<NoticeView>), (status = 403, body = Problem)))]
pub(super) async fn list_notices(
    State(node): State<Arc<Node>>,
    _: Staff,
) -> ApiResult<Json<Vec<NoticeView>>> {
    let now = node.now();
    let notices = node.store.notices().await?;
    Ok(Json(notices.iter().map(|n| notice_view(n, now)).collect()))
}

fn authority_view(a: custos_store::Authority) -> ApiResult<AuthorityView> {
    Ok(AuthorityView {
        channels: a
            .channels
            .iter()
            .map(|c| stored_name("channel", c))
            .collect::<ApiResult<_>>()?,
        jwk: parse_stored("key", &a.jwk)?,
        added_at: a.added_at,
        revoked_at: a.revoked_at,
        kid: a.kid,
        state: a.state,
        name: a.name,
        kind: a.kind,
        age_recipient: a.age_recipient,
    })
}

/// One authority: its entry, its call-back contact (as the log has it) and how its emergency
/// requests were verified (counts computed from the log: emergencies, verified by signature,
/// verified by call-back, failed verification).
#[utoipa::path(get, path = "/v1/authorities/{kid}", params(("kid" = String, Path, description = "The RFC 7638 thumbprint of the authority's key")),
    security(("bearer" = [])), responses((status = 200, body = AuthorityDetail), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub(super) async fn authority(
    State(node): State<Arc<Node>>,
    Path(kid): Path<String>,
    _: Staff,
) -> ApiResult<Json<AuthorityDetail>> {
    let Some(a) = node.store.authority(&kid).await? else {
        return Err(Problem::not_found(format!(
            "no authority with key {kid}; GET /v1/authorities lists them"
        )));
    };
    Ok(Json(AuthorityDetail {
        authority: authority_view(a)?,
        contact: node.directory.contact(&kid),
        emergencies: node.query().emergency_counts(&kid).await?,
    }))
}

/// The directory of authorities (public keys only).
#[utoipa::path(get, path = "/v1/authorities", security(("bearer" = [])), responses((status = 200, body = Vec<AuthorityView>), (status = 403, body = Problem)))]
pub(super) async fn list_authorities(
    State(node): State<Arc<Node>>,
    _: Staff,
) -> ApiResult<Json<Vec<AuthorityView>>> {
    let mut out = Vec::new();
    for a in node.store.authorities().await? {
        out.push(authority_view(a)?);
    }
    Ok(Json(out))
}
