//! Execute in part, per target: `execute_narrowed` with `narrowed.targets` (a non-empty subset
//! of the request's targets) and optional `target_reasons`; never a widening, and the
//! identifiers never in problems' words, public leaves or debug output.

use custos_model::TargetValue;
use custos_service::ops::{DecisionInput, NarrowedTerms};
use serde_json::json;

use crate::fixture::*;

const KEPT: &str = "decryptor-support@mail.example";
const DROPPED: &str = "bystander@mail.example";
const STRANGER: &str = "never-asked@mail.example";

fn value(s: &str) -> TargetValue {
    TargetValue::try_from(s.to_owned()).unwrap()
}

/// A case of `p01` with a second target.
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

#[tokio::test]
async fn executing_in_part_keeps_the_targets_chosen_and_tells_the_requester() {
    let f = Fixture::new().await;
    let (case, mut terms) = two_targets(&f, "XA-1").await;
    terms.targets = Some(vec![value(KEPT)]);
    terms.target_reasons = [
        (value(KEPT), "Linked to the ransom payments.".to_owned()),
        (
            value(DROPPED),
            "No link to the offence is shown for this account.".to_owned(),
        ),
    ]
    .into();
    let c = f
        .decide(case, &rita(), narrowed_decision(terms.clone()), t0())
        .await
        .unwrap();
    assert_eq!(recorded(&c).narrowed, Some(terms.clone()));
    // The requester's reply lists what is produced, with the reasons.
    let told = f.store.case_events(case).await.unwrap();
    let reply = told
        .iter()
        .find(|e| e.event_type == "reply.communicated")
        .unwrap();
    let handed = &body(reply)["communicated"]["handed_over"];
    assert_eq!(handed["targets"], json!([KEPT]));
    assert_eq!(
        handed["target_reasons"][DROPPED],
        "No link to the offence is shown for this account."
    );
    // Never in a public leaf, nor in debug output.
    for e in f.events().await {
        let leaf = String::from_utf8_lossy(&e.leaf).to_string();
        assert!(!leaf.contains(KEPT) && !leaf.contains(DROPPED), "{leaf}");
    }
    let debug = format!("{terms:?}");
    assert!(!debug.contains(KEPT) && !debug.contains(DROPPED), "{debug}");
    assert!(f.findings().await.is_empty(), "{:#?}", f.findings().await);
}

#[tokio::test]
async fn targets_that_widen_or_are_empty_are_refused_with_where_and_without_the_identifier() {
    let f = Fixture::new().await;
    let (case, terms) = two_targets(&f, "XA-1").await;
    let size = f.log_size().await;
    let cases: Vec<(NarrowedTerms, &str)> = vec![
        (
            NarrowedTerms {
                targets: Some(vec![]),
                ..terms.clone()
            },
            "$.narrowed.targets",
        ),
        (
            NarrowedTerms {
                targets: Some(vec![value(KEPT), value(STRANGER)]),
                ..terms.clone()
            },
            "$.narrowed.targets[1]",
        ),
        (
            NarrowedTerms {
                targets: Some(vec![value(KEPT), value(KEPT)]),
                ..terms.clone()
            },
            "$.narrowed.targets[1]",
        ),
        (
            NarrowedTerms {
                target_reasons: [(value(STRANGER), "Not ours.".to_owned())].into(),
                ..terms.clone()
            },
            "$.narrowed.target_reasons",
        ),
        (
            NarrowedTerms {
                target_reasons: [(value(KEPT), "  ".to_owned())].into(),
                ..terms.clone()
            },
            "$.narrowed.target_reasons",
        ),
    ];
    for (t, pointer) in cases {
        let p = refused(
            f.decide(case, &rita(), narrowed_decision(t), t0()).await,
            422,
            "invalid-decision",
        );
        assert_eq!(p.errors[0].pointer, pointer, "{}", p.detail);
        assert!(
            !p.detail.contains(STRANGER) && !p.detail.contains(KEPT),
            "{}",
            p.detail
        );
    }
    assert_eq!(f.log_size().await, size, "nothing logged");
    // Through the wire form too: an unknown field inside narrowed is refused by serde.
    assert!(
        serde_json::from_value::<DecisionInput>(json!({
            "decision": "execute_narrowed", "reason": "x",
            "narrowed": {"data_categories": ["subscriber"], "period": null,
                         "confidentiality_until": null, "target": [KEPT]}
        }))
        .is_err()
    );
    assert!(f.findings().await.is_empty());
}
