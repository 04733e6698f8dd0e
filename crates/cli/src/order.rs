//! The order that must follow an emergency: `custos send-order` (the requesting authority sends
//! it, signed with its key, as `custos withdraw` signs) and `custos request-deletion` (a reviewer,
//! after a missed order, asks the requester to delete what was handed over). The node checks
//! everything; these only build the body, send it and print the answer.

use std::path::Path;

use serde_json::json;

use crate::Failure;
use crate::client::{post_signed, read_key};

/// What `custos send-order` sends: the order behind the request, as the request format's
/// `authorization`.
pub struct OrderArgs<'a> {
    pub server: &'a str,
    pub key: &'a Path,
    pub case: i64,
    pub request_id: &'a str,
    pub kind: &'a str,
    pub reference: &'a str,
    pub issued_by: Option<&'a str>,
    pub issued_at: Option<jiff::Timestamp>,
}

/// `custos send-order`: signs `{request_id, authorization}` with the authority's key and POSTs it
/// to `/v1/requests/{case}/order`; prints the node's reply (with `order.received_at`).
pub fn send_order(a: &OrderArgs<'_>) -> Result<(), Failure> {
    let key = read_key(a.key)?;
    let mut authorization = json!({ "kind": a.kind, "reference": a.reference });
    if let Some(by) = a.issued_by {
        authorization["issued_by"] = by.into();
    }
    if let Some(at) = a.issued_at {
        authorization["issued_at"] = at.to_string().into();
    }
    let payload = serde_json::to_vec(&json!({
        "request_id": a.request_id, "authorization": authorization,
    }))
    .map_err(|e| Failure::Setup(e.into()))?;
    let jws = custos_jose::sign_compact(&payload, &key, Some("custos.order+jws"));
    post_signed(
        a.server,
        &format!("/v1/requests/{}/order", a.case),
        jws,
        "the order",
    )
}

/// `custos request-deletion`: a reviewer asks the requester of `case_id` to delete what was
/// handed over, after its order was missed; prints the case as the node records it.
pub fn request_deletion(
    server: &str,
    token_file: &Path,
    case_id: i64,
    message: &str,
) -> Result<(), Failure> {
    crate::staff::post::<custos_service::wire::CaseView>(
        server,
        token_file,
        &format!("/v1/requests/{case_id}/deletion-request"),
        &json!({ "message": message }),
        "deletion request",
    )
}
