//! Decisions through `ops::decide` and `ops::second_review`: each outcome, who may decide,
//! reasons and grounds, narrowing that can only narrow, four eyes for executing over a refusal
//! or a request for information, and a reason for each referred finding.

use custos_model::{DataCategories, DataCategory, Period};
use custos_service::ops::{DecisionInput, DecisionKind, NarrowedTerms};
use custos_store::CaseStatus;

use crate::fixture::*;

#[tokio::test]
async fn executing_an_execute_recommendation_starts_execution_at_once() {
    let f = Fixture::new().await;
    let case = f.submit("p01-ransomware-production", "XA-1", t0()).await;
    assert_eq!(outcome(&f.case(case).await), "execute");
    let at = t0() + days(1);
    let c = f
        .decide(case, &rita(), decision(DecisionKind::Execute), at)
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::Executing);
    let d = recorded(&c);
    assert_eq!(
        (d.decision, d.reviewer.as_str(), d.at),
        (DecisionKind::Execute, "rita", at)
    );
    assert_eq!(d.confirmed_by, None);
    assert_eq!(
        f.case_events(case).await,
        [
            "request.received",
            "request.assessed",
            "decision.recorded",
            "reply.communicated"
        ]
    );
    // Not a preservation: no hold.
    assert!(f.hold(case).await.is_none());
}

#[tokio::test]
async fn a_refusal_is_recorded_and_the_case_is_refused() {
    let f = Fixture::new().await;
    let case = f.submit("p04-defamation-2y", "XA-1", t0()).await;
    assert_eq!(outcome(&f.case(case).await), "refuse");
    let grounds: Vec<String> = assessment(&f.case(case).await)
        .findings
        .iter()
        .map(|x| x.code.clone())
        .take(1)
        .collect();
    let input = DecisionInput {
        grounds: grounds.clone(),
        ..decision(DecisionKind::Refuse)
    };
    let c = f.decide(case, &rita(), input, t0()).await.unwrap();
    assert_eq!(c.status, CaseStatus::Refused);
    assert_eq!(recorded(&c).grounds, grounds);
    assert!(c.pending_decision.is_none());
    assert!(
        f.notice(case).await.is_none(),
        "a refused case owes no notice"
    );
    assert_eq!(
        f.case_events(case).await[2..],
        ["decision.recorded", "reply.communicated"]
    );
}

#[tokio::test]
async fn asking_for_information_needs_a_message_and_then_awaits_it() {
    let f = Fixture::new().await;
    let case = f.submit("p17-no-data-protection-terms", "XA-1", t0()).await;
    let size = f.log_size().await;
    let no_message = DecisionInput {
        message: Some("  ".into()),
        ..decision(DecisionKind::RequestInformation)
    };
    let p = refused(
        f.decide(case, &rita(), no_message, t0()).await,
        422,
        "invalid-decision",
    );
    assert_eq!(p.errors[0].pointer, "$.message");
    assert_eq!(f.log_size().await, size);
    let c = f
        .decide(
            case,
            &rita(),
            decision(DecisionKind::RequestInformation),
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::AwaitingInformation);
    assert!(c.decision.is_none(), "asking is not a decision in force");
    let events = f.store.case_events(case).await.unwrap();
    let [asked, told] = &events[events.len() - 2..] else {
        unreachable!()
    };
    assert_eq!(event_type(asked), "request.information_requested");
    assert_eq!(event_type(told), "reply.communicated");
    assert_eq!(
        body(told)["communicated"]["message"],
        "Please state the data protection terms."
    );
    assert_eq!(
        body(asked)["message"],
        "Please state the data protection terms."
    );
}

#[tokio::test]
async fn execute_narrowed_without_terms_hands_over_the_assessments_proposal() {
    let f = Fixture::new().await;
    let case = f.submit("p13-subscriber-plus-traffic", "XA-1", t0()).await;
    let proposed = assessment(&f.case(case).await)
        .narrowed
        .expect("a proposal");
    let c = f
        .decide(case, &rita(), decision(DecisionKind::ExecuteNarrowed), t0())
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::Executing);
    let terms = recorded(&c).narrowed.unwrap();
    assert_eq!(terms.data_categories, proposed.data_categories);
    assert_eq!(terms.period, proposed.period);
}

#[tokio::test]
async fn execute_narrowed_is_refused_where_the_assessment_proposes_nothing() {
    let f = Fixture::new().await;
    let case = f.submit("p01-ransomware-production", "XA-1", t0()).await;
    let p = refused(
        f.decide(case, &rita(), decision(DecisionKind::ExecuteNarrowed), t0())
            .await,
        422,
        "invalid-decision",
    );
    assert_eq!(p.errors[0].pointer, "$.narrowed");
    assert_eq!(f.case(case).await.status, CaseStatus::Assessed);
}

fn terms_of(f_request: &str) -> NarrowedTerms {
    let r = custos_model::parse_request(f_request.as_bytes()).unwrap();
    NarrowedTerms {
        data_categories: r.data_categories,
        period: r.period,
        confidentiality_until: r.confidentiality.as_ref().and_then(|c| c.until),
        targets: None,
        target_reasons: Default::default(),
    }
}

#[tokio::test]
async fn a_narrowing_that_adds_a_data_category_is_refused() {
    let f = Fixture::new().await;
    let case = f.submit("p13-subscriber-plus-traffic", "XA-1", t0()).await;
    let mut terms = terms_of(&f.case(case).await.request_json);
    terms.data_categories.insert(DataCategory::Content);
    let p = refused(
        f.decide(case, &rita(), narrowed_decision(terms), t0())
            .await,
        422,
        "invalid-decision",
    );
    assert_eq!(p.errors[0].pointer, "$.narrowed.data_categories");
    assert!(p.detail.contains("content"), "{}", p.detail);
    assert_eq!(f.case(case).await.status, CaseStatus::Assessed);
}

#[tokio::test]
async fn a_narrowing_to_no_data_at_all_is_refused() {
    let f = Fixture::new().await;
    let case = f.submit("p13-subscriber-plus-traffic", "XA-1", t0()).await;
    let mut terms = terms_of(&f.case(case).await.request_json);
    terms.data_categories = DataCategories::of(&[]);
    let p = refused(
        f.decide(case, &rita(), narrowed_decision(terms), t0())
            .await,
        422,
        "invalid-decision",
    );
    assert_eq!(p.errors[0].pointer, "$.narrowed.data_categories");
}

#[tokio::test]
async fn a_narrowing_that_reaches_outside_the_period_asked_is_refused() {
    let f = Fixture::new().await;
    let case = f.submit("p13-subscriber-plus-traffic", "XA-1", t0()).await;
    let asked = terms_of(&f.case(case).await.request_json);
    let p0 = asked.period.unwrap();
    let mut wider = asked.clone();
    wider.data_categories = DataCategories::of(&[DataCategory::Subscriber]);
    wider.period = Some(Period {
        from: p0.from - secs(1),
        to: p0.to,
    });
    let p = refused(
        f.decide(case, &rita(), narrowed_decision(wider), t0())
            .await,
        422,
        "invalid-decision",
    );
    assert_eq!(p.errors[0].pointer, "$.narrowed.period");
    // The same period, or a shorter one, is a narrowing.
    let mut inside = asked;
    inside.data_categories = DataCategories::of(&[DataCategory::Subscriber]);
    inside.period = Some(Period {
        from: p0.from + days(1),
        to: p0.to,
    });
    let c = f
        .decide(case, &rita(), narrowed_decision(inside.clone()), t0())
        .await
        .unwrap();
    assert_eq!(recorded(&c).narrowed, Some(inside));
}

#[tokio::test]
async fn a_narrowing_that_lengthens_secrecy_is_refused() {
    let f = Fixture::new().await;
    let until = t0() + days(30);
    let s = f.submission_with("p09-gag-unbounded", "XA-1", t0(), |r| {
        r["confidentiality"]["until"] = until.to_string().into();
    });
    let case = case_id(&f.submit_as(s, Some(f.authority.clone())).await.unwrap());
    let mut terms = terms_of(&f.case(case).await.request_json);
    assert_eq!(terms.confidentiality_until, Some(until));
    terms.confidentiality_until = Some(until + secs(1));
    let p = refused(
        f.decide(case, &rita(), narrowed_decision(terms.clone()), t0())
            .await,
        422,
        "invalid-decision",
    );
    assert_eq!(p.errors[0].pointer, "$.narrowed.confidentiality_until");
    terms.confidentiality_until = Some(until - days(10));
    f.decide(case, &rita(), narrowed_decision(terms), t0())
        .await
        .unwrap();
}

#[tokio::test]
async fn secrecy_cannot_be_imposed_where_none_was_asked() {
    let f = Fixture::new().await;
    let case = f.submit("p13-subscriber-plus-traffic", "XA-1", t0()).await;
    let mut terms = terms_of(&f.case(case).await.request_json);
    terms.data_categories = DataCategories::of(&[DataCategory::Subscriber]);
    terms.confidentiality_until = Some(t0() + days(10));
    let p = refused(
        f.decide(case, &rita(), narrowed_decision(terms), t0())
            .await,
        422,
        "invalid-decision",
    );
    assert_eq!(p.errors[0].pointer, "$.narrowed.confidentiality_until");
}

#[tokio::test]
async fn narrowed_terms_on_a_decision_other_than_execute_narrowed_are_refused() {
    let f = Fixture::new().await;
    let case = f.submit("p13-subscriber-plus-traffic", "XA-1", t0()).await;
    let input = DecisionInput {
        narrowed: Some(terms_of(&f.case(case).await.request_json).into()),
        ..decision(DecisionKind::Execute)
    };
    let p = refused(
        f.decide(case, &rita(), input, t0()).await,
        422,
        "invalid-decision",
    );
    assert_eq!(p.errors[0].pointer, "$.narrowed");
}

#[tokio::test]
async fn an_auditor_cannot_decide_and_nothing_is_recorded() {
    let f = Fixture::new().await;
    let case = f.submit("p01-ransomware-production", "XA-1", t0()).await;
    let size = f.log_size().await;
    let p = refused(
        f.decide(case, &aud(), decision(DecisionKind::Execute), t0())
            .await,
        403,
        "read-only",
    );
    assert!(p.detail.contains("aud is an auditor"), "{}", p.detail);
    assert_eq!(f.log_size().await, size);
    assert_eq!(f.case(case).await.status, CaseStatus::Assessed);
}

#[tokio::test]
async fn a_supervisor_may_decide_like_a_reviewer() {
    let f = Fixture::new().await;
    let case = f.submit("p04-defamation-2y", "XA-1", t0()).await;
    let c = f
        .decide(case, &sue(), decision(DecisionKind::Refuse), t0())
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::Refused);
    assert_eq!(recorded(&c).reviewer, "sue");
}

#[tokio::test]
async fn a_decision_without_a_reason_is_refused() {
    let f = Fixture::new().await;
    let case = f.submit("p04-defamation-2y", "XA-1", t0()).await;
    let input = DecisionInput {
        reason: " \n".into(),
        ..decision(DecisionKind::Refuse)
    };
    let p = refused(
        f.decide(case, &rita(), input, t0()).await,
        422,
        "invalid-decision",
    );
    assert_eq!(p.errors[0].pointer, "$.reason");
}

#[tokio::test]
async fn departing_from_the_assessment_needs_a_full_sentence() {
    let f = Fixture::new().await;
    let case = f.submit("p01-ransomware-production", "XA-1", t0()).await;
    let curt = DecisionInput {
        reason: "No".into(),
        ..decision(DecisionKind::Refuse)
    };
    let p = refused(
        f.decide(case, &rita(), curt, t0()).await,
        422,
        "invalid-decision",
    );
    assert!(
        p.detail.contains("departs from the assessment"),
        "{}",
        p.detail
    );
    // Following the assessment, a word is enough.
    let c = f
        .decide(
            case,
            &rita(),
            DecisionInput {
                reason: "Agreed".into(),
                ..decision(DecisionKind::Execute)
            },
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::Executing);
}

#[tokio::test]
async fn grounds_must_be_findings_of_the_cases_assessment() {
    let f = Fixture::new().await;
    let case = f.submit("p04-defamation-2y", "XA-1", t0()).await;
    let input = DecisionInput {
        grounds: vec!["death-penalty".into()],
        ..decision(DecisionKind::Refuse)
    };
    let p = refused(
        f.decide(case, &rita(), input, t0()).await,
        422,
        "invalid-decision",
    );
    assert_eq!(p.errors[0].pointer, "$.grounds[0]");
}

#[tokio::test]
async fn a_case_is_decided_once() {
    let f = Fixture::new().await;
    let case = f
        .decided("p04-defamation-2y", "XA-1", DecisionKind::Refuse, t0())
        .await;
    refused(
        f.decide(case, &sue(), decision(DecisionKind::Execute), t0())
            .await,
        409,
        "already-decided",
    );
    assert_eq!(f.case(case).await.status, CaseStatus::Refused);
}

#[tokio::test]
async fn a_decision_on_a_case_the_node_does_not_have_is_not_found() {
    let f = Fixture::new().await;
    let p = refused(
        f.decide(42, &rita(), decision(DecisionKind::Refuse), t0())
            .await,
        404,
        "not-found",
    );
    assert!(p.detail.contains("no case 42"), "{}", p.detail);
}

// Four eyes: executing over a `refuse` recommendation.

/// A case the assessment recommends refusing, with Rita's proposal to execute it pending.
async fn proposed_over_refusal(f: &Fixture, proposer: &custos_store::User) -> i64 {
    let case = f.submit("p12-death-penalty", "XA-P", t0()).await;
    assert_eq!(outcome(&f.case(case).await), "refuse");
    let c = f
        .decide(case, proposer, decision(DecisionKind::Execute), t0())
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::AwaitingSecondReview);
    case
}

#[tokio::test]
async fn executing_over_a_refusal_recommendation_waits_for_a_second_reviewer() {
    let f = Fixture::new().await;
    let case = proposed_over_refusal(&f, &rita()).await;
    let c = f.case(case).await;
    assert!(c.decision.is_none(), "nothing is in force yet");
    assert_eq!(pending(&c).unwrap().reviewer, "rita");
    assert_eq!(
        f.case_events(case).await.last().unwrap(),
        "decision.proposed"
    );
    assert!(f.notice(case).await.is_none(), "execution has not started");
}

#[tokio::test]
async fn the_proposer_cannot_give_the_second_review() {
    let f = Fixture::new().await;
    let case = proposed_over_refusal(&f, &sue()).await;
    let size = f.log_size().await;
    refused(
        f.second_review(case, &sue(), confirm(true), t0()).await,
        403,
        "same-reviewer",
    );
    assert_eq!(f.case(case).await.status, CaseStatus::AwaitingSecondReview);
    assert_eq!(f.log_size().await, size);
}

#[tokio::test]
async fn a_reviewer_or_an_auditor_cannot_give_the_second_review() {
    let f = Fixture::new().await;
    let case = proposed_over_refusal(&f, &rita()).await;
    let p = refused(
        f.second_review(case, &rex(), confirm(true), t0()).await,
        403,
        "role",
    );
    assert!(p.detail.contains("supervisor"), "{}", p.detail);
    refused(
        f.second_review(case, &aud(), confirm(true), t0()).await,
        403,
        "read-only",
    );
    assert_eq!(f.case(case).await.status, CaseStatus::AwaitingSecondReview);
}

#[tokio::test]
async fn a_different_supervisor_confirms_and_execution_starts() {
    let f = Fixture::new().await;
    let case = proposed_over_refusal(&f, &sue()).await;
    let at = t0() + days(1);
    let c = f
        .second_review(case, &sam(), confirm(true), at)
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::Executing);
    assert!(c.pending_decision.is_none());
    let d = recorded(&c);
    assert_eq!(
        (d.reviewer.as_str(), d.confirmed_by.as_deref()),
        ("sue", Some("sam"))
    );
    let events = f.store.case_events(case).await.unwrap();
    let [last, told] = &events[events.len() - 2..] else {
        unreachable!()
    };
    assert_eq!(event_type(last), "decision.recorded");
    assert_eq!(event_type(told), "reply.communicated");
    assert_eq!(
        body(last)["second_review_reason"],
        "The second reviewer read the case and the proposal."
    );
    assert!(f.notice(case).await.is_some(), "execution started");
}

#[tokio::test]
async fn a_rejected_second_review_sends_the_case_back_for_a_new_decision() {
    let f = Fixture::new().await;
    let case = proposed_over_refusal(&f, &rita()).await;
    let c = f
        .second_review(case, &sue(), confirm(false), t0())
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::Assessed);
    assert!(c.pending_decision.is_none() && c.decision.is_none());
    assert_eq!(
        f.case_events(case).await.last().unwrap(),
        "decision.second_review_rejected"
    );
    assert!(f.notice(case).await.is_none());
    // Back in the queue: a new decision can be recorded.
    let c = f
        .decide(case, &rita(), decision(DecisionKind::Refuse), t0())
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::Refused);
}

#[tokio::test]
async fn a_second_review_without_a_pending_decision_is_refused() {
    let f = Fixture::new().await;
    let case = f.submit("p01-ransomware-production", "XA-1", t0()).await;
    refused(
        f.second_review(case, &sue(), confirm(true), t0()).await,
        409,
        "no-pending-decision",
    );
    // Nor twice.
    let case = proposed_over_refusal(&f, &rita()).await;
    f.second_review(case, &sue(), confirm(true), t0())
        .await
        .unwrap();
    refused(
        f.second_review(case, &sam(), confirm(true), t0()).await,
        409,
        "no-pending-decision",
    );
}

#[tokio::test]
async fn following_a_refusal_recommendation_needs_no_second_reviewer() {
    let f = Fixture::new().await;
    let case = f.submit("p12-death-penalty", "XA-1", t0()).await;
    let c = f
        .decide(case, &rita(), decision(DecisionKind::Refuse), t0())
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::Refused);
    assert!(c.pending_decision.is_none());
}

// Four eyes wherever a safeguard is waived: executing over `needs_information`.

#[tokio::test]
async fn executing_over_a_request_for_information_waits_for_a_second_reviewer() {
    let f = Fixture::new().await;
    let case = f.submit("p17-no-data-protection-terms", "XA-1", t0()).await;
    assert_eq!(outcome(&f.case(case).await), "needs_information");
    let c = f
        .decide(case, &rita(), decision(DecisionKind::Execute), t0())
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::AwaitingSecondReview);
    assert!(c.decision.is_none(), "nothing is in force yet");
    assert_eq!(pending(&c).unwrap().reviewer, "rita");
    assert_eq!(
        f.case_events(case).await.last().unwrap(),
        "decision.proposed"
    );
    assert!(f.notice(case).await.is_none(), "execution has not started");
    // The proposer cannot confirm it, even as a supervisor; a reviewer cannot either.
    refused(
        f.second_review(case, &rex(), confirm(true), t0()).await,
        403,
        "role",
    );
    let c = f
        .second_review(case, &sue(), confirm(true), t0() + days(1))
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::Executing);
    assert_eq!(recorded(&c).confirmed_by.as_deref(), Some("sue"));
    assert_eq!(f.findings().await, Vec::<String>::new());
}

#[tokio::test]
async fn executing_narrowed_over_a_request_for_information_needs_a_second_reviewer_too() {
    let f = Fixture::new().await;
    let case = f.submit("p08-emergency-unjustified", "XA-1", t0()).await;
    assert_eq!(outcome(&f.case(case).await), "needs_information");
    // An emergency: executed only once its authority confirmed it (emergency.rs).
    f.confirm_emergency(case, t0()).await.unwrap();
    let asked = custos_model::parse_request(f.case(case).await.request_json.as_bytes()).unwrap();
    let terms = NarrowedTerms {
        data_categories: asked.data_categories,
        period: asked.period,
        confidentiality_until: None,
        targets: None,
        target_reasons: Default::default(),
    };
    let c = f
        .decide(case, &sue(), narrowed_decision(terms), t0())
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::AwaitingSecondReview);
    refused(
        f.second_review(case, &sue(), confirm(true), t0()).await,
        403,
        "same-reviewer",
    );
}

// A reason per referred finding: executing over `refer_for_review`.

/// Thirty phones: referred for review for the number of targets alone (rights-first).
async fn referred(f: &Fixture, id: &str) -> i64 {
    let case = f.submit("p11-thirty-phones", id, t0()).await;
    assert_eq!(outcome(&f.case(case).await), "refer_for_review");
    case
}

fn with_reasons(kind: DecisionKind, reasons: &[(&str, &str)]) -> DecisionInput {
    DecisionInput {
        finding_reasons: reasons
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..decision(kind)
    }
}

#[tokio::test]
async fn executing_over_a_referral_without_a_reason_for_its_finding_is_refused() {
    let f = Fixture::new().await;
    let case = referred(&f, "XA-1").await;
    let size = f.log_size().await;
    for input in [
        decision(DecisionKind::Execute),
        with_reasons(DecisionKind::Execute, &[("too-many-targets", " \n ")]),
    ] {
        let p = refused(
            f.decide(case, &rita(), input, t0()).await,
            422,
            "invalid-decision",
        );
        assert_eq!(p.errors.len(), 1, "{p:?}");
        assert_eq!(p.errors[0].pointer, "$.finding_reasons.too-many-targets");
    }
    assert_eq!(f.log_size().await, size, "nothing was logged");
    assert_eq!(f.case(case).await.status, CaseStatus::Assessed);
}

#[tokio::test]
async fn executing_over_a_referral_with_a_reason_per_finding_is_recorded_with_them() {
    let f = Fixture::new().await;
    let case = referred(&f, "XA-1").await;
    let reason = "All thirty numbers belong to the one extortion ring named in the facts.";
    let c = f
        .decide(
            case,
            &rita(),
            with_reasons(DecisionKind::Execute, &[("too-many-targets", reason)]),
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::Executing, "one reviewer suffices");
    assert_eq!(recorded(&c).finding_reasons["too-many-targets"], reason);
    let events = f.store.case_events(case).await.unwrap();
    let recorded = events
        .iter()
        .find(|e| event_type(e) == "decision.recorded")
        .unwrap();
    assert_eq!(
        body(recorded)["decision"]["finding_reasons"]["too-many-targets"],
        reason
    );
    // Internal: what the requester is told carries no finding and no reason for one.
    let told = events.last().unwrap();
    assert_eq!(event_type(told), "reply.communicated");
    assert!(!told.body.contains("too-many-targets") && !told.body.contains(reason));
    assert_eq!(f.findings().await, Vec::<String>::new());
}

#[tokio::test]
async fn every_referred_finding_needs_its_own_reason() {
    let f = Fixture::new().await;
    // Thirty phones and an unlawful-access charge that does not exclude good-faith research:
    // two findings referred for review.
    let s = f.submission_with("p11-thirty-phones", "XA-1", t0(), |r| {
        r["investigation"]["offences"][0]["category"] = "illegal_access".into();
        r["investigation"]["good_faith_research_excluded"] = false.into();
    });
    let current = f.logged_authority(&f.authority.kid).await;
    let case = case_id(&f.submit_as(s, current).await.unwrap());
    let referred: Vec<String> = assessment(&f.case(case).await)
        .findings
        .iter()
        .filter(|x| x.severity == custos_model::Severity::ReferForReview)
        .map(|x| x.code.clone())
        .collect();
    assert_eq!(referred, ["security-research", "too-many-targets"]);
    let p = refused(
        f.decide(
            case,
            &rita(),
            with_reasons(
                DecisionKind::Execute,
                &[(
                    "too-many-targets",
                    "One ring, thirty phones, all named in the facts.",
                )],
            ),
            t0(),
        )
        .await,
        422,
        "invalid-decision",
    );
    assert_eq!(p.errors.len(), 1, "{p:?}");
    assert_eq!(p.errors[0].pointer, "$.finding_reasons.security-research");
}

#[tokio::test]
async fn a_reason_for_a_finding_that_is_not_referred_is_refused() {
    let f = Fixture::new().await;
    // False information: refused for expression, referred for the serious-harm test.
    let case = f.submit("p03-false-information-15y", "XA-1", t0()).await;
    for code in ["expression-offence", "no-such-finding"] {
        let p = refused(
            f.decide(
                case,
                &rita(),
                with_reasons(DecisionKind::Refuse, &[(code, "A reason.")]),
                t0(),
            )
            .await,
            422,
            "invalid-decision",
        );
        assert_eq!(p.errors[0].pointer, format!("$.finding_reasons.{code}"));
        assert!(p.detail.contains("serious-harm-test"), "{}", p.detail);
    }
    // A reason for the referred finding is welcome on a refusal, though not required.
    let c = f
        .decide(
            case,
            &rita(),
            with_reasons(
                DecisionKind::Refuse,
                &[("serious-harm-test", "No harm to anyone is described.")],
            ),
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::Refused);
}

#[tokio::test]
async fn other_decisions_over_a_referral_need_no_finding_reasons() {
    let f = Fixture::new().await;
    let case = referred(&f, "XA-1").await;
    let c = f
        .decide(case, &rita(), decision(DecisionKind::Refuse), t0())
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::Refused);
    let case = referred(&f, "XA-2").await;
    let c = f
        .decide(
            case,
            &rita(),
            decision(DecisionKind::RequestInformation),
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::AwaitingInformation);
}

// The replay states the same rules independently: a log that breaks them is named.

/// Appends a `decision.recorded` event executing `case` by Rita, unconfirmed, without `ops`:
/// what a node that skipped the rule would have logged.
async fn executed_behind_the_rules(f: &Fixture, case: i64, input: DecisionInput) {
    use custos_model::EventType;
    use custos_store::NewEvent;
    let d = custos_service::ops::RecordedDecision {
        decision: input.decision,
        reason: input.reason,
        reviewer: "rita".into(),
        confirmed_by: None,
        narrowed: None,
        grounds: vec![],
        finding_reasons: input.finding_reasons,
        internal_note: None,
        conditions: vec![],
        at: t0(),
    };
    f.unsigned_batch(move |b, _| {
        Box::pin(async move {
            b.append(&NewEvent {
                event_type: EventType::DecisionRecorded,
                at: t0(),
                case_id: Some(case),
                body: serde_json::json!({ "decision": d }),
            })
            .await?;
            Ok(())
        })
    })
    .await;
}

#[tokio::test]
async fn the_audit_names_an_execution_over_a_request_for_information_without_four_eyes() {
    let f = Fixture::new().await;
    let case = f.submit("p17-no-data-protection-terms", "XA-1", t0()).await;
    executed_behind_the_rules(&f, case, decision(DecisionKind::Execute)).await;
    let findings = f.findings().await;
    assert!(
        findings.iter().any(|x| x.starts_with("four-eyes")
            && x.contains("over a needs_information recommendation without a second reviewer")),
        "{findings:#?}"
    );
}

#[tokio::test]
async fn the_audit_names_an_execution_over_a_referral_without_finding_reasons() {
    let f = Fixture::new().await;
    let case = referred(&f, "XA-1").await;
    executed_behind_the_rules(&f, case, decision(DecisionKind::Execute)).await;
    let findings = f.findings().await;
    assert!(
        findings.iter().any(
            |x| x.starts_with("reasons") && x.contains("without a reason for too-many-targets")
        ),
        "{findings:#?}"
    );
    // With its reason, the same execution is not named.
    let f = Fixture::new().await;
    let case = referred(&f, "XA-1").await;
    executed_behind_the_rules(
        &f,
        case,
        with_reasons(DecisionKind::Execute, &[("too-many-targets", "One ring.")]),
    )
    .await;
    let findings = f.findings().await;
    assert!(
        !findings.iter().any(|x| x.starts_with("reasons")),
        "{findings:#?}"
    );
}
