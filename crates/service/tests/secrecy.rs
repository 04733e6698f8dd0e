//! Secrecy that cannot be honoured in full (issue 13 §1): when the assessment limits the
//! confidentiality asked, the requester is told on arrival, before anything is executed
//! (`confidentiality.limited`, and its reply), and may withdraw.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use custos_jose::sign_compact;
use custos_store::CaseStatus;
use serde_json::{Value, json};

use crate::fixture::*;

async fn reply_of(f: &Fixture, case: i64) -> Value {
    use tower_service::Service as _;
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
    let mut app = custos_service::http::router(node);
    let req = Request::get(&path)
        .header(header::AUTHORIZATION, proof)
        .body(Body::empty())
        .unwrap();
    let resp = app.call(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn unbounded_secrecy_limited_by_the_profile_is_said_on_arrival_and_the_requester_may_withdraw()
 {
    let f = Fixture::new().await;
    let case = f.submit("p09-gag-unbounded", "XA-G", t0()).await;
    let events = f.case_events(case).await;
    assert_eq!(
        events,
        [
            "request.received",
            "request.assessed",
            "confidentiality.limited"
        ]
    );
    let limited = body(&f.events().await.pop().unwrap());
    assert_eq!(limited["asked_until"], Value::Null);
    let reply = reply_of(&f, case).await;
    assert_eq!(reply["status"], "under_review", "{reply}");
    assert_eq!(reply["secrecy_limited"]["asked_until"], Value::Null);
    assert_eq!(
        reply["secrecy_limited"]["limited_to"],
        limited["limited_to"]
    );
    f.withdraw(case, "XA-G", t0() + secs(1)).await.unwrap();
    assert_eq!(f.case(case).await.status, CaseStatus::Withdrawn);
    assert_eq!(f.findings().await, Vec::<String>::new());
}

#[tokio::test]
async fn secrecy_within_the_profiles_cap_is_not_said_to_be_limited() {
    let f = Fixture::new().await;
    let current = f.logged_authority(&f.authority.kid).await;
    let s = f.submission_with("p01-ransomware-production", "XA-S", t0(), |r| {
        r["confidentiality"] = json!({"requested": true, "until": (t0() + days(60)).to_string(),
            "justification": "Disclosure would alert the suspects before the arrests."});
    });
    let case = case_id(&f.submit_as(s, current).await.unwrap());
    assert!(
        !f.case_events(case)
            .await
            .iter()
            .any(|e| e == "confidentiality.limited")
    );
    let reply = reply_of(&f, case).await;
    assert!(reply.get("secrecy_limited").is_none(), "{reply}");
}
