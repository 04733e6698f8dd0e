//! Deadlines you can trust (issue 16): the clock stops while a case is decided or waits on the
//! requester, a supplement restarts it visibly, and badges are rolling windows from the node's
//! clock; the record (`GET /v1/requests/{case}`) carries the exact due instant.

use custos_model::deadline::{Badge, Stopped};
use custos_service::ops::DecisionKind;
use custos_service::query::{self, CaseStatus};
use serde_json::json;

use crate::fixture::*;
use crate::versions::call;

#[tokio::test]
async fn the_clock_stops_while_the_requester_is_asked_and_a_supplement_restarts_it() {
    let f = Fixture::new().await;
    let case = f.submit("p17-no-data-protection-terms", "XA-1", t0()).await;
    let c = f.case(case).await;
    let first_due = c.respond_by;
    // Long past due, and still awaiting a decision: overdue.
    let late = first_due + days(11);
    assert_eq!(query::deadline(&c, late).badge, Badge::Overdue);
    f.decide(
        case,
        &rita(),
        decision(DecisionKind::RequestInformation),
        t0(),
    )
    .await
    .unwrap();
    let c = f.case(case).await;
    let s = query::deadline(&c, late);
    assert_eq!(
        (s.badge, s.stopped, s.seconds_left),
        (Badge::Stopped, Some(Stopped::AwaitingRequester), None)
    );
    // The supplement restarts the clock from its arrival.
    let node = f.node().await.unwrap();
    assert_eq!(
        node.query().deadline_restarted_at(case).await.unwrap(),
        None
    );
    let supplemented = t0() + days(2);
    f.try_submit("p01-ransomware-production", "XA-1", supplemented)
        .await
        .unwrap();
    let c = f.case(case).await;
    assert_eq!(c.status, CaseStatus::Assessed);
    assert_eq!(
        c.respond_by - supplemented,
        first_due - t0(),
        "the full period again, from the supplement"
    );
    assert_eq!(
        node.query().deadline_restarted_at(case).await.unwrap(),
        Some(supplemented)
    );
    assert_eq!(
        query::deadline(&c, supplemented + days(1)).badge,
        Badge::Later
    );
    // Decided: stopped for good, never overdue.
    f.decide(case, &rita(), decision(DecisionKind::Execute), supplemented)
        .await
        .unwrap();
    let s = query::deadline(&f.case(case).await, c.respond_by + days(30));
    assert_eq!(
        (s.badge, s.stopped),
        (Badge::Stopped, Some(Stopped::Decided))
    );
}

#[test]
fn every_status_says_whether_its_clock_runs() {
    for s in query::STATUSES {
        let expected = match s {
            CaseStatus::Assessed | CaseStatus::AwaitingSecondReview | CaseStatus::Postponed => None,
            CaseStatus::AwaitingInformation | CaseStatus::InConsultation => {
                Some(Stopped::AwaitingRequester)
            }
            _ => Some(Stopped::Decided),
        };
        assert_eq!(query::clock_stopped(s), expected, "{s:?}");
    }
}

#[tokio::test]
async fn an_emergency_shows_its_exact_due_instant_and_a_rolling_badge() {
    let f = Fixture::new().await;
    // Received late in the UTC day: the 8 hours run into the next day.
    let case = f
        .submit("p07-emergency-kidnapping", "XA-EM", t0() - secs(3600))
        .await;
    let c = f.case(case).await;
    let due = c.respond_by;
    for (left, badge) in [
        (secs(8 * 3600), Badge::Later),
        (secs(8 * 3600 - 1), Badge::Under8h),
        (secs(2 * 3600), Badge::Under8h),
        (secs(2 * 3600 - 1), Badge::Under2h),
        (secs(0), Badge::Overdue),
    ] {
        assert_eq!(query::deadline(&c, due - left).badge, badge, "{left}");
    }
    // The record over HTTP: the due instant and the rule's fields.
    let (token, hash) = custos_service::auth::new_token("nora").unwrap();
    f.add_user(custos_store::User {
        token_hash: hash,
        ..user("nora", custos_store::Role::Reviewer)
    })
    .await
    .unwrap();
    let node = f.node().await.unwrap();
    let nora = format!("Bearer {}", token.as_str());
    let (status, _, view) = call(
        &node,
        "GET",
        &format!("/v1/requests/{case}"),
        &nora,
        None,
        None,
    )
    .await;
    assert_eq!(status, 200, "{view}");
    let d = &view["deadline"];
    assert_eq!(d["due_at"], json!(due));
    assert_eq!(d["clock"], "running");
    assert_eq!(d["stopped_because"], serde_json::Value::Null);
    assert_eq!(d["restarted_by_supplement_at"], serde_json::Value::Null);
    let expected = query::deadline(&c, node.now());
    assert_eq!(d["badge"], expected.badge.as_str());
    assert!(d["seconds_left"].is_i64(), "{d}");
    assert!(view["notifies_person_at_once"].is_boolean(), "{view}");
}

#[tokio::test]
async fn a_consultation_stops_the_clock_and_its_wait_is_given_back() {
    let f = Fixture::new().await;
    // Answered three days after it was opened: due three days later than before.
    let case = f.submit("p01-ransomware-production", "XA-1", t0()).await;
    let due = f.case(case).await.respond_by;
    let opened = t0() + days(1);
    f.consult(
        case,
        &rita(),
        "Would subscriber data alone do?",
        opened + days(10),
        opened,
    )
    .await
    .unwrap();
    let c = f.case(case).await;
    assert_eq!(
        query::deadline(&c, due + days(1)).stopped,
        Some(Stopped::AwaitingRequester)
    );
    let (key, xa) = (authority_key(), f.authority.clone());
    let c = f
        .answer(
            case,
            &key,
            &xa,
            "XA-1",
            "Yes, subscriber data will do.",
            opened + days(3),
        )
        .await
        .unwrap();
    assert_eq!(c.respond_by, due + days(3));
    // Lapsed unanswered at its date: the whole wait is given back.
    let lapsing = f.submit("p01-ransomware-production", "XA-2", t0()).await;
    let due = f.case(lapsing).await.respond_by;
    f.consult(lapsing, &rita(), "Which account?", opened + days(5), opened)
        .await
        .unwrap();
    f.tick(opened + days(5)).await;
    let c = f.case(lapsing).await;
    assert_eq!(c.status, CaseStatus::Assessed);
    assert_eq!(c.respond_by, due + days(5));
    assert!(f.findings().await.is_empty(), "{:#?}", f.findings().await);
}
