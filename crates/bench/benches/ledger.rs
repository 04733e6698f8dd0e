//! Benchmarks of the log core at 1,000,000 leaves, with the floors measured
//! in the same run: one SHA-256 of a 64-byte input and one Ed25519 verify.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use custos_ledger::checkpoint::Checkpoint;
use custos_ledger::note::{self, SignerKey};
use custos_ledger::tiles::{self, Tile};
use custos_ledger::{MemoryStore, MerkleTree, leaf_hash, verify_consistency, verify_inclusion};
use ed25519_dalek::{Signer as _, SigningKey};
use sha2::{Digest, Sha256};

const N: u64 = 1_000_000;

fn big_tree() -> MerkleTree<MemoryStore> {
    let mut t = MerkleTree::new(MemoryStore::new());
    let entries: Vec<[u8; 8]> = (0..N).map(u64::to_be_bytes).collect();
    t.append_batch(&entries).expect("build tree");
    t
}

/// A cheap deterministic index sequence so proofs hit different paths.
fn next(x: &mut u64) -> u64 {
    *x = x
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *x >> 11
}

fn floors(c: &mut Criterion) {
    let mut g = c.benchmark_group("floor");
    let input = [0x5au8; 64];
    g.bench_function("sha256_64B", |b| {
        b.iter(|| Sha256::digest(black_box(&input)))
    });
    let sk = SigningKey::from_bytes(&[7; 32]);
    let vk = sk.verifying_key();
    let msg = b"custos.example/log\n1000000\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    let sig = sk.sign(msg);
    g.bench_function("ed25519_verify_raw", |b| {
        b.iter(|| vk.verify_strict(black_box(msg), black_box(&sig)))
    });
    g.finish();
}

fn append(c: &mut Criterion) {
    let mut g = c.benchmark_group("append");
    g.bench_function("per_leaf", |b| {
        b.iter_custom(|iters| {
            let mut t = MerkleTree::new(MemoryStore::new());
            let start = Instant::now();
            for i in 0..iters {
                t.append(black_box(&i.to_be_bytes())).expect("append");
            }
            start.elapsed()
        })
    });
    g.bench_function("batch_256_per_batch", |b| {
        let batch: Vec<[u8; 8]> = (0..256u64).map(u64::to_be_bytes).collect();
        b.iter_custom(|iters| {
            let mut t = MerkleTree::new(MemoryStore::new());
            let start = Instant::now();
            for _ in 0..iters {
                t.append_batch(black_box(&batch)).expect("append");
            }
            start.elapsed()
        })
    });
    g.finish();
}

/// What the node's writer does per batch (`NodeLog::append_leaves` and `sign_checkpoint`): hash
/// each event's public-record leaf (133 bytes), append the hashes to a tree of 1M leaves, sign a
/// checkpoint over the new root. A batch of 64 submissions is 128 events.
fn service_append(c: &mut Criterion) {
    let mut g = c.benchmark_group("1M_service");
    let key = SignerKey::from_seed("custos.example/log", &[7; 32]).expect("key");
    let salt = custos_ledger::commitment::Salt::from_bytes([3; 32]);
    let leaves: Vec<Vec<u8>> = (0..128u64)
        .map(|i| {
            custos_ledger::commitment::PublicRecord::for_event(
                "request.received",
                "2026-11-23",
                &serde_json::json!({ "i": i }),
                &salt,
            )
            .expect("record")
            .leaf_bytes()
        })
        .collect();
    // One tree for every sample: it grows a little past 1M leaves during the run.
    g.sample_size(20).measurement_time(Duration::from_secs(2));
    let mut t = big_tree();
    g.bench_function("append_128_leaves_and_sign", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let hashes: Vec<_> = leaves.iter().map(|l| leaf_hash(black_box(l))).collect();
                t.append_leaf_hashes(&hashes).expect("append");
                let root = t.root().expect("root");
                let size = t.size().expect("size");
                black_box(Checkpoint::new("custos.example/log", size, root).sign(&[&key]))
                    .expect("sign");
            }
            start.elapsed()
        })
    });
    g.finish();
}

fn proofs(c: &mut Criterion) {
    let t = big_tree();
    let root = t.root().expect("root");
    let mut g = c.benchmark_group("1M");

    g.bench_function("root", |b| {
        b.iter(|| t.root_at(black_box(N)).expect("root"))
    });

    let mut x = 1u64;
    g.bench_function("inclusion_gen", |b| {
        b.iter(|| t.inclusion_proof(next(&mut x) % N, N).expect("proof"))
    });

    let samples: Vec<_> = (0..1024u64)
        .map(|i| {
            let idx = (i * 977) % N;
            (
                idx,
                leaf_hash(&idx.to_be_bytes()),
                t.inclusion_proof(idx, N).expect("proof"),
            )
        })
        .collect();
    let mut k = 0usize;
    g.bench_function("inclusion_verify", |b| {
        b.iter(|| {
            let (idx, leaf, p) = &samples[k % samples.len()];
            k += 1;
            verify_inclusion(*idx, N, leaf, &p.path, &root).expect("verify")
        })
    });

    let mut x = 7u64;
    g.bench_function("consistency_gen", |b| {
        b.iter(|| t.consistency_proof(1 + next(&mut x) % N, N).expect("proof"))
    });
    let csamples: Vec<_> = (0..256u64)
        .map(|i| {
            let m = 1 + (i * 3907) % (N - 1);
            let old = t.root_at(m).expect("root");
            (m, old, t.consistency_proof(m, N).expect("proof"))
        })
        .collect();
    let mut k = 0usize;
    g.bench_function("consistency_verify", |b| {
        b.iter(|| {
            let (m, old, p) = &csamples[k % csamples.len()];
            k += 1;
            verify_consistency(*m, N, &p.path, old, &root).expect("verify")
        })
    });

    let tile = Tile::new(0, 1000, 256).expect("tile");
    g.bench_function("tile_bytes_level0", |b| {
        b.iter(|| tiles::tile_bytes(t.store(), black_box(&tile)).expect("tile"))
    });

    let key = SignerKey::from_seed("custos.example/log", &[7; 32]).expect("key");
    let verifiers = [key.verifier()];
    let signed = Checkpoint::new("custos.example/log", N, root)
        .sign(&[&key])
        .expect("sign");
    g.bench_function("checkpoint_sign", |b| {
        b.iter(|| Checkpoint::new("custos.example/log", N, root).sign(&[&key]))
    });
    g.bench_function("checkpoint_open_verify", |b| {
        b.iter(|| {
            Checkpoint::open(black_box(&signed), "custos.example/log", &verifiers).expect("open")
        })
    });
    g.bench_function("note_open_verify", |b| {
        b.iter(|| note::open(black_box(&signed), &verifiers).expect("open"))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = floors, append, service_append, proofs
}
criterion_main!(benches);
