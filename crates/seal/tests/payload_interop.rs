//! The payload encryption (`custos_seal::payload`, ring's ChaCha20-Poly1305 under the age
//! crate's header) opened by the stock `age` tool, at every STREAM chunk boundary.
//!
//! Needs the Debian package `age` (installed by scripts/setup).

use std::io::Write as _;
use std::process::Command;

use custos_seal::payload::{CHUNK_SIZE, begin};

#[test]
fn stock_age_opens_payloads_of_every_boundary_size() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("id.key");
    let out = Command::new("age-keygen")
        .arg("-o")
        .arg(&key)
        .output()
        .expect("age-keygen (Debian package age) runs");
    assert!(out.status.success());
    let recipient: age::x25519::Recipient = String::from_utf8(
        Command::new("age-keygen")
            .arg("-y")
            .arg(&key)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .parse()
    .unwrap();
    for len in [
        0,
        1,
        CHUNK_SIZE - 1,
        CHUNK_SIZE,
        CHUNK_SIZE + 1,
        3 * CHUNK_SIZE,
        3 * CHUNK_SIZE + 5,
    ] {
        let plain: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut w = begin(std::slice::from_ref(&recipient), Vec::new()).unwrap();
        w.write_all(&plain).unwrap();
        let sealed = w.finish().unwrap();
        let pkg = dir.path().join(format!("{len}.age"));
        let stock_age_opens = |bytes: &[u8]| {
            std::fs::write(&pkg, bytes).unwrap();
            Command::new("age")
                .arg("-d")
                .arg("-i")
                .arg(&key)
                .arg(&pkg)
                .output()
                .unwrap()
        };
        let out = stock_age_opens(&sealed);
        assert!(
            out.status.success(),
            "stock age refused a {len}-byte payload: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, plain, "length {len}");
        // A package cut after a full chunk is refused as truncated, not taken as complete.
        if len > CHUNK_SIZE {
            let cut = sealed.len() - (len - CHUNK_SIZE) - 16;
            assert!(
                !stock_age_opens(&sealed[..cut]).status.success(),
                "a truncated {len}-byte payload was accepted"
            );
        }
    }
}
