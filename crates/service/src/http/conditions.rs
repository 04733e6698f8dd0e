//! The conditions of an execution, over HTTP.
//!
//! * `POST /v1/requests/{case}/conditions/acceptance` — the requesting authority accepts (or
//!   declines, with a reason) the conditions its reply shows, in a compact JWS signed by its key.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};

use super::{ApiResult, json_body};
use crate::node::Node;
use crate::ops::{AcceptanceInput, ConditionsStatus};
use crate::problem::Problem;
use crate::writer::Job;

/// Accept or decline the conditions of your executed case (requesting authorities).
///
/// The body is a compact JWS (`alg: EdDSA`, `kid` the RFC 7638 thumbprint of the authority's
/// registered key, as for `POST /v1/requests`) over the JSON of `AcceptanceInput`:
/// `{"request_id": …, "conditions_sha256": <hex SHA-256 of the RFC 8785 JSON of the reply's
/// decision.conditions, also given as the reply's conditions.sha256>}`, with `"answer":
/// "decline"` and a `reason` to decline. Logged as `conditions.accepted` or
/// `conditions.declined`. No evidence is released before the conditions are accepted; an
/// acceptance is final, a decline may be followed by an acceptance.
#[utoipa::path(post, path = "/v1/requests/{case}/conditions/acceptance", params(("case" = i64, Path)),
    request_body(content = super::CompactJws, content_type = "application/jose", description = "A compact JWS over AcceptanceInput"),
    responses((status = 200, body = ConditionsStatus, description = "Answered"), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 413, body = Problem),
              (status = 415, body = Problem), (status = 422, body = Problem)))]
pub(crate) async fn accept(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, Json<ConditionsStatus>)> {
    // Signature first: nothing of the payload is read before it verifies.
    let jws = super::requests::compact_jws(&headers, body, "the acceptance")?;
    let (authority, payload) = node.directory.verify(&jws).await?;
    let input: AcceptanceInput = json_body(&payload)?;
    let status = node
        .writer
        .call(|reply| Job::AnswerConditions {
            case_id,
            authority,
            input,
            reply,
        })
        .await?;
    Ok((StatusCode::OK, Json(status)))
}
