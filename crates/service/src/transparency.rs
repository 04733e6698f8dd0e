//! Public transparency reports (issue 14, part 1): the figures of a period, released once with
//! differential privacy and logged (`report.published`), then served as stored.

use axum::http::StatusCode;
use custos_transparency::{Period, Report};

use crate::node::Node;
use crate::problem::Problem;

impl Node {
    /// The public (differentially private) report of `period`: the stored one if it was
    /// published, else computed, logged and published now, within the budget.
    pub async fn public_report(&self, period: Period) -> Result<Report, Problem> {
        Err(Problem::new(
            StatusCode::NOT_IMPLEMENTED,
            "not-implemented",
            "Not implemented",
            format!(
                "transparency reports are not built yet (period {} to {})",
                period.from, period.to
            ),
        ))
    }

    /// The periods the public page lists: every calendar quarter that has ended (on the node's
    /// clock) since the quarter of the node's first event, newest first.
    pub async fn report_periods(&self) -> Result<Vec<Period>, Problem> {
        Ok(Vec::new())
    }
}
