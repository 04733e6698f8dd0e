//! The manifest of a sealed package (`custos.manifest/v2`, or v1 in older packages) and its
//! detached signature.
//!
//! v2 differs from v1 only in what it promises about the package around it: a v2 package is
//! logged by the BLAKE3-256 of its file (`package_blake3`), a v1 package by its SHA-256
//! (`package_sha256`). Both open; the fields are the same.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use custos_ledger::{SignerKey, VerifierKey};
use custos_model::{DataCategory, Period};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::UnsealError;

/// The `format` of a manifest written now.
pub const MANIFEST_FORMAT: &str = "custos.manifest/v2";
/// The `format` of manifests in packages sealed before format v2, which still open.
pub const MANIFEST_FORMAT_V1: &str = "custos.manifest/v1";
/// The manifest's name in the archive.
pub const MANIFEST_NAME: &str = "manifest.json";
/// The signature's name in the archive.
pub const SIGNATURE_NAME: &str = "manifest.sig";

/// What a package holds, for which request, from whom, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`MANIFEST_FORMAT`], or [`MANIFEST_FORMAT_V1`] in an older package.
    pub format: String,
    /// The request this package answers.
    pub request_id: String,
    /// Who produced it (by default the node key's name).
    pub producer: String,
    /// When it was sealed.
    pub sealed_at: Timestamp,
    /// The request's target values the package covers (an execution in part produces only
    /// some); absent in a package that does not say (e.g. `custos seal` without `--target`).
    /// The manifest travels encrypted to the requester, who knows its own targets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// The files, in archive order.
    pub files: Vec<FileEntry>,
}

/// One produced file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Its name in the archive.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 of its contents.
    pub sha256: String,
    /// A label for the target the data is about (never the identifier itself, unless the caller
    /// chose to put it here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The category of data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_category: Option<DataCategory>,
    /// The period the data covers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<Period>,
}

impl Manifest {
    /// The RFC 8785 canonical form: the exact bytes of `manifest.json`, and what is signed.
    pub fn canonical(&self) -> Vec<u8> {
        // Serialising plain structs of strings, integers and timestamps cannot fail.
        serde_json_canonicalizer::to_vec(self).unwrap_or_default()
    }

    /// The `manifest.sig` line: `— <key name> base64(key id ‖ Ed25519 signature)\n`, the
    /// signature being over `canonical` exactly. A canonical JSON object ends in `}`, a signed
    /// note's text in a newline, so this signature can never pass as a checkpoint signature.
    pub fn signature_line(canonical: &[u8], key: &SignerKey) -> String {
        let sig = key.sign_detached(canonical);
        let mut raw = Vec::with_capacity(68);
        raw.extend_from_slice(&key.key_id().to_be_bytes());
        raw.extend_from_slice(&sig);
        format!("\u{2014} {} {}\n", key.name(), STANDARD.encode(raw))
    }

    /// Checks `manifest.sig` against the exact `manifest.json` bytes, then parses them and
    /// checks that they are canonical and of this format.
    pub fn verify(
        manifest_bytes: &[u8],
        signature_line: &[u8],
        verifier: &VerifierKey,
    ) -> Result<Manifest, UnsealError> {
        let expected = format!("{}+{:08x}", verifier.name(), verifier.key_id());
        let line = std::str::from_utf8(signature_line)
            .map_err(|_| UnsealError::BadManifest("manifest.sig is not UTF-8".into()))?;
        let line = line.strip_suffix('\n').unwrap_or(line);
        let malformed = || {
            UnsealError::BadManifest(
                "manifest.sig is not a line `— <key name> base64(key id ‖ signature)`".into(),
            )
        };
        let rest = line.strip_prefix("\u{2014} ").ok_or_else(malformed)?;
        let (name, b64) = rest.split_once(' ').ok_or_else(malformed)?;
        let raw = STANDARD.decode(b64).map_err(|_| malformed())?;
        if raw.len() != 68 {
            return Err(malformed());
        }
        let key_id = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
        if name != verifier.name() || key_id != verifier.key_id() {
            return Err(UnsealError::WrongSigner {
                name: name.to_owned(),
                key_id,
                expected,
            });
        }
        let mut sig = [0u8; 64];
        sig.copy_from_slice(&raw[4..]);
        if !verifier.verify_detached(manifest_bytes, &sig) {
            return Err(UnsealError::BadSignature { expected });
        }
        let manifest: Manifest = serde_json::from_slice(manifest_bytes)
            .map_err(|e| UnsealError::BadManifest(e.to_string()))?;
        if manifest.format != MANIFEST_FORMAT && manifest.format != MANIFEST_FORMAT_V1 {
            return Err(UnsealError::BadManifest(format!(
                "format is {:?}, expected {MANIFEST_FORMAT:?} or {MANIFEST_FORMAT_V1:?}",
                manifest.format
            )));
        }
        if manifest.canonical() != manifest_bytes {
            return Err(UnsealError::BadManifest(
                "not in RFC 8785 canonical form".into(),
            ));
        }
        Ok(manifest)
    }
}
