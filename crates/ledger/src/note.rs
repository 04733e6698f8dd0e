//! C2SP signed notes (<https://c2sp.org/signed-note>) with Ed25519 keys.
//!
//! Custos publishes its checkpoints as signed notes so that anyone — a
//! witness, an auditor, a requesting state — can verify them with standard
//! tooling from the transparency-log ecosystem. A note is a UTF-8 text ending
//! in a newline, a blank line, and one or more lines
//! `— <key name> base64(key id ‖ signature)`.
//!
//! Keys use the ecosystem's text forms:
//! * verifier key: `<name>+<key id, 8 hex digits>+base64(0x01 ‖ 32-byte public key)`
//! * signer key: `PRIVATE+KEY+<name>+<key id>+base64(0x01 ‖ 32-byte seed)`
//!
//! where key id = the first 4 bytes (big-endian) of
//! `SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)`. Parsing a key recomputes the id
//! and rejects a mismatch.
//!
//! [`open`] follows the spec's rules: signatures from unknown keys (name or id
//! differs) are ignored; a signature from a known key must verify or the whole
//! note is rejected; at least one known signature must verify. Malformed notes
//! are rejected outright.
//!
//! Private keys are never printed: [`SignerKey`]'s `Debug` shows only the name
//! and key id, and the encoded form is only available through
//! [`SignerKey::to_private_string`], returned in a zeroizing buffer.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use rand_core::{CryptoRng, RngCore};
use zeroize::{Zeroize, Zeroizing};

use crate::hash::sha256;

/// Signature type byte of Ed25519 in the signed-note spec.
pub const ED25519_TYPE: u8 = 0x01;

/// The maximum number of signature lines [`open`] accepts (the spec requires
/// at least 16).
pub const MAX_SIGNATURES: usize = 100;

const SIG_PREFIX: &str = "\u{2014} ";

/// Errors parsing keys, signing and verifying notes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// A key's text form is malformed (field count, name, id, base64, type).
    #[error("malformed key: {0}")]
    MalformedKey(&'static str),
    /// A key's id does not match its name and public key.
    #[error("key id does not match the key's name and public key")]
    KeyIdMismatch,
    /// A key name is empty or contains a space or `+`.
    #[error("invalid key name")]
    InvalidName,
    /// The text to sign is empty, does not end in a newline or contains
    /// control characters.
    #[error("invalid note text: {0}")]
    InvalidText(&'static str),
    /// The note is malformed (no blank line, bad signature line, control
    /// characters, too many signatures).
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    /// A signature from a known key failed to verify.
    #[error("invalid signature from {name}")]
    BadSignature {
        /// The key's name.
        name: String,
    },
    /// No signature from a known key was found.
    #[error("no signature from a known key")]
    NoKnownSignature,
}

/// A key name is non-empty and has no Unicode space, `+` or control character (signed notes
/// and cosignatures alike).
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c == '+' || c.is_whitespace() || c.is_control())
}

/// Key id = first 4 bytes, big-endian, of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ pubkey).
pub fn key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    typed_key_id(ED25519_TYPE, name, public_key)
}

/// The key id of a key of signature type `key_type` (0x01 a note's Ed25519 key, 0x04 a
/// witness's cosignature/v1 key): SHA-256(name ‖ 0x0A ‖ type ‖ pubkey), first 4 bytes.
pub(crate) fn typed_key_id(key_type: u8, name: &str, public_key: &[u8; 32]) -> u32 {
    let digest = sha256(&[name.as_bytes(), b"\n", &[key_type], public_key]);
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

fn parse_key_id(s: &str) -> Result<u32, NoteError> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(NoteError::MalformedKey("key id must be 8 hex digits"));
    }
    u32::from_str_radix(s, 16).map_err(|_| NoteError::MalformedKey("key id must be 8 hex digits"))
}

/// Decodes `base64(0x01 ‖ 32 bytes)`.
fn decode_typed_key(s: &str) -> Result<Zeroizing<[u8; 32]>, NoteError> {
    let mut raw = Zeroizing::new(
        STANDARD
            .decode(s)
            .map_err(|_| NoteError::MalformedKey("key is not base64"))?,
    );
    if raw.len() != 33 {
        return Err(NoteError::MalformedKey("key must be 33 bytes"));
    }
    if raw[0] != ED25519_TYPE {
        return Err(NoteError::MalformedKey("unsupported key type"));
    }
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&raw[1..]);
    raw.zeroize();
    Ok(out)
}

fn encode_typed_key(key: &[u8; 32]) -> Zeroizing<String> {
    encode_key_of_type(ED25519_TYPE, key)
}

/// `base64(type ‖ 32 bytes)`, the last field of a key string, in a buffer zeroized on drop.
pub(crate) fn encode_key_of_type(key_type: u8, key: &[u8; 32]) -> Zeroizing<String> {
    let mut buf = Zeroizing::new([0u8; 33]);
    buf[0] = key_type;
    buf[1..].copy_from_slice(key);
    Zeroizing::new(STANDARD.encode(&buf[..]))
}

/// An Ed25519 note verifier key.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl VerifierKey {
    /// Builds a verifier key from a name and a 32-byte public key.
    pub fn new(name: &str, public_key: &[u8; 32]) -> Result<Self, NoteError> {
        if !valid_name(name) {
            return Err(NoteError::InvalidName);
        }
        let key = VerifyingKey::from_bytes(public_key)
            .map_err(|_| NoteError::MalformedKey("not an Ed25519 public key"))?;
        Ok(VerifierKey {
            name: name.to_owned(),
            key_id: key_id(name, public_key),
            key,
        })
    }

    /// Parses `name+keyid+base64(0x01 ‖ public key)`, checking the key id.
    pub fn parse(s: &str) -> Result<Self, NoteError> {
        // The base64 key may itself contain '+'; the name and id cannot.
        let parts: Vec<&str> = s.splitn(3, '+').collect();
        let [name, id, key] = parts[..] else {
            return Err(NoteError::MalformedKey("expected name+id+key"));
        };
        let id = parse_key_id(id)?;
        let key = decode_typed_key(key)?;
        let vk = Self::new(name, &key)?;
        if vk.key_id != id {
            return Err(NoteError::KeyIdMismatch);
        }
        Ok(vk)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The raw 32-byte public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Verifies a detached Ed25519 signature made by [`SignerKey::sign_detached`] (strict
    /// verification: no malleable or small-order signatures).
    pub fn verify_detached(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        self.verify(message, signature)
    }

    fn verify(&self, text: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else {
            return false;
        };
        self.key.verify_strict(text, &sig).is_ok()
    }
}

impl fmt::Display for VerifierKey {
    /// The `name+keyid+base64` text form.
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

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifierKey({self})")
    }
}

/// An Ed25519 note signer key. Its secret is zeroized on drop and never
/// printed.
#[derive(Clone)]
pub struct SignerKey {
    name: String,
    key_id: u32,
    key: SigningKey,
}

impl SignerKey {
    /// Derives the key from a 32-byte Ed25519 seed.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, NoteError> {
        if !valid_name(name) {
            return Err(NoteError::InvalidName);
        }
        let key = SigningKey::from_bytes(seed);
        let key_id = key_id(name, &key.verifying_key().to_bytes());
        Ok(SignerKey {
            name: name.to_owned(),
            key_id,
            key,
        })
    }

    /// Generates a fresh key from a caller-supplied cryptographic RNG.
    pub fn generate<R: RngCore + CryptoRng>(name: &str, rng: &mut R) -> Result<Self, NoteError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(&mut seed[..]);
        Self::from_seed(name, &seed)
    }

    /// Parses `PRIVATE+KEY+name+keyid+base64(0x01 ‖ seed)`, checking the key id.
    pub fn parse(s: &str) -> Result<Self, NoteError> {
        let parts: Vec<&str> = s.splitn(5, '+').collect();
        let ["PRIVATE", "KEY", name, id, key] = parts[..] else {
            return Err(NoteError::MalformedKey("expected PRIVATE+KEY+name+id+key"));
        };
        let id = parse_key_id(id)?;
        let seed = decode_typed_key(key)?;
        let sk = Self::from_seed(name, &seed)?;
        if sk.key_id != id {
            return Err(NoteError::KeyIdMismatch);
        }
        Ok(sk)
    }

    /// The `PRIVATE+KEY+…` text form, in a buffer zeroized on drop. Handle
    /// with care; never log it.
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

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The matching verifier key.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// A detached Ed25519 signature over `message` (e.g. the RFC 8785 form of a sealed
    /// package's manifest). Callers must make sure such messages can never be note texts: a
    /// note text ends in a newline, a canonical JSON object in `}`.
    pub fn sign_detached(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// Signs `text` and returns the signature line
    /// `— name base64(keyid ‖ sig)\n`. The text must be valid note text.
    pub fn signature_line(&self, text: &str) -> Result<String, NoteError> {
        check_text(text)?;
        let sig = self.key.sign(text.as_bytes());
        let mut raw = Vec::with_capacity(4 + 64);
        raw.extend_from_slice(&self.key_id.to_be_bytes());
        raw.extend_from_slice(&sig.to_bytes());
        Ok(format!(
            "{SIG_PREFIX}{} {}\n",
            self.name,
            STANDARD.encode(raw)
        ))
    }
}

impl fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SignerKey {{ name: {:?}, key_id: {:08x}, .. }}",
            self.name, self.key_id
        )
    }
}

fn check_text(text: &str) -> Result<(), NoteError> {
    if text.is_empty() {
        return Err(NoteError::InvalidText("empty"));
    }
    if !text.ends_with('\n') {
        return Err(NoteError::InvalidText("must end with a newline"));
    }
    if text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::InvalidText("control character"));
    }
    Ok(())
}

/// Signs `text` with every signer: `text ‖ "\n" ‖ signature lines`.
pub fn sign(text: &str, signers: &[&SignerKey]) -> Result<String, NoteError> {
    check_text(text)?;
    if signers.is_empty() {
        return Err(NoteError::InvalidText("no signer"));
    }
    let mut out = String::with_capacity(text.len() + 1 + signers.len() * 100);
    out.push_str(text);
    out.push('\n');
    for s in signers {
        out.push_str(&s.signature_line(text)?);
    }
    Ok(out)
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// Key name.
    pub name: String,
    /// Key id.
    pub key_id: u32,
    /// Signature bytes (after the key id).
    pub signature: Vec<u8>,
}

/// A note whose signatures were checked by [`open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedNote {
    /// The note text, including its final newline.
    pub text: String,
    /// Signatures that verified against a known key.
    pub verified: Vec<NoteSignature>,
    /// Signatures from unknown keys, ignored as the spec requires.
    pub unknown: Vec<NoteSignature>,
}

/// Splits a note into text and parsed signature lines without verifying
/// anything.
pub fn parse(msg: &str) -> Result<(&str, Vec<NoteSignature>), NoteError> {
    if msg.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::Malformed("control character"));
    }
    let Some(split) = msg.rfind("\n\n") else {
        return Err(NoteError::Malformed("no blank line before signatures"));
    };
    let text = &msg[..=split];
    let sigs = &msg[split + 2..];
    if sigs.is_empty() {
        return Err(NoteError::Malformed("no signatures"));
    }
    let Some(sigs) = sigs.strip_suffix('\n') else {
        return Err(NoteError::Malformed("signatures must end with a newline"));
    };
    let mut out = Vec::new();
    for line in sigs.split('\n') {
        if out.len() == MAX_SIGNATURES {
            return Err(NoteError::Malformed("too many signatures"));
        }
        out.push(parse_signature_line(line)?);
    }
    Ok((text, out))
}

fn parse_signature_line(line: &str) -> Result<NoteSignature, NoteError> {
    let Some(rest) = line.strip_prefix(SIG_PREFIX) else {
        return Err(NoteError::Malformed(
            "signature line must start with an em dash",
        ));
    };
    let Some((name, b64)) = rest.split_once(' ') else {
        return Err(NoteError::Malformed(
            "signature line needs a name and a signature",
        ));
    };
    if !valid_name(name) {
        return Err(NoteError::Malformed("invalid key name"));
    }
    let raw = STANDARD
        .decode(b64)
        .map_err(|_| NoteError::Malformed("signature is not base64"))?;
    if raw.len() < 5 {
        return Err(NoteError::Malformed("signature too short"));
    }
    Ok(NoteSignature {
        name: name.to_owned(),
        key_id: u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
        signature: raw[4..].to_vec(),
    })
}

/// Parses and verifies a signed note against the known `verifiers`.
///
/// Unknown signatures are ignored; a known key whose signature fails rejects
/// the note; at least one known signature must verify. Two signatures from the
/// same key are rejected as malformed.
pub fn open(msg: &str, verifiers: &[VerifierKey]) -> Result<VerifiedNote, NoteError> {
    let (text, sigs) = parse(msg)?;
    let mut verified: Vec<NoteSignature> = Vec::new();
    let mut unknown = Vec::new();
    for sig in sigs {
        let known = verifiers
            .iter()
            .find(|v| v.key_id == sig.key_id && v.name == sig.name);
        match known {
            Some(v) => {
                if verified
                    .iter()
                    .any(|s| s.key_id == sig.key_id && s.name == sig.name)
                {
                    return Err(NoteError::Malformed("duplicate signature"));
                }
                if !v.verify(text.as_bytes(), &sig.signature) {
                    return Err(NoteError::BadSignature { name: sig.name });
                }
                verified.push(sig);
            }
            None => unknown.push(sig),
        }
    }
    if verified.is_empty() {
        return Err(NoteError::NoKnownSignature);
    }
    Ok(VerifiedNote {
        text: text.to_owned(),
        verified,
        unknown,
    })
}
