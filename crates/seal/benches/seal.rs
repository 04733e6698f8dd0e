//! In-process sealing throughput beside its floor, measured in the same run: `seal()` of one
//! file vs the `age` crate's encryption alone of the same bytes (no tar, no hashing), and the
//! CPU time of each of the pipeline's stages (how they balance on two cores).
//! `cargo bench -p custos-seal --bench seal [-- SIZE_MIB]`. The end-to-end comparison with the
//! stock `age` binary is `scripts/bench-seal`.

use std::io::{Read, Write};
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use custos_ledger::SignerKey;
use custos_seal::{FileToSeal, SealSpec, seal};

fn main() {
    let mib: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(256);
    let dir = std::env::temp_dir().join(format!("custos-seal-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let input = dir.join("input.bin");
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let block: Vec<u8> = (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    {
        let mut f = std::fs::File::create(&input).expect("input");
        for _ in 0..mib {
            f.write_all(&block).expect("write input");
        }
    }
    let id = age::x25519::Identity::generate();
    let recipients = [id.to_public()];
    let key = SignerKey::from_seed("bench/node", &[1u8; 32]).expect("key");
    let files = [FileToSeal::new(&input).expect("file")];
    let spec = SealSpec {
        request_id: "BENCH-1",
        producer: "bench",
        sealed_at: jiff::Timestamp::now(),
        files: &files,
        targets: &[],
        recipients: &recipients,
        signer: &key,
    };
    let mut best_seal = Duration::MAX;
    let mut best_age = Duration::MAX;
    let mut stages = None;
    for _ in 0..3 {
        let t = Instant::now();
        let report =
            seal(&spec, std::io::sink(), &mut |_| ControlFlow::Continue(())).expect("seal");
        let took = t.elapsed();
        if took < best_seal {
            best_seal = took;
            stages = Some(report.stages);
        }

        let t = Instant::now();
        let enc =
            age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
                .expect("encryptor");
        let mut w = enc.wrap_output(std::io::sink()).expect("wrap");
        let mut f = std::fs::File::open(&input).expect("input");
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            w.write_all(&buf[..n]).expect("encrypt");
        }
        w.finish().expect("finish");
        best_age = best_age.min(t.elapsed());
    }
    let _ = std::fs::remove_dir_all(&dir);
    let rate = |d: Duration| mib as f64 / d.as_secs_f64();
    println!("input {mib} MiB, best of 3, output discarded");
    println!(
        "seal():            {best_seal:?} ({:.0} MiB/s)",
        rate(best_seal)
    );
    println!(
        "age encrypt alone: {best_age:?} ({:.0} MiB/s)",
        rate(best_age)
    );
    println!(
        "ratio seal/age: {:.3}",
        best_seal.as_secs_f64() / best_age.as_secs_f64()
    );
    if let Some(s) = stages {
        let per_gib = |d: Option<Duration>| match d {
            Some(d) => format!("{:.3} s/GiB", d.as_secs_f64() * 1024.0 / mib as f64),
            None => "not measured on this platform".to_owned(),
        };
        println!("CPU per stage (fastest run):");
        println!(
            "  read + tar + SHA-256 of files:   {}",
            per_gib(s.read_and_hash)
        );
        println!(
            "  ChaCha20-Poly1305 + BLAKE3:      {}",
            per_gib(s.encrypt_and_digest)
        );
        println!("  write (to io::sink here):        {}", per_gib(s.write));
    }
}
