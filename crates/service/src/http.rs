//! The HTTP API: signed intake, the case API for people, the log in C2SP formats, and the
//! OpenAPI document. Every refusal is an RFC 9457 problem ([`Problem`]).

use std::sync::Arc;

use crate::ops::Case;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use custos_ledger::tiles::{Tile, TilePath, encode_bundle};
use custos_model::parse_request;
use custos_store::CaseStatus;
use jiff::Timestamp;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa::OpenApi;

use crate::auth::Caller;
use crate::node::Node;
use crate::ops::{DecisionInput, Freshness, SecondReviewInput, Submission, SubmitOutcome};
use crate::problem::{FieldProblem, Problem};
use crate::query::CaseQuery;
use crate::wire::{
    AuthorityView, CaseEvents, CaseView, ConsistencyProof, EventView, HoldView, InclusionProof,
    Jwk, LoggedEvent, NoticeView,
};
use crate::writer::Job;

pub mod evidence;
pub mod extensions;
pub mod extract;

pub use extract::{SingleUseCaller, Staff};

/// The OpenAPI 3.1 description of the API, generated from the handlers below.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Custos node API",
        description = "Signed intake of requests for electronic evidence, their lifecycle, and the node's tamper-evident log."
    ),
    paths(
        submit,
        list_requests,
        get_request,
        request_events,
        decide,
        second_review,
        mark_delivered,
        mark_closed,
        renew_hold,
        list_holds,
        list_notices,
        extensions::request,
        extensions::of_case,
        extensions::pending,
        extensions::decide,
        extensions::notice,
        evidence::list,
        evidence::upload,
        evidence::fetch,
        list_authorities,
        checkpoint,
        tile,
        inclusion,
        consistency,
        verifier
    ),
    components(schemas(
        Problem,
        FieldProblem,
        DecisionInput,
        crate::ops::DecisionKind,
        crate::ops::NarrowedTerms,
        crate::ops::RecordedDecision,
        SecondReviewInput,
        CaseView,
        CaseEvents,
        EventView,
        LoggedEvent,
        HoldView,
        NoticeView,
        crate::wire::ExtensionView,
        crate::ops::ExtensionInput,
        crate::ops::ExtensionDecisionInput,
        crate::ops::NoticeDocument,
        AuthorityView,
        Jwk,
        crate::wire::EvidenceList,
        crate::wire::EvidencePackage,
        crate::wire::EvidenceReceipt,
        crate::wire::Opening,
        InclusionProof,
        ConsistencyProof,
        crate::wire::schema::Assessment,
        crate::wire::schema::Finding,
        crate::wire::schema::Narrowed,
        crate::wire::schema::Deadlines
    )),
    modifiers(&Contract)
)]
pub struct ApiDoc;

/// What the handlers' annotations share, added to the generated document: the two ways to
/// authenticate, problems served as `application/problem+json`, a 400 wherever a parameter or
/// body can fail to parse (axum's rejections become problems in [`problem_for_plain_errors`]),
/// a 401 wherever a caller must authenticate, and a 503 with `Retry-After` wherever a token may
/// be checked (Argon2 runs behind [`crate::auth::Argon2Gate`], which answers "busy" when full).
struct Contract;

impl utoipa::Modify for Contract {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::header::HeaderBuilder;
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A person's API token (`custos user add`): `Authorization: Bearer cst.<name>.<secret>`",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "custos_jws",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "A requesting authority's proof: `Custos-JWS <compact JWS>` signed with its registered key over `{\"htm\": method, \"htu\": path, \"iat\": seconds}`",
            ))),
        );
        let problem_response = |description: &str| {
            ResponseBuilder::new().description(description).content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
        };
        let problem = |description: &str| RefOr::T(problem_response(description).build());
        let busy = || {
            let seconds = HeaderBuilder::new()
                .schema(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(0)),
                )
                .description(Some("Seconds to wait before retrying"))
                .build();
            RefOr::T(
                problem_response(
                    "Busy checking passwords and tokens; retry after `Retry-After` seconds",
                )
                .header("Retry-After", seconds)
                .build(),
            )
        };
        let problem_ref = Ref::from_schema_name("Problem").ref_location;
        for item in doc.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
                &mut item.trace,
            ];
            for op in ops.into_iter().flatten() {
                let takes_input = op.parameters.as_ref().is_some_and(|p| !p.is_empty())
                    || op.request_body.is_some();
                let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
                // A requirement's scheme names are private to utoipa; its JSON form shows them.
                let bearer = op.security.iter().flatten().any(|r| {
                    serde_json::to_value(r)
                        .is_ok_and(|v| v.as_object().is_some_and(|o| o.contains_key("bearer")))
                });
                let responses = &mut op.responses.responses;
                if takes_input {
                    responses
                        .entry("400".into())
                        .or_insert_with(|| problem("A parameter or the body is not valid"));
                }
                if secured {
                    responses.entry("401".into()).or_insert_with(|| {
                        problem("No credentials, or credentials the node does not accept")
                    });
                }
                if bearer {
                    responses.entry("503".into()).or_insert_with(busy);
                }
                for response in responses.values_mut() {
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    response.content = std::mem::take(&mut response.content)
                        .into_iter()
                        .map(|(media, content)| {
                            let is_problem = matches!(&content.schema,
                                Some(RefOr::Ref(r)) if r.ref_location == problem_ref);
                            if media == "application/json" && is_problem {
                                ("application/problem+json".to_owned(), content)
                            } else {
                                (media, content)
                            }
                        })
                        .collect();
                }
            }
        }
    }
}

/// Builds the router.
pub fn router(node: Arc<Node>) -> Router {
    let limit = node.config.intake.max_body_bytes;
    Router::new()
        .route("/v1/requests", post(submit).get(list_requests))
        .route("/v1/requests/{case}", get(get_request))
        .route("/v1/requests/{case}/events", get(request_events))
        .route("/v1/requests/{case}/decision", post(decide))
        .route("/v1/requests/{case}/second-review", post(second_review))
        .route("/v1/requests/{case}/delivered", post(mark_delivered))
        .route("/v1/requests/{case}/closed", post(mark_closed))
        .route("/v1/requests/{case}/hold/renew", post(renew_hold))
        .route(
            "/v1/requests/{case}/evidence",
            get(evidence::list).post(evidence::upload),
        )
        .route(
            "/v1/requests/{case}/evidence/{sha256}",
            get(evidence::fetch),
        )
        .route(
            "/v1/requests/{case}/extensions",
            get(extensions::of_case).post(extensions::request),
        )
        .route(
            "/v1/requests/{case}/extensions/{extension}/decision",
            post(extensions::decide),
        )
        .route("/v1/requests/{case}/notice", get(extensions::notice))
        .route("/v1/extensions", get(extensions::pending))
        .route("/v1/holds", get(list_holds))
        .route("/v1/notices", get(list_notices))
        .route("/v1/authorities", get(list_authorities))
        .route("/log/checkpoint", get(checkpoint))
        .route("/log/tile/{*path}", get(tile))
        .route("/v1/log/inclusion", get(inclusion))
        .route("/v1/log/consistency", get(consistency))
        .route("/v1/log/verifier", get(verifier))
        .route("/openapi.json", get(openapi))
        .route("/healthz", get(|| async { "ok\n" }))
        .fallback(|uri: Uri| async move {
            Problem::not_found(format!(
                "{} is not a Custos endpoint; see /openapi.json",
                uri.path()
            ))
        })
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::map_response(problem_for_plain_errors))
        .with_state(node)
}

/// Turns the error responses axum makes itself (a path or query parameter that does not parse,
/// a method the route does not have) into problem documents, so that every refusal is one.
async fn problem_for_plain_errors(method: Method, uri: Uri, mut resp: Response) -> Response {
    let status = resp.status();
    // RFC 9110 §15.5.2: a 401 carries the challenge of each scheme the API accepts.
    if status == StatusCode::UNAUTHORIZED && !resp.headers().contains_key(header::WWW_AUTHENTICATE)
    {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"custos\", Custos-JWS realm=\"custos\""),
        );
    }
    let is_problem = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let (slug, title) = match status {
        StatusCode::METHOD_NOT_ALLOWED => ("method-not-allowed", "Method not allowed"),
        StatusCode::BAD_REQUEST => ("invalid-parameter", "Bad request"),
        _ => ("http-error", status.canonical_reason().unwrap_or("Error")),
    };
    let detail = match status {
        StatusCode::METHOD_NOT_ALLOWED => format!(
            "{method} is not allowed on {}; the Allow header lists what is (see /openapi.json)",
            uri.path()
        ),
        _ if text.is_empty() => format!("{method} {}: {status}", uri.path()),
        _ => text,
    };
    let mut out = Problem::new(status, slug, title, detail).into_response();
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(v) = parts.headers.get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out
}

type ApiResult<T> = Result<T, Problem>;

/// A stored record the node cannot show: its own data, so a 500, never the client's fault.
fn unreadable(what: &str, e: impl std::fmt::Display) -> Problem {
    tracing::error!(error = %e, "stored {what} unreadable");
    Problem::internal(format!(
        "the node could not read its stored {what}; tell its operator (this is logged)"
    ))
}

fn parse_stored<T: serde::de::DeserializeOwned>(what: &str, json: &str) -> ApiResult<T> {
    serde_json::from_str(json).map_err(|e| unreadable(what, e))
}

/// A word of the vocabulary (channel, event type) by the wire name the store keeps.
fn stored_name<T: serde::de::DeserializeOwned>(what: &str, name: &str) -> ApiResult<T> {
    serde_json::from_value(serde_json::Value::String(name.to_owned()))
        .map_err(|e| unreadable(what, e))
}

fn case_view(c: &Case) -> ApiResult<CaseView> {
    Ok(CaseView {
        case: c.case_id,
        request_id: c.request_id.clone(),
        authority: c.authority_kid.clone(),
        status: c.status.as_str().into(),
        outcome: c.outcome,
        measure: c.measure,
        requesting_state: c.requesting_state.clone(),
        channel: c.channel,
        emergency: c.emergency,
        received_at: c.received_at,
        respond_by: c.respond_by,
        assessment: c.assessment.clone(),
        decision: c.decision.clone(),
        pending_decision: c.pending_decision.clone(),
    })
}

fn body_problem(r: BytesRejection) -> Problem {
    let status = r.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        Problem::new(
            status,
            "too-large",
            "Body too large",
            "the body exceeds the node's limit (intake.max_body_bytes, 1 MiB by default); nothing was recorded",
        )
    } else {
        Problem::new(status, "unreadable-body", "Unreadable body", r.body_text())
    }
}

/// A compact JWS: `header.payload.signature`, each part base64url without padding.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, pattern = r"^\s*[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\s*$")]
pub struct CompactJws(pub String);

/// Submit a signed request.
///
/// The body is a compact JWS (`alg: EdDSA`, `kid` = RFC 7638 thumbprint of a registered key)
/// whose payload is a `custos.request/v1` document. The signature is checked before anything
/// else. The same payload again returns the existing case (200); a different payload under the
/// same id is refused (409) unless the node awaits information on it, in which case it is a
/// supplement and is re-assessed (200).
#[utoipa::path(post, path = "/v1/requests", request_body(content = CompactJws, content_type = "application/jose"),
    responses((status = 201, body = CaseView, description = "Received and assessed"), (status = 200, body = CaseView, description = "Already received, or supplemented"),
              (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem),
              (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
async fn submit(
    State(node): State<Arc<Node>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let body = body.map_err(body_problem)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // Media types are case-insensitive (RFC 9110 §8.3.1).
    if !content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/jose"))
    {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "media-type",
            "Unsupported media type",
            format!(
                "send the request as a compact JWS with Content-Type: application/jose (got {content_type:?})"
            ),
        ));
    }
    let jws = std::str::from_utf8(&body)
        .map_err(|_| {
            Problem::bad_request("malformed-jws", "a compact JWS is ASCII; the body is not")
        })?
        .trim();
    // 1. Signature first: nothing of the payload is read before it verifies.
    let (authority, payload) = node.directory.verify(jws).await?;
    // 2. The payload must be a valid request.
    let request = parse_request(&payload).map_err(|invalid| {
        let mut p = Problem::unprocessable(
            "invalid-request",
            format!(
                "the signed request is not a valid custos.request/v1 document: {}",
                invalid
                    .problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        );
        p.errors = invalid
            .problems
            .iter()
            .map(|x| FieldProblem {
                pointer: x.path.clone(),
                detail: x.message.clone(),
            })
            .collect();
        p
    })?;
    // 3. The intake rules: the key's state and channels, the replay window, future dating.
    let now = Timestamp::now();
    let intake = &node.config.intake;
    let window = Freshness {
        max_age_seconds: intake.max_age_seconds,
        max_future_seconds: intake.max_future_seconds,
    };
    crate::ops::admit(&request, &authority, now, window)?;
    // 4. Assess and record.
    let assessment = node.assessor.assess(&request, now).map_err(|e| {
        tracing::error!(error = %e, "assessment failed");
        Problem::internal(
            "the safeguards engine failed on this request (fail closed); nothing was recorded",
        )
    })?;
    let submission = Submission {
        authority,
        payload_sha256: custos_ledger::Hash(Sha256::digest(&payload).into()),
        payload: String::from_utf8(payload)
            .map_err(|_| Problem::bad_request("invalid-request", "the payload is not UTF-8"))?,
        request,
        jws: jws.to_owned(),
        assessment,
        received_at: now,
    };
    let outcome = node
        .writer
        .call(|tx| Job::Submit(Box::new(submission), tx))
        .await?;
    let (status, case) = match outcome {
        SubmitOutcome::Created(c) => (StatusCode::CREATED, c),
        SubmitOutcome::Repeated(c) | SubmitOutcome::Supplemented(c) => (StatusCode::OK, c),
    };
    let mut resp = (status, Json(case_view(&case)?)).into_response();
    if let Ok(loc) = HeaderValue::from_str(&format!("/v1/requests/{}", case.case_id)) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

/// The case `case_id` if `caller` may see it: people see every case, an authority its own.
async fn visible_case(node: &Node, caller: &Caller, case_id: i64) -> ApiResult<Case> {
    let case = node.store.case(case_id).await?;
    match (case, caller) {
        (Some(c), Caller::User(_)) => Ok(c),
        (Some(c), Caller::Authority(a)) if c.authority_kid == a.kid => Ok(c),
        // An authority learns nothing about other authorities' cases, not even that they exist.
        _ => Err(Problem::not_found(format!(
            "there is no case {case_id} visible to you"
        ))),
    }
}

/// Most requests `GET /v1/requests` returns at once (and its default).
pub const MAX_LIST_LIMIT: u32 = 500;

/// List requests, soonest deadline first. Authorities see only their own. A filter the list
/// does not know, or a value it cannot take, is refused (400), never answered with `[]`.
#[utoipa::path(get, path = "/v1/requests", params(CaseQuery),
    security(("bearer" = []), ("custos_jws" = [])), responses((status = 200, body = Vec<CaseView>), (status = 400, body = Problem)))]
async fn list_requests(
    State(node): State<Arc<Node>>,
    RawQuery(q): RawQuery,
    caller: Caller,
) -> ApiResult<Json<Vec<CaseView>>> {
    let q = CaseQuery::parse(q.as_deref().unwrap_or(""))?;
    let limit = q.limit.unwrap_or(MAX_LIST_LIMIT);
    if limit > MAX_LIST_LIMIT {
        return Err(Problem::bad_request(
            "limit-too-large",
            format!("limit={limit}: at most {MAX_LIST_LIMIT} requests a page; page on with offset"),
        ));
    }
    let only_from = match &caller {
        Caller::Authority(a) => Some(a.kid.as_str()),
        Caller::User(_) => None,
    };
    let q = CaseQuery {
        limit: Some(limit),
        ..q
    };
    let cases = node.query().cases(&q, only_from).await?;
    Ok(Json(cases.iter().map(case_view).collect::<ApiResult<_>>()?))
}

/// One request.
#[utoipa::path(get, path = "/v1/requests/{case}", params(("case" = i64, Path)), security(("bearer" = []), ("custos_jws" = [])),
    responses((status = 200, body = CaseView), (status = 404, body = Problem)))]
async fn get_request(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    caller: Caller,
) -> ApiResult<Json<CaseView>> {
    Ok(Json(case_view(
        &visible_case(&node, &caller, case_id).await?,
    )?))
}

/// The timeline of a request: its events with their log indexes (the full events for people,
/// types and times for the requesting authority).
#[utoipa::path(get, path = "/v1/requests/{case}/events", params(("case" = i64, Path)), security(("bearer" = []), ("custos_jws" = [])),
    responses((status = 200, body = CaseEvents), (status = 404, body = Problem)))]
async fn request_events(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    caller: Caller,
) -> ApiResult<Json<CaseEvents>> {
    visible_case(&node, &caller, case_id).await?;
    let published = node.log.published_size();
    let mut events = Vec::new();
    for e in node.store.case_events(case_id).await? {
        events.push(EventView {
            log_index: e.seq,
            kind: stored_name("event type", &e.event_type)?,
            at: e.at,
            inclusion_proof: (e.seq < published)
                .then(|| format!("/v1/log/inclusion?index={}&size={published}", e.seq)),
            event: match caller {
                Caller::User(_) => Some(parse_stored::<LoggedEvent>("event", &e.body)?),
                Caller::Authority(_) => None,
            },
        });
    }
    Ok(Json(CaseEvents {
        case: case_id,
        events,
    }))
}

/// Record a reviewer's decision.
#[utoipa::path(post, path = "/v1/requests/{case}/decision", params(("case" = i64, Path)), request_body = DecisionInput, security(("bearer" = [])),
    responses((status = 200, body = CaseView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 422, body = Problem)))]
async fn decide(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    Staff(user): Staff,
    body: Bytes,
) -> ApiResult<Json<CaseView>> {
    let input: DecisionInput = json_body(&body)?;
    let case = node
        .writer
        .call(|tx| Job::Decide {
            case_id,
            user,
            input,
            reply: tx,
        })
        .await?;
    Ok(Json(case_view(&case)?))
}

/// Confirm or reject a decision waiting for a second reviewer (supervisors only, not the
/// proposer).
#[utoipa::path(post, path = "/v1/requests/{case}/second-review", params(("case" = i64, Path)), request_body = SecondReviewInput, security(("bearer" = [])),
    responses((status = 200, body = CaseView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 422, body = Problem)))]
async fn second_review(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    Staff(user): Staff,
    body: Bytes,
) -> ApiResult<Json<CaseView>> {
    let input: SecondReviewInput = json_body(&body)?;
    let case = node
        .writer
        .call(|tx| Job::SecondReview {
            case_id,
            user,
            input,
            reply: tx,
        })
        .await?;
    Ok(Json(case_view(&case)?))
}

async fn advance(
    node: &Node,
    case_id: i64,
    user: custos_store::User,
    to: CaseStatus,
) -> ApiResult<Json<CaseView>> {
    let case = node
        .writer
        .call(|tx| Job::Advance {
            case_id,
            user,
            to,
            reply: tx,
        })
        .await?;
    Ok(Json(case_view(&case)?))
}

/// Mark an executed request delivered.
#[utoipa::path(post, path = "/v1/requests/{case}/delivered", params(("case" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = CaseView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn mark_delivered(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    Staff(user): Staff,
) -> ApiResult<Json<CaseView>> {
    advance(&node, case_id, user, CaseStatus::Delivered).await
}

/// Close a decided request.
#[utoipa::path(post, path = "/v1/requests/{case}/closed", params(("case" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = CaseView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn mark_closed(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    Staff(user): Staff,
) -> ApiResult<Json<CaseView>> {
    advance(&node, case_id, user, CaseStatus::Closed).await
}

/// Renew a preservation hold.
#[utoipa::path(post, path = "/v1/requests/{case}/hold/renew", params(("case" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = HoldView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn renew_hold(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    Staff(user): Staff,
) -> ApiResult<Json<HoldView>> {
    let h = node
        .writer
        .call(|tx| Job::Renew {
            case_id,
            user,
            reply: tx,
        })
        .await?;
    Ok(Json(hold_view(&h)))
}

fn hold_view(h: &custos_store::Hold) -> HoldView {
    HoldView {
        case: h.case_id,
        started_at: h.started_at,
        expires_at: h.expires_at,
        renewals: h.renewals,
    }
}

/// Preservation holds in force.
#[utoipa::path(get, path = "/v1/holds", security(("bearer" = [])), responses((status = 200, body = Vec<HoldView>), (status = 403, body = Problem)))]
async fn list_holds(State(node): State<Arc<Node>>, _: Staff) -> ApiResult<Json<Vec<HoldView>>> {
    let holds = node.store.active_holds().await?;
    Ok(Json(holds.iter().map(hold_view).collect()))
}

/// Notices owed to persons concerned: when each falls due, whether confidentiality has ended,
/// whether it was sent, and its delivery attempts (the last error, the next try).
#[utoipa::path(get, path = "/v1/notices", security(("bearer" = [])), responses((status = 200, body = Vec<NoticeView>), (status = 403, body = Problem)))]
async fn list_notices(State(node): State<Arc<Node>>, _: Staff) -> ApiResult<Json<Vec<NoticeView>>> {
    let now = Timestamp::now();
    let notices = node.store.notices().await?;
    Ok(Json(
        notices
            .iter()
            .map(|n| NoticeView {
                case: n.case_id,
                due_at: n.due_at,
                due: n.due_at <= now && n.sent_at.is_none(),
                confidentiality_ended_at: n.ended_at,
                sent_at: n.sent_at,
                attempts: n.attempts,
                last_error: n.last_error.clone(),
                last_attempt_at: n.last_attempt_at,
                next_attempt_at: crate::ops::next_attempt(n),
            })
            .collect(),
    ))
}

/// The directory of authorities (public keys only).
#[utoipa::path(get, path = "/v1/authorities", security(("bearer" = [])), responses((status = 200, body = Vec<AuthorityView>), (status = 403, body = Problem)))]
async fn list_authorities(
    State(node): State<Arc<Node>>,
    _: Staff,
) -> ApiResult<Json<Vec<AuthorityView>>> {
    let mut out = Vec::new();
    for a in node.store.authorities().await? {
        out.push(AuthorityView {
            channels: a
                .channels
                .iter()
                .map(|c| stored_name("channel", c))
                .collect::<ApiResult<_>>()?,
            jwk: parse_stored("key", &a.jwk)?,
            added_at: a.added_at,
            revoked_at: a.revoked_at,
            kid: a.kid,
            state: a.state,
            name: a.name,
            kind: a.kind,
            age_recipient: a.age_recipient,
        });
    }
    Ok(Json(out))
}

fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    /// The body must be a JSON object: serde would also read a struct from an array, by position.
    struct ObjectOnly<T>(T);
    impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectOnly<T> {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            custos_model::strict::object(d).map(ObjectOnly)
        }
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de)
        .map(|ObjectOnly(t)| t)
        .map_err(|e| {
            let path = e.path().to_string();
            // serde_path_to_error writes "." for the root and "?" where no position is known (an
            // empty or truncated body).
            let pointer = if path == "." || path == "?" {
                "$".to_owned()
            } else {
                format!("$.{path}")
            };
            let detail = e.inner().to_string();
            let mut p = Problem::bad_request("invalid-json", format!("{pointer}: {detail}"));
            p.errors.push(FieldProblem { pointer, detail });
            p
        })
}

fn text(body: String, cache: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    r
}

/// The latest checkpoint (C2SP tlog-checkpoint, signed note).
#[utoipa::path(get, path = "/log/checkpoint", responses((status = 200, body = String, content_type = "text/plain"), (status = 503, body = Problem)))]
async fn checkpoint(State(node): State<Arc<Node>>) -> ApiResult<Response> {
    let cp = node
        .log
        .checkpoint()
        .ok_or_else(|| Problem::unavailable("no checkpoint signed yet"))?;
    Ok(text(cp.note, "no-store"))
}

/// Hash tiles and entry bundles (C2SP tlog-tiles).
#[utoipa::path(get, path = "/log/tile/{path}", params(("path" = String, Path, description = "`<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`")),
    responses((status = 200, content_type = "application/octet-stream"), (status = 404, body = Problem)))]
async fn tile(State(node): State<Arc<Node>>, Path(path): Path<String>) -> ApiResult<Response> {
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
struct InclusionQuery {
    index: u64,
    size: Option<u64>,
}

/// Inclusion proof of the event at `index` in the tree of `size` leaves (default: the latest
/// checkpoint).
#[utoipa::path(get, path = "/v1/log/inclusion", params(("index" = u64, Query), ("size" = Option<u64>, Query)),
    responses((status = 200, body = InclusionProof), (status = 400, body = Problem)))]
async fn inclusion(
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
struct ConsistencyQuery {
    old: u64,
    new: Option<u64>,
}

/// Consistency proof between two tree sizes (default `new`: the latest checkpoint).
#[utoipa::path(get, path = "/v1/log/consistency", params(("old" = u64, Query, minimum = 1), ("new" = Option<u64>, Query)),
    responses((status = 200, body = ConsistencyProof), (status = 400, body = Problem)))]
async fn consistency(
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
async fn verifier(State(node): State<Arc<Node>>) -> Response {
    text(format!("{}\n", node.log.verifier()), "public, max-age=3600")
}

async fn openapi() -> Response {
    let doc = ApiDoc::openapi().to_pretty_json().unwrap_or_default();
    let mut r = doc.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::{Value, json};

    /// Where in `doc` a schema lacks a type: an `object` (or `{}`) with no properties, no
    /// reference, no composition and no typed additional properties. References are followed
    /// once each.
    fn untyped(doc: &Value, schema: &Value, at: &str, seen: &mut BTreeSet<String>) -> Vec<String> {
        let mut found = Vec::new();
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            let name = r.trim_start_matches("#/components/schemas/");
            if seen.insert(name.to_owned()) {
                let target = &doc["components"]["schemas"][name];
                if target.is_null() {
                    found.push(format!("{at}: dangling reference {r}"));
                }
                found.extend(untyped(doc, target, &format!("{at} → {name}"), seen));
            }
            return found;
        }
        let types: Vec<&str> = match &schema["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let composed = ["allOf", "anyOf", "oneOf"]
            .iter()
            .any(|k| schema.get(*k).is_some());
        let properties = schema["properties"].as_object();
        let typed_extra = schema["additionalProperties"].is_object();
        let shaped = composed
            || properties.is_some_and(|p| !p.is_empty())
            || typed_extra
            || schema.get("enum").is_some()
            || schema.get("const").is_some();
        if (types.is_empty() || types.contains(&"object")) && !shaped {
            found.push(format!("{at}: {schema}"));
        }
        for k in ["allOf", "anyOf", "oneOf"] {
            for (i, s) in schema[k].as_array().into_iter().flatten().enumerate() {
                found.extend(untyped(doc, s, &format!("{at}.{k}[{i}]"), seen));
            }
        }
        for (name, s) in properties.into_iter().flatten() {
            found.extend(untyped(doc, s, &format!("{at}.{name}"), seen));
        }
        if let Some(items) = schema.get("items") {
            found.extend(untyped(doc, items, &format!("{at}[]"), seen));
        }
        if typed_extra {
            found.extend(untyped(
                doc,
                &schema["additionalProperties"],
                &format!("{at}.*"),
                seen,
            ));
        }
        found
    }

    #[test]
    fn the_check_finds_untyped_objects() {
        let doc = json!({"components": {"schemas": {
            "Loose": {"type": "object"},
            "Wrapper": {"type": "object", "properties": {"inner": {"type": ["object", "null"]}}},
        }}});
        for (schema, expected) in [
            (json!({"type": "object"}), 1),
            (json!({}), 1),
            (json!({"$ref": "#/components/schemas/Loose"}), 1),
            (json!({"$ref": "#/components/schemas/Wrapper"}), 1),
            (json!({"type": "array", "items": {"type": "object"}}), 1),
            (json!({"oneOf": [{"type": "null"}, {"type": "object"}]}), 1),
            (json!({"type": "string"}), 0),
            (
                json!({"type": "object", "properties": {"a": {"type": "integer"}}}),
                0,
            ),
            (
                json!({"type": "object", "additionalProperties": {"type": "string"}}),
                0,
            ),
        ] {
            let found = untyped(&doc, &schema, "$", &mut BTreeSet::new());
            assert_eq!(found.len(), expected, "{schema}: {found:?}");
        }
    }

    /// Every answer of the node's own is described field by field in /openapi.json: no response
    /// body is an untyped object, however deep.
    #[tokio::test]
    async fn the_served_openapi_document_types_every_response_body() {
        let resp = super::openapi().await;
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("the document");
        let doc: Value = serde_json::from_slice(&bytes).expect("JSON");
        let mut found = Vec::new();
        let mut bodies = 0;
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("operations") {
                let responses = op["responses"].as_object().expect("responses");
                for (status, response) in responses {
                    for (media, content) in response["content"].as_object().into_iter().flatten() {
                        let Some(schema) = content.get("schema") else {
                            continue;
                        };
                        bodies += 1;
                        let at = format!("{method} {path} {status} {media}");
                        found.extend(untyped(&doc, schema, &at, &mut BTreeSet::new()));
                    }
                }
            }
        }
        assert!(
            bodies > 50,
            "only {bodies} response bodies: the walk missed some"
        );
        assert!(
            found.is_empty(),
            "untyped response schemas:\n{}",
            found.join("\n")
        );
    }

    /// Wherever a token may be checked, a 503 with `Retry-After` is documented.
    #[test]
    fn operations_with_tokens_document_busy() {
        let doc = serde_json::to_value(<super::ApiDoc as utoipa::OpenApi>::openapi())
            .expect("the document");
        let mut with_bearer = 0;
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("operations") {
                let bearer = op["security"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|r| r.get("bearer").is_some());
                let busy = &op["responses"]["503"];
                if bearer {
                    with_bearer += 1;
                    assert!(
                        busy["headers"]["Retry-After"].is_object(),
                        "{method} {path}: {busy}"
                    );
                }
            }
        }
        assert_eq!(with_bearer, 17, "operations people call with a token");
    }
}
