//! `custos_policy::diff`: two profiles replayed over the shared cases and generated requests.

use std::path::PathBuf;

use custos_model::strategies::request;
use custos_policy::diff::{
    Diff, Direction, Input, ProfileRef, Replayed, Report, SourceRef, Verdict, rank, verdict,
};
use custos_safeguards::{Assessor, Jurisdiction, Outcome, Profile};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};

use crate::common::rights_first_without;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// rights-first without the three `judicial-authorization` rules (the acceptance contract).
fn without_judge() -> Profile {
    rights_first_without("judicial-authorization")
}

fn builtin(name: &str) -> Profile {
    Profile::builtin(name).unwrap()
}

fn profile_ref(profile: &str, name: &str) -> ProfileRef {
    ProfileRef {
        profile: profile.to_owned(),
        name: name.to_owned(),
    }
}

fn shared_cases() -> Vec<Input> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(repo().join("testdata/cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            Input::from_file(
                p.file_name().unwrap().to_string_lossy(),
                &std::fs::read(p).unwrap(),
            )
        })
        .collect()
}

fn report(from: Profile, to: Profile, inputs: &[Input]) -> Report {
    let (from_ref, to_ref) = (
        profile_ref("rights-first", from.name()),
        profile_ref("rights-first-without-judge.cedar", to.name()),
    );
    let mut report = Report::new(
        from_ref,
        to_ref,
        SourceRef {
            kind: "cases".into(),
            path: "testdata/cases".into(),
        },
    );
    report.extend(Diff::new(from, to, Jurisdiction::default()).replay(inputs));
    report
}

#[test]
fn dropping_the_judge_rules_changes_the_interception_without_a_judge_and_not_the_complete_case() {
    let report = report(builtin("rights-first"), without_judge(), &shared_cases());
    let p05 = report
        .changed
        .iter()
        .find(|c| c.request_id == "XA-2026-0201")
        .expect("p05 (interception without a judge) changes");
    assert_eq!(p05.source, "p05-interception-without-judge.json");
    assert_eq!(p05.before.outcome, Outcome::NeedsInformation);
    assert_eq!(p05.before.codes, ["judicial-authorization"]);
    assert!(
        !p05.after
            .codes
            .contains(&"judicial-authorization".to_owned())
    );
    assert_eq!(p05.direction, Direction::MorePermissive);
    assert!(
        report
            .changed
            .iter()
            .all(|c| c.request_id != "XA-2026-0001"),
        "the complete ransomware case p01 must not change: {:#?}",
        report.changed
    );
    // Only rules were removed: nothing may become stricter.
    assert_eq!(report.summary.stricter, 0, "{:#?}", report.changed);
}

#[test]
fn the_same_profile_twice_changes_nothing_and_lists_the_invalid_cases() {
    let report = report(
        builtin("rights-first"),
        builtin("rights-first"),
        &shared_cases(),
    );
    assert_eq!(report.changed, []);
    assert_eq!(report.requests, 20);
    assert_eq!(report.summary.assessed, 18);
    assert_eq!(report.summary.unchanged, 18);
    let invalid: Vec<(&str, Option<&str>, &str)> = report
        .invalid
        .iter()
        .map(|i| (i.source.as_str(), i.request_id.as_deref(), i.error.as_str()))
        .collect();
    assert_eq!(invalid.len(), 2, "{invalid:#?}");
    assert_eq!(invalid[0].0, "p14-invalid-unknown-field.json");
    assert_eq!(invalid[0].1, Some("XA-2026-0314"));
    assert!(
        invalid[0].2.contains("$.confidentialty: "),
        "{}",
        invalid[0].2
    );
    assert_eq!(invalid[1].0, "p15-invalid-period.json");
    assert!(invalid[1].2.contains("$.period"), "{}", invalid[1].2);
}

#[test]
fn directions_follow_the_outcome_order_and_the_summary_counts_them() {
    let report = report(
        builtin("rights-first"),
        builtin("convention"),
        &shared_cases(),
    );
    assert!(!report.changed.is_empty());
    for c in &report.changed {
        assert_ne!(c.before, c.after);
        let expected = match rank(c.after.outcome).cmp(&rank(c.before.outcome)) {
            std::cmp::Ordering::Greater => Direction::Stricter,
            std::cmp::Ordering::Less => Direction::MorePermissive,
            std::cmp::Ordering::Equal => Direction::SameOutcome,
        };
        assert_eq!(c.direction, expected, "{c:#?}");
        // Codes are a sorted set.
        for v in [&c.before, &c.after] {
            assert!(v.codes.windows(2).all(|w| w[0] < w[1]), "{:?}", v.codes);
        }
    }
    let s = &report.summary;
    assert_eq!(s.changed, report.changed.len());
    assert_eq!(s.stricter + s.more_permissive + s.same_outcome, s.changed);
    assert_eq!(s.changed + s.unchanged, s.assessed);
    assert_eq!(s.assessed + s.invalid + s.failed, s.requests);
    // convention drops rights-first's extra safeguards: p05 keeps needing a judge under both.
    assert!(
        report
            .changed
            .iter()
            .all(|c| c.request_id != "XA-2026-0201")
    );
    assert!(s.more_permissive > 0);
}

#[test]
fn the_order_is_refuse_needs_information_refer_narrowed_execute() {
    assert!(rank(Outcome::Refuse) > rank(Outcome::NeedsInformation));
    assert!(rank(Outcome::NeedsInformation) > rank(Outcome::ReferForReview));
    assert!(rank(Outcome::ReferForReview) > rank(Outcome::ExecuteNarrowed));
    assert!(rank(Outcome::ExecuteNarrowed) > rank(Outcome::Execute));
    assert_eq!(
        Direction::between(Outcome::ExecuteNarrowed, Outcome::Refuse),
        Direction::Stricter
    );
    assert_eq!(
        Direction::between(Outcome::Refuse, Outcome::Execute),
        Direction::MorePermissive
    );
    assert_eq!(
        Direction::between(Outcome::Execute, Outcome::Execute),
        Direction::SameOutcome
    );
}

fn case_file(request: &Value, now: &str, jurisdiction: Option<Value>) -> Vec<u8> {
    let mut case = json!({"name": "x", "now": now, "request": request, "expect": {}});
    if let Some(j) = jurisdiction {
        case["jurisdiction"] = j;
    }
    serde_json::to_vec(&case).unwrap()
}

fn p01_request() -> Value {
    let case: Value = serde_json::from_slice(
        &std::fs::read(repo().join("testdata/cases/p01-ransomware-production.json")).unwrap(),
    )
    .unwrap();
    case["request"].clone()
}

#[test]
fn a_case_brings_its_time_and_jurisdiction_and_a_bare_request_its_submitted_at() {
    let request = p01_request();
    let bare = Input::from_file("bare.json", &serde_json::to_vec(&request).unwrap());
    assert_eq!(
        bare.now, None,
        "a bare request is assessed at its submitted_at"
    );
    assert!(bare.jurisdiction.is_none());

    let case = Input::from_file(
        "case.json",
        &case_file(
            &request,
            "2026-11-20T12:00:00Z",
            Some(
                json!({"heightened_scrutiny_states": ["XA"], "deadlines": {"respond_within_days": 5}}),
            ),
        ),
    );
    assert_eq!(case.now, Some("2026-11-20T12:00:00Z".parse().unwrap()));
    let j = case.jurisdiction.as_ref().unwrap();
    assert!(
        j.heightened_scrutiny_states
            .iter()
            .any(|s| s.as_str() == "XA")
    );
    assert_eq!(j.deadlines.respond_within_days, 5);

    // The jurisdiction is the one the assessment uses: with XA under heightened scrutiny, a
    // profile without that rule differs; without the override nothing does.
    let to = rights_first_without("heightened-scrutiny");
    let diff = Diff::new(builtin("rights-first"), to, Jurisdiction::default());
    let results = diff.replay(&[bare, case]);
    assert_eq!(results[0], Replayed::Unchanged);
    let Replayed::Changed(c) = &results[1] else {
        panic!("{:#?}", results[1])
    };
    assert_eq!(c.before.outcome, Outcome::ReferForReview);
    assert_eq!(c.before.codes, ["heightened-scrutiny"]);
    assert_eq!(c.after.outcome, Outcome::Execute);
    assert_eq!(c.direction, Direction::MorePermissive);
}

#[test]
fn unusable_files_are_listed_as_invalid_with_a_path_and_the_replay_goes_on() {
    let request = p01_request();
    let inputs = [
        Input::from_file("not-json.json", b"{ not json"),
        Input::from_file(
            "no-now.json",
            &serde_json::to_vec(&json!({"request": request})).unwrap(),
        ),
        Input::from_file(
            "bad-jurisdiction.json",
            &case_file(
                &request,
                "2026-11-20T12:00:00Z",
                Some(json!({"criminal_categories": ["jaywalking"]})),
            ),
        ),
        Input::from_file(
            "bad-request.json",
            &serde_json::to_vec(&json!({"id": "XA-1", "format": "custos.request/v1"})).unwrap(),
        ),
        Input::from_file("good.json", &serde_json::to_vec(&request).unwrap()),
    ];
    let report = report(builtin("rights-first"), without_judge(), &inputs);
    let invalid: Vec<(&str, &str)> = report
        .invalid
        .iter()
        .map(|i| (i.source.as_str(), i.error.as_str()))
        .collect();
    assert_eq!(invalid.len(), 4, "{invalid:#?}");
    assert!(
        invalid[0].1.starts_with("$: the file is not JSON"),
        "{invalid:?}"
    );
    assert_eq!(invalid[1].0, "no-now.json");
    assert!(invalid[1].1.starts_with("$.now: "), "{invalid:?}");
    assert!(invalid[2].1.starts_with("$.jurisdiction: "), "{invalid:?}");
    assert!(invalid[2].1.contains("jaywalking"), "{invalid:?}");
    assert_eq!(report.invalid[3].request_id.as_deref(), Some("XA-1"));
    assert!(invalid[3].1.contains("$."), "{invalid:?}");
    assert_eq!(report.summary.assessed, 1);
    assert_eq!(report.summary.requests, 5);
}

#[test]
fn replaying_on_several_threads_gives_the_same_results_in_the_same_order() {
    let mut runner = TestRunner::deterministic();
    let strategy = request();
    let inputs: Vec<Input> = (0..600)
        .map(|i| {
            let r = strategy.new_tree(&mut runner).unwrap().current();
            Input::request(
                format!("generated {i}"),
                serde_json::to_vec(&r).unwrap(),
                Some(custos_model::strategies::reference_now()),
            )
        })
        .collect();
    let one = Diff::new(
        builtin("rights-first"),
        builtin("convention"),
        Jurisdiction::default(),
    )
    .with_threads(1)
    .replay(&inputs);
    let three = Diff::new(
        builtin("rights-first"),
        builtin("convention"),
        Jurisdiction::default(),
    )
    .with_threads(3)
    .replay(&inputs);
    assert_eq!(one.len(), 600);
    assert_eq!(one, three);
    // Generated requests are valid and some of them change.
    assert!(one.iter().all(|r| !matches!(r, Replayed::Invalid(_))));
    assert!(one.iter().any(|r| matches!(r, Replayed::Changed(_))));
}

#[test]
fn the_text_report_of_the_acceptance_diff() {
    let report = report(builtin("rights-first"), without_judge(), &shared_cases());
    insta::assert_snapshot!(report.render_text());
}

#[test]
fn the_json_report_has_the_contract_keys() {
    let report = report(builtin("rights-first"), without_judge(), &shared_cases());
    let v = serde_json::to_value(&report).unwrap();
    assert_eq!(v["format"], "custos.policy-diff/v1");
    assert_eq!(v["from"]["profile"], "rights-first");
    assert_eq!(v["to"]["name"], "rights-first");
    assert_eq!(v["requests"], 20);
    let p05 = v["changed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["request_id"] == "XA-2026-0201")
        .unwrap();
    assert_eq!(p05["source"], "p05-interception-without-judge.json");
    assert_eq!(p05["before"]["outcome"], "needs_information");
    assert_eq!(p05["before"]["codes"], json!(["judicial-authorization"]));
    assert_eq!(p05["direction"], "more_permissive");
    assert_eq!(v["invalid"][0]["source"], "p14-invalid-unknown-field.json");
    assert_eq!(
        v["summary"]["changed"].as_u64().unwrap() as usize,
        report.changed.len()
    );
}

/// Loaded once: the property below runs hundreds of cases.
static PROFILES: std::sync::LazyLock<[Profile; 3]> = std::sync::LazyLock::new(|| {
    [
        builtin("rights-first"),
        builtin("convention"),
        without_judge(),
    ]
});

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(400))]

    /// The replay's fast path reads the same outcome, codes and narrowing as the assessment.
    #[test]
    fn the_fast_verdict_is_what_the_assessment_says(
        r in request(),
        hours in -2_000i64..2_000,
        scrutinised in proptest::bool::ANY,
    ) {
        let now = custos_model::strategies::reference_now()
            .checked_add(jiff::SignedDuration::from_hours(hours))
            .unwrap();
        let jurisdiction = if scrutinised {
            Jurisdiction::from_toml(&format!(
                "heightened_scrutiny_states = [\"{}\"]",
                r.requesting_authority.state.as_str()
            ))
            .unwrap()
        } else {
            Jurisdiction::default()
        };
        for profile in PROFILES.iter() {
            let assessor = Assessor::new(profile.clone(), jurisdiction.clone());
            let expected = Verdict::of(&assessor.assess(&r, now).unwrap());
            proptest::prop_assert_eq!(verdict(&assessor, &r, now).unwrap(), expected);
        }
    }
}
