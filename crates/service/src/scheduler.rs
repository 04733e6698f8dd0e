//! The scheduler: what falls due without anyone asking. Each pass has the writer release lapsed
//! holds and record ends of confidentiality ([`crate::ops::tick`]), destroy packages whose
//! retention ended ([`crate::ops::destroy_due`], then their files), and hands each notice whose
//! delivery attempt is due to the operator's notice command, recording the outcome
//! (`notice.sent`, or `notice.failed` with the reason; a failure is retried with backoff, see
//! [`crate::ops::retry_delay`]), and tells staff of what waits for them ([`crate::notify`]).
//! Items are picked by state, not by timers, so a node that was
//! down catches up on everything that fell due meanwhile and a restart loses no retry.
//!
//! The notice command (`lifecycle.notice_command`, run with `sh -c` in the node directory) reads
//! the notice as JSON (`custos.notice/v1`, [`crate::ops::NoticeDocument`]) on its standard
//! input, and finds `CUSTOS_CASE`, `CUSTOS_REQUEST_ID`, `CUSTOS_NOTICE_DUE_AT` and
//! `CUSTOS_NOTICE_ATTEMPT` in its environment. Exit 0 means delivered. Nothing of the notice
//! is written to the node's own log output.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::custody::remove_destroyed_files;
use crate::node::Node;
use crate::ops::{DueNotice, NoticeDelivery};
use crate::problem::Problem;
use crate::writer::Job;

/// How long a notice command may run before the attempt counts as failed.
pub const NOTICE_COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

impl Node {
    /// Runs the scheduler forever: on start (catching up on everything that fell due while the
    /// node was down) and then every `scheduler_interval_seconds`. `caught_up` is told once the
    /// first pass is over (or was not this process's to run), so `custos serve` answers no
    /// request before a restarted node has logged what fell due while it was down.
    ///
    /// With several processes on one PostgreSQL database only the holder of the scheduler's
    /// lease runs passes ([`custos_store::Store::scheduler_lease`]), so a notice command is not
    /// run by two processes for one attempt; when the holder dies or loses its database, the
    /// lock goes with its session and another process takes over at its next tick. (Ticks
    /// would be safe twice, each running in a write batch on the state it reads; the notice
    /// command, run outside any batch, would not.)
    pub async fn run_scheduler(
        self: Arc<Self>,
        caught_up: Option<tokio::sync::oneshot::Sender<()>>,
    ) {
        let every = Duration::from_secs(self.config.lifecycle.scheduler_interval_seconds.max(1));
        let mut lease: Option<custos_store::Lease> = None;
        let mut caught_up = caught_up;
        loop {
            let holds = match &mut lease {
                Some(l) => l.holds().await,
                None => false,
            };
            if !holds {
                if lease.take().is_some() {
                    tracing::warn!(
                        "this process lost the scheduler's lease with its database connection; another process may run the scheduler"
                    );
                }
                match self.store.scheduler_lease().await {
                    Ok(Some(l)) => {
                        tracing::info!("this process runs the node's scheduler");
                        lease = Some(l);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "could not ask for the scheduler's lease; retrying at the next tick")
                    }
                }
            }
            if lease.is_some()
                && let Err(e) = self.pass(Timestamp::now(), &mut caught_up).await
            {
                tracing::warn!(problem = %e, "scheduler pass failed; retrying at the next tick");
            }
            if let Some(tx) = caught_up.take() {
                let _ = tx.send(());
            }
            tokio::time::sleep(every).await;
        }
    }

    /// One scheduler pass at `now`.
    pub async fn scheduler_pass(&self, now: Timestamp) -> Result<(), Problem> {
        self.pass(now, &mut None).await
    }

    /// One pass; `caught_up` is told once what fell due is logged, before notice commands run
    /// (they may take up to [`NOTICE_COMMAND_TIMEOUT`] each).
    async fn pass(
        &self,
        now: Timestamp,
        caught_up: &mut Option<tokio::sync::oneshot::Sender<()>>,
    ) -> Result<(), Problem> {
        let due = self.writer.call(|tx| Job::Tick(now, tx)).await?;
        if let Some(retention_days) = self.config.lifecycle.evidence_retention_days {
            // Logged first: a package is never gone without its destruction in the log.
            self.writer
                .call(|reply| Job::DestroyDue {
                    at: now,
                    retention_days,
                    reply,
                })
                .await?;
            remove_destroyed_files(&self.store, &self.dir).await?;
        }
        if let Some(tx) = caught_up.take() {
            let _ = tx.send(());
        }
        // Staff first: a new emergency's notification should not wait behind notice commands.
        self.notify_staff(now).await?;
        let Some(command) = self.config.lifecycle.notice_command.clone() else {
            // Without a command, due notices are listed for people to send (GET /v1/notices,
            // the console), and not marked sent.
            return Ok(());
        };
        for notice in due {
            let delivery = self.deliver(&command, &notice).await;
            if let NoticeDelivery::Failed { error } = &delivery {
                tracing::warn!(
                    case = notice.case_id,
                    attempt = notice.attempt,
                    error = %error,
                    "a notice could not be delivered; it will be tried again"
                );
            }
            let case_id = notice.case_id;
            self.writer
                .call(|reply| Job::NoticeResult {
                    case_id,
                    at: now,
                    delivery,
                    reply,
                })
                .await?;
        }
        Ok(())
    }

    /// Runs the notice command for one notice, the JSON on its standard input.
    async fn deliver(&self, command: &str, notice: &DueNotice) -> NoticeDelivery {
        let failed = |error: String| NoticeDelivery::Failed { error };
        let document = match &notice.document {
            Ok(d) => d,
            Err(e) => return failed(format!("the notice could not be made: {e}")),
        };
        let mut json = match serde_json::to_vec_pretty(document) {
            Ok(j) => j,
            Err(e) => return failed(format!("the notice could not be written as JSON: {e}")),
        };
        json.push(b'\n');
        let notice_sha256 = hex::encode(Sha256::digest(&json));
        let child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(command)
            .env("CUSTOS_CASE", notice.case_id.to_string())
            .env("CUSTOS_REQUEST_ID", &notice.request_id)
            .env("CUSTOS_NOTICE_DUE_AT", notice.due_at.to_string())
            .env("CUSTOS_NOTICE_ATTEMPT", notice.attempt.to_string())
            .current_dir(&self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => return failed(format!("the notice command could not start: {e}")),
        };
        let stdin = child.stdin.take();
        let run = async {
            if let Some(mut stdin) = stdin {
                // A command that does not read its input closes the pipe: not a failure by
                // itself, its exit status decides.
                let _ = stdin.write_all(&json).await;
                drop(stdin);
            }
            child.wait().await
        };
        match tokio::time::timeout(NOTICE_COMMAND_TIMEOUT, run).await {
            Ok(Ok(s)) if s.success() => NoticeDelivery::Sent { notice_sha256 },
            Ok(Ok(s)) => failed(format!("the notice command exited with {s}")),
            Ok(Err(e)) => failed(format!("the notice command could not be waited for: {e}")),
            Err(_) => failed(format!(
                "the notice command did not finish within {} s and was stopped",
                NOTICE_COMMAND_TIMEOUT.as_secs()
            )),
        }
    }
}
