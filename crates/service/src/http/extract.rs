//! Who is calling, as axum extractors over the `Authorization` header ([`crate::auth`]). A
//! handler names the caller it serves in its arguments and never sees the header; a refusal is
//! the same problem (401, 403, 503 busy) whichever handler it stops.
//!
//! * [`Caller`] — a person by API token (with the role the log gave them) or a requesting
//!   authority by its `Custos-JWS` proof.
//! * [`Staff`] — a person only; an authority is refused (403 `people-only`).
//! * [`SingleUseCaller`] — like [`Caller`], but an authority's proof must carry a `jti` the node
//!   has not seen (evidence downloads: each replay would be logged again).
//!
//! Put them after `Path` and `Query` in a handler's arguments: a malformed parameter is then
//! refused (400) before credentials are checked, as the API always did.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use custos_store::User;

use crate::auth::{self, Caller};
use crate::node::Node;
use crate::problem::Problem;

/// A person of the node, by API token, with the role the log gave them.
#[derive(Debug, Clone)]
pub struct Staff(pub User);

/// A caller whose proof, if an authority's, is admitted once only.
#[derive(Debug, Clone)]
pub struct SingleUseCaller(pub Caller);

async fn identify(parts: &Parts, node: &Node, single_use: bool) -> Result<Caller, Problem> {
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let (store, tokens, directory) = (&node.store, &node.tokens, &*node.directory);
    let (method, path) = (parts.method.as_str(), parts.uri.path());
    if single_use {
        auth::caller_single_use(store, tokens, directory, authorization, method, path).await
    } else {
        auth::caller(store, tokens, directory, authorization, method, path).await
    }
}

impl FromRequestParts<Arc<Node>> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, node: &Arc<Node>) -> Result<Self, Problem> {
        identify(parts, node, false).await
    }
}

impl FromRequestParts<Arc<Node>> for SingleUseCaller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, node: &Arc<Node>) -> Result<Self, Problem> {
        identify(parts, node, true).await.map(SingleUseCaller)
    }
}

impl FromRequestParts<Arc<Node>> for Staff {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, node: &Arc<Node>) -> Result<Self, Problem> {
        match identify(parts, node, false).await? {
            Caller::User(u) => Ok(Staff(u)),
            Caller::Authority(a) => Err(Problem::forbidden(
                "people-only",
                format!(
                    "{} is a requesting authority; this endpoint is for the node's reviewers",
                    a.name
                ),
            )),
        }
    }
}
