//! The order that must follow an emergency (issue 13, §2): due when an emergency that waived
//! prior authorization is executed, received signed, missed at the due time (once, by the
//! tick), and a reviewer's request to delete what was handed over after a miss. The clock is
//! the fixture's; nothing sleeps.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use custos_jose::{PrivateJwk, sign_compact};
use custos_ledger::Hash;
use custos_service::Node;
use custos_service::ops::{self, DecisionKind, DeletionRequestInput, Order, OrderStatus};
use custos_store::Authority;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::fixture::*;

fn hours(n: i64) -> SignedDuration {
    SignedDuration::from_hours(n)
}

/// XA's emergency (p07: subscriber information, no prior authorization, justified), confirmed
/// and executed at `t0() + 1 h`. Returns the case.
async fn executed_emergency(f: &Fixture) -> i64 {
    let case = f.submit("p07-emergency-kidnapping", "XA-1", t0()).await;
    f.confirm_emergency(case, t0()).await.unwrap();
    f.decide(
        case,
        &rita(),
        decision(DecisionKind::Execute),
        t0() + hours(1),
    )
    .await
    .unwrap();
    case
}

fn order_by(
    key: &PrivateJwk,
    authority: &Authority,
    request_id: &str,
    authorization: Value,
) -> Order {
    let payload =
        serde_json::to_vec(&json!({ "request_id": request_id, "authorization": authorization }))
            .unwrap();
    Order {
        authority: authority.clone(),
        jws: sign_compact(&payload, key, None),
        payload_sha256: Hash(sha2::Sha256::digest(&payload).into()),
        input: serde_json::from_slice(&payload).unwrap(),
    }
}

pub(crate) fn judicial() -> Value {
    json!({ "kind": "judicial", "reference": "XA-COURT-2026-117", "issued_by": "District Court of XA" })
}

pub(crate) async fn send(
    f: &Fixture,
    case_id: i64,
    authorization: Value,
    at: Timestamp,
) -> Result<ops::Case, custos_service::problem::Problem> {
    let request_id = f.case(case_id).await.request_id;
    let order = order_by(&authority_key(), &f.authority, &request_id, authorization);
    let current = f.logged_authority(&f.authority.kid).await.unwrap();
    f.try_batch(move |b, out| {
        Box::pin(async move { ops::order::receive(b, out, case_id, &order, &current, at).await })
    })
    .await
}

pub(crate) async fn ask_deletion(
    f: &Fixture,
    case_id: i64,
    who: &custos_store::User,
    message: &str,
    at: Timestamp,
) -> Result<ops::Case, custos_service::problem::Problem> {
    let (who, input) = (
        who.clone(),
        DeletionRequestInput {
            message: message.into(),
        },
    );
    f.try_batch(move |b, out| {
        Box::pin(
            async move { ops::order::request_deletion(b, out, case_id, &who, &input, at).await },
        )
    })
    .await
}

async fn order(f: &Fixture, case_id: i64) -> Option<OrderStatus> {
    ops::order::fold(&f.store.case_events(case_id).await.unwrap()).unwrap()
}

fn count(events: &[String], kind: &str) -> usize {
    events.iter().filter(|e| *e == kind).count()
}

#[tokio::test]
async fn an_order_falls_due_when_a_waived_emergency_is_executed_and_not_otherwise() {
    let f = Fixture::new().await;
    let case = executed_emergency(&f).await;
    let s = order(&f, case).await.expect("an order is due");
    // From the recording of the execution, 48 hours by default.
    assert_eq!(s.due_at, t0() + hours(49));
    assert_eq!(s.required, ["judicial", "prosecutorial"]);
    assert_eq!(s.received_at, None);
    assert!(!s.is_missed());
    // Not for an ordinary request, nor before execution, nor for a refusal.
    let plain = f
        .decided(
            "p01-ransomware-production",
            "XA-2",
            DecisionKind::Execute,
            t0(),
        )
        .await;
    assert_eq!(order(&f, plain).await, None);
    let refused_case = f.submit("p07-emergency-kidnapping", "XA-3", t0()).await;
    assert_eq!(order(&f, refused_case).await, None);
    f.decide(refused_case, &rita(), decision(DecisionKind::Refuse), t0())
        .await
        .unwrap();
    assert_eq!(order(&f, refused_case).await, None);
    refused(
        send(&f, plain, judicial(), t0()).await.map(|_| ()),
        409,
        "no-order-due",
    );
    assert_eq!(f.findings().await, Vec::<String>::new());
}

#[tokio::test]
async fn the_due_time_is_the_nodes_setting() {
    let f = Fixture::with(|c| c.lifecycle.order_due_hours = 24).await;
    let case = executed_emergency(&f).await;
    assert_eq!(order(&f, case).await.unwrap().due_at, t0() + hours(25));
}

#[tokio::test]
async fn an_order_received_in_time_is_never_missed() {
    let f = Fixture::new().await;
    let case = executed_emergency(&f).await;
    send(&f, case, judicial(), t0() + hours(2)).await.unwrap();
    let s = order(&f, case).await.unwrap();
    assert_eq!(s.received_at, Some(t0() + hours(2)));
    assert_eq!(s.kind.as_deref(), Some("judicial"));
    assert_eq!(s.reference.as_deref(), Some("XA-COURT-2026-117"));
    f.tick(t0() + hours(100)).await;
    let events = f.case_events(case).await;
    assert_eq!(count(&events, "order.received"), 1);
    assert_eq!(count(&events, "order.missed"), 0);
    // Once.
    refused(
        send(&f, case, judicial(), t0() + hours(3))
            .await
            .map(|_| ()),
        409,
        "order-already-received",
    );
    // No deletion to ask.
    refused(
        ask_deletion(&f, case, &rita(), "Delete it.", t0() + hours(100)).await,
        409,
        "order-not-missed",
    );
    assert_eq!(f.findings().await, Vec::<String>::new());
}

#[tokio::test]
async fn past_the_due_time_the_tick_logs_one_missed_event_and_flags_the_case() {
    let f = Fixture::new().await;
    let case = executed_emergency(&f).await;
    let due = t0() + hours(49);
    f.tick(due - secs(1)).await;
    assert_eq!(count(&f.case_events(case).await, "order.missed"), 0);
    f.tick(due).await;
    f.tick(due + secs(1)).await;
    f.tick(due + hours(10)).await;
    assert_eq!(count(&f.case_events(case).await, "order.missed"), 1);
    let s = order(&f, case).await.unwrap();
    assert_eq!(s.missed_at, Some(due));
    assert!(s.is_missed());
    // A late order is still taken, and marked late; it ends the flag.
    send(&f, case, judicial(), due + hours(11)).await.unwrap();
    let late = f
        .events()
        .await
        .into_iter()
        .rfind(|e| e.event_type == "order.received")
        .unwrap();
    assert_eq!(body(&late)["late"], true);
    assert!(!order(&f, case).await.unwrap().is_missed());
    assert_eq!(f.findings().await, Vec::<String>::new());
}

#[tokio::test]
async fn deletion_is_asked_only_after_a_missed_order_by_a_reviewer_once() {
    let f = Fixture::new().await;
    let case = executed_emergency(&f).await;
    let due = t0() + hours(49);
    let before = f.log_size().await;
    refused(
        ask_deletion(&f, case, &rita(), "Delete it.", due - secs(1)).await,
        409,
        "order-not-missed",
    );
    // Due, but not yet recorded missed by the tick.
    refused(
        ask_deletion(&f, case, &rita(), "Delete it.", due + secs(1)).await,
        409,
        "order-not-missed",
    );
    assert_eq!(f.log_size().await, before, "a refusal logs nothing");
    f.tick(due).await;
    refused(
        ask_deletion(&f, case, &aud(), "Delete it.", due).await,
        403,
        "read-only",
    );
    let p = refused(
        ask_deletion(&f, case, &rita(), "  ", due).await,
        422,
        "invalid-deletion-request",
    );
    assert_eq!(p.errors[0].pointer, "$.message");
    let message = "No order followed the emergency; delete the subscriber records handed over.";
    ask_deletion(&f, case, &rita(), message, due + hours(1))
        .await
        .unwrap();
    let s = order(&f, case).await.unwrap();
    let d = s.deletion_requested.unwrap();
    assert_eq!((d.at, d.message.as_str()), (due + hours(1), message));
    refused(
        ask_deletion(&f, case, &sue(), message, due + hours(2)).await,
        409,
        "deletion-already-requested",
    );
    assert_eq!(f.findings().await, Vec::<String>::new());
}

#[tokio::test]
async fn an_order_of_the_wrong_kind_or_without_reference_is_refused_with_its_pointer() {
    let f = Fixture::new().await;
    let case = executed_emergency(&f).await;
    let before = f.log_size().await;
    for kind in ["administrative", "none", "independent", "judge"] {
        let p = refused(
            send(
                &f,
                case,
                json!({ "kind": kind, "reference": "R-1" }),
                t0() + hours(2),
            )
            .await,
            422,
            "wrong-order",
        );
        assert_eq!(p.errors[0].pointer, "$.authorization.kind");
        assert!(
            p.detail.contains("judicial or prosecutorial"),
            "{}",
            p.detail
        );
    }
    let p = refused(
        send(&f, case, json!({ "kind": "judicial" }), t0() + hours(2)).await,
        422,
        "invalid-order",
    );
    assert_eq!(p.errors[0].pointer, "$.authorization.reference");
    // Another request's id.
    let order = order_by(&authority_key(), &f.authority, "XA-9", judicial());
    let current = f.logged_authority(&f.authority.kid).await.unwrap();
    let p = refused(
        f.try_batch(move |b, out| {
            Box::pin(async move { ops::order::receive(b, out, case, &order, &current, t0()).await })
        })
        .await,
        422,
        "invalid-order",
    );
    assert_eq!(p.errors[0].pointer, "$.request_id");
    assert_eq!(f.log_size().await, before, "a refusal logs nothing");
    // A prosecutor's order satisfies subscriber information.
    send(
        &f,
        case,
        json!({ "kind": "prosecutorial", "reference": "PPO-77" }),
        t0() + hours(2),
    )
    .await
    .unwrap();
    assert_eq!(f.findings().await, Vec::<String>::new());
}

#[tokio::test]
async fn stored_traffic_data_needs_a_judges_order() {
    let f = Fixture::new().await;
    let s = f.submission_with("p07-emergency-kidnapping", "XA-1", t0(), |r| {
        r["measure"] = "produce_stored_data".into();
        r["data_categories"] = json!(["subscriber", "traffic"]);
    });
    let current = f.logged_authority(&f.authority.kid).await;
    let case = case_id(&f.submit_as(s, current).await.unwrap());
    let c = f.case(case).await;
    assert!(ops::order::waived(&c), "{:?}", assessment(&c).findings);
    f.confirm_emergency(case, t0()).await.unwrap();
    let kind = if outcome(&c) == "execute" {
        DecisionKind::Execute
    } else {
        DecisionKind::ExecuteNarrowed
    };
    f.decide(case, &rita(), decision(kind), t0()).await.unwrap();
    assert_eq!(order(&f, case).await.unwrap().required, ["judicial"]);
    let p = refused(
        send(
            &f,
            case,
            json!({ "kind": "prosecutorial", "reference": "PPO-1" }),
            t0(),
        )
        .await,
        422,
        "wrong-order",
    );
    assert_eq!(p.errors[0].pointer, "$.authorization.kind");
}

#[tokio::test]
async fn the_replay_finds_order_events_out_of_their_rules() {
    let f = Fixture::new().await;
    let plain = f
        .decided(
            "p01-ransomware-production",
            "XA-2",
            DecisionKind::Execute,
            t0(),
        )
        .await;
    let case = executed_emergency(&f).await;
    // Someone with the database but not the rules: a miss before the due time, a miss for a
    // case that owed nothing, a deletion asked with no miss.
    f.unsigned_batch(move |b, _| {
        Box::pin(async move {
            for (kind, case_id, at) in [
                (custos_model::EventType::OrderMissed, case, t0() + hours(2)),
                (custos_model::EventType::OrderMissed, plain, t0() + hours(2)),
                (
                    custos_model::EventType::DeletionRequested,
                    plain,
                    t0() + hours(2),
                ),
            ] {
                b.append(&custos_store::NewEvent {
                    event_type: kind,
                    at,
                    case_id: Some(case_id),
                    body: json!({ "due_at": t0().to_string(), "by": "rita", "message": "x" }),
                })
                .await?;
            }
            Ok(())
        })
    })
    .await;
    let findings = f.findings().await.join("\n");
    assert!(
        findings.contains("as missed before it was due"),
        "{findings}"
    );
    assert!(
        findings.contains("records a missed order for case 1, which owed none"),
        "{findings}"
    );
    assert!(
        findings.contains("asks deletion for case 1, which owed no order"),
        "{findings}"
    );
}

#[tokio::test]
async fn the_replay_finds_a_waived_execution_without_its_order_due() {
    let f = Fixture::new().await;
    let case = executed_emergency(&f).await;
    assert_eq!(f.findings().await, Vec::<String>::new());
    // The same log without the order.due: as if the execution had skipped the clock.
    let events: Vec<_> = f
        .events()
        .await
        .into_iter()
        .filter(|e| e.event_type != "order.due")
        .collect();
    let p = custos_service::replay::Projections::replay(
        &events,
        custos_service::replay::Signatures::Verify,
    );
    let findings: Vec<String> = p.findings.iter().map(ToString::to_string).collect();
    assert!(
        findings
            .iter()
            .any(|x| x.starts_with("order:") && x.contains(&format!("case {case}"))),
        "{findings:?}"
    );
}

// Over HTTP, in process: the router of a node opened on the fixture's directory.

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

#[tokio::test]
async fn the_order_route_takes_a_signed_order_and_answers_with_the_reply() {
    let f = Fixture::new().await;
    let case = executed_emergency(&f).await;
    let node = f.node().await.unwrap();
    let post = |body: String| {
        Request::post(format!("/v1/requests/{case}/order"))
            .header(header::CONTENT_TYPE, "application/jose")
            .body(Body::from(body))
            .unwrap()
    };
    // Signed by another key: not in the directory.
    let payload =
        serde_json::to_vec(&json!({ "request_id": "XA-1", "authorization": judicial() })).unwrap();
    let forged = sign_compact(&payload, &other_authority_key(), None);
    let (status, _) = call(&node, post(forged)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // An unknown field is refused before anything is recorded.
    let odd = sign_compact(
        &serde_json::to_vec(&json!({ "request_id": "XA-1", "authorization": judicial(), "x": 1 }))
            .unwrap(),
        &authority_key(),
        None,
    );
    let (status, _) = call(&node, post(odd)).await;
    assert!(status.is_client_error(), "{status}");
    let wrong = sign_compact(
        &serde_json::to_vec(
            &json!({ "request_id": "XA-1", "authorization": { "kind": "administrative", "reference": "A-1" } }),
        )
        .unwrap(),
        &authority_key(),
        None,
    );
    let (status, problem) = call(&node, post(wrong)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "$.authorization.kind");
    let (status, reply) = call(&node, post(sign_compact(&payload, &authority_key(), None))).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["format"], "custos.reply/v1");
    assert_eq!(reply["order"]["kind"], "judicial");
    assert_eq!(reply["order"]["due_at"], (t0() + hours(49)).to_string());
    assert!(reply["order"]["received_at"].is_string(), "{reply}");
    assert!(reply["order"].get("deletion_requested").is_none());
}
