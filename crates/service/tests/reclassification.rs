//! Reclassification through `ops::reclassify` and `ops::second_review`: a reviewer corrects an
//! offence's category or maximum penalty, the node assesses the corrected facts with its own
//! assessor, both assessments are kept and logged, and a correction that lightens the
//! recommendation waits for a second reviewer.

use custos_model::{MaxPenalty, OffenceCategory, Outcome, Request};
use custos_service::ops::{DecisionKind, ReclassificationInput};
use custos_store::CaseStatus;
use serde_json::json;

use crate::fixture::*;

fn request_of(c: &custos_service::ops::Case) -> Request {
    serde_json::from_str(&c.request_json).unwrap()
}

/// The pointer of a refusal's only field problem.
#[track_caller]
fn pointer(p: &custos_service::Problem) -> &str {
    assert_eq!(p.errors.len(), 1, "{p:?}");
    &p.errors[0].pointer
}

#[tokio::test]
async fn a_correction_that_makes_the_recommendation_stricter_is_applied_at_once() {
    let f = Fixture::new().await;
    // Ransomware, as classified: execute.
    let case = f.submit("p01-ransomware-production", "XA-1", t0()).await;
    let before = f.case(case).await;
    assert_eq!(before.outcome, Outcome::Execute);
    let at = t0() + days(1);
    let c = f
        .reclassify(
            case,
            &rita(),
            correction(&[(0, json!({"category": "defamation_or_insult"}))]),
            at,
        )
        .await
        .unwrap();
    // The node assessed the corrected facts: an expression offence is refused under rights-first.
    assert_eq!(c.outcome, Outcome::Refuse);
    assert_eq!(c.status, CaseStatus::Assessed);
    assert!(
        c.assessment
            .findings
            .iter()
            .any(|x| x.code == "expression-offence")
    );
    // Both assessments are kept: the original beside the correction in force.
    let r = c.reclassification.clone().expect("a reclassification");
    assert_eq!(r.original, before.assessment);
    assert!(r.pending.is_none());
    assert_eq!(r.corrections.len(), 1);
    let k = &r.corrections[0];
    assert_eq!(
        (k.reviewer.as_str(), k.confirmed_by.as_deref(), k.at),
        ("rita", None, at)
    );
    assert_eq!(
        (k.outcome_before, k.outcome_after),
        (Outcome::Execute, Outcome::Refuse)
    );
    let o = &k.offences[0];
    assert_eq!(o.index, 0);
    assert_eq!(o.name, "Serious interference with a computer system");
    assert_eq!(o.from.category, OffenceCategory::SystemInterference);
    assert_eq!(o.to.category, OffenceCategory::DefamationOrInsult);
    assert_eq!(o.from.max_penalty, o.to.max_penalty, "the penalty stays");
    // The signed request is untouched: the correction lives beside it.
    assert_eq!(c.request_json, before.request_json);
    // Logged with the correction and the new assessment.
    assert_eq!(
        f.case_events(case).await,
        [
            "request.received",
            "request.assessed",
            "request.reclassified"
        ]
    );
    let events = f.store.case_events(case).await.unwrap();
    let b = body(events.last().unwrap());
    assert_eq!(
        b["reclassification"]["offences"][0]["to"]["category"],
        "defamation_or_insult"
    );
    assert_eq!(
        b["reclassification"]["reason"],
        "The conduct described is not what the requester's label says."
    );
    assert_eq!(b["assessment"]["outcome"], "refuse");
    // The original assessment stays in the log.
    assert_eq!(body(&events[1])["assessment"]["outcome"], "execute");
    assert_eq!(f.findings().await, Vec::<String>::new());
}

#[tokio::test]
async fn the_node_reassesses_the_corrected_facts_as_of_the_assessment_it_corrects() {
    let f = Fixture::new().await;
    let case = f.submit("p12-death-penalty", "XA-1", t0()).await;
    let before = f.case(case).await;
    // Days later, a correction of the penalty and the category of the only offence.
    let c = f
        .reclassify(
            case,
            &rita(),
            correction(&[(
                0,
                json!({"category": "false_information", "max_penalty": 20}),
            )]),
            t0() + days(3),
        )
        .await
        .unwrap();
    let mut corrected = request_of(&before);
    corrected.investigation.offences[0].category = OffenceCategory::FalseInformation;
    corrected.investigation.offences[0].max_penalty = MaxPenalty::Years(20.0);
    let expected = f
        .assessor
        .assess(&corrected, before.assessment.assessed_at)
        .unwrap();
    assert_eq!(
        c.assessment, expected,
        "the node's assessor on the corrected facts"
    );
    assert_eq!(c.respond_by, before.respond_by, "no deadline moves");
    assert_eq!(c.assessment.profile, before.assessment.profile);
}

/// Death penalty (refused under rights-first) corrected to 20 years by `proposer`: the
/// recommendation would become `execute`, so it is proposed.
async fn proposed_correction(f: &Fixture, proposer: &custos_store::User) -> i64 {
    let case = f.submit("p12-death-penalty", "XA-P", t0()).await;
    assert_eq!(f.case(case).await.outcome, Outcome::Refuse);
    let c = f
        .reclassify(
            case,
            proposer,
            correction(&[(0, json!({"max_penalty": 20}))]),
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::AwaitingSecondReview);
    case
}

#[tokio::test]
async fn a_correction_that_turns_a_refusal_into_an_execution_waits_for_a_second_reviewer() {
    let f = Fixture::new().await;
    let case = proposed_correction(&f, &rita()).await;
    let c = f.case(case).await;
    // Nothing is in force yet: the case is still assessed as before.
    assert_eq!(c.outcome, Outcome::Refuse);
    let r = c.reclassification.clone().unwrap();
    assert!(r.corrections.is_empty());
    let p = r.pending.expect("a pending correction");
    assert_eq!(p.reclassification.reviewer, "rita");
    assert_eq!(
        (p.reclassification.outcome_before, p.assessment.outcome),
        (Outcome::Refuse, Outcome::Execute)
    );
    assert_eq!(
        f.case_events(case).await.last().unwrap(),
        "request.reclassification_proposed"
    );
    // While it waits, no decision and no other correction.
    refused(
        f.decide(case, &rex(), decision(DecisionKind::Execute), t0())
            .await,
        409,
        "awaiting-second-review",
    );
    refused(
        f.reclassify(
            case,
            &rex(),
            correction(&[(0, json!({"max_penalty": 12}))]),
            t0(),
        )
        .await,
        409,
        "awaiting-second-review",
    );
    assert_eq!(f.findings().await, Vec::<String>::new());
}

#[tokio::test]
async fn only_another_supervisor_confirms_a_correction() {
    let f = Fixture::new().await;
    let case = proposed_correction(&f, &sue()).await;
    let size = f.log_size().await;
    refused(
        f.second_review(case, &sue(), confirm(true), t0()).await,
        403,
        "same-reviewer",
    );
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
    let blank = custos_service::ops::SecondReviewInput {
        confirm: true,
        reason: " ".into(),
    };
    refused(
        f.second_review(case, &sam(), blank, t0()).await,
        422,
        "invalid-decision",
    );
    assert_eq!(f.log_size().await, size, "nothing was logged");
    assert_eq!(f.case(case).await.status, CaseStatus::AwaitingSecondReview);
}

#[tokio::test]
async fn a_confirmed_correction_takes_effect_and_the_case_can_be_executed_by_one_reviewer() {
    let f = Fixture::new().await;
    let case = proposed_correction(&f, &sue()).await;
    let at = t0() + days(1);
    let c = f
        .second_review(case, &sam(), confirm(true), at)
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::Assessed);
    assert_eq!(c.outcome, Outcome::Execute);
    let r = c.reclassification.clone().unwrap();
    assert!(r.pending.is_none());
    assert_eq!(r.original.outcome, Outcome::Refuse, "the original is kept");
    let k = &r.corrections[0];
    assert_eq!(
        (k.reviewer.as_str(), k.confirmed_by.as_deref()),
        ("sue", Some("sam"))
    );
    let events = f.store.case_events(case).await.unwrap();
    let last = events.last().unwrap();
    assert_eq!(event_type(last), "request.reclassified");
    assert_eq!(body(last)["reclassification"]["confirmed_by"], "sam");
    assert_eq!(
        body(last)["second_review_reason"],
        "The second reviewer read the case and the proposal."
    );
    // Now the recommendation is to execute: one reviewer may follow it.
    let c = f
        .decide(case, &rita(), decision(DecisionKind::Execute), at)
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::Executing);
    assert_eq!(f.findings().await, Vec::<String>::new());
}

#[tokio::test]
async fn a_rejected_correction_leaves_the_assessment_as_it_was() {
    let f = Fixture::new().await;
    let case = proposed_correction(&f, &rita()).await;
    let c = f
        .second_review(case, &sue(), confirm(false), t0())
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::Assessed);
    assert_eq!(c.outcome, Outcome::Refuse);
    let r = c.reclassification.clone().unwrap();
    assert!(r.pending.is_none() && r.corrections.is_empty());
    let events = f.store.case_events(case).await.unwrap();
    let last = events.last().unwrap();
    assert_eq!(event_type(last), "request.reclassification_rejected");
    assert_eq!(body(last)["reviewer"], "sue");
    assert_eq!(body(last)["proposed"]["reviewer"], "rita");
    // Nothing pending any more.
    refused(
        f.second_review(case, &sam(), confirm(true), t0()).await,
        409,
        "no-pending-decision",
    );
    assert_eq!(f.findings().await, Vec::<String>::new());
}

#[tokio::test]
async fn any_correction_that_lightens_the_recommendation_needs_a_second_reviewer() {
    let f = Fixture::new().await;
    // "False information" (refused) relabelled fraud: referred for review, still lighter.
    let case = f.submit("p03-false-information-15y", "XA-1", t0()).await;
    let c = f
        .reclassify(
            case,
            &rita(),
            correction(&[(0, json!({"category": "fraud"}))]),
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::AwaitingSecondReview);
    assert_eq!(
        c.reclassification
            .unwrap()
            .pending
            .unwrap()
            .assessment
            .outcome,
        Outcome::ReferForReview
    );
    // A correction that keeps the recommendation as severe needs no second reviewer.
    let case = f.submit("p04-defamation-2y", "XA-2", t0()).await;
    let c = f
        .reclassify(
            case,
            &rita(),
            correction(&[(0, json!({"max_penalty": 3}))]),
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(
        (c.status, c.outcome),
        (CaseStatus::Assessed, Outcome::Refuse)
    );
    assert_eq!(f.findings().await, Vec::<String>::new());
}

#[tokio::test]
async fn corrections_accumulate_and_the_original_assessment_stays() {
    let f = Fixture::new().await;
    let case = f.submit("p01-ransomware-production", "XA-1", t0()).await;
    let original = f.case(case).await.assessment;
    f.reclassify(
        case,
        &rita(),
        correction(&[(1, json!({"max_penalty": "death"}))]),
        t0(),
    )
    .await
    .unwrap();
    let c = f
        .reclassify(
            case,
            &rex(),
            correction(&[(0, json!({"category": "illegal_access"}))]),
            t0(),
        )
        .await
        .unwrap();
    let r = c.reclassification.clone().unwrap();
    assert_eq!(r.original, original);
    assert_eq!(r.corrections.len(), 2);
    // The second correction starts from the first: offence 1 is still punishable by death.
    assert_eq!(
        r.corrections[1].offences[0].from.category,
        OffenceCategory::SystemInterference
    );
    let now = r.classification(&request_of(&c));
    assert_eq!(now[0].category, OffenceCategory::IllegalAccess);
    assert_eq!(now[1].max_penalty, MaxPenalty::Death);
    assert!(
        c.assessment
            .findings
            .iter()
            .any(|x| x.code == "death-penalty")
    );
    // Correcting offence 1 to what it already is now is refused.
    let p = refused(
        f.reclassify(
            case,
            &rita(),
            correction(&[(1, json!({"max_penalty": "death"}))]),
            t0(),
        )
        .await,
        422,
        "invalid-reclassification",
    );
    assert_eq!(pointer(&p), "$.offences[0]");
    assert!(p.detail.contains("already classified"), "{}", p.detail);
    assert_eq!(f.findings().await, Vec::<String>::new());
}

#[tokio::test]
async fn a_bad_correction_is_refused_with_a_pointer_and_nothing_is_logged() {
    let f = Fixture::new().await;
    let case = f.submit("p01-ransomware-production", "XA-1", t0()).await;
    let size = f.log_size().await;
    let with_reason = |reason: &str| ReclassificationInput {
        reason: reason.into(),
        ..correction(&[(0, json!({"category": "fraud"}))])
    };
    let cases: Vec<(ReclassificationInput, &str)> = vec![
        (with_reason("  "), "$.reason"),
        (with_reason("pretext"), "$.reason"),
        (
            ReclassificationInput {
                offences: vec![],
                ..with_reason("The label does not fit the conduct described.")
            },
            "$.offences",
        ),
        (
            correction(&[(2, json!({"category": "fraud"}))]),
            "$.offences[0].index",
        ),
        (
            correction(&[
                (0, json!({"category": "fraud"})),
                (0, json!({"max_penalty": 2})),
            ]),
            "$.offences[1].index",
        ),
        (correction(&[(1, json!({}))]), "$.offences[0]"),
        (
            correction(&[(
                0,
                json!({"category": "system_interference", "max_penalty": 10}),
            )]),
            "$.offences[0]",
        ),
    ];
    for (input, at) in cases {
        let p = refused(
            f.reclassify(case, &rita(), input, t0()).await,
            422,
            "invalid-reclassification",
        );
        assert_eq!(pointer(&p), at, "{p:?}");
    }
    assert_eq!(f.log_size().await, size);
    assert!(f.case(case).await.reclassification.is_none());
}

#[tokio::test]
async fn auditors_cannot_reclassify_and_supervisors_can() {
    let f = Fixture::new().await;
    let case = f.submit("p01-ransomware-production", "XA-1", t0()).await;
    let fraud = || correction(&[(0, json!({"category": "fraud"}))]);
    let p = refused(
        f.reclassify(case, &aud(), fraud(), t0()).await,
        403,
        "read-only",
    );
    assert!(p.detail.contains("auditor"), "{}", p.detail);
    assert!(f.case(case).await.reclassification.is_none());
    f.reclassify(case, &sue(), fraud(), t0()).await.unwrap();
    refused(
        f.reclassify(42, &rita(), fraud(), t0()).await,
        404,
        "not-found",
    );
}

#[tokio::test]
async fn a_decided_case_is_not_reclassified() {
    let f = Fixture::new().await;
    let case = f
        .decided("p04-defamation-2y", "XA-1", DecisionKind::Refuse, t0())
        .await;
    refused(
        f.reclassify(
            case,
            &rita(),
            correction(&[(0, json!({"category": "fraud"}))]),
            t0(),
        )
        .await,
        409,
        "already-decided",
    );
}

#[tokio::test]
async fn a_supplement_replaces_the_document_and_its_corrections_lapse() {
    let f = Fixture::new().await;
    let case = f.submit("p17-no-data-protection-terms", "XA-1", t0()).await;
    f.reclassify(
        case,
        &rita(),
        correction(&[(1, json!({"category": "defamation_or_insult"}))]),
        t0(),
    )
    .await
    .unwrap();
    f.decide(
        case,
        &rita(),
        decision(DecisionKind::RequestInformation),
        t0(),
    )
    .await
    .unwrap();
    let again = f
        .submit("p01-ransomware-production", "XA-1", t0() + days(1))
        .await;
    assert_eq!(again, case);
    let c = f.case(case).await;
    assert!(c.reclassification.is_none());
    assert_eq!(
        c.outcome,
        Outcome::Execute,
        "assessed as its requester classified it"
    );
    assert_eq!(f.findings().await, Vec::<String>::new());
}

#[tokio::test]
async fn the_writer_reassesses_with_the_nodes_assessor() {
    let f = Fixture::new().await;
    let case = f.submit("p12-death-penalty", "XA-1", t0()).await;
    let w = f.writer().await;
    let c = w
        .reclassify(
            case,
            &rita(),
            correction(&[(0, json!({"max_penalty": 20}))]),
        )
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::AwaitingSecondReview);
    let c = w.second_review(case, &sue(), confirm(true)).await.unwrap();
    assert_eq!(c.outcome, Outcome::Execute);
    assert_eq!(f.findings().await, Vec::<String>::new());
}

#[tokio::test]
async fn a_lightening_correction_logged_without_a_second_reviewer_is_named() {
    use custos_model::EventType;
    use custos_store::NewEvent;

    let f = Fixture::new().await;
    let case = proposed_correction(&f, &rita()).await;
    // As if the node had applied the proposal without its second review.
    let events = f.store.case_events(case).await.unwrap();
    let mut b = body(events.last().unwrap());
    let at = t0() + days(1);
    f.unsigned_batch(move |batch, _| {
        Box::pin(async move {
            b.as_object_mut().unwrap().retain(|k, _| k == "reclassification" || k == "assessment");
            batch
                .append(&NewEvent {
                    event_type: EventType::RequestReclassificationRejected,
                    at,
                    case_id: Some(case),
                    body: json!({"reviewer": "sue", "reason": "No.", "proposed": b["reclassification"]}),
                })
                .await?;
            batch
                .append(&NewEvent {
                    event_type: EventType::RequestReclassified,
                    at,
                    case_id: Some(case),
                    body: b,
                })
                .await?;
            Ok(())
        })
    })
    .await;
    let findings = f.findings().await;
    assert!(
        findings.iter().any(|x| x.starts_with("four-eyes")
            && x.contains("reclassified from refuse to execute without a second reviewer")),
        "{findings:#?}"
    );
}

#[test]
fn an_index_is_a_whole_number_as_json_schema_counts_them() {
    let read = |index: serde_json::Value| {
        serde_json::from_value::<ReclassificationInput>(json!({
            "offences": [{"index": index, "category": "fraud"}], "reason": "x",
        }))
        .map(|r| r.offences[0].index)
    };
    assert_eq!(read(json!(1)).unwrap(), 1);
    assert_eq!(
        read(json!(1.0)).unwrap(),
        1,
        "an integer in JSON Schema's sense"
    );
    assert_eq!(read(json!(1e300)).unwrap(), usize::MAX, "no such offence");
    for bad in [json!(1.5), json!(-1), json!("0"), json!(null)] {
        assert!(read(bad.clone()).is_err(), "{bad}");
    }
}
