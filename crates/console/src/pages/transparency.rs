//! `GET /transparency`: the node's public transparency report (issue 14, part 1) for one period,
//! as accessible tables and server-rendered SVG bar charts, with the noise margin stated and the
//! downloads of the same figures. No sign-in, no script.
//!
//! The figures are the service's (`Node::public_report`, released once with differential privacy
//! and logged); this page only lays them out. A problem (bad dates, the budget spent, a period
//! not ended) comes back as this page with the problem explained and its status.

use custos_transparency::{Period, PeriodError, Report};

use super::public::PublicLayout;
use super::*;
use crate::chart::{Bar, bar_chart};

/// One breakdown of the report (requests by state, by measure…): a table and a chart.
#[derive(Debug, Clone)]
pub struct Breakdown {
    /// The key in the JSON document (`by_state`), also the HTML id.
    pub id: &'static str,
    /// Heading and caption, e.g. "Requests by requesting state".
    pub title: &'static str,
    /// What the first column holds.
    pub key_heading: &'static str,
    pub rows: Vec<BreakdownRow>,
    /// Half-width of the 95 % interval of each figure, if the report states it.
    pub margin: Option<u64>,
    /// The chart, inline SVG (escaped by [`bar_chart`]).
    pub chart: String,
}

#[derive(Debug, Clone)]
pub struct BreakdownRow {
    /// The wire name (`mla`, `DE`, `offence-out-of-scope`).
    pub key: String,
    /// Plain words when the vocabulary has them, else the key.
    pub label: String,
    pub value: u64,
}

/// What the page shows of a report.
#[derive(Debug, Clone)]
pub struct ReportView {
    pub from: String,
    pub to: String,
    /// "ε = 1.0" or "exact".
    pub epsilon: String,
    /// Overall figures in one table, each with its margin.
    pub overview: Vec<OverviewRow>,
    pub breakdowns: Vec<Breakdown>,
    pub mechanism: String,
    pub unit_of_privacy: String,
    pub period_basis: String,
    pub notes: Vec<String>,
    /// The smallest and largest stated margin over all breakdowns, for the summary sentence.
    pub margin_range: Option<(u64, u64)>,
    /// Query string of the downloads, `from=…&to=…`.
    pub query: String,
}

/// An overall figure: what it counts, the count, and the margin of its part of the report.
#[derive(Debug, Clone)]
pub struct OverviewRow {
    pub label: &'static str,
    pub value: String,
    pub margin: Option<u64>,
}

/// A listed period: a link to its report.
#[derive(Debug, Clone)]
pub struct PeriodLink {
    pub label: String,
    pub href: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "transparency.html")]
struct TransparencyPage {
    layout: PublicLayout,
    periods: Vec<PeriodLink>,
    /// What the range form shows (the shown range, or what was typed).
    from: String,
    to: String,
    report: Option<ReportView>,
    refusal: Option<Refusal>,
}

/// `GET /transparency[?from=YYYY-MM-DD&to=YYYY-MM-DD]`: the report of the range asked, else of
/// the newest listed period.
pub async fn transparency(State(c): Shared, RawQuery(q): RawQuery) -> Response {
    let pairs = query_pairs(&q);
    let from = query_get(&pairs, "from");
    let to = query_get(&pairs, "to");
    let listed = match c.node.report_periods().await {
        Ok(p) => p,
        Err(p) => return super::public::public_error("transparency", &public_problem(p)),
    };
    let mut page = TransparencyPage {
        layout: PublicLayout::new("Transparency report", "transparency"),
        periods: vec![],
        from: from.clone().unwrap_or_default(),
        to: to.clone().unwrap_or_default(),
        report: None,
        refusal: None,
    };
    let asked = match (from, to) {
        (None, None) => listed.first().copied().map(Ok),
        (from, to) => Some(
            Period::parse(
                from.as_deref().unwrap_or_default(),
                to.as_deref().unwrap_or_default(),
            )
            .map_err(|e| period_problem(&e)),
        ),
    };
    let mut status = StatusCode::OK;
    match asked {
        None => {}
        Some(Err(p)) => {
            status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::BAD_REQUEST);
            page.refusal = Some((&p).into());
        }
        Some(Ok(period)) => {
            page.from = period.from.to_string();
            page.to = period.to.to_string();
            match c.node.public_report(period).await {
                Ok(report) => page.report = Some(report_view(&report)),
                Err(p) => {
                    let p = public_problem(p);
                    status =
                        StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                    page.refusal = Some((&p).into());
                }
            }
        }
    }
    page.periods = listed
        .iter()
        .map(|p| PeriodLink {
            label: period_label(p),
            href: format!("/transparency?{}", period_query(p)),
            current: page.from == p.from.to_string() && page.to == p.to.to_string(),
        })
        .collect();
    render(status, &page)
}

/// A period's words: `2026 Q1 (2026-01-01 to 2026-03-31)` for a calendar quarter, else the dates.
fn period_label(p: &Period) -> String {
    let quarter = (1..=4).find(|q| {
        let first = i8::try_from(3 * q - 2).unwrap_or(1);
        p.from.day() == 1
            && p.from.month() == first
            && p.from.year() == p.to.year()
            && p.to.month() == first + 2
            && p.to == p.to.last_of_month()
    });
    match quarter {
        Some(q) => format!("{} Q{q} ({} to {})", p.from.year(), p.from, p.to),
        None => format!("{} to {}", p.from, p.to),
    }
}

fn period_query(p: &Period) -> String {
    format!("from={}&to={}", p.from, p.to)
}

/// A period that cannot be read: 400 naming the parameter at fault, as the downloads answer it.
fn period_problem(e: &PeriodError) -> Problem {
    let mut p = Problem::bad_request(
        "invalid-parameter",
        format!("{e}. Pick the dates again below"),
    );
    p.title = "Dates not understood".to_owned();
    p.errors.clear();
    p
}

/// What a visitor may read of a problem: its own words, except for a failure inside the node,
/// whose words are for the operator (the node's log has them).
fn public_problem(mut p: Problem) -> Problem {
    if p.status == 500 {
        p.detail =
            "the report could not be made because of a failure inside the node; its operator finds the details in the node's log. Try again later".to_owned();
        p.errors.clear();
    }
    p
}

/// The plain words of a breakdown's key where the vocabulary has them.
fn label(breakdown: &str, key: &str) -> String {
    let words = match breakdown {
        "by_measure" => Measure::from_name(key).map(|m| m.describe().to_owned()),
        "by_channel" => Channel::from_name(key).map(|c| c.describe().to_owned()),
        "by_recommendation" => Outcome::ALL
            .iter()
            .find(|o| o.as_str() == key)
            .map(|o| o.label().to_owned()),
        "by_decision" => match key {
            "execute" => Some("executed".to_owned()),
            "execute_narrowed" => Some("executed, narrowed".to_owned()),
            "refuse" => Some("refused".to_owned()),
            "request_information" => Some("information requested".to_owned()),
            _ => None,
        },
        _ => None,
    };
    match words {
        Some(w) => capitalise(&w),
        None => key.to_owned(),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The report laid out for the page. Pure: the same report, the same page.
pub(super) fn report_view(r: &Report) -> ReportView {
    let breakdowns: Vec<Breakdown> = [
        (
            "by_state",
            "Requests by requesting state",
            "State (ISO 3166-1 code)",
            &r.by_state,
        ),
        (
            "by_measure",
            "Requests by measure",
            "Measure",
            &r.by_measure,
        ),
        (
            "by_channel",
            "Requests by channel",
            "Channel",
            &r.by_channel,
        ),
        (
            "by_recommendation",
            "Requests by the assessment's recommendation",
            "Recommendation",
            &r.by_recommendation,
        ),
        (
            "by_decision",
            "Decided requests by decision",
            "Decision",
            &r.by_decision,
        ),
        (
            "refusal_grounds",
            "Grounds to refuse or refer found, by rule",
            "Rule",
            &r.refusal_grounds,
        ),
    ]
    .into_iter()
    .map(|(id, title, key_heading, counts)| {
        let rows: Vec<BreakdownRow> = counts
            .iter()
            .map(|(k, v)| BreakdownRow {
                key: k.clone(),
                label: label(id, k),
                value: *v,
            })
            .collect();
        let bars: Vec<Bar> = rows
            .iter()
            .map(|row| Bar {
                label: row.label.clone(),
                value: row.value,
            })
            .collect();
        Breakdown {
            id,
            title,
            key_heading,
            margin: r.method.margin_95.get(id).copied(),
            chart: bar_chart(&format!("chart-{id}"), title, &bars),
            rows,
        }
    })
    .collect();
    let days =
        |d: Option<u64>| d.map_or_else(|| "— (nothing decided)".to_owned(), |d| d.to_string());
    let overview = [
        ("Requests received", r.totals.requests.to_string(), "totals"),
        (
            "Emergencies claimed",
            r.emergencies.claimed.to_string(),
            "emergencies",
        ),
        (
            "Emergencies verified",
            r.emergencies.verified.to_string(),
            "emergencies",
        ),
        (
            "Emergencies whose verification failed",
            r.emergencies.verification_failed.to_string(),
            "emergencies",
        ),
        (
            "Confidentiality asked of the node",
            r.confidentiality.requested.to_string(),
            "confidentiality",
        ),
        (
            "Confidentiality limited by the node",
            r.confidentiality.narrowed.to_string(),
            "confidentiality",
        ),
        (
            "Notices to persons concerned due",
            r.notices.due.to_string(),
            "notices",
        ),
        ("Notices sent", r.notices.sent.to_string(), "notices"),
        (
            "Notices whose last attempt failed",
            r.notices.failed.to_string(),
            "notices",
        ),
        (
            "Evidence packages handed over",
            r.evidence_delivered.to_string(),
            "evidence_delivered",
        ),
        (
            "Days from receipt to decision, median",
            days(r.days_to_decision.median),
            "days_to_decision",
        ),
        (
            "Days from receipt to decision, 90th percentile",
            days(r.days_to_decision.p90),
            "days_to_decision",
        ),
    ]
    .into_iter()
    .map(|(label, value, part)| OverviewRow {
        label,
        value,
        margin: r.method.margin_95.get(part).copied(),
    })
    .collect();
    let margins = r.method.margin_95.values().copied();
    let margin_range = margins.clone().min().zip(margins.max());
    ReportView {
        from: r.from.to_string(),
        to: r.to.to_string(),
        epsilon: match r.epsilon {
            Some(e) if !r.exact => format!("ε = {e}"),
            _ => "exact".to_owned(),
        },
        overview,
        breakdowns,
        mechanism: r.method.mechanism.clone(),
        unit_of_privacy: r.method.unit_of_privacy.clone(),
        period_basis: r.method.period_basis.clone(),
        notes: r.method.notes.clone(),
        margin_range,
        query: format!("from={}&to={}", r.from, r.to),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report as the service would release it (figures made up, keys from the vocabulary).
    pub(crate) fn sample() -> Report {
        let counts = |v: &[(&str, u64)]| {
            v.iter()
                .map(|(k, n)| ((*k).to_owned(), *n))
                .collect::<std::collections::BTreeMap<_, _>>()
        };
        serde_json::from_value(json!({
            "format": "custos.transparency/v1",
            "from": "2026-01-01", "to": "2026-03-31", "exact": false, "epsilon": 1.0,
            "totals": {"requests": 14},
            "by_state": counts(&[("XA", 9), ("XB", 5)]),
            "by_measure": counts(&[("preserve_stored_data", 4), ("produce_subscriber_info", 10)]),
            "by_channel": counts(&[("mla", 9), ("network_24_7", 5), ("direct", 0)]),
            "by_recommendation": counts(&[("execute", 6), ("refuse", 3)]),
            "by_decision": counts(&[("execute", 5), ("refuse", 2)]),
            "refusal_grounds": counts(&[("expression-offence", 2)]),
            "emergencies": {"claimed": 2, "verified": 1, "verification_failed": 0},
            "confidentiality": {"requested": 3, "narrowed": 1},
            "notices": {"due": 4, "sent": 3, "failed": 1},
            "days_to_decision": {"median": 6, "p90": null},
            "evidence_delivered": 5,
            "method": {
                "mechanism": "geometric", "noise_scale": {"by_state": 6.0},
                "margin_95": {"by_state": 18, "by_channel": 12, "totals": 6},
                "unit_of_privacy": "one case", "period_basis": "the day a request was received",
                "notes": ["Counts are rounded to whole numbers and never below zero."]
            }
        }))
        .expect("a custos.transparency/v1 document")
    }

    fn page(report: Option<ReportView>, refusal: Option<Refusal>) -> String {
        TransparencyPage {
            layout: PublicLayout::new("Transparency report", "transparency"),
            periods: vec![PeriodLink {
                label: "2026 Q1 (2026-01-01 to 2026-03-31)".into(),
                href: "/transparency?from=2026-01-01&to=2026-03-31".into(),
                current: true,
            }],
            from: "2026-01-01".into(),
            to: "2026-03-31".into(),
            report,
            refusal,
        }
        .render()
        .unwrap()
    }

    #[test]
    fn every_breakdown_is_a_table_and_a_chart_of_the_same_numbers() {
        let view = report_view(&sample());
        assert_eq!(view.breakdowns.len(), 6);
        let html = page(Some(view.clone()), None);
        for b in &view.breakdowns {
            let chart = format!(
                "aria-labelledby=\"chart-{0}-title\" aria-describedby=\"chart-{0}-desc\"",
                b.id
            );
            assert!(html.contains(&chart), "{}: {html}", b.id);
            assert!(
                html.contains(&format!("<table id=\"{}\">", b.id)),
                "{}",
                b.id
            );
            for row in &b.rows {
                assert!(
                    b.chart
                        .contains(&format!("{}: {}</text>", row.label, row.value)),
                    "{}",
                    row.key
                );
            }
        }
        // The overview and each breakdown: a table with a caption.
        assert_eq!(html.matches("<caption>").count(), 7);
        assert!(html.contains("<th scope=\"col\""));
        assert!(html.contains("<th scope=\"row\""));
        assert!(html.contains("<td class=\"num\">9</td>"), "{html}");
        assert!(html.contains("ε = 1"));
        // The margin, stated where it is known, and the downloads of the range shown.
        assert!(html.contains("±18"), "{html}");
        assert!(
            html.contains("href=\"/transparency/report.json?from=2026-01-01&#38;to=2026-03-31\""),
            "{html}"
        );
        assert!(
            html.contains("href=\"/transparency/report.csv?from=2026-01-01&#38;to=2026-03-31\"")
        );
        assert!(html.contains("href=\"/log\""));
        assert!(!html.contains("<script"));
    }

    #[test]
    fn keys_get_plain_words_where_the_vocabulary_has_them() {
        assert_eq!(label("by_channel", "network_24_7"), "The 24/7 network");
        assert_eq!(
            label("by_measure", "preserve_stored_data"),
            "Preservation of stored data"
        );
        assert_eq!(
            label("by_recommendation", "execute_narrowed"),
            "Execute narrowed"
        );
        assert_eq!(label("by_state", "XA"), "XA");
        assert_eq!(
            label("refusal_grounds", "expression-offence"),
            "expression-offence"
        );
    }

    #[test]
    fn quarters_are_named_and_other_ranges_given_as_dates() {
        let p = |a: &str, b: &str| Period::parse(a, b).unwrap();
        assert_eq!(
            period_label(&p("2026-01-01", "2026-03-31")),
            "2026 Q1 (2026-01-01 to 2026-03-31)"
        );
        assert_eq!(
            period_label(&p("2025-10-01", "2025-12-31")),
            "2025 Q4 (2025-10-01 to 2025-12-31)"
        );
        assert_eq!(
            period_label(&p("2026-01-01", "2026-03-30")),
            "2026-01-01 to 2026-03-30"
        );
        assert_eq!(
            period_label(&p("2026-02-01", "2026-04-30")),
            "2026-02-01 to 2026-04-30"
        );
    }

    #[test]
    fn a_problem_is_a_readable_page_and_an_internal_one_keeps_its_words_for_the_operator() {
        let bad = period_problem(&Period::parse("2026-13-01", "2026-12-31").unwrap_err());
        assert_eq!(bad.status, 400);
        let html = page(None, Some((&bad).into()));
        assert!(html.contains("role=\"alert\""));
        assert!(html.contains("parameter `from`"), "{html}");
        assert!(html.contains("YYYY-MM-DD"));
        let inside = public_problem(Problem::internal("sqlx: database is locked at store.rs:12"));
        assert!(!inside.detail.contains("sqlx"), "{}", inside.detail);
        let budget = public_problem(Problem::conflict("budget-exhausted", "the budget is spent"));
        assert_eq!(budget.detail, "the budget is spent");
    }
}
