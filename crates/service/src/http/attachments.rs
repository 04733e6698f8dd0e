//! A case's attachments (staff only): upload, list, download. The files are kept by
//! [`crate::attachments`]; the event is [`crate::ops::attachment`], run by the writer.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::extract::{IfMatch, Staff, tagged};
use crate::attachments::{Described, Incoming, find, read_checked, too_large};
use crate::node::Node;
use crate::ops::attachment::{AttachmentKind, attachments_of, check_media_type, check_name};
use crate::problem::Problem;
use crate::wire::{AttachmentList, AttachmentView};

/// What the uploader says of the file, in the query string.
#[derive(Debug, Deserialize)]
pub struct AttachParams {
    /// `order`, `correspondence` or `other`.
    kind: String,
    /// The file's name, e.g. `court-order.pdf`.
    name: String,
}

/// The uploader's description checked: kind, name and the body's media type, each refusal
/// naming its field.
pub fn described(kind: &str, name: &str, media_type: &str) -> Result<Described, Problem> {
    use crate::ops::attachment::field_problem;
    let kind = AttachmentKind::parse(kind.trim()).ok_or_else(|| {
        field_problem(
            "kind",
            format!("{kind:?} is not a kind of attachment (order, correspondence or other)"),
        )
    })?;
    let name = check_name(name).map_err(|e| field_problem("name", e))?;
    let media_type = check_media_type(media_type).map_err(|e| {
        Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "media-type",
            "Unsupported media type",
            format!("Content-Type: {e}; send the file's own media type"),
        )
    })?;
    Ok(Described {
        kind,
        name,
        media_type,
    })
}

/// `Content-Disposition` of a download: always an attachment, never shown inline; the name as
/// ASCII (anything else `_`) and in full as RFC 8187 UTF-8.
pub fn content_disposition(name: &str) -> HeaderValue {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let utf8: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    HeaderValue::from_str(&format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{utf8}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

/// The answer of a download: the checked bytes, as a download only.
pub fn download_response(name: &str, blake3: &str, bytes: Vec<u8>) -> Response {
    let mut resp = Body::from(bytes).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_DISPOSITION, content_disposition(name));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Should a browser render it anyway: no script, no plugins, no same origin.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    if let Ok(v) = HeaderValue::from_str(blake3) {
        h.insert("x-custos-attachment-blake3", v);
    }
    resp
}

/// Attach a file to a case (reviewers and above; staff only). The body is the file itself, its
/// `Content-Type` its media type (kept, never interpreted); `kind` and `name` in the query
/// string. The file is stored by its BLAKE3 digest (durably, before anything is logged) and
/// `attachment.added` logged. The same file twice on one case is 409 `attachment-exists`.
/// Over `attachments.max_bytes` (default 25 MiB): 413. Never shown to the requesting authority.
#[utoipa::path(post, path = "/v1/requests/{case}/attachments", operation_id = "add_attachment", params(("case" = i64, Path),
        ("kind" = AttachmentKind, Query, description = "What the file is: order, correspondence or other"),
        ("name" = String, Query, description = "The file's name (no path; at most 200 characters), e.g. court-order.pdf"),
        ("If-Match" = Option<String>, Header, description = "The case's ETag as read (GET /v1/requests/{case}); if the case changed since, 412 stale-version and nothing is changed. Optional.")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file; send its own media type as Content-Type (e.g. application/pdf)"),
    security(("bearer" = [])),
    responses((status = 201, body = AttachmentView, headers(("ETag" = String, description = "The case's version after the change, e.g. \"c12-v7\""))),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 412, body = Problem, description = "stale-version: the case changed since the If-Match version; says what changed it, when and who"),
              (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn upload(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    Query(params): Query<AttachParams>,
    Staff(user): Staff,
    if_match: IfMatch,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    if_match.check(&node, case_id).await?;
    crate::ops::require_role(&user, custos_store::Role::Reviewer, "adding an attachment")?;
    if node.store.case_version(case_id).await?.is_none() {
        return Err(Problem::not_found(format!(
            "there is no case {case_id} on this node"
        )));
    }
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let described = described(&params.kind, &params.name, media_type)?;
    // Refused before a byte is stored when the length is declared.
    let limit = node.config.attachments.max_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    let received = receive(&node, body, limit).await?;
    let a = crate::attachments::add(&node, case_id, user, &if_match, received, described).await?;
    let resp = tagged(&node, case_id, Json(AttachmentView::of(&a))).await?;
    Ok((StatusCode::CREATED, resp).into_response())
}

async fn receive(
    node: &Node,
    body: Body,
    limit: u64,
) -> Result<crate::attachments::Received, Problem> {
    use futures_util::StreamExt as _;
    let mut incoming = Incoming::create(&node.dir, limit).await?;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            Problem::bad_request("unreadable-body", format!("the upload broke off: {e}"))
        })?;
        incoming.write(&chunk).await?;
    }
    incoming.finish().await
}

/// A case's attachments (staff only), in the order they were added.
#[utoipa::path(get, path = "/v1/requests/{case}/attachments", operation_id = "list_attachments", params(("case" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = AttachmentList), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    _staff: Staff,
) -> Result<Json<AttachmentList>, Problem> {
    let events = node.store.case_events(case_id).await?;
    if events.is_empty() {
        return Err(Problem::not_found(format!(
            "there is no case {case_id} on this node"
        )));
    }
    Ok(Json(AttachmentList {
        case: case_id,
        attachments: attachments_of(&events)
            .iter()
            .map(AttachmentView::of)
            .collect(),
    }))
}

/// The bytes of an attachment (staff only), checked against its logged BLAKE3 before they are
/// served: an altered or missing file is refused (500, and the operator's audit fails). Always
/// a download (`Content-Disposition: attachment`), never rendered.
#[utoipa::path(get, path = "/v1/requests/{case}/attachments/{blake3}", operation_id = "fetch_attachment", params(("case" = i64, Path), ("blake3" = String, Path, description = "The attachment's BLAKE3 (64 lower-case hex digits)")), security(("bearer" = [])),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>, headers(("Content-Disposition" = String, description = "attachment, with the file's name"))),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 500, body = Problem)))]
pub async fn fetch(
    State(node): State<Arc<Node>>,
    Path((case_id, blake3)): Path<(i64, String)>,
    _staff: Staff,
) -> Result<Response, Problem> {
    if !custos_model::package::is_digest_hex(&blake3) {
        return Err(Problem::not_found(format!(
            "{blake3} is not an attachment's digest (64 lower-case hex digits)"
        )));
    }
    let a = find(&node, case_id, &blake3).await?;
    let bytes = read_checked(&node.dir, &a).await?;
    Ok(download_response(&a.name, &a.blake3, bytes))
}
