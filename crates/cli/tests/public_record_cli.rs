//! The public record of each case (issue 14, part 3) through a real `custos serve`: a case
//! carrying distinctive planted values (a target, a person, an agency reference, a request id,
//! free text, a reviewer's name, an internal note) is carried to publication, then EVERY public
//! output of the node is fetched and searched for them; none may appear. Then
//! `custos log check-record` passes on the real record and fails (exit 2) on tampered ones, and
//! `custos audit` passes on a log with a publication.

use serde_json::{Value, json};

use crate::common::{TestNode, custos, custos_ok, http, request, write_json};

/// Values no public output may carry, each distinctive enough to be found anywhere.
const PLANTED: [&str; 9] = [
    "planted-target-q7x9@mail.example", // target identifier
    "Ophelia Quuxington",               // a person (the judge who authorized)
    "PLANTED-AGENCY-REF-4417",          // agency reference
    "PLANTED-REQ-ID-5521",              // the requester's id
    "xylophone-planted-fact",           // facts
    "Plantedoffence Kumquatname",       // an offence's name
    "zebulon-planted-reviewer",         // staff name
    "Planted reason marmalade",         // the decision's reason
    "Planted internal note persimmon",  // internal note
];

/// The public paths searched besides each record. Paths other helpers add (`/log`,
/// `/transparency`, the reports) are searched whatever they answer; add a URL here in one line.
const PUBLIC: &[&str] = &[
    "/transparency/cases",
    "/transparency/cases.json",
    "/log/checkpoint",
    "/v1/log/verifier",
    "/log",
    "/transparency",
    "/transparency/report.json?from=2000-01-01&to=2100-12-31",
    "/transparency/report.csv?from=2000-01-01&to=2100-12-31",
];

const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

fn planted_request(id: &str, state: &str) -> Value {
    let mut r = request("p01-ransomware-production", id, state);
    r["targets"][0]["value"] = PLANTED[0].into();
    r["authorization"]["issued_by"] = format!("Judge {}", PLANTED[1]).into();
    r["investigation"]["reference"] = PLANTED[2].into();
    r["investigation"]["summary_of_facts"] =
        format!("The attack, {}, hit three hospitals.", PLANTED[4]).into();
    r["investigation"]["offences"][0]["name"] = PLANTED[5].into();
    r
}

/// Every place in `body` a planted value appears.
fn leaks(what: &str, body: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(body).to_lowercase();
    PLANTED
        .iter()
        .filter(|p| text.contains(&p.to_lowercase()))
        .map(|p| format!("{what} carries {p:?}"))
        .collect()
}

#[test]
fn no_public_output_carries_a_planted_value_and_check_record_verifies_the_record() {
    let mut node = TestNode::init();
    node.configure("lifecycle", "scheduler_interval_seconds = 1");
    node.start();
    let a = node.authority("XA", "mla");
    let token = node.user(PLANTED[6], "reviewer");
    // Nothing published yet: an empty list, not an error.
    let empty = node.get("/transparency/cases", None);
    assert_eq!(empty.status, 200, "{}", empty.text());
    assert_eq!(empty.json()["records"], json!([]));
    assert_eq!(empty.json()["total"], 0);

    let c = node.submit_jws(&a.sign(&planted_request(PLANTED[3], "XA")));
    assert_eq!(c.status, 201, "{}", c.text());
    let case = c.json()["case"].as_i64().unwrap();
    let d = node.post_json(
        &format!("/v1/requests/{case}/decision"),
        &token,
        &json!({"decision": "execute", "reason": format!("{}: the request meets every safeguard.", PLANTED[7]),
                "internal_note": PLANTED[8]}),
    );
    assert_eq!(d.status, 200, "{}", d.text());
    for step in ["delivered", "closed"] {
        let r = node.post_json(&format!("/v1/requests/{case}/{step}"), &token, &json!({}));
        assert_eq!(r.status, 200, "{step}: {}", r.text());
    }
    // The scheduler publishes it at its next pass.
    node.wait_for(20, "the record's publication", || {
        let r = node.get(&format!("/transparency/cases/{case}.json"), None);
        r.status == 200
    });

    let mut found = Vec::new();
    let mut fetched = 0;
    let mut search = |path: &str, accept: Option<&str>| {
        let h: Vec<(&str, &str)> = accept.map(|a| ("accept", a)).into_iter().collect();
        let r = http(node.port, "GET", path, &h, b"");
        found.extend(leaks(&format!("GET {path} ({accept:?})"), &r.body));
        fetched += 1;
        r
    };
    for path in PUBLIC {
        search(path, None);
        search(path, Some(BROWSER));
    }
    let list = search("/transparency/cases", None);
    assert_eq!(list.status, 200);
    assert!(
        list.header("content-type")
            .unwrap()
            .starts_with("application/json"),
        "{:?}",
        list.headers
    );
    let list = list.json();
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["records"][0]["record"]["case"], case);
    let html = search("/transparency/cases", Some(BROWSER));
    assert!(
        html.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(html.text().contains(&format!("/transparency/cases/{case}")));
    assert!(
        html.header("content-security-policy").is_some(),
        "the console's security headers"
    );
    for path in [
        format!("/transparency/cases/{case}"),
        format!("/transparency/cases/{case}.json"),
    ] {
        search(&path, None);
        let page = search(&path, Some(BROWSER));
        assert_eq!(page.status, 200, "{path}: {}", page.text());
    }
    let record = search(&format!("/transparency/cases/{case}.json"), Some(BROWSER)).json();
    assert_eq!(record["record"]["case"], case);
    assert_eq!(record["record"]["requesting_state"], "XA");
    assert_eq!(record["record"]["decision"], "execute");
    // The log: every tile and entry bundle, every inclusion proof.
    let size = node.log_size();
    assert!(size < 256, "one partial tile covers the log ({size})");
    search(&format!("/log/tile/0/000.p/{size}"), None);
    search(&format!("/log/tile/entries/000.p/{size}"), None);
    for i in 0..size {
        search(&format!("/v1/log/inclusion?index={i}"), None);
    }
    assert!(fetched > 20);
    // The search does find them where they belong: in the staff's record of the case.
    let staff = node.get(
        &format!("/v1/requests/{case}"),
        Some(&format!("Bearer {token}")),
    );
    assert!(leaks("staff", &staff.body).len() >= 4, "{}", staff.text());
    assert!(found.is_empty(), "{}", found.join("\n"));

    // check-record: the real record passes, fetched or from a file.
    let server = node.server();
    let out = custos_ok(&[
        "log",
        "check-record",
        "--server",
        &server,
        "--vkey",
        &node.vkey,
        "--case",
        &case.to_string(),
    ]);
    assert!(
        out.starts_with(&format!("ok: the public record of case {case}")),
        "{out}"
    );
    let file = node.tmp.path().join("record.json");
    write_json(&file, &record);
    // The log grows after the record was saved: checked through a consistency proof.
    let later = node.submit_jws(&a.sign(&request("p01-ransomware-production", "XA-LATER", "XA")));
    assert_eq!(later.status, 201, "{}", later.text());
    let grown = node.log_size();
    assert!(grown > size);
    let out = custos_ok(&[
        "log",
        "check-record",
        "--server",
        &server,
        "--vkey",
        &node.vkey,
        file.to_str().unwrap(),
    ]);
    assert!(
        out.contains(&format!("size {size} signed by"))
            && out.contains(&format!("current checkpoint of size {grown}")),
        "{out}"
    );
    // Tampered: the record shown alone, the record and its event together, a proof.
    let mut shown = record.clone();
    shown["record"]["requesting_state"] = "ZZ".into();
    let mut both = shown.clone();
    both["publication"]["event"]["record"]["requesting_state"] = "ZZ".into();
    let mut proof = record.clone();
    proof["proofs"][0]["index"] = json!(record["proofs"][1]["index"]);
    let mut key = record.clone();
    key["checkpoint"] = record["checkpoint"]
        .as_str()
        .unwrap()
        .replacen(&format!("\n{size}\n"), &format!("\n{}\n", size + 1), 1)
        .into();
    for (tampered, says) in [
        (shown, "NOT the record the publication event commits to"),
        (both, "does NOT match leaf"),
        (proof, "the proof of event"),
        (key, "the checkpoint does not verify"),
    ] {
        write_json(&file, &tampered);
        let out = custos(&[
            "log",
            "check-record",
            "--server",
            &server,
            "--vkey",
            &node.vkey,
            file.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{says}: {stderr}");
        assert!(stderr.contains(says), "{says}: {stderr}");
    }
    let missing = custos(&[
        "log",
        "check-record",
        "--server",
        &server,
        "--vkey",
        &node.vkey,
        "--case",
        "999",
    ]);
    assert_eq!(missing.status.code(), Some(2));
    node.stop();
    let audit = custos_ok(&["audit", "--dir", node.dir_str()]);
    assert!(!audit.contains("FINDING"), "{audit}");
}
