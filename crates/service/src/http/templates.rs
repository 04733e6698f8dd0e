//! `GET /v1/templates`: the reply templates per ground in force on the node (staff only).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;

use super::extract::Staff;
use crate::node::Node;
use crate::problem::Problem;
use crate::templates::{TemplateList, templates};

/// The reply templates in force, one per ground (a finding's code): the node's `[templates]`
/// over the built-in words. A reviewer starts a refusal's reason or a request for
/// information's message from one; what is recorded is what the reviewer sends.
#[utoipa::path(get, path = "/v1/templates", operation_id = "list_templates", security(("bearer" = [])),
    responses((status = 200, body = TemplateList), (status = 403, body = Problem)))]
pub async fn list(State(node): State<Arc<Node>>, _staff: Staff) -> Json<TemplateList> {
    Json(TemplateList {
        templates: templates(&node.config.templates),
    })
}
