//! The real writer task (`writer::spawn`): group commit under one signed checkpoint, a failing
//! job undone alone, the head file, the revocation re-checked under the write lock, and events of
//! other processes taken in only under a checkpoint signed with the node key.
//!
//! `#[tokio::test]` runs on one thread: jobs queued before the test first waits are all waiting
//! when the writer wakes, so they form one batch.

use custos_service::integrity::open_note;
use custos_service::ops::{DecisionKind, SubmitOutcome};
use custos_store::CaseStatus;

use crate::fixture::*;

#[tokio::test]
async fn jobs_queued_together_commit_once_under_one_signed_checkpoint() {
    let f = Fixture::new().await;
    let w = f.writer().await;
    let (size, checkpoints) = (
        f.log_size().await,
        f.store.checkpoints().await.unwrap().len(),
    );
    let jobs = [
        w.queue_submit(f.submission("p01-ransomware-production", "XA-1", t0()))
            .await,
        w.queue_submit(f.submission("p04-defamation-2y", "XA-2", t0()))
            .await,
        w.queue_submit(f.submission("p13-subscriber-plus-traffic", "XA-3", t0()))
            .await,
    ];
    // A decision on the first case, which exists only inside this batch so far.
    let decided = w
        .queue_decide(1, &rita(), decision(DecisionKind::Execute))
        .await;
    for j in jobs {
        assert!(matches!(
            j.answer().await.unwrap(),
            SubmitOutcome::Created(_)
        ));
    }
    assert_eq!(
        decided.answer().await.unwrap().status,
        CaseStatus::Executing
    );

    let added = f.log_size().await - size;
    // Three submissions (received, assessed), one decision (recorded, its reply).
    assert_eq!(added, 3 * 2 + 2);
    let all = f.store.checkpoints().await.unwrap();
    assert_eq!(all.len(), checkpoints + 1, "one commit, one checkpoint");
    let latest = all.iter().max_by_key(|c| c.size).unwrap();
    let signed = open_note(&latest.note, ORIGIN, &f.verifier()).unwrap();
    assert_eq!(signed.size, f.log_size().await, "it covers every event");
    assert_eq!(signed.root, w.log.root_at(signed.size).unwrap());
    assert_eq!(f.check_history().await.unwrap(), f.log_size().await);
}

#[tokio::test]
async fn a_submission_refused_inside_a_batch_writes_nothing_and_the_others_commit() {
    let f = Fixture::new().await;
    let w = f.writer().await;
    w.submit(f.submission("p01-ransomware-production", "XA-1", t0()))
        .await
        .unwrap();
    let size = f.log_size().await;
    let first = f.case(1).await;
    // Submissions run without a savepoint of their own: the refusal (the id reused with
    // another content) must be found before anything is written.
    let jobs = [
        w.queue_submit(f.submission("p04-defamation-2y", "XA-2", t0()))
            .await,
        w.queue_submit(f.submission("p04-defamation-2y", "XA-1", t0()))
            .await,
        w.queue_submit(f.submission("p13-subscriber-plus-traffic", "XA-3", t0()))
            .await,
    ];
    let [a, reused, c] = jobs;
    assert!(matches!(
        a.answer().await.unwrap(),
        SubmitOutcome::Created(_)
    ));
    refused(reused.answer().await, 409, "request-id-reused");
    assert!(matches!(
        c.answer().await.unwrap(),
        SubmitOutcome::Created(_)
    ));
    assert_eq!(
        f.log_size().await,
        size + 2 * 2,
        "two arrivals, nothing of the refused one"
    );
    let cases = f
        .store
        .all_cases::<custos_service::ops::Documents>()
        .await
        .unwrap();
    assert_eq!(
        cases
            .iter()
            .map(|c| c.request_id.as_str())
            .collect::<Vec<_>>(),
        ["XA-1", "XA-2", "XA-3"]
    );
    assert_eq!(cases[0], first, "the first case is as it was");
    assert_eq!(f.check_history().await.unwrap(), f.log_size().await);
    assert_eq!(w.log.tree_size(), f.log_size().await);
}

#[tokio::test]
async fn a_failing_job_is_undone_alone_and_the_others_commit() {
    let f = Fixture::new().await;
    // A pending proposal whose stored request no longer parses: confirming it appends
    // `decision.recorded`, then fails.
    let broken = f
        .decided("p12-death-penalty", "XA-1", DecisionKind::Execute, t0())
        .await;
    f.tamper_case(broken, |c| c.request_json = "{".into()).await;
    let w = f.writer().await;
    let size = f.log_size().await;
    let first = w
        .queue_submit(f.submission("p01-ransomware-production", "XA-2", t0()))
        .await;
    let failing = w
        .queue(|reply| custos_service::writer::Job::SecondReview {
            case_id: broken,
            user: sue(),
            input: confirm(true),
            reply,
        })
        .await;
    let refused_job = w
        .queue_decide(broken, &aud(), decision(DecisionKind::Refuse))
        .await;
    let last = w
        .queue_submit(f.submission("p04-defamation-2y", "XA-3", t0()))
        .await;
    let a = case_id(&first.answer().await.unwrap());
    assert_eq!(failing.answer().await.unwrap_err().status, 500);
    refused(refused_job.answer().await, 403, "read-only");
    let b = case_id(&last.answer().await.unwrap());

    let events = f.events().await;
    let new: Vec<_> = events[size as usize..].iter().collect();
    let cases: Vec<_> = new.iter().map(|e| (event_type(e), e.case_id)).collect();
    assert_eq!(
        cases,
        [
            ("request.received".to_owned(), Some(a)),
            ("request.assessed".to_owned(), Some(a)),
            ("request.received".to_owned(), Some(b)),
            ("request.assessed".to_owned(), Some(b)),
        ],
        "the failed job's event is gone and left no gap"
    );
    assert_eq!(b, a + 1);
    assert_eq!(
        f.case(broken).await.status,
        CaseStatus::AwaitingSecondReview
    );
    assert_eq!(f.check_history().await.unwrap(), f.log_size().await);
    assert_eq!(w.log.tree_size(), f.log_size().await);
}

#[tokio::test]
async fn the_head_file_holds_the_checkpoint_of_the_last_commit() {
    let f = Fixture::new().await;
    let w = f.writer().await;
    w.submit(f.submission("p01-ransomware-production", "XA-1", t0()))
        .await
        .unwrap();
    let head = f.head().unwrap();
    let latest = f.store.latest_checkpoint().await.unwrap().unwrap();
    assert_eq!(head, latest.note);
    assert_eq!(
        open_note(&head, ORIGIN, &f.verifier()).unwrap().size,
        f.log_size().await
    );
    assert_eq!(
        w.log.checkpoint().unwrap().note,
        head,
        "and it is published"
    );
    // Acknowledged means committed: another connection sees it.
    let other = custos_store::Store::open(&f.config.database_location(&f.dir), false)
        .await
        .unwrap();
    assert_eq!(
        other
            .all_cases::<custos_service::ops::Documents>()
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_batch_with_nothing_to_record_signs_nothing_new() {
    let f = Fixture::new().await;
    let w = f.writer().await;
    w.sync().await.unwrap();
    let checkpoints = f.store.checkpoints().await.unwrap().len();
    refused(
        w.decide(99, &rita(), decision(DecisionKind::Refuse)).await,
        404,
        "not-found",
    );
    assert!(w.tick(t0()).await.unwrap().is_empty());
    assert_eq!(f.store.checkpoints().await.unwrap().len(), checkpoints);
}

#[tokio::test]
async fn a_key_revoked_by_another_process_is_refused_by_the_next_batch() {
    let f = Fixture::new().await;
    let w = f.writer().await;
    // Signature checked while the key was good; `custos authority revoke` runs meanwhile.
    let s = f.submission("p01-ransomware-production", "XA-1", t0());
    f.revoke(&f.authority.kid, t0()).await.unwrap();
    let size = f.log_size().await;
    refused(w.submit(s).await, 403, "revoked-key");
    assert!(f.cases().await.is_empty());
    assert_eq!(f.log_size().await, size);
    assert!(
        w.directory
            .authority(&f.authority.kid)
            .unwrap()
            .revoked_at
            .is_some()
    );
}

#[tokio::test]
async fn events_another_process_signed_with_the_node_key_are_taken_in() {
    let f = Fixture::new().await;
    let w = f.writer().await;
    let xb = f
        .add_authority(&other_authority_key(), "XB", t0())
        .await
        .unwrap();
    assert!(w.directory.authority(&xb.kid).is_none(), "not yet seen");
    w.sync().await.unwrap();
    assert_eq!(w.directory.authority(&xb.kid), Some(xb.clone()));
    assert_eq!(w.log.tree_size(), f.log_size().await);
    // And the new authority's request is recorded on top of them.
    let s = f.submission_by(
        &other_authority_key(),
        &xb,
        "p01-ransomware-production",
        "XB-1",
        t0(),
        |_| {},
    );
    assert!(matches!(
        w.submit(s).await.unwrap(),
        SubmitOutcome::Created(_)
    ));
    assert_eq!(f.check_history().await.unwrap(), f.log_size().await);
}

#[tokio::test]
async fn a_writer_with_nothing_to_add_serves_the_checkpoint_another_process_signed() {
    // Two writers on one database stand for two `custos serve` processes; their clocks differ,
    // so a checkpoint signed by the second would carry its own signing time.
    let f = Fixture::new().await;
    let a = f.writer_at(t0()).await;
    let b = f.writer_at(t0() + days(1)).await;
    b.sync().await.unwrap();
    a.submit(f.submission("p01-ransomware-production", "XA-1", t0()))
        .await
        .unwrap();
    let signed_by_a = a.log.checkpoint().unwrap();
    let rows = f.store.checkpoints().await.unwrap().len();
    b.sync().await.unwrap();
    let served_by_b = b.log.checkpoint().unwrap();
    assert_eq!(served_by_b.size, signed_by_a.size);
    assert_eq!(served_by_b.note, signed_by_a.note);
    assert_eq!(served_by_b.signed_at, t0(), "a's, not a new one of b's");
    assert_eq!(f.store.checkpoints().await.unwrap().len(), rows);
    // And what b adds next is signed by b over both.
    b.submit(f.submission("p04-defamation-2y", "XA-2", t0()))
        .await
        .unwrap();
    let next = b.log.checkpoint().unwrap();
    assert_eq!(next.size, f.log_size().await);
    assert_eq!(next.signed_at, t0() + days(1));
    assert_eq!(f.check_history().await.unwrap(), f.log_size().await);
}

#[tokio::test]
async fn events_slipped_in_without_a_node_signature_stop_the_writer_recording() {
    let f = Fixture::new().await;
    let w = f.writer().await;
    let tree = w.log.tree_size();
    let a = new_authority(&other_authority_key(), "XB");
    let xb = f
        .unsigned_batch(move |b, out| {
            Box::pin(async move { custos_service::ops::add_authority(b, out, &a, t0()).await })
        })
        .await;
    let size = f.log_size().await;
    let p = refused(w.sync().await, 503, "unavailable");
    assert!(p.detail.contains("custos audit"), "{}", p.detail);
    refused(
        w.submit(f.submission("p01-ransomware-production", "XA-1", t0()))
            .await,
        503,
        "unavailable",
    );
    assert!(w.directory.authority(&xb.kid).is_none(), "never believed");
    assert_eq!(f.log_size().await, size, "nothing recorded on top");
    assert_eq!(w.log.tree_size(), tree);
    assert!(f.cases().await.is_empty());
}

#[tokio::test]
async fn events_under_a_checkpoint_signed_with_another_key_are_refused() {
    let f = Fixture::new().await;
    let w = f.writer().await;
    let a = new_authority(&other_authority_key(), "XB");
    let xb = f
        .unsigned_batch(move |b, out| {
            Box::pin(async move { custos_service::ops::add_authority(b, out, &a, t0()).await })
        })
        .await;
    f.put_checkpoint_signed_by(&forger_key()).await;
    refused(w.sync().await, 503, "unavailable");
    assert!(w.directory.authority(&xb.kid).is_none());
}

#[tokio::test]
async fn a_tick_through_the_writer_releases_a_hold_at_the_instant_given() {
    let f = Fixture::new().await;
    let w = f.writer().await;
    let case = case_id(
        &w.submit(f.submission("p02-preservation-24-7", "XA-1", t0()))
            .await
            .unwrap(),
    );
    w.decide(case, &rita(), decision(DecisionKind::Execute))
        .await
        .unwrap();
    // The writer stamps decisions with its clock (t0 here); the tick's instant is ours.
    let expires = f.hold(case).await.unwrap().expires_at;
    assert_eq!(expires, t0() + days(90));
    w.tick(expires - secs(1)).await.unwrap();
    assert_eq!(f.hold(case).await.unwrap().released_at, None);
    w.tick(expires).await.unwrap();
    assert_eq!(f.hold(case).await.unwrap().released_at, Some(expires));
    let size = f.log_size().await;
    w.tick(expires + secs(30)).await.unwrap();
    assert_eq!(f.log_size().await, size);
}

#[tokio::test]
async fn every_kind_of_job_runs_through_the_writer() {
    let f = Fixture::new().await;
    let w = f.writer().await;
    let held = case_id(
        &w.submit(f.submission("p02-preservation-24-7", "XA-1", t0()))
            .await
            .unwrap(),
    );
    w.decide(held, &rita(), decision(DecisionKind::Execute))
        .await
        .unwrap();
    let renewed = w
        .renew_with(held, &rita(), Some("Still needed."))
        .await
        .unwrap();
    assert_eq!(renewed.renewals, 1);
    assert_eq!(renewed.expires_at, w.clock.clock().now() + days(90));
    let released = w
        .release_hold(held, &rita(), "No longer needed.")
        .await
        .unwrap();
    assert!(released.released_at.is_some());
    let four_eyes = case_id(
        &w.submit(f.submission("p12-death-penalty", "XA-2", t0()))
            .await
            .unwrap(),
    );
    let c = w
        .decide(four_eyes, &sue(), decision(DecisionKind::Execute))
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::AwaitingSecondReview);
    refused(
        w.second_review(four_eyes, &sue(), confirm(true)).await,
        403,
        "same-reviewer",
    );
    let c = w
        .second_review(four_eyes, &sam(), confirm(true))
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::Executing);
    w.advance(four_eyes, &rita(), CaseStatus::Delivered)
        .await
        .unwrap();
    w.advance(four_eyes, &rita(), CaseStatus::Closed)
        .await
        .unwrap();
    // The production owes a notice from arrival (rights-first, no secrecy asked); the
    // preservation of stored data alone owes none (safeguards.md 1.1).
    let due = w.tick(t0() + days(1)).await.unwrap();
    let due: Vec<i64> = due.iter().map(|n| n.case_id).collect();
    assert_eq!(due, [four_eyes]);
    let sent = custos_service::ops::NoticeDelivery::Sent {
        notice_sha256: "00".repeat(32),
    };
    w.notice_result(four_eyes, t0() + days(1), sent)
        .await
        .unwrap();
    assert!(f.notice(four_eyes).await.unwrap().sent_at.is_some());
    assert_eq!(f.case(four_eyes).await.status, CaseStatus::Closed);
    assert_eq!(f.check_history().await.unwrap(), f.log_size().await);
    let findings = f.findings().await;
    assert!(findings.is_empty(), "{findings:#?}");
}

#[tokio::test]
async fn every_job_of_a_batch_reads_the_writer_s_clock() {
    let f = Fixture::new().await;
    let w = f.writer_at(t0() + days(5)).await;
    let case = case_id(
        &w.submit(f.submission("p02-preservation-24-7", "XA-1", t0() + days(5)))
            .await
            .unwrap(),
    );
    w.clock.advance(secs(90));
    w.decide(case, &rita(), decision(DecisionKind::Execute))
        .await
        .unwrap();
    let decided = t0() + days(5) + secs(90);
    let hold = f.hold(case).await.unwrap();
    assert_eq!(
        (hold.started_at, hold.expires_at),
        (decided, decided + days(90))
    );
    // The renewal counts from when the writer's clock says it came (renewals never stack).
    w.clock.advance(days(80));
    let renewed = w.renew(case, &rita()).await.unwrap();
    assert_eq!(renewed.expires_at, decided + days(170));
    // The signed checkpoint of the batch carries the same time.
    let cp = w.log.checkpoint().expect("a checkpoint");
    assert_eq!(cp.signed_at, decided + days(80));
}
