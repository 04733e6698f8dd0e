//! `custos policy check FILE`: exit 0 with the profile in figures, 2 with every problem located,
//! 1 when the file cannot be read; a profile that drops rules is still valid (proving is
//! `policy prove`'s job).

use serde_json::Value;

use crate::common::{custos, repo};

fn rights_first() -> String {
    std::fs::read_to_string(repo().join("crates/safeguards/policies/rights-first.cedar")).unwrap()
}

#[test]
fn the_built_in_profiles_pass_with_their_figures() {
    for name in ["rights-first", "convention"] {
        let path = repo().join(format!("crates/safeguards/policies/{name}.cedar"));
        let out = custos(&["policy", "check", path.to_str().unwrap()]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{name}: {stdout}");
        assert!(
            stdout.contains(&format!("profile `{name}` is valid")),
            "{stdout}"
        );
        assert!(stdout.contains("rules: "), "{stdout}");
        assert!(
            stdout.contains(&format!("names the built-in profile `{name}`")),
            "{stdout}"
        );
    }
}

#[test]
fn rights_first_without_its_judges_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let source = rights_first();
    let fewer: String = source
        .split("\n\n")
        .filter(|block| !block.contains("@code(\"judicial-authorization\")"))
        .collect::<Vec<_>>()
        .join("\n\n");
    assert_eq!(source.matches("judicial-authorization\")").count(), 3);
    assert!(!fewer.contains("judicial-authorization\")"));
    let file = dir.path().join("no-judge.cedar");
    std::fs::write(&file, fewer).unwrap();
    let out = custos(&[
        "policy",
        "check",
        file.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], true);
    assert_eq!(report["profile"]["name"], "rights-first");
    assert_eq!(report["profile"]["builtin_properties"], "rights-first");
    let full = custos(&[
        "policy",
        "check",
        repo()
            .join("crates/safeguards/policies/rights-first.cedar")
            .to_str()
            .unwrap(),
        "--format",
        "json",
    ]);
    let full: Value = serde_json::from_slice(&full.stdout).unwrap();
    assert_eq!(
        report["profile"]["rules"].as_u64().unwrap() + 3,
        full["profile"]["rules"].as_u64().unwrap()
    );
}

#[test]
fn a_bad_profile_exits_2_with_every_problem_located() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.cedar");
    // Two rules broken three ways, in a copy of rights-first.
    let source = rights_first()
        .replacen(
            "@severity(\"needs_information\")",
            "@severity(\"needs_informaton\")",
            1,
        )
        .replacen("context.is_intrusive", "context.is_intrusiv", 1);
    std::fs::write(&file, &source).unwrap();
    let path = file.to_str().unwrap();
    let line = |needle: &str| source[..source.find(needle).unwrap()].matches('\n').count() + 1;

    let out = custos(&["policy", "check", path]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(&format!("{path}: 2 problems")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{path}:{}:", line("needs_informaton")))
            && stderr.contains("did you mean `needs_information`?"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{path}:{}:", line("is_intrusiv ")))
            && stderr.contains("did you mean `context.is_intrusive`?"),
        "{stderr}"
    );

    // JSON on standard output, the verdict on standard error, still exit 2.
    let out = custos(&["policy", "check", path, "--format", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], false);
    let problems = report["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 2, "{report:#}");
    assert_eq!(problems[0]["annotation"], "severity");
    assert_eq!(problems[0]["position"]["line"], line("needs_informaton"));
    assert!(problems[0]["code"].is_string());
    assert_eq!(problems[1]["kind"], "schema");
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 problems"));
}

#[test]
fn a_file_that_cannot_be_read_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.cedar");
    let out = custos(&["policy", "check", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("missing.cedar") && stderr.contains("cannot read the profile"),
        "{stderr}"
    );
    // Not text at all.
    let binary = dir.path().join("binary.cedar");
    std::fs::write(&binary, [0xff, 0xfe, 0x00]).unwrap();
    let out = custos(&["policy", "check", binary.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
}
