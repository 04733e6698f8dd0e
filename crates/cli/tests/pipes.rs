//! Output to a reader that has gone (`custos log open 0 | head -1`, `custos authority list |
//! head -1`): the command ends quietly with its own exit status, never with a panic or
//! "Broken pipe" on standard error.

use std::process::{Command, Stdio};

use crate::common::{self, TestNode};

/// Runs `custos args` with its standard output a pipe whose reader closed before the first
/// byte (the earliest a reader can close); returns the exit status and standard error.
fn into_closed_pipe(args: &[&str]) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_custos"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(writer)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[track_caller]
fn quiet(args: &[&str]) -> String {
    let (code, stderr) = into_closed_pipe(args);
    assert_eq!(code, Some(0), "custos {args:?}: {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.to_lowercase().contains("broken pipe"),
        "custos {args:?} must end quietly on a closed pipe: {stderr}"
    );
    stderr
}

#[test]
fn the_cli_ends_quietly_when_its_reader_has_gone() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    let dir = dir.to_str().unwrap();
    quiet(&["init", "--dir", dir]);
    let key = tmp.path().join("a.jwk");
    quiet(&["authority", "keygen", "-o", key.to_str().unwrap()]);
    let public = key.with_extension("pub.jwk");
    // A write whose printed kid nobody reads is still done.
    quiet(&[
        "authority",
        "add",
        "--dir",
        dir,
        "--state",
        "XA",
        "--name",
        "Central authority of XA",
        "--kind",
        "central_authority",
        "--jwk",
        public.to_str().unwrap(),
    ]);
    assert!(common::custos_ok(&["authority", "list", "--dir", dir]).contains("XA"));
    quiet(&["authority", "list", "--dir", dir]);
    quiet(&["authority", "list", "--dir", dir, "--json"]);
    quiet(&["log", "open", "--dir", dir, "0"]);
    quiet(&["audit", "--dir", dir]);
    quiet(&["audit", "--dir", dir, "--json"]);
    quiet(&[
        "user", "add", "--dir", dir, "--name", "alice", "--role", "reviewer",
    ]);
    let example = common::repo().join("examples/request.json");
    for format in ["text", "json"] {
        quiet(&["assess", "--format", format, example.to_str().unwrap()]);
    }
}

#[test]
fn an_audit_finding_keeps_its_exit_status_on_a_closed_pipe() {
    let mut node = TestNode::init();
    node.authority("XA", "mla");
    let altered = Command::new("sqlite3")
        .arg(node.dir.join("custos.db"))
        .arg("UPDATE events SET body = replace(body, 'XA', 'XB') WHERE seq = 0")
        .status()
        .expect("the sqlite3 CLI must be installed for this test");
    assert!(altered.success());
    // The findings go to a reader that has gone; the verdict still reaches the caller.
    let (code, stderr) = into_closed_pipe(&["audit", "--dir", node.dir_str()]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("audit found"), "{stderr}");
    assert!(!stderr.to_lowercase().contains("broken pipe"), "{stderr}");
}
