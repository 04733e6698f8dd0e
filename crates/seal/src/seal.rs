//! Sealing: files → tar → age, hashed on the way, with flat memory.
//!
//! Three threads joined by bounded channels of fixed-size (1 MiB) buffers, recycled:
//!
//! 1. the caller's thread frames the tar archive, reads each file once and hashes it (SHA-256);
//! 2. an encryption thread runs age's STREAM (ChaCha20-Poly1305, `ring`'s, see `payload.rs`;
//!    the header is the `age` crate's) and hashes the ciphertext with BLAKE3 (the package digest
//!    of format v2) as each 64 KiB chunk comes out of the cipher, while it is still in cache;
//! 3. a writer thread writes the ciphertext out (with [`crate::durable::DurableFile`], straight
//!    to the device).
//!
//! Each plaintext byte is hashed once with SHA-256 (for the manifest) and each ciphertext byte
//! once with BLAKE3, about a fifth of SHA-256's cost here; the two CPU-bound stages (1: read +
//! SHA-256; 2: ChaCha20-Poly1305 + BLAKE3) then cost about the same, one per core. Why the
//! package is not logged by its SHA-256 any more: docs/EVIDENCE-FORMAT.md.
//!
//! At most a few buffers are in flight per channel, so memory does not grow with the input. The
//! encryption thread finishes the age stream (writes its final chunk) only on an explicit end
//! message: if reading fails half-way, the output is left without a final chunk, which every
//! age implementation rejects as truncated.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Write};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::thread;
use std::time::Duration;

use age::x25519;
use custos_ledger::SignerKey;
use custos_model::{DataCategory, DigestKind, PackageDigest, Period};
use jiff::Timestamp;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::SealError;
use crate::manifest::{FileEntry, MANIFEST_FORMAT, MANIFEST_NAME, Manifest, SIGNATURE_NAME};

/// Size of the buffers passed between the pipeline's threads.
pub const CHUNK: usize = 1 << 20;
/// Buffers queued per channel.
const DEPTH: usize = 4;
const BLOCK: usize = 512;

/// One file to put into a package, with what the manifest says about it.
#[derive(Debug, Clone)]
pub struct FileToSeal {
    /// Where to read it.
    pub source: PathBuf,
    /// Its name in the package (a plain file name).
    pub name: String,
    /// A label for the target (never the identifier itself unless you mean it).
    pub target: Option<String>,
    /// The category of data.
    pub data_category: Option<DataCategory>,
    /// The period the data covers.
    pub period: Option<Period>,
}

impl FileToSeal {
    /// A file named in the package by its own file name, with no target, category or period.
    pub fn new(source: impl Into<PathBuf>) -> Result<Self, SealError> {
        let source = source.into();
        let name = source
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| SealError::InvalidName {
                name: source.display().to_string(),
                why: "it has no file name, or one that is not UTF-8",
            })?
            .to_owned();
        Ok(FileToSeal {
            source,
            name,
            target: None,
            data_category: None,
            period: None,
        })
    }
}

/// What to seal, for whom, signed by which key.
#[derive(Debug, Clone, Copy)]
pub struct SealSpec<'a> {
    /// The request the package answers.
    pub request_id: &'a str,
    /// Who produced it.
    pub producer: &'a str,
    /// The sealing time written into the manifest.
    pub sealed_at: Timestamp,
    /// The files, in archive order.
    pub files: &'a [FileToSeal],
    /// The request's target values the package covers, written into the manifest (may be
    /// empty: the manifest then names none).
    pub targets: &'a [String],
    /// The age X25519 recipients (at least one).
    pub recipients: &'a [x25519::Recipient],
    /// The node key that signs the manifest.
    pub signer: &'a SignerKey,
}

/// What sealing produced: what the `evidence.sealed` log event records.
#[derive(Debug, Clone, Serialize)]
pub struct SealReport {
    /// Lower-case hex BLAKE3-256 of the package (the ciphertext bytes written): how the log
    /// identifies a package of format v2.
    pub package_blake3: String,
    /// Size of the package in bytes.
    pub package_size: u64,
    /// Lower-case hex SHA-256 of `manifest.json` (its RFC 8785 form, as signed).
    pub manifest_sha256: String,
    /// The recipients it was encrypted to (`age1…`).
    pub recipients: Vec<String>,
    /// The verifier key of the signer (`name+id+key`).
    pub signer: String,
    /// The manifest.
    pub manifest: Manifest,
    /// CPU time of each pipeline stage, where the platform tells (for benchmarks).
    #[serde(skip)]
    pub stages: StageTimes,
}

impl SealReport {
    /// The package digest, typed.
    pub fn digest(&self) -> Option<PackageDigest> {
        PackageDigest::new(DigestKind::Blake3, &self.package_blake3)
    }
}

/// CPU time (user + system) spent by each of the pipeline's threads; `None` where the platform
/// does not say (only Linux's `/proc/thread-self/schedstat` is read).
#[derive(Debug, Clone, Copy, Default)]
pub struct StageTimes {
    /// Reading the files, framing the tar, SHA-256 of each file (the caller's thread).
    pub read_and_hash: Option<Duration>,
    /// ChaCha20-Poly1305 and BLAKE3 of the ciphertext.
    pub encrypt_and_digest: Option<Duration>,
    /// Writing the package.
    pub write: Option<Duration>,
}

/// CPU time of the calling thread so far.
fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Seals `spec.files` into `output` and reports the digests. On error the output is incomplete
/// (no final age chunk) and must be discarded. `progress` is told of each piece of input read;
/// when it answers `Break` sealing stops with [`SealError::Cancelled`].
pub fn seal<W: Write + Send>(
    spec: &SealSpec<'_>,
    output: W,
    progress: &mut dyn FnMut(u64) -> ControlFlow<()>,
) -> Result<SealReport, SealError> {
    let sizes = check_spec(spec)?;
    let recipients = spec.recipients;
    // The caller's thread may have worked before: count only what it spends here.
    let cpu_at_start = thread_cpu();

    thread::scope(|scope| {
        let (plain_tx, plain_rx) = sync_channel::<Msg>(DEPTH);
        let (plain_free_tx, plain_free_rx) = sync_channel::<Vec<u8>>(DEPTH + 2);
        let (cipher_tx, cipher_rx) = sync_channel::<Msg>(DEPTH);
        let (cipher_free_tx, cipher_free_rx) = sync_channel::<Vec<u8>>(DEPTH + 2);

        let writer = scope.spawn(move || {
            let r = write_stage(output, cipher_rx, cipher_free_tx);
            (r, thread_cpu())
        });
        let encrypt = scope.spawn(move || {
            let r = encrypt_stage(
                recipients,
                plain_rx,
                plain_free_tx,
                cipher_tx,
                cipher_free_rx,
            );
            (r, thread_cpu())
        });

        // The framer (and with it the channel's sender) is dropped at the end of this block,
        // whatever happened, so the encryption thread always sees the channel end.
        let produced = {
            let mut framer = Framer::new(plain_tx, plain_free_rx);
            match produce(spec, &sizes, &mut framer, progress) {
                Ok(manifest) => framer.end().map(|()| manifest).map_err(|_| None),
                Err(e) => Err(Some(e)),
            }
        };
        let read_cpu = thread_cpu()
            .zip(cpu_at_start)
            .map(|(now, start)| now.saturating_sub(start));
        let (encrypted, encrypt_cpu) = encrypt
            .join()
            .map_err(|_| SealError::Internal("the encryption thread panicked"))?;
        let (written, write_cpu) = writer
            .join()
            .map_err(|_| SealError::Internal("the writer thread panicked"))?;
        if let Err(Some(SealError::Cancelled)) = produced {
            return Err(SealError::Cancelled);
        }
        if let Err(e) = written {
            return Err(SealError::WriteOutput(e));
        }
        let (digest, size) = match encrypted {
            Ok(d) => d,
            Err(e) => {
                return Err(match produced {
                    Err(Some(read_error)) => read_error,
                    _ => SealError::Encrypt(e.to_string()),
                });
            }
        };
        let manifest = match produced {
            Ok(m) => m,
            Err(Some(e)) => return Err(e),
            Err(None) => return Err(SealError::Internal("the pipeline hung up")),
        };
        let canonical = manifest.canonical();
        Ok(SealReport {
            package_blake3: hex::encode(digest),
            package_size: size,
            manifest_sha256: hex::encode(Sha256::digest(&canonical)),
            recipients: spec.recipients.iter().map(|r| r.to_string()).collect(),
            signer: spec.signer.verifier().to_string(),
            manifest,
            stages: StageTimes {
                read_and_hash: read_cpu,
                encrypt_and_digest: encrypt_cpu,
                write: write_cpu,
            },
        })
    })
}

/// The encryption thread: age STREAM over the plaintext buffers, BLAKE3 and size of the
/// ciphertext, framed for the writer.
fn encrypt_stage(
    recipients: &[x25519::Recipient],
    plain_rx: Receiver<Msg>,
    plain_free_tx: SyncSender<Vec<u8>>,
    cipher_tx: SyncSender<Msg>,
    cipher_free_rx: Receiver<Vec<u8>>,
) -> io::Result<([u8; 32], u64)> {
    let sink = Hashing {
        framer: Framer::new(cipher_tx, cipher_free_rx),
        hasher: blake3::Hasher::new(),
        size: 0,
    };
    let mut stream = crate::payload::begin(recipients, sink)?;
    for msg in plain_rx {
        match msg {
            Msg::Data(buf, len) => {
                stream.write_all(&buf[..len])?;
                let _ = plain_free_tx.try_send(buf);
            }
            Msg::End => {
                let sink = stream.finish()?;
                sink.framer.end()?;
                return Ok((sink.hasher.finalize().into(), sink.size));
            }
        }
    }
    Err(io::Error::other("input ended without an end message"))
}

/// Validates the spec and returns each file's size.
fn check_spec(spec: &SealSpec<'_>) -> Result<Vec<u64>, SealError> {
    if spec.files.is_empty() {
        return Err(SealError::NoFiles);
    }
    if spec.recipients.is_empty() {
        return Err(SealError::Encrypt("no recipient given".into()));
    }
    check_text("request id", spec.request_id)?;
    check_text("producer", spec.producer)?;
    let mut names = HashSet::new();
    let mut sizes = Vec::with_capacity(spec.files.len());
    for f in spec.files {
        check_name(&f.name)?;
        if !names.insert(f.name.as_str()) {
            return Err(SealError::DuplicateName(f.name.clone()));
        }
        let meta = std::fs::metadata(&f.source).map_err(|source| SealError::ReadInput {
            path: f.source.clone(),
            source,
        })?;
        if !meta.is_file() {
            return Err(SealError::NotAFile(f.source.clone()));
        }
        sizes.push(meta.len());
    }
    Ok(sizes)
}

fn check_text(field: &'static str, value: &str) -> Result<(), SealError> {
    if value.trim().is_empty() {
        return Err(SealError::InvalidField {
            field,
            why: "it is empty",
        });
    }
    if value.chars().any(char::is_control) {
        return Err(SealError::InvalidField {
            field,
            why: "it contains a control character",
        });
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), SealError> {
    let why = if name.is_empty() || name == "." || name == ".." {
        Some("it is empty, `.` or `..`")
    } else if name.contains(['/', '\\']) {
        Some("it contains a path separator")
    } else if name.chars().any(char::is_control) {
        Some("it contains a control character")
    } else if name.len() > 100 {
        Some("it is longer than 100 bytes")
    } else if name == MANIFEST_NAME || name == SIGNATURE_NAME {
        Some("the name is reserved for the package's manifest")
    } else {
        None
    };
    match why {
        Some(why) => Err(SealError::InvalidName {
            name: name.to_owned(),
            why,
        }),
        None => Ok(()),
    }
}

/// Writes the tar stream (files, then manifest.json and manifest.sig) into the pipeline.
fn produce(
    spec: &SealSpec<'_>,
    sizes: &[u64],
    out: &mut Framer,
    progress: &mut dyn FnMut(u64) -> ControlFlow<()>,
) -> Result<Manifest, SealError> {
    let broken = || SealError::Internal("the encryption thread stopped");
    let mtime = u64::try_from(spec.sealed_at.as_second()).unwrap_or(0);
    let mut entries = Vec::with_capacity(spec.files.len());
    for (f, &size) in spec.files.iter().zip(sizes) {
        out.write(&header(&f.name, size, mtime)?)
            .map_err(|_| broken())?;
        let read_err = |source| SealError::ReadInput {
            path: f.source.clone(),
            source,
        };
        let mut file = File::open(&f.source).map_err(read_err)?;
        let mut hasher = Sha256::new();
        let mut left = size;
        while left > 0 {
            let n = out.fill_from(&mut file, left).map_err(read_err)?;
            if n == 0 {
                return Err(SealError::InputChanged {
                    path: f.source.clone(),
                    expected: size,
                });
            }
            hasher.update(out.last_filled(n));
            out.flush_full().map_err(|_| broken())?;
            left -= n as u64;
            if progress(n as u64).is_break() {
                return Err(SealError::Cancelled);
            }
        }
        let mut probe = [0u8; 1];
        if file.read(&mut probe).map_err(read_err)? != 0 {
            return Err(SealError::InputChanged {
                path: f.source.clone(),
                expected: size,
            });
        }
        out.pad(size).map_err(|_| broken())?;
        entries.push(FileEntry {
            path: f.name.clone(),
            size,
            sha256: hex::encode(hasher.finalize()),
            target: f.target.clone(),
            data_category: f.data_category,
            period: f.period,
        });
    }
    let manifest = Manifest {
        format: MANIFEST_FORMAT.to_owned(),
        request_id: spec.request_id.to_owned(),
        producer: spec.producer.to_owned(),
        sealed_at: spec.sealed_at,
        targets: spec.targets.to_vec(),
        files: entries,
    };
    let canonical = manifest.canonical();
    let sig = Manifest::signature_line(&canonical, spec.signer);
    for (name, bytes) in [
        (MANIFEST_NAME, &canonical[..]),
        (SIGNATURE_NAME, sig.as_bytes()),
    ] {
        let len = bytes.len() as u64;
        out.write(&header(name, len, mtime)?)
            .map_err(|_| broken())?;
        out.write(bytes).map_err(|_| broken())?;
        out.pad(len).map_err(|_| broken())?;
    }
    // End of archive: two zero blocks.
    out.write(&[0u8; 2 * BLOCK]).map_err(|_| broken())?;
    Ok(manifest)
}

fn header(name: &str, size: u64, mtime: u64) -> Result<[u8; BLOCK], SealError> {
    let mut h = tar::Header::new_gnu();
    h.set_path(name).map_err(|_| SealError::InvalidName {
        name: name.to_owned(),
        why: "tar cannot store it",
    })?;
    h.set_size(size);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(mtime);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    Ok(*h.as_bytes())
}

enum Msg {
    Data(Vec<u8>, usize),
    End,
}

/// Fills fixed-size buffers and sends them down a channel; takes recycled buffers back.
struct Framer {
    tx: SyncSender<Msg>,
    free: Receiver<Vec<u8>>,
    buf: Vec<u8>,
    filled: usize,
}

impl Framer {
    fn new(tx: SyncSender<Msg>, free: Receiver<Vec<u8>>) -> Self {
        Framer {
            tx,
            free,
            buf: vec![0; CHUNK],
            filled: 0,
        }
    }

    fn flush_full(&mut self) -> io::Result<()> {
        if self.filled == CHUNK {
            self.send()?;
        }
        Ok(())
    }

    fn send(&mut self) -> io::Result<()> {
        let next = match self.free.try_recv() {
            Ok(b) => b,
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => vec![0; CHUNK],
        };
        let full = std::mem::replace(&mut self.buf, next);
        let len = std::mem::take(&mut self.filled);
        self.tx
            .send(Msg::Data(full, len))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "pipeline closed"))
    }

    fn write(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let n = bytes.len().min(CHUNK - self.filled);
            self.buf[self.filled..self.filled + n].copy_from_slice(&bytes[..n]);
            self.filled += n;
            bytes = &bytes[n..];
            self.flush_full()?;
        }
        Ok(())
    }

    /// Reads at most `limit` bytes of `r` straight into the current buffer.
    fn fill_from(&mut self, r: &mut impl Read, limit: u64) -> io::Result<usize> {
        let room = (CHUNK - self.filled).min(usize::try_from(limit).unwrap_or(usize::MAX));
        let n = loop {
            match r.read(&mut self.buf[self.filled..self.filled + room]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        self.filled += n;
        Ok(n)
    }

    /// The `n` bytes just filled (valid until the next call).
    fn last_filled(&self, n: usize) -> &[u8] {
        &self.buf[self.filled - n..self.filled]
    }

    fn pad(&mut self, size: u64) -> io::Result<()> {
        let rem = (size % BLOCK as u64) as usize;
        if rem != 0 {
            self.write(&[0u8; BLOCK][..BLOCK - rem])?;
        }
        Ok(())
    }

    fn end(mut self) -> io::Result<()> {
        if self.filled > 0 {
            self.send()?;
        }
        self.tx
            .send(Msg::End)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "pipeline closed"))
    }
}

impl Write for Framer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        Framer::write(self, bytes)?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The encryption thread's sink: hashes and counts the ciphertext as age hands it over (one
/// STREAM chunk at a time, still in cache), then frames it for the writer.
struct Hashing {
    framer: Framer,
    hasher: blake3::Hasher,
    size: u64,
}

impl Write for Hashing {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
        self.framer.write(bytes)?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn write_stage<W: Write>(
    mut out: W,
    rx: Receiver<Msg>,
    free: SyncSender<Vec<u8>>,
) -> io::Result<()> {
    for msg in rx {
        match msg {
            Msg::Data(buf, len) => {
                out.write_all(&buf[..len])?;
                let _ = free.try_send(buf);
            }
            Msg::End => {
                out.flush()?;
                return Ok(());
            }
        }
    }
    Err(io::Error::other(
        "the encryption thread stopped before the end of the package",
    ))
}
