//! The desk's own work on a case, in the console (issue 16): who has it, with "Take this case"
//! and "Release", and the internal notes with their form. Both post the same writer jobs as the
//! API (`POST /v1/requests/{case}/assignment`, `…/notes`), with the page's version.

use super::request::{MakeJob, Sent, case_form};
use super::*;
use custos_service::ops::{self, AssignmentAction, AssignmentInput, Note, NoteInput};

/// One internal note, as the request page lists it.
#[derive(Debug, Clone)]
pub struct NoteRow {
    pub by: String,
    pub at: String,
    pub at_attr: String,
    pub text: String,
}

/// The request page's assignment line and notes section.
#[derive(Debug, Clone, Default)]
pub struct DeskSection {
    /// Who has the case, if anyone.
    pub assignee: Option<String>,
    /// Whether the viewer has it.
    pub mine: bool,
    /// The take button's words ("Take this case", "Take over from alice"); empty: not offered.
    pub take: String,
    /// Whether "Release" is offered (its holder, or a supervisor).
    pub can_release: bool,
    /// Whether the viewer may write notes (not an auditor).
    pub can_note: bool,
    pub notes: Vec<NoteRow>,
    /// The note as typed, after a refusal.
    pub note_text: String,
}

/// The section for `case`, as `user` sees it; `sent` keeps a refused note's text.
pub async fn section(
    c: &Console,
    case: &Case,
    user: &User,
    sent: Sent<'_>,
) -> Result<DeskSection, Problem> {
    let can_change = user.role != Role::Auditor;
    let mine = case.assignee.as_deref() == Some(user.name.as_str());
    let take = match &case.assignee {
        _ if !ops::may_take(case, user) => String::new(),
        None => "Take this case".to_owned(),
        Some(holder) => format!("Take over from {holder}"),
    };
    let notes = c
        .node
        .query()
        .notes(case.case_id)
        .await?
        .into_iter()
        .map(|n| NoteRow {
            by: n.by,
            at: views::when(n.at),
            at_attr: views::datetime_attr(n.at),
            text: n.text,
        })
        .collect();
    Ok(DeskSection {
        assignee: case.assignee.clone(),
        mine,
        take,
        can_release: ops::may_release(case, user),
        can_note: can_change,
        notes,
        note_text: match sent {
            Sent::Note(f) => f.text.clone(),
            _ => String::new(),
        },
    })
}

/// The assignment form: `action` is `take` or `release`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AssignmentFields {
    csrf: String,
    version: String,
    action: String,
}

/// `POST /console/requests/{case}/assignment`: take the case, or release it.
pub async fn assignment(
    State(c): Shared,
    Path(case_id): Path<i64>,
    jar: CookieJar,
    Posted(form): Posted<AssignmentFields>,
) -> Response {
    let action = match form.action.as_str() {
        "take" => Some(AssignmentAction::Take),
        "release" => Some(AssignmentAction::Release),
        _ => None,
    };
    case_form(
        &c,
        case_id,
        &jar,
        &form.csrf,
        &form.version,
        Sent::Nothing,
        |user| -> Result<MakeJob<Case>, Problem> {
            let action = action.ok_or_else(|| {
                Problem::bad_request(
                    "invalid-assignment",
                    format!("action: {:?} is neither take nor release", form.action),
                )
            })?;
            let input = AssignmentInput { action };
            Ok(Box::new(move |reply| Job::Assign {
                case_id,
                user,
                input,
                reply,
            }))
        },
        |case: &Case| {
            let done = if case.assignee.is_some() {
                "taken"
            } else {
                "released"
            };
            format!("/console/requests/{case_id}?done={done}")
        },
    )
    .await
}

/// The note form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NoteFields {
    csrf: String,
    version: String,
    pub(super) text: String,
}

/// `POST /console/requests/{case}/notes`: add an internal note.
pub async fn add_note(
    State(c): Shared,
    Path(case_id): Path<i64>,
    jar: CookieJar,
    Posted(form): Posted<NoteFields>,
) -> Response {
    case_form(
        &c,
        case_id,
        &jar,
        &form.csrf,
        &form.version,
        Sent::Note(&form),
        |user| -> Result<MakeJob<Note>, Problem> {
            let input = NoteInput {
                text: form.text.clone(),
            };
            Ok(Box::new(move |reply| Job::AddNote {
                case_id,
                user,
                input,
                reply,
            }))
        },
        |_: &Note| format!("/console/requests/{case_id}?done=noted#notes"),
    )
    .await
}
