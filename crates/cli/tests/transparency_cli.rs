//! Transparency reports through the real binary and HTTP (issue 14, part 1): public JSON and
//! CSV downloads (the same figures on every read, nothing spent again, cacheable), the exact
//! table for staff only (403 otherwise), bad dates as 400 problems naming the parameter, a
//! report over budget refused, and `custos report` on the node with `--opening`, checked by
//! `custos report verify` (a tampered exact table refused); `custos audit` passes after.

use serde_json::Value;

use crate::common::*;

const JAN: &str = "/transparency/report.json?from=2026-01-01&to=2026-01-31";

#[test]
fn public_reports_over_http_exact_for_staff_and_a_budget() {
    let mut node = TestNode::init();
    node.configure(
        "transparency",
        "epsilon_per_report = 1.0\nbudget = 3.0\nstaff_reserve = 1.0\npublic_per_day = 5",
    );
    node.start();
    let xa = node.authority("XA", "mla,network_24_7");
    let aud = node.user("aud", "auditor");
    let created = node.submit_jws(&xa.sign(&request("p01-ransomware-production", "XA-TR-1", "XA")));
    assert_eq!(created.status, 201, "{}", created.text());

    let first = node.get(JAN, None);
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(
        first.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let json = first.json();
    for key in [
        "format",
        "from",
        "to",
        "exact",
        "epsilon",
        "by_state",
        "by_measure",
        "by_channel",
        "by_recommendation",
        "by_decision",
        "refusal_grounds",
    ] {
        assert!(json.get(key).is_some(), "{key} missing: {json}");
    }
    assert_eq!(json["format"], "custos.transparency/v1");
    assert_eq!(json["exact"], false);
    assert_eq!(json["epsilon"], 1.0);
    assert!(json["totals"]["requests"].is_u64());
    // Zero counts are released too: every measure, every channel, the directory's state.
    assert_eq!(json["by_measure"].as_object().unwrap().len(), 7);
    assert_eq!(json["by_channel"].as_object().unwrap().len(), 3);
    assert!(json["by_state"].get("XA").is_some());
    let size = node.log_size();
    let again = node.get(JAN, None);
    assert_eq!(again.json(), json, "the same figures on a second read");
    assert_eq!(node.log_size(), size, "nothing spent, nothing logged");

    // The CSV has the JSON's figures.
    let csv = node.get(
        "/transparency/report.csv?from=2026-01-01&to=2026-01-31",
        None,
    );
    assert_eq!(csv.status, 200, "{}", csv.text());
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    let text = csv.text();
    assert!(text.starts_with("section,key,value\n"), "{text}");
    for line in text.lines().skip(1) {
        let cells: Vec<&str> = line.splitn(3, ',').collect();
        let (section, key, value) = (cells[0], cells[1], cells[2]);
        let expected: Option<Value> = match section {
            "report" => json.get(key).cloned(),
            "totals" | "by_state" | "by_measure" | "by_channel" | "by_recommendation"
            | "by_decision" | "refusal_grounds" | "emergencies" | "confidentiality" | "notices"
            | "days_to_decision" => json[section].get(key).cloned(),
            "evidence_delivered" => json.get(section).cloned(),
            _ => continue,
        };
        match expected {
            Some(Value::Number(n)) => {
                assert_eq!(value.parse::<f64>().ok(), n.as_f64(), "{section}.{key}")
            }
            Some(Value::String(s)) => assert_eq!(value, s, "{section}.{key}"),
            Some(Value::Bool(b)) => assert_eq!(value, b.to_string(), "{section}.{key}"),
            Some(Value::Null) | None => assert_eq!(value, "", "{section}.{key}"),
            Some(v) => panic!("{section}.{key}: {v} is not a figure"),
        }
    }

    // Exact figures: never public.
    let p = node.get(&format!("{JAN}&exact=true"), None);
    p.problem(403, "exact-needs-auditor", "auditor");
    let proof = xa.proof("GET", "/transparency/report.json");
    node.get(&format!("{JAN}&exact=true"), Some(&proof))
        .problem(403, "people-only", "requesting authority");
    let exact = node.get(&format!("{JAN}&exact=true"), Some(&format!("Bearer {aud}")));
    assert_eq!(exact.status, 200, "{}", exact.text());
    assert_eq!(exact.header("cache-control"), Some("no-store"));
    assert_eq!(exact.json()["exact"], true);
    assert_eq!(exact.json()["epsilon"], Value::Null);
    assert_eq!(exact.json()["totals"]["requests"], 0);
    assert_eq!(node.log_size(), size, "an exact read spends nothing");

    // Bad input: a 400 naming the parameter.
    node.get(
        "/transparency/report.json?from=2026-13-01&to=2026-12-31",
        None,
    )
    .problem(400, "invalid-parameter", "`from`");
    node.get(
        "/transparency/report.json?from=2026-02-01&to=2026-01-01",
        None,
    )
    .problem(400, "invalid-parameter", "`to`");
    node.get("/transparency/report.json?from=2026-01-01", None)
        .problem(400, "invalid-parameter", "`to`");
    node.get(&format!("{JAN}&exact=yes"), None)
        .problem(400, "invalid-parameter", "`exact`");
    // A period still under way.
    node.get(
        "/transparency/report.json?from=2026-01-01&to=2999-12-31",
        None,
    )
    .problem(422, "period-not-ended", "has not ended");

    // The public part of the budget is 3 - 1 = 2: one more report, then refused.
    let feb = node.get(
        "/transparency/report.json?from=2026-02-01&to=2026-02-28",
        None,
    );
    assert_eq!(feb.status, 200, "{}", feb.text());
    node.get(
        "/transparency/report.json?from=2026-03-01&to=2026-03-31",
        None,
    )
    .problem(409, "privacy-budget", "remains");

    // The operator on the node may spend the staff reserve; the opening goes to oversight.
    let opening = node.tmp.path().join("march.opening.json");
    let out = custos_ok(&[
        "report",
        "--dir",
        node.dir_str(),
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-31",
        "--opening",
        opening.to_str().unwrap(),
    ]);
    let march: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(march["exact"], false);
    // The server takes the offline batch in before serving the same figures.
    node.wait_for(10, "the node to serve the offline report", || {
        let r = node.get(
            "/transparency/report.json?from=2026-03-01&to=2026-03-31",
            None,
        );
        r.status == 200 && r.json() == march
    });
    let index = serde_json::from_str::<Value>(&std::fs::read_to_string(&opening).unwrap()).unwrap()
        ["index"]
        .as_u64()
        .unwrap();
    node.wait_for(10, "the offline event in the signed tree", || {
        node.log_size() > index
    });
    let vkey_file = node.dir.join("node.vkey");
    let ok = custos_ok(&[
        "report",
        "verify",
        "--server",
        &node.server(),
        "--vkey",
        vkey_file.to_str().unwrap(),
        opening.to_str().unwrap(),
    ]);
    assert!(ok.starts_with("ok: "), "{ok}");

    // A tampered exact table does not open the logged commitment.
    let mut o: Value = serde_json::from_str(&std::fs::read_to_string(&opening).unwrap()).unwrap();
    o["event"]["table"]["requests"] = Value::from(42);
    let tampered = node.tmp.path().join("tampered.json");
    write_json(&tampered, &o);
    let out = custos(&[
        "report",
        "verify",
        "--server",
        &node.server(),
        "--vkey",
        vkey_file.to_str().unwrap(),
        tampered.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");

    // The exact table offline, CSV and HTML.
    let exact = custos_ok(&[
        "report",
        "--dir",
        node.dir_str(),
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-31",
        "--exact",
        "--format",
        "csv",
    ]);
    assert!(exact.contains("report,exact,true"), "{exact}");
    let html = custos_ok(&[
        "report",
        "--dir",
        node.dir_str(),
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-31",
        "--format",
        "html",
    ]);
    assert!(html.starts_with("<!doctype html>"), "{html}");
    // Beyond the whole budget, the CLI is refused too (exit 2).
    let out = custos(&[
        "report",
        "--dir",
        node.dir_str(),
        "--from",
        "2026-04-01",
        "--to",
        "2026-04-30",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("spent"),
        "{out:?}"
    );

    node.stop();
    custos_ok(&["audit", "--dir", node.dir_str()]);
}
