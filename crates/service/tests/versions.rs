//! No lost updates: a case's `ETag` (the log index of its latest event) and `If-Match` on staff
//! changes. Over HTTP (the order of refusals, the 412's who and when, what an authority's
//! headers show) and at the writer, where the check is made in the same batch as the change.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use custos_jose::sign_compact;
use custos_service::Node;
use custos_service::ops::{self, DecisionKind};
use custos_service::writer::Job;
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::fixture::*;

const REASON: &str = "Executing now would alert the suspects of a domestic investigation.";

/// One call to the node's router: status, headers, body as JSON (`Null` if none).
pub(crate) async fn call(
    node: &Arc<Node>,
    method: &str,
    path: &str,
    auth: &str,
    if_match: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, HeaderMap, Value) {
    use tower_service::Service as _;
    let mut app = custos_service::http::router(node.clone());
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, auth);
    if let Some(tag) = if_match {
        req = req.header(header::IF_MATCH, tag);
    }
    let req = match body {
        Some(b) => req
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(serde_json::to_vec(&b).unwrap())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let resp = app.call(req).await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The `ETag` of an answer, checked to be a strong tag of `case`.
pub(crate) fn etag(headers: &HeaderMap, case: i64) -> String {
    let tag = headers
        .get(header::ETAG)
        .expect("an ETag header")
        .to_str()
        .unwrap()
        .to_owned();
    let prefix = format!("\"c{case}-v");
    assert!(
        tag.starts_with(&prefix)
            && tag.ends_with('"')
            && tag[prefix.len()..tag.len() - 1]
                .chars()
                .all(|c| c.is_ascii_digit()),
        "{tag}"
    );
    tag
}

fn execute() -> Value {
    serde_json::to_value(json!({
        "decision": "execute",
        "reason": "The reviewer weighed every finding of the assessment.",
    }))
    .unwrap()
}

#[tokio::test]
async fn a_stale_if_match_is_refused_first_with_who_and_when_and_nothing_is_logged() {
    let f = Fixture::new().await;
    let case = f.submit("p01-ransomware-production", "XA-V1", t0()).await;
    let other = f.submit("p01-ransomware-production", "XA-V2", t0()).await;
    let (token, hash) = custos_service::auth::new_token("nora").unwrap();
    f.add_user(custos_store::User {
        token_hash: hash,
        ..user("nora", custos_store::Role::Reviewer)
    })
    .await
    .unwrap();
    let nora = format!("Bearer {}", token.as_str());
    let node = f.node().await.unwrap();
    let path = format!("/v1/requests/{case}");
    let decision = format!("{path}/decision");

    let (status, headers, _) = call(&node, "GET", &path, &nora, None, None).await;
    assert_eq!(status, StatusCode::OK);
    let read = etag(&headers, case);

    // Nora postpones with the version she read: accepted, and answered with the new version.
    let until = Timestamp::now() + days(10);
    let postponement = json!({"reason": REASON, "until": until.to_string()});
    let (status, headers, body) = call(
        &node,
        "POST",
        &format!("{path}/postponement"),
        &nora,
        Some(&read),
        Some(postponement),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let current = etag(&headers, case);
    assert_ne!(current, read);
    let (_, headers, _) = call(&node, "GET", &path, &nora, None, None).await;
    assert_eq!(etag(&headers, case), current);

    // A decision on the version read before: 412, before the 409 (postponed), the 422 (a blank
    // reason) or the 400 (no decision) it would otherwise get, saying what changed the case,
    // when and who.
    let size = f.log_size().await;
    let postponed = f.store.case_events(case).await.unwrap().pop().unwrap();
    let blank = json!({"decision": "execute", "reason": " "});
    for body in [execute(), blank, json!({})] {
        let (status, _, p) = call(&node, "POST", &decision, &nora, Some(&read), Some(body)).await;
        assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{p}");
        assert_eq!(p["type"], "https://custos.dev/problems/stale-version");
        assert_eq!(p["status"], 412);
        assert_eq!(p["changed"]["event"], "request.postponed", "{p}");
        assert_eq!(p["changed"]["at"], postponed.at.to_string());
        assert_eq!(p["changed"]["log_index"], postponed.seq);
        assert_eq!(p["changed"]["by"], "nora");
        assert_eq!(p["changed"]["etag"], current.as_str());
        assert!(p["detail"].as_str().unwrap().contains("by nora"), "{p}");
    }
    assert_eq!(f.log_size().await, size, "a refused change logs nothing");
    // With the current version the check passes, and the case's own refusal follows.
    let (status, _, p) = call(
        &node,
        "POST",
        &decision,
        &nora,
        Some(&current),
        Some(execute()),
    )
    .await;
    assert_eq!(
        (status, p["type"].as_str()),
        (
            StatusCode::CONFLICT,
            Some("https://custos.dev/problems/already-decided")
        )
    );

    // The scheduler resumes it (a change by the node: no one named); decided on its version.
    Fixture::scheduler_pass(&node, until + secs(1))
        .await
        .unwrap();
    let (status, _, p) = call(
        &node,
        "POST",
        &decision,
        &nora,
        Some(&current),
        Some(execute()),
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{p}");
    assert_eq!(p["changed"]["event"], "request.resumed", "{p}");
    assert_eq!(p["changed"].get("by"), None, "{p}");
    let (_, headers, _) = call(&node, "GET", &path, &nora, None, None).await;
    let resumed = etag(&headers, case);
    let (status, headers, c) = call(
        &node,
        "POST",
        &decision,
        &nora,
        Some(&resumed),
        Some(execute()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(c["status"], "executing");
    assert_ne!(etag(&headers, case), resumed);
    assert!(
        f.case_events(case)
            .await
            .contains(&"decision.recorded".to_owned())
    );

    // Without If-Match a change is made as always.
    let (status, _, c) = call(
        &node,
        "POST",
        &format!("/v1/requests/{other}/decision"),
        &nora,
        None,
        Some(execute()),
    )
    .await;
    assert_eq!(
        (status, &c["status"]),
        (StatusCode::OK, &json!("executing"))
    );

    // The requesting authority reads the version too, and nobody's name in any header.
    let claims = json!({"htm": "GET", "htu": path, "iat": Timestamp::now().as_second()});
    let proof = format!(
        "Custos-JWS {}",
        sign_compact(
            &serde_json::to_vec(&claims).unwrap(),
            &authority_key(),
            None
        )
    );
    let (status, headers, reply) = call(&node, "GET", &path, &proof, None, None).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    etag(&headers, case);
    for (name, value) in &headers {
        assert!(
            !String::from_utf8_lossy(value.as_bytes()).contains("nora"),
            "{name}: {value:?}"
        );
    }
}

#[tokio::test]
async fn the_writer_checks_the_version_in_the_batch_that_makes_the_change() {
    let f = Fixture::new().await;
    let case = f.submit("p01-ransomware-production", "XA-W1", t0()).await;
    let fresh = f.submit("p01-ransomware-production", "XA-W2", t0()).await;
    let tag = |c: i64, seq: u64| ops::version::etag(c, seq);
    let read = tag(
        case,
        f.store.case_events(case).await.unwrap().pop().unwrap().seq,
    );
    let fresh_tag = tag(
        fresh,
        f.store.case_events(fresh).await.unwrap().pop().unwrap().seq,
    );
    let w = f.writer().await;
    // Queued together: one batch. Rita's decision comes first; the second, made on the version
    // read before it, passed any check a handler could make, and is refused in the batch.
    let first = w
        .queue_decide(case, &rita(), decision(DecisionKind::Execute))
        .await;
    let second = w
        .queue(|reply| Job::IfMatch {
            case_id: case,
            if_match: read.clone(),
            job: Box::new(Job::Decide {
                case_id: case,
                user: rex(),
                input: decision(DecisionKind::Refuse),
                reply,
            }),
        })
        .await;
    let on_current = w
        .queue(|reply| Job::IfMatch {
            case_id: fresh,
            if_match: fresh_tag.clone(),
            job: Box::new(Job::Decide {
                case_id: fresh,
                user: rex(),
                input: decision(DecisionKind::Execute),
                reply,
            }),
        })
        .await;
    assert_eq!(first.answer().await.unwrap().status.as_str(), "executing");
    let p = refused(second.answer().await, 412, "stale-version");
    let changed = p.changed.expect("who and when");
    // The latest event is the reply told; the person is named by the decision of that change.
    let latest = f.store.case_events(case).await.unwrap().pop().unwrap();
    assert_eq!(
        (changed.event.as_str(), changed.at, changed.log_index),
        (latest.event_type.as_str(), latest.at, latest.seq)
    );
    assert_eq!(changed.by.as_deref(), Some("rita"));
    assert_eq!(recorded(&f.case(case).await).reviewer, "rita");
    assert_eq!(
        f.case_events(case)
            .await
            .iter()
            .filter(|e| e.as_str() == "decision.recorded")
            .count(),
        1,
        "the stale decision logged nothing"
    );
    assert_eq!(
        on_current.answer().await.unwrap().status.as_str(),
        "executing"
    );
}
