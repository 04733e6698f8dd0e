//! The single writer: every state change of the node goes through here, in one task, so the log
//! has one order. Jobs queue on a channel; the writer takes as many as are waiting (group
//! commit), runs each inside its own savepoint of one transaction, appends their events' leaves
//! to the tree, signs a checkpoint over the result, and commits once. Only after the commit is
//! durable does any caller hear "done", so an acknowledged request survives a `kill -9`.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use crate::ops::Case;
use custos_store::{
    Authority, Batch, CaseStatus, Evidence, Extension, Hold, Notice, Store, StoredCheckpoint, User,
};
use jiff::Timestamp;
use tokio::sync::{mpsc, oneshot};

use crate::custody::Custody;
use crate::directory::Directory;
use crate::log::NodeLog;
use crate::ops::{
    self, Appended, DecisionInput, DueNotice, ExtensionDecisionInput, ExtensionInput,
    LifecycleRules, NoticeDelivery, ReclassificationInput, SecondReviewInput, Submission,
    SubmitOutcome,
};
use crate::problem::Problem;

/// Most jobs one transaction carries.
const MAX_BATCH: usize = 512;

/// Where a job's answer goes: its result, or the problem that kept it from being recorded.
pub type Reply<T> = oneshot::Sender<Result<T, Problem>>;

/// A state change for the writer: each variant names its operation in [`ops`] and carries the
/// channel its typed answer goes to. The writer runs nothing else.
#[derive(Debug)]
pub enum Job {
    /// Record a verified submission.
    Submit(Box<Submission>, Reply<SubmitOutcome>),
    /// Record a decision.
    Decide {
        /// The case.
        case_id: i64,
        /// Who.
        user: User,
        /// What.
        input: DecisionInput,
        /// Reply.
        reply: Reply<Case>,
    },
    /// Correct a case's offences and assess it again (or propose the correction).
    Reclassify {
        /// The case.
        case_id: i64,
        /// Who.
        user: User,
        /// The corrections, and why.
        input: ReclassificationInput,
        /// Reply.
        reply: Reply<Case>,
    },
    /// Second review of a pending decision or reclassification.
    SecondReview {
        /// The case.
        case_id: i64,
        /// Who.
        user: User,
        /// Confirm or reject, and why.
        input: SecondReviewInput,
        /// Reply.
        reply: Reply<Case>,
    },
    /// Renew a hold.
    Renew {
        /// The case.
        case_id: i64,
        /// Who.
        user: User,
        /// Why (optional).
        input: ops::HoldRenewalInput,
        /// Reply.
        reply: Reply<Hold>,
    },
    /// A reviewer's action on a notice owed.
    NoticeAction {
        /// The case.
        case_id: i64,
        /// Who.
        user: User,
        /// Sent by hand, or deferred.
        action: ops::NoticeAction,
        /// Reply.
        reply: Reply<custos_store::Notice>,
    },
    /// Release a hold before its date.
    Release {
        /// The case.
        case_id: i64,
        /// Who.
        user: User,
        /// Why.
        input: ops::HoldReleaseInput,
        /// Reply.
        reply: Reply<Hold>,
    },
    /// Deliver or close.
    Advance {
        /// The case.
        case_id: i64,
        /// Who.
        user: User,
        /// Target status.
        to: CaseStatus,
        /// Reply.
        reply: Reply<Case>,
    },
    /// Scheduler tick.
    Tick(Timestamp, Reply<Vec<DueNotice>>),
    /// Result of a notice delivery attempt made at `at`; answers the notice as it now stands
    /// (`None` if it was not awaiting delivery).
    NoticeResult {
        /// The case.
        case_id: i64,
        /// When the attempt was made.
        at: Timestamp,
        /// How it went.
        delivery: NoticeDelivery,
        /// Reply.
        reply: Reply<Option<Notice>>,
    },
    /// A reviewer consults the requester.
    Consult {
        /// The case.
        case_id: i64,
        /// Who.
        user: User,
        /// The message and the date to answer by.
        input: ops::ConsultationInput,
        /// Reply.
        reply: Reply<Case>,
    },
    /// The requesting authority answers a consultation (signature already verified).
    AnswerConsultation {
        /// The case.
        case_id: i64,
        /// The verified answer.
        answer: Box<ops::ConsultationAnswer>,
        /// Reply.
        reply: Reply<Case>,
    },
    /// A reviewer postpones a case.
    Postpone {
        /// The case.
        case_id: i64,
        /// Who.
        user: User,
        /// The reason and the date.
        input: ops::PostponementInput,
        /// Reply.
        reply: Reply<Case>,
    },
    /// A requesting authority withdraws its request (signature already verified).
    Withdraw {
        /// The case.
        case_id: i64,
        /// The verified withdrawal (the signer re-read from the log's directory under the
        /// write lock).
        withdrawal: Box<ops::Withdrawal>,
        /// Reply.
        reply: Reply<Case>,
    },
    /// A requesting authority sends the order that had to follow its emergency (signature
    /// already verified).
    ReceiveOrder {
        /// The case.
        case_id: i64,
        /// The verified order (the signer re-read from the log's directory under the write lock).
        order: Box<ops::Order>,
        /// Reply.
        reply: Reply<Case>,
    },
    /// A reviewer asks the requester to delete what was handed over after a missed order.
    RequestDeletion {
        /// The case.
        case_id: i64,
        /// Who.
        user: User,
        /// The message to the requester.
        input: ops::DeletionRequestInput,
        /// Reply.
        reply: Reply<Case>,
    },
    /// A requesting authority asks to move a deadline of its case.
    RequestExtension {
        /// The case.
        case_id: i64,
        /// The caller (re-read from the log's directory under the write lock).
        authority: Authority,
        /// What it asks.
        input: ExtensionInput,
        /// Reply.
        reply: Reply<Extension>,
    },
    /// A requesting authority accepts or declines the conditions of its executed case.
    AnswerConditions {
        /// The case.
        case_id: i64,
        /// The caller (re-read from the log's directory under the write lock).
        authority: Authority,
        /// Its signed answer.
        input: ops::AcceptanceInput,
        /// Reply.
        reply: Reply<ops::ConditionsStatus>,
    },
    /// An authority's confirmation key confirms an emergency (`emergency.confirmed`).
    Confirm {
        /// The case.
        case_id: i64,
        /// The confirmation as sent (compact JWS), verified by the directory.
        jws: String,
        /// Who signed it (re-read from the log's directory under the write lock).
        signer: ops::ConfirmationSigner,
        /// Its payload.
        input: ops::ConfirmationInput,
        /// Reply.
        reply: Reply<Case>,
    },
    /// A reviewer records a call-back to the authority's registered contact.
    RecordCallback {
        /// The case.
        case_id: i64,
        /// Who.
        user: User,
        /// Who was reached, the outcome.
        input: ops::CallbackInput,
        /// Reply.
        reply: Reply<ops::Verification>,
    },
    /// A supervisor confirms or rejects a call-back record.
    ReviewCallback {
        /// The case.
        case_id: i64,
        /// Who.
        user: User,
        /// Confirm or reject, and why.
        input: ops::CallbackReviewInput,
        /// Reply.
        reply: Reply<ops::Verification>,
    },
    /// An authority's confirmation key denies an emergency request (`emergency.denied`).
    Deny {
        /// The case.
        case_id: i64,
        /// The denial as sent (compact JWS), verified by the directory.
        jws: String,
        /// Who signed it (re-read from the log's directory under the write lock).
        signer: ops::ConfirmationSigner,
        /// Its payload.
        input: ops::DenialInput,
        /// Reply.
        reply: Reply<Case>,
    },
    /// A reviewer decides a request for an extension.
    DecideExtension {
        /// The case.
        case_id: i64,
        /// The extension's number.
        extension_id: i64,
        /// Who.
        user: User,
        /// Grant or refuse, and why.
        input: ExtensionDecisionInput,
        /// Reply.
        reply: Reply<Extension>,
    },
    /// A staff change of a case made only if the case is still at the version its `If-Match`
    /// names (checked in the batch, so no other change comes between; else 412).
    IfMatch {
        /// The case.
        case_id: i64,
        /// The `If-Match` header as sent.
        if_match: String,
        /// The change.
        job: Box<Job>,
    },
    /// Catch up with events other processes appended, and sign a checkpoint if needed.
    Sync(Reply<()>),
    /// Take a package into custody: check, rename into place and record, in one step.
    Custody(Box<Custody>, Reply<Evidence>),
    /// Log a package's hand-over to the requesting authority (before a byte leaves).
    Deliver {
        /// The package's digest (hex, of either kind).
        package_digest: String,
        /// The requesting authority's key thumbprint.
        to: String,
        /// Reply.
        reply: Reply<Evidence>,
    },
    /// Log the destruction of every package whose retention ended by `at`; answers their digests.
    DestroyDue {
        /// The scheduler pass's time.
        at: Timestamp,
        /// Days a package is kept after its first hand-over.
        retention_days: u32,
        /// Reply.
        reply: Reply<Vec<String>>,
    },
    /// Publish a transparency report, or answer the one already published for its period.
    PublishReport(
        Box<ops::transparency::Publication>,
        Reply<custos_transparency::Report>,
    ),
    /// Attach a received file to a case: check, rename to its digest and log, in one step.
    Attach(
        Box<crate::attachments::Attach>,
        Reply<ops::attachment::Attachment>,
    ),
    /// A member of staff takes or releases a case.
    Assign {
        /// The case.
        case_id: i64,
        /// Who.
        user: User,
        /// Take or release.
        input: ops::AssignmentInput,
        /// Reply.
        reply: Reply<Case>,
    },
    /// A member of staff adds an internal note to a case.
    AddNote {
        /// The case.
        case_id: i64,
        /// Who.
        user: User,
        /// The note.
        input: ops::NoteInput,
        /// Reply.
        reply: Reply<ops::Note>,
    },
}

impl Job {
    /// The one place that says what each job runs. Adding a job: a variant above, an arm here.
    fn into_task(self) -> Box<dyn Task> {
        match self {
            // The commonest job runs without a savepoint of its own (two statements fewer):
            // every refusal of intake is found before it writes (`ops::intake::check`).
            Job::Submit(s, reply) => Box::new(Intake { s, reply }),
            Job::Decide {
                case_id,
                user,
                input,
                reply,
            } => task(reply, move |b, out, cx, now| {
                Box::pin(async move {
                    ops::decide(b, out, &cx.rules, case_id, &user, &input, now).await
                })
            }),
            Job::Reclassify {
                case_id,
                user,
                input,
                reply,
            } => task(reply, move |b, out, cx, now| {
                Box::pin(async move {
                    ops::reclassify(b, out, &cx.assessor, case_id, &user, &input, now).await
                })
            }),
            Job::SecondReview {
                case_id,
                user,
                input,
                reply,
            } => task(reply, move |b, out, cx, now| {
                Box::pin(async move {
                    ops::second_review(b, out, &cx.rules, case_id, &user, &input, now).await
                })
            }),
            Job::Renew {
                case_id,
                user,
                input,
                reply,
            } => task(reply, move |b, out, cx, now| {
                Box::pin(async move {
                    ops::renew_hold(b, out, &cx.rules, case_id, &user, &input, now).await
                })
            }),
            Job::NoticeAction {
                case_id,
                user,
                action,
                reply,
            } => task(reply, move |b, out, cx, now| {
                Box::pin(async move {
                    ops::act_on_notice(b, out, &cx.rules, case_id, &user, &action, now).await
                })
            }),
            Job::Release {
                case_id,
                user,
                input,
                reply,
            } => task(reply, move |b, out, _, now| {
                Box::pin(
                    async move { ops::release_hold(b, out, case_id, &user, &input, now).await },
                )
            }),
            Job::Advance {
                case_id,
                user,
                to,
                reply,
            } => task(reply, move |b, out, _, now| {
                Box::pin(async move { ops::advance(b, out, case_id, &user, to, now).await })
            }),
            Job::Tick(at, reply) => task(reply, move |b, out, cx, _| {
                Box::pin(async move { ops::tick(b, out, &cx.rules, at).await })
            }),
            Job::NoticeResult {
                case_id,
                at,
                delivery,
                reply,
            } => task(reply, move |b, out, _, _| {
                Box::pin(async move { ops::notice_result(b, out, case_id, delivery, at).await })
            }),
            Job::Consult {
                case_id,
                user,
                input,
                reply,
            } => task(reply, move |b, out, _, now| {
                Box::pin(async move { ops::consult(b, out, case_id, &user, &input, now).await })
            }),
            Job::AnswerConsultation {
                case_id,
                answer,
                reply,
            } => task(reply, move |b, out, cx, now| {
                Box::pin(async move {
                    let current = cx.logged_authority(&answer.authority.kid)?;
                    ops::answer_consultation(b, out, case_id, &answer, &current, now).await
                })
            }),
            Job::Postpone {
                case_id,
                user,
                input,
                reply,
            } => task(reply, move |b, out, _, now| {
                Box::pin(async move { ops::postpone(b, out, case_id, &user, &input, now).await })
            }),
            Job::Withdraw {
                case_id,
                withdrawal,
                reply,
            } => task(reply, move |b, out, cx, now| {
                Box::pin(async move {
                    let current = cx.logged_authority(&withdrawal.authority.kid)?;
                    ops::withdraw(b, out, case_id, &withdrawal, &current, now).await
                })
            }),
            Job::ReceiveOrder {
                case_id,
                order,
                reply,
            } => task(reply, move |b, out, cx, now| {
                Box::pin(async move {
                    let current = cx.logged_authority(&order.authority.kid)?;
                    ops::order::receive(b, out, case_id, &order, &current, now).await
                })
            }),
            Job::RequestDeletion {
                case_id,
                user,
                input,
                reply,
            } => task(reply, move |b, out, _, now| {
                Box::pin(async move {
                    ops::order::request_deletion(b, out, case_id, &user, &input, now).await
                })
            }),
            Job::RequestExtension {
                case_id,
                authority,
                input,
                reply,
            } => task(reply, move |b, out, cx, now| {
                Box::pin(async move {
                    let current = cx.logged_authority(&authority.kid)?;
                    ops::request_extension(b, out, &cx.rules, case_id, &current, &input, now).await
                })
            }),
            Job::AnswerConditions {
                case_id,
                authority,
                input,
                reply,
            } => task(reply, move |b, out, cx, now| {
                Box::pin(async move {
                    let current = cx.logged_authority(&authority.kid)?;
                    ops::answer_conditions(b, out, case_id, &current, &input, now).await
                })
            }),
            Job::Confirm {
                case_id,
                jws,
                signer,
                input,
                reply,
            } => task(reply, move |b, out, cx, now| {
                Box::pin(async move {
                    cx.logged_confirmation_key(&signer)?;
                    ops::emergency::confirm(b, out, case_id, &signer, &jws, &input, now).await
                })
            }),
            Job::Deny {
                case_id,
                jws,
                signer,
                input,
                reply,
            } => task(reply, move |b, out, cx, now| {
                Box::pin(async move {
                    cx.logged_confirmation_key(&signer)?;
                    ops::emergency::deny(b, out, case_id, &signer, &jws, &input, now).await
                })
            }),
            Job::RecordCallback {
                case_id,
                user,
                input,
                reply,
            } => task(reply, move |b, out, cx, now| {
                Box::pin(async move {
                    // The contact as the log's directory has it now, never one from the request.
                    let case: Option<Case> = b.case(case_id).await?;
                    let contact = case.and_then(|c| cx.directory.contact(&c.authority_kid));
                    ops::emergency::record_callback(b, out, case_id, &user, contact, &input, now)
                        .await
                })
            }),
            Job::ReviewCallback {
                case_id,
                user,
                input,
                reply,
            } => task(reply, move |b, out, _, now| {
                Box::pin(async move {
                    ops::emergency::review_callback(b, out, case_id, &user, &input, now).await
                })
            }),
            Job::DecideExtension {
                case_id,
                extension_id,
                user,
                input,
                reply,
            } => task(reply, move |b, out, cx, now| {
                Box::pin(async move {
                    let which = ops::ExtensionRef {
                        case_id,
                        extension_id,
                    };
                    ops::decide_extension(b, out, &cx.rules, which, &user, &input, now).await
                })
            }),
            Job::IfMatch {
                case_id,
                if_match,
                job,
            } => Box::new(Checked {
                case_id,
                if_match,
                inner: job.into_task(),
            }),
            Job::Sync(reply) => task(reply, |_, _, _, _| Box::pin(async { Ok(()) })),
            Job::Custody(c, reply) => task(reply, move |b, out, _, now| {
                Box::pin(async move { c.take(b, out, now).await })
            }),
            Job::Deliver {
                package_digest,
                to,
                reply,
            } => task(reply, move |b, out, cx, now| {
                Box::pin(async move {
                    // No package to a key revoked meanwhile, through whichever process.
                    let current = cx.logged_authority(&to)?;
                    if current.revoked_at.is_some() {
                        return Err(ops::revoked_problem(&current));
                    }
                    ops::record_delivered(b, out, &package_digest, &to, now).await
                })
            }),
            Job::DestroyDue {
                at,
                retention_days,
                reply,
            } => task(reply, move |b, out, _, _| {
                Box::pin(async move { ops::destroy_due(b, out, at, retention_days).await })
            }),
            Job::PublishReport(p, reply) => task(reply, move |b, out, _, now| {
                Box::pin(async move { ops::transparency::publish_report(b, out, &p, now).await })
            }),
            Job::Attach(a, reply) => task(reply, move |b, out, _, now| {
                Box::pin(async move { a.take(b, out, now).await })
            }),
            Job::Assign {
                case_id,
                user,
                input,
                reply,
            } => task(reply, move |b, out, _, now| {
                Box::pin(async move { ops::assign(b, out, case_id, &user, &input, now).await })
            }),
            Job::AddNote {
                case_id,
                user,
                input,
                reply,
            } => task(reply, move |b, out, _, now| {
                Box::pin(async move { ops::add_note(b, out, case_id, &user, &input, now).await })
            }),
        }
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A job taken apart: its operation, and where its answer goes.
trait Task: Send {
    /// Runs the operation in the batch (at `now`) and keeps its result for the answer.
    fn run<'a>(
        self: Box<Self>,
        b: &'a mut Batch,
        out: &'a mut Appended,
        cx: &'a WriterContext,
        now: Timestamp,
    ) -> BoxFuture<'a, Box<dyn Answer>>;
    /// Answers without running: the batch failed before the job's turn.
    fn refuse(self: Box<Self>, problem: &Problem);
    /// Whether the job runs inside its own savepoint (undone alone if it fails).
    fn guarded(&self) -> bool {
        true
    }
}

/// A submission: checked by reading only, then recorded. It needs no savepoint: a refusal
/// wrote nothing, and a failure while recording fails the whole batch.
struct Intake {
    s: Box<Submission>,
    reply: Reply<SubmitOutcome>,
}

impl Task for Intake {
    fn guarded(&self) -> bool {
        false
    }

    fn run<'a>(
        self: Box<Self>,
        b: &'a mut Batch,
        out: &'a mut Appended,
        cx: &'a WriterContext,
        _now: Timestamp,
    ) -> BoxFuture<'a, Box<dyn Answer>> {
        let Intake { s, reply } = *self;
        Box::pin(async move {
            // Revocation re-checked under the write lock, against the log's directory.
            let current = cx.directory.authority(&s.authority.kid);
            let (result, broken) = match ops::intake::check(b, &s, current.as_ref()).await {
                Err(refused) => (Err(refused), false),
                Ok(admitted) => match ops::intake::record(b, out, &s, admitted).await {
                    Ok(outcome) => (Ok(outcome), false),
                    Err(p) => (Err(p), true),
                },
            };
            let answer = Answered { reply, result };
            match broken {
                false => Box::new(answer) as Box<dyn Answer>,
                true => Box::new(Broken(answer)),
            }
        })
    }

    fn refuse(self: Box<Self>, problem: &Problem) {
        let _ = self.reply.send(Err(problem.clone()));
    }
}

/// A job that failed after it began writing, without a savepoint to undo it alone.
struct Broken<T>(Answered<T>);

impl<T: Send> Answer for Broken<T> {
    fn ok(&self) -> bool {
        false
    }
    fn broke_batch(&self) -> Option<Problem> {
        self.0.result.as_ref().err().cloned()
    }
    fn send(self: Box<Self>) {
        Box::new(self.0).send();
    }
    fn fail(self: Box<Self>, problem: &Problem) {
        Box::new(self.0).fail(problem);
    }
}

/// A job run only if its case is still at the version the caller read ([`Job::IfMatch`]).
struct Checked {
    case_id: i64,
    if_match: String,
    inner: Box<dyn Task>,
}

impl Task for Checked {
    fn guarded(&self) -> bool {
        self.inner.guarded()
    }

    fn run<'a>(
        self: Box<Self>,
        b: &'a mut Batch,
        out: &'a mut Appended,
        cx: &'a WriterContext,
        now: Timestamp,
    ) -> BoxFuture<'a, Box<dyn Answer>> {
        let Checked {
            case_id,
            if_match,
            inner,
        } = *self;
        Box::pin(async move {
            match ops::version::check(b, case_id, &if_match).await {
                Ok(()) => inner.run(b, out, cx, now).await,
                Err(problem) => Box::new(Stale { inner, problem }) as Box<dyn Answer>,
            }
        })
    }

    fn refuse(self: Box<Self>, problem: &Problem) {
        self.inner.refuse(problem);
    }
}

/// A change refused because its case moved on: nothing written, the 412 sent with the batch.
struct Stale {
    inner: Box<dyn Task>,
    problem: Problem,
}

impl Answer for Stale {
    fn ok(&self) -> bool {
        false
    }
    fn send(self: Box<Self>) {
        self.inner.refuse(&self.problem);
    }
    fn fail(self: Box<Self>, problem: &Problem) {
        self.inner.refuse(problem);
    }
}

/// A job's result, held until the batch is durable (or has failed).
trait Answer: Send {
    /// The problem of a job that failed half-written: the batch cannot commit.
    fn broke_batch(&self) -> Option<Problem> {
        None
    }
    /// Whether the operation succeeded (its savepoint is kept).
    fn ok(&self) -> bool;
    /// Sends the result.
    fn send(self: Box<Self>);
    /// Sends `problem` instead: the batch did not become durable.
    fn fail(self: Box<Self>, problem: &Problem);
}

struct Pending<T, F> {
    reply: Reply<T>,
    work: F,
}

fn task<T, F>(reply: Reply<T>, work: F) -> Box<dyn Task>
where
    T: Send + 'static,
    F: for<'a> FnOnce(
            &'a mut Batch,
            &'a mut Appended,
            &'a WriterContext,
            Timestamp,
        ) -> BoxFuture<'a, Result<T, Problem>>
        + Send
        + 'static,
{
    Box::new(Pending { reply, work })
}

impl<T, F> Task for Pending<T, F>
where
    T: Send + 'static,
    F: for<'a> FnOnce(
            &'a mut Batch,
            &'a mut Appended,
            &'a WriterContext,
            Timestamp,
        ) -> BoxFuture<'a, Result<T, Problem>>
        + Send
        + 'static,
{
    fn run<'a>(
        self: Box<Self>,
        b: &'a mut Batch,
        out: &'a mut Appended,
        cx: &'a WriterContext,
        now: Timestamp,
    ) -> BoxFuture<'a, Box<dyn Answer>> {
        let Pending { reply, work } = *self;
        Box::pin(async move {
            let result = work(b, out, cx, now).await;
            Box::new(Answered { reply, result }) as Box<dyn Answer>
        })
    }

    fn refuse(self: Box<Self>, problem: &Problem) {
        let _ = self.reply.send(Err(problem.clone()));
    }
}

struct Answered<T> {
    reply: Reply<T>,
    result: Result<T, Problem>,
}

impl<T: Send> Answer for Answered<T> {
    fn ok(&self) -> bool {
        self.result.is_ok()
    }
    fn send(self: Box<Self>) {
        let _ = self.reply.send(self.result);
    }
    fn fail(self: Box<Self>, problem: &Problem) {
        let _ = self.reply.send(Err(problem.clone()));
    }
}

/// Handle to send jobs to the writer.
#[derive(Clone, Debug)]
pub struct WriterHandle {
    tx: mpsc::Sender<Job>,
}

impl WriterHandle {
    /// Queues a job; fails only when the writer has stopped.
    pub async fn send(&self, job: Job) -> Result<(), Problem> {
        self.tx.send(job).await.map_err(|_| {
            Problem::unavailable("the node is shutting down; nothing was recorded. Retry.")
        })
    }
}

impl WriterHandle {
    /// Queues the job `make` builds around a reply channel, and waits for its reply.
    pub async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, Problem>>) -> Job,
    ) -> Result<T, Problem> {
        let (tx, rx) = oneshot::channel();
        self.send(make(tx)).await?;
        reply(rx).await
    }
}

impl crate::directory::CatchUp for WriterHandle {
    fn catch_up(&self) -> BoxFuture<'_, Result<(), Problem>> {
        Box::pin(self.call(Job::Sync))
    }
}

/// Waits for a job's reply.
pub async fn reply<T>(rx: oneshot::Receiver<Result<T, Problem>>) -> Result<T, Problem> {
    rx.await.map_err(|_| {
        Problem::unavailable("the node stopped before recording this; nothing was recorded. Retry.")
    })?
}

/// What the writer needs besides the store and the log.
pub struct WriterContext {
    /// Lifecycle settings.
    pub rules: LifecycleRules,
    /// The verified directory, kept up to date with every committed event.
    pub directory: Arc<Directory>,
    /// The node directory, where the head file is kept.
    pub dir: PathBuf,
    /// Where every job and checkpoint takes "now" from.
    pub clock: crate::clock::Clock,
    /// The node's safeguards engine (its profile and jurisdiction), for re-assessing a
    /// reclassified request under the write lock.
    pub assessor: Arc<custos_safeguards::Assessor>,
}

impl std::fmt::Debug for WriterContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterContext")
            .field("rules", &self.rules)
            .field("directory", &self.directory)
            .field("dir", &self.dir)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl WriterContext {
    /// A confirmation key and its authority re-checked under the write lock.
    fn logged_confirmation_key(&self, signer: &ops::ConfirmationSigner) -> Result<(), Problem> {
        let key = self.directory.confirmation_key(&signer.kid);
        let authority = self.directory.authority(&signer.authority_kid);
        if key.is_none_or(|k| k.authority_kid != signer.authority_kid)
            || authority.is_none_or(|a| a.revoked_at.is_some())
        {
            return Err(Problem::forbidden(
                "unknown-key",
                format!(
                    "the confirmation key {} is not in force in the log's directory",
                    signer.kid
                ),
            ));
        }
        Ok(())
    }

    /// The authority `kid` as the log's directory has it now: revocation is checked again under
    /// the write lock, whatever the handler saw when it verified the signature.
    fn logged_authority(&self, kid: &str) -> Result<Authority, Problem> {
        self.directory.authority(kid).ok_or_else(|| {
            Problem::forbidden(
                "unknown-key",
                format!("the key {kid} is not in the log's directory"),
            )
        })
    }
}

/// Starts the writer task.
pub fn spawn(store: Store, log: Arc<NodeLog>, cx: WriterContext) -> WriterHandle {
    let (tx, rx) = mpsc::channel(4096);
    tokio::spawn(run(store, log, cx, rx));
    WriterHandle { tx }
}

async fn run(store: Store, log: Arc<NodeLog>, cx: WriterContext, mut rx: mpsc::Receiver<Job>) {
    let cx = Arc::new(cx);
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    // The previous batch's head write and answers, still under way while this batch runs: its
    // commit is durable, so the next batch may build on it; its callers hear "done" only once
    // its head is on disk too. One at a time and in order, so answers and heads never overtake.
    let mut finishing: Option<tokio::task::JoinHandle<()>> = None;
    // The tree may hold leaves of a batch that did not commit until it is rebuilt; when the
    // database was unreachable to rebuild it, it is rebuilt before the next batch.
    let mut stale = false;
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let tasks: Vec<Box<dyn Task>> = jobs.drain(..).map(Job::into_task).collect();
        if stale {
            if let Some(previous) = finishing.take() {
                let _ = previous.await;
            }
            if let Err(e) = log.reload(&store).await {
                tracing::warn!(error = %e, "the log tree is still to be rebuilt from the database");
                let p = match e.downcast::<custos_store::StoreError>() {
                    Ok(e) => Problem::from(e),
                    Err(e) => Problem::internal(e.to_string()),
                };
                Failed::new(p, Vec::new(), tasks).answer();
                continue;
            }
            stale = false;
        }
        let outcome = run_batch(&store, &log, &cx, tasks).await;
        if let Some(previous) = finishing.take() {
            let _ = previous.await;
        }
        match outcome {
            Ok(committed) => {
                finishing = Some(tokio::spawn(finish(log.clone(), cx.clone(), committed)));
            }
            Err(failed) => {
                let problem = &failed.problem;
                tracing::error!(%problem, "batch failed; rebuilding the log tree from the database");
                if let Err(e) = log.reload(&store).await {
                    tracing::warn!(error = %e, "could not rebuild the log tree yet; it is rebuilt before the next batch");
                    stale = true;
                }
                failed.answer();
            }
        }
    }
    if let Some(last) = finishing {
        let _ = last.await;
    }
}

/// A batch whose transaction committed: its answers, and the checkpoint it signed (if any).
struct Committed {
    answers: Vec<Box<dyn Answer>>,
    checkpoint: Option<StoredCheckpoint>,
}

/// Makes a committed batch's checkpoint the head on disk, serves it, then answers: an
/// acknowledged request is durable and covered by a durable head (a database later rolled back
/// behind it is refused at start instead of reusing these log indexes).
async fn finish(log: Arc<NodeLog>, cx: Arc<WriterContext>, committed: Committed) {
    let Committed {
        answers,
        checkpoint,
    } = committed;
    if let Some(cp) = checkpoint {
        let kept = tokio::task::spawn_blocking({
            let (dir, note) = (cx.dir.clone(), cp.note.clone());
            move || crate::integrity::write_head(&dir, &note)
        })
        .await;
        log.publish(cp);
        if !matches!(kept, Ok(Ok(()))) {
            tracing::error!(?kept, "could not write the head file");
            let p = Problem::unavailable(
                "the node recorded this but could not keep its log head on disk; tell its operator. A retry of the same request is safe.",
            );
            for a in answers {
                a.fail(&p);
            }
            return;
        }
    }
    answers.into_iter().for_each(|a| a.send());
}

/// A batch that did not commit: every job in it, run or not, hears why.
struct Failed {
    problem: Problem,
    answers: Vec<Box<dyn Answer>>,
    unrun: Vec<Box<dyn Task>>,
}

impl Failed {
    fn new(
        problem: impl Into<Problem>,
        answers: Vec<Box<dyn Answer>>,
        unrun: impl IntoIterator<Item = Box<dyn Task>>,
    ) -> Failed {
        Failed {
            problem: problem.into(),
            answers,
            unrun: unrun.into_iter().collect(),
        }
    }

    fn answer(self) {
        for a in self.answers {
            a.fail(&self.problem);
        }
        for t in self.unrun {
            t.refuse(&self.problem);
        }
    }
}

async fn run_batch(
    store: &Store,
    log: &NodeLog,
    cx: &WriterContext,
    tasks: Vec<Box<dyn Task>>,
) -> Result<Committed, Failed> {
    let mut answers: Vec<Box<dyn Answer>> = Vec::with_capacity(tasks.len());
    let mut tasks = tasks.into_iter();
    let mut b = match store.begin().await {
        Ok(b) => b,
        Err(e) => return Err(Failed::new(e, answers, tasks)),
    };
    // Catch up with events appended by other processes (e.g. `custos authority add`, or
    // another `custos serve` on the same PostgreSQL database).
    let adopted = match catch_up(&mut b, log, &cx.directory).await {
        Ok(adopted) => adopted,
        Err(p) => return Err(Failed::new(p, answers, tasks)),
    };
    let mut appended: Appended = Vec::new();
    while let Some(task) = tasks.next() {
        let mut out: Appended = Vec::new();
        let guarded = task.guarded();
        if !guarded {
            let answer = task.run(&mut b, &mut out, cx, cx.clock.now()).await;
            if let Some(problem) = answer.broke_batch() {
                answers.push(answer);
                return Err(Failed::new(problem, answers, tasks));
            }
            if answer.ok() {
                appended.extend(out);
            }
            answers.push(answer);
            continue;
        }
        if let Err(e) = b.savepoint().await {
            return Err(Failed::new(e, answers, std::iter::once(task).chain(tasks)));
        }
        let answer = task.run(&mut b, &mut out, cx, cx.clock.now()).await;
        let ok = answer.ok();
        let end = if ok {
            b.release_job().await
        } else {
            b.rollback_job().await
        };
        answers.push(answer);
        if let Err(e) = end {
            return Err(Failed::new(e, answers, tasks));
        }
        if ok {
            appended.extend(out);
        }
    }
    let now = cx.clock.now();
    if !appended.is_empty() || log.published_size() < log.tree_size() || log.checkpoint().is_none()
    {
        let cp = match adopted.filter(|_| appended.is_empty()) {
            // Another process signed exactly this tree: serve its checkpoint (the same bytes
            // this process would sign, Ed25519 being deterministic) rather than sign again.
            Some(cp) => cp,
            None => {
                let leaves: Vec<&[u8]> = appended.iter().map(|e| e.leaf.as_slice()).collect();
                if let Err(e) = log.append_leaves(&leaves) {
                    return Err(Failed::new(Problem::internal(e.to_string()), answers, []));
                }
                let cp = match log.sign_checkpoint(now) {
                    Ok(cp) => cp,
                    Err(e) => {
                        return Err(Failed::new(Problem::internal(e.to_string()), answers, []));
                    }
                };
                if let Err(e) = b.put_checkpoint(&cp).await {
                    return Err(Failed::new(e, answers, []));
                }
                cp
            }
        };
        if let Err(e) = b.commit().await {
            return Err(Failed::new(e, answers, []));
        }
        cx.directory.apply(&appended);
        Ok(Committed {
            answers,
            checkpoint: Some(cp),
        })
    } else if let Err(e) = b.commit().await {
        Err(Failed::new(e, answers, []))
    } else {
        Ok(Committed {
            answers,
            checkpoint: None,
        })
    }
}

/// Takes in events other processes appended (the CLI's offline writes, other `custos serve`
/// processes). They must be covered by a checkpoint signed with the node key, which such a
/// process writes in the same commit; events slipped into the database without one are
/// refused, never signed by the node. Answers that checkpoint (verified) when events were taken
/// in.
async fn catch_up(
    b: &mut Batch,
    log: &NodeLog,
    directory: &Directory,
) -> Result<Option<custos_store::StoredCheckpoint>, Problem> {
    let db_size = b.log_size().await?;
    let tree_size = log.tree_size();
    if db_size == tree_size {
        return Ok(None);
    }
    if db_size < tree_size {
        return Err(Problem::internal(format!(
            "the database holds {db_size} events but the log has {tree_size}: events were removed. Run `custos audit`."
        )));
    }
    let foreign = b.events_from(tree_size).await?;
    let leaves: Vec<&[u8]> = foreign.iter().map(|e| e.leaf.as_slice()).collect();
    log.append_leaves(&leaves)
        .map_err(|e| Problem::internal(e.to_string()))?;
    let latest = b.latest_checkpoint().await?;
    let verified = match crate::integrity::check_history(
        log.tree_size(),
        |s| log.root_at(s).ok(),
        latest.as_ref(),
        None,
        log.origin(),
        &log.verifier(),
    ) {
        Ok(verified) => verified,
        Err(e) => {
            tracing::error!(problem = %e, "events appended by another process were refused");
            return Err(Problem::unavailable(
                "the node found events in its database that it cannot verify and records nothing until its operator runs `custos audit`",
            ));
        }
    };
    directory.apply(&foreign);
    // What the note signs, not the row's unsigned columns.
    Ok(match (latest, verified) {
        (Some(row), Some(cp)) => Some(custos_store::StoredCheckpoint {
            size: cp.size,
            root: cp.root,
            note: row.note,
            signed_at: row.signed_at,
        }),
        _ => None,
    })
}
