//! The node's log, served: the latest checkpoint and the tiles (C2SP tlog-checkpoint and
//! tlog-tiles), inclusion and consistency proofs as JSON, and the verifier key to check
//! checkpoints with. The tree and its proofs are `node.log` (`src/log.rs`).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use custos_ledger::tiles::{Tile, TilePath, encode_bundle};
use serde::Deserialize;

use super::{ApiResult, text};
use crate::node::Node;
use crate::problem::Problem;
use crate::wire::{ConsistencyProof, InclusionProof};

/// The latest checkpoint (C2SP tlog-checkpoint, signed note). With witnesses configured, the
/// newest checkpoint with a quorum of their cosignatures (C2SP tlog-cosignature): the node's
/// signature line, then the witnesses'; until there is one, the node's own latest.
#[utoipa::path(get, path = "/log/checkpoint", responses((status = 200, body = String, content_type = "text/plain"), (status = 503, body = Problem)))]
pub(super) async fn checkpoint(State(node): State<Arc<Node>>) -> ApiResult<Response> {
    let served = node
        .served_checkpoint()
        .ok_or_else(|| Problem::unavailable("no checkpoint signed yet"))?;
    Ok(text(served.note, "no-store"))
}

/// Hash tiles and entry bundles (C2SP tlog-tiles).
#[utoipa::path(get, path = "/log/tile/{path}", params(("path" = String, Path, description = "`<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`")),
    responses((status = 200, content_type = "application/octet-stream"), (status = 404, body = Problem)))]
pub(super) async fn tile(
    State(node): State<Arc<Node>>,
    Path(path): Path<String>,
) -> ApiResult<Response> {
    let parsed = Tile::parse_path(&format!("tile/{path}"))
        .map_err(|e| Problem::not_found(format!("tile/{path}: {e}")))?;
    let size = node.log.published_size();
    let (tile, entries) = match parsed {
        TilePath::Hashes(t) => (t, false),
        TilePath::Entries(t) => (t, true),
    };
    let first = tile.index() * 256;
    let end = first + u64::from(tile.width());
    let leaves_per_node = 1u64
        .checked_shl(8 * u32::from(tile.level()))
        .unwrap_or(u64::MAX);
    let covered = end.saturating_mul(leaves_per_node);
    if covered > size {
        return Err(Problem::not_found(format!(
            "tile/{path} lies beyond the published tree of {size} leaves"
        )));
    }
    let bytes = if entries {
        let leaves = node.store.leaves(first, end).await?;
        encode_bundle(&leaves).map_err(|e| Problem::internal(e.to_string()))?
    } else {
        node.log
            .tile(&tile)
            .map_err(|e| Problem::internal(e.to_string()))?
    };
    let mut r = bytes.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    // Full tiles never change; partial ones are superseded as the tree grows.
    let cache = if tile.is_partial() {
        "no-cache"
    } else {
        "public, max-age=31536000, immutable"
    };
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    Ok(r)
}

#[derive(Debug, Deserialize)]
pub(super) struct InclusionQuery {
    index: u64,
    size: Option<u64>,
}

/// Inclusion proof of the event at `index` in the tree of `size` leaves (default: the latest
/// checkpoint).
#[utoipa::path(get, path = "/v1/log/inclusion", params(("index" = u64, Query), ("size" = Option<u64>, Query)),
    responses((status = 200, body = InclusionProof), (status = 400, body = Problem)))]
pub(super) async fn inclusion(
    State(node): State<Arc<Node>>,
    Query(q): Query<InclusionQuery>,
) -> ApiResult<Json<InclusionProof>> {
    let published = node.log.published_size();
    let size = q.size.unwrap_or(published);
    if size > published || q.index >= size {
        return Err(Problem::bad_request(
            "out-of-range",
            format!(
                "index {} is not in a published tree of size {size} (latest checkpoint: {published})",
                q.index
            ),
        ));
    }
    let (leaf, proof) = node
        .log
        .inclusion(q.index, size)
        .map_err(|e| Problem::internal(e.to_string()))?;
    let leaf_data = node
        .store
        .leaves(q.index, q.index + 1)
        .await?
        .pop()
        .unwrap_or_default();
    Ok(Json(InclusionProof {
        index: q.index,
        size,
        leaf_hash: leaf,
        leaf: String::from_utf8_lossy(&leaf_data).into_owned(),
        root: node
            .log
            .root_at(size)
            .map_err(|e| Problem::internal(e.to_string()))?,
        proof: proof.path,
    }))
}

#[derive(Debug, Deserialize)]
pub(super) struct ConsistencyQuery {
    old: u64,
    new: Option<u64>,
}

/// Consistency proof between two tree sizes (default `new`: the latest checkpoint).
#[utoipa::path(get, path = "/v1/log/consistency", params(("old" = u64, Query, minimum = 1), ("new" = Option<u64>, Query)),
    responses((status = 200, body = ConsistencyProof), (status = 400, body = Problem)))]
pub(super) async fn consistency(
    State(node): State<Arc<Node>>,
    Query(q): Query<ConsistencyQuery>,
) -> ApiResult<Json<ConsistencyProof>> {
    let published = node.log.published_size();
    let new = q.new.unwrap_or(published);
    if new > published || q.old == 0 || q.old > new {
        return Err(Problem::bad_request(
            "out-of-range",
            format!(
                "need 0 < old ≤ new ≤ {published} (the latest checkpoint); got old={} new={new}",
                q.old
            ),
        ));
    }
    let proof = node
        .log
        .consistency(q.old, new)
        .map_err(|e| Problem::internal(e.to_string()))?;
    Ok(Json(ConsistencyProof {
        old: q.old,
        new,
        proof: proof.path,
    }))
}

/// The node's verifier key (C2SP signed-note form), to check checkpoints with.
#[utoipa::path(get, path = "/v1/log/verifier", responses((status = 200, body = String, content_type = "text/plain")))]
pub(super) async fn verifier(State(node): State<Arc<Node>>) -> Response {
    text(format!("{}\n", node.log.verifier()), "public, max-age=3600")
}
