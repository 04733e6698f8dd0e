//! The tlog-witness protocol in process (tower `oneshot` on the router), over checkpoints built
//! with custos-ledger's tree and a test log key: every status the spec gives, durability, the
//! split view kept as evidence, and concurrent calls serialised.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use custos_ledger::cosignature::{WitnessSignerKey, verify_cosignatures};
use custos_ledger::note::SignerKey;
use custos_ledger::{Checkpoint, MemoryStore, MerkleTree, empty_root};
use custos_witness::request::AddCheckpoint;
use custos_witness::{Clock, Witness, router};
use tower::ServiceExt as _;

const ORIGIN: &str = "custos.example/log";

/// A log: a tree and its key.
struct Log {
    tree: MerkleTree<MemoryStore>,
    key: SignerKey,
}

impl Log {
    fn new(leaves: &[&str]) -> Log {
        let mut tree = MerkleTree::new(MemoryStore::new());
        for l in leaves {
            tree.append(l.as_bytes()).unwrap();
        }
        Log {
            tree,
            key: SignerKey::from_seed(ORIGIN, &[1; 32]).unwrap(),
        }
    }
    /// The log's signed checkpoint at `size`.
    fn checkpoint(&self, size: u64) -> String {
        Checkpoint::new(ORIGIN, size, self.tree.root_at(size).unwrap())
            .sign(&[&self.key])
            .unwrap()
    }
    /// The add-checkpoint body from `old` to `new`, with this log's proof.
    fn body(&self, old: u64, new: u64) -> String {
        let proof = if old == 0 {
            Vec::new()
        } else {
            self.tree.consistency_proof(old, new).unwrap().path
        };
        AddCheckpoint {
            old,
            proof,
            checkpoint: self.checkpoint(new),
        }
        .to_body()
    }
}

fn leaves(n: usize, tag: &str) -> Vec<String> {
    (0..n).map(|i| format!("{tag}{i}")).collect()
}

fn log_of(v: &[String]) -> Log {
    Log::new(&v.iter().map(String::as_str).collect::<Vec<_>>())
}

struct Fixture {
    tmp: tempfile::TempDir,
    key: WitnessSignerKey,
    clock: Arc<AtomicU64>,
    witness: Arc<Witness>,
}

fn open(dir: &Path, key: &WitnessSignerKey, clock: &Arc<AtomicU64>) -> Arc<Witness> {
    let log_key = SignerKey::from_seed(ORIGIN, &[1; 32]).unwrap().verifier();
    let c = clock.clone();
    let clock: Clock = Arc::new(move || c.load(Ordering::SeqCst));
    Arc::new(Witness::open(dir, key.clone(), &[log_key], clock).unwrap())
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let key = WitnessSignerKey::from_seed("witness.example/w1", &[7; 32]).unwrap();
        let clock = Arc::new(AtomicU64::new(1_800_000_000));
        let witness = open(tmp.path(), &key, &clock);
        Fixture {
            tmp,
            key,
            clock,
            witness,
        }
    }

    fn reopen(&mut self) {
        self.witness = open(self.tmp.path(), &self.key, &self.clock);
    }

    async fn post(&self, body: &str) -> (StatusCode, Option<String>, String) {
        let resp = router(self.witness.clone())
            .oneshot(
                Request::post("/add-checkpoint")
                    .body(Body::from(body.to_owned()))
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = resp.status();
        let ct = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, ct, String::from_utf8(bytes.to_vec()).unwrap())
    }

    /// Posts and asserts a cosignature that verifies over the checkpoint, at the clock's time.
    async fn cosigned(&self, log: &Log, old: u64, new: u64) {
        let (status, _, lines) = self.post(&log.body(old, new)).await;
        assert_eq!(status, StatusCode::OK, "{lines}");
        let note = format!("{}{lines}", log.checkpoint(new));
        let got = verify_cosignatures(&note, &[self.key.verifier()]).unwrap();
        assert_eq!(got.len(), 1, "{lines}");
        assert_eq!(got[0].timestamp, self.clock.load(Ordering::SeqCst));
        assert_eq!(self.witness.held_size(ORIGIN), Some(new));
    }

    fn evidence(&self) -> Vec<std::path::PathBuf> {
        let root = self.tmp.path().join("evidence");
        let mut out = Vec::new();
        let Ok(logs) = std::fs::read_dir(root) else {
            return out;
        };
        for l in logs {
            for e in std::fs::read_dir(l.unwrap().path()).unwrap() {
                out.push(e.unwrap().path());
            }
        }
        out.sort();
        out
    }
}

#[tokio::test]
async fn first_checkpoint_then_growth_with_a_proof() {
    let mut f = Fixture::new();
    let log = log_of(&leaves(10, "a"));
    f.cosigned(&log, 0, 3).await;
    f.clock.store(1_800_000_100, Ordering::SeqCst);
    f.cosigned(&log, 3, 7).await;
    // The same checkpoint again: cosigned again (same size, same root).
    f.cosigned(&log, 7, 7).await;

    // Stored before answering, and read back after a restart.
    let stored = std::fs::read_to_string(
        f.tmp
            .path()
            .join("logs")
            .join(custos_witness::witness::log_dir_name(ORIGIN))
            .join("checkpoint"),
    )
    .unwrap();
    assert!(stored.starts_with(&log.checkpoint(7)));
    assert_eq!(
        verify_cosignatures(&stored, &[f.key.verifier()])
            .unwrap()
            .len(),
        1
    );
    f.reopen();
    assert_eq!(f.witness.held_size(ORIGIN), Some(7));
    f.cosigned(&log, 7, 10).await;

    // The monitoring read: the latest checkpoint with the log's and the witness's signatures.
    let hash = custos_witness::witness::origin_hash(ORIGIN);
    let resp = router(f.witness.clone())
        .oneshot(
            Request::get(format!("/{hash}/checkpoint"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let note = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    let note = String::from_utf8(note.to_vec()).unwrap();
    assert!(note.starts_with(&log.checkpoint(10)));
    Checkpoint::open(&note, ORIGIN, &[log.key.verifier()]).unwrap();
    let unknown = router(f.witness.clone())
        .oneshot(
            Request::get(format!("/{}/checkpoint", "0".repeat(64)))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_checkpoint_sent_with_an_earlier_cosignature_is_stored_with_one() {
    let f = Fixture::new();
    let log = log_of(&leaves(4, "a"));
    f.cosigned(&log, 0, 4).await;
    let first = f
        .witness
        .latest_by_origin_hash(&custos_witness::witness::origin_hash(ORIGIN))
        .unwrap();
    f.clock.store(1_800_000_500, Ordering::SeqCst);
    let (status, _, line) = f.post(&format!("old 4\n\n{first}")).await;
    assert_eq!(status, StatusCode::OK, "{line}");
    let stored = f
        .witness
        .latest_by_origin_hash(&custos_witness::witness::origin_hash(ORIGIN))
        .unwrap();
    assert_eq!(stored, format!("{}{line}", log.checkpoint(4)));
    let got = verify_cosignatures(&stored, &[f.key.verifier()]).unwrap();
    assert_eq!(got[0].timestamp, 1_800_000_500);
}

#[tokio::test]
async fn wrong_old_size_is_a_conflict_with_the_size_held() {
    let f = Fixture::new();
    let log = log_of(&leaves(10, "a"));
    // Nothing held yet: only old 0 is right.
    let (status, ct, body) = f.post(&log.body(2, 5)).await;
    assert_eq!(
        (status, ct.as_deref(), body.as_str()),
        (StatusCode::CONFLICT, Some("text/x.tlog.size"), "0\n")
    );
    f.cosigned(&log, 0, 5).await;
    let (status, ct, body) = f.post(&log.body(3, 8)).await;
    assert_eq!(
        (status, ct.as_deref(), body.as_str()),
        (StatusCode::CONFLICT, Some("text/x.tlog.size"), "5\n")
    );
    // A client that does not know starts with 0 and learns the size.
    let (status, _, body) = f.post(&log.body(0, 8)).await;
    assert_eq!((status, body.as_str()), (StatusCode::CONFLICT, "5\n"));
    assert_eq!(f.witness.held_size(ORIGIN), Some(5));
}

#[tokio::test]
async fn refusals_with_the_spec_status_codes() {
    let f = Fixture::new();
    let log = log_of(&leaves(10, "a"));
    f.cosigned(&log, 0, 4).await;

    // Signed by another key under the log's name: 403 (a known name and ID whose signature
    // fails would also be 403; an unknown key only is "no known signature").
    let mut forger = log_of(&leaves(10, "a"));
    forger.key = SignerKey::from_seed(ORIGIN, &[2; 32]).unwrap();
    let (status, _, body) = f.post(&forger.body(4, 6)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // The log's own signature over another text: 403.
    let good = log.body(4, 6);
    let (cp_text, sig) = log
        .checkpoint(6)
        .rsplit_once("\n\n")
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .unwrap();
    let tampered_cp = format!("{}\n\n{sig}", cp_text.replace("\n6\n", "\n9\n"));
    let tampered = good.replace(&log.checkpoint(6), &tampered_cp);
    let (status, _, body) = f.post(&tampered).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // An origin the witness is not configured for: 404.
    let other = SignerKey::from_seed("other.example/log", &[3; 32]).unwrap();
    let cp = Checkpoint::new("other.example/log", 1, log.tree.root_at(1).unwrap())
        .sign(&[&other])
        .unwrap();
    let (status, _, body) = f.post(&format!("old 0\n\n{cp}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body.contains("unknown log"), "{body}");

    // A smaller tree than the one held (old above the checkpoint's size): 400.
    let (status, _, body) = f.post(&format!("old 4\n\n{}", log.checkpoint(3))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("larger than"), "{body}");

    // A proof that does not verify: 422.
    let mut bad = AddCheckpoint::parse(&log.body(4, 6)).unwrap();
    bad.proof[0] = custos_ledger::leaf_hash(b"not a node");
    let (status, _, body) = f.post(&bad.to_body()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // Malformed bodies: 400.
    for b in ["", "old x\n\n", "old 4\n!!\n\n", "old 4\n\nnot a note\n"] {
        let (status, _, body) = f.post(b).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{b:?}: {body}");
    }
    // Nothing of that moved the witness.
    assert_eq!(f.witness.held_size(ORIGIN), Some(4));
    f.cosigned(&log, 4, 6).await;
}

#[tokio::test]
async fn empty_tree_rules() {
    let f = Fixture::new();
    let log = log_of(&leaves(4, "a"));
    // Size 0 with another root than the empty tree's: 422.
    let wrong = Checkpoint::new(ORIGIN, 0, log.tree.root_at(1).unwrap())
        .sign(&[&log.key])
        .unwrap();
    let (status, _, body) = f.post(&format!("old 0\n\n{wrong}")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // A proof after old 0: 422.
    let mut with_proof = AddCheckpoint::parse(&log.body(0, 3)).unwrap();
    with_proof.proof.push(empty_root());
    let (status, _, body) = f.post(&with_proof.to_body()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // The empty tree, then growth from it without a proof.
    f.cosigned(&log, 0, 0).await;
    f.cosigned(&log, 0, 3).await;
    assert!(f.evidence().is_empty());
}

#[tokio::test]
async fn split_view_is_refused_and_both_checkpoints_kept() {
    let mut f = Fixture::new();
    // Two histories of one log: the same first 3 entries, then they differ.
    let mut a = leaves(3, "common");
    let mut b = a.clone();
    a.extend(leaves(7, "a"));
    b.extend(leaves(7, "b"));
    let (a, b) = (log_of(&a), log_of(&b));
    f.cosigned(&a, 0, 5).await;

    // The same size, another root.
    let (status, _, body) = f.post(&b.body(5, 5)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("the log signed two histories"), "{body}");
    let ev = f.evidence();
    assert_eq!(ev.len(), 1, "{ev:?}");
    let dir = &ev[0];
    let name = dir.file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with("split-view-size5-vs-size5-"), "{name}");
    assert!(
        dir.parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("custos.example_log-")
    );
    let held = std::fs::read_to_string(dir.join("held.checkpoint")).unwrap();
    assert!(held.starts_with(&a.checkpoint(5)));
    let presented = std::fs::read_to_string(dir.join("presented.request")).unwrap();
    assert_eq!(presented, b.body(5, 5));
    let readme = std::fs::read_to_string(dir.join("README.txt")).unwrap();
    assert!(
        readme.contains(ORIGIN) && readme.contains("split-view"),
        "{readme}"
    );
    // Both are signed by the log: the evidence stands on its own.
    Checkpoint::open(&held, ORIGIN, &[a.key.verifier()]).unwrap();
    let presented = AddCheckpoint::parse(&presented).unwrap();
    Checkpoint::open(&presented.checkpoint, ORIGIN, &[b.key.verifier()]).unwrap();

    // A later checkpoint of the other history, with that history's own proof: refused too.
    let (status, _, body) = f.post(&b.body(5, 8)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(f.evidence().len(), 2);
    assert!(f.evidence().iter().any(|p| {
        p.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("inconsistent-size5-vs-size8-")
    }));
    // The same refused checkpoint again, even with another (wrong) proof, is not kept twice.
    let (status, _, _) = f.post(&b.body(5, 8)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut other_proof = AddCheckpoint::parse(&b.body(5, 8)).unwrap();
    other_proof.proof.reverse();
    let (status, _, _) = f.post(&other_proof.to_body()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(f.evidence().len(), 2);

    // After a restart, still: the other history is refused, the held one goes on.
    f.reopen();
    let (status, _, _) = f.post(&b.body(5, 10)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(f.witness.held_size(ORIGIN), Some(5));
    f.cosigned(&a, 5, 10).await;
    let (status, _, _) = f.post(&b.body(5, 10).replacen("old 5", "old 10", 1)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_for_one_log_are_serialised() {
    for _ in 0..20 {
        let f = Fixture::new();
        let log = log_of(&leaves(20, "a"));
        f.cosigned(&log, 0, 4).await;
        // Two clients both believe the witness holds 4: one to 9, one to 15.
        let (b1, b2) = (log.body(4, 9), log.body(4, 15));
        let (r1, r2) = tokio::join!(f.post(&b1), f.post(&b2));
        let mut statuses = [r1.0, r2.0];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::CONFLICT],
            "{r1:?} {r2:?}"
        );
        let winner = if r1.0 == StatusCode::OK { 9 } else { 15 };
        let loser = if r1.0 == StatusCode::OK { &r2 } else { &r1 };
        assert_eq!(loser.2, format!("{winner}\n"));
        assert_eq!(f.witness.held_size(ORIGIN), Some(winner));
        let stored = std::fs::read_to_string(
            f.tmp
                .path()
                .join("logs")
                .join(custos_witness::witness::log_dir_name(ORIGIN))
                .join("checkpoint"),
        )
        .unwrap();
        assert!(stored.starts_with(&log.checkpoint(winner)));
    }
}

#[test]
fn init_writes_a_0600_key_and_refuses_to_overwrite_it() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("w");
    let vk = custos_witness::init(&dir, "witness.example/w1").unwrap();
    let mode = std::fs::metadata(dir.join("witness.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(custos_witness::load_key(&dir).unwrap().verifier(), vk);
    assert_eq!(
        std::fs::read_to_string(dir.join("witness.vkey")).unwrap(),
        format!("{vk}\n")
    );
    let err = custos_witness::init(&dir, "witness.example/w1")
        .unwrap_err()
        .to_string();
    assert!(err.contains("never overwritten"), "{err}");
    assert_eq!(custos_witness::load_key(&dir).unwrap().verifier(), vk);
    assert!(custos_witness::init(&tmp.path().join("x"), "bad name").is_err());
}
