//! `cosignature/v1` against public material (`testdata/vectors/tlog-cosignature.json`): a
//! production checkpoint cosigned by a public witness, the spec's example line, and
//! transparency-dev/formats' timestamp vectors.

use std::path::Path;

use custos_ledger::Checkpoint;
use custos_ledger::cosignature::{
    self, Cosignature, CosignatureError, WitnessVerifierKey, verify_cosignatures,
};
use serde_json::Value;

fn vector() -> Value {
    let p =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/vectors/tlog-cosignature.json");
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

#[test]
fn public_witness_key_id_is_recomputed() {
    let v = vector();
    let vk = WitnessVerifierKey::parse(v["witness_vkey"].as_str().unwrap()).unwrap();
    assert_eq!(
        format!("{:08x}", vk.key_id()),
        v["key_id_hex"].as_str().unwrap()
    );
    assert_eq!(
        cosignature::key_id(vk.name(), &vk.public_key()),
        vk.key_id()
    );
    assert_eq!(vk.to_string(), v["witness_vkey"].as_str().unwrap());
}

#[test]
fn production_cosignature_verifies() {
    let v = vector();
    let vk = WitnessVerifierKey::parse(v["witness_vkey"].as_str().unwrap()).unwrap();
    let note = v["real_checkpoint"].as_str().unwrap();
    let got = verify_cosignatures(note, std::slice::from_ref(&vk)).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].name, "remora.n621.de");
    assert_eq!(got[0].timestamp, 1_779_573_024);
    // The body is a checkpoint our parser accepts.
    let (body, _) = custos_ledger::note::parse(note).unwrap();
    assert_eq!(Checkpoint::parse(body).unwrap().size, 1_432_088_532);

    // Any change to the body or to the timestamp breaks it.
    let altered = note.replace("1432088532", "1432088533");
    assert_eq!(
        verify_cosignatures(&altered, std::slice::from_ref(&vk)),
        Err(CosignatureError::BadCosignature {
            name: "remora.n621.de".into()
        })
    );
    let line = note
        .lines()
        .find(|l| l.starts_with("\u{2014} remora.n621.de "))
        .unwrap();
    let mut c = Cosignature::parse_line(line).unwrap();
    assert!(vk.verify(body, &c));
    c.timestamp += 1;
    assert!(!vk.verify(body, &c));
}

#[test]
fn spec_example_and_formats_timestamps() {
    let v = vector();
    let c = Cosignature::parse_line(v["spec_example_line"].as_str().unwrap()).unwrap();
    assert_eq!(c.timestamp, v["spec_example_timestamp"].as_u64().unwrap());
    assert_eq!(c.name, "witness.example.com/w1");
    assert_eq!(
        format!("{}\n", v["spec_example_line"].as_str().unwrap()),
        c.to_line()
    );
    for t in v["timestamp_vectors"].as_array().unwrap() {
        let line = format!(
            "\u{2014} {} {}",
            t["name"].as_str().unwrap(),
            t["base64"].as_str().unwrap()
        );
        let got = Cosignature::parse_line(&line).ok().map(|c| c.timestamp);
        assert_eq!(got, t["timestamp"].as_u64(), "{line}");
    }
}

mod properties {
    use custos_ledger::cosignature::{Cosignature, MAX_TIMESTAMP, WitnessSignerKey};
    use custos_ledger::{Checkpoint, leaf_hash};
    use proptest::prelude::*;

    proptest! {
        /// Any witness, checkpoint and time: the line reads back, verifies, and verifies over
        /// nothing else (another size, another time).
        #[test]
        fn cosignature_lines_round_trip_and_bind_body_and_time(
            seed in any::<[u8; 32]>(),
            name in "[a-z0-9./-]{1,40}",
            size in 0u64..u64::MAX,
            leaf in any::<Vec<u8>>(),
            timestamp in 0..=MAX_TIMESTAMP,
        ) {
            let w = WitnessSignerKey::from_seed(&name, &seed).unwrap();
            let body = Checkpoint::new("o.example/log", size, leaf_hash(&leaf)).to_text().unwrap();
            let line = w.cosignature_line(&body, timestamp).unwrap();
            let c = Cosignature::parse_line(&line).unwrap();
            prop_assert_eq!(c.to_line(), line);
            prop_assert_eq!(c.timestamp, timestamp);
            prop_assert!(w.verifier().verify(&body, &c));
            let other = Checkpoint::new("o.example/log", size + 1, leaf_hash(&leaf)).to_text().unwrap();
            prop_assert!(!w.verifier().verify(&other, &c));
            let shifted = Cosignature { timestamp: timestamp ^ 1, ..c };
            prop_assert!(!w.verifier().verify(&body, &shifted));
        }
    }
}
