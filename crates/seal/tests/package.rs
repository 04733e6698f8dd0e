//! Sealing and unsealing for real: round trips at several sizes, the four tampering cases, and
//! unsafe archives. Packages are rebuilt by hand (decrypt, change the tar, re-encrypt to the same
//! public recipient — which anyone can do) to show that the signed manifest catches it.

use std::io::Read;
use std::ops::ControlFlow;
use std::path::Path;

use age::x25519;
use custos_ledger::{SignerKey, VerifierKey};
use custos_model::{DataCategory, Period};
use custos_seal::{
    FileToSeal, SealReport, SealSpec, UnsealError, UnsealOptions, UnsealReport, Verification,
    open_package, seal, unseal,
};
use jiff::Timestamp;
use sha2::{Digest, Sha256};

fn signer() -> SignerKey {
    SignerKey::from_seed("custos.example/node", &[7u8; 32]).unwrap()
}

fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

fn seal_files(
    dir: &Path,
    files: &[(&str, Vec<u8>)],
    to: &x25519::Recipient,
) -> (Vec<u8>, SealReport) {
    let mut specs = Vec::new();
    for (name, bytes) in files {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let mut f = FileToSeal::new(&path).unwrap();
        f.target = Some("target-1".into());
        f.data_category = Some(DataCategory::Traffic);
        f.period = Some(Period {
            from: "2026-01-01T00:00:00Z".parse().unwrap(),
            to: "2026-02-01T00:00:00Z".parse().unwrap(),
        });
        specs.push(f);
    }
    let key = signer();
    let recipients = [to.clone()];
    let spec = SealSpec {
        request_id: "REQ-2026-0001",
        producer: "Example Provider",
        sealed_at: Timestamp::from_second(1_790_000_000).unwrap(),
        files: &specs,
        targets: &[],
        recipients: &recipients,
        signer: &key,
    };
    let mut out = Vec::new();
    let mut seen = 0u64;
    let report = seal(&spec, &mut out, &mut |n| {
        seen += n;
        ControlFlow::Continue(())
    })
    .unwrap();
    let total: usize = files.iter().map(|(_, b)| b.len()).sum();
    assert_eq!(seen, total as u64, "progress counts every byte");
    (out, report)
}

fn open(
    package: &[u8],
    id: &x25519::Identity,
    out: &Path,
    verifier: Option<&VerifierKey>,
    allow_unverified: bool,
) -> Result<UnsealReport, UnsealError> {
    let options = UnsealOptions {
        verifier,
        allow_unverified,
        expected_request_id: None,
    };
    unseal(
        package,
        &[id as &dyn age::Identity],
        out,
        &options,
        &mut |_| ControlFlow::Continue(()),
    )
}

/// Names under `dir`, sorted (hidden temporary files included).
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

#[test]
fn round_trips_at_several_sizes() {
    let tmp = tempfile::tempdir().unwrap();
    let id = x25519::Identity::generate();
    let sizes = [
        0usize,
        1,
        511,
        512,
        513,
        (1 << 20) - 1,
        (1 << 20) + 1,
        5 << 20,
    ];
    let files: Vec<(String, Vec<u8>)> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| (format!("file-{i}-{n}.bin"), data(n, i as u64)))
        .collect();
    let refs: Vec<(&str, Vec<u8>)> = files.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let (package, report) = seal_files(&src, &refs, &id.to_public());

    assert_eq!(report.package_size, package.len() as u64);
    assert_eq!(
        report.package_blake3,
        blake3::hash(&package).to_hex().as_str(),
        "format v2: the package is logged by the BLAKE3 of its bytes"
    );
    assert_eq!(report.manifest.files.len(), sizes.len());
    assert_eq!(report.recipients, vec![id.to_public().to_string()]);

    let out = tmp.path().join("out");
    let verifier = signer().verifier();
    let unsealed = open(&package, &id, &out, Some(&verifier), false).unwrap();
    assert_eq!(unsealed.package_blake3, report.package_blake3);
    assert_eq!(unsealed.package_sha256, hex(&Sha256::digest(&package)));
    let Verification::Verified {
        manifest,
        manifest_sha256,
        ..
    } = &unsealed.verification
    else {
        panic!("verified");
    };
    assert_eq!(manifest, &report.manifest);
    assert_eq!(manifest_sha256, &report.manifest_sha256);
    for (name, bytes) in &files {
        assert_eq!(&std::fs::read(out.join(name)).unwrap(), bytes, "{name}");
    }
    assert_eq!(listing(&out).len(), files.len(), "no temporary files left");
}

#[test]
fn the_manifest_is_canonical_signed_and_last() {
    let tmp = tempfile::tempdir().unwrap();
    let id = x25519::Identity::generate();
    let (package, report) =
        seal_files(tmp.path(), &[("a.txt", b"hello".to_vec())], &id.to_public());
    let entries = plaintext_entries(&package, &id);
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["a.txt", "manifest.json", "manifest.sig"]);
    let manifest = &entries[1].1;
    assert_eq!(hex(&Sha256::digest(manifest)), report.manifest_sha256);
    let value: serde_json::Value = serde_json::from_slice(manifest).unwrap();
    assert_eq!(value["format"], "custos.manifest/v2");
    assert_eq!(value["files"][0]["sha256"], hex(&Sha256::digest(b"hello")));
    assert_eq!(value["files"][0]["data_category"], "traffic");
    assert_eq!(&serde_json_canonicalizer::to_vec(&value).unwrap(), manifest);
    assert!(String::from_utf8_lossy(&entries[2].1).starts_with("\u{2014} custos.example/node "));
}

fn plaintext_entries(package: &[u8], id: &x25519::Identity) -> Vec<(String, Vec<u8>)> {
    let plain = open_package(package, &[id as &dyn age::Identity]).unwrap();
    let mut archive = tar::Archive::new(plain);
    let mut out = Vec::new();
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let mut bytes = Vec::new();
        e.read_to_end(&mut bytes).unwrap();
        out.push((name, bytes));
    }
    out
}

/// A tar of raw entries (the name is written as given, unchecked), encrypted to `to`.
fn package_of(entries: &[(&str, tar::EntryType, &[u8])], to: &x25519::Recipient) -> Vec<u8> {
    let mut tar_bytes = Vec::new();
    for (name, kind, bytes) in entries {
        let mut h = tar::Header::new_gnu();
        let field = &mut h.as_old_mut().name;
        field[..name.len()].copy_from_slice(name.as_bytes());
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(*kind);
        if *kind == tar::EntryType::Symlink {
            h.set_link_name("/etc/passwd").unwrap();
        }
        h.set_cksum();
        tar_bytes.extend_from_slice(h.as_bytes());
        tar_bytes.extend_from_slice(bytes);
        tar_bytes.resize(tar_bytes.len().div_ceil(512) * 512, 0);
    }
    tar_bytes.extend_from_slice(&[0u8; 1024]);
    encrypt(&tar_bytes, to)
}

fn encrypt(plain: &[u8], to: &x25519::Recipient) -> Vec<u8> {
    use std::io::Write;
    let enc = age::Encryptor::with_recipients(std::iter::once(to as &dyn age::Recipient)).unwrap();
    let mut out = Vec::new();
    let mut w = enc.wrap_output(&mut out).unwrap();
    w.write_all(plain).unwrap();
    w.finish().unwrap();
    out
}

/// Decrypts a package, changes one entry, re-encrypts it to the same recipient.
fn rebuild(
    package: &[u8],
    id: &x25519::Identity,
    name: &str,
    change: impl Fn(&mut Vec<u8>),
) -> Vec<u8> {
    let mut entries = plaintext_entries(package, id);
    let target = entries.iter_mut().find(|(n, _)| n == name).unwrap();
    change(&mut target.1);
    let raw: Vec<(&str, tar::EntryType, &[u8])> = entries
        .iter()
        .map(|(n, b)| (n.as_str(), tar::EntryType::Regular, b.as_slice()))
        .collect();
    package_of(&raw, &id.to_public())
}

fn two_files(tmp: &Path, id: &x25519::Identity) -> Vec<u8> {
    seal_files(
        tmp,
        &[("a.bin", data(70_000, 1)), ("b.bin", data(3_000, 2))],
        &id.to_public(),
    )
    .0
}

#[test]
fn tampered_a_flipped_ciphertext_byte_is_refused_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let id = x25519::Identity::generate();
    let mut package = two_files(tmp.path(), &id);
    let mid = package.len() / 2;
    package[mid] ^= 0x01;
    let out = tmp.path().join("out");
    let err = open(&package, &id, &out, Some(&signer().verifier()), false).unwrap_err();
    assert!(matches!(err, UnsealError::Payload { .. }), "{err}");
    assert!(
        err.to_string().contains("ciphertext does not authenticate"),
        "{err}"
    );
    assert!(
        listing(&out).is_empty(),
        "nothing kept: {:?}",
        listing(&out)
    );
}

#[test]
fn tampered_a_swapped_file_is_refused_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let id = x25519::Identity::generate();
    let package = two_files(tmp.path(), &id);
    let swapped = rebuild(&package, &id, "b.bin", |b| *b = data(b.len(), 99));
    let out = tmp.path().join("out");
    let err = open(&swapped, &id, &out, Some(&signer().verifier()), false).unwrap_err();
    assert!(
        matches!(&err, UnsealError::FileMismatch { path, .. } if path == "b.bin"),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("\"b.bin\" does not match the manifest: SHA-256"),
        "{msg}"
    );
    assert!(
        listing(&out).is_empty(),
        "nothing kept: {:?}",
        listing(&out)
    );
}

#[test]
fn tampered_an_altered_manifest_is_refused_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let id = x25519::Identity::generate();
    let package = two_files(tmp.path(), &id);
    let altered = rebuild(&package, &id, "manifest.json", |m| {
        let s = String::from_utf8(m.clone()).unwrap();
        *m = s.replace("REQ-2026-0001", "REQ-2026-0002").into_bytes();
    });
    let out = tmp.path().join("out");
    let err = open(&altered, &id, &out, Some(&signer().verifier()), false).unwrap_err();
    assert!(matches!(err, UnsealError::BadSignature { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("manifest signature does not verify"),
        "{err}"
    );
    assert!(
        listing(&out).is_empty(),
        "nothing kept: {:?}",
        listing(&out)
    );
}

#[test]
fn tampered_a_package_for_another_recipient_is_refused_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let them = x25519::Identity::generate();
    let me = x25519::Identity::generate();
    let package = two_files(tmp.path(), &them);
    let out = tmp.path().join("out");
    let err = open(&package, &me, &out, Some(&signer().verifier()), false).unwrap_err();
    assert!(matches!(err, UnsealError::NoMatchingIdentity), "{err}");
    assert!(
        err.to_string().contains("not sealed for this identity"),
        "{err}"
    );
}

#[test]
fn a_manifest_signed_by_another_key_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let id = x25519::Identity::generate();
    let package = two_files(tmp.path(), &id);
    let other = SignerKey::from_seed("other.example/node", &[9u8; 32])
        .unwrap()
        .verifier();
    let err = open(&package, &id, &tmp.path().join("out"), Some(&other), false).unwrap_err();
    assert!(matches!(err, UnsealError::WrongSigner { .. }), "{err}");
    let err = open(&package, &id, &tmp.path().join("out2"), None, false).unwrap_err();
    assert!(matches!(err, UnsealError::NoVerifier), "{err}");
}

#[test]
fn an_added_or_removed_file_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let id = x25519::Identity::generate();
    let package = two_files(tmp.path(), &id);
    let mut entries = plaintext_entries(&package, &id);
    let manifest_and_sig = entries.split_off(2);
    let mut added = entries.clone();
    added.push(("c.bin".into(), b"extra".to_vec()));
    added.extend(manifest_and_sig.iter().cloned());
    let raw: Vec<(&str, tar::EntryType, &[u8])> = added
        .iter()
        .map(|(n, b)| (n.as_str(), tar::EntryType::Regular, b.as_slice()))
        .collect();
    let err = open(
        &package_of(&raw, &id.to_public()),
        &id,
        &tmp.path().join("o1"),
        Some(&signer().verifier()),
        false,
    )
    .unwrap_err();
    assert!(
        matches!(&err, UnsealError::UnlistedFile(n) if n == "c.bin"),
        "{err}"
    );

    let mut removed = vec![entries[0].clone()];
    removed.extend(manifest_and_sig.iter().cloned());
    let raw: Vec<(&str, tar::EntryType, &[u8])> = removed
        .iter()
        .map(|(n, b)| (n.as_str(), tar::EntryType::Regular, b.as_slice()))
        .collect();
    let err = open(
        &package_of(&raw, &id.to_public()),
        &id,
        &tmp.path().join("o2"),
        Some(&signer().verifier()),
        false,
    )
    .unwrap_err();
    assert!(
        matches!(&err, UnsealError::MissingFile(n) if n == "b.bin"),
        "{err}"
    );
}

#[test]
fn a_plain_tar_reports_no_manifest_unless_unverified_is_allowed() {
    let tmp = tempfile::tempdir().unwrap();
    let id = x25519::Identity::generate();
    let package = package_of(
        &[
            ("notes.txt", tar::EntryType::Regular, b"hi"),
            ("d", tar::EntryType::Directory, b""),
        ],
        &id.to_public(),
    );
    let out = tmp.path().join("out");
    let err = open(&package, &id, &out, None, false).unwrap_err();
    assert!(matches!(err, UnsealError::NoManifest), "{err}");
    assert!(
        err.to_string()
            .starts_with("no manifest present: contents are unverified")
    );
    assert!(!out.join("notes.txt").exists());
    let report = open(&package, &id, &out, None, true).unwrap();
    assert!(matches!(report.verification, Verification::Unverified));
    assert_eq!(std::fs::read(out.join("notes.txt")).unwrap(), b"hi");
}

#[test]
fn unsafe_entries_are_refused() {
    let cases: [(&str, tar::EntryType, &str); 6] = [
        (
            "../evil",
            tar::EntryType::Regular,
            "outside the output directory",
        ),
        (
            "a/../../evil",
            tar::EntryType::Regular,
            "outside the output directory",
        ),
        ("/etc/evil", tar::EntryType::Regular, "absolute path"),
        ("link", tar::EntryType::Symlink, "links are not allowed"),
        (
            "fifo",
            tar::EntryType::Fifo,
            "only regular files and directories",
        ),
        ("x.custos-partial", tar::EntryType::Regular, "reserved"),
    ];
    let id = x25519::Identity::generate();
    for (name, kind, says) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let package = package_of(
            &[
                ("ok.txt", tar::EntryType::Regular, b"fine"),
                (name, kind, b"payload"),
            ],
            &id.to_public(),
        );
        let out = tmp.path().join("out");
        let err = open(&package, &id, &out, None, true).unwrap_err();
        assert!(
            matches!(err, UnsealError::UnsafeEntry { .. }),
            "{name}: {err}"
        );
        assert!(err.to_string().contains(says), "{name}: {err}");
        assert!(
            listing(&out).is_empty(),
            "{name}: nothing kept: {:?}",
            listing(&out)
        );
        assert!(!tmp.path().join("evil").exists());
    }
    let tmp = tempfile::tempdir().unwrap();
    let package = package_of(
        &[
            ("same", tar::EntryType::Regular, b"one"),
            ("./same", tar::EntryType::Regular, b"two"),
        ],
        &id.to_public(),
    );
    let err = open(&package, &id, &tmp.path().join("out"), None, true).unwrap_err();
    assert!(matches!(err, UnsealError::DuplicateEntry(_)), "{err}");
}

#[test]
fn sealing_refuses_bad_names_and_duplicates() {
    let tmp = tempfile::tempdir().unwrap();
    let id = x25519::Identity::generate();
    let a = tmp.path().join("manifest.json");
    std::fs::write(&a, b"x").unwrap();
    let key = signer();
    let recipients = [id.to_public()];
    let mut spec = SealSpec {
        request_id: "R",
        producer: "P",
        sealed_at: Timestamp::now(),
        files: &[],
        targets: &[],
        recipients: &recipients,
        signer: &key,
    };
    let files = [FileToSeal::new(&a).unwrap()];
    spec.files = &files;
    let err = seal(&spec, Vec::new(), &mut |_| ControlFlow::Continue(())).unwrap_err();
    assert!(err.to_string().contains("reserved"), "{err}");
    let b = tmp.path().join("b");
    std::fs::write(&b, b"x").unwrap();
    let files = [FileToSeal::new(&b).unwrap(), FileToSeal::new(&b).unwrap()];
    spec.files = &files;
    let err = seal(&spec, Vec::new(), &mut |_| ControlFlow::Continue(())).unwrap_err();
    assert!(
        err.to_string().contains("two files would both be named"),
        "{err}"
    );
    let files = [FileToSeal::new(tmp.path().join("missing")).unwrap()];
    spec.files = &files;
    let err = seal(&spec, Vec::new(), &mut |_| ControlFlow::Continue(())).unwrap_err();
    assert!(
        err.to_string().contains("cannot read the file to seal"),
        "{err}"
    );
}

#[test]
fn the_targets_covered_are_signed_in_the_manifest_and_absent_when_none_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let id = x25519::Identity::generate();
    let path = tmp.path().join("a.csv");
    std::fs::write(&path, b"x").unwrap();
    let files = [FileToSeal::new(&path).unwrap()];
    let (key, recipients) = (signer(), [id.to_public()]);
    let targets = ["+15550100".to_owned(), "user@mail.example".to_owned()];
    let spec = SealSpec {
        request_id: "R",
        producer: "P",
        sealed_at: Timestamp::from_second(1_790_000_000).unwrap(),
        files: &files,
        targets: &targets,
        recipients: &recipients,
        signer: &key,
    };
    let mut package = Vec::new();
    let report = seal(&spec, &mut package, &mut |_| ControlFlow::Continue(())).unwrap();
    assert_eq!(report.manifest.targets, targets);
    let verifier = key.verifier();
    let opened = open(
        &package,
        &id,
        &tmp.path().join("out"),
        Some(&verifier),
        false,
    )
    .unwrap();
    let Verification::Verified { manifest, .. } = opened.verification else {
        panic!("not verified: {:?}", opened.verification);
    };
    assert_eq!(manifest.targets, targets);
    // None named: the manifest has no `targets` key, byte for byte as before.
    let none = SealSpec {
        targets: &[],
        ..spec
    };
    let report = seal(&none, Vec::new(), &mut |_| ControlFlow::Continue(())).unwrap();
    let json = String::from_utf8(report.manifest.canonical()).unwrap();
    assert!(!json.contains("targets"), "{json}");
}

#[test]
fn a_cancelled_seal_stops_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("big.bin");
    std::fs::write(&path, data(3 << 20, 9)).unwrap();
    let files = [FileToSeal::new(&path).unwrap()];
    let key = signer();
    let recipients = [x25519::Identity::generate().to_public()];
    let spec = SealSpec {
        request_id: "REQ-2026-0001",
        producer: "Example Provider",
        sealed_at: Timestamp::from_second(1_790_000_000).unwrap(),
        files: &files,
        targets: &[],
        recipients: &recipients,
        signer: &key,
    };
    let mut calls = 0;
    let err = seal(&spec, Vec::new(), &mut |_| {
        calls += 1;
        if calls == 2 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .unwrap_err();
    assert!(matches!(err, custos_seal::SealError::Cancelled), "{err}");
    assert_eq!(calls, 2, "nothing is read after the stop");
}

#[test]
fn a_cancelled_unseal_keeps_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let id = x25519::Identity::generate();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let (package, _) = seal_files(
        &src,
        &[("a.bin", data(3 << 20, 1)), ("b.bin", data(10, 2))],
        &id.to_public(),
    );
    let out = tmp.path().join("out");
    let verifier = signer().verifier();
    let options = UnsealOptions {
        verifier: Some(&verifier),
        allow_unverified: false,
        expected_request_id: None,
    };
    let err = unseal(
        &package[..],
        &[&id as &dyn age::Identity],
        &out,
        &options,
        &mut |_| ControlFlow::Break(()),
    )
    .unwrap_err();
    assert!(matches!(err, UnsealError::Cancelled), "{err}");
    assert_eq!(
        listing(&out),
        Vec::<String>::new(),
        "no file, not even a temporary one"
    );
}

/// A package sealed by `custos seal` before format v2 (testdata/evidence/v1; how it was made is in
/// its README): it still opens, and its SHA-256 is still what the log of a v1 node records.
#[test]
fn a_package_of_format_v1_still_opens() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/evidence/v1");
    let package = std::fs::read(dir.join("package.age")).unwrap();
    let identity: x25519::Identity = std::fs::read_to_string(dir.join("identity.txt"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap()
        .parse()
        .unwrap();
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("seal-report.json")).unwrap())
            .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let verifier = VerifierKey::parse(
        std::fs::read_to_string(dir.join("verifier.txt"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    let report = open(&package, &identity, tmp.path(), Some(&verifier), false).unwrap();
    assert_eq!(
        report.package_sha256,
        expected["package_sha256"].as_str().unwrap()
    );
    let Verification::Verified { manifest, .. } = &report.verification else {
        panic!("verified");
    };
    assert_eq!(manifest.format, custos_seal::MANIFEST_FORMAT_V1);
    assert_eq!(
        std::fs::read(tmp.path().join("evidence.txt")).unwrap(),
        b"subscriber record of the v1 fixture\n"
    );
}
