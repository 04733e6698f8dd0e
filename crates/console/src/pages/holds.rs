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
    extensions: Vec<PendingExtensionView>,
    can_renew: bool,
    flash: Option<&'static str>,
}

/// What the holds page and both exports are made from, read once per request.
struct Registers {
    cases: Vec<Case>,
    holds: Vec<Hold>,
    notices: Vec<Notice>,
    extensions: Vec<Extension>,
}

impl Registers {
    async fn load(c: &Console) -> Result<Registers, Problem> {
        let query = c.node.query();
        Ok(Registers {
            cases: query.cases(&CaseQuery::default(), None).await?,
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

fn holds_page(
    r: &Registers,
    layout: Layout,
    can_renew: bool,
    flash: Option<&'static str>,
) -> HoldsPage {
    let now = Timestamp::now();
    let holds = r
        .holds
        .iter()
        .map(|h| hold_view(h, &r.request_id(h.case_id), now))
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
    let notices = r
        .notices
        .iter()
        .map(|n| NoticeView {
            case_id: n.case_id,
            due_at: views::when(n.due_at),
            due: n.due_at <= now && n.sent_at.is_none(),
            ended_at: views::when_opt(n.ended_at),
            sent_at: views::when_opt(n.sent_at),
            attempts: n.attempts,
            last_error: n.last_error.clone().unwrap_or_default(),
            last_attempt_at: views::when_opt(n.last_attempt_at),
            next_attempt_at: match next_attempt(n) {
                Some(t) if t <= now => "now (next scheduler pass)".to_owned(),
                Some(t) => format!("{} ({})", views::when(t), views::relative(t, now)),
                None => "—".to_owned(),
            },
        })
        .collect();
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
    let flash = query_get(&query_pairs(&q), "done")
        .filter(|d| d == "renewed")
        .map(|_| "Preservation hold renewed and logged.");
    match Registers::load(&c).await {
        Ok(r) => render(
            StatusCode::OK,
            &holds_page(&r, layout, v.can_change(), flash),
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

fn opt_time(t: Option<Timestamp>) -> String {
    t.map(|t| t.to_string()).unwrap_or_default()
}

/// `GET /console/holds.csv`: holds in force, with their expiry.
pub async fn holds_csv(State(c): Shared, jar: CookieJar) -> Response {
    export(
        &c,
        &jar,
        "custos-holds.csv",
        &["case", "request_id", "started_at", "expires_at", "renewals"],
        |r| {
            r.holds
                .iter()
                .map(|h| {
                    vec![
                        h.case_id.to_string(),
                        r.request_id(h.case_id),
                        h.started_at.to_string(),
                        h.expires_at.to_string(),
                        h.renewals.to_string(),
                    ]
                })
                .collect()
        },
    )
    .await
}

/// `GET /console/notices.csv`: confidentiality ends and notices owed to persons concerned.
pub async fn notices_csv(State(c): Shared, jar: CookieJar) -> Response {
    export(
        &c,
        &jar,
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
            "notice_last_attempt_at",
            "notice_next_attempt_at",
        ],
        |r| {
            r.under_secrecy()
                .map(|c| {
                    let n = r.notices.iter().find(|n| n.case_id == c.case_id);
                    vec![
                        c.case_id.to_string(),
                        c.request_id.clone(),
                        opt_time(c.confidentiality_until),
                        opt_time(c.notify_person_at),
                        opt_time(n.map(|n| n.due_at)),
                        opt_time(n.and_then(|n| n.ended_at)),
                        opt_time(n.and_then(|n| n.sent_at)),
                        n.map(|n| n.attempts.to_string()).unwrap_or_default(),
                        n.and_then(|n| n.last_error.clone()).unwrap_or_default(),
                        opt_time(n.and_then(|n| n.last_attempt_at)),
                        opt_time(n.and_then(next_attempt)),
                    ]
                })
                .collect()
        },
    )
    .await
}
