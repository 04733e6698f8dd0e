//! Opening an age file: the one decryption path of [`unseal`](crate::unseal()), also run over
//! the public age test vectors.

use std::io::{self, BufReader, Read};
use std::path::Path;

use age::armor::{ArmoredReadError, ArmoredReader};
use age::stream::StreamReader;
use age::{DecryptError, Decryptor, Identity};

use crate::UnsealError;

/// Age identities read from an identity file (the format `age-keygen` writes). Key material is
/// never printed.
pub struct Identities(Vec<Box<dyn Identity + Send + Sync>>);

impl Identities {
    /// The identities, as `decrypt` wants them.
    pub fn as_refs(&self) -> Vec<&dyn Identity> {
        self.0.iter().map(|i| i.as_ref() as &dyn Identity).collect()
    }
}

impl std::fmt::Debug for Identities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identities({} keys)", self.0.len())
    }
}

/// Reads an age identity file (`AGE-SECRET-KEY-1…` lines, `#` comments).
pub fn read_identities(path: &Path) -> Result<Identities, UnsealError> {
    let err = |why: String| UnsealError::Identity {
        path: path.to_owned(),
        why,
    };
    let file = std::fs::File::open(path).map_err(|e| err(e.to_string()))?;
    let ids = age::IdentityFile::from_buffer(BufReader::new(file))
        .map_err(|e| {
            err(format!(
                "{e} (expected AGE-SECRET-KEY-1… lines, as age-keygen writes)"
            ))
        })?
        .into_identities()
        .map_err(|e| err(e.to_string()))?;
    if ids.is_empty() {
        return Err(err("it holds no identity".into()));
    }
    Ok(Identities(ids))
}

/// The examined first bytes of the input, then the rest.
type Prefixed<R> = io::Chain<io::Cursor<Vec<u8>>, R>;

/// The decrypted plaintext of an age file. Reading it yields only authenticated plaintext; a
/// read error is classified (armor, payload, I/O) and kept in [`Plaintext::failure`].
pub struct Plaintext<R: Read> {
    inner: StreamReader<ArmoredReader<BufReader<Prefixed<R>>>>,
    delivered: u64,
    failure: Option<UnsealError>,
}

impl<R: Read> Plaintext<R> {
    /// Plaintext bytes delivered so far.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// The classified error of the first failed read, if any.
    pub fn take_failure(&mut self) -> Option<UnsealError> {
        self.failure.take()
    }
}

impl<R: Read> Read for Plaintext<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.delivered += n as u64;
                Ok(n)
            }
            Err(e) => {
                if self.failure.is_none() {
                    self.failure = Some(classify_payload_error(&e, self.delivered));
                }
                Err(e)
            }
        }
    }
}

/// Opens an age file (binary or ASCII-armored) with the given identities: parses the header,
/// unwraps the file key, checks the header MAC. The payload is authenticated as it is read.
///
/// Before the `age` crate sees the input, the first bytes are examined: whitespace is allowed
/// before armor (not before a binary header), and text that is neither a binary header nor
/// armor, but holds an armor line, is reported as malformed armor. A binary header is checked
/// for one rule the `age` crate does not enforce: every stanza ends with a short (< 64
/// columns, possibly empty) body line.
pub fn open_package<R: Read>(
    mut input: R,
    identities: &[&dyn Identity],
) -> Result<Plaintext<R>, UnsealError> {
    let prefix = read_prefix(&mut input).map_err(UnsealError::ReadInput)?;
    let start = prefix
        .iter()
        .position(|b| !b" \t\r\n".contains(b))
        .unwrap_or(prefix.len());
    let text = &prefix[start..];
    let prefix = if text.starts_with(ARMOR_BEGIN) {
        prefix[start..].to_vec()
    } else if text.starts_with(b"-----") || find(&prefix, ARMOR_BEGIN).is_some() {
        return Err(UnsealError::Armor(
            "the input is not a binary age file and does not begin with the line \
             -----BEGIN AGE ENCRYPTED FILE-----"
                .into(),
        ));
    } else {
        if start == 0 {
            check_stanza_bodies(&prefix).map_err(UnsealError::Header)?;
        }
        prefix
    };
    let armored = ArmoredReader::new(io::Cursor::new(prefix).chain(input));
    let decryptor = Decryptor::new_buffered(armored).map_err(classify_decrypt_error)?;
    let inner = decryptor
        .decrypt(identities.iter().copied())
        .map_err(classify_decrypt_error)?;
    Ok(Plaintext {
        inner,
        delivered: 0,
        failure: None,
    })
}

const ARMOR_BEGIN: &[u8] = b"-----BEGIN AGE ENCRYPTED FILE-----";
/// How much of the input is examined before decryption (a header longer than this is left to
/// the `age` crate alone).
const PREFIX: usize = 64 << 10;

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Reads until the end of a binary header (`\n---`) is in view, PREFIX bytes, or EOF.
fn read_prefix(input: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut prefix = Vec::with_capacity(4096);
    let mut buf = [0u8; 4096];
    while prefix.len() < PREFIX {
        let n = match input.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        prefix.extend_from_slice(&buf[..n]);
        if let Some(i) = find(&prefix, b"\n---")
            && prefix[i + 1..].contains(&b'\n')
        {
            break;
        }
    }
    Ok(prefix)
}

/// Every stanza's body ends with a line shorter than 64 columns (possibly empty); the MAC line
/// or a new stanza cannot take its place.
fn check_stanza_bodies(header: &[u8]) -> Result<(), String> {
    let mut in_body = false;
    for line in header.split(|&b| b == b'\n').skip(1) {
        if in_body {
            if line.starts_with(b"-") {
                return Err("a stanza does not end with a short body line".into());
            }
            if line.len() < 64 {
                in_body = false;
            }
            continue;
        }
        if line.starts_with(b"-> ") {
            in_body = true;
            continue;
        }
        return Ok(());
    }
    Ok(())
}

fn armor_error(e: &io::Error) -> Option<String> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<ArmoredReadError>())
        .map(|a| a.to_string())
}

fn classify_decrypt_error(e: DecryptError) -> UnsealError {
    match e {
        // X25519 identities skip stanzas they cannot open (NoMatchingKeys); a passphrase
        // identity fails outright (DecryptionFailed) when its stanza does not open.
        DecryptError::NoMatchingKeys | DecryptError::DecryptionFailed => {
            UnsealError::NoMatchingIdentity
        }
        DecryptError::InvalidMac => UnsealError::HeaderMac,
        DecryptError::Io(io) => match armor_error(&io) {
            Some(a) => UnsealError::Armor(a),
            None if matches!(
                io.kind(),
                io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidData
            ) =>
            {
                UnsealError::Header(io.to_string())
            }
            None => UnsealError::ReadInput(io),
        },
        other => UnsealError::Header(other.to_string()),
    }
}

fn classify_payload_error(e: &io::Error, after: u64) -> UnsealError {
    if let Some(a) = armor_error(e) {
        return UnsealError::Armor(a);
    }
    match e.kind() {
        io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => UnsealError::Payload {
            after,
            detail: e.to_string(),
        },
        kind => UnsealError::ReadInput(io::Error::new(kind, e.to_string())),
    }
}
