//! Postponement (issue 13 §1): a reviewer postpones a decision with a reason and a date; the
//! requester reads both; the tick brings the case back at that date, to the second.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use custos_jose::sign_compact;
use custos_service::ops::DecisionKind;
use custos_store::CaseStatus;
use serde_json::{Value, json};

use crate::fixture::*;

const REASON: &str = "Executing now would alert the suspects of a domestic investigation.";

#[tokio::test]
async fn a_postponed_case_comes_back_at_its_date_to_the_second_and_not_before() {
    let f = Fixture::new().await;
    let case = f.submit("p01-ransomware-production", "XA-P", t0()).await;
    let until = t0() + days(10);
    let c = f
        .postpone(case, &rita(), REASON, until, t0())
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::Postponed);
    let p = refused(
        f.decide(
            case,
            &rita(),
            decision(DecisionKind::Execute),
            t0() + secs(1),
        )
        .await,
        409,
        "already-decided",
    );
    assert!(p.detail.contains("postponed"), "{}", p.detail);

    let size = f.log_size().await;
    f.tick(until - secs(1)).await;
    assert_eq!(f.case(case).await.status, CaseStatus::Postponed);
    assert_eq!(f.log_size().await, size, "nothing before the date");
    f.tick(until).await;
    assert_eq!(f.case(case).await.status, CaseStatus::Assessed);
    let events = f.case_events(case).await;
    assert_eq!(
        events[events.len() - 2..],
        ["request.postponed", "request.resumed"]
    );
    // Idempotent: a second tick changes nothing.
    let size = f.log_size().await;
    f.tick(until + secs(5)).await;
    assert_eq!(f.log_size().await, size);
    f.decide(
        case,
        &rita(),
        decision(DecisionKind::Execute),
        until + secs(6),
    )
    .await
    .unwrap();
    assert_eq!(f.findings().await, Vec::<String>::new());
}

#[tokio::test]
async fn a_postponement_needs_a_reviewer_a_reason_a_later_date_and_an_undecided_case() {
    let f = Fixture::new().await;
    let case = f.submit("p01-ransomware-production", "XA-P", t0()).await;
    let size = f.log_size().await;
    refused(
        f.postpone(case, &aud(), REASON, t0() + days(1), t0()).await,
        403,
        "read-only",
    );
    let p = refused(
        f.postpone(case, &rita(), " \n", t0() + days(1), t0()).await,
        422,
        "invalid-postponement",
    );
    assert_eq!(p.errors[0].pointer, "$.reason");
    let p = refused(
        f.postpone(case, &rita(), REASON, t0(), t0()).await,
        422,
        "invalid-postponement",
    );
    assert_eq!(p.errors[0].pointer, "$.until");
    assert_eq!(f.log_size().await, size);
    let executed = f
        .decided(
            "p01-ransomware-production",
            "XA-E",
            DecisionKind::Execute,
            t0(),
        )
        .await;
    refused(
        f.postpone(executed, &rita(), REASON, t0() + days(1), t0())
            .await,
        409,
        "not-postponable",
    );
    // Postponed twice: refused, it is no longer awaiting a decision.
    f.postpone(case, &rita(), REASON, t0() + days(1), t0())
        .await
        .unwrap();
    refused(
        f.postpone(case, &rita(), REASON, t0() + days(2), t0())
            .await,
        409,
        "not-postponable",
    );
    // The requester may still withdraw a postponed request; it then never comes back.
    f.withdraw(case, "XA-P", t0() + secs(1)).await.unwrap();
    f.tick(t0() + days(2)).await;
    assert_eq!(f.case(case).await.status, CaseStatus::Withdrawn);
    assert_eq!(f.findings().await, Vec::<String>::new());
}

#[tokio::test]
async fn the_requester_reads_the_reason_and_the_date_and_not_who() {
    use tower_service::Service as _;
    let f = Fixture::new().await;
    let case = f.submit("p01-ransomware-production", "XA-P", t0()).await;
    let until = t0() + days(10);
    f.postpone(case, &rita(), REASON, until, t0())
        .await
        .unwrap();
    let node = f.node().await.unwrap();
    let path = format!("/v1/requests/{case}");
    let claims = json!({"htm": "GET", "htu": path, "iat": jiff::Timestamp::now().as_second()});
    let proof = format!(
        "Custos-JWS {}",
        sign_compact(
            &serde_json::to_vec(&claims).unwrap(),
            &authority_key(),
            None
        )
    );
    let mut app = custos_service::http::router(node.clone());
    let req = Request::get(&path)
        .header(header::AUTHORIZATION, proof)
        .body(Body::empty())
        .unwrap();
    let resp = app.call(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let reply: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(reply["status"], "postponed", "{reply}");
    assert_eq!(reply["decision"], Value::Null);
    assert_eq!(reply["postponement"]["reason"], REASON);
    assert_eq!(reply["postponement"]["until"], until.to_string());
    assert!(!reply.to_string().contains("rita"), "{reply}");
}
