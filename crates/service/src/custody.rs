//! Custody of sealed packages: the files behind the `evidence.*` events.
//!
//! Custody is one step ([`Custody::take`]): a package is written under a temporary name in the
//! evidence directory ([`TempPackage`]), then, inside a write batch (which holds the database's
//! write lock), either refused (removing only its own temporary file) or renamed to
//! `evidence/<digest>.age` (the hex of its BLAKE3, or SHA-256 for format v1), the directory
//! fsynced, and `evidence.sealed` logged; if logging fails
//! the file goes again. So a recorded package always has its file, and concurrent arrivals of
//! one package cannot undo each other. The node takes packages in through the writer job
//! `Job::Custody` (uploads), the CLI's `custos evidence seal` through its own batch.
//!
//! Files of packages whose destruction is logged are removed afterwards
//! ([`remove_destroyed_files`]); nothing else removes a recorded package.

use std::path::{Path, PathBuf};

use custos_store::{Batch, Evidence, Store};
use jiff::Timestamp;

use crate::ops::Appended;
pub use crate::ops::evidence::SealedPackage;
use crate::ops::evidence::{can_receive_evidence, covered_targets, record_sealed};
use crate::problem::Problem;

/// The directory (inside the node directory) where packages are kept.
pub const EVIDENCE_DIR: &str = "evidence";

pub use custos_model::package::is_digest_hex;
use custos_model::{DigestKind, PackageDigest};

/// Hashes package bytes with the digest of a kind: what custody and the audit recompute.
#[derive(Debug, Clone)]
pub enum PackageHasher {
    /// Packages of format v1.
    Sha256(sha2::Sha256),
    /// Packages of format v2.
    Blake3(Box<blake3::Hasher>),
}

impl PackageHasher {
    /// A hasher for digests of `kind`.
    pub fn new(kind: DigestKind) -> PackageHasher {
        match kind {
            DigestKind::Sha256 => PackageHasher::Sha256(sha2::Digest::new()),
            DigestKind::Blake3 => PackageHasher::Blake3(Box::default()),
        }
    }

    /// Adds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            PackageHasher::Sha256(h) => sha2::Digest::update(h, bytes),
            PackageHasher::Blake3(h) => {
                h.update(bytes);
            }
        }
    }

    /// The digest of everything added.
    pub fn finalize(self) -> PackageDigest {
        let (kind, hex) = match self {
            PackageHasher::Sha256(h) => {
                (DigestKind::Sha256, hex::encode(sha2::Digest::finalize(h)))
            }
            PackageHasher::Blake3(h) => (DigestKind::Blake3, h.finalize().to_hex().to_string()),
        };
        // 32 bytes as 64 lower-case hex digits: always a digest.
        PackageDigest::new(kind, &hex).unwrap_or_else(|| unreachable!("hex of 32 bytes"))
    }
}

/// A package file under a fresh temporary name in the node's evidence directory. Until
/// [`Custody::take`] renames it, it is nobody's: dropping this removes the file.
#[derive(Debug)]
pub struct TempPackage {
    dir: PathBuf,
    path: PathBuf,
}

impl TempPackage {
    /// Creates an empty file with a fresh random name in `<node_dir>/evidence` (made if missing).
    pub fn create(node_dir: &Path) -> std::io::Result<(TempPackage, std::fs::File)> {
        let temp = TempPackage::reserve(node_dir)?;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp.path)?;
        Ok((temp, file))
    }

    /// A fresh temporary name in `<node_dir>/evidence` (made if missing), for a caller that
    /// creates the file itself (`create_new`: the random name is never taken).
    pub fn reserve(node_dir: &Path) -> std::io::Result<TempPackage> {
        let dir = node_dir.join(EVIDENCE_DIR);
        std::fs::create_dir_all(&dir)?;
        let mut random = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut random);
        let name = hex::encode(random);
        // A leading dot: never a `<digest>.age` name, so never listed or handed over.
        let path = dir.join(format!(".incoming-{name}"));
        Ok(TempPackage { dir, path })
    }

    /// The temporary file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempPackage {
    fn drop(&mut self) {
        // After a successful take the file was renamed and this finds nothing.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A package written (and fsynced) to a [`TempPackage`], to be taken into custody for a case.
#[derive(Debug)]
pub struct Custody {
    /// The case it answers.
    pub case_id: i64,
    /// Its file, under a temporary name.
    pub temp: TempPackage,
    /// What `evidence.sealed` records.
    pub package: SealedPackage,
    /// The targets the package covers, as its sealer named them (none: every target, allowed
    /// only for an execution in full; see [`crate::ops::evidence::covered_targets`]).
    pub targets: Vec<custos_model::TargetValue>,
}

impl Custody {
    /// Takes the package into custody inside a write batch, which holds the database's write
    /// lock (the node's writer job `Job::Custody`, or the CLI's own batch while no node runs), so
    /// takes of one package are serialised. Refused (a case that cannot receive
    /// evidence, a target the decision does not produce, or a package already recorded): only the temporary file is removed, an existing
    /// file is never touched. Otherwise the file is renamed to `evidence/<digest>.age`, the
    /// directory fsynced, and `evidence.sealed` appended; if that fails the file goes again.
    pub async fn take(
        self,
        b: &mut Batch,
        out: &mut Appended,
        now: Timestamp,
    ) -> Result<Evidence, Problem> {
        let Custody {
            case_id,
            temp,
            package,
            targets,
        } = self;
        let sha = package.digest.hex();
        let case = b.case(case_id).await?;
        let case = can_receive_evidence(case.as_ref(), case_id)?;
        // Under the write lock, against the decision in force: sealed only for what it produces.
        let targets = covered_targets(case, &targets, "targets")?;
        if b.evidence(sha).await?.is_some() {
            // `temp` is dropped on return: this arrival's own file goes, the recorded one stays.
            return Err(Problem::conflict(
                "evidence-exists",
                format!("package {sha} is already recorded"),
            ));
        }
        let final_path = temp.dir.join(format!("{sha}.age"));
        let (from, to, dir) = (temp.path.clone(), final_path.clone(), temp.dir.clone());
        let moved = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::rename(&from, &to)?;
            let synced = std::fs::File::open(&dir).and_then(|d| d.sync_all());
            if synced.is_err() {
                let _ = std::fs::remove_file(&to);
            }
            synced
        })
        .await
        .map_err(|e| Problem::internal(e.to_string()))?;
        if let Err(e) = moved {
            tracing::error!(error = %e, "moving a package into custody failed");
            return Err(Problem::internal(
                "the package could not be stored; nothing was recorded",
            ));
        }
        match record_sealed(b, out, case_id, &package, &targets, now).await {
            Ok(e) => Ok(e),
            Err(p) => {
                // Not recorded, and under the write lock no one else can have recorded it: the
                // file must not stay where it could pass for custody.
                let _ = tokio::fs::remove_file(&final_path).await;
                Err(p)
            }
        }
    }
}

/// Removes the files of packages whose destruction is logged (also those a crash left behind).
pub async fn remove_destroyed_files(store: &Store, node_dir: &Path) -> Result<usize, Problem> {
    let mut removed = 0;
    for sha in store.destroyed_evidence().await? {
        if !is_digest_hex(&sha) {
            continue;
        }
        let path = node_dir.join(EVIDENCE_DIR).join(format!("{sha}.age"));
        match tokio::fs::remove_file(&path).await {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(error = %e, "could not remove a destroyed package's file"),
        }
    }
    Ok(removed)
}

/// A package must be an age file whose every recipient stanza is X25519 (or grease), the kind
/// of the authority's registered recipient: a passphrase (scrypt) could be told to anyone, and
/// an SSH or plugin recipient is not the key the directory registered for the authority.
pub(crate) async fn check_age_header(path: &Path) -> Result<(), Problem> {
    let path = path.to_owned();
    let checked = tokio::task::spawn_blocking(move || {
        let open = || std::fs::File::open(&path).map_err(|e| (NOT_A_PACKAGE, e.to_string()));
        age::Decryptor::new_buffered(std::io::BufReader::new(open()?)).map_err(|e| {
            (
                NOT_A_PACKAGE,
                format!("the body is not an age file (age-encryption.org/v1): {e}"),
            )
        })?;
        let tags = stanza_tags(std::io::BufReader::new(open()?))
            .map_err(|e| (NOT_A_PACKAGE, format!("the age header is unreadable: {e}")))?;
        refused_recipients(&tags).map_or(Ok(()), Err)
    })
    .await
    .map_err(|e| Problem::internal(e.to_string()))?;
    checked.map_err(|(slug, detail)| Problem::unprocessable(slug, detail))
}

const NOT_A_PACKAGE: &str = "not-a-package";

/// Why a header with these stanza types is refused (problem slug and detail), if it is.
fn refused_recipients(tags: &[String]) -> Option<(&'static str, String)> {
    // Grease stanzas (`…-grease`, added by the age crate to every header) carry no key.
    let other = tags
        .iter()
        .find(|t| t.as_str() != "X25519" && !t.ends_with("-grease"));
    match other {
        None if tags.iter().any(|t| t == "X25519") => None,
        None => Some((
            "recipient-not-x25519",
            "the package has no X25519 recipient; seal it to the requesting authority's registered age recipient (age1…)".to_owned(),
        )),
        Some(t) if t == "scrypt" => Some((
            NOT_A_PACKAGE,
            "the package is encrypted with a passphrase; seal it to the requesting authority's age recipient instead".to_owned(),
        )),
        Some(t) => Some((
            "recipient-not-x25519",
            format!(
                "the package is sealed to a recipient of type {t}; Custos accepts only packages whose every recipient is an X25519 age recipient (age1…). Seal it again to the requesting authority's registered age recipient only (`custos seal --recipient age1…`, or `age -r age1…`), not to an SSH key, a passphrase or a plugin"
            ),
        )),
    }
}

/// The type (first argument) of every recipient stanza of an age header
/// (age-encryption.org/v1: stanzas start with `-> `, the header ends at the `---` line; stanza
/// bodies are base64, so they never start with `-> `).
fn stanza_tags(r: impl std::io::BufRead) -> std::io::Result<Vec<String>> {
    use std::io::BufRead as _;
    // The age crate has parsed this header already; the bound only keeps a reader honest.
    let mut r = r.take(1 << 20);
    let mut tags = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line)? == 0 {
            return Err(std::io::Error::other("the header has no end (---)"));
        }
        if line.starts_with(b"---") {
            return Ok(tags);
        }
        if let Some(rest) = line.strip_prefix(b"-> ") {
            let tag = rest
                .split(|b| *b == b' ' || *b == b'\n')
                .next()
                .unwrap_or_default();
            tags.push(String::from_utf8_lossy(tag).into_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stanza_tags_are_read_up_to_the_header_end() {
        let header = b"age-encryption.org/v1\n-> X25519 abc\nYmFzZTY0\n-> ssh-ed25519 Tag abc\nYmFzZTY0\n-> piv-p256 x\n\n--- mac\n-> after the header\n";
        assert_eq!(
            stanza_tags(&header[..]).unwrap(),
            ["X25519", "ssh-ed25519", "piv-p256"]
        );
        assert!(stanza_tags(&b"age-encryption.org/v1\n-> X25519 a\n"[..]).is_err());
    }

    #[test]
    fn only_x25519_recipients_are_accepted_grease_aside() {
        let tags = |t: &[&str]| t.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(refused_recipients(&tags(&["X25519"])), None);
        assert_eq!(
            refused_recipients(&tags(&["X25519", "X25519", "}a-grease"])),
            None
        );
        for refused in [
            &["ssh-ed25519"][..],
            &["X25519", "ssh-rsa"],
            &["X25519", "piv-p256"],
            &["mlkem768x25519"],
            &["x-grease"],
        ] {
            let (slug, detail) = refused_recipients(&tags(refused)).unwrap();
            assert_eq!(slug, "recipient-not-x25519", "{refused:?}");
            assert!(detail.contains("age recipient"), "{detail}");
        }
        let (slug, detail) = refused_recipients(&tags(&["scrypt"])).unwrap();
        assert_eq!((slug, detail.contains("passphrase")), (NOT_A_PACKAGE, true));
    }

    #[test]
    fn a_dropped_temporary_package_leaves_no_file() {
        let dir = std::env::temp_dir().join(format!("custos-temp-{}", std::process::id()));
        let (temp, file) = TempPackage::create(&dir).unwrap();
        drop(file);
        let path = temp.path().to_owned();
        assert!(path.exists());
        assert!(path.starts_with(dir.join(EVIDENCE_DIR)));
        drop(temp);
        assert!(!path.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
