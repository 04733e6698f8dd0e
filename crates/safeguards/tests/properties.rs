//! Invariants of the model and the engine, over generated valid requests
//! (`custos_model::strategies::request`), under both built-in profiles.

use std::sync::OnceLock;

use custos_model::strategies::{reference_now, request};
use custos_model::{Request, Timestamp, parse_request};
use custos_safeguards::profile::schema;
use custos_safeguards::{Assessment, Assessor, Facts, Jurisdiction, Outcome, Profile, Severity};
use proptest::prelude::*;

fn assessors() -> &'static [Assessor; 2] {
    static A: OnceLock<[Assessor; 2]> = OnceLock::new();
    A.get_or_init(|| {
        let jurisdiction =
            Jurisdiction::from_toml("heightened_scrutiny_states = [\"QX\"]").unwrap();
        [
            Assessor::new(
                Profile::builtin("convention").unwrap(),
                jurisdiction.clone(),
            ),
            Assessor::new(Profile::builtin("rights-first").unwrap(), jurisdiction),
        ]
    })
}

fn assess_both(r: &Request, now: Timestamp) -> Vec<Assessment> {
    assessors()
        .iter()
        .map(|a| {
            a.assess(r, now)
                .expect("a valid request is always assessed")
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Parsing then serialising a valid request is lossless.
    #[test]
    fn serialising_then_parsing_is_lossless(r in request()) {
        let json = serde_json::to_vec(&r).unwrap();
        let back = parse_request(&json).unwrap();
        prop_assert_eq!(&back, &r);
        // And once more through the value form, to catch asymmetric (de)serialisers.
        let again = parse_request(&serde_json::to_vec(&back).unwrap()).unwrap();
        prop_assert_eq!(again, r);
    }

    /// The outcome is the one set by the most severe finding; findings come most severe first;
    /// every finding names a legal basis and says something.
    #[test]
    fn outcome_is_the_most_severe_finding(r in request()) {
        for a in assess_both(&r, reference_now()) {
            let most = a.findings.iter().map(|f| f.severity).max().unwrap_or(Severity::Note);
            prop_assert_eq!(a.outcome, most.outcome());
            prop_assert!(a.findings.windows(2).all(|w| w[0].severity >= w[1].severity));
            for f in &a.findings {
                prop_assert!(!f.basis.is_empty() && !f.message.trim().is_empty(), "{:?}", f);
                prop_assert!(!f.message.contains('{'), "unfilled placeholder: {}", f.message);
            }
        }
    }

    /// Narrowing never widens a request, and `narrowed` is present exactly when the outcome is
    /// execute_narrowed.
    #[test]
    fn narrowing_never_widens(r in request()) {
        let now = reference_now();
        for a in assess_both(&r, now) {
            prop_assert_eq!(a.narrowed.is_some(), a.outcome == Outcome::ExecuteNarrowed);
            let Some(n) = a.narrowed else { continue };
            prop_assert!(n.data_categories.is_subset(r.data_categories));
            prop_assert!(!n.data_categories.is_empty());
            match (r.period, n.period) {
                (None, None) => {}
                (Some(orig), Some(p)) => {
                    prop_assert!(orig.from <= p.from && p.from <= p.to && p.to <= orig.to,
                        "{:?} is not within {:?}", p, orig);
                }
                (orig, p) => prop_assert!(false, "period changed shape: {:?} -> {:?}", orig, p),
            }
            match (r.confidentiality_requested(), r.confidentiality_until(), n.confidentiality_until) {
                (false, _, until) => prop_assert_eq!(until, None),
                (true, None, _) => {}
                (true, Some(orig), Some(until)) => prop_assert!(until <= orig),
                (true, Some(_), None) => prop_assert!(false, "secrecy made unbounded"),
            }
        }
    }

    /// The facts of any valid request form a context that the Cedar schema accepts, so the rules
    /// never see a missing or mistyped fact.
    #[test]
    fn facts_always_fit_the_schema(r in request()) {
        let facts = Facts::of(&r, &Jurisdiction::default(), reference_now());
        let schema = schema().unwrap();
        let request = cedar_policy::Request::new(
            r#"Custos::RequestingState::"XA""#.parse().unwrap(),
            r#"Custos::Action::"assess""#.parse().unwrap(),
            r#"Custos::Request::"r""#.parse().unwrap(),
            facts.to_context().unwrap(),
            Some(schema),
        );
        prop_assert!(request.is_ok(), "{:?}", request.err());
    }

    /// Assessing is a pure function of (request, profile, jurisdiction, now), and its JSON form
    /// reads back to the same assessment.
    #[test]
    fn assessment_is_deterministic_and_round_trips(r in request()) {
        let now = reference_now();
        let first = assess_both(&r, now);
        prop_assert_eq!(&first, &assess_both(&r, now));
        for a in first {
            let json = serde_json::to_string(&a).unwrap();
            let back: Assessment = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back, a);
        }
    }

    /// rights-first never recommends more than the convention profile does: whatever the
    /// convention refuses, rights-first refuses too.
    #[test]
    fn rights_first_refuses_whatever_the_convention_refuses(r in request()) {
        let [convention, rights_first] = &assess_both(&r, reference_now())[..] else {
            unreachable!()
        };
        if convention.outcome == Outcome::Refuse {
            prop_assert_eq!(rights_first.outcome, Outcome::Refuse);
        }
    }
}
