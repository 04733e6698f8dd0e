//! Reviewers' commands against a running node, with a user's API token (`Authorization: Bearer`):
//! `custos reclassify` (propose or record a correction of an offence's classification) and
//! `custos extension decide` (grant or refuse a requester's extension). The node applies every
//! rule (roles, four eyes, caps); the CLI only builds the body, sends it and prints the answer.

use std::path::Path;

use anyhow::anyhow;
use custos_service::Problem;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::Failure;
use crate::node_cmd::runtime;
use crate::out::outln;

/// Reads an API token (`cst.<name>.<secret>`) from a file, trimmed.
fn token(path: &Path) -> Result<String, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::Input(format!("{}: {e}", path.display())))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(Failure::Input(format!(
            "{}: the file is empty; it should hold the API token `custos user add` printed",
            path.display()
        )));
    }
    Ok(token.to_owned())
}

/// POSTs `body` to `path` with the token; the node's answer as `T`, or its problem as a failure
/// that says what `what` was.
pub(crate) fn post<T: DeserializeOwned + serde::Serialize>(
    server: &str,
    token_file: &Path,
    path: &str,
    body: &Value,
    what: &str,
) -> Result<(), Failure> {
    let token = token(token_file)?;
    let url = format!("{}{path}", server.trim_end_matches('/'));
    let rt = runtime().map_err(Failure::Setup)?;
    rt.block_on(async {
        let resp = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| Failure::Setup(e.into()))?
            .post(url)
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .map_err(|e| Failure::Setup(anyhow!("cannot reach {server}: {e}")))?;
        print_answer::<T>(resp, server, what).await
    })
}

/// Prints the node's answer as `T` (JSON on one line), or turns its problem into a failure that
/// says what `what` was and why the node refused it.
pub(crate) async fn print_answer<T: DeserializeOwned + serde::Serialize>(
    resp: reqwest::Response,
    server: &str,
    what: &str,
) -> Result<(), Failure> {
    let status = resp.status();
    let text = resp.text().await.map_err(|e| Failure::Setup(e.into()))?;
    if status.is_success() {
        let answer: T = serde_json::from_str(&text).map_err(|e| {
            Failure::Setup(anyhow!(
                "{server} answered {status} but not as expected: {e}"
            ))
        })?;
        let text = serde_json::to_string(&answer).map_err(|e| Failure::Setup(e.into()))?;
        outln!("{text}")
    } else {
        let detail = serde_json::from_str::<Problem>(&text)
            .map(|p| p.detail)
            .unwrap_or(text);
        Err(Failure::Input(format!(
            "the node refused the {what} ({status}): {detail}"
        )))
    }
}

/// A maximum penalty as the API takes it: a number of years, or `life` / `death`.
fn penalty(text: &str) -> Value {
    text.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or_else(|| Value::String(text.to_owned()), Value::Number)
}

/// `custos reclassify`: one offence's corrected category and/or maximum penalty, with a reason.
pub fn reclassify(
    server: &str,
    token_file: &Path,
    case_id: i64,
    offence: usize,
    category: Option<&str>,
    max_penalty: Option<&str>,
    reason: &str,
) -> Result<(), Failure> {
    if category.is_none() && max_penalty.is_none() {
        return Err(Failure::Input(
            "give --category, --max-penalty or both: the correction must change something".into(),
        ));
    }
    let body = json!({
        "offences": [{
            "index": offence,
            "category": category,
            "max_penalty": max_penalty.map(penalty),
        }],
        "reason": reason,
    });
    post::<custos_service::wire::CaseView>(
        server,
        token_file,
        &format!("/v1/requests/{case_id}/reclassification"),
        &body,
        "reclassification",
    )
}

/// `custos extension decide`: grant (possibly to an earlier date) or refuse, with a reason.
pub fn decide_extension(
    server: &str,
    token_file: &Path,
    case_id: i64,
    extension: i64,
    grant: bool,
    until: Option<jiff::Timestamp>,
    reason: &str,
) -> Result<(), Failure> {
    if !grant && until.is_some() {
        return Err(Failure::Input(
            "--until goes with --grant only: a refusal moves no date".into(),
        ));
    }
    let body = json!({
        "grant": grant,
        "until": until.map(|t| t.to_string()),
        "reason": reason,
    });
    post::<custos_service::wire::ExtensionView>(
        server,
        token_file,
        &format!("/v1/requests/{case_id}/extensions/{extension}/decision"),
        &body,
        "decision on the extension",
    )
}

/// `custos callback record`: who was reached at the registered contact, and the outcome.
pub fn record_callback(
    server: &str,
    token_file: &Path,
    case_id: i64,
    reached: &str,
    outcome: &str,
    note: Option<&str>,
) -> Result<(), Failure> {
    let body = json!({ "reached": reached, "outcome": outcome, "note": note });
    post::<custos_service::ops::Verification>(
        server,
        token_file,
        &format!("/v1/requests/{case_id}/callback"),
        &body,
        "call-back record",
    )
}

/// `custos callback review`: a supervisor confirms or rejects a call-back record.
pub fn review_callback(
    server: &str,
    token_file: &Path,
    case_id: i64,
    confirm: bool,
    reason: &str,
) -> Result<(), Failure> {
    let body = json!({ "confirm": confirm, "reason": reason });
    post::<custos_service::ops::Verification>(
        server,
        token_file,
        &format!("/v1/requests/{case_id}/callback/review"),
        &body,
        "review of the call-back",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn penalties_are_numbers_of_years_or_words() {
        assert_eq!(penalty("20"), json!(20.0));
        assert_eq!(penalty("2.5"), json!(2.5));
        assert_eq!(penalty("life"), json!("life"));
        assert_eq!(penalty("death"), json!("death"));
    }
}
