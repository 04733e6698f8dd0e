//! What a requester's supplements changed (issue 16): `GET /v1/requests/{case}/supplements`,
//! staff only, since a change may name a target identifier.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};

use super::ApiResult;
use super::extract::Staff;
use super::requests::visible_case;
use crate::auth::Caller;
use crate::node::Node;
use crate::problem::Problem;
use crate::wire::SupplementView;

/// The supplements of a request, oldest first, each with the fields it changed against the
/// document it replaced (JSON pointers, old and new values; targets matched by value). The
/// response deadline restarted at each. Staff only (403 for a requesting authority).
#[utoipa::path(get, path = "/v1/requests/{case}/supplements", params(("case" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<SupplementView>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub(crate) async fn of_case(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    Staff(user): Staff,
) -> ApiResult<Json<Vec<SupplementView>>> {
    visible_case(&node, &Caller::User(user), case_id).await?;
    let list = node.query().supplements(case_id).await?;
    Ok(Json(list.iter().map(SupplementView::of).collect()))
}
