//! Measures, channels and data categories: what is asked, how it travels, and what data it reaches.
//!
//! The treaty knowledge here (which measure reaches which data, which measures are intrusive) is
//! fixed by the Convention's text, not by any profile, so it lives with the vocabulary.

use std::fmt;

use serde::{Deserialize, Serialize};
use strum::{EnumString, IntoStaticStr};

/// The one investigative measure a request asks for (UNCC arts. 25–30 domestic, 42–46 international).
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
pub enum Measure {
    /// Expedited preservation of stored data (UNCC arts. 25, 42).
    PreserveStoredData,
    /// Expedited disclosure of preserved traffic data (UNCC arts. 26, 43).
    DisclosePreservedTraffic,
    /// Production order for subscriber information (UNCC art. 27).
    ProduceSubscriberInfo,
    /// Production order for stored data (UNCC arts. 27, 44).
    ProduceStoredData,
    /// Search and seizure of stored data (UNCC arts. 28, 44).
    SearchAndSeize,
    /// Real-time collection of traffic data (UNCC arts. 29, 45).
    CollectTrafficRealtime,
    /// Interception of content data (UNCC arts. 30, 46).
    InterceptContent,
}

impl Measure {
    pub const ALL: [Measure; 7] = [
        Measure::PreserveStoredData,
        Measure::DisclosePreservedTraffic,
        Measure::ProduceSubscriberInfo,
        Measure::ProduceStoredData,
        Measure::SearchAndSeize,
        Measure::CollectTrafficRealtime,
        Measure::InterceptContent,
    ];

    /// The identifier used in requests, policies and reports.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The measure an identifier stands for.
    pub fn from_name(name: &str) -> Option<Self> {
        name.parse().ok()
    }

    /// Plain-words name for people.
    pub fn describe(self) -> &'static str {
        match self {
            Measure::PreserveStoredData => "preservation of stored data",
            Measure::DisclosePreservedTraffic => "disclosure of preserved traffic data",
            Measure::ProduceSubscriberInfo => "production of subscriber information",
            Measure::ProduceStoredData => "production of stored data",
            Measure::SearchAndSeize => "search and seizure of stored data",
            Measure::CollectTrafficRealtime => "real-time collection of traffic data",
            Measure::InterceptContent => "interception of content",
        }
    }

    /// The articles of the Convention that provide for this measure.
    pub fn basis(self) -> &'static str {
        match self {
            Measure::PreserveStoredData => "UNCC arts. 25, 42",
            Measure::DisclosePreservedTraffic => "UNCC arts. 26, 43",
            Measure::ProduceSubscriberInfo => "UNCC art. 27",
            Measure::ProduceStoredData => "UNCC arts. 27, 44",
            Measure::SearchAndSeize => "UNCC arts. 28, 44",
            Measure::CollectTrafficRealtime => "UNCC arts. 29, 45",
            Measure::InterceptContent => "UNCC arts. 30, 46",
        }
    }

    /// The data categories this measure can reach at all (request-format.md, *Measures*).
    pub fn reach(self) -> DataCategories {
        use DataCategory::*;
        match self {
            Measure::PreserveStoredData | Measure::ProduceStoredData | Measure::SearchAndSeize => {
                DataCategories::ALL
            }
            Measure::DisclosePreservedTraffic | Measure::CollectTrafficRealtime => {
                DataCategories::of(&[Traffic])
            }
            Measure::ProduceSubscriberInfo => DataCategories::of(&[Subscriber]),
            Measure::InterceptContent => DataCategories::of(&[Content]),
        }
    }

    /// The preservation measures of international cooperation (UNCC arts. 42–43):
    /// `preserve_stored_data` and `disclose_preserved_traffic`. This is the sense of the channel
    /// rules and of `convention`'s dual criminality (safeguards.md, *Notes*). It does not say
    /// that nothing is handed over: `disclose_preserved_traffic` hands traffic data over (see
    /// [`Measure::hands_over_data`]).
    pub fn is_preservation(self) -> bool {
        matches!(
            self,
            Measure::PreserveStoredData | Measure::DisclosePreservedTraffic
        )
    }

    /// Every measure but `preserve_stored_data` gives the requester data: only preservation of
    /// stored data freezes it where it is and hands nothing over. `rights-first` treats these
    /// as disclosures (necessity, serious harm, authorization), and only they owe the person
    /// concerned a notice (safeguards.md 1.1).
    pub fn hands_over_data(self) -> bool {
        self != Measure::PreserveStoredData
    }

    /// Intrusive measures watch communications as they happen.
    pub fn is_intrusive(self) -> bool {
        matches!(
            self,
            Measure::CollectTrafficRealtime | Measure::InterceptContent
        )
    }
}

/// How a request travels.
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
pub enum Channel {
    /// Mutual legal assistance through central authorities (UNCC art. 40).
    Mla,
    /// The 24/7 network of contact points (UNCC art. 41).
    #[serde(rename = "network_24_7")]
    #[strum(serialize = "network_24_7")]
    Network24x7,
    /// Directly to a service provider (as in Budapest 2nd Additional Protocol art. 7).
    Direct,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Mla, Channel::Network24x7, Channel::Direct];

    /// The identifier used in requests and the directory.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The channel an identifier stands for.
    pub fn from_name(name: &str) -> Option<Self> {
        name.parse().ok()
    }

    pub fn describe(self) -> &'static str {
        match self {
            Channel::Mla => "mutual legal assistance",
            Channel::Network24x7 => "the 24/7 network",
            Channel::Direct => "a direct request to the provider",
        }
    }
}

/// A category of electronic data (UNCC art. 2(c), (d), (f)).
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
pub enum DataCategory {
    /// Subscriber information (art. 2(f)).
    Subscriber,
    /// Traffic data (art. 2(c)).
    Traffic,
    /// Content data (art. 2(d)).
    Content,
}

impl DataCategory {
    pub const ALL: [DataCategory; 3] = [
        DataCategory::Subscriber,
        DataCategory::Traffic,
        DataCategory::Content,
    ];

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    fn bit(self) -> u8 {
        match self {
            DataCategory::Subscriber => 1,
            DataCategory::Traffic => 2,
            DataCategory::Content => 4,
        }
    }
}

/// A set of data categories. Requests list them as a JSON array without duplicates; the set is
/// kept as bits so that comparing and narrowing are cheap and order never matters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DataCategories(u8);

impl DataCategories {
    pub const EMPTY: DataCategories = DataCategories(0);
    pub const ALL: DataCategories = DataCategories(7);

    pub const fn from_bits_truncate(bits: u8) -> Self {
        DataCategories(bits & 7)
    }

    pub fn of(categories: &[DataCategory]) -> Self {
        categories
            .iter()
            .fold(Self::EMPTY, |set, c| DataCategories(set.0 | c.bit()))
    }

    pub fn contains(self, category: DataCategory) -> bool {
        self.0 & category.bit() != 0
    }

    pub fn insert(&mut self, category: DataCategory) {
        self.0 |= category.bit();
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    pub fn intersection(self, other: Self) -> Self {
        DataCategories(self.0 & other.0)
    }

    pub fn difference(self, other: Self) -> Self {
        DataCategories(self.0 & !other.0)
    }

    pub fn is_subset(self, other: Self) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn bits(self) -> u8 {
        self.0
    }

    /// The categories in their canonical order: subscriber, traffic, content.
    pub fn iter(self) -> impl Iterator<Item = DataCategory> {
        DataCategory::ALL
            .into_iter()
            .filter(move |c| self.contains(*c))
    }
}

impl fmt::Debug for DataCategories {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl fmt::Display for DataCategories {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for c in self.iter() {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            f.write_str(c.as_str())?;
        }
        if first {
            f.write_str("none")?;
        }
        Ok(())
    }
}

impl FromIterator<DataCategory> for DataCategories {
    fn from_iter<I: IntoIterator<Item = DataCategory>>(iter: I) -> Self {
        let mut set = DataCategories::EMPTY;
        for c in iter {
            set.insert(c);
        }
        set
    }
}

impl Serialize for DataCategories {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for DataCategories {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = DataCategories;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a non-empty array of distinct data categories (subscriber, traffic, content)",
                )
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut set = DataCategories::EMPTY;
                while let Some(c) = seq.next_element::<DataCategory>()? {
                    if set.contains(c) {
                        return Err(serde::de::Error::custom(format_args!(
                            "`{c}` is listed twice; list each data category once"
                        )));
                    }
                    set.insert(c);
                }
                if set.is_empty() {
                    return Err(serde::de::Error::custom(
                        "no data category given; list at least one of subscriber, traffic, content",
                    ));
                }
                Ok(set)
            }
        }
        deserializer.deserialize_seq(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_wire_names_and_parse_back() {
        for m in Measure::ALL {
            assert_eq!(serde_json::to_value(m).unwrap(), m.as_str());
            assert_eq!(Measure::from_name(m.as_str()), Some(m));
        }
        for c in Channel::ALL {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
            assert_eq!(Channel::from_name(c.as_str()), Some(c));
        }
        for d in DataCategory::ALL {
            assert_eq!(serde_json::to_value(d).unwrap(), d.as_str());
            assert_eq!(d.as_str().parse::<DataCategory>().unwrap(), d);
        }
        assert_eq!(Channel::Network24x7.as_str(), "network_24_7");
        assert_eq!(Measure::from_name("Intercept_content"), None);
    }

    #[test]
    fn reach_matches_the_measure_table() {
        use DataCategory::*;
        assert_eq!(
            Measure::ProduceSubscriberInfo.reach(),
            DataCategories::of(&[Subscriber])
        );
        assert_eq!(
            Measure::InterceptContent.reach(),
            DataCategories::of(&[Content])
        );
        assert_eq!(
            Measure::CollectTrafficRealtime.reach(),
            DataCategories::of(&[Traffic])
        );
        assert_eq!(Measure::SearchAndSeize.reach(), DataCategories::ALL);
        let preservation: Vec<_> = Measure::ALL
            .into_iter()
            .filter(|m| m.is_preservation())
            .collect();
        assert_eq!(
            preservation,
            [
                Measure::PreserveStoredData,
                Measure::DisclosePreservedTraffic
            ]
        );
        // Disclosure of preserved traffic is a preservation measure and hands data over.
        let keeps_data: Vec<_> = Measure::ALL
            .into_iter()
            .filter(|m| !m.hands_over_data())
            .collect();
        assert_eq!(keeps_data, [Measure::PreserveStoredData]);
        assert!(Measure::DisclosePreservedTraffic.is_preservation());
        assert!(Measure::DisclosePreservedTraffic.hands_over_data());
    }

    #[test]
    fn set_operations() {
        use DataCategory::*;
        let st = DataCategories::of(&[Subscriber, Traffic]);
        assert!(st.is_subset(DataCategories::ALL));
        assert!(!DataCategories::ALL.is_subset(st));
        assert_eq!(
            DataCategories::ALL.difference(st),
            DataCategories::of(&[Content])
        );
        assert_eq!(st.len(), 2);
        assert_eq!(st.to_string(), "subscriber, traffic");
    }

    #[test]
    fn duplicate_categories_are_refused() {
        let err = serde_json::from_str::<DataCategories>(r#"["traffic","traffic"]"#).unwrap_err();
        assert!(
            err.to_string().contains("`traffic` is listed twice"),
            "{err}"
        );
        let err = serde_json::from_str::<DataCategories>("[]").unwrap_err();
        assert!(err.to_string().contains("no data category given"), "{err}");
    }
}
