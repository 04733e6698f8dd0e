//! Notifications to staff (issue 16): each channel configured in `[notifications]` (a command, a
//! webhook) follows the log from its own cursor in the store and is told of every event that
//! asks for someone's attention ([`Occasion`]), in log order.
//!
//! Nothing is lost or doubled across restarts: the cursor moves only after a delivery, and a
//! failed one stops its channel there, retried with the notices' backoff
//! ([`crate::ops::retry_delay`]) from the failure count kept with the cursor. A process killed
//! between a delivery and the cursor's move delivers once more (at least once, like notices);
//! `log_index` lets a receiver drop the repeat. Deliveries are not events: an event concerning
//! a case would change its version and make a reviewer's open page stale. Only the process
//! holding the scheduler's lease runs passes, so with several processes one notifies.
//!
//! Privacy: a notification says what happened and where to look, never what the request says
//! (no contents, no target, no person); tracing gets the channel, occasion, case and error.

use std::process::Stdio;
use std::time::Duration;

use custos_model::EventType;
use custos_store::{NotificationCursor, StoredEvent};
use jiff::Timestamp;
use serde::Serialize;
use tokio::io::AsyncWriteExt;

use crate::config::NotificationsConfig;
use crate::node::Node;
use crate::problem::Problem;

/// The format tag of a notification.
pub const NOTIFICATION_FORMAT: &str = "custos.notification/v1";
/// How long a notification command may run.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the webhook may take to answer.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
/// Events read from the log at a time.
const PAGE: u64 = 500;

/// What asks for staff's attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Occasion {
    /// A request claiming an emergency arrived (an 8-hour clock runs).
    EmergencyReceived,
    /// A decision or a correction of offences waits for a second reviewer.
    SecondReviewWaiting,
    /// The requester supplemented its request (the deadline restarted).
    SupplementReceived,
    /// The requester answered a consultation.
    ConsultationAnswered,
    /// The order that must follow an executed emergency did not arrive in time.
    OrderMissed,
    /// The requester asks to move a deadline.
    ExtensionRequested,
    /// The requester withdrew its request.
    RequestWithdrawn,
}

impl Occasion {
    /// The occasion's word (`CUSTOS_NOTIFICATION`, the JSON's `occasion`).
    pub fn as_str(self) -> &'static str {
        match self {
            Occasion::EmergencyReceived => "emergency_received",
            Occasion::SecondReviewWaiting => "second_review_waiting",
            Occasion::SupplementReceived => "supplement_received",
            Occasion::ConsultationAnswered => "consultation_answered",
            Occasion::OrderMissed => "order_missed",
            Occasion::ExtensionRequested => "extension_requested",
            Occasion::RequestWithdrawn => "request_withdrawn",
        }
    }

    /// The occasion an event is, if any. An arrival is one only when its request claims an
    /// emergency (read from the signed document the event holds).
    pub fn of(e: &StoredEvent) -> Option<Occasion> {
        Some(match e.kind()? {
            EventType::RequestReceived if claims_emergency(e) => Occasion::EmergencyReceived,
            EventType::DecisionProposed | EventType::RequestReclassificationProposed => {
                Occasion::SecondReviewWaiting
            }
            EventType::RequestSupplemented => Occasion::SupplementReceived,
            EventType::ConsultationAnswered => Occasion::ConsultationAnswered,
            EventType::OrderMissed => Occasion::OrderMissed,
            EventType::ExtensionRequested => Occasion::ExtensionRequested,
            EventType::RequestWithdrawn => Occasion::RequestWithdrawn,
            _ => return None,
        })
    }
}

fn claims_emergency(e: &StoredEvent) -> bool {
    crate::query::ReceivedRequest::of(e.clone())
        .ok()
        .and_then(|r| serde_json::from_slice::<serde_json::Value>(&r.request).ok())
        .is_some_and(|r| r["emergency"]["claimed"] == serde_json::Value::Bool(true))
}

/// What a channel is given (`custos.notification/v1`): the occasion and where to look.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notification {
    pub format: &'static str,
    pub occasion: Occasion,
    /// The node's case number.
    pub case: i64,
    /// The event's log index: unique, so a receiver can drop a repeated delivery.
    pub log_index: u64,
    /// When the event happened.
    pub at: Timestamp,
    /// The case's page in the console.
    pub link: String,
}

/// A configured way of telling staff.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Channel {
    Command(String),
    Webhook(String),
}

impl Channel {
    /// The cursor's name in the store.
    fn name(&self) -> &'static str {
        match self {
            Channel::Command(_) => "command",
            Channel::Webhook(_) => "webhook",
        }
    }
}

/// The channels `config` sets, checked.
fn channels(config: &NotificationsConfig) -> Result<Vec<Channel>, String> {
    let mut out = Vec::new();
    if let Some(c) = &config.command {
        out.push(Channel::Command(c.clone()));
    }
    if let Some(url) = &config.webhook {
        if !url.starts_with("http://") {
            return Err(format!(
                "[notifications] webhook = {url:?}: only http:// URLs (this build speaks no TLS); \
                 for HTTPS use a local relay, or a command such as `curl --data-binary @- URL`"
            ));
        }
        out.push(Channel::Webhook(url.clone()));
    }
    Ok(out)
}

impl Node {
    /// Checks `[notifications]` and starts each channel's cursor at the log's end if it has
    /// none (at open, so nothing logged after the channel was configured is missed). A channel
    /// no longer configured loses its cursor: set again later, it starts afresh rather than
    /// sending everything logged while it was off.
    pub async fn start_notifications(&self) -> anyhow::Result<()> {
        let size = self.store.log_size().await?;
        let configured = channels(&self.config.notifications).map_err(anyhow::Error::msg)?;
        for name in ["command", "webhook"] {
            match configured.iter().find(|c| c.name() == name) {
                Some(_) => self.store.start_notification_cursor(name, size).await?,
                None => self.store.forget_notification_cursor(name).await?,
            }
        }
        Ok(())
    }

    /// Tells each channel of what the log holds past its cursor, as the scheduler's pass at
    /// `now`: a channel waiting out a failure's backoff is left until its time.
    pub async fn notify_staff(&self, now: Timestamp) -> Result<(), Problem> {
        let channels = channels(&self.config.notifications).map_err(Problem::internal)?;
        for channel in &channels {
            self.follow(channel, now).await?;
        }
        Ok(())
    }

    async fn follow(&self, channel: &Channel, now: Timestamp) -> Result<(), Problem> {
        let name = channel.name();
        let Some(mut cursor) = self.store.notification_cursor(name).await? else {
            // Configured after this process opened the node: from the log's end.
            let size = self.store.log_size().await?;
            self.store.start_notification_cursor(name, size).await?;
            return Ok(());
        };
        if cursor.retry_at.is_some_and(|t| t > now) {
            return Ok(());
        }
        loop {
            let events = self.store.events(cursor.next_seq, PAGE).await?;
            let Some(last) = events.last().map(|e| e.seq) else {
                return Ok(());
            };
            for e in &events {
                let (Some(occasion), Some(case)) = (Occasion::of(e), e.case_id) else {
                    continue;
                };
                let n = Notification {
                    format: NOTIFICATION_FORMAT,
                    occasion,
                    case,
                    log_index: e.seq,
                    at: e.at,
                    link: self.console_link(case),
                };
                if let Err(error) = self.tell(channel, &n).await {
                    cursor = NotificationCursor {
                        next_seq: e.seq,
                        failures: cursor.failures.saturating_add(1),
                        retry_at: None,
                    };
                    let retry_at = now + crate::ops::retry_delay(i64::from(cursor.failures));
                    tracing::warn!(
                        channel = name,
                        occasion = occasion.as_str(),
                        case,
                        log_index = e.seq,
                        attempt = cursor.failures,
                        error = %error,
                        "a notification to staff could not be delivered; it will be tried again at {retry_at}"
                    );
                    cursor.retry_at = Some(retry_at);
                    self.store.set_notification_cursor(name, cursor).await?;
                    return Ok(());
                }
                cursor = NotificationCursor {
                    next_seq: e.seq + 1,
                    failures: 0,
                    retry_at: None,
                };
                // Moved after each delivery: a restart repeats none already made.
                self.store.set_notification_cursor(name, cursor).await?;
            }
            cursor = NotificationCursor {
                next_seq: last + 1,
                failures: 0,
                retry_at: None,
            };
            self.store.set_notification_cursor(name, cursor).await?;
        }
    }

    fn console_link(&self, case: i64) -> String {
        let base = self.config.notifications.console_url.as_deref();
        format!(
            "{}/console/requests/{case}",
            base.unwrap_or("").trim_end_matches('/')
        )
    }

    async fn tell(&self, channel: &Channel, n: &Notification) -> Result<(), String> {
        let json = serde_json::to_vec(n).map_err(|e| format!("not written as JSON: {e}"))?;
        match channel {
            Channel::Command(command) => self.run_command(command, n, json).await,
            Channel::Webhook(url) => post(url, json).await,
        }
    }

    async fn run_command(
        &self,
        command: &str,
        n: &Notification,
        mut json: Vec<u8>,
    ) -> Result<(), String> {
        json.push(b'\n');
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(command)
            .env("CUSTOS_NOTIFICATION", n.occasion.as_str())
            .env("CUSTOS_CASE", n.case.to_string())
            .env("CUSTOS_LOG_INDEX", n.log_index.to_string())
            .current_dir(&self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("the notification command could not start: {e}"))?;
        let stdin = child.stdin.take();
        let run = async {
            if let Some(mut stdin) = stdin {
                // A command that ignores its input closes the pipe: its exit status decides.
                let _ = stdin.write_all(&json).await;
                drop(stdin);
            }
            child.wait().await
        };
        match tokio::time::timeout(COMMAND_TIMEOUT, run).await {
            Ok(Ok(s)) if s.success() => Ok(()),
            Ok(Ok(s)) => Err(format!("the notification command exited with {s}")),
            Ok(Err(e)) => Err(format!(
                "the notification command could not be waited for: {e}"
            )),
            Err(_) => Err(format!(
                "the notification command did not finish within {} s and was stopped",
                COMMAND_TIMEOUT.as_secs()
            )),
        }
    }
}

async fn post(url: &str, json: Vec<u8>) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(WEBHOOK_TIMEOUT)
        .build()
        .map_err(|e| format!("no HTTP client: {e}"))?;
    let answer = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(json)
        .send()
        .await
        .map_err(|e| format!("the webhook could not be reached: {e}"))?;
    if answer.status().is_success() {
        Ok(())
    } else {
        Err(format!("the webhook answered {}", answer.status()))
    }
}
