//! Transparency reports served to anyone (issue 14): `GET /transparency/report.json` and
//! `/transparency/report.csv`, `?from=YYYY-MM-DD&to=YYYY-MM-DD` (inclusive). Without `exact`
//! they are public: the period's published report, publishing it first if nobody asked before
//! (`Node::public_report`); cacheable for good, since published figures never change.
//! `&exact=true` is the exact table, for a person with a token (auditor or higher): it spends
//! nothing and is never cached.

use std::sync::Arc;

use axum::extract::{FromRequestParts, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use custos_transparency::{Period, Report};

use super::ApiResult;
use super::extract::Staff;
use crate::node::Node;
use crate::problem::{FieldProblem, Problem};

/// The parameters as the OpenAPI document describes them (read by [`ReportRequest`]).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // only its schema is read: `ReportRequest` parses the query
pub(super) struct ReportParams {
    /// First day, YYYY-MM-DD (inclusive).
    #[param(format = Date, pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    from: String,
    /// Last day, YYYY-MM-DD (inclusive), on or after `from`, before today (UTC).
    #[param(format = Date, pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    to: String,
    /// The exact table: needs a person's token (auditor or higher); spends nothing.
    exact: Option<bool>,
}

/// The parameters of a report request, read before any credentials: a bad date is a 400
/// naming it; `exact=true` then needs a person's token.
pub(super) struct ReportRequest {
    period: Period,
    exact: bool,
}

fn parameter(name: &str, detail: String) -> Problem {
    let mut p = Problem::bad_request("invalid-parameter", format!("`{name}`: {detail}"));
    p.errors.push(FieldProblem {
        pointer: name.to_owned(),
        detail,
    });
    p
}

impl FromRequestParts<Arc<Node>> for ReportRequest {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, node: &Arc<Node>) -> Result<Self, Problem> {
        let RawQuery(query) = RawQuery::from_request_parts(parts, node)
            .await
            .unwrap_or(RawQuery(None));
        let (mut from, mut to, mut exact) = (None, None, None);
        for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let slot = match k.as_ref() {
                "from" => &mut from,
                "to" => &mut to,
                "exact" => &mut exact,
                other => {
                    return Err(parameter(
                        other,
                        "unknown parameter; a report takes `from`, `to` (YYYY-MM-DD, inclusive) \
                         and `exact` (true or false)"
                            .into(),
                    ));
                }
            };
            if slot.replace(v.into_owned()).is_some() {
                return Err(parameter(&k, "given twice".into()));
            }
        }
        let need = |name: &str, v: Option<String>| {
            v.ok_or_else(|| parameter(name, "missing; expected a date, YYYY-MM-DD".into()))
        };
        let (from, to) = (need("from", from)?, need("to", to)?);
        let period =
            Period::parse(&from, &to).map_err(|e| parameter(e.parameter(), e.to_string()))?;
        let exact = match exact.as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(parameter(
                    "exact",
                    format!("{other:?} is neither true nor false"),
                ));
            }
        };
        if exact {
            // Exact figures are never public: a person's token, any role (auditor or higher).
            if !parts.headers.contains_key(header::AUTHORIZATION) {
                return Err(Problem::forbidden(
                    "exact-needs-auditor",
                    "exact figures are for the node's staff (auditor or higher): send a \
                     person's API token, or leave out `exact` for the published report",
                ));
            }
            let Staff(_) = Staff::from_request_parts(parts, node).await?;
        }
        Ok(ReportRequest { period, exact })
    }
}

async fn report_of(node: &Node, r: &ReportRequest) -> Result<Report, Problem> {
    if r.exact {
        node.exact_report(r.period).await
    } else {
        node.public_report(r.period).await
    }
}

fn with_caching(mut resp: Response, exact: bool) -> Response {
    let cache = if exact {
        "no-store"
    } else {
        // Published once, never changed.
        "public, max-age=31536000, immutable"
    };
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    resp
}

/// A period's transparency report (`custos.transparency/v1`), published with differential
/// privacy the first time it is asked for, the same figures ever after.
#[utoipa::path(get, path = "/transparency/report.json",
    params(ReportParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = Report, description = "The report; cacheable for good unless exact"),
        (status = 403, body = Problem, description = "exact without a person's token"),
        (status = 409, body = Problem, description = "The privacy budget does not allow a new report"),
        (status = 422, body = Problem, description = "The period has not ended"),
        (status = 429, body = Problem, description = "Too many new reports today at the public's request"),
    ))]
pub(super) async fn report_json(
    State(node): State<Arc<Node>>,
    r: ReportRequest,
) -> ApiResult<Response> {
    let report = report_of(&node, &r).await?;
    Ok(with_caching(axum::Json(report).into_response(), r.exact))
}

/// The same report as CSV (`section,key,value`).
#[utoipa::path(get, path = "/transparency/report.csv",
    params(ReportParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = String, content_type = "text/csv", description = "One row per figure: section, key, value"),
        (status = 403, body = Problem, description = "exact without a person's token"),
        (status = 409, body = Problem, description = "The privacy budget does not allow a new report"),
        (status = 422, body = Problem, description = "The period has not ended"),
        (status = 429, body = Problem, description = "Too many new reports today at the public's request"),
    ))]
pub(super) async fn report_csv(
    State(node): State<Arc<Node>>,
    r: ReportRequest,
) -> ApiResult<Response> {
    let report = report_of(&node, &r).await?;
    let mut resp = custos_transparency::csv::to_csv(&report).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    Ok(with_caching(resp, r.exact))
}
