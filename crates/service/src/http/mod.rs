//! The HTTP API: signed intake, the case API for people, the log in C2SP formats, and the
//! OpenAPI document. Every refusal is an RFC 9457 problem ([`Problem`]).
//!
//! This file holds the router (every route in one place), the OpenAPI document ([`ApiDoc`]),
//! the turning of axum's own errors into problems, and the helpers the handlers share. The
//! handlers live by theme:
//!
//! * `requests.rs` — intake, the case list, one case, its timeline, and the reviewers' steps
//!   (decision, second review, delivered, closed, hold renewal, postponement, consultation), and the requester's signed withdrawal
//!   and answers to consultations.
//! * `directory.rs` — the lists of holds, notices and authorities.
//! * `log.rs` — the checkpoint, tiles, inclusion and consistency proofs, the verifier key.
//! * [`evidence`] — a case's evidence packages: list, hand-over, upload.
//! * `extensions.rs` — requests to extend a deadline (the authority's, signed) and their
//!   decision by a reviewer; the notice to the person concerned as it would be sent.
//! * `conditions.rs` — the requesting authority's signed acceptance of an execution's conditions.
//! * `desk.rs` — staff's own work on a case: taking and releasing it, internal notes.
//! * [`transparency`] — the public record of each case once its secrecy ends, as JSON (the
//!   console routes the paths and answers HTML to browsers).
//! * [`extract`] — who is calling, as axum extractors.
//! * [`attachments`] — a case's attachments (staff only): upload, list, checked download;
//!   `templates.rs` — the reply templates per ground (`GET /v1/templates`).

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use utoipa::OpenApi;

use crate::node::Node;
use crate::ops::{DecisionInput, ReclassificationInput, SecondReviewInput};
use crate::problem::{FieldProblem, Problem};
use crate::wire::{
    AuthorityView, CaseEvents, CaseView, ConsistencyProof, EventView, HoldView, InclusionProof,
    Jwk, LoggedEvent, NoticeView,
};

pub mod attachments;
mod conditions;
mod desk;
mod directory;
mod emergency;
pub mod evidence;
mod extensions;
pub mod extract;
mod log;
mod order;
mod report;
mod requests;
mod supplements;
mod templates;
pub mod transparency;
mod witnesses;

pub use extract::{SingleUseCaller, Staff};
pub use requests::{CompactJws, MAX_LIST_LIMIT};

// `ApiDoc` lists these handlers by their `__path_*` twins, unqualified: utoipa tags an operation
// listed as `module::handler` with the module's name, and the document keeps the tags it had.
use self::directory::{
    __path_authority, __path_list_authorities, __path_list_holds, __path_list_notices,
};
use self::log::{
    __path_checkpoint, __path_consistency, __path_inclusion, __path_tile, __path_verifier,
};
use self::requests::{
    __path_answer_consultation, __path_consult, __path_consultation, __path_decide,
    __path_get_request, __path_list_requests, __path_mark_closed, __path_mark_delivered,
    __path_postpone, __path_reclassify, __path_release_hold, __path_renew_hold,
    __path_request_events, __path_second_review, __path_submit, __path_withdraw,
};

/// The OpenAPI 3.1 description of the API, generated from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Custos node API",
        description = "Signed intake of requests for electronic evidence, their lifecycle, and the node's tamper-evident log."
    ),
    paths(
        // requests.rs
        submit,
        list_requests,
        get_request,
        request_events,
        decide,
        reclassify,
        second_review,
        mark_delivered,
        mark_closed,
        renew_hold,
        release_hold,
        withdraw,
        postpone,
        consult,
        consultation,
        answer_consultation,
        // directory.rs
        list_holds,
        list_notices,
        list_authorities,
        authority,
        // extensions.rs (listed qualified: its operations are tagged `extensions`)
        extensions::request,
        extensions::of_case,
        extensions::pending,
        extensions::decide,
        extensions::notice,
        extensions::act_on_notice,
        // supplements.rs
        supplements::of_case,
        // conditions.rs
        conditions::accept,
        // emergency.rs
        emergency::confirm,
        emergency::deny,
        emergency::record_callback,
        emergency::review_callback,
        // order.rs
        order::send_order,
        order::request_deletion,
        // evidence.rs (listed qualified: its operations are tagged `evidence`)
        evidence::list,
        evidence::upload,
        evidence::fetch,
        // transparency.rs (served through the console's router: HTML or JSON)
        transparency::list,
        transparency::record,
        // report.rs (listed qualified: its operations are tagged `report`)
        report::report_json,
        report::report_csv,
        // log.rs
        checkpoint,
        tile,
        inclusion,
        consistency,
        verifier,
        // witnesses.rs (issue 14, part 2)
        witnesses::witnesses,
        // attachments.rs, templates.rs (issue 16)
        attachments::upload,
        attachments::list,
        attachments::fetch,
        templates::list,
        // desk.rs (issue 16: assignment and internal notes)
        desk::assignment,
        desk::notes,
        desk::add_note
    ),
    components(schemas(
        Problem,
        FieldProblem,
        crate::ops::AssignmentInput,
        crate::ops::AssignmentAction,
        crate::ops::NoteInput,
        crate::ops::Note,
        crate::ops::CaseNotes,
        DecisionInput,
        crate::ops::DecisionKind,
        crate::ops::NarrowedInput,
        crate::ops::HoldRenewalInput,
        crate::ops::HoldReleaseInput,
        crate::ops::NoticeAction,
        crate::ops::NoticeActionKind,
        crate::ops::NarrowedTerms,
        crate::ops::RecordedDecision,
        ReclassificationInput,
        crate::ops::OffenceCorrection,
        crate::ops::Classification,
        crate::ops::CorrectedOffence,
        crate::ops::RecordedReclassification,
        crate::ops::PendingReclassification,
        crate::ops::WithdrawalInput,
        crate::ops::PostponementInput,
        crate::ops::ConsultationInput,
        crate::ops::ConsultationAnswerInput,
        crate::ops::CaseReclassification,
        SecondReviewInput,
        CaseView,
        crate::wire::DeadlineView,
        crate::wire::Reply,
        crate::wire::ReplyDeadlines,
        crate::wire::ReplyPackage,
        crate::wire::ReplyWithdrawal,
        crate::wire::ReplyPreservation,
        crate::wire::CaseLink,
        crate::wire::ReplyPostponement,
        crate::wire::ReplySecrecyLimited,
        crate::wire::ReplyEmergency,
        crate::wire::ConsultationMessage,
        crate::wire::ConsultationParty,
        crate::wire::ConsultationThread,
        crate::wire::CaseAnswer,
        crate::ops::Communicated,
        crate::ops::Condition,
        crate::ops::AcceptanceInput,
        crate::ops::AcceptanceAnswer,
        crate::ops::AcceptanceState,
        crate::ops::ConditionsStatus,
        crate::ops::ReplyStatus,
        CaseEvents,
        EventView,
        LoggedEvent,
        HoldView,
        NoticeView,
        crate::wire::ExtensionView,
        crate::wire::SupplementView,
        crate::wire::FieldChangeView,
        crate::wire::RequestValue,
        crate::wire::EmergencyConfirmation,
        crate::ops::ConfirmationInput,
        crate::ops::DenialInput,
        crate::wire::EmergencyDenial,
        crate::ops::CallbackInput,
        crate::ops::CallbackOutcome,
        crate::ops::CallbackReviewInput,
        crate::ops::CallbackRecord,
        crate::ops::Verification,
        crate::ops::Verified,
        crate::ops::Contact,
        crate::ops::EmergencyCounts,
        crate::wire::AuthorityDetail,
        crate::ops::OrderInput,
        crate::ops::OrderAuthorization,
        crate::ops::OrderStatus,
        crate::ops::DeletionRequested,
        crate::ops::DeletionRequestInput,
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
        crate::wire::schema::Deadlines,
        crate::wire::WitnessesView,
        crate::wire::WitnessView,
        crate::wire::PublishedRecord,
        crate::wire::PublishedRecords,
        crate::wire::ListedRecord,
        crate::ops::CaseRecord,
        crate::ops::RecordDates,
        crate::ops::RecordEvent,
        crate::wire::AttachmentView,
        crate::wire::AttachmentList,
        crate::ops::attachment::AttachmentKind,
        crate::templates::TemplateList,
        crate::templates::ReplyTemplate,
        crate::templates::TemplateSource
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
        .route(
            "/v1/requests",
            post(requests::submit).get(requests::list_requests),
        )
        .route("/v1/requests/{case}", get(requests::get_request))
        .route("/v1/requests/{case}/events", get(requests::request_events))
        .route("/v1/requests/{case}/decision", post(requests::decide))
        .route(
            "/v1/requests/{case}/reclassification",
            post(requests::reclassify),
        )
        .route(
            "/v1/requests/{case}/second-review",
            post(requests::second_review),
        )
        .route(
            "/v1/requests/{case}/delivered",
            post(requests::mark_delivered),
        )
        .route("/v1/requests/{case}/closed", post(requests::mark_closed))
        .route("/v1/requests/{case}/withdrawal", post(requests::withdraw))
        .route("/v1/requests/{case}/postponement", post(requests::postpone))
        .route("/v1/requests/{case}/order", post(order::send_order))
        .route(
            "/v1/requests/{case}/deletion-request",
            post(order::request_deletion),
        )
        .route(
            "/v1/requests/{case}/consultation",
            get(requests::consultation).post(requests::consult),
        )
        .route(
            "/v1/requests/{case}/consultation/answer",
            post(requests::answer_consultation),
        )
        .route("/v1/requests/{case}/hold/renew", post(requests::renew_hold))
        .route(
            "/v1/requests/{case}/hold/release",
            post(requests::release_hold),
        )
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
        .route("/v1/requests/{case}/supplements", get(supplements::of_case))
        .route(
            "/v1/requests/{case}/notice/action",
            post(extensions::act_on_notice),
        )
        .route(
            "/v1/requests/{case}/conditions/acceptance",
            post(conditions::accept),
        )
        .route("/v1/requests/{case}/confirmation", post(emergency::confirm))
        .route("/v1/requests/{case}/denial", post(emergency::deny))
        .route(
            "/v1/requests/{case}/callback",
            post(emergency::record_callback),
        )
        .route(
            "/v1/requests/{case}/callback/review",
            post(emergency::review_callback),
        )
        .route("/v1/requests/{case}/assignment", post(desk::assignment))
        .route(
            "/v1/requests/{case}/notes",
            get(desk::notes).post(desk::add_note),
        )
        .route("/v1/extensions", get(extensions::pending))
        .route("/v1/holds", get(directory::list_holds))
        .route("/v1/notices", get(directory::list_notices))
        .route("/v1/authorities", get(directory::list_authorities))
        .route("/v1/authorities/{kid}", get(directory::authority))
        .route("/log/checkpoint", get(log::checkpoint))
        .route("/log/tile/{*path}", get(log::tile))
        .route("/v1/log/inclusion", get(log::inclusion))
        .route("/v1/log/consistency", get(log::consistency))
        .route("/v1/log/verifier", get(log::verifier))
        .route("/transparency/report.json", get(report::report_json))
        .route("/transparency/report.csv", get(report::report_csv))
        .route("/v1/log/witnesses", get(witnesses::witnesses))
        // Attachments and reply templates (issue 16): staff only.
        .route(
            "/v1/requests/{case}/attachments",
            get(attachments::list).post(attachments::upload),
        )
        .route(
            "/v1/requests/{case}/attachments/{blake3}",
            get(attachments::fetch),
        )
        .route("/v1/templates", get(templates::list))
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
        // 28, issue 16's assignment and notes (3), supplements (1), attachments (3) and
        // templates (1), and the two transparency downloads (a token only for `exact=true`).
        assert_eq!(with_bearer, 38, "operations people call with a token");
    }
}
