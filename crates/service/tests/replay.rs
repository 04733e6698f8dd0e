//! The replay against `ops`, in-process on a temporary SQLite store with an injected clock: a
//! whole lifecycle done through `ops` replays to exactly the tables `ops` wrote (no false
//! alarm, which would stop a node from starting), and a row changed without an event is named.

use custos_service::ops::{self, DecisionKind};
use custos_service::replay::{Projections, Signatures};
use custos_store::{CaseStatus, Role};

use crate::fixture::*;

/// Every path of a case, through `ops` at instants after `t0()`. Returns the refused case.
async fn lifecycle(f: &Fixture) -> i64 {
    f.try_batch(|b, out| {
        Box::pin(async move {
            ops::set_password(
                b,
                out,
                "rita",
                "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
                t0(),
            )
            .await
        })
    })
    .await
    .unwrap();
    let t = t0() + secs(5 * 60);

    // A refusal recommendation refused.
    let refused = f
        .decided("p04-defamation-2y", "XA-1", DecisionKind::Refuse, t)
        .await;
    // A preservation executed, renewed, then lapsed and released by the scheduler.
    let preserved = f
        .decided("p02-preservation-24-7", "XA-2", DecisionKind::Execute, t)
        .await;
    f.renew(preserved, &rita(), t + days(1)).await.unwrap();
    // Information asked, then supplied by a second signed version.
    let asked = f
        .decided(
            "p17-no-data-protection-terms",
            "XA-3",
            DecisionKind::RequestInformation,
            t,
        )
        .await;
    let again = f
        .submit("p01-ransomware-production", "XA-3", t + days(2))
        .await;
    assert_eq!(again, asked);
    // Executing over a refusal: proposed by a reviewer, confirmed by a supervisor, delivered,
    // closed.
    let overridden = f
        .decided("p12-death-penalty", "XA-4", DecisionKind::Execute, t)
        .await;
    let case = f
        .second_review(overridden, &sue(), confirm(true), t + days(1))
        .await
        .unwrap();
    assert_eq!(case.status, CaseStatus::Executing);
    f.advance(overridden, &rita(), CaseStatus::Delivered, t + days(3))
        .await
        .unwrap();
    f.advance(overridden, &rita(), CaseStatus::Closed, t + days(4))
        .await
        .unwrap();
    // A pretext label corrected (stricter: at once), then refused on the corrected facts.
    let relabelled = f.submit("p01-ransomware-production", "XA-R1", t).await;
    f.reclassify(
        relabelled,
        &rex(),
        correction(&[(0, serde_json::json!({"category": "defamation_or_insult"}))]),
        t,
    )
    .await
    .unwrap();
    f.decide(relabelled, &rex(), decision(DecisionKind::Refuse), t)
        .await
        .unwrap();
    // A penalty corrected downward (lighter: proposed, then confirmed), then executed.
    let corrected = f.submit("p12-death-penalty", "XA-R2", t).await;
    f.reclassify(
        corrected,
        &rita(),
        correction(&[(0, serde_json::json!({"max_penalty": 20}))]),
        t,
    )
    .await
    .unwrap();
    f.second_review(corrected, &sam(), confirm(true), t)
        .await
        .unwrap();
    f.decide(corrected, &rita(), decision(DecisionKind::Execute), t)
        .await
        .unwrap();
    // A year on: holds lapse, confidentiality ends, notices go out.
    let later = t + days(400);
    for n in f.tick(later).await {
        f.notice_result(n.case_id, Ok(()), later).await;
    }
    refused
}

#[tokio::test]
async fn a_lifecycle_done_through_ops_replays_to_exactly_its_tables() {
    let f = Fixture::new().await;
    lifecycle(&f).await;
    let findings = f.findings().await;
    assert!(findings.is_empty(), "{findings:#?}");
    // It did exercise the projections the diff compares.
    assert!(!f.store.all_holds().await.unwrap().is_empty());
    assert!(!f.store.notices().await.unwrap().is_empty());
    assert_eq!(
        f.store.all_cases::<ops::Documents>().await.unwrap().len(),
        6
    );
    // And a node starts on it (its start-up check is this replay).
    f.node().await.unwrap();
}

#[tokio::test]
async fn a_row_changed_without_an_event_is_named() {
    let f = Fixture::new().await;
    let refused = lifecycle(&f).await;
    f.tamper_case(refused, |c| c.status = CaseStatus::Executing)
        .await;
    let findings = f.findings().await;
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert!(
        findings[0].contains(&format!("case {refused} differs from its events in status")),
        "{findings:#?}"
    );
    let err = format!("{:#}", f.node().await.unwrap_err());
    assert!(err.contains("do not match its signed log"), "{err}");
}

#[tokio::test]
async fn a_decision_by_a_role_the_log_never_gave_is_named() {
    let f = Fixture::new().await;
    lifecycle(&f).await;
    // The auditor's row promoted, then a decision under that role: the table agrees with the
    // decision, the log does not.
    let t = t0() + days(500);
    let case = f.submit("p04-defamation-2y", "XA-9", t).await;
    let promoted = user("aud", Role::Supervisor);
    f.decide(case, &promoted, decision(DecisionKind::Refuse), t)
        .await
        .unwrap();
    let findings = f.findings().await;
    assert!(
        findings
            .iter()
            .any(|x| x.contains("aud was auditor in the log")),
        "{findings:#?}"
    );
}

#[tokio::test]
async fn a_rejected_second_review_and_a_fresh_decision_replay_to_their_tables() {
    let f = Fixture::new().await;
    let case = f
        .decided("p12-death-penalty", "XA-1", DecisionKind::Execute, t0())
        .await;
    f.second_review(case, &sue(), confirm(false), t0() + days(1))
        .await
        .unwrap();
    f.decide(case, &rex(), decision(DecisionKind::Refuse), t0() + days(2))
        .await
        .unwrap();
    f.advance(case, &rex(), CaseStatus::Closed, t0() + days(3))
        .await
        .unwrap();
    let findings = f.findings().await;
    assert!(findings.is_empty(), "{findings:#?}");
}

#[tokio::test]
async fn a_request_recorded_from_a_revoked_key_is_named() {
    let f = Fixture::new().await;
    let s = f.submission("p01-ransomware-production", "XA-1", t0() + days(1));
    f.revoke(&f.authority.kid, t0()).await.unwrap();
    // As if the revocation had not been re-checked under the write lock: the stale entry.
    f.submit_as(s, Some(f.authority.clone())).await.unwrap();
    let findings = f.findings().await;
    assert!(
        findings
            .iter()
            .any(|x| x.contains("which was revoked on") && x.contains(&f.authority.kid)),
        "{findings:#?}"
    );
}

#[tokio::test]
async fn a_hold_extended_without_an_event_is_named() {
    let f = Fixture::new().await;
    let case = f
        .decided("p02-preservation-24-7", "XA-1", DecisionKind::Execute, t0())
        .await;
    let mut hold = f.hold(case).await.unwrap();
    hold.expires_at += days(365);
    f.unsigned_batch(move |b, _| Box::pin(async move { Ok(b.put_hold(&hold).await?) }))
        .await;
    let findings = f.findings().await;
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert!(findings[0].contains(&format!("{case}")), "{findings:#?}");
}

/// A follow-up of the preservation `XA-6` (follow_up.rs), and a hold `XA-13` warned of before
/// it lapses.
async fn follow_up_and_lapse_warning(f: &Fixture, t: jiff::Timestamp) {
    let s = f.submission_with("p01-ransomware-production", "XA-FOLLOW", t, |r| {
        r["follows"] = "XA-6".into();
    });
    let current = f.logged_authority(&f.authority.kid).await;
    f.submit_as(s, current).await.unwrap();
    f.decided("p02-preservation-24-7", "XA-13", DecisionKind::Execute, t)
        .await;
    f.tick(t + days(80)).await;
}

/// Runs on a thread with a large stack: this test walks every kind of event in one future, and
/// Cedar refuses to evaluate ("recursion limit reached") when little of the thread's stack is
/// left, which depends on the build's settings, not on the rules under test.
/// A case taken by Rita, taken over by Rex, released by Sue, with a note by Rita.
async fn desk(f: &Fixture, t: jiff::Timestamp) {
    use ops::AssignmentAction::{Release, Take};
    let case = f.submit("p01-ransomware-production", "XA-DESK", t).await;
    for (who, action) in [(rita(), Take), (rex(), Take), (sue(), Release)] {
        let input = ops::AssignmentInput { action };
        f.try_batch(move |b, out| {
            Box::pin(async move { ops::assign(b, out, case, &who, &input, t).await })
        })
        .await
        .unwrap();
    }
    let input = ops::NoteInput {
        text: "Checked with the liaison officer.".into(),
    };
    f.try_batch(move |b, out| {
        Box::pin(async move { ops::add_note(b, out, case, &rita(), &input, t).await })
    })
    .await
    .unwrap();
}

#[test]
fn every_kind_of_event_ops_writes_is_folded_by_the_replay() {
    let body = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
            .block_on(every_kind_of_event())
    };
    let worker = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(body)
        .expect("a test thread");
    if let Err(panic) = worker.join() {
        std::panic::resume_unwind(panic);
    }
}

async fn every_kind_of_event() {
    use custos_model::EventType;
    use custos_service::custody::{Custody, TempPackage};
    use custos_service::ops::evidence::SealedPackage;
    use std::collections::BTreeSet;

    let f = Fixture::new().await;
    // Boxed, like the steps below: this test's future is large, and Cedar refuses to evaluate
    // when little of the thread's stack is left.
    Box::pin(lifecycle(&f)).await;
    // What the lifecycle leaves out: a rejected second review of a decision and of a
    // correction, a revoked key, and evidence sealed, handed over and destroyed.
    let t = t0() + days(500);
    let overridden = f
        .decided("p12-death-penalty", "XA-5", DecisionKind::Execute, t)
        .await;
    f.second_review(overridden, &sue(), confirm(false), t)
        .await
        .unwrap();
    // A correction sent back by its second reviewer.
    let relabel = f.submit("p12-death-penalty", "XA-R3", t).await;
    f.reclassify(
        relabel,
        &rita(),
        correction(&[(0, serde_json::json!({"max_penalty": 20}))]),
        t,
    )
    .await
    .unwrap();
    f.second_review(relabel, &sue(), confirm(false), t)
        .await
        .unwrap();
    let other = f
        .add_authority(&other_authority_key(), "XB", t)
        .await
        .unwrap();
    f.revoke(&other.kid, t).await.unwrap();
    // An emergency confirmed by XA's confirmation key (emergency.rs), then executed.
    let emergency = f.submit("p07-emergency-kidnapping", "XA-E", t).await;
    f.confirm_emergency(emergency, t).await.unwrap();
    f.decide(emergency, &rita(), decision(DecisionKind::Execute), t)
        .await
        .unwrap();
    let preserved = f
        .decided("p02-preservation-24-7", "XA-6", DecisionKind::Execute, t)
        .await;
    let sha = "ab".repeat(32);
    let (temp, _) = TempPackage::create(&f.dir).unwrap();
    let custody = Custody {
        case_id: preserved,
        temp,
        package: SealedPackage {
            digest: custos_model::PackageDigest::new(custos_model::DigestKind::Blake3, &sha)
                .unwrap(),
            manifest_sha256: "cd".repeat(32),
            size: 0,
            recipient: "age1recipient".into(),
            signer: "node".into(),
        },
        targets: Vec::new(),
    };
    let (kid, to_delete) = (f.authority.kid.clone(), sha.clone());
    f.try_batch(move |b, out| {
        Box::pin(async move {
            custody.take(b, out, t).await?;
            ops::record_delivered(b, out, &to_delete, &kid, t).await?;
            ops::destroy_due(b, out, t + days(400), 30).await
        })
    })
    .await
    .unwrap();

    // A notice that failed once, and secrecy extended: once granted, once refused.
    let secret = f
        .decided(
            "p09-gag-unbounded",
            "XA-7",
            DecisionKind::ExecuteNarrowed,
            t,
        )
        .await;
    let x = f
        .ask_extension(secret, &f.authority, extend_secrecy(t + days(200)), t)
        .await
        .unwrap();
    f.decide_extension(secret, x.extension_id, &rita(), grant(None), t)
        .await
        .unwrap();
    let y = f
        .ask_extension(secret, &f.authority, extend_secrecy(t + days(300)), t)
        .await
        .unwrap();
    f.decide_extension(secret, y.extension_id, &rex(), refuse_extension(), t)
        .await
        .unwrap();
    let noticed = f
        .decided(
            "p01-ransomware-production",
            "XA-8",
            DecisionKind::Execute,
            t,
        )
        .await;
    f.tick(t).await;
    f.notice_result(noticed, Err("mail server down".into()), t)
        .await;
    // A reviewer defers it, then records it given by hand (issue 16).
    f.act_on_notice(
        noticed,
        &rita(),
        serde_json::json!({"action": "deferred", "until": t + days(20), "reason": "Arrests first."}),
        t,
    )
    .await
    .unwrap();
    f.act_on_notice(
        noticed,
        &rex(),
        serde_json::json!({"action": "sent_by_hand", "note": "Given at the counter."}),
        t,
    )
    .await
    .unwrap();
    // A hold renewed with a reason, then released early by staff.
    f.renew_because(preserved, &rita(), Some("Still needed."), t)
        .await
        .unwrap();
    f.release(preserved, &rex(), "The requester no longer needs it.", t)
        .await
        .unwrap();
    // A case postponed, back at its date.
    let postponed = f.submit("p01-ransomware-production", "XA-10", t).await;
    f.postpone(
        postponed,
        &rita(),
        "A domestic search is under way.",
        t + days(3),
        t,
    )
    .await
    .unwrap();
    f.tick(t + days(3)).await;
    // A consultation answered, and one that lapsed.
    let consulted = f.submit("p01-ransomware-production", "XA-11", t).await;
    f.consult(
        consulted,
        &rita(),
        "Would subscriber data alone do?",
        t + days(5),
        t,
    )
    .await
    .unwrap();
    let (key, xa) = (authority_key(), f.authority.clone());
    f.answer(
        consulted,
        &key,
        &xa,
        "XA-11",
        "Yes, subscriber data alone.",
        t,
    )
    .await
    .unwrap();
    f.consult(consulted, &rita(), "And for 30 days only?", t + days(5), t)
        .await
        .unwrap();
    f.tick(t + days(5)).await;
    // A request withdrawn by its authority, then closed.
    let withdrawn = f.submit("p01-ransomware-production", "XA-12", t).await;
    f.withdraw(withdrawn, "XA-12", t).await.unwrap();
    f.advance(withdrawn, &rita(), CaseStatus::Closed, t)
        .await
        .unwrap();
    // Conditions declined, then accepted.
    let conditional = f.submit("p01-ransomware-production", "XA-9", t).await;
    f.decide(
        conditional,
        &rita(),
        ops::DecisionInput {
            conditions: vec!["Only for the investigation named.".into()],
            ..decision(DecisionKind::Execute)
        },
        t,
    )
    .await
    .unwrap();
    let sha256 = f.case(conditional).await.decision.unwrap().conditions;
    let sha256 = ops::conditions_sha256(&sha256).unwrap();
    for (answer, reason) in [
        (ops::AcceptanceAnswer::Decline, Some("Not yet.".to_owned())),
        (ops::AcceptanceAnswer::Accept, None),
    ] {
        let input = ops::AcceptanceInput {
            request_id: "XA-9".into(),
            conditions_sha256: sha256.clone(),
            answer,
            reason,
        };
        f.answer_conditions(conditional, &f.authority, input, t)
            .await
            .unwrap();
    }

    // A follow-up linked to its preservation, and another hold warned of before it lapses
    // (boxed: this test's future is already large, and Cedar checks the stack it has left).
    Box::pin(follow_up_and_lapse_warning(&f, t)).await;
    // Boxed: this test's future is large, and Cedar checks the stack it has left.
    Box::pin(callbacks_and_denials(&f, t)).await;
    // The order that must follow the emergency above, missed at the tick of t + 5 days: deletion
    // asked, then the order taken late (boxed, as above).
    Box::pin(order_missed_then_sent(&f, emergency, t)).await;
    // The desk's own (issue 16): a case taken, taken over, released, and a note.
    Box::pin(desk(&f, t)).await;
    // A transparency report published (its budget and consistency folded by the replay).
    let period = custos_transparency::Period::parse("2026-01-01", "2026-01-31").unwrap();
    let p = custos_service::transparency::prepare(
        &f.store,
        f.assessor.profile(),
        &f.config.transparency,
        period,
        ops::transparency::Spender::Staff,
    )
    .await
    .unwrap();
    f.try_batch(move |b, out| {
        Box::pin(async move { ops::transparency::publish_report(b, out, &p, t).await })
    })
    .await
    .unwrap();

    // A file attached to a case, stored before it is logged (issue 16).
    let mut incoming = custos_service::attachments::Incoming::create(&f.dir, 1024)
        .await
        .unwrap();
    incoming.write(b"the order of the court").await.unwrap();
    let attach = custos_service::attachments::Attach {
        case_id: preserved,
        user: rita(),
        received: incoming.finish().await.unwrap(),
        described: custos_service::http::attachments::described(
            "order",
            "order.pdf",
            "application/pdf",
        )
        .unwrap(),
    };
    f.try_batch(move |b, out| Box::pin(async move { attach.take(b, out, t).await }))
        .await
        .unwrap();

    let events = f.events().await;
    let written: BTreeSet<EventType> = events.iter().map(|e| e.kind().unwrap()).collect();
    let missing: Vec<_> = EventType::ALL
        .iter()
        .filter(|k| !written.contains(k))
        .collect();
    assert!(missing.is_empty(), "not exercised: {missing:?}");
    // Each folds without a finding and to exactly the tables ops wrote.
    let findings = f.findings().await;
    assert!(findings.is_empty(), "{findings:#?}");
    let p = Projections::replay(&events, Signatures::Decode);
    assert!(p.registry.authorities[&other.kid].revoked_at.is_some());
    assert!(p.evidence[&sha].destroyed_at.is_some());
    assert_eq!(p.cases[&overridden].status, CaseStatus::Assessed);
    assert_eq!(p.notices[&secret].due_at, t + days(200));
    // The failed attempt, then the one by hand.
    assert_eq!(p.notices[&noticed].attempts, 2);
    assert_eq!(p.notices[&noticed].due_at, t + days(20));
    assert!(p.notices[&noticed].sent_at.is_some());
    assert!(p.holds[&preserved].released_at.is_some());
    assert_eq!(p.extensions.len(), 2);
    assert_eq!(p.cases[&withdrawn].status, CaseStatus::Closed);
    assert_eq!(p.cases[&postponed].status, CaseStatus::Assessed);
    assert_eq!(p.cases[&consulted].status, CaseStatus::Assessed);
}

#[tokio::test]
async fn an_extension_or_a_notice_attempt_changed_without_an_event_is_named() {
    let f = Fixture::new().await;
    let case = f
        .decided(
            "p09-gag-unbounded",
            "XA-1",
            DecisionKind::ExecuteNarrowed,
            t0(),
        )
        .await;
    let x = f
        .ask_extension(case, &f.authority, extend_secrecy(t0() + days(200)), t0())
        .await
        .unwrap();
    // Granted in the table only; a failed attempt erased from the notice.
    let id = x.extension_id;
    let mut granted = x.clone();
    granted.status = custos_store::ExtensionStatus::Granted;
    granted.granted_until = Some(t0() + days(200));
    f.unsigned_batch(move |b, _| Box::pin(async move { Ok(b.put_extension(&granted).await?) }))
        .await;
    let other = f
        .decided(
            "p01-ransomware-production",
            "XA-2",
            DecisionKind::Execute,
            t0(),
        )
        .await;
    f.tick(t0()).await;
    let mut n = f
        .notice_result(other, Err("mail server down".into()), t0())
        .await
        .unwrap();
    n.attempts = 0;
    n.last_error = None;
    f.unsigned_batch(move |b, _| Box::pin(async move { Ok(b.put_notice(&n).await?) }))
        .await;
    let findings = f.findings().await;
    assert_eq!(findings.len(), 2, "{findings:#?}");
    assert!(
        findings.iter().any(|x| x.contains(&format!(
            "extensions: extension {id} of case {case} differs from its events"
        ))),
        "{findings:#?}"
    );
    assert!(
        findings.iter().any(|x| x.contains(&format!(
            "notices: the notice of case {other} differs from its events"
        ))),
        "{findings:#?}"
    );
}

#[tokio::test]
async fn an_event_of_a_type_no_node_writes_is_a_finding_not_a_panic() {
    let f = Fixture::new().await;
    lifecycle(&f).await;
    let mut events = f.events().await;
    let last = events.last_mut().unwrap();
    last.event_type = "request.teleported".into();
    assert_eq!(last.kind(), None);
    let seq = last.seq;
    let p = Projections::replay(&events, Signatures::Decode);
    assert!(
        p.findings.iter().any(|x| x.to_string().contains(&format!(
            "event {seq} (request.teleported): unknown event type"
        ))),
        "{:#?}",
        p.findings
    );
}

/// Emergencies by call-back: a contact, a record rejected then confirmed; one denied on the
/// call-back, one denied by a confirmation key's signature.
async fn order_missed_then_sent(f: &Fixture, emergency: i64, t: jiff::Timestamp) {
    crate::order::ask_deletion(
        f,
        emergency,
        &rita(),
        "Delete what was handed over.",
        t + days(5),
    )
    .await
    .unwrap();
    crate::order::send(f, emergency, crate::order::judicial(), t + days(6))
        .await
        .unwrap();
}

async fn callbacks_and_denials(f: &Fixture, t: jiff::Timestamp) {
    f.set_contact().await;
    let called = f.submit("p07-emergency-kidnapping", "XA-CB1", t).await;
    for confirm in [false, true] {
        f.record_callback(called, &rita(), ops::CallbackOutcome::Confirmed, t)
            .await
            .unwrap();
        f.review_callback(called, &sue(), confirm, t).await.unwrap();
    }
    let denied = f.submit("p07-emergency-kidnapping", "XA-CB2", t).await;
    f.record_callback(denied, &rita(), ops::CallbackOutcome::Denied, t)
        .await
        .unwrap();
    f.review_callback(denied, &sue(), true, t).await.unwrap();
    let signed_denial = f.submit("p07-emergency-kidnapping", "XA-CB3", t).await;
    f.deny_emergency(signed_denial, t).await.unwrap();
}
