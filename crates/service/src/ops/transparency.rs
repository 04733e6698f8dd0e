//! Publication of a transparency report (issue 14): the figures of an ended period, released
//! once with differential privacy and logged (`report.published`), within the node's privacy
//! budget.
//!
//! Rules:
//! * a period is published once: a second request for it answers the stored figures and spends
//!   nothing, so repeated reads never add up to more privacy loss;
//! * only an ended period (its last day before today, UTC, on the node's clock): a report of a
//!   period still under way would freeze figures still moving;
//! * the sum of the ε of every published report never exceeds `[transparency] budget` (basic
//!   composition over reports, whether or not their periods overlap); anonymous callers may not
//!   spend the `staff_reserve` part of it, and publish at most `public_per_day` new reports a
//!   day, so a crowd asking for many custom ranges cannot use up what staff need for the
//!   periodic reports;
//! * the event's body holds the exact table beside the noisy figures: the log's salted
//!   commitment of the event commits to the exact table, and the event's opening is what an
//!   oversight body is handed (`custos report --opening`, checked by `custos report verify`).
//!
//! There is no treaty article behind these figures; publishing statistics on the use of the
//! powers is an operator's transparency commitment (an operator default).

use axum::http::StatusCode;
use custos_model::EventType;
use custos_store::{Batch, StoredEvent};
use custos_transparency::release::{self, Domains, Draw};
use custos_transparency::{Period, Report, Table};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Appended, emit};
use crate::problem::Problem;

/// Who asks for a new publication: it decides which part of the budget may be spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Spender {
    /// Anyone (the public page and downloads): never the staff reserve, a few a day.
    Public,
    /// Staff with an auditor's role or higher, or the operator on the node (`custos report`).
    Staff,
}

/// The budget rules of `[transparency]`, as the writer applies them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// ε of each new report.
    pub epsilon_per_report: f64,
    /// Total ε the node may ever spend on reports.
    pub total: f64,
    /// Part of `total` only staff may spend.
    pub staff_reserve: f64,
    /// New reports anonymous callers may publish per day (UTC).
    pub public_per_day: u32,
}

/// The body of `report.published`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportPublished {
    /// The period (inclusive days).
    pub period: Period,
    /// ε spent on this report.
    pub epsilon: f64,
    /// ε spent by every earlier report.
    pub spent_before: f64,
    /// The budget in force when it was published.
    pub budget: f64,
    /// Who asked.
    pub by: Spender,
    /// The public domains the figures were released over.
    pub domains: Domains,
    /// The published (noisy) report.
    pub report: Report,
    /// The exact table it was drawn from (never served to the public).
    pub table: Table,
}

impl ReportPublished {
    /// Reads a stored `report.published`.
    pub fn of(e: &StoredEvent) -> Result<ReportPublished, String> {
        serde_json::from_str(&e.body)
            .map_err(|err| format!("event {}: not a report.published body: {err}", e.seq))
    }
}

/// What a new publication needs, computed before the write lock (the counts and the noise):
/// the writer only checks and logs.
#[derive(Debug, Clone)]
pub struct Publication {
    /// The period.
    pub period: Period,
    /// Who asks.
    pub by: Spender,
    /// The budget rules.
    pub budget: Budget,
    /// The domains.
    pub domains: Domains,
    /// The exact table.
    pub table: Table,
    /// The noise drawn for it (with `budget.epsilon_per_report`).
    pub draw: Draw,
}

/// The published reports in the log, in order (a scan of one rare kind of event).
pub async fn published(b: &mut Batch) -> Result<Vec<(u64, ReportPublished)>, Problem> {
    let events = b.events_of_kind(EventType::ReportPublished).await?;
    events
        .iter()
        .map(|e| {
            ReportPublished::of(e)
                .map(|r| (e.seq, r))
                .map_err(super::internal)
        })
        .collect()
}

/// The day (UTC) of `at`: periods are whole UTC days.
pub fn utc_day(at: Timestamp) -> jiff::civil::Date {
    jiff::tz::Offset::UTC.to_datetime(at).date()
}

/// Refuses a period that has not ended on the node's clock.
pub fn require_ended(period: Period, now: Timestamp) -> Result<(), Problem> {
    let today = utc_day(now);
    if period.to >= today {
        return Err(Problem::unprocessable(
            "period-not-ended",
            format!(
                "parameter `to`: {} has not ended (today is {today}, UTC); a report covers ended \
                 days only, so that its figures never change once published: ask again with \
                 `to` before {today}",
                period.to
            ),
        ));
    }
    Ok(())
}

/// Publishes the report of `p.period` (`report.published`), or answers the one already
/// published for it (spending nothing).
pub async fn publish_report(
    b: &mut Batch,
    out: &mut Appended,
    p: &Publication,
    now: Timestamp,
) -> Result<Report, Problem> {
    let prior = published(b).await?;
    if let Some((_, r)) = prior.iter().find(|(_, r)| r.period == p.period) {
        return Ok(r.report.clone());
    }
    require_ended(p.period, now)?;
    let epsilon = p.budget.epsilon_per_report;
    let spent: f64 = prior.iter().map(|(_, r)| r.epsilon).sum();
    let (limit, whose) = match p.by {
        Spender::Staff => (p.budget.total, "the budget"),
        Spender::Public => (
            p.budget.total - p.budget.staff_reserve,
            "the part of the budget open to the public (the rest is reserved for staff)",
        ),
    };
    if spent + epsilon > limit + 1e-9 {
        return Err(Problem::conflict(
            "privacy-budget",
            format!(
                "a new report of {} to {} would spend ε = {epsilon}; {spent} of {limit} ({whose}) \
                 is spent, {} remains: published periods can still be read; ask the operator \
                 for this period",
                p.period.from,
                p.period.to,
                (limit - spent).max(0.0)
            ),
        ));
    }
    if p.by == Spender::Public {
        let today = utc_day(now);
        let events = b.events_of_kind(EventType::ReportPublished).await?;
        let today_public = prior
            .iter()
            .zip(&events)
            .filter(|((_, r), e)| r.by == Spender::Public && utc_day(e.at) == today)
            .count();
        if today_public >= p.budget.public_per_day as usize {
            let mut problem = Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "publication-cap",
                "Too many new reports today",
                format!(
                    "{today_public} new reports were published today at the public's request \
                     (at most {}); published periods can still be read; ask again tomorrow \
                     (UTC)",
                    p.budget.public_per_day
                ),
            );
            problem.retry_after = Some(3600);
            return Err(problem);
        }
    }
    let report = release::publish(p.period, epsilon, &p.draw);
    let body = ReportPublished {
        period: p.period,
        epsilon,
        spent_before: spent,
        budget: p.budget.total,
        by: p.by,
        domains: p.domains.clone(),
        report: report.clone(),
        table: p.table.clone(),
    };
    let body = serde_json::to_value(&body).map_err(super::internal)?;
    emit(b, out, EventType::ReportPublished, now, None, body).await?;
    Ok(report)
}

/// The replay's statement of the rules above, over the log alone: what it finds wrong with
/// each `report.published`, in order.
#[derive(Debug, Clone, Default)]
pub struct Reports {
    /// ε spent so far.
    pub spent: f64,
    /// Periods published so far.
    pub periods: std::collections::BTreeSet<Period>,
}

impl Reports {
    /// Folds one `report.published`; an error names what is wrong.
    pub fn apply(&mut self, e: &StoredEvent) -> Result<(), String> {
        let r = ReportPublished::of(e)?;
        if !self.periods.insert(r.period) {
            return Err(format!(
                "the period {} to {} is published a second time",
                r.period.from, r.period.to
            ));
        }
        if (r.spent_before - self.spent).abs() > 1e-6 {
            return Err(format!(
                "says {} was spent before it; the earlier reports spent {}",
                r.spent_before, self.spent
            ));
        }
        if !(r.epsilon.is_finite() && r.epsilon > 0.0) {
            return Err(format!("ε {} is not a positive number", r.epsilon));
        }
        self.spent += r.epsilon;
        if self.spent > r.budget + 1e-9 {
            return Err(format!(
                "brings the ε spent to {}, over the budget of {} written with it",
                self.spent, r.budget
            ));
        }
        if r.report.epsilon != Some(r.epsilon)
            || r.report.from != r.period.from
            || r.report.to != r.period.to
        {
            return Err("its report names another period or ε than the event".into());
        }
        if require_ended(r.period, e.at).is_err() {
            return Err(format!(
                "publishes {} to {} before the period ended",
                r.period.from, r.period.to
            ));
        }
        let wrong = release::inconsistencies(&r.report, &r.domains);
        if !wrong.is_empty() {
            return Err(format!(
                "its report is not consistent: {}",
                wrong.join("; ")
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use custos_ledger::commitment::Salt;
    use custos_transparency::release::{draw, publish};

    fn event(seq: u64, at: &str, p: &ReportPublished) -> StoredEvent {
        StoredEvent {
            seq,
            event_type: "report.published".into(),
            at: at.parse().unwrap(),
            case_id: None,
            body: serde_json::to_string(p).unwrap(),
            salt: Salt::from_bytes([0; 32]),
            leaf: Vec::new(),
        }
    }

    fn published(from: &str, to: &str, spent_before: f64, budget: f64) -> ReportPublished {
        let period = Period::parse(from, to).unwrap();
        let (table, domains) = (Table::default(), Domains::default());
        let d = draw(&table, &domains, 1.0).unwrap();
        ReportPublished {
            period,
            epsilon: 1.0,
            spent_before,
            budget,
            by: Spender::Public,
            domains,
            report: publish(period, 1.0, &d),
            table,
        }
    }

    #[test]
    fn the_replay_refuses_a_second_publication_an_overspent_budget_and_an_unended_period() {
        let mut r = Reports::default();
        let jan = published("2026-01-01", "2026-01-31", 0.0, 2.0);
        r.apply(&event(1, "2026-02-01T00:00:00Z", &jan)).unwrap();
        let again = published("2026-01-01", "2026-01-31", 1.0, 2.0);
        let e = r
            .apply(&event(2, "2026-02-02T00:00:00Z", &again))
            .unwrap_err();
        assert!(e.contains("second time"), "{e}");

        let mut r = Reports::default();
        r.apply(&event(1, "2026-02-01T00:00:00Z", &jan)).unwrap();
        let feb = published("2026-02-01", "2026-02-28", 1.0, 1.5);
        let e = r
            .apply(&event(2, "2026-03-01T00:00:00Z", &feb))
            .unwrap_err();
        assert!(e.contains("over the budget"), "{e}");

        let mut r = Reports::default();
        let e = r
            .apply(&event(1, "2026-01-31T12:00:00Z", &jan))
            .unwrap_err();
        assert!(e.contains("before the period ended"), "{e}");

        let mut r = Reports::default();
        let lied = published("2026-01-01", "2026-01-31", 5.0, 100.0);
        let e = r
            .apply(&event(1, "2026-02-01T00:00:00Z", &lied))
            .unwrap_err();
        assert!(e.contains("earlier reports spent"), "{e}");
    }
}
