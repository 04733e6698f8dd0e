//! The space of facts: which combinations of facts some valid request can produce.
//!
//! The solver sees the facts of `custos.cedarschema` as free variables: left alone it would
//! "refute" a safeguard with facts no request has (an interception that is not intrusive, a
//! death-penalty offence with a 2-year maximum). [`realizable`] states, as one Cedar condition,
//! what `Facts::of` guarantees: enumerations take only their values, the measure fixes its
//! derived facts, category counts add up, the offence facts are the union of real offences, and
//! so on. Proofs assume it; `tests/space.rs` checks with proptest that the facts of every
//! generated request satisfy it, and `inverse` turns any facts satisfying it back into a
//! request. Both directions are tested, so the condition is neither too loose nor too tight.
//!
//! Everything here is generated from custos-model's own tables (measures, categories, kinds), so
//! a new measure or offence category changes the space without anyone editing this file.

use std::collections::BTreeSet;

use custos_model::{
    AuthorityKind, AuthorizationKind, Channel, DataCategory, MaxPenalty, Measure, OffenceCategory,
};
use custos_safeguards::{Jurisdiction, LocalStatus};

/// Longest span, in whole days, between two instants a request can hold (jiff's timestamps
/// run from -9999 to 9999, about 7.3 million days): a bound on `period_days` and
/// `confidentiality_days_from_now` that no request exceeds.
pub const ANY_DAYS: i64 = 7_400_000;

/// The bound a reproducible counterexample keeps to: a century either way of now.
pub const REPRODUCIBLE_DAYS: i64 = 36_500;

/// `onward_transfer`'s values: the model's three, and `unspecified` when none is given.
pub const ONWARD_TRANSFERS: [&str; 4] = ["none", "authorized_only", "unrestricted", "unspecified"];

/// Which requests the space covers.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// Every request, under every receiving jurisdiction an operator can configure: the scope
    /// of the proofs.
    AnyJurisdiction,
    /// Requests under this jurisdiction, from one of `states`, with this request id, and with
    /// periods and secrecy within a century of now: the scope in which a counterexample is
    /// searched first, so that `custos assess` reproduces it as written.
    Reproducible {
        jurisdiction: &'a Jurisdiction,
        states: &'a [String],
        request_id: &'a str,
    },
}

/// The offence facts one offence contributes: its category's classes and its local status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OffenceSignature {
    pub convention: bool,
    pub core_cybercrime: bool,
    pub expression: bool,
    pub serious_harm: bool,
    pub locally_criminal: bool,
    pub locally_not_criminal: bool,
}

/// The offence facts, in the order of [`OffenceSignature::bits`].
pub const OFFENCE_FACTS: [&str; 6] = [
    "any_convention_offence",
    "any_core_cybercrime",
    "any_expression_offence",
    "any_serious_harm_offence",
    "any_locally_criminal",
    "any_locally_not_criminal",
];

impl OffenceSignature {
    pub fn of(category: OffenceCategory, status: LocalStatus) -> OffenceSignature {
        OffenceSignature {
            convention: category.is_convention_offence(),
            core_cybercrime: category.is_core_cybercrime(),
            expression: category.is_expression_offence(),
            serious_harm: category.is_serious_harm(),
            locally_criminal: status == LocalStatus::Criminal,
            locally_not_criminal: status == LocalStatus::NotCriminal,
        }
    }

    pub fn bits(self) -> [bool; 6] {
        [
            self.convention,
            self.core_cybercrime,
            self.expression,
            self.serious_harm,
            self.locally_criminal,
            self.locally_not_criminal,
        ]
    }
}

/// The local statuses a category can have: under `jurisdiction`, its own; under any
/// jurisdiction, every status the jurisdiction file can give it (`other` is criminal or
/// unknown, every other category criminal or not: `Jurisdiction::local_status`).
pub fn statuses(
    category: OffenceCategory,
    jurisdiction: Option<&Jurisdiction>,
) -> Vec<LocalStatus> {
    match jurisdiction {
        Some(j) => vec![j.local_status(category)],
        None if category == OffenceCategory::Other => {
            vec![LocalStatus::Criminal, LocalStatus::Unknown]
        }
        None => vec![LocalStatus::Criminal, LocalStatus::NotCriminal],
    }
}

/// Every (category, status) an offence can be, with its signature.
pub fn offence_choices(
    jurisdiction: Option<&Jurisdiction>,
) -> Vec<(OffenceCategory, LocalStatus, OffenceSignature)> {
    OffenceCategory::ALL
        .iter()
        .flat_map(|&c| {
            statuses(c, jurisdiction)
                .into_iter()
                .map(move |s| (c, s, OffenceSignature::of(c, s)))
        })
        .collect()
}

fn any_of(terms: impl IntoIterator<Item = String>) -> String {
    let terms: Vec<String> = terms.into_iter().collect();
    if terms.iter().any(|t| t == "true") {
        "(true)".to_owned()
    } else if terms.is_empty() {
        "false".to_owned()
    } else {
        format!("({})", terms.join(" || "))
    }
}

fn all_of(terms: impl IntoIterator<Item = String>) -> String {
    let terms: Vec<String> = terms.into_iter().collect();
    if terms.is_empty() {
        "true".to_owned()
    } else {
        format!("({})", terms.join(" && "))
    }
}

fn one_of(attribute: &str, values: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    any_of(
        values
            .into_iter()
            .map(|v| format!("context.{attribute} == {:?}", v.as_ref())),
    )
}

fn count(categories: impl IntoIterator<Item = DataCategory>) -> String {
    let terms: Vec<String> = categories
        .into_iter()
        .map(|c| format!("(if context.{} then 1 else 0)", asks(c)))
        .collect();
    if terms.is_empty() {
        "0".to_owned()
    } else {
        terms.join(" + ")
    }
}

/// The fact that says whether a category is asked.
pub fn asks(category: DataCategory) -> &'static str {
    match category {
        DataCategory::Subscriber => "asks_subscriber",
        DataCategory::Traffic => "asks_traffic",
        DataCategory::Content => "asks_content",
    }
}

/// The conditions, in Cedar, that together say the facts (`context`, and `principal`/`resource`
/// in the reproducible scope) are those of some valid request in `scope`.
pub fn realizable(scope: Scope<'_>) -> Vec<String> {
    let (jurisdiction, days) = match scope {
        Scope::AnyJurisdiction => (None, ANY_DAYS),
        Scope::Reproducible { jurisdiction, .. } => (Some(jurisdiction), REPRODUCIBLE_DAYS),
    };
    // Enumerations take only the model's values.
    let mut c: Vec<String> = vec![
        one_of("measure", Measure::ALL.map(Measure::as_str)),
        one_of("channel", Channel::ALL.map(Channel::as_str)),
        one_of(
            "requesting_authority_kind",
            AuthorityKind::ALL.map(AuthorityKind::as_str),
        ),
        one_of(
            "authorization",
            AuthorizationKind::ALL
                .map(AuthorizationKind::as_str)
                .into_iter()
                .chain(["absent"]),
        ),
        one_of("onward_transfer", ONWARD_TRANSFERS),
    ];

    // The measure fixes what it is and what it reaches.
    for m in Measure::ALL {
        let reach = m.reach();
        let (within, outside): (Vec<_>, Vec<_>) = DataCategory::ALL
            .into_iter()
            .partition(|&d| reach.contains(d));
        c.push(format!(
            "(context.measure != {:?} || (context.is_preservation == {} && context.hands_over_data == {} && context.is_intrusive == {} && context.categories_within_measure == {} && context.categories_outside_measure == {}))",
            m.as_str(),
            m.is_preservation(),
            m.hands_over_data(),
            m.is_intrusive(),
            count(within),
            count(outside),
        ));
    }
    // At least one category is asked (parse.rs refuses an empty list).
    c.push(any_of(
        DataCategory::ALL.map(|d| format!("context.{}", asks(d))),
    ));
    c.push(format!(
        "context.target_count >= 1 && context.target_count <= {}",
        custos_model::request::MAX_TARGETS
    ));
    // `from` ≤ `to` (parse.rs), so whole days rounded up are ≥ 0.
    c.push(format!(
        "(if context has period_days then context.period_days >= 0 && context.period_days <= {days} else true)"
    ));

    // The offences: the facts are the union of the signatures of one or more offences.
    let choices = offence_choices(jurisdiction);
    let signatures: BTreeSet<OffenceSignature> = choices.iter().map(|(_, _, s)| *s).collect();
    // Each fact that holds comes from an offence whose other facts hold too, and there is at
    // least one offence. Written minimally: SymCC's encoding grows much faster than the
    // formula, so a signature whose facts include another's is left out (it adds nothing).
    let needs = |with: Option<usize>| {
        let sets: BTreeSet<Vec<usize>> = signatures
            .iter()
            .filter(|s| with.is_none_or(|i| s.bits()[i]))
            .map(|s| {
                (0..OFFENCE_FACTS.len())
                    .filter(|&j| s.bits()[j] && Some(j) != with)
                    .collect()
            })
            .collect();
        let minimal: Vec<&Vec<usize>> = sets
            .iter()
            .filter(|a| {
                !sets
                    .iter()
                    .any(|b| b != *a && b.iter().all(|x| a.contains(x)))
            })
            .collect();
        any_of(
            minimal
                .into_iter()
                .map(|set| all_of(set.iter().map(|&j| format!("context.{}", OFFENCE_FACTS[j])))),
        )
    };
    for (i, fact) in OFFENCE_FACTS.iter().enumerate() {
        let condition = needs(Some(i));
        if condition != "(true)" {
            c.push(format!("(!context.{fact} || {condition})"));
        }
    }
    let some_offence = needs(None);
    if some_offence != "(true)" {
        c.push(some_offence);
    }
    // Every offence's status is unknown exactly when none is criminal or not criminal.
    c.push(
        "context.all_locally_unknown == (!context.any_locally_criminal && !context.any_locally_not_criminal)"
            .to_owned(),
    );
    c.push(format!(
        "context.max_penalty_years >= 0 && context.max_penalty_years <= {u} && (!context.any_death_penalty || context.max_penalty_years == {u})",
        u = MaxPenalty::UNBOUNDED_YEARS
    ));

    // What the requester stated.
    c.push("(!context.emergency_justified || context.emergency_claimed)".to_owned());
    c.push(format!(
        "(context.confidentiality_requested || (!context.confidentiality_justified && !(context has confidentiality_days_from_now))) && (if context has confidentiality_days_from_now then context.confidentiality_days_from_now >= -{days} && context.confidentiality_days_from_now <= {days} else true)"
    ));
    c.push(
        "(context.data_protection_given || (!context.retention_limited && !context.purpose_limited && context.onward_transfer == \"unspecified\"))"
            .to_owned(),
    );

    if let Scope::Reproducible {
        jurisdiction,
        states,
        request_id,
    } = scope
    {
        c.push(any_of(states.iter().map(|s| {
            format!(
                "(context.requesting_state == {s:?} && principal == Custos::RequestingState::{s:?})"
            )
        })));
        c.push(format!("resource == Custos::Request::{request_id:?}"));
        c.push(format!(
            "context.heightened_scrutiny == {}",
            any_of(
                jurisdiction
                    .heightened_scrutiny_states
                    .iter()
                    .map(|s| format!("context.requesting_state == {:?}", s.as_str()))
            )
        ));
    }

    c
}

/// Policies that deny every input outside the space, one per condition: added to the premise
/// of an `implies` check, they restrict the check to facts some request has. One policy per
/// condition, not one `&&` chain: SymCC's terms for a long chain grow far faster than the
/// chain (a proof took minutes instead of a second).
pub fn outside_space_policies(scope: Scope<'_>) -> Vec<String> {
    realizable(scope)
        .into_iter()
        .map(|condition| {
            format!("forbid (principal, action, resource)\nunless {{ {condition} }};\n")
        })
        .collect()
}
