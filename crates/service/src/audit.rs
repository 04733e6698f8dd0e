//! `custos audit`: checks a node directory against nothing but the node's signatures.
//!
//! The audit trusts no stored value. It recomputes every event's commitment from its body and
//! salt, rebuilds the Merkle tree, and compares it with the size and root *inside* every signed
//! note (the checkpoints table and the head file), never with the unsigned columns. It then
//! rebuilds every table the node acts on from the events ([`crate::replay`]) and names each row
//! that differs, re-verifies every request's signature against the directory as the log had it
//! at the time, checks that every decision was taken by a user whose logged role allowed it,
//! and that every package the log says is in custody, and every attachment it logged, is on
//! disk with its logged digest.
//!
//! It needs only the verifier key, so anyone given a copy of the node directory can run it.

use std::collections::HashSet;
use std::io::Read as _;
use std::path::Path;

use custos_ledger::commitment::{PublicRecord, commit};
use custos_ledger::{MemoryStore, MerkleTree, VerifierKey, leaf_hash};
use custos_store::{Store, StoredEvent};
use serde::Serialize;
use serde_json::Value;

use crate::config::Config;
use crate::custody::EVIDENCE_DIR;
use crate::integrity::{self, open_note};
use crate::node_dir::NodeDir;
use crate::replay::{Finding, Projections, Signatures, Tables};

/// What an audit found.
#[derive(Debug, Serialize)]
pub struct AuditReport {
    /// Events stored.
    pub events: u64,
    /// Signed checkpoints stored.
    pub checkpoints: usize,
    /// Whether nothing was found.
    pub consistent: bool,
    /// Each problem, named (kind and where).
    pub findings: Vec<Finding>,
}

/// Audits the node in `nd` with the verifier key `vkey` ([`NodeDir::verifier_key`]).
pub async fn audit(nd: &NodeDir, vkey: &VerifierKey) -> anyhow::Result<AuditReport> {
    audit_store(nd.dir(), nd.config(), nd.store(), vkey).await
}

pub(crate) async fn audit_store(
    dir: &Path,
    config: &Config,
    store: &Store,
    vkey: &VerifierKey,
) -> anyhow::Result<AuditReport> {
    let mut findings = Vec::new();
    let mut tree = MerkleTree::new(MemoryStore::new());
    let mut projections = Projections::default();
    let mut next = 0u64;
    loop {
        let page = store.events(next, 10_000).await?;
        if page.is_empty() {
            break;
        }
        for e in page {
            if e.seq != next {
                findings.push(Finding::new(
                    "event",
                    format!(
                        "event {next} is missing (the next stored event is {})",
                        e.seq
                    ),
                ));
                next = e.seq;
            }
            check_event(&e, &mut findings);
            projections.apply(&e, Signatures::Verify);
            if let Err(err) = tree.append_leaf_hashes(&[leaf_hash(&e.leaf)]) {
                findings.push(Finding::new("event", format!("event {}: {err}", e.seq)));
            }
            next += 1;
        }
    }
    projections.finish();
    let events = next;
    let root_at = |size: u64| tree.root_at(size).ok();

    // Every stored note, by what it signs.
    let checkpoints = store.checkpoints().await?;
    let mut seen = HashSet::new();
    let mut covered = 0;
    for row in &checkpoints {
        let cp = match open_note(&row.note, &config.origin, vkey) {
            Ok(cp) => cp,
            Err(err) => {
                findings.push(Finding::new(
                    "checkpoint",
                    format!(
                        "checkpoint of size {}: signature does not verify ({err})",
                        row.size
                    ),
                ));
                continue;
            }
        };
        if !seen.insert(row.note.clone()) {
            findings.push(Finding::new(
                "checkpoint",
                format!(
                    "checkpoint of size {}: the same signed note is stored twice (a note was copied over another)",
                    row.size
                ),
            ));
        }
        if cp.size != row.size || cp.root != row.root {
            findings.push(Finding::new(
                "checkpoint",
                format!(
                    "checkpoint of size {}: its signed note is for size {}; the row's unsigned size or root was changed, or the note swapped",
                    row.size, cp.size
                ),
            ));
        }
        if cp.size > events {
            findings.push(Finding::new(
                "checkpoint",
                format!(
                    "checkpoint of size {} was signed, but only {events} events are stored: events were removed",
                    cp.size
                ),
            ));
            continue;
        }
        if root_at(cp.size) != Some(cp.root) {
            findings.push(Finding::new(
                "checkpoint",
                format!(
                    "checkpoint of size {}: the stored events give a different root (events before {} were changed, removed or reordered)",
                    cp.size, cp.size
                ),
            ));
        }
        covered = covered.max(cp.size);
    }
    if covered < events {
        findings.push(Finding::new(
            "checkpoint",
            format!(
                "events {covered} to {} are covered by no checkpoint signed with the node key (added outside the node)",
                events - 1
            ),
        ));
    }

    // The head file: the latest checkpoint, kept outside the database.
    match integrity::read_head(dir) {
        Ok(Some(note)) => {
            if let Err(e) = integrity::check_head(events, root_at, &note, &config.origin, vkey) {
                findings.push(Finding::new("history", e.to_string()));
            }
        }
        Ok(None) if events > 0 => findings.push(Finding::new(
            "history",
            format!(
                "the head file {} is missing: a rollback of the database cannot be ruled out",
                integrity::HEAD_FILE
            ),
        )),
        Ok(None) => {}
        Err(e) => findings.push(Finding::new("history", e.to_string())),
    }

    // The tables against the events.
    findings.append(&mut projections.findings);
    match read_tables(store).await {
        Ok(tables) => findings.extend(projections.diff(&tables)),
        // A value no node writes (an edited row): named, and the audit goes on.
        Err(custos_store::StoreError::Corrupt { what, detail }) => findings.push(Finding::new(
            "projection",
            format!(
                "a stored {what} does not read ({detail}): the tables were edited outside the node"
            ),
        )),
        Err(e) => return Err(e.into()),
    }

    // Custody: every package not destroyed is on disk with its logged digest.
    for p in projections.evidence.values() {
        if p.destroyed_at.is_some() {
            continue;
        }
        let path = dir
            .join(EVIDENCE_DIR)
            .join(format!("{}.age", p.package_digest));
        let detail = match file_digest(&path, p.digest_kind) {
            Ok((sha, size))
                if sha == p.package_digest && Some(size) == u64::try_from(p.size).ok() =>
            {
                continue;
            }
            Ok((sha, _)) => format!(
                "its file's {} is {sha} (altered or replaced)",
                p.digest_kind.label()
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                "its file is missing, though no evidence.destroyed event was logged".to_owned()
            }
            Err(e) => format!("its file cannot be read ({e})"),
        };
        findings.push(Finding::new(
            "evidence",
            format!(
                "package {} of case {} (sealed at event {}): {detail}",
                p.package_digest, p.case_id, p.sealed_seq
            ),
        ));
    }

    // Attachments: every logged file is on disk with its logged digest and size.
    for a in &projections.attachments {
        if let Err(detail) = crate::attachments::check_file(dir, &a.blake3, a.size) {
            findings.push(Finding::new(
                "attachment",
                format!(
                    "attachment {} ({}) of case {} (added at event {}): {detail}",
                    a.blake3, a.name, a.case_id, a.log_index
                ),
            ));
        }
    }

    Ok(AuditReport {
        events,
        checkpoints: checkpoints.len(),
        consistent: findings.is_empty(),
        findings,
    })
}

/// Reads every projection table.
pub async fn read_tables(store: &Store) -> Result<Tables, custos_store::StoreError> {
    Ok(Tables {
        authorities: store.authorities().await?,
        users: store
            .users()
            .await?
            .into_iter()
            .map(|u| (u.name, u.role, u.added_at, u.password_hash.is_some()))
            .collect(),
        cases: store.all_cases().await?,
        holds: store.all_holds().await?,
        notices: store.notices().await?,
        extensions: store.all_extensions().await?,
        evidence: store.all_evidence().await?,
        report_columns_differ: store.report_columns_differ().await?,
    })
}

/// The checks of one event on its own: its row agrees with its body, and its body and salt
/// still give the leaf the log published.
pub(crate) fn check_event(e: &StoredEvent, findings: &mut Vec<Finding>) {
    let mut found = |detail: String| findings.push(Finding::new("event", detail));
    let body: Value = match serde_json::from_str(&e.body) {
        Ok(v) => v,
        Err(err) => {
            found(format!("event {}: body is not JSON ({err})", e.seq));
            return;
        }
    };
    if body["seq"].as_u64() != Some(e.seq) {
        found(format!(
            "event {}: its body says seq {} (moved or reordered)",
            e.seq, body["seq"]
        ));
    }
    if body["type"].as_str() != Some(e.event_type.as_str())
        || body["at"].as_str() != Some(e.at.to_string().as_str())
        || body["case"].as_i64() != e.case_id
    {
        found(format!(
            "event {}: type, time or case differ between the row and the body",
            e.seq
        ));
    }
    let day = e.at.strftime("%Y-%m-%d").to_string();
    let record = commit(&body, &e.salt)
        .ok()
        .and_then(|c| PublicRecord::new(&e.event_type, &day, c).ok());
    match record {
        Some(r) if r.leaf_bytes() == e.leaf => {}
        Some(_) => found(format!(
            "event {} ({}): its content does not match its commitment in the log (altered after it was logged)",
            e.seq, e.event_type
        )),
        None => found(format!("event {}: cannot recompute its commitment", e.seq)),
    }
}

fn file_digest(path: &Path, kind: custos_model::DigestKind) -> std::io::Result<(String, u64)> {
    let mut f = std::fs::File::open(path)?;
    let mut hasher = crate::custody::PackageHasher::new(kind);
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((hasher.finalize().hex().to_owned(), size))
}
