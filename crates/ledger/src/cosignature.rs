//! C2SP transparency-log cosignatures, Ed25519 `cosignature/v1`
//! (<https://c2sp.org/tlog-cosignature>).
//!
//! A witness that has checked a log's checkpoint to be consistent with
//! everything it saw before adds a *cosignature*: a signed-note signature line
//! whose signature is timestamped,
//!
//! ```text
//! — <witness name> base64(key ID (4) ‖ timestamp (8, big-endian) ‖ Ed25519 signature (64))
//! ```
//!
//! over the message `cosignature/v1\ntime <timestamp>\n` followed by the whole
//! checkpoint body (every line, extension lines included, final newline
//! included; no signature line). The timestamp is POSIX seconds, at most
//! 2^63 − 1.
//!
//! Witness keys use the signed-note text forms with signature type `0x04`:
//! * verifier key: `<name>+<key ID, 8 hex digits>+base64(0x04 ‖ 32-byte public key)`
//! * signer key: `PRIVATE+KEY+<name>+<key ID>+base64(0x04 ‖ 32-byte seed)` (the
//!   same shape as [`crate::note`]'s; the cosignature spec defines no private form)
//!
//! where key ID = the first 4 bytes of `SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key)`.
//! Because the type byte differs from a log key's (`0x01`), a witness key can
//! never be mistaken for a log key, and the `cosignature/v1` prefix keeps a
//! cosignature from ever being a valid note signature.
//!
//! The signed message does not contain the witness name, so one key must
//! serve one witness name only (the spec's rule).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use rand_core::{CryptoRng, RngCore};
use zeroize::{Zeroize, Zeroizing};

use crate::checkpoint::Checkpoint;
use crate::note;

/// Signature type byte of an Ed25519 `cosignature/v1` key.
pub const COSIGNATURE_V1_TYPE: u8 = 0x04;

/// The largest timestamp a cosignature may carry (2^63 − 1).
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;

const SIG_PREFIX: &str = "\u{2014} ";

/// Errors parsing witness keys, cosigning and verifying cosignatures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CosignatureError {
    /// A witness key's text form is malformed.
    #[error("malformed witness key: {0}")]
    MalformedKey(&'static str),
    /// A witness key's ID does not match its name and public key.
    #[error(
        "witness key ID {found:08x} does not match its name and public key (expected {expected:08x}): \
         the key was altered or copied incompletely"
    )]
    KeyIdMismatch {
        /// The ID written in the key.
        found: u32,
        /// The ID computed from the name and public key.
        expected: u32,
    },
    /// A witness name is empty or contains a space, `+` or a control character.
    #[error(
        "invalid witness name {0:?}: it must be non-empty, without spaces, '+' or control characters"
    )]
    InvalidName(String),
    /// The text to cosign is not a checkpoint body.
    #[error("not a checkpoint body: {0}")]
    NotACheckpoint(String),
    /// A timestamp above 2^63 − 1.
    #[error("cosignature timestamp {0} exceeds 2^63-1")]
    TimestampOutOfRange(u64),
    /// A cosignature line is malformed.
    #[error("malformed cosignature line: {0}")]
    MalformedLine(&'static str),
    /// The note around the cosignatures is malformed.
    #[error("malformed note: {0}")]
    Note(#[from] note::NoteError),
    /// A line from a configured witness failed to verify.
    #[error("the cosignature of witness {name} does not verify over this checkpoint")]
    BadCosignature {
        /// The witness name.
        name: String,
    },
    /// A configured witness signed the note twice.
    #[error("witness {name} cosigned the note twice")]
    DuplicateCosignature {
        /// The witness name.
        name: String,
    },
}

/// Key ID = first 4 bytes, big-endian, of SHA-256(name ‖ 0x0A ‖ 0x04 ‖ pubkey).
pub fn key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    note::typed_key_id(COSIGNATURE_V1_TYPE, name, public_key)
}

fn parse_key_id(s: &str) -> Result<u32, CosignatureError> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(CosignatureError::MalformedKey(
            "the key ID (second field) must be 8 hex digits",
        ));
    }
    u32::from_str_radix(s, 16).map_err(|_| {
        CosignatureError::MalformedKey("the key ID (second field) must be 8 hex digits")
    })
}

/// Decodes `base64(0x04 ‖ 32 bytes)`.
fn decode_typed_key(s: &str) -> Result<Zeroizing<[u8; 32]>, CosignatureError> {
    let mut raw = Zeroizing::new(STANDARD.decode(s).map_err(|_| {
        CosignatureError::MalformedKey("the key (last field) is not standard base64")
    })?);
    if raw.len() != 33 {
        return Err(CosignatureError::MalformedKey(
            "the key (last field) must decode to 33 bytes: a type byte and 32 key bytes",
        ));
    }
    if raw[0] != COSIGNATURE_V1_TYPE {
        return Err(if raw[0] == note::ED25519_TYPE {
            CosignatureError::MalformedKey(
                "type 0x01 is a log (note) key, not a witness key: a witness key has type 0x04",
            )
        } else {
            CosignatureError::MalformedKey("unsupported key type: a witness key has type 0x04")
        });
    }
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&raw[1..]);
    raw.zeroize();
    Ok(out)
}

fn encode_typed_key(key: &[u8; 32]) -> Zeroizing<String> {
    note::encode_key_of_type(COSIGNATURE_V1_TYPE, key)
}

/// The message a `cosignature/v1` signs: `cosignature/v1\ntime <ts>\n` ‖ body.
pub fn signed_message(checkpoint_body: &str, timestamp: u64) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{checkpoint_body}")
}

/// A witness's Ed25519 `cosignature/v1` verifier key.
#[derive(Clone, PartialEq, Eq)]
pub struct WitnessVerifierKey {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl WitnessVerifierKey {
    /// Builds a verifier key from a witness name and a 32-byte public key.
    pub fn new(name: &str, public_key: &[u8; 32]) -> Result<Self, CosignatureError> {
        if !note::valid_name(name) {
            return Err(CosignatureError::InvalidName(name.to_owned()));
        }
        let key = VerifyingKey::from_bytes(public_key)
            .map_err(|_| CosignatureError::MalformedKey("not an Ed25519 public key"))?;
        Ok(WitnessVerifierKey {
            name: name.to_owned(),
            key_id: key_id(name, public_key),
            key,
        })
    }

    /// Parses `name+keyid+base64(0x04 ‖ public key)`, checking the key ID.
    pub fn parse(s: &str) -> Result<Self, CosignatureError> {
        // The base64 key may itself contain '+'; the name and ID cannot.
        let parts: Vec<&str> = s.trim().splitn(3, '+').collect();
        let [name, id, key] = parts[..] else {
            return Err(CosignatureError::MalformedKey(
                "expected name+keyid+base64(0x04 || public key)",
            ));
        };
        let found = parse_key_id(id)?;
        let key = decode_typed_key(key)?;
        let vk = Self::new(name, &key)?;
        if vk.key_id != found {
            return Err(CosignatureError::KeyIdMismatch {
                found,
                expected: vk.key_id,
            });
        }
        Ok(vk)
    }

    /// The witness name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The raw 32-byte public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Whether `cosignature` is this witness's valid signature over `checkpoint_body`
    /// (name, key ID, timestamp range and strict Ed25519 verification).
    pub fn verify(&self, checkpoint_body: &str, cosignature: &Cosignature) -> bool {
        if cosignature.name != self.name
            || cosignature.key_id != self.key_id
            || cosignature.timestamp > MAX_TIMESTAMP
        {
            return false;
        }
        let sig = ed25519_dalek::Signature::from_bytes(&cosignature.signature);
        let msg = signed_message(checkpoint_body, cosignature.timestamp);
        self.key.verify_strict(msg.as_bytes(), &sig).is_ok()
    }
}

impl fmt::Display for WitnessVerifierKey {
    /// The `name+keyid+base64(0x04 ‖ key)` text form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            encode_typed_key(&self.key.to_bytes()).as_str()
        )
    }
}

impl fmt::Debug for WitnessVerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WitnessVerifierKey({self})")
    }
}

/// A witness's Ed25519 `cosignature/v1` signing key. Its secret is zeroized on drop and
/// never printed.
#[derive(Clone)]
pub struct WitnessSignerKey {
    name: String,
    key_id: u32,
    key: SigningKey,
}

impl WitnessSignerKey {
    /// Derives the key from a 32-byte Ed25519 seed.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, CosignatureError> {
        if !note::valid_name(name) {
            return Err(CosignatureError::InvalidName(name.to_owned()));
        }
        let key = SigningKey::from_bytes(seed);
        let key_id = key_id(name, &key.verifying_key().to_bytes());
        Ok(WitnessSignerKey {
            name: name.to_owned(),
            key_id,
            key,
        })
    }

    /// Generates a fresh key from a caller-supplied cryptographic RNG.
    pub fn generate<R: RngCore + CryptoRng>(
        name: &str,
        rng: &mut R,
    ) -> Result<Self, CosignatureError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(&mut seed[..]);
        Self::from_seed(name, &seed)
    }

    /// Parses `PRIVATE+KEY+name+keyid+base64(0x04 ‖ seed)`, checking the key ID.
    pub fn parse(s: &str) -> Result<Self, CosignatureError> {
        let parts: Vec<&str> = s.trim().splitn(5, '+').collect();
        let ["PRIVATE", "KEY", name, id, key] = parts[..] else {
            return Err(CosignatureError::MalformedKey(
                "expected PRIVATE+KEY+name+keyid+base64(0x04 || seed)",
            ));
        };
        let found = parse_key_id(id)?;
        let seed = decode_typed_key(key)?;
        let sk = Self::from_seed(name, &seed)?;
        if sk.key_id != found {
            return Err(CosignatureError::KeyIdMismatch {
                found,
                expected: sk.key_id,
            });
        }
        Ok(sk)
    }

    /// The `PRIVATE+KEY+…` text form, in a buffer zeroized on drop. Never log it.
    pub fn to_private_string(&self) -> Zeroizing<String> {
        let seed = Zeroizing::new(self.key.to_bytes());
        let key = encode_typed_key(&seed);
        Zeroizing::new(format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.key_id,
            key.as_str()
        ))
    }

    /// The witness name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The matching verifier key.
    pub fn verifier(&self) -> WitnessVerifierKey {
        WitnessVerifierKey {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// Cosigns a checkpoint body (strictly a C2SP checkpoint: origin, size, root hash,
    /// extension lines) at `timestamp`.
    pub fn cosign(
        &self,
        checkpoint_body: &str,
        timestamp: u64,
    ) -> Result<Cosignature, CosignatureError> {
        if timestamp > MAX_TIMESTAMP {
            return Err(CosignatureError::TimestampOutOfRange(timestamp));
        }
        // Only ever sign a checkpoint: the statement means nothing over other text.
        Checkpoint::parse(checkpoint_body)
            .map_err(|e| CosignatureError::NotACheckpoint(e.to_string()))?;
        let sig = self
            .key
            .sign(signed_message(checkpoint_body, timestamp).as_bytes());
        Ok(Cosignature {
            name: self.name.clone(),
            key_id: self.key_id,
            timestamp,
            signature: sig.to_bytes(),
        })
    }

    /// Cosigns a checkpoint body and returns the signature line (ending in `\n`).
    pub fn cosignature_line(
        &self,
        checkpoint_body: &str,
        timestamp: u64,
    ) -> Result<String, CosignatureError> {
        Ok(self.cosign(checkpoint_body, timestamp)?.to_line())
    }
}

impl fmt::Debug for WitnessSignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "WitnessSignerKey {{ name: {:?}, key_id: {:08x}, .. }}",
            self.name, self.key_id
        )
    }
}

/// One `cosignature/v1` signature line, parsed (not verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosignature {
    /// The witness name.
    pub name: String,
    /// The witness key ID.
    pub key_id: u32,
    /// POSIX seconds at which the witness signed.
    pub timestamp: u64,
    /// The Ed25519 signature.
    pub signature: [u8; 64],
}

impl Cosignature {
    /// Parses `— <name> base64(keyid ‖ timestamp ‖ signature)`, with or without the final
    /// newline.
    pub fn parse_line(line: &str) -> Result<Self, CosignatureError> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        let Some(rest) = line.strip_prefix(SIG_PREFIX) else {
            return Err(CosignatureError::MalformedLine(
                "a signature line starts with an em dash (U+2014) and a space",
            ));
        };
        let Some((name, b64)) = rest.split_once(' ') else {
            return Err(CosignatureError::MalformedLine(
                "a signature line is '— <name> <base64>'",
            ));
        };
        if !note::valid_name(name) {
            return Err(CosignatureError::InvalidName(name.to_owned()));
        }
        let raw = STANDARD
            .decode(b64)
            .map_err(|_| CosignatureError::MalformedLine("the signature is not standard base64"))?;
        Self::from_raw(name, &raw)
    }

    /// Builds a cosignature from a signature line's name and decoded bytes
    /// (`keyid(4) ‖ timestamp(8) ‖ signature(64)`).
    fn from_raw(name: &str, raw: &[u8]) -> Result<Self, CosignatureError> {
        let Ok(raw) = <&[u8; 76]>::try_from(raw) else {
            return Err(CosignatureError::MalformedLine(
                "an Ed25519 cosignature is 76 bytes: key ID (4), timestamp (8), signature (64)",
            ));
        };
        let key_id = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&raw[4..12]);
        let timestamp = u64::from_be_bytes(ts);
        if timestamp > MAX_TIMESTAMP {
            return Err(CosignatureError::TimestampOutOfRange(timestamp));
        }
        let mut signature = [0u8; 64];
        signature.copy_from_slice(&raw[12..]);
        Ok(Cosignature {
            name: name.to_owned(),
            key_id,
            timestamp,
            signature,
        })
    }

    /// The signature line `— <name> base64(keyid ‖ timestamp ‖ signature)\n`.
    pub fn to_line(&self) -> String {
        let mut raw = Vec::with_capacity(76);
        raw.extend_from_slice(&self.key_id.to_be_bytes());
        raw.extend_from_slice(&self.timestamp.to_be_bytes());
        raw.extend_from_slice(&self.signature);
        format!("{SIG_PREFIX}{} {}\n", self.name, STANDARD.encode(raw))
    }
}

/// A witness whose cosignature verified, and when it signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigned {
    /// The witness name.
    pub name: String,
    /// The witness key ID.
    pub key_id: u32,
    /// POSIX seconds at which the witness signed.
    pub timestamp: u64,
}

/// Verifies the cosignature lines of a signed note (usually a checkpoint with the log's
/// signature and the witnesses') against a set of witness verifier keys.
///
/// As the signed-note spec requires: lines from keys not in `witnesses` (the log's own
/// signature, other witnesses) are ignored; a line whose name and key ID match a witness
/// must verify, or the note is rejected; a witness signing twice is rejected. Returns the
/// witnesses that cosigned, in the order of their lines (possibly none: a quorum is the
/// caller's decision). The log's own signature is not checked here: open the note with
/// [`Checkpoint::open`] for that.
pub fn verify_cosignatures(
    note_text: &str,
    witnesses: &[WitnessVerifierKey],
) -> Result<Vec<Cosigned>, CosignatureError> {
    let (body, sigs) = note::parse(note_text)?;
    let mut out: Vec<Cosigned> = Vec::new();
    for sig in sigs {
        let Some(w) = witnesses
            .iter()
            .find(|w| w.key_id == sig.key_id && w.name == sig.name)
        else {
            continue;
        };
        if out.iter().any(|c| c.name == w.name && c.key_id == w.key_id) {
            return Err(CosignatureError::DuplicateCosignature {
                name: w.name.clone(),
            });
        }
        let mut raw = Vec::with_capacity(76);
        raw.extend_from_slice(&sig.key_id.to_be_bytes());
        raw.extend_from_slice(&sig.signature);
        let cosig = Cosignature::from_raw(&sig.name, &raw).map_err(|_| {
            CosignatureError::BadCosignature {
                name: w.name.clone(),
            }
        })?;
        if !w.verify(body, &cosig) {
            return Err(CosignatureError::BadCosignature {
                name: w.name.clone(),
            });
        }
        out.push(Cosigned {
            name: cosig.name,
            key_id: cosig.key_id,
            timestamp: cosig.timestamp,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::empty_root;
    use crate::hash::sha256;
    use crate::note::SignerKey;

    const BODY: &str = "example.com/log\n3\nf+7CoKgXKE/tNys9TTXcr/ad6U/K3xvznmzew9y6SP0=\n";

    fn witness(name: &str, seed: u8) -> WitnessSignerKey {
        WitnessSignerKey::from_seed(name, &[seed; 32]).unwrap()
    }

    #[test]
    fn key_id_uses_type_0x04() {
        let w = witness("witness.example/w1", 7);
        let pk = w.verifier().public_key();
        let d = sha256(&[b"witness.example/w1\n\x04", &pk]);
        assert_eq!(w.key_id(), u32::from_be_bytes([d[0], d[1], d[2], d[3]]));
        // The same key as a log (note) key has another ID.
        assert_ne!(w.key_id(), note::key_id("witness.example/w1", &pk));
    }

    #[test]
    fn keys_round_trip_through_text() {
        let w = witness("witness.example/w1", 7);
        let vk = WitnessVerifierKey::parse(&w.verifier().to_string()).unwrap();
        assert_eq!(vk, w.verifier());
        let sk = WitnessSignerKey::parse(&w.to_private_string()).unwrap();
        assert_eq!(sk.verifier(), w.verifier());
        assert!(!format!("{w:?}").contains(w.to_private_string().as_str()));
        let text = w.verifier().to_string();
        assert!(text.starts_with(&format!("witness.example/w1+{:08x}+B", w.key_id())));
    }

    #[test]
    fn malformed_keys_say_what_is_wrong() {
        let good = witness("w", 1).verifier().to_string();
        let (name_id, key) = good.rsplit_once('+').unwrap();
        let log_key = SignerKey::from_seed("w", &[1; 32]).unwrap().verifier();
        for (bad, want) in [
            ("w+1234".to_owned(), "expected name+keyid"),
            (format!("w+xyz+{key}"), "8 hex digits"),
            (format!("{name_id}+!!!"), "base64"),
            (format!("{name_id}+BAEC"), "33 bytes"),
            (log_key.to_string(), "type 0x01 is a log"),
            (format!("w+00000000+{key}"), "does not match"),
            (format!("+00000000+{key}"), "invalid witness name"),
        ] {
            let err = WitnessVerifierKey::parse(&bad).unwrap_err().to_string();
            assert!(err.contains(want), "{bad}: {err}");
        }
        assert!(WitnessSignerKey::parse(&good).is_err());
    }

    #[test]
    fn cosign_and_verify() {
        let w = witness("witness.example/w1", 7);
        let line = w.cosignature_line(BODY, 1_679_315_147).unwrap();
        assert!(line.starts_with("\u{2014} witness.example/w1 "));
        let c = Cosignature::parse_line(&line).unwrap();
        assert_eq!(c.timestamp, 1_679_315_147);
        assert_eq!(c.to_line(), line);
        assert!(w.verifier().verify(BODY, &c));
        // The timestamp is signed.
        let later = Cosignature {
            timestamp: c.timestamp + 1,
            ..c.clone()
        };
        assert!(!w.verifier().verify(BODY, &later));
        // The body is signed, extension lines included.
        assert!(!w.verifier().verify(&format!("{BODY}ext\n"), &c));
        // Another witness's key does not verify it.
        assert!(!witness("witness.example/w1", 8).verifier().verify(BODY, &c));
    }

    #[test]
    fn message_is_prefix_time_body() {
        assert_eq!(
            signed_message(BODY, 1_679_315_147),
            format!("cosignature/v1\ntime 1679315147\n{BODY}")
        );
    }

    #[test]
    fn only_checkpoints_and_valid_times_are_signed() {
        let w = witness("w", 1);
        assert!(matches!(
            w.cosign("hello\n", 1),
            Err(CosignatureError::NotACheckpoint(_))
        ));
        assert!(matches!(
            w.cosign(BODY, MAX_TIMESTAMP + 1),
            Err(CosignatureError::TimestampOutOfRange(_))
        ));
        let empty = format!("o\n0\n{}\n", empty_root().to_base64());
        assert!(w.cosign(&empty, MAX_TIMESTAMP).is_ok());
    }

    #[test]
    fn verify_note_cosignatures() {
        let log = SignerKey::from_seed("example.com/log", &[9; 32]).unwrap();
        let (w1, w2, w3) = (witness("w1", 1), witness("w2", 2), witness("w3", 3));
        let signed = note::sign(BODY, &[&log]).unwrap();
        let note = format!(
            "{signed}{}{}",
            w1.cosignature_line(BODY, 10).unwrap(),
            w2.cosignature_line(BODY, 20).unwrap()
        );
        let got = verify_cosignatures(&note, &[w2.verifier(), w3.verifier()]).unwrap();
        assert_eq!(
            got,
            vec![Cosigned {
                name: "w2".into(),
                key_id: w2.key_id(),
                timestamp: 20
            }]
        );
        // No configured witness signed: none, not an error (the quorum is the caller's).
        assert!(
            verify_cosignatures(&signed, &[w1.verifier()])
                .unwrap()
                .is_empty()
        );
        // A known witness's line over another body rejects the note.
        let other = BODY.replace('3', "4");
        let forged = format!("{signed}{}", w1.cosignature_line(&other, 10).unwrap());
        assert_eq!(
            verify_cosignatures(&forged, &[w1.verifier()]),
            Err(CosignatureError::BadCosignature { name: "w1".into() })
        );
        // Twice the same witness.
        let twice = format!(
            "{signed}{}{}",
            w1.cosignature_line(BODY, 10).unwrap(),
            w1.cosignature_line(BODY, 11).unwrap()
        );
        assert_eq!(
            verify_cosignatures(&twice, &[w1.verifier()]),
            Err(CosignatureError::DuplicateCosignature { name: "w1".into() })
        );
        // A note signature (no timestamp) under a witness's name and ID is not a cosignature.
        let as_note = note::sign(BODY, &[&log]).unwrap();
        let sig = as_note.rsplit_once(' ').unwrap().1;
        let raw = STANDARD.decode(sig.trim_end()).unwrap();
        let mut fake = w1.key_id().to_be_bytes().to_vec();
        fake.extend_from_slice(&raw[4..]);
        let line = format!("\u{2014} w1 {}\n", STANDARD.encode(fake));
        assert!(verify_cosignatures(&format!("{signed}{line}"), &[w1.verifier()]).is_err());
    }

    #[test]
    fn malformed_lines() {
        for bad in [
            "- w1 AAAA",
            "\u{2014} w1",
            "\u{2014} w1 !!!!",
            "\u{2014} w1 AAAA",
        ] {
            assert!(Cosignature::parse_line(bad).is_err(), "{bad}");
        }
        let mut raw = vec![0u8; 76];
        raw[4] = 0x80;
        let line = format!("\u{2014} w1 {}", STANDARD.encode(&raw));
        assert!(matches!(
            Cosignature::parse_line(&line),
            Err(CosignatureError::TimestampOutOfRange(_))
        ));
    }
}
