//! The cooperation dialogue (issue 13 §1) through the real binary over real HTTP: the
//! requesting authority withdraws with `custos withdraw`; a reviewer's decision afterwards is a
//! 409 `withdrawn`; closing remains; `custos audit` passes.

use crate::common::{TestNode, custos, custos_ok, request, write_json};
use serde_json::{Value, json};

#[test]
fn custos_withdraw_ends_the_case_and_a_decision_after_it_is_409() {
    let mut node = TestNode::start_new();
    let a = node.authority("XA", "mla");
    let b = node.authority("XB", "mla");
    let rita = node.user("rita", "reviewer");
    let server = node.server();
    let req = node.tmp.path().join("request.json");
    write_json(&req, &request("p01-ransomware-production", "XA-WD", "XA"));
    let out: Value = serde_json::from_str(&custos_ok(&[
        "submit",
        "--server",
        &server,
        "--key",
        a.key_path.to_str().unwrap(),
        req.to_str().unwrap(),
    ]))
    .unwrap();
    let case = out["case"].as_i64().unwrap().to_string();
    let withdraw = |key: &std::path::Path, id: &str, reason: &str| {
        custos(&[
            "withdraw",
            "--server",
            &server,
            "--key",
            key.to_str().unwrap(),
            "--case",
            &case,
            "--request-id",
            id,
            "--reason",
            reason,
        ])
    };

    // Another authority's key: the case is not there for it (exit 2, nothing written).
    let size = node.log_size();
    let o = withdraw(&b.key_path, "XA-WD", "Not ours.");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("404"), "{o:?}");
    // A blank reason is refused, naming the field.
    let o = withdraw(&a.key_path, "XA-WD", "  ");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("$.reason"),
        "{o:?}"
    );
    assert_eq!(node.log_size(), size);

    let o = withdraw(
        &a.key_path,
        "XA-WD",
        "The suspect was identified by other means.",
    );
    assert!(o.status.success(), "{o:?}");
    let reply: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(reply["format"], "custos.reply/v1", "{reply}");
    assert_eq!(reply["status"], "withdrawn");
    assert_eq!(
        reply["withdrawal"]["reason"],
        "The suspect was identified by other means."
    );

    // The authority reads it back; the timeline shows the withdrawal.
    let path = format!("/v1/requests/{case}");
    let r = node.get(&path, Some(&a.proof("GET", &path))).json();
    assert_eq!(r["status"], "withdrawn", "{r}");
    let events = format!("{path}/events");
    let t = node.get(&events, Some(&a.proof("GET", &events))).json();
    assert!(
        t["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "request.withdrawn"),
        "{t}"
    );
    // A reviewer's decision now: 409 withdrawn.
    node.post_json(
        &format!("{path}/decision"),
        &rita,
        &json!({"decision": "execute", "reason": "The request meets every safeguard and is executed."}),
    )
    .problem(409, "withdrawn", "withdrawn");
    // Staff see it as withdrawn and may close it.
    let bearer = format!("Bearer {rita}");
    let c = node.get(&path, Some(&bearer)).json();
    assert_eq!(c["status"], "withdrawn", "{c}");
    let closed = node.post_json(&format!("{path}/closed"), &rita, &json!({}));
    assert_eq!(closed.status, 200, "{}", closed.text());

    let audit = custos_ok(&["audit", "--dir", node.dir_str()]);
    assert!(!audit.contains("FINDING"), "{audit}");
}

#[test]
fn custos_answer_answers_a_consultation_and_both_sides_read_the_thread() {
    let mut node = TestNode::start_new();
    let a = node.authority("XA", "mla");
    let rita = node.user("rita", "reviewer");
    let server = node.server();
    let req = node.tmp.path().join("request.json");
    write_json(&req, &request("p01-ransomware-production", "XA-CO", "XA"));
    let out: Value = serde_json::from_str(&custos_ok(&[
        "submit",
        "--server",
        &server,
        "--key",
        a.key_path.to_str().unwrap(),
        req.to_str().unwrap(),
    ]))
    .unwrap();
    let case = out["case"].as_i64().unwrap();
    let by = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(48)).to_string();
    let r = node.post_json(
        &format!("/v1/requests/{case}/consultation"),
        &rita,
        &json!({"message": "Would subscriber data alone do?", "answer_by": by}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "in_consultation");
    let out = custos_ok(&[
        "answer",
        "--server",
        &server,
        "--key",
        a.key_path.to_str().unwrap(),
        "--case",
        &case.to_string(),
        "--request-id",
        "XA-CO",
        "--message",
        "Yes, subscriber data alone.",
    ]);
    let reply: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(reply["status"], "under_review", "{reply}");
    assert_eq!(
        reply["consultation"][1]["message"],
        "Yes, subscriber data alone."
    );
    assert!(reply["consultation"][0].get("by").is_none(), "{reply}");
    let path = format!("/v1/requests/{case}/consultation");
    let staff = node.get(&path, Some(&format!("Bearer {rita}"))).json();
    assert_eq!(staff["messages"][0]["by"], "rita", "{staff}");
    let audit = custos_ok(&["audit", "--dir", node.dir_str()]);
    assert!(!audit.contains("FINDING"), "{audit}");
}
