//! The witness's invariant over any sequence of submissions from two histories of one log that
//! share a prefix: it never cosigns both histories beyond the prefix, its size never goes back,
//! and the history it holds can always go on.

use std::sync::Arc;

use custos_ledger::cosignature::WitnessSignerKey;
use custos_ledger::note::SignerKey;
use custos_ledger::{Checkpoint, MemoryStore, MerkleTree};
use custos_witness::request::AddCheckpoint;
use custos_witness::{Refusal, Witness};
use proptest::prelude::*;

const ORIGIN: &str = "custos.example/log";
const LEN: u64 = 12;

fn history(fork: u64, tag: &str) -> MerkleTree<MemoryStore> {
    let mut t = MerkleTree::new(MemoryStore::new());
    for i in 0..LEN {
        let leaf = if i < fork {
            format!("common{i}")
        } else {
            format!("{tag}{i}")
        };
        t.append(leaf.as_bytes()).unwrap();
    }
    t
}

fn body(t: &MerkleTree<MemoryStore>, key: &SignerKey, old: u64, new: u64) -> String {
    let proof = if old == 0 || old > new {
        Vec::new()
    } else {
        t.consistency_proof(old, new).unwrap().path
    };
    AddCheckpoint {
        old,
        proof,
        checkpoint: Checkpoint::new(ORIGIN, new, t.root_at(new).unwrap())
            .sign(&[key])
            .unwrap(),
    }
    .to_body()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn never_both_histories(fork in 1..LEN, steps in proptest::collection::vec((any::<bool>(), 0..=LEN), 1..14)) {
        let tmp = tempfile::tempdir().unwrap();
        let log_key = SignerKey::from_seed(ORIGIN, &[1; 32]).unwrap();
        let witness = Witness::open(
            tmp.path(),
            WitnessSignerKey::from_seed("w", &[2; 32]).unwrap(),
            &[log_key.verifier()],
            Arc::new(|| 1_800_000_000),
        )
        .unwrap();
        let trees = [history(fork, "a"), history(fork, "b")];
        // The history the witness is committed to once it holds a size beyond the fork.
        let mut committed: Option<usize> = None;
        let mut held = 0u64;
        for (which, new) in steps {
            let h = usize::from(which);
            let result = witness.add_checkpoint(&body(&trees[h], &log_key, held, new));
            let on_held_history = committed.is_none_or(|c| c == h);
            match result {
                Ok(_) => {
                    prop_assert!(new >= held, "the size went back from {held} to {new}");
                    prop_assert!(on_held_history || new <= fork, "cosigned the other history at {new}");
                    if new > fork {
                        committed = Some(h);
                    }
                    held = new;
                }
                Err(Refusal::OldAfterNew { .. }) => prop_assert!(new < held),
                Err(Refusal::Inconsistent { .. }) => prop_assert!(!on_held_history && new > fork),
                Err(e) => prop_assert!(false, "unexpected refusal: {e}"),
            }
            prop_assert_eq!(witness.held_size(ORIGIN).unwrap_or(0), held);
        }
    }
}
