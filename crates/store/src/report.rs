//! The counts of a transparency report: GROUP BYs over the cases received in a period (by the
//! UTC day of `received_at`) and the few events a report counts. The store only counts; which
//! counts are published, and how, is `custos-transparency`'s.

use std::collections::BTreeMap;

use jiff::civil::Date;
use sqlx::Row;

use crate::{Result, Store, StoreError};

/// The exact counts of the cases received from `from` to `to` (inclusive, UTC days).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportCounts {
    /// Cases received.
    pub requests: u64,
    /// By requesting state.
    pub by_state: BTreeMap<String, u64>,
    /// By measure.
    pub by_measure: BTreeMap<String, u64>,
    /// By channel.
    pub by_channel: BTreeMap<String, u64>,
    /// By the assessment's outcome.
    pub by_recommendation: BTreeMap<String, u64>,
    /// Decided cases by the decision in force.
    pub by_decision: BTreeMap<String, u64>,
    /// Refused cases by the grounds their decision names (the first `grounds_per_case`).
    pub refusal_grounds: BTreeMap<String, u64>,
    /// Cases claiming an emergency.
    pub emergencies_claimed: u64,
    /// Emergencies confirmed (signed, or by a confirmed call-back) and not failed.
    pub emergencies_verified: u64,
    /// Emergencies whose verification failed.
    pub emergencies_verification_failed: u64,
    /// Cases whose request asks for confidentiality.
    pub confidentiality_requested: u64,
    /// Cases with `confidentiality.limited`.
    pub confidentiality_narrowed: u64,
    /// Notices whose confidentiality ended (due).
    pub notices_due: u64,
    /// Notices sent.
    pub notices_sent: u64,
    /// Notices not sent with at least one failed attempt.
    pub notices_failed: u64,
    /// Decided cases by whole days from receipt to the first `decision.recorded`, capped.
    pub days_to_decision: BTreeMap<u32, u64>,
    /// Cases with at least one evidence package delivered.
    pub evidence_delivered: u64,
}

/// One statement: every breakdown as (dimension, key, count) rows.
const COUNTS: &str = "
WITH p AS (
    SELECT case_id, requesting_state, measure, channel, outcome, emergency
    FROM cases WHERE received_at >= ?1 AND received_at < ?2
),
flags AS (
    SELECT e.case_id,
           MAX(e.event_type IN ('emergency.confirmed', 'emergency.callback_confirmed')) AS verified,
           MAX(e.event_type = 'emergency.verification_failed') AS failed,
           MAX(e.event_type = 'confidentiality.limited') AS limited,
           MAX(e.event_type = 'evidence.delivered') AS delivered,
           MIN(CASE WHEN e.event_type = 'decision.recorded' THEN e.occurred_at END) AS decided_at
    FROM events e JOIN cases c ON c.case_id = e.case_id
    WHERE e.case_id IS NOT NULL
      AND e.event_type IN ('emergency.confirmed', 'emergency.callback_confirmed',
                           'emergency.verification_failed', 'confidentiality.limited',
                           'evidence.delivered', 'decision.recorded')
      AND c.received_at >= ?1 AND c.received_at < ?2
    GROUP BY e.case_id
)
SELECT 'state', requesting_state, COUNT(*) FROM p GROUP BY requesting_state
UNION ALL SELECT 'measure', measure, COUNT(*) FROM p GROUP BY measure
UNION ALL SELECT 'channel', channel, COUNT(*) FROM p GROUP BY channel
UNION ALL SELECT 'recommendation', outcome, COUNT(*) FROM p GROUP BY outcome
UNION ALL SELECT 'emergency', 'claimed', COUNT(*) FROM p WHERE emergency != 0
UNION ALL SELECT 'decision', json_extract(c.decision, '$.decision'), COUNT(*)
    FROM cases c WHERE c.received_at >= ?1 AND c.received_at < ?2 AND c.decision IS NOT NULL
    GROUP BY 2
UNION ALL SELECT 'ground', g.value, COUNT(DISTINCT c.case_id)
    FROM cases c, json_each(c.decision, '$.grounds') g
    WHERE c.received_at >= ?1 AND c.received_at < ?2 AND c.decision IS NOT NULL
      AND json_extract(c.decision, '$.decision') = 'refuse' AND g.key < ?3
    GROUP BY g.value
UNION ALL SELECT 'confidentiality', 'requested', COUNT(*)
    FROM cases c WHERE c.received_at >= ?1 AND c.received_at < ?2
      AND json_extract(c.request_json, '$.confidentiality.requested') = 1
UNION ALL SELECT 'emergency', 'verified', COUNT(*) FROM flags f JOIN p USING (case_id)
    WHERE p.emergency != 0 AND f.verified AND NOT f.failed
UNION ALL SELECT 'emergency', 'verification_failed', COUNT(*) FROM flags f JOIN p USING (case_id)
    WHERE p.emergency != 0 AND f.failed
UNION ALL SELECT 'confidentiality', 'narrowed', COUNT(*) FROM flags WHERE limited
UNION ALL SELECT 'evidence', 'delivered', COUNT(*) FROM flags WHERE delivered
UNION ALL SELECT 'days',
    CAST(CAST(MIN(?4, MAX(0, julianday(f.decided_at) - julianday(c.received_at))) AS INTEGER) AS TEXT),
    COUNT(*)
    FROM flags f JOIN cases c USING (case_id) WHERE f.decided_at IS NOT NULL GROUP BY 2
UNION ALL SELECT 'notices', 'due', COUNT(*) FROM notices n JOIN p USING (case_id)
    WHERE n.ended_at IS NOT NULL
UNION ALL SELECT 'notices', 'sent', COUNT(*) FROM notices n JOIN p USING (case_id)
    WHERE n.sent_at IS NOT NULL
UNION ALL SELECT 'notices', 'failed', COUNT(*) FROM notices n JOIN p USING (case_id)
    WHERE n.sent_at IS NULL AND n.attempts > 0
";

impl Store {
    /// Every event of one kind, in order (through the index by type: for rare kinds, such as
    /// `report.published`).
    pub async fn events_of_kind(
        &self,
        kind: custos_model::EventType,
    ) -> Result<Vec<crate::StoredEvent>> {
        let rows = sqlx::query_as(
            "SELECT seq, event_type, occurred_at, case_id, body, salt, leaf FROM events \
             WHERE event_type = ? ORDER BY seq",
        )
        .bind(kind.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// The exact counts of the cases received from `from` to `to`, both days inclusive (UTC).
    /// A refused case counts under at most `grounds_per_case` of its grounds; days to decision
    /// are capped at `days_cap`.
    pub async fn report_counts(
        &self,
        from: Date,
        to: Date,
        grounds_per_case: u64,
        days_cap: u32,
    ) -> Result<ReportCounts> {
        let until = to.tomorrow().map_err(|e| StoreError::Corrupt {
            what: "report period".into(),
            detail: e.to_string(),
        })?;
        // Stored times are RFC 3339 in UTC: every time of day D sorts between "D" and "D+1".
        let rows = sqlx::query(COUNTS)
            .bind(from.to_string())
            .bind(until.to_string())
            .bind(i64::try_from(grounds_per_case).unwrap_or(i64::MAX))
            .bind(i64::from(days_cap))
            .fetch_all(&self.pool)
            .await?;
        let mut c = ReportCounts::default();
        for row in rows {
            let dimension: String = row.try_get(0)?;
            let key: Option<String> = row.try_get(1)?;
            let n = u64::try_from(row.try_get::<i64, _>(2)?).unwrap_or(0);
            let Some(key) = key else { continue };
            let corrupt = |detail: String| StoreError::Corrupt {
                what: format!("report count {dimension}"),
                detail,
            };
            match dimension.as_str() {
                "state" => {
                    c.requests += n;
                    c.by_state.insert(key, n);
                }
                "measure" => {
                    c.by_measure.insert(key, n);
                }
                "channel" => {
                    c.by_channel.insert(key, n);
                }
                "recommendation" => {
                    c.by_recommendation.insert(key, n);
                }
                "decision" => {
                    c.by_decision.insert(key, n);
                }
                "ground" => {
                    c.refusal_grounds.insert(key, n);
                }
                "days" => {
                    let day = key.parse::<u32>().map_err(|e| corrupt(e.to_string()))?;
                    *c.days_to_decision.entry(day).or_default() += n;
                }
                _ => match (dimension.as_str(), key.as_str()) {
                    ("emergency", "claimed") => c.emergencies_claimed = n,
                    ("emergency", "verified") => c.emergencies_verified = n,
                    ("emergency", "verification_failed") => c.emergencies_verification_failed = n,
                    ("confidentiality", "requested") => c.confidentiality_requested = n,
                    ("confidentiality", "narrowed") => c.confidentiality_narrowed = n,
                    ("evidence", "delivered") => c.evidence_delivered = n,
                    ("notices", "due") => c.notices_due = n,
                    ("notices", "sent") => c.notices_sent = n,
                    ("notices", "failed") => c.notices_failed = n,
                    _ => return Err(corrupt(format!("unknown row {dimension}/{key}"))),
                },
            }
        }
        Ok(c)
    }
}
