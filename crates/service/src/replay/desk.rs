//! The replay's statement of the desk's own events (issue 16), independent of `ops::assignment`
//! and `ops::notes`: who has each case, taken and released only by staff whose logged role
//! allows it, each `from` naming the holder the log had; notes by staff, not blank, not too long.

use custos_model::EventType;
use custos_store::{CaseStatus, Role, StoredEvent};
use serde_json::Value;

use super::{Projections, text};

impl Projections {
    /// Folds one `case.assigned`, `case.unassigned` or `note.added`.
    pub(super) fn desk_event(
        &mut self,
        e: &StoredEvent,
        kind: EventType,
        body: &Value,
    ) -> Result<(), String> {
        let by = text(body, "by")?.to_owned();
        match kind {
            EventType::CaseAssigned => {
                self.require_role(e, &by, Role::Reviewer, "taking a case");
                let case = self.case_mut(e)?;
                if case.status == CaseStatus::Closed {
                    return Err(format!("{by} took case {}, which is closed", case.case_id));
                }
                let from = body["from"].as_str();
                if from != case.assignee.as_deref() {
                    return Err(format!(
                        "takes case {} from {from:?}, but the log had it with {:?}",
                        case.case_id, case.assignee
                    ));
                }
                if from == Some(by.as_str()) {
                    return Err(format!("{by} took case {} they already had", case.case_id));
                }
                case.assignee = Some(by);
                case.updated_at = e.at;
            }
            EventType::CaseUnassigned => {
                self.require_role(e, &by, Role::Reviewer, "releasing a case");
                let from = text(body, "from")?.to_owned();
                if from != by {
                    self.require_role(e, &by, Role::Supervisor, "releasing another's case");
                }
                let case = self.case_mut(e)?;
                if case.assignee.as_deref() != Some(from.as_str()) {
                    return Err(format!(
                        "releases case {} from {from}, but the log had it with {:?}",
                        case.case_id, case.assignee
                    ));
                }
                case.assignee = None;
                case.updated_at = e.at;
            }
            _ => {
                self.require_role(e, &by, Role::Reviewer, "writing a note");
                self.case_mut(e)?;
                let note = text(body, "text")?;
                crate::ops::notes::note_text(note).map_err(|p| p.detail.clone())?;
                if note.trim() != note {
                    return Err("a note with blanks around it, which ops trims".into());
                }
            }
        }
        Ok(())
    }
}
