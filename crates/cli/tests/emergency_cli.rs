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
