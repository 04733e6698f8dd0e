//! Proofs with the real solver (cvc5 through SymCC): the built-in profiles keep their
//! properties, and edited profiles that break one fail it with a counterexample that is a real
//! request reproducing the hole.

use custos_model::{Outcome, Timestamp};
use custos_policy::properties::{self, Property};
use custos_policy::prove::{Prover, Reproduction, Verdict};
use custos_safeguards::{Assessor, Jurisdiction, Profile, ProofStatus};

use crate::common::{block_on, cvc5, rights_first_without as without};

fn now() -> Timestamp {
    custos_model::strategies::reference_now()
}

fn prove(profile: &Profile, properties: &[Property]) -> Vec<Verdict> {
    let cvc5 = cvc5();
    block_on(async {
        let mut prover = Prover::new(
            &cvc5,
            Reproduction {
                jurisdiction: Jurisdiction::default(),
                now: now(),
            },
        )
        .expect("prover");
        prover.prove(profile, properties).await.expect("proof ran")
    })
}

fn verdict<'a>(verdicts: &'a [Verdict], name: &str) -> &'a Verdict {
    verdicts
        .iter()
        .find(|v| v.property.name == name)
        .unwrap_or_else(|| panic!("no verdict on {name}"))
}

/// The request of a failed property's counterexample.
fn request_of(v: &Verdict) -> &custos_model::Request {
    let cex = v.counterexample.as_ref().expect("a counterexample");
    let realized = cex
        .realized
        .as_ref()
        .unwrap_or_else(|| panic!("no request: {:?}", cex.note));
    &realized.request
}

fn only(profile: &Profile, name: &str) -> Vec<Property> {
    properties::for_profile(profile, None, Some(name)).expect("property")
}

#[test]
fn the_built_in_profiles_keep_every_property() {
    for name in ["rights-first", "convention"] {
        let profile = Profile::builtin(name).unwrap();
        let properties = properties::for_profile(&profile, None, None).unwrap();
        let verdicts = prove(&profile, &properties);
        assert_eq!(verdicts.len(), properties.len());
        for v in &verdicts {
            let expected = if name == "convention" && v.property.name == "secrecy-within-cap" {
                ProofStatus::NotApplicable
            } else {
                ProofStatus::Holds
            };
            assert_eq!(
                v.status, expected,
                "{name}: {} {:?}",
                v.property.name, v.detail
            );
        }
    }
    // rights-first is held to more than convention.
    let names = |p: &str| {
        properties::for_profile(&Profile::builtin(p).unwrap(), None, None)
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect::<Vec<_>>()
    };
    assert!(names("rights-first").contains(&"judicial-authorization".to_owned()));
    assert!(!names("convention").contains(&"judicial-authorization".to_owned()));
}

#[test]
fn without_the_judge_rules_an_interception_on_a_prosecutors_order_goes_through() {
    let profile = without("judicial-authorization");
    let verdicts = prove(&profile, &only(&profile, "judicial-authorization"));
    let v = verdict(&verdicts, "judicial-authorization");
    assert_eq!(v.status, ProofStatus::Fails);
    let cex = v.counterexample.as_ref().expect("a counterexample");
    let realized = cex
        .realized
        .as_ref()
        .unwrap_or_else(|| panic!("no request: {:?}", cex.note));
    assert!(
        realized.jurisdiction_toml.is_none(),
        "reproducible under the default jurisdiction"
    );
    // The request is what the property is about, and the edited profile executes it …
    let r = &realized.request;
    assert!(r.measure.is_intrusive(), "{:?}", r.measure);
    assert_ne!(
        r.authorization.as_ref().map(|a| a.kind.as_str()),
        Some("judicial")
    );
    let edited = Assessor::new(profile, Jurisdiction::default())
        .assess(r, now())
        .unwrap();
    assert!(
        matches!(edited.outcome, Outcome::Execute | Outcome::ExecuteNarrowed),
        "{edited:?}"
    );
    // … and the shipped profile does not.
    let shipped = Assessor::new(
        Profile::builtin("rights-first").unwrap(),
        Jurisdiction::default(),
    )
    .assess(r, now())
    .unwrap();
    assert!(
        shipped
            .findings
            .iter()
            .any(|f| f.code == "judicial-authorization")
    );
    assert_eq!(shipped.outcome, Outcome::NeedsInformation);
}

#[test]
fn dropping_the_expression_rule_makes_the_profile_laxer_than_the_convention() {
    let profile = without("expression-offence");
    let mut properties = only(&profile, "expression-offence");
    properties.extend(only(&profile, "not-more-permissive-than-convention"));
    let verdicts = prove(&profile, &properties);
    for v in &verdicts {
        assert_eq!(v.status, ProofStatus::Fails, "{}", v.property.name);
        let r = request_of(v);
        assert!(
            r.investigation
                .offences
                .iter()
                .any(|o| o.category.is_expression_offence())
        );
    }
}

#[test]
fn without_the_365_day_cap_secrecy_outlasts_it() {
    let profile = without("confidentiality-too-long");
    let verdicts = prove(&profile, &only(&profile, "secrecy-within-cap"));
    let v = verdict(&verdicts, "secrecy-within-cap");
    assert_eq!(v.status, ProofStatus::Fails);
    let r = request_of(v);
    // The cap left is the 90 days of unbounded secrecy; the request asks for a date beyond it.
    let until = r.confidentiality_until().expect("a bounded end");
    assert!(until > now() + jiff::SignedDuration::from_hours(90 * 24));
}

#[test]
fn a_rule_that_can_never_fire_is_named() {
    let source = format!(
        "{}\n@code(\"never\")\n@severity(\"note\")\n@basis(\"Operator policy\")\n@message(\"Never shown.\")\nforbid (principal, action, resource) when {{ context.target_count < 1 }};\n",
        custos_safeguards::profile::CONVENTION_SOURCE
    );
    let profile = Profile::from_cedar(&source, "test", "test").unwrap();
    let verdicts = prove(&profile, &only(&profile, "no-dead-rule"));
    let v = verdict(&verdicts, "no-dead-rule");
    assert_eq!(v.status, ProofStatus::Fails);
    let detail = v.detail.as_deref().unwrap();
    assert!(
        detail.contains("(`never`)") && !detail.contains("incomplete-request"),
        "{detail}"
    );
}

#[test]
fn an_operators_property_file_is_proved_too() {
    let profile = Profile::builtin("rights-first").unwrap();
    let file = r#"
@property("no-interception-by-direct-request")
@statement("A provider never intercepts on a direct request.")
@basis("Operator policy")
@at_least("refuse")
forbid (principal, action, resource)
when { context.channel == "direct" && context.measure == "intercept_content" };

@property("few-targets-or-refused")
@statement("More than five targets are refused.")
@basis("Operator policy")
@at_least("refuse")
forbid (principal, action, resource)
when { context.target_count > 5 };
"#;
    let properties: Vec<Property> = properties::from_cedar(file, "ops.properties.cedar").unwrap();
    let verdicts = prove(&profile, &properties);
    assert_eq!(
        verdict(&verdicts, "no-interception-by-direct-request").status,
        ProofStatus::Holds
    );
    let v = verdict(&verdicts, "few-targets-or-refused");
    assert_eq!(v.status, ProofStatus::Fails);
    let r = request_of(v);
    assert!(r.targets.len() > 5);
}

#[test]
fn a_property_file_with_mistakes_is_refused_with_each_one() {
    let e = properties::from_cedar(
        "@property(\"x\")\nforbid (principal, action, resource) when { context.target_count > 5 };\n@property(\"y\")\n@statement(\"s\")\n@basis(\"b\")\n@at_least(\"narrow\")\nforbid (principal, action, resource) when { true };",
        "p.cedar",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("property 1 in the file: every property needs"),
        "{e}"
    );
    assert!(
        e.contains("@at_least must be refer_for_review, needs_information or refuse"),
        "{e}"
    );
    let e = properties::from_cedar(
        "@property(\"x\")\n@statement(\"s\")\n@basis(\"b\")\nforbid (principal, action, resource) when { context.target_cuont > 5 };",
        "p.cedar",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("p.cedar: the properties do not fit the Custos schema"),
        "{e}"
    );
}
