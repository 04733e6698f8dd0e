//! Where a response deadline stands: the one rule the API, the queue and the request page read
//! (issue 16). Pure: the caller gives `now`.
//!
//! * The clock runs only while the node owes the next step. It stops while the case is decided
//!   or waits on the requester (information asked, a consultation open); a supplement restarts
//!   it with a new due time, which the case shows, and a consultation's wait is added to the due
//!   time when it ends (the service's `ops::consultation::resumed_due`).
//! * Badges are rolling windows from `now`, not calendar days: overdue once the due instant is
//!   reached, then under 2 hours, under 8 hours (at exactly 2 h left the badge is "under 8
//!   hours"; at exactly 8 h, none).

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// Why a deadline's clock does not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stopped {
    /// The case is decided (executing, delivered, refused, closed or withdrawn).
    Decided,
    /// The node waits on the requester (information asked, a consultation open).
    AwaitingRequester,
}

/// How close a running deadline is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Badge {
    /// The due instant is reached or past.
    Overdue,
    /// Less than 2 hours left.
    Under2h,
    /// Less than 8 hours left.
    Under8h,
    /// 8 hours or more left.
    Later,
    /// The clock does not run.
    Stopped,
}

impl Badge {
    /// The badge's words for people (empty for `Later`).
    pub fn label(self) -> &'static str {
        match self {
            Badge::Overdue => "Overdue",
            Badge::Under2h => "Due in under 2 hours",
            Badge::Under8h => "Due in under 8 hours",
            Badge::Later => "",
            Badge::Stopped => "Clock stopped",
        }
    }

    /// Its fixed word (the JSON value, and a CSS class).
    pub fn as_str(self) -> &'static str {
        match self {
            Badge::Overdue => "overdue",
            Badge::Under2h => "under_2h",
            Badge::Under8h => "under_8h",
            Badge::Later => "later",
            Badge::Stopped => "stopped",
        }
    }
}

/// Where a deadline stands at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// The exact due instant.
    pub due_at: Timestamp,
    /// Why the clock does not run, if it does not.
    pub stopped: Option<Stopped>,
    /// The badge.
    pub badge: Badge,
    /// Whole seconds left (negative once overdue); `None` while stopped.
    pub seconds_left: Option<i64>,
}

const TWO_HOURS: SignedDuration = SignedDuration::from_hours(2);
const EIGHT_HOURS: SignedDuration = SignedDuration::from_hours(8);

/// Where a deadline due at `due_at` stands at `now`, its clock stopped for `stopped`.
pub fn standing(due_at: Timestamp, stopped: Option<Stopped>, now: Timestamp) -> Standing {
    if stopped.is_some() {
        return Standing {
            due_at,
            stopped,
            badge: Badge::Stopped,
            seconds_left: None,
        };
    }
    let left = now.duration_until(due_at);
    let badge = if left <= SignedDuration::ZERO {
        Badge::Overdue
    } else if left < TWO_HOURS {
        Badge::Under2h
    } else if left < EIGHT_HOURS {
        Badge::Under8h
    } else {
        Badge::Later
    };
    Standing {
        due_at,
        stopped: None,
        badge,
        seconds_left: Some(left.as_secs()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn badge(left_secs: i64) -> Badge {
        let now = at("2026-11-30T20:00:00Z");
        standing(now + SignedDuration::from_secs(left_secs), None, now).badge
    }

    #[test]
    fn badges_are_rolling_windows_with_exact_edges() {
        assert_eq!(badge(-1), Badge::Overdue);
        assert_eq!(
            badge(0),
            Badge::Overdue,
            "the due instant itself is overdue"
        );
        assert_eq!(badge(1), Badge::Under2h);
        assert_eq!(badge(2 * 3600 - 1), Badge::Under2h);
        assert_eq!(badge(2 * 3600), Badge::Under8h, "exactly 2 h left");
        assert_eq!(badge(8 * 3600 - 1), Badge::Under8h);
        assert_eq!(badge(8 * 3600), Badge::Later, "exactly 8 h left");
        assert_eq!(badge(30 * 86_400), Badge::Later);
    }

    #[test]
    fn an_emergency_received_late_in_the_utc_day_is_badged_at_once() {
        // Received at 20:00 UTC, due 8 h later, the next UTC day: not "later".
        let now = at("2026-11-30T20:00:00Z");
        let s = standing(
            at("2026-12-01T04:00:00Z"),
            None,
            now + SignedDuration::from_mins(1),
        );
        assert_eq!(s.badge, Badge::Under8h);
        assert_eq!(s.seconds_left, Some(8 * 3600 - 60));
    }

    #[test]
    fn a_stopped_clock_is_never_overdue_and_keeps_its_due_instant() {
        let now = at("2026-11-30T20:00:00Z");
        let due = at("2026-11-01T00:00:00Z");
        for why in [Stopped::Decided, Stopped::AwaitingRequester] {
            let s = standing(due, Some(why), now);
            assert_eq!(s.badge, Badge::Stopped);
            assert_eq!(s.stopped, Some(why));
            assert_eq!(s.seconds_left, None);
            assert_eq!(s.due_at, due);
        }
        assert_eq!(standing(due, None, now).badge, Badge::Overdue);
    }

    #[test]
    fn seconds_left_are_whole_and_negative_once_overdue() {
        let now = at("2026-11-30T20:00:00.900Z");
        let s = standing(at("2026-11-30T19:59:00Z"), None, now);
        assert_eq!(s.seconds_left, Some(-60));
    }
}
