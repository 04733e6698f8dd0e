//! The properties a profile is held to.
//!
//! A profile is held to the built-in properties of the profile its `@profile("…")` names (a
//! copy of `rights-first.cedar` keeps that name, and its promises), plus any property file
//! beside it (`NAME.properties.cedar` for `NAME.cedar`). Two kinds:
//!
//! * **Stated** properties, in Cedar: each `forbid` of a property file describes a situation the
//!   profile must stop (see `properties/rights-first.properties.cedar` for the format). They fit
//!   SymCC's `implies` check directly.
//! * **Structural** properties, about the rules themselves: none is dead, none can fail to
//!   evaluate, secrecy never outlasts the profile's cap, and (`rights-first`) it is never more
//!   permissive than `convention`.

use std::str::FromStr;

use cedar_policy::{Effect, Policy, PolicySet, ValidationMode, Validator};
use custos_model::Severity;
use custos_safeguards::Profile;

/// `rights-first`'s stated properties (the same format as an operator's property file).
pub const RIGHTS_FIRST_PROPERTIES: &str =
    include_str!("../properties/rights-first.properties.cedar");

/// What a property claims, in a form the prover can check.
#[derive(Debug, Clone)]
pub enum Claim {
    /// Whenever `condition` (a `forbid` policy over the facts) holds, some rule of at least
    /// `at_least` fires.
    Stops {
        at_least: Severity,
        condition: Box<Policy>,
        /// Cedar conditions a counterexample should meet if it can (`@prefer`, `; `-separated):
        /// the property's author knows which counterexample tells most.
        prefer: Vec<String>,
    },
    /// At every severity level, whatever `other` stops at that level or above, the profile stops
    /// at that level or above too.
    NoMorePermissiveThan { other: String },
    /// No rule can fail to evaluate (an error would make the assessment fail: safe, but the
    /// request could then never be assessed).
    NeverErrors,
    /// Every rule fires for some request.
    NoDeadRule,
    /// An executed request never keeps secrecy longer than the profile's cap (the longest
    /// `@limit_days` of its `cap_confidentiality` rules).
    SecrecyWithinCap,
}

/// One property: a name, a sentence, a legal basis and what it claims.
#[derive(Debug, Clone)]
pub struct Property {
    pub name: String,
    pub statement: String,
    pub basis: String,
    pub claim: Claim,
    /// Where it comes from: `built-in` or the property file's path.
    pub origin: String,
}

/// A property file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PropertyError {
    #[error("{origin}: the properties do not parse: {details}")]
    Parse { origin: String, details: String },
    #[error(
        "{origin}: the properties do not fit the Custos schema (custos.cedarschema): {details}"
    )]
    Schema { origin: String, details: String },
    #[error("{origin}: {details}")]
    Annotations { origin: String, details: String },
    #[error("no property is named `{0}`; the profile's properties are: {1}")]
    Unknown(String, String),
}

/// The structural properties every profile is held to.
fn structural() -> Vec<Property> {
    let p = |name: &str, statement: &str, basis: &str, claim: Claim| Property {
        name: name.to_owned(),
        statement: statement.to_owned(),
        basis: basis.to_owned(),
        claim,
        origin: "built-in".to_owned(),
    };
    vec![
        p(
            "never-errors",
            "No rule can fail to evaluate, whatever the request: every safeguard always applies.",
            "Custos design: the engine fails closed when a rule errs, so a rule that can err is a request that can never be assessed",
            Claim::NeverErrors,
        ),
        p(
            "no-dead-rule",
            "Every rule fires for some request: none is unreachable by mistake.",
            "Custos design: a rule that can never fire is a safeguard that only seems to exist",
            Claim::NoDeadRule,
        ),
        p(
            "secrecy-within-cap",
            "No executed request keeps the person concerned uninformed beyond the profile's cap on secrecy.",
            "Critics: no perpetual secrecy; N&P principle 8 (user notification); EU Reg. 2023/1543 art. 13",
            Claim::SecrecyWithinCap,
        ),
    ]
}

/// The built-in properties of the profile named `name`.
pub fn builtin(name: &str) -> Result<Vec<Property>, PropertyError> {
    let mut out = Vec::new();
    if name == "rights-first" {
        out.extend(from_cedar(RIGHTS_FIRST_PROPERTIES, "built-in")?);
        out.push(Property {
            name: "not-more-permissive-than-convention".to_owned(),
            statement: "At every severity level, whatever the `convention` profile stops at that level or above, `rights-first` stops too: it only adds safeguards to the Convention's."
                .to_owned(),
            basis: "safeguards.md 1.1: rights-first is the Convention plus the safeguards its critics ask for"
                .to_owned(),
            claim: Claim::NoMorePermissiveThan {
                other: "convention".to_owned(),
            },
            origin: "built-in".to_owned(),
        });
    }
    out.extend(structural());
    Ok(out)
}

/// The properties of an operator's property file.
pub fn from_cedar(source: &str, origin: &str) -> Result<Vec<Property>, PropertyError> {
    let set = PolicySet::from_str(source).map_err(|e| PropertyError::Parse {
        origin: origin.to_owned(),
        details: format!("{e:?}"),
    })?;
    let schema = custos_safeguards::profile::schema().map_err(|e| PropertyError::Schema {
        origin: origin.to_owned(),
        details: e.to_string(),
    })?;
    let result = Validator::new(schema.clone()).validate(&set, ValidationMode::Strict);
    if !result.validation_passed() {
        let details: Vec<String> = result.validation_errors().map(|e| e.to_string()).collect();
        return Err(PropertyError::Schema {
            origin: origin.to_owned(),
            details: details.join("; "),
        });
    }
    let mut policies: Vec<&Policy> = set.policies().collect();
    policies.sort_by_key(|p| custos_safeguards::profile::policy_number(p.id()));
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (i, policy) in policies.into_iter().enumerate() {
        let at = format!("property {} in the file", i + 1);
        if policy.effect() != Effect::Forbid {
            problems.push(format!(
                "{at}: a property is a `forbid` stating what must be stopped, not a `permit`"
            ));
            continue;
        }
        let get = |key: &str| {
            policy
                .annotation(key)
                .filter(|v| !v.trim().is_empty())
                .map(str::to_owned)
        };
        let (Some(name), Some(statement), Some(basis)) =
            (get("property"), get("statement"), get("basis"))
        else {
            problems.push(format!(
                "{at}: every property needs @property(\"name\"), @statement(\"…\") and @basis(\"…\")"
            ));
            continue;
        };
        let at_least = match get("at_least") {
            None => Severity::ReferForReview,
            Some(s) => match Severity::from_name(&s) {
                Some(sev) if sev >= Severity::ReferForReview => sev,
                _ => {
                    problems.push(format!(
                        "{at} (`{name}`): @at_least must be refer_for_review, needs_information or refuse (a severity that stops the request), not {s:?}"
                    ));
                    continue;
                }
            },
        };
        let prefer: Vec<String> = get("prefer")
            .map(|p| p.split("; ").map(str::to_owned).collect())
            .unwrap_or_default();
        if let Some(bad) = prefer.iter().position(|c| !condition_fits(c)) {
            problems.push(format!(
                "{at} (`{name}`): @prefer condition {} ({:?}) is not a Cedar condition over the facts of custos.cedarschema",
                bad + 1,
                prefer[bad]
            ));
            continue;
        }
        out.push(Property {
            name,
            statement,
            basis,
            claim: Claim::Stops {
                at_least,
                condition: Box::new(policy.clone()),
                prefer,
            },
            origin: origin.to_owned(),
        });
    }
    if !problems.is_empty() {
        return Err(PropertyError::Annotations {
            origin: origin.to_owned(),
            details: problems.join("\n"),
        });
    }
    Ok(out)
}

/// The properties `profile` is held to: its built-ins, then those of `extra` (a property
/// file's text and origin), optionally only the one named `only`.
pub fn for_profile(
    profile: &Profile,
    extra: Option<(&str, &str)>,
    only: Option<&str>,
) -> Result<Vec<Property>, PropertyError> {
    let mut all = builtin(profile.name())?;
    if let Some((source, origin)) = extra {
        all.extend(from_cedar(source, origin)?);
    }
    match only {
        None => Ok(all),
        Some(name) => {
            let names: Vec<&str> = all.iter().map(|p| p.name.as_str()).collect();
            let list = names.join(", ");
            all.into_iter()
                .find(|p| p.name == name)
                .map(|p| vec![p])
                .ok_or_else(|| PropertyError::Unknown(name.to_owned(), list))
        }
    }
}

/// Whether `condition` parses as a Cedar condition and fits the schema (strict mode).
fn condition_fits(condition: &str) -> bool {
    let Ok(schema) = custos_safeguards::profile::schema() else {
        return false;
    };
    let text = format!("forbid (principal, action, resource) unless {{ {condition} }};");
    PolicySet::from_str(&text).is_ok_and(|set| {
        Validator::new(schema.clone())
            .validate(&set, ValidationMode::Strict)
            .validation_passed()
    })
}
