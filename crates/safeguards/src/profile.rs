//! Profiles: sets of safeguard rules written as Cedar policies.
//!
//! A profile is a `.cedar` file. Each `forbid` policy is one rule and must carry:
//! `@code` (stable identifier), `@severity` (`refuse`, `needs_information`, `refer_for_review`,
//! `narrow` or `note`), `@basis` (legal basis, sources separated by `; `) and `@message` (a
//! template, see [`crate::template`]). A `narrow` rule also says how it narrows with
//! `@narrow("drop_categories_outside_measure" | "cap_period_keep_start" | "cap_period_keep_end" |
//! "cap_confidentiality")`, the last three with `@limit_days("N")`. `permit` policies carry the
//! profile's settings: `@profile("name")` and `@notify_person("true" | "false")`.
//!
//! Loading validates the policies against `policies/custos.cedarschema` in strict mode and checks
//! every annotation, so an operator's profile either loads whole or is refused with the reason.
//! The two built-in profiles ship in `policies/` and are embedded in the binary.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::str::FromStr;
use std::sync::OnceLock;

use cedar_policy::{Effect, PolicyId, PolicySet, Schema, ValidationMode, Validator};
use miette::Diagnostic;

use crate::assessment::Severity;
use crate::template::Template;

/// The Cedar schema of the facts every profile is written against.
pub const SCHEMA_SOURCE: &str = include_str!("../policies/custos.cedarschema");
/// The built-in `convention` profile.
pub const CONVENTION_SOURCE: &str = include_str!("../policies/convention.cedar");
/// The built-in `rights-first` profile.
pub const RIGHTS_FIRST_SOURCE: &str = include_str!("../policies/rights-first.cedar");

/// The names of the built-in profiles, the default first.
pub const BUILTIN_PROFILES: [&str; 2] = ["rights-first", "convention"];

/// How a `narrow` rule narrows the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Narrowing {
    /// Keep only the data categories the measure can reach.
    DropCategoriesOutsideMeasure,
    /// Keep the period's start; end it at most this many days later.
    CapPeriodKeepStart { days: u32 },
    /// Keep the period's end; start it at most this many days earlier.
    CapPeriodKeepEnd { days: u32 },
    /// End secrecy at most this many days from now.
    CapConfidentiality { days: u32 },
}

/// One safeguard rule: a `forbid` policy and its annotations.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Position in the profile; findings of equal severity keep this order.
    pub index: usize,
    pub code: String,
    pub severity: Severity,
    pub basis: Vec<Template>,
    pub message: Template,
    pub narrowing: Option<Narrowing>,
    pub limit_days: Option<u32>,
}

/// A loaded and validated profile.
#[derive(Debug, Clone)]
pub struct Profile {
    name: String,
    policies: PolicySet,
    rules: HashMap<PolicyId, Rule>,
    notify_person: bool,
}

/// A profile that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error(
        "`{0}` is not a built-in profile; use `rights-first` or `convention`, or give the path of a .cedar file"
    )]
    UnknownBuiltin(String),
    #[error("{origin}: the policies do not parse:\n{details}")]
    Parse { origin: String, details: String },
    #[error(
        "{origin}: the policies do not fit the Custos schema (custos.cedarschema); fix these and load again:\n{details}"
    )]
    Schema { origin: String, details: String },
    #[error("{origin}: {details}")]
    Annotations { origin: String, details: String },
    #[error("the built-in Cedar schema does not load: {0}")]
    BuiltinSchema(String),
}

/// The schema, parsed once.
pub fn schema() -> Result<&'static Schema, ProfileError> {
    static SCHEMA: OnceLock<Result<Schema, String>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            Schema::from_cedarschema_str(SCHEMA_SOURCE)
                .map(|(schema, _warnings)| schema)
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| ProfileError::BuiltinSchema(e.clone()))
}

impl Profile {
    /// One of the built-in profiles by name.
    pub fn builtin(name: &str) -> Result<Profile, ProfileError> {
        let source = match name {
            "convention" => CONVENTION_SOURCE,
            "rights-first" => RIGHTS_FIRST_SOURCE,
            other => return Err(ProfileError::UnknownBuiltin(other.to_owned())),
        };
        Profile::from_cedar(source, &format!("built-in profile {name}"), name)
    }

    /// Loads a profile from Cedar source. `origin` names the source in errors (e.g. its path);
    /// `default_name` is used unless a `permit` policy carries `@profile("…")`.
    pub fn from_cedar(
        source: &str,
        origin: &str,
        default_name: &str,
    ) -> Result<Profile, ProfileError> {
        let policies = PolicySet::from_str(source).map_err(|e| ProfileError::Parse {
            origin: origin.to_owned(),
            details: describe(source, &e),
        })?;

        let schema = schema()?;
        let result = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
        if !result.validation_passed() {
            let mut details = String::new();
            for e in result.validation_errors() {
                let code = policies
                    .policy(e.policy_id())
                    .and_then(|p| p.annotation("code"))
                    .map(|c| format!(" (rule `{c}`)"))
                    .unwrap_or_default();
                let _ = writeln!(details, "- {}{code}", describe(source, e));
            }
            return Err(ProfileError::Schema {
                origin: origin.to_owned(),
                details: details.trim_end().to_owned(),
            });
        }

        let mut name = default_name.to_owned();
        let mut notify_person = false;
        let mut rules = HashMap::new();
        let mut problems = Vec::new();
        // Cedar names unnamed policies policy0, policy1, … in source order.
        let mut ordered: Vec<_> = policies.policies().collect();
        ordered.sort_by_key(|p| policy_number(p.id()));
        for (index, policy) in ordered.into_iter().enumerate() {
            let position = format!("policy {} in the file", index + 1);
            match policy.effect() {
                Effect::Permit => {
                    if let Some(n) = policy.annotation("profile") {
                        name = n.to_owned();
                    }
                    match policy.annotation("notify_person") {
                        None => {}
                        Some("true") => notify_person = true,
                        Some("false") => notify_person = false,
                        Some(other) => problems.push(format!(
                            "{position}: @notify_person must be \"true\" or \"false\", not {other:?}"
                        )),
                    }
                }
                Effect::Forbid => match rule_of(policy, index) {
                    Ok(rule) => {
                        rules.insert(policy.id().clone(), rule);
                    }
                    Err(e) => {
                        let code = policy
                            .annotation("code")
                            .map(|c| format!(" (rule `{c}`)"))
                            .unwrap_or_default();
                        problems.push(format!("{position}{code}: {e}"));
                    }
                },
            }
        }
        if rules.is_empty() && problems.is_empty() {
            problems.push("the profile has no `forbid` rules".to_owned());
        }
        if !problems.is_empty() {
            return Err(ProfileError::Annotations {
                origin: origin.to_owned(),
                details: problems.join("\n"),
            });
        }
        Ok(Profile {
            name,
            policies,
            rules,
            notify_person,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The Cedar policies (for the engine, and for benchmarks that measure Cedar alone).
    pub fn policies(&self) -> &PolicySet {
        &self.policies
    }

    /// The rule behind a `forbid` policy.
    pub fn rule(&self, id: &PolicyId) -> Option<&Rule> {
        self.rules.get(id)
    }

    /// All rules, in the profile's order.
    pub fn rules(&self) -> Vec<&Rule> {
        let mut rules: Vec<_> = self.rules.values().collect();
        rules.sort_by_key(|r| r.index);
        rules
    }

    /// Whether the person concerned is to be notified when secrecy ends.
    pub fn notifies_person(&self) -> bool {
        self.notify_person
    }
}

fn policy_number(id: &PolicyId) -> (usize, String) {
    let s = id.to_string();
    let n = s
        .strip_prefix("policy")
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX);
    (n, s)
}

fn rule_of(policy: &cedar_policy::Policy, index: usize) -> Result<Rule, String> {
    let get = |key: &str| {
        policy
            .annotation(key)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| format!("every forbid rule needs @{key}(\"…\")"))
    };
    let code = get("code")?.to_owned();
    let severity_name = get("severity")?;
    let severity = Severity::from_name(severity_name).ok_or_else(|| {
        format!(
            "@severity {severity_name:?} is not one of refuse, needs_information, refer_for_review, narrow, note"
        )
    })?;
    let limit_days =
        match policy.annotation("limit_days") {
            None => None,
            Some(v) => Some(v.parse::<u32>().ok().filter(|d| *d >= 1).ok_or_else(|| {
                format!("@limit_days must be a whole number of days ≥ 1, not {v:?}")
            })?),
        };
    let narrowing = match policy.annotation("narrow") {
        None => None,
        Some(kind) => {
            let days = || {
                limit_days.ok_or_else(|| format!("@narrow(\"{kind}\") needs @limit_days(\"N\")"))
            };
            Some(match kind {
                "drop_categories_outside_measure" => Narrowing::DropCategoriesOutsideMeasure,
                "cap_period_keep_start" => Narrowing::CapPeriodKeepStart { days: days()? },
                "cap_period_keep_end" => Narrowing::CapPeriodKeepEnd { days: days()? },
                "cap_confidentiality" => Narrowing::CapConfidentiality { days: days()? },
                other => {
                    return Err(format!(
                        "@narrow {other:?} is not one of drop_categories_outside_measure, cap_period_keep_start, cap_period_keep_end, cap_confidentiality"
                    ));
                }
            })
        }
    };
    match (severity, narrowing) {
        (Severity::Narrow, None) => {
            return Err("a rule of severity narrow must say how with @narrow(\"…\")".to_owned());
        }
        (s, Some(_)) if s != Severity::Narrow => {
            return Err(format!(
                "@narrow only belongs on rules of severity narrow, this one is {s}"
            ));
        }
        _ => {}
    }
    let has_limit = limit_days.is_some();
    let message =
        Template::parse(get("message")?, has_limit).map_err(|e| format!("@message: {e}"))?;
    let basis = get("basis")?
        .split("; ")
        .map(|b| Template::parse(b.trim(), has_limit).map_err(|e| format!("@basis: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Rule {
        index,
        code,
        severity,
        basis,
        message,
        narrowing,
        limit_days,
    })
}

/// An error with the line and column of each place it points to.
fn describe(source: &str, err: &dyn Diagnostic) -> String {
    let mut out = err.to_string();
    if let Some(help) = err.help() {
        let _ = write!(out, " ({help})");
    }
    if let Some(labels) = err.labels() {
        for label in labels {
            let (line, col) = line_col(source, label.offset());
            let _ = write!(out, "\n    at line {line}, column {col}");
            if let Some(l) = label.label() {
                let _ = write!(out, ": {l}");
            }
        }
    }
    if let Some(related) = err.related() {
        for r in related {
            let _ = write!(out, "\n- {}", describe(source, r));
        }
    }
    out
}

fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_load_and_name_themselves() {
        for name in BUILTIN_PROFILES {
            let p = Profile::builtin(name).unwrap();
            assert_eq!(p.name(), name);
            assert!(
                p.rules().len() >= 15,
                "{name} has {} rules",
                p.rules().len()
            );
        }
        assert!(Profile::builtin("rights-first").unwrap().notifies_person());
        assert!(!Profile::builtin("convention").unwrap().notifies_person());
        assert!(matches!(
            Profile::builtin("lenient"),
            Err(ProfileError::UnknownBuiltin(_))
        ));
    }

    #[test]
    fn every_rule_names_its_legal_basis() {
        for name in BUILTIN_PROFILES {
            for rule in Profile::builtin(name).unwrap().rules() {
                assert!(!rule.basis.is_empty(), "{name}/{}", rule.code);
            }
        }
    }

    const OK_RULE: &str = r#"
        @code("x") @severity("refuse") @basis("test") @message("m")
        forbid (principal, action, resource) when { context.is_intrusive };
    "#;

    fn load(src: &str) -> Result<Profile, ProfileError> {
        Profile::from_cedar(src, "my.cedar", "my")
    }

    #[test]
    fn schema_violations_are_refused_with_position() {
        let e = load(
            "@code(\"x\") @severity(\"refuse\") @basis(\"b\") @message(\"m\")\nforbid (principal, action, resource) when { context.is_intrusiv };",
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, ProfileError::Schema { .. }), "{text}");
        assert!(text.contains("is_intrusiv"), "{text}");
        assert!(text.contains("rule `x`"), "{text}");
        assert!(text.contains("line 2"), "{text}");
        let e = load(
            "@code(\"x\") @severity(\"refuse\") @basis(\"b\") @message(\"m\")\nforbid (principal, action, resource) when { context.target_count > \"10\" };",
        )
        .unwrap_err();
        assert!(matches!(e, ProfileError::Schema { .. }), "{e}");
    }

    #[test]
    fn syntax_errors_are_refused_with_position() {
        let e =
            load("forbid (principal, action, resource) when { context.is_intrusive ").unwrap_err();
        assert!(matches!(e, ProfileError::Parse { .. }), "{e}");
        assert!(e.to_string().contains("line 1"), "{e}");
    }

    #[test]
    fn annotation_problems_are_refused() {
        assert!(load(OK_RULE).is_ok());
        let cases = [
            (OK_RULE.replace("@code(\"x\") ", ""), "needs @code"),
            (OK_RULE.replace("refuse", "deny"), "@severity \"deny\""),
            (OK_RULE.replace("@basis(\"test\") ", ""), "needs @basis"),
            (
                OK_RULE.replace("\"m\"", "\"{nope}\""),
                "unknown placeholder {nope}",
            ),
            (
                OK_RULE.replace("refuse", "narrow"),
                "must say how with @narrow",
            ),
            (
                OK_RULE.replace(
                    "@code(\"x\")",
                    "@code(\"x\") @narrow(\"drop_categories_outside_measure\")",
                ),
                "only belongs on rules of severity narrow",
            ),
            (
                OK_RULE.replace(
                    "@severity(\"refuse\")",
                    "@severity(\"narrow\") @narrow(\"cap_period_keep_start\")",
                ),
                "needs @limit_days",
            ),
            (
                OK_RULE.replace(
                    "@severity(\"refuse\")",
                    "@severity(\"narrow\") @narrow(\"shrink\")",
                ),
                "@narrow \"shrink\" is not one of",
            ),
            (
                "permit (principal, action, resource);".to_owned(),
                "no `forbid` rules",
            ),
        ];
        for (src, expected) in cases {
            let e = load(&src).unwrap_err().to_string();
            assert!(e.contains(expected), "expected {expected:?} in {e}");
            assert!(e.starts_with("my.cedar"), "{e}");
        }
    }

    #[test]
    fn profile_settings_come_from_the_permit_policy() {
        let p = load(&format!(
            "@profile(\"strict\") @notify_person(\"true\") permit (principal, action, resource);\n{OK_RULE}"
        ))
        .unwrap();
        assert_eq!(p.name(), "strict");
        assert!(p.notifies_person());
        let e = load(&format!(
            "@notify_person(\"yes\") permit (principal, action, resource);\n{OK_RULE}"
        ))
        .unwrap_err();
        assert!(e.to_string().contains("@notify_person must be"), "{e}");
    }
}
