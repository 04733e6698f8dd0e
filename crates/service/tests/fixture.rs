//! The one place the tests build things: a node directory in a temporary folder (configuration,
//! node key, store), an authority with its Ed25519 JWK, users with roles, an assessor, a
//! fixed clock, and helpers that run `ops` in one signed batch, or jobs through the real writer.
//!
//! Time is never read from the wall: every `ops` call takes an explicit instant (`t0()` plus
//! durations). The writer stamps with the node's clock (`WriterContext::clock`, injected with
//! `Node::open_with_clock` and `ManualClock`), and writer tests drive the scheduler with
//! `Job::Tick(at)` at explicit instants.
//!
//! Every batch is signed like a CLI write (`offline::with_batch`: the history checked, a
//! checkpoint signed with the node key, the head file written), so any test can start a writer or
//! a whole node on what it built.
//!
//! The store is the SQLite file `custos.db` in the node directory, or, with
//! `CUSTOS_TEST_BACKEND=postgres`, a database of its own on the PostgreSQL server
//! (`custos_store::testing::TestDatabase`, named by URL in `custos.toml`, dropped with the
//! fixture). `scripts/test` runs the tests once each way.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use custos_jose::{PrivateJwk, sign_compact};
use custos_ledger::{Hash, SignerKey, VerifierKey};
use custos_safeguards::{Assessment, Assessor};
use custos_service::directory::Directory;
use custos_service::log::NodeLog;
use custos_service::offline::{self, OfflineError, OpFuture};
use custos_service::ops::{
    self, Appended, Case, DecisionInput, DecisionKind, DueNotice, ExtensionDecisionInput,
    ExtensionInput, LifecycleRules, NarrowedTerms, NewAuthority, NoticeDelivery,
    ReclassificationInput, RecordedDecision, SecondReviewInput, Submission, SubmitOutcome,
    Withdrawal, WithdrawalInput,
};
use custos_service::replay::{Projections, Signatures};
use custos_service::writer::{self, Job, WriterContext, WriterHandle};
use custos_service::{Config, Node, Problem};
use custos_store::testing::TestDatabase;
use custos_store::{
    Authority, Backend, Batch, CaseStatus, Extension, ExtensionKind, Hold, Notice, Role, Store,
    StoredEvent, User,
};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use sha2::Digest as _;
use tokio::sync::oneshot;

/// The log's origin (and the node key's name).
pub const ORIGIN: &str = "custos.test/log";

/// The fixed "now" of the tests: the assessment time of the example cases in
/// `testdata/cases/`, so each case gets the outcome its file expects.
pub fn t0() -> Timestamp {
    "2026-11-20T12:00:00Z".parse().unwrap()
}

/// When the directory and the users were set up: a day before `t0()`.
pub fn setup_time() -> Timestamp {
    t0() - days(1)
}

pub fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * n)
}

pub fn secs(n: i64) -> SignedDuration {
    SignedDuration::from_secs(n)
}

/// The node key (C2SP signed-note key) every fixture signs with.
pub fn node_key() -> SignerKey {
    SignerKey::from_seed(ORIGIN, &[9; 32]).unwrap()
}

/// Another key under the same name: what a forger without the node key can sign with.
pub fn forger_key() -> SignerKey {
    SignerKey::from_seed(ORIGIN, &[10; 32]).unwrap()
}

/// The requesting authority of most tests: XA, with an Ed25519 key from a fixed seed.
pub fn authority_key() -> PrivateJwk {
    PrivateJwk::from_seed(&[3; 32])
}

/// A second authority (XB).
pub fn other_authority_key() -> PrivateJwk {
    PrivateJwk::from_seed(&[4; 32])
}

/// The confirmation key of XA's duty supervisor: it may confirm XA's emergencies, not sign.
pub fn confirmation_key() -> PrivateJwk {
    PrivateJwk::from_seed(&[5; 32])
}

/// XA's call-back contact.
pub fn duty_office() -> ops::Contact {
    ops::Contact {
        name: "XA duty office".into(),
        phone: "+99 555 0100".into(),
    }
}

const TOKEN_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";

/// A user row as the users table would hold it.
pub fn user(name: &str, role: Role) -> User {
    User {
        name: name.into(),
        role,
        token_hash: TOKEN_HASH.into(),
        added_at: setup_time(),
        disabled_at: None,
        password_hash: None,
    }
}

/// Reviewers Rita and Rex, supervisors Sue and Sam, auditor Aud: the users every fixture has.
pub fn rita() -> User {
    user("rita", Role::Reviewer)
}
pub fn rex() -> User {
    user("rex", Role::Reviewer)
}
pub fn sue() -> User {
    user("sue", Role::Supervisor)
}
pub fn sam() -> User {
    user("sam", Role::Supervisor)
}
pub fn aud() -> User {
    user("aud", Role::Auditor)
}

pub fn new_authority(key: &PrivateJwk, state: &str) -> NewAuthority {
    NewAuthority {
        state: state.into(),
        name: format!("Central authority of {state}"),
        kind: "central_authority".into(),
        channels: vec!["mla".into(), "network_24_7".into()],
        jwk: key.public(),
        age_recipient: None,
    }
}

/// A decision with a reason that is a full sentence (and a message when one is needed).
pub fn decision(kind: DecisionKind) -> DecisionInput {
    DecisionInput {
        decision: kind,
        reason: "The reviewer weighed every finding of the assessment.".into(),
        internal_note: None,
        narrowed: None,
        message: (kind == DecisionKind::RequestInformation)
            .then(|| "Please state the data protection terms.".into()),
        conditions: vec![],
        grounds: vec![],
        finding_reasons: Default::default(),
    }
}

/// A correction of the offences `corrections` ((index, JSON of the corrected fields)), with a
/// reason that is a full sentence.
pub fn correction(corrections: &[(usize, Value)]) -> ReclassificationInput {
    let offences: Vec<Value> = corrections
        .iter()
        .map(|(i, fields)| {
            let mut o = fields.clone();
            o["index"] = (*i).into();
            o
        })
        .collect();
    serde_json::from_value(serde_json::json!({
        "offences": offences,
        "reason": "The conduct described is not what the requester's label says.",
    }))
    .expect("a valid reclassification body")
}

pub fn narrowed_decision(terms: NarrowedTerms) -> DecisionInput {
    DecisionInput {
        narrowed: Some(terms.into()),
        ..decision(DecisionKind::ExecuteNarrowed)
    }
}

/// A request to extend confidentiality to `until`, with reasons.
pub fn extend_secrecy(until: Timestamp) -> ExtensionInput {
    ExtensionInput {
        kind: ExtensionKind::Confidentiality,
        until,
        reasons: "The suspects are still being identified; telling them now would warn them."
            .into(),
    }
}

/// A grant (to `until`, or the date asked when `None`) or a refusal, with a reason.
pub fn grant(until: Option<Timestamp>) -> ExtensionDecisionInput {
    ExtensionDecisionInput {
        grant: true,
        until,
        reason: "The reasons given show the investigation still needs secrecy.".into(),
    }
}

pub fn refuse_extension() -> ExtensionDecisionInput {
    ExtensionDecisionInput {
        grant: false,
        until: None,
        reason: "The reasons given do not show why the person may not be told now.".into(),
    }
}

pub fn confirm(yes: bool) -> SecondReviewInput {
    SecondReviewInput {
        confirm: yes,
        reason: "The second reviewer read the case and the proposal.".into(),
    }
}

/// The problem's kind, without the base URI (`request-id-reused`, `role`, …).
pub fn slug(p: &Problem) -> &str {
    p.kind.rsplit('/').next().unwrap_or_default()
}

/// Asserts `r` is a refusal of kind `kind` with HTTP status `status`, and returns it.
#[track_caller]
pub fn refused<T: std::fmt::Debug>(r: Result<T, Problem>, status: u16, kind: &str) -> Problem {
    match r {
        Ok(v) => panic!("expected a refusal {status} {kind}, got {v:?}"),
        Err(p) => {
            assert_eq!((p.status, slug(&p)), (status, kind), "{p:?}");
            p
        }
    }
}

// Readers of rows, so a change of a row's types is adapted here only.

pub fn outcome(c: &Case) -> String {
    c.outcome.to_string()
}

pub fn assessment(c: &Case) -> Assessment {
    c.assessment.clone()
}

pub fn recorded(c: &Case) -> RecordedDecision {
    c.decision.clone().expect("a decision in force")
}

pub fn pending(c: &Case) -> Option<RecordedDecision> {
    c.pending_decision.clone()
}

pub fn body(e: &StoredEvent) -> Value {
    serde_json::from_str(&e.body).unwrap()
}

pub fn event_type(e: &StoredEvent) -> String {
    e.event_type.to_string()
}

pub fn case_id(o: &SubmitOutcome) -> i64 {
    match o {
        SubmitOutcome::Created(c) | SubmitOutcome::Supplemented(c) | SubmitOutcome::Repeated(c) => {
            c.case_id
        }
    }
}

/// Settings of a fixture's node.
pub struct Setup {
    pub config: Config,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            config: Config::new(ORIGIN),
        }
    }
}

/// The backend these tests run on (`CUSTOS_TEST_BACKEND`: `sqlite`, the default, or
/// `postgres`; any other value panics).
pub fn backend() -> Backend {
    custos_store::testing::backend_from_env()
}

/// A node directory with a store, an authority, users and an assessor; nothing running.
pub struct Fixture {
    tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub config: Config,
    pub store: Store,
    pub assessor: Arc<Assessor>,
    pub rules: LifecycleRules,
    /// The authority XA as registered.
    pub authority: Authority,
    /// The PostgreSQL database (None on SQLite: the file is in `dir`), dropped after `store`
    /// (fields drop in order).
    pg: Option<TestDatabase>,
}

impl Fixture {
    /// The default node: rights-first profile, holds of 90 days.
    pub async fn new() -> Fixture {
        Fixture::with(|_| {}).await
    }

    /// A node whose configuration `change` adjusts first.
    pub async fn with(change: impl FnOnce(&mut Config)) -> Fixture {
        Fixture::build(change, None).await
    }

    /// A node whose jurisdiction file (`jurisdiction.toml`, named in its configuration) holds
    /// `toml`.
    pub async fn with_jurisdiction(toml: &str) -> Fixture {
        Fixture::build(
            |c| c.jurisdiction = Some("jurisdiction.toml".into()),
            Some(toml),
        )
        .await
    }

    async fn build(change: impl FnOnce(&mut Config), jurisdiction: Option<&str>) -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_owned();
        if let Some(toml) = jurisdiction {
            std::fs::write(dir.join("jurisdiction.toml"), toml).unwrap();
        }
        let mut config = Config::new(ORIGIN);
        change(&mut config);
        let pg = match backend() {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let db = TestDatabase::new(Backend::Postgres).await;
                config.database = db.setting();
                Some(db)
            }
        };
        std::fs::write(
            dir.join(&config.key),
            format!("{}\n", node_key().to_private_string().as_str()),
        )
        .unwrap();
        std::fs::write(
            dir.join(custos_service::config::CONFIG_FILE),
            config.to_toml().unwrap(),
        )
        .unwrap();
        let store = Store::open(&config.database_location(&dir), true)
            .await
            .unwrap();
        assert_eq!(store.backend(), backend(), "the fixture's store");
        let profile = custos_service::node::load_profile(&dir, &config.profile).unwrap();
        let jurisdiction = custos_service::node::load_jurisdiction(&dir, &config).unwrap();
        let assessor = Assessor::new(profile, jurisdiction);
        let rules = LifecycleRules::of(config.lifecycle.preservation_days, &assessor)
            .warning(config.lifecycle.lapse_warning_days)
            .with_order_due_hours(config.lifecycle.order_due_hours);
        let a = new_authority(&authority_key(), "XA");
        let authority = offline_batch(&dir, move |b, out| {
            Box::pin(async move {
                let added = ops::add_authority(b, out, &a, setup_time()).await?;
                for u in [rita(), rex(), sue(), sam(), aud()] {
                    ops::add_user(b, out, &u).await?;
                }
                Ok(added)
            })
        })
        .await
        .unwrap();
        Fixture {
            tmp,
            pg,
            dir,
            config,
            store,
            assessor: Arc::new(assessor),
            rules,
            authority,
        }
    }

    /// Runs `op` in one batch signed like a CLI write; a refusal comes back as its problem and
    /// leaves nothing behind.
    pub async fn try_batch<T>(
        &self,
        op: impl for<'a> FnOnce(&'a mut Batch, &'a mut Appended) -> OpFuture<'a, T>,
    ) -> Result<T, Problem> {
        match offline_batch(&self.dir, op).await {
            Ok(v) => Ok(v),
            Err(OfflineError::Refused(p)) => Err(p),
            Err(OfflineError::Setup(e)) => panic!("the batch failed: {e:#}"),
        }
    }

    /// A signed request document made from example case `case` (a file in `testdata/cases/`),
    /// with id `id`, submitted at `at` by the authority XA; `edit` may change the document first.
    pub fn submission_with(
        &self,
        case: &str,
        id: &str,
        at: Timestamp,
        edit: impl FnOnce(&mut Value),
    ) -> Submission {
        self.submission_by(&authority_key(), &self.authority, case, id, at, edit)
    }

    pub fn submission(&self, case: &str, id: &str, at: Timestamp) -> Submission {
        self.submission_with(case, id, at, |_| {})
    }

    /// The same, signed by `key` for the directory entry `authority`.
    pub fn submission_by(
        &self,
        key: &PrivateJwk,
        authority: &Authority,
        case: &str,
        id: &str,
        at: Timestamp,
        edit: impl FnOnce(&mut Value),
    ) -> Submission {
        let path = format!(
            "{}/../../testdata/cases/{case}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let mut r = doc["request"].clone();
        r["id"] = id.into();
        r["submitted_at"] = at.to_string().into();
        r["requesting_authority"]["state"] = authority.state.clone().into();
        edit(&mut r);
        let payload = serde_json::to_string(&r).unwrap();
        let request = custos_model::parse_request(payload.as_bytes()).unwrap();
        Submission {
            authority: authority.clone(),
            assessment: self.assessor.assess(&request, at).unwrap(),
            request,
            payload_sha256: Hash(sha2::Sha256::digest(payload.as_bytes()).into()),
            jws: sign_compact(payload.as_bytes(), key, Some("custos.request/v1+jws")),
            payload,
            received_at: at,
        }
    }

    /// `ops::submit` with the sender as the log has it now (`current`).
    pub async fn submit_as(
        &self,
        s: Submission,
        current: Option<Authority>,
    ) -> Result<SubmitOutcome, Problem> {
        self.try_batch(move |b, out| {
            Box::pin(async move { ops::submit(b, out, &s, current.as_ref()).await })
        })
        .await
    }

    /// Submits example `case` as `id` at `at` from XA (as the log has it), returning the outcome.
    pub async fn try_submit(
        &self,
        case: &str,
        id: &str,
        at: Timestamp,
    ) -> Result<SubmitOutcome, Problem> {
        let current = self.logged_authority(&self.authority.kid).await;
        self.submit_as(self.submission(case, id, at), current).await
    }

    /// Submits and returns the case number.
    pub async fn submit(&self, case: &str, id: &str, at: Timestamp) -> i64 {
        case_id(&self.try_submit(case, id, at).await.unwrap())
    }

    pub async fn decide(
        &self,
        case_id: i64,
        who: &User,
        input: DecisionInput,
        at: Timestamp,
    ) -> Result<Case, Problem> {
        let (who, rules) = (who.clone(), self.rules.clone());
        self.try_batch(move |b, out| {
            Box::pin(async move { ops::decide(b, out, &rules, case_id, &who, &input, at).await })
        })
        .await
    }

    pub async fn second_review(
        &self,
        case_id: i64,
        who: &User,
        input: SecondReviewInput,
        at: Timestamp,
    ) -> Result<Case, Problem> {
        let (who, rules) = (who.clone(), self.rules.clone());
        self.try_batch(move |b, out| {
            Box::pin(
                async move { ops::second_review(b, out, &rules, case_id, &who, &input, at).await },
            )
        })
        .await
    }

    /// `ops::reclassify` with the fixture's assessor.
    pub async fn reclassify(
        &self,
        case_id: i64,
        who: &User,
        input: ReclassificationInput,
        at: Timestamp,
    ) -> Result<Case, Problem> {
        let (who, assessor) = (who.clone(), self.assessor.clone());
        self.try_batch(move |b, out| {
            Box::pin(
                async move { ops::reclassify(b, out, &assessor, case_id, &who, &input, at).await },
            )
        })
        .await
    }

    pub async fn renew(&self, case_id: i64, who: &User, at: Timestamp) -> Result<Hold, Problem> {
        self.renew_because(case_id, who, None, at).await
    }

    /// A staff renewal with an optional reason (`POST …/hold/renew`).
    pub async fn renew_because(
        &self,
        case_id: i64,
        who: &User,
        reason: Option<&str>,
        at: Timestamp,
    ) -> Result<Hold, Problem> {
        let (who, rules) = (who.clone(), self.rules.clone());
        let input = ops::HoldRenewalInput {
            reason: reason.map(str::to_owned),
        };
        self.try_batch(move |b, out| {
            Box::pin(
                async move { ops::renew_hold(b, out, &rules, case_id, &who, &input, at).await },
            )
        })
        .await
    }

    /// A staff release before the hold's date (`POST …/hold/release`).
    pub async fn release(
        &self,
        case_id: i64,
        who: &User,
        reason: &str,
        at: Timestamp,
    ) -> Result<Hold, Problem> {
        let who = who.clone();
        let input = ops::HoldReleaseInput {
            reason: reason.to_owned(),
        };
        self.try_batch(move |b, out| {
            Box::pin(async move { ops::release_hold(b, out, case_id, &who, &input, at).await })
        })
        .await
    }

    /// A reviewer's action on a notice (`POST …/notice/action`), from its JSON body.
    pub async fn act_on_notice(
        &self,
        case_id: i64,
        who: &User,
        action: Value,
        at: Timestamp,
    ) -> Result<Notice, Problem> {
        let (who, rules) = (who.clone(), self.rules.clone());
        let action: ops::NoticeAction = serde_json::from_value(action).expect("a notice action");
        self.try_batch(move |b, out| {
            Box::pin(
                async move { ops::act_on_notice(b, out, &rules, case_id, &who, &action, at).await },
            )
        })
        .await
    }

    pub async fn advance(
        &self,
        case_id: i64,
        who: &User,
        to: CaseStatus,
        at: Timestamp,
    ) -> Result<Case, Problem> {
        let who = who.clone();
        self.try_batch(move |b, out| {
            Box::pin(async move { ops::advance(b, out, case_id, &who, to, at).await })
        })
        .await
    }

    /// One scheduler tick at `at` (`ops::tick`).
    pub async fn tick(&self, at: Timestamp) -> Vec<DueNotice> {
        let rules = self.rules.clone();
        self.try_batch(move |b, out| Box::pin(async move { ops::tick(b, out, &rules, at).await }))
            .await
            .unwrap()
    }

    /// Records a delivery attempt at `at`: `Ok(())` delivered, `Err(reason)` failed.
    pub async fn notice_result(
        &self,
        case_id: i64,
        result: Result<(), String>,
        at: Timestamp,
    ) -> Option<Notice> {
        let delivery = match result {
            Ok(()) => NoticeDelivery::Sent {
                notice_sha256: "00".repeat(32),
            },
            Err(error) => NoticeDelivery::Failed { error },
        };
        self.try_batch(move |b, out| {
            Box::pin(async move { ops::notice_result(b, out, case_id, delivery, at).await })
        })
        .await
        .unwrap()
    }

    /// A withdrawal of `request_id` with `reason`, signed by `key` for the directory entry
    /// `authority` (as `POST /v1/requests/{case}/withdrawal` hands it to the writer).
    pub fn withdrawal_by(
        &self,
        key: &PrivateJwk,
        authority: &Authority,
        request_id: &str,
        reason: &str,
    ) -> Withdrawal {
        let payload = serde_json::to_vec(&serde_json::json!({
            "request_id": request_id, "reason": reason,
        }))
        .unwrap();
        Withdrawal {
            authority: authority.clone(),
            jws: sign_compact(&payload, key, Some("custos.withdrawal+jws")),
            payload_sha256: Hash(sha2::Sha256::digest(&payload).into()),
            input: WithdrawalInput {
                request_id: request_id.into(),
                reason: reason.into(),
            },
        }
    }

    /// `who` consults the requester of `case_id` at `at`, an answer due by `answer_by`.
    pub async fn consult(
        &self,
        case_id: i64,
        who: &User,
        message: &str,
        answer_by: Timestamp,
        at: Timestamp,
    ) -> Result<Case, Problem> {
        let who = who.clone();
        let input = ops::ConsultationInput {
            message: message.into(),
            answer_by,
        };
        self.try_batch(move |b, out| {
            Box::pin(async move { ops::consult(b, out, case_id, &who, &input, at).await })
        })
        .await
    }

    /// The holder of `key` (directory entry `authority`) answers the consultation of
    /// `case_id` about `request_id` with `message` at `at`.
    pub async fn answer(
        &self,
        case_id: i64,
        key: &PrivateJwk,
        authority: &Authority,
        request_id: &str,
        message: &str,
        at: Timestamp,
    ) -> Result<Case, Problem> {
        let payload = serde_json::to_vec(&serde_json::json!({
            "request_id": request_id, "message": message,
        }))
        .unwrap();
        let a = ops::ConsultationAnswer {
            authority: authority.clone(),
            jws: sign_compact(&payload, key, None),
            payload_sha256: Hash(sha2::Sha256::digest(&payload).into()),
            input: ops::ConsultationAnswerInput {
                request_id: request_id.into(),
                message: message.into(),
            },
        };
        let current = self
            .logged_authority(&authority.kid)
            .await
            .expect("a logged authority");
        self.try_batch(move |b, out| {
            Box::pin(
                async move { ops::answer_consultation(b, out, case_id, &a, &current, at).await },
            )
        })
        .await
    }

    /// `who` postpones `case_id` at `at` until `until`.
    pub async fn postpone(
        &self,
        case_id: i64,
        who: &User,
        reason: &str,
        until: Timestamp,
        at: Timestamp,
    ) -> Result<Case, Problem> {
        let who = who.clone();
        let input = ops::PostponementInput {
            reason: reason.into(),
            until,
        };
        self.try_batch(move |b, out| {
            Box::pin(async move { ops::postpone(b, out, case_id, &who, &input, at).await })
        })
        .await
    }

    /// `ops::withdraw` of `case_id` at `at`, the signer as the log has it now.
    pub async fn withdraw_as(
        &self,
        case_id: i64,
        w: Withdrawal,
        at: Timestamp,
    ) -> Result<Case, Problem> {
        let current = self
            .logged_authority(&w.authority.kid)
            .await
            .expect("a logged authority");
        self.try_batch(move |b, out| {
            Box::pin(async move { ops::withdraw(b, out, case_id, &w, &current, at).await })
        })
        .await
    }

    /// XA withdraws its request `request_id` (case `case_id`) at `at`.
    pub async fn withdraw(
        &self,
        case_id: i64,
        request_id: &str,
        at: Timestamp,
    ) -> Result<Case, Problem> {
        let w = self.withdrawal_by(
            &authority_key(),
            &self.authority,
            request_id,
            "The suspect was identified by other means.",
        );
        self.withdraw_as(case_id, w, at).await
    }

    /// The requesting authority `by` asks to move a deadline of `case_id` at `at`.
    pub async fn ask_extension(
        &self,
        case_id: i64,
        by: &Authority,
        input: ExtensionInput,
        at: Timestamp,
    ) -> Result<Extension, Problem> {
        let (by, rules) = (by.clone(), self.rules.clone());
        self.try_batch(move |b, out| {
            Box::pin(async move {
                ops::request_extension(b, out, &rules, case_id, &by, &input, at).await
            })
        })
        .await
    }

    /// The requesting authority `by` answers the conditions of `case_id` at `at`.
    pub async fn answer_conditions(
        &self,
        case_id: i64,
        by: &Authority,
        input: ops::AcceptanceInput,
        at: Timestamp,
    ) -> Result<ops::ConditionsStatus, Problem> {
        let by = by.clone();
        self.try_batch(move |b, out| {
            Box::pin(async move { ops::answer_conditions(b, out, case_id, &by, &input, at).await })
        })
        .await
    }

    /// Seals a (fake) package `sha` for `case_id` at `at`, as custody does, naming no target.
    pub async fn seal(&self, case_id: i64, sha: &str, at: Timestamp) -> Result<(), Problem> {
        self.seal_for(case_id, sha, &[], at).await
    }

    /// Seals a (fake) package `sha` for `case_id` at `at` covering `targets`, as custody does.
    pub async fn seal_for(
        &self,
        case_id: i64,
        sha: &str,
        targets: &[&str],
        at: Timestamp,
    ) -> Result<(), Problem> {
        use custos_service::custody::{Custody, TempPackage};
        let targets = targets
            .iter()
            .map(|t| custos_model::TargetValue::try_from((*t).to_owned()).unwrap())
            .collect();
        let (temp, _) = TempPackage::create(&self.dir).unwrap();
        let custody = Custody {
            case_id,
            temp,
            package: ops::evidence::SealedPackage {
                digest: custos_model::PackageDigest::new(custos_model::DigestKind::Blake3, sha)
                    .unwrap(),
                manifest_sha256: "cd".repeat(32),
                size: 0,
                recipient: "age1recipient".into(),
                signer: "node".into(),
            },
            targets,
        };
        self.try_batch(move |b, out| {
            Box::pin(async move {
                custody.take(b, out, at).await?;
                Ok(())
            })
        })
        .await
    }

    /// Hands package `sha` over to the fixture's authority at `at`.
    pub async fn deliver(&self, sha: &str, at: Timestamp) -> Result<(), Problem> {
        let (kid, sha) = (self.authority.kid.clone(), sha.to_owned());
        self.try_batch(move |b, out| {
            Box::pin(async move {
                ops::record_delivered(b, out, &sha, &kid, at).await?;
                Ok(())
            })
        })
        .await
    }

    /// `who` grants or refuses extension `extension_id` of `case_id` at `at`.
    pub async fn decide_extension(
        &self,
        case_id: i64,
        extension_id: i64,
        who: &User,
        input: ExtensionDecisionInput,
        at: Timestamp,
    ) -> Result<Extension, Problem> {
        let (who, rules) = (who.clone(), self.rules.clone());
        self.try_batch(move |b, out| {
            Box::pin(async move {
                let which = ops::ExtensionRef {
                    case_id,
                    extension_id,
                };
                ops::decide_extension(b, out, &rules, which, &who, &input, at).await
            })
        })
        .await
    }

    pub async fn add_authority(
        &self,
        key: &PrivateJwk,
        state: &str,
        at: Timestamp,
    ) -> Result<Authority, Problem> {
        let a = new_authority(key, state);
        self.try_batch(move |b, out| {
            Box::pin(async move { ops::add_authority(b, out, &a, at).await })
        })
        .await
    }

    /// Registers `key` as a confirmation key of the authority `authority_kid`.
    pub async fn add_confirmation_key(
        &self,
        authority_kid: &str,
        key: &PrivateJwk,
        at: Timestamp,
    ) -> Result<String, Problem> {
        let (kid, jwk) = (authority_kid.to_owned(), key.public());
        self.try_batch(move |b, out| {
            Box::pin(async move { ops::add_confirmation_key(b, out, &kid, &jwk, at).await })
        })
        .await
    }

    /// The confirmation of `case_id` as XA's duty supervisor signs it: a compact JWS over the
    /// request's id and the SHA-256 of its payload in force.
    pub async fn confirmation_jws(&self, case_id: i64, key: &PrivateJwk) -> String {
        let c = self.case(case_id).await;
        let payload = serde_json::json!({
            "request_id": c.request_id,
            "request_sha256": c.payload_sha256.to_hex(),
        });
        sign_compact(&serde_json::to_vec(&payload).unwrap(), key, None)
    }

    /// Registers XA's confirmation key (once) and confirms the emergency of `case_id` with it,
    /// through `ops` (the directory's signature check is the HTTP handler's).
    pub async fn confirm_emergency(&self, case_id: i64, at: Timestamp) -> Result<Case, Problem> {
        let key = confirmation_key();
        let kid = key.public().thumbprint();
        let registered = self
            .events()
            .await
            .iter()
            .any(|e| e.event_type == "authority.confirmation_key_added");
        if !registered {
            self.add_confirmation_key(&self.authority.kid, &key, at)
                .await?;
        }
        let jws = self.confirmation_jws(case_id, &key).await;
        let c = self.case(case_id).await;
        let input = ops::ConfirmationInput {
            request_id: c.request_id.clone(),
            request_sha256: c.payload_sha256.to_hex(),
        };
        let signer = ops::ConfirmationSigner {
            kid,
            authority_kid: self.authority.kid.clone(),
        };
        self.try_batch(move |b, out| {
            Box::pin(async move {
                ops::emergency::confirm(b, out, case_id, &signer, &jws, &input, at).await
            })
        })
        .await
    }

    /// Registers XA's call-back contact, its duty office.
    pub async fn set_contact(&self) {
        let (kid, c) = (self.authority.kid.clone(), duty_office());
        self.try_batch(move |b, out| {
            Box::pin(async move { ops::set_contact(b, out, &kid, &c, setup_time()).await })
        })
        .await
        .unwrap();
    }

    /// `who` records a call-back to XA's duty office on `case_id` with `outcome`.
    pub async fn record_callback(
        &self,
        case_id: i64,
        who: &User,
        outcome: ops::CallbackOutcome,
        at: Timestamp,
    ) -> Result<ops::Verification, Problem> {
        let (who, input) = (
            who.clone(),
            ops::CallbackInput {
                reached: "Insp. Vega, duty officer".into(),
                outcome,
                note: Some("called the registered number".into()),
            },
        );
        self.try_batch(move |b, out| {
            Box::pin(async move {
                ops::emergency::record_callback(
                    b,
                    out,
                    case_id,
                    &who,
                    Some(duty_office()),
                    &input,
                    at,
                )
                .await
            })
        })
        .await
    }

    /// `who` confirms (or rejects) the call-back record waiting on `case_id`.
    pub async fn review_callback(
        &self,
        case_id: i64,
        who: &User,
        confirm: bool,
        at: Timestamp,
    ) -> Result<ops::Verification, Problem> {
        let (who, input) = (
            who.clone(),
            ops::CallbackReviewInput {
                confirm,
                reason: "The record matches the call log.".into(),
            },
        );
        self.try_batch(move |b, out| {
            Box::pin(async move {
                ops::emergency::review_callback(b, out, case_id, &who, &input, at).await
            })
        })
        .await
    }

    /// XA's confirmation key (registered before) denies the emergency of `case_id`, through
    /// `ops` (the directory's signature check is the HTTP handler's).
    pub async fn deny_emergency(&self, case_id: i64, at: Timestamp) -> Result<Case, Problem> {
        let c = self.case(case_id).await;
        let input = ops::DenialInput {
            request_id: c.request_id.clone(),
            request_sha256: c.payload_sha256.to_hex(),
            reason: "We sent no such request.".into(),
        };
        let payload = serde_json::json!({
            "request_id": input.request_id, "request_sha256": input.request_sha256,
            "reason": input.reason,
        });
        let jws = sign_compact(
            &serde_json::to_vec(&payload).unwrap(),
            &confirmation_key(),
            None,
        );
        let signer = ops::ConfirmationSigner {
            kid: confirmation_key().public().thumbprint(),
            authority_kid: self.authority.kid.clone(),
        };
        self.try_batch(move |b, out| {
            Box::pin(async move {
                ops::emergency::deny(b, out, case_id, &signer, &jws, &input, at).await
            })
        })
        .await
    }

    pub async fn revoke(&self, kid: &str, at: Timestamp) -> Result<Authority, Problem> {
        let kid = kid.to_owned();
        self.try_batch(move |b, out| {
            Box::pin(
                async move { ops::revoke_authority(b, out, &kid, "key compromised", at).await },
            )
        })
        .await
    }

    pub async fn add_user(&self, u: User) -> Result<(), Problem> {
        self.try_batch(move |b, out| Box::pin(async move { ops::add_user(b, out, &u).await }))
            .await
    }

    /// A case that went through `submit` and a decision of `kind` by Rita at `at`.
    pub async fn decided(&self, case: &str, id: &str, kind: DecisionKind, at: Timestamp) -> i64 {
        let c = self.submit(case, id, at).await;
        self.decide(c, &rita(), decision(kind), at).await.unwrap();
        c
    }

    /// Runs `op` in a batch committed as is: no checkpoint, no head file. What someone who
    /// can write the database, but has not the node key, can do.
    pub async fn unsigned_batch<T>(
        &self,
        op: impl for<'a> FnOnce(&'a mut Batch, &'a mut Appended) -> OpFuture<'a, T>,
    ) -> T {
        let mut b = self.store.begin().await.unwrap();
        let mut out = Vec::new();
        let v = op(&mut b, &mut out).await.unwrap();
        b.commit().await.unwrap();
        v
    }

    /// Changes a case row without an event.
    pub async fn tamper_case(&self, case_id: i64, change: impl FnOnce(&mut Case)) {
        let mut case = self.case(case_id).await;
        change(&mut case);
        self.unsigned_batch(move |b, _| Box::pin(async move { Ok(b.put_case(&case).await?) }))
            .await
    }

    /// Records a checkpoint over every event, signed with `key`, without a head file.
    pub async fn put_checkpoint_signed_by(&self, key: &SignerKey) {
        let size = self.log_size().await;
        let leaves = self.store.leaves(0, size).await.unwrap();
        let mut tree = custos_ledger::MerkleTree::new(custos_ledger::MemoryStore::new());
        for l in &leaves {
            tree.append(l).unwrap();
        }
        let root = tree.root().unwrap();
        let cp = custos_store::StoredCheckpoint {
            size,
            root,
            note: custos_ledger::Checkpoint::new(ORIGIN.to_owned(), size, root)
                .sign(&[key])
                .unwrap(),
            signed_at: t0(),
        };
        self.unsigned_batch(move |b, _| Box::pin(async move { Ok(b.put_checkpoint(&cp).await?) }))
            .await
    }

    // Reads.

    /// The authority as the log has it (revocations applied).
    pub async fn logged_authority(&self, kid: &str) -> Option<Authority> {
        offline::logged_registry(&self.store)
            .await
            .unwrap()
            .authorities
            .get(kid)
            .cloned()
    }

    pub async fn case(&self, case_id: i64) -> Case {
        self.store.case(case_id).await.unwrap().expect("the case")
    }

    pub async fn cases(&self) -> Vec<Case> {
        self.store.all_cases().await.unwrap()
    }

    pub async fn hold(&self, case_id: i64) -> Option<Hold> {
        let holds = self.store.all_holds().await.unwrap();
        holds.into_iter().find(|h| h.case_id == case_id)
    }

    pub async fn notice(&self, case_id: i64) -> Option<Notice> {
        let notices = self.store.notices().await.unwrap();
        notices.into_iter().find(|n| n.case_id == case_id)
    }

    pub async fn events(&self) -> Vec<StoredEvent> {
        self.store.events(0, u64::MAX >> 1).await.unwrap()
    }

    /// The types of the events of one case, in log order.
    pub async fn case_events(&self, case_id: i64) -> Vec<String> {
        self.store
            .case_events(case_id)
            .await
            .unwrap()
            .iter()
            .map(event_type)
            .collect()
    }

    /// The types of every event of the log, in order.
    pub async fn event_types(&self) -> Vec<String> {
        self.events().await.iter().map(event_type).collect()
    }

    pub async fn log_size(&self) -> u64 {
        self.store.log_size().await.unwrap()
    }

    /// What a replay of the whole log finds: problems met on the way, then every row of the
    /// tables that differs from the replay.
    pub async fn findings(&self) -> Vec<String> {
        let events = self.events().await;
        let mut p = Projections::replay(&events, Signatures::Verify);
        let tables = custos_service::audit::read_tables(&self.store)
            .await
            .unwrap();
        let mut all: Vec<String> = p.findings.drain(..).map(|f| f.to_string()).collect();
        all.extend(p.diff(&tables).into_iter().map(|f| f.to_string()));
        all
    }

    /// The history checked as a node checks it at start (`integrity::check_history` over the
    /// events, the latest checkpoint row and the head file). Returns the size it ends at.
    pub async fn check_history(&self) -> Result<u64, custos_service::integrity::HistoryError> {
        check_history_in(&self.dir, &self.store).await
    }

    pub fn verifier(&self) -> VerifierKey {
        node_key().verifier()
    }

    /// The head file's note.
    pub fn head(&self) -> Option<String> {
        custos_service::integrity::read_head(&self.dir).unwrap()
    }

    // Running.

    /// Starts the real writer on this store, as `Node::open` does: the log loaded and checked,
    /// the directory from the log, attached so a miss asks the writer to catch up.
    pub async fn writer(&self) -> Running {
        self.writer_at(t0()).await
    }

    /// The writer as in [`Fixture::writer`], with its clock at `at`, moved by hand.
    pub async fn writer_at(&self, at: Timestamp) -> Running {
        let clock = custos_service::clock::ManualClock::new(at);
        let head = custos_service::integrity::read_head(&self.dir).unwrap();
        let log = Arc::new(
            NodeLog::load(&self.store, ORIGIN, node_key(), head.as_deref())
                .await
                .unwrap(),
        );
        let registry = offline::logged_registry(&self.store).await.unwrap();
        let directory = Arc::new(Directory::new(registry));
        let handle = writer::spawn(
            self.store.clone(),
            log.clone(),
            WriterContext {
                rules: self.rules.clone(),
                directory: directory.clone(),
                dir: self.dir.clone(),
                clock: clock.clock(),
                assessor: self.assessor.clone(),
            },
        );
        directory.attach(handle.clone());
        Running {
            handle,
            log,
            directory,
            clock,
        }
    }

    /// Opens the whole node in this directory (`Node::open`).
    pub async fn node(&self) -> anyhow::Result<Arc<Node>> {
        Node::open(&self.dir).await
    }

    /// One scheduler pass of a node at `now`.
    pub async fn scheduler_pass(node: &Node, now: Timestamp) -> Result<(), Problem> {
        node.scheduler_pass(now).await
    }

    // Whole-file operations, as an operator (or an attacker) would do them while no node runs.

    /// Copies the database aside. SQLite: its files, holding the write lock meanwhile so no
    /// one writes or resets the WAL during the copy (the WAL-index `-shm` is not copied: SQLite
    /// rebuilds it). PostgreSQL: `pg_dump` (one consistent snapshot) into `custos.sql`.
    pub async fn backup(&self) -> tempfile::TempDir {
        let to = tempfile::tempdir().unwrap();
        match &self.pg {
            None => {
                let lock = self.store.begin().await.unwrap();
                for f in &db_files(&self.dir, &self.config)[..2] {
                    if f.exists() {
                        std::fs::copy(f, to.path().join(f.file_name().unwrap())).unwrap();
                    }
                }
                drop(lock);
            }
            Some(db) => {
                let dump = to.path().join(PG_DUMP);
                run_pg_tool(
                    std::process::Command::new("pg_dump")
                        .args(["--no-owner", "--no-privileges", "--file"])
                        .arg(&dump)
                        .arg(format!("--dbname={}", db.setting())),
                );
            }
        }
        to
    }

    /// This node directory (configuration, key, head file) in a new place, with the database
    /// of `backup` instead of its own: the node as an operator would find it after restoring an
    /// old backup of the database alone. (A new place, because a closing SQLite connection may
    /// still remove the old WAL by name; on PostgreSQL a new database, restored with `psql`.)
    pub async fn with_database_from(&self, backup: &Path) -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_owned();
        let mut config = self.config.clone();
        for name in [
            self.config.key.as_path(),
            Path::new(custos_service::integrity::HEAD_FILE),
        ] {
            std::fs::copy(self.dir.join(name), dir.join(name)).unwrap();
        }
        let pg = match &self.pg {
            None => {
                for f in &db_files(&dir, &self.config)[..2] {
                    let src = backup.join(f.file_name().unwrap());
                    if src.exists() {
                        std::fs::copy(&src, f).unwrap();
                    }
                }
                None
            }
            Some(_) => {
                let db = TestDatabase::empty(Backend::Postgres).await;
                run_pg_tool(
                    std::process::Command::new("psql")
                        .args(["-X", "--quiet", "-v", "ON_ERROR_STOP=1", "--file"])
                        .arg(backup.join(PG_DUMP))
                        .arg(format!("--dbname={}", db.setting())),
                );
                config.database = db.setting();
                Some(db)
            }
        };
        std::fs::write(
            dir.join(custos_service::config::CONFIG_FILE),
            config.to_toml().unwrap(),
        )
        .unwrap();
        let store = Store::open(&config.database_location(&dir), false)
            .await
            .unwrap();
        let profile = custos_service::node::load_profile(&dir, &config.profile).unwrap();
        Fixture {
            tmp,
            pg,
            dir,
            config,
            store,
            assessor: Arc::new(Assessor::new(profile, self.assessor.jurisdiction().clone())),
            rules: self.rules.clone(),
            authority: self.authority.clone(),
        }
    }
}

/// The file a PostgreSQL backup is dumped into (plain SQL).
const PG_DUMP: &str = "custos.sql";

/// Runs `pg_dump` or `psql` (Debian's `postgresql-client`), failing the test with its stderr.
fn run_pg_tool(cmd: &mut std::process::Command) {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!(
            "cannot run {:?} ({e}): install postgresql-client (scripts/setup does)",
            cmd.get_program()
        )
    });
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        cmd.get_program(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn db_files(dir: &Path, config: &Config) -> Vec<PathBuf> {
    let db = dir.join(&config.database);
    let name = db.file_name().unwrap().to_string_lossy().into_owned();
    vec![
        db.clone(),
        db.with_file_name(format!("{name}-wal")),
        db.with_file_name(format!("{name}-shm")),
    ]
}

/// `integrity::check_history` over the store in `dir`, with its head file.
pub async fn check_history_in(
    dir: &Path,
    store: &Store,
) -> Result<u64, custos_service::integrity::HistoryError> {
    let size = store.log_size().await.unwrap();
    let leaves = store.leaves(0, size).await.unwrap();
    let mut tree = custos_ledger::MerkleTree::new(custos_ledger::MemoryStore::new());
    for l in &leaves {
        tree.append(l).unwrap();
    }
    let latest = store.latest_checkpoint().await.unwrap();
    let head = custos_service::integrity::read_head(dir)?;
    custos_service::integrity::check_history(
        size,
        |s| tree.root_at(s).ok(),
        latest.as_ref(),
        head.as_deref(),
        ORIGIN,
        &node_key().verifier(),
    )
    .map(|cp| cp.map_or(0, |c| c.size))
}

/// The real writer task, running.
pub struct Running {
    pub handle: WriterHandle,
    pub log: Arc<NodeLog>,
    pub directory: Arc<Directory>,
    /// The writer's clock: every job of a batch reads it.
    pub clock: custos_service::clock::ManualClock,
}

/// A job sent to the writer whose answer is still to come.
pub struct Pending<T>(oneshot::Receiver<Result<T, Problem>>);

impl<T> Pending<T> {
    pub async fn answer(self) -> Result<T, Problem> {
        writer::reply(self.0).await
    }
}

impl Running {
    /// Queues a job without waiting for its answer (jobs queued together form one batch).
    pub async fn queue<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, Problem>>) -> Job,
    ) -> Pending<T> {
        let (tx, rx) = oneshot::channel();
        self.handle.send(make(tx)).await.unwrap();
        Pending(rx)
    }

    pub async fn queue_submit(&self, s: Submission) -> Pending<SubmitOutcome> {
        self.queue(|tx| Job::Submit(Box::new(s), tx)).await
    }

    pub async fn queue_decide(
        &self,
        case_id: i64,
        user: &User,
        input: DecisionInput,
    ) -> Pending<Case> {
        let user = user.clone();
        self.queue(|reply| Job::Decide {
            case_id,
            user,
            input,
            reply,
        })
        .await
    }

    pub async fn submit(&self, s: Submission) -> Result<SubmitOutcome, Problem> {
        self.queue_submit(s).await.answer().await
    }

    pub async fn decide(
        &self,
        case_id: i64,
        user: &User,
        input: DecisionInput,
    ) -> Result<Case, Problem> {
        self.queue_decide(case_id, user, input).await.answer().await
    }

    pub async fn second_review(
        &self,
        case_id: i64,
        user: &User,
        input: SecondReviewInput,
    ) -> Result<Case, Problem> {
        let user = user.clone();
        self.handle
            .call(|reply| Job::SecondReview {
                case_id,
                user,
                input,
                reply,
            })
            .await
    }

    pub async fn reclassify(
        &self,
        case_id: i64,
        user: &User,
        input: ReclassificationInput,
    ) -> Result<Case, Problem> {
        let user = user.clone();
        self.handle
            .call(|reply| Job::Reclassify {
                case_id,
                user,
                input,
                reply,
            })
            .await
    }

    pub async fn renew(&self, case_id: i64, user: &User) -> Result<Hold, Problem> {
        self.renew_with(case_id, user, None).await
    }

    pub async fn renew_with(
        &self,
        case_id: i64,
        user: &User,
        reason: Option<&str>,
    ) -> Result<Hold, Problem> {
        let user = user.clone();
        let input = custos_service::ops::HoldRenewalInput {
            reason: reason.map(str::to_owned),
        };
        self.handle
            .call(|reply| Job::Renew {
                case_id,
                user,
                input,
                reply,
            })
            .await
    }

    pub async fn release_hold(
        &self,
        case_id: i64,
        user: &User,
        reason: &str,
    ) -> Result<Hold, Problem> {
        let user = user.clone();
        let input = custos_service::ops::HoldReleaseInput {
            reason: reason.to_owned(),
        };
        self.handle
            .call(|reply| Job::Release {
                case_id,
                user,
                input,
                reply,
            })
            .await
    }

    pub async fn advance(
        &self,
        case_id: i64,
        user: &User,
        to: CaseStatus,
    ) -> Result<Case, Problem> {
        let user = user.clone();
        self.handle
            .call(|reply| Job::Advance {
                case_id,
                user,
                to,
                reply,
            })
            .await
    }

    pub async fn tick(&self, at: Timestamp) -> Result<Vec<DueNotice>, Problem> {
        self.handle.call(|tx| Job::Tick(at, tx)).await
    }

    pub async fn notice_result(
        &self,
        case_id: i64,
        at: Timestamp,
        delivery: NoticeDelivery,
    ) -> Result<Option<Notice>, Problem> {
        self.handle
            .call(|reply| Job::NoticeResult {
                case_id,
                at,
                delivery,
                reply,
            })
            .await
    }

    pub async fn sync(&self) -> Result<(), Problem> {
        self.handle.call(Job::Sync).await
    }
}

/// One offline batch on the node in `dir` (`offline::with_batch` on a freshly opened `NodeDir`).
pub async fn offline_batch<T>(
    dir: &std::path::Path,
    op: impl for<'a> FnOnce(&'a mut Batch, &'a mut Appended) -> OpFuture<'a, T>,
) -> Result<T, OfflineError> {
    let nd = custos_service::NodeDir::open(dir)
        .await
        .expect("the fixture's node directory opens");
    let result = offline::with_batch(&nd, op).await;
    nd.close().await;
    result
}
