//! The counts of a transparency report: GROUP BYs over the cases received in a period (by the
//! UTC day of `received_at`) and the few events a report counts. The store only counts; which
//! counts are published, and how, is `custos-transparency`'s.

use std::collections::BTreeMap;

use jiff::civil::Date;

use crate::backend::{Backend, on_pool};
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
    /// Decided cases by whole days from receipt to the decision in force (its `at`), capped.
    pub days_to_decision: BTreeMap<u32, u64>,
    /// Cases with at least one evidence package delivered.
    pub evidence_delivered: u64,
}

/// A row of [`CASES`]: state, measure, channel, outcome, emergency, decision, asked
/// confidentiality, count, first and last case number.
type CasesRow = (
    String,
    String,
    String,
    String,
    bool,
    Option<String>,
    Option<bool>,
    i64,
    i64,
    i64,
);

/// The breakdowns of the cases themselves, grouped in the order of the covering index
/// `cases_report` (no sort; the report's columns are migration 0008's, written by
/// `put_case`), with the period's first and last case numbers.
const CASES: &str = "
SELECT requesting_state, measure, channel, outcome, emergency != 0, report_decision,
       report_confidentiality, COUNT(*), MIN(case_id), MAX(case_id)
FROM cases INDEXED BY cases_report WHERE received_at >= $1 AND received_at < $2
GROUP BY requesting_state, measure, channel, outcome, emergency, report_decision,
         report_confidentiality
";

/// Decided cases by whole days from receipt to the decision in force (capped by the caller).
const DAYS: &str = "
SELECT report_days, COUNT(*)
FROM cases INDEXED BY cases_days_to_decision WHERE received_at >= $1 AND received_at < $2
  AND report_days IS NOT NULL
GROUP BY report_days
";

/// What the events and the other projections say of the period's cases, as (dimension, key,
/// count) rows; `{in}` stands for "case `{id}` was received in the period" (see
/// [`follow_ups`]). $3, $4: the period's first and last case numbers; $5: grounds per case.
const FOLLOW_UPS: &str = "
SELECT 'ground', v, SUM(n) FROM (
    -- Each distinct list of grounds once, with its number of cases; a ground named twice in
    -- one list counts its cases once.
    SELECT DISTINCT r.grounds, g.value AS v, r.n AS n
    FROM (SELECT report_grounds AS grounds, COUNT(*) AS n
          FROM cases INDEXED BY cases_refused
          WHERE received_at >= $1 AND received_at < $2 AND report_grounds IS NOT NULL
          GROUP BY report_grounds) r,
         json_each(r.grounds) g
    WHERE g.key < $5)
    GROUP BY v
UNION ALL SELECT 'emergency', CASE WHEN f THEN 'verification_failed' ELSE 'verified' END, COUNT(*)
    FROM (SELECT e.case_id AS id, MAX(e.event_type = 'emergency.verification_failed') AS f
          FROM events e INDEXED BY events_by_type
          WHERE e.event_type IN ('emergency.confirmed', 'emergency.callback_confirmed',
                                 'emergency.verification_failed')
            AND {in:e.case_id}
          GROUP BY e.case_id)
    JOIN cases c ON c.case_id = id WHERE c.emergency != 0
    GROUP BY 2
UNION ALL SELECT 'confidentiality', 'narrowed', COUNT(DISTINCT e.case_id)
    FROM events e INDEXED BY events_by_type
    WHERE e.event_type = 'confidentiality.limited' AND {in:e.case_id}
UNION ALL SELECT 'evidence', 'delivered', COUNT(DISTINCT e.case_id)
    FROM events e INDEXED BY events_by_type
    WHERE e.event_type = 'evidence.delivered' AND {in:e.case_id}
UNION ALL SELECT 'notices', 'due', COUNT(*) FROM notices n
    WHERE {in:n.case_id} AND n.ended_at IS NOT NULL
UNION ALL SELECT 'notices', 'sent', COUNT(*) FROM notices n
    WHERE {in:n.case_id} AND n.sent_at IS NOT NULL
UNION ALL SELECT 'notices', 'failed', COUNT(*) FROM notices n
    WHERE {in:n.case_id} AND n.sent_at IS NULL AND n.attempts > 0
";

/// [`CASES`] on PostgreSQL (no index hints; `emergency` and the confidentiality are booleans).
const PG_CASES: &str = "
SELECT requesting_state, measure, channel, outcome, emergency, report_decision,
       report_confidentiality, COUNT(*), MIN(case_id), MAX(case_id)
FROM cases WHERE received_at >= $1 AND received_at < $2
GROUP BY requesting_state, measure, channel, outcome, emergency, report_decision,
         report_confidentiality
";

/// [`DAYS`] on PostgreSQL.
const PG_DAYS: &str = "
SELECT report_days, COUNT(*)
FROM cases WHERE received_at >= $1 AND received_at < $2 AND report_days IS NOT NULL
GROUP BY report_days
";

/// [`FOLLOW_UPS`] on PostgreSQL: the grounds are a JSONB array, read with their position.
const PG_FOLLOW_UPS: &str = "
SELECT 'ground', v, SUM(n)::bigint FROM (
    SELECT DISTINCT r.grounds, g.v AS v, r.n AS n
    FROM (SELECT report_grounds AS grounds, COUNT(*) AS n
          FROM cases
          WHERE received_at >= $1 AND received_at < $2 AND report_grounds IS NOT NULL
          GROUP BY report_grounds) r,
         jsonb_array_elements_text(r.grounds) WITH ORDINALITY AS g(v, i)
    WHERE g.i - 1 < $5) d
    GROUP BY v
UNION ALL SELECT 'emergency', CASE WHEN f THEN 'verification_failed' ELSE 'verified' END, COUNT(*)
    FROM (SELECT e.case_id AS id, bool_or(e.event_type = 'emergency.verification_failed') AS f
          FROM events e
          WHERE e.event_type IN ('emergency.confirmed', 'emergency.callback_confirmed',
                                 'emergency.verification_failed')
            AND {in:e.case_id}
          GROUP BY e.case_id) x
    JOIN cases c ON c.case_id = x.id WHERE c.emergency
    GROUP BY 2
UNION ALL SELECT 'confidentiality', 'narrowed', COUNT(DISTINCT e.case_id)
    FROM events e
    WHERE e.event_type = 'confidentiality.limited' AND {in:e.case_id}
UNION ALL SELECT 'evidence', 'delivered', COUNT(DISTINCT e.case_id)
    FROM events e
    WHERE e.event_type = 'evidence.delivered' AND {in:e.case_id}
UNION ALL SELECT 'notices', 'due', COUNT(*) FROM notices n
    WHERE {in:n.case_id} AND n.ended_at IS NOT NULL
UNION ALL SELECT 'notices', 'sent', COUNT(*) FROM notices n
    WHERE {in:n.case_id} AND n.sent_at IS NOT NULL
UNION ALL SELECT 'notices', 'failed', COUNT(*) FROM notices n
    WHERE {in:n.case_id} AND n.sent_at IS NULL AND n.attempts > 0
";

/// [`FOLLOW_UPS`] with its `{in:x}` predicates. When the period's cases are exactly the case
/// numbers from its first to its last (as many cases as numbers: intake numbers in order and
/// the clock went forward), the range is the test; otherwise each number is also looked up
/// among the period's cases.
fn follow_ups(backend: Backend, consecutive: bool) -> String {
    let (mut sql, hint) = match backend {
        Backend::Sqlite => (FOLLOW_UPS.to_owned(), " INDEXED BY cases_by_received"),
        Backend::Postgres => (PG_FOLLOW_UPS.to_owned(), ""),
    };
    for id in ["e.case_id", "n.case_id"] {
        let test = if consecutive {
            format!("{id} BETWEEN $3 AND $4")
        } else {
            format!(
                "{id} BETWEEN $3 AND $4 AND {id} IN (SELECT case_id FROM cases{hint} \
                 WHERE received_at >= $1 AND received_at < $2)"
            )
        };
        sql = sql.replace(&format!("{{in:{id}}}"), &test);
    }
    sql
}

impl Store {
    /// The cases whose report columns differ from what their own documents give (a row
    /// edited outside the node), by number.
    pub async fn report_columns_differ(&self) -> Result<Vec<i64>> {
        let (derived, differs) = match self.backend() {
            Backend::Sqlite => (&crate::REPORT_DERIVED, "IS NOT"),
            Backend::Postgres => (&crate::PG_REPORT_DERIVED, "IS DISTINCT FROM"),
        };
        let differ = derived
            .iter()
            .map(|(column, derived)| format!("{column} {differs} ({derived})"))
            .collect::<Vec<_>>()
            .join(" OR ");
        Ok(on_pool!(&self.pool, p => sqlx::query_scalar(&format!(
            "SELECT case_id FROM cases WHERE {differ} ORDER BY case_id"
        ))
        .fetch_all(p)
        .await?))
    }

    /// Every event of one kind, in order (through the index by type: for rare kinds, such as
    /// `report.published`).
    pub async fn events_of_kind(
        &self,
        kind: custos_model::EventType,
    ) -> Result<Vec<crate::StoredEvent>> {
        let rows = on_pool!(&self.pool, p => sqlx::query_as(
            "SELECT seq, event_type, occurred_at, case_id, body, salt, leaf FROM events \
             WHERE event_type = $1 ORDER BY seq",
        )
        .bind(kind.as_str())
        .fetch_all(p)
        .await?);
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
        let (from, until) = (from.to_string(), until.to_string());
        let (cases_sql, days_sql) = match self.backend() {
            Backend::Sqlite => (CASES, DAYS),
            Backend::Postgres => (PG_CASES, PG_DAYS),
        };
        let mut c = ReportCounts::default();
        let (mut first, mut last) = (i64::MAX, i64::MIN);
        let rows: Vec<CasesRow> = on_pool!(&self.pool, p => sqlx::query_as(cases_sql)
            .bind(&from)
            .bind(&until)
            .fetch_all(p)
            .await?);
        for (state, measure, channel, outcome, emergency, decision, confidential, n, lo, hi) in rows
        {
            let n = u64::try_from(n).unwrap_or(0);
            c.requests += n;
            first = first.min(lo);
            last = last.max(hi);
            for (key, map) in [
                (state, &mut c.by_state),
                (measure, &mut c.by_measure),
                (channel, &mut c.by_channel),
                (outcome, &mut c.by_recommendation),
            ] {
                *map.entry(key).or_default() += n;
            }
            if emergency {
                c.emergencies_claimed += n;
            }
            if let Some(kind) = decision {
                *c.by_decision.entry(kind).or_default() += n;
            }
            if confidential.unwrap_or(false) {
                c.confidentiality_requested += n;
            }
        }
        if c.requests == 0 {
            return Ok(c);
        }
        let days: Vec<(i64, i64)> = on_pool!(&self.pool, p => sqlx::query_as(days_sql)
            .bind(&from)
            .bind(&until)
            .fetch_all(p)
            .await?);
        for (day, n) in days {
            // Negative (decided before receipt) as 0, beyond the cap as the cap.
            let day = day.clamp(0, i64::from(days_cap));
            let day = u32::try_from(day).unwrap_or(days_cap);
            let n = u64::try_from(n).unwrap_or(0);
            *c.days_to_decision.entry(day).or_default() += n;
        }
        let consecutive = u64::try_from(last - first + 1).is_ok_and(|span| span == c.requests);
        let follow_ups = follow_ups(self.backend(), consecutive);
        let rows: Vec<(String, Option<String>, i64)> = on_pool!(&self.pool, p => sqlx::query_as(&follow_ups)
            .bind(&from)
            .bind(&until)
            .bind(first)
            .bind(last)
            .bind(i64::try_from(grounds_per_case).unwrap_or(i64::MAX))
            .fetch_all(p)
            .await?);
        for (dimension, key, n) in rows {
            let n = u64::try_from(n).unwrap_or(0);
            let Some(key) = key else { continue };
            let corrupt = |detail: String| StoreError::Corrupt {
                what: format!("report count {dimension}"),
                detail,
            };
            match (dimension.as_str(), key.as_str()) {
                ("ground", _) => {
                    c.refusal_grounds.insert(key, n);
                }
                ("emergency", "verified") => c.emergencies_verified = n,
                ("emergency", "verification_failed") => c.emergencies_verification_failed = n,
                ("confidentiality", "narrowed") => c.confidentiality_narrowed = n,
                ("evidence", "delivered") => c.evidence_delivered = n,
                ("notices", "due") => c.notices_due = n,
                ("notices", "sent") => c.notices_sent = n,
                ("notices", "failed") => c.notices_failed = n,
                _ => return Err(corrupt(format!("unknown row {dimension}/{key}"))),
            }
        }
        Ok(c)
    }
}
