//! Holds and secrecy: preservation holds, confidentiality ends, notices (with their delivery
//! attempts: the last error and the next try), requests to extend secrecy waiting for a
//! reviewer, and the CSV exports.

use super::request::{HoldView, hold_view};
use super::*;

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
    pub last_attempt_at: String,
    pub next_attempt_at: String,
    /// Not yet sent: a reviewer can mark it sent by hand or defer it.
    pub open: bool,
}

/// A request to extend a deadline, waiting for a reviewer.
#[derive(Debug, Clone)]
pub struct PendingExtensionView {
    pub case_id: i64,
    pub request_id: String,
    pub kind: &'static str,
    pub asked_at: String,
    pub current_until: String,
    pub asked_until: String,
}

#[derive(Template)]
#[template(path = "holds.html")]
struct HoldsPage {
    layout: Layout,
    holds: Vec<HoldView>,
    secrecy: Vec<SecrecyView>,
    notices: Vec<NoticeView>,
    /// Where the notice forms return (`notice_actions.html`).
    notice_back: &'static str,
    extensions: Vec<PendingExtensionView>,
    can_renew: bool,
    flash: Option<&'static str>,
}

/// What the holds page and both exports are made from, read once per request.
struct Registers {
    cases: Vec<Case>,
    authorities: Vec<Authority>,
    holds: Vec<Hold>,
    notices: Vec<Notice>,
    extensions: Vec<Extension>,
}

impl Registers {
    async fn load(c: &Console) -> Result<Registers, Problem> {
        let query = c.node.query();
        Ok(Registers {
            cases: query.cases(&CaseQuery::default(), None).await?,
            authorities: query.authorities().await?,
            holds: query.active_holds().await?,
            notices: query.notices().await?,
            extensions: query.pending_extensions().await?,
        })
    }

    fn request_id(&self, case_id: i64) -> String {
        self.cases
            .iter()
            .find(|c| c.case_id == case_id)
            .map(|c| c.request_id.clone())
            .unwrap_or_default()
    }

    /// What an export row says of a case besides its number: request id, requesting state,
    /// authority name (its key's thumbprint if the directory has no name).
    fn label(&self, case_id: i64) -> CaseLabel {
        let Some(c) = self.cases.iter().find(|c| c.case_id == case_id) else {
            return CaseLabel::default();
        };
        CaseLabel {
            request_id: c.request_id.clone(),
            state: c.requesting_state.clone(),
            authority: self
                .authorities
                .iter()
                .find(|a| a.kid == c.authority_kid)
                .map_or_else(|| c.authority_kid.clone(), |a| a.name.clone()),
        }
    }

    /// Cases under confidentiality, or owed a notice.
    fn under_secrecy(&self) -> impl Iterator<Item = &Case> {
        self.cases.iter().filter(|c| {
            c.confidentiality_until.is_some()
                || secrecy_requested(c)
                || self.notices.iter().any(|n| n.case_id == c.case_id)
        })
    }
}

/// Whether the request asked for confidentiality (with or without an end).
fn secrecy_requested(c: &Case) -> bool {
    serde_json::from_str::<Value>(&c.request_json)
        .ok()
        .is_some_and(|r| r["confidentiality"]["requested"] == true)
}

/// A notice as the holds page and the request page show it.
pub(super) fn notice_view(n: &Notice, now: Timestamp) -> NoticeView {
    NoticeView {
        case_id: n.case_id,
        due_at: views::when(n.due_at),
        due: n.due_at <= now && n.sent_at.is_none(),
        ended_at: views::when_opt(n.ended_at),
        sent_at: views::when_opt(n.sent_at),
        attempts: n.attempts,
        last_error: n.last_error.clone().unwrap_or_default(),
        last_attempt_at: views::when_opt(n.last_attempt_at),
        open: n.sent_at.is_none(),
        next_attempt_at: match next_attempt(n) {
            Some(t) if t <= now => "now (next scheduler pass)".to_owned(),
            Some(t) => format!("{} ({})", views::when(t), views::relative(t, now)),
            None => "—".to_owned(),
        },
    }
}

fn holds_page(
    r: &Registers,
    layout: Layout,
    can_renew: bool,
    flash: Option<&'static str>,
    preservation_days: u32,
    now: Timestamp,
) -> HoldsPage {
    let holds = r
        .holds
        .iter()
        .map(|h| hold_view(h, &r.request_id(h.case_id), now, preservation_days))
        .collect();
    // Open-ended secrecy is listed first: it is what most needs a reviewer's eye (safeguards.md,
    // confidentiality caps; the critics' "open-ended gag orders").
    let mut secrecy: Vec<(Option<Timestamp>, SecrecyView)> = r
        .cases
        .iter()
        .filter(|c| c.confidentiality_until.is_some() || secrecy_requested(c))
        .map(|c| {
            let (until, until_in) = match c.confidentiality_until {
                Some(t) => (views::when(t), views::relative(t, now)),
                None => ("no end given".to_owned(), "open-ended".to_owned()),
            };
            (
                c.confidentiality_until,
                SecrecyView {
                    case_id: c.case_id,
                    request_id: c.request_id.clone(),
                    until,
                    until_in,
                    notify_at: views::when_opt(c.notify_person_at),
                },
            )
        })
        .collect();
    secrecy.sort_by_key(|(until, _)| *until);
    let notices = r.notices.iter().map(|n| notice_view(n, now)).collect();
    let extensions = r
        .extensions
        .iter()
        .map(|x| PendingExtensionView {
            case_id: x.case_id,
            request_id: r.request_id(x.case_id),
            kind: views::extension_kind(x.kind),
            asked_at: views::when(x.asked_at),
            current_until: views::when(x.current_until),
            asked_until: views::when(x.asked_until),
        })
        .collect();
    HoldsPage {
        layout,
        holds,
        secrecy: secrecy.into_iter().map(|(_, v)| v).collect(),
        notices,
        notice_back: "holds",
        extensions,
        can_renew,
        flash,
    }
}

/// `GET /console/holds`: preservation holds, confidentiality ends, notices.
pub async fn holds(State(c): Shared, jar: CookieJar, RawQuery(q): RawQuery) -> Response {
    let v = match page_viewer(&c, &jar, "/console/holds").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let layout = v.layout("Holds and secrecy", "holds");
    let flash = query_get(&query_pairs(&q), "done").and_then(|d| match d.as_str() {
        "renewed" => Some("Preservation hold renewed and logged."),
        "released" => Some("Preservation hold released and logged."),
        "notice" => Some("Notice action recorded and logged."),
        _ => None,
    });
    match Registers::load(&c).await {
        Ok(r) => render(
            StatusCode::OK,
            &holds_page(
                &r,
                layout,
                v.can_change(),
                flash,
                c.node.config.lifecycle.preservation_days,
                c.node.now(),
            ),
        ),
        Err(p) => error_page(layout, &p),
    }
}

/// The release form (holds page or request page).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReleaseFields {
    csrf: String,
    /// The case's version as the page showed it (none from the holds page).
    version: String,
    back: String,
    reason: String,
}

/// `POST /console/requests/{case}/hold/release`: release a hold before its date, with a reason.
pub async fn release_hold(
    State(c): Shared,
    Path(case_id): Path<i64>,
    jar: CookieJar,
    Posted(form): Posted<ReleaseFields>,
) -> Response {
    super::request::case_form(
        &c,
        case_id,
        &jar,
        &form.csrf,
        &form.version,
        super::request::Sent::Nothing,
        |user| {
            let input = custos_service::ops::HoldReleaseInput {
                reason: form.reason.clone(),
            };
            Ok(Box::new(move |reply| Job::Release {
                case_id,
                user,
                input,
                reply,
            }))
        },
        |_: &Hold| match form.back.as_str() {
            "holds" => "/console/holds?done=released".to_owned(),
            _ => format!("/console/requests/{case_id}?done=hold-released"),
        },
    )
    .await
}

/// The notice form: `action` is `sent_by_hand` (with `note`) or `deferred` (with `until`, a
/// date or an RFC 3339 time, and `reason`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NoticeFields {
    csrf: String,
    /// The case's version as the page showed it (none from the holds page).
    version: String,
    back: String,
    action: String,
    note: String,
    until: String,
    reason: String,
}

/// The API's notice action made from the form (so the API's checks apply).
fn notice_action(form: &NoticeFields) -> Result<custos_service::ops::NoticeAction, Problem> {
    let v = match form.action.as_str() {
        "sent_by_hand" => serde_json::json!({"action": "sent_by_hand", "note": form.note}),
        "deferred" => {
            let until = form_time(&form.until).ok_or_else(|| {
                Problem::unprocessable(
                    "invalid-notice-action",
                    format!(
                        "$.until: {:?} is not a date (YYYY-MM-DD) or a time (RFC 3339)",
                        form.until
                    ),
                )
            })?;
            serde_json::json!({"action": "deferred", "until": until.to_string(), "reason": form.reason})
        }
        _ => {
            return Err(Problem::unprocessable(
                "invalid-notice-action",
                "$.action: choose sent by hand or deferred",
            ));
        }
    };
    serde_json::from_value(v).map_err(|e| {
        Problem::unprocessable(
            "invalid-notice-action",
            format!("the form does not make a valid notice action: {e}"),
        )
    })
}

/// A time typed in a form, read as UTC: RFC 3339, a date input's `YYYY-MM-DD` (midnight), or a
/// datetime-local input's `YYYY-MM-DDTHH:MM`.
fn form_time(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    if let Ok(t) = text.parse::<Timestamp>() {
        return Some(t);
    }
    let utc = |dt: jiff::civil::DateTime| jiff::tz::TimeZone::UTC.to_timestamp(dt).ok();
    if let Ok(dt) = text.parse::<jiff::civil::DateTime>() {
        return utc(dt);
    }
    let d = text.parse::<jiff::civil::Date>().ok()?;
    utc(d.to_datetime(jiff::civil::Time::midnight()))
}

/// `POST /console/requests/{case}/notice/action`: the notice given by hand, or deferred.
pub async fn act_on_notice(
    State(c): Shared,
    Path(case_id): Path<i64>,
    jar: CookieJar,
    Posted(form): Posted<NoticeFields>,
) -> Response {
    super::request::case_form(
        &c,
        case_id,
        &jar,
        &form.csrf,
        &form.version,
        super::request::Sent::Nothing,
        |user| {
            let action = notice_action(&form)?;
            Ok(Box::new(move |reply| Job::NoticeAction {
                case_id,
                user,
                action,
                reply,
            }))
        },
        |_: &Notice| match form.back.as_str() {
            "holds" => "/console/holds?done=notice".to_owned(),
            _ => format!("/console/requests/{case_id}?done=notice-acted"),
        },
    )
    .await
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

/// A CSV export for a signed-in person: rows made from the registers, read once.
async fn export(
    c: &Console,
    jar: &CookieJar,
    name: &str,
    header_row: &[&str],
    rows: impl FnOnce(&Registers) -> Vec<Vec<String>>,
) -> Response {
    let v = match page_viewer(c, jar, "/console/holds").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match Registers::load(c).await {
        Ok(r) => csv_response(name, header_row, rows(&r)),
        Err(p) => error_page(v.layout("Holds", "holds"), &p),
    }
}

/// The columns of an export row that name the case.
#[derive(Debug, Clone, Default)]
struct CaseLabel {
    request_id: String,
    state: String,
    authority: String,
}

/// A time in an export: RFC 3339 UTC in whole seconds (`2026-11-30T20:00:00Z`), which
/// spreadsheets read; the log keeps the exact instant.
fn csv_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn opt_time(t: Option<Timestamp>) -> String {
    t.map(csv_time).unwrap_or_default()
}

const HOLDS_HEADER: &[&str] = &[
    "case",
    "request_id",
    "state",
    "authority",
    "started_at",
    "expires_at",
    "renewals",
];

fn hold_row(h: &Hold, l: &CaseLabel) -> Vec<String> {
    vec![
        h.case_id.to_string(),
        l.request_id.clone(),
        l.state.clone(),
        l.authority.clone(),
        csv_time(h.started_at),
        csv_time(h.expires_at),
        h.renewals.to_string(),
    ]
}

/// `GET /console/holds.csv`: holds in force, with their expiry.
pub async fn holds_csv(State(c): Shared, jar: CookieJar) -> Response {
    export(&c, &jar, "custos-holds.csv", HOLDS_HEADER, |r| {
        r.holds
            .iter()
            .map(|h| hold_row(h, &r.label(h.case_id)))
            .collect()
    })
    .await
}

const NOTICES_HEADER: &[&str] = &[
    "case",
    "request_id",
    "state",
    "authority",
    "confidentiality_until",
    "notify_person_at",
    "notice_due_at",
    "confidentiality_ended_at",
    "notice_sent_at",
    "notice_attempts",
    "notice_last_error",
    "notice_last_attempt_at",
    "notice_next_attempt_at",
];

/// A row of the secrecy export: the case's secrecy end and notice date, and its notice if one
/// is owed.
fn notice_row(
    case_id: i64,
    l: &CaseLabel,
    confidentiality_until: Option<Timestamp>,
    notify_person_at: Option<Timestamp>,
    n: Option<&Notice>,
) -> Vec<String> {
    vec![
        case_id.to_string(),
        l.request_id.clone(),
        l.state.clone(),
        l.authority.clone(),
        opt_time(confidentiality_until),
        opt_time(notify_person_at),
        opt_time(n.map(|n| n.due_at)),
        opt_time(n.and_then(|n| n.ended_at)),
        opt_time(n.and_then(|n| n.sent_at)),
        n.map(|n| n.attempts.to_string()).unwrap_or_default(),
        n.and_then(|n| n.last_error.clone()).unwrap_or_default(),
        opt_time(n.and_then(|n| n.last_attempt_at)),
        opt_time(n.and_then(next_attempt)),
    ]
}

/// `GET /console/notices.csv`: confidentiality ends and notices owed to persons concerned.
pub async fn notices_csv(State(c): Shared, jar: CookieJar) -> Response {
    export(
        &c,
        &jar,
        "custos-secrecy-and-notices.csv",
        NOTICES_HEADER,
        |r| {
            r.under_secrecy()
                .map(|c| {
                    notice_row(
                        c.case_id,
                        &r.label(c.case_id),
                        c.confidentiality_until,
                        c.notify_person_at,
                        r.notices.iter().find(|n| n.case_id == c.case_id),
                    )
                })
                .collect()
        },
    )
    .await
}

#[cfg(test)]
mod csv_tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn csv_of(header: &[&str], rows: Vec<Vec<String>>) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(header).unwrap();
        for r in rows {
            w.write_record(r).unwrap();
        }
        String::from_utf8(w.into_inner().unwrap()).unwrap()
    }

    #[test]
    fn exports_give_times_in_whole_seconds_with_state_and_authority() {
        let label = CaseLabel {
            request_id: "XA-1".into(),
            state: "XA".into(),
            authority: "Prosecutor, \"X\" office".into(),
        };
        let hold = Hold {
            case_id: 7,
            started_at: t("2026-11-30T20:00:00.123456789Z"),
            expires_at: t("2027-02-28T20:00:00.999Z"),
            renewals: 1,
            released_at: None,
        };
        let notice = Notice {
            case_id: 7,
            due_at: t("2026-12-01T00:00:00.5Z"),
            ended_at: Some(t("2026-12-01T00:00:01.25Z")),
            sent_at: None,
            attempts: 1,
            last_error: Some("exit status 7".into()),
            last_attempt_at: Some(t("2026-12-01T00:00:02.000000001Z")),
        };
        let out = csv_of(HOLDS_HEADER, vec![hold_row(&hold, &label)])
            + &csv_of(
                NOTICES_HEADER,
                vec![
                    notice_row(
                        7,
                        &label,
                        Some(t("2026-12-01T00:00:00.5Z")),
                        None,
                        Some(&notice),
                    ),
                    notice_row(8, &CaseLabel::default(), None, None, None),
                ],
            );
        insta::assert_snapshot!(out);
        assert!(!out.contains('.'), "no fractional seconds: {out}");
    }

    #[test]
    fn form_times_are_utc() {
        assert_eq!(form_time("2027-01-02"), Some(t("2027-01-02T00:00:00Z")));
        assert_eq!(
            form_time("2027-01-02T08:30"),
            Some(t("2027-01-02T08:30:00Z"))
        );
        assert_eq!(
            form_time(" 2027-01-02T08:30:00+01:00 "),
            Some(t("2027-01-02T07:30:00Z"))
        );
        assert_eq!(form_time("tomorrow"), None);
    }
}
