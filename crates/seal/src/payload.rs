//! The age payload, encrypted with `ring`'s ChaCha20-Poly1305.
//!
//! The `age` crate still makes the file key, wraps it for each X25519 recipient and writes the
//! header with its MAC and the payload nonce; only the bulk encryption of the payload (the
//! STREAM construction of age-encryption.org/v1, *Payload*) is done here, because the `age`
//! crate's portable ChaCha20-Poly1305 runs at about 60 % of `ring`'s assembly on the machines
//! we measured (docs/PERFORMANCE.md) and sealing is dominated by it.
//!
//! The file key reaches us through the `age::Recipient` trait, the crate's one extension point:
//! [`KeyTap`] wraps each real recipient and keeps a copy of the key it is asked to wrap.
//! The payload key is derived with `age-core`'s HKDF exactly as age does. Every package is
//! checked by the stock `age -d` and by the `age` crate's decryptor in the tests, for payload
//! sizes around every chunk boundary.

use std::collections::HashSet;
use std::io::{self, Write};
use std::sync::Mutex;

use age::secrecy::ExposeSecret as _;
use age::x25519;
use age_core::format::{FileKey, Stanza};
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use zeroize::Zeroizing;

/// Plaintext bytes per STREAM chunk (age: 64 KiB).
pub const CHUNK_SIZE: usize = 64 * 1024;
const TAG_SIZE: usize = 16;
const PAYLOAD_NONCE_SIZE: usize = 16;

/// A recipient that wraps the file key with the real one and remembers the key.
struct KeyTap<'a> {
    inner: &'a x25519::Recipient,
    seen: &'a Mutex<Option<Zeroizing<[u8; 16]>>>,
}

impl age::Recipient for KeyTap<'_> {
    fn wrap_file_key(
        &self,
        file_key: &FileKey,
    ) -> Result<(Vec<Stanza>, HashSet<String>), age::EncryptError> {
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(Zeroizing::new(*file_key.expose_secret()));
        }
        age::Recipient::wrap_file_key(self.inner, file_key)
    }
}

/// Writes age's STREAM: 64 KiB chunks, each sealed with a nonce of an 11-byte big-endian
/// counter and a last-chunk flag. A chunk is written only once it is known whether it is the
/// last (a full chunk waits for one more byte or for [`PayloadWriter::finish`]).
pub struct PayloadWriter<W: Write> {
    key: LessSafeKey,
    counter: u64,
    /// Plaintext of the current chunk, then its ciphertext and tag in place.
    chunk: Vec<u8>,
    inner: W,
}

/// Writes the age header (by the `age` crate) for `recipients` to `out` and returns the writer
/// of the payload.
pub fn begin<W: Write>(
    recipients: &[x25519::Recipient],
    mut out: W,
) -> io::Result<PayloadWriter<W>> {
    let seen = Mutex::new(None);
    let taps: Vec<KeyTap<'_>> = recipients
        .iter()
        .map(|inner| KeyTap { inner, seen: &seen })
        .collect();
    let encryptor = age::Encryptor::with_recipients(taps.iter().map(|t| t as &dyn age::Recipient))
        .map_err(|e| io::Error::other(e.to_string()))?;
    // The header and the payload nonce, as age writes them; its own stream writer is dropped
    // unused (dropping it writes nothing).
    let mut head = Vec::new();
    drop(encryptor.wrap_output(&mut head)?);
    let file_key = seen
        .lock()
        .ok()
        .and_then(|mut s| s.take())
        .ok_or_else(|| io::Error::other("the age encryptor did not hand out the file key"))?;
    let nonce = head
        .len()
        .checked_sub(PAYLOAD_NONCE_SIZE)
        .map(|at| &head[at..])
        .ok_or_else(|| io::Error::other("the age header is shorter than its payload nonce"))?;
    let payload_key = Zeroizing::new(age_core::primitives::hkdf(nonce, b"payload", &file_key[..]));
    out.write_all(&head)?;
    let key = LessSafeKey::new(
        UnboundKey::new(&CHACHA20_POLY1305, &payload_key[..])
            .map_err(|_| io::Error::other("ChaCha20-Poly1305 key"))?,
    );
    Ok(PayloadWriter {
        key,
        counter: 0,
        chunk: Vec::with_capacity(CHUNK_SIZE + TAG_SIZE),
        inner: out,
    })
}

impl<W: Write> PayloadWriter<W> {
    fn seal_chunk(&mut self, last: bool) -> io::Result<()> {
        let mut nonce = [0u8; 12];
        // 11-byte big-endian counter (the top 3 bytes stay 0: 2^64 chunks are never reached).
        nonce[3..11].copy_from_slice(&self.counter.to_be_bytes());
        nonce[11] = u8::from(last);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::empty(),
                &mut self.chunk,
            )
            .map_err(|_| io::Error::other("ChaCha20-Poly1305 sealing failed"))?;
        self.chunk.extend_from_slice(tag.as_ref());
        self.inner.write_all(&self.chunk)?;
        self.chunk.clear();
        self.counter = self
            .counter
            .checked_add(1)
            .ok_or_else(|| io::Error::other("STREAM counter overflow"))?;
        Ok(())
    }

    /// Seals the last chunk (empty only when the whole payload is) and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.seal_chunk(true)?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for PayloadWriter<W> {
    fn write(&mut self, mut data: &[u8]) -> io::Result<usize> {
        let n = data.len();
        while !data.is_empty() {
            if self.chunk.len() == CHUNK_SIZE {
                // More is coming, so the full chunk is not the last.
                self.seal_chunk(false)?;
            }
            let take = (CHUNK_SIZE - self.chunk.len()).min(data.len());
            self.chunk.extend_from_slice(&data[..take]);
            data = &data[take..];
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    fn round_trip(len: usize, writes: usize) {
        let identity = x25519::Identity::generate();
        let recipient = identity.to_public();
        let plain: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
        let mut w = begin(std::slice::from_ref(&recipient), Vec::new()).unwrap();
        let step = (len / writes.max(1)).max(1);
        for piece in plain.chunks(step) {
            w.write_all(piece).unwrap();
        }
        let sealed = w.finish().unwrap();
        let chunks = len.div_ceil(CHUNK_SIZE).max(1);
        let header_len = sealed.len() - len - chunks * TAG_SIZE;
        assert!(sealed.starts_with(b"age-encryption.org/v1\n"));
        assert!(header_len > PAYLOAD_NONCE_SIZE);
        let d = age::Decryptor::new(&sealed[..]).unwrap();
        let mut out = Vec::new();
        d.decrypt(std::iter::once(&identity as &dyn age::Identity))
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, plain, "length {len}");
    }

    #[test]
    fn the_age_crate_opens_payloads_around_every_chunk_boundary() {
        for len in [
            0,
            1,
            CHUNK_SIZE - 1,
            CHUNK_SIZE,
            CHUNK_SIZE + 1,
            2 * CHUNK_SIZE,
            2 * CHUNK_SIZE + 17,
        ] {
            round_trip(len, 1);
            round_trip(len, 7);
        }
    }

    #[test]
    fn a_flipped_ciphertext_byte_is_refused() {
        let identity = x25519::Identity::generate();
        let mut w = begin(&[identity.to_public()], Vec::new()).unwrap();
        w.write_all(&[1u8; 1000]).unwrap();
        let mut sealed = w.finish().unwrap();
        let last = sealed.len() - 20;
        sealed[last] ^= 1;
        let d = age::Decryptor::new(&sealed[..]).unwrap();
        let mut out = Vec::new();
        let r = d
            .decrypt(std::iter::once(&identity as &dyn age::Identity))
            .unwrap()
            .read_to_end(&mut out);
        assert!(r.is_err());
    }
}
