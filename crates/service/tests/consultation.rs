//! Consultation (issue 13 §1): a reviewer asks the requester's view with a date to answer by;
//! the requester answers signed (a message or a supplement) or the date passes; the case comes
//! back to awaiting a decision; both sides read the thread, the requester without names.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use custos_jose::sign_compact;
use custos_service::ops::DecisionKind;
use custos_store::CaseStatus;
use serde_json::{Value, json};

use crate::fixture::*;

const ASK: &str = "Would subscriber data alone, without traffic data, serve the investigation?";
const ANSWER: &str = "Yes: subscriber data alone would identify the suspect.";

#[tokio::test]
async fn a_signed_answer_brings_the_case_back_and_the_thread_is_kept() {
    let f = Fixture::new().await;
    let case = f.submit("p01-ransomware-production", "XA-C", t0()).await;
    let c = f
        .consult(case, &rita(), ASK, t0() + days(7), t0())
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::InConsultation);
    let p = refused(
        f.decide(case, &rita(), decision(DecisionKind::Refuse), t0())
            .await,
        409,
        "already-decided",
    );
    assert!(p.detail.contains("in_consultation"), "{}", p.detail);
    let (key, xa) = (authority_key(), f.authority.clone());
    let c = f
        .answer(case, &key, &xa, "XA-C", ANSWER, t0() + secs(60))
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::Assessed);
    let events = f.case_events(case).await;
    assert_eq!(
        events[events.len() - 2..],
        ["consultation.opened", "consultation.answered"]
    );
    // Answered: nothing lapses at the date.
    let size = f.log_size().await;
    f.tick(t0() + days(8)).await;
    assert_eq!(f.log_size().await, size);
    // A second answer with no consultation open is refused.
    refused(
        f.answer(case, &key, &xa, "XA-C", ANSWER, t0() + days(8))
            .await,
        409,
        "no-consultation",
    );
    f.decide(
        case,
        &rita(),
        decision(DecisionKind::Execute),
        t0() + days(8),
    )
    .await
    .unwrap();
    assert_eq!(f.findings().await, Vec::<String>::new());
}

#[tokio::test]
async fn an_unanswered_consultation_lapses_at_its_date_to_the_second_and_not_before() {
    let f = Fixture::new().await;
    let case = f.submit("p01-ransomware-production", "XA-C", t0()).await;
    let by = t0() + days(7);
    f.consult(case, &rita(), ASK, by, t0()).await.unwrap();
    let size = f.log_size().await;
    f.tick(by - secs(1)).await;
    assert_eq!(f.case(case).await.status, CaseStatus::InConsultation);
    assert_eq!(f.log_size().await, size);
    f.tick(by).await;
    assert_eq!(f.case(case).await.status, CaseStatus::Assessed);
    assert_eq!(
        f.case_events(case).await.last().unwrap(),
        "consultation.lapsed"
    );
    assert_eq!(f.findings().await, Vec::<String>::new());
}

#[tokio::test]
async fn a_consultation_is_refused_without_a_reviewer_a_message_a_date_or_the_right_signer() {
    let f = Fixture::new().await;
    let case = f.submit("p01-ransomware-production", "XA-C", t0()).await;
    refused(
        f.consult(case, &aud(), ASK, t0() + days(1), t0()).await,
        403,
        "read-only",
    );
    let p = refused(
        f.consult(case, &rita(), "\u{200b}", t0() + days(1), t0())
            .await,
        422,
        "invalid-consultation",
    );
    assert_eq!(p.errors[0].pointer, "$.message");
    let p = refused(
        f.consult(case, &rita(), ASK, t0(), t0()).await,
        422,
        "invalid-consultation",
    );
    assert_eq!(p.errors[0].pointer, "$.answer_by");
    f.consult(case, &rita(), ASK, t0() + days(1), t0())
        .await
        .unwrap();
    let other = other_authority_key();
    let xb = f.add_authority(&other, "XB", t0()).await.unwrap();
    refused(
        f.answer(case, &other, &xb, "XA-C", ANSWER, t0()).await,
        404,
        "not-found",
    );
    let (key, xa) = (authority_key(), f.authority.clone());
    let p = refused(
        f.answer(case, &key, &xa, "XA-OTHER", ANSWER, t0()).await,
        422,
        "invalid-consultation",
    );
    assert_eq!(p.errors[0].pointer, "$.request_id");
    // A signed supplement answers it too.
    let current = f.logged_authority(&xa.kid).await;
    let s = f.submission_with("p01-ransomware-production", "XA-C", t0() + secs(5), |r| {
        r["necessity"] = json!("Only subscriber data are needed now.");
    });
    f.submit_as(s, current).await.unwrap();
    assert_eq!(f.case(case).await.status, CaseStatus::Assessed);
    assert_eq!(f.findings().await, Vec::<String>::new());
}

#[tokio::test]
async fn the_requester_reads_the_thread_without_names() {
    use tower_service::Service as _;
    let f = Fixture::new().await;
    let case = f.submit("p01-ransomware-production", "XA-C", t0()).await;
    f.consult(case, &rita(), ASK, t0() + days(7), t0())
        .await
        .unwrap();
    let node = f.node().await.unwrap();
    let path = format!("/v1/requests/{case}/consultation/answer");
    let jws = sign_compact(
        &serde_json::to_vec(&json!({"request_id": "XA-C", "message": ANSWER})).unwrap(),
        &authority_key(),
        None,
    );
    let mut app = custos_service::http::router(node.clone());
    let req = Request::post(&path)
        .header(header::CONTENT_TYPE, "application/jose")
        .body(Body::from(jws))
        .unwrap();
    let resp = app.call(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let reply: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(reply["status"], "under_review", "{reply}");
    let thread = reply["consultation"].as_array().unwrap();
    assert_eq!(thread.len(), 2, "{reply}");
    assert_eq!(
        (&thread[0]["from"], &thread[0]["message"]),
        (&json!("requested"), &json!(ASK))
    );
    assert_eq!(
        (&thread[1]["from"], &thread[1]["message"]),
        (&json!("requesting"), &json!(ANSWER))
    );
    assert!(!reply.to_string().contains("rita"), "{reply}");
}
