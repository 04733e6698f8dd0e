//! Log status: the latest checkpoint, its signature checked, and the verifier key.

use super::*;

#[derive(Template)]
#[template(path = "log.html")]
struct LogPage {
    layout: Layout,
    checkpoint: Option<String>,
    facts: Vec<Fact>,
    signature_ok: bool,
    signature: String,
    verifier: String,
}

/// `GET /console/log`: the latest checkpoint, its signature checked, and the verifier key.
pub async fn log_status(State(c): Shared, jar: CookieJar) -> Response {
    let v = match page_viewer(&c, &jar, "/console/log").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let log = &c.node.log;
    let verifier = log.verifier();
    let cp = log.checkpoint();
    let (signature_ok, signature, facts) = match &cp {
        None => (
            false,
            "no checkpoint has been signed yet".to_owned(),
            vec![],
        ),
        Some(cp) => match Checkpoint::open(&cp.note, log.origin(), std::slice::from_ref(&verifier))
        {
            Ok((parsed, _)) => (
                true,
                format!(
                    "Verified with the node's verifier key {} (Ed25519, C2SP signed note)",
                    verifier.name()
                ),
                vec![
                    Fact {
                        label: "Origin",
                        value: parsed.origin.clone(),
                    },
                    Fact {
                        label: "Tree size (events)",
                        value: parsed.size.to_string(),
                    },
                    Fact {
                        label: "Root hash",
                        value: parsed.root.to_base64(),
                    },
                    Fact {
                        label: "Signed",
                        value: views::when(cp.signed_at),
                    },
                ],
            ),
            Err(e) => (
                false,
                format!("the checkpoint does not verify: {e}"),
                vec![],
            ),
        },
    };
    render(
        StatusCode::OK,
        &LogPage {
            layout: v.layout("Log status", "log"),
            checkpoint: cp.map(|c| c.note),
            facts,
            signature_ok,
            signature,
            verifier: verifier.to_string(),
        },
    )
}
