//! Public transparency reports (issue 14, part 1): the figures of a period, released once with
//! differential privacy and logged (`report.published`, `ops::transparency`), then served as
//! stored. The counting is the store's (`Store::report_counts`); the release is
//! `custos-transparency`'s; this module puts them together for the node and the CLI.
//!
//! The periods the public page lists ([`Node::report_periods`]): every calendar quarter that
//! has ended on the node's clock, from the quarter of the node's first event, newest first.

use custos_model::{Channel, EventType, Measure, Outcome};
use custos_safeguards::Profile;
use custos_store::{Store, StoredEvent};
use custos_transparency::release::{self, Domains};
use custos_transparency::table::{DAYS_CAP, GROUNDS_PER_CASE};
use custos_transparency::{Period, Report, Table};
use jiff::Timestamp;
use jiff::civil::Date;

use crate::config::TransparencyConfig;
use crate::node::Node;
use crate::ops::DecisionKind;
use crate::ops::transparency::{Budget, Publication, ReportPublished, Spender, utc_day};
use crate::problem::Problem;
use crate::writer::Job;

/// The budget rules of `[transparency]`.
pub fn budget(config: &TransparencyConfig) -> Budget {
    Budget {
        epsilon_per_report: config.epsilon_per_report,
        total: config.budget,
        staff_reserve: config.staff_reserve,
        public_per_day: config.public_per_day,
    }
}

/// Every kind of decision (the match below fails to compile when a kind is added).
const DECISIONS: [DecisionKind; 4] = [
    DecisionKind::Execute,
    DecisionKind::ExecuteNarrowed,
    DecisionKind::RequestInformation,
    DecisionKind::Refuse,
];
const _: fn(DecisionKind) = |d| match d {
    DecisionKind::Execute
    | DecisionKind::ExecuteNarrowed
    | DecisionKind::RequestInformation
    | DecisionKind::Refuse => {}
};

/// The public domains of a report's breakdowns: every state of the directory (revoked
/// authorities' too: their cases remain), the vocabulary, the profile's rule codes.
pub async fn domains(store: &Store, profile: &Profile) -> Result<Domains, Problem> {
    let names = |v: &mut dyn Iterator<Item = &'static str>| v.map(str::to_owned).collect();
    Ok(Domains {
        states: store
            .authorities()
            .await?
            .into_iter()
            .map(|a| a.state)
            .collect(),
        measures: names(&mut Measure::ALL.iter().map(|m| m.as_str())),
        channels: names(&mut Channel::ALL.iter().map(|c| c.as_str())),
        recommendations: names(&mut Outcome::ALL.iter().map(|o| o.as_str())),
        decisions: names(&mut DECISIONS.iter().map(|d| d.as_str())),
        grounds: profile
            .rules()
            .into_iter()
            .map(|r| r.code.clone())
            .collect(),
    })
}

/// The exact table of `period`.
pub async fn exact_table(store: &Store, period: Period) -> Result<Table, Problem> {
    let c = store
        .report_counts(period.from, period.to, GROUNDS_PER_CASE, DAYS_CAP)
        .await?;
    Ok(Table {
        requests: c.requests,
        by_state: c.by_state,
        by_measure: c.by_measure,
        by_channel: c.by_channel,
        by_recommendation: c.by_recommendation,
        by_decision: c.by_decision,
        refusal_grounds: c.refusal_grounds,
        emergencies_claimed: c.emergencies_claimed,
        emergencies_verified: c.emergencies_verified,
        emergencies_verification_failed: c.emergencies_verification_failed,
        confidentiality_requested: c.confidentiality_requested,
        confidentiality_narrowed: c.confidentiality_narrowed,
        notices_due: c.notices_due,
        notices_sent: c.notices_sent,
        notices_failed: c.notices_failed,
        days_to_decision: c.days_to_decision,
        evidence_delivered: c.evidence_delivered,
    })
}

/// The `report.published` of `period`, if there is one.
pub async fn published(
    store: &Store,
    period: Period,
) -> Result<Option<(StoredEvent, ReportPublished)>, Problem> {
    for e in store.events_of_kind(EventType::ReportPublished).await? {
        let r = ReportPublished::of(&e).map_err(Problem::internal)?;
        if r.period == period {
            return Ok(Some((e, r)));
        }
    }
    Ok(None)
}

/// Counts and draws the noise of a new publication (outside the write lock; the writer only
/// checks the budget and logs).
pub async fn prepare(
    store: &Store,
    profile: &Profile,
    config: &TransparencyConfig,
    period: Period,
    by: Spender,
) -> Result<Publication, Problem> {
    let budget = budget(config);
    let domains = domains(store, profile).await?;
    let table = exact_table(store, period).await?;
    let draw = release::draw(&table, &domains, budget.epsilon_per_report).map_err(|e| {
        Problem::internal(format!(
            "the report of {} to {} could not be drawn: {e}",
            period.from, period.to
        ))
    })?;
    Ok(Publication {
        period,
        by,
        budget,
        domains,
        table,
        draw,
    })
}

/// The ended calendar quarters from the quarter of `first` to the last one ended before `now`,
/// newest first.
pub fn quarters(first: Timestamp, now: Timestamp) -> Vec<Period> {
    let today = utc_day(now);
    let start = utc_day(first);
    let quarter_of = |d: Date| {
        let month = (d.month() - 1) / 3 * 3 + 1;
        Date::new(d.year(), month, 1).ok()
    };
    let mut out = Vec::new();
    let Some(mut q) = quarter_of(start) else {
        return out;
    };
    while let Ok(next) = q.checked_add(jiff::Span::new().months(3)) {
        let Ok(last) = next.yesterday() else { break };
        if last >= today {
            break;
        }
        out.push(Period { from: q, to: last });
        q = next;
    }
    out.reverse();
    out
}

impl Node {
    /// The public (differentially private) report of `period`: the stored one if it was
    /// published, else computed, logged and published now at the public's request (within the
    /// public part of the budget and the daily cap).
    pub async fn public_report(&self, period: Period) -> Result<Report, Problem> {
        self.publish_report(period, Spender::Public).await
    }

    /// The report of `period` as published, publishing it first (as `by`) if it was not.
    pub async fn publish_report(&self, period: Period, by: Spender) -> Result<Report, Problem> {
        if let Some((_, r)) = published(&self.store, period).await? {
            return Ok(r.report);
        }
        crate::ops::transparency::require_ended(period, self.now())?;
        let p = prepare(
            &self.store,
            self.assessor.profile(),
            &self.config.transparency,
            period,
            by,
        )
        .await?;
        self.writer
            .call(|reply| Job::PublishReport(Box::new(p), reply))
            .await
    }

    /// The report of `period` as published, if it was (spends nothing).
    pub async fn published_report(&self, period: Period) -> Result<Option<Report>, Problem> {
        Ok(published(&self.store, period).await?.map(|(_, r)| r.report))
    }

    /// The exact report of `period` (auditors and above; spends nothing, never published).
    pub async fn exact_report(&self, period: Period) -> Result<Report, Problem> {
        Ok(release::exact(
            period,
            &exact_table(&self.store, period).await?,
        ))
    }

    /// The periods the public page lists: every calendar quarter ended on the node's clock
    /// since the quarter of its first event, newest first (none before the first event).
    pub async fn report_periods(&self) -> Result<Vec<Period>, Problem> {
        let first = self.store.events(0, 1).await?;
        Ok(first
            .first()
            .map(|e| quarters(e.at, self.now()))
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ended_quarters_newest_first() {
        let first: Timestamp = "2025-11-20T10:00:00Z".parse().unwrap();
        let now: Timestamp = "2026-07-01T00:00:01Z".parse().unwrap();
        let q = quarters(first, now);
        let s: Vec<String> = q.iter().map(|p| format!("{}..{}", p.from, p.to)).collect();
        assert_eq!(
            s,
            [
                "2026-04-01..2026-06-30",
                "2026-01-01..2026-03-31",
                "2025-10-01..2025-12-31"
            ]
        );
        // The quarter under way is not listed.
        let now: Timestamp = "2026-06-30T23:59:59Z".parse().unwrap();
        assert_eq!(quarters(first, now).len(), 2);
    }
}

/// The CLI's side (`custos report`), on a node directory while no node needs to run.
pub mod offline {
    use super::*;
    use crate::node_dir::NodeDir;
    use crate::offline::{OfflineError, with_batch};
    use crate::wire::{LoggedEvent, OPENING_FORMAT, Opening};

    fn refused(p: Problem) -> OfflineError {
        OfflineError::Refused(p)
    }

    /// The report of `period` as published, publishing it first as staff (the operator on the
    /// node: the whole budget, no daily cap) if it was not.
    pub async fn publish(
        nd: &NodeDir,
        period: Period,
        now: Timestamp,
    ) -> Result<Report, OfflineError> {
        if let Some((_, r)) = published(nd.store(), period).await.map_err(refused)? {
            return Ok(r.report);
        }
        crate::ops::transparency::require_ended(period, now).map_err(refused)?;
        let profile = crate::node::load_profile(nd.dir(), &nd.config().profile)?;
        let p = prepare(
            nd.store(),
            &profile,
            &nd.config().transparency,
            period,
            Spender::Staff,
        )
        .await
        .map_err(refused)?;
        with_batch(nd, move |b, out| {
            Box::pin(async move { crate::ops::transparency::publish_report(b, out, &p, now).await })
        })
        .await
    }

    /// The exact report of `period` (spends nothing, logs nothing).
    pub async fn exact(nd: &NodeDir, period: Period) -> Result<Report, OfflineError> {
        let table = exact_table(nd.store(), period).await.map_err(refused)?;
        Ok(release::exact(period, &table))
    }

    /// The opening of the period's `report.published` (the event with the exact table, and its
    /// salt): what an oversight body is handed. `None` when the period is not published.
    pub async fn opening(nd: &NodeDir, period: Period) -> Result<Option<Opening>, OfflineError> {
        let Some((e, _)) = published(nd.store(), period).await.map_err(refused)? else {
            return Ok(None);
        };
        let event: LoggedEvent = serde_json::from_str(&e.body)
            .map_err(|err| anyhow::anyhow!("event {}: {err}", e.seq))?;
        Ok(Some(Opening {
            format: OPENING_FORMAT.to_owned(),
            log: nd.config().origin.clone(),
            index: e.seq,
            event,
            salt: e.salt,
            leaf: None,
        }))
    }
}
