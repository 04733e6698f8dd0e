//! The receiving jurisdiction: the settings of the state or provider that got the request and
//! that are not in the policies — which offence categories are criminal here (for dual
//! criminality), which requesting states get heightened scrutiny, the deadlines, and the remedies
//! a notice to the person concerned names.
//!
//! Written by operators as TOML (`custos assess --jurisdiction FILE`); a key left out keeps the
//! default of safeguards.md. This module parses text only; reading the file is the caller's job.

use std::collections::BTreeSet;

use custos_model::{OffenceCategory, OffenceClass, StateCode};
use serde::Deserialize;

/// Whether an offence category is a crime in the receiving jurisdiction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalStatus {
    Criminal,
    NotCriminal,
    /// Cannot be established automatically (the default for `other`).
    Unknown,
}

/// The receiving jurisdiction's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Jurisdiction {
    /// Shown in messages ("criminal in Example Provider Ltd."); `None` reads "this jurisdiction".
    pub name: Option<String>,
    criminal: [bool; OffenceCategory::ALL.len()],
    /// Requesting states whose requests always go to a reviewer.
    pub heightened_scrutiny_states: BTreeSet<StateCode>,
    pub deadlines: DeadlineSettings,
    /// How a person concerned can challenge a disclosure here, in plain words: the text of the
    /// notices' "How to challenge" section. `None`: the service's plain default.
    pub remedies: Option<String>,
}

/// How long the receiving side has, and how long preserved data is kept (safeguards.md,
/// *Deadlines*).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeadlineSettings {
    /// Respond within this many days (default 10).
    pub respond_within_days: u32,
    /// With a justified emergency, respond within this many hours (default 8).
    pub emergency_respond_within_hours: u32,
    /// Keep preserved data this many days, renewable (default 90; UNCC art. 42 asks at least 60).
    pub preserve_for_days: u32,
}

impl Default for DeadlineSettings {
    fn default() -> Self {
        DeadlineSettings {
            respond_within_days: 10,
            emergency_respond_within_hours: 8,
            preserve_for_days: 90,
        }
    }
}

impl Default for Jurisdiction {
    /// Criminal here: every convention offence and every *other* category except `other`. Not
    /// criminal: every expression offence. `other`: unknown. No heightened scrutiny.
    fn default() -> Self {
        let mut criminal = [false; OffenceCategory::ALL.len()];
        for (i, c) in OffenceCategory::ALL.iter().enumerate() {
            criminal[i] = c.class() != OffenceClass::Expression && *c != OffenceCategory::Other;
        }
        Jurisdiction {
            name: None,
            criminal,
            heightened_scrutiny_states: BTreeSet::new(),
            deadlines: DeadlineSettings::default(),
            remedies: None,
        }
    }
}

/// A jurisdiction file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JurisdictionError {
    #[error("{0}")]
    Toml(#[from] toml::de::Error),
    #[error(
        "criminal_categories: `{0}` is not an offence category (see request-format.md, Offence)"
    )]
    UnknownCategory(String),
    #[error("heightened_scrutiny_states: {0}")]
    BadState(String),
    #[error("deadlines.{0} must be at least 1")]
    ZeroDeadline(&'static str),
    #[error(
        "remedies: give the text a notice shows on how to challenge a disclosure, or leave the key out for the default"
    )]
    BlankRemedies,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JurisdictionFile {
    name: Option<String>,
    criminal_categories: Option<Vec<String>>,
    heightened_scrutiny_states: Option<Vec<String>>,
    deadlines: Option<DeadlineSettings>,
    remedies: Option<String>,
}

impl Jurisdiction {
    /// Reads a jurisdiction from TOML text; keys left out keep their defaults.
    pub fn from_toml(text: &str) -> Result<Self, JurisdictionError> {
        let file: JurisdictionFile = toml::from_str(text)?;
        let remedies = match file.remedies {
            Some(r) if r.trim().is_empty() => return Err(JurisdictionError::BlankRemedies),
            r => r.map(|r| r.trim().to_owned()),
        };
        let mut j = Jurisdiction {
            name: file.name.filter(|n| !n.trim().is_empty()),
            remedies,
            ..Jurisdiction::default()
        };
        if let Some(list) = file.criminal_categories {
            // The list replaces the default: what it leaves out is not criminal here, except that
            // `other` left out stays unknown (nobody can say what it covers).
            j.criminal = [false; OffenceCategory::ALL.len()];
            for name in list {
                let c = OffenceCategory::from_name(&name)
                    .ok_or_else(|| JurisdictionError::UnknownCategory(name.clone()))?;
                j.criminal[index(c)] = true;
            }
        }
        if let Some(states) = file.heightened_scrutiny_states {
            for s in states {
                let code = s.parse().map_err(JurisdictionError::BadState)?;
                j.heightened_scrutiny_states.insert(code);
            }
        }
        if let Some(d) = file.deadlines {
            for (value, key) in [
                (d.respond_within_days, "respond_within_days"),
                (
                    d.emergency_respond_within_hours,
                    "emergency_respond_within_hours",
                ),
                (d.preserve_for_days, "preserve_for_days"),
            ] {
                if value == 0 {
                    return Err(JurisdictionError::ZeroDeadline(key));
                }
            }
            j.deadlines = d;
        }
        Ok(j)
    }

    /// Whether offences of this category are crimes here.
    pub fn local_status(&self, category: OffenceCategory) -> LocalStatus {
        if self.criminal[index(category)] {
            LocalStatus::Criminal
        } else if category == OffenceCategory::Other {
            LocalStatus::Unknown
        } else {
            LocalStatus::NotCriminal
        }
    }

    /// The name to use in messages.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or("this jurisdiction")
    }
}

fn index(c: OffenceCategory) -> usize {
    c as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_spec() {
        let j = Jurisdiction::default();
        assert_eq!(
            j.local_status(OffenceCategory::IctFraud),
            LocalStatus::Criminal
        );
        assert_eq!(
            j.local_status(OffenceCategory::Fraud),
            LocalStatus::Criminal
        );
        assert_eq!(
            j.local_status(OffenceCategory::LgbtExpression),
            LocalStatus::NotCriminal
        );
        assert_eq!(j.local_status(OffenceCategory::Other), LocalStatus::Unknown);
        assert_eq!(j.deadlines.respond_within_days, 10);
        assert_eq!(j.display_name(), "this jurisdiction");
        // The enum order and ALL agree, so `as usize` indexes correctly.
        for (i, c) in OffenceCategory::ALL.iter().enumerate() {
            assert_eq!(index(*c), i);
        }
    }

    #[test]
    fn toml_overrides_replace_lists() {
        let j = Jurisdiction::from_toml(
            r#"
            name = "Example Provider Ltd."
            criminal_categories = ["illegal_access", "fraud", "defamation_or_insult"]
            heightened_scrutiny_states = ["QX"]
            [deadlines]
            respond_within_days = 5
            "#,
        )
        .unwrap();
        assert_eq!(j.display_name(), "Example Provider Ltd.");
        assert_eq!(
            j.local_status(OffenceCategory::Fraud),
            LocalStatus::Criminal
        );
        assert_eq!(
            j.local_status(OffenceCategory::DefamationOrInsult),
            LocalStatus::Criminal
        );
        assert_eq!(
            j.local_status(OffenceCategory::Homicide),
            LocalStatus::NotCriminal
        );
        assert_eq!(j.local_status(OffenceCategory::Other), LocalStatus::Unknown);
        assert!(
            j.heightened_scrutiny_states
                .contains(&"QX".parse().unwrap())
        );
        assert_eq!(j.deadlines.respond_within_days, 5);
        assert_eq!(j.deadlines.preserve_for_days, 90);
        assert_eq!(j.remedies, None, "no remedies key: the default text");
    }

    #[test]
    fn remedies_are_read_trimmed_and_never_blank() {
        let j = Jurisdiction::from_toml(
            "remedies = \"\"\"\n  Complain to the Data Protection Authority of Examplia within 3 months.\n\"\"\"\n",
        )
        .unwrap();
        assert_eq!(
            j.remedies.as_deref(),
            Some("Complain to the Data Protection Authority of Examplia within 3 months.")
        );
        let e = Jurisdiction::from_toml("remedies = \"  \"").unwrap_err();
        assert!(e.to_string().starts_with("remedies: "), "{e}");
        assert_eq!(Jurisdiction::default().remedies, None);
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let e = Jurisdiction::from_toml(r#"criminal_categories = ["jaywalking"]"#).unwrap_err();
        assert!(
            e.to_string()
                .contains("`jaywalking` is not an offence category"),
            "{e}"
        );
        let e = Jurisdiction::from_toml(r#"heightened_scrutiny_states = ["qx"]"#).unwrap_err();
        assert!(e.to_string().contains("\"qx\" is not a state code"), "{e}");
        let e = Jurisdiction::from_toml("criminal_categoris = []").unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
        let e = Jurisdiction::from_toml("[deadlines]\npreserve_for_days = 0").unwrap_err();
        assert!(
            e.to_string()
                .contains("preserve_for_days must be at least 1"),
            "{e}"
        );
    }
}
