//! The witness's state and its one decision: cosign a checkpoint, or refuse it.
//!
//! The checks and their answers are the spec's (C2SP tlog-witness, *add-checkpoint*), in its
//! order: a malformed body 400; an unknown origin 404; no valid signature from the log's keys
//! 403; an old size above the checkpoint's 400; a size-0 checkpoint whose root is not the empty
//! tree's 422; an old size that is not the size held 409 (body: the size held); a proof after
//! an old size of 0, a proof that fails, or the same size with another root 422. Only then is
//! the checkpoint stored (durably) and cosigned.
//!
//! Per log, the check against the held checkpoint and the write of the new one happen under
//! one lock, so two concurrent calls can never both be stored (the spec's rollback race).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use custos_ledger::cosignature::WitnessSignerKey;
use custos_ledger::note::{self, NoteError};
use custos_ledger::{Checkpoint, VerifierKey, empty_root, verify_consistency};
use sha2::{Digest as _, Sha256};

use crate::request::{AddCheckpoint, Malformed};

/// The source of cosignature timestamps: POSIX seconds.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| jiff::Timestamp::now().as_second().max(1).unsigned_abs())
}

/// Why a checkpoint was not cosigned. Each maps to the spec's status code ([`Refusal::status`]).
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The body does not follow the format (400).
    #[error(transparent)]
    Malformed(#[from] Malformed),
    /// The checkpoint's origin is not a log this witness is configured for (404).
    #[error("unknown log {0:?}: this witness is not configured for that origin")]
    UnknownLog(String),
    /// No valid signature from the log's configured keys (403).
    #[error("the checkpoint is not validly signed by the log's key: {0}")]
    Signature(String),
    /// The old size is larger than the checkpoint's (400).
    #[error("old size {old} is larger than the checkpoint's size {size}")]
    OldAfterNew {
        /// The old size sent.
        old: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// The old size is not the size of the latest checkpoint cosigned (409).
    #[error(
        "old size {old} is not the size of the latest checkpoint cosigned for this log ({held})"
    )]
    Conflict {
        /// The old size sent.
        old: u64,
        /// The size the witness holds.
        held: u64,
    },
    /// A size-0 checkpoint whose root is not the empty tree's (422).
    #[error("a checkpoint of size 0 must have the root of the empty tree")]
    EmptyTreeRoot,
    /// A proof was sent with an old size of 0 (422).
    #[error("with an old size of 0 the consistency proof must be empty")]
    ProofFromEmpty,
    /// The checkpoint is not consistent with the one held: the proof fails, or the same size has
    /// another root (422). Both checkpoints were kept in `evidence`.
    #[error(
        "not consistent with the checkpoint held for this log (size {held}): {why}; both kept as evidence in {evidence}"
    )]
    Inconsistent {
        /// The size held.
        held: u64,
        /// What failed.
        why: String,
        /// Where the evidence is (the directory, or why it could not be written).
        evidence: String,
    },
    /// The witness could not store the checkpoint or sign (500): nothing was cosigned.
    #[error("the witness could not store the checkpoint: {0}")]
    Storage(String),
}

impl Refusal {
    /// The HTTP status the spec gives this refusal.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Malformed(_) | Refusal::OldAfterNew { .. } => 400,
            Refusal::UnknownLog(_) => 404,
            Refusal::Signature(_) => 403,
            Refusal::Conflict { .. } => 409,
            Refusal::EmptyTreeRoot | Refusal::ProofFromEmpty | Refusal::Inconsistent { .. } => 422,
            Refusal::Storage(_) => 500,
        }
    }
}

/// The latest checkpoint cosigned for one log.
#[derive(Debug, Clone)]
struct Held {
    checkpoint: Checkpoint,
    /// The stored note: the log's signatures and the witness's cosignature.
    note: String,
}

struct Log {
    origin: String,
    keys: Vec<VerifierKey>,
    held: Mutex<Option<Held>>,
}

/// A witness: its key, the logs it is configured for and their latest cosigned checkpoints,
/// kept in its directory (layout: the crate's documentation).
pub struct Witness {
    dir: PathBuf,
    key: WitnessSignerKey,
    logs: BTreeMap<String, Log>,
    clock: Clock,
}

/// The directory name of a log under `logs/` and `evidence/`: its origin made safe for a file
/// name, then the first 8 hex digits of SHA-256(origin) so two origins never share one.
pub fn log_dir_name(origin: &str) -> String {
    let safe: String = origin
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}-{}", &origin_hash(origin)[..8])
}

/// Lower-case hex SHA-256 of an origin (the spec's monitoring path).
pub fn origin_hash(origin: &str) -> String {
    hex::encode(Sha256::digest(origin.as_bytes()))
}

/// Writes `contents` to `path` durably: a temporary file, fsync, rename, fsync of the directory.
pub(crate) fn write_durably(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("a file without a directory"))?;
    fs::create_dir_all(dir)?;
    let tmp = path.with_extension("tmp");
    let mut f = fs::File::create(&tmp)?;
    f.write_all(contents)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, path)?;
    fs::File::open(dir)?.sync_all()
}

impl Witness {
    /// Opens the witness in `dir` with its key, for the logs whose note verifier keys are given
    /// (a log's origin is its key's name; several keys may name one origin), reading each log's
    /// latest cosigned checkpoint.
    pub fn open(
        dir: &Path,
        key: WitnessSignerKey,
        log_keys: &[VerifierKey],
        clock: Clock,
    ) -> Result<Self, std::io::Error> {
        let mut logs: BTreeMap<String, Log> = BTreeMap::new();
        for k in log_keys {
            let log = logs.entry(k.name().to_owned()).or_insert_with(|| Log {
                origin: k.name().to_owned(),
                keys: Vec::new(),
                held: Mutex::new(None),
            });
            if !log.keys.contains(k) {
                log.keys.push(k.clone());
            }
        }
        for log in logs.values_mut() {
            let path = Self::checkpoint_path(dir, &log.origin);
            let note = match fs::read_to_string(&path) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(std::io::Error::other(format!(
                        "cannot read {}: {e}",
                        path.display()
                    )));
                }
            };
            let checkpoint = note::parse(&note)
                .ok()
                .and_then(|(body, _)| Checkpoint::parse(body).ok())
                .filter(|cp| cp.origin == log.origin)
                .ok_or_else(|| {
                    std::io::Error::other(format!(
                        "{} is not a checkpoint of {:?}: restore it from a backup (deleting it \
                         would let the witness cosign a history that contradicts it)",
                        path.display(),
                        log.origin
                    ))
                })?;
            *log.held.get_mut().unwrap_or_else(|e| e.into_inner()) =
                Some(Held { checkpoint, note });
        }
        Ok(Witness {
            dir: dir.to_owned(),
            key,
            logs,
            clock,
        })
    }

    fn checkpoint_path(dir: &Path, origin: &str) -> PathBuf {
        dir.join("logs")
            .join(log_dir_name(origin))
            .join("checkpoint")
    }

    /// The witness's key name.
    pub fn name(&self) -> &str {
        self.key.name()
    }

    /// The witness's verifier key.
    pub fn verifier(&self) -> custos_ledger::WitnessVerifierKey {
        self.key.verifier()
    }

    /// The latest cosigned checkpoint of the log whose origin hashes (SHA-256, lower-case hex)
    /// to `hash`: the log's signatures and the witness's cosignature.
    pub fn latest_by_origin_hash(&self, hash: &str) -> Option<String> {
        let log = self
            .logs
            .values()
            .find(|l| origin_hash(&l.origin) == hash)?;
        let held = log.held.lock().unwrap_or_else(|e| e.into_inner());
        held.as_ref().map(|h| h.note.clone())
    }

    /// The size of the latest checkpoint cosigned for `origin`.
    pub fn held_size(&self, origin: &str) -> Option<u64> {
        let log = self.logs.get(origin)?;
        let held = log.held.lock().unwrap_or_else(|e| e.into_inner());
        held.as_ref().map(|h| h.checkpoint.size)
    }

    /// Handles an add-checkpoint body: returns the cosignature line(s) once the checkpoint is
    /// stored, or why it was refused. Blocking (it fsyncs): call it off the async executor.
    pub fn add_checkpoint(&self, body: &str) -> Result<String, Refusal> {
        let req = AddCheckpoint::parse(body)?;
        let (text, _) = note::parse(&req.checkpoint)
            .map_err(|e| Malformed(format!("the checkpoint is not a signed note: {e}")))?;
        let cp = Checkpoint::parse(text)
            .map_err(|e| Malformed(format!("the note is not a checkpoint: {e}")))?;
        let log = self
            .logs
            .get(&cp.origin)
            .ok_or_else(|| Refusal::UnknownLog(cp.origin.clone()))?;
        match note::open(&req.checkpoint, &log.keys) {
            Ok(_) => {}
            Err(e @ (NoteError::BadSignature { .. } | NoteError::NoKnownSignature)) => {
                return Err(Refusal::Signature(e.to_string()));
            }
            Err(e) => return Err(Malformed(format!("the checkpoint note: {e}")).into()),
        }
        if req.old > cp.size {
            return Err(Refusal::OldAfterNew {
                old: req.old,
                size: cp.size,
            });
        }
        if cp.size == 0 && cp.root != empty_root() {
            return Err(Refusal::EmptyTreeRoot);
        }

        // From here to the write, one call per log at a time.
        let mut held = log.held.lock().unwrap_or_else(|e| e.into_inner());
        let held_size = held.as_ref().map_or(0, |h| h.checkpoint.size);
        if req.old != held_size {
            return Err(Refusal::Conflict {
                old: req.old,
                held: held_size,
            });
        }
        if req.old == 0 && !req.proof.is_empty() {
            return Err(Refusal::ProofFromEmpty);
        }
        if let Some(h) = held.as_ref() {
            let why = if h.checkpoint.size == cp.size {
                (h.checkpoint.root != cp.root).then(|| {
                    "the same tree size with another root hash: the log signed two histories"
                        .to_owned()
                })
            } else if h.checkpoint.size == 0 {
                // The empty tree is consistent with every tree.
                None
            } else {
                verify_consistency(
                    h.checkpoint.size,
                    cp.size,
                    &req.proof,
                    &h.checkpoint.root,
                    &cp.root,
                )
                .err()
                .map(|e| format!("the consistency proof does not verify ({e})"))
            };
            if let Some(why) = why {
                let kind = if h.checkpoint.size == cp.size {
                    "split-view"
                } else {
                    "inconsistent"
                };
                let evidence = self.keep_evidence(kind, h, &cp, body, &why);
                tracing::warn!(
                    origin = %cp.origin,
                    held_size = h.checkpoint.size,
                    presented_size = cp.size,
                    kind,
                    evidence = %evidence,
                    "refused a checkpoint inconsistent with the one held; both kept as evidence"
                );
                return Err(Refusal::Inconsistent {
                    held: h.checkpoint.size,
                    why,
                    evidence,
                });
            }
        }

        let timestamp = (self.clock)();
        let line = self
            .key
            .cosignature_line(text, timestamp)
            .map_err(|e| Refusal::Storage(format!("cannot cosign: {e}")))?;
        let stored = format!("{}{line}", self.without_own_lines(&req.checkpoint));
        write_durably(
            &Self::checkpoint_path(&self.dir, &cp.origin),
            stored.as_bytes(),
        )
        .map_err(|e| {
            tracing::error!(origin = %cp.origin, error = %e, "cannot store a checkpoint");
            Refusal::Storage(e.to_string())
        })?;
        tracing::info!(origin = %cp.origin, size = cp.size, "cosigned a checkpoint");
        *held = Some(Held {
            checkpoint: cp,
            note: stored,
        });
        Ok(line)
    }

    /// The note without signature lines of this witness's key (a client may send a checkpoint
    /// it got cosigned before): the stored note then carries exactly one cosignature of ours.
    fn without_own_lines(&self, note: &str) -> String {
        let Some(split) = note.rfind("\n\n") else {
            return note.to_owned();
        };
        let (text, sigs) = note.split_at(split + 2);
        let own = format!("\u{2014} {} ", self.key.name());
        let mut out = text.to_owned();
        for line in sigs.split_inclusive('\n') {
            let ours = line.starts_with(&own)
                && custos_ledger::cosignature::Cosignature::parse_line(line)
                    .is_ok_and(|c| c.key_id == self.key.key_id());
            if !ours {
                out.push_str(line);
            }
        }
        out
    }

    /// Keeps the held and the presented checkpoints (and the whole request) under
    /// `evidence/<log>/<kind>-<held size>-<presented size>-<hash>/`; returns that directory, or
    /// why it could not be written. The same presented checkpoint is kept once (with the first
    /// request that presented it).
    fn keep_evidence(
        &self,
        kind: &str,
        held: &Held,
        presented: &Checkpoint,
        body: &str,
        why: &str,
    ) -> String {
        // Keyed by the checkpoint, not the whole request: anyone can resend a checkpoint the log
        // signed with ever new wrong proofs, and that must not fill the disk.
        let digest = hex::encode(Sha256::digest(
            presented.to_text().unwrap_or_default().as_bytes(),
        ));
        let dir = self
            .dir
            .join("evidence")
            .join(log_dir_name(&presented.origin))
            .join(format!(
                "{kind}-size{}-vs-size{}-{}",
                held.checkpoint.size,
                presented.size,
                &digest[..12]
            ));
        if dir.join("README.txt").exists() {
            return dir.display().to_string();
        }
        let now = jiff::Timestamp::from_second((self.clock)().min(i64::MAX as u64) as i64)
            .map(|t| t.to_string())
            .unwrap_or_default();
        let readme = format!(
            "Custos witness: evidence of a checkpoint inconsistent with the one cosigned before.\n\
             log origin: {origin}\n\
             refused at: {now}\n\
             kind: {kind}\n\
             what failed: {why}\n\
             held.checkpoint: the latest checkpoint this witness cosigned (size {hs}), with the \
             log's signature and the cosignature.\n\
             presented.request: the add-checkpoint request refused (old size, consistency proof, \
             the checkpoint of size {ps} with the log's signature).\n\
             Both are signed by the log. The same size with two roots proves the log showed two \
             histories. A failed proof between two sizes means the histories forked, unless the \
             client sent a wrong proof: ask the log for the consistency proof between the two \
             sizes and check it against both roots.\n",
            origin = presented.origin,
            hs = held.checkpoint.size,
            ps = presented.size,
        );
        let result = (|| {
            write_durably(&dir.join("held.checkpoint"), held.note.as_bytes())?;
            write_durably(&dir.join("presented.request"), body.as_bytes())?;
            write_durably(&dir.join("README.txt"), readme.as_bytes())
        })();
        match result {
            Ok(()) => dir.display().to_string(),
            Err(e) => {
                tracing::error!(error = %e, dir = %dir.display(), "cannot write split-view evidence");
                format!("(not written: {e})")
            }
        }
    }
}
