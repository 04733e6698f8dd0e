//! The console's handlers: each reads what it shows through the service's typed queries
//! (`custos_service::query`) and renders a template, or turns a form into the same writer job
//! the JSON API uses.
//!
//! Forms post `application/x-www-form-urlencoded` with the session's CSRF token; each page file
//! declares its forms as serde structs, read by [`Posted`] (`axum_extra`'s `Form`: a field that
//! repeats, such as grounds or categories, is a `Vec`). A form that cannot be read at all gets the
//! console's error page. A refused form comes back as the same page with the refusal explained
//! and everything typed still in place, and the HTTP status of the refusal (403, 409, 422), so
//! nothing is lost. Cookies are read and set through `axum_extra`'s `CookieJar`.

// What the page modules share; each starts with `use super::*;`.
use std::collections::BTreeSet;
use std::sync::Arc;

use askama::Template;
use axum::extract::{FromRequest, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::FormRejection;
use custos_jose::PublicJwk;
use custos_ledger::checkpoint::Checkpoint;
use custos_model::{Channel, EventType, Measure, Request};
use custos_safeguards::{Assessment, Outcome};
use custos_service::http::extract::IfMatch;
use custos_service::ops::next_attempt;
use custos_service::ops::{
    DecisionInput, ExtensionDecisionInput, ReclassificationInput, RecordedDecision,
    SecondReviewInput,
};
use custos_service::problem::Problem;
use custos_service::query::{
    Authority, Case, CaseQuery, CaseStatus, Extension, ExtensionStatus, Hold, Notice, Role, User,
};
use custos_service::writer::Job;
use jiff::Timestamp;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::Console;
use crate::session::{
    SESSION_COOKIE, SIGNIN_COOKIE, Session, console_cookie, cookie_value, over_tls, random_token,
    same_token,
};
use crate::views::{self, CompareRow, EventRow, Fact, FindingRow, QueueRow, RequestFacts};

pub(super) type Shared = State<Arc<Console>>;

mod assets;
mod attachments;
mod callback;
mod desk;
mod follow_up;
mod holds;
mod log;
mod order;
mod profiles;
mod public_record;
mod queue;
mod request;
mod sign_in;
// The public pages (issue 14): no sign-in.
mod public;
mod transparency;

pub use assets::asset;
pub use attachments::{download_attachment, upload_attachment};
pub use callback::{authority_page, record_callback, review_callback};
pub use desk::{add_note, assignment};
pub use holds::{act_on_notice, holds, holds_csv, notices_csv, release_hold};
pub use log::log_status;
pub use order::request_deletion;
pub use profiles::{profile_page, profiles};
pub use public_record::{public_record, public_records, public_records_json};
pub use queue::queue;
pub use request::{
    advance, consult, decide, decide_extension, postpone, reclassify, renew, request_page,
    second_review,
};
pub use sign_in::{home, sign_in, sign_in_page, sign_out};
// The public pages (issue 14).
pub use public::public_log;
pub use transparency::transparency;

/// What the page frame shows: who is signed in, and the token for the sign-out form.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub title: String,
    pub nav: &'static str,
    pub user: Option<String>,
    pub role: &'static str,
    pub csrf: String,
    pub read_only: bool,
}

/// A refusal shown on a page, in people's words: no JSON pointers; the form field it concerns
/// (`field`, an element id) gets the message beside it, `aria-invalid` and the focus
/// (`console.js`).
#[derive(Debug, Clone, Default)]
pub struct Refusal {
    pub title: String,
    pub detail: String,
    pub fields: Vec<String>,
    /// The id of the field the refusal concerns (empty: none in particular).
    pub field: String,
    /// A clash (412): someone changed the case after this page was read.
    pub stale: bool,
}

/// The form field a JSON pointer of the API names: its element id on the request page, and
/// its name in words.
pub(super) fn field_of(pointer: &str) -> Option<(String, String)> {
    let p = pointer.trim_start_matches("$.").trim_start_matches('/');
    if let Some(code) = p.strip_prefix("finding_reasons.") {
        return Some((
            format!("finding_reason_{code}"),
            format!("The reason for {code}"),
        ));
    }
    let (id, words) = match p {
        "reason" => ("reason", "Reason"),
        "message" => ("message", "What is missing"),
        "decision" => ("decision-execute", "Decision"),
        "grounds" => ("grounds", "Grounds"),
        "answer_by" => ("consult-answer-by", "Answer by"),
        "until" => ("postpone-until", "Postponed until"),
        "grant" => ("decision-grant", "Grant or refuse"),
        "text" => ("note-text", "Note"),
        p if p.starts_with("narrowed.period") => ("period_from", "Period"),
        p if p.starts_with("narrowed.confidentiality_until") => {
            ("confidentiality_until", "Secrecy ends")
        }
        p if p.starts_with("narrowed.targets") || p.starts_with("narrowed.target_reasons") => {
            ("target-0", "Targets kept")
        }
        p if p.starts_with("narrowed.data_categories") || p == "narrowed" => {
            ("category-0", "Data categories")
        }
        p if p.starts_with("conditions") => ("cond_use_limitation", "Conditions"),
        p if p.starts_with("offences") => ("reclass_reason", "Classification"),
        _ => return None,
    };
    Some((id.to_owned(), words.to_owned()))
}

/// `$.narrowed.period: give both …` → the field and the words without the pointer.
fn located(text: &str) -> (Option<(String, String)>, String) {
    match text.split_once(": ") {
        Some((pointer, rest)) if pointer.starts_with("$.") => match field_of(pointer) {
            Some(f) => {
                // The console's own messages already name the field ("Answer by: …").
                let named = rest.split_once(": ").is_some_and(|(head, _)| {
                    head.len() <= 40 && head.starts_with(|c: char| c.is_uppercase())
                });
                let rest = if named {
                    rest.to_owned()
                } else {
                    format!("{}: {rest}", f.1)
                };
                (Some(f), rest)
            }
            None => (None, rest.to_owned()),
        },
        _ => (None, text.to_owned()),
    }
}

impl From<&Problem> for Refusal {
    fn from(p: &Problem) -> Refusal {
        if let Some(ch) = &p.changed {
            let who = ch.by.clone().unwrap_or_else(|| "Someone".into());
            return Refusal {
                title: "Someone else changed this case while you had it open".into(),
                detail: format!(
                    "{who} {} on {}. Nothing you sent was recorded. The page now shows the case as it stands; what you typed is kept below — check it against the change and send it again if it still holds.",
                    crate::views::event_words(&ch.event),
                    crate::views::when(ch.at)
                ),
                fields: Vec::new(),
                field: String::new(),
                stale: true,
            };
        }
        let (mut field, detail) = located(&p.detail);
        let fields = p
            .errors
            .iter()
            .map(|e| match field_of(&e.pointer) {
                Some(f) => {
                    let line = format!("{}: {}", f.1, e.detail);
                    field = field.take().or(Some(f));
                    line
                }
                None => e.detail.clone(),
            })
            .filter(|line| *line != detail)
            .collect();
        Refusal {
            title: p.title.clone(),
            detail,
            fields,
            field: field.map(|f| f.0).unwrap_or_default(),
            stale: false,
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    status: u16,
    refusal: Refusal,
}

pub(super) fn render<T: Template>(status: StatusCode, t: &T) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering a console page failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered; the node's log has the details",
            )
                .into_response()
        }
    }
}

pub(super) fn error_page(layout: Layout, p: &Problem) -> Response {
    let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut layout = layout;
    layout.title = p.title.clone();
    render(
        status,
        &ErrorPage {
            layout,
            status: p.status,
            refusal: p.into(),
        },
    )
}

/// The signed-in person behind a request.
pub(super) struct Viewer {
    pub(super) session: Session,
    pub(super) user: User,
}

impl Viewer {
    pub(super) fn layout(&self, title: impl Into<String>, nav: &'static str) -> Layout {
        Layout {
            title: title.into(),
            nav,
            user: Some(self.user.name.clone()),
            role: self.user.role.as_str(),
            csrf: self.session.csrf.clone(),
            read_only: self.user.role == Role::Auditor,
        }
    }

    pub(super) fn can_change(&self) -> bool {
        self.user.role != Role::Auditor
    }
}

pub(super) async fn viewer(c: &Console, jar: &CookieJar) -> Option<Viewer> {
    let id = cookie_value(jar, SESSION_COOKIE)?;
    let session = match c.sessions.get(&id).await {
        Ok(session) => session?,
        Err(e) => {
            // Refused, so the browser is asked to sign in; the token is never logged.
            tracing::error!(error = %e, "the console's sessions could not be read");
            return None;
        }
    };
    let user = c.node.query().user(&session.user).await.ok()??;
    // The role the log gave, never the table's.
    let user = c.node.directory.with_logged_role(user).await.ok()?;
    if user.disabled_at.is_some() {
        if let Err(e) = c.sessions.end(&id).await {
            tracing::error!(error = %e, "a disabled user's session could not be ended");
        }
        return None;
    }
    Some(Viewer { session, user })
}

/// For pages: the viewer, or a redirect to the sign-in page that comes back here.
pub(super) async fn page_viewer(
    c: &Console,
    jar: &CookieJar,
    here: &str,
) -> Result<Viewer, Response> {
    match viewer(c, jar).await {
        Some(v) => Ok(v),
        None => Err(Redirect::to(&format!(
            "/console/sign-in?next={}",
            form_urlencoded::byte_serialize(here.as_bytes()).collect::<String>()
        ))
        .into_response()),
    }
}

/// A posted form of type `T` (a serde struct of the page's fields), read by `axum_extra`'s `Form`
/// (serde_html_form). A form that cannot be read (over [`crate::FORM_BODY_LIMIT`], not
/// `application/x-www-form-urlencoded`, a field sent twice that the page sends once) is answered
/// with the console's error page, never with axum's plain-text rejection.
pub struct Posted<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Posted<T> {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Response> {
        match axum_extra::extract::Form::<T>::from_request(req, state).await {
            Ok(axum_extra::extract::Form(form)) => Ok(Posted(form)),
            Err(rejection) => Err(error_page(Layout::default(), &form_refusal(&rejection))),
        }
    }
}

/// Why a form could not be read, in the console's words.
pub(super) fn form_refusal(rejection: &FormRejection) -> Problem {
    let status = rejection.status();
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => Problem::new(
            status,
            "form-too-large",
            "Form too large",
            format!(
                "a console form is at most {} KiB; nothing was kept. Shorten what you typed and send it again",
                crate::FORM_BODY_LIMIT / 1024
            ),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => Problem::new(
            status,
            "form-unreadable",
            "Form not read",
            "a console form is sent as application/x-www-form-urlencoded, as the console's pages send it; nothing was kept",
        ),
        _ => {
            // The deserializer's own words with the field's name (`reason: unsupported value`),
            // without axum's prefix ("Failed to deserialize form body").
            let why = std::error::Error::source(rejection)
                .map_or_else(|| rejection.body_text(), ToString::to_string);
            // The forms' fields are all text, so what fails to deserialize is a field sent twice.
            let hint = match rejection {
                FormRejection::FailedToDeserializeFormBody(_)
                | FormRejection::FailedToDeserializeForm(_) => {
                    ": a field the page sends once came more than once"
                }
                _ => "",
            };
            Problem::new(
                status,
                "form-unreadable",
                "Form not read",
                format!(
                    "the form could not be read ({why}){hint}; nothing was kept. Reload the page and send it again"
                ),
            )
        }
    }
}

/// The field every console form carries: the session's CSRF token (the sign-out form has no other).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CsrfForm {
    pub(super) csrf: String,
}

/// For form posts: the viewer, with the form's CSRF token checked.
pub(super) async fn form_viewer(
    c: &Console,
    jar: &CookieJar,
    csrf: &str,
) -> Result<Viewer, Response> {
    let Some(v) = viewer(c, jar).await else {
        return Err(error_page(
            Layout::default(),
            &Problem::unauthorized(
                "signed-out",
                "your session has ended (30 minutes idle, 12 hours in all, or the node restarted); sign in again and resend the form",
            ),
        ));
    };
    if !same_token(csrf, &v.session.csrf) {
        return Err(error_page(
            v.layout("Refused", ""),
            &Problem::forbidden(
                "csrf",
                "this form did not carry this session's token (it was opened before you last signed in, or sent from another site); reload the page and send it again",
            ),
        ));
    }
    Ok(v)
}

pub(super) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

pub(super) fn query_pairs(q: &Option<String>) -> Vec<(String, String)> {
    q.as_deref()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn query_get(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

#[cfg(test)]
mod tests {
    use super::request::{DecisionFields, decision_input};

    use super::sign_in::safe_next;
    use super::*;

    /// `body` posted as a form and read by the handlers' extractor, or why it was not.
    fn posted<T: DeserializeOwned>(body: &[u8]) -> Result<T, Problem> {
        posted_as("application/x-www-form-urlencoded", body)
    }

    fn posted_as<T: DeserializeOwned>(content_type: &str, body: &[u8]) -> Result<T, Problem> {
        let req = axum::http::Request::post("/console/requests/1/decision")
            .header(header::CONTENT_TYPE, content_type)
            .body(axum::body::Body::from(body.to_vec()))
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(axum_extra::extract::Form::<T>::from_request(req, &()))
            .map(|axum_extra::extract::Form(form)| form)
            .map_err(|rejection| form_refusal(&rejection))
    }

    fn decision_form(body: &[u8]) -> DecisionFields {
        posted(body).expect("a readable form")
    }

    #[test]
    fn repeated_fields_are_lists_and_missing_ones_empty() {
        let form = decision_form(b"csrf=t&decision=refuse&grounds=a&grounds=b&category=traffic");
        assert_eq!(form.csrf, "t");
        assert_eq!(form.grounds, ["a", "b"]);
        assert_eq!(form.categories, ["traffic"]);
        assert_eq!((form.reason.as_str(), form.period_from.as_str()), ("", ""));
        // Not UTF-8: read as the browser meant, with replacement characters, as before.
        assert_eq!(decision_form(b"reason=%FF").reason, "\u{fffd}");
    }

    #[test]
    fn an_unreadable_form_is_refused_in_the_consoles_words() {
        let twice = posted::<DecisionFields>(b"reason=a&reason=b").unwrap_err();
        assert_eq!(twice.status, 422);
        assert!(
            twice
                .detail
                .starts_with("the form could not be read (reason: "),
            "{}",
            twice.detail
        );
        assert!(
            !twice.detail.contains("Failed to deserialize"),
            "{}",
            twice.detail
        );
        let json = posted_as::<DecisionFields>("application/json", b"{}").unwrap_err();
        assert_eq!(json.status, 415);
        assert!(json.detail.contains("application/x-www-form-urlencoded"));
    }

    #[test]
    fn only_console_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next("/console/requests/3"), "/console/requests/3");
        for bad in [
            "https://evil.example/",
            "//evil.example/console/",
            "/console//evil.example",
            "/v1/requests",
            "/console/\\evil",
            "",
            // A control character cannot be a `Location` (it made the sign-in a 500).
            "/console/queue\u{1}",
            "/console/queue\r\nSet-Cookie: a=b",
            "/console/queue\u{7f}",
            "/console/queue?q=a b",
        ] {
            assert_eq!(safe_next(bad), "/console/queue", "{bad}");
        }
    }

    #[test]
    fn a_narrowing_form_becomes_the_apis_decision() {
        let form = decision_form(
            b"csrf=x&decision=execute_narrowed&reason=Only+subscriber+data+is+needed.&category=subscriber\
              &period_from=2026-01-01T00%3A00%3A00Z&period_to=2026-02-01T00%3A00%3A00Z&confidentiality_until=&grounds=period-too-long",
        );
        let input = decision_input(&form).expect("valid");
        let narrowed = input.narrowed.expect("narrowed terms");
        assert_eq!(
            narrowed.data_categories.map(|c| c.to_string()).as_deref(),
            Some("subscriber")
        );
        assert_eq!(
            narrowed.period.map(|p| p.to.to_string()).as_deref(),
            Some("2026-02-01T00:00:00Z")
        );
        // A blank secrecy end is left out (kept as asked), never null (which lifts secrecy).
        assert_eq!(narrowed.confidentiality_until, None);
        assert_eq!(input.grounds, vec!["period-too-long".to_owned()]);
    }

    #[test]
    fn targets_left_unchecked_are_dropped_and_all_checked_means_all() {
        let base = "csrf=x&decision=execute_narrowed&reason=Only+two.&category=subscriber\
                    &target_offered=a&target_offered=b&target_offered=c";
        let some = decision_form(format!("{base}&target=a&target=c").as_bytes());
        let narrowed = decision_input(&some).unwrap().narrowed.unwrap();
        let kept: Vec<&str> = narrowed
            .targets
            .as_ref()
            .unwrap()
            .iter()
            .map(|t| t.as_str())
            .collect();
        assert_eq!(kept, ["a", "c"]);
        let all = decision_form(format!("{base}&target=c&target=b&target=a").as_bytes());
        assert_eq!(
            decision_input(&all).unwrap().narrowed.unwrap().targets,
            None
        );
        // A secrecy end from a date input is read as UTC.
        let until =
            decision_form(format!("{base}&confidentiality_until=2027-01-02T03%3A04").as_bytes());
        assert_eq!(
            decision_input(&until)
                .unwrap()
                .narrowed
                .unwrap()
                .confidentiality_until
                .flatten()
                .map(|t| t.to_string())
                .as_deref(),
            Some("2027-01-02T03:04:00Z")
        );
    }

    #[test]
    fn refusals_name_fields_in_words_and_a_clash_says_who_and_when() {
        let mut p = Problem::unprocessable(
            "invalid-decision",
            "$.narrowed.period: 2000-01-01 .. 2026-01-01 reaches outside the period asked",
        );
        p.errors.push(custos_service::problem::FieldProblem {
            pointer: "$.narrowed.period".into(),
            detail: "2000-01-01 .. 2026-01-01 reaches outside the period asked".into(),
        });
        let r = Refusal::from(&p);
        assert_eq!(r.field, "period_from");
        assert_eq!(
            r.detail,
            "Period: 2000-01-01 .. 2026-01-01 reaches outside the period asked"
        );
        assert!(
            r.fields.is_empty(),
            "the same words are not said twice: {:?}",
            r.fields
        );
        assert!(!r.detail.contains("$."));
        let typed = Problem::unprocessable(
            "invalid-consultation",
            "$.answer_by: Answer by: \"soon\" is not a date and time",
        );
        let r = Refusal::from(&typed);
        assert_eq!(
            (r.field.as_str(), r.detail.as_str()),
            (
                "consult-answer-by",
                "Answer by: \"soon\" is not a date and time"
            )
        );
        let mut stale = Problem::new(
            StatusCode::PRECONDITION_FAILED,
            "stale-version",
            "Precondition failed",
            "x",
        );
        stale.changed = Some(Box::new(custos_service::problem::LastChange {
            event: "decision.recorded".into(),
            at: "2026-11-30T20:00:00Z".parse().unwrap(),
            log_index: 9,
            by: Some("bob".into()),
            etag: "\"c1-v9\"".into(),
        }));
        let r = Refusal::from(&stale);
        assert!(r.stale);
        assert!(
            r.detail.starts_with(
                "bob recorded a decision on 2026-11-30 20:00 UTC. Nothing you sent was recorded."
            ),
            "{}",
            r.detail
        );
    }

    #[test]
    fn half_a_period_or_no_choice_is_refused_with_where() {
        let half = decision_form(
            b"decision=execute_narrowed&reason=x&category=traffic&period_from=2026-01-01T00:00:00Z",
        );
        let p = decision_input(&half).unwrap_err();
        assert!(p.detail.starts_with("$.narrowed.period"), "{}", p.detail);
        let none = decision_form(b"reason=x");
        assert!(
            decision_input(&none)
                .unwrap_err()
                .detail
                .starts_with("$.decision")
        );
        let bad_date = decision_form(b"decision=execute_narrowed&reason=x&category=traffic&period_from=yesterday&period_to=today");
        assert_eq!(decision_input(&bad_date).unwrap_err().status, 422);
    }

    #[test]
    fn finding_reasons_pair_with_their_codes_and_blank_ones_are_left_out() {
        let form = decision_form(
            b"decision=execute&reason=x&finding_code=too-many-targets&finding_reason=One+ring.\
              &finding_code=security-research&finding_reason=+",
        );
        let input = decision_input(&form).expect("valid");
        assert_eq!(input.finding_reasons.len(), 1);
        assert_eq!(input.finding_reasons["too-many-targets"], "One ring.");
        let unpaired = decision_form(b"decision=execute&reason=x&finding_code=a");
        let p = decision_input(&unpaired).unwrap_err();
        assert!(p.detail.starts_with("$.finding_reasons"), "{}", p.detail);
    }

    #[test]
    fn the_conditions_boxes_become_typed_conditions_only_for_an_execution() {
        use custos_service::ops::Condition;
        let form = decision_form(
            b"decision=execute&reason=x&cond_use_limitation=+The+fraud+case.+&cond_confidentiality=yes\
              &cond_deletion_days=90&cond_free_text=No+onward+transfer.%0D%0A%0D%0ANo+publication.",
        );
        let input = decision_input(&form).expect("valid");
        let typed: Vec<Condition> = input.conditions.into_iter().map(Condition::from).collect();
        assert_eq!(
            typed,
            [
                Condition::UseLimitation {
                    purposes: "The fraud case.".into()
                },
                Condition::Confidentiality { text: None },
                Condition::DeletionAfter { days: 90 },
                Condition::FreeText {
                    text: "No onward transfer.".into()
                },
                Condition::FreeText {
                    text: "No publication.".into()
                },
            ]
        );
        let refuse = decision_form(b"decision=refuse&reason=x&cond_use_limitation=The+fraud+case.");
        assert!(decision_input(&refuse).unwrap().conditions.is_empty());
        let bad = decision_form(b"decision=execute&reason=x&cond_deletion_days=soon");
        assert_eq!(decision_input(&bad).unwrap_err().status, 422);
    }

    #[test]
    fn the_reclassification_form_sends_only_what_it_changes() {
        use super::request::{ReclassifyFields, reclassification_input};
        use custos_model::{MaxPenalty, OffenceCategory};
        use custos_service::ops::Classification;
        let current = [
            Classification {
                category: OffenceCategory::Fraud,
                max_penalty: MaxPenalty::Years(5.0),
            },
            Classification {
                category: OffenceCategory::Extortion,
                max_penalty: MaxPenalty::Life,
            },
        ];
        let form: ReclassifyFields = posted(
            b"offence=0&offence_category=fraud&offence_penalty=5&offence=1&offence_category=defamation_or_insult\
              &offence_penalty=life&reclass_reason=It+is+speech.",
        )
        .expect("a readable form");
        let input = reclassification_input(&form, &current).expect("valid");
        assert_eq!(input.offences.len(), 1, "offence 0 is unchanged");
        let o = &input.offences[0];
        assert_eq!(
            (o.index, o.category, o.max_penalty),
            (1, Some(OffenceCategory::DefamationOrInsult), None)
        );
        assert_eq!(input.reason, "It is speech.");
        let bad: ReclassifyFields =
            posted(b"offence=0&offence_category=fraud&offence_penalty=ten").expect("readable");
        let p = reclassification_input(&bad, &current).unwrap_err();
        assert_eq!(p.errors[0].pointer, "$.offences[0].max_penalty");
        let stray: ReclassifyFields =
            posted(b"offence=7&offence_category=fraud&offence_penalty=5").expect("readable");
        let p = reclassification_input(&stray, &current).unwrap_err();
        assert_eq!(p.errors[0].pointer, "$.offences[0].index");
        let unknown: ReclassifyFields =
            posted(b"offence=0&offence_category=piracy&offence_penalty=5").expect("readable");
        assert_eq!(
            reclassification_input(&unknown, &current)
                .unwrap_err()
                .status,
            422
        );
    }

    proptest::proptest! {
        /// After sign-in the browser is sent only to a path inside the console, whatever `next`
        /// says: no other host, no scheme, no protocol-relative URL.
        #[test]
        fn sign_in_never_redirects_outside_the_console(next in "\\PC{0,80}") {
            let to = safe_next(&next);
            proptest::prop_assert!(to.starts_with("/console/"));
            proptest::prop_assert!(!to.starts_with("/console//"));
            proptest::prop_assert!(!to.contains("://") && !to.contains('\\'));
        }

        /// Whatever bytes follow `/console/` in `next`, the redirect is a valid `Location`.
        #[test]
        fn a_sign_in_redirect_is_always_a_valid_header(tail in "[\\x00-\\x7f\\u{80}-\\u{10ffff}]{0,40}") {
            let to = safe_next(&format!("/console/{tail}"));
            proptest::prop_assert!(HeaderValue::from_str(&to).is_ok(), "{to:?}");
        }

        /// Any posted body is read as a form and becomes a decision, or is refused with where
        /// the problem is; it never panics.
        #[test]
        fn any_form_is_a_decision_or_a_located_refusal(body in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            match posted::<DecisionFields>(&body).and_then(|form| decision_input(&form)) {
                Ok(_) => {}
                Err(p) => proptest::prop_assert!(p.detail.starts_with('$') || p.detail.starts_with("the form"), "{}", p.detail),
            }
        }

        /// The same over bodies made of the decision form's own fields, repeated or not.
        #[test]
        fn any_mix_of_the_forms_fields_is_a_decision_or_a_located_refusal(
            fields in proptest::collection::vec((
                proptest::sample::select(vec!["csrf", "decision", "reason", "internal_note", "message", "grounds", "category", "period_from", "period_to", "confidentiality_until", "finding_code", "finding_reason", "cond_use_limitation", "cond_confidentiality", "cond_deletion_days", "cond_free_text"]),
                proptest::sample::select(vec!["", "execute", "execute_narrowed", "request_information", "refuse", "subscriber", "2026-01-01T00:00:00Z", "x", "too-many-targets"]),
            ), 0..12),
        ) {
            let body = fields.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
            match posted::<DecisionFields>(body.as_bytes()).and_then(|form| decision_input(&form)) {
                Ok(_) => {}
                Err(p) => proptest::prop_assert!(p.detail.starts_with('$') || p.detail.starts_with("the form"), "{}", p.detail),
            }
        }
    }
}
