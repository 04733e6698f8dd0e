//! Throughput of each piece of the sealing pipeline alone, in memory, single thread:
//! SHA-256 (`sha2`), BLAKE3 (`blake3`, the package digest of format v2), the `age` crate's STREAM
//! writer (ChaCha20-Poly1305) to a sink, a 1 MiB copy, reading a file from the page cache, and
//! writing one with and without `O_DIRECT` ([`custos_seal::DurableFile`]). `cargo bench -p custos-seal --bench pieces [-- MIB]`.

use std::hint::black_box;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

fn best(mut f: impl FnMut()) -> Duration {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    let mib: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(512);
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let block: Vec<u8> = (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let rate = |d: Duration| mib as f64 / d.as_secs_f64();
    let report = |what: &str, d: Duration| println!("{what:<40} {:>8.0} MiB/s", rate(d));
    println!("{mib} MiB per piece, best of 3, one thread");

    report(
        "sha256 (sha2 0.10, 1 MiB updates)",
        best(|| {
            let mut h = Sha256::new();
            for _ in 0..mib {
                h.update(&block);
            }
            black_box(h.finalize());
        }),
    );
    report(
        "blake3 (64 KiB updates, as in seal())",
        best(|| {
            let mut h = blake3::Hasher::new();
            for _ in 0..mib {
                for c in block.chunks(64 << 10) {
                    h.update(c);
                }
            }
            black_box(h.finalize());
        }),
    );
    let id = age::x25519::Identity::generate();
    let recipients = [id.to_public()];
    for piece in [1 << 20, 64 << 10] {
        report(
            &format!("age STREAM to sink ({} KiB writes)", piece >> 10),
            best(|| {
                let enc = age::Encryptor::with_recipients(
                    recipients.iter().map(|r| r as &dyn age::Recipient),
                )
                .expect("encryptor");
                let mut w = enc.wrap_output(std::io::sink()).expect("wrap");
                for _ in 0..mib {
                    for c in block.chunks(piece) {
                        w.write_all(c).expect("encrypt");
                    }
                }
                w.finish().expect("finish");
            }),
        );
    }
    let mut dst = vec![0u8; 1 << 20];
    report(
        "memcpy 1 MiB",
        best(|| {
            for _ in 0..mib {
                dst.copy_from_slice(black_box(&block));
                black_box(&mut dst);
            }
        }),
    );
    let dir = std::env::temp_dir().join(format!("custos-pieces-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let input = dir.join("input.bin");
    {
        let mut f = std::fs::File::create(&input).expect("input");
        for _ in 0..mib {
            f.write_all(&block).expect("write");
        }
    }
    report(
        "read from page cache (1 MiB reads)",
        best(|| {
            let mut f = std::fs::File::open(&input).expect("open");
            let mut buf = vec![0u8; 1 << 20];
            while f.read(&mut buf).expect("read") != 0 {}
        }),
    );
    report(
        "write to disk file (1 MiB writes, no sync)",
        best(|| {
            let mut f = std::fs::File::create(dir.join("out.bin")).expect("create");
            for _ in 0..mib {
                f.write_all(&block).expect("write");
            }
        }),
    );
    report(
        "DurableFile (O_DIRECT where allowed), synced",
        best(|| {
            let out = dir.join("durable.bin");
            let _ = std::fs::remove_file(&out);
            let mut f = custos_seal::DurableFile::create_new(&out).expect("create");
            for _ in 0..mib {
                f.write_all(&block).expect("write");
            }
            f.finish().expect("finish");
        }),
    );
    let _ = std::fs::remove_dir_all(&dir);
}
