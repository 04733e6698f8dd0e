//! The desk's own work on a case (issue 16), staff only: who has it and internal notes.
//!
//! * `POST /v1/requests/{case}/assignment` — take the case, or release it.
//! * `GET /v1/requests/{case}/notes` — its internal notes, oldest first.
//! * `POST /v1/requests/{case}/notes` — add one.
//!
//! A requesting authority is refused (403 `people-only`): it never learns who has its case or
//! what staff wrote about it.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::extract::{IfMatch, tagged};
use super::requests::change_case;
use super::{ApiResult, Staff, json_body};
use crate::node::Node;
use crate::ops::{AssignmentInput, CaseNotes, Note, NoteInput};
use crate::problem::Problem;
use crate::wire::CaseView;
use crate::writer::Job;

/// Take a case, or release it (reviewers and supervisors; not auditors).
///
/// `take`: the caller has the case from now on (`case.assigned`); if someone else had it, the
/// event records whom it was taken over from. Taking a case you have changes nothing. A closed
/// case cannot be taken (409 `case-closed`). `release`: no one has it (`case.unassigned`); only
/// its holder or a supervisor may release it (403 `not-yours`), and only if someone has it (409
/// `not-assigned`). The answer is the case, whose `assignee` says who has it.
#[utoipa::path(post, path = "/v1/requests/{case}/assignment", params(("case" = i64, Path), ("If-Match" = Option<String>, Header, description = "The case's ETag as read (GET /v1/requests/{case}); if the case changed since, 412 stale-version and nothing is changed. Optional.")), request_body = AssignmentInput, security(("bearer" = [])),
    responses((status = 200, body = CaseView, headers(("ETag" = String, description = "The case's version after the change, e.g. \"c12-v7\""))), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 422, body = Problem), (status = 412, body = Problem, description = "stale-version: the case changed since the If-Match version; says what changed it, when and who")))]
pub(super) async fn assignment(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    Staff(user): Staff,
    if_match: IfMatch,
    body: Bytes,
) -> ApiResult<Response> {
    change_case(
        &node,
        case_id,
        &if_match,
        &body,
        |input: AssignmentInput, reply| Job::Assign {
            case_id,
            user,
            input,
            reply,
        },
    )
    .await
}

/// A case's internal notes, oldest first (staff, auditors included).
#[utoipa::path(get, path = "/v1/requests/{case}/notes", params(("case" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = CaseNotes), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub(super) async fn notes(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    // Staff only: a requesting authority never reads what staff wrote.
    _staff: Staff,
) -> ApiResult<Json<CaseNotes>> {
    Ok(Json(CaseNotes {
        case: case_id,
        notes: node.query().notes(case_id).await?,
    }))
}

/// Add an internal note to a case (reviewers and supervisors; auditors read only): 1 to 4,000
/// characters, not blank. Logged as `note.added`; never shown to the requesting authority nor in
/// the case's public record.
#[utoipa::path(post, path = "/v1/requests/{case}/notes", params(("case" = i64, Path), ("If-Match" = Option<String>, Header, description = "The case's ETag as read (GET /v1/requests/{case}); if the case changed since, 412 stale-version and nothing is changed. Optional.")), request_body = NoteInput, security(("bearer" = [])),
    responses((status = 201, body = Note, headers(("ETag" = String, description = "The case's version after the change, e.g. \"c12-v7\""))), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 422, body = Problem), (status = 412, body = Problem, description = "stale-version: the case changed since the If-Match version; says what changed it, when and who")))]
pub(super) async fn add_note(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    Staff(user): Staff,
    if_match: IfMatch,
    body: Bytes,
) -> ApiResult<Response> {
    if_match.check(&node, case_id).await?;
    let input: NoteInput = json_body(&body)?;
    let note = if_match
        .call(&node, case_id, |reply| Job::AddNote {
            case_id,
            user,
            input,
            reply,
        })
        .await?;
    tagged(&node, case_id, (StatusCode::CREATED, Json(note))).await
}
