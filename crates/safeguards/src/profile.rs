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
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use cedar_policy::{Effect, PolicyId, PolicySet, Schema, ValidationMode, Validator};
use custos_model::suggest::closest;
use miette::Diagnostic;
use serde::Serialize;

use crate::assessment::Severity;
use crate::template::{Template, TemplateError};

/// The Cedar schema of the facts every profile is written against.
pub const SCHEMA_SOURCE: &str = include_str!("../policies/custos.cedarschema");
/// The built-in `convention` profile.
pub const CONVENTION_SOURCE: &str = include_str!("../policies/convention.cedar");
/// The built-in `rights-first` profile.
pub const RIGHTS_FIRST_SOURCE: &str = include_str!("../policies/rights-first.cedar");

/// The names of the built-in profiles, the default first.
pub const BUILTIN_PROFILES: [&str; 2] = ["rights-first", "convention"];

/// The annotations a `forbid` rule may carry.
pub const RULE_ANNOTATIONS: [&str; 6] = [
    "code",
    "severity",
    "basis",
    "message",
    "narrow",
    "limit_days",
];
/// The annotations a `permit` policy may carry (the profile's settings).
pub const SETTING_ANNOTATIONS: [&str; 2] = ["profile", "notify_person"];
/// The values of `@narrow`.
pub const NARROWINGS: [&str; 4] = [
    "drop_categories_outside_measure",
    "cap_period_keep_start",
    "cap_period_keep_end",
    "cap_confidentiality",
];

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

impl Narrowing {
    /// Its `@narrow` name.
    pub fn name(self) -> &'static str {
        match self {
            Narrowing::DropCategoriesOutsideMeasure => NARROWINGS[0],
            Narrowing::CapPeriodKeepStart { .. } => NARROWINGS[1],
            Narrowing::CapPeriodKeepEnd { .. } => NARROWINGS[2],
            Narrowing::CapConfidentiality { .. } => NARROWINGS[3],
        }
    }

    /// What it does, in words for a reader of the profile.
    pub fn describe(self) -> String {
        match self {
            Narrowing::DropCategoriesOutsideMeasure => {
                "drops the data categories the measure cannot reach".to_owned()
            }
            Narrowing::CapPeriodKeepStart { days } => {
                format!("keeps the period's start and ends it at most {days} days later")
            }
            Narrowing::CapPeriodKeepEnd { days } => {
                format!("keeps the period's end and starts it at most {days} days earlier")
            }
            Narrowing::CapConfidentiality { days } => {
                format!("ends secrecy at most {days} days from now")
            }
        }
    }
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
    /// The Cedar text it was loaded from (a proof record names its SHA-256).
    source: Arc<str>,
    policies: PolicySet,
    rules: HashMap<PolicyId, Rule>,
    notify_person: bool,
    /// The name of `@profile`, when a `permit` policy carries one.
    declared_name: Option<String>,
}

/// What kind of problem a profile has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// The text is not Cedar.
    Syntax,
    /// A policy does not fit the schema (`custos.cedarschema`, strict mode): an unknown fact, a
    /// type error.
    Schema,
    /// An annotation is missing or wrong.
    Annotation,
    /// The profile as a whole (e.g. it has no rule).
    Profile,
}

/// A place in a profile's text: line and column from 1, the column counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl Position {
    /// The position of byte `offset` of `source`.
    pub fn of(source: &str, offset: usize) -> Position {
        let mut offset = offset.min(source.len());
        while !source.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &source[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Position { line, column }
    }
}

/// One thing wrong with a profile: what, where, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfileProblem {
    pub kind: ProblemKind,
    /// The policy's number in the file, from 1 (none for a problem of the whole profile or a
    /// syntax error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<usize>,
    /// The policy's `@code`, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The annotation at fault, without its `@`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotation: Option<String>,
    /// Where in the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    /// What is wrong.
    pub message: String,
    /// How to fix it ("did you mean …?").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl ProfileProblem {
    fn new(kind: ProblemKind, message: impl Into<String>) -> ProfileProblem {
        ProfileProblem {
            kind,
            policy: None,
            code: None,
            annotation: None,
            position: None,
            message: message.into(),
            help: None,
        }
    }

    fn help(mut self, help: impl Into<String>) -> ProfileProblem {
        self.help = Some(help.into());
        self
    }

    /// "policy 3 (rule `x`)", or "policy 3", or nothing.
    pub fn policy_label(&self) -> Option<String> {
        let n = self.policy?;
        Some(match &self.code {
            Some(code) => format!("policy {n} (rule `{code}`)"),
            None => format!("policy {n}"),
        })
    }
}

impl fmt::Display for ProfileProblem {
    /// `line 2, column 46, policy 1 (rule `x`): what is wrong; how to fix it`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut place = Vec::new();
        if let Some(p) = self.position {
            place.push(format!("line {}, column {}", p.line, p.column));
        }
        if let Some(policy) = self.policy_label() {
            place.push(policy);
        }
        if !place.is_empty() {
            write!(f, "{}: ", place.join(", "))?;
        }
        f.write_str(&self.message)?;
        if let Some(help) = &self.help {
            write!(f, "; {help}")?;
        }
        Ok(())
    }
}

/// A profile that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error(
        "`{0}` is not a built-in profile; use `rights-first` or `convention`, or give the path of a .cedar file"
    )]
    UnknownBuiltin(String),
    #[error("{origin}: the policies do not parse:\n{}", list(problems))]
    Parse {
        origin: String,
        problems: Vec<ProfileProblem>,
    },
    #[error(
        "{origin}: the policies do not fit the Custos schema (custos.cedarschema) or the rules of its annotations; fix these and load again:\n{}",
        list(problems)
    )]
    Invalid {
        origin: String,
        problems: Vec<ProfileProblem>,
    },
    #[error("the built-in Cedar schema does not load: {0}")]
    BuiltinSchema(String),
}

impl ProfileError {
    /// Every located problem (none for an unknown built-in or a broken built-in schema).
    pub fn problems(&self) -> &[ProfileProblem] {
        match self {
            ProfileError::Parse { problems, .. } | ProfileError::Invalid { problems, .. } => {
                problems
            }
            _ => &[],
        }
    }
}

fn list(problems: &[ProfileProblem]) -> String {
    problems
        .iter()
        .map(|p| format!("- {p}"))
        .collect::<Vec<_>>()
        .join("\n")
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

/// The facts a rule may read (`context.…`), as the schema declares them, in its order.
pub fn fact_names() -> &'static [String] {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let json = cedar_policy::SchemaFragment::from_cedarschema_str(SCHEMA_SOURCE)
            .ok()
            .and_then(|(fragment, _warnings)| fragment.to_json_value().ok());
        json.as_ref()
            .and_then(|j| j["Custos"]["commonTypes"]["Facts"]["attributes"].as_object())
            .map(|attributes| attributes.keys().cloned().collect())
            .unwrap_or_default()
    })
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
        Profile::check(source, default_name).map_err(|e| match e {
            Checked::Syntax(problems) => ProfileError::Parse {
                origin: origin.to_owned(),
                problems,
            },
            Checked::Invalid(problems) => ProfileError::Invalid {
                origin: origin.to_owned(),
                problems,
            },
            Checked::BuiltinSchema(e) => e,
        })
    }

    /// [`Profile::from_cedar`] without an origin: every problem of the text at once (syntax
    /// errors alone when it does not parse; else schema and annotation problems together), in
    /// the order of the file.
    fn check(source: &str, default_name: &str) -> Result<Profile, Checked> {
        let policies = PolicySet::from_str(source)
            .map_err(|e| Checked::Syntax(e.iter().map(|e| syntax_problem(source, e)).collect()))?;
        let places = Places::of(source);
        let schema = schema().map_err(Checked::BuiltinSchema)?;
        let mut problems = Vec::new();

        // Cedar names unnamed policies policy0, policy1, … in source order.
        let mut ordered: Vec<_> = policies.policies().collect();
        ordered.sort_by_key(|p| policy_number(p.id()));
        let number: HashMap<&PolicyId, usize> = ordered
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id(), i + 1))
            .collect();

        let result = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
        for e in result.validation_errors() {
            let id = e.policy_id();
            let mut p = ProfileProblem::new(ProblemKind::Schema, schema_message(e, id));
            p.policy = number.get(id).copied();
            p.code = policies
                .policy(id)
                .and_then(|p| p.annotation("code"))
                .map(str::to_owned);
            let span = e.labels().and_then(|mut l| l.next());
            if let Some(span) = &span {
                p.position = Some(Position::of(source, span.offset()));
            }
            let snippet = span.and_then(|s| source.get(s.offset()..s.offset() + s.len()));
            p.help = fact_suggestion(snippet).or_else(|| e.help().map(|h| h.to_string()));
            problems.push(p);
        }

        let mut name = default_name.to_owned();
        let mut declared_name = None;
        let mut notify_person = false;
        let mut rules = HashMap::new();
        let mut forbids = 0;
        for (index, policy) in ordered.into_iter().enumerate() {
            let at = Located {
                source,
                places: places.get(policy.id().as_ref()),
                number: index + 1,
                code: policy.annotation("code").map(str::to_owned),
            };
            let known: &[&str] = match policy.effect() {
                Effect::Permit => &SETTING_ANNOTATIONS,
                Effect::Forbid => &RULE_ANNOTATIONS,
            };
            for (key, _) in policy.annotations() {
                if let Some(problem) = misspelt_annotation(&at, key, known) {
                    problems.push(problem);
                }
            }
            match policy.effect() {
                Effect::Permit => {
                    if let Some(n) = policy.annotation("profile") {
                        name = n.to_owned();
                        declared_name = Some(n.to_owned());
                    }
                    match policy.annotation("notify_person") {
                        None => {}
                        Some("true") => notify_person = true,
                        Some("false") => notify_person = false,
                        Some(other) => problems.push(
                            at.value(
                                "notify_person",
                                format!(
                                    "@notify_person must be \"true\" or \"false\", not {other:?}"
                                ),
                            )
                            .help("write @notify_person(\"true\") or @notify_person(\"false\")"),
                        ),
                    }
                }
                Effect::Forbid => {
                    forbids += 1;
                    match rule_of(policy, index, &at) {
                        Ok(rule) => {
                            rules.insert(policy.id().clone(), rule);
                        }
                        Err(mut found) => problems.append(&mut found),
                    }
                }
            }
        }
        if forbids == 0 {
            problems.push(
                ProfileProblem::new(ProblemKind::Profile, "the profile has no `forbid` rules")
                    .help("a profile is a set of safeguard rules, one `forbid` policy each"),
            );
        }
        if !problems.is_empty() {
            // The order of the file; problems of the whole profile last.
            problems.sort_by_key(|p| {
                p.position
                    .map_or((usize::MAX, usize::MAX), |p| (p.line, p.column))
            });
            return Err(Checked::Invalid(problems));
        }
        Ok(Profile {
            name,
            source: Arc::from(source),
            policies,
            rules,
            notify_person,
            declared_name,
        })
    }

    /// Every problem of a profile's text, located, for `custos policy check`: the profile when
    /// it has none.
    pub fn problems(source: &str, default_name: &str) -> Result<Profile, Vec<ProfileProblem>> {
        Profile::check(source, default_name).map_err(|e| match e {
            Checked::Syntax(p) | Checked::Invalid(p) => p,
            Checked::BuiltinSchema(e) => {
                vec![ProfileProblem::new(ProblemKind::Profile, e.to_string())]
            }
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name its `@profile` annotation gives, if any: the built-in profile whose properties
    /// it is held to when that is a built-in name.
    pub fn declared_name(&self) -> Option<&str> {
        self.declared_name.as_deref()
    }

    /// The Cedar text it was loaded from.
    pub fn source(&self) -> &str {
        &self.source
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

/// Which policy a place of a text that does not parse is in, and its `@code` if it has one so
/// far: policies end with `;` outside strings and comments, so a count of those before the place
/// is the policy's number less one.
fn policy_at(source: &str, offset: usize) -> (usize, Option<String>) {
    let mut number = 1;
    let mut start = 0;
    let mut chars = source.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if i >= offset {
            break;
        }
        match c {
            '"' => {
                while let Some((_, c)) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '/' if chars.peek().is_some_and(|(_, c)| *c == '/') => {
                for (_, c) in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            ';' => {
                number += 1;
                start = i + 1;
            }
            _ => {}
        }
    }
    let head = source.get(start..offset.min(source.len())).unwrap_or("");
    let code = head.find("@code(").and_then(|at| {
        let rest = &head[at + "@code(".len()..];
        let open = rest.find('"').filter(|o| rest[..*o].trim().is_empty())?;
        let close = rest[open + 1..].find('"')?;
        Some(rest[open + 1..open + 1 + close].to_owned())
    });
    (number, code)
}

/// Why [`Profile::check`] refused.
enum Checked {
    Syntax(Vec<ProfileProblem>),
    Invalid(Vec<ProfileProblem>),
    BuiltinSchema(ProfileError),
}

/// The order of a policy in its file: Cedar names unnamed policies policy0, policy1, … in
/// source order.
pub fn policy_number(id: &PolicyId) -> (usize, String) {
    let s = id.to_string();
    let n = s
        .strip_prefix("policy")
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX);
    (n, s)
}

/// Where each policy and each of its annotations starts in the text (byte offsets), from
/// Cedar's own source locations: the public API of `cedar-policy` keeps them to itself, so the
/// text is parsed a second time by `cedar-policy-core`, which numbers policies alike.
#[derive(Debug, Default)]
struct Places(HashMap<String, PolicyPlaces>);

#[derive(Debug, Default, Clone)]
struct PolicyPlaces {
    start: Option<usize>,
    /// Each annotation's `@key("value")`, as a byte range.
    annotations: HashMap<String, (usize, usize)>,
}

impl Places {
    fn of(source: &str) -> Places {
        let Ok(set) = cedar_policy_core::parser::parse_policyset(source) else {
            return Places::default();
        };
        let places = set
            .policies()
            .map(|p| {
                let annotations = p
                    .annotations()
                    .filter_map(|(k, a)| {
                        a.loc
                            .as_ref()
                            .map(|l| (k.as_ref().to_owned(), (l.start(), l.end())))
                    })
                    .collect();
                (
                    p.id().to_string(),
                    PolicyPlaces {
                        start: p.loc().map(|l| l.start()),
                        annotations,
                    },
                )
            })
            .collect();
        Places(places)
    }

    fn get(&self, id: &str) -> PolicyPlaces {
        self.0.get(id).cloned().unwrap_or_default()
    }
}

/// A policy being checked, to locate its problems.
struct Located<'a> {
    source: &'a str,
    places: PolicyPlaces,
    number: usize,
    code: Option<String>,
}

impl Located<'_> {
    fn problem(
        &self,
        annotation: Option<&str>,
        offset: Option<usize>,
        message: String,
    ) -> ProfileProblem {
        ProfileProblem {
            kind: ProblemKind::Annotation,
            policy: Some(self.number),
            code: self.code.clone(),
            annotation: annotation.map(str::to_owned),
            position: offset.map(|o| Position::of(self.source, o)),
            message,
            help: None,
        }
    }

    /// A missing annotation: at the policy's start.
    fn missing(&self, key: &str, message: String) -> ProfileProblem {
        self.problem(Some(key), self.places.start, message)
    }

    /// The annotation's text `@key("value")`.
    fn annotation_text(&self, key: &str) -> Option<(usize, &str)> {
        let (start, end) = *self.places.annotations.get(key)?;
        Some((start, self.source.get(start..end)?))
    }

    /// A wrong value: at the value's opening quote.
    fn value(&self, key: &str, message: String) -> ProfileProblem {
        let offset = self
            .annotation_text(key)
            .map(|(start, text)| start + text.find('"').unwrap_or(0));
        self.problem(Some(key), offset.or(self.places.start), message)
    }

    /// A wrong annotation name: at its `@`.
    fn key(&self, key: &str, message: String) -> ProfileProblem {
        let offset = self.annotation_text(key).map(|(start, _)| start);
        self.problem(Some(key), offset.or(self.places.start), message)
    }

    /// A problem of a template: at the placeholder at fault when it can be found, else at the
    /// value.
    fn template(&self, key: &str, e: &TemplateError) -> ProfileProblem {
        let mut p = self.value(key, format!("@{key}: {e}"));
        p.help = match e {
            TemplateError::Unclosed { .. } => {
                Some("close the placeholder with `}`, or remove the `{`".to_owned())
            }
            TemplateError::LimitDaysWithoutLimit => {
                Some("add @limit_days(\"N\") to the rule, or leave {limit_days} out".to_owned())
            }
            TemplateError::Unknown { .. } => None,
        };
        if let TemplateError::Unknown {
            name, suggestion, ..
        } = e
        {
            let hole = format!("{{{name}}}");
            if let Some((start, text)) = self.annotation_text(key)
                && let Some(i) = text.find(&hole)
            {
                p.position = Some(Position::of(self.source, start + i));
            }
            p.message = format!("@{key}: unknown placeholder {hole}");
            let known = crate::template::Placeholder::names().join(", ");
            p.help = Some(match suggestion {
                Some(s) => format!("did you mean `{{{s}}}`? The known placeholders: {known}"),
                None => format!("the known placeholders: {known}"),
            });
        }
        p
    }
}

/// An annotation this kind of policy does not know but whose name is one edit from one it
/// does (`@severty`): a misspelling that would otherwise pass silently or as "missing".
/// Other annotations (`@comment`) are the operator's own and allowed.
fn misspelt_annotation(at: &Located<'_>, key: &str, known: &[&str]) -> Option<ProfileProblem> {
    if known.contains(&key) {
        return None;
    }
    let lower = key.to_ascii_lowercase();
    let near = known
        .iter()
        .copied()
        .find(|k| *k == lower)
        .or_else(|| closest(&lower, known.iter().copied(), 1))?;
    Some(
        at.key(key, format!("@{key} is not an annotation Custos reads"))
            .help(format!("did you mean @{near}?")),
    )
}

fn rule_of(
    policy: &cedar_policy::Policy,
    index: usize,
    at: &Located<'_>,
) -> Result<Rule, Vec<ProfileProblem>> {
    let mut problems = Vec::new();
    let mut get = |key: &str, example: &str| match policy.annotation(key) {
        Some(v) if !v.trim().is_empty() => Some(v),
        Some(_) => {
            problems.push(
                at.value(key, format!("@{key} is empty"))
                    .help(format!("write it, e.g. @{key}(\"{example}\")")),
            );
            None
        }
        None => {
            problems.push(
                at.missing(key, format!("every forbid rule needs @{key}(\"…\")"))
                    .help(format!("add @{key}(\"{example}\") above the policy")),
            );
            None
        }
    };
    let code = get("code", "short-stable-name").map(str::to_owned);
    let severity_name = get("severity", "refer_for_review");
    let message_text = get(
        "message",
        "What the reviewer reads, e.g. {Measure} needs an order (data asked: {categories}).",
    );
    let basis_text = get("basis", "UNCC art. 24; N&P principle 3");

    let severity = severity_name.and_then(|name| {
        let severity = Severity::from_name(name);
        if severity.is_none() {
            let names: Vec<_> = Severity::ALL.iter().rev().map(|s| s.as_str()).collect();
            let help = match suggest(name, &names, 3) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("use one of {}", names.join(", ")),
            };
            problems.push(
                at.value(
                    "severity",
                    format!(
                        "@severity {name:?} is not one of refuse, needs_information, refer_for_review, narrow, note"
                    ),
                )
                .help(help),
            );
        }
        severity
    });

    let limit_days = match policy.annotation("limit_days") {
        None => Ok(None),
        Some(v) => match v.trim().parse::<u32>().ok().filter(|d| *d >= 1) {
            Some(d) => Ok(Some(d)),
            None => {
                problems.push(
                    at.value(
                        "limit_days",
                        format!("@limit_days must be a whole number of days ≥ 1, not {v:?}"),
                    )
                    .help("write the number of days alone, in quotes, e.g. @limit_days(\"90\")"),
                );
                Err(())
            }
        },
    };

    // Ok(None): no @narrow; Err(()): a wrong one, already said.
    let narrowing = match policy.annotation("narrow") {
        None => Ok(None),
        Some(kind) => {
            let mut days = || match limit_days {
                Ok(Some(d)) => Ok(d),
                Ok(None) => {
                    problems.push(
                        at.value(
                            "narrow",
                            format!("@narrow(\"{kind}\") needs @limit_days(\"N\")"),
                        )
                        .help("add @limit_days(\"N\"), the most days it leaves"),
                    );
                    Err(())
                }
                Err(()) => Err(()),
            };
            match kind {
                "drop_categories_outside_measure" => Ok(Narrowing::DropCategoriesOutsideMeasure),
                "cap_period_keep_start" => {
                    days().map(|days| Narrowing::CapPeriodKeepStart { days })
                }
                "cap_period_keep_end" => days().map(|days| Narrowing::CapPeriodKeepEnd { days }),
                "cap_confidentiality" => days().map(|days| Narrowing::CapConfidentiality { days }),
                other => {
                    let help = match suggest(other, &NARROWINGS, 4) {
                        Some(n) => format!("did you mean `{n}`?"),
                        None => format!("use one of {}", NARROWINGS.join(", ")),
                    };
                    problems.push(
                        at.value(
                            "narrow",
                            format!("@narrow {other:?} is not one of {}", NARROWINGS.join(", ")),
                        )
                        .help(help),
                    );
                    Err(())
                }
            }
            .map(Some)
        }
    };

    match (severity, &narrowing) {
        (Some(Severity::Narrow), Ok(None)) => problems.push(
            at.value(
                "severity",
                "a rule of severity narrow must say how with @narrow(\"…\")".to_owned(),
            )
            .help(format!(
                "add @narrow(\"…\"), one of {}",
                NARROWINGS.join(", ")
            )),
        ),
        (Some(s), Ok(Some(_)) | Err(()))
            if s != Severity::Narrow && policy.annotation("narrow").is_some() =>
        {
            problems.push(
                at.key(
                    "narrow",
                    format!("@narrow only belongs on rules of severity narrow, this one is {s}"),
                )
                .help("remove @narrow, or make the rule's @severity(\"narrow\")"),
            );
        }
        _ => {}
    }

    let has_limit = matches!(limit_days, Ok(Some(_)));
    let message = message_text.and_then(|text| match Template::parse(text, has_limit) {
        Ok(t) => Some(t),
        Err(e) => {
            problems.push(at.template("message", &e));
            None
        }
    });
    let basis = basis_text.map(|text| {
        text.split("; ")
            .filter_map(|b| match Template::parse(b.trim(), has_limit) {
                Ok(t) => Some(t),
                Err(e) => {
                    problems.push(at.template("basis", &e));
                    None
                }
            })
            .collect::<Vec<_>>()
    });

    match (code, severity, message, basis, limit_days, narrowing) {
        (Some(code), Some(severity), Some(message), Some(basis), Ok(limit_days), Ok(narrowing))
            if problems.is_empty() =>
        {
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
        _ => Err(problems),
    }
}

/// The name meant by `word`: the one it begins (at least three letters), else the nearest
/// within `max` edits.
fn suggest<'a>(word: &str, names: &[&'a str], max: usize) -> Option<&'a str> {
    let word = word.trim().to_ascii_lowercase();
    let mut beginning = names
        .iter()
        .filter(|n| word.len() >= 3 && n.starts_with(&word));
    match (beginning.next(), beginning.next()) {
        (Some(name), None) => Some(name),
        _ => closest(&word, names.iter().copied(), max),
    }
}

/// Cedar's message without its `for policy `policy0`, ` prefix: the policy's number in the file
/// is given beside it, and Cedar's internal name would only confuse.
fn schema_message(e: &cedar_policy::ValidationError, id: &PolicyId) -> String {
    let text = e.to_string();
    let prefix = format!("for policy `{id}`, ");
    text.strip_prefix(&prefix).unwrap_or(&text).to_owned()
}

/// For a fact the schema does not know (`context.asks_contents`), the closest it does, else
/// those whose name holds it (`penalty`: `max_penalty_years`), else where the facts are listed.
fn fact_suggestion(snippet: Option<&str>) -> Option<String> {
    let snippet = snippet?.trim();
    let (object, attribute) = snippet.rsplit_once('.')?;
    if object.trim() != "context" {
        return None;
    }
    let attribute = attribute.trim();
    let names = fact_names();
    if names.iter().any(|n| n == attribute) {
        return None;
    }
    if let Some(near) = closest(attribute, names.iter().map(String::as_str), 3) {
        return Some(format!("did you mean `context.{near}`?"));
    }
    let holding: Vec<String> = names
        .iter()
        .filter(|n| attribute.len() >= 4 && n.contains(attribute))
        .map(|n| format!("`context.{n}`"))
        .collect();
    Some(match holding.as_slice() {
        [] => "no fact of that name or near it: the facts a rule may read are declared in custos.cedarschema (`Facts`)".to_owned(),
        [one] => format!("did you mean {one}?"),
        many => format!("did you mean one of {}?", many.join(", ")),
    })
}

fn syntax_problem(source: &str, e: &cedar_policy::ParseError) -> ProfileProblem {
    let mut p = ProfileProblem::new(ProblemKind::Syntax, e.to_string());
    let mut labels = e.labels().into_iter().flatten();
    if let Some(label) = labels.next() {
        p.position = Some(Position::of(source, label.offset()));
        let (number, code) = policy_at(source, label.offset());
        p.policy = Some(number);
        p.code = code;
        if let Some(l) = label.label() {
            p.message = format!("{}: {l}", p.message);
        }
    }
    p.help = e.help().map(|h| h.to_string());
    p
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
        assert!(matches!(e, ProfileError::Invalid { .. }), "{text}");
        assert!(text.contains("is_intrusiv"), "{text}");
        assert!(text.contains("rule `x`"), "{text}");
        assert!(text.contains("line 2"), "{text}");
        let e = load(
            "@code(\"x\") @severity(\"refuse\") @basis(\"b\") @message(\"m\")\nforbid (principal, action, resource) when { context.target_count > \"10\" };",
        )
        .unwrap_err();
        assert!(matches!(e, ProfileError::Invalid { .. }), "{e}");
    }

    #[test]
    fn the_facts_are_read_from_the_schema() {
        let names = fact_names();
        for fact in [
            "measure",
            "asks_content",
            "period_days",
            "heightened_scrutiny",
        ] {
            assert!(names.iter().any(|n| n == fact), "{fact} in {names:?}");
        }
        assert!(names.len() >= 40, "{names:?}");
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
