//! Witnessed checkpoints (issue 14, part 2), in process: the `[[witness]]` configuration and
//! `custos witness add`'s edit of it, the cosigned checkpoint kept beside the head file and served
//! again at once after a restart, and a witness that cannot be reached, backed off with nothing
//! cosigned served. How a witness's answer is read, from its bytes, is unit-tested in
//! `src/cosigning.rs`. The whole loop against a real `custos witness serve` is
//! in the CLI tests (`witness_cli.rs`).

use custos_ledger::cosignature::WitnessSignerKey;
use custos_service::Config;
use custos_service::config::{WitnessConfig, add_witness};
use custos_service::cosigning::{COSIGNED_FILE, cosigned_note};

use crate::fixture::*;

fn witness_key(name: &str, seed: u8) -> WitnessSignerKey {
    WitnessSignerKey::from_seed(name, &[seed; 32]).unwrap()
}

fn entry(url: &str, key: &WitnessSignerKey) -> WitnessConfig {
    WitnessConfig {
        name: None,
        url: url.into(),
        vkey: key.verifier().to_string(),
    }
}

/// The node's latest signed checkpoint and its text (what a witness cosigns).
fn checkpoint_of(note: &str) -> &str {
    &note[..=note.rfind("\n\n").unwrap()]
}

#[tokio::test]
async fn a_bad_witness_entry_is_refused_at_load_naming_it() {
    let f = Fixture::new().await;
    let w1 = witness_key("w1.example/witness", 1);
    type Change<'a> = Box<dyn Fn(&mut Config) + 'a>;
    let cases: Vec<(Change, &str)> = vec![
        (
            Box::new(|c: &mut Config| {
                c.witnesses.push(WitnessConfig {
                    name: None,
                    url: "http://w.example".into(),
                    vkey: node_key().verifier().to_string(),
                })
            }),
            "[[witness]] #1 (http://w.example): vkey is not a cosignature/v1 verifier key",
        ),
        (
            Box::new(|c: &mut Config| c.witnesses.push(entry("ftp://w.example", &w1))),
            "[[witness]] #1: url \"ftp://w.example\" must start with http://",
        ),
        (
            Box::new(|c: &mut Config| {
                c.witnesses.push(entry("http://a.example", &w1));
                c.witnesses.push(entry("http://b.example", &w1));
            }),
            "[[witness]] #2 (http://b.example) repeats witness #1: same vkey",
        ),
        (
            Box::new(|c: &mut Config| {
                c.witnesses.push(entry("http://a.example", &w1));
                c.witness_quorum = Some(2);
            }),
            "witness_quorum = 2 with 1 witness(es)",
        ),
    ];
    for (change, want) in cases {
        let mut config = Config::new(ORIGIN);
        change(&mut config);
        std::fs::write(
            f.dir.join(custos_service::config::CONFIG_FILE),
            config.to_toml().unwrap(),
        )
        .unwrap();
        let err = Config::load(&f.dir).unwrap_err().to_string();
        assert!(err.contains(want), "{err}\n  should contain: {want}");
        assert!(err.contains("custos.toml"), "{err}");
    }
}

#[tokio::test]
async fn witness_add_keeps_the_other_settings_and_refuses_a_repeat() {
    let f = Fixture::new().await;
    let path = f.dir.join(custos_service::config::CONFIG_FILE);
    let original = format!(
        "# operator's note: keep this\n{}",
        std::fs::read_to_string(&path).unwrap()
    );
    std::fs::write(&path, &original).unwrap();
    let (w1, w2) = (
        witness_key("w1.example/witness", 1),
        witness_key("w2.example/witness", 2),
    );
    add_witness(&f.dir, &entry("http://127.0.0.1:1", &w1)).unwrap();
    add_witness(&f.dir, &entry("http://127.0.0.1:2", &w2)).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with(&original),
        "the file's settings and comments are kept:\n{text}"
    );
    let config = Config::load(&f.dir).unwrap();
    assert_eq!(config.witnesses.len(), 2);
    assert_eq!(config.quorum(), 2, "the quorum defaults to every witness");
    assert_eq!(config.witnesses[1].vkey, w2.verifier().to_string());

    // The same key again, under another URL: refused, the file untouched.
    let err = add_witness(&f.dir, &entry("http://127.0.0.1:3", &w1)).unwrap_err();
    assert!(err.to_string().contains("repeats witness #1"), "{err}");
    let err = add_witness(
        &f.dir,
        &WitnessConfig {
            name: None,
            url: "http://127.0.0.1:3".into(),
            vkey: "w3+00000000+AAAA".into(),
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("#3"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[tokio::test]
async fn a_cosigned_checkpoint_on_file_is_served_at_once_after_a_restart() {
    let w1 = witness_key("w1.example/witness", 1);
    let f = Fixture::with(|c| c.witnesses.push(entry("http://127.0.0.1:9", &w1))).await;
    let note = f.head().unwrap();
    let line = w1
        .cosignature_line(checkpoint_of(&note), 1_790_000_000)
        .unwrap();
    let cosigned = cosigned_note(&note, [line.trim_end()]);
    std::fs::write(f.dir.join(COSIGNED_FILE), &cosigned).unwrap();

    let node = f.node().await.unwrap();
    let served = node.witnesses.cosigned().expect("served from the file");
    assert_eq!(served.note, cosigned);
    assert_eq!(served.cosignatures, 1);
    assert_eq!(
        node.witnesses.states()[0].cosigned_size,
        Some(served.size),
        "the witness's last size is known from the file"
    );
    node.close().await;
    drop(node);

    // A cosignature that does not verify (another key under the witness's name): the file is
    // not used, and the node's own checkpoint is served meanwhile.
    let forger = WitnessSignerKey::from_seed("w1.example/witness", &[7; 32]).unwrap();
    let bad = forger
        .cosignature_line(checkpoint_of(&note), 1_790_000_000)
        .unwrap()
        .replace(
            &format!("{:08x}", forger.key_id()),
            &format!("{:08x}", w1.key_id()),
        );
    std::fs::write(
        f.dir.join(COSIGNED_FILE),
        cosigned_note(&note, [bad.trim_end()]),
    )
    .unwrap();
    let node = f.node().await.unwrap();
    assert_eq!(node.witnesses.cosigned(), None);
    node.close().await;
}

#[tokio::test]
async fn an_unreachable_witness_is_retried_with_backoff_and_nothing_cosigned_is_served() {
    // Port 9 (discard) on localhost: nothing listens, the connection is refused at once.
    let w1 = witness_key("w1.example/witness", 1);
    let f = Fixture::with(|c| c.witnesses.push(entry("http://127.0.0.1:9", &w1))).await;
    let node = f.node().await.unwrap();
    let now = t0();
    node.witnesses.round(&node.dir, &node.log, now).await;
    let s = &node.witnesses.states()[0];
    assert_eq!(s.failures, 1);
    assert!(
        s.last_error
            .as_deref()
            .unwrap()
            .contains("http://127.0.0.1:9/add-checkpoint")
    );
    assert!(!s.split_view);
    assert_eq!(s.next_attempt_at, Some(now + secs(1)));
    // Within the backoff, no new attempt.
    node.witnesses.round(&node.dir, &node.log, now).await;
    assert_eq!(node.witnesses.states()[0].failures, 1);
    node.witnesses
        .round(&node.dir, &node.log, now + secs(1))
        .await;
    let s = &node.witnesses.states()[0];
    assert_eq!(s.failures, 2);
    assert_eq!(s.next_attempt_at, Some(now + secs(3)));
    // Nothing cosigned: no file, and the node serves its own checkpoint as before.
    assert_eq!(node.witnesses.cosigned(), None);
    assert!(!node.dir.join(COSIGNED_FILE).exists());
    node.close().await;
}
