//! `custos-seal`: sealed evidence packages.
//!
//! When a provider produces the data a request asked for, Custos hands it over as one **sealed
//! package**: an [age](https://age-encryption.org/v1) file, encrypted to the requesting
//! authority's X25519 recipient(s), whose plaintext is a tar archive holding
//!
//! 1. the produced files, at the top level of the archive, in the order given;
//! 2. `manifest.json` — the [`Manifest`] (`custos.manifest/v2`): request id, producer, time, and
//!    for each file its size, SHA-256, target label, data category and period. It is stored in
//!    its RFC 8785 canonical form, byte for byte, so `sha256sum manifest.json` is the manifest
//!    digest;
//! 3. `manifest.sig` — a detached Ed25519 signature by the node key (the key that signs log
//!    checkpoints, [`custos_ledger::SignerKey`]) over exactly the bytes of `manifest.json`,
//!    written as one signed-note signature line: `— <key name> base64(key id ‖ signature)`.
//!
//! The manifest comes **last** so that sealing reads every file once: the hashes are computed
//! while the files stream into the archive, and the manifest is written when they are known.
//! Unsealing mirrors it: files stream to temporary names while being hashed, and are renamed to
//! their final names only once the manifest has arrived, its signature verifies and every hash
//! matches.
//!
//! Memory stays flat whatever the size of the files: [`seal()`] pipelines reading and hashing,
//! encryption, and hashing and writing of the ciphertext across three threads joined by bounded
//! channels of fixed-size buffers (see [`seal`](mod@seal)); [`unseal()`] streams.
//!
//! Any stock age implementation opens a package (`age -d -i key pkg.age | tar t`); [`unseal()`]
//! opens any age-encrypted tar, reporting [`UnsealError::NoManifest`] (or, when allowed,
//! [`Verification::Unverified`]) if it holds no manifest.
//!
//! The crate does no I/O beyond the `Read`/`Write` streams and the file paths its caller gives
//! it: no network, no database, no logging. It never prints file contents or key material.

pub mod durable;
mod error;
pub mod manifest;
pub mod open;
pub mod payload;
pub mod seal;
pub mod unseal;

pub use durable::DurableFile;
pub use error::{SealError, UnsealError};
pub use manifest::{
    FileEntry, MANIFEST_FORMAT, MANIFEST_FORMAT_V1, MANIFEST_NAME, Manifest, SIGNATURE_NAME,
};
pub use open::{Identities, open_package, read_identities};
pub use seal::{FileToSeal, SealReport, SealSpec, StageTimes, seal};
pub use unseal::{ExtractedFile, UnsealOptions, UnsealReport, Verification, unseal};
