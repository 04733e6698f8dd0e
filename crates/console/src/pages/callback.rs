//! Emergencies verified by call-back (issue 13, §2): the call-back section of the request page
//! (the directory's contact, the record waiting for a supervisor, the forms to record and to
//! confirm), and the authority's page with its emergencies' counts. The rules (four eyes, the
//! contact from the directory only) are the service's; this only renders and posts.

use super::request::{Sent, case_form};
use super::*;
use custos_service::ops::{
    CallbackInput, CallbackOutcome, CallbackReviewInput, EmergencyCounts, Verification,
};

/// The call-back section of an emergency's request page.
#[derive(Debug, Clone, Default)]
pub struct CallbackSection {
    pub authority_kid: String,
    /// The directory's contact, "name, phone", if one is registered.
    pub contact: Option<String>,
    /// The record waiting for a supervisor, in words.
    pub pending: Option<String>,
    pub can_record: bool,
    pub can_review: bool,
    /// Why the viewer cannot review the pending record, if so.
    pub review_note: String,
}

/// The call-back section for `case` as `user` sees it (`None` if it claims no emergency).
pub(super) fn section(
    c: &Console,
    case: &Case,
    v: &Verification,
    user: &User,
) -> Option<CallbackSection> {
    if !case.emergency {
        return None;
    }
    let contact = c.node.directory.contact(&case.authority_kid);
    let open =
        custos_service::ops::emergency::UNDECIDED.contains(&case.status) && v.failed.is_none();
    let changes = user.role != Role::Auditor;
    let pending = v.pending_callback.as_ref();
    let (can_review, review_note) = match pending {
        Some(p) if p.reviewer == user.name => (
            false,
            "You recorded this call-back; another supervisor must confirm it.".to_owned(),
        ),
        Some(_) if user.role >= Role::Supervisor && changes => (open, String::new()),
        Some(_) => (
            false,
            format!(
                "A supervisor who did not record it must confirm it; your role is {}.",
                user.role.as_str()
            ),
        ),
        None => (false, String::new()),
    };
    Some(CallbackSection {
        authority_kid: case.authority_kid.clone(),
        contact: contact.map(|c| format!("{}, {}", c.name, c.phone)),
        pending: pending.map(|p| {
            format!(
                "{} called {} and reached {}: {}{} ({})",
                p.reviewer,
                p.contact.phone,
                p.reached,
                outcome_words(p.outcome),
                p.note
                    .as_deref()
                    .map(|n| format!(" — {n}"))
                    .unwrap_or_default(),
                views::when(p.at)
            )
        }),
        can_record: open && changes && pending.is_none() && contact_known(c, case),
        can_review,
        review_note,
    })
}

fn contact_known(c: &Console, case: &Case) -> bool {
    c.node.directory.contact(&case.authority_kid).is_some()
}

fn outcome_words(o: CallbackOutcome) -> &'static str {
    match o {
        CallbackOutcome::Confirmed => "confirms it sent the request",
        CallbackOutcome::Denied => "denies having sent it",
        CallbackOutcome::Unreachable => "nobody who could answer",
    }
}

/// The call-back record form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CallbackFields {
    csrf: String,
    version: String,
    reached: String,
    outcome: String,
    note: String,
}

/// The call-back review form: `confirm` is `yes` or `no`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CallbackReviewFields {
    csrf: String,
    version: String,
    confirm: String,
    callback_reason: String,
}

/// `POST /console/requests/{case}/callback`: a reviewer records a call-back.
pub async fn record_callback(
    State(c): Shared,
    Path(case_id): Path<i64>,
    jar: CookieJar,
    Posted(form): Posted<CallbackFields>,
) -> Response {
    case_form(
        &c,
        case_id,
        &jar,
        &form.csrf,
        &form.version,
        Sent::Nothing,
        |user| {
            let outcome =
                serde_json::from_value(Value::String(form.outcome.clone())).map_err(|_| {
                    Problem::unprocessable(
                        "invalid-callback",
                        "outcome: choose confirmed, denied or unreachable",
                    )
                })?;
            let input = CallbackInput {
                reached: form.reached,
                outcome,
                note: Some(form.note).filter(|n| !n.trim().is_empty()),
            };
            Ok(Box::new(move |reply| Job::RecordCallback {
                case_id,
                user,
                input,
                reply,
            }))
        },
        |_: &Verification| format!("/console/requests/{case_id}?done=callback-recorded"),
    )
    .await
}

/// `POST /console/requests/{case}/callback/review`: a supervisor confirms or rejects it.
pub async fn review_callback(
    State(c): Shared,
    Path(case_id): Path<i64>,
    jar: CookieJar,
    Posted(form): Posted<CallbackReviewFields>,
) -> Response {
    case_form(
        &c,
        case_id,
        &jar,
        &form.csrf,
        &form.version,
        Sent::Nothing,
        |user| {
            let input = CallbackReviewInput {
                confirm: form.confirm == "yes",
                reason: form.callback_reason,
            };
            Ok(Box::new(move |reply| Job::ReviewCallback {
                case_id,
                user,
                input,
                reply,
            }))
        },
        |_: &Verification| format!("/console/requests/{case_id}?done=callback-reviewed"),
    )
    .await
}

#[derive(Template)]
#[template(path = "authority.html")]
struct AuthorityPage {
    layout: Layout,
    authority: Vec<Fact>,
    contact: Option<String>,
    counts: EmergencyCounts,
}

/// `GET /console/authorities/{kid}`: an authority, its call-back contact and how its
/// emergencies were verified (counted from the log).
pub async fn authority_page(State(c): Shared, Path(kid): Path<String>, jar: CookieJar) -> Response {
    let v = match page_viewer(&c, &jar, &format!("/console/authorities/{kid}")).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let query = c.node.query();
    let read = async {
        let a = query
            .authority(&kid)
            .await?
            .ok_or_else(|| Problem::not_found(format!("there is no authority with key {kid}")))?;
        let counts = query.emergency_counts(&kid).await?;
        Ok::<_, Problem>((a, counts))
    };
    let layout = v.layout("Requesting authority", "queue");
    match read.await {
        Ok((a, counts)) => {
            let mut authority = vec![
                Fact {
                    label: "Name",
                    value: a.name.clone(),
                },
                Fact {
                    label: "State",
                    value: a.state.clone(),
                },
                Fact {
                    label: "Kind",
                    value: a.kind.clone(),
                },
                Fact {
                    label: "Key (RFC 7638 thumbprint)",
                    value: a.kid.clone(),
                },
                Fact {
                    label: "Registered",
                    value: views::when(a.added_at),
                },
            ];
            if a.revoked_at.is_some() {
                authority.push(Fact {
                    label: "Key revoked",
                    value: views::when_opt(a.revoked_at),
                });
            }
            let contact = c
                .node
                .directory
                .contact(&kid)
                .map(|c| format!("{}, {}", c.name, c.phone));
            render(
                StatusCode::OK,
                &AuthorityPage {
                    layout: v.layout(format!("Authority {}", a.name), "queue"),
                    authority,
                    contact,
                    counts,
                },
            )
        }
        Err(p) => error_page(layout, &p),
    }
}
