//! The facts of a request: everything the safeguard policies may look at, computed in Rust.
//!
//! Cedar has no quantifiers over lists, so "any offence is …" and "no offence is …" are folded
//! here, once, into booleans; times become whole days. Each field matches one attribute of the
//! `Facts` record in `policies/custos.cedarschema` (a test checks that every generated context
//! validates against it). Facts are built as typed Cedar values, never through JSON: that is
//! several times cheaper per request.

use cedar_policy::{Context, ContextCreationError, RestrictedExpression};
use custos_model::{DataCategory, OnwardTransfer, Request, Timestamp, is_given};

use crate::jurisdiction::{Jurisdiction, LocalStatus};

/// The facts of one request, at one time, for one receiving jurisdiction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub measure: &'static str,
    pub channel: &'static str,
    pub requesting_state: String,
    pub requesting_authority_kind: &'static str,
    /// `preserve_stored_data` or `disclose_preserved_traffic`: preservation in the sense of the
    /// channel rules and of `convention`'s dual criminality (UNCC arts. 42–43).
    pub is_preservation: bool,
    /// Every measure but `preserve_stored_data`, `disclose_preserved_traffic` included: what
    /// `rights-first` treats as a disclosure (safeguards.md 1.1).
    pub hands_over_data: bool,
    pub is_intrusive: bool,
    pub asks_subscriber: bool,
    pub asks_traffic: bool,
    pub asks_content: bool,
    pub categories_within_measure: i64,
    pub categories_outside_measure: i64,
    pub target_count: i64,
    pub period_days: Option<i64>,

    pub any_convention_offence: bool,
    pub any_core_cybercrime: bool,
    pub any_expression_offence: bool,
    pub any_serious_harm_offence: bool,
    pub any_death_penalty: bool,
    pub max_penalty_years: i64,
    pub any_locally_criminal: bool,
    pub any_locally_not_criminal: bool,
    pub all_locally_unknown: bool,

    pub summary_of_facts_given: bool,
    pub authority_conducting_given: bool,
    pub purpose_given: bool,
    pub necessity_given: bool,
    pub mla_followup_intended: bool,
    pub good_faith_research_excluded: bool,
    pub no_death_penalty_assured: bool,
    pub authorization: &'static str,
    pub emergency_claimed: bool,
    pub emergency_justified: bool,
    pub confidentiality_requested: bool,
    pub confidentiality_justified: bool,
    pub confidentiality_days_from_now: Option<i64>,
    pub data_protection_given: bool,
    pub retention_limited: bool,
    pub purpose_limited: bool,
    pub onward_transfer: &'static str,

    pub heightened_scrutiny: bool,
}

const DAY_NANOS: i128 = 86_400 * 1_000_000_000;

/// Whole days from `from` to `to`, rounded up (towards +∞), so that "later than N days after"
/// is exactly `days > N`.
pub(crate) fn days_between_ceil(from: Timestamp, to: Timestamp) -> i64 {
    let nanos = to.as_nanosecond() - from.as_nanosecond();
    let days = nanos.div_euclid(DAY_NANOS) + i128::from(nanos.rem_euclid(DAY_NANOS) != 0);
    days.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

impl Facts {
    /// Computes the facts of `request` at `now` for `jurisdiction`.
    pub fn of(request: &Request, jurisdiction: &Jurisdiction, now: Timestamp) -> Facts {
        let measure = request.measure;
        let asked = request.data_categories;
        let reach = measure.reach();
        let offences = &request.investigation.offences;

        let mut any_locally_criminal = false;
        let mut any_locally_not_criminal = false;
        let mut all_locally_unknown = true;
        for o in offences {
            match jurisdiction.local_status(o.category) {
                LocalStatus::Criminal => {
                    any_locally_criminal = true;
                    all_locally_unknown = false;
                }
                LocalStatus::NotCriminal => {
                    any_locally_not_criminal = true;
                    all_locally_unknown = false;
                }
                LocalStatus::Unknown => {}
            }
        }
        // "Every offence is unknown" over an empty list would be vacuously true; parsing refuses
        // requests without offences, but stay safe.
        all_locally_unknown &= !offences.is_empty();

        let confidentiality = request.confidentiality.as_ref().filter(|c| c.requested);
        let data_protection = request.data_protection.as_ref();

        Facts {
            measure: measure.as_str(),
            channel: request.channel.as_str(),
            requesting_state: request.requesting_authority.state.as_str().to_owned(),
            requesting_authority_kind: request.requesting_authority.kind.as_str(),
            is_preservation: measure.is_preservation(),
            hands_over_data: measure.hands_over_data(),
            is_intrusive: measure.is_intrusive(),
            asks_subscriber: asked.contains(DataCategory::Subscriber),
            asks_traffic: asked.contains(DataCategory::Traffic),
            asks_content: asked.contains(DataCategory::Content),
            categories_within_measure: asked.intersection(reach).len() as i64,
            categories_outside_measure: asked.difference(reach).len() as i64,
            target_count: request.targets.len() as i64,
            period_days: request.period.map(|p| p.days_ceil()),

            any_convention_offence: offences.iter().any(|o| o.category.is_convention_offence()),
            any_core_cybercrime: offences.iter().any(|o| o.category.is_core_cybercrime()),
            any_expression_offence: offences.iter().any(|o| o.category.is_expression_offence()),
            any_serious_harm_offence: offences.iter().any(|o| o.category.is_serious_harm()),
            any_death_penalty: offences
                .iter()
                .any(|o| o.max_penalty == custos_model::MaxPenalty::Death),
            max_penalty_years: offences
                .iter()
                .map(|o| o.max_penalty.whole_years())
                .max()
                .unwrap_or(0),
            any_locally_criminal,
            any_locally_not_criminal,
            all_locally_unknown,

            summary_of_facts_given: request.investigation.summary_of_facts_given(),
            authority_conducting_given: request.investigation.authority_conducting_given(),
            purpose_given: request.purpose_given(),
            necessity_given: request.necessity_given(),
            mla_followup_intended: request.mla_followup_intended == Some(true),
            good_faith_research_excluded: request.investigation.good_faith_research_excluded
                == Some(true),
            no_death_penalty_assured: request
                .assurances
                .as_ref()
                .is_some_and(|a| a.no_death_penalty == Some(true)),
            authorization: request
                .authorization_kind()
                .map_or("absent", |k| k.as_str()),
            emergency_claimed: request.emergency_claimed(),
            emergency_justified: request.emergency_justified(),
            confidentiality_requested: confidentiality.is_some(),
            confidentiality_justified: confidentiality.is_some_and(|c| is_given(&c.justification)),
            confidentiality_days_from_now: confidentiality
                .and_then(|c| c.until)
                .map(|until| days_between_ceil(now, until)),
            data_protection_given: data_protection.is_some(),
            retention_limited: data_protection.is_some_and(|d| d.retention_days.is_some()),
            purpose_limited: data_protection.is_some_and(|d| d.purpose_limited == Some(true)),
            onward_transfer: data_protection
                .and_then(|d| d.onward_transfer)
                .map_or("unspecified", OnwardTransfer::as_str),

            heightened_scrutiny: jurisdiction
                .heightened_scrutiny_states
                .contains(&request.requesting_authority.state),
        }
    }

    /// The facts as a Cedar context (the `Facts` record of the schema).
    pub fn to_context(&self) -> Result<Context, Box<ContextCreationError>> {
        fn b(name: &str, v: bool) -> (String, RestrictedExpression) {
            (name.to_owned(), RestrictedExpression::new_bool(v))
        }
        fn l(name: &str, v: i64) -> (String, RestrictedExpression) {
            (name.to_owned(), RestrictedExpression::new_long(v))
        }
        fn s(name: &str, v: &str) -> (String, RestrictedExpression) {
            (
                name.to_owned(),
                RestrictedExpression::new_string(v.to_owned()),
            )
        }
        let mut pairs = Vec::with_capacity(43);
        pairs.extend([
            s("measure", self.measure),
            s("channel", self.channel),
            s("requesting_state", &self.requesting_state),
            s("requesting_authority_kind", self.requesting_authority_kind),
            b("is_preservation", self.is_preservation),
            b("hands_over_data", self.hands_over_data),
            b("is_intrusive", self.is_intrusive),
            b("asks_subscriber", self.asks_subscriber),
            b("asks_traffic", self.asks_traffic),
            b("asks_content", self.asks_content),
            l("categories_within_measure", self.categories_within_measure),
            l(
                "categories_outside_measure",
                self.categories_outside_measure,
            ),
            l("target_count", self.target_count),
            b("any_convention_offence", self.any_convention_offence),
            b("any_core_cybercrime", self.any_core_cybercrime),
            b("any_expression_offence", self.any_expression_offence),
            b("any_serious_harm_offence", self.any_serious_harm_offence),
            b("any_death_penalty", self.any_death_penalty),
            l("max_penalty_years", self.max_penalty_years),
            b("any_locally_criminal", self.any_locally_criminal),
            b("any_locally_not_criminal", self.any_locally_not_criminal),
            b("all_locally_unknown", self.all_locally_unknown),
            b("summary_of_facts_given", self.summary_of_facts_given),
            b(
                "authority_conducting_given",
                self.authority_conducting_given,
            ),
            b("purpose_given", self.purpose_given),
            b("necessity_given", self.necessity_given),
            b("mla_followup_intended", self.mla_followup_intended),
            b(
                "good_faith_research_excluded",
                self.good_faith_research_excluded,
            ),
            b("no_death_penalty_assured", self.no_death_penalty_assured),
            s("authorization", self.authorization),
            b("emergency_claimed", self.emergency_claimed),
            b("emergency_justified", self.emergency_justified),
            b("confidentiality_requested", self.confidentiality_requested),
            b("confidentiality_justified", self.confidentiality_justified),
            b("data_protection_given", self.data_protection_given),
            b("retention_limited", self.retention_limited),
            b("purpose_limited", self.purpose_limited),
            s("onward_transfer", self.onward_transfer),
            b("heightened_scrutiny", self.heightened_scrutiny),
        ]);
        if let Some(days) = self.period_days {
            pairs.push(l("period_days", days));
        }
        if let Some(days) = self.confidentiality_days_from_now {
            pairs.push(l("confidentiality_days_from_now", days));
        }
        Context::from_pairs(pairs).map_err(Box::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_up_in_both_directions() {
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        let now = t("2026-11-20T12:00:00Z");
        assert_eq!(days_between_ceil(now, t("2026-11-20T12:00:00Z")), 0);
        assert_eq!(days_between_ceil(now, t("2026-11-20T12:00:01Z")), 1);
        assert_eq!(days_between_ceil(now, t("2027-11-20T12:00:00Z")), 365);
        assert_eq!(days_between_ceil(now, t("2027-11-20T12:00:01Z")), 366);
        assert_eq!(days_between_ceil(now, t("2026-11-19T12:00:00Z")), -1);
        assert_eq!(days_between_ceil(now, t("2026-11-19T12:00:01Z")), 0);
    }
}
