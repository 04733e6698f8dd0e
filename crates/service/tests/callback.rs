//! Emergencies verified by call-back, and failed (issue 13, §2): the directory's contact
//! (`authority.contact_set`), a reviewer's record of the call and a supervisor's confirmation,
//! the authority's signed denial, the refusal `emergency-verification-failed` and the counts
//! per authority.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use custos_jose::{PrivateJwk, sign_compact};
use custos_service::Node;
use custos_service::ops::{self, CallbackInput, CallbackOutcome, Contact, DecisionKind};
use custos_service::replay::{Projections, Signatures};
use custos_service::writer::Job;
use custos_store::CaseStatus;
use serde_json::{Value, json};

use crate::fixture::*;

async fn counts(f: &Fixture) -> ops::EmergencyCounts {
    let node = f.node().await.unwrap();
    node.query()
        .emergency_counts(&f.authority.kid)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_contact_is_a_directory_event_folded_by_the_replay_and_changeable() {
    let f = Fixture::new().await;
    f.set_contact().await;
    let changed = Contact {
        name: "XA night desk".into(),
        phone: "+99 555 0199".into(),
    };
    let (kid, c) = (f.authority.kid.clone(), changed.clone());
    f.try_batch(move |b, out| {
        Box::pin(async move { ops::set_contact(b, out, &kid, &c, setup_time()).await })
    })
    .await
    .unwrap();
    let p = Projections::replay(&f.events().await, Signatures::Verify);
    assert_eq!(p.registry.contacts[&f.authority.kid], changed);
    assert_eq!(f.findings().await, Vec::<String>::new());
    // A blank phone, an unknown authority: refused, nothing logged.
    let before = f.log_size().await;
    let kid = f.authority.kid.clone();
    refused(
        f.try_batch(move |b, out| {
            let c = Contact {
                name: "x".into(),
                phone: " ".into(),
            };
            Box::pin(async move { ops::set_contact(b, out, &kid, &c, t0()).await })
        })
        .await,
        422,
        "invalid-contact",
    );
    refused(
        f.try_batch(move |b, out| {
            Box::pin(async move { ops::set_contact(b, out, "nobody", &duty_office(), t0()).await })
        })
        .await,
        404,
        "not-found",
    );
    assert_eq!(f.log_size().await, before);
}

#[tokio::test]
async fn a_confirmed_call_back_verifies_and_the_execution_follows() {
    let f = Fixture::new().await;
    f.set_contact().await;
    let case = f.submit("p07-emergency-kidnapping", "XA-1", t0()).await;
    let v = f
        .record_callback(case, &rita(), CallbackOutcome::Confirmed, t0())
        .await
        .unwrap();
    assert_eq!(v.pending_callback.as_ref().unwrap().reviewer, "rita");
    assert!(!v.verified());
    // Recorded, not yet confirmed: still unverified.
    refused(
        f.decide(case, &rita(), decision(DecisionKind::Execute), t0())
            .await,
        409,
        "emergency-unverified",
    );
    // Another call while one waits.
    refused(
        f.record_callback(case, &rex(), CallbackOutcome::Confirmed, t0())
            .await,
        409,
        "callback-pending",
    );
    // Four eyes: a reviewer cannot confirm; the recorder cannot either, even as supervisor.
    refused(
        f.review_callback(case, &rex(), true, t0()).await,
        403,
        "role",
    );
    refused(
        f.review_callback(case, &aud(), true, t0()).await,
        403,
        "read-only",
    );
    let sue_case = f.submit("p07-emergency-kidnapping", "XA-2", t0()).await;
    f.record_callback(sue_case, &sue(), CallbackOutcome::Confirmed, t0())
        .await
        .unwrap();
    refused(
        f.review_callback(sue_case, &sue(), true, t0()).await,
        403,
        "same-reviewer",
    );

    let v = f.review_callback(case, &sue(), true, t0()).await.unwrap();
    assert!(v.verified(), "{v:?}");
    assert!(v.pending_callback.is_none());
    let c = f
        .decide(case, &rita(), decision(DecisionKind::Execute), t0())
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::Executing);
    assert!(
        f.case_events(case)
            .await
            .contains(&"emergency.callback_confirmed".to_owned())
    );
    assert_eq!(f.findings().await, Vec::<String>::new());
    let n = counts(&f).await;
    assert_eq!(
        (
            n.emergencies,
            n.verified_by_callback,
            n.verified_by_signature,
            n.failed_verification
        ),
        (2, 1, 0, 0)
    );
}

#[tokio::test]
async fn an_unreachable_or_rejected_call_back_verifies_nothing() {
    let f = Fixture::new().await;
    f.set_contact().await;
    let case = f.submit("p07-emergency-kidnapping", "XA-1", t0()).await;
    f.record_callback(case, &rita(), CallbackOutcome::Unreachable, t0())
        .await
        .unwrap();
    let v = f.review_callback(case, &sue(), true, t0()).await.unwrap();
    assert!(!v.verified() && v.failed.is_none());
    f.record_callback(case, &rita(), CallbackOutcome::Confirmed, t0())
        .await
        .unwrap();
    let v = f.review_callback(case, &sue(), false, t0()).await.unwrap();
    assert!(!v.verified() && v.pending_callback.is_none());
    refused(
        f.review_callback(case, &sue(), true, t0()).await,
        409,
        "no-pending-callback",
    );
    assert_eq!(f.case(case).await.status, CaseStatus::Assessed);
    assert_eq!(f.findings().await, Vec::<String>::new());
}

#[tokio::test]
async fn a_confirmed_denial_on_the_call_back_refuses_the_case_and_is_counted() {
    let f = Fixture::new().await;
    f.set_contact().await;
    let case = f.submit("p07-emergency-kidnapping", "XA-1", t0()).await;
    f.record_callback(case, &rita(), CallbackOutcome::Denied, t0())
        .await
        .unwrap();
    assert_eq!(f.case(case).await.status, CaseStatus::Assessed);
    let v = f.review_callback(case, &sue(), true, t0()).await.unwrap();
    assert_eq!(v.failed.as_deref(), Some("callback"));
    let c = f.case(case).await;
    assert_eq!(c.status, CaseStatus::Refused);
    let types = f.case_events(case).await;
    assert!(types.ends_with(&[
        "emergency.callback_confirmed".to_owned(),
        "emergency.verification_failed".to_owned(),
        "reply.communicated".to_owned()
    ]));
    // The requester is told the refusal and its ground, never who called or confirmed.
    let told = f
        .store
        .latest_case_event(case, custos_model::EventType::ReplyCommunicated)
        .await
        .unwrap()
        .unwrap();
    let told = body(&told);
    assert_eq!(told["status"], "refused");
    assert_eq!(told["communicated"]["decision"], "refuse");
    assert_eq!(
        told["communicated"]["ground"],
        "emergency-verification-failed"
    );
    for name in ["rita", "sue", "Vega", "555"] {
        assert!(!told.to_string().contains(name), "{told}");
    }
    // After failure nothing but closing.
    refused(
        f.decide(case, &rita(), decision(DecisionKind::Refuse), t0())
            .await,
        409,
        "already-decided",
    );
    refused(
        f.record_callback(case, &rita(), CallbackOutcome::Confirmed, t0())
            .await,
        409,
        "already-decided",
    );
    refused(
        f.confirm_emergency(case, t0()).await,
        409,
        "already-decided",
    );
    let c = f
        .advance(case, &rita(), CaseStatus::Closed, t0())
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::Closed);
    assert_eq!(f.findings().await, Vec::<String>::new());
    let n = counts(&f).await;
    assert_eq!((n.emergencies, n.failed_verification), (1, 1));
    // The replay names a failure nobody denied.
    let events: Vec<_> = f
        .events()
        .await
        .into_iter()
        .filter(|e| e.event_type != "emergency.callback_confirmed")
        .collect();
    let p = Projections::replay(&events, Signatures::Verify);
    assert!(
        p.findings
            .iter()
            .any(|x| x.to_string().contains("denied nothing")),
        "{:#?}",
        p.findings
    );
}

#[tokio::test]
async fn without_a_registered_contact_no_call_back_is_recorded() {
    let f = Fixture::new().await;
    let case = f.submit("p07-emergency-kidnapping", "XA-1", t0()).await;
    let w = f.writer().await;
    let input = CallbackInput {
        reached: "someone".into(),
        outcome: CallbackOutcome::Confirmed,
        note: None,
    };
    let before = f.log_size().await;
    let p = refused(
        w.queue(|reply| Job::RecordCallback {
            case_id: case,
            user: rita(),
            input: input.clone(),
            reply,
        })
        .await
        .answer()
        .await,
        409,
        "no-contact",
    );
    assert!(
        p.detail.contains("custos authority contact set"),
        "{}",
        p.detail
    );
    assert_eq!(f.log_size().await, before);
    // Registered (by the CLI's offline write): the writer takes it in and records.
    f.set_contact().await;
    w.sync().await.unwrap();
    let v = w
        .queue(|reply| Job::RecordCallback {
            case_id: case,
            user: rita(),
            input,
            reply,
        })
        .await
        .answer()
        .await
        .unwrap();
    assert_eq!(v.pending_callback.unwrap().contact, duty_office());
    assert_eq!(f.findings().await, Vec::<String>::new());
}

// The signed denial, through the router in process.

async fn post_jose(node: &Arc<Node>, path: &str, body: &str) -> (StatusCode, Value) {
    use tower_service::Service as _;
    let mut app = custos_service::http::router(node.clone());
    let req = Request::post(path)
        .header(header::CONTENT_TYPE, "application/jose")
        .body(Body::from(body.to_owned()))
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

fn signed(payload: &Value, key: &PrivateJwk) -> String {
    sign_compact(&serde_json::to_vec(payload).unwrap(), key, None)
}

#[track_caller]
fn problem(answer: (StatusCode, Value), status: u16, slug: &str) {
    assert_eq!(answer.0.as_u16(), status, "{}", answer.1);
    let kind = answer.1["type"].as_str().unwrap_or_default();
    assert!(kind.ends_with(&format!("/{slug}")), "{}", answer.1);
}

#[tokio::test]
async fn a_signed_denial_by_a_confirmation_key_fails_verification_and_others_change_nothing() {
    let f = Fixture::new().await;
    f.add_confirmation_key(&f.authority.kid, &confirmation_key(), setup_time())
        .await
        .unwrap();
    let xb = f
        .add_authority(&other_authority_key(), "XB", setup_time())
        .await
        .unwrap();
    let xb_confirms = PrivateJwk::from_seed(&[7; 32]);
    f.add_confirmation_key(&xb.kid, &xb_confirms, setup_time())
        .await
        .unwrap();
    let case = f.submit("p07-emergency-kidnapping", "XA-1", t0()).await;
    let c = f.case(case).await;
    let deny = json!({"request_id": c.request_id, "request_sha256": c.payload_sha256.to_hex(),
        "reason": "We sent no such request."});
    let node = f.node().await.unwrap();
    let path = format!("/v1/requests/{case}/denial");
    let size = f.log_size().await;
    // The request's own key, another authority's key, another authority's confirmation key.
    problem(
        post_jose(&node, &path, &signed(&deny, &authority_key())).await,
        403,
        "not-a-confirmation-key",
    );
    problem(
        post_jose(&node, &path, &signed(&deny, &other_authority_key())).await,
        403,
        "not-a-confirmation-key",
    );
    problem(
        post_jose(&node, &path, &signed(&deny, &xb_confirms)).await,
        404,
        "not-found",
    );
    // A wrong digest, a blank reason, an unknown field.
    let mut wrong = deny.clone();
    wrong["request_sha256"] = json!("00".repeat(32));
    problem(
        post_jose(&node, &path, &signed(&wrong, &confirmation_key())).await,
        422,
        "invalid-confirmation",
    );
    let mut blank = deny.clone();
    blank["reason"] = json!(" ");
    problem(
        post_jose(&node, &path, &signed(&blank, &confirmation_key())).await,
        422,
        "invalid-confirmation",
    );
    let mut extra = deny.clone();
    extra["deny"] = json!(true);
    problem(
        post_jose(&node, &path, &signed(&extra, &confirmation_key())).await,
        400,
        "invalid-json",
    );
    assert_eq!(f.log_size().await, size, "no refusal logged anything");
    assert_eq!(f.case(case).await.status, CaseStatus::Assessed);

    let (status, body) = post_jose(&node, &path, &signed(&deny, &confirmation_key())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ground"], "emergency-verification-failed");
    assert_eq!(f.case(case).await.status, CaseStatus::Refused);
    assert!(
        f.case_events(case)
            .await
            .contains(&"emergency.denied".to_owned())
    );
    // Denied once: a second denial or a confirmation now finds the case decided.
    problem(
        post_jose(&node, &path, &signed(&deny, &confirmation_key())).await,
        409,
        "already-decided",
    );
    assert_eq!(f.findings().await, Vec::<String>::new());
    let n = node
        .query()
        .emergency_counts(&f.authority.kid)
        .await
        .unwrap();
    assert_eq!((n.emergencies, n.failed_verification), (1, 1));
}
