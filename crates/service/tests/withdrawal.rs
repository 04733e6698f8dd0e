//! Withdrawal (issue 13 §1): the requesting authority withdraws its request, signed and with a
//! reason, before execution; afterwards only closing remains. In `ops`, in the replay, and
//! through the router in process.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use custos_jose::{PrivateJwk, sign_compact};
use custos_service::Node;
use custos_service::ops::DecisionKind;
use custos_store::CaseStatus;
use serde_json::{Value, json};

use crate::fixture::*;

#[tokio::test]
async fn a_withdrawn_case_takes_no_decision_and_may_only_be_closed() {
    let f = Fixture::new().await;
    let case = f.submit("p01-ransomware-production", "XA-W", t0()).await;
    let c = f.withdraw(case, "XA-W", t0() + secs(5)).await.unwrap();
    assert_eq!(c.status, CaseStatus::Withdrawn);
    assert_eq!(f.case(case).await.status, CaseStatus::Withdrawn);
    let events = f.case_events(case).await;
    assert_eq!(events.last().unwrap(), "request.withdrawn");
    let logged = f.events().await.pop().unwrap();
    assert_eq!(
        body(&logged)["reason"],
        "The suspect was identified by other means."
    );

    let size = f.log_size().await;
    for kind in [DecisionKind::Execute, DecisionKind::Refuse] {
        let p = refused(
            f.decide(case, &rita(), decision(kind), t0() + secs(6))
                .await,
            409,
            "withdrawn",
        );
        assert!(p.detail.contains("withdrawn"), "{}", p.detail);
    }
    refused(
        f.withdraw(case, "XA-W", t0() + secs(7)).await,
        409,
        "withdrawn",
    );
    refused(
        f.advance(case, &rita(), CaseStatus::Delivered, t0() + secs(8))
            .await,
        409,
        "invalid-transition",
    );
    assert_eq!(f.log_size().await, size, "refusals log nothing");

    let c = f
        .advance(case, &rita(), CaseStatus::Closed, t0() + secs(9))
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::Closed);
    assert_eq!(f.findings().await, Vec::<String>::new());
}

#[tokio::test]
async fn only_the_cases_authority_withdraws_its_own_request_with_a_reason() {
    let f = Fixture::new().await;
    let case = f.submit("p01-ransomware-production", "XA-W", t0()).await;
    let other = other_authority_key();
    let xb = f.add_authority(&other, "XB", t0()).await.unwrap();
    let size = f.log_size().await;

    // Another authority learns nothing of the case.
    let w = f.withdrawal_by(&other, &xb, "XA-W", "Not ours to keep.");
    refused(f.withdraw_as(case, w, t0()).await, 404, "not-found");
    // The id must be the case's, the reason not blank.
    let w = f.withdrawal_by(&authority_key(), &f.authority, "XA-OTHER", "Done.");
    let p = refused(
        f.withdraw_as(case, w, t0()).await,
        422,
        "invalid-withdrawal",
    );
    assert_eq!(p.errors[0].pointer, "$.request_id");
    let w = f.withdrawal_by(&authority_key(), &f.authority, "XA-W", " \u{200b}\n");
    let p = refused(
        f.withdraw_as(case, w, t0()).await,
        422,
        "invalid-withdrawal",
    );
    assert_eq!(p.errors[0].pointer, "$.reason");
    // A revoked key withdraws nothing.
    f.revoke(&f.authority.kid, t0()).await.unwrap();
    let size_revoked = f.log_size().await;
    refused(f.withdraw(case, "XA-W", t0()).await, 403, "revoked-key");
    assert_eq!(f.log_size().await, size_revoked);
    assert_eq!(size_revoked, size + 1, "only the revocation was logged");
    assert_eq!(f.case(case).await.status, CaseStatus::Assessed);
}

#[tokio::test]
async fn a_request_executed_refused_or_closed_can_no_longer_be_withdrawn() {
    let f = Fixture::new().await;
    let executed = f
        .decided(
            "p01-ransomware-production",
            "XA-E",
            DecisionKind::Execute,
            t0(),
        )
        .await;
    let p = refused(
        f.withdraw(executed, "XA-E", t0()).await,
        409,
        "not-withdrawable",
    );
    assert!(p.detail.contains("executing"), "{}", p.detail);
    let refused_case = f
        .decided(
            "p01-ransomware-production",
            "XA-R",
            DecisionKind::Refuse,
            t0(),
        )
        .await;
    refused(
        f.withdraw(refused_case, "XA-R", t0()).await,
        409,
        "not-withdrawable",
    );
    // Asked for information: still before execution, so it may be withdrawn.
    let asked = f
        .decided(
            "p01-ransomware-production",
            "XA-I",
            DecisionKind::RequestInformation,
            t0(),
        )
        .await;
    assert_eq!(f.case(asked).await.status, CaseStatus::AwaitingInformation);
    f.withdraw(asked, "XA-I", t0()).await.unwrap();
    // A supplement to a withdrawn request is refused.
    let p = refused(
        f.try_submit("p01-ransomware-production", "XA-I", t0() + secs(1))
            .await,
        409,
        "withdrawn",
    );
    assert!(p.detail.contains("supplement"), "{}", p.detail);
    assert_eq!(f.findings().await, Vec::<String>::new());
}

#[tokio::test]
async fn a_proposal_waiting_for_its_second_review_lapses_with_the_withdrawal() {
    let f = Fixture::new().await;
    let case = f.submit("p12-death-penalty", "XA-P", t0()).await;
    let c = f
        .decide(case, &rita(), decision(DecisionKind::Execute), t0())
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::AwaitingSecondReview);
    let c = f.withdraw(case, "XA-P", t0() + secs(1)).await.unwrap();
    assert_eq!(c.status, CaseStatus::Withdrawn);
    assert!(c.pending_decision.is_none());
    refused(
        f.second_review(case, &sue(), confirm(true), t0() + secs(2))
            .await,
        409,
        "withdrawn",
    );
    assert_eq!(f.findings().await, Vec::<String>::new());
}

#[tokio::test]
async fn the_replay_finds_a_withdrawal_by_another_authority() {
    let f = Fixture::new().await;
    let case = f.submit("p01-ransomware-production", "XA-W", t0()).await;
    let other = other_authority_key();
    let xb = f.add_authority(&other, "XB", t0()).await.unwrap();
    // Written past the rules (someone with the database and the node key): XB "withdraws"
    // XA's case. The replay verifies the signature and the signer against the case.
    let w = f.withdrawal_by(&other, &xb, "XA-W", "Forged.");
    let xa = f.authority.kid.clone();
    f.tamper_case(case, |c| c.authority_kid = xb.kid.clone())
        .await;
    f.withdraw_as(case, w, t0()).await.unwrap();
    f.tamper_case(case, |c| c.authority_kid = xa).await;
    let findings = f.findings().await;
    assert!(
        findings
            .iter()
            .any(|x| x.contains("withdraws case") && x.contains("another authority")),
        "{findings:?}"
    );
}

// Through the API, in process.

async fn post_jose(node: &Arc<Node>, path: &str, jws: String) -> (StatusCode, Value) {
    use tower_service::Service as _;
    let mut app = custos_service::http::router(node.clone());
    let req = Request::post(path)
        .header(header::CONTENT_TYPE, "application/jose")
        .body(Body::from(jws))
        .unwrap();
    let resp = app.call(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn signed(key: &PrivateJwk, payload: Value) -> String {
    sign_compact(&serde_json::to_vec(&payload).unwrap(), key, None)
}

#[tokio::test]
async fn the_authority_withdraws_through_the_api_and_reads_withdrawn() {
    let f = Fixture::new().await;
    let case = f.submit("p01-ransomware-production", "XA-W", t0()).await;
    let other = other_authority_key();
    f.add_authority(&other, "XB", t0()).await.unwrap();
    let node = f.node().await.unwrap();
    let path = format!("/v1/requests/{case}/withdrawal");
    let payload = json!({"request_id": "XA-W", "reason": "Solved."});

    // Another authority: 404, as for every read of another's case.
    let (status, p) = post_jose(&node, &path, signed(&other, payload.clone())).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{p}");
    // An unknown field is refused before anything is written.
    let (status, p) = post_jose(
        &node,
        &path,
        signed(
            &authority_key(),
            json!({"request_id": "XA-W", "reason": "x", "why": 1}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{p}");
    assert_eq!(
        node.query().case(case).await.unwrap().unwrap().status,
        CaseStatus::Assessed
    );
    // Unsigned: refused before the payload is read.
    let (status, p) = post_jose(&node, &path, "not.a.jws".into()).await;
    assert!(status.is_client_error(), "{p}");

    let (status, reply) = post_jose(&node, &path, signed(&authority_key(), payload)).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["format"], "custos.reply/v1");
    assert_eq!(reply["status"], "withdrawn");
    assert_eq!(reply["withdrawal"]["reason"], "Solved.");
    drop(node);
    assert_eq!(f.findings().await, Vec::<String>::new());
}
