//! The public record of each case once its secrecy ends (issue 14, part 3): publication is an
//! event, `case.published`, whose body is the record itself (`custos.case-record/v1`), so the
//! log commits to exactly what is published and anyone handed the event's salt can check it.
//!
//! Rules (a Custos transparency policy, issue 14; no treaty text is claimed for it):
//! * a case is published once, by the scheduler's tick, when it is **closed** and its
//!   confidentiality has ended (the end date passed on the node's clock, or
//!   `confidentiality.ended` logged) or none was asked. Only `closed` publishes: a refused or a
//!   withdrawn case may still be closed, and closing is the reviewer's statement that nothing
//!   more will be done, so a record published then is not contradicted by a later decision;
//! * the record carries only what the public may learn: the requesting state, measure,
//!   channel, offence categories (never names, statutes or facts), finding codes, the
//!   recommendation, the decision's kind, days, and the log index and type of each event but the
//!   desk's own (assignment, internal notes). Never
//!   a target identifier, a person, a staff name, free text (reasons, notes, justifications),
//!   the request id or an agency reference. The finding `heightened-scrutiny` is left out: it
//!   reveals the receiving jurisdiction's internal lists ([`WITHHELD_FINDINGS`]);
//! * dates are days (UTC), the granularity of the log's public leaves.
//!
//! [`CaseRecord::of`] is a pure function of the case and its events; the replay calls it on its
//! own projection of the case to check a logged record.

use super::schema;
use custos_model::{Channel, EventType, Measure, OffenceCategory, Outcome, Request};
use custos_store::{Batch, CaseStatus};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Appended, Case, DecisionKind, Documents, emit};
use crate::problem::Problem;

/// The `format` of a case's public record.
pub const CASE_RECORD_FORMAT: &str = "custos.case-record/v1";

/// Finding codes a public record never carries: `heightened-scrutiny` names states or
/// authorities the receiving jurisdiction lists for closer review, an internal list.
pub const WITHHELD_FINDINGS: &[&str] = &["heightened-scrutiny"];

/// The public record of a closed case whose secrecy ended (`custos.case-record/v1`): the body
/// of its `case.published` event. Unknown fields are refused when read, so a record that
/// carries anything more is not a record (the replay reports it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseRecord {
    /// Always `custos.case-record/v1`.
    pub format: String,
    /// The node's case number (also the record's number: `/transparency/cases/{case}`).
    pub case: i64,
    /// The requesting state (ISO 3166-1 alpha-2).
    pub requesting_state: String,
    /// The measure asked for.
    #[schema(schema_with = schema::measure)]
    pub measure: Measure,
    /// The channel the request came by.
    #[schema(schema_with = schema::channel)]
    pub channel: Channel,
    /// The categories of the offences, as classified when the case closed (reviewers'
    /// corrections applied), sorted, each once. Never their names or facts.
    #[schema(schema_with = schema::offence_categories)]
    pub offence_categories: Vec<OffenceCategory>,
    /// The codes of the assessment's findings, sorted, each once, without
    /// [`WITHHELD_FINDINGS`].
    pub finding_codes: Vec<String>,
    /// The assessment's recommendation.
    #[schema(schema_with = schema::outcome)]
    pub recommendation: Outcome,
    /// The kind of the decision in force when the case closed, if any.
    pub decision: Option<DecisionKind>,
    /// Whether the requesting authority withdrew the request.
    pub withdrawn: bool,
    /// The days things happened (UTC).
    pub dates: RecordDates,
    /// Every event of the case logged before the publication, in log order, but the desk's own
    /// (`case.assigned`, `case.unassigned`, `note.added`, `attachment.added`).
    pub events: Vec<RecordEvent>,
}

/// The days of a case's steps (UTC, `YYYY-MM-DD`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordDates {
    /// The request arrived.
    #[schema(value_type = String, format = Date)]
    pub received: Date,
    /// The decision in force was made.
    #[schema(value_type = Option<String>, format = Date)]
    pub decided: Option<Date>,
    /// The request was executed: the first hand-over (`request.delivered` or
    /// `evidence.delivered`).
    #[schema(value_type = Option<String>, format = Date)]
    pub executed: Option<Date>,
    /// The case was closed.
    #[schema(value_type = String, format = Date)]
    pub closed: Date,
    /// Confidentiality ended (`confidentiality.ended`, else the end date); null when none was
    /// asked.
    #[schema(value_type = Option<String>, format = Date)]
    pub confidentiality_ended: Option<Date>,
    /// The record was published.
    #[schema(value_type = String, format = Date)]
    pub published: Date,
}

/// One event of a case: its log index and its type (its public leaf says the same type).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordEvent {
    /// Its index in the log.
    pub index: u64,
    /// Its type.
    #[serde(rename = "type")]
    #[schema(schema_with = schema::event_type)]
    pub event_type: EventType,
}

/// An event of a case as a record needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaseEventRef {
    /// Its log index.
    pub index: u64,
    /// Its type.
    pub kind: EventType,
    /// When it happened.
    pub at: Timestamp,
}

/// Whether a case's secrecy has ended at `now`: none was asked, its end date passed, or the
/// node logged `confidentiality.ended`.
pub fn secrecy_ended(until: Option<Timestamp>, ended_logged: bool, now: Timestamp) -> bool {
    ended_logged || until.is_none_or(|t| t <= now)
}

fn day(t: Timestamp) -> Date {
    jiff::tz::TimeZone::UTC.to_datetime(t).date()
}

impl CaseRecord {
    /// The record of `case`, closed, with its `events` (log order, before the publication), as
    /// published at `published_at`. Fails only on a case whose request or closing is missing.
    pub fn of(
        case: &Case,
        events: &[CaseEventRef],
        published_at: Timestamp,
    ) -> Result<CaseRecord, String> {
        let request: Request = serde_json::from_str(&case.request_json)
            .map_err(|e| format!("case {}: its request does not read: {e}", case.case_id))?;
        let mut offence_categories: Vec<OffenceCategory> = match &case.reclassification {
            Some(r) => r
                .classification(&request)
                .iter()
                .map(|c| c.category)
                .collect(),
            None => request
                .investigation
                .offences
                .iter()
                .map(|o| o.category)
                .collect(),
        };
        offence_categories.sort_by_key(|c| c.as_str());
        offence_categories.dedup();
        let mut finding_codes: Vec<String> = case
            .assessment
            .findings
            .iter()
            .map(|f| f.code.clone())
            .filter(|c| !WITHHELD_FINDINGS.contains(&c.as_str()))
            .collect();
        finding_codes.sort();
        finding_codes.dedup();
        let first = |kinds: &[EventType]| {
            events
                .iter()
                .find(|e| kinds.contains(&e.kind))
                .map(|e| day(e.at))
        };
        let closed = events
            .iter()
            .rev()
            .find(|e| e.kind == EventType::RequestClosed)
            .map(|e| day(e.at))
            .ok_or_else(|| format!("case {}: no request.closed", case.case_id))?;
        // Null when none was asked (a notice owed at once also logs `confidentiality.ended`).
        let confidentiality_ended = case
            .confidentiality_until
            .map(|until| first(&[EventType::ConfidentialityEnded]).unwrap_or(day(until)));
        Ok(CaseRecord {
            format: CASE_RECORD_FORMAT.to_owned(),
            case: case.case_id,
            requesting_state: case.requesting_state.clone(),
            measure: case.measure,
            channel: case.channel,
            offence_categories,
            finding_codes,
            recommendation: case.outcome,
            decision: case.decision.as_ref().map(|d| d.decision),
            withdrawn: events.iter().any(|e| e.kind == EventType::RequestWithdrawn),
            dates: RecordDates {
                received: day(case.received_at),
                decided: case.decision.as_ref().map(|d| day(d.at)),
                executed: first(&[EventType::RequestDelivered, EventType::EvidenceDelivered]),
                closed,
                confidentiality_ended,
                published: day(published_at),
            },
            // The desk's own events (assignment, internal notes) are staff's working record,
            // not the case's: even their count would tell how much was deliberated.
            events: events
                .iter()
                .filter(|e| !e.kind.is_desk())
                .map(|e| RecordEvent {
                    index: e.index,
                    event_type: e.kind,
                })
                .collect(),
        })
    }
}

/// The scheduler's publications at `now`: every closed case not yet published whose secrecy
/// has ended gets its `case.published`, once (a published case is no longer a candidate).
/// Returns the cases published.
pub async fn publish_due(
    b: &mut Batch,
    out: &mut Appended,
    now: Timestamp,
) -> Result<Vec<i64>, Problem> {
    let mut published = Vec::new();
    for case in b
        .unpublished_cases_in_status::<Documents>(CaseStatus::Closed)
        .await?
    {
        let ended_logged = !secrecy_ended(case.confidentiality_until, false, now)
            && b.latest_case_event(case.case_id, EventType::ConfidentialityEnded)
                .await?
                .is_some();
        if !secrecy_ended(case.confidentiality_until, ended_logged, now) {
            continue;
        }
        let events: Vec<CaseEventRef> = b
            .case_events(case.case_id)
            .await?
            .iter()
            .filter_map(|e| {
                Some(CaseEventRef {
                    index: e.seq,
                    kind: e.kind()?,
                    at: e.at,
                })
            })
            .collect();
        let record = match CaseRecord::of(&case, &events, now) {
            Ok(r) => r,
            Err(e) => {
                // One unreadable case must not stop the tick (holds, notices): it stays
                // unpublished, and the audit names it.
                tracing::error!(case = case.case_id, error = %e, "case not published");
                continue;
            }
        };
        emit(
            b,
            out,
            EventType::CasePublished,
            now,
            Some(case.case_id),
            json!({ "record": record }),
        )
        .await?;
        published.push(case.case_id);
    }
    Ok(published)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn secrecy_ends_at_its_date_or_when_logged_or_never_began() {
        let now = t("2026-03-01T00:00:00Z");
        assert!(secrecy_ended(None, false, now));
        assert!(secrecy_ended(Some(now), false, now));
        assert!(!secrecy_ended(Some(t("2026-03-01T00:00:01Z")), false, now));
        assert!(secrecy_ended(Some(t("2027-01-01T00:00:00Z")), true, now));
    }

    #[test]
    fn a_record_refuses_fields_it_never_has() {
        let v = json!({
            "format": CASE_RECORD_FORMAT, "case": 1, "requesting_state": "FR",
            "measure": "preserve_stored_data", "channel": "direct",
            "offence_categories": [], "finding_codes": [], "recommendation": "execute",
            "decision": null, "withdrawn": false,
            "dates": {"received": "2026-01-01", "decided": null, "executed": null,
                      "closed": "2026-01-02", "confidentiality_ended": null,
                      "published": "2026-01-02"},
            "events": [{"index": 3, "type": "request.received"}],
        });
        let r: CaseRecord = serde_json::from_value(v.clone()).expect("a record");
        assert_eq!(serde_json::to_value(&r).unwrap(), v);
        let mut extra = v.clone();
        extra["target"] = json!("x");
        assert!(serde_json::from_value::<CaseRecord>(extra).is_err());
        let mut extra = v;
        extra["dates"]["reason"] = json!("x");
        assert!(serde_json::from_value::<CaseRecord>(extra).is_err());
    }
}
