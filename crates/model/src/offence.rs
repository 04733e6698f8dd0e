//! Offences: the requester's classification of the conduct under investigation and its penalty.
//!
//! The classes (convention offence, core cybercrime, expression offence, serious-harm offence) are
//! fixed by request-format.md; whether a category is criminal in the *receiving* jurisdiction is not
//! (that is a deployment setting, see `custos-safeguards`).

use std::fmt;

use serde::{Deserialize, Serialize};
use strum::{EnumString, IntoStaticStr};

/// The requester's classification of an offence (request-format.md, *Offence*).
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
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum OffenceCategory {
    // Convention offences, UNCC arts. 7–17.
    IllegalAccess,
    IllegalInterception,
    DataInterference,
    SystemInterference,
    MisuseOfDevices,
    IctForgery,
    IctFraud,
    Csam,
    Grooming,
    IntimateImages,
    Laundering,
    // Expression offences: the conduct is speech, belief, assembly or identity.
    DefamationOrInsult,
    FalseInformation,
    ReligiousOffence,
    ExtremistExpression,
    LgbtExpression,
    AssemblyOrAssociation,
    // Other offences.
    Homicide,
    Kidnapping,
    HumanTrafficking,
    DrugTrafficking,
    Terrorism,
    Extortion,
    OrganizedCrime,
    WeaponsTrafficking,
    Corruption,
    SexualOffence,
    RobberyOrTheft,
    Fraud,
    TaxOffence,
    IntellectualProperty,
    Other,
}

/// Which of the three families of request-format.md a category belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffenceClass {
    /// Established by the Convention itself (arts. 7–17).
    Convention,
    /// Conduct that is speech, belief, assembly or identity.
    Expression,
    /// Everything else.
    Other,
}

impl OffenceCategory {
    pub const ALL: [OffenceCategory; 32] = {
        use OffenceCategory::*;
        [
            IllegalAccess,
            IllegalInterception,
            DataInterference,
            SystemInterference,
            MisuseOfDevices,
            IctForgery,
            IctFraud,
            Csam,
            Grooming,
            IntimateImages,
            Laundering,
            DefamationOrInsult,
            FalseInformation,
            ReligiousOffence,
            ExtremistExpression,
            LgbtExpression,
            AssemblyOrAssociation,
            Homicide,
            Kidnapping,
            HumanTrafficking,
            DrugTrafficking,
            Terrorism,
            Extortion,
            OrganizedCrime,
            WeaponsTrafficking,
            Corruption,
            SexualOffence,
            RobberyOrTheft,
            Fraud,
            TaxOffence,
            IntellectualProperty,
            Other,
        ]
    };

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses the identifier used in requests and jurisdiction files.
    pub fn from_name(name: &str) -> Option<Self> {
        name.parse().ok()
    }

    pub fn class(self) -> OffenceClass {
        use OffenceCategory::*;
        match self {
            IllegalAccess | IllegalInterception | DataInterference | SystemInterference
            | MisuseOfDevices | IctForgery | IctFraud | Csam | Grooming | IntimateImages
            | Laundering => OffenceClass::Convention,
            DefamationOrInsult
            | FalseInformation
            | ReligiousOffence
            | ExtremistExpression
            | LgbtExpression
            | AssemblyOrAssociation => OffenceClass::Expression,
            _ => OffenceClass::Other,
        }
    }

    /// Established by the Convention (UNCC arts. 7–17).
    pub fn is_convention_offence(self) -> bool {
        self.class() == OffenceClass::Convention
    }

    /// The article of the Convention that establishes this offence, if any.
    pub fn convention_article(self) -> Option<u8> {
        use OffenceCategory::*;
        Some(match self {
            IllegalAccess => 7,
            IllegalInterception => 8,
            DataInterference => 9,
            SystemInterference => 10,
            MisuseOfDevices => 11,
            IctForgery => 12,
            IctFraud => 13,
            Csam => 14,
            Grooming => 15,
            IntimateImages => 16,
            Laundering => 17,
            _ => return None,
        })
    }

    /// The core cybercrimes (UNCC arts. 7–11), where good-faith security research is at risk.
    pub fn is_core_cybercrime(self) -> bool {
        matches!(self.convention_article(), Some(7..=11))
    }

    /// Offences whose conduct is speech, belief, assembly or identity.
    pub fn is_expression_offence(self) -> bool {
        self.class() == OffenceClass::Expression
    }

    /// Offences involving death, injury or other significant harm (the OHCHR proposal that the
    /// rights-first profile uses): every convention offence plus the listed violent and organised
    /// crimes.
    pub fn is_serious_harm(self) -> bool {
        use OffenceCategory::*;
        self.is_convention_offence()
            || matches!(
                self,
                Homicide
                    | Kidnapping
                    | HumanTrafficking
                    | Terrorism
                    | SexualOffence
                    | Extortion
                    | WeaponsTrafficking
                    | DrugTrafficking
                    | OrganizedCrime
            )
    }
}

/// The statutory maximum penalty in the requester's law.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaxPenalty {
    /// Deprivation of liberty for at most this many years (finite, ≥ 0, may be fractional).
    Years(f64),
    /// Life imprisonment.
    Life,
    /// The death penalty.
    Death,
}

impl MaxPenalty {
    /// Whether this is "serious crime" in the sense of UNCC art. 2(h): at least four years, or a
    /// more serious penalty.
    pub fn is_serious_crime(self) -> bool {
        self.at_least_years(4.0)
    }

    /// Whether the penalty is at least `years` of deprivation of liberty; life and death always are.
    pub fn at_least_years(self, years: f64) -> bool {
        match self {
            MaxPenalty::Years(y) => y >= years,
            MaxPenalty::Life | MaxPenalty::Death => true,
        }
    }

    /// Whole years, rounded down, with life and death counted as [`MaxPenalty::UNBOUNDED_YEARS`]:
    /// so that a test `>= N` for a whole `N` is exact.
    pub fn whole_years(self) -> i64 {
        match self {
            MaxPenalty::Years(y) => (y.floor() as i64).min(Self::UNBOUNDED_YEARS),
            MaxPenalty::Life | MaxPenalty::Death => Self::UNBOUNDED_YEARS,
        }
    }

    /// The number of years that stands for life imprisonment and death in whole-year comparisons.
    pub const UNBOUNDED_YEARS: i64 = 999;
}

impl fmt::Display for MaxPenalty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaxPenalty::Years(y) if *y == 1.0 => f.write_str("1 year"),
            MaxPenalty::Years(y) => write!(f, "{y} years"),
            MaxPenalty::Life => f.write_str("life imprisonment"),
            MaxPenalty::Death => f.write_str("death"),
        }
    }
}

impl Serialize for MaxPenalty {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            // Whole numbers go out as integers so that `10` stays `10`, not `10.0`.
            MaxPenalty::Years(y) if y.fract() == 0.0 && *y <= 1e15 => {
                serializer.serialize_u64(*y as u64)
            }
            MaxPenalty::Years(y) => serializer.serialize_f64(*y),
            MaxPenalty::Life => serializer.serialize_str("life"),
            MaxPenalty::Death => serializer.serialize_str("death"),
        }
    }
}

impl<'de> Deserialize<'de> for MaxPenalty {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = MaxPenalty;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(r#"a number of years ≥ 0, or "life", or "death""#)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<MaxPenalty, E> {
                Ok(MaxPenalty::Years(v as f64))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<MaxPenalty, E> {
                if v < 0 {
                    return Err(E::custom(format_args!(
                        "{v} is negative; give the maximum penalty in years (≥ 0), or \"life\", or \"death\""
                    )));
                }
                Ok(MaxPenalty::Years(v as f64))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<MaxPenalty, E> {
                if !v.is_finite() || v < 0.0 {
                    return Err(E::custom(format_args!(
                        "{v} is not a number of years ≥ 0; give the maximum penalty in years, or \"life\", or \"death\""
                    )));
                }
                Ok(MaxPenalty::Years(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<MaxPenalty, E> {
                match v {
                    "life" => Ok(MaxPenalty::Life),
                    "death" => Ok(MaxPenalty::Death),
                    _ => Err(E::custom(format_args!(
                        "\"{v}\" is not a penalty; give a number of years, or \"life\", or \"death\""
                    ))),
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_wire_names_and_parse_back() {
        for c in OffenceCategory::ALL {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
            assert_eq!(OffenceCategory::from_name(c.as_str()), Some(c));
        }
        assert_eq!(OffenceCategory::from_name("Csam"), None);
    }

    #[test]
    fn classes_partition_the_categories() {
        let convention = OffenceCategory::ALL
            .iter()
            .filter(|c| c.is_convention_offence())
            .count();
        let expression = OffenceCategory::ALL
            .iter()
            .filter(|c| c.is_expression_offence())
            .count();
        assert_eq!(convention, 11);
        assert_eq!(expression, 6);
        assert_eq!(
            OffenceCategory::ALL
                .iter()
                .filter(|c| c.is_core_cybercrime())
                .count(),
            5
        );
        // Every name round-trips.
        for c in OffenceCategory::ALL {
            assert_eq!(OffenceCategory::from_name(c.as_str()), Some(c));
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
        }
        assert!(!OffenceCategory::Fraud.is_serious_harm());
        assert!(OffenceCategory::IctFraud.is_serious_harm());
        assert!(!OffenceCategory::DefamationOrInsult.is_serious_harm());
    }

    #[test]
    fn serious_crime_threshold_is_four_years() {
        assert!(!MaxPenalty::Years(3.99).is_serious_crime());
        assert!(MaxPenalty::Years(4.0).is_serious_crime());
        assert!(MaxPenalty::Life.is_serious_crime());
        assert!(MaxPenalty::Death.is_serious_crime());
        assert_eq!(MaxPenalty::Years(3.99).whole_years(), 3);
        assert_eq!(MaxPenalty::Years(1e300).whole_years(), 999);
    }

    #[test]
    fn penalty_parsing() {
        let p: MaxPenalty = serde_json::from_str("2.5").unwrap();
        assert_eq!(p, MaxPenalty::Years(2.5));
        let p: MaxPenalty = serde_json::from_str("\"death\"").unwrap();
        assert_eq!(p, MaxPenalty::Death);
        let e = serde_json::from_str::<MaxPenalty>("-1").unwrap_err();
        assert!(e.to_string().contains("negative"), "{e}");
        let e = serde_json::from_str::<MaxPenalty>("\"forever\"").unwrap_err();
        assert!(e.to_string().contains("not a penalty"), "{e}");
        assert_eq!(
            serde_json::to_string(&MaxPenalty::Years(10.0)).unwrap(),
            "10"
        );
        assert_eq!(
            serde_json::to_string(&MaxPenalty::Years(0.5)).unwrap(),
            "0.5"
        );
    }
}
