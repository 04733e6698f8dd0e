//! The replay against `ops`, in-process on a temporary SQLite store with an injected clock: a
//! whole lifecycle done through `ops` replays to exactly the tables `ops` wrote (no false
//! alarm, which would stop a node from starting), and a row changed without an event is named.

use custos_jose::{PrivateJwk, sign_compact};
use custos_safeguards::{Assessor, Jurisdiction, Profile};
use custos_service::ops::{
    self, Appended, DecisionInput, DecisionKind, LifecycleRules, NewAuthority, SecondReviewInput,
    Submission, SubmitOutcome,
};
use custos_service::replay::{Projections, Signatures};
use custos_store::{Authority, Batch, CaseStatus, Role, Store, User};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use sha2::Digest as _;

const RULES: LifecycleRules = LifecycleRules {
    preservation_days: 90,
};

fn t0() -> Timestamp {
    "2026-06-01T09:00:00Z".parse().unwrap()
}

fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * n)
}

struct Fixture {
    _tmp: tempfile::TempDir,
    store: Store,
    key: PrivateJwk,
    authority: Option<Authority>,
    assessor: Assessor,
}

impl Fixture {
    async fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(&tmp.path().join("custos.db"), true)
            .await
            .unwrap();
        Fixture {
            _tmp: tmp,
            store,
            key: PrivateJwk::from_seed(&[3; 32]),
            authority: None,
            assessor: Assessor::new(
                Profile::builtin("rights-first").unwrap(),
                Jurisdiction::default(),
            ),
        }
    }

    /// Runs `f` in one committed batch.
    async fn batch<T>(
        &self,
        f: impl for<'a> FnOnce(
            &'a mut Batch,
            &'a mut Appended,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<T, custos_service::Problem>> + Send + 'a>,
        >,
    ) -> T {
        let mut b = self.store.begin().await.unwrap();
        let mut out = Vec::new();
        let v = f(&mut b, &mut out).await.unwrap();
        b.commit().await.unwrap();
        v
    }

    fn submission(&self, case: &str, id: &str, at: Timestamp) -> Submission {
        let path = format!(
            "{}/../../testdata/cases/{case}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let mut r = doc["request"].clone();
        r["id"] = id.into();
        r["submitted_at"] = at.to_string().into();
        r["requesting_authority"]["state"] = "XA".into();
        r["channel"] = "mla".into();
        let payload = serde_json::to_string(&r).unwrap();
        let request = custos_model::parse_request(payload.as_bytes()).unwrap();
        Submission {
            authority: self.authority.clone().unwrap(),
            assessment: self.assessor.assess(&request, at).unwrap(),
            request,
            payload_sha256: custos_ledger::Hash(sha2::Sha256::digest(payload.as_bytes()).into()),
            jws: sign_compact(payload.as_bytes(), &self.key, Some("custos.request/v1+jws")),
            payload,
            received_at: at,
        }
    }

    async fn submit(&self, case: &str, id: &str, at: Timestamp) -> i64 {
        let s = self.submission(case, id, at);
        let current = self.authority.clone();
        let outcome = self
            .batch(move |b, out| {
                Box::pin(async move { ops::submit(b, out, &s, current.as_ref()).await })
            })
            .await;
        match outcome {
            SubmitOutcome::Created(c)
            | SubmitOutcome::Supplemented(c)
            | SubmitOutcome::Repeated(c) => c.case_id,
        }
    }

    async fn decide(&self, case: i64, who: &User, decision: DecisionKind, at: Timestamp) {
        let input = DecisionInput {
            decision,
            reason: "The reviewer weighed every finding of the assessment.".into(),
            narrowed: None,
            message: (decision == DecisionKind::RequestInformation)
                .then(|| "Please state the data protection terms.".into()),
            grounds: vec![],
        };
        let who = who.clone();
        self.batch(move |b, out| {
            Box::pin(async move { ops::decide(b, out, &RULES, case, &who, &input, at).await })
        })
        .await;
    }

    async fn findings(&self) -> Vec<String> {
        let events = self.store.events(0, u64::MAX >> 1).await.unwrap();
        let mut p = Projections::replay(&events, Signatures::Verify);
        let tables = custos_service::audit::read_tables(&self.store)
            .await
            .unwrap();
        let mut all: Vec<String> = p.findings.drain(..).map(|f| f.to_string()).collect();
        all.extend(p.diff(&tables).into_iter().map(|f| f.to_string()));
        all
    }
}

fn user(name: &str, role: Role) -> User {
    User {
        name: name.into(),
        role,
        token_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into(),
        added_at: t0(),
        disabled_at: None,
        password_hash: None,
    }
}

async fn lifecycle() -> (Fixture, User, i64) {
    let mut f = Fixture::new().await;
    let jwk = f.key.public();
    let added = f
        .batch(move |b, out| {
            Box::pin(async move {
                let a = ops::add_authority(
                    b,
                    out,
                    &NewAuthority {
                        state: "XA".into(),
                        name: "Central authority of XA".into(),
                        kind: "central_authority".into(),
                        channels: vec!["mla".into()],
                        jwk,
                        age_recipient: None,
                    },
                    t0(),
                )
                .await?;
                for (name, role) in [
                    ("rita", Role::Reviewer),
                    ("sue", Role::Supervisor),
                    ("aud", Role::Auditor),
                ] {
                    ops::add_user(b, out, &user(name, role)).await?;
                }
                ops::set_password(
                    b,
                    out,
                    "rita",
                    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
                    t0(),
                )
                .await?;
                Ok(a)
            })
        })
        .await;
    f.authority = Some(added);
    let rita = user("rita", Role::Reviewer);
    let sue = user("sue", Role::Supervisor);
    let t = t0() + SignedDuration::from_mins(5);

    // A refusal recommendation refused.
    let refused = f.submit("p04-defamation-2y", "XA-1", t).await;
    f.decide(refused, &rita, DecisionKind::Refuse, t).await;
    // A preservation executed, renewed, then lapsed and released by the scheduler.
    let preserved = f.submit("p02-preservation-24-7", "XA-2", t).await;
    f.decide(preserved, &rita, DecisionKind::Execute, t).await;
    let r = rita.clone();
    f.batch(move |b, out| {
        Box::pin(async move { ops::renew_hold(b, out, &RULES, preserved, &r, t + days(1)).await })
    })
    .await;
    // Information asked, then supplied by a second signed version.
    let asked = f.submit("p17-no-data-protection-terms", "XA-3", t).await;
    f.decide(asked, &rita, DecisionKind::RequestInformation, t)
        .await;
    let again = f
        .submit("p01-ransomware-production", "XA-3", t + days(2))
        .await;
    assert_eq!(again, asked);
    // Executing over a refusal: proposed by a reviewer, confirmed by a supervisor, delivered,
    // closed.
    let overridden = f.submit("p12-death-penalty", "XA-4", t).await;
    f.decide(overridden, &rita, DecisionKind::Execute, t).await;
    let s = sue.clone();
    let case = f
        .batch(move |b, out| {
            Box::pin(async move {
                ops::second_review(
                    b,
                    out,
                    &RULES,
                    overridden,
                    &s,
                    &SecondReviewInput {
                        confirm: true,
                        reason: "The assurance is binding.".into(),
                    },
                    t + days(1),
                )
                .await
            })
        })
        .await;
    assert_eq!(case.status, CaseStatus::Executing);
    let r = rita.clone();
    f.batch(move |b, out| {
        Box::pin(async move {
            ops::advance(b, out, overridden, &r, CaseStatus::Delivered, t + days(3)).await?;
            ops::advance(b, out, overridden, &r, CaseStatus::Closed, t + days(4)).await
        })
    })
    .await;
    // A year on: holds lapse, confidentiality ends, notices go out.
    let later = t + days(400);
    let due = f
        .batch(move |b, out| Box::pin(async move { ops::tick(b, out, later).await }))
        .await;
    for n in due {
        f.batch(move |b, out| {
            Box::pin(async move { ops::notice_result(b, out, n.case_id, Ok(()), later).await })
        })
        .await;
    }
    (f, rita, refused)
}

#[tokio::test]
async fn a_lifecycle_done_through_ops_replays_to_exactly_its_tables() {
    let (f, _, _) = lifecycle().await;
    let findings = f.findings().await;
    assert!(findings.is_empty(), "{findings:#?}");
    // It did exercise the projections the diff compares.
    assert!(!f.store.all_holds().await.unwrap().is_empty());
    assert_eq!(
        f.store.all_cases::<ops::Documents>().await.unwrap().len(),
        4
    );
}

#[tokio::test]
async fn a_row_changed_without_an_event_is_named() {
    let (f, _, refused) = lifecycle().await;
    let mut case: ops::Case = f.store.case(refused).await.unwrap().unwrap();
    case.status = CaseStatus::Executing;
    f.batch(move |b, _| Box::pin(async move { Ok(b.put_case(&case).await?) }))
        .await;
    let findings = f.findings().await;
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert!(
        findings[0].contains(&format!("case {refused} differs from its events in status")),
        "{findings:#?}"
    );
}

#[tokio::test]
async fn a_decision_by_a_role_the_log_never_gave_is_named() {
    let (f, _, _) = lifecycle().await;
    // The auditor's row promoted, then a decision under that role: the table agrees with the
    // decision, the log does not.
    let t = t0() + days(500);
    let case = f.submit("p04-defamation-2y", "XA-9", t).await;
    let promoted = user("aud", Role::Supervisor);
    f.decide(case, &promoted, DecisionKind::Refuse, t).await;
    let findings = f.findings().await;
    assert!(
        findings
            .iter()
            .any(|x| x.contains("aud was auditor in the log")),
        "{findings:#?}"
    );
}

#[tokio::test]
async fn every_kind_of_event_ops_writes_is_folded_by_the_replay() {
    use custos_model::EventType;
    use custos_service::custody::{Custody, TempPackage};
    use custos_service::ops::evidence::SealedPackage;
    use std::collections::BTreeSet;

    let (f, rita, _) = lifecycle().await;
    let sue = user("sue", Role::Supervisor);
    let t = t0() + days(500);
    // What the lifecycle leaves out: a rejected second review, a revoked key, and evidence
    // sealed, handed over and destroyed.
    let overridden = f.submit("p12-death-penalty", "XA-5", t).await;
    f.decide(overridden, &rita, DecisionKind::Execute, t).await;
    let preserved = f.submit("p02-preservation-24-7", "XA-6", t).await;
    f.decide(preserved, &rita, DecisionKind::Execute, t).await;
    let other = PrivateJwk::from_seed(&[4; 32]).public();
    let node_dir = f._tmp.path().to_owned();
    let sha = "ab".repeat(32);
    let (temp, _) = TempPackage::create(&node_dir).unwrap();
    let custody = Custody {
        case_id: preserved,
        temp,
        package: SealedPackage {
            package_sha256: sha.clone(),
            manifest_sha256: "cd".repeat(32),
            size: 0,
            recipient: "age1recipient".into(),
            signer: "node".into(),
        },
    };
    let kid = f.authority.as_ref().unwrap().kid.clone();
    f.batch(move |b, out| {
        Box::pin(async move {
            ops::second_review(
                b,
                out,
                &RULES,
                overridden,
                &sue,
                &SecondReviewInput {
                    confirm: false,
                    reason: "The assurance is not binding.".into(),
                },
                t,
            )
            .await?;
            let added = ops::add_authority(
                b,
                out,
                &NewAuthority {
                    state: "XB".into(),
                    name: "Police of XB".into(),
                    kind: "police".into(),
                    channels: vec!["network_24_7".into()],
                    jwk: other,
                    age_recipient: None,
                },
                t,
            )
            .await?;
            ops::revoke_authority(b, out, &added.kid, "key lost", t).await?;
            custody.take(b, out, t).await?;
            ops::record_delivered(b, out, &sha, &kid, t).await?;
            ops::destroy_due(b, out, t + days(400), 30).await
        })
    })
    .await;

    let events = f.store.events(0, u64::MAX >> 1).await.unwrap();
    let written: BTreeSet<EventType> = events.iter().map(|e| e.kind().unwrap()).collect();
    let all: BTreeSet<EventType> = EventType::ALL.iter().copied().collect();
    assert_eq!(
        all.difference(&written).collect::<Vec<_>>(),
        Vec::<&EventType>::new(),
        "every kind of event is exercised"
    );
    // Each folds without a finding and to exactly the tables ops wrote.
    let findings = f.findings().await;
    assert!(findings.is_empty(), "{findings:#?}");
    let p = Projections::replay(&events, Signatures::Decode);
    assert!(
        p.registry
            .authorities
            .values()
            .any(|a| a.revoked_at.is_some())
    );
    assert!(p.evidence[&"ab".repeat(32)].destroyed_at.is_some());
    assert_eq!(p.cases[&overridden].status, CaseStatus::Assessed);
}

#[tokio::test]
async fn an_event_of_a_type_no_node_writes_is_a_finding_not_a_panic() {
    let (f, _, _) = lifecycle().await;
    let mut events = f.store.events(0, u64::MAX >> 1).await.unwrap();
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
