//! `custos audit` and `custos log open`: checks on a node's own database. The audit itself is
//! `custos_service::audit`; this prints its report.

use std::path::Path;

use custos_service::NodeDir;
use serde_json::Value;

use crate::Failure;
use crate::node_cmd::runtime;
use crate::out::outln;

pub fn audit(dir: &Path, vkey: Option<&str>, json: bool) -> Result<(), Failure> {
    crate::node_cmd::check_dir(dir).map_err(Failure::Setup)?;
    let rt = runtime().map_err(Failure::Setup)?;
    let report = rt
        .block_on(async {
            // Without the node key: an outside auditor has the verifier key only.
            let nd = NodeDir::open_to_read(dir).await?;
            let report = match nd.verifier_key(vkey) {
                Ok(vkey) => custos_service::audit::audit(&nd, &vkey).await,
                Err(e) => Err(e),
            };
            nd.close().await;
            report
        })
        .map_err(Failure::Setup)?;
    if json {
        outln!(
            "{}",
            serde_json::json!({
                "events": report.events,
                "checkpoints": report.checkpoints,
                "consistent": report.consistent,
                "problems": report.findings.iter().map(|f| f.detail.as_str()).collect::<Vec<_>>(),
                "findings": report.findings,
            })
        )?;
    } else if report.consistent {
        outln!(
            "ok: {} events and {} signed checkpoints; every commitment, every signed root, every table, every request signature and decider, and every package in custody check out",
            report.events,
            report.checkpoints
        )?;
    } else {
        for f in &report.findings {
            outln!("TAMPERED ({}): {}", f.kind, f.detail)?;
        }
    }
    if report.consistent {
        Ok(())
    } else {
        Err(Failure::Findings(format!(
            "audit found {} problem(s) in {}; the database no longer matches what the node signed",
            report.findings.len(),
            dir.display()
        )))
    }
}

pub fn log_open(dir: &Path, index: u64) -> Result<(), Failure> {
    let rt = runtime().map_err(Failure::Setup)?;
    let (origin, event) = rt
        .block_on(async {
            let nd = NodeDir::open_to_read(dir).await?;
            let event = nd.query().event(index).await;
            let origin = nd.config().origin.clone();
            nd.close().await;
            anyhow::Ok((origin, event?))
        })
        .map_err(Failure::Setup)?;
    let event = event
        .ok_or_else(|| Failure::Input(format!("there is no event {index} in this node's log")))?;
    let body: Value = serde_json::from_str(&event.body).map_err(|e| Failure::Setup(e.into()))?;
    let opening = serde_json::json!({
        "format": "custos.opening/v1",
        "log": origin,
        "index": event.seq,
        "event": body,
        "salt": event.salt.to_base64(),
        "leaf": String::from_utf8_lossy(&event.leaf),
    });
    outln!(
        "{}",
        serde_json::to_string_pretty(&opening).unwrap_or_default()
    )
}
