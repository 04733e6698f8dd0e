//! Transparency reports (issue 14, part 1), in process on a node opened with a `ManualClock`:
//! a period is published once (`report.published`) and read again for nothing; the budget and
//! its staff reserve; only ended periods; the exact table for staff; every public key present;
//! the replay folds the events.

use custos_service::ops::DecisionKind;
use custos_service::ops::transparency::Spender;
use custos_transparency::{Period, Report};

use crate::fixture::*;

fn period(from: &str, to: &str) -> Period {
    Period::parse(from, to).unwrap()
}

/// A node with three cases received on t0 (2026-11-20), one executed, opened a month later.
async fn node_with_cases(
    change: impl FnOnce(&mut custos_service::Config),
) -> (Fixture, std::sync::Arc<custos_service::Node>) {
    let f = Fixture::with(change).await;
    let a = f.submit("p01-ransomware-production", "XA-T1", t0()).await;
    f.submit("p02-preservation-24-7", "XA-T2", t0()).await;
    f.submit("p07-emergency-kidnapping", "XA-T3", t0()).await;
    f.decide(a, &rita(), decision(DecisionKind::Execute), t0() + days(2))
        .await
        .unwrap();
    let clock = custos_service::clock::ManualClock::new(t0() + days(30));
    let node = custos_service::Node::open_with_clock(&f.dir, clock.clock())
        .await
        .unwrap();
    (f, node)
}

#[tokio::test]
async fn the_exact_table_counts_the_period_and_spends_nothing() {
    let (f, node) = node_with_cases(|_| {}).await;
    let size = f.log_size().await;
    let r = node
        .exact_report(period("2026-11-01", "2026-11-30"))
        .await
        .unwrap();
    assert!(r.exact);
    assert_eq!(r.epsilon, None);
    assert_eq!(r.totals.requests, 3);
    assert_eq!(r.by_state.get("XA"), Some(&3));
    assert_eq!(r.by_decision.get("execute"), Some(&1));
    assert_eq!(r.emergencies.claimed, 1);
    assert_eq!(r.days_to_decision.median, Some(2));
    assert_eq!(r.by_channel.values().sum::<u64>(), 3);
    // Another month holds nothing.
    let none = node
        .exact_report(period("2026-10-01", "2026-10-31"))
        .await
        .unwrap();
    assert_eq!(none.totals.requests, 0);
    assert_eq!(f.log_size().await, size, "an exact read logs nothing");
}

#[tokio::test]
async fn a_period_is_published_once_and_read_again_for_nothing() {
    let (f, node) = node_with_cases(|_| {}).await;
    let p = period("2026-11-01", "2026-11-30");
    assert_eq!(node.published_report(p).await.unwrap(), None);
    let first = node.public_report(p).await.unwrap();
    assert!(!first.exact);
    assert_eq!(first.epsilon, Some(1.0));
    let size = f.log_size().await;
    let kinds = f.events().await;
    assert_eq!(
        kinds
            .iter()
            .filter(|e| e.event_type == "report.published")
            .count(),
        1
    );
    let again: Report = node.public_report(p).await.unwrap();
    assert_eq!(again, first, "the same figures on a second read");
    assert_eq!(f.log_size().await, size, "nothing spent, nothing logged");
    assert_eq!(node.published_report(p).await.unwrap(), Some(first.clone()));

    // Every key of every public domain, zeros included.
    assert_eq!(first.by_measure.len(), custos_model::Measure::ALL.len());
    assert_eq!(first.by_channel.len(), custos_model::Channel::ALL.len());
    assert_eq!(
        first.by_recommendation.len(),
        custos_model::Outcome::ALL.len()
    );
    assert_eq!(
        first.by_decision.keys().collect::<Vec<_>>(),
        [
            "execute",
            "execute_narrowed",
            "refuse",
            "request_information"
        ]
    );
    let codes: std::collections::BTreeSet<&str> = f
        .assessor
        .profile()
        .rules()
        .into_iter()
        .map(|r| r.code.as_str())
        .collect();
    assert!(first.refusal_grounds.keys().map(String::as_str).eq(codes));
    assert_eq!(first.by_state.keys().collect::<Vec<_>>(), ["XA"]);
    assert_eq!(first.by_state["XA"], first.totals.requests);

    // The JSON keys of the contract.
    let json = serde_json::to_value(&first).unwrap();
    for key in [
        "format",
        "from",
        "to",
        "exact",
        "epsilon",
        "by_state",
        "by_measure",
        "by_channel",
        "by_recommendation",
        "by_decision",
        "refusal_grounds",
    ] {
        assert!(json.get(key).is_some(), "{key} missing");
    }
    assert_eq!(json["format"], "custos.transparency/v1");
    assert_eq!(json["from"], "2026-11-01");
    assert!(json["totals"]["requests"].is_u64());

    let findings = f.findings().await;
    assert!(findings.is_empty(), "{findings:?}");
}

#[tokio::test]
async fn a_report_over_budget_is_refused_and_staff_keep_their_reserve() {
    let (f, node) = node_with_cases(|c| {
        c.transparency.epsilon_per_report = 1.0;
        c.transparency.budget = 2.0;
        c.transparency.staff_reserve = 1.0;
    })
    .await;
    node.public_report(period("2026-11-01", "2026-11-30"))
        .await
        .unwrap();
    let size = f.log_size().await;
    // The public part (2 - 1) is spent.
    let p = refused(
        node.public_report(period("2026-10-01", "2026-10-31")).await,
        409,
        "privacy-budget",
    );
    assert!(p.detail.contains("1 of 1"), "{}", p.detail);
    assert!(p.detail.contains("remains"), "{}", p.detail);
    assert_eq!(f.log_size().await, size, "a refusal logs nothing");
    // Staff may spend the reserve, and no more.
    node.publish_report(period("2026-10-01", "2026-10-31"), Spender::Staff)
        .await
        .unwrap();
    let p = refused(
        node.publish_report(period("2026-09-01", "2026-09-30"), Spender::Staff)
            .await,
        409,
        "privacy-budget",
    );
    assert!(p.detail.contains("2 of 2"), "{}", p.detail);
    // Published periods are still read.
    node.public_report(period("2026-10-01", "2026-10-31"))
        .await
        .unwrap();
    let findings = f.findings().await;
    assert!(findings.is_empty(), "{findings:?}");
}

#[tokio::test]
async fn only_ended_periods_are_published_and_the_public_has_a_daily_cap() {
    let (f, node) = node_with_cases(|c| c.transparency.public_per_day = 1).await;
    // The node's clock reads 2026-12-20: a period ending today or later is still moving.
    let p = refused(
        node.public_report(period("2026-12-01", "2026-12-20")).await,
        422,
        "period-not-ended",
    );
    assert!(p.detail.contains("`to`"), "{}", p.detail);
    node.public_report(period("2026-12-01", "2026-12-19"))
        .await
        .unwrap();
    refused(
        node.public_report(period("2026-11-01", "2026-11-30")).await,
        429,
        "publication-cap",
    );
    // Staff are not capped.
    node.publish_report(period("2026-11-01", "2026-11-30"), Spender::Staff)
        .await
        .unwrap();
    assert!(f.findings().await.is_empty());
}

#[tokio::test]
async fn the_public_page_lists_the_ended_quarters() {
    let (_f, node) = node_with_cases(|_| {}).await;
    // First event on 2026-11-19 (setup), now 2026-12-20: the fourth quarter has not ended.
    assert!(node.report_periods().await.unwrap().is_empty());
}
