//! Checks the crate against public test vectors in `testdata/vectors`:
//! transparency-dev/merkle inclusion and consistency proofs, the RFC 6962
//! reference tree, the C2SP signed-note example, and the RFC 8785 (JCS)
//! canonicalisation vectors.

use std::fs;
use std::path::{Path, PathBuf};

use custos_ledger::commitment::canonicalize_str;
use custos_ledger::note::{self, NoteError, SignerKey, VerifierKey};
use custos_ledger::{
    Hash, MemoryStore, MerkleTree, empty_root, leaf_hash, node_hash, verify_consistency,
    verify_inclusion,
};
use serde_json::Value;

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/vectors")
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
}

fn load(p: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(p).unwrap()).unwrap()
}

/// Decodes a vector's hash. A value that is not 32 bytes of base64 cannot be
/// represented by [`Hash`]; the verification using it counts as failed.
fn hash(v: &Value) -> Option<Hash> {
    Hash::from_base64(v.as_str()?).ok()
}

fn hashes(v: &Value) -> Option<Vec<Hash>> {
    match v {
        Value::Null => Some(Vec::new()),
        Value::Array(a) => a.iter().map(hash).collect(),
        _ => None,
    }
}

/// Vectors that expect success with roots that are not 32-byte hashes. The
/// Go reference compares opaque byte strings when both sizes are equal; our
/// typed API cannot even express such a root, so it rejects at decoding. This
/// is the only accepted divergence, and it is asserted to be exactly that.
const UNREPRESENTABLE_OK: &[&str] = &["sizes-are-equal-one-and-proof-is-empty.json"];

#[test]
fn merkle_inclusion_vectors() {
    let mut files = Vec::new();
    json_files(&vectors().join("merkle/testdata/inclusion"), &mut files);
    assert!(files.len() >= 98, "found only {} vectors", files.len());
    let (mut ok, mut err) = (0, 0);
    for f in &files {
        let v = load(f);
        let want_err = v["wantErr"].as_bool().unwrap();
        let index = v["leafIdx"].as_u64().unwrap();
        let size = v["treeSize"].as_u64().unwrap();
        let result = match (hash(&v["leafHash"]), hash(&v["root"]), hashes(&v["proof"])) {
            (Some(leaf), Some(root), Some(proof)) => {
                verify_inclusion(index, size, &leaf, &proof, &root).is_ok()
            }
            _ => false,
        };
        assert_eq!(result, !want_err, "{}", f.display());
        if want_err { err += 1 } else { ok += 1 }
    }
    assert!(ok > 0 && err > 0);
}

#[test]
fn merkle_consistency_vectors() {
    let mut files = Vec::new();
    json_files(&vectors().join("merkle/testdata/consistency"), &mut files);
    assert!(files.len() >= 98, "found only {} vectors", files.len());
    let mut diverged = Vec::new();
    for f in &files {
        let v = load(f);
        let want_err = v["wantErr"].as_bool().unwrap();
        let size1 = v["size1"].as_u64().unwrap();
        let size2 = v["size2"].as_u64().unwrap();
        let decoded = (hash(&v["root1"]), hash(&v["root2"]), hashes(&v["proof"]));
        let name = f.file_name().unwrap().to_str().unwrap();
        let result = match decoded {
            (Some(r1), Some(r2), Some(proof)) => {
                verify_consistency(size1, size2, &proof, &r1, &r2).is_ok()
            }
            _ if UNREPRESENTABLE_OK.contains(&name) => {
                diverged.push(name.to_owned());
                !want_err
            }
            _ => false,
        };
        assert_eq!(result, !want_err, "{}", f.display());
    }
    assert_eq!(diverged.len(), UNREPRESENTABLE_OK.len());
}

const REFERENCE_LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

const REFERENCE_ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn reference_tree_roots_and_known_hashes() {
    let mut tree = MerkleTree::new(MemoryStore::new());
    assert_eq!(tree.root().unwrap(), empty_root());
    assert_eq!(
        empty_root().to_hex(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    for (leaf, root) in REFERENCE_LEAVES.iter().zip(REFERENCE_ROOTS) {
        tree.append(&unhex(leaf)).unwrap();
        assert_eq!(tree.root().unwrap().to_hex(), root);
    }
    for (n, root) in REFERENCE_ROOTS.iter().enumerate() {
        assert_eq!(tree.root_at(n as u64 + 1).unwrap().to_hex(), *root);
    }
    assert_eq!(leaf_hash(b"").to_hex(), REFERENCE_ROOTS[0]);
    assert_eq!(
        leaf_hash(b"L123456").to_hex(),
        "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    );
    // The known node hash is of the raw strings "N123" and "N456" as
    // children, which are not 32 bytes; compute it by hand with the same
    // domain separation as node_hash and check node_hash agrees on hashes.
    let mut raw = vec![0x01];
    raw.extend_from_slice(b"N123");
    raw.extend_from_slice(b"N456");
    assert_eq!(
        sha256_hex(&raw),
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    );
    let (l, r) = (leaf_hash(b"l"), leaf_hash(b"r"));
    let mut raw = vec![0x01];
    raw.extend_from_slice(&l.0);
    raw.extend_from_slice(&r.0);
    assert_eq!(node_hash(&l, &r).to_hex(), sha256_hex(&raw));
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn generated_proofs_match_reference_vectors() {
    // Proofs the tree generates for the reference tree must be exactly the
    // happy-path proofs in the vectors.
    let mut tree = MerkleTree::new(MemoryStore::new());
    for leaf in REFERENCE_LEAVES {
        tree.append(&unhex(leaf)).unwrap();
    }
    let mut files = Vec::new();
    json_files(&vectors().join("merkle/testdata/inclusion"), &mut files);
    let mut checked = 0;
    for f in files.iter().filter(|f| f.ends_with("happy-path.json")) {
        let v = load(f);
        let (index, size) = (
            v["leafIdx"].as_u64().unwrap(),
            v["treeSize"].as_u64().unwrap(),
        );
        let proof = tree.inclusion_proof(index, size).unwrap();
        assert_eq!(proof.path, hashes(&v["proof"]).unwrap(), "{}", f.display());
        checked += 1;
    }
    let mut files = Vec::new();
    json_files(&vectors().join("merkle/testdata/consistency"), &mut files);
    for f in files.iter().filter(|f| f.ends_with("happy-path.json")) {
        let v = load(f);
        let (s1, s2) = (v["size1"].as_u64().unwrap(), v["size2"].as_u64().unwrap());
        let proof = tree.consistency_proof(s1, s2).unwrap();
        assert_eq!(proof.path, hashes(&v["proof"]).unwrap(), "{}", f.display());
        checked += 1;
    }
    assert!(checked >= 10);
}

#[test]
fn signed_note_vector() {
    let v = load(&vectors().join("signed-note.json"));
    let s = |k: &str| v[k].as_str().unwrap().to_owned();
    let signer = SignerKey::parse(&s("signer_key")).unwrap();
    let verifier = VerifierKey::parse(&s("verifier_key")).unwrap();
    assert_eq!(format!("{:08x}", verifier.key_id()), s("key_id_hex"));
    assert_eq!(signer.verifier(), verifier);
    assert_eq!(verifier.to_string(), s("verifier_key"));
    assert_eq!(signer.to_private_string().as_str(), s("signer_key"));
    assert!(
        !format!("{signer:?}").contains("AYEK"),
        "Debug must not leak the key"
    );

    let text = s("text");
    assert_eq!(signer.signature_line(&text).unwrap(), s("signature_line"));
    assert_eq!(note::sign(&text, &[&signer]).unwrap(), s("note"));

    let opened = note::open(&s("note"), std::slice::from_ref(&verifier)).unwrap();
    assert_eq!(opened.text, text);
    assert_eq!(opened.verified.len(), 1);

    for case in v["must_fail"].as_array().unwrap() {
        let why = case["why"].as_str().unwrap();
        let msg = case["note"]
            .as_str()
            .map_or_else(|| s("note"), str::to_owned);
        let result = match case["verifier_key"].as_str() {
            // A verifier key with a wrong id is rejected when parsed; if it
            // were somehow accepted, it must not verify the note either.
            Some(k) => VerifierKey::parse(k).and_then(|vk| note::open(&msg, &[vk])),
            None => note::open(&msg, std::slice::from_ref(&verifier)),
        };
        assert!(result.is_err(), "must fail: {why}");
    }
}

#[test]
fn signed_note_rejections() {
    let v = load(&vectors().join("signed-note.json"));
    let note_text = v["note"].as_str().unwrap();
    let verifier = VerifierKey::parse(v["verifier_key"].as_str().unwrap()).unwrap();
    let known = std::slice::from_ref(&verifier);
    let other = SignerKey::from_seed("other.example/log", &[9; 32]).unwrap();
    let same_name_other_key = SignerKey::from_seed("PeterNeumann", &[10; 32]).unwrap();

    // Unknown signer only.
    assert_eq!(
        note::open(note_text, &[other.verifier()]),
        Err(NoteError::NoKnownSignature)
    );
    // Extra signatures from unknown keys (even sharing the name) are ignored.
    let text = v["text"].as_str().unwrap();
    let extra = format!(
        "{note_text}{}{}",
        other.signature_line(text).unwrap(),
        same_name_other_key.signature_line(text).unwrap()
    );
    let opened = note::open(&extra, known).unwrap();
    assert_eq!((opened.verified.len(), opened.unknown.len()), (1, 2));
    // Malformed lines.
    for bad in [
        note_text.replace("\u{2014} ", "- "),
        note_text.replace("PeterNeumann ", "PeterNeumann  "),
        note_text.trim_end_matches('\n').to_owned(),
        format!("{note_text}garbage\n"),
        format!("{note_text}\u{2014} PeterNeumann !!!\n"),
        note_text.replace("x08go", "x08gp"),
        note_text.replace("problem is.", "problem\tis."),
    ] {
        assert!(note::open(&bad, known).is_err(), "{bad:?}");
    }
    // Duplicate known signature.
    let sig_line = v["signature_line"].as_str().unwrap();
    assert!(note::open(&format!("{note_text}{sig_line}"), known).is_err());
}

#[test]
fn jcs_vectors() {
    let dir = vectors().join("jcs/testdata");
    let mut names: Vec<_> = fs::read_dir(dir.join("input"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert!(names.len() >= 6);
    for name in names {
        let input = fs::read_to_string(dir.join("input").join(&name)).unwrap();
        let want = fs::read(dir.join("output").join(&name)).unwrap();
        let got = canonicalize_str(&input).unwrap();
        assert_eq!(got.as_bytes(), &want[..], "{name:?}");
    }
}
