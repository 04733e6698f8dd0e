//! The whole flow as a log and an auditor would use it: commit events, append
//! their public records, sign a checkpoint, and verify an event's inclusion
//! and the log's growth from published material only.

use custos_ledger::checkpoint::{Checkpoint, CheckpointError};
use custos_ledger::commitment::{PublicRecord, Salt, verify_opening};
use custos_ledger::note::NoteError;
use custos_ledger::tiles;
use custos_ledger::{MemoryStore, MerkleTree, SignerKey, leaf_hash};
use serde_json::json;

const ORIGIN: &str = "custos.example/log";

#[test]
fn log_and_audit() {
    let key = SignerKey::from_seed(ORIGIN, &[42; 32]).unwrap();
    let verifier = key.verifier();
    let mut tree = MerkleTree::new(MemoryStore::new());

    let mut openings = Vec::new();
    for i in 0..300u32 {
        let event = json!({"type": "request.received", "seq": i, "from": "AT", "to": "DE"});
        let salt = Salt::from_bytes([i as u8; 32]);
        let record =
            PublicRecord::for_event("request.received", "2026-11-23", &event, &salt).unwrap();
        let leaf = record.leaf_bytes();
        tiles::check_entry(&leaf).unwrap();
        let index = tree.append(&leaf).unwrap();
        openings.push((index, event, salt, leaf));
    }
    let old = Checkpoint::new(ORIGIN, 100, tree.root_at(100).unwrap())
        .sign(&[&key])
        .unwrap();
    let new = Checkpoint::new(ORIGIN, 300, tree.root().unwrap())
        .sign(&[&key])
        .unwrap();

    // Auditor side: only the checkpoints, proofs, leaf bytes and an opening.
    let (old_cp, _) = Checkpoint::open(&old, ORIGIN, std::slice::from_ref(&verifier)).unwrap();
    let (new_cp, _) = Checkpoint::open(&new, ORIGIN, std::slice::from_ref(&verifier)).unwrap();
    tree.consistency_proof(old_cp.size, new_cp.size)
        .unwrap()
        .verify(&old_cp.root, &new_cp.root)
        .unwrap();

    let (index, event, salt, leaf) = &openings[257];
    let proof = tree.inclusion_proof(*index, new_cp.size).unwrap();
    proof.verify(&leaf_hash(leaf), &new_cp.root).unwrap();
    let record = PublicRecord::from_leaf_bytes(leaf).unwrap();
    verify_opening(event, salt, record.commitment()).unwrap();
    assert!(verify_opening(&json!({"forged": true}), salt, record.commitment()).is_err());

    // A checkpoint from another origin or signed by another key is refused.
    assert!(matches!(
        Checkpoint::open(&new, "other.example/log", std::slice::from_ref(&verifier)),
        Err(CheckpointError::WrongOrigin { .. })
    ));
    let stranger = SignerKey::from_seed(ORIGIN, &[1; 32]).unwrap();
    assert!(matches!(
        Checkpoint::open(&new, ORIGIN, &[stranger.verifier()]),
        Err(CheckpointError::Note(NoteError::NoKnownSignature))
    ));
    // A tampered size breaks the signature.
    let tampered = new.replacen("\n300\n", "\n301\n", 1);
    assert!(Checkpoint::open(&tampered, ORIGIN, std::slice::from_ref(&verifier)).is_err());
}

#[test]
fn generated_keys_round_trip() {
    let mut rng = rand_core::OsRng;
    let key = SignerKey::generate(ORIGIN, &mut rng).unwrap();
    let again = SignerKey::parse(&key.to_private_string()).unwrap();
    assert_eq!(again.verifier(), key.verifier());
    let vk = custos_ledger::VerifierKey::parse(&key.verifier().to_string()).unwrap();
    assert_eq!(vk, key.verifier());
    assert!(SignerKey::from_seed("bad name", &[0; 32]).is_err());
    assert!(SignerKey::from_seed("bad+name", &[0; 32]).is_err());
    assert!(Salt::random().unwrap() != Salt::random().unwrap());
}
