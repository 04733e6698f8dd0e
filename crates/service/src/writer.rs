//! The single writer: every state change of the node goes through here, in one task, so the log
//! has one order. Jobs queue on a channel; the writer takes as many as are waiting (group
//! commit), runs each inside its own savepoint of one transaction, appends their events' leaves
//! to the tree, signs a checkpoint over the result, and commits once. Only after the commit is
//! durable does any caller hear "done", so an acknowledged request survives a `kill -9`.

use std::path::PathBuf;
use std::sync::Arc;

use custos_store::{Batch, Case, CaseStatus, Evidence, Hold, Store, User};
use jiff::Timestamp;
use tokio::sync::{mpsc, oneshot};

use crate::directory::Directory;
use crate::log::NodeLog;
use crate::ops::{
    self, Appended, DecisionInput, DueNotice, LifecycleRules, Submission, SubmitOutcome,
};
use crate::problem::Problem;

/// Most jobs one transaction carries.
const MAX_BATCH: usize = 512;

/// A unit of work for the writer.
#[derive(Debug)]
pub enum Job {
    /// Record a verified submission.
    Submit(
        Box<Submission>,
        oneshot::Sender<Result<SubmitOutcome, Problem>>,
    ),
    /// Record a decision.
    Decide {
        /// The case.
        case_id: i64,
        /// Who.
        user: User,
        /// What.
        input: DecisionInput,
        /// Reply.
        reply: oneshot::Sender<Result<Case, Problem>>,
    },
    /// Second review of a pending decision.
    SecondReview {
        /// The case.
        case_id: i64,
        /// Who.
        user: User,
        /// Confirm or reject, and why.
        input: crate::ops::SecondReviewInput,
        /// Reply.
        reply: oneshot::Sender<Result<Case, Problem>>,
    },
    /// Renew a hold.
    Renew {
        /// The case.
        case_id: i64,
        /// Who.
        user: User,
        /// Reply.
        reply: oneshot::Sender<Result<Hold, Problem>>,
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
        reply: oneshot::Sender<Result<Case, Problem>>,
    },
    /// Scheduler tick.
    Tick(Timestamp, oneshot::Sender<Result<Vec<DueNotice>, Problem>>),
    /// Result of a notice delivery.
    NoticeResult(
        i64,
        Result<(), String>,
        oneshot::Sender<Result<(), Problem>>,
    ),
    /// Catch up with events other processes appended, and sign a checkpoint if needed.
    Sync(oneshot::Sender<Result<(), Problem>>),
    /// Take a package into custody: check, rename into place and record, in one step.
    Custody(
        Box<crate::evidence::Custody>,
        oneshot::Sender<Result<Evidence, Problem>>,
    ),
    /// Any other operation on a batch (used by modules with their own state changes).
    Op(
        Operation,
        oneshot::Sender<Result<serde_json::Value, Problem>>,
    ),
}

/// An operation run inside the writer's batch (see [`OpFn`]).
pub struct Operation(pub OpFn);

impl std::fmt::Debug for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Operation")
    }
}

/// An operation run inside the writer's batch.
pub type OpFn = Box<
    dyn for<'a> FnOnce(
            &'a mut Batch,
            &'a mut Appended,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<serde_json::Value, Problem>> + Send + 'a>,
        > + Send,
>;

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

/// Waits for a job's reply.
pub async fn reply<T>(rx: oneshot::Receiver<Result<T, Problem>>) -> Result<T, Problem> {
    rx.await.map_err(|_| {
        Problem::unavailable("the node stopped before recording this; nothing was recorded. Retry.")
    })?
}

/// What the writer needs besides the store and the log.
#[derive(Debug)]
pub struct WriterContext {
    /// Lifecycle settings.
    pub rules: LifecycleRules,
    /// The verified directory, kept up to date with every committed event.
    pub directory: Arc<Directory>,
    /// The node directory, where the head file is kept.
    pub dir: PathBuf,
}

/// Starts the writer task.
pub fn spawn(store: Store, log: Arc<NodeLog>, cx: WriterContext) -> WriterHandle {
    let (tx, rx) = mpsc::channel(4096);
    tokio::spawn(run(store, log, cx, rx));
    WriterHandle { tx }
}

enum Reply {
    Submit(
        oneshot::Sender<Result<SubmitOutcome, Problem>>,
        Result<SubmitOutcome, Problem>,
    ),
    Case(
        oneshot::Sender<Result<Case, Problem>>,
        Result<Case, Problem>,
    ),
    Hold(
        oneshot::Sender<Result<Hold, Problem>>,
        Result<Hold, Problem>,
    ),
    Due(
        oneshot::Sender<Result<Vec<DueNotice>, Problem>>,
        Result<Vec<DueNotice>, Problem>,
    ),
    Unit(oneshot::Sender<Result<(), Problem>>, Result<(), Problem>),
    Evidence(
        oneshot::Sender<Result<Evidence, Problem>>,
        Result<Evidence, Problem>,
    ),
    Value(
        oneshot::Sender<Result<serde_json::Value, Problem>>,
        Result<serde_json::Value, Problem>,
    ),
}

impl Reply {
    fn fail(self, p: &Problem) {
        match self {
            Reply::Submit(tx, _) => drop(tx.send(Err(p.clone()))),
            Reply::Case(tx, _) => drop(tx.send(Err(p.clone()))),
            Reply::Hold(tx, _) => drop(tx.send(Err(p.clone()))),
            Reply::Due(tx, _) => drop(tx.send(Err(p.clone()))),
            Reply::Unit(tx, _) => drop(tx.send(Err(p.clone()))),
            Reply::Evidence(tx, _) => drop(tx.send(Err(p.clone()))),
            Reply::Value(tx, _) => drop(tx.send(Err(p.clone()))),
        }
    }
    fn send(self) {
        match self {
            Reply::Submit(tx, r) => drop(tx.send(r)),
            Reply::Case(tx, r) => drop(tx.send(r)),
            Reply::Hold(tx, r) => drop(tx.send(r)),
            Reply::Due(tx, r) => drop(tx.send(r)),
            Reply::Unit(tx, r) => drop(tx.send(r)),
            Reply::Evidence(tx, r) => drop(tx.send(r)),
            Reply::Value(tx, r) => drop(tx.send(r)),
        }
    }
}

async fn run(store: Store, log: Arc<NodeLog>, cx: WriterContext, mut rx: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let replies = match run_batch(&store, &log, &cx, jobs.drain(..)).await {
            Ok(replies) => replies,
            Err((replies, problem)) => {
                tracing::error!(%problem, "batch failed; rebuilding the log tree from the database");
                if let Err(e) = log.reload(&store).await {
                    tracing::error!(error = %e, "could not rebuild the log tree");
                }
                for r in replies {
                    r.fail(&problem);
                }
                continue;
            }
        };
        for r in replies {
            r.send();
        }
    }
}

type BatchResult = Result<Vec<Reply>, (Vec<Reply>, Problem)>;

async fn run_batch(
    store: &Store,
    log: &NodeLog,
    cx: &WriterContext,
    jobs: impl Iterator<Item = Job>,
) -> BatchResult {
    let mut replies = Vec::new();
    let mut b = match store.begin().await {
        Ok(b) => b,
        Err(e) => {
            for job in jobs {
                replies.push(placeholder(job));
            }
            return Err((replies, Problem::from(e)));
        }
    };
    // Catch up with events appended by other processes (e.g. `custos authority add`).
    if let Err(p) = catch_up(&mut b, log, &cx.directory).await {
        replies.extend(jobs.map(placeholder));
        return Err((replies, p));
    }
    let mut appended: Appended = Vec::new();
    for job in jobs {
        let mut out: Appended = Vec::new();
        if let Err(e) = b.savepoint().await {
            replies.push(placeholder(job));
            return Err((replies, e.into()));
        }
        let reply = run_job(&mut b, &mut out, cx, job).await;
        let ok = reply_ok(&reply);
        let end = if ok {
            b.release_job().await
        } else {
            b.rollback_job().await
        };
        if let Err(e) = end {
            replies.push(reply);
            return Err((replies, e.into()));
        }
        if ok {
            appended.extend(out);
        }
        replies.push(reply);
    }
    let now = Timestamp::now();
    if !appended.is_empty() || log.published_size() < log.tree_size() || log.checkpoint().is_none()
    {
        let leaves: Vec<&[u8]> = appended.iter().map(|e| e.leaf.as_slice()).collect();
        if let Err(e) = log.append_leaves(&leaves) {
            return Err((replies, Problem::internal(e.to_string())));
        }
        let cp = match log.sign_checkpoint(now) {
            Ok(cp) => cp,
            Err(e) => return Err((replies, Problem::internal(e.to_string()))),
        };
        if let Err(e) = b.put_checkpoint(&cp).await {
            return Err((replies, e.into()));
        }
        if let Err(e) = b.commit().await {
            return Err((replies, e.into()));
        }
        cx.directory.apply(&appended);
        // The high-water mark is durable before anyone hears "done": a database later rolled
        // back behind it is refused at start instead of reusing these log indexes.
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
            for r in replies {
                r.fail(&p);
            }
            return Ok(Vec::new());
        }
    } else if let Err(e) = b.commit().await {
        return Err((replies, e.into()));
    }
    Ok(replies)
}

/// Takes in events other processes appended (the CLI's offline writes). They must be covered
/// by a checkpoint signed with the node key, which such a process writes in the same commit;
/// events slipped into the database without one are refused, never signed by the node.
async fn catch_up(b: &mut Batch, log: &NodeLog, directory: &Directory) -> Result<(), Problem> {
    let db_size = b.log_size().await?;
    let tree_size = log.tree_size();
    if db_size == tree_size {
        return Ok(());
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
    if let Err(e) = crate::integrity::check_history(
        log.tree_size(),
        |s| log.root_at(s).ok(),
        latest.as_ref(),
        None,
        log.origin(),
        &log.verifier(),
    ) {
        tracing::error!(problem = %e, "events appended by another process were refused");
        return Err(Problem::unavailable(
            "the node found events in its database that it cannot verify and records nothing until its operator runs `custos audit`",
        ));
    }
    directory.apply(&foreign);
    Ok(())
}

fn reply_ok(r: &Reply) -> bool {
    match r {
        Reply::Submit(_, r) => r.is_ok(),
        Reply::Case(_, r) => r.is_ok(),
        Reply::Hold(_, r) => r.is_ok(),
        Reply::Due(_, r) => r.is_ok(),
        Reply::Unit(_, r) => r.is_ok(),
        Reply::Evidence(_, r) => r.is_ok(),
        Reply::Value(_, r) => r.is_ok(),
    }
}

fn placeholder(job: Job) -> Reply {
    fn p<T>() -> Result<T, Problem> {
        Err(Problem::unavailable("not run"))
    }
    match job {
        Job::Submit(_, tx) => Reply::Submit(tx, p()),
        Job::Decide { reply, .. }
        | Job::SecondReview { reply, .. }
        | Job::Advance { reply, .. } => Reply::Case(reply, p()),
        Job::Renew { reply, .. } => Reply::Hold(reply, p()),
        Job::Tick(_, tx) => Reply::Due(tx, p()),
        Job::NoticeResult(_, _, tx) | Job::Sync(tx) => Reply::Unit(tx, p()),
        Job::Custody(_, tx) => Reply::Evidence(tx, p()),
        Job::Op(_, tx) => Reply::Value(tx, p()),
    }
}

async fn run_job(b: &mut Batch, out: &mut Appended, cx: &WriterContext, job: Job) -> Reply {
    let now = Timestamp::now();
    let rules = &cx.rules;
    match job {
        Job::Submit(s, tx) => {
            // Revocation re-checked under the write lock, against the log's directory.
            let current = cx.directory.authority(&s.authority.kid);
            Reply::Submit(tx, ops::submit(b, out, &s, current.as_ref()).await)
        }
        Job::Decide {
            case_id,
            user,
            input,
            reply,
        } => Reply::Case(
            reply,
            ops::decide(b, out, rules, case_id, &user, &input, now).await,
        ),
        Job::SecondReview {
            case_id,
            user,
            input,
            reply,
        } => Reply::Case(
            reply,
            ops::second_review(b, out, rules, case_id, &user, &input, now).await,
        ),
        Job::Renew {
            case_id,
            user,
            reply,
        } => Reply::Hold(
            reply,
            ops::renew_hold(b, out, rules, case_id, &user, now).await,
        ),
        Job::Advance {
            case_id,
            user,
            to,
            reply,
        } => Reply::Case(reply, ops::advance(b, out, case_id, &user, to, now).await),
        Job::Tick(at, tx) => Reply::Due(tx, ops::tick(b, out, at).await),
        Job::NoticeResult(case_id, result, tx) => {
            Reply::Unit(tx, ops::notice_result(b, out, case_id, result, now).await)
        }
        Job::Sync(tx) => Reply::Unit(tx, Ok(())),
        Job::Custody(c, tx) => Reply::Evidence(tx, c.take(b, out, now).await),
        Job::Op(op, tx) => Reply::Value(tx, (op.0)(b, out).await),
    }
}
