//! Reviewers' commands through the real binary (issue 12: each new endpoint has a CLI command):
//! `custos reclassify` proposes a correction that lightens the recommendation (a supervisor must
//! confirm it) and is refused for an auditor; `custos extension decide` grants a requester's
//! extension and refuses what the node refuses; `custos audit` passes after both.

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::common::{TestNode, custos, custos_ok, request};

/// Writes `token` to a file in the node's directory; returns its path.
fn token_file(node: &TestNode, name: &str, token: &str) -> String {
    let path = std::path::Path::new(node.dir_str()).join(format!("{name}.token"));
    std::fs::write(&path, format!("{token}\n")).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn a_reviewer_reclassifies_and_decides_an_extension_from_the_command_line() {
    let mut node = TestNode::init();
    node.start();
    let a = node.authority("XA", "mla");
    let rita = node.user("rita", "reviewer");
    let aud = node.user("aud", "auditor");
    let rita_file = token_file(&node, "rita", &rita);
    let aud_file = token_file(&node, "aud", &aud);
    let server = node.server();

    // A death-penalty offence is refused; the reviewer finds the statute provides 20 years.
    let c = node.submit_jws(&a.sign(&request("p12-death-penalty", "XA-CLI-1", "XA")));
    assert_eq!(c.status, 201, "{}", c.text());
    let case = c.json()["case"].as_i64().unwrap().to_string();
    let args = |file: &str| {
        vec![
            "reclassify".to_owned(),
            "--server".into(),
            server.clone(),
            "--token-file".into(),
            file.into(),
            "--case".into(),
            case.clone(),
            "--offence".into(),
            "0".into(),
            "--max-penalty".into(),
            "20".into(),
            "--reason".into(),
            "The statute cited provides at most twenty years, not death.".into(),
        ]
    };
    let refused = custos(
        &args(&aud_file)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("refused the reclassification (403"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let out = custos_ok(
        &args(&rita_file)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let proposed: Value = serde_json::from_str(out.trim()).unwrap();
    // It lightens a refusal, so it waits for a supervisor; the recommendation is unchanged.
    assert_eq!(proposed["outcome"], "refuse", "{proposed}");
    assert_eq!(proposed["status"], "awaiting_second_review", "{proposed}");
    let pending = &proposed["reclassification"]["pending"];
    assert_eq!(
        pending["reclassification"]["reviewer"], "rita",
        "{proposed}"
    );
    assert_eq!(pending["assessment"]["outcome"], "execute", "{proposed}");
    // Nothing to correct is refused before anything is sent.
    let none = custos(&[
        "reclassify",
        "--server",
        &server,
        "--token-file",
        &rita_file,
        "--case",
        &case,
        "--offence",
        "0",
        "--reason",
        "No change.",
    ]);
    assert_eq!(none.status.code(), Some(2));

    // An extension of secrecy asked by the authority, decided from the command line.
    let ends = Timestamp::now() + SignedDuration::from_hours(24 * 10);
    let mut r = request("example", "XA-CLI-2", "XA");
    r["confidentiality"] = json!({"requested": true, "until": ends.to_string(),
        "justification": "Disclosure would alert the suspects before the arrests planned for this month."});
    let c = node.submit_jws(&a.sign(&r));
    assert_eq!(c.status, 201, "{}", c.text());
    let case2 = c.json()["case"].as_i64().unwrap();
    let d = node.post_json(
        &format!("/v1/requests/{case2}/decision"),
        &rita,
        &json!({"decision": "execute", "reason": "The request meets every safeguard and is executed."}),
    );
    assert_eq!(d.status, 200, "{}", d.text());
    let wanted = Timestamp::now() + SignedDuration::from_hours(24 * 40);
    let asked = custos_ok(&[
        "extension",
        "request",
        "--server",
        &server,
        "--key",
        a.key_path.to_str().unwrap(),
        "--case",
        &case2.to_string(),
        "--until",
        &wanted.to_string(),
        "--reasons",
        "Two suspects are still abroad; telling the account holder now would warn them.",
    ]);
    let id = serde_json::from_str::<Value>(asked.trim()).unwrap()["extension"]
        .as_i64()
        .unwrap()
        .to_string();
    let case2 = case2.to_string();
    let decide = |file: &str, extra: &[&str]| {
        let mut args = vec![
            "extension",
            "decide",
            "--server",
            &server,
            "--token-file",
            file,
            "--case",
            &case2,
            "--extension",
            &id,
        ];
        args.extend_from_slice(extra);
        custos(&args)
    };
    let later = (wanted + SignedDuration::from_secs(1)).to_string();
    let too_long = decide(
        &rita_file,
        &["--grant", "--until", &later, "--reason", "Longer."],
    );
    assert_eq!(too_long.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&too_long.stderr).contains("never longer"));
    let both = decide(
        &rita_file,
        &["--refuse", "--until", &later, "--reason", "No."],
    );
    assert_eq!(both.status.code(), Some(2));
    let granted = decide(
        &rita_file,
        &[
            "--grant",
            "--reason",
            "The reasons show that telling now would warn the suspects.",
        ],
    );
    assert!(granted.status.success(), "{granted:?}");
    let x: Value = serde_json::from_slice(&granted.stdout).unwrap();
    assert_eq!(
        (x["status"].as_str(), x["decided_by"].as_str()),
        (Some("granted"), Some("rita"))
    );

    let out = custos_ok(&["audit", "--dir", node.dir_str()]);
    assert!(out.starts_with("ok:"), "{out}");
}
