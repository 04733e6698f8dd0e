//! The requester's own view (issue 12 §2), through the real binary over real HTTP.
//!
//! First as a new requester would try it: a key made, requests signed and cases read with
//! jwcrypto and Python's urllib (`requester.py`, nothing of Custos's code), from a state the
//! node keeps under heightened scrutiny. After reviewers decide, the requester finds in its
//! reply the decision and the reason written for it (what is handed over, the message, the
//! conditions), and no reviewer's name, no finding code, no internal note, no jurisdiction flag
//! and none of the staff record's keys. Then what each role reads of one case.

use std::collections::BTreeSet;
use std::process::Command;

use crate::common::{TestNode, custos_ok, repo, request, write_json};
use serde_json::{Value, json};

/// Runs the requester's own client; returns its JSON output.
fn requester(args: &[&str]) -> Value {
    let script = repo().join("crates/cli/tests/requester.py");
    // No skipping: without python3 and jwcrypto (scripts/setup installs them) this test fails.
    let out = Command::new("python3")
        .arg(&script)
        .args(args)
        .output()
        .expect("python3 must be installed for this test (scripts/setup)");
    assert!(
        out.status.success(),
        "requester.py {args:?} failed (is jwcrypto installed? scripts/requirements.txt): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every rule code of both profiles, as the policy files declare them (`@code("…")`).
fn rule_codes() -> BTreeSet<String> {
    let mut codes = BTreeSet::new();
    for profile in ["rights-first", "convention"] {
        let path = repo().join(format!("crates/safeguards/policies/{profile}.cedar"));
        for line in std::fs::read_to_string(path).unwrap().lines() {
            if let Some(rest) = line.trim().strip_prefix("@code(\"") {
                codes.insert(rest.split('"').next().unwrap().to_owned());
            }
        }
    }
    assert!(codes.len() >= 20, "{codes:?}");
    codes
}

/// Every string in `v`, keys and values, however deep.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => {
            for (k, x) in o {
                out.push(k.clone());
                strings(x, out);
            }
        }
        _ => {}
    }
}

const STAFF: [&str; 4] = ["rita", "sam", "sue", "aud"];

/// Asserts that `v`, something the requester read, holds nothing internal.
#[track_caller]
fn nothing_internal(v: &Value, notes: &[&str]) {
    let mut all = Vec::new();
    strings(v, &mut all);
    for key in [
        "assessment",
        "findings",
        "grounds",
        "reviewer",
        "confirmed_by",
        "internal_note",
        "finding_reasons",
        "reclassification",
        "pending_decision",
        "outcome",
        "profile",
        "authority",
    ] {
        assert!(!all.iter().any(|s| s == key), "the key {key} in {v:#}");
    }
    for code in rule_codes() {
        assert!(
            !all.iter().any(|s| s.contains(&code)),
            "the finding code {code} in {v:#}"
        );
    }
    for word in [
        "heightened",
        "scrutiny",
        "rights-first",
        "refer_for_review",
        "needs_information",
        "awaiting_second_review",
    ] {
        assert!(
            !all.iter().any(|s| s.to_lowercase().contains(word)),
            "{word} in {v:#}"
        );
    }
    let words: BTreeSet<String> = all
        .iter()
        .flat_map(|s| s.split(|c: char| !c.is_alphanumeric()))
        .map(str::to_lowercase)
        .collect();
    for name in STAFF {
        assert!(!words.contains(name), "the user {name} in {v:#}");
    }
    for note in notes {
        assert!(
            !all.iter().any(|s| s.contains(note)),
            "an internal note in {v:#}"
        );
    }
}

/// A node whose jurisdiction keeps requests from QX under heightened scrutiny.
fn node_with_scrutiny() -> TestNode {
    let mut node = TestNode::init();
    std::fs::write(
        node.dir.join("jurisdiction.toml"),
        "heightened_scrutiny_states = [\"QX\"]\n",
    )
    .unwrap();
    let config = node.dir.join("custos.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("jurisdiction = \"jurisdiction.toml\"\n{text}"),
    )
    .unwrap();
    // Only the start's tick: the timelines asserted below must not race a tick that ends
    // confidentiality when the test runs past 30 s on a loaded machine.
    node.configure("lifecycle", "scheduler_interval_seconds = 3600");
    node.start();
    node
}

#[test]
fn a_new_requester_finds_the_decision_and_the_reason_and_nothing_internal() {
    let node = node_with_scrutiny();
    let server = node.server();
    let tmp = node.tmp.path();

    // The requester makes its key with its own tooling; the operator registers it.
    let key = tmp.join("qx.jwk");
    let key = key.to_str().unwrap();
    let made = requester(&["keygen", key]);
    let public = tmp.join("qx.pub.jwk");
    write_json(&public, &made["public_jwk"]);
    let kid = custos_ok(&[
        "authority",
        "add",
        "--dir",
        node.dir_str(),
        "--state",
        "QX",
        "--name",
        "Central Authority of QX",
        "--kind",
        "central_authority",
        "--jwk",
        public.to_str().unwrap(),
        "--channels",
        "mla",
    ]);
    assert_eq!(kid.trim(), made["thumbprint"]);
    let rita = node.user("rita", "reviewer");
    let sam = node.user("sam", "supervisor");
    let sue = node.user("sue", "supervisor");
    let aud = node.user("aud", "auditor");

    let submit = |name: &str, id: &str| -> i64 {
        let path = tmp.join(format!("{id}.json"));
        write_json(&path, &request(name, id, "QX"));
        let r = requester(&["submit", &server, key, path.to_str().unwrap()]);
        assert_eq!(r["status"], 201, "{r}");
        let reply = &r["body"];
        assert_eq!(reply["format"], "custos.reply/v1", "{reply}");
        assert_eq!(
            (&reply["request_id"], &reply["status"], &reply["decision"]),
            (&json!(id), &json!("under_review"), &Value::Null)
        );
        nothing_internal(reply, &[]);
        reply["case"].as_i64().unwrap()
    };
    let read = |case: i64| -> Value {
        let r = requester(&["get", &server, key, &format!("/v1/requests/{case}")]);
        assert_eq!(r["status"], 200, "{r}");
        r["body"].clone()
    };
    let decide = |case: i64, token: &str, body: Value| {
        let r = node.post_json(&format!("/v1/requests/{case}/decision"), token, &body);
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    };
    let staff = |case: i64| {
        node.get(
            &format!("/v1/requests/{case}"),
            Some(&format!("Bearer {aud}")),
        )
        .json()
    };

    let executed = submit("p01-ransomware-production", "QX-EXECUTE");
    let narrowed = submit("p13-subscriber-plus-traffic", "QX-NARROW");
    let refused = submit("p04-defamation-2y", "QX-REFUSE");
    let asked = submit("p17-no-data-protection-terms", "QX-ASK");
    let overridden = submit("p12-death-penalty", "QX-OVERRIDE");
    // The node's reviewers see the flag; the requester never will.
    let codes = |case: i64| -> Vec<String> {
        staff(case)["assessment"]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap().to_owned())
            .collect()
    };
    for case in [executed, narrowed, refused, asked, overridden] {
        assert!(
            codes(case).contains(&"heightened-scrutiny".to_owned()),
            "{:?}",
            codes(case)
        );
    }
    let notes = [
        "NOTE-1: the desk doubts the stated urgency; watch for follow-ups.",
        "NOTE-2: the political context was discussed with the ministry.",
        "NOTE-3: a repeat of the pattern seen in earlier requests from this state.",
        "REASON-1: the facts stand on their own.",
    ];

    // Executing over the referral takes a reason for the referred finding: staff only, too.
    let scrutiny = json!({"heightened-scrutiny": "REASON-1: the facts stand on their own."});

    // Executed, with conditions.
    decide(
        executed,
        &rita,
        json!({"decision": "execute", "reason": "The request is granted in full after review.",
               "internal_note": notes[0], "finding_reasons": scrutiny,
               "conditions": ["The data may be used only in the investigation named in the request."]}),
    );
    let reply = read(executed);
    assert_eq!(reply["status"], "executing", "{reply:#}");
    assert_eq!(reply["decision"]["decision"], "execute");
    assert_eq!(
        reply["decision"]["reason"],
        "The request is granted in full after review."
    );
    assert_eq!(
        reply["decision"]["conditions"],
        json!([{"kind": "free_text",
                "text": "The data may be used only in the investigation named in the request."}])
    );
    assert_eq!(reply["conditions"]["state"], "pending", "{reply:#}");
    nothing_internal(&reply, &notes);

    // Narrowed: the reply says what is handed over.
    let period = request("p13-subscriber-plus-traffic", "x", "QX")["period"].clone();
    let terms =
        json!({"data_categories": ["subscriber"], "period": period, "confidentiality_until": null});
    decide(
        narrowed,
        &rita,
        json!({"decision": "execute_narrowed", "reason": "Subscriber data are granted; traffic data are not.",
               "internal_note": notes[1], "narrowed": terms, "finding_reasons": scrutiny}),
    );
    let reply = read(narrowed);
    assert_eq!(
        reply["decision"]["decision"], "execute_narrowed",
        "{reply:#}"
    );
    assert_eq!(
        reply["decision"]["reason"],
        "Subscriber data are granted; traffic data are not."
    );
    assert_eq!(reply["decision"]["handed_over"], terms);
    nothing_internal(&reply, &notes);

    // Refused, on grounds the staff record keeps and the reply does not show.
    let grounds = codes(refused);
    decide(
        refused,
        &rita,
        json!({"decision": "refuse", "reason": "The conduct described is not an offence that can be assisted here.",
               "internal_note": notes[2], "grounds": grounds}),
    );
    let reply = read(refused);
    assert_eq!(
        (&reply["status"], &reply["decision"]["decision"]),
        (&json!("refused"), &json!("refuse")),
        "{reply:#}"
    );
    assert_eq!(
        reply["decision"]["reason"],
        "The conduct described is not an offence that can be assisted here."
    );
    nothing_internal(&reply, &notes);
    assert_eq!(staff(refused)["decision"]["grounds"], json!(grounds));
    assert_eq!(staff(refused)["decision"]["internal_note"], notes[2]);

    // Information asked: the message.
    decide(
        asked,
        &rita,
        json!({"decision": "request_information", "reason": "The data protection terms are missing.",
               "message": "Please state the retention period, purpose limitation and onward transfer."}),
    );
    let reply = read(asked);
    assert_eq!(reply["status"], "awaiting_information", "{reply:#}");
    assert_eq!(
        reply["decision"]["message"],
        "Please state the retention period, purpose limitation and onward transfer."
    );
    assert_eq!(
        reply["decision"]["reason"],
        "The data protection terms are missing."
    );
    nothing_internal(&reply, &notes);

    // Executed over a refusal recommendation: while the second reviewer has not confirmed, the
    // requester reads "under review"; then the decision, and neither supervisor's name.
    let proposed = decide(
        overridden,
        &sam,
        json!({"decision": "execute", "reason": "A binding assurance against the death penalty was given."}),
    );
    assert_eq!(proposed["status"], "awaiting_second_review");
    let reply = read(overridden);
    assert_eq!(
        (&reply["status"], &reply["decision"]),
        (&json!("under_review"), &Value::Null),
        "{reply:#}"
    );
    nothing_internal(&reply, &notes);
    let r = node.post_json(
        &format!("/v1/requests/{overridden}/second-review"),
        &sue,
        &json!({"confirm": true, "reason": "The assurance is on file."}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let reply = read(overridden);
    assert_eq!(
        (&reply["status"], &reply["decision"]["decision"]),
        (&json!("executing"), &json!("execute")),
        "{reply:#}"
    );
    assert_eq!(
        reply["decision"]["reason"],
        "A binding assurance against the death penalty was given."
    );
    nothing_internal(&reply, &notes);

    // Its list: five replies, none with anything internal.
    let r = requester(&["get", &server, key, "/v1/requests"]);
    assert_eq!(r["status"], 200, "{r}");
    assert_eq!(r["body"].as_array().unwrap().len(), 5, "{r}");
    nothing_internal(&r["body"], &notes);
    // Its timelines: types and times of what concerns it.
    for case in [executed, narrowed, refused, asked, overridden] {
        let r = requester(&["get", &server, key, &format!("/v1/requests/{case}/events")]);
        assert_eq!(r["status"], 200, "{r}");
        nothing_internal(&r["body"], &notes);
        // The scheduler (every 30 s) may have ended confidentiality meanwhile: not this check's.
        let types: Vec<&str> = r["body"]["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .filter(|t| *t != "confidentiality.ended")
            .collect();
        assert_eq!(
            types,
            ["request.received", "reply.communicated"],
            "case {case}"
        );
    }

    // What was communicated is in the log, and the audit passes.
    let mut node = node;
    node.stop();
    let out = Command::new(env!("CARGO_BIN_EXE_custos"))
        .args(["audit", "--dir", node.dir_str()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn each_role_reads_what_is_theirs_of_a_case() {
    let mut node = TestNode::start_new();
    let a = node.authority("XA", "mla");
    let b = node.authority("XB", "mla");
    let tokens: Vec<(&str, String)> = [
        ("rita", "reviewer"),
        ("sam", "supervisor"),
        ("aud", "auditor"),
    ]
    .into_iter()
    .map(|(name, role)| (name, node.user(name, role)))
    .collect();
    let rita = tokens[0].1.clone();

    // `custos submit` prints the reply, not the assessment.
    let req = node.tmp.path().join("request.json");
    write_json(&req, &request("p04-defamation-2y", "XA-ROLES", "XA"));
    let out: Value = serde_json::from_str(&custos_ok(&[
        "submit",
        "--server",
        &node.server(),
        "--key",
        a.key_path.to_str().unwrap(),
        req.to_str().unwrap(),
    ]))
    .unwrap();
    assert_eq!(out["format"], "custos.reply/v1", "{out}");
    assert_eq!(out["status"], "under_review");
    assert!(out.get("assessment").is_none(), "{out}");
    let case = out["case"].as_i64().unwrap();
    let note = "Staff only: the requesting state has pressed on this before.";
    let r = node.post_json(
        &format!("/v1/requests/{case}/decision"),
        &rita,
        &json!({"decision": "refuse", "reason": "The conduct is protected expression here.",
                "internal_note": note, "grounds": ["expression-offence"]}),
    );
    assert_eq!(r.status, 200, "{}", r.text());

    let path = format!("/v1/requests/{case}");
    // Reviewer, supervisor, auditor: the whole record, the list too.
    for (name, token) in &tokens {
        let bearer = format!("Bearer {token}");
        let c = node.get(&path, Some(&bearer)).json();
        // (The check of the requester's reads finds all of this in the staff record.)
        let check = std::panic::catch_unwind(|| nothing_internal(&c, &[]));
        assert!(check.is_err(), "the check missed the staff record");
        assert!(c["assessment"]["findings"].is_array(), "{name}: {c}");
        assert_eq!(c["outcome"], "refuse", "{name}");
        assert_eq!(c["authority"], a.kid.as_str(), "{name}");
        assert_eq!(c["decision"]["reviewer"], "rita", "{name}");
        assert_eq!(c["decision"]["internal_note"], note, "{name}");
        assert_eq!(
            c["decision"]["grounds"],
            json!(["expression-offence"]),
            "{name}"
        );
        let list = node.get("/v1/requests", Some(&bearer)).json();
        assert_eq!(list[0]["decision"]["internal_note"], note, "{name}");
        let t = node.get(&format!("{path}/events"), Some(&bearer)).json();
        assert_eq!(
            t["events"].as_array().unwrap().len(),
            4,
            "{name} sees every event, in full: {t}"
        );
    }
    // The requesting authority: its reply.
    let reply = node.get(&path, Some(&a.proof("GET", &path))).json();
    assert_eq!(reply["format"], "custos.reply/v1", "{reply}");
    assert_eq!(reply["status"], "refused");
    assert_eq!(
        reply["decision"]["reason"],
        "The conduct is protected expression here."
    );
    nothing_internal(&reply, &[note]);
    let list = node
        .get("/v1/requests", Some(&a.proof("GET", "/v1/requests")))
        .json();
    assert_eq!(list, json!([reply]));
    node.get(
        "/v1/requests?outcome=refuse",
        Some(&a.proof("GET", "/v1/requests")),
    )
    .problem(403, "people-only", "status, outcome or assignee");
    // Another authority: as if the case did not exist.
    node.get(&path, Some(&b.proof("GET", &path)))
        .problem(404, "not-found", "visible to you");
    let theirs = node
        .get("/v1/requests", Some(&b.proof("GET", "/v1/requests")))
        .json();
    assert_eq!(theirs, json!([]));
    node.kill();
}
