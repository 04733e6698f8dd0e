//! The queue: open requests, soonest deadline first, with counts and filters.

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
        // Each was checked above.
        outcome: outcome.as_deref().and_then(|o| o.parse().ok()),
        measure: measure.as_deref().and_then(Measure::from_name),
        requesting_state: state.clone(),
        channel: channel.as_deref().and_then(Channel::from_name),
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
