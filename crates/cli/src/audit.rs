//! `custos audit` and `custos log open`: checks on a node's own database.
//!
//! The audit trusts nothing stored: it recomputes every event's commitment from its body and
//! salt, rebuilds every public record and the whole Merkle tree, and compares the result with
//! every checkpoint the node ever signed. Any edited, removed, inserted or reordered event shows
//! up as a mismatch, named by its log index. It also re-verifies each request's JWS against the
//! directory as the log itself records it.

use std::collections::HashMap;
use std::path::Path;

use custos_jose::{PublicJwk, verify_compact};
use custos_ledger::checkpoint::Checkpoint;
use custos_ledger::commitment::{PublicRecord, commit};
use custos_ledger::{MemoryStore, MerkleTree, leaf_hash};
use custos_service::Config;
use custos_store::Store;
use serde_json::Value;

use crate::Failure;
use crate::node_cmd::runtime;

pub fn audit(dir: &Path, json: bool) -> Result<(), Failure> {
    let config = Config::load(dir).map_err(Failure::Setup)?;
    let key = custos_service::node::read_key(&dir.join(&config.key)).map_err(Failure::Setup)?;
    let verifier = key.verifier();
    let rt = runtime().map_err(Failure::Setup)?;
    let (problems, events, checkpoints) = rt
        .block_on(async {
            let store = Store::open_sqlite(&dir.join(&config.database), false).await?;
            let mut problems: Vec<String> = Vec::new();
            let mut tree = MerkleTree::new(MemoryStore::new());
            let mut keys: HashMap<String, PublicJwk> = HashMap::new();
            let mut next = 0u64;
            loop {
                let page = store.events(next, 10_000).await?;
                if page.is_empty() {
                    break;
                }
                for e in page {
                    if e.seq != next {
                        problems.push(format!("event {next} is missing (the next stored event is {})", e.seq));
                        next = e.seq;
                    }
                    let body: Value = match serde_json::from_str(&e.body) {
                        Ok(v) => v,
                        Err(err) => {
                            problems.push(format!("event {}: body is not JSON ({err})", e.seq));
                            Value::Null
                        }
                    };
                    if body["seq"].as_u64() != Some(e.seq) {
                        problems.push(format!("event {}: its body says seq {} (moved or reordered)", e.seq, body["seq"]));
                    }
                    if body["type"].as_str() != Some(e.event_type.as_str()) || body["at"].as_str() != Some(e.at.to_string().as_str()) {
                        problems.push(format!("event {}: type or time differ between the row and the body", e.seq));
                    }
                    let day = e.at.strftime("%Y-%m-%d").to_string();
                    let record = commit(&body, &e.salt)
                        .ok()
                        .and_then(|c| PublicRecord::new(&e.event_type, &day, c).ok());
                    match record {
                        Some(r) if r.leaf_bytes() == e.leaf => {}
                        Some(_) => problems.push(format!(
                            "event {} ({}): its content does not match its commitment in the log (altered after it was logged)",
                            e.seq, e.event_type
                        )),
                        None => problems.push(format!("event {}: cannot recompute its commitment", e.seq)),
                    }
                    check_signature(&body, &e.event_type, e.seq, &mut keys, &mut problems);
                    if let Err(err) = tree.append_leaf_hashes(&[leaf_hash(&e.leaf)]) {
                        problems.push(format!("event {}: {err}", e.seq));
                    }
                    next += 1;
                }
            }
            let checkpoints = store.checkpoints().await?;
            for cp in &checkpoints {
                if let Err(err) = Checkpoint::open(&cp.note, &config.origin, std::slice::from_ref(&verifier)) {
                    problems.push(format!("checkpoint of size {}: signature does not verify ({err})", cp.size));
                    continue;
                }
                if cp.size > next {
                    problems.push(format!(
                        "checkpoint of size {} was signed, but only {next} events are stored: events were removed",
                        cp.size
                    ));
                    continue;
                }
                match tree.root_at(cp.size) {
                    Ok(root) if root == cp.root => {}
                    Ok(_) => problems.push(format!(
                        "checkpoint of size {}: the stored events give a different root (events before {} were changed, removed or reordered)",
                        cp.size, cp.size
                    )),
                    Err(err) => problems.push(format!("checkpoint of size {}: {err}", cp.size)),
                }
            }
            store.close().await;
            anyhow::Ok((problems, next, checkpoints.len()))
        })
        .map_err(Failure::Setup)?;
    if json {
        println!(
            "{}",
            serde_json::json!({ "events": events, "checkpoints": checkpoints, "consistent": problems.is_empty(), "problems": problems })
        );
    } else if problems.is_empty() {
        println!(
            "ok: {events} events and {checkpoints} signed checkpoints; every commitment and every root recomputes"
        );
    } else {
        for p in &problems {
            println!("TAMPERED: {p}");
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::Findings(format!(
            "audit found {} problem(s) in {}; the database no longer matches what the node signed",
            problems.len(),
            dir.display()
        )))
    }
}

/// Replays the directory from `authority.added` events and checks each received request's JWS.
fn check_signature(
    body: &Value,
    event_type: &str,
    seq: u64,
    keys: &mut HashMap<String, PublicJwk>,
    problems: &mut Vec<String>,
) {
    match event_type {
        "authority.added" => {
            if let (Some(kid), Ok(jwk)) = (
                body["kid"].as_str(),
                PublicJwk::parse(&body["jwk"].to_string()),
            ) {
                keys.insert(kid.to_owned(), jwk);
            }
        }
        "request.received" | "request.supplemented" => {
            let (Some(kid), Some(jws)) = (body["authority"].as_str(), body["jws"].as_str()) else {
                problems.push(format!(
                    "event {seq}: a received request without its signature"
                ));
                return;
            };
            match keys.get(kid) {
                Some(k) if verify_compact(jws, k).is_ok() => {}
                Some(_) => problems.push(format!(
                    "event {seq}: the request's signature does not verify under {kid}"
                )),
                None => problems.push(format!(
                    "event {seq}: signed by {kid}, which no earlier event added to the directory"
                )),
            }
        }
        _ => {}
    }
}

pub fn log_open(dir: &Path, index: u64) -> Result<(), Failure> {
    let config = Config::load(dir).map_err(Failure::Setup)?;
    let rt = runtime().map_err(Failure::Setup)?;
    let event = rt
        .block_on(async {
            let store = Store::open_sqlite(&dir.join(&config.database), false).await?;
            let e = store.event(index).await?;
            store.close().await;
            anyhow::Ok(e)
        })
        .map_err(Failure::Setup)?
        .ok_or_else(|| Failure::Input(format!("there is no event {index} in this node's log")))?;
    let body: Value = serde_json::from_str(&event.body).map_err(|e| Failure::Setup(e.into()))?;
    let opening = serde_json::json!({
        "format": "custos.opening/v1",
        "log": config.origin,
        "index": event.seq,
        "event": body,
        "salt": event.salt.to_base64(),
        "leaf": String::from_utf8_lossy(&event.leaf),
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&opening).unwrap_or_default()
    );
    Ok(())
}
