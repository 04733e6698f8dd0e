//! The public record of each case once its secrecy ends (issue 14): `/transparency/cases` and
//! `/transparency/cases/{case}`, for anyone, without sign-in. The same paths answer JSON
//! (`custos_service::http::transparency`) unless the client prefers HTML (a browser's `Accept`);
//! `/transparency/cases.json` and `/transparency/cases/{case}.json` are always JSON, the links to
//! give scripts. Nothing here reads a case that is not published: the pages show the record the
//! log commits to, and the commands that check it.

use custos_service::http::transparency::{self, RecordPage};
use custos_service::ops::CaseRecord;
use custos_service::wire::{PublishedRecord, PublishedRecords};

use super::public::{PublicLayout, public_error};
use super::*;

/// Whether the client prefers HTML to JSON: `text/html` (or XHTML) named in `Accept` with a
/// weight no lower than JSON's own. `*/*` alone, or no `Accept`, means JSON.
pub(crate) fn prefers_html(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let (mut html, mut json) = (None::<f32>, None::<f32>);
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let slot = match media.as_str() {
            "text/html" | "application/xhtml+xml" => &mut html,
            "application/json" => &mut json,
            _ => continue,
        };
        *slot = Some(slot.map_or(q, |old| old.max(q)));
    }
    match (html, json) {
        (Some(h), Some(j)) => h > 0.0 && h >= j,
        (Some(h), None) => h > 0.0,
        _ => false,
    }
}

/// An HTML answer of a path that also answers JSON: caches must key on `Accept`.
fn varies(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept"));
    r
}

fn public_layout(title: &str) -> PublicLayout {
    PublicLayout::new(title, "cases")
}

/// One record as a row or a page shows it: words, not wire names.
struct RecordView {
    case: i64,
    requesting_state: String,
    measure: String,
    channel: &'static str,
    offence_categories: Vec<&'static str>,
    finding_codes: Vec<String>,
    recommendation: &'static str,
    decision: &'static str,
    dates: Vec<(&'static str, String)>,
    published: String,
    events: Vec<(u64, &'static str)>,
}

impl RecordView {
    fn of(r: &CaseRecord) -> RecordView {
        let day = |d: Option<jiff::civil::Date>| d.map_or("—".to_owned(), |d| d.to_string());
        RecordView {
            case: r.case,
            requesting_state: r.requesting_state.clone(),
            measure: views::measure_label(r.measure.as_str()),
            channel: r.channel.as_str(),
            offence_categories: r.offence_categories.iter().map(|c| c.as_str()).collect(),
            finding_codes: r.finding_codes.clone(),
            recommendation: r.recommendation.label(),
            decision: match (r.withdrawn, r.decision) {
                (true, _) => "Withdrawn by the requesting authority",
                (false, None) => "No decision",
                (false, Some(k)) => decision_words(k),
            },
            dates: vec![
                ("Received", r.dates.received.to_string()),
                ("Decided", day(r.dates.decided)),
                ("Executed", day(r.dates.executed)),
                ("Closed", r.dates.closed.to_string()),
                ("Confidentiality ended", day(r.dates.confidentiality_ended)),
                ("Published", r.dates.published.to_string()),
            ],
            published: r.dates.published.to_string(),
            events: r
                .events
                .iter()
                .map(|e| (e.index, e.event_type.as_str()))
                .collect(),
        }
    }
}

fn decision_words(k: custos_service::ops::DecisionKind) -> &'static str {
    use custos_service::ops::DecisionKind::*;
    match k {
        Execute => "Executed",
        ExecuteNarrowed => "Executed, narrowed",
        RequestInformation => "More information requested",
        Refuse => "Refused",
    }
}

#[derive(Template)]
#[template(path = "public_records.html")]
struct RecordsPage {
    layout: PublicLayout,
    total: u64,
    first: u64,
    records: Vec<RecordView>,
    previous: Option<String>,
    next: Option<String>,
    json: String,
}

#[derive(Template)]
#[template(path = "public_record.html")]
struct RecordPageHtml {
    layout: PublicLayout,
    r: RecordView,
    index: u64,
    checkpoint: String,
    json: String,
    verifier: String,
}

/// `GET /transparency/cases`: the published records (HTML to a browser, else JSON).
pub async fn public_records(
    State(c): Shared,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    if !prefers_html(&headers) {
        return transparency::list(&c.node, &uri).await;
    }
    let list = match RecordPage::of(&uri) {
        Ok(page) => transparency::case_list(&c.node, page).await,
        Err(p) => Err(p),
    };
    match list {
        Ok(list) => varies(render(StatusCode::OK, &records_page(list, uri.query()))),
        Err(p) => public_error("cases", &p),
    }
}

fn records_page(list: PublishedRecords, query: Option<&str>) -> RecordsPage {
    let previous = (list.offset > 0).then(|| {
        format!(
            "/transparency/cases?offset={}&limit={}",
            list.offset.saturating_sub(list.limit),
            list.limit
        )
    });
    RecordsPage {
        layout: public_layout("Public records of cases"),
        total: list.total,
        first: list.offset + 1,
        records: list
            .records
            .iter()
            .map(|l| RecordView::of(&l.record))
            .collect(),
        previous,
        next: list
            .next
            .map(|n| n.replacen("/transparency/cases.json", "/transparency/cases", 1)),
        json: match query {
            Some(q) if !q.is_empty() => format!("/transparency/cases.json?{q}"),
            _ => "/transparency/cases.json".to_owned(),
        },
    }
}

/// `GET /transparency/cases.json`: the published records, always JSON.
pub async fn public_records_json(State(c): Shared, uri: axum::http::Uri) -> Response {
    transparency::list(&c.node, &uri).await
}

/// `GET /transparency/cases/{case}` (HTML to a browser, else JSON) and
/// `/transparency/cases/{case}.json` (always JSON).
pub async fn public_record(
    State(c): Shared,
    headers: HeaderMap,
    Path(n): Path<String>,
) -> Response {
    let (number, json) = match n.strip_suffix(".json") {
        Some(n) => (n, true),
        None => (n.as_str(), !prefers_html(&headers)),
    };
    let Ok(case) = number.parse::<i64>() else {
        let p = Problem::not_found(format!(
            "/transparency/cases/{n}: a record is named by its case number, e.g. /transparency/cases/12"
        ));
        return if json {
            p.into_response()
        } else {
            public_error("cases", &p)
        };
    };
    if json {
        return transparency::record(&c.node, case).await;
    }
    match transparency::case_record(&c.node, case).await {
        Ok(r) => varies(render(StatusCode::OK, &record_page(&c, r))),
        Err(p) => public_error("cases", &p),
    }
}

fn record_page(c: &Console, r: PublishedRecord) -> RecordPageHtml {
    RecordPageHtml {
        layout: public_layout(&format!("Public record of case {}", r.record.case)),
        json: format!("/transparency/cases/{}.json", r.record.case),
        r: RecordView::of(&r.record),
        index: r.publication.index,
        checkpoint: r.checkpoint,
        verifier: c.node.log.verifier().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn browsers_get_html_and_everyone_else_json() {
        assert!(prefers_html(&accept(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        )));
        assert!(prefers_html(&accept("text/html")));
        assert!(!prefers_html(&HeaderMap::new()));
        assert!(!prefers_html(&accept("*/*")));
        assert!(!prefers_html(&accept("application/json")));
        assert!(!prefers_html(&accept("application/json, text/html;q=0.5")));
        assert!(!prefers_html(&accept("text/html;q=0")));
        assert!(prefers_html(&accept("application/json;q=0.5, text/html")));
    }
}
