//! `custos policy check`: an operator's profile against the schema and the annotation rules,
//! before it is deployed. Syntax, schema and annotations only: a profile that drops rules is
//! valid here; whether its safeguards still hold is `prove`'s question.
//!
//! The checks are the loader's own (`custos_safeguards::Profile::problems`, the path every
//! profile takes into a node), so a profile this passes is one `custos serve` loads. Every
//! problem is reported at once, each with the policy (number in the file, `@code`), the
//! annotation, the line and column, and what to do.

use custos_safeguards::{BUILTIN_PROFILES, ProblemKind, Profile, ProfileProblem, Severity};
use serde::Serialize;

/// The format tag of the JSON report.
pub const CHECK_FORMAT: &str = "custos.policy-check/v1";

/// What the check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Always [`CHECK_FORMAT`].
    pub format: &'static str,
    /// The file, as given.
    pub file: String,
    pub valid: bool,
    /// The profile, when it is valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<Summary>,
    /// Every problem, in the order of the file (empty when valid).
    pub problems: Vec<ProfileProblem>,
}

/// A valid profile in figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Its name (`@profile`, else the file's stem).
    pub name: String,
    /// The number of rules (`forbid` policies).
    pub rules: usize,
    /// Rules per severity, most severe first; every severity is listed.
    pub by_severity: Vec<SeverityCount>,
    /// The built-in profile its `@profile` names, whose properties `custos policy prove` holds
    /// it to; `None` when it names none.
    pub builtin_properties: Option<String>,
    /// Whether the person concerned is notified when secrecy ends (`@notify_person`).
    pub notify_person: bool,
}

/// How many rules have one severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SeverityCount {
    pub severity: Severity,
    pub rules: usize,
}

/// Checks the Cedar text of `file`; `default_name` is the profile's name unless it names
/// itself (the loaders use the file's stem).
pub fn check(file: &str, source: &str, default_name: &str) -> Report {
    match Profile::problems(source, default_name) {
        Ok(profile) => Report {
            format: CHECK_FORMAT,
            file: file.to_owned(),
            valid: true,
            profile: Some(summary(&profile)),
            problems: Vec::new(),
        },
        Err(problems) => Report {
            format: CHECK_FORMAT,
            file: file.to_owned(),
            valid: false,
            profile: None,
            problems,
        },
    }
}

fn summary(profile: &Profile) -> Summary {
    let rules = profile.rules();
    let by_severity = Severity::ALL
        .iter()
        .rev()
        .map(|&severity| SeverityCount {
            severity,
            rules: rules.iter().filter(|r| r.severity == severity).count(),
        })
        .collect();
    Summary {
        name: profile.name().to_owned(),
        rules: rules.len(),
        by_severity,
        builtin_properties: profile
            .declared_name()
            .filter(|n| BUILTIN_PROFILES.contains(n))
            .map(str::to_owned),
        notify_person: profile.notifies_person(),
    }
}

impl Report {
    /// The first line: the verdict.
    pub fn headline(&self) -> String {
        match &self.profile {
            Some(p) => format!("{}: profile `{}` is valid", self.file, p.name),
            None => {
                let n = self.problems.len();
                let problems = if n == 1 { "problem" } else { "problems" };
                format!(
                    "{}: {n} {problems}; the profile cannot be used until {} fixed",
                    self.file,
                    if n == 1 { "it is" } else { "they are" }
                )
            }
        }
    }

    /// The report for people: the headline, then the profile in figures or one entry per
    /// problem (`FILE:LINE:COLUMN: [kind] policy N (rule `code`): what; help: what to do`).
    pub fn text(&self) -> String {
        let mut out = self.headline();
        out.push('\n');
        if let Some(p) = &self.profile {
            let counts: Vec<String> = p
                .by_severity
                .iter()
                .filter(|c| c.rules > 0)
                .map(|c| format!("{} {}", c.rules, c.severity.label()))
                .collect();
            out.push_str(&format!(
                "  rules: {} ({})\n",
                p.rules,
                if counts.is_empty() {
                    "none".to_owned()
                } else {
                    counts.join(", ")
                }
            ));
            out.push_str(&match &p.builtin_properties {
                Some(b) => format!(
                    "  properties: @profile(\"{b}\") names the built-in profile `{b}`; `custos policy prove --profile {}` holds it to `{b}`'s properties\n",
                    self.file
                ),
                None => "  properties: its @profile names no built-in profile, so it is held to no built-in profile's properties\n".to_owned(),
            });
            out.push_str(&format!(
                "  notice to the person concerned: {}\n",
                if p.notify_person { "yes" } else { "no" }
            ));
            return out;
        }
        for problem in &self.problems {
            out.push_str(&self.file);
            if let Some(at) = problem.position {
                out.push_str(&format!(":{}:{}", at.line, at.column));
            }
            out.push_str(&format!(": [{}]", kind_word(problem.kind)));
            if let Some(policy) = problem.policy_label() {
                out.push_str(&format!(" {policy}"));
            }
            out.push_str(&format!(": {}\n", problem.message));
            if let Some(help) = &problem.help {
                out.push_str(&format!("    help: {help}\n"));
            }
        }
        out
    }
}

fn kind_word(kind: ProblemKind) -> &'static str {
    match kind {
        ProblemKind::Syntax => "syntax",
        ProblemKind::Schema => "schema",
        ProblemKind::Annotation => "annotation",
        ProblemKind::Profile => "profile",
    }
}
