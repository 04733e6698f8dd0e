//! Shared by the workbench's tests.

use cedar_policy::{Authorizer, Decision, Entities, Policy, PolicyId, PolicySet};
use custos_model::{OffenceCategory, Request, Timestamp};
use custos_policy::solver::{self, Cvc5};
use custos_safeguards::{Assessor, Facts, Jurisdiction, Profile};
use proptest::prelude::*;
use proptest::sample::subsequence;

/// The solver, or a panic that says how to install it (CI installs it with scripts/setup).
pub fn cvc5() -> Cvc5 {
    solver::find().unwrap_or_else(|e| panic!("these tests run the real solver: {e}"))
}

/// Runs a future on a runtime of its own (the prover talks to the solver process with tokio).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// Whether `permit` + `forbids` allows the request (Cedar's concrete authorizer on the
/// request's own facts).
pub fn allows(
    forbids: &[String],
    request: &Request,
    jurisdiction: &Jurisdiction,
    now: Timestamp,
) -> bool {
    allowed_by(&policy_set(forbids), request, jurisdiction, now)
}

/// `permit` + `forbids`, parsed.
pub fn policy_set(forbids: &[String]) -> PolicySet {
    let mut set = PolicySet::new();
    set.add(
        Policy::parse(
            Some(PolicyId::new("allow")),
            "permit (principal, action == Custos::Action::\"assess\", resource);",
        )
        .expect("permit"),
    )
    .expect("add");
    for (i, text) in forbids.iter().enumerate() {
        set.add(Policy::parse(Some(PolicyId::new(format!("f{i}"))), text).expect(text))
            .expect("add");
    }
    set
}

/// Whether a parsed policy set allows the request.
pub fn allowed_by(
    set: &PolicySet,
    request: &Request,
    jurisdiction: &Jurisdiction,
    now: Timestamp,
) -> bool {
    static CONVENTION: std::sync::OnceLock<Profile> = std::sync::OnceLock::new();
    let profile = CONVENTION.get_or_init(|| Profile::builtin("convention").expect("profile"));
    // Only its Cedar request is used: the facts, the principal and the resource.
    let assessor = Assessor::new(profile.clone(), jurisdiction.clone());
    let facts = Facts::of(request, jurisdiction, now);
    let cedar = assessor.cedar_request(request, &facts).expect("request");
    Authorizer::new()
        .is_authorized(&cedar, set, &Entities::empty())
        .decision()
        == Decision::Allow
}

/// Receiving jurisdictions an operator can configure: any list of criminal categories, any
/// heightened-scrutiny list over the states the request strategy uses.
pub fn jurisdiction() -> impl Strategy<Value = Jurisdiction> {
    (
        proptest::option::of(subsequence(
            OffenceCategory::ALL.to_vec(),
            0..=OffenceCategory::ALL.len(),
        )),
        subsequence(vec!["XA", "XB", "XC", "QX"], 0..=4),
    )
        .prop_map(|(criminal, states)| {
            let mut toml = String::new();
            if let Some(list) = criminal {
                let names: Vec<String> = list.iter().map(|c| format!("{:?}", c.as_str())).collect();
                toml.push_str(&format!("criminal_categories = [{}]\n", names.join(", ")));
            }
            let states: Vec<String> = states.iter().map(|s| format!("{s:?}")).collect();
            toml.push_str(&format!(
                "heightened_scrutiny_states = [{}]\n",
                states.join(", ")
            ));
            Jurisdiction::from_toml(&toml).expect("a valid jurisdiction")
        })
}

/// rights-first without the rules whose code is `code` (its `@profile` kept).
pub fn rights_first_without(code: &str) -> Profile {
    let source = custos_safeguards::profile::RIGHTS_FIRST_SOURCE;
    let kept: Vec<&str> = source
        .split("\n@code(")
        .enumerate()
        .filter(|(i, part)| *i == 0 || !part.starts_with(&format!("\"{code}\")")))
        .map(|(_, part)| part)
        .collect();
    let text = kept.join("\n@code(");
    assert!(text.len() < source.len(), "no rule {code}");
    Profile::from_cedar(&text, "edited copy", "copy").expect("the copy loads")
}
