//! The order that must follow an emergency (issue 13, §2), through the real binary: `custos
//! send-order` signs the order with the authority's key file (a kind the rule does not ask is
//! refused with its pointer), the scheduler records a missed order, `custos request-deletion`
//! asks the requester to delete, and the requester reads both in its reply; `custos audit` and
//! `custos log verify` pass after.

use crate::common::*;

#[test]
fn an_order_missed_then_sent_and_a_deletion_asked_through_the_cli() {
    let mut node = TestNode::init();
    // Due at once and ticked every second: the process test needs no 48 hours.
    node.configure(
        "lifecycle",
        "order_due_hours = 0\nscheduler_interval_seconds = 1",
    );
    node.start();
    let xa = node.authority("XA", "mla,network_24_7");
    let duty = node.tmp.path().join("duty.jwk");
    custos_ok(&["authority", "keygen", "-o", duty.to_str().unwrap()]);
    custos_ok(&[
        "authority",
        "confirm-key",
        "add",
        "--dir",
        node.dir_str(),
        "--authority",
        &xa.kid,
        "--jwk",
        duty.with_extension("pub.jwk").to_str().unwrap(),
    ]);
    let rita = node.user("rita", "reviewer");
    let token_file = node.tmp.path().join("rita.token");
    std::fs::write(&token_file, &rita).unwrap();
    let r = request("p07-emergency-kidnapping", "XA-ORDER-1", "XA");
    let payload = node.tmp.path().join("payload.json");
    std::fs::write(&payload, serde_json::to_vec(&r).unwrap()).unwrap();
    let created = node.submit_jws(&xa.sign(&r));
    assert_eq!(created.status, 201, "{}", created.text());
    let case = created.json()["case"].as_i64().unwrap().to_string();
    let server = node.server();
    custos_ok(&[
        "confirm",
        "--server",
        &server,
        "--key",
        duty.to_str().unwrap(),
        "--case",
        &case,
        "--request-id",
        "XA-ORDER-1",
        "--payload",
        payload.to_str().unwrap(),
    ]);
    let executed = node.post_json(
        &format!("/v1/requests/{case}/decision"),
        &rita,
        &serde_json::json!({"decision": "execute", "reason": "A child's life is at risk."}),
    );
    assert_eq!(executed.status, 200, "{}", executed.text());
    assert!(
        executed.json()["order"]["due_at"].is_string(),
        "{}",
        executed.text()
    );

    // The scheduler records the order missing.
    let path = format!("/v1/requests/{case}");
    node.wait_for(20, "order.missed", || {
        node.get(&path, Some(&format!("Bearer {rita}"))).json()["order"]["missed_at"].is_string()
    });

    let send = |kind: &str| {
        custos(&[
            "send-order",
            "--server",
            &server,
            "--key",
            xa.key_path.to_str().unwrap(),
            "--case",
            &case,
            "--request-id",
            "XA-ORDER-1",
            "--kind",
            kind,
            "--reference",
            "XA-COURT-2026-117",
            "--issued-by",
            "District Court of XA",
        ])
    };
    let wrong = send("administrative");
    assert_eq!(wrong.status.code(), Some(2), "{wrong:?}");
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(stderr.contains("$.authorization.kind"), "{stderr}");

    // The reviewer asks for deletion; the requester reads it.
    let message = "No order followed the emergency; delete the subscriber records handed over.";
    let asked = custos_ok(&[
        "request-deletion",
        "--server",
        &server,
        "--token-file",
        token_file.to_str().unwrap(),
        "--case",
        &case,
        "--message",
        message,
    ]);
    let asked: serde_json::Value = serde_json::from_str(&asked).unwrap();
    assert_eq!(asked["order"]["deletion_requested"]["message"], message);
    let again = custos(&[
        "request-deletion",
        "--server",
        &server,
        "--token-file",
        token_file.to_str().unwrap(),
        "--case",
        &case,
        "--message",
        message,
    ]);
    assert_eq!(again.status.code(), Some(2), "{again:?}");
    let reply = node.get(&path, Some(&xa.proof("GET", &path))).json();
    assert_eq!(reply["format"], "custos.reply/v1");
    assert_eq!(reply["order"]["deletion_requested"]["message"], message);
    assert!(reply["order"]["missed_at"].is_string(), "{reply}");

    // A late order is still taken.
    let ok = send("judicial");
    assert!(ok.status.success(), "{ok:?}");
    let reply: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(reply["order"]["kind"], "judicial");
    assert!(reply["order"]["received_at"].is_string(), "{reply}");

    let verify = custos(&[
        "log", "verify", "--server", &server, "--vkey", &node.vkey, "--full",
    ]);
    assert_eq!(verify.status.code(), Some(0), "{verify:?}");
    node.stop();
    let audit = custos(&["audit", "--dir", node.dir_str()]);
    assert_eq!(audit.status.code(), Some(0), "{audit:?}");
}
