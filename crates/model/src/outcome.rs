//! What an assessment recommends and how serious each finding is (safeguards.md, *Output*), with
//! the one set of words people read for them: the console, the CLI and reports all take their
//! labels from here.

use serde::{Deserialize, Serialize};
use strum::{EnumString, IntoStaticStr, VariantArray};

/// How serious a finding is, from least to most severe.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    EnumString,
    IntoStaticStr,
    strum::Display,
    VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Severity {
    Note,
    Narrow,
    ReferForReview,
    NeedsInformation,
    Refuse,
}

impl Severity {
    /// Every severity, least severe first.
    pub const ALL: &'static [Severity] = Severity::VARIANTS;

    /// The wire name, e.g. `refer_for_review`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The severity a wire name stands for.
    pub fn from_name(name: &str) -> Option<Severity> {
        name.parse().ok()
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

    /// The words a reviewer reads, in lower case: `refer for review`.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Narrow => "narrow",
            Severity::ReferForReview => "refer for review",
            Severity::NeedsInformation => "needs information",
            Severity::Refuse => "refuse",
        }
    }
}

/// What the assessment recommends. A person decides.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    EnumString,
    IntoStaticStr,
    strum::Display,
    VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Outcome {
    Execute,
    ExecuteNarrowed,
    ReferForReview,
    NeedsInformation,
    Refuse,
}

impl Outcome {
    /// Every outcome, in the order a queue lists them.
    pub const ALL: &'static [Outcome] = Outcome::VARIANTS;

    /// The wire name, e.g. `execute_narrowed`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The outcome set by the most severe of these severities (`execute` when there are none).
    pub fn most_severe(severities: impl IntoIterator<Item = Severity>) -> Outcome {
        severities
            .into_iter()
            .max()
            .unwrap_or(Severity::Note)
            .outcome()
    }

    /// The words a reviewer reads: `Execute narrowed`.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Execute => "Execute",
            Outcome::ExecuteNarrowed => "Execute narrowed",
            Outcome::ReferForReview => "Refer for review",
            Outcome::NeedsInformation => "Needs information",
            Outcome::Refuse => "Refuse",
        }
    }

    /// What the outcome asks of the people handling the request, in a few words.
    pub fn gloss(self) -> &'static str {
        match self {
            Outcome::Execute => "no safeguard stands in the way",
            Outcome::ExecuteNarrowed => "execute only the narrowed request below",
            Outcome::ReferForReview => "a reviewer must decide",
            Outcome::NeedsInformation => "ask the requester before anything is executed",
            Outcome::Refuse => "the request should be refused",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip_through_serde_and_strum() {
        for &s in Severity::ALL {
            assert_eq!(Severity::from_name(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for &o in Outcome::ALL {
            assert_eq!(o.as_str().parse::<Outcome>().unwrap(), o);
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
        }
        assert_eq!(Outcome::ExecuteNarrowed.as_str(), "execute_narrowed");
        assert_eq!(Severity::from_name("Refuse"), None);
    }

    #[test]
    fn severities_are_ordered_and_the_most_severe_sets_the_outcome() {
        assert!(Severity::ALL.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(Outcome::most_severe([]), Outcome::Execute);
        assert_eq!(
            Outcome::most_severe([Severity::Narrow, Severity::Refuse, Severity::Note]),
            Outcome::Refuse
        );
        assert_eq!(
            Outcome::most_severe([Severity::Note, Severity::Narrow]),
            Outcome::ExecuteNarrowed
        );
    }

    #[test]
    fn the_words_for_people_are_distinct() {
        let labels: std::collections::BTreeSet<_> =
            Outcome::ALL.iter().map(|o| o.label()).collect();
        assert_eq!(labels.len(), Outcome::ALL.len());
    }
}
