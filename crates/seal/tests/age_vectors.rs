//! Every public age test vector (testdata/vectors/age, from C2SP/CCTV, see its FORMAT.md and
//! LICENSE) through the decryption path of `unseal`: `custos_seal::open_package`.

use std::io::Read;
use std::path::PathBuf;

use age::secrecy::SecretString;
use custos_seal::{UnsealError, open_package};
use sha2::{Digest, Sha256};

struct Vector {
    name: String,
    expect: String,
    payload: Option<String>,
    identities: Vec<String>,
    passphrases: Vec<String>,
    compressed: bool,
    body: Vec<u8>,
}

fn vectors() -> Vec<Vector> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/vectors/age");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("testdata/vectors/age is readable") {
        let path = entry.expect("directory entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name == "FORMAT.md" || name == "LICENSE" {
            continue;
        }
        let bytes = std::fs::read(&path).expect("vector is readable");
        let split = bytes
            .windows(2)
            .position(|w| w == b"\n\n")
            .expect("vector has a header");
        let header = std::str::from_utf8(&bytes[..split]).expect("header is UTF-8");
        let mut v = Vector {
            name,
            expect: String::new(),
            payload: None,
            identities: Vec::new(),
            passphrases: Vec::new(),
            compressed: false,
            body: bytes[split + 2..].to_vec(),
        };
        for line in header.lines() {
            let (k, val) = line.split_once(": ").expect("key: value");
            match k {
                "expect" => v.expect = val.to_owned(),
                "payload" => v.payload = Some(val.to_owned()),
                "identity" => v.identities.push(val.to_owned()),
                "passphrase" => v.passphrases.push(val.to_owned()),
                "compressed" => v.compressed = val == "zlib",
                _ => {}
            }
        }
        out.push(v);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The post-quantum hybrid (mlkem768x25519) vectors. The `age` crate (0.12.1, the newest) can
/// encrypt to tagged PQ recipients but has no mlkem768x25519 *identity*, so these cannot be
/// decrypted through the age crate at all. Custos packages use X25519 recipients only.
fn is_hybrid(v: &Vector) -> bool {
    v.identities
        .iter()
        .any(|i| i.starts_with("AGE-SECRET-KEY-PQ-"))
}

/// The `expect:` category of an outcome.
fn category(e: &UnsealError) -> &'static str {
    match e {
        UnsealError::Armor(_) => "armor failure",
        UnsealError::Header(_) => "header failure",
        UnsealError::NoMatchingIdentity => "no match",
        UnsealError::HeaderMac => "HMAC failure",
        UnsealError::Payload { .. } => "payload failure",
        _ => "other",
    }
}

fn run(v: &Vector) -> (String, Vec<u8>) {
    let mut x25519 = Vec::new();
    for i in &v.identities {
        x25519.push(
            i.parse::<age::x25519::Identity>()
                .expect("X25519 identity parses"),
        );
    }
    let mut scrypt = Vec::new();
    for p in &v.passphrases {
        let mut id = age::scrypt::Identity::new(SecretString::from(p.clone()));
        // Like the reference implementation: at most 2^22 (work factor 23 is refused).
        id.set_max_work_factor(22);
        scrypt.push(id);
    }
    let mut ids: Vec<&dyn age::Identity> = Vec::new();
    ids.extend(x25519.iter().map(|i| i as &dyn age::Identity));
    ids.extend(scrypt.iter().map(|i| i as &dyn age::Identity));

    let input: Box<dyn Read> = if v.compressed {
        Box::new(flate2::read::ZlibDecoder::new(&v.body[..]))
    } else {
        Box::new(&v.body[..])
    };
    let mut plain = match open_package(input, &ids) {
        Ok(p) => p,
        Err(e) => return (category(&e).to_owned() + &format!(" ({e})"), Vec::new()),
    };
    let mut released = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match plain.read(&mut buf) {
            Ok(0) => return ("success".into(), released),
            Ok(n) => released.extend_from_slice(&buf[..n]),
            Err(_) => {
                let e = plain.take_failure().expect("a failed read is classified");
                return (category(&e).to_owned() + &format!(" ({e})"), released);
            }
        }
    }
}

#[test]
fn every_x25519_scrypt_and_armor_vector_behaves_as_expected() {
    let all = vectors();
    assert!(all.len() >= 140, "the vectors are present ({})", all.len());
    let mut failures = Vec::new();
    let mut checked = 0;
    for v in all.iter().filter(|v| !is_hybrid(v)) {
        checked += 1;
        let (outcome, released) = run(v);
        let got = outcome.split(" (").next().unwrap_or_default();
        if got != v.expect {
            failures.push(format!("{}: expected {}, got {outcome}", v.name, v.expect));
            continue;
        }
        if let Some(payload) = &v.payload {
            let digest = Sha256::digest(&released);
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            if &hex != payload {
                failures.push(format!(
                    "{}: released plaintext hash {hex}, expected {payload}",
                    v.name
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} vectors wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(checked, 124, "every non-hybrid vector was run");
}

#[test]
fn the_unsupported_hybrid_vectors_are_exactly_the_known_nineteen() {
    // A guard against silently skipping: if the vector set changes, this fails and someone looks.
    let hybrid: Vec<String> = vectors()
        .into_iter()
        .filter(is_hybrid)
        .map(|v| v.name)
        .collect();
    assert_eq!(hybrid.len(), 19, "{hybrid:?}");
    assert!(
        hybrid
            .iter()
            .all(|n| n.starts_with("hybrid") || n == "armor_hybrid")
    );
    // And the stock X25519 identity parser refuses a PQ identity rather than misreading it.
    for v in vectors().iter().filter(|v| is_hybrid(v)) {
        for i in v
            .identities
            .iter()
            .filter(|i| i.starts_with("AGE-SECRET-KEY-PQ-"))
        {
            assert!(i.parse::<age::x25519::Identity>().is_err(), "{}", v.name);
        }
    }
}
