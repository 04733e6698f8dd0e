//! The result of an assessment, `custos.assessment/v1` (safeguards.md, *Output*).

use custos_model::{DataCategories, Period, Timestamp};
use serde::{Deserialize, Serialize};

/// The value of the `format` field.
pub const ASSESSMENT_FORMAT: &str = "custos.assessment/v1";

pub use custos_model::{Outcome, Severity};

/// The outcome set by the most severe of these findings (`execute` when there are none).
pub fn outcome_of(findings: &[Finding]) -> Outcome {
    Outcome::most_severe(findings.iter().map(|f| f.severity))
}

/// One safeguard rule that fired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The rule's stable identifier, e.g. `period-too-long`.
    pub code: String,
    pub severity: Severity,
    /// The legal basis, one source per entry.
    pub basis: Vec<String>,
    /// What is wrong and what would fix it.
    pub message: String,
}

/// The request as narrowed by the `narrow` findings. All three keys are always present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Narrowed {
    pub data_categories: DataCategories,
    pub period: Option<Period>,
    pub confidentiality_until: Option<Timestamp>,
}

/// When things fall due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadlines {
    pub respond_by: Timestamp,
    /// For preservation: keep the data until then (renewable).
    pub preserve_until: Option<Timestamp>,
    /// When the person concerned is to be told (profiles that provide for notice).
    pub notify_person_at: Option<Timestamp>,
}

/// One assessment of one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assessment {
    pub format: String,
    pub request_id: String,
    pub profile: String,
    pub assessed_at: Timestamp,
    pub outcome: Outcome,
    /// Most severe first; within a severity, in the profile's order.
    pub findings: Vec<Finding>,
    /// Present exactly when the outcome is `execute_narrowed`.
    pub narrowed: Option<Narrowed>,
    pub deadlines: Deadlines,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(severity: Severity) -> Finding {
        Finding {
            code: "x".into(),
            severity,
            basis: vec![],
            message: String::new(),
        }
    }

    #[test]
    fn outcome_follows_the_most_severe_finding() {
        assert_eq!(outcome_of(&[]), Outcome::Execute);
        assert_eq!(outcome_of(&[finding(Severity::Note)]), Outcome::Execute);
        assert_eq!(
            outcome_of(&[finding(Severity::Narrow), finding(Severity::Note)]),
            Outcome::ExecuteNarrowed
        );
        assert_eq!(
            outcome_of(&[
                finding(Severity::Narrow),
                finding(Severity::Refuse),
                finding(Severity::NeedsInformation)
            ]),
            Outcome::Refuse
        );
        for &s in Severity::ALL {
            assert_eq!(Severity::from_name(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(
                serde_json::to_value(s.outcome()).unwrap(),
                s.outcome().as_str()
            );
        }
    }
}
