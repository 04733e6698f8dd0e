//! A case's attachments on the request page (list, upload, download) and the reply templates
//! offered in the decision form. Staff only: the requester never sees either.

use super::*;
use axum::extract::Multipart;
use custos_service::attachments::{Incoming, Received, find, read_checked};
use custos_service::http::attachments::{described, download_response};
use custos_service::ops::attachment::{AttachmentKind, attachments_of};

/// One attachment in the list.
#[derive(Debug, Clone)]
pub struct AttachmentRow {
    pub name: String,
    pub kind: &'static str,
    pub size: String,
    pub by: String,
    pub at: String,
    pub blake3: String,
    pub href: String,
}

/// The request page's Attachments section.
#[derive(Debug, Clone, Default)]
pub struct AttachmentsSection {
    pub rows: Vec<AttachmentRow>,
    /// The kinds offered, as (value, label).
    pub kinds: Vec<(&'static str, &'static str)>,
    /// A reviewer or above (auditors read only).
    pub can_attach: bool,
    /// The node's limit, in words.
    pub max_size: String,
}

/// A size in words: bytes, KiB or MiB.
fn size_words(n: u64) -> String {
    match n {
        0..1024 => format!("{n} bytes"),
        1024..1_048_576 => format!("{:.1} KiB", n as f64 / 1024.0),
        _ => format!("{:.1} MiB", n as f64 / 1_048_576.0),
    }
}

/// The section, from the case's events.
pub(super) fn section(
    c: &Console,
    case_id: i64,
    events: &[custos_service::query::StoredEvent],
    can_change: bool,
) -> AttachmentsSection {
    AttachmentsSection {
        rows: attachments_of(events)
            .into_iter()
            .map(|a| AttachmentRow {
                href: format!("/console/requests/{case_id}/attachments/{}", a.blake3),
                kind: a.kind.label(),
                size: size_words(a.size),
                at: views::when(a.at),
                name: a.name,
                by: a.by,
                blake3: a.blake3,
            })
            .collect(),
        kinds: AttachmentKind::ALL
            .iter()
            .map(|k| (k.as_str(), k.label()))
            .collect(),
        can_attach: can_change,
        max_size: size_words(c.node.config.attachments.max_bytes),
    }
}

/// A reply template offered for one of the case's grounds.
#[derive(Debug, Clone)]
pub struct TemplateChoice {
    pub ground: String,
    pub text: String,
}

/// The templates for the grounds this assessment can give (its findings), in its order.
pub(super) fn templates(c: &Console, a: &Assessment) -> Vec<TemplateChoice> {
    let mut seen = BTreeSet::new();
    a.findings
        .iter()
        .filter(|f| seen.insert(f.code.clone()))
        .filter_map(|f| {
            custos_service::templates::template_for(&c.node.config.templates, &f.code).map(|text| {
                TemplateChoice {
                    ground: f.code.clone(),
                    text,
                }
            })
        })
        .collect()
}

/// `text` added to what was typed (after a blank line), as "insert template" does.
pub(super) fn appended(typed: &str, text: &str) -> String {
    if typed.trim().is_empty() {
        text.to_owned()
    } else {
        format!("{}\n\n{text}", typed.trim_end())
    }
}

/// The refusal of a sign-in that ended, before a byte of the upload is read.
fn signed_out() -> Response {
    error_page(
        Layout::default(),
        &Problem::unauthorized(
            "signed-out",
            "your session has ended (30 minutes idle, 12 hours in all, or the node restarted); sign in again and attach the file again",
        ),
    )
}

/// What the upload form sent.
#[derive(Default)]
struct Upload {
    csrf: String,
    version: String,
    kind: String,
    file: Option<(Received, String, String)>,
}

/// Reads the form's fields in order; the file is streamed to a temporary file only once the
/// CSRF token (sent before it) is this session's.
async fn read_upload(
    c: &Console,
    session_csrf: &str,
    mut form: Multipart,
) -> Result<Upload, Problem> {
    let limit = c.node.config.attachments.max_bytes;
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            custos_service::attachments::too_large(limit)
        } else {
            Problem::bad_request(
                "unreadable-form",
                format!("the form could not be read: {e}"),
            )
        }
    };
    let mut up = Upload::default();
    while let Some(mut field) = form.next_field().await.map_err(unreadable)? {
        match field.name().unwrap_or("") {
            "csrf" => up.csrf = field.text().await.map_err(unreadable)?,
            "version" => up.version = field.text().await.map_err(unreadable)?,
            "kind" => up.kind = field.text().await.map_err(unreadable)?,
            "file" if up.file.is_none() => {
                if !same_token(&up.csrf, session_csrf) {
                    // Refused by `form_viewer` with its own words; nothing is stored.
                    return Ok(up);
                }
                let name = field.file_name().unwrap_or("").to_owned();
                let media = field
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_owned();
                let mut incoming = Incoming::create(&c.node.dir, limit).await?;
                while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
                    incoming.write(&chunk).await?;
                }
                up.file = Some((incoming.finish().await?, name, media));
            }
            _ => {}
        }
    }
    Ok(up)
}

/// `POST /console/requests/{case}/attachments` (multipart): attach a file.
pub async fn upload_attachment(
    State(c): Shared,
    Path(case_id): Path<i64>,
    jar: CookieJar,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let Some(session) = viewer(&c, &jar).await else {
        return signed_out();
    };
    let form = match form {
        Ok(form) => form,
        Err(e) => {
            let p = Problem::bad_request(
                "unreadable-form",
                format!("the upload is not a multipart form ({e}); use the page's Attach form"),
            );
            return super::request::refused_page(&c, &session, case_id, &p).await;
        }
    };
    let up = match read_upload(&c, &session.session.csrf, form).await {
        Ok(up) => up,
        Err(p) => return super::request::refused_page(&c, &session, case_id, &p).await,
    };
    let v = match form_viewer(&c, &jar, &up.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let if_match = super::request::if_match(&up.version);
    if let Err(p) = if_match.check(&c.node, case_id).await {
        return super::request::refused_page(&c, &v, case_id, &p).await;
    }
    let Some((received, name, media)) = up.file.filter(|(_, name, _)| !name.is_empty()) else {
        let p = custos_service::ops::attachment::field_problem(
            "attachment-file",
            "choose a file to attach".into(),
        );
        return super::request::refused_page(&c, &v, case_id, &p).await;
    };
    let described = match described(&up.kind, &name, &media) {
        Ok(d) => d,
        Err(p) => return super::request::refused_page(&c, &v, case_id, &p).await,
    };
    match custos_service::attachments::add(
        &c.node,
        case_id,
        v.user.clone(),
        &if_match,
        received,
        described,
    )
    .await
    {
        Ok(_) => see_other(&format!(
            "/console/requests/{case_id}?done=attached#attachments"
        )),
        Err(p) => super::request::refused_page(&c, &v, case_id, &p).await,
    }
}

/// `GET /console/requests/{case}/attachments/{blake3}`: the file, checked against its digest,
/// as a download only.
pub async fn download_attachment(
    State(c): Shared,
    Path((case_id, blake3)): Path<(i64, String)>,
    jar: CookieJar,
) -> Response {
    let here = format!("/console/requests/{case_id}/attachments/{blake3}");
    let v = match page_viewer(&c, &jar, &here).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let found = if custos_service::custody::is_digest_hex(&blake3) {
        find(&c.node, case_id, &blake3).await
    } else {
        Err(Problem::not_found(format!(
            "{blake3} is not an attachment's digest"
        )))
    };
    let read = match found {
        Ok(a) => read_checked(&c.node.dir, &a).await.map(|bytes| (a, bytes)),
        Err(p) => Err(p),
    };
    match read {
        Ok((a, bytes)) => download_response(&a.name, &a.blake3, bytes),
        Err(p) => error_page(v.layout("Attachment", "queue"), &p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_is_added_after_what_was_typed() {
        assert_eq!(appended("", "T."), "T.");
        assert_eq!(appended("  \n", "T."), "T.");
        assert_eq!(appended("Mine.\n", "T."), "Mine.\n\nT.");
    }

    #[test]
    fn sizes_read_in_words() {
        assert_eq!(size_words(12), "12 bytes");
        assert_eq!(size_words(2048), "2.0 KiB");
        assert_eq!(size_words(25 * 1024 * 1024), "25.0 MiB");
    }
}
