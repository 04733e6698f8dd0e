//! Message templates: the `@message` and `@basis` annotations of a rule, with `{fact}` holes that
//! Custos fills in ("The period spans {period_days} days").
//!
//! Templates are parsed when a profile is loaded, so a misspelt placeholder is a load error, not a
//! broken sentence in front of a reviewer. `{Name}` with a capital letter capitalises the value
//! (for the start of a sentence).

use custos_model::{
    AuthorizationKind, DataCategory, MaxPenalty, Measure, Offence, Request, Timestamp,
};

use crate::assessment::Narrowed;
use crate::facts::Facts;
use crate::jurisdiction::{Jurisdiction, LocalStatus};

/// Everything a placeholder may draw on.
pub(crate) struct RenderEnv<'a> {
    pub request: &'a Request,
    pub facts: &'a Facts,
    pub jurisdiction: &'a Jurisdiction,
    /// The request with every narrowing of the profile applied.
    pub narrowed: &'a Narrowed,
    /// The rule's own `@limit_days`.
    pub limit_days: Option<u32>,
}

macro_rules! placeholders {
    ($($variant:ident = $name:literal: $doc:literal,)*) => {
        /// A fact that a message may mention.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Placeholder { $(#[doc = $doc] $variant,)* }

        impl Placeholder {
            /// Every placeholder with what it stands for (for documentation and error messages).
            pub const ALL: &'static [(&'static str, &'static str)] = &[$(($name, $doc),)*];
            /// Every placeholder, in the order of [`Placeholder::ALL`].
            const VARIANTS: &'static [Placeholder] = &[$(Placeholder::$variant,)*];

            fn from_name(name: &str) -> Option<Placeholder> {
                match name { $($name => Some(Placeholder::$variant),)* _ => None }
            }
        }
    };
}

placeholders! {
    Measure = "measure": "the measure in plain words, e.g. `interception of content`",
    MeasureBasis = "measure_basis": "the articles that provide for the measure, e.g. `UNCC art. 27`",
    Channel = "channel": "the channel in plain words",
    Categories = "categories": "the data categories asked for",
    Reach = "reach": "the data categories the measure can reach",
    OutsideCategories = "outside_categories": "the asked categories the measure cannot reach",
    NarrowedCategories = "narrowed_categories": "the categories left after narrowing",
    PeriodDays = "period_days": "the length of the period in days, rounded up",
    LimitDays = "limit_days": "the rule's own `@limit_days`",
    NarrowedPeriod = "narrowed_period": "the period after narrowing, `from .. to`",
    NarrowedUntil = "narrowed_until": "the end of secrecy after narrowing",
    ConfidentialityDays = "confidentiality_days": "days from now to the requested end of secrecy",
    TargetCount = "target_count": "the number of targets",
    MaxPenalty = "max_penalty": "the highest maximum penalty among the offences",
    MissingInformation = "missing_information": "the required statements that are missing",
    Jurisdiction = "jurisdiction": "the receiving jurisdiction's name",
    State = "state": "the requesting state's code",
    NotLocallyCriminal = "not_locally_criminal": "the offences known not to be criminal locally",
    ExpressionOffences = "expression_offences": "the expression offences",
    CoreCybercrimes = "core_cybercrimes": "the core cybercrimes (UNCC arts. 7–11)",
    Authorization = "authorization": "the authorization the request rests on, in words",
    RequiredAuthorization = "required_authorization": "the order that must follow an emergency",
    DataProtectionGaps = "data_protection_gaps": "what is missing from the data-protection terms",
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Fact {
        placeholder: Placeholder,
        capitalize: bool,
    },
}

/// A parsed message or basis template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    text: String,
    parts: Vec<Part>,
}

/// Why a template does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("`{{` without a closing `}}` in {text:?}")]
    Unclosed { text: String },
    #[error("unknown placeholder {{{name}}}; known placeholders: {}", Placeholder::names().join(", "))]
    Unknown {
        /// As written, without the braces.
        name: String,
        /// Byte offset of its `{` in the template.
        offset: usize,
        /// The known placeholder closest to it, if any is near.
        suggestion: Option<&'static str>,
    },
    #[error("{{limit_days}} is used but the rule has no @limit_days")]
    LimitDaysWithoutLimit,
}

impl Placeholder {
    /// The names of every placeholder, in the order of [`Placeholder::ALL`].
    pub fn names() -> Vec<&'static str> {
        Placeholder::ALL.iter().map(|(n, _)| *n).collect()
    }
}

impl Template {
    /// Parses `text`; `limit_days` says whether the rule has a `@limit_days` to refer to.
    pub fn parse(text: &str, has_limit_days: bool) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 1..];
            let close = after.find('}').ok_or_else(|| TemplateError::Unclosed {
                text: text.to_owned(),
            })?;
            let name = &after[..close];
            let capitalize = name.starts_with(|c: char| c.is_ascii_uppercase());
            let lower = lowercase_first(name);
            let placeholder =
                Placeholder::from_name(&lower).ok_or_else(|| TemplateError::Unknown {
                    name: name.to_owned(),
                    offset: text.len() - rest.len() + open,
                    suggestion: custos_model::suggest::closest(&lower, Placeholder::names(), 3),
                })?;
            if placeholder == Placeholder::LimitDays && !has_limit_days {
                return Err(TemplateError::LimitDaysWithoutLimit);
            }
            parts.push(Part::Fact {
                placeholder,
                capitalize,
            });
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Template {
            text: text.to_owned(),
            parts,
        })
    }

    /// The template as written in the profile.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The template for a reader who has no request at hand: each placeholder replaced by what
    /// it stands for, in brackets ("[the articles that provide for the measure]").
    pub fn outline(&self) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Fact { placeholder, .. } => {
                    let doc = Placeholder::ALL
                        .iter()
                        .zip(Placeholder::VARIANTS)
                        .find(|(_, p)| *p == placeholder)
                        .map_or("", |((_, doc), _)| *doc);
                    let doc = doc.split(", e.g.").next().unwrap_or(doc);
                    out.push('[');
                    out.push_str(doc);
                    out.push(']');
                }
            }
        }
        out
    }

    pub(crate) fn render(&self, env: &RenderEnv<'_>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Fact {
                    placeholder,
                    capitalize,
                } => {
                    let value = value_of(*placeholder, env);
                    if *capitalize {
                        out.push_str(&capitalize_first(&value));
                    } else {
                        out.push_str(&value);
                    }
                }
            }
        }
        out
    }
}

fn lowercase_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_ascii_lowercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

fn capitalize_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// A time for people: the date alone when it is midnight UTC, otherwise date and time in UTC.
pub fn when(t: Timestamp) -> String {
    if t.as_second().rem_euclid(86_400) == 0 && t.subsec_nanosecond() == 0 {
        t.strftime("%Y-%m-%d").to_string()
    } else {
        t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
    }
}

/// "a", "a and b", "a, b and c".
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn categories_words(set: custos_model::DataCategories) -> String {
    let words: Vec<String> = set
        .iter()
        .map(|c| match c {
            DataCategory::Subscriber => "subscriber information".to_owned(),
            DataCategory::Traffic => "traffic data".to_owned(),
            DataCategory::Content => "content".to_owned(),
        })
        .collect();
    if words.is_empty() {
        "no data".to_owned()
    } else {
        and_list(&words)
    }
}

fn offences_words<'a>(offences: impl Iterator<Item = &'a Offence>) -> String {
    let items: Vec<String> = offences
        .map(|o| format!("“{}” ({})", o.name, o.category))
        .collect();
    items.join("; ")
}

fn highest_penalty(offences: &[Offence]) -> Option<MaxPenalty> {
    // Death above life above any number of years.
    fn rank(p: MaxPenalty) -> (u8, f64) {
        match p {
            MaxPenalty::Years(y) => (0, y),
            MaxPenalty::Life => (1, 0.0),
            MaxPenalty::Death => (2, 0.0),
        }
    }
    offences.iter().map(|o| o.max_penalty).max_by(|a, b| {
        let (ra, ya) = rank(*a);
        let (rb, yb) = rank(*b);
        ra.cmp(&rb).then(ya.total_cmp(&yb))
    })
}

fn value_of(placeholder: Placeholder, env: &RenderEnv<'_>) -> String {
    let r = env.request;
    let measure: Measure = r.measure;
    match placeholder {
        Placeholder::Measure => measure.describe().to_owned(),
        Placeholder::MeasureBasis => measure.basis().to_owned(),
        Placeholder::Channel => r.channel.describe().to_owned(),
        Placeholder::Categories => categories_words(r.data_categories),
        Placeholder::Reach => categories_words(measure.reach()),
        Placeholder::OutsideCategories => {
            categories_words(r.data_categories.difference(measure.reach()))
        }
        Placeholder::NarrowedCategories => categories_words(env.narrowed.data_categories),
        Placeholder::PeriodDays => env
            .facts
            .period_days
            .map_or_else(|| "no".to_owned(), |d| d.to_string()),
        Placeholder::LimitDays => env.limit_days.unwrap_or_default().to_string(),
        Placeholder::NarrowedPeriod => match env.narrowed.period {
            Some(p) => format!("{} .. {}", when(p.from), when(p.to)),
            None => "no period".to_owned(),
        },
        Placeholder::NarrowedUntil => match env.narrowed.confidentiality_until {
            Some(t) => when(t),
            None => "never".to_owned(),
        },
        Placeholder::ConfidentialityDays => env
            .facts
            .confidentiality_days_from_now
            .map_or_else(|| "unlimited".to_owned(), |d| d.to_string()),
        Placeholder::TargetCount => env.facts.target_count.to_string(),
        Placeholder::MaxPenalty => highest_penalty(&r.investigation.offences)
            .map_or_else(|| "none".to_owned(), |p| p.to_string()),
        Placeholder::MissingInformation => {
            let f = env.facts;
            let mut missing = Vec::new();
            if !f.summary_of_facts_given {
                missing.push("a summary of the facts".to_owned());
            }
            if !f.authority_conducting_given {
                missing.push("the authority conducting the investigation".to_owned());
            }
            if !f.purpose_given {
                missing.push("the purpose of the evidence".to_owned());
            }
            if measure == Measure::PreserveStoredData {
                if !f.necessity_given {
                    missing.push("why preservation is necessary".to_owned());
                }
                if !f.mla_followup_intended {
                    missing.push(
                        "an undertaking that a request for disclosure will follow".to_owned(),
                    );
                }
            }
            if missing.is_empty() {
                "everything a request must contain".to_owned()
            } else {
                and_list(&missing)
            }
        }
        Placeholder::Jurisdiction => env.jurisdiction.display_name().to_owned(),
        Placeholder::State => r.requesting_authority.state.to_string(),
        Placeholder::NotLocallyCriminal => offences_words(
            r.investigation
                .offences
                .iter()
                .filter(|o| env.jurisdiction.local_status(o.category) == LocalStatus::NotCriminal),
        ),
        Placeholder::ExpressionOffences => offences_words(
            r.investigation
                .offences
                .iter()
                .filter(|o| o.category.is_expression_offence()),
        ),
        Placeholder::CoreCybercrimes => offences_words(
            r.investigation
                .offences
                .iter()
                .filter(|o| o.category.is_core_cybercrime()),
        ),
        Placeholder::Authorization => match r.authorization_kind() {
            None => "no authorization at all".to_owned(),
            Some(AuthorizationKind::None) => "no authorization".to_owned(),
            Some(AuthorizationKind::Judicial) => "a judicial order".to_owned(),
            Some(AuthorizationKind::Independent) => "an order of an independent body".to_owned(),
            Some(AuthorizationKind::Prosecutorial) => "a prosecutor's order".to_owned(),
            Some(AuthorizationKind::Administrative) => "an administrative order".to_owned(),
        },
        Placeholder::RequiredAuthorization => {
            if required_order(r) == [AuthorizationKind::Judicial] {
                "a judge's order".to_owned()
            } else {
                "a judge's or a prosecutor's order".to_owned()
            }
        }
        Placeholder::DataProtectionGaps => match &r.data_protection {
            None => "none are given".to_owned(),
            Some(d) => {
                let mut gaps = Vec::new();
                if d.retention_days.is_none() {
                    gaps.push("no retention limit".to_owned());
                }
                if d.purpose_limited != Some(true) {
                    gaps.push("no commitment to use the data only for this purpose".to_owned());
                }
                if d.onward_transfer == Some(custos_model::OnwardTransfer::Unrestricted) {
                    gaps.push("unrestricted onward transfer".to_owned());
                }
                and_list(&gaps)
            }
        },
    }
}

/// The kinds of order that must follow an emergency whose justification waived prior
/// authorization (`rights-first`'s `judicial-authorization` note): a judge's for stored traffic
/// data, a judge's or a prosecutor's otherwise (EU Reg. 2023/1543 art. 4(1)–(2), confirmed in
/// the project's research). The one definition, read by the note's message and by the node
/// that checks the order when it arrives.
pub fn required_order(r: &Request) -> &'static [AuthorizationKind] {
    if r.data_categories.contains(DataCategory::Traffic) && r.measure == Measure::ProduceStoredData
    {
        &[AuthorizationKind::Judicial]
    } else {
        &[
            AuthorizationKind::Judicial,
            AuthorizationKind::Prosecutorial,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_reports_unknown_placeholders_and_bad_braces() {
        assert!(Template::parse("plain", false).is_ok());
        assert!(Template::parse("{Measure} of {categories}", false).is_ok());
        let e = Template::parse("days: {perod_days}", false).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("unknown placeholder {perod_days}"),
            "{e}"
        );
        assert_eq!(
            e,
            TemplateError::Unknown {
                name: "perod_days".into(),
                offset: 6,
                suggestion: Some("period_days")
            }
        );
        let e = Template::parse("oops {measure", false).unwrap_err();
        assert!(e.to_string().contains("without a closing"), "{e}");
        let e = Template::parse("{limit_days}", false).unwrap_err();
        assert!(e.to_string().contains("no @limit_days"), "{e}");
        assert!(Template::parse("{limit_days}", true).is_ok());
    }

    #[test]
    fn a_template_keeps_its_text_and_outlines_its_placeholders() {
        let t = Template::parse("{Measure} under {measure_basis}", false).unwrap();
        assert_eq!(t.text(), "{Measure} under {measure_basis}");
        assert_eq!(
            t.outline(),
            "[the measure in plain words] under [the articles that provide for the measure]"
        );
    }

    #[test]
    fn lists_and_times_read_well() {
        assert_eq!(and_list(&["a".into()]), "a");
        assert_eq!(
            and_list(&["a".into(), "b".into(), "c".into()]),
            "a, b and c"
        );
        assert_eq!(when("2026-12-01T00:00:00Z".parse().unwrap()), "2026-12-01");
        assert_eq!(
            when("2026-05-31T23:59:59Z".parse().unwrap()),
            "2026-05-31 23:59:59 UTC"
        );
        assert_eq!(capitalize_first("interception"), "Interception");
    }
}
