//! Emergencies verified twice (issue 13, §2), over HTTP.
//!
//! * `POST /v1/requests/{case}/confirmation` — a confirmation key of the requesting authority
//!   confirms an emergency request: `application/jose`, a compact JWS (`alg: EdDSA`, `kid` the
//!   confirmation key's RFC 7638 thumbprint) over `{"request_id", "request_sha256"}`.
//! * `POST /v1/requests/{case}/denial` — a confirmation key denies it, the same way, over
//!   `{"request_id", "request_sha256", "reason"}`: verification fails and the case is refused.
//! * `POST /v1/requests/{case}/callback` — a reviewer records a call to the authority's
//!   registered contact; `POST /v1/requests/{case}/callback/review` — a supervisor who did not
//!   record it confirms or rejects the record.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::extract::{IfMatch, Staff, tagged};
use super::requests::CompactJws;
use super::{ApiResult, json_body};
use crate::node::Node;
use crate::ops::{
    CallbackInput, CallbackReviewInput, ConfirmationInput, ConfirmationSigner, DenialInput,
    VERIFICATION_FAILED, Verification,
};
use crate::problem::Problem;
use crate::wire::{EmergencyConfirmation, EmergencyDenial};
use crate::writer::Job;

/// Confirm an emergency request (a confirmation key of the requesting authority).
///
/// An emergency request is not executed until a second person at its authority confirms it.
/// The body is a compact JWS signed by a confirmation key registered for the authority (never
/// the key that signed the request), whose payload is `{"request_id": …, "request_sha256": …}`,
/// the hex SHA-256 of the request's JWS payload bytes in force. The signature is checked before
/// the payload is read. Logged as `emergency.confirmed`; a refusal changes nothing.
#[utoipa::path(post, path = "/v1/requests/{case}/confirmation", params(("case" = i64, Path)),
    request_body(content = CompactJws, content_type = "application/jose"),
    responses((status = 200, body = EmergencyConfirmation, description = "Confirmed: the emergency is verified"),
              (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem), (status = 413, body = Problem),
              (status = 415, body = Problem), (status = 422, body = Problem)))]
pub(crate) async fn confirm(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<EmergencyConfirmation>> {
    let (jws, key, payload) = signed_by_confirmation_key(&node, &headers, body).await?;
    let input: ConfirmationInput = json_body(&payload)?;
    let signer = ConfirmationSigner {
        kid: key.kid.clone(),
        authority_kid: key.authority_kid.clone(),
    };
    let case = node
        .writer
        .call(|reply| Job::Confirm {
            case_id,
            jws,
            signer,
            input,
            reply,
        })
        .await?;
    Ok(Json(EmergencyConfirmation {
        case: case.case_id,
        request_id: case.request_id,
        request_sha256: case.payload_sha256.to_hex(),
        kid: key.kid,
        verified: true,
    }))
}

/// A compact JWS body (`application/jose`) verified under a registered confirmation key: the
/// JWS, the key and the payload (nothing of it read before the signature verifies).
async fn signed_by_confirmation_key(
    node: &Node,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(String, crate::replay::ConfirmationKey, Vec<u8>)> {
    let jws = super::requests::compact_jws(headers, body, "the message")?;
    let (key, payload) = node.directory.verify_confirmation(&jws).await?;
    Ok((jws, key, payload))
}

/// Deny an emergency request (a confirmation key of the requesting authority).
///
/// The authority says it did not send this request. The body is a compact JWS signed by a
/// confirmation key registered for the authority (never the key that signed the request) over
/// `{"request_id": …, "request_sha256": …, "reason": …}`. The emergency fails verification:
/// logged as `emergency.denied` and `emergency.verification_failed`, and the case is refused
/// with the ground `emergency-verification-failed`. A refusal changes nothing.
#[utoipa::path(post, path = "/v1/requests/{case}/denial", params(("case" = i64, Path)),
    request_body(content = CompactJws, content_type = "application/jose", description = "A compact JWS over DenialInput"),
    responses((status = 200, body = EmergencyDenial, description = "Denied: the case is refused"),
              (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem), (status = 413, body = Problem),
              (status = 415, body = Problem), (status = 422, body = Problem)))]
pub(crate) async fn deny(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<EmergencyDenial>> {
    let (jws, key, payload) = signed_by_confirmation_key(&node, &headers, body).await?;
    let input: DenialInput = json_body(&payload)?;
    let signer = ConfirmationSigner {
        kid: key.kid.clone(),
        authority_kid: key.authority_kid.clone(),
    };
    let case = node
        .writer
        .call(|reply| Job::Deny {
            case_id,
            jws,
            signer,
            input,
            reply,
        })
        .await?;
    Ok(Json(EmergencyDenial {
        case: case.case_id,
        request_id: case.request_id,
        kid: key.kid,
        ground: VERIFICATION_FAILED.to_owned(),
    }))
}

/// Record a call-back to the requesting authority's registered contact (reviewers and above).
///
/// The reviewer called the contact registered in the directory for the case's authority (never
/// a number from the request) and records who was reached and the outcome: `confirmed`,
/// `denied` or `unreachable`. The record binds the request's payload in force and waits for a
/// supervisor who did not record it (`POST …/callback/review`). Logged as
/// `emergency.callback_recorded`. Without a registered contact: 409 `no-contact`.
#[utoipa::path(post, path = "/v1/requests/{case}/callback", params(("case" = i64, Path), ("If-Match" = Option<String>, Header, description = "The case's ETag as read (GET /v1/requests/{case}); if the case changed since, 412 stale-version and nothing is changed. Optional.")), request_body = CallbackInput, security(("bearer" = [])),
    responses((status = 200, body = Verification, headers(("ETag" = String, description = "The case's version after the change, e.g. \"c12-v7\"")), description = "Recorded; the emergency's verification as it now stands"),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem), (status = 412, body = Problem, description = "stale-version: the case changed since the If-Match version; says what changed it, when and who")))]
pub(crate) async fn record_callback(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    Staff(user): Staff,
    if_match: IfMatch,
    body: Bytes,
) -> ApiResult<Response> {
    if_match.check(&node, case_id).await?;
    let input: CallbackInput = json_body(&body)?;
    // A contact registered a moment ago by the CLI: take it in before the writer reads it.
    if let Some(case) = node.query().case(case_id).await? {
        node.directory.contact_caught_up(&case.authority_kid).await;
    }
    let v = if_match
        .call(&node, case_id, |reply| Job::RecordCallback {
            case_id,
            user,
            input,
            reply,
        })
        .await?;
    tagged(&node, case_id, Json(v)).await
}

/// Confirm or reject a call-back record (supervisors who did not record it).
///
/// A confirmed `confirmed` outcome verifies the emergency (for the payload it was recorded
/// over); a confirmed `denied` outcome fails verification and refuses the case with the ground
/// `emergency-verification-failed`; a rejected record is to be called again. Logged as
/// `emergency.callback_confirmed` or `emergency.callback_rejected`.
#[utoipa::path(post, path = "/v1/requests/{case}/callback/review", params(("case" = i64, Path), ("If-Match" = Option<String>, Header, description = "The case's ETag as read (GET /v1/requests/{case}); if the case changed since, 412 stale-version and nothing is changed. Optional.")), request_body = CallbackReviewInput, security(("bearer" = [])),
    responses((status = 200, body = Verification, headers(("ETag" = String, description = "The case's version after the change, e.g. \"c12-v7\"")), description = "Reviewed; the emergency's verification as it now stands"),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem), (status = 412, body = Problem, description = "stale-version: the case changed since the If-Match version; says what changed it, when and who")))]
pub(crate) async fn review_callback(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    Staff(user): Staff,
    if_match: IfMatch,
    body: Bytes,
) -> ApiResult<Response> {
    if_match.check(&node, case_id).await?;
    let input: CallbackReviewInput = json_body(&body)?;
    let v = if_match
        .call(&node, case_id, |reply| Job::ReviewCallback {
            case_id,
            user,
            input,
            reply,
        })
        .await?;
    tagged(&node, case_id, Json(v)).await
}
