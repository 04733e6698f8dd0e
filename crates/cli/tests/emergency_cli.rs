//! Emergencies verified twice (issue 13, §2), through the real binary: confirmation keys
//! registered with `authority add --confirm-jwk` and `authority confirm-key add`, and refused
//! when they sign a request.

use custos_jose::{PrivateJwk, sign_compact};

use crate::common::*;

fn keygen(node: &TestNode, name: &str) -> (PrivateJwk, String, std::path::PathBuf) {
    let path = node.tmp.path().join(format!("{name}.jwk"));
    let kid = custos_ok(&["authority", "keygen", "-o", path.to_str().unwrap()])
        .trim()
        .to_owned();
    let key = PrivateJwk::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
    (key, kid, path.with_extension("pub.jwk"))
}

#[test]
fn confirmation_keys_are_registered_by_the_cli_and_cannot_sign_a_request() {
    let mut node = TestNode::init();
    // Registered with the authority, twice over (the flag repeats).
    let (_, own_kid, own_pub) = keygen(&node, "xa");
    let (duty, duty_kid, duty_pub) = keygen(&node, "duty");
    let (_, _, night_pub) = keygen(&node, "night");
    let added = custos_ok(&[
        "authority",
        "add",
        "--dir",
        node.dir_str(),
        "--state",
        "XA",
        "--name",
        "Central authority of XA",
        "--kind",
        "central_authority",
        "--jwk",
        own_pub.to_str().unwrap(),
        "--channels",
        "mla,network_24_7",
        "--confirm-jwk",
        duty_pub.to_str().unwrap(),
        "--confirm-jwk",
        night_pub.to_str().unwrap(),
    ]);
    assert_eq!(added.trim(), own_kid);
    // Added later to another authority.
    let xb = node.authority("XB", "mla");
    let (_, late_kid, late_pub) = keygen(&node, "late");
    let out = custos_ok(&[
        "authority",
        "confirm-key",
        "add",
        "--dir",
        node.dir_str(),
        "--authority",
        &xb.kid,
        "--jwk",
        late_pub.to_str().unwrap(),
    ]);
    assert_eq!(out.trim(), late_kid);
    // A key already in use is refused with exit 2 and nothing written.
    let again = custos(&[
        "authority",
        "confirm-key",
        "add",
        "--dir",
        node.dir_str(),
        "--authority",
        &xb.kid,
        "--jwk",
        duty_pub.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(2), "{again:?}");
    let audit = custos(&["audit", "--dir", node.dir_str()]);
    assert_eq!(audit.status.code(), Some(0), "{audit:?}");

    node.start();
    let mut r = request("example", "XA-CONFIRM-1", "XA");
    r["requesting_authority"]["state"] = "XA".into();
    let jws = sign_compact(
        &serde_json::to_vec(&r).unwrap(),
        &duty,
        Some("custos.request/v1+jws"),
    );
    let p = node
        .submit_jws(&jws)
        .problem(403, "confirmation-key", "not sign requests");
    assert!(p["detail"].as_str().unwrap().contains(&duty_kid), "{p}");
    node.stop();
    let audit = custos(&["audit", "--dir", node.dir_str()]);
    assert_eq!(audit.status.code(), Some(0), "{audit:?}");
}

#[test]
fn an_emergency_is_executed_only_after_custos_confirm() {
    let mut node = TestNode::start_new();
    let xa = node.authority("XA", "mla,network_24_7");
    let (_, duty_kid, duty_pub) = keygen(&node, "duty");
    custos_ok(&[
        "authority",
        "confirm-key",
        "add",
        "--dir",
        node.dir_str(),
        "--authority",
        &xa.kid,
        "--jwk",
        duty_pub.to_str().unwrap(),
    ]);
    let duty_key = node.tmp.path().join("duty.jwk");
    let rita = node.user("rita", "reviewer");
    let r = request("p07-emergency-kidnapping", "XA-EMERGENCY-1", "XA");
    let payload_path = node.tmp.path().join("signed-payload.json");
    std::fs::write(&payload_path, serde_json::to_vec(&r).unwrap()).unwrap();
    let created = node.submit_jws(&xa.sign(&r));
    assert_eq!(created.status, 201, "{}", created.text());
    let case = created.json()["case"].as_i64().unwrap();
    let decide = || {
        node.post_json(
            &format!("/v1/requests/{case}/decision"),
            &rita,
            &serde_json::json!({"decision": "execute", "reason": "A child's life is at risk."}),
        )
    };
    decide().problem(409, "emergency-unverified", "not verified");

    let confirm = |key: &std::path::Path, digest: &[&str]| {
        let case = case.to_string();
        let server = node.server();
        let mut args = vec![
            "confirm",
            "--server",
            &server,
            "--key",
            key.to_str().unwrap(),
            "--case",
            &case,
            "--request-id",
            "XA-EMERGENCY-1",
        ];
        args.extend_from_slice(digest);
        custos(&args)
    };
    let payload_arg = ["--payload", payload_path.to_str().unwrap()];
    // The key that signed the request cannot confirm it.
    let own = confirm(&xa.key_path, &payload_arg);
    assert_eq!(own.status.code(), Some(2), "{own:?}");
    assert!(String::from_utf8_lossy(&own.stderr).contains("signs requests"));
    // A digest of something else.
    let zeros = "00".repeat(32);
    let wrong = confirm(&duty_key, &["--sha256", &zeros]);
    assert_eq!(wrong.status.code(), Some(2), "{wrong:?}");
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("SHA-256"));
    decide().problem(409, "emergency-unverified", "not verified");
    // The duty supervisor's key over the payload as signed.
    let ok = confirm(&duty_key, &payload_arg);
    assert!(ok.status.success(), "{ok:?}");
    let answer: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(answer["verified"], true);
    assert_eq!(answer["kid"], duty_kid.as_str());
    let r = decide();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "executing");
    node.stop();
    let audit = custos(&["audit", "--dir", node.dir_str()]);
    assert_eq!(audit.status.code(), Some(0), "{audit:?}");
}
