//! Notices a person can act on, at injected instants: what a notice says (as JSON and as text,
//! never a target identifier), the remedies it names (the default, or the jurisdiction's), each
//! step of the delivery backoff to the second, and failures logged and listed, through `ops`
//! and through a whole node's scheduler across restarts.

use custos_service::ops::{
    DEFAULT_REMEDIES, DecisionKind, DueNotice, NOTICE_FORMAT, NoticeDocument, next_attempt,
    retry_delay,
};
use jiff::Timestamp;
use serde_json::Value;

use crate::fixture::*;

/// Executes example `case` as `id` at `t0()` and ticks when its notice is due; returns the case
/// and the notice due.
async fn noticed(f: &Fixture, case: &str, id: &str, kind: DecisionKind) -> (i64, DueNotice) {
    let c = f.decided(case, id, kind, t0()).await;
    let due_at = f.notice(c).await.expect("a notice is owed").due_at;
    let at = due_at.max(t0()) + secs(1);
    let due = f.tick(at).await;
    let n = due
        .into_iter()
        .find(|n| n.case_id == c)
        .expect("the notice is due");
    (c, n)
}

/// Every target identifier of the case's request.
async fn target_values(f: &Fixture, case: i64) -> Vec<String> {
    let r: Value = serde_json::from_str(&f.case(case).await.request_json).unwrap();
    let values: Vec<String> = r["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["value"].as_str().unwrap().to_owned())
        .collect();
    assert!(!values.is_empty());
    values
}

fn document(n: &DueNotice) -> &NoticeDocument {
    n.document.as_ref().expect("the notice could be made")
}

#[tokio::test]
async fn a_notice_says_who_asked_what_was_handed_over_on_which_basis_and_when() {
    let f = Fixture::new().await;
    let (case, due) = noticed(
        &f,
        "p01-ransomware-production",
        "XA-1",
        DecisionKind::Execute,
    )
    .await;
    assert_eq!(due.attempt, 1);
    let d = document(&due);
    assert_eq!(d.format, NOTICE_FORMAT);
    assert_eq!(d.addressed_to, "person_concerned");
    assert_eq!((d.case, d.request_id.as_str()), (case, "XA-1"));
    assert_eq!(d.requesting_state, "XA");
    assert_eq!(
        d.requesting_authority,
        "Central Authority for Mutual Assistance, Ministry of Justice"
    );
    assert_eq!(d.measure.as_str(), "produce_stored_data");
    assert_eq!(d.data_categories.to_string(), "subscriber, traffic");
    let period = d.period.expect("the period handed over");
    assert_eq!(
        (period.from.to_string(), period.to.to_string()),
        (
            "2026-03-01T00:00:00Z".to_owned(),
            "2026-05-31T23:59:59Z".to_owned()
        )
    );
    assert!(!d.narrowed);
    assert_eq!(
        d.legal_basis,
        [
            "UN Convention against Cybercrime (UNCC), arts. 27, 44 (production of stored data)",
            "an order of the requesting state (judicial) issued by Investigating Judge, District Court on 2026-11-10 09:00 UTC, reference IJ-2026-77",
        ]
    );
    assert_eq!(d.decided_at, t0());
    assert_eq!(d.handed_over_at, None);
    assert!(d.confidentiality_ended_at.is_some());
    assert_eq!(d.remedies, DEFAULT_REMEDIES);
    assert_eq!(d.receiver, None);
    // The text says the same in plain words.
    for words in [
        "To the person concerned",
        "Central Authority for Mutual Assistance, Ministry of Justice (state XA)",
        "production of stored data",
        "subscriber information, traffic data",
        "2026-03-01 to 2026-05-31 23:59 UTC",
        "arts. 27, 44",
        "Investigating Judge, District Court",
        "Decided on:       2026-11-20 12:00 UTC",
        "How to challenge this disclosure",
        DEFAULT_REMEDIES,
        "case 1, request XA-1",
    ] {
        assert!(
            d.text.contains(words),
            "{words:?} missing from:\n{}",
            d.text
        );
    }
    assert_eq!(d.text, d.render_text());
    // Neither form carries a target identifier.
    let json = serde_json::to_string(d).unwrap();
    for value in target_values(&f, case).await {
        assert!(!json.contains(&value), "{value} in the JSON");
        assert!(!d.text.contains(&value), "{value} in the text");
    }
    // And the JSON reads back as the same notice.
    let back: NoticeDocument = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, d);
}

#[tokio::test]
async fn a_narrowed_decision_s_notice_names_what_was_handed_over_not_what_was_asked() {
    let f = Fixture::new().await;
    // Subscriber information was asked with traffic data: only subscriber data are handed over.
    let (_, due) = noticed(
        &f,
        "p13-subscriber-plus-traffic",
        "XA-1",
        DecisionKind::ExecuteNarrowed,
    )
    .await;
    let d = document(&due);
    assert_eq!(d.data_categories.to_string(), "subscriber");
    assert!(d.narrowed);
    assert!(
        d.text
            .contains("Data handed over: subscriber information\n")
    );
    assert!(d.text.contains("(less than was asked for was handed over)"));
    // A two-year window narrowed to the profile's 366 days.
    let (case, due) = noticed(
        &f,
        "p10-two-year-window",
        "XA-2",
        DecisionKind::ExecuteNarrowed,
    )
    .await;
    let d = document(&due);
    let narrowed = recorded(&f.case(case).await).narrowed.unwrap();
    assert_eq!(d.period, narrowed.period);
    assert_ne!(
        d.period.unwrap().from.to_string(),
        "2024-06-01T00:00:00Z",
        "not the period asked"
    );
    assert!(d.narrowed);
}

#[tokio::test]
async fn the_remedies_are_the_jurisdiction_s_and_its_name_says_who_received_the_request() {
    let f = Fixture::with_jurisdiction(
        r#"
name = "Example Provider Ltd."
remedies = """
You may complain to the Examplia Data Protection Authority, 1 Main Street, within three months,
or apply to the District Court of Examplia."""
"#,
    )
    .await;
    let (_, due) = noticed(
        &f,
        "p01-ransomware-production",
        "XA-1",
        DecisionKind::Execute,
    )
    .await;
    let d = document(&due);
    assert!(
        d.remedies
            .starts_with("You may complain to the Examplia Data Protection Authority")
    );
    assert!(d.remedies.ends_with("District Court of Examplia."));
    assert_eq!(d.receiver.as_deref(), Some("Example Provider Ltd."));
    assert!(
        d.text
            .contains("asked Example Provider Ltd. for data about you")
    );
    assert!(d.text.contains(&d.remedies));
    assert!(!d.text.contains(DEFAULT_REMEDIES));
}

#[tokio::test]
async fn without_remedies_in_the_jurisdiction_the_notice_has_the_plain_default() {
    let f = Fixture::with_jurisdiction("name = \"Example Provider Ltd.\"\n").await;
    let (_, due) = noticed(
        &f,
        "p01-ransomware-production",
        "XA-1",
        DecisionKind::Execute,
    )
    .await;
    assert_eq!(document(&due).remedies, DEFAULT_REMEDIES);
}

#[tokio::test]
async fn a_jurisdiction_with_blank_remedies_keeps_the_node_from_starting() {
    let f = Fixture::with_jurisdiction("name = \"Example Provider Ltd.\"\n").await;
    std::fs::write(f.dir.join("jurisdiction.toml"), "remedies = \"   \"\n").unwrap();
    let err = format!("{:#}", f.node().await.unwrap_err());
    assert!(
        err.contains("jurisdiction.toml") && err.contains("remedies: give the text"),
        "{err}"
    );
}

#[test]
fn the_backoff_is_one_five_thirty_minutes_two_hours_then_every_six_hours() {
    let minutes: Vec<i64> = (1..=7).map(|n| retry_delay(n).as_secs() / 60).collect();
    assert_eq!(minutes, [1, 5, 30, 120, 360, 360, 360]);
}

#[tokio::test]
async fn each_retry_falls_due_exactly_at_its_step_and_not_a_second_before() {
    let f = Fixture::new().await;
    let case = f
        .decided(
            "p01-ransomware-production",
            "XA-1",
            DecisionKind::Execute,
            t0(),
        )
        .await;
    // The first attempt at the due date, then one after each failure.
    let mut at = f.notice(case).await.unwrap().due_at;
    assert!(f.tick(at - secs(1)).await.is_empty());
    let steps = [60, 300, 1800, 7200, 21_600, 21_600];
    for (i, step) in steps.iter().enumerate() {
        let due = f.tick(at).await;
        assert_eq!(due.len(), 1, "attempt {} at {at}", i + 1);
        assert_eq!(due[0].attempt, i as i64 + 1);
        let n = f
            .notice_result(case, Err(format!("refused, attempt {}", i + 1)), at)
            .await
            .unwrap();
        let next = at + secs(*step);
        assert_eq!(next_attempt(&n), Some(next), "after attempt {}", i + 1);
        assert!(
            f.tick(next - secs(1)).await.is_empty(),
            "a second before retry {}",
            i + 2
        );
        at = next;
    }
    let due = f.tick(at).await;
    assert_eq!(due[0].attempt, 7);
    f.notice_result(case, Ok(()), at).await;
    let n = f.notice(case).await.unwrap();
    assert_eq!(
        (n.attempts, n.sent_at, next_attempt(&n)),
        (7, Some(at), None)
    );
    assert!(f.tick(at + days(1)).await.is_empty());
    // Every attempt is in the log, each failure with its reason.
    let events = f.store.case_events(case).await.unwrap();
    let failed: Vec<_> = events
        .iter()
        .filter(|e| event_type(e) == "notice.failed")
        .map(|e| body(e)["error"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(failed.len(), 6);
    assert_eq!(failed[5], "refused, attempt 6");
    let findings = f.findings().await;
    assert!(findings.is_empty(), "{findings:#?}");
}

#[tokio::test]
async fn a_failure_s_reason_is_kept_on_one_bounded_line() {
    let f = Fixture::new().await;
    let case = f
        .decided(
            "p01-ransomware-production",
            "XA-1",
            DecisionKind::Execute,
            t0(),
        )
        .await;
    f.tick(t0()).await;
    let n = f
        .notice_result(
            case,
            Err(format!("first\nsecond\t{}", "x".repeat(1000))),
            t0(),
        )
        .await
        .unwrap();
    let error = n.last_error.unwrap();
    assert!(error.starts_with("first second xxx"), "{error}");
    assert_eq!(error.chars().count(), 300);
}

/// A node whose notice command fails (exit 7), or, with `ok`, writes what it reads to
/// `notice-<case>.json` in the node directory.
async fn node_with_command(ok: bool) -> Fixture {
    Fixture::with(|c| {
        c.lifecycle.notice_command = Some(if ok {
            "cat > \"notice-$CUSTOS_CASE-$CUSTOS_NOTICE_ATTEMPT.json\"".into()
        } else {
            "cat > /dev/null; exit 7".into()
        })
    })
    .await
}

#[tokio::test]
async fn a_node_retries_a_failing_command_by_its_backoff_across_restarts() {
    let f = node_with_command(false).await;
    let case = f
        .decided(
            "p01-ransomware-production",
            "XA-1",
            DecisionKind::Execute,
            t0(),
        )
        .await;
    // Due at arrival (no secrecy asked): first tried then, not a second before.
    let mut at = f.notice(case).await.unwrap().due_at;
    for (attempt, step) in [(1, 60), (2, 300), (3, 1800)] {
        // A fresh node each time: nothing but the database carries the schedule.
        let node = f.node().await.unwrap();
        node.scheduler_pass(at - secs(1)).await.unwrap();
        assert_eq!(
            f.notice(case).await.unwrap().attempts,
            attempt - 1,
            "not tried a second early"
        );
        node.scheduler_pass(at).await.unwrap();
        let n = f.notice(case).await.unwrap();
        assert_eq!(n.attempts, attempt);
        assert_eq!(n.last_attempt_at, Some(at));
        assert_eq!(
            n.last_error.as_deref(),
            Some("the notice command exited with exit status: 7")
        );
        assert_eq!(n.sent_at, None);
        node.close().await;
        at += secs(step);
    }
    assert_eq!(f.check_history().await.unwrap(), f.log_size().await);
    let findings = f.findings().await;
    assert!(findings.is_empty(), "{findings:#?}");
}

#[tokio::test]
async fn the_command_reads_the_notice_as_json_on_its_standard_input_and_the_log_keeps_its_digest() {
    let f = node_with_command(true).await;
    let case = f
        .decided(
            "p01-ransomware-production",
            "XA-1",
            DecisionKind::Execute,
            t0(),
        )
        .await;
    let node = f.node().await.unwrap();
    let at: Timestamp = t0() + secs(10);
    node.scheduler_pass(at).await.unwrap();
    let bytes = std::fs::read(f.dir.join(format!("notice-{case}-1.json"))).unwrap();
    let d: NoticeDocument = serde_json::from_slice(&bytes).unwrap();
    assert_eq!((d.format.as_str(), d.case), (NOTICE_FORMAT, case));
    assert_eq!(d.issued_at, at);
    let events = f.store.case_events(case).await.unwrap();
    let sent = events.last().unwrap();
    assert_eq!(event_type(sent), "notice.sent");
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    assert_eq!(body(sent)["notice_sha256"], digest.as_str());
    assert_eq!(f.notice(case).await.unwrap().sent_at, Some(at));
}

#[tokio::test]
async fn a_reviewer_marks_a_notice_sent_by_hand_and_the_scheduler_stops() {
    let f = Fixture::new().await;
    let case = f
        .decided(
            "p01-ransomware-production",
            "XA-1",
            DecisionKind::Execute,
            t0(),
        )
        .await;
    let at = t0() + secs(30);
    let p = refused(
        f.act_on_notice(
            case,
            &rita(),
            serde_json::json!({"action": "sent_by_hand", "note": " "}),
            at,
        )
        .await,
        422,
        "invalid-notice-action",
    );
    assert_eq!(p.errors[0].pointer, "$.note");
    refused(
        f.act_on_notice(
            case,
            &aud(),
            serde_json::json!({"action": "sent_by_hand", "note": "Handed over at the counter."}),
            at,
        )
        .await,
        403,
        "read-only",
    );
    let n = f
        .act_on_notice(
            case,
            &rita(),
            serde_json::json!({"action": "sent_by_hand", "note": "Handed over at the counter."}),
            at,
        )
        .await
        .unwrap();
    assert_eq!((n.sent_at, n.attempts), (Some(at), 1));
    let e = f.store.case_events(case).await.unwrap().pop().unwrap();
    assert_eq!(event_type(&e), "notice.sent");
    assert_eq!(body(&e)["by_hand"], true);
    assert_eq!(body(&e)["by"], "rita");
    assert_eq!(body(&e)["note"], "Handed over at the counter.");
    // Nothing left to send, nothing left to act on.
    assert!(f.tick(at + days(1)).await.iter().all(|d| d.case_id != case));
    refused(
        f.act_on_notice(
            case,
            &rita(),
            serde_json::json!({"action": "sent_by_hand", "note": "Again."}),
            at,
        )
        .await,
        409,
        "no-notice-owed",
    );
    assert!(f.findings().await.is_empty(), "{:#?}", f.findings().await);
}

#[tokio::test]
async fn a_reviewer_defers_a_notice_with_a_reason_within_the_profile_s_cap() {
    let f = Fixture::new().await;
    let case = f
        .decided(
            "p01-ransomware-production",
            "XA-1",
            DecisionKind::Execute,
            t0(),
        )
        .await;
    let cap = f.rules.secrecy_cap.days.expect("rights-first caps secrecy");
    let at = t0() + secs(30);
    let defer = |until: Timestamp, reason: &str| serde_json::json!({"action": "deferred", "until": until, "reason": reason});
    let size = f.log_size().await;
    for (body, pointer) in [
        (
            defer(at + days(i64::from(cap)) + secs(1), "Arrests are planned."),
            "$.until",
        ),
        (defer(at - secs(1), "Arrests are planned."), "$.until"),
        (defer(at + days(10), "  "), "$.reason"),
        (
            serde_json::json!({"action": "deferred", "reason": "Arrests are planned."}),
            "$.until",
        ),
        (
            serde_json::json!({"action": "deferred", "until": at + days(10),
                               "reason": "Arrests are planned.", "note": "By post."}),
            "$.note",
        ),
        (
            serde_json::json!({"action": "sent_by_hand", "note": "By post.",
                               "until": at + days(10)}),
            "$.until",
        ),
    ] {
        let p = refused(
            f.act_on_notice(case, &rita(), body, at).await,
            422,
            "invalid-notice-action",
        );
        assert_eq!(p.errors[0].pointer, pointer, "{}", p.detail);
    }
    assert_eq!(f.log_size().await, size, "nothing logged");
    let until = at + days(10);
    let n = f
        .act_on_notice(
            case,
            &rita(),
            defer(until, "Arrests are planned next week."),
            at,
        )
        .await
        .unwrap();
    assert_eq!((n.due_at, n.sent_at), (until, None));
    let e = f.store.case_events(case).await.unwrap().pop().unwrap();
    assert_eq!(event_type(&e), "notice.deferred");
    assert_eq!(body(&e)["reason"], "Arrests are planned next week.");
    assert_eq!(body(&e)["due_at"], until.to_string().as_str());
    // Not tried before the new date; tried at it.
    assert!(
        f.tick(until - secs(1))
            .await
            .iter()
            .all(|d| d.case_id != case)
    );
    assert!(f.tick(until).await.iter().any(|d| d.case_id == case));
    assert!(f.findings().await.is_empty(), "{:#?}", f.findings().await);
}
