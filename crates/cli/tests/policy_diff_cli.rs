//! `custos policy diff` through the binary: the acceptance contract over the shared cases, a
//! node's received requests, invalid files, exit statuses.

use serde_json::{Value, json};

use crate::common::{TestNode, custos, custos_ok, judgeless_copy, repo, request};

fn diff_json(args: &[&str]) -> Value {
    let mut all = vec!["policy", "diff"];
    all.extend_from_slice(args);
    all.extend(["--format", "json"]);
    serde_json::from_str(&custos_ok(&all)).unwrap()
}

fn changed_ids(report: &Value) -> Vec<&str> {
    report["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["request_id"].as_str().unwrap())
        .collect()
}

#[test]
fn dropping_the_judge_rules_changes_the_interception_without_a_judge_not_the_ransomware_case() {
    let tmp = tempfile::tempdir().unwrap();
    let profile = judgeless_copy(tmp.path());
    let cases = repo().join("testdata/cases");
    let report = diff_json(&[
        "--from",
        "rights-first",
        "--to",
        profile.to_str().unwrap(),
        "--cases",
        cases.to_str().unwrap(),
    ]);
    assert_eq!(report["format"], "custos.policy-diff/v1");
    let ids = changed_ids(&report);
    assert!(ids.contains(&"XA-2026-0201"), "p05 must change: {report:#}");
    assert!(!ids.contains(&"XA-2026-0001"), "p01 must not: {report:#}");
    let p05 = &report["changed"][ids.iter().position(|i| *i == "XA-2026-0201").unwrap()];
    assert_eq!(p05["source"], "p05-interception-without-judge.json");
    assert_eq!(
        p05["before"],
        json!({"outcome": "needs_information", "codes": ["judicial-authorization"]})
    );
    assert_eq!(p05["direction"], "more_permissive");
    // The invalid shared cases are listed, not fatal.
    let invalid: Vec<&str> = report["invalid"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["source"].as_str().unwrap())
        .collect();
    assert_eq!(
        invalid,
        ["p14-invalid-unknown-field.json", "p15-invalid-period.json"]
    );
    assert_eq!(report["requests"], 20);
    assert_eq!(report["summary"]["stricter"], 0);
}

#[test]
fn an_unusable_file_is_listed_as_invalid_and_the_others_are_still_replayed() {
    let tmp = tempfile::tempdir().unwrap();
    let profile = judgeless_copy(tmp.path());
    let cases = tmp.path().join("cases");
    std::fs::create_dir(&cases).unwrap();
    // A bare request (assessed at its submitted_at), a broken file, and a note that is no case.
    let p05 = request("p05-interception-without-judge", "XA-BARE-1", "XA");
    std::fs::write(cases.join("a.json"), serde_json::to_vec(&p05).unwrap()).unwrap();
    std::fs::write(cases.join("b.json"), b"{\"request\": ").unwrap();
    std::fs::write(cases.join("notes.txt"), b"not a request").unwrap();
    let report = diff_json(&[
        "--from",
        "rights-first",
        "--to",
        profile.to_str().unwrap(),
        "--cases",
        cases.to_str().unwrap(),
    ]);
    assert_eq!(report["requests"], 2, "{report:#}");
    assert_eq!(changed_ids(&report), ["XA-BARE-1"]);
    assert_eq!(report["invalid"][0]["source"], "b.json");
    let error = report["invalid"][0]["error"].as_str().unwrap();
    assert!(error.starts_with("$: the file is not JSON"), "{error}");
}

#[test]
fn bad_input_exits_2_and_a_folder_that_is_no_node_exits_1() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = repo().join("testdata/cases");
    let cases = cases.to_str().unwrap();

    let out = custos(&[
        "policy",
        "diff",
        "--from",
        "nope",
        "--to",
        "convention",
        "--cases",
        cases,
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--from nope"), "{stderr}");

    let broken = tmp.path().join("broken.cedar");
    std::fs::write(
        &broken,
        "forbid (principal, action, resource) when { context.nope };",
    )
    .unwrap();
    let out = custos(&[
        "policy",
        "diff",
        "--from",
        "rights-first",
        "--to",
        broken.to_str().unwrap(),
        "--cases",
        cases,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--to "));

    let missing = tmp.path().join("missing");
    let out = custos(&[
        "policy",
        "diff",
        "--from",
        "rights-first",
        "--to",
        "convention",
        "--cases",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the folder"));

    let out = custos(&[
        "policy",
        "diff",
        "--from",
        "rights-first",
        "--to",
        "convention",
        "--dir",
        tmp.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a Custos node directory"));
}

#[test]
fn a_node_s_received_requests_and_supplements_are_replayed_under_its_jurisdiction() {
    let mut node = TestNode::start_new();
    let xa = node.authority("XA", "mla");
    let reviewer = node.user("rev", "reviewer");
    let submit = |r: &Value| node.submit_jws(&xa.sign(r));

    let mut p05 = request("p05-interception-without-judge", "XA-NODE-1", "XA");
    let r = submit(&p05);
    assert_eq!(r.status, 201, "{}", r.text());
    let case = r.json()["case"].as_i64().unwrap();
    let r = submit(&request("p01-ransomware-production", "XA-NODE-2", "XA"));
    assert_eq!(r.status, 201, "{}", r.text());
    // The reviewer asks for a judge's order and the authority supplements with one.
    let r = node.post_json(
        &format!("/v1/requests/{case}/decision"),
        &reviewer,
        &json!({"decision": "request_information", "reason": "A judge's order is needed.",
                "message": "Please send the order of a judge."}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    p05["authorization"] = json!({"kind": "judicial", "issued_by": "Investigating judge"});
    p05["submitted_at"] = jiff::Timestamp::now().to_string().into();
    let r = submit(&p05);
    assert_eq!(r.status, 200, "the supplement: {}", r.text());
    node.stop();

    let tmp = tempfile::tempdir().unwrap();
    let profile = judgeless_copy(tmp.path());
    let report = diff_json(&[
        "--from",
        "rights-first",
        "--to",
        profile.to_str().unwrap(),
        "--dir",
        node.dir_str(),
    ]);
    assert_eq!(report["source"]["kind"], "node");
    assert_eq!(
        report["requests"], 3,
        "two arrivals and a supplement: {report:#}"
    );
    // Only the first arrival of XA-NODE-1 lacked a judge; the supplement has one.
    assert_eq!(changed_ids(&report), ["XA-NODE-1"], "{report:#}");
    let source = report["changed"][0]["source"].as_str().unwrap();
    assert!(
        source.starts_with(&format!("case {case}, log index ")) && !source.contains("supplement"),
        "{source}"
    );
    assert_eq!(
        report["changed"][0]["before"]["outcome"],
        "needs_information"
    );
    assert_eq!(report["summary"]["unchanged"], 2);
    assert_eq!(report["invalid"], json!([]));

    // The same profile on both sides changes nothing, and text is the default off JSON only on
    // a terminal: asked for, it ends with the summary.
    let out = custos_ok(&[
        "policy",
        "diff",
        "--from",
        "rights-first",
        "--to",
        "rights-first",
        "--dir",
        node.dir_str(),
        "--format",
        "text",
    ]);
    assert!(
        out.contains("Summary: 0 of 3 assessed request(s) changed"),
        "{out}"
    );

    // The node's jurisdiction file is the one applied: where neither of XA-NODE-2's offences is
    // criminal, rights-first refuses it (dual criminality) and convention refers it.
    let p01_before = |report: &Value| {
        report["changed"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["request_id"] == "XA-NODE-2")
            .map(|c| c["before"].clone())
    };
    let args = [
        "--from",
        "rights-first",
        "--to",
        "convention",
        "--dir",
        node.dir_str(),
    ];
    let default = diff_json(&args);
    assert!(
        p01_before(&default).is_none_or(|b| !b["codes"].to_string().contains("dual-criminality")),
        "{default:#}"
    );
    std::fs::write(
        node.dir.join("jurisdiction.toml"),
        "criminal_categories = [\"drug_trafficking\"]\n",
    )
    .unwrap();
    let config = node.dir.join("custos.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("jurisdiction = \"jurisdiction.toml\"\n{text}"),
    )
    .unwrap();
    let restricted = diff_json(&args);
    let before = p01_before(&restricted).expect("XA-NODE-2 changes under the node's jurisdiction");
    assert_eq!(before["outcome"], "refuse", "{restricted:#}");
    assert!(before["codes"].to_string().contains("dual-criminality"));
}
