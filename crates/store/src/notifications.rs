//! How far each staff-notification channel has followed the log (migration 0014): the first
//! log index it has not handled, and its failed attempts at that index. Not events (see the
//! migration); each change is one portable statement, like the console's sessions.

use jiff::Timestamp;

use crate::backend::on_pool;
use crate::{Result, Store, StoreError};

/// Where one channel stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotificationCursor {
    /// The first log index not yet handled.
    pub next_seq: u64,
    /// Failed attempts at `next_seq`'s notification so far.
    pub failures: u32,
    /// When the next attempt may be made, after a failure.
    pub retry_at: Option<Timestamp>,
}

type CursorRow = (i64, i64, Option<i64>);

fn corrupt(detail: String) -> StoreError {
    StoreError::Corrupt {
        what: "notification_cursors".into(),
        detail,
    }
}

impl Store {
    /// Starts `channel`'s cursor at log index `seq` unless it has one: a channel configured
    /// on a node with a history is told of what happens from then on, not of the past.
    pub async fn start_notification_cursor(&self, channel: &str, seq: u64) -> Result<()> {
        on_pool!(&self.pool, p => sqlx::query(
            "INSERT INTO notification_cursors (channel, next_seq, failures) VALUES ($1, $2, 0) \
             ON CONFLICT (channel) DO NOTHING",
        )
        .bind(channel)
        .bind(seq as i64)
        .execute(p)
        .await
        .map(drop)?);
        Ok(())
    }

    /// Where `channel` stands, if it was started.
    pub async fn notification_cursor(&self, channel: &str) -> Result<Option<NotificationCursor>> {
        let row: Option<CursorRow> = on_pool!(&self.pool, p => sqlx::query_as(
            "SELECT next_seq, failures, retry_at FROM notification_cursors WHERE channel = $1",
        )
        .bind(channel)
        .fetch_optional(p)
        .await?);
        row.map(|(next, failures, retry)| {
            Ok(NotificationCursor {
                next_seq: u64::try_from(next).map_err(|_| corrupt(format!("next_seq {next}")))?,
                failures: u32::try_from(failures)
                    .map_err(|_| corrupt(format!("failures {failures}")))?,
                retry_at: retry
                    .map(|ms| {
                        Timestamp::from_millisecond(ms)
                            .map_err(|e| corrupt(format!("retry_at {ms}: {e}")))
                    })
                    .transpose()?,
            })
        })
        .transpose()
    }

    /// Forgets `channel`'s cursor (the channel is no longer configured).
    pub async fn forget_notification_cursor(&self, channel: &str) -> Result<()> {
        on_pool!(&self.pool, p => sqlx::query("DELETE FROM notification_cursors WHERE channel = $1")
            .bind(channel)
            .execute(p)
            .await
            .map(drop)?);
        Ok(())
    }

    /// Moves `channel`'s cursor.
    pub async fn set_notification_cursor(
        &self,
        channel: &str,
        c: NotificationCursor,
    ) -> Result<()> {
        on_pool!(&self.pool, p => sqlx::query(
            "UPDATE notification_cursors SET next_seq = $2, failures = $3, retry_at = $4 \
             WHERE channel = $1",
        )
        .bind(channel)
        .bind(c.next_seq as i64)
        .bind(i64::from(c.failures))
        .bind(c.retry_at.map(|t| t.as_millisecond()))
        .execute(p)
        .await
        .map(drop)?);
        Ok(())
    }
}
