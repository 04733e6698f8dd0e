//! Proptest strategies that generate *valid* requests covering every branch of the safeguard rules
//! (feature `strategies`). Shared by the property tests and benchmarks of other crates.

use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use proptest::sample::select;

use crate::measure::{Channel, DataCategories, Measure};
use crate::offence::{MaxPenalty, OffenceCategory};
use crate::request::*;

/// The instant around which generated times fall: 2026-11-20T12:00:00Z.
pub fn reference_now() -> Timestamp {
    Timestamp::from_second(1_795_176_000).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn at_offset_days(days: i64, secs: i64) -> Timestamp {
    reference_now()
        .checked_add(SignedDuration::from_secs(days * 86_400 + secs))
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Optional free text: absent, blank, or given.
pub fn text() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        2 => Just(None),
        1 => select(vec!["", "   ", "\u{1}", "\u{200b}", "\u{a0}\u{feff}\t"])
            .prop_map(|s| Some(s.to_owned())),
        5 => "[A-Za-z ]{1,40}".prop_map(|s| Some(format!("x{s}"))),
    ]
}

pub fn max_penalty() -> impl Strategy<Value = MaxPenalty> {
    prop_oneof![
        6 => (0u32..=30).prop_map(|y| MaxPenalty::Years(f64::from(y))),
        2 => (0u32..=60).prop_map(|t| MaxPenalty::Years(f64::from(t) / 4.0)),
        1 => Just(MaxPenalty::Life),
        1 => Just(MaxPenalty::Death),
    ]
}

pub fn offence() -> impl Strategy<Value = Offence> {
    (select(OffenceCategory::ALL.to_vec()), max_penalty()).prop_map(|(category, max_penalty)| {
        Offence {
            name: NonBlank::try_from(format!("Offence of {category}"))
                .unwrap_or_else(|_| unreachable!("non-blank by construction")),
            statute: None,
            category,
            max_penalty,
        }
    })
}

pub fn data_categories() -> impl Strategy<Value = DataCategories> {
    (1u8..=7).prop_map(DataCategories::from_bits_truncate)
}

pub fn period() -> impl Strategy<Value = Option<Period>> {
    prop_oneof![
        1 => Just(None),
        4 => (-900i64..=200, 0i64..=800, 0i64..86_400).prop_map(|(start, len, secs)| {
            let from = at_offset_days(start, 0);
            let to = at_offset_days(start + len, secs);
            Some(Period { from, to })
        }),
    ]
}

pub fn authorization() -> impl Strategy<Value = Option<Authorization>> {
    prop_oneof![
        1 => Just(None),
        4 => select(AuthorizationKind::ALL.to_vec()).prop_map(|kind| Some(Authorization {
            kind,
            issued_by: None,
            reference: None,
            issued_at: None,
        })),
    ]
}

pub fn emergency() -> impl Strategy<Value = Option<Emergency>> {
    prop_oneof![
        2 => Just(None),
        3 => (any::<bool>(), text()).prop_map(|(claimed, justification)| Some(Emergency {
            claimed,
            justification,
        })),
    ]
}

pub fn confidentiality() -> impl Strategy<Value = Option<Confidentiality>> {
    let until = prop_oneof![
        2 => Just(None),
        3 => (-30i64..=800).prop_map(|d| Some(at_offset_days(d, 0))),
    ];
    prop_oneof![
        1 => Just(None),
        3 => (any::<bool>(), until, text()).prop_map(|(requested, until, justification)| {
            Some(Confidentiality { requested, until, justification })
        }),
    ]
}

pub fn data_protection() -> impl Strategy<Value = Option<DataProtection>> {
    let onward = prop_oneof![
        Just(None),
        Just(Some(OnwardTransfer::None)),
        Just(Some(OnwardTransfer::AuthorizedOnly)),
        Just(Some(OnwardTransfer::Unrestricted)),
    ];
    let retention = prop_oneof![
        Just(None),
        (1i64..=36_500).prop_map(|d| RetentionDays::try_from(d).ok()),
    ];
    prop_oneof![
        1 => Just(None),
        4 => (retention, proptest::option::of(any::<bool>()), onward).prop_map(
            |(retention_days, purpose_limited, onward_transfer)| Some(DataProtection {
                retention_days,
                purpose_limited,
                onward_transfer,
            })
        ),
    ]
}

/// How many targets: mostly a few, sometimes around the 10 and 50 thresholds.
pub fn target_count() -> impl Strategy<Value = usize> {
    prop_oneof![8 => 1usize..=3, 1 => 9usize..=12, 1 => 49usize..=52]
}

pub fn targets() -> impl Strategy<Value = Vec<Target>> {
    (target_count(), select(TargetKind::ALL.to_vec())).prop_map(|(n, kind)| {
        (0..n)
            .map(|i| Target {
                kind,
                value: TargetValue::try_from(format!("target-{i}@example.org"))
                    .unwrap_or_else(|_| unreachable!("short by construction")),
                at: None,
            })
            .collect()
    })
}

/// A valid `custos.request/v1` request.
pub fn request() -> impl Strategy<Value = Request> {
    let head = (
        "[A-Z]{2}-[0-9]{1,6}",
        select(Channel::ALL.to_vec()),
        select(Measure::ALL.to_vec()),
        select(vec!["XA", "XB", "XC", "QX"]),
        select(AuthorityKind::ALL.to_vec()),
        (text(), text(), proptest::collection::vec(offence(), 1..=3)),
        proptest::option::of(any::<bool>()),
        // Never the request's own id (`[A-Z]{2}-…`): a request cannot follow itself.
        proptest::option::of("PRES-[0-9]{1,6}"),
    );
    let body = (
        targets(),
        data_categories(),
        period(),
        authorization(),
        (text(), text()),
        proptest::option::of(any::<bool>()),
        (emergency(), confidentiality(), data_protection()),
        proptest::option::of(proptest::option::of(any::<bool>())),
    );
    (head, body).prop_map(
        |(
            (
                id,
                channel,
                measure,
                state,
                kind,
                (conducting, summary, offences),
                good_faith,
                follows,
            ),
            (
                targets,
                data_categories,
                period,
                authorization,
                (purpose, necessity),
                mla_followup_intended,
                (emergency, confidentiality, data_protection),
                assurances,
            ),
        )| Request {
            format: FormatTag,
            id: RequestId::try_from(id).unwrap_or_else(|_| unreachable!("valid by construction")),
            submitted_at: at_offset_days(-1, 0),
            channel,
            measure,
            requesting_authority: RequestingAuthority {
                state: state
                    .parse()
                    .unwrap_or_else(|_| unreachable!("valid by construction")),
                name: NonBlank::try_from("Requesting Authority".to_owned())
                    .unwrap_or_else(|_| unreachable!("non-blank by construction")),
                kind,
                contact: None,
            },
            investigation: Investigation {
                reference: None,
                authority_conducting: conducting,
                summary_of_facts: summary,
                offences,
                good_faith_research_excluded: good_faith,
            },
            targets,
            data_categories,
            period,
            authorization,
            purpose,
            necessity,
            mla_followup_intended,
            follows: follows.map(|f| {
                RequestId::try_from(f).unwrap_or_else(|_| unreachable!("valid by construction"))
            }),
            emergency,
            confidentiality,
            data_protection,
            assurances: assurances.map(|no_death_penalty| Assurances { no_death_penalty }),
        },
    )
}
