//! The public record of each case once its secrecy ends (issue 14, part 3): published by the
//! scheduler's tick as `case.published`, once, only for a closed case whose confidentiality
//! ended (or none was asked); the record's fields; and the replay naming a publication before
//! the end, a record the events contradict, and fields a record never has.

use custos_model::EventType;
use custos_service::ops::{self, CaseEventRef, CaseRecord, DecisionKind};
use custos_store::{CaseStatus, NewEvent, StoredEvent};
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::fixture::*;

async fn publications(f: &Fixture, case: i64) -> Vec<StoredEvent> {
    f.events()
        .await
        .into_iter()
        .filter(|e| e.case_id == Some(case) && e.kind() == Some(EventType::CasePublished))
        .collect()
}

fn record_of(e: &StoredEvent) -> CaseRecord {
    serde_json::from_value(body(e)["record"].clone()).unwrap()
}

/// Executes `case`, hands it over and closes it, one second apart from `at`.
async fn execute_and_close(f: &Fixture, case: i64, at: Timestamp) {
    f.decide(case, &rita(), decision(DecisionKind::Execute), at)
        .await
        .unwrap();
    f.advance(case, &rita(), CaseStatus::Delivered, at + secs(1))
        .await
        .unwrap();
    f.advance(case, &rita(), CaseStatus::Closed, at + secs(2))
        .await
        .unwrap();
}

/// A request asking secrecy until `until`.
async fn secret_case(f: &Fixture, id: &str, until: Timestamp) -> i64 {
    let current = f.logged_authority(&f.authority.kid).await;
    let s = f.submission_with("p01-ransomware-production", id, t0(), |r| {
        r["confidentiality"] = json!({"requested": true, "until": until.to_string(),
            "justification": "Disclosure would alert the suspects before the arrests."});
    });
    case_id(&f.submit_as(s, current).await.unwrap())
}

#[tokio::test]
async fn a_closed_case_without_secrecy_is_published_at_the_next_tick_once_with_its_record() {
    let f = Fixture::new().await;
    let case = f
        .submit("p01-ransomware-production", "XA-PUB-1", t0())
        .await;
    assert_eq!(f.case(case).await.confidentiality_until, None);
    f.tick(t0() + secs(1)).await;
    assert!(publications(&f, case).await.is_empty(), "not closed yet");
    execute_and_close(&f, case, t0() + secs(10)).await;
    f.tick(t0() + secs(20)).await;
    f.tick(t0() + secs(30)).await;
    f.tick(t0() + days(400)).await;
    let published = publications(&f, case).await;
    assert_eq!(published.len(), 1, "published once");
    let e = &published[0];
    assert_eq!(e.at, t0() + secs(20), "at the first tick after closing");
    // The event holds the record and what every event has, nothing else.
    let keys: Vec<String> = body(e).as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["at", "case", "record", "seq", "type"]);
    let c = f.case(case).await;
    let r = record_of(e);
    assert_eq!(r.format, "custos.case-record/v1");
    assert_eq!(r.case, case);
    assert_eq!(r.requesting_state, "XA");
    assert_eq!(r.measure, c.measure);
    assert_eq!(r.channel, c.channel);
    assert_eq!(r.recommendation, c.outcome);
    assert_eq!(r.decision, Some(DecisionKind::Execute));
    assert!(!r.withdrawn);
    let request: custos_model::Request = serde_json::from_str(&c.request_json).unwrap();
    let mut categories: Vec<_> = request
        .investigation
        .offences
        .iter()
        .map(|o| o.category)
        .collect();
    categories.sort_by_key(|c| c.as_str());
    categories.dedup();
    assert_eq!(r.offence_categories, categories);
    let mut codes: Vec<String> = assessment(&c)
        .findings
        .iter()
        .map(|x| x.code.clone())
        .collect();
    codes.sort();
    codes.dedup();
    assert_eq!(r.finding_codes, codes);
    let day = |t: Timestamp| t.strftime("%Y-%m-%d").to_string();
    let dates = serde_json::to_value(&r.dates).unwrap();
    assert_eq!(
        dates,
        json!({"received": day(t0()), "decided": day(t0() + secs(10)),
               "executed": day(t0() + secs(11)), "closed": day(t0() + secs(12)),
               "confidentiality_ended": null, "published": day(t0() + secs(20))})
    );
    let indices: Vec<(u64, String)> = r
        .events
        .iter()
        .map(|x| (x.index, x.event_type.as_str().to_owned()))
        .collect();
    // Every event of the case before the publication (with the tick's own
    // `confidentiality.ended` of the notice owed at once).
    let expected: Vec<(u64, String)> = f
        .events()
        .await
        .iter()
        .filter(|x| x.case_id == Some(case) && x.seq < e.seq)
        .map(|x| (x.seq, event_type(x)))
        .collect();
    assert_eq!(expected.last().unwrap().1, "confidentiality.ended");
    assert_eq!(indices, expected);
    // No request id, no reason, no reviewer's name, no target.
    let text = e.body.clone();
    for secret in [
        "XA-PUB-1",
        "rita",
        "weighed every finding",
        "decryptor-support@mail.example",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert_eq!(f.findings().await, Vec::<String>::new());
}

#[tokio::test]
async fn a_case_under_secrecy_is_published_only_once_its_secrecy_ends() {
    let f = Fixture::new().await;
    let until = t0() + days(60);
    let case = secret_case(&f, "XA-PUB-2", until).await;
    assert_eq!(f.case(case).await.confidentiality_until, Some(until));
    execute_and_close(&f, case, t0() + secs(10)).await;
    for at in [t0() + days(1), t0() + days(59), until - secs(1)] {
        f.tick(at).await;
        assert!(
            publications(&f, case).await.is_empty(),
            "published at {at}, before its secrecy ended at {until}"
        );
    }
    f.tick(until).await;
    let published = publications(&f, case).await;
    assert_eq!(published.len(), 1);
    let r = record_of(&published[0]);
    assert_eq!(
        r.dates.confidentiality_ended.map(|d| d.to_string()),
        Some(until.strftime("%Y-%m-%d").to_string())
    );
    // Under rights-first the notice's end of confidentiality is logged first, in the same pass,
    // and the record names it.
    let types = f.case_events(case).await;
    let ended = types.iter().position(|t| t == "confidentiality.ended");
    let pubd = types.iter().position(|t| t == "case.published");
    assert!(ended.is_some() && ended < pubd, "{types:?}");
    assert!(
        r.events
            .iter()
            .any(|e| e.event_type == EventType::ConfidentialityEnded)
    );
    f.tick(until + days(1)).await;
    assert_eq!(publications(&f, case).await.len(), 1, "once only");
    assert_eq!(f.findings().await, Vec::<String>::new());
}

#[tokio::test]
async fn refused_and_withdrawn_cases_are_published_once_closed_and_not_before() {
    let f = Fixture::new().await;
    let refused = f
        .decided(
            "p01-ransomware-production",
            "XA-PUB-3",
            DecisionKind::Refuse,
            t0(),
        )
        .await;
    let withdrawn = f
        .submit("p01-ransomware-production", "XA-PUB-4", t0())
        .await;
    f.withdraw(withdrawn, "XA-PUB-4", t0() + secs(1))
        .await
        .unwrap();
    f.tick(t0() + secs(5)).await;
    assert!(publications(&f, refused).await.is_empty());
    assert!(publications(&f, withdrawn).await.is_empty());
    for case in [refused, withdrawn] {
        f.advance(case, &rita(), CaseStatus::Closed, t0() + secs(6))
            .await
            .unwrap();
    }
    f.tick(t0() + secs(7)).await;
    let r = record_of(&publications(&f, refused).await[0]);
    assert_eq!(
        (r.decision, r.withdrawn),
        (Some(DecisionKind::Refuse), false)
    );
    assert_eq!(r.dates.executed, None);
    let w = record_of(&publications(&f, withdrawn).await[0]);
    assert_eq!((w.decision, w.withdrawn), (None, true));
    // Withdrawal's reason never reaches the record.
    assert!(
        !publications(&f, withdrawn).await[0]
            .body
            .contains("other means")
    );
    assert_eq!(f.findings().await, Vec::<String>::new());
}

#[tokio::test]
async fn the_heightened_scrutiny_finding_is_left_out_of_the_record() {
    let f = Fixture::with_jurisdiction(r#"heightened_scrutiny_states = ["XA"]"#).await;
    let case = f
        .decided(
            "p01-ransomware-production",
            "XA-PUB-5",
            DecisionKind::Refuse,
            t0(),
        )
        .await;
    assert!(
        assessment(&f.case(case).await)
            .findings
            .iter()
            .any(|x| x.code == "heightened-scrutiny")
    );
    f.advance(case, &rita(), CaseStatus::Closed, t0() + secs(1))
        .await
        .unwrap();
    f.tick(t0() + secs(2)).await;
    let e = &publications(&f, case).await[0];
    assert!(!e.body.contains("heightened"), "{}", e.body);
    assert_eq!(f.findings().await, Vec::<String>::new());
}

/// Appends a `case.published` of `case` at `at` with `body`, without the node's rules.
async fn forge(f: &Fixture, case: i64, at: Timestamp, body: Value) {
    f.unsigned_batch(move |b, _| {
        Box::pin(async move {
            b.append(&NewEvent {
                event_type: EventType::CasePublished,
                at,
                case_id: Some(case),
                body,
            })
            .await?;
            Ok(())
        })
    })
    .await;
}

/// The record the case's events say, as of `at`.
async fn true_record(f: &Fixture, case: i64, at: Timestamp) -> CaseRecord {
    let events: Vec<CaseEventRef> = f
        .events()
        .await
        .iter()
        .filter(|e| e.case_id == Some(case))
        .map(|e| CaseEventRef {
            index: e.seq,
            kind: e.kind().unwrap(),
            at: e.at,
        })
        .collect();
    CaseRecord::of(&f.case(case).await, &events, at).unwrap()
}

#[tokio::test]
async fn the_replay_names_a_publication_before_secrecy_ended_and_records_out_of_their_rules() {
    let f = Fixture::new().await;
    let secret = secret_case(&f, "XA-PUB-6", t0() + days(60)).await;
    execute_and_close(&f, secret, t0() + secs(10)).await;
    let open = f
        .submit("p01-ransomware-production", "XA-PUB-7", t0())
        .await;
    execute_and_close(&f, open, t0() + secs(20)).await;
    let pending = f
        .submit("p01-ransomware-production", "XA-PUB-8", t0())
        .await;
    assert_eq!(f.findings().await, Vec::<String>::new());
    let at = t0() + days(2);
    // Published a day after closing, while secrecy lasts for two months more.
    let early = true_record(&f, secret, at).await;
    forge(&f, secret, at, json!({ "record": early })).await;
    // A record that says another state, and one carrying a target.
    let mut wrong = true_record(&f, open, at).await;
    wrong.requesting_state = "ZZ".into();
    forge(&f, open, at, json!({ "record": wrong })).await;
    let mut leaky = serde_json::to_value(true_record(&f, open, at).await).unwrap();
    leaky["target"] = json!("decryptor-support@mail.example");
    forge(&f, open, at, json!({ "record": leaky, "note": "internal" })).await;
    // A case still under review.
    let mut undecided = true_record(&f, open, at).await;
    undecided.case = pending;
    forge(&f, pending, at, json!({ "record": undecided })).await;
    let findings = f.findings().await.join("\n");
    for expected in [
        &format!("publishes case {secret} before its confidentiality ended"),
        "its record differs from what the case's events say (requesting_state)",
        &format!("publishes case {open} again"),
        "carries fields a publication never has: note",
        "its record is not a custos.case-record/v1",
        &format!("publishes case {pending}, which was assessed in the log, not closed"),
    ] {
        assert!(findings.contains(expected), "{expected}\n---\n{findings}");
    }
    assert!(!findings.contains("decryptor-support"), "{findings}");
}

#[tokio::test]
async fn publication_through_a_nodes_scheduler_passes_the_audit() {
    let f = Fixture::new().await;
    let case = f
        .submit("p01-ransomware-production", "XA-PUB-9", t0())
        .await;
    execute_and_close(&f, case, t0() + secs(10)).await;
    let node = f.node().await.unwrap();
    Fixture::scheduler_pass(&node, t0() + secs(30))
        .await
        .unwrap();
    assert_eq!(publications(&f, case).await.len(), 1);
    let records = custos_service::http::transparency::case_list(&node, Default::default())
        .await
        .unwrap();
    assert_eq!(records.total, 1);
    assert_eq!(records.records[0].record.case, case);
    let served = custos_service::http::transparency::case_record(&node, case)
        .await
        .unwrap();
    assert_eq!(served.record, records.records[0].record);
    assert_eq!(served.proofs.len(), served.record.events.len() + 1);
    assert_eq!(served.checkpoint, node.log.checkpoint().unwrap().note);
    let missing = custos_service::http::transparency::case_record(&node, case + 100)
        .await
        .unwrap_err();
    assert_eq!(missing.status, 404);
    assert_eq!(f.findings().await, Vec::<String>::new());
    let _ = ops::CASE_RECORD_FORMAT;
}
