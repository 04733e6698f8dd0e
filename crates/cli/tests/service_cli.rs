//! The node through the real binary over real HTTP (issue 3, "Done when"): a request signed by an
//! outside JOSE library, every refusal as a problem document, the lifecycle through the API with
//! user tokens and authority proofs, the scheduler (also across a restart), the log seen by an
//! outside verifier, tampering found by `custos audit`, and a SIGKILL in the middle of intake.

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{TestNode, custos, custos_ok, request, try_http, write_json};
use custos_jose::{PrivateJwk, sign_compact};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

fn event_types(node: &TestNode, case: i64, token: &str) -> Vec<String> {
    let r = node.get(
        &format!("/v1/requests/{case}/events"),
        Some(&format!("Bearer {token}")),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

fn created(r: &crate::common::Resp) -> Value {
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

#[test]
fn a_request_signed_with_jwcrypto_is_accepted_and_assessed_as_custos_assess_does() {
    let mut node = TestNode::start_new();
    let req = request("example", "XA-JWCRYPTO-1", "XA");
    let req_path = node.tmp.path().join("request.json");
    write_json(&req_path, &req);
    let script = crate::common::repo().join("crates/cli/tests/sign_with_jwcrypto.py");
    // No skipping: without python3 and jwcrypto (scripts/setup installs them) this test fails.
    let out = Command::new("python3")
        .arg(&script)
        .arg(&req_path)
        .output()
        .expect("python3 must be installed for this test (scripts/setup)");
    assert!(
        out.status.success(),
        "the jwcrypto signer failed (is jwcrypto installed? scripts/requirements.txt): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let signed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let thumbprint = signed["thumbprint"].as_str().unwrap();
    let pub_path = node.tmp.path().join("jwcrypto.pub.jwk");
    write_json(&pub_path, &signed["public_jwk"]);
    let kid = custos_ok(&[
        "authority",
        "add",
        "--dir",
        node.dir_str(),
        "--state",
        "XA",
        "--name",
        "Central Authority of XA",
        "--kind",
        "central_authority",
        "--jwk",
        pub_path.to_str().unwrap(),
        "--channels",
        "mla,network_24_7,direct",
    ]);
    assert_eq!(
        kid.trim(),
        thumbprint,
        "Custos's RFC 7638 thumbprint equals jwcrypto's"
    );
    let resp = node.submit_jws(signed["jws"].as_str().unwrap());
    // The requester's answer is its reply: case, request id, status; no assessment.
    let reply = created(&resp);
    assert_eq!(reply["format"], "custos.reply/v1", "{reply}");
    assert_eq!(reply["request_id"], "XA-JWCRYPTO-1");
    assert_eq!(reply["status"], "under_review");
    assert_eq!(reply["decision"], Value::Null);
    for key in ["assessment", "outcome", "authority", "findings"] {
        assert!(reply.get(key).is_none(), "{key} in {reply}");
    }
    let location = resp.header("location").unwrap();
    assert_eq!(location, format!("/v1/requests/{}", reply["case"]));
    // The node's reviewers read the assessment.
    let reviewer = node.user("rita", "reviewer");
    let case = node
        .get(location, Some(&format!("Bearer {reviewer}")))
        .json();
    assert_eq!(case["authority"], thumbprint);
    assert_eq!(case["request_id"], "XA-JWCRYPTO-1");
    let assessed: Value = serde_json::from_str(&custos_ok(&[
        "assess",
        "--format",
        "json",
        req_path.to_str().unwrap(),
    ]))
    .unwrap();
    assert_eq!(case["outcome"], assessed["outcome"], "{case}");
    assert_eq!(case["assessment"]["outcome"], assessed["outcome"]);
    let codes = |a: &Value| -> BTreeSet<String> {
        a["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(codes(&case["assessment"]), codes(&assessed));
    node.kill();
}

#[test]
fn refusals_are_clear_problems_and_record_nothing() {
    let mut node = TestNode::start_new();
    let a = node.authority("XA", "mla");
    let reviewer = node.user("rita", "reviewer");
    let bearer = format!("Bearer {reviewer}");
    let other = PrivateJwk::generate();

    // Accepted, and idempotent.
    let ok = request("example", "XA-OK-1", "XA");
    let first = created(&node.submit_jws(&a.sign(&ok)));
    let again = node.submit_jws(&a.sign(&ok));
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(again.json()["case"], first["case"]);
    let size = node.log_size();

    // Forged: another key's signature under the registered key's kid.
    let fresh = request("example", "XA-FORGED", "XA");
    let genuine = a.sign(&fresh);
    let by_other = sign_compact(
        &serde_json::to_vec(&fresh).unwrap(),
        &other,
        Some("custos.request/v1+jws"),
    );
    let forged = format!(
        "{}.{}.{}",
        genuine.split('.').next().unwrap(),
        genuine.split('.').nth(1).unwrap(),
        by_other.split('.').nth(2).unwrap()
    );
    node.submit_jws(&forged)
        .problem(401, "bad-signature", "does not verify");
    // Unknown key.
    let r = node.submit_jws(&by_other);
    r.problem(401, "unknown-key", "not in this node's directory");
    assert!(
        r.header("www-authenticate").is_some(),
        "a 401 has a challenge"
    );
    // Wrong state.
    node.submit_jws(&a.sign(&request("example", "XA-STATE", "XB")))
        .problem(403, "wrong-state", "registered for");
    // Channel not allowed.
    let mut r = request("example", "XA-CHANNEL", "XA");
    r["channel"] = "direct".into();
    node.submit_jws(&a.sign(&r))
        .problem(403, "channel-not-allowed", "may use only mla");
    // Replayed: two days old.
    let mut r = request("example", "XA-OLD", "XA");
    r["submitted_at"] = (Timestamp::now() - SignedDuration::from_hours(48))
        .to_string()
        .into();
    node.submit_jws(&a.sign(&r))
        .problem(422, "stale-request", "replay");
    // Future-dated.
    let mut r = request("example", "XA-FUTURE", "XA");
    r["submitted_at"] = (Timestamp::now() + SignedDuration::from_hours(1))
        .to_string()
        .into();
    node.submit_jws(&a.sign(&r))
        .problem(422, "future-request", "in the future");
    // Oversized.
    let big = vec![b'a'; 1024 * 1024 + 100];
    crate::common::http(
        node.port,
        "POST",
        "/v1/requests",
        &[("content-type", "application/jose")],
        &big,
    )
    .problem(413, "too-large", "nothing was recorded");
    // Media types are case-insensitive.
    let r = crate::common::http(
        node.port,
        "POST",
        "/v1/requests",
        &[("content-type", "Application/JOSE")],
        a.sign(&ok).as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // Wrong content type.
    crate::common::http(
        node.port,
        "POST",
        "/v1/requests",
        &[("content-type", "application/json")],
        serde_json::to_vec(&ok).unwrap().as_slice(),
    )
    .problem(415, "media-type", "application/jose");
    // Malformed JWS.
    node.submit_jws("this is not a JWS")
        .problem(400, "malformed-jws", "three base64url parts");
    // Invalid payload.
    let invalid = request("p14-invalid-unknown-field", "XA-INVALID", "XA");
    let p = node
        .submit_jws(&a.sign(&invalid))
        .problem(422, "invalid-request", "confidentialty");
    let pointers: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert!(
        pointers.iter().any(|p| p.starts_with("$.confidentialty")),
        "{p}"
    );
    // A different payload under an id already used.
    let mut changed = ok.clone();
    changed["purpose"] = "Something else entirely.".into();
    node.submit_jws(&a.sign(&changed))
        .problem(409, "request-id-reused", "different content");

    // Nothing of the refused requests was recorded.
    assert_eq!(node.log_size(), size, "the log did not grow");
    let list = node.get("/v1/requests", Some(&bearer));
    assert_eq!(list.status, 200, "{}", list.text());
    let ids: Vec<String> = list
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["request_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["XA-OK-1"]);

    // Errors axum itself finds are problems too.
    node.get("/v1/requests/abc", Some(&bearer))
        .problem(400, "invalid-parameter", "");
    node.get("/v1/log/inclusion?index=x", None)
        .problem(400, "invalid-parameter", "index");
    let r = crate::common::http(node.port, "DELETE", "/v1/requests", &[], b"");
    r.problem(405, "method-not-allowed", "DELETE is not allowed");
    assert!(r.header("allow").is_some_and(|a| a.contains("POST")));
    let p = crate::common::http(
        node.port,
        "POST",
        &format!("/v1/requests/{}/decision", first["case"]),
        &[("authorization", &bearer)],
        b"{",
    )
    .problem(400, "invalid-json", "EOF");
    assert_eq!(p["errors"][0]["pointer"], "$", "{p}");
    assert_eq!(node.log_size(), size);

    // Revoked (while the node runs, so its directory cache still holds the key).
    custos_ok(&[
        "authority",
        "revoke",
        "--dir",
        node.dir_str(),
        "--reason",
        "key compromised",
        &a.kid,
    ]);
    node.submit_jws(&a.sign(&request("example", "XA-AFTER-REVOKE", "XA")))
        .problem(403, "revoked-key", "was revoked");
    let list = node.get("/v1/requests", Some(&bearer)).json();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    node.kill();
}

#[test]
fn the_lifecycle_through_the_api() {
    let mut node = TestNode::start_new();
    let a = node.authority("XA", "mla,network_24_7,direct");
    let b = node.authority("XB", "mla");
    let reviewer = node.user("rita", "reviewer");
    let sup1 = node.user("sam", "supervisor");
    let sup2 = node.user("sue", "supervisor");
    let auditor = node.user("aud", "auditor");

    let submit = |name: &str, id: &str| -> i64 {
        let c = created(&node.submit_jws(&a.sign(&request(name, id, "XA"))));
        c["case"].as_i64().unwrap()
    };
    let decide = |case: i64, token: &str, body: Value| {
        node.post_json(&format!("/v1/requests/{case}/decision"), token, &body)
    };

    // Refuse: a reason is required.
    let refused = submit("p04-defamation-2y", "XA-DEFAMATION");
    let p = decide(
        refused,
        &reviewer,
        json!({"decision": "refuse", "reason": "  "}),
    )
    .problem(422, "invalid-decision", "reason");
    assert_eq!(p["errors"][0]["pointer"], "$.reason");
    let r = decide(
        refused,
        &reviewer,
        json!({"decision": "refuse", "reason": "Defamation is an expression offence."}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "refused");

    // Narrowing that widens.
    let narrowed = submit("p13-subscriber-plus-traffic", "XA-NARROW");
    let staff_view = |case: i64| {
        node.get(
            &format!("/v1/requests/{case}"),
            Some(&format!("Bearer {reviewer}")),
        )
        .json()
    };
    let case = node
        .get(
            &format!("/v1/requests/{narrowed}"),
            Some(&format!("Bearer {reviewer}")),
        )
        .json();
    assert_eq!(case["outcome"], "execute_narrowed", "{case}");
    let mut terms = case["assessment"]["narrowed"].clone();
    terms["data_categories"] = json!(["subscriber", "content"]);
    let p = decide(
        narrowed,
        &reviewer,
        json!({"decision": "execute_narrowed", "reason": "As proposed.", "narrowed": terms}),
    )
    .problem(422, "invalid-decision", "was not asked for");
    assert_eq!(p["errors"][0]["pointer"], "$.narrowed.data_categories");

    // Request information, then the authority supplements under the same id.
    let mut needs = request("p17-no-data-protection-terms", "XA-NEEDS-INFO", "XA");
    let c = created(&node.submit_jws(&a.sign(&needs)));
    let needs_case = c["case"].as_i64().unwrap();
    assert_eq!(
        staff_view(needs_case)["outcome"],
        "needs_information",
        "{c}"
    );
    let r = decide(
        needs_case,
        &reviewer,
        json!({"decision": "request_information", "reason": "Data protection terms are missing.",
               "message": "Please state retention, purpose limitation and onward transfer."}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "awaiting_information");
    let example = request("example", "x", "XA");
    needs["data_protection"] = example["data_protection"].clone();
    needs["submitted_at"] = Timestamp::now().to_string().into();
    let r = node.submit_jws(&a.sign(&needs));
    assert_eq!(r.status, 200, "a supplement: {}", r.text());
    let c = r.json();
    assert_eq!(c["case"], needs_case);
    assert_eq!(c["status"], "under_review", "the supplement's reply: {c}");
    let c = staff_view(needs_case);
    assert_eq!(c["status"], "assessed");
    assert_ne!(c["outcome"], "needs_information", "re-assessed: {c}");
    let types = event_types(&node, needs_case, &reviewer);
    assert_eq!(
        types,
        [
            "request.received",
            "request.assessed",
            "request.information_requested",
            "reply.communicated",
            "request.supplemented",
            "request.assessed"
        ]
    );

    // Executing over a refusal recommendation needs a second supervisor.
    let grave = submit("p12-death-penalty", "XA-DEATH");
    let r = decide(
        grave,
        &sup1,
        json!({"decision": "execute", "reason": "The requesting state gave a binding assurance against the death penalty."}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "awaiting_second_review");
    let review = |token: &str| {
        node.post_json(
            &format!("/v1/requests/{grave}/second-review"),
            token,
            &json!({"confirm": true, "reason": "The assurance is on file."}),
        )
    };
    review(&reviewer).problem(403, "role", "supervisor");
    review(&sup1).problem(403, "same-reviewer", "different supervisor");
    let r = review(&sup2);
    assert_eq!(r.status, 200, "{}", r.text());
    let c = r.json();
    assert_eq!(c["status"], "executing");
    assert_eq!(c["decision"]["confirmed_by"], "sue");

    // After execution: delivered, closed, and no way back.
    let advance =
        |to: &str| node.post_json(&format!("/v1/requests/{grave}/{to}"), &reviewer, &json!({}));
    assert_eq!(advance("delivered").json()["status"], "delivered");
    advance("delivered").problem(409, "invalid-transition", "cannot become delivered");

    let aud = format!("Bearer {auditor}");
    for path in [
        "/v1/requests".to_owned(),
        format!("/v1/requests/{grave}"),
        format!("/v1/requests/{grave}/events"),
        "/v1/holds".to_owned(),
        "/v1/notices".to_owned(),
        "/v1/authorities".to_owned(),
    ] {
        let r = node.get(&path, Some(&aud));
        assert_eq!(r.status, 200, "auditor GET {path}: {}", r.text());
    }
    for (path, body) in [
        (
            format!("/v1/requests/{narrowed}/decision"),
            json!({"decision": "refuse", "reason": "No."}),
        ),
        (
            format!("/v1/requests/{grave}/second-review"),
            json!({"confirm": true, "reason": "Yes."}),
        ),
        (format!("/v1/requests/{grave}/delivered"), json!({})),
        (format!("/v1/requests/{grave}/closed"), json!({})),
        (format!("/v1/requests/{grave}/hold/renew"), json!({})),
    ] {
        node.post_json(&path, &auditor, &body)
            .problem(403, "read-only", "auditor");
    }

    // The timeline, with log indexes and proof links that work.
    let t = node
        .get(
            &format!("/v1/requests/{grave}/events"),
            Some(&format!("Bearer {reviewer}")),
        )
        .json();
    let events = t["events"].as_array().unwrap();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "request.received",
            "request.assessed",
            "decision.proposed",
            "decision.recorded",
            "reply.communicated",
            "request.delivered"
        ]
    );
    for e in events {
        let index = e["log_index"].as_u64().unwrap();
        let link = e["inclusion_proof"].as_str().unwrap();
        assert!(link.starts_with(&format!("/v1/log/inclusion?index={index}&")));
        let proof = node.get(link, None);
        assert_eq!(proof.status, 200, "{}", proof.text());
        assert_eq!(proof.json()["index"], index);
    }

    // A requesting authority reads its own case with a signed proof, and not another's: its
    // reply, and the timeline of what concerns it (types and times, no deliberation).
    let path = format!("/v1/requests/{grave}");
    let r = node.get(&path, Some(&a.proof("GET", &path)));
    assert_eq!(r.status, 200, "{}", r.text());
    let reply = r.json();
    assert_eq!(reply["format"], "custos.reply/v1", "{reply}");
    assert_eq!(reply["request_id"], "XA-DEATH");
    assert_eq!(reply["status"], "delivered");
    let events_path = format!("{path}/events");
    let r = node.get(&events_path, Some(&a.proof("GET", &events_path)));
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = r.json();
    assert!(
        seen["events"][0].get("event").is_none(),
        "authorities see types and times only"
    );
    let types: Vec<&str> = seen["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "request.received",
            "reply.communicated",
            "request.delivered"
        ],
        "no proposal, no second review, no decision record"
    );
    let r = node.get(&path, Some(&a.proof("GET", "/v1/requests/999")));
    r.problem(401, "bad-proof", "not for GET");
    let theirs = created(&node.submit_jws(&b.sign(&request("example", "XB-1", "XB"))));
    let mine = node
        .get("/v1/requests", Some(&a.proof("GET", "/v1/requests")))
        .json();
    assert_eq!(mine.as_array().unwrap().len(), 4, "{mine}");
    let ids: BTreeSet<&str> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["format"], "custos.reply/v1", "{c}");
            c["request_id"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        ids,
        BTreeSet::from(["XA-DEATH", "XA-DEFAMATION", "XA-NARROW", "XA-NEEDS-INFO"]),
        "an authority lists only its own cases"
    );
    let r = node.get("/v1/requests", None);
    r.problem(401, "no-credentials", "Authorization");
    assert!(
        r.header("www-authenticate")
            .is_some_and(|c| c.contains("Bearer"))
    );
    let their_path = format!("/v1/requests/{}", theirs["case"]);
    node.get(&their_path, Some(&a.proof("GET", &their_path)))
        .problem(404, "not-found", "visible to you");
    let r = node.get(&their_path, Some(&b.proof("GET", &their_path)));
    assert_eq!(r.status, 200, "{}", r.text());
    // A valid proof on an endpoint for people only is refused, whichever the endpoint.
    for path in ["/v1/holds", "/v1/notices", "/v1/authorities"] {
        node.get(path, Some(&a.proof("GET", path))).problem(
            403,
            "people-only",
            "requesting authority",
        );
    }
    // A malformed parameter is refused before credentials are asked for.
    node.get("/v1/requests/one", None)
        .problem(400, "invalid-parameter", "");
    node.kill();
}

fn scheduler_node() -> TestNode {
    let node = TestNode::init();
    node.configure(
        "lifecycle",
        "preservation_days = 0\nscheduler_interval_seconds = 1\nnotice_command = \"touch notice-$CUSTOS_CASE\"",
    );
    node
}

#[test]
fn the_scheduler_releases_holds_and_sends_notices_also_after_a_restart() {
    let mut node = scheduler_node();
    node.start();
    let a = node.authority("XA", "mla,network_24_7");
    let reviewer = node.user("rita", "reviewer");
    let bearer = format!("Bearer {reviewer}");
    let execute = |node: &TestNode, case: i64| {
        let r = node.post_json(
            &format!("/v1/requests/{case}/decision"),
            &reviewer,
            &json!({"decision": "execute", "reason": "The request meets every safeguard and is executed."}),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["status"], "executing");
    };

    // A preservation hold of 0 days is released by the scheduler.
    let c =
        created(&node.submit_jws(&a.sign(&request("p02-preservation-24-7", "XA-PRESERVE", "XA"))));
    let preserve = c["case"].as_i64().unwrap();
    execute(&node, preserve);
    node.wait_for(10, "the hold's release", || {
        event_types(&node, preserve, &reviewer).contains(&"preservation.released".to_owned())
    });
    let holds = node.get("/v1/holds", Some(&bearer)).json();
    assert_eq!(holds, json!([]));
    node.post_json(
        &format!("/v1/requests/{preserve}/hold/renew"),
        &reviewer,
        &json!({}),
    )
    .problem(409, "no-hold", "no preservation hold in force");

    // A rights-first notice due at once (no confidentiality asked) is sent by the command.
    let c = created(&node.submit_jws(&a.sign(&request("example", "XA-NOTICE", "XA"))));
    let notice = c["case"].as_i64().unwrap();
    execute(&node, notice);
    node.wait_for(10, "the notice", || {
        let t = event_types(&node, notice, &reviewer);
        t.contains(&"confidentiality.ended".to_owned()) && t.contains(&"notice.sent".to_owned())
    });
    assert!(node.dir.join(format!("notice-{notice}")).exists());
    let notices = node.get("/v1/notices", Some(&bearer)).json();
    let n = notices
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["case"] == notice)
        .unwrap();
    assert!(n["sent_at"].is_string(), "{n}");

    // Something falls due while the node is down: caught up on restart.
    let mut r = request("example", "XA-LATER", "XA");
    let until = Timestamp::now() + SignedDuration::from_secs(4);
    r["confidentiality"] = json!({"requested": true, "until": until.to_string(),
        "justification": "Disclosure would alert the suspects before the arrests planned for this week."});
    let c = created(&node.submit_jws(&a.sign(&r)));
    let later = c["case"].as_i64().unwrap();
    execute(&node, later);
    node.stop();
    assert!(
        !node.dir.join(format!("notice-{later}")).exists(),
        "not due before the stop"
    );
    std::thread::sleep(Duration::from_secs(5));
    assert!(Timestamp::now() > until);
    node.start();
    node.wait_for(10, "the notice that fell due while down", || {
        let t = event_types(&node, later, &reviewer);
        t.contains(&"confidentiality.ended".to_owned()) && t.contains(&"notice.sent".to_owned())
    });
    assert!(node.dir.join(format!("notice-{later}")).exists());
    node.kill();
}

#[test]
fn the_log_verifies_from_outside() {
    let mut node = TestNode::start_new();
    let a = node.authority("XA", "mla");
    for i in 0..2 {
        created(&node.submit_jws(&a.sign(&request("example", &format!("XA-LOG-{i}"), "XA"))));
    }
    let state = node.tmp.path().join("seen.checkpoint");
    let server = node.server();
    let verify = |expect: &str| {
        let out = custos_ok(&[
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
        assert!(out.contains(expect), "{out}");
        assert!(out.contains("recomputed the root from all tiles"), "{out}");
    };
    verify("first contact");
    // Past 256 leaves, so that a full hash tile, a level-1 tile and a second entry bundle exist.
    for i in 2..140 {
        created(&node.submit_jws(&a.sign(&request("example", &format!("XA-LOG-{i}"), "XA"))));
    }
    assert!(node.log_size() > 256);
    verify("consistent with the last seen checkpoint");
    verify("same tree as last seen");

    // An opening of event 1 (the first request.received) checks against the signed log…
    let opening = custos_ok(&["log", "open", "--dir", node.dir_str(), "1"]);
    let opening_path = node.tmp.path().join("opening.json");
    std::fs::write(&opening_path, &opening).unwrap();
    let ok = custos_ok(&[
        "log",
        "check-opening",
        "--server",
        &server,
        "--vkey",
        &node.vkey,
        opening_path.to_str().unwrap(),
    ]);
    assert!(ok.contains("is in the log"), "{ok}");
    // …and fails once its event is edited.
    let mut o: Value = serde_json::from_str(&opening).unwrap();
    assert_eq!(o["event"]["type"], "request.received");
    o["event"]["request_id"] = "XA-SOMETHING-ELSE".into();
    write_json(&opening_path, &o);
    let out = custos(&[
        "log",
        "check-opening",
        "--server",
        &server,
        "--vkey",
        &node.vkey,
        opening_path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("does NOT match"));

    // The OpenAPI document.
    let r = node.get("/openapi.json", None);
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/v1/requests"].is_object());
    node.kill();
}

fn sqlite(db: &std::path::Path, sql: &str) {
    let out = Command::new("sqlite3")
        .arg(db)
        .arg(sql)
        .output()
        .expect("the sqlite3 CLI must be installed for this test");
    assert!(out.status.success(), "{out:?}");
}

fn audit(dir: &std::path::Path) -> (Option<i32>, String) {
    let out = custos(&["audit", "--dir", dir.to_str().unwrap()]);
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn audit_finds_altered_removed_and_reordered_events() {
    let mut node = TestNode::start_new();
    let a = node.authority("XA", "mla");
    for i in 1..=3 {
        created(&node.submit_jws(&a.sign(&request("example", &format!("XA-TAMPER-{i}"), "XA"))));
    }
    node.stop();
    let (code, out) = audit(&node.dir);
    assert_eq!(code, Some(0), "an untouched node audits clean: {out}");

    let copy = |name: &str| {
        let to = node.tmp.path().join(name);
        let st = Command::new("cp")
            .arg("-a")
            .arg(&node.dir)
            .arg(&to)
            .status()
            .unwrap();
        assert!(st.success());
        to
    };

    // Event 3 (the second request.received) altered.
    let altered = copy("altered");
    sqlite(
        &altered.join("custos.db"),
        "UPDATE events SET body = replace(body, 'XA', 'XB') WHERE seq = 3",
    );
    let (code, out) = audit(&altered);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("event 3"), "names event 3: {out}");
    assert!(out.contains("altered"), "{out}");

    // The last event removed.
    let removed = copy("removed");
    sqlite(
        &removed.join("custos.db"),
        "DELETE FROM events WHERE seq = (SELECT max(seq) FROM events)",
    );
    let (code, out) = audit(&removed);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("events were removed"), "{out}");

    // Two events swapped.
    let reordered = copy("reordered");
    sqlite(
        &reordered.join("custos.db"),
        "UPDATE events SET seq = 1000 WHERE seq = 1; UPDATE events SET seq = 1 WHERE seq = 3; UPDATE events SET seq = 3 WHERE seq = 1000;",
    );
    let (code, out) = audit(&reordered);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("reordered"), "{out}");
    assert!(out.contains("event 1") && out.contains("event 3"), "{out}");
}

#[test]
fn nothing_acknowledged_is_lost_to_a_sigkill() {
    let mut node = TestNode::start_new();
    let a = Arc::new(node.authority("XA", "mla"));
    let reviewer = node.user("rita", "reviewer");
    let port = node.port;
    let accepted: Arc<Mutex<Vec<(String, i64)>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (a, accepted, count) = (a.clone(), accepted.clone(), count.clone());
            std::thread::spawn(move || {
                // Until the node is killed: a fixed number could all be answered before the
                // main thread gets to wait for them, and it would then wait for ever.
                for i in 0.. {
                    let id = format!("XA-KILL-{t}-{i}");
                    let jws = a.sign(&request("example", &id, "XA"));
                    match try_http(
                        port,
                        "POST",
                        "/v1/requests",
                        &[("content-type", "application/jose")],
                        jws.as_bytes(),
                    ) {
                        Ok(r) if r.status == 201 => {
                            let case = r.json()["case"].as_i64().unwrap();
                            accepted.lock().unwrap().push((id, case));
                            count.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(r) => panic!("unexpected answer {}: {}", r.status, r.text()),
                        Err(_) => return, // the node is gone
                    }
                }
            })
        })
        .collect();
    // The operator registers another authority while intake is busy: its events, appended by
    // another process, are taken into the log in order, and the key works at once.
    while count.load(Ordering::SeqCst) < 5 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let b = node.authority("XB", "mla");
    let theirs = created(&node.submit_jws(&b.sign(&request("example", "XB-BUSY", "XB"))));
    let before_kill = count.load(Ordering::SeqCst);
    while count.load(Ordering::SeqCst) < before_kill + 20 {
        std::thread::sleep(Duration::from_millis(5));
    }
    node.kill();
    for t in threads {
        t.join().unwrap();
    }
    let accepted = accepted.lock().unwrap().clone();
    assert!(accepted.len() >= 25, "{}", accepted.len());

    node.start();
    let bearer = format!("Bearer {reviewer}");
    for (id, case) in &accepted {
        let r = node.get(&format!("/v1/requests/{case}"), Some(&bearer));
        assert_eq!(
            r.status,
            200,
            "case {case} ({id}) was acknowledged: {}",
            r.text()
        );
        assert_eq!(r.json()["request_id"], id.as_str());
    }
    let r = node.get(&format!("/v1/requests/{}", theirs["case"]), Some(&bearer));
    assert_eq!(r.json()["request_id"], "XB-BUSY");
    let (code, out) = audit(&node.dir);
    assert_eq!(code, Some(0), "{out}");
    let out = custos_ok(&[
        "log",
        "verify",
        "--server",
        &node.server(),
        "--vkey",
        &node.vkey,
        "--state",
        node.tmp.path().join("seen").to_str().unwrap(),
        "--full",
    ]);
    assert!(out.contains("matches"), "{out}");
    node.kill();
}

#[test]
fn the_queue_filters_by_outcome_measure_state_channel_and_emergency() {
    let mut node = TestNode::start_new();
    let xa = node.authority("XA", "mla,network_24_7,direct");
    let xb = node.authority("XB", "mla,network_24_7,direct");
    let auditor = node.user("aud", "auditor");
    let bearer = format!("Bearer {auditor}");
    let mut expected = Vec::new();
    for (name, id, authority) in [
        ("p01-ransomware-production", "Q-1", &xa),
        ("p02-preservation-24-7", "Q-2", &xa),
        ("p04-defamation-2y", "Q-3", &xb),
        ("p07-emergency-kidnapping", "Q-4", &xb),
    ] {
        let c = created(&node.submit_jws(&authority.sign(&request(name, id, &authority.state))));
        // The record the queue filters (outcome, measure, …) is the staff's to read.
        let path = format!("/v1/requests/{}", c["case"]);
        expected.push(node.get(&path, Some(&bearer)).json());
    }
    let ids = |query: &str| -> Vec<String> {
        let r = node.get(&format!("/v1/requests{query}"), Some(&bearer));
        assert_eq!(r.status, 200, "{query}: {}", r.text());
        let mut v: Vec<String> = r
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["request_id"].as_str().unwrap().to_owned())
            .collect();
        v.sort();
        v
    };
    let with = |key: &str, value: &Value| -> Vec<String> {
        let mut v: Vec<String> = expected
            .iter()
            .filter(|c| &c[key] == value)
            .map(|c| c["request_id"].as_str().unwrap().to_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids(""), ["Q-1", "Q-2", "Q-3", "Q-4"]);
    assert_eq!(ids("?state=xb"), ["Q-3", "Q-4"]);
    assert_eq!(
        ids("?measure=preserve_stored_data"),
        with("measure", &json!("preserve_stored_data"))
    );
    assert_eq!(
        ids("?channel=network_24_7"),
        with("channel", &json!("network_24_7"))
    );
    assert_eq!(ids("?emergency=true"), with("emergency", &json!(true)));
    assert_eq!(ids("?emergency=true"), ["Q-4"]);
    let refuse = with("outcome", &json!("refuse"));
    assert!(!refuse.is_empty(), "p04 is refused under rights-first");
    assert_eq!(ids("?outcome=refuse"), refuse);
    assert_eq!(ids("?state=XA&emergency=false"), ["Q-1", "Q-2"]);
    // Paging: soonest deadline first, two at a time, nothing lost or repeated.
    let page = |offset: u32| ids(&format!("?limit=2&offset={offset}"));
    let mut all = [page(0), page(2)].concat();
    all.sort();
    assert_eq!(all, ["Q-1", "Q-2", "Q-3", "Q-4"]);
    assert!(page(4).is_empty());
    // A misspelt filter is an error, not a silently unfiltered list.
    node.get("/v1/requests?emergncy=true", Some(&bearer))
        .problem(400, "invalid-parameter", "emergncy");
    // So is a misspelt value, named with its field, as the console's queue refuses it.
    for (query, phrase) in [
        ("outcome=refused", "outcome=\"refused\""),
        ("status=opne", "status=\"opne\""),
        ("measure=everything", "measure=\"everything\""),
        ("channel=email", "channel=\"email\""),
        ("state=Xanadu", "state=\"Xanadu\""),
    ] {
        node.get(&format!("/v1/requests?{query}"), Some(&bearer))
            .problem(400, "invalid-filter", phrase);
    }
    node.get("/v1/requests?emergency=maybe", Some(&bearer))
        .problem(400, "invalid-parameter", "emergency=\"maybe\"");
}

#[test]
fn a_kid_starting_with_a_hyphen_is_a_kid_not_an_option() {
    // Thumbprints are base64url: one key in 64 starts with `-`, which an argument parser would
    // otherwise take for a flag (this once failed the refusals test at random).
    let node = TestNode::init();
    let out = crate::common::custos(&[
        "authority",
        "revoke",
        "--dir",
        node.dir_str(),
        "--reason",
        "key compromised",
        "-2L5pwdIwabg6EWCrmdWIFYQ7zSoUmMNvt3iKNG8VuE",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("-2L5pwdIwabg6EWCrmdWIFYQ7zSoUmMNvt3iKNG8VuE")
            && !err.contains("unexpected argument"),
        "{err}"
    );
}
