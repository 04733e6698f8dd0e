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
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use custos_store::User;

use crate::auth::{self, Caller};
use crate::node::Node;
use crate::problem::Problem;
use crate::writer::Job;

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

/// The `If-Match` a staff change of a case may carry: the `ETag` of the case as the caller read
/// it (`GET /v1/requests/{case}`). Without it the change is made as always; with a superseded
/// one it is refused (412 `stale-version`) before anything else about it is looked at.
#[derive(Debug, Clone, Default)]
pub struct IfMatch(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        match parts.headers.get(header::IF_MATCH) {
            None => Ok(IfMatch(None)),
            Some(v) => v
                .to_str()
                .map(|v| IfMatch(Some(v.trim().to_owned())))
                .map_err(|_| {
                    Problem::bad_request(
                        "if-match",
                        "If-Match is not ASCII; send the ETag the case was read with, e.g. \"c12-v7\"",
                    )
                }),
        }
    }
}

impl IfMatch {
    /// Refuses now (412) a change of `case_id` whose version is already superseded, so that the
    /// staleness is said before the body's or the case's own refusals (400, 409, 422). Not the
    /// check that counts: [`IfMatch::call`] checks again in the writer's batch.
    pub async fn check(&self, node: &Node, case_id: i64) -> Result<(), Problem> {
        match &self.0 {
            None => Ok(()),
            Some(tag) => match node.store.case_version(case_id).await? {
                Some(seq) if !crate::ops::version::matches(case_id, tag, seq) => {
                    Err(crate::ops::version::stale(
                        case_id,
                        tag,
                        &node.store.case_events(case_id).await?,
                    ))
                }
                _ => Ok(()),
            },
        }
    }

    /// Runs the writer's job `make` builds, made only if the case is still at this version.
    pub async fn call<T>(
        &self,
        node: &Node,
        case_id: i64,
        make: impl FnOnce(crate::writer::Reply<T>) -> Job,
    ) -> Result<T, Problem> {
        node.writer
            .call(|reply| match &self.0 {
                None => make(reply),
                Some(tag) => Job::IfMatch {
                    case_id,
                    if_match: tag.clone(),
                    job: Box::new(make(reply)),
                },
            })
            .await
    }
}

/// Answers `body` with the `ETag` of case `case_id` as it now stands (its version, no person).
pub async fn tagged(
    node: &Node,
    case_id: i64,
    body: impl IntoResponse,
) -> Result<Response, Problem> {
    let version = node.store.case_version(case_id).await?;
    let mut resp = body.into_response();
    if let Some(tag) =
        version.and_then(|seq| HeaderValue::from_str(&crate::ops::version::etag(case_id, seq)).ok())
    {
        resp.headers_mut().insert(header::ETAG, tag);
    }
    Ok(resp)
}
