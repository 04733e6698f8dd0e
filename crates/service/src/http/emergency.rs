//! Emergencies verified twice (issue 13, §2), over HTTP.
//!
//! * `POST /v1/requests/{case}/confirmation` — a confirmation key of the requesting authority
//!   confirms an emergency request: `application/jose`, a compact JWS (`alg: EdDSA`, `kid` the
//!   confirmation key's RFC 7638 thumbprint) over `{"request_id", "request_sha256"}`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};

use super::requests::CompactJws;
use super::{ApiResult, body_problem, json_body};
use crate::node::Node;
use crate::ops::{ConfirmationInput, ConfirmationSigner};
use crate::problem::Problem;
use crate::wire::EmergencyConfirmation;
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
    let body = body.map_err(body_problem)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/jose"))
    {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "media-type",
            "Unsupported media type",
            format!(
                "send the confirmation as a compact JWS with Content-Type: application/jose (got {content_type:?})"
            ),
        ));
    }
    let jws = std::str::from_utf8(&body)
        .map_err(|_| {
            Problem::bad_request("malformed-jws", "a compact JWS is ASCII; the body is not")
        })?
        .trim()
        .to_owned();
    // Signature first: nothing of the payload is read before it verifies.
    let (key, payload) = node.directory.verify_confirmation(&jws).await?;
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
