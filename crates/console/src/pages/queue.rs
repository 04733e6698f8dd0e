//! The queue: open requests, justified emergencies first on their clocks, then soonest
//! deadline first, with counts and filters.

use super::*;

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

/// `GET /console/queue?outcome=&measure=&state=&channel=&emergency=`: open requests in the
/// order of `Queries::cases` (justified emergencies first), deadlines read on the node's clock.
pub async fn queue(State(c): Shared, jar: CookieJar, RawQuery(q): RawQuery) -> Response {
    let here = format!(
        "/console/queue{}",
        q.as_deref().map(|q| format!("?{q}")).unwrap_or_default()
    );
    let v = match page_viewer(&c, &jar, &here).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let layout = v.layout("Queue", "queue");
    // The form's words for the list's: an empty choice is "any"; emergency is yes or no.
    let sent = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            query_pairs(&q)
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| match (k.as_str(), v.as_str()) {
                    ("emergency", "yes") => (k, "true".to_owned()),
                    ("emergency", "no") => (k, "false".to_owned()),
                    _ => (k, v),
                }),
        )
        .finish();
    // A misspelt filter is refused, not ignored: an empty queue must mean "nothing there".
    let asked = match CaseQuery::parse(&sent) {
        Ok(asked) => asked,
        Err(p) => return error_page(layout, &p),
    };
    // The queue is every open request, on one page.
    let all_open = CaseQuery {
        open: true,
        ..CaseQuery::default()
    };
    let filter = CaseQuery {
        open: true,
        offset: None,
        limit: None,
        ..asked.clone()
    };
    let name = |s: Option<&str>| s.map(str::to_owned);
    let (outcome, measure, state, channel, emergency) = (
        name(asked.outcome.map(Outcome::as_str)),
        name(asked.measure.map(Measure::as_str)),
        asked.state.clone(),
        name(asked.channel.map(Channel::as_str)),
        name(asked.emergency.map(|e| if e { "yes" } else { "no" })),
    );
    let query = c.node.query();
    let loaded = async {
        Ok::<_, Problem>((
            query.cases(&all_open, None).await?,
            query.cases(&filter, None).await?,
            query.authorities().await?,
        ))
    }
    .await;
    let (open, shown, authorities) = match loaded {
        Ok(x) => x,
        Err(p) => return error_page(layout, &p),
    };
    let now = c.node.now();
    let count = |f: &dyn Fn(&Case) -> bool| open.iter().filter(|c| f(c)).count();
    let counts = vec![
        Count {
            label: "Open",
            value: open.len(),
            class: "",
        },
        Count {
            label: "Overdue",
            value: count(&|c| views::deadline_badge(c, now).0 == "overdue"),
            class: "overdue",
        },
        Count {
            label: "Due in under 8 hours",
            value: count(&|c| views::deadline_badge(c, now).0.starts_with("due-today")),
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
    let mut rows = Vec::with_capacity(shown.len());
    for case in &shown {
        let leads = custos_service::ops::emergency::leads_queue(case);
        let unverified = match query.unverified_emergency(case).await {
            Ok(u) => u,
            Err(p) => return error_page(layout, &p),
        };
        let mut row = QueueRow::new(case, &authorities, now, leads, unverified);
        // Only an emergency can owe an order.
        if case.emergency {
            row.order_missing = match query.order_status(case.case_id).await {
                Ok(s) => s.as_ref().and_then(super::order::missing_label),
                Err(p) => return error_page(layout, &p),
            };
        }
        rows.push(row);
    }
    let page = QueuePage {
        layout,
        counts,
        outcomes: choices(
            Outcome::ALL.iter().map(|o| {
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
        filtered: asked.status.is_some()
            || outcome.is_some()
            || measure.is_some()
            || state.is_some()
            || channel.is_some()
            || emergency.is_some(),
        total_open: open.len(),
        rows,
    };
    render(StatusCode::OK, &page)
}
