//! `GET /v1/log/witnesses`: the witnesses that cosign the node's checkpoints, as its staff see
//! them (`cosigning.rs` keeps the state).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;

use super::extract::Staff;
use crate::node::Node;
use crate::problem::Problem;
use crate::wire::{WitnessView, WitnessesView};

/// The witnesses: what each last cosigned and when, its last failure, whether it reported a
/// split view, and the cosigned checkpoint served.
#[utoipa::path(get, path = "/v1/log/witnesses", security(("bearer" = [])),
    responses((status = 200, body = WitnessesView), (status = 403, body = Problem)))]
pub(super) async fn witnesses(State(node): State<Arc<Node>>, _: Staff) -> Json<WitnessesView> {
    let w = &node.witnesses;
    let cosigned = w.cosigned();
    Json(WitnessesView {
        quorum: w.quorum(),
        latest_size: node.log.published_size(),
        cosigned_size: cosigned.as_ref().map(|c| c.size),
        cosignatures: cosigned.as_ref().map_or(0, |c| c.cosignatures),
        witnesses: w
            .witnesses()
            .iter()
            .zip(w.states())
            .map(|(w, s)| WitnessView {
                name: w.name.clone(),
                url: w.url.clone(),
                vkey: w.key.to_string(),
                last_cosigned_size: s.cosigned_size,
                last_cosigned_at: s.cosigned_at,
                last_error: s.last_error,
                last_error_at: s.last_error_at,
                split_view: s.split_view,
                next_attempt_at: s.next_attempt_at,
            })
            .collect(),
    })
}
