//! The order that must follow an emergency, in the console: the section of the request page
//! (required kinds, due time, received or "order missing since …", the deletion asked) and the
//! reviewer's form asking the requester to delete what was handed over after a missed order
//! (`POST /console/requests/{case}/deletion-request`, the same writer job as the API's).

use super::request::{MakeJob, Sent, case_form};
use super::*;

/// The request page's section on the order.
#[derive(Debug, Clone)]
pub struct OrderSection {
    /// "a judicial or prosecutorial order", and when it is due.
    pub required: String,
    pub due_at: String,
    /// Received: when, of which kind, with which reference.
    pub received: Option<String>,
    /// "Order missing since …" while it is missing past its due time.
    pub missing: Option<String>,
    /// The deletion asked, in words.
    pub deletion: Option<String>,
    /// Whether the deletion form is offered (a missed order, none asked yet, a reviewer).
    pub can_ask_deletion: bool,
}

/// "Order missing since …" for a case whose order is missing past its due time.
pub fn missing_label(s: &custos_service::ops::OrderStatus) -> Option<String> {
    match (s.is_missed(), s.missed_at) {
        (true, Some(at)) => Some(format!(
            "Order missing since {} (due {})",
            views::when(at),
            views::when(s.due_at)
        )),
        _ => None,
    }
}

/// The section for `case_id`, if an order must follow its emergency.
pub async fn section(
    c: &Console,
    case_id: i64,
    can_change: bool,
) -> Result<Option<OrderSection>, Problem> {
    let Some(s) = c.node.query().order_status(case_id).await? else {
        return Ok(None);
    };
    Ok(Some(OrderSection {
        required: s.required.join(" or "),
        due_at: views::when(s.due_at),
        received: s.received_at.map(|at| {
            format!(
                "Received {}: {} order, reference {}",
                views::when(at),
                s.kind.as_deref().unwrap_or(""),
                s.reference.as_deref().unwrap_or("")
            )
        }),
        missing: missing_label(&s),
        deletion: s
            .deletion_requested
            .as_ref()
            .map(|d| format!("Deletion asked {}: {}", views::when(d.at), d.message)),
        can_ask_deletion: can_change && s.is_missed() && s.deletion_requested.is_none(),
    }))
}

/// The deletion request form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DeletionFields {
    csrf: String,
    version: String,
    message: String,
}

/// `POST /console/requests/{case}/deletion-request`: after a missed order, ask the requester
/// to delete what was handed over, with a message it reads.
pub async fn request_deletion(
    State(c): Shared,
    Path(case_id): Path<i64>,
    jar: CookieJar,
    Posted(form): Posted<DeletionFields>,
) -> Response {
    case_form(
        &c,
        case_id,
        &jar,
        &form.csrf,
        &form.version,
        Sent::Nothing,
        |user| -> Result<MakeJob<Case>, Problem> {
            let input = custos_service::ops::DeletionRequestInput {
                message: form.message.clone(),
            };
            Ok(Box::new(move |reply| Job::RequestDeletion {
                case_id,
                user,
                input,
                reply,
            }))
        },
        |_: &Case| format!("/console/requests/{case_id}?done=deletion-requested"),
    )
    .await
}
