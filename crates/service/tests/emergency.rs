//! Emergencies verified twice (issue 13, §2): confirmation keys in the directory, which may
//! confirm an authority's emergency requests and never sign one; the confirmation
//! (`POST /v1/requests/{case}/confirmation`); no execution of an unverified emergency.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use custos_jose::{PrivateJwk, sign_compact};
use custos_service::Node;
use custos_service::ops::DecisionKind;
use custos_service::replay::{Projections, Signatures};
use custos_store::CaseStatus;
use serde_json::{Value, json};

use crate::fixture::*;

#[tokio::test]
async fn a_confirmation_key_is_logged_folded_and_cannot_sign_a_request() {
    let f = Fixture::new().await;
    let w = f.writer().await;
    let kid = f
        .add_confirmation_key(&f.authority.kid, &confirmation_key(), t0())
        .await
        .unwrap();
    assert_eq!(kid, confirmation_key().public().thumbprint());
    assert!(
        f.event_types()
            .await
            .contains(&"authority.confirmation_key_added".to_owned())
    );
    // The replay folds it into the directory, bound to its authority.
    let p = Projections::replay(&f.events().await, Signatures::Verify);
    let c = &p.registry.confirmation_keys[&kid];
    assert_eq!(c.authority_kid, f.authority.kid);
    assert!(!p.registry.authorities.contains_key(&kid));
    assert_eq!(f.findings().await, Vec::<String>::new());
    // The running node takes it in; intake's signature check refuses a request it signed.
    w.sync().await.unwrap();
    assert_eq!(
        w.directory.confirmation_key(&kid).unwrap().authority_kid,
        f.authority.kid
    );
    let jws = sign_compact(b"{\"id\":\"XA-1\"}", &confirmation_key(), None);
    let p = refused(w.directory.verify(&jws).await, 403, "confirmation-key");
    assert!(p.detail.contains("not sign requests"), "{}", p.detail);
    // The authority's own key still signs.
    let jws = sign_compact(b"{\"id\":\"XA-1\"}", &authority_key(), None);
    assert!(w.directory.verify(&jws).await.is_ok());
}

#[tokio::test]
async fn one_key_has_one_use_and_belongs_to_a_registered_unrevoked_authority() {
    let f = Fixture::new().await;
    let before = f.log_size().await;
    // The authority's own key cannot also confirm.
    refused(
        f.add_confirmation_key(&f.authority.kid, &authority_key(), t0())
            .await,
        409,
        "key-registered",
    );
    // No authority with that key.
    refused(
        f.add_confirmation_key("no-such-kid", &confirmation_key(), t0())
            .await,
        404,
        "not-found",
    );
    assert_eq!(f.log_size().await, before, "nothing logged for a refusal");
    f.add_confirmation_key(&f.authority.kid, &confirmation_key(), t0())
        .await
        .unwrap();
    // Twice, or for a second authority.
    refused(
        f.add_confirmation_key(&f.authority.kid, &confirmation_key(), t0())
            .await,
        409,
        "key-registered",
    );
    let xb = f
        .add_authority(&other_authority_key(), "XB", t0())
        .await
        .unwrap();
    refused(
        f.add_confirmation_key(&xb.kid, &confirmation_key(), t0())
            .await,
        409,
        "key-registered",
    );
    // A confirmation key cannot be registered as an authority's own key either.
    refused(
        f.add_authority(&confirmation_key(), "XC", t0()).await,
        409,
        "key-registered",
    );
    // Not for a revoked authority.
    f.revoke(&xb.kid, t0()).await.unwrap();
    refused(
        f.add_confirmation_key(&xb.kid, &custos_jose::PrivateJwk::from_seed(&[6; 32]), t0())
            .await,
        409,
        "already-revoked",
    );
    assert_eq!(f.findings().await, Vec::<String>::new());
}

// An emergency is not executed until it is confirmed.

#[tokio::test]
async fn an_unverified_emergency_is_not_executed_until_its_authority_confirms_it() {
    let f = Fixture::new().await;
    let case = f.submit("p07-emergency-kidnapping", "XA-1", t0()).await;
    assert!(f.case(case).await.emergency);
    let before = f.log_size().await;
    for kind in [DecisionKind::Execute, DecisionKind::ExecuteNarrowed] {
        for who in [rita(), sue()] {
            let p = refused(
                f.decide(case, &who, decision(kind), t0()).await,
                409,
                "emergency-unverified",
            );
            assert!(p.kind.ends_with("/emergency-unverified"), "{}", p.kind);
            assert!(p.detail.contains("/confirmation"), "{}", p.detail);
        }
    }
    assert_eq!(f.log_size().await, before, "a refusal logs nothing");
    assert_eq!(f.case(case).await.status, CaseStatus::Assessed);
    // Confirmed: executed as any other case.
    f.confirm_emergency(case, t0()).await.unwrap();
    assert!(
        f.case_events(case)
            .await
            .contains(&"emergency.confirmed".to_owned())
    );
    refused(
        f.confirm_emergency(case, t0()).await,
        409,
        "already-verified",
    );
    let c = f
        .decide(case, &rita(), decision(DecisionKind::Execute), t0())
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::Executing);
    assert_eq!(f.findings().await, Vec::<String>::new());
}

#[tokio::test]
async fn the_emergency_check_comes_before_four_eyes_and_spares_refusals_and_the_writer_keeps_it() {
    let f = Fixture::new().await;
    // Needs information: executing it would otherwise be proposed for a second reviewer.
    let case = f.submit("p08-emergency-unjustified", "XA-1", t0()).await;
    assert_eq!(outcome(&f.case(case).await), "needs_information");
    refused(
        f.decide(case, &rita(), decision(DecisionKind::Execute), t0())
            .await,
        409,
        "emergency-unverified",
    );
    assert_eq!(f.case(case).await.status, CaseStatus::Assessed);
    // Through the real writer too.
    let w = f.writer().await;
    refused(
        w.decide(case, &sue(), decision(DecisionKind::Execute))
            .await,
        409,
        "emergency-unverified",
    );
    // A refusal or a request for information needs no verification.
    let c = w
        .decide(case, &rita(), decision(DecisionKind::Refuse))
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::Refused);
    assert_eq!(f.findings().await, Vec::<String>::new());
}

#[tokio::test]
async fn the_replay_finds_an_unverified_emergency_executed() {
    let f = Fixture::new().await;
    let case = f.submit("p07-emergency-kidnapping", "XA-1", t0()).await;
    f.confirm_emergency(case, t0()).await.unwrap();
    f.decide(case, &rita(), decision(DecisionKind::Execute), t0())
        .await
        .unwrap();
    assert_eq!(f.findings().await, Vec::<String>::new());
    // The same log without its confirmation: the replay names the execution.
    let events: Vec<_> = f
        .events()
        .await
        .into_iter()
        .filter(|e| e.event_type != "emergency.confirmed")
        .collect();
    let p = Projections::replay(&events, Signatures::Verify);
    assert!(
        p.findings
            .iter()
            .any(|x| x.to_string().contains("an emergency not confirmed")),
        "{:#?}",
        p.findings
    );
}

// The confirmation over HTTP, in process: the router of a node opened on the fixture's directory.

async fn post_jose(
    node: &Arc<Node>,
    path: &str,
    content_type: &str,
    body: &str,
) -> (StatusCode, Value) {
    use tower_service::Service as _;
    let mut app = custos_service::http::router(node.clone());
    let req = Request::post(path)
        .header(header::CONTENT_TYPE, content_type)
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

/// The reply XA reads of `case` (`GET /v1/requests/{case}` with its signed proof).
async fn read_reply(node: &Arc<Node>, case: i64) -> Value {
    use tower_service::Service as _;
    let path = format!("/v1/requests/{case}");
    let claims = json!({"htm": "GET", "htu": path, "iat": jiff::Timestamp::now().as_second()});
    let proof = sign_compact(
        &serde_json::to_vec(&claims).unwrap(),
        &authority_key(),
        None,
    );
    let req = Request::get(&path)
        .header(header::AUTHORIZATION, format!("Custos-JWS {proof}"))
        .body(Body::empty())
        .unwrap();
    let resp = custos_service::http::router(node.clone())
        .call(req)
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn signed(payload: &Value, key: &PrivateJwk) -> String {
    sign_compact(&serde_json::to_vec(payload).unwrap(), key, None)
}

#[track_caller]
fn problem(answer: (StatusCode, Value), status: u16, slug: &str) -> Value {
    assert_eq!(answer.0.as_u16(), status, "{}", answer.1);
    let kind = answer.1["type"].as_str().unwrap_or_default();
    assert!(kind.ends_with(&format!("/{slug}")), "{}", answer.1);
    answer.1
}

#[tokio::test]
async fn a_confirmation_is_refused_unless_a_confirmation_key_of_the_authority_signs_the_digest() {
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
    let plain = f.submit("p01-ransomware-production", "XA-2", t0()).await;
    let c = f.case(case).await;
    let good = json!({"request_id": c.request_id, "request_sha256": c.payload_sha256.to_hex()});
    let node = f.node().await.unwrap();
    let path = format!("/v1/requests/{case}/confirmation");
    let size = f.log_size().await;
    let jose = "application/jose";

    problem(
        post_jose(
            &node,
            &path,
            "application/json",
            &signed(&good, &confirmation_key()),
        )
        .await,
        415,
        "media-type",
    );
    problem(
        post_jose(&node, &path, jose, "not.a-jws").await,
        400,
        "malformed-jws",
    );
    // The key that signed the request, and another authority's own key.
    problem(
        post_jose(&node, &path, jose, &signed(&good, &authority_key())).await,
        403,
        "not-a-confirmation-key",
    );
    problem(
        post_jose(&node, &path, jose, &signed(&good, &other_authority_key())).await,
        403,
        "not-a-confirmation-key",
    );
    // Another authority's confirmation key learns nothing of the case.
    problem(
        post_jose(&node, &path, jose, &signed(&good, &xb_confirms)).await,
        404,
        "not-found",
    );
    // A key nobody registered.
    problem(
        post_jose(
            &node,
            &path,
            jose,
            &signed(&good, &PrivateJwk::from_seed(&[8; 32])),
        )
        .await,
        401,
        "unknown-key",
    );
    // A wrong digest, another request's id: 422 with the pointer.
    let wrong = json!({"request_id": c.request_id, "request_sha256": "00".repeat(32)});
    let p = problem(
        post_jose(&node, &path, jose, &signed(&wrong, &confirmation_key())).await,
        422,
        "invalid-confirmation",
    );
    assert_eq!(p["errors"][0]["pointer"], "$.request_sha256");
    let other = json!({"request_id": "XA-2", "request_sha256": c.payload_sha256.to_hex()});
    let p = problem(
        post_jose(&node, &path, jose, &signed(&other, &confirmation_key())).await,
        422,
        "invalid-confirmation",
    );
    assert_eq!(p["errors"][0]["pointer"], "$.request_id");
    // A signed denial is no confirmation (recording a denial is not built yet: refused whole).
    let deny = json!({"request_id": c.request_id, "request_sha256": c.payload_sha256.to_hex(),
        "deny": true, "reason": "We sent no such request."});
    problem(
        post_jose(&node, &path, jose, &signed(&deny, &confirmation_key())).await,
        400,
        "invalid-json",
    );
    // A case that claims no emergency.
    let pc = f.case(plain).await;
    let plain_payload =
        json!({"request_id": pc.request_id, "request_sha256": pc.payload_sha256.to_hex()});
    problem(
        post_jose(
            &node,
            &format!("/v1/requests/{plain}/confirmation"),
            jose,
            &signed(&plain_payload, &confirmation_key()),
        )
        .await,
        409,
        "not-an-emergency",
    );
    assert_eq!(f.log_size().await, size, "no refusal logged anything");
    assert!(
        !f.case_events(case)
            .await
            .contains(&"emergency.confirmed".to_owned())
    );

    // The requester reads where its emergency stands in its reply; a plain case says nothing.
    assert_eq!(
        read_reply(&node, case).await["emergency"],
        json!({"verified": false})
    );
    assert!(read_reply(&node, plain).await.get("emergency").is_none());

    // Signed by XA's confirmation key over the payload in force: 200, logged.
    let (status, body) = post_jose(&node, &path, jose, &signed(&good, &confirmation_key())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answer: custos_service::wire::EmergencyConfirmation = serde_json::from_value(body).unwrap();
    assert!(answer.verified);
    assert_eq!(answer.kid, confirmation_key().public().thumbprint());
    assert_eq!(answer.request_sha256, c.payload_sha256.to_hex());
    assert!(
        f.case_events(case)
            .await
            .contains(&"emergency.confirmed".to_owned())
    );
    problem(
        post_jose(&node, &path, jose, &signed(&good, &confirmation_key())).await,
        409,
        "already-verified",
    );
    assert_eq!(
        read_reply(&node, case).await["emergency"],
        json!({"verified": true})
    );
    f.decide(case, &rita(), decision(DecisionKind::Execute), t0())
        .await
        .unwrap();
    assert_eq!(f.findings().await, Vec::<String>::new());
}
