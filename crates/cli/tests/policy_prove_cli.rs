//! `custos policy prove` through the real binary and the real solver (issue 17's contract):
//! rights-first proves; a copy without its judge rules fails and writes a request that
//! `custos assess` executes; `--dir` records the proof for the console; no solver, exit 1.

use serde_json::Value;

use crate::common::{TestNode, custos, judgeless_copy, repo};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn rights_first_proves_and_is_recorded_for_the_console() {
    let out = custos(&[
        "policy",
        "prove",
        "--profile",
        "rights-first",
        "--format",
        "text",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    for name in [
        "judicial-authorization",
        "expression-offence",
        "death-penalty",
        "not-more-permissive-than-convention",
        "never-errors",
        "no-dead-rule",
        "secrecy-within-cap",
    ] {
        assert!(
            stdout.contains(&format!("holds  {name}")),
            "{name}:\n{stdout}"
        );
    }

    // With --dir: the node's own profile, recorded as custos.proof/v1.
    let node = TestNode::init();
    let out = custos(&[
        "policy",
        "prove",
        "--dir",
        node.dir_str(),
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let record: Value = serde_json::from_str(
        &std::fs::read_to_string(node.dir.join("proofs/rights-first.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(printed["proof"], record);
    assert_eq!(record["format"], "custos.proof/v1");
    assert_eq!(record["profile"], "rights-first");
    assert!(record["solver"].as_str().unwrap().starts_with("cvc5 1."));
    let statuses: Vec<&str> = record["properties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["holds"; 7]);
}

#[test]
fn a_profile_without_its_judge_rules_fails_with_a_request_that_executes() {
    let tmp = tempfile::tempdir().unwrap();
    let profile = judgeless_copy(tmp.path());
    let dir = tmp.path().join("counterexamples");
    let out = custos(&[
        "policy",
        "prove",
        "--profile",
        profile.to_str().unwrap(),
        "--counterexamples",
        dir.to_str().unwrap(),
        "--format",
        "text",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("FAILS  judicial-authorization"), "{stdout}");
    assert!(stdout.contains("Its facts:") && stdout.contains("As a request (custos.request/v1):"));
    assert!(text(&out.stderr).contains("a property does not hold"));

    // One file per failed property, each exactly one request.
    let file = dir.join("judicial-authorization.json");
    let request: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(request["format"], "custos.request/v1");
    assert!(
        ["intercept_content", "collect_traffic_realtime"]
            .contains(&request["measure"].as_str().unwrap()),
        "{request}"
    );
    assert_ne!(request["authorization"]["kind"], "judicial");

    // The edited profile executes it; the shipped one asks for a judge's order.
    let assess = |profile: &str| -> Value {
        let out = custos(&[
            "assess",
            "--profile",
            profile,
            "--format",
            "json",
            file.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let edited = assess(profile.to_str().unwrap());
    assert!(
        ["execute", "execute_narrowed"].contains(&edited["outcome"].as_str().unwrap()),
        "{edited}"
    );
    let shipped = assess("rights-first");
    assert_eq!(shipped["outcome"], "needs_information");
}

#[test]
fn an_operators_property_file_beside_the_profile_is_proved_and_a_missing_solver_says_how_to_install_it()
 {
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("ops.cedar");
    std::fs::copy(
        repo().join("crates/safeguards/policies/convention.cedar"),
        &profile,
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("ops.properties.cedar"),
        "@property(\"no-direct-interception\")\n@statement(\"Never intercept on a direct request.\")\n@basis(\"Operator policy\")\n@at_least(\"refuse\")\nforbid (principal, action, resource) when { context.channel == \"direct\" && context.is_intrusive };\n",
    )
    .unwrap();
    let out = custos(&[
        "policy",
        "prove",
        "--profile",
        profile.to_str().unwrap(),
        "--property",
        "no-direct-interception",
        "--format",
        "text",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("holds  no-direct-interception"));

    // An unknown property name lists the known ones.
    let out = custos(&[
        "policy",
        "prove",
        "--profile",
        "convention",
        "--property",
        "nope",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no property is named `nope`; the profile's properties are: never-errors, no-dead-rule, secrecy-within-cap"), "{}", text(&out.stderr));

    // No solver: exit 1 and how to install it.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_custos"))
        .args(["policy", "prove", "--profile", "rights-first"])
        .env("CVC5", "/nonexistent/cvc5")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("scripts/install-cvc5"),
        "{}",
        text(&out.stderr)
    );
}
