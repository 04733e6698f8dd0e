//! Witnessed checkpoints (issue 14, part 2; C2SP tlog-witness and tlog-cosignature). In the
//! background of `custos serve`, at most once a second, the node takes its newest signed
//! checkpoint and asks every configured witness to cosign it (`POST <url>/add-checkpoint`: `old
//! <size>`, the consistency proof from the size that witness last cosigned, a blank line, the
//! checkpoint). Each answer's cosignature is verified with the configured key before it is kept.
//! The newest checkpoint with a quorum of cosignatures is written to the file [`COSIGNED_FILE`]
//! beside the head file (fsynced, renamed into place) and served by `/log/checkpoint`: the
//! node's signature line, then the witnesses'.
//!
//! Intake never waits for witnesses: the writer keeps signing (and fsyncing the head file) per
//! batch as before; this task only reads the latest checkpoint. A witness down or refusing is
//! logged and retried with backoff; a refusal that says the witness saw another history (422:
//! the consistency proof fails, or a 409 naming a size larger than the node's log) is a split
//! view, logged at error level and shown to staff (`GET /v1/log/witnesses`).

use std::path::Path;
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use custos_ledger::Hash;
use custos_ledger::checkpoint::Checkpoint;
use custos_ledger::cosignature::{Cosignature, WitnessVerifierKey};
use jiff::Timestamp;

use crate::config::Config;
use crate::log::NodeLog;

/// The file (in the node directory) holding the newest checkpoint with a quorum of
/// cosignatures, so that a restarted node serves it at once.
pub const COSIGNED_FILE: &str = "log-cosigned";

/// How long the node waits for one witness's answer.
pub const WITNESS_TIMEOUT: Duration = Duration::from_secs(3);

/// How often the node looks for a newer checkpoint to have cosigned.
pub const COSIGN_INTERVAL: Duration = Duration::from_secs(1);

/// One configured witness.
#[derive(Debug, Clone)]
pub struct Witness {
    /// The name people see (the entry's `name`, else the key's name).
    pub name: String,
    /// Its submission prefix.
    pub url: String,
    /// Its cosignature/v1 verifier key.
    pub key: WitnessVerifierKey,
}

/// What the node knows of one witness.
#[derive(Debug, Clone, Default)]
pub struct WitnessState {
    /// The size of the last checkpoint this witness cosigned for the node, as far as the node
    /// knows (a 409 corrects it).
    pub cosigned_size: Option<u64>,
    /// When the node last received its valid cosignature.
    pub cosigned_at: Option<Timestamp>,
    /// The last failure, said for staff (no key material, no request content).
    pub last_error: Option<String>,
    /// When it happened.
    pub last_error_at: Option<Timestamp>,
    /// The witness's last refusal said it saw another history of this log.
    pub split_view: bool,
    /// Failures since the last cosignature (the backoff's step).
    pub failures: u32,
    /// No new attempt before this time (after a failure).
    pub next_attempt_at: Option<Timestamp>,
}

/// A checkpoint with a quorum of cosignatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigned {
    /// Its tree size.
    pub size: u64,
    /// The note: the checkpoint, the node's signature line, then the witnesses' lines.
    pub note: String,
    /// How many witnesses' cosignatures it carries.
    pub cosignatures: usize,
}

/// Cosignatures collected for one node checkpoint, one slot per witness.
#[derive(Debug, Default)]
struct Pending {
    size: u64,
    note: String,
    lines: Vec<Option<String>>,
}

/// The node's witnesses, what it knows of each, and the newest cosigned checkpoint.
#[derive(Debug)]
pub struct Witnesses {
    witnesses: Vec<Witness>,
    quorum: usize,
    state: Mutex<Vec<WitnessState>>,
    pending: Mutex<Pending>,
    cosigned: RwLock<Option<Cosigned>>,
    client: reqwest::Client,
}

/// A witness's answer to `add-checkpoint`, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A cosignature by the configured key that verifies on the checkpoint.
    Cosigned {
        /// The signature line (without its newline).
        line: String,
        /// Its timestamp (POSIX seconds).
        timestamp: u64,
    },
    /// 409: the witness last cosigned another size (it says which).
    Conflict {
        /// The size it last cosigned.
        size: u64,
    },
    /// Refused (4xx/5xx other than 409).
    Refused {
        /// The HTTP status.
        status: u16,
        /// The start of its body, for staff.
        detail: String,
        /// 422: the witness holds a checkpoint this one is not consistent with.
        split_view: bool,
    },
    /// An answer that is not what the protocol says, or a cosignature that does not verify.
    Invalid {
        /// Why.
        detail: String,
    },
}

/// The body of an `add-checkpoint` request (C2SP tlog-witness): `old <size>`, one base64 hash
/// per line of the consistency proof, a blank line, the signed checkpoint.
pub fn add_checkpoint_body(old: u64, proof: &[Hash], checkpoint_note: &str) -> String {
    let mut body = format!("old {old}\n");
    for h in proof {
        body.push_str(&h.to_base64());
        body.push('\n');
    }
    body.push('\n');
    body.push_str(checkpoint_note);
    body
}

/// The checkpoint's text (origin, size, root and extensions): what a cosignature signs.
fn checkpoint_text(note: &str) -> Option<&str> {
    note.rfind("\n\n").map(|i| &note[..=i])
}

/// Reads a witness's answer to `add-checkpoint` for `checkpoint_note`: the status, the body,
/// and the witness's configured key. Only a line by that key that verifies is kept; lines by
/// other keys are ignored, as the protocol asks.
pub fn read_answer(
    status: u16,
    body: &[u8],
    checkpoint_note: &str,
    key: &WitnessVerifierKey,
) -> Answer {
    let text = String::from_utf8_lossy(body);
    match status {
        200 => {
            let Some(cp_text) = checkpoint_text(checkpoint_note) else {
                return Answer::Invalid {
                    detail: "the node's checkpoint is not a signed note".into(),
                };
            };
            let mut last_failure = None;
            for line in text.lines().filter(|l| !l.is_empty()) {
                match verify_line(key, cp_text, line) {
                    Ok(Some(timestamp)) => {
                        return Answer::Cosigned {
                            line: line.to_owned(),
                            timestamp,
                        };
                    }
                    Ok(None) => {}
                    Err(e) => last_failure = Some(e),
                }
            }
            Answer::Invalid {
                detail: last_failure.unwrap_or_else(|| {
                    format!(
                        "200 without a cosignature by {} (key id {:08x})",
                        key.name(),
                        key.key_id()
                    )
                }),
            }
        }
        409 => match text.trim_end_matches('\n').parse::<u64>() {
            Ok(size) if text.ends_with('\n') => Answer::Conflict { size },
            _ => Answer::Invalid {
                detail: format!("409 without a tree size: {:?}", shorten(&text)),
            },
        },
        _ => Answer::Refused {
            status,
            detail: shorten(&text),
            split_view: status == 422,
        },
    }
}

/// One line of a witness's answer: `Ok(Some(timestamp))` when it is a valid cosignature by
/// `key` on `cp_text`, `Ok(None)` when it is another key's, `Err` when it claims to be by `key`
/// and does not verify.
pub fn verify_line(
    key: &WitnessVerifierKey,
    cp_text: &str,
    line: &str,
) -> Result<Option<u64>, String> {
    let claims_key = line
        .strip_prefix("\u{2014} ")
        .and_then(|rest| rest.split_once(' '))
        .is_some_and(|(name, _)| name == key.name());
    let c = match Cosignature::parse_line(line) {
        Ok(c) => c,
        Err(e) if claims_key => {
            return Err(format!(
                "a line by {} that is not a cosignature: {e}",
                key.name()
            ));
        }
        Err(_) => return Ok(None),
    };
    if c.name != key.name() || c.key_id != key.key_id() {
        return Ok(None);
    }
    if key.verify(cp_text, &c) {
        Ok(Some(c.timestamp))
    } else {
        Err(format!(
            "the cosignature of {} does not verify over this checkpoint",
            key.name()
        ))
    }
}

fn shorten(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// The served note: the node's signed checkpoint, then each cosignature line.
pub fn cosigned_note<'a>(node_note: &str, lines: impl IntoIterator<Item = &'a str>) -> String {
    let mut note = node_note.to_owned();
    for l in lines {
        note.push_str(l);
        note.push('\n');
    }
    note
}

/// The wait after `failures` failures in a row: 1 s, doubling, at most 60 s.
pub fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.saturating_sub(1).min(6)).min(Duration::from_secs(60))
}

/// A cosigned note checked against the node's key and log and the configured witnesses:
/// the node's signature verifies, the tree holds its size and root, and at least `quorum` of
/// `witnesses` cosigned it. Returns the checkpoint and which witnesses cosigned.
pub fn check_cosigned(
    note: &str,
    log: &NodeLog,
    witnesses: &[Witness],
    quorum: usize,
) -> Result<(Checkpoint, Vec<Option<String>>), String> {
    let cp = crate::integrity::open_note(note, log.origin(), &log.verifier())?;
    if cp.size > log.tree_size() || log.root_at(cp.size).ok() != Some(cp.root) {
        return Err(format!(
            "its checkpoint (size {}) is not one of this log's",
            cp.size
        ));
    }
    let text = checkpoint_text(note).ok_or("not a signed note")?;
    let lines: Vec<Option<String>> = witnesses
        .iter()
        .map(|w| {
            note[text.len() + 1..]
                .lines()
                .find(|l| matches!(verify_line(&w.key, text, l), Ok(Some(_))))
                .map(str::to_owned)
        })
        .collect();
    let count = lines.iter().flatten().count();
    if count < quorum {
        return Err(format!(
            "{count} valid cosignature(s) of the configured witnesses, {quorum} needed"
        ));
    }
    Ok((cp, lines))
}

impl Witnesses {
    /// The configured witnesses, and the cosigned checkpoint of [`COSIGNED_FILE`] if it is
    /// still one of this log's with a quorum of the configured witnesses (else it is ignored,
    /// with a warning, and the next cosigned checkpoint replaces it).
    pub fn load(dir: &Path, config: &Config, log: &NodeLog) -> anyhow::Result<Witnesses> {
        let keys = config.check_witnesses()?;
        let witnesses: Vec<Witness> = config
            .witnesses
            .iter()
            .zip(keys)
            .map(|(w, key)| Witness {
                name: w.name.clone().unwrap_or_else(|| key.name().to_owned()),
                url: w.url.trim_end_matches('/').to_owned(),
                key,
            })
            .collect();
        let quorum = config.quorum();
        let mut state = vec![WitnessState::default(); witnesses.len()];
        let mut cosigned = None;
        let path = dir.join(COSIGNED_FILE);
        if !witnesses.is_empty()
            && let Ok(note) = std::fs::read_to_string(&path)
        {
            match check_cosigned(&note, log, &witnesses, quorum) {
                Ok((cp, lines)) => {
                    for (s, l) in state.iter_mut().zip(&lines) {
                        if l.is_some() {
                            s.cosigned_size = Some(cp.size);
                        }
                    }
                    cosigned = Some(Cosigned {
                        size: cp.size,
                        cosignatures: lines.iter().flatten().count(),
                        note,
                    });
                }
                Err(e) => tracing::warn!(
                    file = %path.display(),
                    problem = %e,
                    "the stored cosigned checkpoint is not used; the next one replaces it"
                ),
            }
        }
        let client = reqwest::Client::builder()
            .timeout(WITNESS_TIMEOUT)
            .build()
            .map_err(|e| anyhow::anyhow!("cannot make the witnesses' HTTP client: {e}"))?;
        Ok(Witnesses {
            witnesses,
            quorum,
            state: Mutex::new(state),
            pending: Mutex::new(Pending::default()),
            cosigned: RwLock::new(cosigned),
            client,
        })
    }

    /// No witness configured: the node serves its own checkpoints, as before.
    pub fn is_empty(&self) -> bool {
        self.witnesses.is_empty()
    }

    /// The configured witnesses, in the configuration's order.
    pub fn witnesses(&self) -> &[Witness] {
        &self.witnesses
    }

    /// Cosignatures a served checkpoint needs.
    pub fn quorum(&self) -> usize {
        self.quorum
    }

    /// What the node knows of each witness, in the configuration's order.
    pub fn states(&self) -> Vec<WitnessState> {
        self.state.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The newest checkpoint with a quorum of cosignatures.
    pub fn cosigned(&self) -> Option<Cosigned> {
        self.cosigned.read().ok().and_then(|c| c.clone())
    }

    /// One round at `now`: asks every witness that has not cosigned the newest checkpoint (and
    /// whose backoff has passed) to cosign it, keeps the valid cosignatures, and when they reach
    /// the quorum writes and serves the cosigned checkpoint. Never touches the writer.
    pub async fn round(&self, dir: &Path, log: &NodeLog, now: Timestamp) {
        self.round_beside(dir, log, now, log.tree_size()).await;
    }

    /// [`Witnesses::round`] for a process beside others on one database, which holds
    /// `database_size` events: a witness that cosigned a larger tree than this process's
    /// but no larger than the database's was asked by another process of the node, not shown
    /// another history. This process takes those events in within a second and asks again.
    pub async fn round_beside(
        &self,
        dir: &Path,
        log: &NodeLog,
        now: Timestamp,
        database_size: u64,
    ) {
        if self.witnesses.is_empty() {
            return;
        }
        let Some(cp) = log.checkpoint() else { return };
        let due: Vec<(usize, Option<u64>)> = {
            let (Ok(mut pending), Ok(state)) = (self.pending.lock(), self.state.lock()) else {
                return;
            };
            if pending.size != cp.size || pending.note != cp.note {
                *pending = Pending {
                    size: cp.size,
                    note: cp.note.clone(),
                    lines: vec![None; self.witnesses.len()],
                };
            }
            (0..self.witnesses.len())
                .filter(|&i| pending.lines[i].is_none())
                .filter(|&i| state[i].next_attempt_at.is_none_or(|t| t <= now))
                .map(|i| (i, state[i].cosigned_size))
                .collect()
        };
        if due.is_empty() {
            return;
        }
        let (note, size) = (cp.note.as_str(), cp.size);
        let asks = due.into_iter().map(|(i, old)| async move {
            (i, self.ask(i, log, note, size, old, database_size).await)
        });
        let answers = futures_util::future::join_all(asks).await;
        let mut complete = None;
        {
            let (Ok(mut pending), Ok(mut state)) = (self.pending.lock(), self.state.lock()) else {
                return;
            };
            for (i, outcome) in answers {
                let w = &self.witnesses[i];
                let s = &mut state[i];
                match outcome {
                    Ok(line) => {
                        s.cosigned_size = Some(cp.size);
                        s.cosigned_at = Some(now);
                        s.failures = 0;
                        s.next_attempt_at = None;
                        s.split_view = false;
                        if pending.size == cp.size {
                            pending.lines[i] = Some(line);
                        }
                    }
                    Err(failure) if failure.behind => {
                        // Ahead of this process, not of the node: no backoff, no alarm.
                        s.cosigned_size = failure.witness_size;
                        s.next_attempt_at = None;
                    }
                    Err(failure) => {
                        s.failures = s.failures.saturating_add(1);
                        let wait = backoff(s.failures);
                        s.next_attempt_at = now
                            .checked_add(jiff::SignedDuration::try_from(wait).unwrap_or_default())
                            .ok();
                        s.last_error = Some(failure.detail.clone());
                        s.last_error_at = Some(now);
                        s.split_view = failure.split_view;
                        if let Some(size) = failure.witness_size {
                            s.cosigned_size = Some(size);
                        }
                        if failure.split_view {
                            tracing::error!(
                                witness = %w.name,
                                url = %w.url,
                                size = cp.size,
                                problem = %failure.detail,
                                "SPLIT VIEW: a witness refuses this node's checkpoint as inconsistent with a checkpoint of this log it holds; someone was shown another history of the log. Keep the node and the witness as they are and investigate."
                            );
                        } else {
                            tracing::warn!(
                                witness = %w.name,
                                url = %w.url,
                                size = cp.size,
                                problem = %failure.detail,
                                retry_in_seconds = wait.as_secs(),
                                "a witness did not cosign the checkpoint; retrying with backoff"
                            );
                        }
                    }
                }
            }
            let count = pending.lines.iter().flatten().count();
            let served = self.cosigned().map_or((0, 0), |c| (c.size, c.cosignatures));
            if pending.size == cp.size
                && count >= self.quorum
                && (cp.size > served.0 || (cp.size == served.0 && count > served.1))
            {
                complete = Some(Cosigned {
                    size: cp.size,
                    note: cosigned_note(
                        &cp.note,
                        pending.lines.iter().flatten().map(String::as_str),
                    ),
                    cosignatures: count,
                });
            }
        }
        if let Some(c) = complete {
            if let Err(e) = write_cosigned(dir, &c.note).await {
                tracing::warn!(problem = %e, "cannot write the cosigned checkpoint; it is served but a restart would serve the one before");
            }
            if let Ok(mut slot) = self.cosigned.write()
                && slot.as_ref().is_none_or(|old| old.size <= c.size)
            {
                *slot = Some(c);
            }
        }
    }

    /// Asks witness `i` to cosign the checkpoint `note` of `size`, from the size it last
    /// cosigned (`old`, else 0); after a 409 once more from the size it names.
    async fn ask(
        &self,
        i: usize,
        log: &NodeLog,
        note: &str,
        size: u64,
        old: Option<u64>,
        database_size: u64,
    ) -> Result<String, Failure> {
        let w = &self.witnesses[i];
        let mut old = old.unwrap_or(0);
        for attempt in 0..2 {
            if old > size && old <= database_size {
                return Err(Failure {
                    detail: format!(
                        "the witness has cosigned {old} leaves, from another process of this node; this one holds {size}"
                    ),
                    split_view: false,
                    witness_size: Some(old),
                    behind: true,
                });
            }
            if old > size {
                return Err(Failure {
                    detail: format!(
                        "the witness has cosigned a tree of {old} leaves of this log, larger than the node's {size}: it was shown another history, or the node's was rolled back"
                    ),
                    split_view: true,
                    witness_size: Some(old),
                    behind: false,
                });
            }
            let proof = if old == 0 || old == size {
                Vec::new()
            } else {
                log.consistency(old, size)
                    .map_err(|e| {
                        Failure::plain(format!("no consistency proof {old} → {size}: {e}"))
                    })?
                    .path
            };
            let body = add_checkpoint_body(old, &proof, note);
            let resp = self
                .client
                .post(format!("{}/add-checkpoint", w.url))
                .body(body)
                .send()
                .await
                .map_err(|e| Failure::plain(format!("POST {}/add-checkpoint: {e}", w.url)))?;
            let status = resp.status().as_u16();
            let bytes = resp
                .bytes()
                .await
                .map_err(|e| Failure::plain(format!("reading the answer of {}: {e}", w.url)))?;
            match read_answer(status, &bytes, note, &w.key) {
                Answer::Cosigned { line, .. } => return Ok(line),
                Answer::Conflict { size: theirs } if attempt == 0 => old = theirs,
                Answer::Conflict { size: theirs } => {
                    return Err(Failure {
                        detail: format!(
                            "409 twice: the witness now says it last cosigned {theirs}"
                        ),
                        split_view: false,
                        witness_size: Some(theirs),
                        behind: false,
                    });
                }
                Answer::Refused {
                    status,
                    detail,
                    split_view,
                } => {
                    return Err(Failure {
                        detail: format!("{status} from {}/add-checkpoint: {detail}", w.url),
                        split_view,
                        witness_size: None,
                        behind: false,
                    });
                }
                Answer::Invalid { detail } => return Err(Failure::plain(detail)),
            }
        }
        Err(Failure::plain("unreachable: two attempts made".into()))
    }
}

/// Why a witness did not cosign.
#[derive(Debug)]
struct Failure {
    detail: String,
    split_view: bool,
    witness_size: Option<u64>,
    /// The witness holds a larger tree of this node, from another of its processes.
    behind: bool,
}

impl Failure {
    fn plain(detail: String) -> Failure {
        Failure {
            detail,
            split_view: false,
            witness_size: None,
            behind: false,
        }
    }
}

/// Writes the cosigned note to [`COSIGNED_FILE`]: a temporary file, fsynced, renamed over the
/// old one, and the directory fsynced, so a crash leaves one whole note or the one before.
/// The temporary name is the process's own (several processes of a node share the directory),
/// and a file already holding a larger tree is left as it is.
pub async fn write_cosigned(dir: &Path, note: &str) -> std::io::Result<()> {
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = dir.to_owned();
    let note = note.to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::Write as _;
        let size = |n: &str| n.lines().nth(1).and_then(|l| l.parse::<u64>().ok());
        if let Ok(current) = std::fs::read_to_string(dir.join(COSIGNED_FILE))
            && size(&current) > size(&note)
        {
            return Ok(());
        }
        let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = dir.join(format!("{COSIGNED_FILE}.{}-{n}.new", std::process::id()));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(note.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, dir.join(COSIGNED_FILE))?;
        std::fs::File::open(&dir)?.sync_all()
    })
    .await
    .map_err(std::io::Error::other)?
}

#[cfg(test)]
mod tests {
    use custos_ledger::cosignature::WitnessSignerKey;
    use custos_ledger::{Checkpoint, SignerKey, leaf_hash};

    use super::*;

    const ORIGIN: &str = "custos.test/log";

    fn node_note(size: u64) -> String {
        let key = SignerKey::from_seed(ORIGIN, &[9; 32]).unwrap();
        Checkpoint::new(ORIGIN, size, leaf_hash(&size.to_be_bytes()))
            .sign(&[&key])
            .unwrap()
    }

    fn witness(name: &str, seed: u8) -> WitnessSignerKey {
        WitnessSignerKey::from_seed(name, &[seed; 32]).unwrap()
    }

    #[test]
    fn only_the_asked_witnesss_valid_cosignature_is_kept() {
        let note = node_note(5);
        let text = checkpoint_text(&note).unwrap();
        let (w1, w2) = (witness("w1.example/w", 1), witness("w2.example/w", 2));
        let line = w1.cosignature_line(text, 1_790_000_000).unwrap();
        let other = w2.cosignature_line(text, 1_790_000_000).unwrap();
        // Another witness's line first is ignored; the asked witness's is kept.
        assert_eq!(
            read_answer(
                200,
                format!("{other}{line}").as_bytes(),
                &note,
                &w1.verifier()
            ),
            Answer::Cosigned {
                line: line.trim_end().to_owned(),
                timestamp: 1_790_000_000
            }
        );
        // Only another witness's line: nothing of the one asked.
        assert!(matches!(
            read_answer(200, other.as_bytes(), &note, &w1.verifier()),
            Answer::Invalid { .. }
        ));
        // Its line over another checkpoint does not verify over this one.
        let elsewhere = w1
            .cosignature_line(checkpoint_text(&node_note(6)).unwrap(), 1)
            .unwrap();
        let Answer::Invalid { detail } =
            read_answer(200, elsewhere.as_bytes(), &note, &w1.verifier())
        else {
            panic!("a cosignature over other bytes must not be kept")
        };
        assert!(detail.contains("does not verify"), "{detail}");
    }

    #[test]
    fn refusals_are_read_by_status() {
        let note = node_note(5);
        let key = witness("w1.example/w", 1).verifier();
        assert_eq!(
            read_answer(409, b"17\n", &note, &key),
            Answer::Conflict { size: 17 }
        );
        for bad in [&b"seventeen\n"[..], b"17"] {
            assert!(matches!(
                read_answer(409, bad, &note, &key),
                Answer::Invalid { .. }
            ));
        }
        // 422: the witness holds a checkpoint this one is not consistent with.
        assert!(matches!(
            read_answer(422, b"consistency proof does not verify", &note, &key),
            Answer::Refused {
                status: 422,
                split_view: true,
                ..
            }
        ));
        for status in [400, 403, 404, 500] {
            assert!(matches!(
                read_answer(status, b"no", &note, &key),
                Answer::Refused {
                    split_view: false,
                    ..
                }
            ));
        }
    }

    #[test]
    fn the_request_body_is_old_size_proof_blank_line_checkpoint() {
        let h = leaf_hash(b"x");
        let note = node_note(5);
        assert_eq!(
            add_checkpoint_body(3, &[h, h], &note),
            format!("old 3\n{0}\n{0}\n\n{note}", h.to_base64())
        );
        assert_eq!(
            add_checkpoint_body(0, &[], &note),
            format!("old 0\n\n{note}")
        );
    }

    #[test]
    fn backoff_doubles_from_one_second_to_a_minute() {
        let steps: Vec<u64> = (1..=9).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(steps, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }

    #[test]
    fn the_served_note_is_the_nodes_then_each_witness_line() {
        let note = node_note(5);
        let served = cosigned_note(&note, ["\u{2014} w1 AAAA", "\u{2014} w2 BBBB"]);
        assert_eq!(
            served,
            format!("{note}\u{2014} w1 AAAA\n\u{2014} w2 BBBB\n")
        );
    }
}
