//! Internal notes (issue 16): staff's written remarks on a case (`note.added`), for colleagues.
//! They live in the log only, are never shown to the requesting authority and never enter a
//! case's public record (see [`super::publication`]). Operator practice, not a treaty rule.
//!
//! Rules: reviewers and supervisors write (auditors read); a note is text, not blank, at most
//! [`MAX_NOTE_CHARS`] characters; a note is never edited or deleted, a later note corrects it.

use custos_model::EventType;
use custos_store::{Batch, Role, StoredEvent, User};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Appended, emit, load_case, require_role};
use crate::problem::{FieldProblem, Problem};

/// The longest note, in characters: a working remark, not a document (attach those).
pub const MAX_NOTE_CHARS: usize = 4000;

/// A note to add to a case.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteInput {
    /// The note, for colleagues only (1 to 4,000 characters, not blank).
    #[schema(min_length = 1, max_length = 4000)]
    pub text: String,
}

/// A note as logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Note {
    /// Its index in the log.
    pub log_index: u64,
    /// When it was written.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// Who wrote it.
    pub by: String,
    /// What it says.
    pub text: String,
}

/// A case's notes, oldest first (`GET /v1/requests/{case}/notes`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CaseNotes {
    /// The case.
    pub case: i64,
    /// Its notes, in log order.
    pub notes: Vec<Note>,
}

fn invalid(detail: String) -> Problem {
    let mut p = Problem::unprocessable("invalid-note", format!("$.text: {detail}"));
    p.errors.push(FieldProblem {
        pointer: "$.text".into(),
        detail,
    });
    p
}

/// The note's text, trimmed, or why it cannot be one.
pub fn note_text(text: &str) -> Result<&str, Problem> {
    let text = text.trim();
    if custos_model::is_blank(text) {
        return Err(invalid("the note is empty; write something".into()));
    }
    let n = text.chars().count();
    if n > MAX_NOTE_CHARS {
        return Err(invalid(format!(
            "the note is {n} characters long; at most {MAX_NOTE_CHARS} fit (attach a longer text as a document)"
        )));
    }
    Ok(text)
}

/// Adds a note to `case_id` (`note.added`).
pub async fn add_note(
    b: &mut Batch,
    out: &mut Appended,
    case_id: i64,
    user: &User,
    input: &NoteInput,
    now: Timestamp,
) -> Result<Note, Problem> {
    require_role(user, Role::Reviewer, "writing a note")?;
    load_case(b, case_id).await?;
    let text = note_text(&input.text)?;
    emit(
        b,
        out,
        EventType::NoteAdded,
        now,
        Some(case_id),
        json!({ "by": user.name, "text": text }),
    )
    .await?;
    let e = out
        .last()
        .ok_or_else(|| super::internal("a note was appended without its event"))?;
    Ok(Note {
        log_index: e.seq,
        at: now,
        by: user.name.clone(),
        text: text.to_owned(),
    })
}

/// The notes among a case's events (in log order).
pub fn notes_in(events: &[StoredEvent]) -> Result<Vec<Note>, Problem> {
    #[derive(Deserialize)]
    struct Body {
        by: String,
        text: String,
    }
    events
        .iter()
        .filter(|e| e.kind() == Some(EventType::NoteAdded))
        .map(|e| {
            let b: Body = serde_json::from_str(&e.body).map_err(super::internal)?;
            Ok(Note {
                log_index: e.seq,
                at: e.at,
                by: b.by,
                text: b.text,
            })
        })
        .collect()
}
