//! `execute_narrowed` as the desk sends it (issue 16): in `narrowed` every field is optional
//! and an omitted field keeps what was asked; `confidentiality_until: null` lifts secrecy; the
//! recorded decision says what was decided (categories, period, secrecy end, targets kept).

use custos_model::{DataCategories, DataCategory, Period, TargetValue};
use custos_service::ops::{self, DecisionInput};
use serde_json::{Value, json};

use crate::fixture::*;

const REASON: &str = "Only what the investigation needs is handed over.";

fn narrowed(terms: Value) -> DecisionInput {
    serde_json::from_value(json!({
        "decision": "execute_narrowed", "reason": REASON, "narrowed": terms,
    }))
    .expect("a valid decision body")
}

fn asked(f_request: &str) -> custos_model::Request {
    custos_model::parse_request(f_request.as_bytes()).unwrap()
}

#[tokio::test]
async fn omitted_categories_and_period_keep_what_was_asked() {
    let f = Fixture::new().await;
    // Only the categories: the period asked is kept.
    let case = f.submit("p13-subscriber-plus-traffic", "XA-1", t0()).await;
    let r = asked(&f.case(case).await.request_json);
    let c = f
        .decide(
            case,
            &rita(),
            narrowed(json!({"data_categories": ["subscriber"]})),
            t0(),
        )
        .await
        .unwrap();
    let n = recorded(&c).narrowed.unwrap();
    assert_eq!(
        n.data_categories,
        DataCategories::of(&[DataCategory::Subscriber])
    );
    assert_eq!(n.period, r.period);
    assert_eq!((n.confidentiality_until, n.targets), (None, None));

    // Only the period: the categories asked are kept.
    let case = f.submit("p13-subscriber-plus-traffic", "XA-2", t0()).await;
    let p0 = r.period.unwrap();
    let shorter = Period {
        from: p0.from + days(10),
        to: p0.to,
    };
    let c = f
        .decide(
            case,
            &rita(),
            narrowed(json!({"period": {"from": shorter.from, "to": shorter.to}})),
            t0(),
        )
        .await
        .unwrap();
    let n = recorded(&c).narrowed.unwrap();
    assert_eq!(n.data_categories, r.data_categories);
    assert_eq!(n.period, Some(shorter));

    // Nothing at all (and a null period): everything as asked.
    for (id, terms) in [("XA-3", json!({})), ("XA-4", json!({"period": null}))] {
        let case = f.submit("p13-subscriber-plus-traffic", id, t0()).await;
        let c = f
            .decide(case, &rita(), narrowed(terms), t0())
            .await
            .unwrap();
        let n = recorded(&c).narrowed.unwrap();
        assert_eq!((n.data_categories, n.period), (r.data_categories, r.period));
    }
    // An explicit empty list is still refused (it hands nothing over), as the body is read.
    let empty = serde_json::from_value::<DecisionInput>(json!({
        "decision": "execute_narrowed", "reason": REASON, "narrowed": {"data_categories": []},
    }));
    assert!(empty.is_err(), "{empty:?}");
    assert!(f.findings().await.is_empty(), "{:#?}", f.findings().await);
}

#[tokio::test]
async fn an_omitted_secrecy_end_keeps_the_one_asked_as_the_profile_limits_it() {
    let f = Fixture::new().await;
    // Open-ended secrecy asked: the recorded end is the assessment's cap, not "none".
    let case = f.submit("p09-gag-unbounded", "XA-1", t0()).await;
    let cap = assessment(&f.case(case).await)
        .narrowed
        .and_then(|n| n.confidentiality_until)
        .expect("the profile caps open-ended secrecy");
    let c = f
        .decide(case, &rita(), narrowed(json!({})), t0())
        .await
        .unwrap();
    assert_eq!(
        recorded(&c).narrowed.unwrap().confidentiality_until,
        Some(cap)
    );
    assert_eq!(f.notice(case).await.unwrap().due_at, cap);

    // An end asked before the cap: kept as asked.
    let until = t0() + days(30);
    let s = f.submission_with("p09-gag-unbounded", "XA-2", t0(), |r| {
        r["confidentiality"]["until"] = until.to_string().into();
    });
    let case = case_id(&f.submit_as(s, Some(f.authority.clone())).await.unwrap());
    let c = f
        .decide(case, &rita(), narrowed(json!({})), t0())
        .await
        .unwrap();
    assert_eq!(
        recorded(&c).narrowed.unwrap().confidentiality_until,
        Some(until)
    );

    // A date given is taken as given (and still never later than asked).
    let s = f.submission_with("p09-gag-unbounded", "XA-3", t0(), |r| {
        r["confidentiality"]["until"] = until.to_string().into();
    });
    let case = case_id(&f.submit_as(s, Some(f.authority.clone())).await.unwrap());
    let p = refused(
        f.decide(
            case,
            &rita(),
            narrowed(json!({"confidentiality_until": until + secs(1)})),
            t0(),
        )
        .await,
        422,
        "invalid-decision",
    );
    assert_eq!(p.errors[0].pointer, "$.narrowed.confidentiality_until");
    let c = f
        .decide(
            case,
            &rita(),
            narrowed(json!({"confidentiality_until": until - days(10)})),
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(
        recorded(&c).narrowed.unwrap().confidentiality_until,
        Some(until - days(10))
    );
    assert!(f.findings().await.is_empty(), "{:#?}", f.findings().await);
}

#[tokio::test]
async fn a_null_secrecy_end_lifts_secrecy_and_the_notice_falls_due_at_once() {
    let f = Fixture::new().await;
    let case = f.submit("p09-gag-unbounded", "XA-1", t0()).await;
    let before = f.case(case).await;
    // Before the decision: secrecy holds the notice back, no warning.
    assert!(!ops::notifies_at_once(before.notify_person_at, None, t0()));
    let at = t0() + secs(60);
    let c = f
        .decide(
            case,
            &rita(),
            narrowed(json!({"confidentiality_until": null})),
            at,
        )
        .await
        .unwrap();
    let n = recorded(&c).narrowed.unwrap();
    assert_eq!(
        n.confidentiality_until,
        Some(at),
        "secrecy ends when decided"
    );
    assert_eq!(f.notice(case).await.unwrap().due_at, at);
    assert!(ops::notifies_at_once(
        c.notify_person_at,
        n.confidentiality_until,
        at
    ));
    // Where no secrecy was asked, null asks nothing and imposes nothing.
    let case = f.submit("p13-subscriber-plus-traffic", "XA-2", t0()).await;
    let c = f
        .decide(
            case,
            &rita(),
            narrowed(json!({"confidentiality_until": null})),
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(recorded(&c).narrowed.unwrap().confidentiality_until, None);
    // No secrecy asked: executing tells the person at once.
    assert!(ops::notifies_at_once(c.notify_person_at, None, t0()));
    assert!(f.findings().await.is_empty(), "{:#?}", f.findings().await);
}

#[tokio::test]
async fn the_recorded_decision_lists_only_the_targets_kept() {
    let f = Fixture::new().await;
    const KEPT: &str = "decryptor-support@mail.example";
    const DROPPED: &str = "bystander@mail.example";
    let sub = f.submission_with("p01-ransomware-production", "XA-1", t0(), |r| {
        r["targets"]
            .as_array_mut()
            .unwrap()
            .push(json!({"kind": "email", "value": DROPPED}));
    });
    let case = case_id(&f.submit_as(sub, Some(f.authority.clone())).await.unwrap());
    let r = asked(&f.case(case).await.request_json);
    // Only the targets: categories and period as asked.
    let c = f
        .decide(case, &rita(), narrowed(json!({"targets": [KEPT]})), t0())
        .await
        .unwrap();
    let n = recorded(&c).narrowed.unwrap();
    assert_eq!(
        n.targets,
        Some(vec![TargetValue::try_from(KEPT.to_owned()).unwrap()])
    );
    assert_eq!((n.data_categories, n.period), (r.data_categories, r.period));
    let stored = serde_json::to_string(&f.case(case).await.decision).unwrap();
    assert!(
        stored.contains(KEPT) && !stored.contains(DROPPED),
        "{stored}"
    );
    assert!(f.findings().await.is_empty(), "{:#?}", f.findings().await);
}
