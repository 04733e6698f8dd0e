//! Unsealing: age → tar → files, verified before they get their names.
//!
//! Files stream to hidden temporary names (`.NAME.custos-partial`) while being hashed. When the
//! archive ends, the manifest's signature is checked, then every file's size and SHA-256, and
//! only then are the files renamed to their final names. On any failure every temporary file is
//! removed: no unverified file is ever left under its final name.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::ops::ControlFlow;
use std::path::{Component, Path, PathBuf};

use age::Identity;
use custos_ledger::VerifierKey;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::UnsealError;
use crate::manifest::{MANIFEST_NAME, Manifest, SIGNATURE_NAME};
use crate::open::{Plaintext, open_package};

const MAX_MANIFEST: u64 = 16 << 20;
const MAX_SIGNATURE: u64 = 4096;
const BUF: usize = 1 << 20;

/// How to unseal.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnsealOptions<'a> {
    /// The node key the manifest must be signed by. Required when the package has a manifest.
    pub verifier: Option<&'a VerifierKey>,
    /// Extract an age-encrypted tar without a manifest (reported as
    /// [`Verification::Unverified`]) instead of refusing it.
    pub allow_unverified: bool,
    /// Refuse a manifest for another request.
    pub expected_request_id: Option<&'a str>,
}

/// Whether the contents were verified.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Verification {
    /// The manifest's signature verifies and every file matches it.
    Verified {
        /// The manifest.
        manifest: Manifest,
        /// Lower-case hex SHA-256 of `manifest.json`.
        manifest_sha256: String,
        /// The verifier key that checked it (`name+id+key`).
        signer: String,
    },
    /// No manifest present: contents are unverified.
    Unverified,
}

/// One extracted file.
#[derive(Debug, Clone, Serialize)]
pub struct ExtractedFile {
    /// Its path relative to the output directory.
    pub path: String,
    /// Its size.
    pub size: u64,
    /// Lower-case hex SHA-256.
    pub sha256: String,
}

/// What unsealing did.
#[derive(Debug, Clone, Serialize)]
pub struct UnsealReport {
    /// Lower-case hex BLAKE3-256 of the package bytes read: how the log identifies a package
    /// of format v2 (manifest `custos.manifest/v2`).
    pub package_blake3: String,
    /// Lower-case hex SHA-256 of the package bytes read: how the log identifies a package of
    /// format v1.
    pub package_sha256: String,
    /// Size of the package.
    pub package_size: u64,
    /// The files extracted, in archive order.
    pub files: Vec<ExtractedFile>,
    /// Verified against a signed manifest, or not.
    pub verification: Verification,
}

/// Decrypts `input` with `identities`, extracts it into `out_dir` (created if missing) and
/// verifies it. `progress` is called with plaintext bytes as they are extracted; when it answers
/// `Break` unsealing stops with [`UnsealError::Cancelled`] and removes what it extracted.
pub fn unseal<R: Read>(
    input: R,
    identities: &[&dyn Identity],
    out_dir: &Path,
    options: &UnsealOptions<'_>,
    progress: &mut dyn FnMut(u64) -> ControlFlow<()>,
) -> Result<UnsealReport, UnsealError> {
    let mut hashed = HashingReader {
        inner: input,
        sha256: Sha256::new(),
        blake3: blake3::Hasher::new(),
        size: 0,
    };
    let mut plain = open_package(&mut hashed, identities)?;
    fs::create_dir_all(out_dir).map_err(|source| UnsealError::WriteOutput {
        path: out_dir.to_owned(),
        source,
    })?;
    let mut staged = Staged {
        files: Vec::new(),
        committed: false,
    };
    let result = extract(&mut plain, out_dir, &mut staged, progress);
    // A decryption failure underneath explains a tar error: report it rather than the symptom.
    if let Some(failure) = plain.take_failure() {
        return Err(failure);
    }
    let found = result?;
    // Read to the end so that the final age chunk is authenticated (no truncation).
    match io::copy(&mut plain, &mut io::sink()) {
        Ok(_) => {}
        Err(e) => {
            return Err(plain.take_failure().unwrap_or(UnsealError::ReadInput(e)));
        }
    }
    drop(plain);
    let package_sha256 = hex::encode(hashed.sha256.finalize_reset());
    let package_blake3 = hashed.blake3.finalize().to_hex().to_string();
    let package_size = hashed.size;

    let verification = match (found.manifest, found.signature) {
        (None, None) if options.allow_unverified => Verification::Unverified,
        (None, None) => return Err(UnsealError::NoManifest),
        (Some(_), None) => {
            return Err(UnsealError::IncompleteManifest(
                "manifest.json is present but manifest.sig is missing",
            ));
        }
        (None, Some(_)) => {
            return Err(UnsealError::IncompleteManifest(
                "manifest.sig is present but manifest.json is missing",
            ));
        }
        (Some(m), Some(sig)) => {
            let verifier = options.verifier.ok_or(UnsealError::NoVerifier)?;
            let manifest = Manifest::verify(&m, &sig, verifier)?;
            if let Some(expected) = options.expected_request_id
                && manifest.request_id != expected
            {
                return Err(UnsealError::WrongRequest {
                    found: manifest.request_id,
                    expected: expected.to_owned(),
                });
            }
            check_files(&manifest, &staged)?;
            Verification::Verified {
                manifest,
                manifest_sha256: hex::encode(Sha256::digest(&m)),
                signer: verifier.to_string(),
            }
        }
    };
    let files = staged.commit()?;
    Ok(UnsealReport {
        package_blake3,
        package_sha256,
        package_size,
        files,
        verification,
    })
}

struct Found {
    manifest: Option<Vec<u8>>,
    signature: Option<Vec<u8>>,
}

fn extract<R: Read>(
    plain: &mut Plaintext<R>,
    out_dir: &Path,
    staged: &mut Staged,
    progress: &mut dyn FnMut(u64) -> ControlFlow<()>,
) -> Result<Found, UnsealError> {
    let tar_err = |e: io::Error| UnsealError::Tar(e.to_string());
    let mut archive = tar::Archive::new(plain);
    let mut names = HashSet::new();
    let mut found = Found {
        manifest: None,
        signature: None,
    };
    let mut buf = vec![0u8; BUF];
    for entry in archive.entries().map_err(tar_err)? {
        let mut entry = entry.map_err(tar_err)?;
        let raw_name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let kind = entry.header().entry_type();
        if kind == tar::EntryType::XGlobalHeader {
            continue;
        }
        let rel = safe_path(&raw_name)?;
        let name = rel.to_string_lossy().into_owned();
        if found.manifest.is_some() && found.signature.is_some() {
            return Err(UnsealError::EntryAfterManifest(name));
        }
        if !names.insert(name.clone()) {
            return Err(UnsealError::DuplicateEntry(name));
        }
        match kind {
            tar::EntryType::Directory => {
                let dir = out_dir.join(&rel);
                fs::create_dir_all(&dir)
                    .map_err(|source| UnsealError::WriteOutput { path: dir, source })?;
                continue;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {}
            tar::EntryType::Symlink | tar::EntryType::Link => {
                return Err(UnsealError::UnsafeEntry {
                    name: raw_name,
                    why: "links are not allowed in a package",
                });
            }
            _ => {
                return Err(UnsealError::UnsafeEntry {
                    name: raw_name,
                    why: "only regular files and directories are allowed in a package",
                });
            }
        }
        let size = entry.header().size().map_err(tar_err)?;
        if name == MANIFEST_NAME || name == SIGNATURE_NAME {
            let limit = if name == MANIFEST_NAME {
                MAX_MANIFEST
            } else {
                MAX_SIGNATURE
            };
            if size > limit {
                return Err(UnsealError::BadManifest(format!(
                    "{name} is {size} bytes, more than the {limit} allowed"
                )));
            }
            let mut bytes = Vec::with_capacity(size as usize);
            entry.read_to_end(&mut bytes).map_err(tar_err)?;
            if name == MANIFEST_NAME {
                found.manifest = Some(bytes);
            } else {
                found.signature = Some(bytes);
            }
            continue;
        }
        if found.manifest.is_some() || found.signature.is_some() {
            return Err(UnsealError::EntryAfterManifest(name));
        }
        let final_path = out_dir.join(&rel);
        if fs::symlink_metadata(&final_path).is_ok() {
            return Err(UnsealError::OutputExists(final_path));
        }
        let parent = final_path.parent().unwrap_or(out_dir).to_owned();
        fs::create_dir_all(&parent).map_err(|source| UnsealError::WriteOutput {
            path: parent.clone(),
            source,
        })?;
        let file_name = rel
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = parent.join(format!(".{file_name}.custos-partial"));
        let write_err = |source| UnsealError::WriteOutput {
            path: temp.clone(),
            source,
        };
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(write_err)?;
        staged.files.push(StagedFile {
            name: name.clone(),
            temp: temp.clone(),
            final_path,
            size: 0,
            sha256: [0; 32],
        });
        let mut hasher = Sha256::new();
        let mut written = 0u64;
        loop {
            let n = match entry.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(tar_err(e)),
            };
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(write_err)?;
            written += n as u64;
            if progress(n as u64).is_break() {
                return Err(UnsealError::Cancelled);
            }
        }
        out.flush().map_err(write_err)?;
        if written != size {
            return Err(UnsealError::Tar(format!(
                "{name}: the archive ends inside this entry"
            )));
        }
        if let Some(last) = staged.files.last_mut() {
            last.size = written;
            last.sha256 = hasher.finalize().into();
        }
    }
    Ok(found)
}

/// A relative path of normal components (a leading `./` is allowed), or a refusal.
fn safe_path(raw: &str) -> Result<PathBuf, UnsealError> {
    let refuse = |why| UnsealError::UnsafeEntry {
        name: raw.to_owned(),
        why,
    };
    if raw.contains('\0') || raw.chars().any(char::is_control) {
        return Err(refuse("its name contains a control character"));
    }
    if raw.contains('\\') {
        return Err(refuse("its name contains a backslash"));
    }
    let mut out = PathBuf::new();
    for c in Path::new(raw).components() {
        match c {
            Component::Normal(part) => {
                if part.to_string_lossy().ends_with(".custos-partial") {
                    return Err(refuse("its name is reserved for unsealing"));
                }
                out.push(part);
            }
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(refuse("`..` would write outside the output directory"));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(refuse(
                    "an absolute path would write outside the output directory",
                ));
            }
        }
    }
    if out.as_os_str().is_empty() {
        return Err(refuse("it has an empty name"));
    }
    Ok(out)
}

fn check_files(manifest: &Manifest, staged: &Staged) -> Result<(), UnsealError> {
    let listed: HashSet<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
    for f in &staged.files {
        if !listed.contains(f.name.as_str()) {
            return Err(UnsealError::UnlistedFile(f.name.clone()));
        }
    }
    for entry in &manifest.files {
        let Some(f) = staged.files.iter().find(|f| f.name == entry.path) else {
            return Err(UnsealError::MissingFile(entry.path.clone()));
        };
        if f.size != entry.size {
            return Err(UnsealError::FileMismatch {
                path: entry.path.clone(),
                what: format!("size is {} bytes, the manifest says {}", f.size, entry.size),
            });
        }
        let actual = hex::encode(f.sha256);
        if actual != entry.sha256 {
            return Err(UnsealError::FileMismatch {
                path: entry.path.clone(),
                what: format!("SHA-256 is {actual}, the manifest says {}", entry.sha256),
            });
        }
    }
    Ok(())
}

struct StagedFile {
    name: String,
    temp: PathBuf,
    final_path: PathBuf,
    size: u64,
    sha256: [u8; 32],
}

/// Files written under temporary names; removed on drop unless committed.
struct Staged {
    files: Vec<StagedFile>,
    committed: bool,
}

impl Staged {
    fn commit(mut self) -> Result<Vec<ExtractedFile>, UnsealError> {
        for f in &self.files {
            if fs::symlink_metadata(&f.final_path).is_ok() {
                return Err(UnsealError::OutputExists(f.final_path.clone()));
            }
            File::open(&f.temp)
                .and_then(|file| file.sync_all())
                .map_err(|source| UnsealError::WriteOutput {
                    path: f.temp.clone(),
                    source,
                })?;
        }
        let mut out = Vec::with_capacity(self.files.len());
        for f in &self.files {
            fs::rename(&f.temp, &f.final_path).map_err(|source| UnsealError::WriteOutput {
                path: f.final_path.clone(),
                source,
            })?;
            out.push(ExtractedFile {
                path: f.name.clone(),
                size: f.size,
                sha256: hex::encode(f.sha256),
            });
        }
        self.committed = true;
        Ok(out)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            for f in &self.files {
                let _ = fs::remove_file(&f.temp);
            }
        }
    }
}

/// Both package digests of what is read: the package's format (which one the log holds) is
/// known only from the manifest, at the end.
struct HashingReader<R> {
    inner: R,
    sha256: Sha256,
    blake3: blake3::Hasher,
    size: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sha256.update(&buf[..n]);
        self.blake3.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}
