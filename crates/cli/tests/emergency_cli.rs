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

#[test]
fn a_call_back_and_a_signed_denial_through_the_cli() {
    use sha2::Digest as _;
    let mut node = TestNode::start_new();
    let xa = node.authority("XA", "mla,network_24_7");
    let (_, _, duty_pub) = keygen(&node, "duty");
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
    let token_file = |name: &str, role: &str| {
        let path = node.tmp.path().join(format!("{name}.token"));
        std::fs::write(&path, node.user(name, role)).unwrap();
        path
    };
    let (rita, sue) = (
        token_file("rita", "reviewer"),
        token_file("sue", "supervisor"),
    );
    let rita_token = std::fs::read_to_string(&rita).unwrap();
    let server = node.server();
    let submit = |id: &str| {
        let r = request("p07-emergency-kidnapping", id, "XA");
        let created = node.submit_jws(&xa.sign(&r));
        assert_eq!(created.status, 201, "{}", created.text());
        let digest = sha2::Sha256::digest(serde_json::to_vec(&r).unwrap());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        (created.json()["case"].as_i64().unwrap().to_string(), hex)
    };
    let callback = |args: &[&str]| {
        let mut all = vec!["callback"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--server", &server]);
        custos(&all)
    };

    // No contact registered: the reviewer is told to have one registered.
    let (case, _) = submit("XA-CALL-1");
    let record = |case: &str, outcome: &str| {
        callback(&[
            "record",
            "--token-file",
            rita.to_str().unwrap(),
            "--case",
            case,
            "--reached",
            "Insp. Vega, duty officer",
            "--outcome",
            outcome,
        ])
    };
    let none = record(&case, "confirmed");
    assert_eq!(none.status.code(), Some(2), "{none:?}");
    assert!(String::from_utf8_lossy(&none.stderr).contains("custos authority contact set"));
    // Registered while the node runs (an offline write it takes in).
    let set = custos_ok(&[
        "authority",
        "contact",
        "set",
        "--dir",
        node.dir_str(),
        "--authority",
        &xa.kid,
        "--name",
        "XA duty office",
        "--phone",
        "+99 555 0100",
    ]);
    assert!(set.contains("XA duty office"), "{set}");
    let ok = record(&case, "confirmed");
    assert!(ok.status.success(), "{ok:?}");
    let v: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(v["pending_callback"]["contact"]["phone"], "+99 555 0100");
    // The recorder cannot confirm its own record; a supervisor can.
    let review = |token: &std::path::Path| {
        callback(&[
            "review",
            "--token-file",
            token.to_str().unwrap(),
            "--case",
            &case,
            "--reason",
            "Matches the call log.",
        ])
    };
    let own = review(&rita);
    assert_eq!(own.status.code(), Some(2), "{own:?}");
    let ok = review(&sue);
    assert!(ok.status.success(), "{ok:?}");
    let v: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(v["by_callback"]["by"], "callback");
    let r = node.post_json(
        &format!("/v1/requests/{case}/decision"),
        rita_token.trim(),
        &serde_json::json!({"decision": "execute", "reason": "A child's life is at risk."}),
    );
    assert_eq!(r.status, 200, "{}", r.text());

    // A signed denial: the request's own key is refused, the confirmation key refuses the case.
    let (denied, digest) = submit("XA-CALL-2");
    let deny = |key: &std::path::Path| {
        custos(&[
            "deny",
            "--server",
            &server,
            "--key",
            key.to_str().unwrap(),
            "--case",
            &denied,
            "--request-id",
            "XA-CALL-2",
            "--sha256",
            &digest,
            "--reason",
            "We sent no such request.",
        ])
    };
    let own = deny(&xa.key_path);
    assert_eq!(own.status.code(), Some(2), "{own:?}");
    let ok = deny(&duty_key);
    assert!(ok.status.success(), "{ok:?}");
    let path = format!("/v1/requests/{denied}");
    let reply = node.get(&path, Some(&xa.proof("GET", &path))).json();
    assert_eq!(reply["status"], "refused", "{reply}");
    assert_eq!(reply["decision"]["ground"], "emergency-verification-failed");
    assert!(!reply.to_string().contains("rita"), "{reply}");

    // The counts per authority, for staff.
    let detail = node
        .get(
            &format!("/v1/authorities/{}", xa.kid),
            Some(&format!("Bearer {}", rita_token.trim())),
        )
        .json();
    assert_eq!(detail["contact"]["name"], "XA duty office");
    let counts = &detail["emergencies"];
    assert_eq!(counts["emergencies"], 2, "{detail}");
    assert_eq!(counts["verified_by_callback"], 1);
    assert_eq!(counts["failed_verification"], 1);

    let state = node.tmp.path().join("seen.checkpoint");
    custos_ok(&[
        "log",
        "verify",
        "--server",
        &server,
        "--vkey",
        &node.vkey,
        "--state",
        state.to_str().unwrap(),
        "--full",
    ]);
    node.stop();
    let audit = custos(&["audit", "--dir", node.dir_str()]);
    assert_eq!(audit.status.code(), Some(0), "{audit:?}");
}
