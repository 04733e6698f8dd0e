//! The reviewer console end to end: a real `custos serve` with real users and signed requests,
//! driven in headless Debian Chromium by Playwright (`e2e/console.test.mjs`), then checked again
//! through the JSON API. Screenshots of each page at 1366×768 go to `CUSTOS_SCREENSHOTS` if set
//! (`scripts/screenshots` sets it to `docs/screenshots/`), else to a temporary folder: a test run
//! never writes into the repository.
//!
//! Needs `node`, `e2e/node_modules` and `/usr/bin/chromium`; `scripts/setup` installs all three.

use std::io::Write as _;
use std::process::{Command, Stdio};

use crate::common::{TestNode, custos_ok, request};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

fn set_password(node: &TestNode, name: &str, password: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_custos"))
        .args(["user", "password", "--dir", node.dir_str(), "--name", name])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    child.wait_with_output().unwrap()
}

fn submit(node: &TestNode, a: &crate::common::Authority, case: &str, id: &str) -> i64 {
    let r = node.submit_jws(&a.sign(&request(case, id, &a.state)));
    assert_eq!(r.status, 201, "{case}: {}", r.text());
    r.json()["case"].as_i64().unwrap()
}

/// `NODE/proofs/rights-first.json` for the built-in text the node uses.
fn write_proof_record(dir: &std::path::Path) {
    use custos_safeguards::{PROOF_FORMAT, ProofRecord, ProofStatus, PropertyResult};
    let sha = <sha2::Sha256 as sha2::Digest>::digest(
        custos_safeguards::profile::RIGHTS_FIRST_SOURCE.as_bytes(),
    );
    let record = ProofRecord {
        format: PROOF_FORMAT.to_owned(),
        profile: "rights-first".to_owned(),
        profile_sha256: hex::encode(sha),
        proved_at: "2026-11-30T12:00:00Z".parse().unwrap(),
        solver: "cvc5 1.4.2".to_owned(),
        properties: vec![PropertyResult {
            name: "judicial-authorization".to_owned(),
            statement: "No intrusive measure, search or seizure, or production of stored traffic or content is executed without a judicial authorization, unless the emergency waiver applies.".to_owned(),
            basis: "N&P principles 5–7; EU Reg. 2023/1543 art. 4".to_owned(),
            status: ProofStatus::Holds,
            detail: None,
            millis: 840,
        }],
    };
    std::fs::create_dir_all(dir.join("proofs")).unwrap();
    std::fs::write(
        dir.join("proofs/rights-first.json"),
        serde_json::to_vec_pretty(&record).unwrap(),
    )
    .unwrap();
}

#[test]
fn a_legal_process_team_works_the_console_in_a_real_browser() {
    let e2e = crate::common::repo().join("e2e");
    assert!(
        e2e.join("node_modules/playwright-core").is_dir()
            && e2e.join("node_modules/axe-core").is_dir(),
        "e2e/node_modules is missing: run scripts/setup (it installs playwright-core and axe-core from e2e/package-lock.json)"
    );
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "Debian's chromium is missing: run scripts/setup"
    );

    let mut node = TestNode::init();
    let xa = node.authority("XA", "mla");
    let xb = node.authority("XB", "network_24_7");
    let xc = node.authority("XC", "mla");
    let xf = node.authority("XF", "network_24_7");
    let xg = node.authority("XG", "mla");
    // Issue 13 §2 (call-back): XF's duty office, the only number its emergencies are verified by.
    custos_ok(&[
        "authority",
        "contact",
        "set",
        "--dir",
        node.dir_str(),
        "--authority",
        &xf.kid,
        "--name",
        "XF duty office",
        "--phone",
        "+99 555 0177",
    ]);
    let alice = node.user("alice", "reviewer");
    let bob = node.user("bob", "reviewer");
    let sam = node.user("sam", "supervisor");
    let audrey = node.user("audrey", "auditor");
    for name in ["alice", "bob", "sam", "audrey"] {
        let out = set_password(&node, name, PASSWORD);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Passwords are checked for length, and only known users get one.
    let short = set_password(&node, "bob", "short");
    assert_eq!(short.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 12 characters"));
    let nobody = set_password(&node, "nobody", PASSWORD);
    assert!(!nobody.status.success());
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("no user nobody"));
    // Issue 13, the order that must follow: due at once, so a restart's tick finds it missing.
    node.configure("lifecycle", "order_due_hours = 0");
    node.start();

    let refuse = submit(&node, &xa, "p04-defamation-2y", "E2E-REFUSE");
    let narrow = submit(&node, &xa, "p10-two-year-window", "E2E-NARROW");
    let second = submit(&node, &xg, "p12-death-penalty", "E2E-SECOND");
    let hold = submit(&node, &xb, "p02-preservation-24-7", "E2E-HOLD");
    let emergency = submit(&node, &xf, "p07-emergency-kidnapping", "E2E-EMERGENCY");
    // A second emergency of XF's, verified by call-back (the first is confirmed by signature).
    let callback = submit(&node, &xf, "p07-emergency-kidnapping", "E2E-CALLBACK");
    let api_second = submit(&node, &xc, "p20-lgbt-preservation", "E2E-API-SECOND");
    let gag = submit(&node, &xa, "p09-gag-unbounded", "E2E-GAG");
    submit(&node, &xa, "p01-ransomware-production", "E2E-EXECUTE");
    let infoexec = submit(
        &node,
        &xc,
        "p17-no-data-protection-terms",
        "E2E-INFO-EXECUTE",
    );
    let referred = submit(&node, &xc, "p11-thirty-phones", "E2E-REFERRED");
    let reclass = submit(&node, &xg, "p12-death-penalty", "E2E-RECLASS");
    // Issue 16: a narrowing by target (thirty numbers), and a case two pages decide at once.
    let targets = submit(&node, &xc, "p11-thirty-phones", "E2E-TARGETS");
    let clash = submit(&node, &xa, "p01-ransomware-production", "E2E-CLASH");
    // Issue 16: a request asked for information and supplemented (a new reference, one more
    // target), for the queue's marker and the request page's diff.
    let supplemented = submit(&node, &xa, "p17-no-data-protection-terms", "E2E-SUPPLEMENT");
    let r = node.post_json(
        &format!("/v1/requests/{supplemented}/decision"),
        &sam,
        &json!({"decision": "request_information", "message": "Please give the case's new reference.", "reason": "The reference was withdrawn."}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let mut doc = request("p17-no-data-protection-terms", "E2E-SUPPLEMENT", &xa.state);
    doc["investigation"]["reference"] = "XA/PPO/2026/1187-B".into();
    doc["targets"]
        .as_array_mut()
        .unwrap()
        .push(json!({"kind": "email", "value": "second-target@mail.example"}));
    let r = node.submit_jws(&xa.sign(&doc));
    assert_eq!(r.status, 200, "the supplement: {}", r.text());
    // Issue 16: every example whose assessment proposes a narrowing, to be accepted as offered.
    let proposals: Vec<i64> = [
        "p09-gag-unbounded",
        "p10-two-year-window",
        "p13-subscriber-plus-traffic",
        "p19-realtime-120-days",
    ]
    .iter()
    .map(|case| submit(&node, &xa, case, &format!("E2E-PROPOSAL-{}", &case[..3])))
    .collect();

    // A preservation executed, so the holds page has a hold to renew.
    let r = node.post_json(
        &format!("/v1/requests/{hold}/decision"),
        &sam,
        &json!({"decision": "execute", "reason": "Preservation as asked."}),
    );
    assert_eq!(r.status, 200, "{}", r.text());

    // The same role rules through the API: a reviewer's proposal over a refusal waits for a
    // supervisor; neither a reviewer nor the proposer can confirm it; an auditor changes nothing.
    let r = node.post_json(
        &format!("/v1/requests/{api_second}/decision"),
        &bob,
        &json!({"decision": "execute", "reason": "The conduct is also an offence here, on the facts given."}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "awaiting_second_review");
    let confirm = json!({"confirm": true, "reason": "Looks right to me."});
    let path = format!("/v1/requests/{api_second}/second-review");
    node.post_json(&path, &alice, &confirm)
        .problem(403, "role", "supervisor");
    node.post_json(&path, &audrey, &confirm)
        .problem(403, "read-only", "auditor");
    let r = node.post_json(
        &format!("/v1/requests/{emergency}/decision"),
        &audrey,
        &json!({"decision": "execute", "reason": "Auditor trying."}),
    );
    r.problem(403, "read-only", "auditor");
    // Grounds must be findings of the assessment.
    let r = node.post_json(
        &format!("/v1/requests/{refuse}/decision"),
        &alice,
        &json!({"decision": "refuse", "reason": "Out of scope.", "grounds": ["no-such-finding"]}),
    );
    let p = r.problem(422, "invalid-decision", "not a finding");
    assert_eq!(p["errors"][0]["pointer"], "$.grounds[0]");

    // Reclassification through the API: auditors are refused; a bad correction is refused with
    // where it is wrong, and nothing changes.
    let path = format!("/v1/requests/{reclass}/reclassification");
    let correction = json!({"offences": [{"index": 0, "max_penalty": 20}], "reason": "The statute provides twenty years."});
    node.post_json(&path, &audrey, &correction)
        .problem(403, "read-only", "auditor");
    let r = node.post_json(
        &path,
        &alice,
        &json!({"offences": [{"index": 3, "category": "fraud"}], "reason": "The label does not fit the facts."}),
    );
    let p = r.problem(422, "invalid-reclassification", "no offence 3");
    assert_eq!(p["errors"][0]["pointer"], "$.offences[0].index");
    // A reason per referred finding, with its pointer.
    let r = node.post_json(
        &format!("/v1/requests/{referred}/decision"),
        &bob,
        &json!({"decision": "execute", "reason": "Proportionate.", "finding_reasons": {"too-many-targets": " "}}),
    );
    let p = r.problem(422, "invalid-decision", "blank");
    assert_eq!(
        p["errors"][0]["pointer"],
        "$.finding_reasons.too-many-targets"
    );

    // --- follow-up of a preservation (issue 13): XB follows its hold up; the request pages
    // show the link both ways (the browser step at the end).
    let mut follow_doc = request("p01-ransomware-production", "E2E-FOLLOW", "XB");
    follow_doc["channel"] = "network_24_7".into();
    follow_doc["follows"] = "E2E-HOLD".into();
    let r = node.submit_jws(&xb.sign(&follow_doc));
    assert_eq!(r.status, 201, "{}", r.text());
    let follow = r.json()["case"].as_i64().unwrap();
    // --- end of follow-up
    // ---- Dialogue moves and the emergency clock (issue 13, desk): setup ----
    // A case to postpone; one to consult, answered and then withdrawn by its requester with
    // `custos answer` and `custos withdraw`; XF's duty supervisor's confirmation key, for the
    // emergency above, and the digest of that request's signed payload to confirm.
    let postpone = submit(&node, &xa, "p01-ransomware-production", "E2E-POSTPONE");
    let dialogue = submit(&node, &xa, "p01-ransomware-production", "E2E-DIALOGUE");
    let duty = node.tmp.path().join("xf-duty.jwk");
    custos_ok(&["authority", "keygen", "-o", duty.to_str().unwrap()]);
    custos_ok(&[
        "authority",
        "confirm-key",
        "add",
        "--dir",
        node.dir_str(),
        "--authority",
        &xf.kid,
        "--jwk",
        duty.with_extension("pub.jwk").to_str().unwrap(),
    ]);
    let received = node.get(
        &format!("/v1/requests/{emergency}/events"),
        Some(&format!("Bearer {alice}")),
    );
    let emergency_sha256 = received.json()["events"][0]["event"]["payload_sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    let dialogue_env = json!({
        "bin": env!("CARGO_BIN_EXE_custos"), "xa_key": xa.key_path, "duty_key": duty,
        "emergency_sha256": emergency_sha256, "postpone": postpone, "dialogue": dialogue,
    });
    // ---- end of the dialogue setup ----
    // ── Issue 13, the order that must follow an emergency ──────────────────────────────────
    // XH's emergency, confirmed by its duty supervisor's key and executed; the order is due at
    // once (order_due_hours = 0) and the tick of a restart records it missing.
    let xh = node.authority("XH", "network_24_7");
    let xh_duty = node.tmp.path().join("xh-xh_duty.jwk");
    custos_ok(&["authority", "keygen", "-o", xh_duty.to_str().unwrap()]);
    custos_ok(&[
        "authority",
        "confirm-key",
        "add",
        "--dir",
        node.dir_str(),
        "--authority",
        &xh.kid,
        "--jwk",
        xh_duty.with_extension("pub.jwk").to_str().unwrap(),
    ]);
    let order_request = request("p07-emergency-kidnapping", "E2E-ORDER", "XH");
    let r = node.submit_jws(&xh.sign(&order_request));
    assert_eq!(r.status, 201, "{}", r.text());
    let order_case = r.json()["case"].as_i64().unwrap();
    let payload = serde_json::to_vec(&order_request).unwrap();
    let confirmation = json!({
        "request_id": "E2E-ORDER",
        "request_sha256": custos_ledger::Hash(<sha2::Sha256 as sha2::Digest>::digest(&payload).into()).to_hex(),
    });
    let duty_key =
        custos_jose::PrivateJwk::parse(&std::fs::read_to_string(&xh_duty).unwrap()).unwrap();
    let jws =
        custos_jose::sign_compact(&serde_json::to_vec(&confirmation).unwrap(), &duty_key, None);
    let r = crate::common::http(
        node.port,
        "POST",
        &format!("/v1/requests/{order_case}/confirmation"),
        &[("Content-Type", "application/jose")],
        jws.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = node.post_json(
        &format!("/v1/requests/{order_case}/decision"),
        &sam,
        &json!({"decision": "execute", "reason": "A child's life is at risk."}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    node.stop();
    node.start();
    // A restarted node catches up (its first scheduler pass) before it answers: the very first
    // request already sees the missed order.
    let r = node.get(
        &format!("/v1/requests/{order_case}"),
        Some(&format!("Bearer {alice}")),
    );
    assert!(r.json()["order"]["missed_at"].is_string(), "{}", r.text());
    // ── end of issue 13's setup ─────────────────────────────────────────────────────────────

    // Issue 17: a proof record of the node's profile, as `custos policy prove --dir` writes it,
    // for the profile page (its statuses, date and legal bases).
    write_proof_record(&node.dir);

    let open = node.get("/v1/requests?open=true", Some(&format!("Bearer {alice}")));
    let total_open = open.json().as_array().unwrap().len();
    let cases = json!({
        "refuse": refuse, "narrow": narrow, "second": second, "hold": hold,
        "emergency": emergency, "gag": gag, "total_open": total_open,
        "infoexec": infoexec, "referred": referred, "reclass": reclass,
        "follow": follow, "callback": callback, "order": order_case,
        "targets": targets, "clash": clash, "proposals": proposals,
        "supplemented": supplemented,
    });
    let tmp_shots = tempfile::tempdir().unwrap();
    let shots = std::env::var_os("CUSTOS_SCREENSHOTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp_shots.path().to_path_buf());
    let out = Command::new("node")
        .arg(e2e.join("console.test.mjs"))
        .env("CUSTOS_URL", node.server())
        .env("CUSTOS_PASSWORD", PASSWORD)
        .env("CUSTOS_CASES", cases.to_string())
        .env("CUSTOS_SCREENSHOTS", &shots)
        .env("CUSTOS_ALICE_TOKEN", &alice)
        .env("CUSTOS_VERIFIER", &node.vkey)
        .env("CUSTOS_DIALOGUE", dialogue_env.to_string())
        .output()
        .expect(
            "node runs (scripts/setup installs Node.js packages; Node.js comes with the machine)",
        );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser test failed:\n{stdout}\n{stderr}\n--- node log ---\n{}",
        node.server_log()
    );
    assert!(stdout.contains("all console steps passed"), "{stdout}");

    // What the browser did is in the log, as the API and the audit see it.
    let events = |case: i64| -> Vec<Value> {
        let r = node.get(
            &format!("/v1/requests/{case}/events"),
            Some(&format!("Bearer {alice}")),
        );
        r.json()["events"].as_array().unwrap().clone()
    };
    let refused = events(refuse);
    let [recorded, told] = &refused[refused.len() - 2..] else {
        unreachable!()
    };
    let last = &recorded["event"]["decision"];
    assert_eq!(last["decision"], "refuse");
    assert_eq!(last["reviewer"], "alice");
    assert_eq!(
        last["grounds"],
        json!(["offence-out-of-scope", "expression-offence"])
    );
    assert_eq!(
        last["internal_note"],
        "Third such request this month from this authority."
    );
    // What the requester was told: the decision and the reason, nothing internal.
    assert_eq!(told["type"], "reply.communicated");
    assert_eq!(
        told["event"]["communicated"],
        json!({"decision": "refuse", "reason": last["reason"], "at": told["event"]["at"]})
    );
    let narrowed = events(narrow);
    let d = narrowed
        .iter()
        .find(|e| e["type"] == "decision.recorded")
        .unwrap();
    assert_eq!(
        d["event"]["decision"]["narrowed"]["data_categories"],
        json!(["subscriber"])
    );
    let confirmed = events(second);
    assert!(
        confirmed
            .iter()
            .any(|e| e["type"] == "decision.proposed"
                && e["event"]["decision"]["reviewer"] == "alice")
    );
    assert!(confirmed.iter().any(
        |e| e["type"] == "decision.recorded" && e["event"]["decision"]["confirmed_by"] == "sam"
    ));
    // Four eyes over a request for information, a reason per referred finding, and a
    // correction confirmed by a second reviewer, then executed on the corrected facts.
    let info = events(infoexec);
    assert!(info.iter().any(|e| e["type"] == "decision.proposed"));
    assert!(info.iter().any(
        |e| e["type"] == "decision.recorded" && e["event"]["decision"]["confirmed_by"] == "sam"
    ));
    let executed = events(referred);
    let d = &executed
        .iter()
        .find(|e| e["type"] == "decision.recorded")
        .unwrap()["event"]["decision"];
    assert_eq!(d["decision"], "execute");
    assert!(
        d["finding_reasons"]["too-many-targets"]
            .as_str()
            .is_some_and(|r| r.starts_with("All thirty numbers"))
    );
    let relabelled = events(reclass);
    // The scheduler (every 30 s) may have ended confidentiality meanwhile: not this check's.
    let kinds: Vec<&str> = relabelled
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .filter(|t| *t != "confidentiality.ended")
        .collect();
    assert_eq!(
        kinds[2..],
        [
            "request.reclassification_proposed",
            "request.reclassified",
            "decision.recorded",
            "reply.communicated"
        ]
    );
    let r = &relabelled[3]["event"];
    assert_eq!(r["reclassification"]["reviewer"], "alice");
    assert_eq!(r["reclassification"]["confirmed_by"], "sam");
    assert_eq!(
        r["reclassification"]["offences"][0]["from"]["max_penalty"],
        "death"
    );
    assert_eq!(
        r["reclassification"]["offences"][0]["to"]["max_penalty"],
        20
    );
    assert_eq!(r["assessment"]["outcome"], "execute");
    let case = node.get(
        &format!("/v1/requests/{reclass}"),
        Some(&format!("Bearer {alice}")),
    );
    let case = case.json();
    assert_eq!(case["reclassification"]["original"]["outcome"], "refuse");
    assert_eq!(case["outcome"], "execute");
    assert!(
        events(hold)
            .iter()
            .any(|e| e["type"] == "preservation.renewed"),
        "the renewal from the holds page is logged"
    );
    for page in [
        "sign-in",
        "queue",
        "request",
        "request-narrowing",
        "request-reclassified",
        "holds",
        "log",
    ] {
        assert!(shots.join(format!("{page}.png")).is_file(), "{page}.png");
    }
    // No password, not even a wrong one or one typed into the name field, reaches the node's log.
    let log = node.server_log();
    for secret in [PASSWORD, "wrong guess", "Hunter2"] {
        assert!(
            !log.contains(secret),
            "{secret:?} is in the node's log:\n{log}"
        );
    }
    assert!(
        log.contains("console sign-in failed"),
        "failures are logged"
    );
    // ---- issue 13 §2, call-back (h13-callback): recorded by bob, confirmed by sam ----
    let called = events(callback);
    assert!(
        called
            .iter()
            .any(|e| e["type"] == "emergency.callback_recorded"
                && e["event"]["record"]["reviewer"] == "bob"
                && e["event"]["record"]["contact"]["phone"] == "+99 555 0177")
    );
    assert!(called.iter().any(
        |e| e["type"] == "emergency.callback_confirmed" && e["event"]["reviewer"] == "sam"
    ));
    assert!(shots.join("authority.png").is_file());
    // ---- end call-back ----
    // ── Issue 13: the deletion the browser asked for is logged and read by the requester ──
    let ordered = events(order_case);
    assert_eq!(
        ordered
            .iter()
            .filter(|e| e["type"] == "order.missed")
            .count(),
        1
    );
    let asked = ordered
        .iter()
        .find(|e| e["type"] == "deletion.requested")
        .expect("deletion.requested");
    assert_eq!(asked["event"]["by"], "bob");
    let path = format!("/v1/requests/{order_case}");
    let reply = node.get(&path, Some(&xh.proof("GET", &path))).json();
    assert_eq!(reply["format"], "custos.reply/v1");
    assert!(
        reply["order"]["deletion_requested"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("No order followed")),
        "{reply}"
    );
    // ── end of issue 13's checks ────────────────────────────────────────────────────────────
    // ── Issue 14, the public pages (h5-pages): /transparency and /log were shot ──
    for page in ["transparency", "public-log"] {
        assert!(shots.join(format!("{page}.png")).is_file(), "{page}.png");
    }
    // ── end of issue 14's public pages ──
    // Nothing the browser did escaped the log: the audit recomputes everything.
    let audit = custos_ok(&["audit", "--dir", node.dir_str()]);
    assert!(!audit.is_empty());

    // ---- Dialogue moves and the emergency clock (issue 13, desk): the log ----
    let kinds = |case: i64| -> Vec<String> {
        events(case)
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(kinds(postpone).contains(&"request.postponed".to_owned()));
    let talk = kinds(dialogue);
    let at = |k: &str| talk.iter().position(|x| x == k).unwrap_or(usize::MAX);
    assert!(
        at("consultation.opened") < at("consultation.answered")
            && at("consultation.answered") < at("request.withdrawn")
            && at("request.withdrawn") < talk.len(),
        "{talk:?}"
    );
    let urgent = kinds(emergency);
    assert!(
        at_of(&urgent, "emergency.confirmed") < at_of(&urgent, "decision.recorded"),
        "{urgent:?}"
    );
    let seen = node.tmp.path().join("seen.checkpoint");
    let verified = custos_ok(&[
        "log",
        "verify",
        "--server",
        &node.server(),
        "--vkey",
        &node.vkey,
        "--state",
        seen.to_str().unwrap(),
        "--full",
    ]);
    assert!(
        verified.contains("recomputed the root from all tiles"),
        "{verified}"
    );
    // ---- end of the dialogue checks ----
}

fn at_of(kinds: &[String], kind: &str) -> usize {
    kinds.iter().position(|x| x == kind).unwrap_or(usize::MAX)
}
