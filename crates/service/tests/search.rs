//! Search on the staff list (issue 16): `GET /v1/requests?q=…` finds a case by its request id,
//! an agency reference, a target's value or the authority's name, ignoring case, taking `%`
//! and `_` literally, combined with the other filters; an authority may not search.

use axum::http::StatusCode;
use custos_service::ops::DecisionKind;
use serde_json::{Value, json};

use crate::fixture::*;
use crate::reply::{get, proof};

/// The request ids of a list, in its order.
fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|c| c["request_id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn reviewers_find_cases_by_id_reference_target_and_authority() {
    let f = Fixture::new().await;
    let submit = |id: &'static str, reference: &'static str, target: &'static str| {
        let s = f.submission_with("p01-ransomware-production", id, t0(), |r| {
            r["investigation"]["reference"] = reference.into();
            r["targets"][0]["value"] = target.into();
            if id == "XA-SRCH-1" {
                r["requesting_authority"]["name"] = "Zeta Prosecution Office".into();
            }
        });
        async {
            let current = f.logged_authority(&f.authority.kid).await;
            case_id(&f.submit_as(s, current).await.unwrap())
        }
    };
    submit("XA-SRCH-1", "PPO/2026/100%", "alice@mail.example").await;
    submit("XA-SRCH-2", "PPO/2026/200", "bob@mail.example").await;
    let refused = submit("XA_SRCH-3", "PPO/2026/300", "carol@mail.example").await;
    f.decide(refused, &rita(), decision(DecisionKind::Refuse), t0())
        .await
        .unwrap();
    let (token, hash) = custos_service::auth::new_token("nora").unwrap();
    f.add_user(custos_store::User {
        token_hash: hash,
        ..user("nora", custos_store::Role::Reviewer)
    })
    .await
    .unwrap();
    let token = format!("Bearer {}", token.as_str());
    let node = f.node().await.unwrap();

    let list = |query: &str| {
        let (node, token, query) = (node.clone(), token.clone(), query.to_owned());
        async move {
            let (status, list) = get(&node, &format!("/v1/requests{query}"), &token).await;
            assert_eq!(status, StatusCode::OK, "{query}: {list}");
            list
        }
    };
    for (query, found) in [
        // The request id, whole or in part, in either case.
        ("?q=XA-SRCH-2", vec!["XA-SRCH-2"]),
        ("?q=srch-1", vec!["XA-SRCH-1"]),
        // A target's value.
        ("?q=bob%40mail.example", vec!["XA-SRCH-2"]),
        ("?q=CAROL", vec!["XA_SRCH-3"]),
        // The agency's reference.
        ("?q=PPO%2F2026%2F200", vec!["XA-SRCH-2"]),
        // The authority's name as the request gives it.
        ("?q=zeta+prosecution", vec!["XA-SRCH-1"]),
        // `%` and `_` are themselves, not wildcards; surrounding blanks are trimmed.
        ("?q=%25", vec!["XA-SRCH-1"]),
        ("?q=+_+", vec!["XA_SRCH-3"]),
        ("?q=nobody%40nowhere", vec![]),
        // Combined with the other filters.
        ("?q=srch&status=refused", vec!["XA_SRCH-3"]),
        ("?q=srch-2&status=refused", vec![]),
        ("?q=srch&limit=1&offset=1", vec!["XA-SRCH-2"]),
    ] {
        let l = list(query).await;
        let mut got = ids(&l);
        got.sort_unstable();
        assert_eq!(got, found, "{query}");
    }
    // The authority's name as the directory has it: every case of this authority.
    let name = form_urlencoded::byte_serialize(f.authority.name.as_bytes()).collect::<String>();
    assert_eq!(ids(&list(&format!("?q={name}")).await).len(), 3, "{name}");
    // Items carry the request id (and the case).
    let l = list("?q=XA-SRCH-2").await;
    assert_eq!(l[0]["request_id"], json!("XA-SRCH-2"));
    assert!(l[0]["case"].is_i64(), "{l}");

    // A blank q is refused, saying what to give.
    let (status, p) = get(&node, "/v1/requests?q=+", &token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{p}");
    assert!(
        p["type"].as_str().unwrap().ends_with("/invalid-parameter"),
        "{p}"
    );
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .starts_with("q=\" \" is not text to search for"),
        "{p}"
    );

    // An authority may not search, not even its own cases.
    let path = "/v1/requests?q=XA-SRCH-1";
    let (status, p) = get(&node, path, &proof(&authority_key(), "/v1/requests")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{p}");
    assert!(p["type"].as_str().unwrap().ends_with("/people-only"), "{p}");
    assert!(p["detail"].as_str().unwrap().contains("q"), "{p}");
    // Its replies carry the request id too.
    let (status, own) = get(
        &node,
        "/v1/requests",
        &proof(&authority_key(), "/v1/requests"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{own}");
    assert_eq!(ids(&own).len(), 3);
}

#[tokio::test]
async fn status_refused_lists_the_refused_cases() {
    let f = Fixture::new().await;
    let refused = f.submit("p01-ransomware-production", "XA-NO", t0()).await;
    f.submit("p01-ransomware-production", "XA-OPEN", t0()).await;
    f.decide(refused, &rita(), decision(DecisionKind::Refuse), t0())
        .await
        .unwrap();
    let node = f.node().await.unwrap();
    let q = custos_service::query::CaseQuery::parse("status=refused").unwrap();
    let cases = node.query().cases(&q, None).await.unwrap();
    let ids: Vec<&str> = cases.iter().map(|c| c.request_id.as_str()).collect();
    assert_eq!(ids, ["XA-NO"]);
}
