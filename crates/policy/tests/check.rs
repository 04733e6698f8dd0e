//! `custos policy check`'s findings: one test per class of problem, each located at the line
//! where the problem is (found here by searching the text, not by the checker), and the text
//! report as operators read it (insta snapshots).

use custos_policy::check::{Report, check};
use custos_safeguards::{ProblemKind, ProfileProblem};

/// A rule that loads, to build broken profiles from.
const RULE: &str = r#"@code("intrusive-needs-review")
@severity("refer_for_review")
@basis("UNCC art. 24; N&P principle 3")
@message("{Measure} of {categories} is intrusive.")
forbid (principal, action, resource)
when { context.is_intrusive };
"#;

fn report(source: &str) -> Report {
    check("my.cedar", source, "my")
}

/// The one problem of `source`.
fn only_problem(source: &str) -> ProfileProblem {
    let r = report(source);
    assert!(!r.valid, "{source}");
    assert_eq!(r.problems.len(), 1, "{}", r.text());
    r.problems[0].clone()
}

/// The line (from 1) of the first occurrence of `needle`.
fn line_of(source: &str, needle: &str) -> usize {
    let at = source
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} in {source}"));
    source[..at].matches('\n').count() + 1
}

/// `RULE` with its `n`th policy placed after `before` other copies under other codes.
fn after_a_good_rule(broken: &str) -> String {
    format!(
        "{}\n{broken}",
        RULE.replace("intrusive-needs-review", "first")
    )
}

#[test]
fn a_valid_profile_is_summed_up() {
    let r = report(&format!(
        "@profile(\"rights-first\") @notify_person(\"true\")\npermit (principal, action, resource);\n{RULE}"
    ));
    assert!(r.valid, "{}", r.text());
    let p = r.profile.as_ref().unwrap();
    assert_eq!((p.name.as_str(), p.rules), ("rights-first", 1));
    assert_eq!(p.builtin_properties.as_deref(), Some("rights-first"));
    insta::assert_snapshot!("valid", r.text());

    // Named after no built-in profile: held to no built-in profile's properties.
    let r = report(RULE);
    let p = r.profile.as_ref().unwrap();
    assert_eq!(
        (p.name.as_str(), p.builtin_properties.as_ref()),
        ("my", None)
    );
}

#[test]
fn the_built_in_profiles_are_valid() {
    for (name, source) in [
        (
            "rights-first",
            custos_safeguards::profile::RIGHTS_FIRST_SOURCE,
        ),
        ("convention", custos_safeguards::profile::CONVENTION_SOURCE),
    ] {
        let r = check(&format!("{name}.cedar"), source, name);
        assert!(r.valid, "{}", r.text());
        let p = r.profile.unwrap();
        let by_severity: usize = p.by_severity.iter().map(|c| c.rules).sum();
        assert_eq!(by_severity, p.rules);
        assert_eq!(p.builtin_properties.as_deref(), Some(name));
    }
}

#[test]
fn a_syntax_error_is_located_in_its_policy() {
    let source = after_a_good_rule(&RULE.replace(
        "when { context.is_intrusive };",
        "when { context.is_intrusive",
    ));
    let p = only_problem(&source);
    assert_eq!(p.kind, ProblemKind::Syntax);
    assert_eq!(p.position.unwrap().line, source.lines().count(), "{p}");
    assert_eq!(
        (p.policy, p.code.as_deref()),
        (Some(2), Some("intrusive-needs-review"))
    );
    insta::assert_snapshot!("syntax", report(&source).text());
}

#[test]
fn an_unknown_fact_suggests_the_schemas_name() {
    let source = after_a_good_rule(&RULE.replace("context.is_intrusive", "context.asks_contents"));
    let p = only_problem(&source);
    assert_eq!(p.kind, ProblemKind::Schema);
    assert_eq!(p.position.unwrap().line, line_of(&source, "asks_contents"));
    assert_eq!(
        (p.policy, p.code.as_deref()),
        (Some(2), Some("intrusive-needs-review"))
    );
    assert_eq!(
        p.help.as_deref(),
        Some("did you mean `context.asks_content`?")
    );
    insta::assert_snapshot!("unknown_fact", report(&source).text());
    // Far from every name: the facts that hold the word, else where the facts are declared.
    let help = |fact: &str| {
        only_problem(&RULE.replace("is_intrusive", fact))
            .help
            .unwrap()
    };
    assert_eq!(help("years"), "did you mean `context.max_penalty_years`?");
    assert_eq!(
        help("penalty"),
        "did you mean one of `context.any_death_penalty`, `context.max_penalty_years`, `context.no_death_penalty_assured`?"
    );
    assert!(help("xyzzy").contains("declared in custos.cedarschema"));
}

#[test]
fn a_type_error_is_located_at_the_expression() {
    let source = RULE.replace(
        "context.is_intrusive",
        "context.is_intrusive && context.target_count > \"10\"",
    );
    let p = only_problem(&source);
    assert_eq!(p.kind, ProblemKind::Schema);
    assert_eq!(p.position.unwrap().line, line_of(&source, "\"10\""));
    assert!(p.message.contains("expected Long but saw String"), "{p}");
    insta::assert_snapshot!("type_error", report(&source).text());
}

#[test]
fn a_missing_code_is_located_at_its_policy() {
    let source = after_a_good_rule(&RULE.replace("@code(\"intrusive-needs-review\")\n", ""));
    let p = only_problem(&source);
    assert_eq!(p.kind, ProblemKind::Annotation);
    assert_eq!(p.annotation.as_deref(), Some("code"));
    assert_eq!((p.policy, p.code.as_ref()), (Some(2), None));
    // The policy starts at its first annotation, after the first rule's six lines and a blank.
    assert_eq!(p.position.unwrap().line, 8);
    insta::assert_snapshot!("missing_code", report(&source).text());
}

#[test]
fn a_misspelt_severity_suggests_the_right_one() {
    let source = after_a_good_rule(&RULE.replace("refer_for_review", "refer_for_reveiw"));
    let p = only_problem(&source);
    assert_eq!(p.annotation.as_deref(), Some("severity"));
    assert_eq!(p.position.unwrap().line, line_of(&source, "reveiw"));
    assert_eq!(p.help.as_deref(), Some("did you mean `refer_for_review`?"));
    let p = only_problem(&RULE.replace("refer_for_review", "needs_informaton"));
    assert_eq!(p.help.as_deref(), Some("did you mean `needs_information`?"));
    // A beginning is as good as a near miss.
    let p = only_problem(&RULE.replace("refer_for_review", "refer"));
    assert_eq!(p.help.as_deref(), Some("did you mean `refer_for_review`?"));
    // Nothing near: the list.
    let p = only_problem(&RULE.replace("refer_for_review", "deny"));
    assert_eq!(
        p.help.as_deref(),
        Some("use one of refuse, needs_information, refer_for_review, narrow, note")
    );
    insta::assert_snapshot!("severity", report(&source).text());
}

#[test]
fn a_bad_narrowing_is_refused_with_the_known_ones() {
    let narrow = RULE.replace(
        "@severity(\"refer_for_review\")",
        "@severity(\"narrow\")\n@narrow(\"cap_period_keep_strat\")\n@limit_days(\"90\")",
    );
    let p = only_problem(&narrow);
    assert_eq!(p.annotation.as_deref(), Some("narrow"));
    assert_eq!(p.position.unwrap().line, line_of(&narrow, "cap_period"));
    assert_eq!(
        p.help.as_deref(),
        Some("did you mean `cap_period_keep_start`?")
    );
    insta::assert_snapshot!("narrow", report(&narrow).text());

    // A narrowing on a rule that does not narrow, and a narrowing that needs a limit.
    let p = only_problem(&RULE.replace(
        "@severity",
        "@narrow(\"drop_categories_outside_measure\")\n@severity",
    ));
    assert!(
        p.message
            .contains("only belongs on rules of severity narrow"),
        "{p}"
    );
    let p = only_problem(
        &narrow
            .replace("@limit_days(\"90\")\n", "")
            .replace("keep_strat", "keep_start"),
    );
    assert!(p.message.contains("needs @limit_days"), "{p}");
}

#[test]
fn limit_days_must_be_a_number() {
    let source = RULE.replace(
        "@severity(\"refer_for_review\")",
        "@severity(\"narrow\")\n@narrow(\"cap_confidentiality\")\n@limit_days(\"ninety\")",
    );
    let p = only_problem(&source);
    assert_eq!(p.annotation.as_deref(), Some("limit_days"));
    assert_eq!(p.position.unwrap().line, line_of(&source, "ninety"));
    assert!(p.message.contains("whole number of days"), "{p}");
    insta::assert_snapshot!("limit_days", report(&source).text());
}

#[test]
fn an_unknown_placeholder_lists_the_known_ones() {
    let source = after_a_good_rule(&RULE.replace("{categories}", "{categries}"));
    let p = only_problem(&source);
    assert_eq!(p.annotation.as_deref(), Some("message"));
    let at = p.position.unwrap();
    assert_eq!(at.line, line_of(&source, "{categries}"));
    // The column of the placeholder itself.
    let line = source.lines().nth(at.line - 1).unwrap();
    assert_eq!(at.column, line.find("{categries}").unwrap() + 1);
    let help = p.help.unwrap();
    assert!(help.starts_with("did you mean `{categories}`?"), "{help}");
    for known in ["measure_basis", "period_days", "required_authorization"] {
        assert!(help.contains(known), "{help}");
    }
    insta::assert_snapshot!("placeholder", report(&source).text());
}

#[test]
fn a_misspelt_annotation_name_is_caught() {
    let source = RULE
        .replace("@code", "@code(\"x\")\n@mesage(\"m\")\n//")
        .replace("//(", "// (");
    let r = report(&source);
    let p = r
        .problems
        .iter()
        .find(|p| p.annotation.as_deref() == Some("mesage"))
        .unwrap_or_else(|| panic!("{}", r.text()));
    assert_eq!(p.help.as_deref(), Some("did you mean @message?"));
    assert_eq!(p.position.unwrap().line, line_of(&source, "@mesage"));
    // An annotation of the operator's own, far from any Custos reads, is theirs.
    assert!(report(&format!("@reviewed_by(\"legal\")\n{RULE}")).valid);
}

#[test]
fn every_problem_is_reported_at_once_each_at_its_line() {
    let source = format!(
        "{}\n{}\n{}",
        RULE.replace("refer_for_review", "refer"),
        RULE.replace("is_intrusive", "is_intrusiv")
            .replace("{Measure}", "{Mesure}"),
        RULE.replace("@code(\"intrusive-needs-review\")\n", ""),
    );
    let r = report(&source);
    let found: Vec<(ProblemKind, usize, Option<usize>)> = r
        .problems
        .iter()
        .map(|p| (p.kind, p.position.unwrap().line, p.policy))
        .collect();
    let third = source[..source.rfind("@severity").unwrap()]
        .matches('\n')
        .count()
        + 1;
    assert_eq!(
        found,
        vec![
            (ProblemKind::Annotation, 2, Some(1)),
            (
                ProblemKind::Annotation,
                line_of(&source, "{Mesure}"),
                Some(2)
            ),
            (
                ProblemKind::Schema,
                line_of(&source, "is_intrusiv }"),
                Some(2)
            ),
            (ProblemKind::Annotation, third, Some(3)),
        ],
        "{}",
        r.text()
    );
    insta::assert_snapshot!("several", r.text());
}

#[test]
fn a_profile_without_rules_or_with_only_some_rules() {
    let p = only_problem("permit (principal, action, resource);");
    assert_eq!(p.kind, ProblemKind::Profile);
    assert!(p.message.contains("no `forbid` rules"), "{p}");
    // Dropping rules is prove's concern, not check's.
    let fewer: String = custos_safeguards::profile::RIGHTS_FIRST_SOURCE
        .split("\n\n")
        .filter(|block| !block.contains("@code(\"judicial-authorization\")"))
        .collect::<Vec<_>>()
        .join("\n\n");
    assert!(fewer.len() < custos_safeguards::profile::RIGHTS_FIRST_SOURCE.len());
    let r = check("fewer.cedar", &fewer, "fewer");
    assert!(r.valid, "{}", r.text());
    assert_eq!(
        r.profile.unwrap().builtin_properties.as_deref(),
        Some("rights-first")
    );
}

#[test]
fn the_json_report_names_the_format_and_every_field() {
    let source = after_a_good_rule(&RULE.replace("refer_for_review", "refer_for_reveiw"));
    let json = serde_json::to_value(report(&source)).unwrap();
    assert_eq!(json["format"], "custos.policy-check/v1");
    assert_eq!(json["valid"], false);
    let p = &json["problems"][0];
    assert_eq!(p["kind"], "annotation");
    assert_eq!(p["policy"], 2);
    assert_eq!(
        p["code"],
        "first".replace("first", "intrusive-needs-review")
    );
    assert_eq!(p["annotation"], "severity");
    assert_eq!(p["position"]["line"], line_of(&source, "reveiw"));
    assert!(p["help"].as_str().unwrap().contains("refer_for_review"));
}
