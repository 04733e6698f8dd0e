//! `custos-witness`: a transparency-log witness (C2SP tlog-witness) with Ed25519
//! `cosignature/v1` cosignatures (C2SP tlog-cosignature).
//!
//! A witness is an independent party — a court, a parliament's office, an NGO — that keeps the
//! latest checkpoint it saw of each log it watches. It cosigns a new checkpoint only with a
//! consistency proof from the one it holds, so a log that shows two histories to two audiences
//! (a *split view*) cannot get both cosigned by the same witness. When a log tries, the witness
//! refuses and keeps both checkpoints, signed by the log, as evidence.
//!
//! * [`request`] — the add-checkpoint body (pure).
//! * [`witness`] — the state and the checks, with the spec's status codes; durable storage.
//! * [`http`] — the axum router.
//!
//! It depends on custos-ledger only (checkpoints, notes, proofs, cosignatures).
//!
//! # The witness directory
//!
//! ```text
//! W/
//!   witness.key        the signing key, PRIVATE+KEY+<name>+<key ID>+base64(0x04 ‖ seed), mode 0600
//!   witness.vkey       its verifier key <name>+<key ID>+base64(0x04 ‖ public key): give it to
//!                      the log operators and to whoever checks cosignatures
//!   logs/<log>/checkpoint
//!                      per log, the latest checkpoint cosigned: the log's signed note followed
//!                      by the witness's cosignature line (written to a temporary file, fsynced,
//!                      renamed, before the cosignature is answered)
//!   evidence/<log>/<kind>-size<H>-vs-size<P>-<hash>/
//!                      a refused inconsistent checkpoint: held.checkpoint (the one cosigned
//!                      before, size H), presented.request (the request refused, with the
//!                      checkpoint of size P), README.txt (what failed, when). kind is
//!                      `split-view` (same size, another root) or `inconsistent` (the proof from
//!                      H to P failed); hash: the first 12 hex digits of SHA-256 of the refused
//!                      checkpoint's body, so each is kept once (with the first request).
//! ```
//!
//! `<log>` is the origin made safe for a file name and the first 8 hex digits of its SHA-256
//! ([`witness::log_dir_name`]). Back the directory up: losing `logs/` lets the witness be shown
//! a history that contradicts what it cosigned before.

pub mod http;
pub mod request;
pub mod witness;

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use custos_ledger::cosignature::{CosignatureError, WitnessSignerKey, WitnessVerifierKey};

pub use http::router;
pub use witness::{Clock, Refusal, Witness, system_clock};

/// The key file's name in the witness directory.
pub const KEY_FILE: &str = "witness.key";
/// The verifier key file's name in the witness directory.
pub const VKEY_FILE: &str = "witness.vkey";

/// Errors creating or opening a witness directory.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The directory already has a key.
    #[error(
        "{0} already exists: a witness key is never overwritten (its verifier key is already \
         configured by the logs); use another directory for a new witness"
    )]
    KeyExists(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The key file or the name is not valid.
    #[error("{path}: {source}")]
    Key {
        /// The file or argument.
        path: String,
        /// The error.
        source: CosignatureError,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SetupError + '_ {
    move |source| SetupError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Creates a witness directory with a fresh key named `name` (key file mode 0600, never
/// overwritten) and returns its verifier key.
pub fn init(dir: &Path, name: &str) -> Result<WitnessVerifierKey, SetupError> {
    let key = WitnessSignerKey::generate(name, &mut rand_core::OsRng).map_err(|source| {
        SetupError::Key {
            path: "--name".into(),
            source,
        }
    })?;
    fs::create_dir_all(dir).map_err(io(dir))?;
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    let path = dir.join(KEY_FILE);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                SetupError::KeyExists(path.display().to_string())
            } else {
                io(&path)(e)
            }
        })?;
    let private = key.to_private_string();
    f.write_all(private.as_bytes())
        .and_then(|()| f.write_all(b"\n"))
        .and_then(|()| f.sync_all())
        .map_err(io(&path))?;
    let vk = key.verifier();
    let vpath = dir.join(VKEY_FILE);
    witness::write_durably(&vpath, format!("{vk}\n").as_bytes()).map_err(io(&vpath))?;
    Ok(vk)
}

/// Reads the witness key of a directory made by [`init`].
pub fn load_key(dir: &Path) -> Result<WitnessSignerKey, SetupError> {
    let path = dir.join(KEY_FILE);
    let text = zeroize::Zeroizing::new(fs::read_to_string(&path).map_err(io(&path))?);
    WitnessSignerKey::parse(text.trim()).map_err(|source| SetupError::Key {
        path: path.display().to_string(),
        source,
    })
}
