//! The exact table of a period: what the node counted, before any noise. It is never public:
//! it goes into the private body of `report.published` (so the log commits to it) and to staff
//! with an auditor's role.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Days to decision are counted in whole days up to this many; a longer wait is counted here.
pub const DAYS_CAP: u32 = 366;

/// A refused case counts under at most this many of its grounds (the first ones its decision
/// names): it bounds what one case can change in `refusal_grounds`.
pub const GROUNDS_PER_CASE: u64 = 3;

/// The exact counts of a period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// Requests received in the period.
    pub requests: u64,
    /// Requests by requesting state.
    pub by_state: BTreeMap<String, u64>,
    /// Requests by measure.
    pub by_measure: BTreeMap<String, u64>,
    /// Requests by channel.
    pub by_channel: BTreeMap<String, u64>,
    /// Requests by the assessment's recommendation.
    pub by_recommendation: BTreeMap<String, u64>,
    /// Decided requests by decision kind.
    pub by_decision: BTreeMap<String, u64>,
    /// Refused requests by ground (at most [`GROUNDS_PER_CASE`] per case).
    pub refusal_grounds: BTreeMap<String, u64>,
    /// Requests claiming an emergency.
    pub emergencies_claimed: u64,
    /// Emergencies verified and not failed.
    pub emergencies_verified: u64,
    /// Emergencies whose verification failed.
    pub emergencies_verification_failed: u64,
    /// Requests asking for confidentiality.
    pub confidentiality_requested: u64,
    /// Requests whose confidentiality the assessment limited (`confidentiality.limited`).
    pub confidentiality_narrowed: u64,
    /// Notices that fell due (their confidentiality ended).
    pub notices_due: u64,
    /// Notices sent.
    pub notices_sent: u64,
    /// Notices not sent whose latest attempt failed.
    pub notices_failed: u64,
    /// Decided requests by whole days from receipt to the decision in force (capped at
    /// [`DAYS_CAP`]).
    pub days_to_decision: BTreeMap<u32, u64>,
    /// Requests of which at least one evidence package was handed over.
    pub evidence_delivered: u64,
}

/// The median and 90th percentile of a histogram of days (None when it is empty).
pub fn quantiles(histogram: &BTreeMap<u32, u64>) -> (Option<u64>, Option<u64>) {
    let total: u64 = histogram.values().sum();
    if total == 0 {
        return (None, None);
    }
    let at = |q_num: u64, q_den: u64| {
        // The smallest day at which at least q of the cases were decided.
        let mut seen = 0u64;
        for (day, n) in histogram {
            seen += n;
            if seen * q_den >= total * q_num {
                return Some(u64::from(*day));
            }
        }
        histogram.keys().next_back().map(|d| u64::from(*d))
    };
    (at(1, 2), at(9, 10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_a_histogram() {
        assert_eq!(quantiles(&BTreeMap::new()), (None, None));
        let h = BTreeMap::from([(1, 5), (3, 4), (10, 1)]);
        assert_eq!(quantiles(&h), (Some(1), Some(3)));
        let h = BTreeMap::from([(2, 1)]);
        assert_eq!(quantiles(&h), (Some(2), Some(2)));
    }
}
