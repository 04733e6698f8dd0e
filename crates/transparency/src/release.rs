//! The public release of a [`Table`]: every cell of every breakdown, zeros included, over keys
//! from public domains, with discrete Laplace noise from OpenDP, then post-processed (no privacy
//! cost) into non-negative integers whose partitions add up to the noisy total.
//!
//! Privacy accounting: the unit of privacy is one case. Adding or removing a case changes each
//! breakdown by at most its L1 sensitivity ([`BREAKDOWNS`]); the report's ε is split evenly over
//! the breakdowns and composed by basic (sequential) composition, and OpenDP's privacy map of
//! each measurement is checked against its share before any noise is drawn.

use std::collections::{BTreeMap, BTreeSet};

use opendp::domains::{AtomDomain, VectorDomain};
use opendp::measurements::make_laplace;
use opendp::measures::MaxDivergence;
use opendp::metrics::L1Distance;
use serde::{Deserialize, Serialize};

use crate::report::{
    Confidentiality, DaysToDecision, Emergencies, FORMAT, Method, Notices, Period, Report, Totals,
};
use crate::table::{DAYS_CAP, GROUNDS_PER_CASE, Table, quantiles};

/// What a period's public report may break its counts down by: every key is public knowledge
/// (the directory's states, the vocabulary, the profile's rules), so a key's presence reveals
/// nothing and every cell is released, zeros included.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Domains {
    /// Every requesting state of the directory.
    pub states: BTreeSet<String>,
    /// Every measure.
    pub measures: BTreeSet<String>,
    /// Every channel.
    pub channels: BTreeSet<String>,
    /// Every outcome of an assessment.
    pub recommendations: BTreeSet<String>,
    /// Every kind of decision.
    pub decisions: BTreeSet<String>,
    /// Every finding code of the profile's rules.
    pub grounds: BTreeSet<String>,
}

/// The breakdowns released, each with its L1 sensitivity (what one case can change in it).
pub const BREAKDOWNS: &[(&str, u64)] = &[
    ("totals", 1),
    ("by_state", 1),
    ("by_measure", 1),
    ("by_channel", 1),
    ("by_recommendation", 1),
    ("by_decision", 1),
    ("refusal_grounds", GROUNDS_PER_CASE),
    // claimed, and verified or failed
    ("emergencies", 2),
    // requested and narrowed
    ("confidentiality", 2),
    // due, and sent or failed
    ("notices", 2),
    ("days_to_decision", 1),
    ("evidence_delivered", 1),
];

/// The unit of privacy, in the report's words.
pub const UNIT_OF_PRIVACY: &str = "one case (one request received): adding or removing any one \
case changes each breakdown by at most its sensitivity";

/// Which date places a case in a period, in the report's words.
pub const PERIOD_BASIS: &str = "a case belongs to the period containing the day (UTC) it was \
received; what happened to it later (assessment, decision, notices, evidence) is counted as the \
node knew it when the report was first published";

/// Why a release could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// ε must be a positive finite number.
    #[error("epsilon {0} is not a positive finite number")]
    Epsilon(f64),
    /// OpenDP refused a measurement or failed to sample.
    #[error("differential privacy mechanism ({breakdown}): {detail}")]
    Mechanism {
        /// The breakdown.
        breakdown: &'static str,
        /// OpenDP's words.
        detail: String,
    },
}

/// Noisy counts of one breakdown, before post-processing (signed: noise may go below zero).
pub type Noisy = BTreeMap<String, i64>;

/// The noisy cells of every breakdown, as drawn (private to the computation: only their
/// post-processing is published).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Draw {
    /// Per breakdown name (see [`BREAKDOWNS`]), the noisy value per key.
    pub cells: BTreeMap<&'static str, Noisy>,
}

/// The upper ends (in days, inclusive) of the bands days to decision are published in; the last
/// is [`DAYS_CAP`], a year or more.
pub const DAY_BANDS: [u32; 18] = [
    0, 1, 2, 3, 5, 7, 10, 14, 21, 30, 45, 60, 90, 120, 180, 270, 365, DAYS_CAP,
];

/// The cells of each breakdown over its domain, zeros included, from the exact table.
pub fn cells(table: &Table, domains: &Domains) -> BTreeMap<&'static str, BTreeMap<String, u64>> {
    let over = |keys: &BTreeSet<String>, counts: &BTreeMap<String, u64>| {
        keys.iter()
            .map(|k| (k.clone(), counts.get(k).copied().unwrap_or(0)))
            .collect::<BTreeMap<_, _>>()
    };
    let named = |pairs: &[(&str, u64)]| {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect::<BTreeMap<_, _>>()
    };
    // Published in bands, not single days: 367 one-day cells would each carry the breakdown's
    // full noise, and their clamped sum would swamp a small period's decisions.
    let mut days: BTreeMap<String, u64> =
        DAY_BANDS.iter().map(|d| (format!("{d:03}"), 0)).collect();
    for (day, n) in &table.days_to_decision {
        let band = DAY_BANDS.iter().find(|b| *b >= day).unwrap_or(&DAYS_CAP);
        *days.entry(format!("{band:03}")).or_default() += n;
    }
    BTreeMap::from([
        ("totals", named(&[("requests", table.requests)])),
        ("by_state", over(&domains.states, &table.by_state)),
        ("by_measure", over(&domains.measures, &table.by_measure)),
        ("by_channel", over(&domains.channels, &table.by_channel)),
        (
            "by_recommendation",
            over(&domains.recommendations, &table.by_recommendation),
        ),
        ("by_decision", over(&domains.decisions, &table.by_decision)),
        (
            "refusal_grounds",
            over(&domains.grounds, &table.refusal_grounds),
        ),
        (
            "emergencies",
            named(&[
                ("claimed", table.emergencies_claimed),
                ("verified", table.emergencies_verified),
                ("verification_failed", table.emergencies_verification_failed),
            ]),
        ),
        (
            "confidentiality",
            named(&[
                ("requested", table.confidentiality_requested),
                ("narrowed", table.confidentiality_narrowed),
            ]),
        ),
        (
            "notices",
            named(&[
                ("due", table.notices_due),
                ("sent", table.notices_sent),
                ("failed", table.notices_failed),
            ]),
        ),
        ("days_to_decision", days),
        (
            "evidence_delivered",
            named(&[("cases", table.evidence_delivered)]),
        ),
    ])
}

/// The noise scale of each breakdown for a report of `epsilon` (its share of ε is
/// `epsilon / BREAKDOWNS.len()`).
pub fn scales(epsilon: f64) -> BTreeMap<String, f64> {
    let share = epsilon / BREAKDOWNS.len() as f64;
    BREAKDOWNS
        .iter()
        .map(|(name, sensitivity)| ((*name).to_owned(), *sensitivity as f64 / share))
        .collect()
}

/// Half-width of the 95% interval of discrete Laplace noise of scale `b`: the smallest `m` with
/// P(|noise| > m) ≤ 5% (P(|X| ≥ k) = 2·e^(−k/b) / (1 + e^(−1/b)) for k ≥ 1).
pub fn margin_95(b: f64) -> u64 {
    let t = (-1.0 / b).exp();
    // P(|X| > m) = P(|X| ≥ m+1) ≤ 0.05  ⇔  m+1 ≥ b·ln(40 / (1 + t))
    let k = (b * (40.0 / (1.0 + t)).ln()).ceil();
    (k - 1.0).max(0.0) as u64
}

/// Draws the noise of every cell with OpenDP's discrete Laplace mechanism.
pub fn draw(table: &Table, domains: &Domains, epsilon: f64) -> Result<Draw, ReleaseError> {
    if !(epsilon.is_finite() && epsilon > 0.0) {
        return Err(ReleaseError::Epsilon(epsilon));
    }
    let share = epsilon / BREAKDOWNS.len() as f64;
    let all = cells(table, domains);
    let mut out = Draw::default();
    for (name, sensitivity) in BREAKDOWNS {
        let fail = |detail: String| ReleaseError::Mechanism {
            breakdown: name,
            detail,
        };
        let keys = &all[name];
        let exact: Vec<i64> = keys
            .values()
            .map(|v| i64::try_from(*v).unwrap_or(i64::MAX))
            .collect();
        let scale = *sensitivity as f64 / share;
        let m = make_laplace::<_, _, MaxDivergence>(
            VectorDomain::new(AtomDomain::<i64>::default()),
            L1Distance::<i64>::default(),
            scale,
            None,
        )
        .map_err(|e| fail(e.to_string()))?;
        let d_in = i64::try_from(*sensitivity).unwrap_or(i64::MAX);
        let loss = m.map(&d_in).map_err(|e| fail(e.to_string()))?;
        // OpenDP's own accounting of this measurement must fit its share of ε.
        if loss > share * (1.0 + 1e-9) {
            return Err(fail(format!(
                "privacy loss {loss} exceeds the breakdown's share {share}"
            )));
        }
        let noisy = m.invoke(&exact).map_err(|e| fail(e.to_string()))?;
        out.cells
            .insert(name, keys.keys().cloned().zip(noisy).collect());
    }
    Ok(out)
}

/// The public report of `period` from a draw: post-processing only (no further privacy cost).
pub fn publish(period: Period, epsilon: f64, draw: &Draw) -> Report {
    let get = |name: &str| draw.cells.get(name).cloned().unwrap_or_default();
    let clamp = |n: &Noisy| -> BTreeMap<String, u64> {
        n.iter()
            .map(|(k, v)| (k.clone(), u64::try_from(*v).unwrap_or(0)))
            .collect()
    };
    let one = |name: &str, key: &str| {
        get(name)
            .get(key)
            .map(|v| u64::try_from(*v).unwrap_or(0))
            .unwrap_or(0)
    };
    let requests = one("totals", "requests");
    let partition = |name: &str| allocate(requests, &clamp(&get(name)));
    let at_most = |cap: u64, m: BTreeMap<String, u64>| {
        m.into_iter()
            .map(|(k, v)| (k, v.min(cap)))
            .collect::<BTreeMap<_, _>>()
    };

    // Decisions are a part of the requests, not a partition of them: they may not exceed them.
    let by_decision = {
        let raw = clamp(&get("by_decision"));
        let sum: u64 = raw.values().sum();
        if sum > requests {
            allocate(requests, &raw)
        } else {
            raw
        }
    };
    let claimed = one("emergencies", "claimed").min(requests);
    let verified = one("emergencies", "verified").min(claimed);
    let failed = one("emergencies", "verification_failed").min(claimed - verified);
    let requested = one("confidentiality", "requested").min(requests);
    let narrowed = one("confidentiality", "narrowed").min(requested);
    let due = one("notices", "due").min(requests);
    let sent = one("notices", "sent").min(due);
    let notices_failed = one("notices", "failed").min(due - sent);
    // The bands share out the noisy number of decided requests, as the partitions share out
    // the total: a period with few decisions is not drowned by the noise of empty bands.
    let decided: u64 = by_decision.values().sum();
    let days: BTreeMap<u32, u64> = allocate(decided, &clamp(&get("days_to_decision")))
        .into_iter()
        .filter_map(|(k, v)| k.parse::<u32>().ok().map(|d| (d, v)))
        .collect();
    let (median, p90) = quantiles(&days);
    let scales = scales(epsilon);
    Report {
        format: FORMAT.to_owned(),
        from: period.from,
        to: period.to,
        exact: false,
        epsilon: Some(epsilon),
        totals: Totals { requests },
        by_state: partition("by_state"),
        by_measure: partition("by_measure"),
        by_channel: partition("by_channel"),
        by_recommendation: partition("by_recommendation"),
        by_decision,
        refusal_grounds: at_most(requests, clamp(&get("refusal_grounds"))),
        emergencies: Emergencies {
            claimed,
            verified,
            verification_failed: failed,
        },
        confidentiality: Confidentiality {
            requested,
            narrowed,
        },
        notices: Notices {
            due,
            sent,
            failed: notices_failed,
        },
        days_to_decision: DaysToDecision { median, p90 },
        evidence_delivered: one("evidence_delivered", "cases").min(requests),
        method: Method {
            mechanism: "discrete Laplace (OpenDP make_laplace over integers), pure ε-differential \
                        privacy, ε split evenly over the breakdowns (basic composition)"
                .to_owned(),
            margin_95: scales
                .iter()
                .map(|(k, b)| (k.clone(), margin_95(*b)))
                .collect(),
            noise_scale: scales,
            unit_of_privacy: UNIT_OF_PRIVACY.to_owned(),
            period_basis: PERIOD_BASIS.to_owned(),
            notes: vec![
                "Every key of every breakdown comes from a public list (the directory's states, \
                 the measures, channels, outcomes and decisions, the rules of the node's \
                 profile); counts of zero are noised like the others, and nothing is suppressed."
                    .to_owned(),
                "After the noise: negative counts become 0, and the breakdowns by state, \
                 measure, channel and recommendation are shares of the published total (largest \
                 remainders), so they add up to it; parts never exceed their whole."
                    .to_owned(),
                "A refused case counts under at most 3 grounds; days to decision are whole days \
                 from receipt to the decision in force, counted in bands (0, 1, 2, 3, 5, 7, 10, \
                 14, 21, 30, 45, 60, 90, 120, 180, 270, 365 days, then a year or more) that \
                 share out the published number of decisions; the median and 90th percentile \
                 are the upper ends of the bands they fall in."
                    .to_owned(),
                "The figures are computed once per period and then served as published.".to_owned(),
            ],
        },
    }
}

/// Shares `total` out over `weights` in proportion (largest remainders, ties by key order); all
/// zero weights share it evenly. The result has the same keys and adds up to `total` (unless
/// there are no keys).
pub fn allocate(total: u64, weights: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    if weights.is_empty() {
        return BTreeMap::new();
    }
    let sum: u128 = weights.values().map(|w| u128::from(*w)).sum();
    let (weights, sum): (Vec<(&String, u128)>, u128) = if sum == 0 {
        (
            weights.keys().map(|k| (k, 1u128)).collect(),
            weights.len() as u128,
        )
    } else {
        (
            weights.iter().map(|(k, w)| (k, u128::from(*w))).collect(),
            sum,
        )
    };
    let total_wide = u128::from(total);
    let mut shares: Vec<(&String, u128, u128)> = weights
        .iter()
        .map(|(k, w)| (*k, total_wide * w / sum, total_wide * w % sum))
        .collect();
    let given: u128 = shares.iter().map(|s| s.1).sum();
    let mut left = total_wide - given;
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|a, b| shares[*b].2.cmp(&shares[*a].2).then(a.cmp(b)));
    for i in order {
        if left == 0 {
            break;
        }
        shares[i].1 += 1;
        left -= 1;
    }
    shares
        .into_iter()
        .map(|(k, v, _)| (k.clone(), u64::try_from(v).unwrap_or(u64::MAX)))
        .collect()
}

/// The exact report of `period` (staff only): the table as it is, `epsilon` null.
pub fn exact(period: Period, table: &Table) -> Report {
    let (median, p90) = quantiles(&table.days_to_decision);
    Report {
        format: FORMAT.to_owned(),
        from: period.from,
        to: period.to,
        exact: true,
        epsilon: None,
        totals: Totals {
            requests: table.requests,
        },
        by_state: table.by_state.clone(),
        by_measure: table.by_measure.clone(),
        by_channel: table.by_channel.clone(),
        by_recommendation: table.by_recommendation.clone(),
        by_decision: table.by_decision.clone(),
        refusal_grounds: table.refusal_grounds.clone(),
        emergencies: Emergencies {
            claimed: table.emergencies_claimed,
            verified: table.emergencies_verified,
            verification_failed: table.emergencies_verification_failed,
        },
        confidentiality: Confidentiality {
            requested: table.confidentiality_requested,
            narrowed: table.confidentiality_narrowed,
        },
        notices: Notices {
            due: table.notices_due,
            sent: table.notices_sent,
            failed: table.notices_failed,
        },
        days_to_decision: DaysToDecision { median, p90 },
        evidence_delivered: table.evidence_delivered,
        method: Method {
            mechanism: "exact".to_owned(),
            noise_scale: BTreeMap::new(),
            margin_95: BTreeMap::new(),
            unit_of_privacy: UNIT_OF_PRIVACY.to_owned(),
            period_basis: PERIOD_BASIS.to_owned(),
            notes: vec!["Exact counts: never published; for staff with an auditor's role.".into()],
        },
    }
}

/// What is wrong with a published (noisy) report, against the domains it was released over:
/// empty when it is consistent. The replay runs it on every `report.published`.
pub fn inconsistencies(report: &Report, domains: &Domains) -> Vec<String> {
    let mut wrong = Vec::new();
    if report.format != FORMAT {
        wrong.push(format!("format is {:?}, not {FORMAT}", report.format));
    }
    if report.exact || report.epsilon.is_none() {
        wrong.push("a published report is noisy: exact false and epsilon set".into());
    }
    let total = report.totals.requests;
    for (name, keys, counts, partition) in [
        ("by_state", &domains.states, &report.by_state, true),
        ("by_measure", &domains.measures, &report.by_measure, true),
        ("by_channel", &domains.channels, &report.by_channel, true),
        (
            "by_recommendation",
            &domains.recommendations,
            &report.by_recommendation,
            true,
        ),
        (
            "by_decision",
            &domains.decisions,
            &report.by_decision,
            false,
        ),
        (
            "refusal_grounds",
            &domains.grounds,
            &report.refusal_grounds,
            false,
        ),
    ] {
        if !counts.keys().eq(keys.iter()) {
            wrong.push(format!("{name}: its keys are not the public domain"));
        }
        let sum: u64 = counts.values().sum();
        if partition && !keys.is_empty() && sum != total {
            wrong.push(format!(
                "{name} adds up to {sum}, not totals.requests {total}"
            ));
        }
        if !partition && counts.values().any(|v| *v > total) {
            wrong.push(format!("{name}: a count exceeds totals.requests {total}"));
        }
    }
    let decided: u64 = report.by_decision.values().sum();
    if decided > total {
        wrong.push(format!(
            "by_decision adds up to {decided}, more than {total}"
        ));
    }
    let e = &report.emergencies;
    if e.claimed > total || e.verified + e.verification_failed > e.claimed {
        wrong.push("emergencies: verified and failed exceed claimed, or claimed the total".into());
    }
    let c = &report.confidentiality;
    if c.narrowed > c.requested || c.requested > total {
        wrong.push("confidentiality: narrowed exceeds requested, or requested the total".into());
    }
    let n = &report.notices;
    if n.sent + n.failed > n.due || n.due > total {
        wrong.push("notices: sent and failed exceed due, or due the total".into());
    }
    if let (Some(m), Some(p)) = (report.days_to_decision.median, report.days_to_decision.p90)
        && m > p
    {
        wrong.push("days_to_decision: the median exceeds the 90th percentile".into());
    }
    wrong
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn domains() -> Domains {
        let set = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        Domains {
            states: set(&["DE", "FR", "NL"]),
            measures: set(&["preserve_stored_data", "produce_subscriber_information"]),
            channels: set(&["mla", "network_24x7", "direct"]),
            recommendations: set(&["execute", "refuse"]),
            decisions: set(&["execute", "refuse"]),
            grounds: set(&["death-penalty", "expression-offence"]),
        }
    }

    fn period() -> Period {
        Period::parse("2026-01-01", "2026-03-31").unwrap()
    }

    #[test]
    fn margins_of_discrete_laplace() {
        // b = 1: P(|X| ≥ k) = 2e^{-k}/(1+e^{-1}); k = 4 gives 2.7% and k = 3 gives 7.3%
        assert_eq!(margin_95(1.0), 3);
        // Close to b·ln(20) for large b.
        let b = 12.0;
        let m = margin_95(b) as f64;
        assert!((m - b * 20f64.ln()).abs() < 2.0, "{m}");
    }

    #[test]
    fn allocation_keeps_the_total() {
        let w = BTreeMap::from([("a".into(), 1), ("b".into(), 1), ("c".into(), 1)]);
        let a = allocate(10, &w);
        assert_eq!(a.values().sum::<u64>(), 10);
        assert_eq!(a["a"], 4);
        let z = BTreeMap::from([("a".into(), 0), ("b".into(), 0)]);
        assert_eq!(allocate(3, &z).values().sum::<u64>(), 3);
    }

    #[test]
    fn every_domain_key_is_released_and_zeros_are_noised() {
        let table = Table::default();
        let mut moved = false;
        for _ in 0..20 {
            let d = draw(&table, &domains(), 1.0).unwrap();
            // Every key, zeros included, has a cell.
            assert_eq!(d.cells["by_state"].len(), 3);
            assert_eq!(d.cells["days_to_decision"].len(), DAY_BANDS.len());
            moved |= d.cells.values().flat_map(|c| c.values()).any(|v| *v != 0);
            let r = publish(period(), 1.0, &d);
            assert_eq!(r.by_state.keys().count(), 3);
            assert!(inconsistencies(&r, &domains()).is_empty());
        }
        assert!(moved, "zero counts were never noised");
    }

    #[test]
    fn the_exact_report_is_the_table() {
        let table = Table {
            requests: 3,
            by_state: BTreeMap::from([("DE".into(), 2), ("FR".into(), 1)]),
            emergencies_claimed: 1,
            days_to_decision: BTreeMap::from([(2, 1), (5, 1)]),
            ..Table::default()
        };
        let r = exact(period(), &table);
        assert!(r.exact);
        assert_eq!(r.epsilon, None);
        assert_eq!(r.totals.requests, 3);
        assert_eq!(r.by_state, table.by_state);
        assert_eq!(r.emergencies.claimed, 1);
        assert_eq!(r.days_to_decision.median, Some(2));
    }

    #[test]
    fn a_bad_epsilon_is_refused() {
        assert!(draw(&Table::default(), &domains(), 0.0).is_err());
        assert!(draw(&Table::default(), &domains(), f64::NAN).is_err());
    }

    fn any_draw() -> impl Strategy<Value = Draw> {
        let d = domains();
        let t = Table::default();
        let shape = cells(&t, &d);
        let names: Vec<(&'static str, Vec<String>)> = shape
            .into_iter()
            .map(|(n, c)| (n, c.into_keys().collect()))
            .collect();
        let strategies: Vec<_> = names
            .into_iter()
            .map(|(n, keys)| {
                proptest::collection::vec(-1000i64..1000, keys.len())
                    .prop_map(move |v| (n, keys.iter().cloned().zip(v).collect::<Noisy>()))
            })
            .collect();
        strategies.prop_map(|v| Draw {
            cells: v.into_iter().collect(),
        })
    }

    proptest! {
        #[test]
        fn any_draw_publishes_a_consistent_report(d in any_draw(), eps in 0.01f64..10.0) {
            let r = publish(period(), eps, &d);
            let wrong = inconsistencies(&r, &domains());
            prop_assert!(wrong.is_empty(), "{wrong:?}");
            prop_assert_eq!(r.by_state.values().sum::<u64>(), r.totals.requests);
            prop_assert_eq!(r.by_recommendation.values().sum::<u64>(), r.totals.requests);
        }

        #[test]
        fn exact_mode_equals_the_table(n in proptest::collection::btree_map("[A-Z]{2}", 0u64..1000, 0..5)) {
            let table = Table {
                requests: n.values().sum(),
                by_state: n.clone(),
                ..Table::default()
            };
            let r = exact(period(), &table);
            prop_assert_eq!(r.by_state, n);
            prop_assert_eq!(r.totals.requests, table.requests);
        }
    }
}
