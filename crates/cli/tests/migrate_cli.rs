//! `custos migrate` through the real binary: an SQLite node with authorities, users, requests,
//! decisions, evidence and a console session moved to its own PostgreSQL database (`TestDatabase`), audited and
//! served from there with the same checkpoint; and every refusal leaving `custos.toml` as it
//! was: a target holding rows, a tampered source, a server that does not answer, a node still
//! running.

use std::path::Path;
use std::process::{Command, Output};

use custos_store::Backend;
use custos_store::testing::TestDatabase;
use serde_json::{Value, json};

use crate::common::{Resp, TestNode, console_get, console_session, custos, custos_ok, request};

fn created(r: &Resp) {
    assert_eq!(r.status, 201, "{}", r.text());
}

fn pg_database() -> TestDatabase {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(TestDatabase::new(Backend::Postgres))
}

/// One value from `psql` (tuples only, unaligned).
fn psql(db: &TestDatabase, sql: &str) -> String {
    let out = Command::new("psql")
        .arg(db.setting())
        .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("the psql CLI must be installed for this test (postgresql-client)");
    assert!(out.status.success(), "psql {sql}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn sqlite(db: &Path, sql: &str) -> String {
    let out = Command::new("sqlite3")
        .arg(db)
        .arg(sql)
        .output()
        .expect("the sqlite3 CLI must be installed for this test");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn config(node: &TestNode) -> String {
    std::fs::read_to_string(node.dir.join("custos.toml")).unwrap()
}

fn migrate(node: &TestNode, to: &str) -> Output {
    custos(&["migrate", "--dir", node.dir_str(), "--to", to])
}

/// A stopped SQLite node holding three requests from one authority (`XA`).
fn small_node() -> TestNode {
    let mut node = TestNode::start_new();
    let a = node.authority("XA", "mla");
    for i in 1..=3 {
        created(&node.submit_jws(&a.sign(&request("example", &format!("XA-MIG-{i}"), "XA"))));
    }
    node.stop();
    node
}

#[test]
fn a_node_is_migrated_audited_and_served_with_the_same_checkpoint() {
    let mut node = TestNode::start_new();
    // An authority with an age recipient, so evidence can be sealed for it.
    let identity = node.tmp.path().join("xa.agekey");
    let keygen = Command::new("age-keygen")
        .arg("-o")
        .arg(&identity)
        .output()
        .expect("age-keygen (Debian package age, installed by scripts/setup) runs");
    assert!(keygen.status.success());
    let recipient = String::from_utf8(
        Command::new("age-keygen")
            .arg("-y")
            .arg(&identity)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let key = node.tmp.path().join("xa.jwk");
    custos_ok(&["authority", "keygen", "-o", key.to_str().unwrap()]);
    custos_ok(&[
        "authority",
        "add",
        "--dir",
        node.dir_str(),
        "--state",
        "XA",
        "--name",
        "CA XA",
        "--kind",
        "central_authority",
        "--jwk",
        key.with_extension("pub.jwk").to_str().unwrap(),
        "--channels",
        "mla,network_24_7,direct",
        "--age-recipient",
        recipient.trim(),
    ]);
    let other = node.authority("XB", "mla");
    let reviewer = node.user("rita", "reviewer");
    node.user("audrey", "auditor");
    let mut cases = Vec::new();
    for i in 1..=3 {
        let req = node.tmp.path().join(format!("r{i}.json"));
        crate::common::write_json(&req, &request("example", &format!("XA-MIG-{i}"), "XA"));
        let reply: Value = serde_json::from_str(&custos_ok(&[
            "submit",
            "--server",
            &node.server(),
            "--key",
            key.to_str().unwrap(),
            req.to_str().unwrap(),
        ]))
        .unwrap();
        cases.push(reply["case"].as_i64().unwrap());
    }
    created(&node.submit_jws(&other.sign(&request("example", "XB-MIG-1", "XB"))));
    let r = node.post_json(
        &format!("/v1/requests/{}/decision", cases[0]),
        &reviewer,
        &json!({"decision": "execute", "reason": "Lawful and proportionate."}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = node.post_json(
        &format!("/v1/requests/{}/decision", cases[1]),
        &reviewer,
        &json!({"decision": "refuse", "grounds": [], "reason": "The conduct described is not an offence that can be assisted here."}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let evidence = node.tmp.path().join("subscriber.csv");
    std::fs::write(&evidence, "account,created\nexample,2025-01-01\n").unwrap();
    custos_ok(&[
        "evidence",
        "seal",
        "--dir",
        node.dir_str(),
        "--case",
        &cases[0].to_string(),
        evidence.to_str().unwrap(),
    ]);
    // A reviewer signed in to the console (a session row, kept in the database).
    let cookie = console_session(&node, "rita");
    // A restart: the scheduler's first pass records the end of the executed case's
    // confidentiality, so the PostgreSQL node's first pass will find nothing left to log.
    node.stop();
    let db_file = node.dir.join("custos.db");
    let logged = |kind: &str| {
        sqlite(
            &db_file,
            &format!("SELECT count(*) FROM events WHERE event_type = '{kind}'"),
        )
        .trim()
        .to_owned()
    };
    assert_eq!(logged("confidentiality.ended"), "0");
    node.start();
    node.wait_for(10, "the scheduler's first pass", || {
        logged("confidentiality.ended") == "1"
    });
    node.stop();
    let checkpoint = custos_service::integrity::read_head(&node.dir)
        .unwrap()
        .expect("the node keeps its head file");
    let dump = |f: &Path| {
        sqlite(
            f,
            ".dump events checkpoints authorities users cases holds notices extensions evidence \
             console_sessions console_lockout",
        )
    };
    let before = dump(&db_file);

    let pg = pg_database();
    let out = migrate(&node, &pg.setting());
    let said = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    let size: u64 = checkpoint.lines().nth(1).unwrap().parse().unwrap();
    let root = checkpoint.lines().nth(2).unwrap();
    assert!(
        said.contains(&format!("verified tree root {root} (size {size})")),
        "prints the verified root, the checkpoint's ({checkpoint}): {said}"
    );
    for table in [
        "events",
        "checkpoints",
        "authorities",
        "users",
        "cases",
        "evidence",
    ] {
        assert!(said.contains(table), "counts {table}: {said}");
    }
    assert!(
        said.contains(db_file.to_str().unwrap()),
        "says where the old file is: {said}"
    );
    assert_eq!(psql(&pg, "SELECT count(*) FROM events"), size.to_string());
    assert_eq!(psql(&pg, "SELECT count(*) FROM cases"), "4");
    assert_eq!(psql(&pg, "SELECT count(*) FROM users"), "2");
    assert_eq!(psql(&pg, "SELECT count(*) FROM authorities"), "2");
    assert_eq!(psql(&pg, "SELECT count(*) FROM evidence"), "1");
    assert_eq!(psql(&pg, "SELECT count(*) FROM console_sessions"), "1");
    assert_eq!(
        psql(
            &pg,
            "SELECT jsonb_typeof(assessment) FROM cases WHERE case_id = 1"
        ),
        "object",
        "documents land in JSONB"
    );
    assert!(
        config(&node).contains(&format!("database = \"{}\"", pg.setting())),
        "{}",
        config(&node)
    );
    assert_eq!(
        dump(&db_file),
        before,
        "the SQLite file's rows are untouched"
    );

    // Now on PostgreSQL: the audit passes, and a second migration is refused.
    let out = custos(&["audit", "--dir", node.dir_str()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = migrate(&node, &pg.setting());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("already uses PostgreSQL"),
        "{}",
        text(&out)
    );

    // Served from PostgreSQL: the same checkpoint root, the same cases, and it takes more.
    node.start();
    let served = node.get("/log/checkpoint", None).text();
    assert_eq!(served.lines().nth(1), checkpoint.lines().nth(1));
    assert_eq!(served.lines().nth(2), checkpoint.lines().nth(2));
    assert!(
        console_get(&node, &cookie, "/console/holds").contains("rita"),
        "the console session carried over"
    );
    let list = node.get("/v1/requests", Some(&format!("Bearer {reviewer}")));
    assert_eq!(list.status, 200, "{}", list.text());
    created(&node.submit_jws(&other.sign(&request("example", "XB-MIG-2", "XB"))));
    node.stop();
    assert_eq!(psql(&pg, "SELECT count(*) FROM cases"), "5");
    let out = custos(&["audit", "--dir", node.dir_str()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn a_target_holding_anything_is_refused() {
    let node = small_node();
    let before = config(&node);

    // A table of someone else's, with a row.
    let pg = pg_database();
    psql(
        &pg,
        "CREATE TABLE notes (x int); INSERT INTO notes VALUES (1)",
    );
    let out = migrate(&node, &pg.setting());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("not empty") && text(&out).contains("1 row(s) in notes"),
        "{}",
        text(&out)
    );
    assert_eq!(config(&node), before);
    assert_eq!(
        psql(&pg, "SELECT count(*) FROM notes"),
        "1",
        "left as it was"
    );

    // Another node's log.
    let pg2 = pg_database();
    let other = node.tmp.path().join("other");
    custos_ok(&[
        "init",
        "--dir",
        other.to_str().unwrap(),
        "--database",
        &pg2.setting(),
    ]);
    custos_ok(&[
        "user",
        "add",
        "--dir",
        other.to_str().unwrap(),
        "--name",
        "olga",
        "--role",
        "admin",
    ]);
    let out = migrate(&node, &pg2.setting());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("row(s) in events"), "{}", text(&out));
    assert_eq!(config(&node), before);
    assert_eq!(
        psql(&pg2, "SELECT count(*) FROM users"),
        "1",
        "left as it was"
    );
}

#[test]
fn a_tampered_source_is_refused_and_the_target_emptied() {
    let node = small_node();
    let before = config(&node);
    sqlite(
        &node.dir.join("custos.db"),
        "UPDATE events SET body = replace(body, 'XA-MIG-2', 'XA-MIG-9') WHERE event_type = 'request.received' AND body LIKE '%XA-MIG-2%'",
    );
    let pg = pg_database();
    let out = migrate(&node, &pg.setting());
    let said = text(&out);
    assert_eq!(out.status.code(), Some(3), "{said}");
    assert!(
        said.contains("does not match its commitment"),
        "names the event: {said}"
    );
    assert!(
        said.contains("emptied"),
        "says what became of the target: {said}"
    );
    assert_eq!(config(&node), before);
    assert_eq!(psql(&pg, "SELECT count(*) FROM events"), "0");
    assert_eq!(psql(&pg, "SELECT count(*) FROM cases"), "0");
}

#[test]
fn a_server_that_does_not_answer_or_a_running_node_changes_nothing() {
    let mut node = small_node();
    let before = config(&node);
    // Nothing listens on port 1.
    let out = migrate(&node, "postgresql://postgres@127.0.0.1:1/custos_nowhere");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(
            "cannot use the PostgreSQL database postgresql://postgres@127.0.0.1:1/custos_nowhere"
        ) && text(&out).contains("Is the server running"),
        "{}",
        text(&out)
    );
    assert_eq!(config(&node), before);
    let out = migrate(&node, "/tmp/not-a-url.db");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));

    node.start();
    let pg = pg_database();
    let out = migrate(&node, &pg.setting());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("stop `custos serve`"), "{}", text(&out));
    assert_eq!(config(&node), before);
    node.stop();
}
