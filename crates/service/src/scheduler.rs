//! The scheduler: what falls due without anyone asking. Each pass has the writer release lapsed
//! holds and record ends of confidentiality ([`crate::ops::tick`]), destroy packages whose
//! retention ended ([`crate::ops::destroy_due`], then their files), and runs the operator's
//! notice command for each notice due, recording the result. Items are picked by state, not by
//! timers, so a node that was down catches up on everything that fell due meanwhile.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use crate::custody::remove_destroyed_files;
use crate::node::Node;
use crate::problem::Problem;
use crate::writer::Job;

impl Node {
    /// Runs the scheduler forever: on start (catching up on everything that fell due while the
    /// node was down) and then every `scheduler_interval_seconds`.
    pub async fn run_scheduler(self: Arc<Self>) {
        let every = Duration::from_secs(self.config.lifecycle.scheduler_interval_seconds.max(1));
        loop {
            if let Err(e) = self.scheduler_pass(Timestamp::now()).await {
                tracing::warn!(problem = %e, "scheduler pass failed; retrying at the next tick");
            }
            tokio::time::sleep(every).await;
        }
    }

    /// One scheduler pass at `now`.
    pub async fn scheduler_pass(&self, now: Timestamp) -> Result<(), Problem> {
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
        let Some(command) = self.config.lifecycle.notice_command.clone() else {
            return Ok(());
        };
        for notice in due {
            let result = tokio::process::Command::new("sh")
                .arg("-c")
                .arg(&command)
                .env("CUSTOS_CASE", notice.case_id.to_string())
                .env("CUSTOS_REQUEST_ID", &notice.request_id)
                .env("CUSTOS_NOTICE_DUE_AT", notice.due_at.to_string())
                .current_dir(&self.dir)
                .status()
                .await;
            let result = match result {
                Ok(s) if s.success() => Ok(()),
                Ok(s) => Err(format!("notice command exited with {s}")),
                Err(e) => Err(format!("notice command could not start: {e}")),
            };
            self.writer
                .call(|tx| Job::NoticeResult(notice.case_id, result, tx))
                .await?;
        }
        Ok(())
    }
}
