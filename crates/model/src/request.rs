//! The request for electronic evidence, `custos.request/v1`, as Rust types.
//!
//! Every struct refuses unknown fields: a misspelt `confidentiality` must be an error, never a
//! silently missing safeguard. Values that have a shape (identifiers, state codes, penalties, data
//! categories) are parsed into types that cannot hold a wrong value; cross-field rules
//! (`period.from` ≤ `period.to`, target counts) are checked in [`crate::parse`].

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use strum::{EnumString, IntoStaticStr};

use crate::measure::{Channel, DataCategories, Measure};
use crate::offence::{MaxPenalty, OffenceCategory};
use crate::strict;

/// The value of the `format` field.
pub const REQUEST_FORMAT: &str = "custos.request/v1";

/// The most targets one request may name.
pub const MAX_TARGETS: usize = 10_000;

/// A request for electronic evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub format: FormatTag,
    /// The requester's own reference; unique per requesting authority.
    pub id: RequestId,
    pub submitted_at: Timestamp,
    pub channel: Channel,
    pub measure: Measure,
    #[serde(deserialize_with = "strict::object")]
    pub requesting_authority: RequestingAuthority,
    #[serde(deserialize_with = "strict::object")]
    pub investigation: Investigation,
    #[serde(deserialize_with = "strict::object_list")]
    pub targets: Vec<Target>,
    pub data_categories: DataCategories,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "strict::optional_object"
    )]
    pub period: Option<Period>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "strict::optional_object"
    )]
    pub authorization: Option<Authorization>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub necessity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mla_followup_intended: Option<bool>,
    /// The id of the earlier preservation request (of the same authority, at the same node)
    /// that this request follows up: the node links the two cases and keeps the hold while
    /// this one is pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follows: Option<RequestId>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "strict::optional_object"
    )]
    pub emergency: Option<Emergency>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "strict::optional_object"
    )]
    pub confidentiality: Option<Confidentiality>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "strict::optional_object"
    )]
    pub data_protection: Option<DataProtection>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "strict::optional_object"
    )]
    pub assurances: Option<Assurances>,
}

impl Request {
    /// `purpose` was given (non-blank).
    pub fn purpose_given(&self) -> bool {
        is_given(&self.purpose)
    }

    /// `necessity` was given (non-blank).
    pub fn necessity_given(&self) -> bool {
        is_given(&self.necessity)
    }

    /// An emergency is claimed (UNCC art. 2(o)), whether or not it is justified.
    pub fn emergency_claimed(&self) -> bool {
        self.emergency.as_ref().is_some_and(|e| e.claimed)
    }

    /// An emergency is claimed and a justification is given.
    pub fn emergency_justified(&self) -> bool {
        self.emergency
            .as_ref()
            .is_some_and(|e| e.claimed && is_given(&e.justification))
    }

    /// The requester asks that the person concerned not be told.
    pub fn confidentiality_requested(&self) -> bool {
        self.confidentiality.as_ref().is_some_and(|c| c.requested)
    }

    /// The end of the requested confidentiality, when one is requested and bounded.
    pub fn confidentiality_until(&self) -> Option<Timestamp> {
        self.confidentiality
            .as_ref()
            .filter(|c| c.requested)
            .and_then(|c| c.until)
    }

    /// The kind of authorization behind the request, if any was described.
    pub fn authorization_kind(&self) -> Option<AuthorizationKind> {
        self.authorization.as_ref().map(|a| a.kind)
    }
}

/// `true` when the string is present and not blank ("given" in the spec).
pub fn is_given(s: &Option<String>) -> bool {
    s.as_deref().is_some_and(|s| !is_blank(s))
}

/// `true` when every character is Unicode White_Space, a control character (Cc) or a format
/// character (Cf), the empty string included (safeguards.md 1.1, *Notes*: "Given / blank"). A
/// purpose of one control character, or of zero-width spaces, says nothing.
pub fn is_blank(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_whitespace() || c.is_control() || is_format(c))
}

/// Unicode general category Cf (format characters), Unicode 16.0. The standard library knows
/// White_Space (`char::is_whitespace`) and Cc (`char::is_control`) but not Cf.
fn is_format(c: char) -> bool {
    const CF: [(u32, u32); 21] = [
        (0x00AD, 0x00AD),
        (0x0600, 0x0605),
        (0x061C, 0x061C),
        (0x06DD, 0x06DD),
        (0x070F, 0x070F),
        (0x0890, 0x0891),
        (0x08E2, 0x08E2),
        (0x180E, 0x180E),
        (0x200B, 0x200F),
        (0x202A, 0x202E),
        (0x2060, 0x2064),
        (0x2066, 0x206F),
        (0xFEFF, 0xFEFF),
        (0xFFF9, 0xFFFB),
        (0x110BD, 0x110BD),
        (0x110CD, 0x110CD),
        (0x13430, 0x1343F),
        (0x1BCA0, 0x1BCA3),
        (0x1D173, 0x1D17A),
        (0xE0001, 0xE0001),
        (0xE0020, 0xE007F),
    ];
    let c = u32::from(c);
    CF.iter().any(|&(lo, hi)| (lo..=hi).contains(&c))
}

/// The `format` field; only `custos.request/v1` is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FormatTag;

impl Serialize for FormatTag {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REQUEST_FORMAT)
    }
}

impl<'de> Deserialize<'de> for FormatTag {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        if s == REQUEST_FORMAT {
            Ok(FormatTag)
        } else {
            Err(serde::de::Error::custom(format_args!(
                "\"{s}\" is not a format this node reads; expected \"{REQUEST_FORMAT}\""
            )))
        }
    }
}

/// The requester's reference: 1–128 characters from `[A-Za-z0-9._:-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RequestId(String);

impl RequestId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RequestId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.is_empty() || s.len() > 128 {
            return Err(format!(
                "the id must have 1 to 128 characters, this one has {}",
                s.chars().count()
            ));
        }
        if let Some(bad) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-')))
        {
            return Err(format!(
                "the id may only contain letters A–Z a–z, digits and . _ : - (found {bad:?})"
            ));
        }
        Ok(RequestId(s))
    }
}

impl From<RequestId> for String {
    fn from(id: RequestId) -> String {
        id.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An ISO 3166-1 alpha-2 code in upper case (user-assigned codes such as `XA` included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StateCode([u8; 2]);

impl StateCode {
    pub fn as_str(&self) -> &str {
        // Only ASCII upper-case letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl std::str::FromStr for StateCode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.as_bytes() {
            [a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => Ok(StateCode([*a, *b])),
            _ => Err(format!(
                "\"{s}\" is not a state code; give the ISO 3166-1 alpha-2 code in upper case, e.g. \"XA\""
            )),
        }
    }
}

impl TryFrom<String> for StateCode {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<StateCode> for String {
    fn from(code: StateCode) -> String {
        code.as_str().to_owned()
    }
}

impl fmt::Display for StateCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not blank (see [`is_blank`]): names of authorities and offences.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NonBlank(String);

impl NonBlank {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for NonBlank {
    type Error = &'static str;
    fn try_from(s: String) -> Result<Self, &'static str> {
        if is_blank(&s) {
            Err(
                "must not be empty or blank (only spaces, control or invisible format characters); give the name",
            )
        } else {
            Ok(NonBlank(s))
        }
    }
}

impl From<NonBlank> for String {
    fn from(s: NonBlank) -> String {
        s.0
    }
}

impl fmt::Display for NonBlank {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who asks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestingAuthority {
    pub state: StateCode,
    pub name: NonBlank,
    pub kind: AuthorityKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
}

/// The function of the requesting authority.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, EnumString, IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum AuthorityKind {
    Court,
    Prosecutor,
    Police,
    CentralAuthority,
    #[serde(rename = "contact_point_24_7")]
    #[strum(serialize = "contact_point_24_7")]
    ContactPoint24x7,
    Other,
}

impl AuthorityKind {
    pub const ALL: [AuthorityKind; 6] = [
        AuthorityKind::Court,
        AuthorityKind::Prosecutor,
        AuthorityKind::Police,
        AuthorityKind::CentralAuthority,
        AuthorityKind::ContactPoint24x7,
        AuthorityKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The kind an identifier stands for.
    pub fn from_name(name: &str) -> Option<Self> {
        name.parse().ok()
    }

    /// Plain words for people.
    pub fn describe(self) -> &'static str {
        match self {
            AuthorityKind::Court => "court",
            AuthorityKind::Prosecutor => "prosecutor",
            AuthorityKind::Police => "police",
            AuthorityKind::CentralAuthority => "central authority",
            AuthorityKind::ContactPoint24x7 => "24/7 contact point",
            AuthorityKind::Other => "other authority",
        }
    }
}

/// The specific investigation or proceeding (UNCC art. 23: powers serve *specific* investigations).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Investigation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority_conducting: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary_of_facts: Option<String>,
    #[serde(deserialize_with = "strict::object_list")]
    pub offences: Vec<Offence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub good_faith_research_excluded: Option<bool>,
}

impl Investigation {
    pub fn authority_conducting_given(&self) -> bool {
        is_given(&self.authority_conducting)
    }

    pub fn summary_of_facts_given(&self) -> bool {
        is_given(&self.summary_of_facts)
    }
}

/// One offence under investigation, as the requester's law defines it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Offence {
    pub name: NonBlank,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statute: Option<String>,
    pub category: OffenceCategory,
    pub max_penalty: MaxPenalty,
}

/// Whose data is asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub kind: TargetKind,
    pub value: TargetValue,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<Timestamp>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, EnumString, IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum TargetKind {
    Account,
    Email,
    Phone,
    IpAddress,
    Domain,
    Device,
    PaymentInstrument,
    Other,
}

impl TargetKind {
    pub const ALL: [TargetKind; 8] = [
        TargetKind::Account,
        TargetKind::Email,
        TargetKind::Phone,
        TargetKind::IpAddress,
        TargetKind::Domain,
        TargetKind::Device,
        TargetKind::PaymentInstrument,
        TargetKind::Other,
    ];

    /// The identifier used in requests.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A target identifier: 1–512 characters. Never logged.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TargetValue(String);

impl TargetValue {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TargetValue {
    // Target identifiers are personal data: keep them out of debug output and logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TargetValue(<{} chars>)", self.0.chars().count())
    }
}

impl TryFrom<String> for TargetValue {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let n = s.chars().count();
        if n == 0 || n > 512 {
            Err(format!(
                "a target value must have 1 to 512 characters, this one has {n}"
            ))
        } else {
            Ok(TargetValue(s))
        }
    }
}

impl From<TargetValue> for String {
    fn from(v: TargetValue) -> String {
        v.0
    }
}

/// The time span of the data asked for; `from` ≤ `to` (checked in [`crate::parse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    pub from: Timestamp,
    pub to: Timestamp,
}

impl Period {
    /// The length in whole days of 24 hours, rounded up: a period one second longer than 90 days
    /// counts as 91, so "longer than N days" is exactly `days_ceil() > N`.
    pub fn days_ceil(&self) -> i64 {
        let total = self.to.as_nanosecond() - self.from.as_nanosecond();
        let day = 86_400i128 * 1_000_000_000;
        (total.max(0) + day - 1).div_euclid(day) as i64
    }
}

/// The order behind the request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    pub kind: AuthorizationKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthorizationKind {
    /// A judge or court.
    Judicial,
    /// A non-judicial independent review body.
    Independent,
    Prosecutorial,
    Administrative,
    None,
}

impl AuthorizationKind {
    pub const ALL: [AuthorizationKind; 5] = [
        AuthorizationKind::Judicial,
        AuthorizationKind::Independent,
        AuthorizationKind::Prosecutorial,
        AuthorizationKind::Administrative,
        AuthorizationKind::None,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuthorizationKind::Judicial => "judicial",
            AuthorizationKind::Independent => "independent",
            AuthorizationKind::Prosecutorial => "prosecutorial",
            AuthorizationKind::Administrative => "administrative",
            AuthorizationKind::None => "none",
        }
    }
}

/// A claimed emergency (UNCC art. 2(o): significant and imminent risk to life or safety).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Emergency {
    pub claimed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
}

/// The requester asks that the person concerned not be told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Confidentiality {
    pub requested: bool,
    /// `null` (or absent) asks for secrecy without end.
    #[serde(default)]
    pub until: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
}

/// The requester's data-protection commitments (UNCC art. 36).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataProtection {
    /// `null` (or absent): no retention limit is promised.
    #[serde(default)]
    pub retention_days: Option<RetentionDays>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose_limited: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onward_transfer: Option<OnwardTransfer>,
}

/// A retention limit: a whole number of days from 1 to [`RetentionDays::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "u32")]
pub struct RetentionDays(u32);

impl RetentionDays {
    /// The longest retention a request may promise: 36,500 days, about a century
    /// (safeguards.md 1.1, *Notes*).
    pub const MAX: u32 = 36_500;

    pub fn get(self) -> u32 {
        self.0
    }
}

const RETENTION_FIX: &str = "give a whole number of days from 1 to 36,500, or null for none";

fn retention_too_long(v: impl fmt::Display) -> String {
    format!("{v} days is more than the 36,500 a request may promise; {RETENTION_FIX}")
}

impl TryFrom<i64> for RetentionDays {
    type Error = String;
    fn try_from(v: i64) -> Result<Self, String> {
        match u32::try_from(v) {
            Ok(d) if (1..=Self::MAX).contains(&d) => Ok(RetentionDays(d)),
            _ if v > 0 => Err(retention_too_long(v)),
            _ => Err(format!("{v} is not a retention period; {RETENTION_FIX}")),
        }
    }
}

impl TryFrom<u64> for RetentionDays {
    type Error = String;
    fn try_from(v: u64) -> Result<Self, String> {
        match i64::try_from(v) {
            Ok(v) => RetentionDays::try_from(v),
            Err(_) => Err(retention_too_long(v)),
        }
    }
}

/// Any JSON number is read as it is written, so a value beyond every integer type is refused
/// with the same words as 36,501, never as an overflow; fractions and other types are refused
/// with what to give instead.
impl<'de> Deserialize<'de> for RetentionDays {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Days;
        impl serde::de::Visitor<'_> for Days {
            type Value = RetentionDays;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a whole number of days from 1 to 36,500, or null")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RetentionDays, E> {
                RetentionDays::try_from(v).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RetentionDays, E> {
                RetentionDays::try_from(v).map_err(E::custom)
            }
            // serde_json reads integers beyond u64 as floating point.
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<RetentionDays, E> {
                Err(E::custom(if v.fract() != 0.0 {
                    format!("{v:?} is not a whole number of days; {RETENTION_FIX}")
                } else if v > f64::from(RetentionDays::MAX) {
                    retention_too_long(format!("{v:.0}"))
                } else if v < 1.0 {
                    format!("{v:.0} is not a retention period; {RETENTION_FIX}")
                } else {
                    format!("{v:?} is written with a decimal point; {RETENTION_FIX}")
                }))
            }
        }
        d.deserialize_any(Days)
    }
}

impl From<RetentionDays> for u32 {
    fn from(d: RetentionDays) -> u32 {
        d.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnwardTransfer {
    None,
    AuthorizedOnly,
    Unrestricted,
}

impl OnwardTransfer {
    pub fn as_str(self) -> &'static str {
        match self {
            OnwardTransfer::None => "none",
            OnwardTransfer::AuthorizedOnly => "authorized_only",
            OnwardTransfer::Unrestricted => "unrestricted",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assurances {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_death_penalty: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_kind_names_are_their_wire_names() {
        for k in TargetKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
            assert_eq!(k.as_str().parse::<TargetKind>().unwrap(), k);
        }
        for k in AuthorityKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
            assert_eq!(AuthorityKind::from_name(k.as_str()), Some(k));
        }
        assert_eq!(
            AuthorityKind::ContactPoint24x7.as_str(),
            "contact_point_24_7"
        );
    }

    #[test]
    fn ids_and_state_codes() {
        assert!(RequestId::try_from("XA-2026.0001:a_b".to_owned()).is_ok());
        assert!(RequestId::try_from(String::new()).is_err());
        assert!(RequestId::try_from("a b".to_owned()).is_err());
        assert!(RequestId::try_from("x".repeat(129)).is_err());
        assert!(RequestId::try_from("x".repeat(128)).is_ok());
        assert!("XA".parse::<StateCode>().is_ok());
        assert!("xa".parse::<StateCode>().is_err());
        assert!("XAB".parse::<StateCode>().is_err());
    }

    #[test]
    fn period_days_round_up() {
        let p = |a: &str, b: &str| Period {
            from: a.parse().unwrap(),
            to: b.parse().unwrap(),
        };
        assert_eq!(
            p("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z").days_ceil(),
            0
        );
        assert_eq!(
            p("2026-01-01T00:00:00Z", "2026-04-01T00:00:00Z").days_ceil(),
            90
        );
        assert_eq!(
            p("2026-01-01T00:00:00Z", "2026-04-01T00:00:01Z").days_ceil(),
            91
        );
        assert_eq!(
            p("2026-01-01T00:00:00Z", "2026-01-01T00:00:00.000000001Z").days_ceil(),
            1
        );
    }

    /// safeguards.md 1.1: blank = only White_Space, control (Cc) or format (Cf) characters.
    #[test]
    fn blank_means_white_space_control_or_format_characters_only() {
        for blank in [
            "",
            " ",
            "\t\r\n",
            "\u{0}",
            "\u{1}",
            "\u{7f}",
            "\u{85}",   // NEL: Cc and White_Space
            "\u{a0}",   // NO-BREAK SPACE: White_Space (Zs)
            "\u{3000}", // IDEOGRAPHIC SPACE
            "\u{2028}", // LINE SEPARATOR
            "\u{200b}", // ZERO WIDTH SPACE: Cf, not White_Space
            "\u{200d}", // ZERO WIDTH JOINER: Cf
            "\u{feff}", // BYTE ORDER MARK: Cf
            "\u{ad}",   // SOFT HYPHEN: Cf
            "\u{180e}", // MONGOLIAN VOWEL SEPARATOR: Cf since Unicode 6.3
            "\u{202e}", // RIGHT-TO-LEFT OVERRIDE: Cf
            "\u{2066}\u{2069}",
            "\u{1343f}", // the last Egyptian hieroglyph format control (Unicode 15)
            "\u{e0001}\u{e007f}",
            " \u{200b}\u{0}\u{a0}\u{feff}\t",
        ] {
            assert!(is_blank(blank), "{blank:?} is blank");
            assert!(!is_given(&Some(blank.to_owned())), "{blank:?} is not given");
            assert!(NonBlank::try_from(blank.to_owned()).is_err(), "{blank:?}");
        }
        for given in [
            "x",
            " x ",
            "\u{200b}x",
            "\u{ad}-",
            "\u{301}",   // a combining mark (Mn) alone is not blank
            "\u{e000}",  // private use (Co)
            "\u{1d17b}", // the first musical symbol after the Cf range
            "\u{13440}", // the first Egyptian mark after the Cf range (Mn)
            "0",
        ] {
            assert!(!is_blank(given), "{given:?} is not blank");
            assert!(is_given(&Some(given.to_owned())), "{given:?} is given");
            assert!(NonBlank::try_from(given.to_owned()).is_ok(), "{given:?}");
        }
        assert!(!is_given(&None));
    }

    /// safeguards.md 1.1: retention_days is a whole number from 1 to 36,500.
    #[test]
    fn retention_days_run_from_1_to_36500() {
        let parse = |json: &str| serde_json::from_str::<RetentionDays>(json);
        assert_eq!(parse("1").unwrap().get(), 1);
        assert_eq!(parse("36500").unwrap().get(), 36_500);
        for too_long in [
            "36501",
            "4294967295",
            "4294967296",
            "5000000000",
            "9223372036854775807",
            "9223372036854775808",
            "18446744073709551615",
            "18446744073709551616",
            "100000000000000000000",
        ] {
            let e = parse(too_long).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("{too_long} days is more than the 36,500")),
                "{too_long}: {e}"
            );
            assert!(!e.contains("overflow") && !e.contains("u32"), "{e}");
        }
        for (bad, starts) in [
            ("0", "0 is not a retention period"),
            ("-1", "-1 is not a retention period"),
            (
                "-9223372036854775809",
                "-9223372036854775808 is not a retention period",
            ),
            ("30.5", "30.5 is not a whole number of days"),
            ("30.0", "30.0 is written with a decimal point"),
            (
                "\"30\"",
                "invalid type: string \"30\", expected a whole number of days",
            ),
            (
                "true",
                "invalid type: boolean `true`, expected a whole number of days",
            ),
        ] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.starts_with(starts), "{bad}: {e}");
        }
        assert!(RetentionDays::try_from(36_500_i64).is_ok());
        assert!(RetentionDays::try_from(36_501_i64).is_err());
        assert!(RetentionDays::try_from(u64::MAX).is_err());
        assert_eq!(
            serde_json::to_string(&parse("730").unwrap()).unwrap(),
            "730"
        );
    }

    #[test]
    fn target_values_stay_out_of_debug_output() {
        let v = TargetValue::try_from("+15550100".to_owned()).unwrap();
        assert!(!format!("{v:?}").contains("5550100"));
    }
}
