//! RFC 9457 problem documents: every refusal says what is wrong, where, and what to do.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// Base of the `type` URIs of Custos problems.
pub const PROBLEM_BASE: &str = "https://custos.dev/problems/";

/// An RFC 9457 problem.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the kind.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What is wrong with this request and what to do.
    pub detail: String,
    /// Field-level problems, with JSONPath locations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
    /// Who last changed the case, and when (412 `stale-version` only): what superseded the
    /// version the caller sent in `If-Match`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed: Option<Box<LastChange>>,
    /// Seconds to wait before retrying, sent as `Retry-After` (not in the body).
    #[serde(skip)]
    pub retry_after: Option<u32>,
}

/// The latest change of a case, as its latest event records it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LastChange {
    /// The type of the case's latest event, e.g. `decision.recorded`.
    pub event: String,
    /// When it happened.
    #[schema(value_type = String, format = DateTime)]
    pub at: jiff::Timestamp,
    /// Its index in the log.
    pub log_index: u64,
    /// The person who made it, as the case's events record them; absent when the node made it
    /// (the scheduler) or the requesting authority did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// The case's current `ETag`, to read the case again and retry with.
    pub etag: String,
}

/// One problem at one place of the submitted document.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldProblem {
    /// JSONPath of the offending value, e.g. `$.targets[0].value`.
    pub pointer: String,
    /// What is wrong there.
    pub detail: String,
}

impl Problem {
    /// A problem of kind `slug` (appended to [`PROBLEM_BASE`]).
    pub fn new(status: StatusCode, slug: &str, title: &str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("{PROBLEM_BASE}{slug}"),
            title: title.into(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
            changed: None,
            retry_after: None,
        }
    }

    /// 400: the body or a parameter is unusable.
    pub fn bad_request(slug: &str, detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, slug, "Bad request", detail)
    }

    /// 401: who are you?
    pub fn unauthorized(slug: &str, detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::UNAUTHORIZED, slug, "Not authenticated", detail)
    }

    /// 403: known, but not allowed.
    pub fn forbidden(slug: &str, detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::FORBIDDEN, slug, "Forbidden", detail)
    }

    /// 404.
    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    /// 409: conflicts with what the node already holds.
    pub fn conflict(slug: &str, detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::CONFLICT, slug, "Conflict", detail)
    }

    /// 422: well-formed, but not acceptable.
    pub fn unprocessable(slug: &str, detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            slug,
            "Unprocessable request",
            detail,
        )
    }

    /// 500, without internals (they go to the log).
    pub fn internal(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            detail,
        )
    }

    /// 503 with `Retry-After`: the node is saturated for now, not broken.
    pub fn busy(detail: impl Into<String>, retry_after_seconds: u64) -> Problem {
        let mut p = Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "Service busy",
            detail,
        );
        // Kept as u32 so that a problem stays small (it is every result's error).
        p.retry_after = Some(u32::try_from(retry_after_seconds).unwrap_or(u32::MAX));
        p
    }

    /// 503.
    pub fn unavailable(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            detail,
        )
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.title, self.detail)
    }
}

impl std::error::Error for Problem {}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        resp
    }
}

impl From<custos_store::StoreError> for Problem {
    fn from(e: custos_store::StoreError) -> Problem {
        if e.is_unavailable() {
            // The server is down or restarting: nothing was changed, and a retry will do.
            tracing::warn!(error = %e, "database unavailable");
            let mut p = Problem::unavailable(
                "the node's database is unavailable; nothing was changed. Retry after the time given.",
            );
            p.retry_after = Some(2);
            return p;
        }
        tracing::error!(error = %e, "store error");
        Problem::internal("the node's database failed; the change was not made. Retry later.")
    }
}
