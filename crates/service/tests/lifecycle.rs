//! The lifecycle after a decision: preservation holds and their renewal, and the status
//! transitions `ops::advance` allows and refuses.

use custos_service::ops::DecisionKind;
use custos_store::CaseStatus;

use crate::fixture::*;

#[tokio::test]
async fn executing_a_preservation_starts_a_hold_for_the_configured_days() {
    let f = Fixture::new().await;
    let at = t0() + secs(90);
    let case = f
        .decided("p02-preservation-24-7", "XA-1", DecisionKind::Execute, at)
        .await;
    let hold = f.hold(case).await.unwrap();
    assert_eq!(hold.started_at, at);
    assert_eq!(hold.expires_at, at + days(90));
    assert_eq!((hold.renewals, hold.released_at), (0, None));
    let events = f.store.case_events(case).await.unwrap();
    let started = events.last().unwrap();
    assert_eq!(event_type(started), "preservation.started");
    assert_eq!(
        body(started)["expires_at"],
        (at + days(90)).to_string().as_str()
    );
}

#[tokio::test]
async fn the_hold_length_comes_from_the_configuration() {
    let f = Fixture::with(|c| c.lifecycle.preservation_days = 61).await;
    let case = f
        .decided("p02-preservation-24-7", "XA-1", DecisionKind::Execute, t0())
        .await;
    assert_eq!(f.hold(case).await.unwrap().expires_at, t0() + days(61));
    let hold = f.renew(case, &rita(), t0() + days(1)).await.unwrap();
    assert_eq!(hold.expires_at, t0() + days(62));
}

#[tokio::test]
async fn a_renewal_runs_the_configured_days_from_the_renewal_and_never_stacks() {
    let f = Fixture::new().await;
    let case = f
        .decided("p02-preservation-24-7", "XA-1", DecisionKind::Execute, t0())
        .await;
    let hold = f
        .renew_because(
            case,
            &rita(),
            Some("  The suspects' accounts are still being traced.  "),
            t0() + days(10),
        )
        .await
        .unwrap();
    assert_eq!(
        hold.expires_at,
        t0() + days(100),
        "from the renewal, not from the expiry"
    );
    assert_eq!(hold.renewals, 1);
    // A second click a day later: one day more, not 90.
    let hold = f.renew(case, &sue(), t0() + days(11)).await.unwrap();
    assert_eq!((hold.expires_at, hold.renewals), (t0() + days(101), 2));
    // Renewing right after the start never shortens the hold.
    assert_eq!(
        custos_service::ops::renewed_end(t0() + days(90), t0(), 60),
        t0() + days(90)
    );
    assert_eq!(f.hold(case).await.unwrap(), hold);
    let events = f.store.case_events(case).await.unwrap();
    let first = &events[events.len() - 2];
    assert_eq!(
        body(first)["reason"],
        "The suspects' accounts are still being traced."
    );
    assert_eq!(
        body(first)["previous_expires_at"],
        (t0() + days(90)).to_string().as_str()
    );
    let renewed = events.last().unwrap();
    assert_eq!(event_type(renewed), "preservation.renewed");
    assert_eq!(body(renewed)["by"], "sue");
    assert!(body(renewed).get("reason").is_none(), "no reason given");
    assert_eq!(
        body(renewed)["expires_at"],
        (t0() + days(101)).to_string().as_str()
    );
    refused(
        f.renew_because(case, &rita(), Some("   "), t0() + days(12))
            .await,
        422,
        "invalid-hold-change",
    );
    assert!(f.findings().await.is_empty(), "{:#?}", f.findings().await);
}

#[tokio::test]
async fn staff_release_a_hold_early_with_a_reason_and_it_replays() {
    let f = Fixture::new().await;
    let case = f
        .decided("p02-preservation-24-7", "XA-1", DecisionKind::Execute, t0())
        .await;
    // Auditors read only; a blank reason is refused; nothing is logged.
    let size = f.log_size().await;
    refused(
        f.release(case, &aud(), "No longer needed.", t0() + days(5))
            .await,
        403,
        "read-only",
    );
    let p = refused(
        f.release(case, &rita(), "  ", t0() + days(5)).await,
        422,
        "invalid-hold-change",
    );
    assert_eq!(p.errors[0].pointer, "$.reason");
    assert_eq!(f.log_size().await, size);
    let at = t0() + days(5);
    let hold = f
        .release(
            case,
            &rita(),
            "The requester said the data are no longer needed.",
            at,
        )
        .await
        .unwrap();
    assert_eq!(hold.released_at, Some(at));
    let events = f.store.case_events(case).await.unwrap();
    let released = events.last().unwrap();
    assert_eq!(event_type(released), "preservation.released");
    assert_eq!(body(released)["by"], "rita");
    assert_eq!(
        body(released)["reason"],
        "The requester said the data are no longer needed."
    );
    // Once released: neither renewed nor released again; the tick does not release it twice.
    refused(f.renew(case, &rita(), at).await, 409, "no-hold");
    refused(f.release(case, &rita(), "Again.", at).await, 409, "no-hold");
    f.tick(t0() + days(100)).await;
    assert_eq!(
        f.case_events(case)
            .await
            .iter()
            .filter(|t| *t == "preservation.released")
            .count(),
        1
    );
    assert!(f.findings().await.is_empty(), "{:#?}", f.findings().await);
}

#[tokio::test]
async fn a_hold_renewed_after_it_lapsed_but_before_release_runs_from_the_renewal() {
    let f = Fixture::new().await;
    let case = f
        .decided("p02-preservation-24-7", "XA-1", DecisionKind::Execute, t0())
        .await;
    let late = t0() + days(95);
    let hold = f.renew(case, &rita(), late).await.unwrap();
    assert_eq!(hold.expires_at, late + days(90));
}

#[tokio::test]
async fn a_renewal_is_refused_without_a_hold_in_force() {
    let f = Fixture::new().await;
    // No preservation: no hold.
    let produced = f
        .decided(
            "p01-ransomware-production",
            "XA-1",
            DecisionKind::Execute,
            t0(),
        )
        .await;
    refused(f.renew(produced, &rita(), t0()).await, 409, "no-hold");
    // A released hold cannot be renewed either.
    let preserved = f
        .decided("p02-preservation-24-7", "XA-2", DecisionKind::Execute, t0())
        .await;
    f.tick(t0() + days(90)).await;
    assert!(f.hold(preserved).await.unwrap().released_at.is_some());
    let size = f.log_size().await;
    refused(
        f.renew(preserved, &rita(), t0() + days(91)).await,
        409,
        "no-hold",
    );
    assert_eq!(f.log_size().await, size);
}

#[tokio::test]
async fn an_auditor_cannot_renew_a_hold() {
    let f = Fixture::new().await;
    let case = f
        .decided("p02-preservation-24-7", "XA-1", DecisionKind::Execute, t0())
        .await;
    refused(f.renew(case, &aud(), t0()).await, 403, "read-only");
    assert_eq!(f.hold(case).await.unwrap().renewals, 0);
}

#[tokio::test]
async fn an_executed_case_is_delivered_then_closed() {
    let f = Fixture::new().await;
    let case = f
        .decided(
            "p01-ransomware-production",
            "XA-1",
            DecisionKind::Execute,
            t0(),
        )
        .await;
    let c = f
        .advance(case, &rita(), CaseStatus::Delivered, t0() + days(3))
        .await
        .unwrap();
    assert_eq!(
        (c.status, c.updated_at),
        (CaseStatus::Delivered, t0() + days(3))
    );
    let c = f
        .advance(case, &rex(), CaseStatus::Closed, t0() + days(4))
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::Closed);
    let events = f.store.case_events(case).await.unwrap();
    let tail: Vec<_> = events[events.len() - 2..]
        .iter()
        .map(|e| (event_type(e), body(e)["by"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        tail,
        [
            ("request.delivered".to_owned(), "rita".to_owned()),
            ("request.closed".to_owned(), "rex".to_owned())
        ]
    );
}

#[tokio::test]
async fn delivery_before_a_decision_is_refused() {
    let f = Fixture::new().await;
    let case = f.submit("p01-ransomware-production", "XA-1", t0()).await;
    let size = f.log_size().await;
    let p = refused(
        f.advance(case, &rita(), CaseStatus::Delivered, t0()).await,
        409,
        "invalid-transition",
    );
    assert!(p.detail.contains("is assessed"), "{}", p.detail);
    refused(
        f.advance(case, &rita(), CaseStatus::Closed, t0()).await,
        409,
        "invalid-transition",
    );
    assert_eq!(f.case(case).await.status, CaseStatus::Assessed);
    assert_eq!(f.log_size().await, size);
}

#[tokio::test]
async fn a_closed_case_cannot_be_closed_or_delivered_again() {
    let f = Fixture::new().await;
    let case = f
        .decided(
            "p01-ransomware-production",
            "XA-1",
            DecisionKind::Execute,
            t0(),
        )
        .await;
    f.advance(case, &rita(), CaseStatus::Closed, t0())
        .await
        .unwrap();
    refused(
        f.advance(case, &rita(), CaseStatus::Closed, t0()).await,
        409,
        "invalid-transition",
    );
    refused(
        f.advance(case, &rita(), CaseStatus::Delivered, t0()).await,
        409,
        "invalid-transition",
    );
    assert_eq!(
        f.case_events(case)
            .await
            .iter()
            .filter(|t| *t == "request.closed")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_refused_case_can_be_closed_but_not_delivered() {
    let f = Fixture::new().await;
    let case = f
        .decided("p04-defamation-2y", "XA-1", DecisionKind::Refuse, t0())
        .await;
    refused(
        f.advance(case, &rita(), CaseStatus::Delivered, t0()).await,
        409,
        "invalid-transition",
    );
    let c = f
        .advance(case, &rita(), CaseStatus::Closed, t0())
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::Closed);
}

#[tokio::test]
async fn a_case_awaiting_its_second_review_or_information_cannot_move_on() {
    let f = Fixture::new().await;
    let pending = f
        .decided("p12-death-penalty", "XA-1", DecisionKind::Execute, t0())
        .await;
    assert_eq!(
        f.case(pending).await.status,
        CaseStatus::AwaitingSecondReview
    );
    let waiting = f
        .decided(
            "p17-no-data-protection-terms",
            "XA-2",
            DecisionKind::RequestInformation,
            t0(),
        )
        .await;
    for case in [pending, waiting] {
        for to in [CaseStatus::Delivered, CaseStatus::Closed] {
            refused(
                f.advance(case, &sue(), to, t0()).await,
                409,
                "invalid-transition",
            );
        }
    }
}

#[tokio::test]
async fn only_delivery_and_closing_are_transitions_a_person_can_ask_for() {
    let f = Fixture::new().await;
    let case = f
        .decided(
            "p01-ransomware-production",
            "XA-1",
            DecisionKind::Execute,
            t0(),
        )
        .await;
    for to in [
        CaseStatus::Assessed,
        CaseStatus::Executing,
        CaseStatus::Refused,
        CaseStatus::AwaitingSecondReview,
    ] {
        refused(
            f.advance(case, &sue(), to, t0()).await,
            409,
            "invalid-transition",
        );
    }
    assert_eq!(f.case(case).await.status, CaseStatus::Executing);
}

#[tokio::test]
async fn an_auditor_cannot_change_a_status() {
    let f = Fixture::new().await;
    let case = f
        .decided(
            "p01-ransomware-production",
            "XA-1",
            DecisionKind::Execute,
            t0(),
        )
        .await;
    refused(
        f.advance(case, &aud(), CaseStatus::Delivered, t0()).await,
        403,
        "read-only",
    );
    assert_eq!(f.case(case).await.status, CaseStatus::Executing);
}
