//! The public pages anyone can read without signing in (issue 14): what they share (their frame,
//! their error page, the node's address as the visitor reached it) and `/log`, the log's latest
//! checkpoint with its signatures and how to check it from outside. `/transparency` is in
//! `transparency.rs`.
//!
//! They carry the console's security headers and CSP, and no script at all. They show only what
//! the log already publishes: sizes, hashes, key names and signatures, never a case.

use super::*;

/// The frame of a public page: its title and which public page it is (for `aria-current`).
#[derive(Debug, Clone)]
pub struct PublicLayout {
    pub title: String,
    pub nav: &'static str,
}

impl PublicLayout {
    pub(super) fn new(title: impl Into<String>, nav: &'static str) -> PublicLayout {
        PublicLayout {
            title: title.into(),
            nav,
        }
    }
}

#[derive(Template)]
#[template(path = "public_error.html")]
struct PublicErrorPage {
    layout: PublicLayout,
    status: u16,
    refusal: Refusal,
}

/// A problem on a public page, as a page with the problem's status and its words.
pub(super) fn public_error(nav: &'static str, p: &Problem) -> Response {
    let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    render(
        status,
        &PublicErrorPage {
            layout: PublicLayout::new(p.title.clone(), nav),
            status: p.status,
            refusal: p.into(),
        },
    )
}

/// The node's address as the visitor reached it (`Host`, and `https` behind a proxy that says
/// so), for the commands to copy. A `Host` that is not a plain host name or address is not
/// echoed: the placeholder says what to put instead.
pub(super) fn node_url(headers: &HeaderMap) -> String {
    let scheme = if over_tls(headers) { "https" } else { "http" };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        });
    match host {
        Some(h) => format!("{scheme}://{h}"),
        None => "https://NODE-ADDRESS".to_owned(),
    }
}

/// One signature line of the served checkpoint.
#[derive(Debug, Clone)]
pub struct SignatureRow {
    /// The key's name (the node's origin, or the witness's name).
    pub name: String,
    /// The key id, 8 hex digits, as `custos log verify` and the C2SP tools print it.
    pub key_id: String,
    /// When a witness cosigned (C2SP tlog-cosignature carries the time), if the line says.
    pub cosigned_at: Option<String>,
}

impl SignatureRow {
    fn of(s: &custos_ledger::note::NoteSignature) -> SignatureRow {
        // A tlog-cosignature/v1 line: an 8-byte big-endian time (seconds), then the signature.
        let cosigned_at = <[u8; 8]>::try_from(s.signature.get(..8).unwrap_or_default())
            .ok()
            .filter(|_| s.signature.len() == 72)
            .and_then(|t| i64::try_from(u64::from_be_bytes(t)).ok())
            .and_then(|t| Timestamp::from_second(t).ok())
            .map(views::when);
        SignatureRow {
            name: s.name.clone(),
            key_id: format!("{:08x}", s.key_id),
            cosigned_at,
        }
    }
}

#[derive(Template)]
#[template(path = "public_log.html")]
struct PublicLogPage {
    layout: PublicLayout,
    /// The served note, as `/log/checkpoint` serves it.
    note: Option<String>,
    /// Whether the node's signature on it verified with the node's verifier key.
    verified: bool,
    /// Why it did not, if it did not.
    problem: Option<String>,
    facts: Vec<Fact>,
    node_signature: Option<SignatureRow>,
    witnesses: Vec<SignatureRow>,
    verifier: String,
    url: String,
    command: String,
    /// The first hash tile of the served tree, for the link (none while the log is empty).
    tile: Option<String>,
}

/// `GET /log`: the latest checkpoint, its signature lines (the node's and the witnesses'), and
/// how to verify the log from outside, with the commands to copy. No sign-in.
pub async fn public_log(State(c): Shared, headers: HeaderMap) -> Response {
    let log = &c.node.log;
    let verifier = log.verifier();
    let url = node_url(&headers);
    let command = format!("custos log verify --server {url} --vkey \"{verifier}\" --full");
    let served = c.node.served_checkpoint().map(|s| (s.note, s.signed_at));
    let mut page = PublicLogPage {
        layout: PublicLayout::new("Public log", "log"),
        note: served.as_ref().map(|(n, _)| n.clone()),
        verified: false,
        problem: None,
        facts: vec![],
        node_signature: None,
        witnesses: vec![],
        verifier: verifier.to_string(),
        url,
        command,
        tile: None,
    };
    if let Some((note, signed_at)) = &served {
        match Checkpoint::open(note, log.origin(), std::slice::from_ref(&verifier)) {
            Ok((cp, opened)) => {
                page.verified = true;
                page.facts = vec![
                    Fact {
                        label: "Origin",
                        value: cp.origin.clone(),
                    },
                    Fact {
                        label: "Tree size (events)",
                        value: cp.size.to_string(),
                    },
                    Fact {
                        label: "Root hash",
                        value: cp.root.to_base64(),
                    },
                    Fact {
                        label: "Signed",
                        value: signed_at.map_or_else(|| "not known".to_owned(), views::when),
                    },
                ];
                page.tile = first_tile(cp.size);
                page.node_signature = opened.verified.first().map(SignatureRow::of);
                // Every other line: a witness's cosignature (the node signs once).
                page.witnesses = opened.unknown.iter().map(SignatureRow::of).collect();
            }
            Err(e) => page.problem = Some(format!("the checkpoint does not verify: {e}")),
        }
    }
    render(StatusCode::OK, &page)
}

/// The path of the first level-0 hash tile of a tree of `size` leaves (C2SP tlog-tiles: a
/// partial tile while the tree has fewer than 256 leaves).
fn first_tile(size: u64) -> Option<String> {
    match size {
        0 => None,
        1..=255 => Some(format!("/log/tile/0/000.p/{size}")),
        _ => Some("/log/tile/0/000".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_node_url_is_the_host_reached_and_never_a_strange_one() {
        assert_eq!(
            node_url(&headers(&[("host", "custos.example.org")])),
            "http://custos.example.org"
        );
        assert_eq!(
            node_url(&headers(&[
                ("host", "127.0.0.1:8080"),
                ("x-forwarded-proto", "https")
            ])),
            "https://127.0.0.1:8080"
        );
        assert_eq!(
            node_url(&headers(&[("host", "[::1]:80")])),
            "http://[::1]:80"
        );
        for bad in ["a b", "x\"y", "evil.example/<b>", ""] {
            assert_eq!(
                node_url(&headers(&[("host", bad)])),
                "https://NODE-ADDRESS",
                "{bad}"
            );
        }
        assert_eq!(node_url(&HeaderMap::new()), "https://NODE-ADDRESS");
    }

    #[test]
    fn a_cosignature_line_shows_its_time_and_a_plain_signature_none() {
        let mut sig = 1_764_504_000u64.to_be_bytes().to_vec();
        sig.extend([0u8; 64]);
        let cosigned = SignatureRow::of(&custos_ledger::note::NoteSignature {
            name: "witness.example/w1".into(),
            key_id: 0x0102_0a0b,
            signature: sig,
        });
        assert_eq!(cosigned.key_id, "01020a0b");
        assert_eq!(
            cosigned.cosigned_at.as_deref(),
            Some("2025-11-30 12:00 UTC")
        );
        let plain = SignatureRow::of(&custos_ledger::note::NoteSignature {
            name: "node".into(),
            key_id: 1,
            signature: vec![0; 64],
        });
        assert_eq!(plain.cosigned_at, None);
    }
}
