//! Reply templates per ground: the text a reviewer may start a refusal's reason, or a request
//! for information's message, from, one per finding code the profiles produce. Operator
//! practice: a desk answers the same ground in the same words. A template is only a start:
//! what is recorded and sent is what the reviewer submits.
//!
//! The node's `[templates]` (code = text) replaces the built-in text code by code, and may add
//! codes of its own profile.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One template: the ground (a finding's code) and the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReplyTemplate {
    /// The finding's code, e.g. `dual-criminality`.
    pub ground: String,
    /// The text to start from, addressed to the requester.
    pub text: String,
    /// `configured` (the node's `[templates]`) or `built_in`.
    pub source: TemplateSource,
}

/// Where a template's text comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TemplateSource {
    /// The node's configuration.
    Configured,
    /// Custos's default words.
    BuiltIn,
}

/// Custos's own words for each ground the built-in profiles produce (rights-first and
/// convention), addressed to the requesting authority.
pub const BUILT_IN: &[(&str, &str)] = &[
    (
        "incomplete-request",
        "Your request leaves out information we need before we can act on it. Please send a supplement that gives it.",
    ),
    (
        "necessity-not-shown",
        "Your request does not explain why this data, and this much of it, is needed for the investigation now. Please state the necessity of the measure.",
    ),
    (
        "emergency-unjustified",
        "Your request is marked as an emergency but gives no justification. Please describe the significant and imminent risk to the life or safety of a person, or withdraw the emergency claim.",
    ),
    (
        "offence-out-of-scope",
        "We cannot act on this request: none of the offences falls under the Convention, and none carries a penalty of four years or more.",
    ),
    (
        "serious-harm-test",
        "We cannot hand over this data: the offences involve no death, injury or other significant harm, and the measure asked is too intrusive for them.",
    ),
    (
        "channel-not-permitted",
        "This measure cannot be asked through this channel. Please send the request through mutual legal assistance.",
    ),
    (
        "dual-criminality",
        "We cannot act on this request: the conduct described is not a criminal offence in our jurisdiction.",
    ),
    (
        "dual-criminality-unverified",
        "We could not establish that the conduct is a criminal offence in our jurisdiction. Please describe the elements of each offence (what was done, and the law that makes it an offence).",
    ),
    (
        "expression-offence",
        "We cannot act on this request: it concerns an offence of expression, belief, assembly or identity, and we do not assist in prosecuting such conduct.",
    ),
    (
        "death-penalty",
        "An offence in this request carries the death penalty. We can act only with your assurance that the death penalty will not be imposed or carried out.",
    ),
    (
        "security-research",
        "The offences concern computer systems. Please state whether the conduct could have been authorised testing or good-faith security research, and why it was not.",
    ),
    (
        "heightened-scrutiny",
        "Requests from your state receive additional review in our jurisdiction. We need further information before we can decide.",
    ),
    (
        "too-many-targets",
        "Your request names many targets. Please explain why each one is necessary for the investigation.",
    ),
    (
        "judicial-authorization",
        "This measure needs the prior order of a judge (or another independent authority). Please send that order.",
    ),
    (
        "category-exceeds-measure",
        "The measure asked covers fewer kinds of data than your request lists. Please confirm which data you need under this measure.",
    ),
    (
        "category-mismatch",
        "The measure asked does not cover the data your request lists. Please tell us which measure you mean.",
    ),
    (
        "period-missing",
        "Your request gives no time period. Please state the period of the data needed.",
    ),
    (
        "period-too-long",
        "The period asked is longer than we can accept for this measure. Please explain why the whole period is needed, or shorten it.",
    ),
    (
        "confidentiality-unbounded",
        "You ask that the person concerned never be told. Secrecy needs an end date: please say until when it is needed, and why.",
    ),
    (
        "confidentiality-too-long",
        "The secrecy asked is longer than we can accept. Please explain why it is needed for that long.",
    ),
    (
        "confidentiality-unjustified",
        "You ask for secrecy without saying why. Please give the reason (for example, a risk that evidence is destroyed); otherwise the person concerned will be told.",
    ),
    (
        "data-protection-terms",
        "Your data-protection terms are incomplete. Please state a retention limit, a commitment to use the data only for this investigation, and that it will not be passed on without restriction.",
    ),
];

/// The templates in force: the built-in ones, each replaced by the configured text for its
/// code, then the configured codes the built-in list lacks; by code.
pub fn templates(configured: &BTreeMap<String, String>) -> Vec<ReplyTemplate> {
    let mut all: BTreeMap<&str, ReplyTemplate> = BUILT_IN
        .iter()
        .map(|(ground, text)| {
            (
                *ground,
                ReplyTemplate {
                    ground: (*ground).to_owned(),
                    text: (*text).to_owned(),
                    source: TemplateSource::BuiltIn,
                },
            )
        })
        .collect();
    for (ground, text) in configured {
        all.insert(
            ground,
            ReplyTemplate {
                ground: ground.clone(),
                text: text.trim().to_owned(),
                source: TemplateSource::Configured,
            },
        );
    }
    all.into_values().filter(|t| !t.text.is_empty()).collect()
}

/// The template for one ground, if there is one.
pub fn template_for(configured: &BTreeMap<String, String>, ground: &str) -> Option<String> {
    match configured.get(ground) {
        Some(text) => Some(text.trim().to_owned()).filter(|t| !t.is_empty()),
        None => BUILT_IN
            .iter()
            .find(|(g, _)| *g == ground)
            .map(|(_, t)| (*t).to_owned()),
    }
}

/// The templates in force on a node, for staff (`GET /v1/templates`).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TemplateList {
    /// One per ground, by code.
    pub templates: Vec<ReplyTemplate>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ground_of_the_built_in_profiles_has_a_template() {
        let mut codes = std::collections::BTreeSet::new();
        for source in [
            include_str!("../../safeguards/policies/rights-first.cedar"),
            include_str!("../../safeguards/policies/convention.cedar"),
        ] {
            for line in source.lines() {
                if let Some(code) = line
                    .trim()
                    .strip_prefix("@code(\"")
                    .and_then(|r| r.strip_suffix("\")"))
                {
                    codes.insert(code.to_owned());
                }
            }
        }
        assert!(codes.len() > 15, "{codes:?}");
        let none = BTreeMap::new();
        for code in &codes {
            assert!(
                template_for(&none, code).is_some(),
                "no template for {code}"
            );
        }
    }

    #[test]
    fn configured_text_replaces_a_default_and_an_empty_one_removes_it() {
        let mut configured = BTreeMap::new();
        configured.insert("dual-criminality".to_owned(), " Our words. ".to_owned());
        configured.insert("period-missing".to_owned(), String::new());
        configured.insert("local-rule".to_owned(), "Local.".to_owned());
        let all = templates(&configured);
        let find = |g: &str| all.iter().find(|t| t.ground == g);
        let dual = find("dual-criminality").unwrap();
        assert_eq!(
            (dual.text.as_str(), dual.source),
            ("Our words.", TemplateSource::Configured)
        );
        assert!(find("period-missing").is_none());
        assert_eq!(find("local-rule").unwrap().text, "Local.");
        assert_eq!(
            find("death-penalty").unwrap().source,
            TemplateSource::BuiltIn
        );
        assert_eq!(
            template_for(&configured, "dual-criminality").as_deref(),
            Some("Our words.")
        );
        assert_eq!(template_for(&configured, "period-missing"), None);
    }
}
