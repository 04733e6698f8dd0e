//! The space of facts is sound: every request's facts lie in it, under every jurisdiction, so
//! a proof over the space is a proof over all requests. (That it is not too loose is
//! `inverse.rs`: every point of it that a request reaches is turned back into that request.)
//!
//! And the Rust step from request to facts keeps the stated properties end to end: whenever a
//! property's situation holds for a generated request, the assessment stops the request at the
//! property's severity or above.

use custos_model::Outcome;
use custos_model::strategies::{reference_now, request};
use custos_policy::properties::{self, Claim};
use custos_policy::space::{Scope, outside_space_policies, realizable};
use custos_safeguards::{Assessor, Jurisdiction, Profile};
use jiff::SignedDuration;
use proptest::prelude::*;

use crate::common::{allowed_by, allows, jurisdiction, policy_set};

fn profiles() -> &'static (Profile, Profile) {
    static P: std::sync::OnceLock<(Profile, Profile)> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        (
            Profile::builtin("rights-first").unwrap(),
            Profile::builtin("convention").unwrap(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn every_requests_facts_lie_in_the_space(
        r in request(),
        j in jurisdiction(),
        shift in -40_000i64..40_000,
    ) {
        let now = reference_now() + SignedDuration::from_hours(shift);
        static SPACE: std::sync::OnceLock<cedar_policy::PolicySet> = std::sync::OnceLock::new();
        let space = SPACE.get_or_init(|| policy_set(&outside_space_policies(Scope::AnyJurisdiction)));
        prop_assert!(allowed_by(space, &r, &j, now), "facts outside the space: {:?}", custos_safeguards::Facts::of(&r, &j, now));
    }

}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Under the jurisdiction it was made for, the reproducible space holds the request too
    /// (its own state and id pinned, times within a century of now).
    #[test]
    fn a_request_lies_in_its_reproducible_space(r in request(), j in jurisdiction()) {
        let now = reference_now();
        let states = vec![r.requesting_authority.state.as_str().to_owned()];
        let space = outside_space_policies(Scope::Reproducible {
            jurisdiction: &j,
            states: &states,
            request_id: r.id.as_str(),
        });
        prop_assert!(allows(&space, &r, &j, now));
    }

}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The chain end to end: each stated property of rights-first holds of the Rust assessment
    /// of generated requests, not only of the Cedar policies over facts.
    #[test]
    fn rights_first_keeps_its_stated_properties_on_real_requests(r in request(), j in jurisdiction()) {
        let now = reference_now();
        let (profile, convention) = profiles();
        let assessment = Assessor::new(profile.clone(), j.clone()).assess(&r, now).unwrap();
        let worst = assessment.findings.iter().map(|f| f.severity).max();
        for p in properties::for_profile(profile, None, None).unwrap() {
            if let Claim::Stops { at_least, condition, .. } = &p.claim {
                let situation = !allows(&[condition.to_string()], &r, &j, now);
                prop_assert!(!situation || worst >= Some(*at_least),
                    "{}: the situation holds but the request ends at {:?}", p.name, assessment.outcome);
            }
        }
        // Secrecy within the cap (365 days): an executed request never keeps it longer.
        if matches!(assessment.outcome, Outcome::Execute | Outcome::ExecuteNarrowed) && r.confidentiality_requested() {
            let until = assessment.narrowed.as_ref().map_or(r.confidentiality_until(), |n| n.confidentiality_until);
            prop_assert!(until.is_some_and(|u| u <= now + SignedDuration::from_hours(365 * 24)), "{until:?}");
        }
        // Never more permissive than convention, level by level.
        let convention = Assessor::new(convention.clone(), j).assess(&r, now).unwrap();
        let conv_worst = convention.findings.iter().map(|f| f.severity).max();
        prop_assert!(worst >= conv_worst, "rights-first {:?}, convention {:?}", worst, conv_worst);
    }
}

#[test]
fn the_space_is_generated_from_the_model() {
    let text = realizable(Scope::AnyJurisdiction).join("\n");
    // Every measure and channel of the model, and the derived facts of each measure.
    for m in custos_model::Measure::ALL {
        assert!(text.contains(&format!("{:?}", m.as_str())), "{m:?}");
    }
    assert!(text.contains("context.measure != \"intercept_content\" || (context.is_preservation == false && context.hands_over_data == true && context.is_intrusive == true"));
    // A convention offence brings serious harm and a local status with it.
    assert!(text.contains("(!context.any_convention_offence || ((context.any_serious_harm_offence && context.any_locally_criminal) || (context.any_serious_harm_offence && context.any_locally_not_criminal)))"), "{text}");
    // Under the default jurisdiction no state is under heightened scrutiny.
    let j = Jurisdiction::default();
    let states = vec!["XA".to_owned()];
    let repro = realizable(Scope::Reproducible {
        jurisdiction: &j,
        states: &states,
        request_id: "CEX-1",
    })
    .join("\n");
    assert!(
        repro.contains("context.heightened_scrutiny == false"),
        "{repro}"
    );
    assert!(repro.contains("resource == Custos::Request::\"CEX-1\""));
}
