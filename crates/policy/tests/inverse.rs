//! The inverse of `Facts::of`: the request built from a request's facts has exactly those
//! facts, under the same jurisdiction, or under one derived from the default when the facts
//! need it. Together with `space.rs`, the space is exactly the facts of real requests.

use custos_model::strategies::{reference_now, request};
use custos_policy::inverse::{FactValue, facts_of_request, request_for};
use custos_safeguards::Jurisdiction;
use jiff::SignedDuration;
use proptest::prelude::*;

use crate::common::jurisdiction;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_request_built_from_facts_has_those_facts(
        r in request(),
        j in jurisdiction(),
        shift in -40_000i64..40_000,
    ) {
        let now = reference_now() + SignedDuration::from_hours(shift);
        let facts = facts_of_request(&r, &j, now).unwrap();
        let built = request_for(&facts, Some(r.id.as_str()), now, &j, false).unwrap();
        prop_assert!(built.jurisdiction_toml.is_none());
        prop_assert_eq!(facts_of_request(&built.request, &j, now).unwrap(), facts);
        prop_assert_eq!(built.request.id.as_str(), r.id.as_str());
        // The document is the request, byte for byte through the real parser.
        let again = custos_model::parse_request(&serde_json::to_vec(&built.document).unwrap()).unwrap();
        prop_assert_eq!(again, built.request);
    }

    /// Facts of a request under any jurisdiction, rebuilt from the default one: the derived
    /// jurisdiction (given as TOML) reproduces them.
    #[test]
    fn a_jurisdiction_is_derived_when_the_default_cannot_give_the_facts(r in request(), j in jurisdiction()) {
        let now = reference_now();
        let facts = facts_of_request(&r, &j, now).unwrap();
        let base = Jurisdiction::default();
        let built = request_for(&facts, None, now, &base, true).unwrap();
        prop_assert_eq!(facts_of_request(&built.request, &built.jurisdiction, now).unwrap(), facts.clone());
        if let Some(toml) = &built.jurisdiction_toml {
            let reread = Jurisdiction::from_toml(toml).unwrap();
            prop_assert_eq!(facts_of_request(&built.request, &reread, now).unwrap(), facts);
        }
    }
}

#[test]
fn facts_outside_the_space_are_refused_with_the_reason() {
    let r = custos_model::parse_request(
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/cases/p05-interception-without-judge.json"
        ))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .map(|v| serde_json::to_vec(&v["request"]).unwrap())
        .unwrap()
        .as_slice(),
    )
    .unwrap();
    let j = Jurisdiction::default();
    let now = reference_now();
    let mut facts = facts_of_request(&r, &j, now).unwrap();
    // An interception asks content; here it asks nothing at all.
    for c in ["asks_subscriber", "asks_traffic", "asks_content"] {
        facts.insert(c.to_owned(), FactValue::Bool(false));
    }
    let e = request_for(&facts, None, now, &j, false).unwrap_err();
    assert!(e.to_string().contains("data_categories"), "{e}");
    // A state that is no state code.
    let mut facts = facts_of_request(&r, &j, now).unwrap();
    facts.insert(
        "requesting_state".to_owned(),
        FactValue::Text("Atlantis".to_owned()),
    );
    let e = request_for(&facts, None, now, &j, false).unwrap_err();
    assert!(
        e.to_string().contains("\"Atlantis\" is not a state code"),
        "{e}"
    );
    // A heightened-scrutiny state the default jurisdiction does not list.
    let mut facts = facts_of_request(&r, &j, now).unwrap();
    facts.insert("heightened_scrutiny".to_owned(), FactValue::Bool(true));
    let e = request_for(&facts, None, now, &j, false).unwrap_err();
    assert!(e.to_string().contains("heightened_scrutiny is true"), "{e}");
    let built = request_for(&facts, None, now, &j, true).unwrap();
    assert!(
        built
            .jurisdiction_toml
            .unwrap()
            .contains("heightened_scrutiny_states = [\"XA\"]")
    );
}
