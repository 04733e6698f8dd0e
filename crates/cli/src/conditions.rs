//! `custos accept-conditions`: as a requesting authority, read the conditions of an executed
//! case in its reply and accept (or decline, with a reason) them, signed with the authority's
//! key. What is signed is the SHA-256 of the RFC 8785 JSON of the conditions as the reply shows
//! them, so the authority signs what it read.

use std::path::Path;

use anyhow::anyhow;
use custos_jose::{PrivateJwk, sign_compact};
use custos_service::Problem;
use custos_service::ops::ConditionsStatus;
use custos_service::wire::ProofClaims;
use jiff::Timestamp;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::Failure;
use crate::node_cmd::runtime;
use crate::out::outln;

fn refused(what: &str, status: reqwest::StatusCode, text: String) -> Failure {
    let detail = serde_json::from_str::<Problem>(&text)
        .map(|p| p.detail)
        .unwrap_or(text);
    Failure::Input(format!("the node refused {what} ({status}): {detail}"))
}

/// Accepts (or, with `decline`, declines for `reason`) the conditions of `case_id`; prints the
/// node's answer (JSON).
pub fn answer(
    server: &str,
    key_path: &Path,
    case_id: i64,
    decline: Option<&str>,
) -> Result<(), Failure> {
    let key_text = std::fs::read_to_string(key_path)
        .map_err(|e| Failure::Input(format!("{}: {e}", key_path.display())))?;
    let key = PrivateJwk::parse(&key_text)
        .map_err(|e| Failure::Input(format!("{}: {e}", key_path.display())))?;
    let base = server.trim_end_matches('/').to_owned();
    let path = format!("/v1/requests/{case_id}");
    let claims = ProofClaims {
        htm: "GET".into(),
        htu: path.clone(),
        iat: Timestamp::now().as_second(),
        jti: None,
    };
    let claims = serde_json::to_vec(&claims).map_err(|e| Failure::Setup(e.into()))?;
    let proof = format!(
        "Custos-JWS {}",
        sign_compact(&claims, &key, Some("custos.proof+jws"))
    );
    let rt = runtime().map_err(Failure::Setup)?;
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| Failure::Setup(e.into()))?;
        let resp = client
            .get(format!("{base}{path}"))
            .header("authorization", proof)
            .send()
            .await
            .map_err(|e| Failure::Setup(anyhow!("cannot reach {server}: {e}")))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| Failure::Setup(e.into()))?;
        if !status.is_success() {
            return Err(refused("the read of the case", status, text));
        }
        let reply: Value = serde_json::from_str(&text)
            .map_err(|e| Failure::Setup(anyhow!("{server} answered {status} but not JSON: {e}")))?;
        let conditions = &reply["decision"]["conditions"];
        if conditions.as_array().is_none_or(|c| c.is_empty()) {
            return Err(Failure::Input(format!(
                "case {case_id} has no conditions to answer (its reply shows none)"
            )));
        }
        // The digest of what this command read, never the node's word for it.
        let canonical = custos_ledger::commitment::canonicalize(conditions)
            .map_err(|e| Failure::Setup(anyhow!("the conditions cannot be canonicalized: {e}")))?;
        let sha = hex::encode(Sha256::digest(canonical.as_bytes()));
        let mut payload = json!({
            "request_id": reply["request_id"], "conditions_sha256": sha,
        });
        if let Some(reason) = decline {
            payload["answer"] = json!("decline");
            payload["reason"] = json!(reason);
        }
        let payload = serde_json::to_vec(&payload).map_err(|e| Failure::Setup(e.into()))?;
        let jws = sign_compact(&payload, &key, None);
        let resp = client
            .post(format!("{base}{path}/conditions/acceptance"))
            .header("content-type", "application/jose")
            .body(jws)
            .send()
            .await
            .map_err(|e| Failure::Setup(anyhow!("cannot reach {server}: {e}")))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| Failure::Setup(e.into()))?;
        if !status.is_success() {
            return Err(refused("the answer to the conditions", status, text));
        }
        let answer: ConditionsStatus = serde_json::from_str(&text).map_err(|e| {
            Failure::Setup(anyhow!(
                "{server} answered {status} but not with the conditions' state: {e}"
            ))
        })?;
        let out = json!({ "conditions": conditions, "answer": answer });
        outln!("{out}")
    })
}
