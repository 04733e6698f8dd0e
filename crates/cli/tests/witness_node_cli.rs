//! The node side of witnessed checkpoints (issue 14, part 2) through real processes: a
//! `custos witness serve`, a `custos serve` node told of it by `custos witness add`, requests
//! submitted, `/log/checkpoint` carrying the witness's cosignature within seconds, `custos log
//! verify --witness … --quorum N` passing and failing by name, the staff's view of the
//! witnesses, and intake going on while the witness is down.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{TestNode, WitnessProcess, custos, custos_ok, request};

/// The tree size a checkpoint note states.
fn size_of(note: &str) -> u64 {
    note.lines().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_node_serves_its_checkpoints_cosigned_by_a_real_witness() {
    let mut node = TestNode::init();
    let a = node.authority("XA", "mla");
    let token = format!("Bearer {}", node.user("olga", "admin"));
    let tmp = node.tmp.path().to_owned();
    let wdir = tmp.join("witness");
    let wvkey = custos_ok(&[
        "witness",
        "init",
        "--dir",
        wdir.to_str().unwrap(),
        "--name",
        "witness.test/w1",
    ])
    .trim()
    .to_owned();
    let witness = WitnessProcess::start(wdir.to_str().unwrap(), &node.vkey, tmp.join("w1.log"));

    // witness add: the entry written; the same witness again refused (exit 2), as is a bad key.
    let added = custos_ok(&[
        "witness",
        "add",
        "--dir",
        node.dir_str(),
        "--url",
        &witness.url(),
        "--vkey",
        &wvkey,
    ]);
    assert!(added.contains("added witness witness.test/w1"), "{added}");
    assert!(added.contains("needs 1 of 1"), "{added}");
    for (vkey, want) in [
        (wvkey.as_str(), "repeats witness #1: same url"),
        (node.vkey.as_str(), "type 0x01 is a log (note) key"),
    ] {
        let out = custos(&[
            "witness",
            "add",
            "--dir",
            node.dir_str(),
            "--url",
            &witness.url(),
            "--vkey",
            vkey,
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(want), "{stderr}");
    }

    node.start();
    for i in 0..3 {
        let r = node.submit_jws(&a.sign(&request("example", &format!("XA-W-{i}"), "XA")));
        assert_eq!(r.status, 201, "{}", r.text());
    }
    // The newest size the node signed, from the staff's view of its witnesses.
    let view = || node.get("/v1/log/witnesses", Some(&token)).json();
    let latest = view()["latest_size"].as_u64().unwrap();
    assert!(latest >= 3, "{}", view());

    // Within seconds, /log/checkpoint is the newest checkpoint with the witness's line after the
    // node's (polled, never slept blindly).
    let mut served = String::new();
    node.wait_for(15, "a cosigned checkpoint of the newest size", || {
        served = node.get("/log/checkpoint", None).text();
        size_of(&served) == latest && served.contains("\n\u{2014} witness.test/w1 ")
    });
    let sigs: Vec<&str> = served
        .lines()
        .filter(|l| l.starts_with('\u{2014}'))
        .collect();
    assert_eq!(sigs.len(), 2, "{served}");
    assert!(
        sigs[0].starts_with("\u{2014} localhost/custos "),
        "{served}"
    );
    assert!(sigs[1].starts_with("\u{2014} witness.test/w1 "), "{served}");

    // log verify: quorum 1 of the witness passes; 2 of two named witnesses fails naming the one
    // missing; a quorum above the keys given is refused as such.
    let state = tmp.join("seen.checkpoint");
    let verify = |extra: &[&str]| {
        let mut args = vec![
            "log",
            "verify",
            "--server",
            &node.server(),
            "--vkey",
            &node.vkey,
            "--state",
            state.to_str().unwrap(),
        ]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
        args.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        custos(&refs)
    };
    let ok = verify(&["--witness", &wvkey, "--quorum", "1"]);
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        stdout.contains("cosigned by witness witness.test/w1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("witness quorum met: 1 of 1 valid, 1 required"),
        "{stdout}"
    );
    let w2 = custos_ok(&[
        "witness",
        "init",
        "--dir",
        tmp.join("witness2").to_str().unwrap(),
        "--name",
        "witness.test/w2",
    ])
    .trim()
    .to_owned();
    let short = verify(&["--witness", &wvkey, "--witness", &w2, "--quorum", "2"]);
    let stderr = String::from_utf8_lossy(&short.stderr);
    assert_eq!(short.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("1 valid cosignature(s) of the 2 witness(es) given, 2 required"),
        "{stderr}"
    );
    assert!(stderr.contains("missing: witness.test/w2"), "{stderr}");
    let over = verify(&["--witness", &wvkey, "--quorum", "2"]);
    assert_eq!(over.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&over.stderr).contains("--quorum 2 needs between 1 and"),
        "{}",
        String::from_utf8_lossy(&over.stderr)
    );

    // The staff's view: the witness, what it last cosigned; people only.
    let v = view();
    assert_eq!(v["quorum"], 1);
    assert_eq!(v["cosigned_size"], latest);
    assert_eq!(v["witnesses"][0]["name"], "witness.test/w1");
    assert_eq!(v["witnesses"][0]["last_cosigned_size"], latest);
    assert_eq!(v["witnesses"][0]["split_view"], false);
    assert_eq!(node.get("/v1/log/witnesses", None).status, 401);

    // The witness stopped: intake still answers 201 at once, the failure is shown to staff,
    // and the last cosigned checkpoint is still served.
    drop(witness);
    let started = Instant::now();
    let r = node.submit_jws(&a.sign(&request("example", "XA-W-DOWN", "XA")));
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "intake waited for the witness: {:?}",
        started.elapsed()
    );
    node.wait_for(15, "the witness's failure shown to staff", || {
        view()["witnesses"][0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("/add-checkpoint"))
    });
    assert!(view()["latest_size"].as_u64().unwrap() > latest);
    assert_eq!(node.get("/log/checkpoint", None).text(), served);
    assert!(
        node.server_log()
            .contains("a witness did not cosign the checkpoint"),
        "{}",
        node.server_log()
    );
}

#[test]
fn a_witness_refusing_a_forked_history_is_a_split_view_shown_loudly() {
    let mut node = TestNode::init();
    let a = node.authority("XA", "mla");
    let token = format!("Bearer {}", node.user("olga", "admin"));
    let tmp = node.tmp.path().to_owned();
    let wdir = tmp.join("witness");
    let wvkey = custos_ok(&[
        "witness",
        "init",
        "--dir",
        wdir.to_str().unwrap(),
        "--name",
        "witness.test/w1",
    ])
    .trim()
    .to_owned();
    let witness = WitnessProcess::start(wdir.to_str().unwrap(), &node.vkey, tmp.join("w1.log"));
    custos_ok(&[
        "witness",
        "add",
        "--dir",
        node.dir_str(),
        "--url",
        &witness.url(),
        "--vkey",
        &wvkey,
    ]);
    let view = |node: &TestNode| node.get("/v1/log/witnesses", Some(&token)).json();
    let cosigned_at = |node: &TestNode, size: u64| {
        node.wait_for(15, "the witness's cosignature", || {
            view(node)["witnesses"][0]["last_cosigned_size"] == size
        })
    };
    node.start();
    let r = node.submit_jws(&a.sign(&request("example", "XA-FORK-0", "XA")));
    assert_eq!(r.status, 201, "{}", r.text());
    let first = view(&node)["latest_size"].as_u64().unwrap();
    cosigned_at(&node, first);

    // A copy of the whole node directory as it stands (database, head file, cosigned file)...
    node.stop();
    let copy = tmp.join("node-copy");
    let status = Command::new("cp")
        .args(["-a", node.dir_str(), copy.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    // ... while the original goes on and the witness cosigns its next checkpoint.
    node.start();
    let r = node.submit_jws(&a.sign(&request("example", "XA-FORK-A", "XA")));
    assert_eq!(r.status, 201, "{}", r.text());
    let second = view(&node)["latest_size"].as_u64().unwrap();
    cosigned_at(&node, second);
    node.stop();

    // The copy, started in its place, writes another history from the same size: the witness
    // refuses it (the consistency proof from what it cosigned fails), the node says so loudly
    // and shows it to staff, and intake goes on.
    std::fs::rename(&node.dir, tmp.join("node-original")).unwrap();
    std::fs::rename(&copy, &node.dir).unwrap();
    node.start();
    for id in ["XA-FORK-B1", "XA-FORK-B2"] {
        let r = node.submit_jws(&a.sign(&request("example", id, "XA")));
        assert_eq!(r.status, 201, "{}", r.text());
    }
    node.wait_for(15, "the split view reported", || {
        view(&node)["witnesses"][0]["split_view"] == true
    });
    let w = &view(&node)["witnesses"][0];
    // Either the witness's 422 (the copy grew past the witness's size; the proof fails), or its
    // 409 naming a size larger than the copy's log (asked before the copy grew): both say it
    // cosigned another history of this log.
    let error = w["last_error"].as_str().unwrap();
    assert!(
        error.contains("422") || error.contains("larger than the node's"),
        "{error}"
    );
    assert!(
        node.server_log().contains("SPLIT VIEW"),
        "{}",
        node.server_log()
    );
    // What is served stays the last checkpoint the witness cosigned on this copy's history.
    let served = node.get("/log/checkpoint", None).text();
    assert_eq!(size_of(&served), first, "{served}");
    drop(witness);
}
