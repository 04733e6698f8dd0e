//! The request page's links between a preservation and its follow-ups (issue 13): "Follows
//! case M" on a follow-up, "Followed by case N" on the preservation, with each case's status.
//! Read through `query::follow_links`; the rule of what links is `ops::follow_up`'s.

use custos_service::query::{Case, Queries};

use crate::views;

/// One linked case, as the page shows it.
pub struct LinkRow {
    pub case_id: i64,
    pub request_id: String,
    pub status_label: &'static str,
}

/// The links of one case.
#[derive(Default)]
pub struct FollowLinks {
    /// The preservation this case follows.
    pub follows: Option<LinkRow>,
    /// The cases that follow this one up.
    pub followed_by: Vec<LinkRow>,
}

impl FollowLinks {
    /// Whether there is anything to show.
    pub fn is_empty(&self) -> bool {
        self.follows.is_none() && self.followed_by.is_empty()
    }
}

fn row(c: &Case) -> LinkRow {
    LinkRow {
        case_id: c.case_id,
        request_id: c.request_id.clone(),
        status_label: views::status_label(c.status),
    }
}

/// The links of `case`.
pub(super) async fn links(
    query: &Queries<'_>,
    case: &Case,
) -> Result<FollowLinks, custos_service::Problem> {
    let l = query.follow_links(case).await?;
    Ok(FollowLinks {
        follows: l.follows.as_ref().map(row),
        followed_by: l.followed_by.iter().map(row).collect(),
    })
}
