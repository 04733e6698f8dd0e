//! RFC 6962 / RFC 9162 Merkle tree hashing.
//!
//! Every hash in the log goes through this module so that the domain
//! separation of RFC 9162 §2.1.1 is applied in exactly one place: a leaf hash is
//! `SHA-256(0x00 ‖ data)`, an interior node is `SHA-256(0x01 ‖ left ‖ right)`
//! and the root of the empty tree is `SHA-256("")`. The prefixes make it
//! impossible to pass off an interior node as a leaf (second-preimage attacks).
//!
//! [`Hash`](struct@Hash) is a 32-byte newtype with hex and standard-base64 helpers, because
//! checkpoints carry base64 roots and humans and logs prefer hex.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

/// Length in bytes of every hash in the log (SHA-256).
pub const HASH_LEN: usize = 32;

/// Errors decoding a [`Hash`](struct@Hash) from text or bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// The input decoded to a byte string that is not exactly 32 bytes long.
    #[error("a hash is {HASH_LEN} bytes, got {0}")]
    Length(usize),
    /// The input is not valid lower- or upper-case hex.
    #[error("invalid hex")]
    Hex,
    /// The input is not valid standard (RFC 4648 §4, padded) base64.
    #[error("invalid base64")]
    Base64,
}

/// A SHA-256 hash: a leaf hash, an interior node hash or a tree root.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; HASH_LEN]);

impl Hash {
    /// Wraps raw bytes, which must be exactly 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, HashError> {
        let arr: [u8; HASH_LEN] = bytes
            .try_into()
            .map_err(|_| HashError::Length(bytes.len()))?;
        Ok(Hash(arr))
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; HASH_LEN] {
        &self.0
    }

    /// Lower-case hex encoding (64 characters).
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(HASH_LEN * 2);
        for b in self.0 {
            s.push(char::from(DIGITS[usize::from(b >> 4)]));
            s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
        }
        s
    }

    /// Parses 64 hex characters (either case).
    pub fn from_hex(s: &str) -> Result<Self, HashError> {
        let bytes = s.as_bytes();
        if bytes.len() != HASH_LEN * 2 {
            return Err(if bytes.len().is_multiple_of(2) {
                HashError::Length(bytes.len() / 2)
            } else {
                HashError::Hex
            });
        }
        let mut out = [0u8; HASH_LEN];
        for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            *o = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
        }
        Ok(Hash(out))
    }

    /// Standard, padded base64 (RFC 4648 §4), as used in checkpoints.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Parses standard, padded base64; the result must be exactly 32 bytes.
    pub fn from_base64(s: &str) -> Result<Self, HashError> {
        let bytes = STANDARD.decode(s).map_err(|_| HashError::Base64)?;
        Self::from_slice(&bytes)
    }
}

fn hex_digit(c: u8) -> Result<u8, HashError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(HashError::Hex),
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl FromStr for Hash {
    type Err = HashError;
    /// Parses hex (the `Display` form).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_hex(s)
    }
}

impl From<[u8; HASH_LEN]> for Hash {
    fn from(value: [u8; HASH_LEN]) -> Self {
        Hash(value)
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// RFC 9162 leaf hash: `SHA-256(0x00 ‖ data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    Hash(h.finalize().into())
}

/// RFC 9162 interior node hash: `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut buf = [0u8; 1 + 2 * HASH_LEN];
    buf[0] = 0x01;
    buf[1..=HASH_LEN].copy_from_slice(&left.0);
    buf[1 + HASH_LEN..].copy_from_slice(&right.0);
    Hash(Sha256::digest(buf).into())
}

/// Root of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Hash(Sha256::digest([]).into())
}

/// Plain SHA-256 of `data`, for callers that need the raw digest
/// (e.g. key ids and commitments).
pub(crate) fn sha256(parts: &[&[u8]]) -> [u8; HASH_LEN] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_base64_round_trip() {
        let h = leaf_hash(b"");
        assert_eq!(
            h.to_hex(),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        assert_eq!(Hash::from_hex(&h.to_hex()), Ok(h));
        assert_eq!(Hash::from_hex(&h.to_hex().to_uppercase()), Ok(h));
        assert_eq!(Hash::from_base64(&h.to_base64()), Ok(h));
        assert_eq!(
            Hash::from_base64("ZG9uJ3QgY2FyZSAy"),
            Err(HashError::Length(12))
        );
        assert_eq!(Hash::from_hex("zz"), Err(HashError::Length(1)));
        assert!(Hash::from_base64("not base64!").is_err());
    }
}
