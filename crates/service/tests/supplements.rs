//! A supplemented case and what the supplement changed (issue 16): each supplement diffed
//! against the document it replaced, field by field, served to staff only.

use axum::http::StatusCode;
use custos_model::diff::ChangeKind;
use custos_service::ops::DecisionKind;
use serde_json::json;

use crate::fixture::*;
use crate::reply::{get, proof};

/// XA's p17 as `XA-S`, asked for information, then supplemented at `t0() + 2 days` with a new
/// investigation reference and a second target. Returns the case.
async fn supplemented(f: &Fixture) -> i64 {
    let case = f.submit("p17-no-data-protection-terms", "XA-S", t0()).await;
    f.decide(
        case,
        &rita(),
        decision(DecisionKind::RequestInformation),
        t0(),
    )
    .await
    .unwrap();
    let s = f.submission_with("p17-no-data-protection-terms", "XA-S", t0(), |r| {
        r["investigation"]["reference"] = "XA/PPO/2026/1187-B".into();
        r["targets"]
            .as_array_mut()
            .unwrap()
            .push(json!({"kind": "email", "value": "second-target@mail.example"}));
    });
    let s = custos_service::ops::Submission {
        received_at: t0() + days(2),
        ..s
    };
    let current = f.logged_authority(&f.authority.kid).await;
    f.submit_as(s, current).await.unwrap();
    case
}

#[tokio::test]
async fn a_supplement_yields_the_fields_it_changed() {
    let f = Fixture::new().await;
    let case = supplemented(&f).await;
    let node = f.node().await.unwrap();
    let list = node.query().supplements(case).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].at, t0() + days(2), "the deadline restarted then");
    let changes: Vec<(&str, ChangeKind)> = list[0]
        .changes
        .iter()
        .map(|c| (c.path.as_str(), c.change))
        .collect();
    assert_eq!(
        changes,
        [
            ("/investigation/reference", ChangeKind::Changed),
            ("/targets/1", ChangeKind::Added),
        ]
    );
    assert_eq!(list[0].changes[0].old, Some(json!("XA/PPO/2026/1187")));
    assert_eq!(
        list[0].changes[1].new.as_ref().unwrap()["value"],
        "second-target@mail.example"
    );
    // A case never supplemented has none.
    let plain = f.submit("p01-ransomware-production", "XA-P", t0()).await;
    assert!(node.query().supplements(plain).await.unwrap().is_empty());
}

#[tokio::test]
async fn staff_read_the_changes_and_the_list_marks_the_case_the_requester_cannot() {
    let f = Fixture::new().await;
    let case = supplemented(&f).await;
    let (token, hash) = custos_service::auth::new_token("nora").unwrap();
    f.add_user(custos_store::User {
        token_hash: hash,
        ..user("nora", custos_store::Role::Auditor)
    })
    .await
    .unwrap();
    let nora = format!("Bearer {}", token.as_str());
    let node = f.node().await.unwrap();
    let path = format!("/v1/requests/{case}/supplements");
    let (status, body) = get(&node, &path, &nora).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[0]["at"], (t0() + days(2)).to_string());
    assert_eq!(body[0]["changes"][0]["path"], "/investigation/reference");
    assert_eq!(body[0]["changes"][0]["change"], "changed");
    assert_eq!(body[0]["changes"][1]["change"], "added");
    // The list says when a supplement restarted the clock, read for the page at once.
    let (status, list) = get(&node, "/v1/requests", &nora).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(
        list[0]["deadline"]["restarted_by_supplement_at"],
        (t0() + days(2)).to_string()
    );
    // The requester is a party: it sees its own reply, not the staff's diff.
    let (status, p) = get(&node, &path, &proof(&authority_key(), &path)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{p}");
    let (status, _) = get(&node, "/v1/requests/999/supplements", &nora).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
