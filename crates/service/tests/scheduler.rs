//! The scheduler at injected instants: `ops::tick` releases lapsed holds and records ends of
//! confidentiality exactly when they fall due, never a second before, once; notice results are
//! recorded; a whole node's scheduler pass does the same through the writer.

use custos_service::ops::{DecisionKind, NarrowedTerms};
use custos_store::CaseStatus;
use jiff::SignedDuration;

use crate::fixture::*;

async fn preserved(f: &Fixture, id: &str) -> (i64, jiff::Timestamp) {
    let case = f
        .decided("p02-preservation-24-7", id, DecisionKind::Execute, t0())
        .await;
    (case, f.hold(case).await.unwrap().expires_at)
}

#[tokio::test]
async fn a_hold_is_not_released_one_second_before_it_expires() {
    let f = Fixture::new().await;
    let (case, expires) = preserved(&f, "XA-1").await;
    f.tick(expires - secs(1)).await;
    assert_eq!(f.hold(case).await.unwrap().released_at, None);
    assert!(
        !f.event_types()
            .await
            .contains(&"preservation.released".to_owned())
    );
}

#[tokio::test]
async fn a_hold_is_released_exactly_when_it_expires() {
    let f = Fixture::new().await;
    let (case, expires) = preserved(&f, "XA-1").await;
    f.tick(expires).await;
    assert_eq!(f.hold(case).await.unwrap().released_at, Some(expires));
    let events = f.store.case_events(case).await.unwrap();
    let released: Vec<_> = events
        .iter()
        .filter(|e| event_type(e) == "preservation.released")
        .collect();
    assert_eq!(released.len(), 1);
    let released = released[0];
    assert_eq!(released.at, expires);
    assert_eq!(body(released)["expired_at"], expires.to_string().as_str());
}

#[tokio::test]
async fn a_renewed_hold_outlives_its_first_expiry() {
    let f = Fixture::new().await;
    let (case, expires) = preserved(&f, "XA-1").await;
    // Renewed 30 days in: 90 days from then, 30 days past the first expiry.
    f.renew(case, &rita(), t0() + days(30)).await.unwrap();
    f.tick(expires).await;
    f.tick(expires + days(30) - secs(1)).await;
    assert_eq!(f.hold(case).await.unwrap().released_at, None);
    f.tick(expires + days(30)).await;
    assert_eq!(
        f.hold(case).await.unwrap().released_at,
        Some(expires + days(30))
    );
}

#[tokio::test]
async fn ticking_again_records_nothing_twice() {
    let f = Fixture::new().await;
    let (case, expires) = preserved(&f, "XA-1").await;
    let noticed = f
        .decided(
            "p01-ransomware-production",
            "XA-2",
            DecisionKind::Execute,
            t0(),
        )
        .await;
    let first = f.tick(expires).await;
    let size = f.log_size().await;
    let second = f.tick(expires + secs(30)).await;
    let third = f.tick(expires + days(1)).await;
    assert_eq!(f.log_size().await, size, "no duplicate events");
    // The hold keeps the instant it was released; the unsent notice is listed each time.
    assert_eq!(f.hold(case).await.unwrap().released_at, Some(expires));
    let listed =
        |d: &[custos_service::ops::DueNotice]| d.iter().map(|n| n.case_id).collect::<Vec<_>>();
    assert!(listed(&first).contains(&noticed));
    assert_eq!(listed(&first), listed(&second));
    assert_eq!(listed(&first), listed(&third));
    let types = f.event_types().await;
    let count = |t: &str| types.iter().filter(|x| *x == t).count();
    assert_eq!(count("preservation.released"), 1);
    assert_eq!(
        count("confidentiality.ended"),
        1,
        "once per case owed a notice; preservation of stored data alone owes none"
    );
    assert!(!listed(&first).contains(&case));
}

#[tokio::test]
async fn without_secrecy_the_notice_is_due_from_arrival() {
    let f = Fixture::new().await;
    let arrival = t0();
    let case = f.submit("p01-ransomware-production", "XA-1", arrival).await;
    // Owed only once execution starts.
    assert!(f.tick(arrival + days(1)).await.is_empty());
    f.decide(
        case,
        &rita(),
        decision(DecisionKind::Execute),
        arrival + days(2),
    )
    .await
    .unwrap();
    assert_eq!(f.notice(case).await.unwrap().due_at, arrival);
    let due = f.tick(arrival + days(2)).await;
    assert_eq!(due.len(), 1);
    assert_eq!(
        (due[0].case_id, due[0].request_id.as_str(), due[0].due_at),
        (case, "XA-1", arrival)
    );
    assert_eq!(
        f.notice(case).await.unwrap().ended_at,
        Some(arrival + days(2))
    );
}

#[tokio::test]
async fn the_end_of_confidentiality_is_recorded_when_it_falls_due_not_a_second_before() {
    let f = Fixture::new().await;
    // Secrecy asked without end; the profile bounds it to 90 days, and the narrowed decision
    // hands over its proposal.
    let case = f
        .decided(
            "p09-gag-unbounded",
            "XA-1",
            DecisionKind::ExecuteNarrowed,
            t0(),
        )
        .await;
    let end = t0() + days(90);
    assert_eq!(f.notice(case).await.unwrap().due_at, end);
    assert!(f.tick(end - secs(1)).await.is_empty());
    assert!(
        !f.event_types()
            .await
            .contains(&"confidentiality.ended".to_owned())
    );
    let due = f.tick(end).await;
    assert_eq!(due.iter().map(|n| n.case_id).collect::<Vec<_>>(), [case]);
    let events = f.store.case_events(case).await.unwrap();
    let ended = events.last().unwrap();
    assert_eq!(event_type(ended), "confidentiality.ended");
    assert_eq!(
        (ended.at, body(ended)["due_at"].as_str()),
        (end, Some(end.to_string().as_str()))
    );
    assert_eq!(f.notice(case).await.unwrap().ended_at, Some(end));
}

#[tokio::test]
async fn secrecy_shortened_by_the_reviewer_brings_the_notice_forward() {
    let f = Fixture::new().await;
    let case = f.submit("p09-gag-unbounded", "XA-1", t0()).await;
    let proposed = assessment(&f.case(case).await).narrowed.unwrap();
    let ends = t0() + days(10);
    let terms = NarrowedTerms {
        data_categories: proposed.data_categories,
        period: proposed.period,
        confidentiality_until: Some(ends),
        targets: None,
        target_reasons: Default::default(),
    };
    f.decide(case, &rita(), narrowed_decision(terms), t0() + days(1))
        .await
        .unwrap();
    assert_eq!(f.notice(case).await.unwrap().due_at, ends);
    assert!(f.tick(ends - secs(1)).await.is_empty());
    assert_eq!(f.tick(ends).await.len(), 1);
}

#[tokio::test]
async fn the_convention_profile_owes_no_notice() {
    let f = Fixture::with(|c| c.profile = "convention".into()).await;
    let case = f
        .decided(
            "p01-ransomware-production",
            "XA-1",
            DecisionKind::Execute,
            t0(),
        )
        .await;
    assert_eq!(f.case(case).await.notify_person_at, None);
    assert!(f.notice(case).await.is_none());
    assert!(f.tick(t0() + days(400)).await.is_empty());
}

#[tokio::test]
async fn a_sent_notice_is_logged_once_and_no_longer_due() {
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
    assert_eq!(f.tick(at).await.len(), 1);
    f.notice_result(case, Ok(()), at).await;
    let n = f.notice(case).await.unwrap();
    assert_eq!((n.sent_at, n.attempts, n.last_error), (Some(at), 1, None));
    let events = f.store.case_events(case).await.unwrap();
    let sent = events.last().unwrap();
    assert_eq!(event_type(sent), "notice.sent");
    assert_eq!(body(sent)["attempt"], 1);
    assert!(f.tick(at + days(1)).await.is_empty());
    // A late second report of the same sending records nothing.
    let size = f.log_size().await;
    f.notice_result(case, Ok(()), at + days(1)).await;
    assert_eq!(f.log_size().await, size);
}

#[tokio::test]
async fn a_failed_notice_is_logged_keeps_its_error_and_is_tried_again_after_a_minute() {
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
    f.tick(at).await;
    f.notice_result(case, Err("mail server down".into()), at)
        .await;
    let n = f.notice(case).await.unwrap();
    assert_eq!((n.sent_at, n.attempts), (None, 1));
    assert_eq!(n.last_error.as_deref(), Some("mail server down"));
    assert_eq!(n.last_attempt_at, Some(at));
    let events = f.store.case_events(case).await.unwrap();
    let failed = events.last().unwrap();
    assert_eq!(event_type(failed), "notice.failed");
    assert_eq!(
        (
            body(failed)["attempt"].as_i64(),
            body(failed)["error"].as_str(),
            body(failed)["next_attempt_at"].as_str()
        ),
        (
            Some(1),
            Some("mail server down"),
            Some((at + secs(60)).to_string().as_str())
        )
    );
    assert!(
        f.tick(at + secs(30)).await.is_empty(),
        "not before its retry"
    );
    assert_eq!(f.tick(at + secs(60)).await.len(), 1, "due again");
    f.notice_result(case, Ok(()), at + secs(60)).await;
    let events = f.store.case_events(case).await.unwrap();
    assert_eq!(body(events.last().unwrap())["attempt"], 2);
    assert_eq!(f.notice(case).await.unwrap().last_error, None);
    let findings = f.findings().await;
    assert!(findings.is_empty(), "{findings:#?}");
}

#[tokio::test]
async fn a_node_that_was_down_catches_up_on_everything_due_in_one_tick() {
    let f = Fixture::new().await;
    let (a, _) = preserved(&f, "XA-1").await;
    let (b, _) = preserved(&f, "XA-2").await;
    f.renew(b, &rita(), t0() + days(1)).await.unwrap();
    let refused_case = f
        .decided("p04-defamation-2y", "XA-3", DecisionKind::Refuse, t0())
        .await;
    let produced = f
        .decided(
            "p01-ransomware-production",
            "XA-4",
            DecisionKind::Execute,
            t0(),
        )
        .await;
    let later = t0() + days(400);
    let due = f.tick(later).await;
    assert_eq!(f.hold(a).await.unwrap().released_at, Some(later));
    assert_eq!(f.hold(b).await.unwrap().released_at, Some(later));
    // The production owes a notice (rights-first, no secrecy); the preservations of stored data
    // owe none (safeguards.md 1.1), nor does the refused case.
    let listed: Vec<i64> = due.iter().map(|n| n.case_id).collect();
    assert_eq!(listed, [produced]);
    assert!(!listed.contains(&refused_case));
    assert_eq!(f.case(refused_case).await.status, CaseStatus::Refused);
}

// A whole node's scheduler pass, at injected instants, through its writer.

#[tokio::test]
async fn a_nodes_scheduler_pass_releases_at_expiry_and_not_a_second_before() {
    let f = Fixture::new().await;
    let (case, expires) = preserved(&f, "XA-1").await;
    let node = f.node().await.unwrap();
    Fixture::scheduler_pass(&node, expires - secs(1))
        .await
        .unwrap();
    assert_eq!(f.hold(case).await.unwrap().released_at, None);
    Fixture::scheduler_pass(&node, expires).await.unwrap();
    assert_eq!(f.hold(case).await.unwrap().released_at, Some(expires));
    // Signed by the node, head file included.
    assert_eq!(f.check_history().await.unwrap(), f.log_size().await);
}

#[tokio::test]
async fn a_nodes_scheduler_pass_sends_due_notices_with_its_command_and_records_them() {
    let f = Fixture::with(|c| {
        c.lifecycle.notice_command =
            Some("test \"$CUSTOS_REQUEST_ID\" = XA-1 && test \"$CUSTOS_CASE\" = 1".into())
    })
    .await;
    let case = f
        .decided(
            "p01-ransomware-production",
            "XA-1",
            DecisionKind::Execute,
            t0(),
        )
        .await;
    assert_eq!(case, 1);
    let failing = f
        .decided(
            "p01-ransomware-production",
            "XA-2",
            DecisionKind::Execute,
            t0(),
        )
        .await;
    let node = f.node().await.unwrap();
    Fixture::scheduler_pass(&node, t0() + days(1))
        .await
        .unwrap();
    let sent = f.notice(case).await.unwrap();
    assert_eq!((sent.attempts, sent.sent_at.is_some()), (1, true));
    let other = f.notice(failing).await.unwrap();
    assert_eq!((other.attempts, other.sent_at), (1, None));
    assert!(other.last_error.unwrap().contains("exited"));
    assert_eq!(
        f.event_types()
            .await
            .iter()
            .filter(|t| *t == "notice.sent")
            .count(),
        1
    );
}

// Times are stored as text with as many fraction digits as they have (`…12:00:00.7Z`,
// `…12:00:00Z`) and '.' sorts before 'Z': compared as text, a tick at a whole second released a
// hold expiring 0.7 s later, and a tick half a second after a whole-second expiry missed it. The
// store now selects with a bound a second later and keeps the rows by comparing times.
#[tokio::test]
async fn a_hold_is_not_released_a_fraction_of_a_second_before_it_expires() {
    let f = Fixture::new().await;
    let at = t0() + SignedDuration::from_millis(700);
    let case = f
        .decided("p02-preservation-24-7", "XA-1", DecisionKind::Execute, at)
        .await;
    let expires = f.hold(case).await.unwrap().expires_at;
    assert_eq!(expires, at + days(90));
    f.tick(expires - SignedDuration::from_millis(700)).await;
    assert_eq!(f.hold(case).await.unwrap().released_at, None);
    f.tick(expires).await;
    assert_eq!(f.hold(case).await.unwrap().released_at, Some(expires));
}

#[tokio::test]
async fn a_hold_expiring_on_a_whole_second_is_released_by_a_tick_just_after_it() {
    let f = Fixture::new().await;
    let case = f
        .decided("p02-preservation-24-7", "XA-1", DecisionKind::Execute, t0())
        .await;
    let expires = f.hold(case).await.unwrap().expires_at;
    assert_eq!(expires, t0() + days(90));
    f.tick(expires - SignedDuration::from_millis(1)).await;
    assert_eq!(f.hold(case).await.unwrap().released_at, None);
    let tick = expires + SignedDuration::from_millis(500);
    f.tick(tick).await;
    assert_eq!(f.hold(case).await.unwrap().released_at, Some(tick));
}
