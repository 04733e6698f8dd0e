//! Evidence custody through the real binary over real HTTP: `custos evidence seal` on the node,
//! `custos fetch` by the requesting authority (signed requests, checked against the log), the
//! stock `age` opening what was fetched, and every refusal.

use std::process::Command;

use crate::common::{TestNode, custos, custos_ok, request};
use serde_json::{Value, json};

/// Registers an authority with an age recipient (made by the stock `age-keygen`); returns
/// (key file, age identity file).
fn authority_with_recipient(node: &TestNode, state: &str) -> (String, String) {
    let tmp = node.tmp.path();
    let key = tmp.join(format!("{state}.jwk"));
    let identity = tmp.join(format!("{state}.agekey"));
    custos_ok(&["authority", "keygen", "-o", key.to_str().unwrap()]);
    let out = Command::new("age-keygen")
        .arg("-o")
        .arg(&identity)
        .output()
        .expect("age-keygen (Debian package age, installed by scripts/setup) runs");
    assert!(out.status.success());
    let recipient = String::from_utf8(
        Command::new("age-keygen")
            .arg("-y")
            .arg(&identity)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    custos_ok(&[
        "authority",
        "add",
        "--dir",
        node.dir_str(),
        "--state",
        state,
        "--name",
        &format!("CA {state}"),
        "--kind",
        "central_authority",
        "--jwk",
        key.with_extension("pub.jwk").to_str().unwrap(),
        "--channels",
        "mla,network_24_7,direct",
        "--age-recipient",
        recipient.trim(),
    ]);
    (
        key.to_str().unwrap().to_owned(),
        identity.to_str().unwrap().to_owned(),
    )
}

/// The test's handle on an authority whose key file is at `key` (for signed reads).
fn authority_from(key: &str, state: &str) -> crate::common::Authority {
    crate::common::Authority {
        key: custos_jose::PrivateJwk::parse(&std::fs::read_to_string(key).unwrap()).unwrap(),
        kid: String::new(),
        key_path: key.into(),
        state: state.into(),
    }
}

/// A proof with the given `iat` and `jti` (`None`: no `jti` claim).
fn proof_with(a: &crate::common::Authority, path: &str, iat: i64, jti: Option<&str>) -> String {
    let mut claims = json!({"htm": "GET", "htu": path, "iat": iat});
    if let Some(jti) = jti {
        claims["jti"] = jti.into();
    }
    format!(
        "Custos-JWS {}",
        custos_jose::sign_compact(&serde_json::to_vec(&claims).unwrap(), &a.key, None)
    )
}

/// A single-use proof (fresh `jti`), as evidence downloads need.
fn download_proof(a: &crate::common::Authority, path: &str) -> String {
    let jti = custos_service::auth::new_proof_nonce();
    proof_with(a, path, jiff::Timestamp::now().as_second(), Some(&jti))
}

fn submit(node: &TestNode, key: &str, id: &str, state: &str) -> i64 {
    let req = node.tmp.path().join(format!("{id}.json"));
    crate::common::write_json(&req, &request("example", id, state));
    let out: Value = serde_json::from_str(&custos_ok(&[
        "submit",
        "--server",
        &node.server(),
        "--key",
        key,
        req.to_str().unwrap(),
    ]))
    .unwrap();
    out["case"].as_i64().unwrap()
}

fn events(node: &TestNode, case: i64, token: &str) -> Vec<String> {
    let r = node.get(
        &format!("/v1/requests/{case}/events"),
        Some(&format!("Bearer {token}")),
    );
    r.json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn evidence_is_sealed_for_the_authority_fetched_verified_and_logged() {
    let mut node = TestNode::init();
    node.start();
    let (key, identity) = authority_with_recipient(&node, "XA");
    let (other_key, _) = authority_with_recipient(&node, "XB");
    let reviewer = node.user("rita", "reviewer");
    let case = submit(&node, &key, "XA-EVIDENCE-1", "XA");
    let evidence = node.tmp.path().join("subscriber.csv");
    std::fs::write(&evidence, "account,created\nexample,2025-01-01\n").unwrap();
    let dir = node.dir_str().to_owned();

    // Nothing is sealed for a request not decided for execution.
    let out = custos(&[
        "evidence",
        "seal",
        "--dir",
        &dir,
        "--case",
        &case.to_string(),
        evidence.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("decided for execution"),
        "{out:?}"
    );

    let r = node.post_json(
        &format!("/v1/requests/{case}/decision"),
        &reviewer,
        &json!({"decision": "execute", "reason": "Lawful and proportionate."}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let sealed: Value = serde_json::from_str(&custos_ok(&[
        "evidence",
        "seal",
        "--dir",
        &dir,
        "--case",
        &case.to_string(),
        evidence.to_str().unwrap(),
    ]))
    .unwrap();
    let sha = sealed["package_blake3"].as_str().unwrap().to_owned();
    assert!(
        node.dir
            .join("evidence")
            .join(format!("{sha}.age"))
            .exists()
    );

    // Only the requesting authority, by signed request, gets the package.
    let download = format!("/v1/requests/{case}/evidence/{sha}");
    node.get(&download, Some(&format!("Bearer {reviewer}")))
        .problem(403, "authority-only", "requesting authority");
    let other = authority_from(other_key.as_ref(), "XB");
    node.get(&download, Some(&download_proof(&other, &download)))
        .problem(404, "not-found", "visible");
    let list = format!("/v1/requests/{case}/evidence");
    node.get(&list, Some(&other.proof("GET", &list)))
        .problem(404, "not-found", "visible");

    // The authority fetches; custos fetch checks the package against the signed log.
    let got = node.tmp.path().join("got");
    let mut fetched = None;
    node.wait_for(5, "the sealing event to be in a signed checkpoint", || {
        let out = custos(&[
            "fetch",
            "--server",
            &node.server(),
            "--key",
            &key,
            "--vkey",
            &node.vkey,
            "--case",
            &case.to_string(),
            "-o",
            got.to_str().unwrap(),
        ]);
        let ok = out.status.success();
        if ok {
            fetched = Some(String::from_utf8(out.stdout).unwrap());
        }
        ok
    });
    let fetched: Value = serde_json::from_str(&fetched.unwrap()).unwrap();
    assert_eq!(fetched["verified_against_log"], true);
    // Executed in full and sealed without --target: the package covers the request's target.
    assert_eq!(
        fetched["packages"][0]["targets"],
        json!(["decryptor-support@mail.example"])
    );
    let package = got.join(format!("{sha}.age"));
    // The stock age tool opens it, and the tar holds the file and the signed manifest.
    let plain = node.tmp.path().join("plain.tar");
    let out = Command::new("age")
        .args([
            "-d",
            "-i",
            &identity,
            "-o",
            plain.to_str().unwrap(),
            package.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let listing = String::from_utf8(
        Command::new("tar")
            .arg("tf")
            .arg(&plain)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(
        listing.lines().collect::<Vec<_>>(),
        ["subscriber.csv", "manifest.json", "manifest.sig"]
    );
    // And custos unseal verifies the manifest signature with the node's verifier key.
    let opened = node.tmp.path().join("opened");
    custos_ok(&[
        "unseal",
        "--identity",
        &identity,
        "--verifier",
        &node.vkey,
        "-o",
        opened.to_str().unwrap(),
        package.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read(opened.join("subscriber.csv")).unwrap(),
        std::fs::read(&evidence).unwrap()
    );

    // Custody is in the log, and the case moved to delivered.
    let types = events(&node, case, &reviewer);
    assert!(
        types.ends_with(&[
            "evidence.sealed".to_owned(),
            "evidence.delivered".to_owned()
        ]),
        "{types:?}"
    );
    let c = node
        .get(
            &format!("/v1/requests/{case}"),
            Some(&format!("Bearer {reviewer}")),
        )
        .json();
    assert_eq!(c["status"], "delivered");

    // A package altered on the node's disk is refused by the authority's fetch, and not kept.
    let stored = node.dir.join("evidence").join(format!("{sha}.age"));
    let mut bytes = std::fs::read(&stored).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&stored, bytes).unwrap();
    let again = node.tmp.path().join("again");
    let out = custos(&[
        "fetch",
        "--server",
        &node.server(),
        "--key",
        &key,
        "--vkey",
        &node.vkey,
        "--case",
        &case.to_string(),
        "-o",
        again.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not the package the log records"),
        "{out:?}"
    );
    assert!(!again.join(format!("{sha}.age")).exists());

    // A wrong verifier key: the log cannot be checked, so nothing is accepted.
    let other_node = TestNode::init();
    let out = custos(&[
        "fetch",
        "--server",
        &node.server(),
        "--key",
        &key,
        "--vkey",
        &other_node.vkey,
        "--case",
        &case.to_string(),
        "-o",
        again.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("checkpoint does not verify"),
        "{out:?}"
    );

    // The API description covers the evidence endpoints.
    let api = node.get("/openapi.json", None).json();
    assert!(
        api["paths"]["/v1/requests/{case}/evidence/{digest}"]["get"].is_object(),
        "{api}"
    );
    assert!(api["paths"]["/v1/requests/{case}/evidence"]["get"].is_object());

    node.stop();
    // The audit hashes every package in custody: the one altered above is named.
    let audit = custos(&["audit", "--dir", &dir]);
    let said = String::from_utf8_lossy(&audit.stdout);
    assert_eq!(audit.status.code(), Some(3), "{said}");
    assert!(
        said.contains(&format!("package {sha} of case {case}")),
        "{said}"
    );
    assert!(said.contains("altered or replaced"), "{said}");
    assert_eq!(said.lines().count(), 1, "nothing else is found: {said}");
}

#[test]
fn an_authority_without_an_age_recipient_gets_no_evidence_sealed() {
    let mut node = TestNode::init();
    node.start();
    let a = node.authority("XA", "mla,network_24_7,direct");
    let reviewer = node.user("rita", "reviewer");
    let case = submit(&node, a.key_path.to_str().unwrap(), "XA-NO-RECIPIENT", "XA");
    let r = node.post_json(
        &format!("/v1/requests/{case}/decision"),
        &reviewer,
        &json!({"decision": "execute", "reason": "Lawful and proportionate."}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let f = node.tmp.path().join("f.txt");
    std::fs::write(&f, "x").unwrap();
    let out = custos(&[
        "evidence",
        "seal",
        "--dir",
        node.dir_str(),
        "--case",
        &case.to_string(),
        f.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no age recipient"),
        "{out:?}"
    );
    assert!(
        !node.dir.join("evidence").exists()
            || std::fs::read_dir(node.dir.join("evidence"))
                .unwrap()
                .count()
                == 0
    );
}

#[test]
fn changes_made_by_the_cli_while_no_node_runs_are_signed_at_once() {
    // No node is running: the CLI's own write must still be covered by a signed checkpoint, so
    // that removing it afterwards is caught by the audit.
    let node = TestNode::init();
    let key = node.tmp.path().join("k.jwk");
    custos_ok(&["authority", "keygen", "-o", key.to_str().unwrap()]);
    custos_ok(&[
        "authority",
        "add",
        "--dir",
        node.dir_str(),
        "--state",
        "XA",
        "--name",
        "CA XA",
        "--kind",
        "central_authority",
        "--jwk",
        key.with_extension("pub.jwk").to_str().unwrap(),
    ]);
    let clean = custos(&["audit", "--dir", node.dir_str(), "--json"]);
    let report: Value = serde_json::from_slice(&clean.stdout).unwrap();
    assert_eq!(report["events"], 1);
    assert_eq!(report["checkpoints"], 1, "{report}");
    let db = node.dir.join("custos.db");
    let out = Command::new("sqlite3")
        .arg(&db)
        .arg("DELETE FROM events WHERE seq = 0")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let tampered = custos(&["audit", "--dir", node.dir_str()]);
    assert_eq!(tampered.status.code(), Some(3), "{tampered:?}");
    assert!(
        String::from_utf8_lossy(&tampered.stdout).contains("events were removed"),
        "{tampered:?}"
    );
}

#[test]
fn a_package_is_destroyed_when_its_retention_ends_and_the_log_says_so() {
    let mut node = TestNode::init();
    node.configure(
        "lifecycle",
        "scheduler_interval_seconds = 1\nevidence_retention_days = 0",
    );
    node.start();
    let (key, _) = authority_with_recipient(&node, "XA");
    let reviewer = node.user("rita", "reviewer");
    let case = submit(&node, &key, "XA-RETENTION", "XA");
    let r = node.post_json(
        &format!("/v1/requests/{case}/decision"),
        &reviewer,
        &json!({"decision": "execute", "reason": "Lawful and proportionate."}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let sealed = seal_file(&node, case, "traffic.csv", "a,b\n");
    let sha = sealed["package_blake3"].as_str().unwrap().to_owned();
    let stored = node.dir.join("evidence").join(format!("{sha}.age"));
    // Not delivered yet: retention has not started, the package stays.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert!(
        stored.exists(),
        "an undelivered package must not be destroyed"
    );

    let got = node.tmp.path().join("got");
    node.wait_for(5, "the fetch", || {
        fetch(&node, &key, case, &got).status.success()
    });
    node.wait_for(10, "the package to be destroyed", || !stored.exists());
    let types = events(&node, case, &reviewer);
    assert!(
        types.ends_with(&[
            "evidence.delivered".to_owned(),
            "evidence.destroyed".to_owned()
        ]),
        "{types:?}"
    );
    let list = node
        .get(
            &format!("/v1/requests/{case}/evidence"),
            Some(&format!("Bearer {reviewer}")),
        )
        .json();
    assert_eq!(list["packages"][0]["destroyed"], true);
    // A destroyed package is not handed over again.
    let out = fetch(&node, &key, case, &node.tmp.path().join("again"));
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    node.stop();
    custos_ok(&["audit", "--dir", node.dir_str()]);
}

#[test]
fn a_package_sealed_elsewhere_is_uploaded_logged_and_handed_over() {
    let mut node = TestNode::init();
    node.configure(
        "lifecycle",
        "evidence_max_upload_bytes = 65536\nscheduler_interval_seconds = 3600",
    );
    node.start();
    let (key, identity) = authority_with_recipient(&node, "XA");
    let reviewer = node.user("rita", "reviewer");
    let auditor = node.user("audra", "auditor");
    let case = submit(&node, &key, "XA-UPLOAD-1", "XA");
    let recipient = node
        .get("/v1/authorities", Some(&format!("Bearer {reviewer}")))
        .json()[0]["age_recipient"]
        .as_str()
        .unwrap()
        .to_owned();

    // The production system seals with its own key (here: another node's), to the authority.
    let producer = TestNode::init();
    let data = node.tmp.path().join("traffic.csv");
    std::fs::write(&data, "time,src,dst\n2026-01-01T00:00:00Z,a,b\n").unwrap();
    let pkg = node.tmp.path().join("pkg.age");
    let report: Value = serde_json::from_str(&custos_ok(&[
        "seal",
        "--request",
        "XA-UPLOAD-1",
        "--recipient",
        &recipient,
        "--key",
        producer.dir.join("node.key").to_str().unwrap(),
        "--json",
        "-o",
        pkg.to_str().unwrap(),
        data.to_str().unwrap(),
    ]))
    .unwrap();
    let bytes = std::fs::read(&pkg).unwrap();
    let path = format!("/v1/requests/{case}/evidence");
    let upload = |token: &str, body: &[u8], manifest: &str, signer: &str, ty: &str| {
        crate::common::http(
            node.port,
            "POST",
            &path,
            &[
                ("authorization", &format!("Bearer {token}")),
                ("content-type", ty),
                ("custos-manifest-sha256", manifest),
                ("custos-manifest-signer", signer),
            ],
            body,
        )
    };
    let manifest = report["manifest_sha256"].as_str().unwrap();
    let signer = report["signer"].as_str().unwrap();
    let octets = "application/octet-stream";

    // Refusals, each saying what is wrong; none leaves a file or an event behind.
    upload(&reviewer, &bytes, manifest, signer, octets).problem(
        409,
        "not-executed",
        "decided for execution",
    );
    let r = node.post_json(
        &format!("/v1/requests/{case}/decision"),
        &reviewer,
        &json!({"decision": "execute", "reason": "Lawful and proportionate."}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    upload(&auditor, &bytes, manifest, signer, octets).problem(403, "read-only", "auditor");
    upload(&reviewer, &bytes, "abc", signer, octets).problem(
        400,
        "manifest-digest",
        "manifest_sha256",
    );
    upload(&reviewer, &bytes, manifest, "not a key", octets).problem(
        400,
        "manifest-signer",
        "verifier key",
    );
    upload(&reviewer, &bytes, manifest, signer, "text/plain").problem(
        415,
        "media-type",
        "octet-stream",
    );
    upload(
        &reviewer,
        b"just some text, not age",
        manifest,
        signer,
        octets,
    )
    .problem(422, "not-a-package", "not an age file");
    upload(&reviewer, &vec![b'x'; 70_000], manifest, signer, octets).problem(
        413,
        "too-large",
        "65536 bytes",
    );
    // Passphrase-encrypted age files are refused: anyone told the passphrase could open them.
    let mut pw = Vec::new();
    {
        use std::io::Write as _;
        let enc = age::Encryptor::with_user_passphrase(age::secrecy::SecretString::from(
            "a passphrase".to_owned(),
        ));
        let mut w = enc.wrap_output(&mut pw).unwrap();
        w.write_all(b"evidence").unwrap();
        w.finish().unwrap();
    }
    upload(&reviewer, &pw, manifest, signer, octets).problem(422, "not-a-package", "passphrase");
    let evidence_dir = node.dir.join("evidence");
    let leftovers = || {
        std::fs::read_dir(&evidence_dir)
            .map(|d| d.count())
            .unwrap_or(0)
    };
    assert_eq!(leftovers(), 0, "refused uploads leave no file");
    assert!(!events(&node, case, &reviewer).contains(&"evidence.sealed".to_owned()));

    // Accepted: stored under its digest, logged with what the uploader declared.
    let r = upload(&reviewer, &bytes, manifest, signer, octets);
    assert_eq!(r.status, 201, "{}", r.text());
    let got = r.json();
    assert_eq!(got["package_blake3"], report["package_blake3"]);
    assert_eq!(got["size"].as_u64(), Some(bytes.len() as u64));
    assert_eq!(got["recipient"], recipient.as_str());
    let sha = got["package_blake3"].as_str().unwrap().to_owned();
    assert_eq!(
        std::fs::read(evidence_dir.join(format!("{sha}.age"))).unwrap(),
        bytes
    );
    assert_eq!(leftovers(), 1);
    upload(&reviewer, &bytes, manifest, signer, octets).problem(
        409,
        "evidence-exists",
        "already recorded",
    );
    assert_eq!(leftovers(), 1, "a repeated upload keeps the one file");

    // The authority fetches it against the log and opens it with the producer's verifier key.
    let out_dir = node.tmp.path().join("got");
    node.wait_for(5, "the sealing event in a signed checkpoint", || {
        custos(&[
            "fetch",
            "--server",
            &node.server(),
            "--key",
            &key,
            "--vkey",
            &node.vkey,
            "--case",
            &case.to_string(),
            "-o",
            out_dir.to_str().unwrap(),
        ])
        .status
        .success()
    });
    let opened = node.tmp.path().join("opened");
    custos_ok(&[
        "unseal",
        "--identity",
        &identity,
        "--verifier",
        &producer.vkey,
        "--request",
        "XA-UPLOAD-1",
        "-o",
        opened.to_str().unwrap(),
        out_dir.join(format!("{sha}.age")).to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read(opened.join("traffic.csv")).unwrap(),
        std::fs::read(&data).unwrap()
    );
    let types = events(&node, case, &reviewer);
    assert!(
        types.ends_with(&[
            "evidence.sealed".to_owned(),
            "evidence.delivered".to_owned()
        ]),
        "{types:?}"
    );
    assert!(
        node.get("/openapi.json", None).json()["paths"]["/v1/requests/{case}/evidence"]["post"]
            .is_object()
    );
}

/// A case decided for execution, for an authority with an age recipient.
struct Executed {
    key: String,
    reviewer: String,
    case: i64,
    recipient: String,
}

fn executed_case(node: &TestNode, id: &str) -> Executed {
    let (key, _) = authority_with_recipient(node, "XA");
    let reviewer = node.user("rita", "reviewer");
    let case = submit(node, &key, id, "XA");
    let r = node.post_json(
        &format!("/v1/requests/{case}/decision"),
        &reviewer,
        &json!({"decision": "execute", "reason": "Lawful and proportionate."}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let recipient = node
        .get("/v1/authorities", Some(&format!("Bearer {reviewer}")))
        .json()[0]["age_recipient"]
        .as_str()
        .unwrap()
        .to_owned();
    Executed {
        key,
        reviewer,
        case,
        recipient,
    }
}

/// An age file of `plaintext` for the X25519 `recipient` (made in-process: fast).
fn age_package(recipient: &str, plaintext: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let r: age::x25519::Recipient = recipient.parse().unwrap();
    let enc = age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient)).unwrap();
    let mut out = Vec::new();
    let mut w = enc.wrap_output(&mut out).unwrap();
    w.write_all(plaintext).unwrap();
    w.finish().unwrap();
    out
}

/// POSTs `body` as a package for `case`.
fn upload(node: &TestNode, token: &str, case: i64, body: &[u8]) -> crate::common::Resp {
    crate::common::http(
        node.port,
        "POST",
        &format!("/v1/requests/{case}/evidence"),
        &[
            ("authorization", &format!("Bearer {token}")),
            ("content-type", "application/octet-stream"),
            ("custos-manifest-sha256", &"ab".repeat(32)),
            ("custos-manifest-signer", &node.vkey),
        ],
        body,
    )
}

/// How a node names a package it takes in (format v2): the BLAKE3 of its bytes.
fn package_digest(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

fn count_events(node: &TestNode, case: i64, token: &str, kind: &str) -> usize {
    events(node, case, token)
        .iter()
        .filter(|t| t.as_str() == kind)
        .count()
}

#[test]
fn concurrent_uploads_of_one_package_keep_exactly_one_file_in_custody() {
    let mut node = TestNode::init();
    node.configure("lifecycle", "scheduler_interval_seconds = 3600");
    node.start();
    let x = executed_case(&node, "XA-RACE-1");
    let authority = authority_from(&x.key, "XA");
    let evidence_dir = node.dir.join("evidence");
    const ROUNDS: usize = 10;
    const UPLOADERS: usize = 6;
    for round in 0..ROUNDS {
        // Large enough that the uploads' bodies overlap in time.
        let plaintext = format!("round {round}\n").repeat(20_000);
        let package = age_package(&x.recipient, plaintext.as_bytes());
        let sha = package_digest(&package);
        let barrier = std::sync::Barrier::new(UPLOADERS);
        let answers: Vec<crate::common::Resp> = std::thread::scope(|s| {
            let uploads: Vec<_> = (0..UPLOADERS)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        upload(&node, &x.reviewer, x.case, &package)
                    })
                })
                .collect();
            uploads.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let created = answers.iter().filter(|r| r.status == 201).count();
        assert_eq!(created, 1, "round {round}: {answers:?}");
        for r in answers.iter().filter(|r| r.status != 201) {
            r.problem(409, "evidence-exists", "already recorded");
        }
        // The listing shows the package, and its file is there, byte for byte.
        let list = node
            .get(
                &format!("/v1/requests/{}/evidence", x.case),
                Some(&format!("Bearer {}", x.reviewer)),
            )
            .json();
        let listed = list["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["package_blake3"] == sha.as_str())
            .unwrap_or_else(|| panic!("round {round}: {sha} not listed: {list}"));
        assert_eq!(listed["destroyed"], false);
        let stored = std::fs::read(evidence_dir.join(format!("{sha}.age")))
            .unwrap_or_else(|e| panic!("round {round}: the recorded package's file: {e}"));
        assert!(stored == package, "round {round}: the file was altered");
        // The authority's download hands over exactly that package.
        let download = format!("/v1/requests/{}/evidence/{sha}", x.case);
        let got = node.get(&download, Some(&download_proof(&authority, &download)));
        assert_eq!(got.status, 200, "round {round}: {}", got.text());
        assert_eq!(package_digest(&got.body), sha, "round {round}");
    }
    // One file per package, and no refused upload's temporary file is left behind.
    let mut names: Vec<String> = std::fs::read_dir(&evidence_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names.len(), ROUNDS, "{names:?}");
    assert!(
        names.iter().all(|n| n.ends_with(".age") && n.len() == 68),
        "{names:?}"
    );
    assert_eq!(
        count_events(&node, x.case, &x.reviewer, "evidence.sealed"),
        ROUNDS
    );
}

#[test]
fn a_replayed_download_proof_is_refused_and_logs_no_second_hand_over() {
    let mut node = TestNode::init();
    node.configure("lifecycle", "scheduler_interval_seconds = 3600");
    node.start();
    let x = executed_case(&node, "XA-REPLAY-1");
    let authority = authority_from(&x.key, "XA");
    let package = age_package(&x.recipient, b"subscriber records");
    let r = upload(&node, &x.reviewer, x.case, &package);
    assert_eq!(r.status, 201, "{}", r.text());
    let sha = package_digest(&package);
    let download = format!("/v1/requests/{}/evidence/{sha}", x.case);
    let delivered = |node: &TestNode| count_events(node, x.case, &x.reviewer, "evidence.delivered");

    // A download proof must carry a nonce.
    node.get(
        &download,
        Some(&proof_with(
            &authority,
            &download,
            jiff::Timestamp::now().as_second(),
            None,
        )),
    )
    .problem(401, "bad-proof", "jti");
    assert_eq!(delivered(&node), 0);

    // One proof, one hand-over.
    let jti = custos_service::auth::new_proof_nonce();
    let iat = jiff::Timestamp::now().as_second();
    let captured = proof_with(&authority, &download, iat, Some(&jti));
    let first = node.get(&download, Some(&captured));
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(package_digest(&first.body), sha);
    node.get(&download, Some(&captured))
        .problem(401, "replayed-proof", "already used");
    assert_eq!(
        delivered(&node),
        1,
        "a replay must not log another hand-over"
    );

    // The seen nonces live in memory: after a restart, proofs made before it are refused.
    node.stop();
    node.wait_for(2, "the clock to pass the proof's second", || {
        jiff::Timestamp::now().as_second() > iat
    });
    node.start();
    node.get(&download, Some(&captured))
        .problem(401, "stale-proof", "before the node started");
    assert_eq!(delivered(&node), 1);

    // custos fetch signs a fresh proof per request, so it keeps working.
    let out_dir = node.tmp.path().join("got");
    custos_ok(&[
        "fetch",
        "--server",
        &node.server(),
        "--key",
        &x.key,
        "--vkey",
        &node.vkey,
        "--case",
        &x.case.to_string(),
        "-o",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read(out_dir.join(format!("{sha}.age"))).unwrap(),
        package
    );
    assert_eq!(delivered(&node), 2);
}

/// Age files for an ssh-ed25519 recipient, and for it beside the authority's X25519 recipient:
/// made with the stock `age` and `ssh-keygen` when there is one, else by renaming the stanza of
/// an X25519 file (the node reads only the header, which stays well-formed).
fn ssh_packages(node: &TestNode, recipient: &str) -> [Vec<u8>; 2] {
    let tmp = node.tmp.path();
    let key = tmp.join("id_ed25519");
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f", key.to_str().unwrap()])
        .output()
        .is_ok_and(|o| o.status.success());
    if made {
        let plain = tmp.join("plain.txt");
        std::fs::write(&plain, "records").unwrap();
        let pub_key = key.with_extension("pub");
        let seal = |extra: &[&str], out: &str| {
            let out = tmp.join(out);
            let o = Command::new("age")
                .args(extra)
                .args(["-R", pub_key.to_str().unwrap(), "-o"])
                .arg(&out)
                .arg(&plain)
                .output()
                .unwrap();
            assert!(o.status.success(), "{o:?}");
            std::fs::read(out).unwrap()
        };
        return [seal(&[], "ssh.age"), seal(&["-r", recipient], "mixed.age")];
    }
    let crafted = |extra_stanza: bool| {
        let x = age_package(recipient, b"records");
        let end = x.windows(4).position(|w| w == b"\n---").unwrap();
        let header = String::from_utf8(x[..end].to_vec()).unwrap();
        let ssh = header.replacen("-> X25519 ", "-> ssh-ed25519 AbCdEf ", 1);
        let header = if extra_stanza {
            let stanza = &ssh[ssh.find("\n-> ").unwrap()..];
            format!("{header}{stanza}")
        } else {
            ssh
        };
        [header.as_bytes(), &x[end..]].concat()
    };
    [crafted(false), crafted(true)]
}

#[test]
fn packages_for_ssh_recipients_are_refused() {
    let mut node = TestNode::init();
    node.configure("lifecycle", "scheduler_interval_seconds = 3600");
    node.start();
    let x = executed_case(&node, "XA-SSH-1");
    for (what, package) in ["ssh-ed25519 only", "X25519 and ssh-ed25519"]
        .iter()
        .zip(ssh_packages(&node, &x.recipient))
    {
        let r = upload(&node, &x.reviewer, x.case, &package);
        assert_eq!(r.status, 422, "{what}: {}", r.text());
        r.problem(422, "recipient-not-x25519", "type ssh-ed25519");
        let detail = r.json()["detail"].as_str().unwrap().to_owned();
        assert!(
            detail.contains("age recipient"),
            "says what to do: {detail}"
        );
    }
    let left = std::fs::read_dir(node.dir.join("evidence"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(left, 0, "refused uploads leave no file");
    assert_eq!(
        count_events(&node, x.case, &x.reviewer, "evidence.sealed"),
        0
    );
}

#[test]
fn evidence_is_sealed_to_the_recipient_the_log_registered_not_the_table_s() {
    let mut node = TestNode::init();
    node.start();
    let (key, identity) = authority_with_recipient(&node, "XA");
    let reviewer = node.user("rita", "reviewer");
    let case = submit(&node, &key, "XA-SWAPPED-RECIPIENT", "XA");
    let r = node.post_json(
        &format!("/v1/requests/{case}/decision"),
        &reviewer,
        &json!({"decision": "execute", "reason": "Lawful and proportionate."}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // A database writer swaps the authority's recipient for one they hold.
    let thief = node.tmp.path().join("thief.agekey");
    assert!(
        Command::new("age-keygen")
            .arg("-o")
            .arg(&thief)
            .output()
            .unwrap()
            .status
            .success()
    );
    let thief_recipient = String::from_utf8(
        Command::new("age-keygen")
            .arg("-y")
            .arg(&thief)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let out = Command::new("sqlite3")
        .arg(node.dir.join("custos.db"))
        .arg(format!(
            "UPDATE authorities SET age_recipient = '{}'",
            thief_recipient.trim()
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let evidence = node.tmp.path().join("subscriber.csv");
    std::fs::write(&evidence, "account\nexample\n").unwrap();
    let sealed: Value = serde_json::from_str(&custos_ok(&[
        "evidence",
        "seal",
        "--dir",
        node.dir_str(),
        "--case",
        &case.to_string(),
        evidence.to_str().unwrap(),
    ]))
    .unwrap();
    let package = node.dir.join("evidence").join(format!(
        "{}.age",
        sealed["package_blake3"].as_str().unwrap()
    ));
    let opens = |identity: &std::path::Path| {
        Command::new("age")
            .arg("-d")
            .arg("-i")
            .arg(identity)
            .arg("-o")
            .arg("/dev/null")
            .arg(&package)
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(
        opens(std::path::Path::new(&identity)),
        "the authority opens it"
    );
    assert!(!opens(&thief), "the table's recipient does not");
}

#[test]
fn evidence_on_conditions_is_released_only_after_the_authority_signs_their_acceptance() {
    let mut node = TestNode::init();
    node.start();
    let (key, _) = authority_with_recipient(&node, "XA");
    let reviewer = node.user("rita", "reviewer");
    let case = submit(&node, &key, "XA-COND-1", "XA");
    let evidence = node.tmp.path().join("subscriber.csv");
    std::fs::write(&evidence, "account,created\nexample,2025-01-01\n").unwrap();
    let dir = node.dir_str().to_owned();
    let r = node.post_json(
        &format!("/v1/requests/{case}/decision"),
        &reviewer,
        &json!({"decision": "execute", "reason": "Lawful and proportionate.",
                "conditions": [
                    {"kind": "use_limitation", "purposes": "The investigation named in the request."},
                    {"kind": "deletion_after", "days": 365},
                    "No onward transfer."]}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // Sealing releases nothing: it may come first.
    let sealed: Value = serde_json::from_str(&custos_ok(&[
        "evidence",
        "seal",
        "--dir",
        &dir,
        "--case",
        &case.to_string(),
        evidence.to_str().unwrap(),
    ]))
    .unwrap();
    let sha = sealed["package_blake3"].as_str().unwrap().to_owned();
    let a = authority_from(&key, "XA");
    let download = format!("/v1/requests/{case}/evidence/{sha}");
    node.get(&download, Some(&download_proof(&a, &download)))
        .problem(409, "conditions-not-accepted", "conditions/acceptance");
    let fetch = || {
        custos(&[
            "fetch",
            "--server",
            &node.server(),
            "--key",
            &key,
            "--vkey",
            &node.vkey,
            "--case",
            &case.to_string(),
            "-o",
            node.tmp.path().join("got").to_str().unwrap(),
        ])
    };
    let out = fetch();
    assert!(!out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not accepted"),
        "{out:?}"
    );

    // Declined, with a reason: still nothing released.
    let declined: Value = serde_json::from_str(&custos_ok(&[
        "accept-conditions",
        "--server",
        &node.server(),
        "--key",
        &key,
        "--case",
        &case.to_string(),
        "--decline",
        "Our court must be able to see the data.",
    ]))
    .unwrap();
    assert_eq!(declined["answer"]["state"], "declined", "{declined}");
    assert_eq!(declined["conditions"][1]["days"], 365, "{declined}");
    node.get(&download, Some(&download_proof(&a, &download)))
        .problem(409, "conditions-not-accepted", "conditions/acceptance");

    // Accepted: the reply says so and the package is handed over.
    let accepted: Value = serde_json::from_str(&custos_ok(&[
        "accept-conditions",
        "--server",
        &node.server(),
        "--key",
        &key,
        "--case",
        &case.to_string(),
    ]))
    .unwrap();
    assert_eq!(accepted["answer"]["state"], "accepted", "{accepted}");
    let path = format!("/v1/requests/{case}");
    let reply = node.get(&path, Some(&a.proof("GET", &path))).json();
    assert_eq!(reply["conditions"]["state"], "accepted", "{reply}");
    assert_eq!(reply["conditions"]["sha256"], accepted["answer"]["sha256"]);
    node.wait_for(5, "the package to be fetched", || fetch().status.success());
    let kinds = events(&node, case, &reviewer);
    for k in [
        "conditions.declined",
        "conditions.accepted",
        "evidence.delivered",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k}: {kinds:?}");
    }
    // Accepting again is refused: an acceptance is final.
    let out = custos(&[
        "accept-conditions",
        "--server",
        &node.server(),
        "--key",
        &key,
        "--case",
        &case.to_string(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let api = node.get("/openapi.json", None).json();
    assert!(api["paths"]["/v1/requests/{case}/conditions/acceptance"]["post"].is_object());
    node.stop();
    let audit = custos(&["audit", "--dir", &dir]);
    assert!(audit.status.success(), "{audit:?}");
}

// ---- issue 13, execute in part: packages name the targets they cover (`--target`) ----

#[test]
fn executed_in_part_evidence_is_sealed_only_for_the_targets_produced() {
    let mut node = TestNode::init();
    node.start();
    let (key, identity) = authority_with_recipient(&node, "XA");
    let reviewer = node.user("rita", "reviewer");
    let dir = node.dir_str().to_owned();
    // The example request, with a second target that the decision will not produce.
    const KEPT: &str = "decryptor-support@mail.example";
    const DROPPED: &str = "bystander@mail.example";
    let mut r = request("example", "XA-PART-1", "XA");
    r["targets"]
        .as_array_mut()
        .unwrap()
        .push(json!({"kind": "account", "value": DROPPED}));
    assert_eq!(r["targets"][0]["value"], KEPT);
    let req = node.tmp.path().join("part.json");
    crate::common::write_json(&req, &r);
    let submitted: Value = serde_json::from_str(&custos_ok(&[
        "submit",
        "--server",
        &node.server(),
        "--key",
        &key,
        req.to_str().unwrap(),
    ]))
    .unwrap();
    let case = submitted["case"].as_i64().unwrap();
    let d = node.post_json(
        &format!("/v1/requests/{case}/decision"),
        &reviewer,
        &json!({"decision": "execute_narrowed",
                "reason": "Only the account linked to the payments is produced here.",
                "narrowed": {"data_categories": r["data_categories"], "period": r["period"],
                             "confidentiality_until": null, "targets": [KEPT]}}),
    );
    assert_eq!(d.status, 200, "{}", d.text());
    let evidence = node.tmp.path().join("subscriber.csv");
    std::fs::write(&evidence, "account,created\nexample,2025-01-01\n").unwrap();
    let seal = |targets: &[&str]| {
        let case = case.to_string();
        let mut args = vec!["evidence", "seal", "--dir", &dir, "--case", &case];
        for t in targets {
            args.extend(["--target", t]);
        }
        args.push(evidence.to_str().unwrap());
        custos(&args)
    };
    let stored = || {
        std::fs::read_dir(node.dir.join("evidence"))
            .map(|d| d.count())
            .unwrap_or(0)
    };

    // Naming none, or one not produced: refused before anything is sealed, saying what may be.
    let out = seal(&[]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("executed in part"), "{said}");
    assert!(said.contains("--target") && said.contains(KEPT), "{said}");
    let out = seal(&[DROPPED]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains("--target #1 is not among the targets the decision produces"),
        "{said}"
    );
    assert!(said.contains(KEPT) && !said.contains(DROPPED), "{said}");
    assert_eq!(stored(), 0, "nothing stored");
    assert_eq!(count_events(&node, case, &reviewer, "evidence.sealed"), 0);

    // The produced target: sealed, logged, and listed in the requester's reply.
    let sealed: Value = serde_json::from_str(&custos_ok(&[
        "evidence",
        "seal",
        "--dir",
        &dir,
        "--case",
        &case.to_string(),
        "--target",
        KEPT,
        evidence.to_str().unwrap(),
    ]))
    .unwrap();
    assert_eq!(sealed["targets"], json!([KEPT]));
    let sha = sealed["package_blake3"].as_str().unwrap().to_owned();
    let a = authority_from(&key, "XA");
    let path = format!("/v1/requests/{case}");
    let reply = node.get(&path, Some(&a.proof("GET", &path))).json();
    assert_eq!(reply["format"], "custos.reply/v1");
    assert_eq!(reply["evidence"][0]["package_blake3"], sha);
    assert_eq!(reply["evidence"][0]["targets"], json!([KEPT]));

    // The signed manifest inside names them too (the stock age opens the package as before).
    let package = node.dir.join("evidence").join(format!("{sha}.age"));
    let plain = node.tmp.path().join("part.tar");
    let out = Command::new("age")
        .args(["-d", "-i", &identity, "-o", plain.to_str().unwrap()])
        .arg(&package)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let manifest = Command::new("tar")
        .arg("xOf")
        .arg(&plain)
        .arg("manifest.json")
        .output()
        .unwrap();
    let manifest: Value = serde_json::from_slice(&manifest.stdout).unwrap();
    assert_eq!(manifest["targets"], json!([KEPT]));

    // An upload names its targets with Custos-Target headers (percent-encoded).
    let body = age_package(
        node.get("/v1/authorities", Some(&format!("Bearer {reviewer}")))
            .json()[0]["age_recipient"]
            .as_str()
            .unwrap(),
        b"uploaded",
    );
    let upload_with = |targets: &[&str]| {
        let mut headers = vec![
            ("authorization".to_owned(), format!("Bearer {reviewer}")),
            (
                "content-type".to_owned(),
                "application/octet-stream".to_owned(),
            ),
            ("custos-manifest-sha256".to_owned(), "ab".repeat(32)),
            ("custos-manifest-signer".to_owned(), node.vkey.clone()),
        ];
        for t in targets {
            headers.push(("custos-target".to_owned(), t.replace('@', "%40")));
        }
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        crate::common::http(
            node.port,
            "POST",
            &format!("/v1/requests/{case}/evidence"),
            &headers,
            &body,
        )
    };
    upload_with(&[]).problem(422, "targets-required", "Custos-Target");
    upload_with(&[DROPPED]).problem(422, "target-not-produced", "Custos-Target #1");
    let r = upload_with(&[KEPT]);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["targets"], json!([KEPT]));

    // The console's request page shows what each package covers.
    let cookie = crate::common::console_session(&node, "rita");
    let page = crate::common::console_get(&node, &cookie, &format!("/console/requests/{case}"));
    let section = page
        .split_once("id=\"h-evidence\"")
        .and_then(|(_, rest)| rest.split_once("</section>"))
        .map(|(s, _)| s)
        .expect("an evidence section");
    assert!(section.contains("Targets covered"), "{section}");
    assert!(
        section.contains(KEPT) && !section.contains(DROPPED),
        "{section}"
    );

    node.stop();
    let audit = custos(&["audit", "--dir", &dir]);
    assert_eq!(
        audit.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&audit.stdout)
    );
}

/// `custos evidence seal` of one file `name` holding `content` for `case`; its JSON report.
fn seal_file(node: &TestNode, case: i64, name: &str, content: &str) -> Value {
    let f = node.tmp.path().join(name);
    std::fs::write(&f, content).unwrap();
    serde_json::from_str(&custos_ok(&[
        "evidence",
        "seal",
        "--dir",
        node.dir_str(),
        "--case",
        &case.to_string(),
        f.to_str().unwrap(),
    ]))
    .unwrap()
}

/// `custos fetch` of `case` as the authority whose key file is `key`, into `out`.
fn fetch(node: &TestNode, key: &str, case: i64, out: &std::path::Path) -> std::process::Output {
    custos(&[
        "fetch",
        "--server",
        &node.server(),
        "--key",
        key,
        "--vkey",
        &node.vkey,
        "--case",
        &case.to_string(),
        "-o",
        out.to_str().unwrap(),
    ])
}

/// Runs `case_validate` (case-utils, installed by scripts/setup) on `file`; fails the test with
/// its report unless the graph conforms. The open-vocabulary hash method BLAKE3 (v2 packages)
/// is reported at severity Info by UCO's shapes, so Info results are allowed only then.
fn case_validate(file: &std::path::Path) {
    let text = std::fs::read_to_string(file).unwrap();
    let mut cmd = Command::new("case_validate");
    if text.contains("\"BLAKE3\"") {
        cmd.arg("--allow-info");
    }
    let out = cmd.arg(file).output().unwrap_or_else(|e| {
        panic!("case_validate (PyPI case-utils) cannot run ({e}): run scripts/setup to install it")
    });
    assert!(
        out.status.success(),
        "case_validate refuses {}:\n{}{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The names of the investigative actions of a CASE export, in order.
fn case_actions(doc: &Value) -> Vec<String> {
    doc["@graph"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["@type"] == "case-investigation:InvestigativeAction")
        .map(|o| o["uco-core:name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_chain_of_custody_is_case_uco_from_the_node_and_from_fetch_and_validates() {
    let mut node = TestNode::init();
    node.configure(
        "lifecycle",
        "scheduler_interval_seconds = 1\nevidence_retention_days = 0",
    );
    node.start();
    let Executed { key, case, .. } = executed_case(&node, "XA-CUSTODY");
    let sealed = seal_file(
        &node,
        case,
        "subscriber.csv",
        "account,created\nexample,2025-01-01\n",
    );
    let sha = sealed["package_blake3"].as_str().unwrap().to_owned();
    let manifest = sealed["manifest_sha256"].as_str().unwrap().to_owned();
    let stored = node.dir.join("evidence").join(format!("{sha}.age"));

    // The authority fetches: the custody file is written beside the package, from the openings
    // it checked against the log (sealed, then its own hand-over).
    let got = node.tmp.path().join("got");
    let mut fetched = None;
    node.wait_for(5, "the fetch", || {
        let out = fetch(&node, &key, case, &got);
        fetched = Some(out.stdout);
        out.status.success()
    });
    let fetched: Value = serde_json::from_slice(&fetched.unwrap()).unwrap();
    let from_fetch = got.join(format!("custody-case-{case}.jsonld"));
    assert_eq!(fetched["custody"], from_fetch.to_str().unwrap());
    let fetch_doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&from_fetch).unwrap()).unwrap();
    assert_eq!(
        case_actions(&fetch_doc),
        ["evidence.sealed", "evidence.delivered"]
    );

    // Retention 0: destroyed once delivered; the node's export has the whole chain.
    node.wait_for(10, "the package to be destroyed", || !stored.exists());
    node.stop();
    let dir = node.dir_str().to_owned();
    let custody = |format: &str| {
        custos_ok(&[
            "evidence",
            "custody",
            "--dir",
            &dir,
            "--case",
            &case.to_string(),
            "--format",
            format,
        ])
    };
    let text = custos_ok(&[
        "evidence",
        "custody",
        "--dir",
        &dir,
        "--case",
        &case.to_string(),
    ]);
    assert!(
        text.contains(&format!("package BLAKE3 {sha}")) && text.contains("evidence.destroyed"),
        "{text}"
    );
    let none = custos(&["evidence", "custody", "--dir", &dir, "--case", "999"]);
    assert_eq!(none.status.code(), Some(2), "{none:?}");
    assert!(String::from_utf8_lossy(&none.stderr).contains("no case 999"));
    let plain: Value = serde_json::from_str(&custody("json")).unwrap();
    assert_eq!(
        plain["packages"][0]["digest"],
        json!({"method": "BLAKE3", "hex": sha})
    );
    let from_node = node.tmp.path().join("custody.jsonld");
    let case_text = custody("case");
    std::fs::write(&from_node, &case_text).unwrap();
    let node_doc: Value = serde_json::from_str(&case_text).unwrap();
    assert_eq!(
        case_actions(&node_doc),
        [
            "evidence.sealed",
            "evidence.delivered",
            "evidence.destroyed"
        ]
    );
    for (doc, text) in [
        (&node_doc, case_text.as_str()),
        (&fetch_doc, &std::fs::read_to_string(&from_fetch).unwrap()),
    ] {
        assert!(text.contains(&sha) && text.contains(&manifest), "{text}");
        assert!(text.contains("requesting authority XA"), "{text}");
        // Roles only: no reviewer, no target identifier, no key or recipient.
        let request = request("example", "XA-CUSTODY", "XA");
        let target = request["targets"][0]["value"].as_str().unwrap();
        for secret in ["rita", target, "age1"] {
            assert!(!text.contains(secret), "{secret} in the custody export");
        }
        assert!(doc["@graph"].as_array().unwrap().len() > 5);
    }
    // One case_validate run per export (each loads the whole ontology: seconds).
    case_validate(&from_node);
    case_validate(&from_fetch);
}
