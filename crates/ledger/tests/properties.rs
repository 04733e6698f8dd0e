//! Property tests: proofs verify and detect tampering, encodings round-trip.

use std::collections::BTreeMap;

use custos_ledger::checkpoint::Checkpoint;
use custos_ledger::note::{self, SignerKey};
use custos_ledger::tiles::{
    self, Tile, TilePath, TileSet, decode_index, encode_index, tiles_for_size, verify_full,
};
use custos_ledger::tree::{self, MerkleTree, ProofError};
use custos_ledger::{Hash, MemoryStore, leaf_hash, verify_consistency, verify_inclusion};
use proptest::prelude::*;

fn tree_of(n: u64) -> MerkleTree<MemoryStore> {
    let mut t = MerkleTree::new(MemoryStore::new());
    let entries: Vec<[u8; 8]> = (0..n).map(u64::to_be_bytes).collect();
    t.append_batch(&entries).unwrap();
    t
}

fn flip(h: &Hash) -> Hash {
    let mut b = h.0;
    b[0] ^= 1;
    Hash(b)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn inclusion_proofs_verify(n in 1u64..=2000, seed in any::<u64>(), extra in 0u64..50) {
        let t = tree_of(n + extra);
        let index = seed % n;
        let root = t.root_at(n).unwrap();
        let proof = t.inclusion_proof(index, n).unwrap();
        let leaf = leaf_hash(&index.to_be_bytes());
        prop_assert_eq!(t.leaf_hash(index).unwrap(), leaf);
        prop_assert_eq!(proof.verify(&leaf, &root), Ok(()));
        // A different leaf, a different index or a different root all fail.
        let other = leaf_hash(&(index + 1).to_be_bytes());
        prop_assert!(verify_inclusion(index, n, &other, &proof.path, &root).is_err());
        prop_assert!(verify_inclusion(index, n, &leaf, &proof.path, &flip(&root)).is_err());
        if n > 1 {
            let wrong_index = (index + 1) % n;
            prop_assert!(verify_inclusion(wrong_index, n, &leaf, &proof.path, &root).is_err());
        }
        if let Some(first) = proof.path.first() {
            let mut path = proof.path.clone();
            path[0] = flip(first);
            prop_assert!(verify_inclusion(index, n, &leaf, &path, &root).is_err());
            prop_assert!(verify_inclusion(index, n, &leaf, &proof.path[1..], &root).is_err());
        }
    }

    #[test]
    fn consistency_proofs_verify(n in 1u64..=2000, a in any::<u64>()) {
        let t = tree_of(n);
        let m = 1 + a % n;
        let (r1, r2) = (t.root_at(m).unwrap(), t.root_at(n).unwrap());
        let proof = t.consistency_proof(m, n).unwrap();
        prop_assert_eq!(proof.verify(&r1, &r2), Ok(()));
        prop_assert!(verify_consistency(m, n, &proof.path, &flip(&r1), &r2).is_err());
        prop_assert!(verify_consistency(m, n, &proof.path, &r1, &flip(&r2)).is_err());
        if m < n {
            let mut path = proof.path.clone();
            let last = path.len() - 1;
            path[last] = flip(&path[last]);
            prop_assert!(verify_consistency(m, n, &path, &r1, &r2).is_err());
            prop_assert_eq!(
                verify_consistency(m, n, &[], &r1, &r2),
                Err(ProofError::WrongLength)
            );
        }
    }

    #[test]
    fn tile_paths_round_trip(level in 0u8..=63, index in any::<u64>(), width in 1u16..=256) {
        let tile = Tile::new(level, index, width).unwrap();
        prop_assert_eq!(Tile::parse_path(&tile.path()), Ok(TilePath::Hashes(tile)));
        let entries = Tile::new(0, index, width).unwrap();
        prop_assert_eq!(Tile::parse_path(&tile.entries_path()), Ok(TilePath::Entries(entries)));
        prop_assert_eq!(decode_index(&encode_index(index)), Ok(index));
    }

    #[test]
    fn checkpoints_round_trip(
        origin in "[a-z0-9.-]{1,20}(/[a-zA-Z0-9é_-]{1,10}){0,2}",
        size in any::<u64>(),
        root in any::<[u8; 32]>(),
        extensions in prop::collection::vec("[ -~]{1,30}", 0..3),
    ) {
        let cp = Checkpoint { origin: origin.clone(), size, root: Hash(root), extensions };
        let text = cp.to_text().unwrap();
        prop_assert_eq!(Checkpoint::parse(&text), Ok(cp.clone()));
        let key = SignerKey::from_seed(&origin, &[3; 32]).unwrap();
        let signed = cp.sign(&[&key]).unwrap();
        let (opened, _) = Checkpoint::open(&signed, &origin, &[key.verifier()]).unwrap();
        prop_assert_eq!(opened, cp);
    }

    #[test]
    fn notes_round_trip(lines in prop::collection::vec("[^\\x00-\\x1f]{0,40}", 1..6)) {
        let text = lines.join("\n") + "\n";
        let key = SignerKey::from_seed("custos.example/log", &[5; 32]).unwrap();
        let signed = note::sign(&text, &[&key]).unwrap();
        let opened = note::open(&signed, &[key.verifier()]).unwrap();
        prop_assert_eq!(opened.text, text);
    }

    #[test]
    fn bundles_round_trip(entries in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..=256)) {
        let bytes = tiles::encode_bundle(&entries).unwrap();
        let parsed = tiles::parse_bundle(&bytes).unwrap();
        prop_assert_eq!(parsed, entries.iter().map(Vec::as_slice).collect::<Vec<_>>());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn tiles_reproduce_roots_and_proofs(n in 1u64..=70_000, a in any::<u64>()) {
        let t = tree_of(n);
        let store = t.store();
        let mut set = TileSet::new(n);
        let mut all = BTreeMap::new();
        for tile in tiles_for_size(n) {
            let bytes = tiles::tile_bytes(store, &tile).unwrap();
            set.insert(tile, &bytes).unwrap();
            all.insert(tile, bytes);
        }
        let root = t.root().unwrap();
        prop_assert_eq!(tree::root_at(&set, n).unwrap(), root);
        prop_assert_eq!(verify_full(n, &all).unwrap(), root);
        let index = a % n;
        prop_assert_eq!(
            tree::inclusion_proof(&set, index, n).unwrap(),
            t.inclusion_proof(index, n).unwrap()
        );
        let m = 1 + a % n;
        prop_assert_eq!(
            tree::consistency_proof(&set, m, n).unwrap(),
            t.consistency_proof(m, n).unwrap()
        );
        // Tampering with any level-0 tile is caught by full verification.
        let key = *all.keys().next().unwrap();
        if let Some(bytes) = all.get_mut(&key) {
            bytes[0] ^= 1;
        }
        prop_assert_ne!(verify_full(n, &all).ok(), Some(root));
    }
}

#[test]
fn tiles_for_size_matches_spec_example() {
    // "a tree of size 70,000 will be represented by 273 full level 0 tiles,
    // one partial level 0 tile of width 112, one full level 1 tile, one
    // partial level 1 tile of width 17, and one partial level 2 tile of width 1."
    let tiles: Vec<Tile> = tiles_for_size(70_000).collect();
    let count = |level: u8, width: u16| {
        tiles
            .iter()
            .filter(|t| t.level() == level && t.width() == width)
            .count()
    };
    assert_eq!(tiles.len(), 273 + 1 + 1 + 1 + 1);
    assert_eq!(count(0, 256), 273);
    assert_eq!(count(0, 112), 1);
    assert_eq!(count(1, 256), 1);
    assert_eq!(count(1, 17), 1);
    assert_eq!(count(2, 1), 1);
    // "a tree of size 256 will be represented by a full level 0 tile and a
    // partial level 1 tile of width 1."
    let t256: Vec<Tile> = tiles_for_size(256).collect();
    assert_eq!(t256.len(), 2);
    assert_eq!(t256[1].path(), "tile/1/000.p/1");
    assert_eq!(
        tiles::right_edge_tiles(70_000)
            .iter()
            .map(Tile::path)
            .collect::<Vec<_>>(),
        ["tile/0/273.p/112", "tile/1/001.p/17", "tile/2/000.p/1"]
    );
}

#[test]
fn tile_path_examples_and_rejections() {
    assert_eq!(encode_index(1_234_067), "x001/x234/067");
    assert_eq!(encode_index(0), "000");
    let t = Tile::new(2, 1_234_067, 8).unwrap();
    assert_eq!(t.path(), "tile/2/x001/x234/067.p/8");
    assert_eq!(t.entries_path(), "tile/entries/x001/x234/067.p/8");
    for bad in [
        "tile/0/67",
        "tile/0/0067",
        "tile/0/x000/067",
        "tile/0/001/067",
        "tile/0/x001/x234",
        "tile/00/000",
        "tile/64/000",
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/0/000.p/08",
        "tile/0/000.p/",
        "tile/0/000/",
        "tile/data/000",
        "tiles/0/000",
        "tile/0/x18446/x744/x073/x709/x551/616",
    ] {
        assert!(Tile::parse_path(bad).is_err(), "{bad}");
    }
    assert_eq!(
        decode_index("x018/x446/x744/x073/x709/x551/615"),
        Ok(u64::MAX)
    );
    assert!(decode_index("x018/x446/x744/x073/x709/x551/616").is_err());
}

#[test]
fn oversized_entries_are_rejected() {
    let big = vec![0u8; 65_536];
    let ok = vec![0u8; 65_535];
    assert!(matches!(
        tiles::encode_bundle(&[ok.clone(), big.clone()]),
        Err(tiles::TileError::EntryTooLarge {
            index: 1,
            len: 65_536
        })
    ));
    assert!(tiles::check_entry(&big).is_err());
    assert!(tiles::check_entry(&ok).is_ok());
    let bundle = tiles::encode_bundle(&[ok]).unwrap();
    assert_eq!(bundle.len(), 65_537);
    assert!(tiles::parse_bundle(&bundle[..100]).is_err());
    assert!(tiles::parse_bundle(&[0]).is_err());
}
