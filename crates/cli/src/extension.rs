//! `custos extension request`: as a requesting authority, ask a node to move a deadline of one
//! of its cases (the end of confidentiality, or a preservation hold's end), with reasons, signed with the authority's
//! key (`Authorization: Custos-JWS`). A reviewer decides on the node (API or console); the CLI
//! has no reviewer commands.

use std::path::Path;

use anyhow::anyhow;
use custos_jose::{PrivateJwk, sign_compact};
use custos_service::wire::{ExtensionView, ProofClaims};
use jiff::Timestamp;
use serde_json::json;

use crate::Failure;
use crate::node_cmd::runtime;

/// Asks for an extension of `kind` to `until` on `case_id`; prints the node's answer (JSON).
pub fn request(
    server: &str,
    key_path: &Path,
    case_id: i64,
    kind: &str,
    until: Timestamp,
    reasons: &str,
) -> Result<(), Failure> {
    let key_text = std::fs::read_to_string(key_path)
        .map_err(|e| Failure::Input(format!("{}: {e}", key_path.display())))?;
    let key = PrivateJwk::parse(&key_text)
        .map_err(|e| Failure::Input(format!("{}: {e}", key_path.display())))?;
    let path = format!("/v1/requests/{case_id}/extensions");
    let claims = ProofClaims {
        htm: "POST".into(),
        htu: path.clone(),
        iat: Timestamp::now().as_second(),
        jti: None,
    };
    let claims = serde_json::to_vec(&claims).map_err(|e| Failure::Setup(e.into()))?;
    let proof = format!(
        "Custos-JWS {}",
        sign_compact(&claims, &key, Some("custos.proof+jws"))
    );
    let body = json!({ "kind": kind, "until": until.to_string(), "reasons": reasons });
    let url = format!("{}{path}", server.trim_end_matches('/'));
    let rt = runtime().map_err(Failure::Setup)?;
    rt.block_on(async {
        let resp = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| Failure::Setup(e.into()))?
            .post(url)
            .header("authorization", proof)
            .json(&body)
            .send()
            .await
            .map_err(|e| Failure::Setup(anyhow!("cannot reach {server}: {e}")))?;
        crate::staff::print_answer::<ExtensionView>(resp, server, "request for an extension").await
    })
}
