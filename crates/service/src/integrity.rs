//! What a node trusts about its own history: only its signatures.
//!
//! Whoever can write the database can change any row, recompute commitments and leaves, and
//! rewrite the unsigned `checkpoints.size` and `root` columns. What they cannot make without the
//! node key is a signed note. So the events are only ever compared with the size and root
//! *inside* a verified note, never with a column.
//!
//! The latest signed checkpoint is also kept outside the database, in the head file beside it
//! (fsynced before any answer it covers is sent). A database that holds fewer events than the
//! head says — restored from an old backup, or whose WAL was lost after a crash — is refused
//! instead of silently reusing case numbers and log indexes and signing a fork.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use custos_ledger::checkpoint::Checkpoint;
use custos_ledger::{Hash, SignerKey, VerifierKey};
use custos_store::StoredCheckpoint;

/// The file (in the node directory) holding the latest checkpoint the node signed.
pub const HEAD_FILE: &str = "log-head";
/// The file (in the node directory) holding the node's verifier key, written by `custos init`,
/// so an audit needs no private key.
pub const VERIFIER_FILE: &str = "node.vkey";

/// A history the node's signatures contradict. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// A note that should be the node's does not verify.
    #[error(
        "{source_name} does not hold a checkpoint signed by this node's key ({detail}): it was replaced. Run `custos audit`."
    )]
    BadSignature {
        /// Where the note came from.
        source_name: &'static str,
        /// Why it does not verify.
        detail: String,
    },
    /// Fewer events than the node once signed.
    #[error(
        "the database holds {held} events, but {source_name} is a checkpoint the node signed over {signed}: the database was rolled back, \
         or its WAL file went missing after a crash (keep custos.db, custos.db-wal and custos.db-shm together). \
         Restore the database as the node last left it, then run `custos audit`; see README, \"When the node refuses to start\"."
    )]
    RolledBack {
        /// Events in the database.
        held: u64,
        /// Size the node signed.
        signed: u64,
        /// Where that signature is kept.
        source_name: &'static str,
    },
    /// The events give another root than the node signed.
    #[error(
        "the events give a different tree root at size {size} than {source_name}, which the node signed: the history was rewritten. Run `custos audit` to see which events."
    )]
    Rewritten {
        /// The signed size.
        size: u64,
        /// Where that signature is kept.
        source_name: &'static str,
    },
    /// Events no signature covers.
    #[error(
        "events {from} to {last} are covered by no checkpoint signed with this node's key: they were added outside the node. Run `custos audit`."
    )]
    Unsigned {
        /// First unsigned index.
        from: u64,
        /// Last unsigned index.
        last: u64,
    },
    /// The head file cannot be read.
    #[error("cannot read {}: {detail}", path.display())]
    HeadUnreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
}

/// Verifies a checkpoint note under the node key and returns what it signs.
pub fn open_note(note: &str, origin: &str, vkey: &VerifierKey) -> Result<Checkpoint, String> {
    Checkpoint::open(note, origin, std::slice::from_ref(vkey))
        .map(|(cp, _)| cp)
        .map_err(|e| e.to_string())
}

/// Checks a tree of `size` leaves (with `root_at` giving its root at any smaller size) against
/// the latest checkpoint stored in the database and against the head file's note. Every event
/// must be covered by a note the node signed, and no signed note may be ahead of the events or
/// disagree with them. Returns the verified checkpoint the tree ends at, if any.
pub fn check_history(
    size: u64,
    root_at: impl Fn(u64) -> Option<Hash>,
    latest_row: Option<&StoredCheckpoint>,
    head: Option<&str>,
    origin: &str,
    vkey: &VerifierKey,
) -> Result<Option<Checkpoint>, HistoryError> {
    if let Some(note) = head {
        check_note(size, &root_at, note, "the head file", origin, vkey)?;
    }
    let latest = match latest_row {
        None => None,
        Some(row) => Some(check_note(
            size,
            &root_at,
            &row.note,
            "the database's latest checkpoint",
            origin,
            vkey,
        )?),
    };
    let covered = latest.as_ref().map_or(0, |cp| cp.size);
    if covered < size {
        return Err(HistoryError::Unsigned {
            from: covered,
            last: size - 1,
        });
    }
    Ok(latest)
}

/// Checks a tree of `size` leaves against the head file's note alone: the note must verify,
/// not be ahead of the events, and agree with them.
pub fn check_head(
    size: u64,
    root_at: impl Fn(u64) -> Option<Hash>,
    head: &str,
    origin: &str,
    vkey: &VerifierKey,
) -> Result<(), HistoryError> {
    check_note(size, &root_at, head, "the head file", origin, vkey).map(|_| ())
}

/// One signed note against a tree of `size` leaves: it verifies, is not ahead of the events,
/// and gives their root.
fn check_note(
    size: u64,
    root_at: &impl Fn(u64) -> Option<Hash>,
    note: &str,
    source_name: &'static str,
    origin: &str,
    vkey: &VerifierKey,
) -> Result<Checkpoint, HistoryError> {
    let cp = open_note(note, origin, vkey).map_err(|detail| HistoryError::BadSignature {
        source_name,
        detail,
    })?;
    if cp.size > size {
        return Err(HistoryError::RolledBack {
            held: size,
            signed: cp.size,
            source_name,
        });
    }
    if root_at(cp.size) != Some(cp.root) {
        return Err(HistoryError::Rewritten {
            size: cp.size,
            source_name,
        });
    }
    Ok(cp)
}

/// The head file holds two slots of this size; each write goes to the slot not holding the
/// newest head, so a write torn by a crash can only lose the head being written (whose answers
/// were not sent yet), never the one before it.
const SLOT: usize = 4096;
const MAGIC: &[u8; 8] = b"CUSTOSH1";

fn slot_bytes(note: &str) -> Option<Vec<u8>> {
    use sha2::Digest as _;
    let len = u32::try_from(note.len()).ok()?;
    let mut b = Vec::with_capacity(SLOT);
    b.extend_from_slice(MAGIC);
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(note.as_bytes());
    let digest = sha2::Sha256::digest(&b);
    b.extend_from_slice(&digest);
    (b.len() <= SLOT).then_some(b)
}

fn parse_slot(b: &[u8]) -> Option<String> {
    use sha2::Digest as _;
    let len = u32::from_le_bytes(b.get(8..12)?.try_into().ok()?) as usize;
    let end = 12usize.checked_add(len)?;
    let (body, digest) = (b.get(..end)?, b.get(end..end + 32)?);
    (body.starts_with(MAGIC) && sha2::Sha256::digest(body).as_slice() == digest)
        .then(|| String::from_utf8(body[12..].to_vec()).ok())
        .flatten()
}

/// The intact slots of a head file, with the size each claims.
fn slots(bytes: &[u8]) -> [Option<(u64, String)>; 2] {
    [0, 1].map(|i| {
        let note = parse_slot(bytes.get(i * SLOT..(i + 1) * SLOT)?)?;
        Some((claimed_size(&note)?, note))
    })
}

/// The head file's note (the newest intact slot), if the node directory has one.
pub fn read_head(dir: &Path) -> Result<Option<String>, HistoryError> {
    let path = dir.join(HEAD_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(HistoryError::HeadUnreadable {
                path,
                detail: e.to_string(),
            });
        }
    };
    let newest = slots(&bytes)
        .into_iter()
        .flatten()
        .max_by_key(|(size, _)| *size);
    match newest {
        Some((_, note)) => Ok(Some(note)),
        None => Err(HistoryError::HeadUnreadable {
            path,
            detail: "neither of its two slots is intact; restore it from a backup of the node directory, or remove it to trust the database's latest checkpoint (`custos audit` first)".into(),
        }),
    }
}

/// The size a note claims, without verifying it (only to pick a slot and to avoid moving the
/// head backwards).
fn claimed_size(note: &str) -> Option<u64> {
    note.lines().nth(1).and_then(|l| l.parse().ok())
}

/// Makes `note` the head, durably: written over the older of the head file's two slots and
/// fdatasynced (one flush, as cheap as one SQLite commit; a rename would cost three). A head
/// already further along is kept: other processes (a CLI write beside a running node, or
/// another `custos serve` on the same PostgreSQL database) may have signed a larger tree
/// meanwhile. Writers hold an exclusive `flock` from reading the slots to the flush, so two
/// processes never pick the same slot and the head never moves backwards.
pub fn write_head(dir: &Path, note: &str) -> std::io::Result<()> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let bytes = slot_bytes(note).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "checkpoint note too large for the head file",
        )
    })?;
    let new_size = claimed_size(note).unwrap_or(0);
    let path = dir.join(HEAD_FILE);
    let created = !path.exists();
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)?;
    // Released when `f` is closed, also by a process killed mid-write.
    rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)?;
    let mut old = Vec::with_capacity(2 * SLOT);
    f.read_to_end(&mut old)?;
    let current = slots(&old);
    let newest = match (&current[0], &current[1]) {
        (Some((a, _)), Some((b, _))) => Some(if a >= b { 0 } else { 1 }),
        (Some(_), None) => Some(0),
        (None, Some(_)) => Some(1),
        (None, None) => None,
    };
    if let Some(i) = newest
        && current[i]
            .as_ref()
            .is_some_and(|(size, _)| *size > new_size)
    {
        return Ok(());
    }
    let target = newest.map_or(0, |i| 1 - i);
    f.set_len((2 * SLOT) as u64)?;
    f.seek(SeekFrom::Start((target * SLOT) as u64))?;
    let mut padded = bytes;
    padded.resize(SLOT, 0);
    f.write_all(&padded)?;
    f.sync_data()?;
    if created {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// The node's verifier key: `vkey` if given (a key, or a file holding one), else the one kept in
/// the node directory ([`VERIFIER_FILE`]), else derived from the private key (node directories
/// made before the verifier file existed).
pub fn verifier_key(
    dir: &Path,
    key_file: &Path,
    vkey: Option<&str>,
) -> anyhow::Result<VerifierKey> {
    use anyhow::Context as _;
    if let Some(v) = vkey {
        if let Ok(k) = VerifierKey::parse(v.trim()) {
            return Ok(k);
        }
        let text = std::fs::read_to_string(v).with_context(|| {
            format!("--vkey {v:?} is neither a verifier key (name+id+key) nor a readable file")
        })?;
        return VerifierKey::parse(text.trim())
            .with_context(|| format!("{v} does not hold a verifier key (name+id+key)"));
    }
    let path = dir.join(VERIFIER_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => VerifierKey::parse(text.trim())
            .with_context(|| format!("{} does not hold a verifier key", path.display())),
        Err(_) => Ok(read_key(&dir.join(key_file))
            .with_context(|| {
                format!(
                    "no {VERIFIER_FILE} in {} and no readable node key: pass --vkey with the node's published verifier key",
                    dir.display()
                )
            })?
            .verifier()),
    }
}

/// Reads the node's signing key.
pub fn read_key(path: &Path) -> anyhow::Result<SignerKey> {
    use anyhow::Context as _;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the node key {}", path.display()))?;
    SignerKey::parse(text.trim())
        .with_context(|| format!("{} is not a C2SP signed-note private key", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use custos_ledger::{MemoryStore, MerkleTree, SignerKey};

    const ORIGIN: &str = "test.example/log";

    fn key() -> SignerKey {
        SignerKey::from_seed(ORIGIN, &[7; 32]).unwrap()
    }

    fn tree(n: u8) -> MerkleTree<MemoryStore> {
        let mut t = MerkleTree::new(MemoryStore::new());
        for i in 0..n {
            t.append(&[i]).unwrap();
        }
        t
    }

    fn signed(t: &MerkleTree<MemoryStore>, size: u64) -> StoredCheckpoint {
        let root = t.root_at(size).unwrap();
        StoredCheckpoint {
            size,
            root,
            note: Checkpoint::new(ORIGIN, size, root).sign(&[&key()]).unwrap(),
            signed_at: jiff::Timestamp::UNIX_EPOCH,
        }
    }

    fn run(
        t: &MerkleTree<MemoryStore>,
        row: Option<&StoredCheckpoint>,
        head: Option<&str>,
    ) -> Result<Option<Checkpoint>, HistoryError> {
        check_history(
            t.size().unwrap(),
            |s| t.root_at(s).ok(),
            row,
            head,
            ORIGIN,
            &key().verifier(),
        )
    }

    #[test]
    fn a_history_its_signatures_cover_passes() {
        let t = tree(5);
        let cp = signed(&t, 5);
        let head = signed(&t, 3);
        assert_eq!(
            run(&t, Some(&cp), Some(&head.note)).unwrap().unwrap().size,
            5
        );
        assert!(run(&tree(0), None, None).unwrap().is_none());
    }

    #[test]
    fn the_columns_are_never_trusted_only_the_note() {
        let t = tree(5);
        let mut cp = signed(&t, 4);
        // The unsigned columns claim the whole tree; the note says 4.
        cp.size = 5;
        cp.root = t.root().unwrap();
        assert!(matches!(
            run(&t, Some(&cp), None),
            Err(HistoryError::Unsigned { from: 4, last: 4 })
        ));
    }

    #[test]
    fn a_rewritten_event_contradicts_the_signed_root() {
        let t = tree(5);
        let cp = signed(&t, 5);
        let mut forged = tree(4);
        forged.append(b"forged").unwrap();
        let forged_cp = signed(&forged, 5);
        assert!(matches!(
            run(&forged, Some(&forged_cp), Some(&cp.note)),
            Err(HistoryError::Rewritten { size: 5, .. })
        ));
        // Even with the columns recomputed, a note the forger signed with another key fails.
        let other = SignerKey::from_seed(ORIGIN, &[8; 32]).unwrap();
        let mut row = forged_cp.clone();
        row.note = Checkpoint::new(ORIGIN, 5, forged.root().unwrap())
            .sign(&[&other])
            .unwrap();
        assert!(matches!(
            run(&forged, Some(&row), None),
            Err(HistoryError::BadSignature { .. })
        ));
    }

    #[test]
    fn a_database_behind_its_head_is_rolled_back() {
        let t = tree(5);
        let head = signed(&t, 5);
        let old = tree(3);
        let row = signed(&old, 3);
        let err = run(&old, Some(&row), Some(&head.note)).unwrap_err();
        assert!(matches!(
            err,
            HistoryError::RolledBack {
                held: 3,
                signed: 5,
                ..
            }
        ));
        assert!(err.to_string().contains("rolled back"));
        assert!(err.to_string().contains("custos.db-wal"));
    }

    #[test]
    fn a_torn_write_loses_only_the_head_being_written() {
        let dir = tempfile::tempdir().unwrap();
        let t = tree(6);
        write_head(dir.path(), &signed(&t, 5).note).unwrap();
        write_head(dir.path(), &signed(&t, 6).note).unwrap();
        let path = dir.path().join(HEAD_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        // The newest slot (the second write went to slot 1) torn by a crash.
        bytes[SLOT + 20] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let head = read_head(dir.path()).unwrap().unwrap();
        assert_eq!(claimed_size(&head), Some(5));
        // Both slots gone: said, not guessed.
        bytes[20] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let err = read_head(dir.path()).unwrap_err().to_string();
        assert!(err.contains("neither of its two slots is intact"), "{err}");
    }

    #[test]
    fn the_head_never_moves_backwards() {
        let dir = tempfile::tempdir().unwrap();
        let t = tree(5);
        write_head(dir.path(), &signed(&t, 5).note).unwrap();
        write_head(dir.path(), &signed(&t, 2).note).unwrap();
        let head = read_head(dir.path()).unwrap().unwrap();
        assert_eq!(claimed_size(&head), Some(5));
        write_head(dir.path(), &signed(&tree(6), 6).note).unwrap();
        assert_eq!(
            claimed_size(&read_head(dir.path()).unwrap().unwrap()),
            Some(6)
        );
    }

    #[test]
    fn a_writer_waits_while_another_process_writes_the_head() {
        // Processes of one node directory each write the head after their own commits: the
        // file lock keeps two of them from reading the same slots and writing the same one.
        let dir = tempfile::tempdir().unwrap();
        let t = tree(6);
        write_head(dir.path(), &signed(&t, 5).note).unwrap();
        let held = std::fs::File::open(dir.path().join(HEAD_FILE)).unwrap();
        rustix::fs::flock(&held, rustix::fs::FlockOperation::LockExclusive).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let (path, note) = (dir.path().to_owned(), signed(&t, 6).note);
        let writer = std::thread::spawn(move || {
            write_head(&path, &note).unwrap();
            tx.send(()).unwrap();
        });
        assert!(
            rx.recv_timeout(std::time::Duration::from_millis(300))
                .is_err(),
            "wrote the head while another writer held it"
        );
        drop(held);
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("the head is written once the other writer is done");
        writer.join().unwrap();
        assert_eq!(
            claimed_size(&read_head(dir.path()).unwrap().unwrap()),
            Some(6)
        );
    }
}
