//! C2SP transparency-log checkpoints (<https://c2sp.org/tlog-checkpoint>).
//!
//! A checkpoint is the log's signed statement "my tree has `size` leaves and
//! root `root`". Custos publishes one after appending events; auditors keep the
//! last one they saw and demand a consistency proof to the next. The body is:
//!
//! ```text
//! <origin>
//! <tree size, decimal, no leading zeros>
//! <root hash, standard base64>
//! [extension lines, each non-empty]
//! ```
//!
//! Each line ends in a newline, and the whole text is signed as a C2SP signed
//! note ([`crate::note`]). Parsing is strict — a checkpoint that formats
//! differently from how it parsed is rejected — so the same tree head can never
//! be signed in two encodings.

use crate::hash::Hash;
use crate::note::{self, NoteError, SignerKey, VerifiedNote, VerifierKey};

/// Errors formatting, parsing and verifying checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The checkpoint text does not follow the format.
    #[error("malformed checkpoint: {0}")]
    Malformed(&'static str),
    /// The checkpoint's origin is not the expected log.
    #[error("checkpoint origin {found:?} is not {expected:?}")]
    WrongOrigin {
        /// The origin the caller trusts.
        expected: String,
        /// The origin in the checkpoint.
        found: String,
    },
    /// The signed note was malformed or did not verify.
    #[error(transparent)]
    Note(#[from] NoteError),
}

/// A parsed checkpoint body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line, e.g. `custos.example/log`.
    pub origin: String,
    /// Number of leaves in the tree.
    pub size: u64,
    /// RFC 6962 root hash of the tree of `size` leaves.
    pub root: Hash,
    /// Opaque extension lines (without newlines); usually empty.
    pub extensions: Vec<String>,
}

fn valid_line(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(|c| c < ' ')
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Self {
        Checkpoint {
            origin: origin.into(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// Formats the note text (every line, including the last, ends in `\n`).
    pub fn to_text(&self) -> Result<String, CheckpointError> {
        if !valid_line(&self.origin) {
            return Err(CheckpointError::Malformed(
                "origin must be a non-empty line without control characters",
            ));
        }
        if !self.extensions.iter().all(|e| valid_line(e)) {
            return Err(CheckpointError::Malformed(
                "extension lines must be non-empty and without control characters",
            ));
        }
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        Ok(s)
    }

    /// Parses a checkpoint body strictly.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let Some(body) = text.strip_suffix('\n') else {
            return Err(CheckpointError::Malformed("must end with a newline"));
        };
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(CheckpointError::Malformed("needs at least three lines"));
        };
        if !valid_line(origin) {
            return Err(CheckpointError::Malformed("invalid origin line"));
        }
        let size = parse_size(size)?;
        let root = Hash::from_base64(root)
            .map_err(|_| CheckpointError::Malformed("root hash must be base64 of 32 bytes"))?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if !extensions.iter().all(|e| valid_line(e)) {
            return Err(CheckpointError::Malformed(
                "empty or invalid extension line",
            ));
        }
        let cp = Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        };
        // Reject anything that would not format back to the same bytes
        // (e.g. non-canonical base64).
        if cp.to_text()? != text {
            return Err(CheckpointError::Malformed("non-canonical encoding"));
        }
        Ok(cp)
    }

    /// Formats and signs the checkpoint, returning the signed note.
    pub fn sign(&self, signers: &[&SignerKey]) -> Result<String, CheckpointError> {
        Ok(note::sign(&self.to_text()?, signers)?)
    }

    /// Verifies a signed checkpoint note against `verifiers`, parses it, and
    /// checks that its origin is `expected_origin`.
    pub fn open(
        msg: &str,
        expected_origin: &str,
        verifiers: &[VerifierKey],
    ) -> Result<(Checkpoint, VerifiedNote), CheckpointError> {
        let verified = note::open(msg, verifiers)?;
        let cp = Checkpoint::parse(&verified.text)?;
        if cp.origin != expected_origin {
            return Err(CheckpointError::WrongOrigin {
                expected: expected_origin.to_owned(),
                found: cp.origin,
            });
        }
        Ok((cp, verified))
    }
}

fn parse_size(s: &str) -> Result<u64, CheckpointError> {
    let ok =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if !ok {
        return Err(CheckpointError::Malformed(
            "tree size must be decimal without leading zeros",
        ));
    }
    s.parse()
        .map_err(|_| CheckpointError::Malformed("tree size out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::empty_root;

    #[test]
    fn strict_parsing() {
        let root = empty_root().to_base64();
        let good = format!("example.com/log\n0\n{root}\n");
        assert!(Checkpoint::parse(&good).is_ok());
        for bad in [
            format!("example.com/log\n00\n{root}\n"),
            format!("example.com/log\n01\n{root}\n"),
            format!("example.com/log\n+1\n{root}\n"),
            format!("example.com/log\n1\n{root}"),
            format!("\n1\n{root}\n"),
            format!("example.com/log\n1\n{root}\n\n"),
            format!("example.com/log\n18446744073709551616\n{root}\n"),
            "example.com/log\n1\nZG9uJ3QgY2FyZSAy\n".to_owned(),
            "example.com/log\n1\n".to_owned(),
        ] {
            assert!(Checkpoint::parse(&bad).is_err(), "{bad:?}");
        }
    }
}
