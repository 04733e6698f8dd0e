//! Evidence sealed per target (issue 13, execute in part): a package names the targets it
//! covers, each produced by the decision in force; the `evidence.sealed` event records them in
//! its private body (never its public leaf), the requester's reply lists them, and the replay
//! finds a package sealed for a target that was not produced.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use custos_jose::{PrivateJwk, sign_compact};
use custos_model::TargetValue;
use custos_service::Node;
use custos_service::ops::{DecisionKind, NarrowedTerms};
use serde_json::{Value, json};

use crate::fixture::*;

const KEPT: &str = "decryptor-support@mail.example";
const DROPPED: &str = "bystander@mail.example";

/// A case of `p01` with a second target, and terms that keep everything it asks.
async fn two_targets(f: &Fixture, id: &str) -> (i64, NarrowedTerms) {
    let sub = f.submission_with("p01-ransomware-production", id, t0(), |r| {
        r["targets"]
            .as_array_mut()
            .unwrap()
            .push(json!({"kind": "email", "value": DROPPED}));
    });
    let current = f.logged_authority(&f.authority.kid).await;
    let case = case_id(&f.submit_as(sub, current).await.unwrap());
    let r = custos_model::parse_request(f.case(case).await.request_json.as_bytes()).unwrap();
    let terms = NarrowedTerms {
        data_categories: r.data_categories,
        period: r.period,
        confidentiality_until: None,
        targets: None,
        target_reasons: Default::default(),
    };
    (case, terms)
}

/// A case executed in part: only [`KEPT`] is produced.
async fn executed_in_part(f: &Fixture, id: &str) -> i64 {
    let (case, mut terms) = two_targets(f, id).await;
    terms.targets = Some(vec![TargetValue::try_from(KEPT.to_owned()).unwrap()]);
    f.decide(case, &rita(), narrowed_decision(terms), t0())
        .await
        .unwrap();
    case
}

/// The files in the node's evidence directory (temporary ones included).
fn evidence_files(f: &Fixture) -> Vec<String> {
    std::fs::read_dir(f.dir.join("evidence"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The `targets` of the `evidence.sealed` events of `case`, in order.
async fn sealed_targets(f: &Fixture, case: i64) -> Vec<Value> {
    f.store
        .case_events(case)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.event_type == "evidence.sealed")
        .map(|e| body(e)["targets"].clone())
        .collect()
}

pub(crate) async fn get(node: &Arc<Node>, path: &str, auth: &str) -> (StatusCode, Value) {
    use tower_service::Service as _;
    let mut app = custos_service::http::router(node.clone());
    let req = Request::get(path)
        .header(header::AUTHORIZATION, auth)
        .body(Body::empty())
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

pub(crate) fn proof(key: &PrivateJwk, path: &str) -> String {
    let claims = json!({"htm": "GET", "htu": path, "iat": jiff::Timestamp::now().as_second()});
    format!(
        "Custos-JWS {}",
        sign_compact(&serde_json::to_vec(&claims).unwrap(), key, None)
    )
}

#[tokio::test]
async fn executed_in_part_a_package_is_sealed_only_for_targets_produced_and_nothing_else_is_stored()
{
    let f = Fixture::new().await;
    let case = executed_in_part(&f, "XA-1").await;
    let size = f.log_size().await;
    // Naming no target: the package would pass for all of them.
    let p = refused(
        f.seal(case, &"ab".repeat(32), t0()).await,
        422,
        "targets-required",
    );
    assert_eq!(p.errors[0].pointer, "targets", "{}", p.detail);
    assert!(
        p.detail.contains(KEPT),
        "lists what may be produced: {}",
        p.detail
    );
    // A target the decision did not produce, alone or beside one it did, or one named twice.
    for (named, pointer) in [
        (&[DROPPED][..], "targets[0]"),
        (&[KEPT, DROPPED][..], "targets[1]"),
        (&[KEPT, KEPT][..], "targets[1]"),
    ] {
        let p = refused(
            f.seal_for(case, &"ab".repeat(32), named, t0()).await,
            422,
            "target-not-produced",
        );
        assert_eq!(p.errors[0].pointer, pointer, "{}", p.detail);
        assert!(p.detail.contains(KEPT), "{}", p.detail);
        assert!(
            !p.detail.contains(DROPPED),
            "never echoes the wrong one: {}",
            p.detail
        );
    }
    // Nothing stored: no event, no row, no file (not even a temporary one).
    assert_eq!(f.log_size().await, size);
    assert!(f.store.evidence_for_case(case).await.unwrap().is_empty());
    assert_eq!(evidence_files(&f), Vec::<String>::new());
    assert!(f.findings().await.is_empty(), "{:#?}", f.findings().await);

    // The produced target: recorded in the event's private body, never in a public leaf.
    let sha = "cd".repeat(32);
    f.seal_for(case, &sha, &[KEPT], t0()).await.unwrap();
    assert_eq!(sealed_targets(&f, case).await, [json!([KEPT])]);
    assert_eq!(evidence_files(&f), [format!("{sha}.age")]);
    for e in f.events().await {
        let leaf = String::from_utf8_lossy(&e.leaf).to_string();
        assert!(!leaf.contains(KEPT) && !leaf.contains(DROPPED), "{leaf}");
    }
    assert!(f.findings().await.is_empty(), "{:#?}", f.findings().await);

    // The requester's reply lists what each package covers; so does the package list.
    let node = f.node().await.unwrap();
    let path = format!("/v1/requests/{case}");
    let (status, reply) = get(&node, &path, &proof(&authority_key(), &path)).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["evidence"][0]["package_blake3"], sha);
    assert_eq!(reply["evidence"][0]["targets"], json!([KEPT]));
    let path = format!("/v1/requests/{case}/evidence");
    let (status, list) = get(&node, &path, &proof(&authority_key(), &path)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["packages"][0]["targets"], json!([KEPT]));
}

#[tokio::test]
async fn executed_in_full_a_package_naming_no_target_covers_every_target() {
    let f = Fixture::new().await;
    let (case, terms) = two_targets(&f, "XA-1").await;
    // Narrowed in categories or period only: every target is still produced.
    f.decide(case, &rita(), narrowed_decision(terms), t0())
        .await
        .unwrap();
    f.seal(case, &"ab".repeat(32), t0()).await.unwrap();
    let request = custos_model::parse_request(f.case(case).await.request_json.as_bytes()).unwrap();
    let all: Vec<&str> = request.targets.iter().map(|t| t.value.as_str()).collect();
    assert_eq!(all.len(), 2);
    assert_eq!(sealed_targets(&f, case).await, [json!(all)]);
    // Naming some is allowed, and only what was asked.
    f.seal_for(case, &"cd".repeat(32), &[DROPPED], t0())
        .await
        .unwrap();
    refused(
        f.seal_for(case, &"ef".repeat(32), &["never-asked@mail.example"], t0())
            .await,
        422,
        "target-not-produced",
    );
    // A plain `execute` too.
    let executed = f
        .decided("p02-preservation-24-7", "XA-2", DecisionKind::Execute, t0())
        .await;
    f.seal(executed, &"01".repeat(32), t0()).await.unwrap();
    let request =
        custos_model::parse_request(f.case(executed).await.request_json.as_bytes()).unwrap();
    let all: Vec<&str> = request.targets.iter().map(|t| t.value.as_str()).collect();
    assert_eq!(sealed_targets(&f, executed).await, [json!(all)]);
    assert!(f.findings().await.is_empty(), "{:#?}", f.findings().await);
}

#[tokio::test]
async fn the_replay_finds_a_package_sealed_for_a_target_not_produced_without_naming_it() {
    let f = Fixture::new().await;
    let case = executed_in_part(&f, "XA-1").await;
    // A node that skipped the check, and one that named no targets at all.
    for (sha, targets) in [("ab", json!([KEPT, DROPPED])), ("cd", Value::Null)] {
        let sha = sha.repeat(32);
        f.try_batch(move |b, out| {
            Box::pin(async move {
                let mut body = json!({"package_blake3": sha, "manifest_sha256": "ee".repeat(32),
                    "size": 0, "recipient": "age1recipient", "signer": "node"});
                if !targets.is_null() {
                    body["targets"] = targets;
                }
                let e = b
                    .append(&custos_store::NewEvent {
                        event_type: custos_model::EventType::EvidenceSealed,
                        at: t0(),
                        case_id: Some(case),
                        body,
                    })
                    .await?;
                out.push(e);
                Ok(())
            })
        })
        .await
        .unwrap();
    }
    let findings = f.findings().await;
    assert!(
        findings
            .iter()
            .any(|x| x.contains("target 2 is not among the 1 the decision in force produces")),
        "{findings:#?}"
    );
    assert!(
        findings.iter().any(|x| x.contains("names no targets")),
        "{findings:#?}"
    );
    for x in &findings {
        assert!(!x.contains(DROPPED) && !x.contains(KEPT), "{x}");
    }
}
