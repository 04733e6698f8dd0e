//! Execution on conditions: typed conditions on the decision, the requesting authority's
//! signed acceptance (or decline) of their digest, and no release of evidence before it.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use custos_jose::{PrivateJwk, sign_compact};
use custos_service::Node;
use custos_service::ops::{
    AcceptanceAnswer, AcceptanceInput, AcceptanceState, Condition, DecisionInput, DecisionKind,
    conditions_sha256,
};
use custos_store::CaseStatus;
use serde_json::{Value, json};

use crate::fixture::*;

fn typed() -> Vec<custos_service::ops::ConditionInput> {
    serde_json::from_value(json!([
        {"kind": "use_limitation", "purposes": "The investigation named in the request only."},
        {"kind": "confidentiality"},
        {"kind": "deletion_after", "days": 180},
        "No onward transfer to a third state.",
    ]))
    .unwrap()
}

fn expected() -> Vec<Condition> {
    vec![
        Condition::UseLimitation {
            purposes: "The investigation named in the request only.".into(),
        },
        Condition::Confidentiality { text: None },
        Condition::DeletionAfter { days: 180 },
        Condition::FreeText {
            text: "No onward transfer to a third state.".into(),
        },
    ]
}

/// A case of `p01` executed on the typed conditions at t0.
async fn executed_on_conditions(f: &Fixture, id: &str) -> i64 {
    let case = f.submit("p01-ransomware-production", id, t0()).await;
    f.decide(
        case,
        &rita(),
        DecisionInput {
            conditions: typed(),
            ..decision(DecisionKind::Execute)
        },
        t0(),
    )
    .await
    .unwrap();
    case
}

fn acceptance(id: &str, sha: &str) -> AcceptanceInput {
    AcceptanceInput {
        request_id: id.into(),
        conditions_sha256: sha.into(),
        answer: AcceptanceAnswer::Accept,
        reason: None,
    }
}

#[tokio::test]
async fn conditions_are_typed_and_plain_strings_read_as_free_text() {
    let f = Fixture::new().await;
    let case = executed_on_conditions(&f, "XA-1").await;
    assert_eq!(recorded(&f.case(case).await).conditions, expected());
    // As logged: each with its kind.
    let told = f.store.case_events(case).await.unwrap();
    let reply = told
        .iter()
        .find(|e| e.event_type == "reply.communicated")
        .unwrap();
    assert_eq!(
        body(reply)["communicated"]["conditions"][2],
        json!({"kind": "deletion_after", "days": 180})
    );
    assert_eq!(
        body(reply)["communicated"]["conditions"][3],
        json!({"kind": "free_text", "text": "No onward transfer to a third state."})
    );
    // Each refusal names the field.
    for (n, (bad, pointer)) in [
        (
            json!({"kind": "deletion_after", "days": 0}),
            "$.conditions[0].days",
        ),
        (
            json!({"kind": "use_limitation", "purposes": " "}),
            "$.conditions[0].purposes",
        ),
        (
            json!({"kind": "free_text", "text": ""}),
            "$.conditions[0].text",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let other = f
            .submit("p01-ransomware-production", &format!("XA-B{n}"), t0())
            .await;
        let p = refused(
            f.decide(
                other,
                &rita(),
                DecisionInput {
                    conditions: vec![serde_json::from_value(bad).unwrap()],
                    ..decision(DecisionKind::Execute)
                },
                t0(),
            )
            .await,
            422,
            "invalid-decision",
        );
        assert_eq!(p.errors[0].pointer, pointer);
    }
    // A whole number written with a zero fraction is a whole number (JSON Schema's integer).
    let c: custos_service::ops::ConditionInput =
        serde_json::from_value(json!({"kind": "deletion_after", "days": 180.0})).unwrap();
    assert_eq!(Condition::from(c), Condition::DeletionAfter { days: 180 });
    assert!(
        serde_json::from_value::<custos_service::ops::ConditionInput>(
            json!({"kind": "deletion_after", "days": 1.5})
        )
        .is_err()
    );
    // An unknown kind does not parse at all.
    assert!(
        serde_json::from_value::<custos_service::ops::ConditionInput>(
            json!({"kind": "export_ban"})
        )
        .is_err()
    );
    assert!(f.findings().await.is_empty());
}

#[tokio::test]
async fn no_evidence_is_released_before_the_conditions_are_accepted() {
    let f = Fixture::new().await;
    let case = executed_on_conditions(&f, "XA-1").await;
    let sha = "ab".repeat(32);
    // Sealing may come first: it releases nothing.
    f.seal(case, &sha, t0()).await.unwrap();
    let size = f.log_size().await;
    let p = refused(f.deliver(&sha, t0()).await, 409, "conditions-not-accepted");
    let digest = conditions_sha256(&expected()).unwrap();
    assert!(p.detail.contains(&digest), "{}", p.detail);
    assert!(p.detail.contains("/conditions/acceptance"), "{}", p.detail);
    assert_eq!(f.log_size().await, size, "nothing logged");

    // A decline (with a reason) releases nothing either, and may be followed by an acceptance.
    let p = refused(
        f.answer_conditions(
            case,
            &f.authority,
            AcceptanceInput {
                answer: AcceptanceAnswer::Decline,
                ..acceptance("XA-1", &digest)
            },
            t0(),
        )
        .await,
        422,
        "invalid-acceptance",
    );
    assert_eq!(p.errors[0].pointer, "$.reason");
    let declined = f
        .answer_conditions(
            case,
            &f.authority,
            AcceptanceInput {
                answer: AcceptanceAnswer::Decline,
                reason: Some("Our law requires onward transfer to the court.".into()),
                ..acceptance("XA-1", &digest)
            },
            t0() + days(1),
        )
        .await
        .unwrap();
    assert_eq!(declined.state, AcceptanceState::Declined);
    refused(
        f.deliver(&sha, t0() + days(1)).await,
        409,
        "conditions-not-accepted",
    );

    let accepted = f
        .answer_conditions(
            case,
            &f.authority,
            acceptance("XA-1", &digest),
            t0() + days(2),
        )
        .await
        .unwrap();
    assert_eq!(accepted.state, AcceptanceState::Accepted);
    assert_eq!(accepted.sha256, digest);
    assert_eq!(accepted.delete_by, None, "nothing handed over yet");
    f.deliver(&sha, t0() + days(2)).await.unwrap();
    assert_eq!(f.case(case).await.status, CaseStatus::Delivered);
    // The deletion condition becomes a date, told to the requester and staff alike: the
    // first hand-over plus its 180 days.
    let status = custos_service::ops::conditions::status_of(&f.store, &f.case(case).await)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.state, AcceptanceState::Accepted);
    assert_eq!(status.delete_by, Some(t0() + days(2) + days(180)));
    // An acceptance is final.
    refused(
        f.answer_conditions(
            case,
            &f.authority,
            acceptance("XA-1", &digest),
            t0() + days(3),
        )
        .await,
        409,
        "conditions-already-accepted",
    );
    let kinds = f.case_events(case).await;
    assert!(
        kinds.contains(&"conditions.declined".to_owned()),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&"conditions.accepted".to_owned()),
        "{kinds:?}"
    );
    assert!(f.findings().await.is_empty(), "{:#?}", f.findings().await);
}

#[tokio::test]
async fn an_execution_without_conditions_releases_at_once() {
    let f = Fixture::new().await;
    let case = f
        .decided(
            "p01-ransomware-production",
            "XA-1",
            DecisionKind::Execute,
            t0(),
        )
        .await;
    let sha = "ab".repeat(32);
    f.seal(case, &sha, t0()).await.unwrap();
    f.deliver(&sha, t0()).await.unwrap();
    refused(
        f.answer_conditions(
            case,
            &f.authority,
            acceptance("XA-1", &"00".repeat(32)),
            t0(),
        )
        .await,
        409,
        "no-conditions",
    );
    assert!(f.findings().await.is_empty());
}

#[tokio::test]
async fn a_wrong_digest_another_request_or_another_authority_is_refused() {
    let f = Fixture::new().await;
    let case = executed_on_conditions(&f, "XA-1").await;
    let digest = conditions_sha256(&expected()).unwrap();
    let size = f.log_size().await;
    let p = refused(
        f.answer_conditions(
            case,
            &f.authority,
            acceptance("XA-1", &"00".repeat(32)),
            t0(),
        )
        .await,
        422,
        "invalid-acceptance",
    );
    assert_eq!(p.errors[0].pointer, "$.conditions_sha256");
    assert!(p.detail.contains(&digest), "{}", p.detail);
    let p = refused(
        f.answer_conditions(case, &f.authority, acceptance("XA-2", &digest), t0())
            .await,
        422,
        "invalid-acceptance",
    );
    assert_eq!(p.errors[0].pointer, "$.request_id");
    let other = f
        .add_authority(&other_authority_key(), "XB", t0())
        .await
        .unwrap();
    let size = size + 1;
    refused(
        f.answer_conditions(case, &other, acceptance("XA-1", &digest), t0())
            .await,
        404,
        "not-found",
    );
    // Before execution there is nothing to accept.
    let open = f.submit("p04-defamation-2y", "XA-3", t0()).await;
    refused(
        f.answer_conditions(open, &f.authority, acceptance("XA-3", &digest), t0())
            .await,
        409,
        "not-executing",
    );
    assert_eq!(f.log_size().await, size + 2, "only the submission of XA-3");
    assert!(f.findings().await.is_empty());
}

#[tokio::test]
async fn the_replay_names_a_release_before_acceptance_and_a_wrong_digest() {
    let f = Fixture::new().await;
    let case = executed_on_conditions(&f, "XA-1").await;
    let sha = "ab".repeat(32);
    f.seal(case, &sha, t0()).await.unwrap();
    // A node that skipped the check: the delivery logged without an acceptance.
    let (kid, s) = (f.authority.kid.clone(), sha.clone());
    f.try_batch(move |b, out| {
        Box::pin(async move {
            b.append(&custos_store::NewEvent {
                event_type: custos_model::EventType::EvidenceDelivered,
                at: t0(),
                case_id: Some(case),
                body: json!({"package_blake3": s, "to": kid}),
            })
            .await
            .map(|e| out.push(e))
            .map_err(Into::into)
        })
    })
    .await
    .unwrap();
    let findings = f.findings().await;
    assert!(
        findings
            .iter()
            .any(|x| x.contains("before its conditions were accepted")),
        "{findings:#?}"
    );
    // An acceptance of other conditions than the decision's.
    let g = Fixture::new().await;
    let case = executed_on_conditions(&g, "XA-1").await;
    g.try_batch(move |b, out| {
        Box::pin(async move {
            b.append(&custos_store::NewEvent {
                event_type: custos_model::EventType::ConditionsAccepted,
                at: t0(),
                case_id: Some(case),
                body: json!({"conditions_sha256": "00".repeat(32), "request_id": "XA-1"}),
            })
            .await
            .map(|e| out.push(e))
            .map_err(Into::into)
        })
    })
    .await
    .unwrap();
    let findings = g.findings().await;
    assert!(
        findings.iter().any(|x| x.contains("the decision's are")),
        "{findings:#?}"
    );
}

// Through the API, in process.

async fn call(node: &Arc<Node>, req: Request<Body>) -> (StatusCode, Value) {
    use tower_service::Service as _;
    let mut app = custos_service::http::router(node.clone());
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

fn signed_acceptance(case: i64, key: &PrivateJwk, payload: Value) -> Request<Body> {
    let jws = sign_compact(&serde_json::to_vec(&payload).unwrap(), key, None);
    Request::post(format!("/v1/requests/{case}/conditions/acceptance"))
        .header(header::CONTENT_TYPE, "application/jose")
        .body(Body::from(jws))
        .unwrap()
}

fn read_proof(key: &PrivateJwk, method: &str, path: &str) -> String {
    let claims = json!({"htm": method, "htu": path, "iat": jiff::Timestamp::now().as_second()});
    format!(
        "Custos-JWS {}",
        sign_compact(&serde_json::to_vec(&claims).unwrap(), key, None)
    )
}

#[tokio::test]
async fn the_reply_shows_the_conditions_and_the_signed_acceptance_through_the_api() {
    let f = Fixture::new().await;
    let case = executed_on_conditions(&f, "XA-1").await;
    f.add_authority(&other_authority_key(), "XB", t0())
        .await
        .unwrap();
    let node = f.node().await.unwrap();
    let path = format!("/v1/requests/{case}");
    let get = |key: &PrivateJwk| {
        Request::get(&path)
            .header(header::AUTHORIZATION, read_proof(key, "GET", &path))
            .body(Body::empty())
            .unwrap()
    };
    let (status, reply) = call(&node, get(&authority_key())).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let shown: Vec<Condition> =
        serde_json::from_value(reply["decision"]["conditions"].clone()).unwrap();
    assert_eq!(shown, expected());
    // The digest is over the conditions exactly as the reply shows them.
    let canonical =
        custos_ledger::commitment::canonicalize(&reply["decision"]["conditions"]).unwrap();
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(canonical.as_bytes()));
    assert_eq!(reply["conditions"]["sha256"], digest);
    assert_eq!(reply["conditions"]["state"], "pending");

    // Signed by another authority: its case is not visible to it.
    let payload = json!({"request_id": "XA-1", "conditions_sha256": digest});
    let (status, p) = call(
        &node,
        signed_acceptance(case, &other_authority_key(), payload.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{p}");
    // Not a JWS at all, or not application/jose.
    let (status, _) = call(
        &node,
        Request::post(format!("/v1/requests/{case}/conditions/acceptance"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(payload.to_string()))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // An unknown field in the payload.
    let (status, p) = call(
        &node,
        signed_acceptance(
            case,
            &authority_key(),
            json!({"request_id": "XA-1", "conditions_sha256": digest, "extra": 1}),
        ),
    )
    .await;
    assert_eq!(status.as_u16() / 100, 4, "{p}");
    let (status, answer) = call(&node, signed_acceptance(case, &authority_key(), payload)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["state"], "accepted");
    let (_, reply) = call(&node, get(&authority_key())).await;
    assert_eq!(reply["conditions"]["state"], "accepted");
    assert!(reply["conditions"]["answered_at"].is_string());
}
