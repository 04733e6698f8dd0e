//! `custos-jose`: the small part of JOSE that Custos speaks, written to the RFCs so that any
//! standard JOSE library on the other side interoperates.
//!
//! * [`PublicJwk`] — an Ed25519 public key as a JWK (RFC 7517, `kty: OKP`, `crv: Ed25519` per
//!   RFC 8037), and its RFC 7638 thumbprint, which is the key's `kid` everywhere in Custos.
//! * [`PrivateJwk`] — the matching private JWK (`d`), for `custos authority keygen` and
//!   `custos submit`. Its `Debug` never prints the key.
//! * [`verify_compact`] / [`sign_compact`] — compact JWS (RFC 7515 §7.1) with `alg: EdDSA` only.
//!
//! Why hand-written: the general JOSE crates either pull in OpenSSL or accept algorithms we must
//! refuse. Verification here accepts exactly one algorithm, rejects `crit` headers it does not
//! understand (RFC 7515 §4.1.11), and returns the header and payload only after the signature
//! checked, so callers cannot look at an unauthenticated payload by accident.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Everything that can be wrong with a key or a JWS. Messages say which part is wrong.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JoseError {
    /// The JWK is not an Ed25519 OKP key.
    #[error("JWK: {0}")]
    Jwk(String),
    /// The compact serialisation does not have three base64url parts.
    #[error("JWS: {0}")]
    Malformed(String),
    /// The protected header is not acceptable.
    #[error("JWS protected header: {0}")]
    Header(String),
    /// The signature does not verify under the key.
    #[error("JWS signature does not verify under the key {kid}")]
    BadSignature {
        /// The thumbprint of the key tried.
        kid: String,
    },
}

/// An Ed25519 public key as a JWK.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicJwk {
    key: VerifyingKey,
}

#[derive(Deserialize)]
struct RawJwk {
    kty: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    d: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    alg: Option<String>,
}

fn raw_jwk(json: &str) -> Result<RawJwk, JoseError> {
    let raw: RawJwk = serde_json::from_str(json)
        .map_err(|e| JoseError::Jwk(format!("not a JSON object: {e}")))?;
    match raw.kty.as_deref() {
        Some("OKP") => {}
        Some(other) => {
            return Err(JoseError::Jwk(format!(
                "kty is {other:?}; Custos keys are Ed25519, kty \"OKP\" (RFC 8037)"
            )));
        }
        None => return Err(JoseError::Jwk("kty is missing; expected \"OKP\"".into())),
    }
    match raw.crv.as_deref() {
        Some("Ed25519") => {}
        Some(other) => {
            return Err(JoseError::Jwk(format!(
                "crv is {other:?}; expected \"Ed25519\""
            )));
        }
        None => {
            return Err(JoseError::Jwk(
                "crv is missing; expected \"Ed25519\"".into(),
            ));
        }
    }
    if let Some(u) = raw.use_.as_deref()
        && u != "sig"
    {
        return Err(JoseError::Jwk(format!(
            "use is {u:?}; a signing key must have \"sig\""
        )));
    }
    if let Some(a) = raw.alg.as_deref()
        && a != "EdDSA"
    {
        return Err(JoseError::Jwk(format!("alg is {a:?}; expected \"EdDSA\"")));
    }
    Ok(raw)
}

fn decode_32(field: &str, value: Option<&str>) -> Result<[u8; 32], JoseError> {
    let value = value.ok_or_else(|| JoseError::Jwk(format!("{field} is missing")))?;
    let bytes = B64
        .decode(value)
        .map_err(|_| JoseError::Jwk(format!("{field} is not unpadded base64url")))?;
    bytes.try_into().map_err(|b: Vec<u8>| {
        JoseError::Jwk(format!("{field} is {} bytes; Ed25519 needs 32", b.len()))
    })
}

impl PublicJwk {
    /// Parses a public JWK. A private JWK is refused: a directory must never hold private keys.
    pub fn parse(json: &str) -> Result<Self, JoseError> {
        let raw = raw_jwk(json)?;
        if raw.d.is_some() {
            return Err(JoseError::Jwk(
                "this is a private key (it has \"d\"); register only the public part".into(),
            ));
        }
        Self::from_bytes(&decode_32("x", raw.x.as_deref())?)
    }

    /// The key from its 32 public bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, JoseError> {
        let key = VerifyingKey::from_bytes(bytes)
            .map_err(|_| JoseError::Jwk("x is not a valid Ed25519 point".into()))?;
        if key.is_weak() {
            return Err(JoseError::Jwk(
                "x is a weak (small-order) Ed25519 key".into(),
            ));
        }
        Ok(PublicJwk { key })
    }

    /// The 32 public bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }

    /// The JWK as JSON, members in the RFC 7638 order (which is also what `to_json` emits).
    pub fn to_json(&self) -> String {
        format!(
            r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
            B64.encode(self.key.as_bytes())
        )
    }

    /// The RFC 7638 thumbprint (SHA-256, base64url): the key's `kid`.
    pub fn thumbprint(&self) -> String {
        // RFC 7638 §3.2: required members only, lexicographic order, no whitespace.
        B64.encode(Sha256::digest(self.to_json().as_bytes()))
    }

    fn verify_raw(&self, signing_input: &[u8], sig: &[u8]) -> Result<(), JoseError> {
        let sig = Signature::from_slice(sig).map_err(|_| JoseError::BadSignature {
            kid: self.thumbprint(),
        })?;
        self.key
            .verify_strict(signing_input, &sig)
            .map_err(|_| JoseError::BadSignature {
                kid: self.thumbprint(),
            })
    }
}

impl std::fmt::Debug for PublicJwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicJwk({})", self.thumbprint())
    }
}

impl Serialize for PublicJwk {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v: serde_json::Value =
            serde_json::from_str(&self.to_json()).map_err(serde::ser::Error::custom)?;
        v.serialize(s)
    }
}

/// An Ed25519 private key as a JWK. Never printed by `Debug`.
pub struct PrivateJwk {
    key: SigningKey,
}

impl PrivateJwk {
    /// A fresh key from the operating system's randomness.
    pub fn generate() -> Self {
        PrivateJwk {
            key: SigningKey::generate(&mut rand_core::OsRng),
        }
    }

    /// A key from its 32-byte seed (tests and vectors).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        PrivateJwk {
            key: SigningKey::from_bytes(seed),
        }
    }

    /// Parses a private JWK (with `d` and `x`); checks that `x` belongs to `d`.
    pub fn parse(json: &str) -> Result<Self, JoseError> {
        let raw = raw_jwk(json)?;
        let d = Zeroizing::new(decode_32("d", raw.d.as_deref())?);
        let key = SigningKey::from_bytes(&d);
        if let Some(x) = raw.x.as_deref()
            && decode_32("x", Some(x))? != *key.verifying_key().as_bytes()
        {
            return Err(JoseError::Jwk("x does not match d".into()));
        }
        Ok(PrivateJwk { key })
    }

    /// The private JWK as JSON. The caller must store it with care (mode 0600).
    pub fn to_json(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            r#"{{"crv":"Ed25519","d":"{}","kty":"OKP","x":"{}"}}"#,
            B64.encode(self.key.to_bytes()),
            B64.encode(self.key.verifying_key().as_bytes())
        ))
    }

    /// The public half.
    pub fn public(&self) -> PublicJwk {
        PublicJwk {
            key: self.key.verifying_key(),
        }
    }
}

impl std::fmt::Debug for PrivateJwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PrivateJwk({}, private part hidden)",
            self.public().thumbprint()
        )
    }
}

/// The protected header of a verified JWS.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Header {
    /// Always `EdDSA` after verification.
    pub alg: String,
    /// The signer's key thumbprint.
    pub kid: Option<String>,
    /// `typ`, if the signer set one.
    pub typ: Option<String>,
    /// `cty`, if the signer set one.
    pub cty: Option<String>,
    /// Critical extensions; verification refuses any.
    pub crit: Option<Vec<String>>,
}

/// A compact JWS split into its parts, signature not yet checked. Only [`Unverified::header`] is
/// available before verification (the `kid` is needed to find the key).
#[derive(Debug)]
pub struct Unverified<'a> {
    header: Header,
    signing_input: &'a str,
    payload_b64: &'a str,
    signature: Vec<u8>,
}

/// A JWS whose signature checked.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The protected header.
    pub header: Header,
    /// The payload bytes.
    pub payload: Vec<u8>,
}

/// Splits a compact JWS and parses its protected header. Refuses anything but `alg: EdDSA`,
/// `crit`, `b64: false`, JSON serialisation and detached payloads.
pub fn parse_compact(jws: &str) -> Result<Unverified<'_>, JoseError> {
    let jws = jws.trim_end_matches(['\r', '\n']);
    let mut parts = jws.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JoseError::Malformed(
            "expected the compact serialisation: three base64url parts separated by '.'".into(),
        ));
    };
    if p.is_empty() {
        return Err(JoseError::Malformed(
            "the payload part is empty (detached payloads are not accepted)".into(),
        ));
    }
    let header_bytes = B64.decode(h).map_err(|_| {
        JoseError::Malformed("the protected header is not unpadded base64url".into())
    })?;
    let header_value: serde_json::Value = serde_json::from_slice(&header_bytes)
        .map_err(|e| JoseError::Header(format!("not JSON: {e}")))?;
    let obj = header_value
        .as_object()
        .ok_or_else(|| JoseError::Header("not a JSON object".into()))?;
    if obj.get("b64").is_some() {
        return Err(JoseError::Header(
            "\"b64\" (RFC 7797) is not accepted".into(),
        ));
    }
    let header: Header = serde_json::from_value(header_value.clone())
        .map_err(|e| JoseError::Header(format!("{e}")))?;
    if header.alg != "EdDSA" {
        return Err(JoseError::Header(format!(
            "alg is {:?}; Custos accepts only \"EdDSA\" (RFC 8037) with Ed25519 keys",
            header.alg
        )));
    }
    if let Some(crit) = &header.crit {
        return Err(JoseError::Header(format!(
            "crit lists {crit:?}; no critical extensions are understood"
        )));
    }
    let signature = B64
        .decode(s)
        .map_err(|_| JoseError::Malformed("the signature is not unpadded base64url".into()))?;
    B64.decode(p)
        .map_err(|_| JoseError::Malformed("the payload is not unpadded base64url".into()))?;
    Ok(Unverified {
        header,
        signing_input: &jws[..h.len() + 1 + p.len()],
        payload_b64: p,
        signature,
    })
}

impl Unverified<'_> {
    /// The protected header, for finding the key. Nothing in it is authenticated yet.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Checks the signature under `key`; only then returns the payload.
    pub fn verify(self, key: &PublicJwk) -> Result<Verified, JoseError> {
        key.verify_raw(self.signing_input.as_bytes(), &self.signature)?;
        let payload = B64
            .decode(self.payload_b64)
            .map_err(|_| JoseError::Malformed("the payload is not unpadded base64url".into()))?;
        Ok(Verified {
            header: self.header,
            payload,
        })
    }
}

/// Parses and verifies in one step.
pub fn verify_compact(jws: &str, key: &PublicJwk) -> Result<Verified, JoseError> {
    parse_compact(jws)?.verify(key)
}

/// Signs `payload` as a compact JWS with `{"alg":"EdDSA","kid":<thumbprint>}` plus `typ` if given.
/// The payload must not be empty: an empty payload part means a detached payload in the compact
/// form (RFC 7515 appendix F), which [`verify_compact`] refuses.
pub fn sign_compact(payload: &[u8], key: &PrivateJwk, typ: Option<&str>) -> String {
    let mut header = serde_json::Map::new();
    header.insert("alg".into(), "EdDSA".into());
    header.insert("kid".into(), key.public().thumbprint().into());
    if let Some(t) = typ {
        header.insert("typ".into(), t.into());
    }
    let header = serde_json::Value::Object(header).to_string();
    let signing_input = format!("{}.{}", B64.encode(header), B64.encode(payload));
    let sig = key.key.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", B64.encode(sig.to_bytes()))
}
