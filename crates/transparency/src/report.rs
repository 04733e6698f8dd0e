//! The `custos.transparency/v1` document: a node's figures for one period, either exact (staff
//! with an auditor's role, never public) or released with differential privacy (public).

use std::collections::BTreeMap;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// The format name of the document.
pub const FORMAT: &str = "custos.transparency/v1";

/// A transparency report for one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Always [`FORMAT`].
    pub format: String,
    /// First day of the period (inclusive).
    pub from: Date,
    /// Last day of the period (inclusive).
    pub to: Date,
    /// True for the exact table (never public); false for a differentially private release.
    pub exact: bool,
    /// The privacy loss spent on this report; `None` when exact.
    pub epsilon: Option<f64>,
    /// Overall counts.
    pub totals: Totals,
    /// Requests by requesting state (ISO 3166-1 alpha-2 code of every state in the directory).
    pub by_state: BTreeMap<String, u64>,
    /// Requests by measure (every measure of the convention).
    pub by_measure: BTreeMap<String, u64>,
    /// Requests by channel.
    pub by_channel: BTreeMap<String, u64>,
    /// Requests by the assessment's recommendation.
    pub by_recommendation: BTreeMap<String, u64>,
    /// Decided requests by decision kind.
    pub by_decision: BTreeMap<String, u64>,
    /// Requests on which a rule found a ground to refuse or refer, by the rule's code.
    pub refusal_grounds: BTreeMap<String, u64>,
    /// Emergencies.
    pub emergencies: Emergencies,
    /// Confidentiality asked of the node and limited by it.
    pub confidentiality: Confidentiality,
    /// Notices to persons concerned.
    pub notices: Notices,
    /// Days from receipt to decision.
    pub days_to_decision: DaysToDecision,
    /// Evidence packages handed over to the requesting authority.
    pub evidence_delivered: u64,
    /// How the figures were made.
    pub method: Method,
}

/// Overall counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Requests received in the period.
    pub requests: u64,
}

/// Emergencies claimed and how their verification ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Emergencies {
    /// Requests claiming an emergency.
    pub claimed: u64,
    /// Emergencies verified (confirmed by the requesting authority, or by call-back).
    pub verified: u64,
    /// Emergencies whose verification failed.
    pub verification_failed: u64,
}

/// Confidentiality asked and limited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Confidentiality {
    /// Requests asking the node to keep the request from the person concerned.
    pub requested: u64,
    /// Requests whose confidentiality the assessment limited.
    pub narrowed: u64,
}

/// Notices to persons concerned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notices {
    /// Notices that fell due.
    pub due: u64,
    /// Notices sent.
    pub sent: u64,
    /// Notices whose latest attempt failed.
    pub failed: u64,
}

/// Days from receipt to decision, over the decided requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaysToDecision {
    /// Median (None when nothing was decided).
    pub median: Option<u64>,
    /// 90th percentile (None when nothing was decided).
    pub p90: Option<u64>,
}

/// How the figures were made, in words a reader can check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Method {
    /// The mechanism (e.g. "exact" or the noise mechanism's name).
    pub mechanism: String,
    /// Noise scale per cell, per breakdown (absent when exact).
    pub noise_scale: BTreeMap<String, f64>,
    /// Half-width of a 95% interval per breakdown: a published count is within this many of the
    /// true count 95 times out of 100 (before rounding and consistency).
    pub margin_95: BTreeMap<String, u64>,
    /// The unit of privacy (one case).
    pub unit_of_privacy: String,
    /// Which date places a case in the period.
    pub period_basis: String,
    /// Plain words on what was done.
    pub notes: Vec<String>,
}

/// A period of whole days, both ends inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Period {
    /// First day.
    pub from: Date,
    /// Last day.
    pub to: Date,
}

/// A period that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    /// A date that is not `YYYY-MM-DD`.
    #[error(
        "parameter `{parameter}`: {value:?} is not a date; expected YYYY-MM-DD, e.g. 2026-01-31"
    )]
    NotADate {
        /// `from` or `to`.
        parameter: &'static str,
        /// What was given.
        value: String,
    },
    /// `to` before `from`.
    #[error(
        "parameter `to`: {to} is before `from` {from}; dates are inclusive, so `to` must be on or after `from`"
    )]
    Reversed {
        /// First day.
        from: Date,
        /// Last day.
        to: Date,
    },
}

impl PeriodError {
    /// The parameter at fault (`from` or `to`).
    pub fn parameter(&self) -> &'static str {
        match self {
            PeriodError::NotADate { parameter, .. } => parameter,
            PeriodError::Reversed { .. } => "to",
        }
    }
}

impl Period {
    /// Reads `from` and `to` as `YYYY-MM-DD` (inclusive).
    pub fn parse(from: &str, to: &str) -> Result<Period, PeriodError> {
        let date = |parameter: &'static str, value: &str| {
            let ok = value.len() == 10
                && value.bytes().enumerate().all(|(i, b)| match i {
                    4 | 7 => b == b'-',
                    _ => b.is_ascii_digit(),
                });
            ok.then(|| value.parse::<Date>().ok())
                .flatten()
                .ok_or_else(|| PeriodError::NotADate {
                    parameter,
                    value: value.to_owned(),
                })
        };
        let from = date("from", from)?;
        let to = date("to", to)?;
        Period::new(from, to)
    }

    /// A period from `from` to `to` inclusive.
    pub fn new(from: Date, to: Date) -> Result<Period, PeriodError> {
        if to < from {
            return Err(PeriodError::Reversed { from, to });
        }
        Ok(Period { from, to })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_inclusive_dates() {
        let p = Period::parse("2026-01-01", "2026-03-31").unwrap();
        assert_eq!(p.from.to_string(), "2026-01-01");
        assert_eq!(p.to.to_string(), "2026-03-31");
        assert!(Period::parse("2026-01-01", "2026-01-01").is_ok());
    }

    #[test]
    fn errors_name_the_parameter() {
        let e = Period::parse("2026-1-1", "2026-03-31").unwrap_err();
        assert_eq!(e.parameter(), "from");
        assert!(e.to_string().contains("YYYY-MM-DD"), "{e}");
        let e = Period::parse("2026-01-01", "2026-02-30").unwrap_err();
        assert_eq!(e.parameter(), "to");
        let e = Period::parse("2026-03-01", "2026-02-01").unwrap_err();
        assert_eq!(e.parameter(), "to");
        assert!(e.to_string().contains("before"), "{e}");
    }
}
