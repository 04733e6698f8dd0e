//! Strict parsing of `custos.request/v1` documents, with the JSON path of every problem.
//!
//! Parsing happens in one pass over the bytes (no intermediate `serde_json::Value`): the first
//! problem of shape (syntax, type, enumeration, unknown or missing field) stops the parse and is
//! reported with its path; then the cross-field rules are all checked and every violation is
//! reported. An invalid request is never assessed (request-format.md, *Invalid requests*).

use std::fmt;

use serde_path_to_error::Segment;

#[cfg(test)]
use crate::request::RequestId;
use crate::request::{MAX_TARGETS, Request};

/// One thing wrong with a request, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// A JSONPath-style location such as `$.investigation.offences[0].max_penalty`.
    pub path: String,
    /// What is wrong, in words that say what to do instead.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// A request that must be rejected before assessment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct InvalidRequest {
    /// At least one problem.
    pub problems: Vec<Problem>,
}

impl fmt::Display for InvalidRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl InvalidRequest {
    fn one(path: impl Into<String>, message: impl Into<String>) -> Self {
        InvalidRequest {
            problems: vec![Problem {
                path: path.into(),
                message: message.into(),
            }],
        }
    }
}

/// Parses and validates a request from its JSON bytes.
pub fn parse_request(input: &[u8]) -> Result<Request, InvalidRequest> {
    let mut de = serde_json::Deserializer::from_slice(input);
    let TopLevel(request) = serde_path_to_error::deserialize(&mut de).map_err(shape_problem)?;
    de.end().map_err(|e| {
        InvalidRequest::one(
            "$",
            format!("unexpected content after the request object ({e})"),
        )
    })?;
    validate(&request)?;
    Ok(request)
}

/// The request itself must be an object, like every struct inside it.
struct TopLevel(Request);

impl<'de> serde::Deserialize<'de> for TopLevel {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::strict::object(d).map(TopLevel)
    }
}

/// Checks the rules that the types alone cannot: counts and the order of the period's ends.
pub fn validate(request: &Request) -> Result<(), InvalidRequest> {
    let mut problems = Vec::new();
    let mut problem = |path: &str, message: String| {
        problems.push(Problem {
            path: path.to_owned(),
            message,
        })
    };
    if request.investigation.offences.is_empty() {
        problem(
            "$.investigation.offences",
            "at least one offence is required".to_owned(),
        );
    }
    let n = request.targets.len();
    if n == 0 {
        problem("$.targets", "at least one target is required".to_owned());
    } else if n > MAX_TARGETS {
        problem(
            "$.targets",
            format!("{n} targets named; at most {MAX_TARGETS} are allowed in one request"),
        );
    }
    if request.data_categories.is_empty() {
        problem(
            "$.data_categories",
            "no data category given; list at least one of subscriber, traffic, content".to_owned(),
        );
    }
    if let Some(period) = &request.period
        && period.from > period.to
    {
        problem(
            "$.period",
            format!(
                "from is after to ({} > {}); the period must start before it ends",
                period.from, period.to
            ),
        );
    }
    if request.follows.as_ref() == Some(&request.id) {
        problem(
            "$.follows",
            "a request cannot follow itself; give the id of the earlier preservation request"
                .to_owned(),
        );
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(InvalidRequest { problems })
    }
}

/// Turns serde's first error into a problem with a full path, naming unknown and missing fields
/// themselves rather than the object that holds them.
fn shape_problem(err: serde_path_to_error::Error<serde_json::Error>) -> InvalidRequest {
    let mut path = String::from("$");
    for segment in err.path().iter() {
        match segment {
            Segment::Seq { index } => path.push_str(&format!("[{index}]")),
            Segment::Map { key } => {
                path.push('.');
                path.push_str(key);
            }
            Segment::Enum { variant } => {
                path.push('.');
                path.push_str(variant);
            }
            Segment::Unknown => path.push_str(".?"),
        }
    }
    let inner = err.into_inner();
    let text = strip_position(&inner);
    if let Some(rest) = text.strip_prefix("unknown field `")
        && let Some((field, expected)) = rest.split_once('`')
    {
        let expected = expected
            .trim_start_matches(", ")
            .replace("expected one of", "this object takes")
            .replace("expected", "this object takes");
        // The tracked path already ends at the unknown key.
        let at = if path.ends_with(&format!(".{field}")) {
            path.clone()
        } else {
            format!("{path}.{field}")
        };
        let hint = closest_field(field, &expected)
            .map(|f| format!("; did you mean `{f}`?"))
            .unwrap_or_default();
        return InvalidRequest::one(at, format!("unknown field{hint} ({expected})"));
    }
    if let Some(rest) = text.strip_prefix("missing field `") {
        let field = rest.trim_end_matches('`');
        return InvalidRequest::one(
            format!("{path}.{field}"),
            "required field is missing".to_owned(),
        );
    }
    let message = if inner.is_syntax() || inner.is_eof() {
        format!(
            "not valid JSON: {text} (line {}, column {})",
            inner.line(),
            inner.column()
        )
    } else {
        text
    };
    InvalidRequest::one(path, message)
}

/// The allowed field (listed in backticks in `expected`) closest to a misspelt one, if any is
/// within two edits.
fn closest_field<'a>(field: &str, expected: &'a str) -> Option<&'a str> {
    crate::suggest::closest(field, expected.split('`').skip(1).step_by(2), 2)
}

/// serde_json appends " at line L column C" to its messages; the path says where already.
fn strip_position(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const MINIMAL: &str = r#"{
        "format": "custos.request/v1", "id": "XA-1", "submitted_at": "2026-11-19T08:00:00Z",
        "channel": "mla", "measure": "produce_subscriber_info",
        "requesting_authority": {"state": "XA", "name": "Ministry", "kind": "central_authority"},
        "investigation": {"offences": [{"name": "Fraud", "category": "fraud", "max_penalty": 5}]},
        "targets": [{"kind": "email", "value": "a@example.org"}],
        "data_categories": ["subscriber"]
    }"#;

    fn with(patch: &str) -> String {
        // Replace the closing brace to add or override a field at the top level.
        let mut v: serde_json::Value = serde_json::from_str(MINIMAL).unwrap();
        let p: serde_json::Value = serde_json::from_str(patch).unwrap();
        for (k, val) in p.as_object().unwrap() {
            v[k] = val.clone();
        }
        v.to_string()
    }

    fn problem_of(json: &str) -> String {
        parse_request(json.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn minimal_request_parses() {
        let r = parse_request(MINIMAL.as_bytes()).unwrap();
        assert_eq!(r.id.as_str(), "XA-1");
        assert!(r.period.is_none());
    }

    #[test]
    fn unknown_field_is_named_with_its_path() {
        let e = problem_of(&with(r#"{"confidentialty": {"requested": true}}"#));
        assert!(e.starts_with("$.confidentialty: unknown field"), "{e}");
        assert!(e.contains("did you mean `confidentiality`?"), "{e}");
        let e = problem_of(&with(
            r#"{"requesting_authority": {"state": "XA", "name": "M", "kind": "police", "phone": "1"}}"#,
        ));
        assert!(
            e.starts_with("$.requesting_authority.phone: unknown field"),
            "{e}"
        );
    }

    #[test]
    fn missing_field_is_named() {
        let mut v: serde_json::Value = serde_json::from_str(MINIMAL).unwrap();
        v["investigation"]["offences"][0]
            .as_object_mut()
            .unwrap()
            .remove("max_penalty");
        let e = problem_of(&v.to_string());
        assert_eq!(
            e,
            "$.investigation.offences[0].max_penalty: required field is missing"
        );
    }

    #[test]
    fn bad_values_name_their_path() {
        let e = problem_of(&with(
            r#"{"investigation": {"offences": [{"name": "X", "category": "fraud", "max_penalty": "forever"}]}}"#,
        ));
        assert!(
            e.starts_with("$.investigation.offences[0].max_penalty: \"forever\" is not a penalty"),
            "{e}"
        );
        let e = problem_of(&with(r#"{"channel": "fax"}"#));
        assert!(e.starts_with("$.channel: unknown variant `fax`"), "{e}");
        let e = problem_of(&with(r#"{"submitted_at": "2026-02-30T00:00:00Z"}"#));
        assert!(e.starts_with("$.submitted_at: "), "{e}");
        let e = problem_of(&with(r#"{"submitted_at": "2026-02-03T00:00:00"}"#));
        assert!(e.starts_with("$.submitted_at: "), "{e}");
        let e = problem_of(&with(r#"{"id": "has space"}"#));
        assert!(e.starts_with("$.id: the id may only contain"), "{e}");
        let e = problem_of(&with(r#"{"format": "custos.request/v2"}"#));
        assert!(e.starts_with("$.format: "), "{e}");
        let e = problem_of(&with(r#"{"data_protection": {"retention_days": 0}}"#));
        assert!(
            e.starts_with("$.data_protection.retention_days: 0 is not"),
            "{e}"
        );
        let e = problem_of(&with(r#"{"data_categories": ["traffic", "traffic"]}"#));
        assert!(
            e.starts_with("$.data_categories: `traffic` is listed twice"),
            "{e}"
        );
    }

    /// safeguards.md 1.1: a blank name (only White_Space, Cc or Cf characters) makes the
    /// request invalid, with the field named.
    #[test]
    fn blank_names_are_invalid_and_named() {
        for blank in [
            "",
            "   ",
            "\u{200b}",
            "\u{7}",
            "\u{a0}\u{feff}",
            "\t\u{0}\u{2060}",
        ] {
            let e = problem_of(&with(
                &json!({"requesting_authority": {"state": "XA", "name": blank, "kind": "police"}})
                    .to_string(),
            ));
            assert!(
                e.starts_with("$.requesting_authority.name: must not be empty or blank"),
                "{blank:?}: {e}"
            );
            let e = problem_of(&with(
                &json!({"investigation": {"offences": [
                    {"name": "Fraud", "category": "fraud", "max_penalty": 5},
                    {"name": blank, "category": "fraud", "max_penalty": 5}
                ]}})
                .to_string(),
            ));
            assert!(
                e.starts_with("$.investigation.offences[1].name: must not be empty or blank"),
                "{blank:?}: {e}"
            );
        }
        let named = with(
            r#"{"requesting_authority": {"state": "XA", "name": "\u200bM", "kind": "police"}}"#,
        );
        assert!(parse_request(named.as_bytes()).is_ok());
    }

    /// A purpose of one control or format character is valid JSON but not "given".
    #[test]
    fn blank_free_text_parses_but_is_not_given() {
        for blank in ["\u{1}", "\u{200b}", "\u{a0}", " \u{feff} "] {
            let r = parse_request(
                with(&json!({ "purpose": blank, "necessity": blank }).to_string()).as_bytes(),
            )
            .unwrap();
            assert!(!r.purpose_given(), "{blank:?}");
            assert!(!r.necessity_given(), "{blank:?}");
        }
        let r = parse_request(with(r#"{"purpose": "\u0001 evidence"}"#).as_bytes()).unwrap();
        assert!(r.purpose_given());
    }

    /// safeguards.md 1.1: retention_days ≤ 36,500; above it (and above every integer type) the
    /// refusal names the field and the limit, never an overflow.
    #[test]
    fn retention_days_above_36500_are_refused_with_the_field() {
        let retention = |days: &str| {
            with(&format!(
                r#"{{"data_protection": {{"retention_days": {days}, "purpose_limited": true}}}}"#
            ))
        };
        let r = parse_request(retention("36500").as_bytes()).unwrap();
        assert_eq!(
            r.data_protection.unwrap().retention_days.map(|d| d.get()),
            Some(36_500)
        );
        for days in ["36501", "5000000000", "18446744073709551616"] {
            let e = problem_of(&retention(days));
            assert_eq!(
                e,
                format!(
                    "$.data_protection.retention_days: {days} days is more than the 36,500 a request may promise; give a whole number of days from 1 to 36,500, or null for none"
                )
            );
        }
        let r = parse_request(retention("null").as_bytes()).unwrap();
        assert_eq!(r.data_protection.unwrap().retention_days, None);
    }

    #[test]
    fn cross_field_problems_are_all_reported() {
        let e = parse_request(
            with(
                r#"{"targets": [], "period": {"from": "2026-06-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
                    "investigation": {"offences": []}}"#,
            )
            .as_bytes(),
        )
        .unwrap_err();
        let paths: Vec<_> = e.problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["$.investigation.offences", "$.targets", "$.period"]);
        assert!(e.to_string().contains("$.period: from is after to"));
    }

    #[test]
    fn follows_names_an_earlier_request() {
        let r = parse_request(with(r#"{"follows": "XA-PRES-1"}"#).as_bytes()).unwrap();
        assert_eq!(r.follows.as_ref().map(RequestId::as_str), Some("XA-PRES-1"));
        let e = problem_of(&with(r#"{"follows": "not an id!"}"#));
        assert!(e.starts_with("$.follows: "), "{e}");
        let own = serde_json::from_str::<serde_json::Value>(MINIMAL).unwrap()["id"].clone();
        let e = problem_of(&with(&format!(r#"{{"follows": {own}}}"#)));
        assert!(
            e.starts_with("$.follows: a request cannot follow itself"),
            "{e}"
        );
        // Any other unknown field is still refused.
        let e = problem_of(&with(r#"{"followz": "XA-PRES-1"}"#));
        assert!(e.contains("unknown field"), "{e}");
    }

    #[test]
    fn syntax_errors_and_trailing_garbage() {
        let e = problem_of("{\"format\": ");
        assert!(e.contains("not valid JSON"), "{e}");
        let e = problem_of(&format!("{MINIMAL} x"));
        assert!(
            e.contains("unexpected content after the request object"),
            "{e}"
        );
        let e = problem_of("[]");
        assert!(
            e.starts_with("$: invalid type: sequence, expected an object"),
            "{e}"
        );
        let e = problem_of(&with(
            r#"{"period": ["2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"]}"#,
        ));
        assert!(
            e.starts_with("$.period: invalid type: sequence, expected an object"),
            "{e}"
        );
        let e = problem_of(&with(r#"{"period": null}"#));
        assert!(e.starts_with("$.period: invalid type: null"), "{e}");
    }
}
