//! How a sealed evidence package is identified: by a digest of the package file (its age
//! ciphertext), named by its algorithm wherever it appears.
//!
//! Packages sealed before format v2 are logged by their SHA-256 (`package_sha256`); packages of
//! format v2 by their BLAKE3-256 (`package_blake3`), so that sealing hashes the plaintext once
//! (SHA-256 per file, for the manifest) and the ciphertext only with a hash several times
//! cheaper (docs/EVIDENCE-FORMAT.md weighs the alternatives). Both are 32 bytes, written as 64
//! lower-case hex digits; a package's file on a node is `evidence/<hex>.age` either way.

use serde::{Deserialize, Serialize};

/// The algorithm of a package digest.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum DigestKind {
    /// SHA-256 of the package file: packages of format v1.
    Sha256,
    /// BLAKE3-256 (default output length) of the package file: packages of format v2.
    Blake3,
}

impl DigestKind {
    /// Every kind, newest first.
    pub const ALL: [DigestKind; 2] = [DigestKind::Blake3, DigestKind::Sha256];

    /// The field that carries a digest of this kind in events, API answers and reports.
    pub fn field(self) -> &'static str {
        match self {
            DigestKind::Sha256 => "package_sha256",
            DigestKind::Blake3 => "package_blake3",
        }
    }

    /// Its name for people.
    pub fn label(self) -> &'static str {
        match self {
            DigestKind::Sha256 => "SHA-256",
            DigestKind::Blake3 => "BLAKE3",
        }
    }

    /// Its name in storage (`sha256`, `blake3`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl TryFrom<String> for DigestKind {
    type Error = strum::ParseError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// A package digest: its kind and 64 lower-case hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PackageDigest {
    kind: DigestKind,
    hex: String,
}

impl PackageDigest {
    /// A digest from its kind and hex text; `None` unless `hex` is 64 lower-case hex digits
    /// (which also keeps it a safe file name).
    pub fn new(kind: DigestKind, hex: &str) -> Option<PackageDigest> {
        is_digest_hex(hex).then(|| PackageDigest {
            kind,
            hex: hex.to_owned(),
        })
    }

    /// The digest an event body (or API item) names: its `package_blake3` or `package_sha256`
    /// field, whichever it has. `None` if it has neither, both, or a malformed one.
    pub fn from_fields(body: &serde_json::Value) -> Option<PackageDigest> {
        PackageDigest::from_map(body.as_object()?)
    }

    /// As [`PackageDigest::from_fields`], from an object's fields.
    pub fn from_map(body: &serde_json::Map<String, serde_json::Value>) -> Option<PackageDigest> {
        let mut found = DigestKind::ALL
            .into_iter()
            .filter_map(|k| body.get(k.field()).map(|v| (k, v)));
        let (kind, value) = found.next()?;
        if found.next().is_some() {
            return None;
        }
        PackageDigest::new(kind, value.as_str()?)
    }

    /// Its kind.
    pub fn kind(&self) -> DigestKind {
        self.kind
    }

    /// Its 64 hex digits.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// `{"package_<kind>": hex}`, to merge into an event body.
    pub fn field_pair(&self) -> (&'static str, serde_json::Value) {
        (
            self.kind.field(),
            serde_json::Value::String(self.hex.clone()),
        )
    }
}

impl std::fmt::Display for PackageDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind.label(), self.hex)
    }
}

/// Whether `s` is 64 lower-case hex digits (a SHA-256 or BLAKE3-256 digest).
pub fn is_digest_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_either_field_never_both() {
        let a = "ab".repeat(32);
        let v1 = PackageDigest::from_fields(&json!({"package_sha256": a})).expect("v1");
        assert_eq!((v1.kind(), v1.hex()), (DigestKind::Sha256, a.as_str()));
        let v2 = PackageDigest::from_fields(&json!({"package_blake3": a})).expect("v2");
        assert_eq!(v2.kind(), DigestKind::Blake3);
        assert_eq!(v2.field_pair().0, "package_blake3");
        assert!(
            PackageDigest::from_fields(&json!({"package_sha256": a, "package_blake3": a}))
                .is_none()
        );
        assert!(PackageDigest::from_fields(&json!({})).is_none());
        assert!(PackageDigest::from_fields(&json!({"package_blake3": "AB".repeat(32)})).is_none());
        assert!(PackageDigest::from_fields(&json!({"package_blake3": "ab"})).is_none());
        assert!(PackageDigest::from_fields(&json!({"package_blake3": 7})).is_none());
    }

    #[test]
    fn kinds_round_trip_their_storage_names() {
        for k in DigestKind::ALL {
            assert_eq!(k.as_str().parse::<DigestKind>().ok(), Some(k));
        }
        assert_eq!(DigestKind::Blake3.as_str(), "blake3");
    }
}
