//! The command-line contract of `custos assess` (safeguards.md), tested through the real binary:
//! every shared case under both profiles (JSON output), invalid requests (exit 2, nothing on
//! stdout, the field path on stderr), and snapshots of the text a reviewer reads.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("custos-cli-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Several tests call `cases()` at once and share these files: a plain write (truncate, then
/// write) let another test's `custos assess` read a half-written request now and then.
fn write_atomically(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension(format!("tmp.{:?}", std::thread::current().id()));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn custos(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_custos"))
        .args(args)
        .output()
        .expect("the custos binary runs")
}

struct Case {
    name: String,
    now: String,
    request_file: PathBuf,
    jurisdiction_file: Option<PathBuf>,
    expect: Value,
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(repo().join("testdata/cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    for path in paths {
        let case: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let name = case["name"].as_str().unwrap().to_owned();
        let request_file = scratch(&format!("{name}.request.json"));
        write_atomically(
            &request_file,
            &serde_json::to_vec_pretty(&case["request"]).unwrap(),
        );
        let jurisdiction_file = case.get("jurisdiction").filter(|j| !j.is_null()).map(|j| {
            let toml: String = j
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| format!("{k} = {v}\n"))
                .collect();
            let file = scratch(&format!("{name}.jurisdiction.toml"));
            write_atomically(&file, toml.as_bytes());
            file
        });
        out.push(Case {
            name,
            now: case["now"].as_str().unwrap().to_owned(),
            request_file,
            jurisdiction_file,
            expect: case["expect"].clone(),
        });
    }
    assert_eq!(out.len(), 20);
    out
}

fn assess(case: &Case, profile: &str, format: &str) -> Output {
    let mut args = vec![
        "assess",
        "--profile",
        profile,
        "--now",
        &case.now,
        "--format",
        format,
    ];
    let jurisdiction;
    if let Some(j) = &case.jurisdiction_file {
        jurisdiction = j.display().to_string();
        args.extend(["--jurisdiction", &jurisdiction]);
    }
    let request = case.request_file.display().to_string();
    args.push(&request);
    custos(&args)
}

#[test]
fn every_shared_case_through_the_binary() {
    for case in cases() {
        for profile in ["convention", "rights-first"] {
            let expect = &case.expect[profile];
            let out = assess(&case, profile, "json");
            let stderr = String::from_utf8_lossy(&out.stderr);
            let ctx = format!("{} / {profile}: {stderr}", case.name);
            if let Some(invalid) = expect.get("invalid") {
                assert_eq!(out.status.code(), Some(2), "{ctx}");
                assert!(out.stdout.is_empty(), "{ctx}: stdout must be empty");
                let (path, why) = invalid.as_str().unwrap().split_once(": ").unwrap();
                let path = path.trim_start_matches("$.");
                assert!(stderr.contains(&format!("$.{path}: ")), "{ctx}");
                assert!(stderr.contains(why), "{ctx}");
                continue;
            }
            assert_eq!(out.status.code(), Some(0), "{ctx}");
            let a: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
            assert_eq!(a["format"], "custos.assessment/v1", "{ctx}");
            assert_eq!(a["profile"], profile, "{ctx}");
            assert_eq!(a["outcome"], expect["outcome"], "{ctx}\n{a:#}");
            let codes: BTreeSet<&str> = a["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["severity"] != "note")
                .map(|f| f["code"].as_str().unwrap())
                .collect();
            let want: BTreeSet<&str> = expect["codes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap())
                .collect();
            assert_eq!(codes, want, "{ctx}\n{a:#}");
            for f in a["findings"].as_array().unwrap() {
                assert!(
                    !f["basis"].as_array().unwrap().is_empty(),
                    "{ctx}: every finding names its legal basis"
                );
                assert!(!f["message"].as_str().unwrap().is_empty(), "{ctx}");
            }
            // `narrowed` is present exactly when the outcome is execute_narrowed, with all keys.
            if a["outcome"] == "execute_narrowed" {
                let n = &a["narrowed"];
                for key in ["data_categories", "period", "confidentiality_until"] {
                    assert!(n.get(key).is_some(), "{ctx}: narrowed.{key}");
                }
                if let Some(want) = expect.get("narrowed") {
                    let cats = |v: &Value| -> BTreeSet<String> {
                        v.as_array()
                            .unwrap()
                            .iter()
                            .map(|c| c.as_str().unwrap().to_owned())
                            .collect()
                    };
                    assert_eq!(
                        cats(&n["data_categories"]),
                        cats(&want["data_categories"]),
                        "{ctx}"
                    );
                    let instant =
                        |v: &Value| v.as_str().map(|s| s.parse::<jiff::Timestamp>().unwrap());
                    assert_eq!(
                        instant(&n["period"]["from"]),
                        instant(&want["period"]["from"]),
                        "{ctx}"
                    );
                    assert_eq!(
                        instant(&n["period"]["to"]),
                        instant(&want["period"]["to"]),
                        "{ctx}"
                    );
                    assert_eq!(
                        instant(&n["confidentiality_until"]),
                        instant(&want["confidentiality_until"]),
                        "{ctx}"
                    );
                }
            } else {
                assert!(a["narrowed"].is_null(), "{ctx}");
            }
        }
    }
}

#[test]
fn text_output_reads_well_for_every_case() {
    for case in cases() {
        for profile in ["convention", "rights-first"] {
            if case.expect[profile].get("invalid").is_some() {
                continue;
            }
            let out = assess(&case, profile, "text");
            assert_eq!(out.status.code(), Some(0));
            let text = String::from_utf8(out.stdout).unwrap();
            // The outcome comes first, in words.
            let outcome = case.expect[profile]["outcome"].as_str().unwrap();
            let headline = outcome.replace('_', " ").to_uppercase();
            assert!(text.starts_with(&headline), "{text}");
            insta::assert_snapshot!(format!("{}__{profile}", case.name), text);
        }
    }
}

#[test]
fn invalid_request_text_names_the_field_and_the_fix() {
    let case = cases()
        .into_iter()
        .find(|c| c.name.starts_with("p14"))
        .unwrap();
    let out = assess(&case, "rights-first", "text");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let stderr = stderr.replace(&case.request_file.display().to_string(), "REQUEST.json");
    insta::assert_snapshot!(stderr);
}

#[test]
fn usage_and_configuration_errors() {
    let example = repo().join("examples/request.json");
    let example = example.to_str().unwrap();

    // A bad --now is a usage error: exit 2.
    let out = custos(&["assess", "--now", "yesterday", example]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--now"));

    // A missing request file: exit 2, and it says which file.
    let out = custos(&["assess", "/nonexistent/request.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/request.json"));

    // An unknown built-in profile: exit 1, with the names that exist.
    let out = custos(&["assess", "--profile", "lenient", example]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("rights-first") && stderr.contains("convention"),
        "{stderr}"
    );

    // An operator profile that does not fit the schema: exit 1, naming the file and the problem.
    let bad = scratch("bad.cedar");
    std::fs::write(
        &bad,
        "@code(\"x\") @severity(\"refuse\") @basis(\"b\") @message(\"m\")\nforbid (principal, action, resource) when { context.penalty > 3 };\n",
    )
    .unwrap();
    let out = custos(&["assess", "--profile", bad.to_str().unwrap(), example]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.cedar") && stderr.contains("penalty"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());

    // A jurisdiction file with a typo: exit 1, naming the key.
    let j = scratch("bad.toml");
    std::fs::write(&j, "criminal_categories = [\"illegal_acess\"]\n").unwrap();
    let out = custos(&["assess", "--jurisdiction", j.to_str().unwrap(), example]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("illegal_acess"));
}

#[test]
fn an_operator_profile_and_jurisdiction_change_the_outcome() {
    // A profile of one rule: refuse everything from a state on the heightened-scrutiny list.
    let profile = scratch("strict.cedar");
    std::fs::write(
        &profile,
        r#"@profile("strict")
permit (principal, action, resource);
@code("state-embargo") @severity("refuse") @basis("Operator policy")
@message("Requests from {state} are not accepted by {jurisdiction}.")
forbid (principal, action, resource) when { context.heightened_scrutiny };
"#,
    )
    .unwrap();
    let jurisdiction = scratch("j.toml");
    std::fs::write(
        &jurisdiction,
        "name = \"Example Provider\"\nheightened_scrutiny_states = [\"XA\"]\n",
    )
    .unwrap();
    let example = repo().join("examples/request.json");
    let run = |j: Option<&Path>| {
        let mut args = vec![
            "assess".to_owned(),
            "--format".to_owned(),
            "json".to_owned(),
            "--profile".to_owned(),
            profile.display().to_string(),
        ];
        if let Some(j) = j {
            args.extend(["--jurisdiction".to_owned(), j.display().to_string()]);
        }
        args.push(example.display().to_string());
        let out = Command::new(env!("CARGO_BIN_EXE_custos"))
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let a = run(None);
    assert_eq!(a["outcome"], "execute");
    assert_eq!(a["profile"], "strict");
    let a = run(Some(&jurisdiction));
    assert_eq!(a["outcome"], "refuse");
    assert_eq!(
        a["findings"][0]["message"],
        "Requests from XA are not accepted by Example Provider."
    );
}
