//! The body of `POST /add-checkpoint` (C2SP tlog-witness): an `old <size>` line, at most 63
//! consistency proof lines (one base64 hash each), an empty line, then the signed checkpoint.
//! Pure parsing; every error says which line is wrong.

use custos_ledger::Hash;

/// The most proof lines a client may send (the spec's limit).
pub const MAX_PROOF_LINES: usize = 63;

/// A parsed add-checkpoint request. The checkpoint is still unverified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the latest checkpoint the client believes the witness cosigned.
    pub old: u64,
    /// The consistency proof from `old` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, as sent.
    pub checkpoint: String,
}

/// Why a request body is malformed (answered 400 Bad Request).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed add-checkpoint request: {0}")]
pub struct Malformed(pub String);

fn bad(s: impl Into<String>) -> Malformed {
    Malformed(s.into())
}

/// Parses a decimal size without leading zeros (`0` alone is zero).
fn parse_size(s: &str) -> Option<u64> {
    let ok =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if ok { s.parse().ok() } else { None }
}

impl AddCheckpoint {
    /// Parses a request body.
    pub fn parse(body: &str) -> Result<Self, Malformed> {
        let Some((first, mut rest)) = body.split_once('\n') else {
            return Err(bad("the body must start with a line 'old <size>'"));
        };
        let Some(old) = first.strip_prefix("old ") else {
            return Err(bad("the first line must be 'old <size>'"));
        };
        let old = parse_size(old)
            .ok_or_else(|| bad("the old size must be a decimal number without leading zeros"))?;
        let mut proof = Vec::new();
        loop {
            let Some((line, after)) = rest.split_once('\n') else {
                return Err(bad(
                    "no empty line between the consistency proof and the checkpoint",
                ));
            };
            rest = after;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(bad(format!(
                    "more than {MAX_PROOF_LINES} consistency proof lines"
                )));
            }
            let hash = Hash::from_base64(line).map_err(|_| {
                bad(format!(
                    "consistency proof line {} is not the base64 of a 32-byte hash",
                    proof.len() + 1
                ))
            })?;
            proof.push(hash);
        }
        if rest.is_empty() {
            return Err(bad("no checkpoint after the empty line"));
        }
        Ok(AddCheckpoint {
            old,
            proof,
            checkpoint: rest.to_owned(),
        })
    }

    /// Formats a request body (for clients and tests).
    pub fn to_body(&self) -> String {
        let mut s = format!("old {}\n", self.old);
        for h in &self.proof {
            s.push_str(&h.to_base64());
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.checkpoint);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use custos_ledger::leaf_hash;

    const CP: &str = "o\n1\nAAAA\n\n\u{2014} o AAAA\n";

    #[test]
    fn round_trip() {
        let req = AddCheckpoint {
            old: 7,
            proof: vec![leaf_hash(b"a"), leaf_hash(b"b")],
            checkpoint: CP.to_owned(),
        };
        assert_eq!(AddCheckpoint::parse(&req.to_body()), Ok(req));
        let none = AddCheckpoint::parse(&format!("old 0\n\n{CP}")).unwrap();
        assert_eq!((none.old, none.proof.len()), (0, 0));
    }

    #[test]
    fn malformed_bodies_say_what_is_wrong() {
        let h = leaf_hash(b"a").to_base64();
        let many = format!("old 1\n{}\n{CP}", format!("{h}\n").repeat(64));
        for (body, want) in [
            (String::new(), "must start"),
            (format!("new 1\n\n{CP}"), "first line"),
            (format!("old 01\n\n{CP}"), "leading zeros"),
            (format!("old -1\n\n{CP}"), "leading zeros"),
            (format!("old 1\n{h}\n{CP}"), "line 2 is not"),
            (format!("old 1\n{h}"), "no empty line"),
            ("old 1\n\n".to_owned(), "no checkpoint"),
            (many, "more than 63"),
        ] {
            let err = AddCheckpoint::parse(&body).unwrap_err().to_string();
            assert!(err.contains(want), "{body:?}: {err}");
        }
    }
}
