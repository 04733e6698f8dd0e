//! Attachments: files staff keep with a case (the order, correspondence), named by their BLAKE3
//! digest and logged (`attachment.added`). The bytes are kept by `attachments.rs`, which calls
//! [`record_added`] once the file is in place.
//!
//! Rules (operator practice, not a treaty rule):
//! * staff only: a reviewer (or above) adds, any person reads; the requesting authority never
//!   sees them (not in its reply nor its timeline), nor does the public record;
//! * the event records the digest, size, media type, kind, file name and who added it; the
//!   name is staff's text, one plain file name (no path), bounded;
//! * one file once per case: the same digest again on the same case is refused (409
//!   `attachment-exists`, naming when and by whom it was added), so a retry never logs twice.

use custos_model::EventType;
use custos_store::{Batch, Role, StoredEvent, User};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Appended, emit, require_role};
use crate::problem::{FieldProblem, Problem};

/// What an attachment is, for the people who read the case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentKind {
    /// The order (e.g. a court's) the request rests on or that followed it.
    Order,
    /// Correspondence with the requester or others about the case.
    Correspondence,
    /// Anything else.
    Other,
}

impl AttachmentKind {
    /// Every kind, in the order the console offers them.
    pub const ALL: [AttachmentKind; 3] = [
        AttachmentKind::Order,
        AttachmentKind::Correspondence,
        AttachmentKind::Other,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AttachmentKind::Order => "order",
            AttachmentKind::Correspondence => "correspondence",
            AttachmentKind::Other => "other",
        }
    }

    /// In people's words.
    pub fn label(self) -> &'static str {
        match self {
            AttachmentKind::Order => "Order",
            AttachmentKind::Correspondence => "Correspondence",
            AttachmentKind::Other => "Other",
        }
    }

    /// The kind a wire name stands for.
    pub fn parse(s: &str) -> Option<AttachmentKind> {
        AttachmentKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// The longest file name kept, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// The longest media type kept, in bytes.
pub const MAX_MEDIA_TYPE_BYTES: usize = 200;

/// A file name as kept: trimmed, not blank, at most [`MAX_NAME_CHARS`], one name (no `/` or
/// `\`, not `.` or `..`) and no control characters, so it can never be read as a path nor break
/// a header or a page.
pub fn check_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if custos_model::request::is_blank(name) {
        return Err("give the file's name (e.g. court-order.pdf)".into());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!(
            "the file name is longer than {MAX_NAME_CHARS} characters"
        ));
    }
    if name.contains(['/', '\\']) || name == "." || name == ".." {
        return Err(format!(
            "{name:?} is a path; give the file's name only (no / or \\)"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("the file name holds control characters".into());
    }
    Ok(name.to_owned())
}

/// A media type as kept: `type/subtype` (parameters allowed), visible ASCII and spaces only,
/// bounded. The node never interprets it; downloads are always served as attachments.
pub fn check_media_type(media_type: &str) -> Result<String, String> {
    let m = media_type.trim();
    let essence = m.split(';').next().unwrap_or("").trim();
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    let ok = m.len() <= MAX_MEDIA_TYPE_BYTES
        && m.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
        && essence
            .split_once('/')
            .is_some_and(|(t, s)| token(t) && token(s));
    if ok {
        Ok(m.to_owned())
    } else {
        Err(format!(
            "{m:?} is not a media type (type/subtype, e.g. application/pdf)"
        ))
    }
}

/// A file stored under the attachments directory, to be recorded for a case.
#[derive(Debug, Clone)]
pub struct NewAttachment {
    /// Hex BLAKE3 of the bytes.
    pub blake3: String,
    /// Size in bytes.
    pub size: u64,
    /// As sent (checked by [`check_media_type`]).
    pub media_type: String,
    /// What it is.
    pub kind: AttachmentKind,
    /// The file's name (checked by [`check_name`]).
    pub name: String,
}

/// An attachment as its `attachment.added` event records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The case.
    pub case_id: i64,
    /// Hex BLAKE3 of the bytes: the file's name under `attachments/`.
    pub blake3: String,
    /// Size in bytes.
    pub size: u64,
    /// As the uploader sent it.
    pub media_type: String,
    /// What it is.
    pub kind: AttachmentKind,
    /// The file's name.
    pub name: String,
    /// Who added it.
    pub by: String,
    /// When.
    pub at: Timestamp,
    /// The log index of its event.
    pub log_index: u64,
}

impl Attachment {
    /// The attachment an `attachment.added` event records; `None` for another kind of event,
    /// an error naming what is wrong for a body no node writes.
    pub fn of(e: &StoredEvent) -> Option<Result<Attachment, String>> {
        (e.kind() == Some(EventType::AttachmentAdded)).then(|| Attachment::parse(e))
    }

    fn parse(e: &StoredEvent) -> Result<Attachment, String> {
        let body: serde_json::Value =
            serde_json::from_str(&e.body).map_err(|x| format!("body is not JSON ({x})"))?;
        let text = |f: &str| {
            body[f]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("{f} is missing or not text"))
        };
        let blake3 = text("blake3")?;
        if !custos_model::package::is_digest_hex(&blake3) {
            return Err(format!("blake3 {blake3:?} is not a digest"));
        }
        let kind = text("kind")?;
        Ok(Attachment {
            case_id: e.case_id.ok_or("names no case")?,
            blake3,
            size: body["size"].as_u64().ok_or("size is not a number")?,
            media_type: check_media_type(&text("media_type")?)?,
            kind: AttachmentKind::parse(&kind)
                .ok_or_else(|| format!("kind {kind:?} is unknown"))?,
            name: check_name(&text("name")?)?,
            by: text("by")?,
            at: e.at,
            log_index: e.seq,
        })
    }
}

/// A case's attachments, in the order they were added.
pub fn attachments_of(events: &[StoredEvent]) -> Vec<Attachment> {
    events
        .iter()
        .filter_map(Attachment::of)
        .filter_map(|a| {
            a.map_err(|why| tracing::error!(why, "an attachment.added event does not read"))
                .ok()
        })
        .collect()
}

/// The refusal of a query or form field that does not pass its check.
pub fn field_problem(field: &str, detail: String) -> Problem {
    let mut p = Problem::unprocessable("invalid-attachment", format!("{field}: {detail}"));
    p.errors.push(FieldProblem {
        pointer: field.to_owned(),
        detail,
    });
    p
}

/// Checks, under the write lock, that `user` may attach `new` to `case_id`: a reviewer, an
/// existing case, a digest not yet attached to it. Nothing is written.
pub async fn check_new(
    b: &mut Batch,
    case_id: i64,
    user: &User,
    new: &NewAttachment,
) -> Result<(), Problem> {
    require_role(user, Role::Reviewer, "adding an attachment")?;
    if new.size == 0 {
        return Err(field_problem("file", "the file is empty".into()));
    }
    if b.case_version(case_id).await?.is_none() {
        return Err(Problem::not_found(format!(
            "there is no case {case_id} on this node"
        )));
    }
    let events = b.case_events(case_id).await?;
    if let Some(a) = attachments_of(&events)
        .into_iter()
        .find(|a| a.blake3 == new.blake3)
    {
        return Err(Problem::conflict(
            "attachment-exists",
            format!(
                "case {case_id} already has this file ({}, BLAKE3 {}), added by {} at {}; nothing was added",
                a.name, a.blake3, a.by, a.at
            ),
        ));
    }
    Ok(())
}

/// Logs `attachment.added` for a file already stored by its digest (after [`check_new`]).
pub async fn record_added(
    b: &mut Batch,
    out: &mut Appended,
    case_id: i64,
    user: &User,
    new: &NewAttachment,
    now: Timestamp,
) -> Result<Attachment, Problem> {
    emit(
        b,
        out,
        EventType::AttachmentAdded,
        now,
        Some(case_id),
        json!({
            "blake3": new.blake3,
            "size": new.size,
            "media_type": new.media_type,
            "kind": new.kind,
            "name": new.name,
            "by": user.name,
        }),
    )
    .await?;
    let log_index = out.last().map_or(0, |e| e.seq);
    Ok(Attachment {
        case_id,
        blake3: new.blake3.clone(),
        size: new.size,
        media_type: new.media_type.clone(),
        kind: new.kind,
        name: new.name.clone(),
        by: user.name.clone(),
        at: now,
        log_index,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_name_is_one_plain_name() {
        assert_eq!(check_name("  court order.pdf ").unwrap(), "court order.pdf");
        for bad in ["", "  ", "../etc/passwd", "a\\b", "..", "a\nb", "x\u{7}"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name(&"é".repeat(MAX_NAME_CHARS)).is_ok());
        assert!(check_name(&"é".repeat(MAX_NAME_CHARS + 1)).is_err());
    }

    #[test]
    fn a_media_type_is_type_slash_subtype() {
        for good in [
            "application/pdf",
            "text/plain; charset=utf-8",
            "message/rfc822",
        ] {
            assert!(check_media_type(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "pdf",
            "/pdf",
            "text/",
            "text/plain\r\nx: y",
            "tëxt/plain",
        ] {
            assert!(check_media_type(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn kinds_read_back_from_their_wire_names() {
        for k in AttachmentKind::ALL {
            assert_eq!(AttachmentKind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        assert_eq!(AttachmentKind::parse("Order"), None);
    }
}
