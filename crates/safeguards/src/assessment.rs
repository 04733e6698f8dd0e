//! The result of an assessment, `custos.assessment/v1` (safeguards.md, *Output*).

use std::fmt;

use custos_model::{DataCategories, Period, Timestamp};
use serde::{Deserialize, Serialize};

/// The value of the `format` field.
pub const ASSESSMENT_FORMAT: &str = "custos.assessment/v1";

/// How serious a finding is, from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Note,
    Narrow,
    ReferForReview,
    NeedsInformation,
    Refuse,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Note,
        Severity::Narrow,
        Severity::ReferForReview,
        Severity::NeedsInformation,
        Severity::Refuse,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Narrow => "narrow",
            Severity::ReferForReview => "refer_for_review",
            Severity::NeedsInformation => "needs_information",
            Severity::Refuse => "refuse",
        }
    }

    pub fn from_name(name: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The outcome a finding of this severity leads to when it is the most severe one.
    pub fn outcome(self) -> Outcome {
        match self {
            Severity::Refuse => Outcome::Refuse,
            Severity::NeedsInformation => Outcome::NeedsInformation,
            Severity::ReferForReview => Outcome::ReferForReview,
            Severity::Narrow => Outcome::ExecuteNarrowed,
            Severity::Note => Outcome::Execute,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the assessment recommends. A person decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Execute,
    ExecuteNarrowed,
    ReferForReview,
    NeedsInformation,
    Refuse,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Execute => "execute",
            Outcome::ExecuteNarrowed => "execute_narrowed",
            Outcome::ReferForReview => "refer_for_review",
            Outcome::NeedsInformation => "needs_information",
            Outcome::Refuse => "refuse",
        }
    }

    /// The outcome set by the most severe of these findings (`execute` when there are none).
    pub fn of(findings: &[Finding]) -> Outcome {
        findings
            .iter()
            .map(|f| f.severity)
            .max()
            .unwrap_or(Severity::Note)
            .outcome()
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
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
        assert_eq!(Outcome::of(&[]), Outcome::Execute);
        assert_eq!(Outcome::of(&[finding(Severity::Note)]), Outcome::Execute);
        assert_eq!(
            Outcome::of(&[finding(Severity::Narrow), finding(Severity::Note)]),
            Outcome::ExecuteNarrowed
        );
        assert_eq!(
            Outcome::of(&[
                finding(Severity::Narrow),
                finding(Severity::Refuse),
                finding(Severity::NeedsInformation)
            ]),
            Outcome::Refuse
        );
        for s in Severity::ALL {
            assert_eq!(Severity::from_name(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(
                serde_json::to_value(s.outcome()).unwrap(),
                s.outcome().as_str()
            );
        }
    }
}
