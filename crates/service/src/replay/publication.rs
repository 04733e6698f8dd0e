//! The replay's statement of publication (`case.published`), independent of
//! `ops::publication::publish_due`: a case is published once, only when closed, only once its
//! secrecy ended (its end date passed at the event's time, or `confidentiality.ended` logged)
//! or none was asked; the body holds nothing but the record, the record reads as
//! `custos.case-record/v1` with no field beyond it, and it says what the case's events say.

use custos_model::EventType;
use custos_store::{CaseStatus, StoredEvent};
use serde_json::Value;

use super::{Finding, Projections};
use crate::ops::{CaseEventRef, CaseRecord, WITHHELD_FINDINGS};

/// The keys of a `case.published` event: the record, and what the store adds to every event.
const EVENT_KEYS: [&str; 5] = ["at", "case", "record", "seq", "type"];

impl Projections {
    /// Remembers an event of a case, for the record its publication must carry.
    pub(super) fn remember_case_event(&mut self, e: &StoredEvent) {
        if let (Some(case), Some(kind)) = (e.case_id, e.kind()) {
            self.case_log.entry(case).or_default().push(CaseEventRef {
                index: e.seq,
                kind,
                at: e.at,
            });
        }
    }

    /// Checks one `case.published`.
    pub(super) fn published(&mut self, e: &StoredEvent, body: &Value) -> Result<(), String> {
        // An event of the scheduler's pass, after its releases.
        self.holds_released(e);
        let id = e.case_id.ok_or("names no case")?;
        let mut problems = Vec::new();
        if let Some(seq) = self.published.insert(id, e.seq) {
            problems.push(format!("publishes case {id} again (event {seq} did)"));
        }
        let case = self
            .cases
            .get(&id)
            .ok_or_else(|| format!("publishes case {id}, which no earlier event received"))?;
        if case.status != CaseStatus::Closed {
            problems.push(format!(
                "publishes case {id}, which was {} in the log, not closed",
                case.status.as_str()
            ));
        }
        let ended_logged = self.notices.get(&id).is_some_and(|n| n.ended_at.is_some());
        let secret = !ended_logged && case.confidentiality_until.is_some_and(|t| t > e.at);
        if secret {
            problems.push(format!(
                "publishes case {id} before its confidentiality ended (until {})",
                case.confidentiality_until
                    .map(|t| t.to_string())
                    .unwrap_or_default()
            ));
        }
        let extra: Vec<&str> = body
            .as_object()
            .map(|o| {
                o.keys()
                    .map(String::as_str)
                    .filter(|k| !EVENT_KEYS.contains(k))
                    .collect()
            })
            .unwrap_or_default();
        if !extra.is_empty() {
            problems.push(format!(
                "carries fields a publication never has: {}",
                extra.join(", ")
            ));
        }
        match serde_json::from_value::<CaseRecord>(body["record"].clone()) {
            Err(err) => problems.push(format!(
                "its record is not a custos.case-record/v1 (a forbidden or missing field?): {err}"
            )),
            Ok(logged) => {
                if logged
                    .finding_codes
                    .iter()
                    .any(|c| WITHHELD_FINDINGS.contains(&c.as_str()))
                {
                    problems.push("its record carries a withheld finding code".into());
                }
                let events = self.case_log.get(&id).map(Vec::as_slice).unwrap_or(&[]);
                match CaseRecord::of(case, events, e.at) {
                    Err(err) => problems.push(err),
                    Ok(expected) if expected != logged => problems.push(format!(
                        "its record differs from what the case's events say ({})",
                        record_differences(&expected, &logged).join(", ")
                    )),
                    Ok(_) => {}
                }
            }
        }
        for p in problems {
            self.findings.push(Finding::new(
                "publication",
                format!("event {} ({}): {p}", e.seq, EventType::CasePublished),
            ));
        }
        Ok(())
    }
}

/// The fields of two records that differ, by name.
fn record_differences(a: &CaseRecord, b: &CaseRecord) -> Vec<&'static str> {
    let mut d = Vec::new();
    let mut check = |differs: bool, name: &'static str| {
        if differs {
            d.push(name);
        }
    };
    check(a.format != b.format, "format");
    check(a.case != b.case, "case");
    check(a.requesting_state != b.requesting_state, "requesting_state");
    check(a.measure != b.measure, "measure");
    check(a.channel != b.channel, "channel");
    check(
        a.offence_categories != b.offence_categories,
        "offence_categories",
    );
    check(a.finding_codes != b.finding_codes, "finding_codes");
    check(a.recommendation != b.recommendation, "recommendation");
    check(a.decision != b.decision, "decision");
    check(a.withdrawn != b.withdrawn, "withdrawn");
    check(a.dates != b.dates, "dates");
    check(a.events != b.events, "events");
    d
}
