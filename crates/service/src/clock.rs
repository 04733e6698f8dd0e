//! The time a node's rules read. A running node reads the system clock; tests inject a clock
//! they move by hand, so deadlines, holds and renewals are tested to the second without sleeping.

use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};

/// Where the writer takes "now" from for every job of a batch.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> Timestamp + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(Arc::new(Timestamp::now))
    }

    /// A clock that reads `manual`, which the caller moves.
    pub fn manual(manual: &ManualClock) -> Clock {
        let at = Arc::clone(&manual.0);
        Clock(Arc::new(move || {
            *at.lock().unwrap_or_else(|p| p.into_inner())
        }))
    }

    /// The time now.
    pub fn now(&self) -> Timestamp {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now())
    }
}

/// A time that only moves when told to (for tests).
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<Timestamp>>);

impl ManualClock {
    /// Starts at `at`.
    pub fn new(at: Timestamp) -> ManualClock {
        ManualClock(Arc::new(Mutex::new(at)))
    }

    /// Sets the time.
    pub fn set(&self, at: Timestamp) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }

    /// Moves the time on by `by`.
    pub fn advance(&self, by: SignedDuration) {
        let mut at = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *at = at.saturating_add(by).unwrap_or(*at);
    }

    /// The clock reading this time.
    pub fn clock(&self) -> Clock {
        Clock::manual(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let t0: Timestamp = "2026-06-01T09:00:00Z".parse().unwrap();
        let m = ManualClock::new(t0);
        let c = m.clock();
        assert_eq!(c.now(), t0);
        m.advance(SignedDuration::from_secs(90));
        assert_eq!(
            c.now(),
            "2026-06-01T09:01:30Z".parse::<Timestamp>().unwrap()
        );
        m.set(t0);
        assert_eq!(c.now(), t0);
    }
}
