//! The replay against `ops`, in-process on a temporary SQLite store with an injected clock: a
//! whole lifecycle done through `ops` replays to exactly the tables `ops` wrote (no false
//! alarm, which would stop a node from starting), and a row changed without an event is named.

use custos_service::ops::{self, DecisionKind};
use custos_store::{CaseStatus, Role};

use crate::fixture::*;

/// Every path of a case, through `ops` at instants after `t0()`. Returns the refused case.
async fn lifecycle(f: &Fixture) -> i64 {
    f.try_batch(|b, out| {
        Box::pin(async move {
            ops::set_password(
                b,
                out,
                "rita",
                "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
                t0(),
            )
            .await
        })
    })
    .await
    .unwrap();
    let t = t0() + secs(5 * 60);

    // A refusal recommendation refused.
    let refused = f
        .decided("p04-defamation-2y", "XA-1", DecisionKind::Refuse, t)
        .await;
    // A preservation executed, renewed, then lapsed and released by the scheduler.
    let preserved = f
        .decided("p02-preservation-24-7", "XA-2", DecisionKind::Execute, t)
        .await;
    f.renew(preserved, &rita(), t + days(1)).await.unwrap();
    // Information asked, then supplied by a second signed version.
    let asked = f
        .decided(
            "p17-no-data-protection-terms",
            "XA-3",
            DecisionKind::RequestInformation,
            t,
        )
        .await;
    let again = f
        .submit("p01-ransomware-production", "XA-3", t + days(2))
        .await;
    assert_eq!(again, asked);
    // Executing over a refusal: proposed by a reviewer, confirmed by a supervisor, delivered,
    // closed.
    let overridden = f
        .decided("p12-death-penalty", "XA-4", DecisionKind::Execute, t)
        .await;
    let case = f
        .second_review(overridden, &sue(), confirm(true), t + days(1))
        .await
        .unwrap();
    assert_eq!(case.status, CaseStatus::Executing);
    f.advance(overridden, &rita(), CaseStatus::Delivered, t + days(3))
        .await
        .unwrap();
    f.advance(overridden, &rita(), CaseStatus::Closed, t + days(4))
        .await
        .unwrap();
    // A year on: holds lapse, confidentiality ends, notices go out.
    let later = t + days(400);
    for n in f.tick(later).await {
        f.notice_result(n.case_id, Ok(()), later).await;
    }
    refused
}

#[tokio::test]
async fn a_lifecycle_done_through_ops_replays_to_exactly_its_tables() {
    let f = Fixture::new().await;
    lifecycle(&f).await;
    let findings = f.findings().await;
    assert!(findings.is_empty(), "{findings:#?}");
    // It did exercise the projections the diff compares.
    assert!(!f.store.all_holds().await.unwrap().is_empty());
    assert!(!f.store.notices().await.unwrap().is_empty());
    assert_eq!(f.store.all_cases().await.unwrap().len(), 4);
    // And a node starts on it (its start-up check is this replay).
    f.node().await.unwrap();
}

#[tokio::test]
async fn a_row_changed_without_an_event_is_named() {
    let f = Fixture::new().await;
    let refused = lifecycle(&f).await;
    f.tamper_case(refused, |c| c.status = CaseStatus::Executing)
        .await;
    let findings = f.findings().await;
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert!(
        findings[0].contains(&format!("case {refused} differs from its events in status")),
        "{findings:#?}"
    );
    let err = format!("{:#}", f.node().await.unwrap_err());
    assert!(err.contains("do not match its signed log"), "{err}");
}

#[tokio::test]
async fn a_decision_by_a_role_the_log_never_gave_is_named() {
    let f = Fixture::new().await;
    lifecycle(&f).await;
    // The auditor's row promoted, then a decision under that role: the table agrees with the
    // decision, the log does not.
    let t = t0() + days(500);
    let case = f.submit("p04-defamation-2y", "XA-9", t).await;
    let promoted = user("aud", Role::Supervisor);
    f.decide(case, &promoted, decision(DecisionKind::Refuse), t)
        .await
        .unwrap();
    let findings = f.findings().await;
    assert!(
        findings
            .iter()
            .any(|x| x.contains("aud was auditor in the log")),
        "{findings:#?}"
    );
}

#[tokio::test]
async fn a_rejected_second_review_and_a_fresh_decision_replay_to_their_tables() {
    let f = Fixture::new().await;
    let case = f
        .decided("p12-death-penalty", "XA-1", DecisionKind::Execute, t0())
        .await;
    f.second_review(case, &sue(), confirm(false), t0() + days(1))
        .await
        .unwrap();
    f.decide(case, &rex(), decision(DecisionKind::Refuse), t0() + days(2))
        .await
        .unwrap();
    f.advance(case, &rex(), CaseStatus::Closed, t0() + days(3))
        .await
        .unwrap();
    let findings = f.findings().await;
    assert!(findings.is_empty(), "{findings:#?}");
}

#[tokio::test]
async fn a_request_recorded_from_a_revoked_key_is_named() {
    let f = Fixture::new().await;
    let s = f.submission("p01-ransomware-production", "XA-1", t0() + days(1));
    f.revoke(&f.authority.kid, t0()).await.unwrap();
    // As if the revocation had not been re-checked under the write lock: the stale entry.
    f.submit_as(s, Some(f.authority.clone())).await.unwrap();
    let findings = f.findings().await;
    assert!(
        findings
            .iter()
            .any(|x| x.contains("which was revoked on") && x.contains(&f.authority.kid)),
        "{findings:#?}"
    );
}

#[tokio::test]
async fn a_hold_extended_without_an_event_is_named() {
    let f = Fixture::new().await;
    let case = f
        .decided("p02-preservation-24-7", "XA-1", DecisionKind::Execute, t0())
        .await;
    let mut hold = f.hold(case).await.unwrap();
    hold.expires_at += days(365);
    f.unsigned_batch(move |b, _| Box::pin(async move { Ok(b.put_hold(&hold).await?) }))
        .await;
    let findings = f.findings().await;
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert!(findings[0].contains(&format!("{case}")), "{findings:#?}");
}
