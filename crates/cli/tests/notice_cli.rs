//! Notices and extensions through the real binary over real HTTP (issue 12, section 5): the
//! operator's `notice_command` reads the notice as JSON on its standard input; a failed delivery
//! is logged, listed with its next try and shown in the console; the requesting authority asks
//! with its signed proof to extend secrecy and a reviewer decides, through the API and the
//! console; `custos audit` passes after all of it.

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::common::{
    Authority, Resp, TestNode, console_get, console_session, custos_ok, http, request,
};

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

/// A node whose scheduler runs every second with `command` as its notice command.
fn node_with(command: &str) -> TestNode {
    let mut node = TestNode::init();
    node.configure(
        "lifecycle",
        &format!("scheduler_interval_seconds = 1\nnotice_command = {command:?}"),
    );
    node.start();
    node
}

/// Submits `r` signed by `a` and executes it as the reviewer with `token`; returns the case.
fn executed(node: &TestNode, a: &Authority, r: &Value, token: &str) -> i64 {
    let c = node.submit_jws(&a.sign(r));
    assert_eq!(c.status, 201, "{}", c.text());
    let case = c.json()["case"].as_i64().unwrap();
    let d = node.post_json(
        &format!("/v1/requests/{case}/decision"),
        token,
        &json!({"decision": "execute", "reason": "The request meets every safeguard and is executed."}),
    );
    assert_eq!(d.status, 200, "{}", d.text());
    case
}

fn audit_passes(node: &TestNode) {
    let out = custos_ok(&["audit", "--dir", node.dir_str()]);
    assert!(!out.contains("FINDING"), "{out}");
}

/// POST with the authority's signed proof.
fn post_signed(node: &TestNode, a: &Authority, path: &str, body: &Value) -> Resp {
    http(
        node.port,
        "POST",
        path,
        &[
            ("authorization", &a.proof("POST", path)),
            ("content-type", "application/json"),
        ],
        &serde_json::to_vec(body).unwrap(),
    )
}

#[test]
fn the_notice_command_reads_the_notice_as_json_on_its_standard_input() {
    // `custos init` names no jurisdiction file: notices carry the default remedies text.
    let config = std::fs::read_to_string(TestNode::init().dir.join("custos.toml")).unwrap();
    assert!(!config.contains("jurisdiction"), "{config}");
    let mut node = node_with("cat > notice-$CUSTOS_CASE.json");
    let a = node.authority("XA", "mla");
    let rita = node.user("rita", "reviewer");
    let r = request("example", "XA-NOTICE-1", "XA");
    let case = executed(&node, &a, &r, &rita);
    node.wait_for(10, "the notice", || {
        event_types(&node, case, &rita).contains(&"notice.sent".to_owned())
    });
    let bytes = std::fs::read(node.dir.join(format!("notice-{case}.json"))).unwrap();
    let n: Value = serde_json::from_slice(&bytes).expect("the command read JSON");
    assert_eq!(n["format"], "custos.notice/v1");
    assert_eq!(n["addressed_to"], "person_concerned");
    assert_eq!(
        (n["case"].as_i64(), n["request_id"].as_str()),
        (Some(case), Some("XA-NOTICE-1"))
    );
    assert_eq!(n["requesting_state"], "XA");
    assert_eq!(n["measure"], "produce_stored_data");
    let text = n["text"].as_str().unwrap();
    assert!(text.contains("How to challenge this disclosure"), "{text}");
    assert!(
        n["remedies"]
            .as_str()
            .unwrap()
            .starts_with("You may be able to challenge this disclosure"),
        "{n}"
    );
    // No target identifier reaches the command, the staff's view or the node's log output.
    let view = node.get(
        &format!("/v1/requests/{case}/notice"),
        Some(&format!("Bearer {rita}")),
    );
    assert_eq!(view.status, 200, "{}", view.text());
    assert_eq!(view.json()["text"], n["text"]);
    for t in r["targets"].as_array().unwrap() {
        let value = t["value"].as_str().unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(value), "{value}");
        assert!(!view.text().contains(value), "{value}");
        assert!(!node.server_log().contains(value), "{value}");
    }
    node.kill();
    audit_passes(&node);
}

#[test]
fn a_failed_delivery_is_logged_listed_with_its_next_try_and_shown_in_the_console() {
    let mut node = node_with("cat > /dev/null; exit 7");
    let a = node.authority("XA", "mla");
    let rita = node.user("rita", "reviewer");
    let case = executed(&node, &a, &request("example", "XA-NOTICE-2", "XA"), &rita);
    node.wait_for(10, "the failed attempt", || {
        event_types(&node, case, &rita).contains(&"notice.failed".to_owned())
    });
    let list = node
        .get("/v1/notices", Some(&format!("Bearer {rita}")))
        .json();
    let n = list
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["case"] == case)
        .unwrap()
        .clone();
    assert_eq!(n["attempts"], 1, "{n}");
    assert_eq!(
        n["last_error"],
        "the notice command exited with exit status: 7"
    );
    assert_eq!(n["sent_at"], Value::Null);
    let last: Timestamp = n["last_attempt_at"].as_str().unwrap().parse().unwrap();
    let next: Timestamp = n["next_attempt_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(next, last + SignedDuration::from_secs(60), "{n}");
    let cookie = console_session(&node, "rita");
    let page = console_get(&node, &cookie, "/console/holds");
    assert!(page.contains("exited with exit status: 7"), "{page}");
    assert!(page.contains("Next try"), "{page}");
    let csv = console_get(&node, &cookie, "/console/notices.csv");
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .ends_with("notice_last_attempt_at,notice_next_attempt_at")
    );
    node.kill();
    audit_passes(&node);
}

#[test]
fn the_authority_asks_to_extend_secrecy_and_a_reviewer_decides() {
    let mut node = node_with("cat > /dev/null");
    let a = node.authority("XA", "mla");
    let b = node.authority("XB", "mla");
    let rita = node.user("rita", "reviewer");
    let aud = node.user("aud", "auditor");
    let ends = Timestamp::now() + SignedDuration::from_hours(24 * 10);
    let mut r = request("example", "XA-SECRET-1", "XA");
    r["confidentiality"] = json!({"requested": true, "until": ends.to_string(),
        "justification": "Disclosure would alert the suspects before the arrests planned for this month."});
    let case = executed(&node, &a, &r, &rita);
    let path = format!("/v1/requests/{case}/extensions");
    let wanted = Timestamp::now() + SignedDuration::from_hours(24 * 40);
    let ask = json!({"kind": "confidentiality", "until": wanted.to_string(),
        "reasons": "Two suspects are still abroad; telling the account holder now would warn them."});
    // A person does not ask; another authority does not see the case.
    node.post_json(&path, &rita, &ask)
        .problem(403, "authorities-only", "signed proof");
    post_signed(&node, &b, &path, &ask).problem(404, "not-found", "visible to you");
    let asked = post_signed(&node, &a, &path, &ask);
    assert_eq!(asked.status, 201, "{}", asked.text());
    let x = asked.json();
    assert_eq!(
        (x["status"].as_str(), x["kind"].as_str()),
        (Some("pending"), Some("confidentiality"))
    );
    let id = x["extension"].as_i64().unwrap();
    // Staff see it waiting; the authority may not list other cases' requests.
    let pending = node
        .get("/v1/extensions", Some(&format!("Bearer {rita}")))
        .json();
    assert_eq!(pending.as_array().unwrap().len(), 1, "{pending}");
    node.get("/v1/extensions", Some(&a.proof("GET", "/v1/extensions")))
        .problem(403, "people-only", "requesting authority");
    // The console shows it with a form to decide.
    let cookie = console_session(&node, "rita");
    let page = console_get(&node, &cookie, &format!("/console/requests/{case}"));
    assert!(
        page.contains(&format!("id=\"extension-form-{id}\"")),
        "{page}"
    );
    assert!(page.contains("Two suspects are still abroad"), "{page}");
    let holds = console_get(&node, &cookie, "/console/holds");
    assert!(holds.contains("Requests to extend secrecy"), "{holds}");

    let decide = format!("/v1/requests/{case}/extensions/{id}/decision");
    let grant = json!({"grant": true, "reason": "The reasons show that telling now would warn the suspects."});
    node.post_json(&decide, &aud, &grant)
        .problem(403, "read-only", "auditor");
    let too_late = json!({"grant": true, "until": (wanted + SignedDuration::from_secs(1)).to_string(),
        "reason": "Longer than asked."});
    node.post_json(&decide, &rita, &too_late)
        .problem(422, "invalid-extension", "never longer");
    let granted = node.post_json(&decide, &rita, &grant);
    assert_eq!(granted.status, 200, "{}", granted.text());
    assert_eq!(granted.json()["status"], "granted");
    assert_eq!(granted.json()["decided_by"], "rita");
    let notices = node
        .get("/v1/notices", Some(&format!("Bearer {rita}")))
        .json();
    let n = notices
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["case"] == case)
        .unwrap();
    assert_eq!(
        n["due_at"].as_str().unwrap().parse::<Timestamp>().unwrap(),
        wanted
    );
    // The authority reads the answer and its reason, not who decided.
    let seen = node.get(&path, Some(&a.proof("GET", &path)));
    assert_eq!(seen.status, 200, "{}", seen.text());
    let seen = &seen.json()[0];
    assert_eq!(seen["status"], "granted");
    assert!(
        seen["reason"]
            .as_str()
            .unwrap()
            .contains("would warn the suspects")
    );
    assert!(seen.get("decided_by").is_none(), "{seen}");
    assert!(!seen.to_string().contains("rita"), "{seen}");

    // A second request, with `custos extension request`, refused through the console's form.
    let later = wanted + SignedDuration::from_hours(24 * 30);
    let out = custos_ok(&[
        "extension",
        "request",
        "--server",
        &node.server(),
        "--key",
        a.key_path.to_str().unwrap(),
        "--case",
        &case.to_string(),
        "--until",
        &later.to_string(),
        "--reasons",
        "Still abroad.",
    ]);
    let again: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(again["status"], "pending", "{again}");
    let second = again["extension"].as_i64().unwrap();
    // Asked again while it waits: refused, exit 2, the reason on stderr.
    let refused = crate::common::custos(&[
        "extension",
        "request",
        "--server",
        &node.server(),
        "--key",
        a.key_path.to_str().unwrap(),
        "--case",
        &case.to_string(),
        "--until",
        &later.to_string(),
        "--reasons",
        "Still abroad.",
    ]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("still waiting for a reviewer"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let page = console_get(&node, &cookie, &format!("/console/requests/{case}"));
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the page's CSRF token")
        .to_owned();
    let form = |body: String| {
        http(
            node.port,
            "POST",
            &format!("/console/requests/{case}/extensions/{second}/decision"),
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("cookie", &cookie),
            ],
            body.as_bytes(),
        )
    };
    // Without a reason: refused, the page again with what was typed.
    let r = form(format!("csrf={csrf}&decision=refuse&until=&reason="));
    assert_eq!(r.status, 422, "{}", r.text());
    // The field in words, never a JSON pointer, and marked for the script to put it beside it.
    assert!(
        r.text()
            .contains("Reason: a decision on an extension needs a written reason"),
        "{}",
        r.text()
    );
    assert!(!r.text().contains("$.reason"), "{}", r.text());
    assert!(
        r.text()
            .contains(&format!("data-field=\"extension-reason-{second}\"")),
        "{}",
        r.text()
    );
    let r = form(format!(
        "csrf={csrf}&decision=refuse&until=&reason=Nothing+new+was+shown."
    ));
    assert_eq!(r.status, 303, "{}", r.text());
    let types = event_types(&node, case, &rita);
    for t in [
        "extension.requested",
        "extension.granted",
        "extension.refused",
    ] {
        assert!(types.contains(&t.to_owned()), "{t}: {types:?}");
    }
    node.kill();
    audit_passes(&node);
}
