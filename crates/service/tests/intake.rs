//! Intake through `ops::submit`: idempotent on authority + request id, a different body under a
//! used id refused, the sender's directory entry checked under the write lock, and the events of
//! an arrival in order.

use custos_model::DataCategory;
use custos_service::ops::{DecisionKind, SubmitOutcome};
use custos_store::CaseStatus;

use crate::fixture::*;

#[tokio::test]
async fn the_same_request_twice_makes_one_case_and_the_same_answer() {
    let f = Fixture::new().await;
    let s = f.submission("p01-ransomware-production", "XA-1", t0());
    let again = f.submission("p01-ransomware-production", "XA-1", t0());
    let first = f.submit_as(s, Some(f.authority.clone())).await.unwrap();
    let size = f.log_size().await;
    // The same signed payload again, a minute later.
    let second = f.submit_as(again, Some(f.authority.clone())).await.unwrap();
    let (SubmitOutcome::Created(a), SubmitOutcome::Repeated(b)) = (&first, &second) else {
        panic!("{first:?} then {second:?}");
    };
    assert_eq!(a.case_id, b.case_id);
    assert_eq!(a.payload_sha256, b.payload_sha256);
    assert_eq!(a.status, b.status);
    assert_eq!(f.cases().await.len(), 1);
    assert_eq!(f.log_size().await, size, "a repeat appends nothing");
}

#[tokio::test]
async fn a_different_body_under_a_used_id_is_refused_and_changes_nothing() {
    let f = Fixture::new().await;
    let case = f.submit("p01-ransomware-production", "XA-1", t0()).await;
    let before = f.case(case).await;
    let size = f.log_size().await;
    let p = refused(
        f.try_submit("p04-defamation-2y", "XA-1", t0() + secs(60))
            .await,
        409,
        "request-id-reused",
    );
    assert!(p.detail.contains(&format!("case {case}")), "{}", p.detail);
    assert_eq!(f.log_size().await, size);
    let after = f.case(case).await;
    assert_eq!(after.payload_sha256, before.payload_sha256);
    assert_eq!(after.request_json, before.request_json);
    assert_eq!(f.cases().await.len(), 1);
}

#[tokio::test]
async fn the_same_id_from_another_authority_is_another_case() {
    let f = Fixture::new().await;
    let xb = f
        .add_authority(&other_authority_key(), "XB", setup_time())
        .await
        .unwrap();
    let a = f
        .submit("p01-ransomware-production", "SHARED-1", t0())
        .await;
    let s = f.submission_by(
        &other_authority_key(),
        &xb,
        "p01-ransomware-production",
        "SHARED-1",
        t0(),
        |_| {},
    );
    let b = f.submit_as(s, Some(xb.clone())).await.unwrap();
    let SubmitOutcome::Created(b) = b else {
        panic!("{b:?}")
    };
    assert_ne!(a, b.case_id);
    assert_eq!(b.authority_kid, xb.kid);
    assert_eq!(f.cases().await.len(), 2);
}

#[tokio::test]
async fn a_key_revoked_after_its_signature_was_checked_is_refused_at_recording() {
    let f = Fixture::new().await;
    // Checked (and the Submission built) while the key was good; revoked before the write.
    let s = f.submission("p01-ransomware-production", "XA-1", t0());
    f.revoke(&f.authority.kid, t0()).await.unwrap();
    let current = f.logged_authority(&f.authority.kid).await;
    assert!(current.as_ref().unwrap().revoked_at.is_some());
    let size = f.log_size().await;
    let p = refused(f.submit_as(s, current).await, 403, "revoked-key");
    assert!(p.detail.contains("key compromised"), "{}", p.detail);
    assert!(f.cases().await.is_empty());
    assert_eq!(f.log_size().await, size);
}

#[tokio::test]
async fn a_key_the_directory_does_not_hold_is_refused() {
    let f = Fixture::new().await;
    let s = f.submission("p01-ransomware-production", "XA-1", t0());
    refused(f.submit_as(s, None).await, 401, "unknown-key");
    assert!(f.cases().await.is_empty());
}

#[tokio::test]
async fn an_arrival_appends_received_then_assessed_for_its_case() {
    let f = Fixture::new().await;
    let before = f.log_size().await;
    let s = f.submission("p01-ransomware-production", "XA-1", t0());
    let (jws, digest) = (s.jws.clone(), s.payload_sha256.to_hex());
    let case = case_id(&f.submit_as(s, Some(f.authority.clone())).await.unwrap());
    let events = f.events().await;
    let new: Vec<_> = events[before as usize..].iter().collect();
    let types: Vec<String> = new.iter().map(|e| event_type(e)).collect();
    assert_eq!(types, ["request.received", "request.assessed"]);
    assert_eq!(new[0].seq + 1, new[1].seq);
    assert!(new.iter().all(|e| e.case_id == Some(case) && e.at == t0()));
    let received = body(new[0]);
    assert_eq!(received["authority"], f.authority.kid.as_str());
    assert_eq!(received["request_id"], "XA-1");
    assert_eq!(received["payload_sha256"], digest.as_str());
    assert_eq!(received["jws"], jws.as_str());
    let assessed = body(new[1]);
    let c = f.case(case).await;
    assert_eq!(assessed["assessment"]["outcome"], outcome(&c).as_str());
    assert_eq!(c.status, CaseStatus::Assessed);
}

#[tokio::test]
async fn the_case_keeps_the_assessment_and_its_deadlines() {
    let f = Fixture::new().await;
    let s = f.submission("p09-gag-unbounded", "XA-1", t0());
    let a = s.assessment.clone();
    let case = case_id(&f.submit_as(s, Some(f.authority.clone())).await.unwrap());
    let c = f.case(case).await;
    assert_eq!(outcome(&c), "execute_narrowed");
    assert_eq!(assessment(&c), a);
    assert_eq!(c.received_at, t0());
    assert_eq!(c.respond_by, a.deadlines.respond_by);
    // Rights-first bounds unbounded secrecy to 90 days and notifies the person then.
    assert_eq!(c.notify_person_at, Some(t0() + days(90)));
    assert_eq!(c.requesting_state, "XA");
}

#[tokio::test]
async fn a_supplement_to_a_case_awaiting_information_is_assessed_again() {
    let f = Fixture::new().await;
    let case = f.submit("p17-no-data-protection-terms", "XA-1", t0()).await;
    assert_eq!(outcome(&f.case(case).await), "needs_information");
    f.decide(
        case,
        &rita(),
        decision(DecisionKind::RequestInformation),
        t0(),
    )
    .await
    .unwrap();
    let later = t0() + days(2);
    let again = f
        .try_submit("p01-ransomware-production", "XA-1", later)
        .await
        .unwrap();
    let SubmitOutcome::Supplemented(c) = again else {
        panic!("{again:?}")
    };
    assert_eq!(c.case_id, case);
    assert_eq!(c.status, CaseStatus::Assessed);
    assert_eq!(outcome(&c), "execute");
    assert_eq!(c.updated_at, later);
    assert_eq!(
        f.case_events(case).await,
        [
            "request.received",
            "request.assessed",
            "request.information_requested",
            "reply.communicated",
            "request.supplemented",
            "request.assessed",
        ]
    );
    // Once re-assessed, the id is taken again: a third version is refused.
    refused(
        f.try_submit("p04-defamation-2y", "XA-1", later).await,
        409,
        "request-id-reused",
    );
    assert_eq!(f.cases().await.len(), 1);
}

#[tokio::test]
async fn the_case_holds_the_signed_request_as_received() {
    let f = Fixture::new().await;
    let s = f.submission_with("p13-subscriber-plus-traffic", "XA-1", t0(), |r| {
        r["data_categories"] = serde_json::json!(["subscriber"]);
    });
    let payload = s.payload.clone();
    let case = case_id(&f.submit_as(s, Some(f.authority.clone())).await.unwrap());
    let c = f.case(case).await;
    assert_eq!(c.request_json, payload);
    let stored = custos_model::parse_request(c.request_json.as_bytes()).unwrap();
    assert!(stored.data_categories.contains(DataCategory::Subscriber));
    assert!(!stored.data_categories.contains(DataCategory::Traffic));
}

/// The intake over HTTP reads the node's clock (injected here), not the wall's: a request
/// stamped at the node's "now" is fresh and received then, whatever the date outside.
#[tokio::test]
async fn intake_over_http_reads_the_node_s_clock() {
    use axum::body::Body;
    use axum::http::{Request, header};
    use tower_service::Service as _;

    let f = Fixture::new().await;
    let clock = custos_service::clock::ManualClock::new(t0());
    let node = custos_service::Node::open_with_clock(&f.dir, clock.clock())
        .await
        .unwrap();
    let jws = f
        .submission("p01-ransomware-production", "XA-CLOCK", t0())
        .jws;
    let resp = custos_service::http::router(node.clone())
        .call(
            Request::post("/v1/requests")
                .header(header::CONTENT_TYPE, "application/jose")
                .body(Body::from(jws))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    assert!(
        status.is_success(),
        "{status}: {}",
        String::from_utf8_lossy(&body)
    );
    let reply: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let case = node
        .query()
        .case(reply["case"].as_i64().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(case.received_at, t0());
    node.close().await;
}
