//! Extensions of secrecy, at injected instants: the case's own authority asks, with reasons and
//! the date it wants; a reviewer grants (possibly a shorter one) or refuses, with a reason; the
//! profile's cap holds to the second; a grant moves the case's end of confidentiality and the
//! notice's due date; both steps are logged and replay to the tables.

use custos_service::ops::DecisionKind;
use custos_store::{ExtensionKind, ExtensionStatus};
use jiff::Timestamp;

use crate::fixture::*;

/// Secrecy asked without an end, executed narrowed at `t0()`: the rights-first profile ends it
/// (and sends the notice) 90 days later.
async fn secret(f: &Fixture, id: &str) -> (i64, Timestamp) {
    let case = f
        .decided("p09-gag-unbounded", id, DecisionKind::ExecuteNarrowed, t0())
        .await;
    let end = t0() + days(90);
    assert_eq!(f.notice(case).await.unwrap().due_at, end);
    (case, end)
}

fn asked() -> Timestamp {
    t0() + days(10)
}

#[tokio::test]
async fn the_case_s_authority_asks_and_a_granted_extension_moves_the_end_and_the_notice() {
    let f = Fixture::new().await;
    let (case, end) = secret(&f, "XA-1").await;
    let wanted = t0() + days(200);
    let x = f
        .ask_extension(case, &f.authority, extend_secrecy(wanted), asked())
        .await
        .unwrap();
    assert_eq!(
        (x.case_id, x.kind, x.status, x.current_until, x.asked_until),
        (
            case,
            ExtensionKind::Confidentiality,
            ExtensionStatus::Pending,
            end,
            wanted
        )
    );
    assert_eq!(x.asked_by, f.authority.kid);
    assert_eq!(x.asked_at, asked());
    // Its number is the log index of its event, which holds the request.
    let events = f.store.case_events(case).await.unwrap();
    let requested = events.last().unwrap();
    assert_eq!(event_type(requested), "extension.requested");
    assert_eq!(requested.seq as i64, x.extension_id);
    let b = body(requested);
    assert_eq!(b["by"], f.authority.kid.as_str());
    assert_eq!(b["until"], wanted.to_string().as_str());
    assert_eq!(b["current_until"], end.to_string().as_str());
    assert!(
        b["reasons"]
            .as_str()
            .unwrap()
            .contains("still being identified")
    );
    // Nothing moves until a reviewer decides.
    assert_eq!(f.notice(case).await.unwrap().due_at, end);

    let decided = t0() + days(11);
    let x = f
        .decide_extension(case, x.extension_id, &rita(), grant(None), decided)
        .await
        .unwrap();
    assert_eq!(
        (x.status, x.granted_until, x.decided_at),
        (ExtensionStatus::Granted, Some(wanted), Some(decided))
    );
    assert_eq!(x.decided_by.as_deref(), Some("rita"));
    let c = f.case(case).await;
    assert_eq!(c.confidentiality_until, Some(wanted));
    assert_eq!(c.notify_person_at, Some(wanted));
    assert_eq!(f.notice(case).await.unwrap().due_at, wanted);
    let events = f.store.case_events(case).await.unwrap();
    let granted = events.last().unwrap();
    assert_eq!(event_type(granted), "extension.granted");
    let b = body(granted);
    assert_eq!(
        (
            b["extension"].as_i64(),
            b["by"].as_str(),
            b["until"].as_str(),
            b["previous_until"].as_str()
        ),
        (
            Some(x.extension_id),
            Some("rita"),
            Some(wanted.to_string().as_str()),
            Some(end.to_string().as_str())
        )
    );
    assert!(
        b["reason"]
            .as_str()
            .unwrap()
            .contains("still needs secrecy")
    );
    // The old end passes without a notice; the new one brings it.
    assert!(f.tick(end).await.is_empty());
    assert!(f.tick(wanted - secs(1)).await.is_empty());
    assert_eq!(f.tick(wanted).await.len(), 1);
    let findings = f.findings().await;
    assert!(findings.is_empty(), "{findings:#?}");
}

#[tokio::test]
async fn a_grant_may_be_shorter_than_asked_never_longer() {
    let f = Fixture::new().await;
    let (case, end) = secret(&f, "XA-1").await;
    let wanted = t0() + days(200);
    let x = f
        .ask_extension(case, &f.authority, extend_secrecy(wanted), asked())
        .await
        .unwrap();
    let p = refused(
        f.decide_extension(
            case,
            x.extension_id,
            &rita(),
            grant(Some(wanted + secs(1))),
            asked(),
        )
        .await,
        422,
        "invalid-extension",
    );
    assert_eq!(p.errors[0].pointer, "$.until");
    assert!(p.detail.contains("never longer"), "{}", p.detail);
    let p = refused(
        f.decide_extension(case, x.extension_id, &rita(), grant(Some(end)), asked())
            .await,
        422,
        "invalid-extension",
    );
    assert!(p.detail.contains("refuse instead"), "{}", p.detail);
    let shorter = t0() + days(150);
    let x = f
        .decide_extension(case, x.extension_id, &rita(), grant(Some(shorter)), asked())
        .await
        .unwrap();
    assert_eq!(x.granted_until, Some(shorter));
    assert_eq!(f.notice(case).await.unwrap().due_at, shorter);
    // Decided once.
    refused(
        f.decide_extension(case, x.extension_id, &rex(), refuse_extension(), asked())
            .await,
        409,
        "already-decided",
    );
    let findings = f.findings().await;
    assert!(findings.is_empty(), "{findings:#?}");
}

#[tokio::test]
async fn a_refusal_keeps_the_end_and_is_logged_with_its_reason() {
    let f = Fixture::new().await;
    let (case, end) = secret(&f, "XA-1").await;
    let x = f
        .ask_extension(
            case,
            &f.authority,
            extend_secrecy(t0() + days(200)),
            asked(),
        )
        .await
        .unwrap();
    let mut with_date = refuse_extension();
    with_date.until = Some(t0() + days(100));
    let p = refused(
        f.decide_extension(case, x.extension_id, &rita(), with_date, asked())
            .await,
        422,
        "invalid-extension",
    );
    assert_eq!(p.errors[0].pointer, "$.until");
    let mut blank = refuse_extension();
    blank.reason = " \n".into();
    let p = refused(
        f.decide_extension(case, x.extension_id, &rita(), blank, asked())
            .await,
        422,
        "invalid-extension",
    );
    assert_eq!(p.errors[0].pointer, "$.reason");
    let x = f
        .decide_extension(case, x.extension_id, &rita(), refuse_extension(), asked())
        .await
        .unwrap();
    assert_eq!(
        (x.status, x.granted_until),
        (ExtensionStatus::Refused, None)
    );
    assert!(x.decision_reason.unwrap().contains("may not be told now"));
    assert_eq!(f.notice(case).await.unwrap().due_at, end);
    assert_eq!(f.case(case).await.confidentiality_until, None);
    let events = f.store.case_events(case).await.unwrap();
    let last = events.last().unwrap();
    assert_eq!(event_type(last), "extension.refused");
    assert_eq!(body(last)["by"], "rita");
    // The authority may ask again once it is decided.
    f.ask_extension(
        case,
        &f.authority,
        extend_secrecy(t0() + days(120)),
        asked() + days(1),
    )
    .await
    .unwrap();
    let findings = f.findings().await;
    assert!(findings.is_empty(), "{findings:#?}");
}

#[tokio::test]
async fn rights_first_caps_secrecy_at_365_days_from_the_moment_it_is_set() {
    let f = Fixture::new().await;
    let (case, _) = secret(&f, "XA-1").await;
    let cap = asked() + days(365);
    let p = refused(
        f.ask_extension(case, &f.authority, extend_secrecy(cap + secs(1)), asked())
            .await,
        422,
        "invalid-extension",
    );
    assert_eq!(p.errors[0].pointer, "$.until");
    assert!(
        p.detail.contains(
            "the rights-first profile allows confidentiality to reach at most 365 days ahead"
        ),
        "{}",
        p.detail
    );
    assert!(p.detail.contains(&cap.to_string()), "{}", p.detail);
    let x = f
        .ask_extension(case, &f.authority, extend_secrecy(cap), asked())
        .await
        .unwrap();
    // Granted a day later, the cap has moved on with the clock; what was asked still fits.
    let x = f
        .decide_extension(case, x.extension_id, &sue(), grant(None), asked() + days(1))
        .await
        .unwrap();
    assert_eq!(x.granted_until, Some(cap));
    assert_eq!(f.notice(case).await.unwrap().due_at, cap);
}

#[tokio::test]
async fn the_convention_profile_has_no_cap_of_its_own() {
    let f = Fixture::with(|c| c.profile = "convention".into()).await;
    let until = t0() + days(30);
    let s = f.submission_with("p09-gag-unbounded", "XA-1", t0(), |r| {
        r["confidentiality"]["until"] = until.to_string().into();
    });
    let current = f.logged_authority(&f.authority.kid).await;
    let case = case_id(&f.submit_as(s, current).await.unwrap());
    f.decide(case, &rita(), decision(DecisionKind::Execute), t0())
        .await
        .unwrap();
    // The convention owes no notice; the end of confidentiality is the case's own.
    assert!(f.notice(case).await.is_none());
    let far = t0() + days(1000);
    let x = f
        .ask_extension(case, &f.authority, extend_secrecy(far), asked())
        .await
        .unwrap();
    assert_eq!(x.current_until, until);
    f.decide_extension(case, x.extension_id, &rita(), grant(None), asked())
        .await
        .unwrap();
    assert_eq!(f.case(case).await.confidentiality_until, Some(far));
    // A further request starts from the end granted.
    let p = refused(
        f.ask_extension(case, &f.authority, extend_secrecy(far), asked())
            .await,
        422,
        "invalid-extension",
    );
    assert!(p.detail.contains("not later than the deadline in force"));
    let x = f
        .ask_extension(case, &f.authority, extend_secrecy(far + days(1)), asked())
        .await
        .unwrap();
    assert_eq!(x.current_until, far);
    let findings = f.findings().await;
    assert!(findings.is_empty(), "{findings:#?}");
}

#[tokio::test]
async fn only_the_case_s_own_authority_may_ask() {
    let f = Fixture::new().await;
    let (case, _) = secret(&f, "XA-1").await;
    let other = f
        .add_authority(&other_authority_key(), "XB", t0())
        .await
        .unwrap();
    let p = refused(
        f.ask_extension(case, &other, extend_secrecy(t0() + days(100)), asked())
            .await,
        404,
        "not-found",
    );
    assert!(p.detail.contains("visible to you"), "{}", p.detail);
    // A revoked key of the case's own authority is refused too.
    let mut revoked = f.authority.clone();
    revoked.revoked_at = Some(t0());
    refused(
        f.ask_extension(case, &revoked, extend_secrecy(t0() + days(100)), asked())
            .await,
        403,
        "revoked-key",
    );
    assert!(
        !f.event_types()
            .await
            .contains(&"extension.requested".to_owned())
    );
}

#[tokio::test]
async fn a_reviewer_decides_and_an_auditor_may_not() {
    let f = Fixture::new().await;
    let (case, _) = secret(&f, "XA-1").await;
    let x = f
        .ask_extension(
            case,
            &f.authority,
            extend_secrecy(t0() + days(100)),
            asked(),
        )
        .await
        .unwrap();
    let p = refused(
        f.decide_extension(case, x.extension_id, &aud(), grant(None), asked())
            .await,
        403,
        "read-only",
    );
    assert!(p.detail.contains("deciding an extension"), "{}", p.detail);
    // Numbered per case: another case's number is not found here.
    refused(
        f.decide_extension(case + 1, x.extension_id, &rita(), grant(None), asked())
            .await,
        404,
        "not-found",
    );
    f.decide_extension(case, x.extension_id, &rex(), grant(None), asked())
        .await
        .unwrap();
}

#[tokio::test]
async fn one_request_waits_at_a_time_and_an_extension_moves_the_end_later() {
    let f = Fixture::new().await;
    let (case, end) = secret(&f, "XA-1").await;
    let p = refused(
        f.ask_extension(case, &f.authority, extend_secrecy(end), asked())
            .await,
        422,
        "invalid-extension",
    );
    assert!(
        p.detail.contains("an extension moves it later"),
        "{}",
        p.detail
    );
    let mut no_reasons = extend_secrecy(t0() + days(100));
    no_reasons.reasons = "\t".into();
    let p = refused(
        f.ask_extension(case, &f.authority, no_reasons, asked())
            .await,
        422,
        "invalid-extension",
    );
    assert_eq!(p.errors[0].pointer, "$.reasons");
    f.ask_extension(
        case,
        &f.authority,
        extend_secrecy(t0() + days(100)),
        asked(),
    )
    .await
    .unwrap();
    refused(
        f.ask_extension(
            case,
            &f.authority,
            extend_secrecy(t0() + days(120)),
            asked(),
        )
        .await,
        409,
        "extension-pending",
    );
}

#[tokio::test]
async fn ended_secrecy_cannot_be_extended_but_a_pending_request_can_still_be_refused() {
    let f = Fixture::new().await;
    let (case, end) = secret(&f, "XA-1").await;
    let x = f
        .ask_extension(
            case,
            &f.authority,
            extend_secrecy(t0() + days(100)),
            asked(),
        )
        .await
        .unwrap();
    // Nobody decided in time: secrecy ends, the notice falls due.
    assert_eq!(f.tick(end).await.len(), 1);
    refused(
        f.decide_extension(case, x.extension_id, &rita(), grant(None), end)
            .await,
        409,
        "confidentiality-ended",
    );
    f.decide_extension(case, x.extension_id, &rita(), refuse_extension(), end)
        .await
        .unwrap();
    refused(
        f.ask_extension(
            case,
            &f.authority,
            extend_secrecy(end + days(10)),
            end + secs(1),
        )
        .await,
        409,
        "confidentiality-ended",
    );
    let findings = f.findings().await;
    assert!(findings.is_empty(), "{findings:#?}");
}

#[tokio::test]
async fn without_secrecy_asked_or_before_execution_there_is_nothing_to_extend() {
    let f = Fixture::new().await;
    let open = f
        .decided(
            "p01-ransomware-production",
            "XA-1",
            DecisionKind::Execute,
            t0(),
        )
        .await;
    refused(
        f.ask_extension(
            open,
            &f.authority,
            extend_secrecy(t0() + days(100)),
            asked(),
        )
        .await,
        409,
        "no-confidentiality",
    );
    let undecided = f.submit("p09-gag-unbounded", "XA-2", t0()).await;
    let p = refused(
        f.ask_extension(
            undecided,
            &f.authority,
            extend_secrecy(t0() + days(100)),
            asked(),
        )
        .await,
        409,
        "not-executing",
    );
    assert!(p.detail.contains("is assessed"), "{}", p.detail);
}
