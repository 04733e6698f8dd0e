//! The console's handlers: each reads what it shows from the store and renders a template, or
//! turns a form into the same writer job the JSON API uses.
//!
//! Forms post `application/x-www-form-urlencoded` with the session's CSRF token. A refused form
//! comes back as the same page with the refusal explained and everything typed still in place,
//! and the HTTP status of the refusal (403, 409, 422), so nothing is lost.

use std::collections::BTreeSet;
use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use custos_jose::PublicJwk;
use custos_ledger::checkpoint::Checkpoint;
use custos_model::{Channel, Measure, Request};
use custos_safeguards::{Assessment, Outcome};
use custos_service::ops::{DecisionInput, RecordedDecision, SecondReviewInput};
use custos_service::problem::Problem;
use custos_service::writer::Job;
use custos_store::{Authority, Case, CaseFilter, CaseStatus, Role, User};
use jiff::Timestamp;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::Console;
use crate::session::{
    SESSION_COOKIE, SIGNIN_COOKIE, Session, cookie, over_tls, random_token, same_token, set_cookie,
};
use crate::views::{self, CompareRow, EventRow, Fact, FindingRow, QueueRow, RequestFacts};

type Shared = State<Arc<Console>>;

// ---------------------------------------------------------------------------------------------
// Layout, errors, sessions

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

/// A refusal shown on a page.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub title: String,
    pub detail: String,
    pub fields: Vec<String>,
}

impl From<&Problem> for Refusal {
    fn from(p: &Problem) -> Refusal {
        Refusal {
            title: p.title.clone(),
            detail: p.detail.clone(),
            fields: p
                .errors
                .iter()
                .map(|e| format!("{}: {}", e.pointer, e.detail))
                .collect(),
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

fn render<T: Template>(status: StatusCode, t: &T) -> Response {
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

fn error_page(layout: Layout, p: &Problem) -> Response {
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
struct Viewer {
    session: Session,
    user: User,
}

impl Viewer {
    fn layout(&self, title: impl Into<String>, nav: &'static str) -> Layout {
        Layout {
            title: title.into(),
            nav,
            user: Some(self.user.name.clone()),
            role: self.user.role.as_str(),
            csrf: self.session.csrf.clone(),
            read_only: self.user.role == Role::Auditor,
        }
    }

    fn can_change(&self) -> bool {
        self.user.role != Role::Auditor
    }
}

async fn viewer(c: &Console, headers: &HeaderMap) -> Option<Viewer> {
    let id = cookie(headers, SESSION_COOKIE)?;
    let session = c.sessions.get(&id)?;
    let user = c.node.store.user(&session.user).await.ok()??;
    if user.disabled_at.is_some() {
        c.sessions.end(&id);
        return None;
    }
    Some(Viewer { session, user })
}

/// For pages: the viewer, or a redirect to the sign-in page that comes back here.
async fn page_viewer(c: &Console, headers: &HeaderMap, here: &str) -> Result<Viewer, Response> {
    match viewer(c, headers).await {
        Some(v) => Ok(v),
        None => Err(Redirect::to(&format!(
            "/console/sign-in?next={}",
            form_urlencoded::byte_serialize(here.as_bytes()).collect::<String>()
        ))
        .into_response()),
    }
}

/// A posted form, as name/value pairs in order (fields may repeat).
struct Form(Vec<(String, String)>);

impl Form {
    fn parse(body: &[u8]) -> Form {
        Form(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    fn get(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// For form posts: the viewer, with the form's CSRF token checked.
async fn form_viewer(c: &Console, headers: &HeaderMap, form: &Form) -> Result<Viewer, Response> {
    let Some(v) = viewer(c, headers).await else {
        return Err(error_page(
            Layout::default(),
            &Problem::unauthorized(
                "signed-out",
                "your session has ended (30 minutes idle, 12 hours in all, or the node restarted); sign in again and resend the form",
            ),
        ));
    };
    if !same_token(&form.get("csrf"), &v.session.csrf) {
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

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

// ---------------------------------------------------------------------------------------------
// Sign-in

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    layout: Layout,
    next: String,
    name: String,
    csrf: String,
    refusal: Option<Refusal>,
    notice: Option<&'static str>,
}

/// Only paths inside the console are followed after sign-in (no open redirect).
fn safe_next(next: &str) -> String {
    let ok = next.starts_with("/console/")
        && !next.starts_with("/console//")
        && !next.contains('\\')
        && !next.contains("://");
    if ok {
        next.to_owned()
    } else {
        "/console/queue".to_owned()
    }
}

fn query_pairs(q: &Option<String>) -> Vec<(String, String)> {
    q.as_deref()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn query_get(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

fn sign_in_form(
    headers: &HeaderMap,
    status: StatusCode,
    next: &str,
    name: &str,
    refusal: Option<Refusal>,
    notice: Option<&'static str>,
) -> Response {
    let csrf = random_token();
    let mut resp = render(
        status,
        &SignInPage {
            layout: Layout {
                title: "Sign in".into(),
                ..Layout::default()
            },
            next: safe_next(next),
            name: name.to_owned(),
            csrf: csrf.clone(),
            refusal,
            notice,
        },
    );
    let c = set_cookie(SIGNIN_COOKIE, &csrf, over_tls(headers), Some(600));
    if let Ok(v) = HeaderValue::from_str(&c) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// `GET /` and `/console`: to the queue, or to sign-in.
pub async fn home(State(c): Shared, headers: HeaderMap) -> Response {
    match viewer(&c, &headers).await {
        Some(_) => see_other("/console/queue"),
        None => see_other("/console/sign-in"),
    }
}

/// `GET /console/sign-in`.
pub async fn sign_in_page(headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let pairs = query_pairs(&q);
    let next = query_get(&pairs, "next").unwrap_or_default();
    let notice = query_get(&pairs, "signed-out").map(|_| "You are signed out.");
    sign_in_form(&headers, StatusCode::OK, &next, "", None, notice)
}

/// `POST /console/sign-in`: name and password; lock-out after repeated failures.
pub async fn sign_in(State(c): Shared, headers: HeaderMap, body: Bytes) -> Response {
    let form = Form::parse(&body);
    let name = form.get("name").trim().to_owned();
    let next = form.get("next");
    let password = Zeroizing::new(form.get("password"));
    let again = |status, refusal: Refusal| {
        sign_in_form(&headers, status, &next, &name, Some(refusal), None)
    };
    let cookie_token = cookie(&headers, SIGNIN_COOKIE).unwrap_or_default();
    if cookie_token.is_empty() || !same_token(&cookie_token, &form.get("csrf")) {
        return again(
            StatusCode::FORBIDDEN,
            Refusal {
                title: "Sign-in form expired".into(),
                detail: "the sign-in form is valid for 10 minutes and only from this site; it has been renewed, sign in again".into(),
                fields: vec![],
            },
        );
    }
    if let Some(left) = c.sessions.locked_for(&name) {
        return again(
            StatusCode::TOO_MANY_REQUESTS,
            Refusal {
                title: "Locked".into(),
                detail: format!(
                    "too many failed sign-ins for {name:?}; try again in {} minutes, or ask an admin",
                    left.as_secs().div_ceil(60)
                ),
                fields: vec![],
            },
        );
    }
    let user = c.node.store.user(&name).await.ok().flatten();
    let stored = user
        .as_ref()
        .filter(|u| u.disabled_at.is_none())
        .and_then(|u| u.password_hash.clone());
    let ok = custos_service::auth::verify_password(stored, password).await;
    let Some(user) = user.filter(|_| ok) else {
        let locked = c.sessions.failed(&name);
        tracing::warn!(user = %name, locked, "console sign-in failed");
        let detail = if locked {
            format!(
                "wrong name or password; that was the {}th failure, so {name:?} is locked for {} minutes",
                crate::session::MAX_FAILURES,
                crate::session::LOCKOUT.as_secs() / 60
            )
        } else {
            "wrong name or password (or no console password is set: `custos user password`)"
                .to_owned()
        };
        return again(
            StatusCode::UNAUTHORIZED,
            Refusal {
                title: "Not signed in".into(),
                detail,
                fields: vec![],
            },
        );
    };
    c.sessions.succeeded(&user.name);
    let id = c.sessions.start(&user.name);
    tracing::info!(user = %user.name, "console sign-in");
    let mut resp = see_other(&safe_next(&next));
    let secure = over_tls(&headers);
    for value in [
        set_cookie(SESSION_COOKIE, &id, secure, None),
        set_cookie(SIGNIN_COOKIE, "", secure, Some(0)),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

/// `POST /console/sign-out`.
pub async fn sign_out(State(c): Shared, headers: HeaderMap, body: Bytes) -> Response {
    let form = Form::parse(&body);
    if let Err(r) = form_viewer(&c, &headers, &form).await {
        return r;
    }
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        c.sessions.end(&id);
    }
    let mut resp = see_other("/console/sign-in?signed-out=1");
    if let Ok(v) =
        HeaderValue::from_str(&set_cookie(SESSION_COOKIE, "", over_tls(&headers), Some(0)))
    {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

// ---------------------------------------------------------------------------------------------
// Queue

/// One option of a filter's select.
#[derive(Debug, Clone)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// A count at the top of the queue.
#[derive(Debug, Clone)]
pub struct Count {
    pub label: &'static str,
    pub value: usize,
    pub class: &'static str,
}

#[derive(Template)]
#[template(path = "queue.html")]
struct QueuePage {
    layout: Layout,
    counts: Vec<Count>,
    outcomes: Vec<Choice>,
    measures: Vec<Choice>,
    states: Vec<Choice>,
    channels: Vec<Choice>,
    emergencies: Vec<Choice>,
    rows: Vec<QueueRow>,
    filtered: bool,
    total_open: usize,
}

fn choices(
    all: impl IntoIterator<Item = (String, String)>,
    selected: &Option<String>,
) -> Vec<Choice> {
    let mut out = vec![Choice {
        value: String::new(),
        label: "Any".into(),
        selected: selected.is_none(),
    }];
    out.extend(all.into_iter().map(|(value, label)| Choice {
        selected: selected.as_deref() == Some(value.as_str()),
        value,
        label,
    }));
    out
}

const OUTCOMES: [Outcome; 5] = [
    Outcome::Execute,
    Outcome::ExecuteNarrowed,
    Outcome::ReferForReview,
    Outcome::NeedsInformation,
    Outcome::Refuse,
];

/// `GET /console/queue?outcome=&measure=&state=&channel=&emergency=`: open requests, soonest
/// deadline first.
pub async fn queue(State(c): Shared, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let here = format!(
        "/console/queue{}",
        q.as_deref().map(|q| format!("?{q}")).unwrap_or_default()
    );
    let v = match page_viewer(&c, &headers, &here).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let layout = v.layout("Queue", "queue");
    let pairs = query_pairs(&q);
    let pick = |name: &str| query_get(&pairs, name).filter(|s| !s.is_empty());
    let (outcome, measure, state, channel, emergency) = (
        pick("outcome"),
        pick("measure"),
        pick("state").map(|s| s.to_ascii_uppercase()),
        pick("channel"),
        pick("emergency"),
    );
    // A misspelt filter is refused, not ignored: an empty queue must mean "nothing there".
    let check = |name: &str, value: &Option<String>, allowed: &[&str]| -> Result<(), Problem> {
        match value {
            Some(v) if !allowed.contains(&v.as_str()) => Err(Problem::bad_request(
                "invalid-filter",
                format!(
                    "{name}={v:?} is not a filter value; use one of {}",
                    allowed.join(", ")
                ),
            )),
            _ => Ok(()),
        }
    };
    let outcome_ids: Vec<&str> = OUTCOMES.iter().map(|o| o.as_str()).collect();
    let measure_ids: Vec<&str> = Measure::ALL.iter().map(|m| m.as_str()).collect();
    let channel_ids: Vec<&str> = Channel::ALL.iter().map(|m| m.as_str()).collect();
    let checks = [
        check("outcome", &outcome, &outcome_ids),
        check("measure", &measure, &measure_ids),
        check("channel", &channel, &channel_ids),
        check("emergency", &emergency, &["yes", "no"]),
    ];
    let state_check = match &state {
        Some(s) if !(s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase())) => {
            Err(Problem::bad_request(
                "invalid-filter",
                format!("state={s:?} is not a state code; use two letters, e.g. XA"),
            ))
        }
        _ => Ok(()),
    };
    if let Some(Err(p)) = checks.into_iter().chain([state_check]).find(Result::is_err) {
        return error_page(layout, &p);
    }
    let all_open = CaseFilter {
        open_only: true,
        limit: 10_000,
        ..CaseFilter::default()
    };
    let filter = CaseFilter {
        outcome: outcome.clone(),
        measure: measure.clone(),
        requesting_state: state.clone(),
        channel: channel.clone(),
        emergency: emergency.as_deref().map(|e| e == "yes"),
        ..all_open.clone()
    };
    let loaded = async {
        Ok::<_, Problem>((
            c.node.store.cases(&all_open).await?,
            c.node.store.cases(&filter).await?,
            c.node.store.authorities().await?,
        ))
    }
    .await;
    let (open, shown, authorities) = match loaded {
        Ok(x) => x,
        Err(p) => return error_page(layout, &p),
    };
    let now = Timestamp::now();
    let count = |f: &dyn Fn(&Case) -> bool| open.iter().filter(|c| f(c)).count();
    let counts = vec![
        Count {
            label: "Open",
            value: open.len(),
            class: "",
        },
        Count {
            label: "Overdue",
            value: count(&|c| views::Due::of(c.respond_by, now) == views::Due::Overdue),
            class: "overdue",
        },
        Count {
            label: "Due today",
            value: count(&|c| views::Due::of(c.respond_by, now) == views::Due::Today),
            class: "due-today",
        },
        Count {
            label: "Emergency",
            value: count(&|c| c.emergency),
            class: "",
        },
        Count {
            label: "Awaiting second review",
            value: count(&|c| c.status == CaseStatus::AwaitingSecondReview),
            class: "",
        },
        Count {
            label: "Awaiting information",
            value: count(&|c| c.status == CaseStatus::AwaitingInformation),
            class: "",
        },
    ];
    let states: BTreeSet<String> = authorities
        .iter()
        .map(|a| a.state.clone())
        .chain(open.iter().map(|c| c.requesting_state.clone()))
        .collect();
    let page = QueuePage {
        layout,
        counts,
        outcomes: choices(
            OUTCOMES.iter().map(|o| {
                (
                    o.as_str().to_owned(),
                    views::outcome_label(o.as_str()).to_owned(),
                )
            }),
            &outcome,
        ),
        measures: choices(
            Measure::ALL
                .iter()
                .map(|m| (m.as_str().to_owned(), m.describe().to_owned())),
            &measure,
        ),
        states: choices(states.into_iter().map(|s| (s.clone(), s)), &state),
        channels: choices(
            Channel::ALL
                .iter()
                .map(|ch| (ch.as_str().to_owned(), ch.as_str().to_owned())),
            &channel,
        ),
        emergencies: choices(
            [("yes", "Claimed"), ("no", "Not claimed")].map(|(v, l)| (v.to_owned(), l.to_owned())),
            &emergency,
        ),
        filtered: outcome.is_some()
            || measure.is_some()
            || state.is_some()
            || channel.is_some()
            || emergency.is_some(),
        total_open: open.len(),
        rows: shown
            .iter()
            .map(|c| QueueRow::new(c, &authorities, now))
            .collect(),
    };
    render(StatusCode::OK, &page)
}

// ---------------------------------------------------------------------------------------------
// Request page

/// A choosable ground (a finding of the assessment).
#[derive(Debug, Clone)]
pub struct GroundChoice {
    pub code: String,
    pub label: String,
    pub checked: bool,
}

/// A data category in the narrowing form.
#[derive(Debug, Clone)]
pub struct CategoryChoice {
    pub value: String,
    pub checked: bool,
}

/// The decision form's values: defaults from the assessment, or what was sent.
#[derive(Debug, Clone, Default)]
pub struct DecisionForm {
    pub decision: String,
    pub reason: String,
    pub message: String,
    pub grounds: Vec<GroundChoice>,
    pub categories: Vec<CategoryChoice>,
    pub period_from: String,
    pub period_to: String,
    pub confidentiality_until: String,
    pub has_period: bool,
    pub has_confidentiality: bool,
}

/// The pending decision, for the second-review form.
#[derive(Debug, Clone)]
pub struct PendingView {
    pub decision: String,
    pub reviewer: String,
    pub reason: String,
    pub narrowed: String,
}

/// A preservation hold, on the request page and the holds page.
#[derive(Debug, Clone)]
pub struct HoldView {
    pub case_id: i64,
    pub request_id: String,
    pub started_at: String,
    pub expires_at: String,
    pub expires_in: String,
    pub due_class: &'static str,
    pub renewals: i64,
}

/// An evidence package of the case.
#[derive(Debug, Clone)]
pub struct EvidenceView {
    pub sha256: String,
    pub size: String,
    pub sealed_at: String,
    pub delivered_at: String,
    pub destroyed_at: String,
}

#[derive(Template)]
#[template(path = "request.html")]
struct RequestPage {
    layout: Layout,
    case_id: i64,
    request_id: String,
    status_label: &'static str,
    outcome: String,
    outcome_label: &'static str,
    profile: String,
    respond_by: String,
    respond_in: String,
    due_class: &'static str,
    due_label: &'static str,
    emergency: bool,
    authority: Vec<Fact>,
    signature_ok: bool,
    signature: String,
    facts: RequestFacts,
    findings: Vec<FindingRow>,
    comparison: Vec<CompareRow>,
    timeline: Vec<EventRow>,
    decision: Option<String>,
    can_decide: bool,
    form: DecisionForm,
    pending: Option<PendingView>,
    can_second_review: bool,
    second_review_note: String,
    hold: Option<HoldView>,
    evidence: Vec<EvidenceView>,
    refusal: Option<Refusal>,
    flash: Option<&'static str>,
}

/// Re-checks the signature of the request as logged, against the directory's key now.
fn check_signature(
    case: &Case,
    jws: Option<&str>,
    authority: Option<&Authority>,
) -> (bool, String) {
    let (Some(jws), Some(a)) = (jws, authority) else {
        return (
            false,
            "no signed request or no directory entry found for this case".into(),
        );
    };
    let key = match PublicJwk::parse(&a.jwk) {
        Ok(k) => k,
        Err(e) => return (false, format!("the directory's key is unusable: {e}")),
    };
    match custos_jose::verify_compact(jws, &key) {
        Ok(verified) => {
            let digest: [u8; 32] = Sha256::digest(&verified.payload).into();
            if digest == case.payload_sha256.0 {
                (
                    true,
                    format!(
                        "Signed with key {} of {} ({}); checked again against the directory when this page was made.",
                        a.kid, a.name, a.state
                    ),
                )
            } else {
                (
                    false,
                    "the signature is valid but covers a different payload than the case holds"
                        .into(),
                )
            }
        }
        Err(e) => (false, format!("the signature does not verify: {e}")),
    }
}

fn decision_text(d: &RecordedDecision) -> String {
    let mut s = format!("{} by {}", d.decision_label(), d.reviewer);
    if let Some(by) = &d.confirmed_by {
        s.push_str(&format!(", confirmed by {by}"));
    }
    s.push_str(&format!(" on {}: {}", views::when(d.at), d.reason));
    if !d.grounds.is_empty() {
        s.push_str(&format!(" Grounds: {}.", d.grounds.join(", ")));
    }
    s
}

trait DecisionLabel {
    fn decision_label(&self) -> &'static str;
}

impl DecisionLabel for RecordedDecision {
    fn decision_label(&self) -> &'static str {
        match serde_json::to_value(self.decision)
            .ok()
            .as_ref()
            .and_then(Value::as_str)
        {
            Some("execute") => "Execute",
            Some("execute_narrowed") => "Execute narrowed",
            Some("request_information") => "Request information",
            Some("refuse") => "Refuse",
            _ => "Decision",
        }
    }
}

fn default_form(r: &Request, a: &Assessment) -> DecisionForm {
    let narrowed = a.narrowed.as_ref();
    let period = narrowed.and_then(|n| n.period).or(r.period);
    let asked_until = r
        .confidentiality
        .as_ref()
        .filter(|c| c.requested)
        .and_then(|c| c.until);
    let until = narrowed
        .and_then(|n| n.confidentiality_until)
        .or(asked_until);
    DecisionForm {
        decision: match a.outcome {
            Outcome::Execute => "execute",
            Outcome::ExecuteNarrowed => "execute_narrowed",
            Outcome::NeedsInformation => "request_information",
            Outcome::Refuse => "refuse",
            Outcome::ReferForReview => "",
        }
        .to_owned(),
        reason: String::new(),
        message: String::new(),
        grounds: a
            .findings
            .iter()
            .map(|f| GroundChoice {
                code: f.code.clone(),
                label: format!("{} ({}): {}", f.code, f.severity.as_str(), f.message),
                checked: false,
            })
            .collect(),
        categories: views::category_choices(r, a)
            .into_iter()
            .map(|(c, checked)| CategoryChoice {
                value: c.as_str().to_owned(),
                checked,
            })
            .collect(),
        period_from: period.map(|p| p.from.to_string()).unwrap_or_default(),
        period_to: period.map(|p| p.to.to_string()).unwrap_or_default(),
        confidentiality_until: until.map(|t| t.to_string()).unwrap_or_default(),
        has_period: r.period.is_some(),
        has_confidentiality: asked_until.is_some(),
    }
}

/// The form as sent, laid over the defaults so every choice offered stays offered.
fn sent_form(mut form: DecisionForm, sent: &Form) -> DecisionForm {
    form.decision = sent.get("decision");
    form.reason = sent.get("reason");
    form.message = sent.get("message");
    let grounds = sent.all("grounds");
    for g in &mut form.grounds {
        g.checked = grounds.contains(&g.code);
    }
    let categories = sent.all("category");
    for c in &mut form.categories {
        c.checked = categories.contains(&c.value);
    }
    form.period_from = sent.get("period_from");
    form.period_to = sent.get("period_to");
    form.confidentiality_until = sent.get("confidentiality_until");
    form
}

struct Loaded {
    case: Case,
    request: Request,
    assessment: Assessment,
}

async fn load(c: &Console, case_id: i64) -> Result<Loaded, Problem> {
    let case =
        c.node.store.case(case_id).await?.ok_or_else(|| {
            Problem::not_found(format!("there is no case {case_id} on this node"))
        })?;
    let corrupt = |what: &str, e: serde_json::Error| {
        tracing::error!(case = case_id, error = %e, "stored {what} does not parse");
        Problem::internal(format!(
            "the stored {what} of case {case_id} does not parse; run `custos audit`"
        ))
    };
    let request = serde_json::from_str(&case.request_json).map_err(|e| corrupt("request", e))?;
    let assessment =
        serde_json::from_str(&case.assessment).map_err(|e| corrupt("assessment", e))?;
    Ok(Loaded {
        case,
        request,
        assessment,
    })
}

async fn request_view(
    c: &Console,
    v: &Viewer,
    case_id: i64,
    sent: Option<&Form>,
    refusal: Option<Refusal>,
    flash: Option<&'static str>,
) -> Result<RequestPage, Problem> {
    let Loaded {
        case,
        request,
        assessment,
    } = load(c, case_id).await?;
    let store = &c.node.store;
    let authority = store.authority(&case.authority_kid).await?;
    let events = store.case_events(case_id).await?;
    let published = c.node.log.published_size();
    let jws = events
        .iter()
        .rev()
        .find(|e| {
            matches!(
                e.event_type.as_str(),
                "request.received" | "request.supplemented"
            )
        })
        .and_then(|e| serde_json::from_str::<Value>(&e.body).ok())
        .and_then(|b| b["jws"].as_str().map(str::to_owned));
    let (signature_ok, signature) = check_signature(&case, jws.as_deref(), authority.as_ref());
    let mut authority_facts = match &authority {
        Some(a) => vec![
            Fact {
                label: "Name",
                value: a.name.clone(),
            },
            Fact {
                label: "State",
                value: a.state.clone(),
            },
            Fact {
                label: "Kind",
                value: a.kind.clone(),
            },
            Fact {
                label: "Key (RFC 7638 thumbprint)",
                value: a.kid.clone(),
            },
        ],
        None => vec![],
    };
    if let Some(a) = authority.as_ref().filter(|a| a.revoked_at.is_some()) {
        authority_facts.push(Fact {
            label: "Key revoked",
            value: format!(
                "{}{}",
                views::when_opt(a.revoked_at),
                a.revoke_reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
        });
    }
    let timeline = events
        .iter()
        .map(|e| EventRow {
            index: e.seq,
            event_type: e.event_type.clone(),
            at: views::when(e.at),
            summary: views::event_summary(e),
            proof: (e.seq < published)
                .then(|| format!("/v1/log/inclusion?index={}&size={published}", e.seq)),
        })
        .collect();
    let parse_decision = |s: &Option<String>| {
        s.as_deref()
            .and_then(|d| serde_json::from_str::<RecordedDecision>(d).ok())
    };
    let decision = parse_decision(&case.decision).map(|d| decision_text(&d));
    let pending = parse_decision(&case.pending_decision);
    let can_change = v.can_change();
    let can_decide = can_change
        && matches!(
            case.status,
            CaseStatus::Assessed | CaseStatus::AwaitingInformation
        );
    let (can_second_review, second_review_note) = match &pending {
        None => (false, String::new()),
        Some(_) if !can_change => (false, "Auditors cannot take part in decisions.".into()),
        Some(_) if v.user.role < Role::Supervisor => (
            false,
            format!(
                "A second reviewer with the supervisor role must confirm this; you are {}.",
                v.user.role.as_str()
            ),
        ),
        Some(p) if p.reviewer == v.user.name => (
            false,
            "You proposed this decision; another supervisor must confirm it.".into(),
        ),
        Some(_) => (true, String::new()),
    };
    let pending = pending.map(|p| PendingView {
        decision: p.decision_label().to_owned(),
        reviewer: p.reviewer.clone(),
        reason: p.reason.clone(),
        narrowed: p
            .narrowed
            .as_ref()
            .map(|n| {
                format!(
                    "{}; period {}",
                    n.data_categories,
                    views::period_text(n.period.as_ref())
                )
            })
            .unwrap_or_default(),
    });
    let now = Timestamp::now();
    let hold = store
        .active_holds()
        .await?
        .into_iter()
        .find(|h| h.case_id == case_id)
        .map(|h| hold_view(&h, &case.request_id, now));
    let evidence = store
        .evidence_for_case(case_id)
        .await?
        .into_iter()
        .map(|e| EvidenceView {
            sha256: e.package_sha256,
            size: format!("{} bytes", e.size),
            sealed_at: views::when(e.sealed_at),
            delivered_at: views::when_opt(e.delivered_at),
            destroyed_at: views::when_opt(e.destroyed_at),
        })
        .collect();
    let defaults = default_form(&request, &assessment);
    let form = match sent {
        Some(f) => sent_form(defaults, f),
        None => defaults,
    };
    let due = views::Due::of(case.respond_by, now);
    let open = !matches!(case.status, CaseStatus::Closed | CaseStatus::Refused);
    Ok(RequestPage {
        layout: v.layout(format!("Case {case_id}"), "queue"),
        case_id,
        request_id: case.request_id.clone(),
        status_label: views::status_label(case.status),
        outcome: case.outcome.clone(),
        outcome_label: views::outcome_label(&case.outcome),
        profile: assessment.profile.clone(),
        respond_by: views::when(case.respond_by),
        respond_in: views::relative(case.respond_by, now),
        due_class: if open { due.class() } else { "" },
        due_label: if open { due.label() } else { "" },
        emergency: case.emergency,
        authority: authority_facts,
        signature_ok,
        signature,
        facts: RequestFacts::new(&request),
        findings: views::findings(&assessment),
        comparison: views::comparison(&request, &assessment),
        timeline,
        decision,
        can_decide,
        form,
        pending,
        can_second_review,
        second_review_note,
        hold,
        evidence,
        refusal,
        flash,
    })
}

fn hold_view(h: &custos_store::Hold, request_id: &str, now: Timestamp) -> HoldView {
    HoldView {
        case_id: h.case_id,
        request_id: request_id.to_owned(),
        started_at: views::when(h.started_at),
        expires_at: views::when(h.expires_at),
        expires_in: views::relative(h.expires_at, now),
        due_class: views::Due::of(h.expires_at, now).class(),
        renewals: h.renewals,
    }
}

const FLASHES: [(&str, &str); 5] = [
    ("decided", "Decision recorded and logged."),
    (
        "proposed",
        "Decision proposed; it takes effect when a second reviewer (a supervisor) confirms it.",
    ),
    ("confirmed", "Second review recorded and logged."),
    ("renewed", "Preservation hold renewed and logged."),
    (
        "information",
        "Request for information recorded and logged; the requester can now supplement the request.",
    ),
];

/// `GET /console/requests/{case}`.
pub async fn request_page(
    State(c): Shared,
    Path(case_id): Path<i64>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let v = match page_viewer(&c, &headers, &format!("/console/requests/{case_id}")).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let done = query_get(&query_pairs(&q), "done");
    let flash = FLASHES
        .iter()
        .find(|(k, _)| Some(*k) == done.as_deref())
        .map(|(_, text)| *text);
    match request_view(&c, &v, case_id, None, None, flash).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(p) => error_page(v.layout("Case", "queue"), &p),
    }
}

/// The page again, with the refusal and what was sent.
async fn refused(c: &Console, v: &Viewer, case_id: i64, sent: &Form, p: &Problem) -> Response {
    let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
    match request_view(c, v, case_id, Some(sent), Some(p.into()), None).await {
        Ok(page) => render(status, &page),
        Err(p2) => error_page(v.layout("Case", "queue"), &p2),
    }
}

/// The decision as the API takes it, built from the form (so the API's own checks apply).
fn decision_input(form: &Form) -> Result<DecisionInput, Problem> {
    let decision = form.get("decision");
    let mut v = json!({
        "decision": decision,
        "reason": form.get("reason"),
        "grounds": form.all("grounds"),
    });
    if decision == "request_information" {
        v["message"] = json!(form.get("message"));
    }
    if decision == "execute_narrowed" {
        let text = |name: &str| Some(form.get(name)).filter(|s| !s.trim().is_empty());
        let period = match (text("period_from"), text("period_to")) {
            (Some(from), Some(to)) => json!({ "from": from.trim(), "to": to.trim() }),
            (None, None) => Value::Null,
            _ => {
                return Err(Problem::unprocessable(
                    "invalid-decision",
                    "$.narrowed.period: give both the start and the end of the period, or neither",
                ));
            }
        };
        v["narrowed"] = json!({
            "data_categories": form.all("category"),
            "period": period,
            "confidentiality_until": text("confidentiality_until").map(|s| s.trim().to_owned()),
        });
    }
    if decision.is_empty() {
        return Err(Problem::unprocessable(
            "invalid-decision",
            "$.decision: choose what to decide (execute, execute narrowed, ask for information or refuse)",
        ));
    }
    serde_json::from_value(v).map_err(|e| {
        Problem::unprocessable(
            "invalid-decision",
            format!("the form does not make a valid decision: {e}"),
        )
    })
}

/// The common path of a case form: check the session and CSRF token, turn the form into a writer
/// job (`make`, which may refuse the form first), run it, then redirect to where `done` says, or
/// show the page again with the refusal and the form as sent.
async fn case_form<T>(
    c: &Console,
    case_id: i64,
    headers: &HeaderMap,
    body: &[u8],
    make: impl FnOnce(
        &Form,
        User,
    ) -> Result<
        Box<dyn FnOnce(tokio::sync::oneshot::Sender<Result<T, Problem>>) -> Job + Send>,
        Problem,
    >,
    done: impl FnOnce(&T, &Form) -> String,
) -> Response {
    let form = Form::parse(body);
    let v = match form_viewer(c, headers, &form).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let job = match make(&form, v.user.clone()) {
        Ok(job) => job,
        Err(p) => return refused(c, &v, case_id, &form, &p).await,
    };
    match c.node.writer.call(job).await {
        Ok(result) => see_other(&done(&result, &form)),
        Err(p) => refused(c, &v, case_id, &form, &p).await,
    }
}

/// `POST /console/requests/{case}/decision`.
pub async fn decide(
    State(c): Shared,
    Path(case_id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    case_form(
        &c,
        case_id,
        &headers,
        &body,
        |form, user| {
            let input = decision_input(form)?;
            Ok(Box::new(move |reply| Job::Decide {
                case_id,
                user,
                input,
                reply,
            }))
        },
        |case: &Case, _| {
            let done = match case.status {
                CaseStatus::AwaitingSecondReview => "proposed",
                CaseStatus::AwaitingInformation => "information",
                _ => "decided",
            };
            format!("/console/requests/{case_id}?done={done}")
        },
    )
    .await
}

/// `POST /console/requests/{case}/second-review`: `confirm` is `yes` or `no`.
pub async fn second_review(
    State(c): Shared,
    Path(case_id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    case_form(
        &c,
        case_id,
        &headers,
        &body,
        |form, user| {
            let input = SecondReviewInput {
                confirm: form.get("confirm") == "yes",
                reason: form.get("second_reason"),
            };
            Ok(Box::new(move |reply| Job::SecondReview {
                case_id,
                user,
                input,
                reply,
            }))
        },
        |_: &Case, _| format!("/console/requests/{case_id}?done=confirmed"),
    )
    .await
}

/// `POST /console/requests/{case}/hold/renew` (from the request page, or the holds page with
/// `back=holds`).
pub async fn renew(
    State(c): Shared,
    Path(case_id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    case_form(
        &c,
        case_id,
        &headers,
        &body,
        |_, user| {
            Ok(Box::new(move |reply| Job::Renew {
                case_id,
                user,
                reply,
            }))
        },
        |_: &custos_store::Hold, form| match form.get("back").as_str() {
            "holds" => "/console/holds?done=renewed".to_owned(),
            _ => format!("/console/requests/{case_id}?done=renewed"),
        },
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Holds and secrecy

/// A case under confidentiality.
#[derive(Debug, Clone)]
pub struct SecrecyView {
    pub case_id: i64,
    pub request_id: String,
    pub until: String,
    pub until_in: String,
    pub notify_at: String,
}

/// A notice owed to a person concerned.
#[derive(Debug, Clone)]
pub struct NoticeView {
    pub case_id: i64,
    pub due_at: String,
    pub due: bool,
    pub ended_at: String,
    pub sent_at: String,
    pub attempts: i64,
    pub last_error: String,
}

#[derive(Template)]
#[template(path = "holds.html")]
struct HoldsPage {
    layout: Layout,
    holds: Vec<HoldView>,
    secrecy: Vec<SecrecyView>,
    notices: Vec<NoticeView>,
    can_renew: bool,
    flash: Option<&'static str>,
}

struct HoldsData {
    holds: Vec<HoldView>,
    secrecy: Vec<SecrecyView>,
    notices: Vec<NoticeView>,
}

/// Whether the request asked for confidentiality (with or without an end).
fn secrecy_requested(c: &Case) -> bool {
    serde_json::from_str::<Value>(&c.request_json)
        .ok()
        .is_some_and(|r| r["confidentiality"]["requested"] == true)
}

async fn holds_data(c: &Console) -> Result<HoldsData, Problem> {
    let store = &c.node.store;
    let now = Timestamp::now();
    let cases = store
        .cases(&CaseFilter {
            limit: 10_000,
            ..CaseFilter::default()
        })
        .await?;
    let request_id = |id: i64| {
        cases
            .iter()
            .find(|c| c.case_id == id)
            .map(|c| c.request_id.clone())
            .unwrap_or_default()
    };
    let holds = store
        .active_holds()
        .await?
        .iter()
        .map(|h| hold_view(h, &request_id(h.case_id), now))
        .collect();
    // Open-ended secrecy is listed first: it is what most needs a reviewer's eye (safeguards.md,
    // confidentiality caps; the critics' "open-ended gag orders").
    let mut secrecy: Vec<(Option<Timestamp>, SecrecyView)> = cases
        .iter()
        .filter_map(|c| {
            if c.confidentiality_until.is_none() && !secrecy_requested(c) {
                return None;
            }
            let (until, until_in) = match c.confidentiality_until {
                Some(t) => (views::when(t), views::relative(t, now)),
                None => ("no end given".to_owned(), "open-ended".to_owned()),
            };
            Some((
                c.confidentiality_until,
                SecrecyView {
                    case_id: c.case_id,
                    request_id: c.request_id.clone(),
                    until,
                    until_in,
                    notify_at: views::when_opt(c.notify_person_at),
                },
            ))
        })
        .collect();
    secrecy.sort_by_key(|(until, _)| *until);
    let secrecy = secrecy.into_iter().map(|(_, v)| v).collect();
    let notices = store
        .notices()
        .await?
        .iter()
        .map(|n| NoticeView {
            case_id: n.case_id,
            due_at: views::when(n.due_at),
            due: n.due_at <= now && n.sent_at.is_none(),
            ended_at: views::when_opt(n.ended_at),
            sent_at: views::when_opt(n.sent_at),
            attempts: n.attempts,
            last_error: n.last_error.clone().unwrap_or_default(),
        })
        .collect();
    Ok(HoldsData {
        holds,
        secrecy,
        notices,
    })
}

/// `GET /console/holds`: preservation holds, confidentiality ends, notices.
pub async fn holds(State(c): Shared, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let v = match page_viewer(&c, &headers, "/console/holds").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let layout = v.layout("Holds and secrecy", "holds");
    let flash = query_get(&query_pairs(&q), "done")
        .filter(|d| d == "renewed")
        .map(|_| "Preservation hold renewed and logged.");
    match holds_data(&c).await {
        Ok(d) => render(
            StatusCode::OK,
            &HoldsPage {
                layout,
                holds: d.holds,
                secrecy: d.secrecy,
                notices: d.notices,
                can_renew: v.can_change(),
                flash,
            },
        ),
        Err(p) => error_page(layout, &p),
    }
}

fn csv_response(name: &str, header_row: &[&str], rows: Vec<Vec<String>>) -> Response {
    let mut w = csv::Writer::from_writer(Vec::new());
    let written =
        w.write_record(header_row).is_ok() && rows.iter().all(|r| w.write_record(r).is_ok());
    let bytes = match (written, w.into_inner()) {
        (true, Ok(b)) => b,
        _ => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the CSV could not be written",
            )
                .into_response();
        }
    };
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// `GET /console/holds.csv`: holds in force, with their expiry.
pub async fn holds_csv(State(c): Shared, headers: HeaderMap) -> Response {
    let v = match page_viewer(&c, &headers, "/console/holds").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let store = &c.node.store;
    let loaded = async {
        let holds = store.active_holds().await?;
        let mut rows = Vec::new();
        for h in holds {
            let request_id = store
                .case(h.case_id)
                .await?
                .map(|c| c.request_id)
                .unwrap_or_default();
            rows.push(vec![
                h.case_id.to_string(),
                request_id,
                h.started_at.to_string(),
                h.expires_at.to_string(),
                h.renewals.to_string(),
            ]);
        }
        Ok::<_, Problem>(rows)
    }
    .await;
    match loaded {
        Ok(rows) => csv_response(
            "custos-holds.csv",
            &["case", "request_id", "started_at", "expires_at", "renewals"],
            rows,
        ),
        Err(p) => error_page(v.layout("Holds", "holds"), &p),
    }
}

/// `GET /console/notices.csv`: confidentiality ends and notices owed to persons concerned.
pub async fn notices_csv(State(c): Shared, headers: HeaderMap) -> Response {
    let v = match page_viewer(&c, &headers, "/console/holds").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let store = &c.node.store;
    let loaded = async {
        let cases = store
            .cases(&CaseFilter {
                limit: 10_000,
                ..CaseFilter::default()
            })
            .await?;
        let notices = store.notices().await?;
        let rows = cases
            .iter()
            .filter(|c| {
                c.confidentiality_until.is_some()
                    || secrecy_requested(c)
                    || notices.iter().any(|n| n.case_id == c.case_id)
            })
            .map(|c| {
                let n = notices.iter().find(|n| n.case_id == c.case_id);
                let opt = |t: Option<Timestamp>| t.map(|t| t.to_string()).unwrap_or_default();
                vec![
                    c.case_id.to_string(),
                    c.request_id.clone(),
                    opt(c.confidentiality_until),
                    opt(c.notify_person_at),
                    opt(n.map(|n| n.due_at)),
                    opt(n.and_then(|n| n.ended_at)),
                    opt(n.and_then(|n| n.sent_at)),
                    n.map(|n| n.attempts.to_string()).unwrap_or_default(),
                    n.and_then(|n| n.last_error.clone()).unwrap_or_default(),
                ]
            })
            .collect();
        Ok::<_, Problem>(rows)
    }
    .await;
    match loaded {
        Ok(rows) => csv_response(
            "custos-secrecy-and-notices.csv",
            &[
                "case",
                "request_id",
                "confidentiality_until",
                "notify_person_at",
                "notice_due_at",
                "confidentiality_ended_at",
                "notice_sent_at",
                "notice_attempts",
                "notice_last_error",
            ],
            rows,
        ),
        Err(p) => error_page(v.layout("Holds", "holds"), &p),
    }
}

// ---------------------------------------------------------------------------------------------
// Log status

#[derive(Template)]
#[template(path = "log.html")]
struct LogPage {
    layout: Layout,
    checkpoint: Option<String>,
    facts: Vec<Fact>,
    signature_ok: bool,
    signature: String,
    verifier: String,
}

/// `GET /console/log`: the latest checkpoint, its signature checked, and the verifier key.
pub async fn log_status(State(c): Shared, headers: HeaderMap) -> Response {
    let v = match page_viewer(&c, &headers, "/console/log").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let log = &c.node.log;
    let verifier = log.verifier();
    let cp = log.checkpoint();
    let (signature_ok, signature, facts) = match &cp {
        None => (
            false,
            "no checkpoint has been signed yet".to_owned(),
            vec![],
        ),
        Some(cp) => match Checkpoint::open(&cp.note, log.origin(), std::slice::from_ref(&verifier))
        {
            Ok((parsed, _)) => (
                true,
                format!(
                    "Verified with the node's verifier key {} (Ed25519, C2SP signed note)",
                    verifier.name()
                ),
                vec![
                    Fact {
                        label: "Origin",
                        value: parsed.origin.clone(),
                    },
                    Fact {
                        label: "Tree size (events)",
                        value: parsed.size.to_string(),
                    },
                    Fact {
                        label: "Root hash",
                        value: parsed.root.to_base64(),
                    },
                    Fact {
                        label: "Signed",
                        value: views::when(cp.signed_at),
                    },
                ],
            ),
            Err(e) => (
                false,
                format!("the checkpoint does not verify: {e}"),
                vec![],
            ),
        },
    };
    render(
        StatusCode::OK,
        &LogPage {
            layout: v.layout("Log status", "log"),
            checkpoint: cp.map(|c| c.note),
            facts,
            signature_ok,
            signature,
            verifier: verifier.to_string(),
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Static files

const CSS: &str = include_str!("../static/console.css");
const JS: &str = include_str!("../static/console.js");

/// `GET /console/static/{file}`: the console's own stylesheet and script.
pub async fn asset(Path(file): Path<String>) -> Response {
    let (body, ty) = match file.as_str() {
        "console.css" => (CSS, "text/css; charset=utf-8"),
        "console.js" => (JS, "text/javascript; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "no such file").into_response(),
    };
    let mut resp = body.into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ty));
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

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
        ] {
            assert_eq!(safe_next(bad), "/console/queue", "{bad}");
        }
    }

    #[test]
    fn a_narrowing_form_becomes_the_apis_decision() {
        let form = Form::parse(
            b"csrf=x&decision=execute_narrowed&reason=Only+subscriber+data+is+needed.&category=subscriber\
              &period_from=2026-01-01T00%3A00%3A00Z&period_to=2026-02-01T00%3A00%3A00Z&confidentiality_until=&grounds=period-too-long",
        );
        let input = decision_input(&form).expect("valid");
        let narrowed = input.narrowed.expect("narrowed terms");
        assert_eq!(narrowed.data_categories.to_string(), "subscriber");
        assert_eq!(
            narrowed.period.map(|p| p.to.to_string()).as_deref(),
            Some("2026-02-01T00:00:00Z")
        );
        assert_eq!(narrowed.confidentiality_until, None);
        assert_eq!(input.grounds, vec!["period-too-long".to_owned()]);
    }

    #[test]
    fn half_a_period_or_no_choice_is_refused_with_where() {
        let half = Form::parse(
            b"decision=execute_narrowed&reason=x&category=traffic&period_from=2026-01-01T00:00:00Z",
        );
        let p = decision_input(&half).unwrap_err();
        assert!(p.detail.starts_with("$.narrowed.period"), "{}", p.detail);
        let none = Form::parse(b"reason=x");
        assert!(
            decision_input(&none)
                .unwrap_err()
                .detail
                .starts_with("$.decision")
        );
        let bad_date = Form::parse(b"decision=execute_narrowed&reason=x&category=traffic&period_from=yesterday&period_to=today");
        assert_eq!(decision_input(&bad_date).unwrap_err().status, 422);
    }
}
