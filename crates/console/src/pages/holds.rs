//! Holds and secrecy: preservation holds, confidentiality ends, notices, and their CSV exports.

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
