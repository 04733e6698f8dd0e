//! Every shared example case (testdata/cases, copied from the spec) produces its expected
//! assessment under both built-in profiles: outcome, the exact set of non-note finding codes, and
//! the narrowed values where given. Invalid requests are rejected with the expected field path.
//! (The same cases also run through the real `custos` binary in the cli crate's tests.)

use std::collections::BTreeSet;
use std::path::PathBuf;

use custos_model::{Timestamp, parse_request};
use custos_safeguards::{Assessor, Jurisdiction, Profile, Severity};
use serde_json::Value;

fn cases() -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/cases");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("testdata/cases exists") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let case: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            out.push((
                path.file_stem().unwrap().to_string_lossy().into_owned(),
                case,
            ));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        out.len() >= 20,
        "expected the 20 shared cases, found {}",
        out.len()
    );
    out
}

/// The jurisdiction overrides of a case, turned into the TOML an operator would write.
fn jurisdiction_of(case: &Value) -> Jurisdiction {
    match case.get("jurisdiction") {
        None | Some(Value::Null) => Jurisdiction::default(),
        Some(j) => {
            let toml: String = j
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| format!("{k} = {v}\n"))
                .collect();
            Jurisdiction::from_toml(&toml).unwrap_or_else(|e| panic!("{toml}: {e}"))
        }
    }
}

fn ts(v: &Value) -> Option<Timestamp> {
    v.as_str().map(|s| s.parse().unwrap())
}

#[test]
fn every_shared_case_gets_its_expected_assessment() {
    let mut checked = 0;
    for (name, case) in cases() {
        let now: Timestamp = case["now"].as_str().unwrap().parse().unwrap();
        let bytes = serde_json::to_vec(&case["request"]).unwrap();
        let parsed = parse_request(&bytes);
        for profile_name in ["convention", "rights-first"] {
            let expect = &case["expect"][profile_name];
            if let Some(invalid) = expect.get("invalid") {
                let err = parsed
                    .as_ref()
                    .expect_err(&format!("{name}: must be rejected"));
                // "period: from is after to" names the path `period`.
                let (path, why) = invalid.as_str().unwrap().split_once(": ").unwrap();
                let path = path.trim_start_matches("$.");
                let text = err.to_string();
                assert!(
                    text.contains(&format!("$.{path}: ")),
                    "{name}: error should name {path}: {text}"
                );
                assert!(
                    text.contains(why),
                    "{name}: error should say {why:?}: {text}"
                );
                checked += 1;
                continue;
            }
            let request = parsed
                .as_ref()
                .unwrap_or_else(|e| panic!("{name}: should parse: {e}"));
            let assessor = Assessor::new(
                Profile::builtin(profile_name).unwrap(),
                jurisdiction_of(&case),
            );
            let a = assessor.assess(request, now).unwrap();
            let context = format!("{name} under {profile_name}: {a:#?}");
            assert_eq!(a.outcome.as_str(), expect["outcome"], "{context}");
            let codes: BTreeSet<&str> = a
                .findings
                .iter()
                .filter(|f| f.severity != Severity::Note)
                .map(|f| f.code.as_str())
                .collect();
            let expected: BTreeSet<&str> = expect["codes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap())
                .collect();
            assert_eq!(codes, expected, "{context}");
            if let Some(n) = expect.get("narrowed") {
                let got = a.narrowed.expect("narrowed present");
                let cats: BTreeSet<String> =
                    got.data_categories.iter().map(|c| c.to_string()).collect();
                let want: BTreeSet<String> = n["data_categories"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap().to_owned())
                    .collect();
                assert_eq!(cats, want, "{context}");
                match &n["period"] {
                    Value::Null => assert!(got.period.is_none(), "{context}"),
                    p => {
                        let period = got.period.expect("period");
                        assert_eq!(Some(period.from), ts(&p["from"]), "{context}");
                        assert_eq!(Some(period.to), ts(&p["to"]), "{context}");
                    }
                }
                assert_eq!(
                    got.confidentiality_until,
                    ts(&n["confidentiality_until"]),
                    "{context}"
                );
            } else {
                assert_eq!(
                    a.narrowed.is_some(),
                    a.outcome.as_str() == "execute_narrowed",
                    "{context}"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 40);
}
