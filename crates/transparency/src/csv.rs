//! A report as CSV: one row per figure, `section,key,value`, in the JSON's order, so a
//! spreadsheet reads the same numbers as the JSON (a test holds them equal).

use crate::report::Report;

/// The CSV header.
pub const HEADER: [&str; 3] = ["section", "key", "value"];

/// The rows of `report`: (section, key, value).
pub fn rows(report: &Report) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut push = |s: &str, k: &str, v: String| out.push((s.to_owned(), k.to_owned(), v));
    push("report", "format", report.format.clone());
    push("report", "from", report.from.to_string());
    push("report", "to", report.to.to_string());
    push("report", "exact", report.exact.to_string());
    push(
        "report",
        "epsilon",
        report.epsilon.map(|e| e.to_string()).unwrap_or_default(),
    );
    push("totals", "requests", report.totals.requests.to_string());
    for (section, map) in [
        ("by_state", &report.by_state),
        ("by_measure", &report.by_measure),
        ("by_channel", &report.by_channel),
        ("by_recommendation", &report.by_recommendation),
        ("by_decision", &report.by_decision),
        ("refusal_grounds", &report.refusal_grounds),
    ] {
        for (k, v) in map {
            push(section, k, v.to_string());
        }
    }
    let e = &report.emergencies;
    push("emergencies", "claimed", e.claimed.to_string());
    push("emergencies", "verified", e.verified.to_string());
    push(
        "emergencies",
        "verification_failed",
        e.verification_failed.to_string(),
    );
    let c = &report.confidentiality;
    push("confidentiality", "requested", c.requested.to_string());
    push("confidentiality", "narrowed", c.narrowed.to_string());
    let n = &report.notices;
    push("notices", "due", n.due.to_string());
    push("notices", "sent", n.sent.to_string());
    push("notices", "failed", n.failed.to_string());
    let d = &report.days_to_decision;
    let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    push("days_to_decision", "median", opt(d.median));
    push("days_to_decision", "p90", opt(d.p90));
    push(
        "evidence_delivered",
        "cases",
        report.evidence_delivered.to_string(),
    );
    push("method", "mechanism", report.method.mechanism.clone());
    for (k, v) in &report.method.noise_scale {
        push("method.noise_scale", k, v.to_string());
    }
    for (k, v) in &report.method.margin_95 {
        push("method.margin_95", k, v.to_string());
    }
    push(
        "method",
        "unit_of_privacy",
        report.method.unit_of_privacy.clone(),
    );
    push("method", "period_basis", report.method.period_basis.clone());
    out
}

/// The report as CSV text (RFC 4180, with a header row).
pub fn to_csv(report: &Report) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing to memory cannot fail but for a bug; a row lost would show in the tests.
    let _ = w.write_record(HEADER);
    for (s, k, v) in rows(report) {
        let _ = w.write_record([s, k, v]);
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::exact;
    use crate::report::Period;
    use crate::table::Table;
    use std::collections::BTreeMap;

    #[test]
    fn csv_matches_json() {
        let table = Table {
            requests: 4,
            by_state: BTreeMap::from([("DE".into(), 3), ("FR".into(), 1)]),
            refusal_grounds: BTreeMap::from([("death-penalty".into(), 1)]),
            notices_due: 2,
            days_to_decision: BTreeMap::from([(3, 2)]),
            ..Table::default()
        };
        let report = exact(Period::parse("2026-01-01", "2026-01-31").unwrap(), &table);
        let json = serde_json::to_value(&report).unwrap();
        let text = to_csv(&report);
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let mut n = 0;
        for row in r.records() {
            let row = row.unwrap();
            let (section, key, value) = (&row[0], &row[1], &row[2]);
            let at = if section == "report" {
                json[key].clone()
            } else if let Some(m) = section.strip_prefix("method.") {
                json["method"][m][key].clone()
            } else if section == "evidence_delivered" {
                json["evidence_delivered"].clone()
            } else {
                json[section][key].clone()
            };
            let expected = match at {
                serde_json::Value::String(s) => s,
                serde_json::Value::Null => String::new(),
                v => v.to_string(),
            };
            assert_eq!(value, expected, "{section}.{key}");
            n += 1;
        }
        assert!(n > 20);
        assert!(text.starts_with("section,key,value\n"));
    }
}
