//! Issue 10's integrity defects, reproduced as an attacker who can write the database (but does
//! not hold the node key) would: a history rewritten with every unsigned column recomputed, the
//! tables the node acts on edited under a running node, a database rolled back, and an audit run
//! with the verifier key alone.

use std::process::Command;

use custos_ledger::commitment::{PublicRecord, Salt, canonicalize};
use custos_ledger::{MemoryStore, MerkleTree, leaf_hash};
use serde_json::{Value, json};

use crate::common::{TestNode, custos, custos_ok, request};

fn sql(db: &std::path::Path, statement: &str) -> String {
    let out = Command::new("sqlite3")
        .arg(db)
        .arg(statement)
        .output()
        .expect("the sqlite3 CLI must be installed for this test");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn run_audit(dir: &std::path::Path, extra: &[&str]) -> (Option<i32>, String) {
    let mut args = vec!["audit", "--dir", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = custos(&args);
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// `custos serve` on `dir`, which must refuse to start; returns what it said.
fn refused_start(dir: &std::path::Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_custos"))
        .args([
            "serve",
            "--dir",
            dir.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "the node must refuse to start: {said}"
    );
    said
}

fn copy_dir(node: &TestNode, name: &str) -> std::path::PathBuf {
    let to = node.tmp.path().join(name);
    let st = Command::new("cp")
        .arg("-a")
        .arg(&node.dir)
        .arg(&to)
        .status()
        .unwrap();
    assert!(st.success());
    to
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the probe did: rewrites event `seq`'s body with `change`, recomputes its commitment and
/// leaf under its own salt, and recomputes every later checkpoint's unsigned `root` column. The
/// signed notes stay as they were: the forger cannot sign.
fn forge(db: &std::path::Path, seq: u64, change: impl FnOnce(&mut Value)) {
    let row = sql(
        db,
        &format!("SELECT event_type, occurred_at, hex(salt), body FROM events WHERE seq = {seq}"),
    );
    let mut parts = row.trim_end().splitn(4, '|');
    let (ty, at, salt_hex, body) = (
        parts.next().unwrap().to_owned(),
        parts.next().unwrap().to_owned(),
        parts.next().unwrap().to_owned(),
        parts.next().unwrap().to_owned(),
    );
    let mut body: Value = serde_json::from_str(&body).unwrap();
    change(&mut body);
    let salt_bytes: Vec<u8> = (0..64)
        .step_by(2)
        .map(|i| u8::from_str_radix(&salt_hex[i..i + 2], 16).unwrap())
        .collect();
    let salt = Salt::from_bytes(salt_bytes.try_into().unwrap());
    let day = &at[..10];
    let leaf = PublicRecord::for_event(&ty, day, &body, &salt)
        .unwrap()
        .leaf_bytes();
    let canonical = canonicalize(&body).unwrap().replace('\'', "''");
    sql(
        db,
        &format!(
            "UPDATE events SET body = '{canonical}', leaf = X'{}' WHERE seq = {seq}",
            hex(&leaf)
        ),
    );
    // Every checkpoint's unsigned columns, recomputed over the forged leaves.
    let leaves = sql(db, "SELECT hex(leaf) FROM events ORDER BY seq");
    let mut tree = MerkleTree::new(MemoryStore::new());
    for l in leaves.lines() {
        let bytes: Vec<u8> = (0..l.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&l[i..i + 2], 16).unwrap())
            .collect();
        tree.append_leaf_hashes(&[leaf_hash(&bytes)]).unwrap();
    }
    for size in sql(db, "SELECT size FROM checkpoints").lines() {
        let size: u64 = size.parse().unwrap();
        let root = tree.root_at(size).unwrap();
        sql(
            db,
            &format!(
                "UPDATE checkpoints SET root = X'{}' WHERE size = {size}",
                hex(root.as_bytes())
            ),
        );
    }
}

#[test]
fn a_rewritten_history_is_found_refused_and_never_signed() {
    let mut node = TestNode::start_new();
    let a = node.authority("XA", "mla");
    let rita = node.user("rita", "reviewer");
    let r = node.submit_jws(&a.sign(&request("p04-defamation-2y", "XA-FORGE-1", "XA")));
    assert_eq!(r.status, 201, "{}", r.text());
    let case = r.json()["case"].as_i64().unwrap();
    let r = node.post_json(
        &format!("/v1/requests/{case}/decision"),
        &rita,
        &json!({"decision": "refuse", "reason": "Defamation is an expression offence."}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    node.stop();
    let (code, out) = run_audit(&node.dir, &[]);
    assert_eq!(code, Some(0), "an untouched node audits clean: {out}");
    let db = node.dir.join("custos.db");
    let seq: u64 = sql(
        &db,
        "SELECT seq FROM events WHERE event_type = 'decision.recorded'",
    )
    .trim()
    .parse()
    .unwrap();
    let checkpoints_before = sql(&db, "SELECT count(*), max(size) FROM checkpoints");

    // The refusal rewritten as an execution, with the case row to match.
    forge(&db, seq, |body| {
        body["decision"]["decision"] = "execute".into()
    });
    sql(
        &db,
        &format!(
            "UPDATE cases SET status = 'executing', decision = replace(decision, '\"refuse\"', '\"execute\"') WHERE case_id = {case}"
        ),
    );

    // 1. The audit compares the tree with the signed notes, not with the recomputed columns.
    let (code, out) = run_audit(&node.dir, &[]);
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains("its signed note is for") || out.contains("different root"),
        "{out}"
    );

    // 2. The node refuses to start on it, and signs nothing.
    let said = refused_start(&node.dir);
    assert!(said.contains("history was rewritten"), "{said}");
    assert_eq!(
        sql(&db, "SELECT count(*), max(size) FROM checkpoints"),
        checkpoints_before
    );

    // 3. A first-contact verifier never sees the forged history: no node serves it. The head
    //    file (the node's last signature, outside the database) still names the true root.
    let head =
        String::from_utf8_lossy(&std::fs::read(node.dir.join("log-head")).unwrap()).into_owned();
    assert!(
        head.contains(&format!("\n{}\n", seq + 2)),
        "the head covers the decision and its reply.communicated"
    );

    // Swapping every note for another valid note of the same node is caught too.
    let swapped = copy_dir(&node, "swapped");
    let sdb = swapped.join("custos.db");
    sql(
        &sdb,
        "UPDATE checkpoints SET note = (SELECT note FROM checkpoints ORDER BY size LIMIT 1)",
    );
    let (code, out) = run_audit(&swapped, &[]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("its signed note is for size"), "{out}");
    assert!(out.contains("stored twice"), "{out}");
}

#[test]
fn the_node_acts_on_the_log_not_on_tables_edited_under_it() {
    let mut node = TestNode::start_new();
    let xa = node.authority("XA", "mla");
    let xb = node.authority("XB", "mla");
    let aud = node.user("aud", "auditor");
    custos_ok(&[
        "authority",
        "revoke",
        "--dir",
        node.dir_str(),
        "--reason",
        "key stolen",
        &xb.kid,
    ]);
    node.wait_for(10, "the revocation to be taken in", || {
        node.submit_jws(&xb.sign(&request("example", "XB-0", "XB")))
            .status
            == 403
    });
    let r = node.submit_jws(&xa.sign(&request("p04-defamation-2y", "XA-1", "XA")));
    assert_eq!(r.status, 201, "{}", r.text());
    let case = r.json()["case"].as_i64().unwrap();

    // Under the running node: the revoked key un-revoked, the auditor promoted.
    let db = node.dir.join("custos.db");
    sql(
        &db,
        &format!(
            "UPDATE authorities SET revoked_at = NULL, revoke_reason = NULL WHERE kid = '{}'",
            xb.kid
        ),
    );
    sql(
        &db,
        "UPDATE users SET role = 'supervisor' WHERE name = 'aud'",
    );

    let r = node.submit_jws(&xb.sign(&request("example", "XB-1", "XB")));
    r.problem(403, "revoked-key", "revoked");
    node.post_json(
        &format!("/v1/requests/{case}/decision"),
        &aud,
        &json!({"decision": "refuse", "reason": "Defamation is an expression offence."}),
    )
    .problem(403, "read-only", "auditor");
    node.stop();

    let (code, out) = run_audit(&node.dir, &[]);
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains(&format!(
            "authorities: {} is not revoked in the table but revoked on",
            xb.kid
        )),
        "{out}"
    );
    assert!(
        out.contains("users: aud is supervisor in the table but auditor in the log"),
        "{out}"
    );
    let said = refused_start(&node.dir);
    assert!(
        said.contains("tables do not match its signed log"),
        "{said}"
    );
}

#[test]
fn the_audit_checks_what_each_event_allowed() {
    // A database writer who edits a case's status cannot make the log show a lawful decision:
    // the audit names the case whose row differs from its events.
    let mut node = TestNode::start_new();
    let a = node.authority("XA", "mla");
    let r = node.submit_jws(&a.sign(&request("p04-defamation-2y", "XA-2", "XA")));
    let case = r.json()["case"].as_i64().unwrap();
    node.stop();
    let db = node.dir.join("custos.db");
    sql(
        &db,
        &format!("UPDATE cases SET status = 'executing' WHERE case_id = {case}"),
    );
    let (code, out) = run_audit(&node.dir, &[]);
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains(&format!(
            "cases: case {case} differs from its events in status"
        )),
        "{out}"
    );
}

#[test]
fn an_event_row_of_an_unknown_type_is_an_audit_finding() {
    // A row whose type no node writes: named by the audit (it also breaks the commitment), and
    // a table value no node writes likewise, rather than stopping the audit.
    let mut node = TestNode::start_new();
    let a = node.authority("XA", "mla");
    let r = node.submit_jws(&a.sign(&request("p04-defamation-2y", "XA-2", "XA")));
    let case = r.json()["case"].as_i64().unwrap();
    node.stop();
    let db = node.dir.join("custos.db");
    let seq = sql(
        &db,
        "SELECT seq FROM events WHERE event_type = 'request.assessed' LIMIT 1",
    );
    let seq = seq.trim();
    sql(
        &db,
        &format!(
            "UPDATE events SET event_type = 'request.teleported' WHERE seq = {seq}; \
             UPDATE cases SET outcome = 'shrug' WHERE case_id = {case}"
        ),
    );
    let (code, out) = run_audit(&node.dir, &[]);
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains(&format!(
            "event {seq} (request.teleported): unknown event type"
        )),
        "{out}"
    );
    assert!(out.contains("a stored outcome does not read"), "{out}");
}

#[test]
fn a_rolled_back_database_is_refused() {
    let mut node = TestNode::start_new();
    let a = node.authority("XA", "mla");
    for i in 0..5 {
        let r = node.submit_jws(&a.sign(&request("example", &format!("XA-ROLL-{i}"), "XA")));
        assert_eq!(r.status, 201, "{}", r.text());
    }
    // The acknowledged requests are in the WAL; a crash, and the WAL is lost.
    node.kill();
    let rolled = copy_dir(&node, "rolled");
    assert!(
        rolled.join("custos.db-wal").exists(),
        "the test needs the WAL to hold the requests"
    );
    std::fs::remove_file(rolled.join("custos.db-wal")).unwrap();
    let _ = std::fs::remove_file(rolled.join("custos.db-shm"));
    let said = refused_start(&rolled);
    assert!(said.contains("rolled back"), "{said}");
    assert!(said.contains("custos.db-wal"), "{said}");
    let (code, out) = run_audit(&rolled, &[]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("rolled back"), "{out}");

    // The last event deleted together with its checkpoint row: the head file remembers.
    node.start();
    node.stop();
    let db = node.dir.join("custos.db");
    sql(
        &db,
        "DELETE FROM events WHERE seq = (SELECT max(seq) FROM events); DELETE FROM checkpoints WHERE size = (SELECT max(size) FROM checkpoints);",
    );
    let (code, out) = run_audit(&node.dir, &[]);
    assert_eq!(code, Some(3), "{out}");
    let said = refused_start(&node.dir);
    assert!(said.contains("rolled back"), "{said}");
}

#[test]
fn the_audit_needs_only_the_verifier_key() {
    let mut node = TestNode::start_new();
    let a = node.authority("XA", "mla");
    let r = node.submit_jws(&a.sign(&request("example", "XA-VKEY", "XA")));
    assert_eq!(r.status, 201, "{}", r.text());
    node.stop();
    // The private key is not needed: the node directory keeps its verifier key.
    std::fs::rename(node.dir.join("node.key"), node.tmp.path().join("away.key")).unwrap();
    let (code, out) = run_audit(&node.dir, &[]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run_audit(&node.dir, &["--vkey", &node.vkey]);
    assert_eq!(code, Some(0), "{out}");
    // Another node's key: nothing verifies.
    let other = TestNode::init();
    let (code, out) = run_audit(&node.dir, &["--vkey", &other.vkey]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("signature does not verify"), "{out}");
}
