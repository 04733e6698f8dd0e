//! What can go wrong, said so that the reader knows what to do.

use std::io;
use std::path::PathBuf;

/// Sealing failed. No package should be used after an error: the output is incomplete.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// There is nothing to seal.
    #[error("no files to seal: give at least one file")]
    NoFiles,
    /// A required manifest field is missing or malformed.
    #[error("invalid {field}: {why}")]
    InvalidField {
        /// The field (e.g. `request id`).
        field: &'static str,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A file's name cannot be used inside a package.
    #[error("{name:?}: cannot be a file name in a package: {why}; rename the file")]
    InvalidName {
        /// The name.
        name: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// Two files would have the same name in the package.
    #[error("two files would both be named {0:?} in the package; rename one of them")]
    DuplicateName(String),
    /// A file to seal cannot be read.
    #[error("{path}: cannot read the file to seal: {source}; check that it exists and is readable")]
    ReadInput {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A file to seal is not a regular file.
    #[error("{0}: not a regular file; only regular files can be sealed")]
    NotAFile(PathBuf),
    /// A file changed size while it was being sealed.
    #[error(
        "{path}: the file changed while it was being sealed (expected {expected} bytes); seal it again once nothing writes to it"
    )]
    InputChanged {
        /// The file.
        path: PathBuf,
        /// The size it had when sealing began.
        expected: u64,
    },
    /// No recipient was given, or age refused them.
    #[error("cannot encrypt: {0}")]
    Encrypt(String),
    /// Writing the package failed.
    #[error(
        "writing the sealed package failed: {0}; check the free space and permissions of the output"
    )]
    WriteOutput(#[source] io::Error),
    /// A pipeline thread panicked or hung up (a bug).
    #[error("internal error while sealing: {0}")]
    Internal(&'static str),
    /// The caller stopped it (Ctrl-C): the output is incomplete and must be removed.
    #[error("sealing was interrupted; no package was made")]
    Cancelled,
}

/// Unsealing failed: the package was refused. Every file extracted so far has been removed; no
/// unverified file is left under its final name.
#[derive(Debug, thiserror::Error)]
pub enum UnsealError {
    /// The identity file cannot be used.
    #[error("{path}: cannot use the age identity file: {why}")]
    Identity {
        /// The identity file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The ASCII armor of the package is malformed.
    #[error("the package's ASCII armor is malformed ({0}): the file is damaged or not an age file")]
    Armor(String),
    /// The age header cannot be parsed.
    #[error(
        "the package's age header is invalid ({0}): the file is damaged, or is not an age file"
    )]
    Header(String),
    /// None of the identities can unwrap the file key.
    #[error(
        "the package was not sealed for this identity: none of its recipient stanzas opens with the given key; use the identity of the recipient it was sealed for"
    )]
    NoMatchingIdentity,
    /// The header MAC does not verify.
    #[error(
        "the package's header MAC does not verify: its header was altered or damaged; do not trust it"
    )]
    HeaderMac,
    /// The encrypted payload does not authenticate.
    #[error(
        "the package's ciphertext does not authenticate after {after} bytes of plaintext ({detail}): the package was altered, damaged or truncated; nothing from it was kept"
    )]
    Payload {
        /// Plaintext bytes that authenticated before the failure.
        after: u64,
        /// The decryptor's words.
        detail: String,
    },
    /// Reading the package failed (an I/O error, not a cryptographic one).
    #[error("reading the package failed: {0}")]
    ReadInput(#[source] io::Error),
    /// The plaintext is not a tar archive.
    #[error(
        "the decrypted package is not a valid tar archive ({0}); it was not made by Custos or tar"
    )]
    Tar(String),
    /// An entry would escape the output directory, or is not a plain file or directory.
    #[error("refused entry {name:?}: {why}; nothing from the package was kept")]
    UnsafeEntry {
        /// The entry name as found in the archive.
        name: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// Two entries have the same name.
    #[error("the package holds two entries named {0:?}; refused, nothing from it was kept")]
    DuplicateEntry(String),
    /// An entry comes after the manifest and its signature.
    #[error(
        "entry {0:?} comes after the manifest; a Custos package ends with manifest.json and manifest.sig; refused"
    )]
    EntryAfterManifest(String),
    /// A file of that name already exists in the output directory.
    #[error("{0} already exists; unseal into an empty directory")]
    OutputExists(PathBuf),
    /// Writing into the output directory failed.
    #[error(
        "writing {path}: {source}; check the free space and permissions of the output directory"
    )]
    WriteOutput {
        /// The file being written.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The package holds no manifest, and unverified contents were not allowed.
    #[error(
        "no manifest present: contents are unverified (this is an age-encrypted tar, but not a sealed Custos package); nothing was kept. Allow unverified contents to extract it anyway"
    )]
    NoManifest,
    /// `manifest.json` is present but `manifest.sig` is not, or the reverse.
    #[error("{0}: the package cannot be verified")]
    IncompleteManifest(&'static str),
    /// A manifest is present but the caller gave no verifier key.
    #[error(
        "the package has a signed manifest but no verifier key was given; give the node's verifier key to check it"
    )]
    NoVerifier,
    /// The signature was made by another key.
    #[error(
        "the manifest is signed by key {name}+{key_id:08x}, not by the expected {expected}; the package comes from another node (or was re-signed)"
    )]
    WrongSigner {
        /// The name in the signature line.
        name: String,
        /// The key id in the signature line.
        key_id: u32,
        /// The expected verifier key (`name+id`).
        expected: String,
    },
    /// The signature does not verify.
    #[error(
        "the manifest signature does not verify: manifest.json was altered after it was signed by {expected}; do not trust this package"
    )]
    BadSignature {
        /// The verifier key (`name+id`).
        expected: String,
    },
    /// The manifest does not parse, or is not canonical.
    #[error("manifest.json is not a valid custos.manifest (v1 or v2): {0}")]
    BadManifest(String),
    /// The manifest is for another request.
    #[error("the manifest is for request {found:?}, not {expected:?}")]
    WrongRequest {
        /// The manifest's request id.
        found: String,
        /// The request id the caller expected.
        expected: String,
    },
    /// A file's size or hash differs from the manifest.
    #[error(
        "file {path:?} does not match the manifest: {what}; the file was swapped or altered after sealing; nothing from the package was kept"
    )]
    FileMismatch {
        /// The file.
        path: String,
        /// What differs.
        what: String,
    },
    /// A file listed in the manifest is missing.
    #[error("file {0:?} is listed in the manifest but missing from the package; nothing was kept")]
    MissingFile(String),
    /// A file is in the package but not in the manifest.
    #[error(
        "file {0:?} is in the package but not in the manifest; it was added after sealing; nothing was kept"
    )]
    UnlistedFile(String),
    /// The caller stopped it (Ctrl-C): every file extracted so far was removed.
    #[error("unsealing was interrupted; nothing from the package was kept")]
    Cancelled,
}
