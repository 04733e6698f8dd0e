//! The files behind `attachment.added`: kept by their BLAKE3 digest in `NODE/attachments/<hex>`.
//!
//! An upload is written under a temporary name in that directory ([`Incoming`]), hashed on the
//! way and fsynced; then, in one writer job ([`Attach`], under the write lock), checked
//! ([`crate::ops::attachment::check_new`]), renamed to its digest, the directory fsynced, and
//! only then logged. So every logged attachment has its file. Files are content-addressed: two
//! cases with the same file share it, and nothing ever removes a logged one.
//!
//! Every read checks the bytes against the logged digest ([`read_checked`], and the audit's
//! [`check_file`]): an altered or missing file is an error, never served.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use custos_store::{Batch, User};
use jiff::Timestamp;

use crate::http::extract::IfMatch;
use crate::node::Node;
use crate::ops::Appended;
use crate::ops::attachment::{Attachment, NewAttachment, check_new, record_added};
use crate::problem::Problem;
use crate::writer::Job;

/// The directory (inside the node directory) where attachments are kept.
pub const ATTACHMENTS_DIR: &str = "attachments";

/// The path of the file with this digest (hex, checked by the caller or the event's parser).
pub fn path_of(node_dir: &Path, blake3: &str) -> PathBuf {
    node_dir.join(ATTACHMENTS_DIR).join(blake3)
}

fn stored_nothing(e: std::io::Error) -> Problem {
    tracing::error!(error = %e, "writing an attachment failed");
    Problem::internal("the attachment could not be stored; nothing was recorded")
}

/// A temporary file in the attachments directory, removed when dropped unless renamed.
#[derive(Debug)]
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        // After a successful rename this finds nothing.
        let _ = std::fs::remove_file(&self.0);
    }
}

/// An upload being received: written to a temporary file, hashed and counted, up to a limit.
#[derive(Debug)]
pub struct Incoming {
    temp: TempFile,
    file: tokio::fs::File,
    hasher: blake3::Hasher,
    size: u64,
    limit: u64,
}

/// An upload received in full and fsynced, not yet anybody's.
#[derive(Debug)]
pub struct Received {
    temp: TempFile,
    /// Hex BLAKE3 of the bytes.
    pub blake3: String,
    /// Size in bytes.
    pub size: u64,
}

/// The refusal of an upload over `limit` bytes.
pub fn too_large(limit: u64) -> Problem {
    Problem::new(
        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
        "too-large",
        "Attachment too large",
        format!(
            "the file exceeds the node's limit of {limit} bytes for an attachment (attachments.max_bytes); nothing was recorded"
        ),
    )
}

impl Incoming {
    /// A new temporary file in `<node_dir>/attachments` (made if missing).
    pub async fn create(node_dir: &Path, limit: u64) -> Result<Incoming, Problem> {
        let dir = node_dir.join(ATTACHMENTS_DIR);
        let mut random = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut random);
        // A leading dot: never a digest, so never read as an attachment.
        let temp = TempFile(dir.join(format!(".incoming-{}", hex::encode(random))));
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(stored_nothing)?;
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp.0)
            .await
            .map_err(stored_nothing)?;
        Ok(Incoming {
            temp,
            file,
            hasher: blake3::Hasher::new(),
            size: 0,
            limit,
        })
    }

    /// Adds bytes; over the limit, 413 and the temporary file goes.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), Problem> {
        use tokio::io::AsyncWriteExt as _;
        self.size += chunk.len() as u64;
        if self.size > self.limit {
            return Err(too_large(self.limit));
        }
        self.hasher.update(chunk);
        self.file.write_all(chunk).await.map_err(stored_nothing)
    }

    /// Flushes and fsyncs the file: what [`Attach`] renames is on disk.
    pub async fn finish(mut self) -> Result<Received, Problem> {
        use tokio::io::AsyncWriteExt as _;
        self.file.flush().await.map_err(stored_nothing)?;
        self.file.sync_all().await.map_err(stored_nothing)?;
        Ok(Received {
            temp: self.temp,
            blake3: self.hasher.finalize().to_hex().to_string(),
            size: self.size,
        })
    }
}

/// What the uploader says of a file: its kind, name and media type (each already checked).
#[derive(Debug, Clone)]
pub struct Described {
    /// What it is.
    pub kind: crate::ops::attachment::AttachmentKind,
    /// The file's name.
    pub name: String,
    /// Its media type.
    pub media_type: String,
}

/// A received file to attach to a case: the writer job `Job::Attach`.
#[derive(Debug)]
pub struct Attach {
    /// The case.
    pub case_id: i64,
    /// Who adds it.
    pub user: User,
    /// The file.
    pub received: Received,
    /// What it is.
    pub described: Described,
}

impl Attach {
    /// Inside a write batch: checks, renames the file to its digest, fsyncs the directory, and
    /// logs `attachment.added`. Refused or failed: the temporary file goes, and a file of the
    /// same digest that was there before (another case's) is never touched.
    pub async fn take(
        self,
        b: &mut Batch,
        out: &mut Appended,
        now: Timestamp,
    ) -> Result<Attachment, Problem> {
        let Attach {
            case_id,
            user,
            received,
            described,
        } = self;
        let new = NewAttachment {
            blake3: received.blake3.clone(),
            size: received.size,
            media_type: described.media_type,
            kind: described.kind,
            name: described.name,
        };
        check_new(b, case_id, &user, &new).await?;
        let from = received.temp.0.clone();
        let dir = from
            .parent()
            .map(Path::to_owned)
            .ok_or_else(|| Problem::internal("an attachment's temporary file has no directory"))?;
        let to = dir.join(&new.blake3);
        let stored = to.clone();
        let moved = tokio::task::spawn_blocking(move || -> std::io::Result<bool> {
            let existed = to.exists();
            std::fs::rename(&from, &to)?;
            if let Err(e) = std::fs::File::open(&dir).and_then(|d| d.sync_all()) {
                if !existed {
                    let _ = std::fs::remove_file(&to);
                }
                return Err(e);
            }
            Ok(existed)
        })
        .await
        .map_err(|e| Problem::internal(e.to_string()))?;
        let existed = moved.map_err(stored_nothing)?;
        match record_added(b, out, case_id, &user, &new, now).await {
            Ok(a) => Ok(a),
            Err(p) => {
                // Not logged: a file this upload brought must not stay as if it were.
                if !existed {
                    let _ = tokio::fs::remove_file(&stored).await;
                }
                Err(p)
            }
        }
    }
}

/// Attaches a received file to a case, through the writer (`If-Match` honoured like every
/// staff change of a case).
pub async fn add(
    node: &Node,
    case_id: i64,
    user: User,
    if_match: &IfMatch,
    received: Received,
    described: Described,
) -> Result<Attachment, Problem> {
    let attach = Attach {
        case_id,
        user,
        received,
        described,
    };
    if_match
        .call(node, case_id, |reply| Job::Attach(Box::new(attach), reply))
        .await
}

/// The case's attachment with this digest, if it has one.
pub async fn find(node: &Node, case_id: i64, blake3: &str) -> Result<Attachment, Problem> {
    let events = node.store.case_events(case_id).await?;
    crate::ops::attachment::attachments_of(&events)
        .into_iter()
        .find(|a| a.blake3 == blake3)
        .ok_or_else(|| Problem::not_found(format!("case {case_id} has no attachment {blake3}")))
}

/// The bytes of an attachment, read whole and checked against its logged digest and size
/// before anything is served (the size limit bounds what is read). A missing or altered file
/// is a 500 naming it, and logged for the operator.
pub async fn read_checked(node_dir: &Path, a: &Attachment) -> Result<Vec<u8>, Problem> {
    let path = path_of(node_dir, &a.blake3);
    let refused = |why: String| {
        tracing::error!(case = a.case_id, blake3 = %a.blake3, why, "attachment file fails its check");
        Problem::internal(format!(
            "the file of attachment {} of case {} {why}; it is not served. Tell the node's operator (run `custos audit`)",
            a.blake3, a.case_id
        ))
    };
    let len = match tokio::fs::metadata(&path).await {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(refused("is missing".into()));
        }
        Err(e) => return Err(refused(format!("cannot be read ({e})"))),
    };
    if len != a.size {
        return Err(refused(format!(
            "has {len} bytes, not the {} logged (altered)",
            a.size
        )));
    }
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| refused(format!("cannot be read ({e})")))?;
    let digest = blake3::hash(&bytes).to_hex().to_string();
    if digest != a.blake3 {
        return Err(refused(format!("has BLAKE3 {digest} (altered)")));
    }
    Ok(bytes)
}

/// The audit's check of one attachment's file: its digest and size as logged.
pub fn check_file(node_dir: &Path, blake3: &str, size: u64) -> Result<(), String> {
    let path = path_of(node_dir, blake3);
    let mut f = std::fs::File::open(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "its file is missing".to_owned(),
        _ => format!("its file cannot be read ({e})"),
    })?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut read = 0u64;
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| format!("its file cannot be read ({e})"))?;
        if n == 0 {
            break;
        }
        read += n as u64;
        hasher.update(&buf[..n]);
    }
    let digest = hasher.finalize().to_hex().to_string();
    if digest != blake3 || read != size {
        return Err(format!(
            "its file has BLAKE3 {digest} and {read} bytes (altered or replaced)"
        ));
    }
    Ok(())
}
