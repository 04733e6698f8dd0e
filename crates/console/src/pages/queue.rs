//! The queue and the all-cases view: open requests (justified emergencies first on their clocks,
//! then soonest deadline first), or every case of a status; search, filters, counts that link to
//! their filtered lists, pages, and a dense table. The filters live in the query string; the
//! last list's query is kept in a cookie so the request page links back to it.

use super::*;

/// One option of a filter's select.
#[derive(Debug, Clone)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// A count at the top of the queue, linking to the list it counts.
#[derive(Debug, Clone)]
pub struct Count {
    pub label: &'static str,
    pub value: usize,
    pub class: &'static str,
    pub href: String,
    pub current: bool,
}

/// A link to another page of the list.
#[derive(Debug, Clone)]
pub struct PageLink {
    pub label: String,
    pub href: String,
    pub current: bool,
}

/// The cookie that keeps the last list's query string, for the request page's link back.
pub(super) const LIST_COOKIE: &str = "custos_list";

/// Rows on one page of the list.
const PAGE_SIZE: usize = 50;

#[derive(Template)]
#[template(path = "queue.html")]
struct QueuePage {
    layout: Layout,
    heading: &'static str,
    counts: Vec<Count>,
    q: String,
    statuses: Vec<Choice>,
    outcomes: Vec<Choice>,
    measures: Vec<Choice>,
    states: Vec<Choice>,
    channels: Vec<Choice>,
    emergencies: Vec<Choice>,
    /// Who has the case: me, no one (`assignee`).
    assignees: Vec<Choice>,
    received_from: String,
    received_to: String,
    rows: Vec<QueueRow>,
    filtered: bool,
    dense: bool,
    /// This list's query string without `dense`, and the dense toggle's link.
    dense_href: String,
    matched: usize,
    first: usize,
    pages: Vec<PageLink>,
    order_note: &'static str,
}

fn choices(
    all: impl IntoIterator<Item = (String, String)>,
    selected: &Option<String>,
    any: &str,
) -> Vec<Choice> {
    let mut out = vec![Choice {
        value: String::new(),
        label: any.into(),
        selected: selected.is_none(),
    }];
    out.extend(all.into_iter().map(|(value, label)| Choice {
        selected: selected.as_deref() == Some(value.as_str()),
        value,
        label,
    }));
    out
}

/// Every status, in the order a case moves through them.
const STATUSES: [CaseStatus; 10] = [
    CaseStatus::Assessed,
    CaseStatus::AwaitingInformation,
    CaseStatus::AwaitingSecondReview,
    CaseStatus::InConsultation,
    CaseStatus::Postponed,
    CaseStatus::Executing,
    CaseStatus::Delivered,
    CaseStatus::Refused,
    CaseStatus::Withdrawn,
    CaseStatus::Closed,
];

/// A received-on date filter (`YYYY-MM-DD`, UTC) or why it is not one.
fn day(pairs: &[(String, String)], name: &str) -> Result<Option<jiff::civil::Date>, Problem> {
    match query_get(pairs, name).filter(|v| !v.trim().is_empty()) {
        None => Ok(None),
        Some(v) => v.trim().parse().map(Some).map_err(|_| {
            Problem::bad_request(
                "invalid-filter",
                format!(
                    "received {}: {v:?} is not a date; pick one with the date picker (YYYY-MM-DD)",
                    if name == "from" { "from" } else { "to" }
                ),
            )
        }),
    }
}

/// The query string of `pairs` with `name` set to `value` (or removed when empty).
fn with(pairs: &[(String, String)], name: &str, value: &str) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if k != name && !v.is_empty() {
            s.append_pair(k, v);
        }
    }
    if !value.is_empty() {
        s.append_pair(name, value);
    }
    s.finish()
}

/// `GET /console/queue?q=&status=&from=&to=&due=&outcome=&measure=&state=&channel=&emergency=&page=&dense=`:
/// without `status`, the open requests in the order of `Queries::cases`; `status=all` every
/// case; a status, the cases in it. `from`/`to` bound the day received (UTC, inclusive);
/// `due` is `overdue` or `soon` (under 8 hours left; `today` is read as `soon`), by the
/// service's deadline rule. Deadlines are read on the node's clock.
pub async fn queue(
    State(c): Shared,
    jar: CookieJar,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let here = format!(
        "/console/queue{}",
        q.as_deref().map(|q| format!("?{q}")).unwrap_or_default()
    );
    let v = match page_viewer(&c, &jar, &here).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mut layout = v.layout("Queue", "queue");
    let pairs: Vec<(String, String)> = query_pairs(&q)
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
    // The console's own fields; the rest are the API's list filters.
    const OWN: [&str; 6] = ["from", "to", "due", "page", "dense", "status"];
    let status = query_get(&pairs, "status");
    let all = status.as_deref() == Some("all");
    // The form's words for the list's: emergency is yes or no; `all` is no status.
    let sent = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            pairs
                .iter()
                .filter(|(k, _)| !OWN.contains(&k.as_str()) || (k == "status" && !all))
                .map(|(k, v)| match (k.as_str(), v.as_str()) {
                    ("emergency", "yes") => (k.clone(), "true".to_owned()),
                    ("emergency", "no") => (k.clone(), "false".to_owned()),
                    _ => (k.clone(), v.clone()),
                }),
        )
        .finish();
    // A misspelt filter is refused, not ignored: an empty list must mean "nothing there".
    let asked = match CaseQuery::parse(&sent) {
        Ok(asked) => asked.for_viewer(&v.user.name),
        Err(p) => return error_page(layout, &p),
    };
    let (from, to) = match (day(&pairs, "from"), day(&pairs, "to")) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(p), _) | (_, Err(p)) => return error_page(layout, &p),
    };
    // `today` is the earlier name of `soon`, still understood.
    let due = match query_get(&pairs, "due").as_deref() {
        None => None,
        Some("overdue") => Some("overdue"),
        Some("soon" | "today") => Some("soon"),
        Some(d) => {
            return error_page(
                layout,
                &Problem::bad_request(
                    "invalid-filter",
                    format!("due: {d:?} is not a deadline filter; use overdue or soon"),
                ),
            );
        }
    };
    let page_no = match query_get(&pairs, "page").map(|p| p.parse::<usize>()) {
        None => 1,
        Some(Ok(n)) if n >= 1 => n,
        Some(_) => {
            return error_page(
                layout,
                &Problem::bad_request("invalid-parameter", "page: give a page number, 1 or more"),
            );
        }
    };
    let dense = query_get(&pairs, "dense").as_deref() == Some("1");
    // Without a status: the open ones (the queue). With one, or `all`: the archive too.
    let filter = CaseQuery {
        open: status.is_none(),
        offset: None,
        limit: None,
        ..asked.clone()
    };
    let query = c.node.query();
    let loaded = async {
        Ok::<_, Problem>((
            query.cases(&CaseQuery::default(), None).await?,
            query.cases(&filter, None).await?,
            query.authorities().await?,
        ))
    }
    .await;
    let (every, listed, authorities) = match loaded {
        Ok(x) => x,
        Err(p) => return error_page(layout, &p),
    };
    let now = c.node.now();
    let is_open = |c: &Case| {
        !matches!(
            c.status,
            CaseStatus::Closed | CaseStatus::Refused | CaseStatus::Withdrawn
        )
    };
    let open: Vec<&Case> = every.iter().filter(|c| is_open(c)).collect();
    // Days as `YYYY-MM-DD` text in UTC sort as the days do.
    let day_of = |t: Timestamp| t.strftime("%Y-%m-%d").to_string();
    let (from_day, to_day) = (from.map(|d| d.to_string()), to.map(|d| d.to_string()));
    let shown: Vec<&Case> = listed
        .iter()
        .filter(|c| {
            from_day
                .as_ref()
                .is_none_or(|f| &day_of(c.received_at) >= f)
        })
        .filter(|c| to_day.as_ref().is_none_or(|t| &day_of(c.received_at) <= t))
        .filter(|c| due.is_none_or(|d| is_open(c) && due_window(c, now) == Some(d)))
        .collect();
    let count = |f: &dyn Fn(&Case) -> bool| open.iter().filter(|c| f(c)).count();
    let link = |q: &str| {
        format!(
            "/console/queue{}",
            if q.is_empty() {
                String::new()
            } else {
                format!("?{q}")
            }
        )
    };
    let current = |q: &str| q == q_without(&pairs, &["page", "dense"]);
    let by_status = |s: CaseStatus| every.iter().filter(|c| c.status == s).count();
    let mut counts = Vec::new();
    for (label, value, class, q) in [
        ("Open", open.len(), "", String::new()),
        (
            "Mine",
            count(&|c| c.assignee.as_deref() == Some(v.user.name.as_str())),
            "",
            "assignee=me".to_owned(),
        ),
        (
            "Overdue",
            count(&|c| due_window(c, now) == Some("overdue")),
            "overdue",
            "due=overdue".to_owned(),
        ),
        (
            "Due in under 8 hours",
            count(&|c| due_window(c, now) == Some("soon")),
            "due-today",
            "due=soon".to_owned(),
        ),
        (
            "Emergency",
            count(&|c| c.emergency),
            "",
            "emergency=yes".to_owned(),
        ),
        (
            "Awaiting second review",
            by_status(CaseStatus::AwaitingSecondReview),
            "",
            "status=awaiting_second_review".to_owned(),
        ),
        (
            "Awaiting information",
            by_status(CaseStatus::AwaitingInformation),
            "",
            "status=awaiting_information".to_owned(),
        ),
        (
            "Executing",
            by_status(CaseStatus::Executing),
            "",
            "status=executing".to_owned(),
        ),
        (
            "Refused",
            by_status(CaseStatus::Refused),
            "",
            "status=refused".to_owned(),
        ),
        (
            "Closed",
            by_status(CaseStatus::Closed),
            "",
            "status=closed".to_owned(),
        ),
        ("All cases", every.len(), "", "status=all".to_owned()),
    ] {
        counts.push(Count {
            label,
            value,
            class,
            current: current(&q),
            href: link(&q),
        });
    }
    let states: BTreeSet<String> = authorities
        .iter()
        .map(|a| a.state.clone())
        .chain(every.iter().map(|c| c.requesting_state.clone()))
        .collect();
    let matched = shown.len();
    let pages_total = matched.div_ceil(PAGE_SIZE).max(1);
    let page_no = page_no.min(pages_total);
    let first = (page_no - 1) * PAGE_SIZE;
    let mut rows = Vec::new();
    let page_ids: Vec<i64> = shown
        .iter()
        .skip(first)
        .take(PAGE_SIZE)
        .map(|c| c.case_id)
        .collect();
    let supplemented = match query.deadlines_restarted_at(&page_ids).await {
        Ok(s) => s,
        Err(e) => return error_page(layout, &Problem::from(e)),
    };
    for case in shown.iter().skip(first).take(PAGE_SIZE) {
        let leads = custos_service::ops::emergency::leads_queue(case);
        let unverified = match query.unverified_emergency(case).await {
            Ok(u) => u,
            Err(p) => return error_page(layout, &p),
        };
        let mut row = QueueRow::new(case, &authorities, now, leads, unverified);
        row.supplemented = supplemented.get(&case.case_id).map(|t| {
            format!(
                "Supplemented at {}; the deadline restarted",
                views::when(*t)
            )
        });
        // Only an emergency can owe an order.
        if case.emergency {
            row.order_missing = match query.order_status(case.case_id).await {
                Ok(s) => s.as_ref().and_then(super::order::missing_label),
                Err(p) => return error_page(layout, &p),
            };
        }
        if !is_open(case) {
            row.due_class = "";
            row.due_label = "";
        }
        rows.push(row);
    }
    let pages = if pages_total > 1 {
        (1..=pages_total)
            .map(|n| PageLink {
                label: n.to_string(),
                href: link(&with(
                    &pairs,
                    "page",
                    &if n == 1 { String::new() } else { n.to_string() },
                )),
                current: n == page_no,
            })
            .collect()
    } else {
        Vec::new()
    };
    let name = |s: Option<&str>| s.map(str::to_owned);
    let heading = match status.as_deref() {
        None => "Queue",
        Some("all") => "All cases",
        Some(_) => "Cases",
    };
    layout.title = heading.to_owned();
    let page = QueuePage {
        layout,
        heading,
        counts,
        q: asked.q.clone().unwrap_or_default(),
        statuses: choices(
            std::iter::once((
                "all".to_owned(),
                "Any status, closed and refused too".to_owned(),
            ))
            .chain(
                STATUSES
                    .iter()
                    .map(|s| (s.as_str().to_owned(), views::status_label(*s).to_owned())),
            ),
            &status,
            "Open (the queue)",
        ),
        outcomes: choices(
            Outcome::ALL.iter().map(|o| {
                (
                    o.as_str().to_owned(),
                    views::outcome_label(o.as_str()).to_owned(),
                )
            }),
            &name(asked.outcome.map(Outcome::as_str)),
            "Any",
        ),
        measures: choices(
            Measure::ALL
                .iter()
                .map(|m| (m.as_str().to_owned(), views::capitalised(m.describe()))),
            &name(asked.measure.map(Measure::as_str)),
            "Any",
        ),
        states: choices(
            states.into_iter().map(|s| (s.clone(), s)),
            &asked.state,
            "Any",
        ),
        channels: choices(
            Channel::ALL
                .iter()
                .map(|ch| (ch.as_str().to_owned(), views::channel_label(*ch).to_owned())),
            &name(asked.channel.map(Channel::as_str)),
            "Any",
        ),
        emergencies: choices(
            [("yes", "Claimed"), ("no", "Not claimed")].map(|(v, l)| (v.to_owned(), l.to_owned())),
            &name(asked.emergency.map(|e| if e { "yes" } else { "no" })),
            "Any",
        ),
        assignees: choices(
            [("me", "Me"), ("none", "No one")].map(|(v, l)| (v.to_owned(), l.to_owned())),
            &query_get(&pairs, "assignee"),
            "Anyone or no one",
        ),
        received_from: from.map(|d| d.to_string()).unwrap_or_default(),
        received_to: to.map(|d| d.to_string()).unwrap_or_default(),
        filtered: !q_without(&pairs, &["page", "dense"]).is_empty(),
        dense_href: link(&with(&pairs, "dense", if dense { "" } else { "1" })),
        dense,
        matched,
        first: if matched == 0 { 0 } else { first + 1 },
        pages,
        order_note: if status.is_none() {
            "justified emergencies first, on their response clocks, then soonest deadline first"
        } else {
            "soonest deadline first"
        },
        rows,
    };
    // The list's query, for the request page's "Back to the list".
    let keep = q_without(&pairs, &[]);
    let cookie = console_cookie(LIST_COOKIE, keep, over_tls(&headers), None);
    (jar.add(cookie), render(StatusCode::OK, &page)).into_response()
}

/// The deadline filter `case` falls in at `now`, by the service's rule (`query::deadline`:
/// rolling windows, the clock stopped while decided or waiting on the requester): `overdue`,
/// `soon` (under 8 hours left), or none.
fn due_window(case: &Case, now: Timestamp) -> Option<&'static str> {
    use custos_model::deadline::Badge;
    match custos_service::query::deadline(case, now).badge {
        Badge::Overdue => Some("overdue"),
        Badge::Under2h | Badge::Under8h => Some("soon"),
        Badge::Later | Badge::Stopped => None,
    }
}

/// The query string of `pairs` without the fields `drop`.
fn q_without(pairs: &[(String, String)], drop: &[&str]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().filter(|(k, _)| !drop.contains(&k.as_str())))
        .finish()
}
