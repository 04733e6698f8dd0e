//! A follow-up of a preservation through the real binary (issue 13 §1): `custos submit` of a
//! request with `follows`, refused with its pointer when it names no preservation of the
//! sender; the hold renewed with `custos extension request --kind preservation` and a
//! reviewer's grant; `custos audit` clean after.

use serde_json::{Value, json};

use crate::common::*;

fn submit(node: &TestNode, key: &str, doc: &Value, name: &str) -> std::process::Output {
    let path = node.tmp.path().join(name);
    write_json(&path, doc);
    custos(&[
        "submit",
        "--server",
        &node.server(),
        "--key",
        key,
        path.to_str().unwrap(),
    ])
}

#[test]
fn a_follow_up_submitted_with_custos_submit_is_linked_and_the_hold_renewed() {
    let mut node = TestNode::start_new();
    let a = node.authority("XA", "mla,network_24_7");
    let rita = node.user("rita", "reviewer");
    let key = a.key_path.to_str().unwrap().to_owned();

    let out = submit(
        &node,
        &key,
        &request("p02-preservation-24-7", "XA-PRES", "XA"),
        "pres.json",
    );
    assert!(out.status.success(), "{out:?}");
    let pres = serde_json::from_slice::<Value>(&out.stdout).unwrap()["case"]
        .as_i64()
        .unwrap();
    let r = node.post_json(
        &format!("/v1/requests/{pres}/decision"),
        &rita,
        &json!({"decision": "execute", "reason": "The data are at risk of deletion; preserving hands nothing over."}),
    );
    assert_eq!(r.status, 200, "{}", r.text());

    // A follow-up naming an unknown request: exit 2, the pointer and what to do on stderr.
    let mut wrong = request("p01-ransomware-production", "XA-PROD-0", "XA");
    wrong["follows"] = "XA-NOSUCH".into();
    let out = submit(&node, &key, &wrong, "wrong.json");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("$.follows"), "{err}");
    assert!(err.contains("leave follows out"), "{err}");

    let mut follow = request("p01-ransomware-production", "XA-PROD", "XA");
    follow["follows"] = "XA-PRES".into();
    let out = submit(&node, &key, &follow, "follow.json");
    assert!(out.status.success(), "{out:?}");
    let reply: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reply["follows"]["case"], pres, "{reply}");
    assert_eq!(reply["follows"]["request_id"], "XA-PRES");
    let follow_case = reply["case"].as_i64().unwrap();

    // The staff record of the preservation shows its follow-up.
    let record = node
        .get(
            &format!("/v1/requests/{pres}"),
            Some(&format!("Bearer {rita}")),
        )
        .json();
    assert_eq!(record["followed_by"][0]["case"], follow_case, "{record}");

    // The requester renews the hold, signed, through the extension model.
    let path = format!("/v1/requests/{pres}");
    let before = node.get(&path, Some(&a.proof("GET", &path))).json();
    let until: jiff::Timestamp = before["preservation"]["until"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let wanted = until + jiff::SignedDuration::from_hours(24 * 30);
    let out = custos_ok(&[
        "extension",
        "request",
        "--server",
        &node.server(),
        "--key",
        &key,
        "--case",
        &pres.to_string(),
        "--kind",
        "preservation",
        "--until",
        &wanted.to_string(),
        "--reasons",
        "The production order is being signed by the judge.",
    ]);
    let x: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (x["kind"].as_str(), x["status"].as_str()),
        (Some("preservation"), Some("pending")),
        "{x}"
    );
    let id = x["extension"].as_i64().unwrap();
    let r = node.post_json(
        &format!("/v1/requests/{pres}/extensions/{id}/decision"),
        &rita,
        &json!({"grant": true, "reason": "The order is on its way; the data stay preserved."}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let after = node.get(&path, Some(&a.proof("GET", &path))).json();
    assert_eq!(
        after["preservation"]["until"],
        wanted.to_string(),
        "{after}"
    );
    assert_eq!(after["preservation"]["kept_for"][0]["case"], follow_case);

    let out = custos_ok(&["audit", "--dir", node.dir_str()]);
    assert!(!out.contains("FINDING"), "{out}");
}
