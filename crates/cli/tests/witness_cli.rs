//! `custos witness init` and `custos witness serve` through the real binary, cosigning a real
//! node's checkpoints posted over raw HTTP, the cosignatures checked with custos-ledger.

use std::os::unix::fs::PermissionsExt as _;

use custos_ledger::Checkpoint;
use custos_ledger::cosignature::{WitnessVerifierKey, verify_cosignatures};
use custos_ledger::note::VerifierKey;

use crate::common::{TestNode, WitnessProcess, custos, custos_ok};

#[test]
fn a_witness_cosigns_a_real_nodes_checkpoints() {
    let node = TestNode::start_new();
    let wdir = node.tmp.path().join("witness");
    let wdir_s = wdir.to_str().unwrap();

    // init: a 0600 key, the verifier key on stdout, never overwritten.
    let wvkey = custos_ok(&[
        "witness",
        "init",
        "--dir",
        wdir_s,
        "--name",
        "witness.test/w1",
    ]);
    let wvkey = WitnessVerifierKey::parse(wvkey.trim()).unwrap();
    assert_eq!(wvkey.name(), "witness.test/w1");
    let mode = std::fs::metadata(wdir.join("witness.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let again = custos(&["witness", "init", "--dir", wdir_s]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("never overwritten"));

    // serve refuses what it cannot use, saying what: no key (1), a log key that is not one (2).
    let missing = node.tmp.path().join("no-witness");
    let out = custos(&[
        "witness",
        "serve",
        "--dir",
        missing.to_str().unwrap(),
        "--log",
        &node.vkey,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("custos witness init"));
    let out = custos(&["witness", "serve", "--dir", wdir_s, "--log", "not-a-key"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--log \"not-a-key\": not a log's note verifier key")
    );

    // serve, for the node's log (its key as /v1/log/verifier serves it).
    let served = node.get("/v1/log/verifier", None).text();
    assert_eq!(served.trim(), node.vkey);
    let log_key = VerifierKey::parse(&node.vkey).unwrap();
    let origin = log_key.name().to_owned();
    let witness = WitnessProcess::start(wdir_s, &node.vkey, node.tmp.path().join("witness.log"));

    // The first checkpoint: old 0, no proof.
    let cp1 = node.get("/log/checkpoint", None).text();
    let resp = witness.add_checkpoint(&format!("old 0\n\n{cp1}"));
    assert_eq!(resp.status, 200, "{}\n{}", resp.text(), witness.stderr());
    let cosigned = format!("{cp1}{}", resp.text());
    Checkpoint::open(&cosigned, &origin, std::slice::from_ref(&log_key)).unwrap();
    let got = verify_cosignatures(&cosigned, std::slice::from_ref(&wvkey)).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].name, "witness.test/w1");
    let size1 = node.log_size();

    // The node grows; the next checkpoint with the node's own consistency proof.
    node.user("witnessed-reviewer", "reviewer");
    node.wait_for(10, "a larger checkpoint", || node.log_size() > size1);
    let cp2 = node.get("/log/checkpoint", None).text();
    let size2: u64 = cp2.lines().nth(1).unwrap().parse().unwrap();
    let proof = if size1 == 0 {
        Vec::new()
    } else {
        let p = node
            .get(
                &format!("/v1/log/consistency?old={size1}&new={size2}"),
                None,
            )
            .json();
        p["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap().to_owned())
            .collect()
    };
    let mut body = format!("old {size1}\n");
    for h in &proof {
        body.push_str(h);
        body.push('\n');
    }
    body.push('\n');
    body.push_str(&cp2);
    let resp = witness.add_checkpoint(&body);
    assert_eq!(resp.status, 200, "{}\n{}", resp.text(), witness.stderr());
    let cosigned = format!("{cp2}{}", resp.text());
    Checkpoint::open(&cosigned, &origin, std::slice::from_ref(&log_key)).unwrap();
    assert_eq!(
        verify_cosignatures(&cosigned, std::slice::from_ref(&wvkey))
            .unwrap()
            .len(),
        1
    );

    // A client that does not know the size learns it: 409, text/x.tlog.size.
    let resp = witness.add_checkpoint(&format!("old 0\n\n{cp2}"));
    assert_eq!(resp.status, 409, "{}", resp.text());
    assert_eq!(resp.header("content-type"), Some("text/x.tlog.size"));
    assert_eq!(resp.text(), format!("{size2}\n"));

    // What it keeps survives a restart: the same 409 from a new process.
    drop(witness);
    let witness = WitnessProcess::start(wdir_s, &node.vkey, node.tmp.path().join("witness2.log"));
    let resp = witness.add_checkpoint(&format!("old {size1}\n\n{cp1}"));
    assert_eq!(resp.status, 409, "{}", resp.text());
    assert_eq!(resp.text(), format!("{size2}\n"));
    // A log it is not configured for: 404.
    let stranger = format!("old 0\n\n{}", cp1.replace(&origin, "other.example/log"));
    let resp = witness.add_checkpoint(&stranger);
    assert_eq!(resp.status, 404, "{}", resp.text());
}
