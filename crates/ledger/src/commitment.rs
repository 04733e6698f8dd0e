//! Salted commitments to Custos events, and the public leaf that goes into the
//! log.
//!
//! The log is public; the events (who asked whom for which evidence) are not.
//! So the log holds only a small public record per event:
//!
//! ```json
//! {"commitment":"<64 hex>","day":"YYYY-MM-DD","event_type":"<type>"}
//! ```
//!
//! where `commitment = SHA-256(salt ‖ JCS(event))`, `salt` is 32 random bytes
//! kept with the event, and `JCS` is the RFC 8785 canonical JSON of the full
//! event as a `serde_json::Value`. Whoever is later given the event and its
//! salt (the *opening*) can check that this exact event was logged on that
//! day, and the random salt stops anyone else from confirming a guessed event
//! by brute force.
//!
//! # Leaf encoding (stable)
//!
//! The leaf bytes are the RFC 8785 canonical JSON of the public record: an
//! object with exactly the keys `commitment` (lower-case hex of the 32-byte
//! commitment), `day` (a valid calendar date `YYYY-MM-DD`) and `event_type`
//! (1–64 ASCII characters from `A–Z a–z 0–9 . _ : -`), in that (sorted)
//! order, no whitespace, UTF-8. [`PublicRecord::from_leaf_bytes`] accepts only
//! bytes that re-encode identically, so each record has exactly one leaf.
//! The Merkle leaf hash is then `SHA-256(0x00 ‖ leaf bytes)` as for any entry.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand_core::{CryptoRng, OsRng, RngCore};
use serde_json::Value;

use crate::hash::{Hash, leaf_hash, sha256};

/// Length of a commitment salt.
pub const SALT_LEN: usize = 32;

/// Errors about commitments and public records.
#[derive(Debug, thiserror::Error)]
pub enum CommitmentError {
    /// The JSON could not be parsed or canonicalised (RFC 8785 forbids e.g.
    /// non-finite numbers).
    #[error("cannot canonicalise JSON")]
    Json(#[source] serde_json::Error),
    /// The operating system's random source failed.
    #[error("random source unavailable")]
    Random,
    /// A salt that is not 32 bytes of standard base64.
    #[error("a salt is 32 bytes of standard base64")]
    InvalidSalt,
    /// The opening (event and salt) does not match the commitment.
    #[error("the event and salt do not match the commitment")]
    Mismatch,
    /// An event type outside the allowed form.
    #[error("event type must be 1-64 characters of A-Z a-z 0-9 . _ : -")]
    InvalidEventType,
    /// A day that is not a valid `YYYY-MM-DD` date.
    #[error("day must be a valid YYYY-MM-DD date")]
    InvalidDay,
    /// Leaf bytes that are not the canonical encoding of a public record.
    #[error("not a canonical public record: {0}")]
    InvalidRecord(&'static str),
}

/// A 32-byte random salt. Its `Debug` form does not reveal it.
#[derive(Clone, PartialEq, Eq)]
pub struct Salt([u8; SALT_LEN]);

impl Salt {
    /// Wraps 32 bytes.
    pub fn from_bytes(bytes: [u8; SALT_LEN]) -> Self {
        Salt(bytes)
    }

    /// A fresh salt from the operating system's random source.
    pub fn random() -> Result<Self, CommitmentError> {
        let mut b = [0u8; SALT_LEN];
        OsRng
            .try_fill_bytes(&mut b)
            .map_err(|_| CommitmentError::Random)?;
        Ok(Salt(b))
    }

    /// A fresh salt from a caller-supplied cryptographic RNG.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut b = [0u8; SALT_LEN];
        rng.fill_bytes(&mut b);
        Salt(b)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; SALT_LEN] {
        &self.0
    }

    /// Standard base64, for storing the salt beside the event.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Parses standard base64 of exactly 32 bytes.
    pub fn from_base64(s: &str) -> Result<Self, CommitmentError> {
        let raw = STANDARD
            .decode(s)
            .map_err(|_| CommitmentError::InvalidSalt)?;
        let b: [u8; SALT_LEN] = raw
            .as_slice()
            .try_into()
            .map_err(|_| CommitmentError::InvalidSalt)?;
        Ok(Salt(b))
    }
}

impl fmt::Debug for Salt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Salt(..)")
    }
}

/// RFC 8785 (JCS) canonical JSON of a value.
pub fn canonicalize(value: &Value) -> Result<String, CommitmentError> {
    serde_json_canonicalizer::to_string(value).map_err(CommitmentError::Json)
}

/// Parses JSON text and returns its RFC 8785 canonical form.
pub fn canonicalize_str(json: &str) -> Result<String, CommitmentError> {
    let value: Value = serde_json::from_str(json).map_err(CommitmentError::Json)?;
    canonicalize(&value)
}

/// `SHA-256(salt ‖ JCS(event))`.
pub fn commit(event: &Value, salt: &Salt) -> Result<Hash, CommitmentError> {
    let canonical = canonicalize(event)?;
    Ok(Hash(sha256(&[&salt.0, canonical.as_bytes()])))
}

/// `SHA-256(salt ‖ canonical)` over an event already in its RFC 8785 form (what [`commit`]
/// computes after canonicalizing; for a caller that keeps the canonical text anyway).
pub fn commit_canonical(canonical: &str, salt: &Salt) -> Hash {
    Hash(sha256(&[&salt.0, canonical.as_bytes()]))
}

/// Checks an opening (event and salt) against a commitment.
pub fn verify_opening(
    event: &Value,
    salt: &Salt,
    commitment: &Hash,
) -> Result<(), CommitmentError> {
    if commit(event, salt)? == *commitment {
        Ok(())
    } else {
        Err(CommitmentError::Mismatch)
    }
}

/// The public leaf of one Custos event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicRecord {
    event_type: String,
    day: String,
    commitment: Hash,
}

fn valid_event_type(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

fn valid_day(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(r)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (Some(y), Some(m), Some(d)) = (digits(0..4), digits(5..7), digits(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

impl PublicRecord {
    /// Validates and builds a record.
    pub fn new(event_type: &str, day: &str, commitment: Hash) -> Result<Self, CommitmentError> {
        if !valid_event_type(event_type) {
            return Err(CommitmentError::InvalidEventType);
        }
        if !valid_day(day) {
            return Err(CommitmentError::InvalidDay);
        }
        Ok(PublicRecord {
            event_type: event_type.to_owned(),
            day: day.to_owned(),
            commitment,
        })
    }

    /// Commits to `event` with `salt` and builds its public record.
    pub fn for_event(
        event_type: &str,
        day: &str,
        event: &Value,
        salt: &Salt,
    ) -> Result<Self, CommitmentError> {
        Self::new(event_type, day, commit(event, salt)?)
    }

    /// The event type.
    pub fn event_type(&self) -> &str {
        &self.event_type
    }
    /// The day, `YYYY-MM-DD`.
    pub fn day(&self) -> &str {
        &self.day
    }
    /// The commitment.
    pub fn commitment(&self) -> &Hash {
        &self.commitment
    }

    /// The leaf bytes: RFC 8785 JSON of the record (see the module docs).
    pub fn leaf_bytes(&self) -> Vec<u8> {
        // Fields are validated ASCII without characters JSON escapes, and
        // JCS orders keys by UTF-16 code units, so this is the canonical form
        // (the tests check it against the canonicaliser).
        format!(
            "{{\"commitment\":\"{}\",\"day\":\"{}\",\"event_type\":\"{}\"}}",
            self.commitment.to_hex(),
            self.day,
            self.event_type
        )
        .into_bytes()
    }

    /// The RFC 9162 leaf hash of [`PublicRecord::leaf_bytes`].
    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(&self.leaf_bytes())
    }

    /// Parses leaf bytes, accepting only the canonical encoding.
    pub fn from_leaf_bytes(bytes: &[u8]) -> Result<Self, CommitmentError> {
        let value: Value = serde_json::from_slice(bytes).map_err(CommitmentError::Json)?;
        let Value::Object(map) = &value else {
            return Err(CommitmentError::InvalidRecord("not an object"));
        };
        if map.len() != 3 {
            return Err(CommitmentError::InvalidRecord(
                "exactly three fields expected",
            ));
        }
        let field = |k: &'static str| -> Result<&str, CommitmentError> {
            map.get(k)
                .and_then(Value::as_str)
                .ok_or(CommitmentError::InvalidRecord(
                    "missing or non-string field",
                ))
        };
        let commitment = Hash::from_hex(field("commitment")?)
            .map_err(|_| CommitmentError::InvalidRecord("commitment must be 64 hex digits"))?;
        let record = Self::new(field("event_type")?, field("day")?, commitment)?;
        if record.leaf_bytes() != bytes {
            return Err(CommitmentError::InvalidRecord("non-canonical encoding"));
        }
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn commitment_round_trip() {
        let event = json!({"b": [1, 2.5, "x"], "a": {"z": null, "y": true}});
        let salt = Salt::from_bytes([7; 32]);
        let c = commit(&event, &salt).unwrap();
        verify_opening(&event, &salt, &c).unwrap();
        // Key order does not matter; content does.
        let same = json!({"a": {"y": true, "z": null}, "b": [1, 2.5, "x"]});
        verify_opening(&same, &salt, &c).unwrap();
        assert!(verify_opening(&json!({"a": 1}), &salt, &c).is_err());
        assert!(verify_opening(&event, &Salt::from_bytes([8; 32]), &c).is_err());
    }

    #[test]
    fn leaf_bytes_are_jcs_and_parse_back() {
        let r = PublicRecord::new("request.received", "2024-02-29", Hash([0xab; 32])).unwrap();
        let bytes = r.leaf_bytes();
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(canonicalize(&v).unwrap().into_bytes(), bytes);
        assert_eq!(PublicRecord::from_leaf_bytes(&bytes).unwrap(), r);
        let spaced = String::from_utf8(bytes).unwrap().replace(':', ": ");
        assert!(PublicRecord::from_leaf_bytes(spaced.as_bytes()).is_err());
    }

    #[test]
    fn record_validation() {
        let h = Hash::default();
        assert!(PublicRecord::new("", "2024-01-01", h).is_err());
        assert!(PublicRecord::new("has space", "2024-01-01", h).is_err());
        assert!(PublicRecord::new("x\"y", "2024-01-01", h).is_err());
        for day in [
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-1-01",
            "24-01-011",
            "2024-04-31",
        ] {
            assert!(PublicRecord::new("t", day, h).is_err(), "{day}");
        }
        assert!(PublicRecord::new("t", "2000-02-29", h).is_ok());
    }

    #[test]
    fn salt_debug_is_redacted() {
        let s = Salt::from_bytes([1; 32]);
        assert_eq!(format!("{s:?}"), "Salt(..)");
        assert_eq!(Salt::from_base64(&s.to_base64()).unwrap(), s);
    }
}
