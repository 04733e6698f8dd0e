//! What the edges read: the console's pages, the API's lists and the CLI's listings go through
//! these typed queries, never to the store. The records are the store's, re-exported here so
//! that no edge names `custos_store`.
//!
//! [`CaseQuery`] is the one filter of case lists: the API's `GET /v1/requests` and the
//! console's queue parse their query strings with [`CaseQuery::parse`], so both refuse a
//! misspelt field or value alike instead of answering with an empty list.

use custos_model::{Channel, Measure, Outcome};
use custos_store::{CaseFilter, Store};
use serde::{Deserialize, Deserializer};
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

pub use crate::ops::Case;
pub use custos_store::{
    Authority, CaseStatus, Evidence, Extension, ExtensionKind, ExtensionStatus, Hold, Notice, Role,
    StoreError, StoredEvent, User,
};

use crate::problem::Problem;

/// A request as the node received it: the signed document of a `request.received` or
/// `request.supplemented` event, and when it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedRequest {
    /// The arrival's log index.
    pub index: u64,
    pub case_id: Option<i64>,
    /// A supplement replacing an earlier document of the case.
    pub supplement: bool,
    pub received_at: custos_model::Timestamp,
    /// The `custos.request/v1` document, as signed.
    pub request: Vec<u8>,
}

impl ReceivedRequest {
    pub(crate) fn of(e: StoredEvent) -> Read<ReceivedRequest> {
        #[derive(Deserialize)]
        struct Arrival {
            jws: String,
        }
        let corrupt = |detail: String| StoreError::Corrupt {
            what: format!("event {} ({})", e.seq, e.event_type),
            detail,
        };
        let arrival: Arrival = serde_json::from_str(&e.body)
            .map_err(|err| corrupt(format!("no signed request: {err}")))?;
        let request = arrival
            .jws
            .split('.')
            .nth(1)
            .and_then(|p| {
                base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, p).ok()
            })
            .ok_or_else(|| corrupt("the JWS payload is not base64url".to_owned()))?;
        Ok(ReceivedRequest {
            index: e.seq,
            case_id: e.case_id,
            supplement: e.kind() == Some(custos_model::EventType::RequestSupplemented),
            received_at: e.at,
            request,
        })
    }
}

/// Typed reads over a node's records.
#[derive(Debug, Clone, Copy)]
pub struct Queries<'a> {
    store: &'a Store,
}

type Read<T> = Result<T, StoreError>;

impl<'a> Queries<'a> {
    pub(crate) fn new(store: &'a Store) -> Queries<'a> {
        Queries { store }
    }

    /// One case.
    pub async fn case(&self, case_id: i64) -> Read<Option<Case>> {
        self.store.case(case_id).await
    }

    /// The cases `q` selects (at most 10,000): justified emergencies awaiting a decision first
    /// (`ops::emergency::leads_queue`), each by its response deadline (the safeguards' 8-hour
    /// clock), then the others, soonest deadline first; `only_from` keeps one authority's own.
    pub async fn cases(&self, q: &CaseQuery, only_from: Option<&str>) -> Read<Vec<Case>> {
        let filter = CaseFilter {
            authority_kid: only_from.map(str::to_owned),
            status: q.status,
            outcome: q.outcome,
            measure: q.measure,
            requesting_state: q.state.clone(),
            channel: q.channel,
            emergency: q.emergency,
            open_only: q.open,
            text: q.q.clone(),
            assignee: q.assignee.as_deref().map(|a| match a {
                "none" => None,
                name => Some(name.to_owned()),
            }),
            offset: q.offset.unwrap_or(0),
            // The store caps a page at 10,000.
            limit: q.limit.unwrap_or(u32::MAX),
        };
        // Emergencies are few: read them all to find those that lead.
        let leading: Vec<Case> = if q.emergency == Some(false) {
            Vec::new()
        } else {
            let emergencies = CaseFilter {
                emergency: Some(true),
                offset: 0,
                limit: u32::MAX,
                ..filter.clone()
            };
            let mut all = self.store.cases(&emergencies).await?;
            all.retain(crate::ops::emergency::leads_queue);
            all
        };
        if leading.is_empty() {
            return self.store.cases(&filter).await;
        }
        // The page of `leading ++ the rest` (both by deadline): the rest up to the page's end
        // lies within the first `offset + limit + leading` cases of the plain list.
        let (offset, limit) = (filter.offset as usize, filter.limit as usize);
        let plain = CaseFilter {
            offset: 0,
            limit: u32::try_from(offset.saturating_add(limit).saturating_add(leading.len()))
                .unwrap_or(u32::MAX),
            ..filter
        };
        let ids: std::collections::HashSet<i64> = leading.iter().map(|c| c.case_id).collect();
        let rest = self.store.cases(&plain).await?;
        Ok(leading
            .into_iter()
            .chain(rest.into_iter().filter(|c| !ids.contains(&c.case_id)))
            .skip(offset)
            .take(limit)
            .collect())
    }

    /// The internal notes of `case_id`, oldest first (staff only; 404 for no such case).
    pub async fn notes(&self, case_id: i64) -> Result<Vec<crate::ops::Note>, crate::Problem> {
        if self.case(case_id).await?.is_none() {
            return Err(Problem::not_found(format!(
                "there is no case {case_id} on this node"
            )));
        }
        crate::ops::notes_in(&self.store.case_events(case_id).await?)
    }

    /// Whether `case` is an emergency not verified yet for its payload in force (see
    /// `ops::emergency`): it cannot be executed until its authority confirms it.
    pub async fn unverified_emergency(&self, case: &Case) -> Result<bool, crate::Problem> {
        if !case.emergency {
            return Ok(false);
        }
        let events = self.store.case_events(case.case_id).await?;
        Ok(crate::ops::emergency::unverified_in(case, &events))
    }

    /// Where the conditions of `case`'s execution stand (`None` without conditions).
    pub async fn conditions_status(
        &self,
        case: &Case,
    ) -> Result<Option<crate::ops::ConditionsStatus>, crate::Problem> {
        crate::ops::conditions::status_of(self.store, case).await
    }

    /// The cases linked to `case`: the preservation it follows, and its follow-ups.
    pub async fn follow_links(
        &self,
        case: &Case,
    ) -> Result<crate::ops::follow_up::Links, crate::Problem> {
        crate::ops::follow_up::links(self.store, case).await
    }

    /// Where the order that must follow `case_id`'s emergency stands (`None`: none is due).
    pub async fn order_status(
        &self,
        case_id: i64,
    ) -> Result<Option<crate::ops::OrderStatus>, crate::Problem> {
        crate::ops::order::status_of(self.store, case_id).await
    }

    /// The events of one case, in log order.
    pub async fn case_events(&self, case_id: i64) -> Read<Vec<StoredEvent>> {
        self.store.case_events(case_id).await
    }

    /// The latest event of one kind of one case, if any.
    pub async fn latest_case_event(
        &self,
        case_id: i64,
        kind: custos_model::EventType,
    ) -> Read<Option<StoredEvent>> {
        self.store.latest_case_event(case_id, kind).await
    }

    /// When a supplement last restarted `case_id`'s response clock (its latest
    /// `request.supplemented`), if one did.
    pub async fn deadline_restarted_at(&self, case_id: i64) -> Read<Option<jiff::Timestamp>> {
        Ok(self
            .store
            .latest_case_event(case_id, custos_model::EventType::RequestSupplemented)
            .await?
            .map(|e| e.at))
    }

    /// One event by its log index.
    pub async fn event(&self, index: u64) -> Read<Option<StoredEvent>> {
        self.store.event(index).await
    }

    /// The requests the node received from log index `start` on, in log order, at most `limit`
    /// (a supplement is an arrival of its own). Each document is the signed payload, decoded
    /// but not verified: `custos audit` checks the signatures.
    pub async fn received_requests(&self, start: u64, limit: u64) -> Read<Vec<ReceivedRequest>> {
        self.store
            .arrivals(start, limit)
            .await?
            .into_iter()
            .map(ReceivedRequest::of)
            .collect()
    }

    /// The directory of authorities, revoked ones included (the table: for display only;
    /// decisions use the directory the log gives, `directory.rs`).
    pub async fn authorities(&self) -> Read<Vec<Authority>> {
        self.store.authorities().await
    }

    /// One authority by key thumbprint (for display, as [`Queries::authorities`]).
    pub async fn authority(&self, kid: &str) -> Read<Option<Authority>> {
        self.store.authority(kid).await
    }

    /// Where the emergency of `case` stands: verified (how), a call-back pending, or failed.
    pub async fn verification(&self, case: &Case) -> Read<crate::ops::Verification> {
        let events = self.store.case_events(case.case_id).await?;
        Ok(crate::ops::Verification::of(
            &case.payload_sha256.to_hex(),
            &events,
        ))
    }

    /// An authority's emergencies and how each was verified or failed, computed from its cases
    /// and their events (never a stored counter, so it cannot drift from the log).
    pub async fn emergency_counts(&self, authority_kid: &str) -> Read<crate::ops::EmergencyCounts> {
        let filter = CaseFilter {
            authority_kid: Some(authority_kid.to_owned()),
            emergency: Some(true),
            limit: u32::MAX,
            ..CaseFilter::default()
        };
        let mut counts = crate::ops::EmergencyCounts::default();
        for case in self.store.cases::<crate::ops::Documents>(&filter).await? {
            counts.add(&self.verification(&case).await?);
        }
        Ok(counts)
    }

    /// One user by name, with the role the table holds (take the logged one with
    /// `Directory::with_logged_role` before acting on it).
    pub async fn user(&self, name: &str) -> Read<Option<User>> {
        self.store.user(name).await
    }

    /// Preservation holds in force, soonest expiry first.
    pub async fn active_holds(&self) -> Read<Vec<Hold>> {
        self.store.active_holds().await
    }

    /// The hold in force on one case, if any.
    pub async fn active_hold(&self, case_id: i64) -> Read<Option<Hold>> {
        self.store.active_hold(case_id).await
    }

    /// Notices owed to persons concerned, by due date.
    pub async fn notices(&self) -> Read<Vec<Notice>> {
        self.store.notices().await
    }

    /// The notice owed on one case, if any.
    pub async fn notice(&self, case_id: i64) -> Read<Option<Notice>> {
        self.store.notice(case_id).await
    }

    /// Requests for extensions waiting for a reviewer, oldest first.
    pub async fn pending_extensions(&self) -> Read<Vec<Extension>> {
        self.store.pending_extensions().await
    }

    /// The requests for extensions of one case, oldest first.
    pub async fn case_extensions(&self, case_id: i64) -> Read<Vec<Extension>> {
        self.store.case_extensions(case_id).await
    }

    /// The evidence packages of a case, oldest first.
    pub async fn evidence_for_case(&self, case_id: i64) -> Read<Vec<Evidence>> {
        self.store.evidence_for_case(case_id).await
    }

    /// The target values a package covers, as its `evidence.sealed` event's private body records
    /// them (personal data: for the case's staff and its requester only).
    pub async fn evidence_targets(&self, e: &Evidence) -> Read<Vec<String>> {
        let seq = u64::try_from(e.sealed_seq).unwrap_or(u64::MAX);
        Ok(match self.store.event(seq).await? {
            Some(ev) => serde_json::from_str(&ev.body)
                .map(|b| crate::ops::evidence::sealed_targets(&b))
                .unwrap_or_default(),
            None => Vec::new(),
        })
    }
}

/// Every case status.
pub const STATUSES: [CaseStatus; 10] = [
    CaseStatus::Assessed,
    CaseStatus::AwaitingInformation,
    CaseStatus::AwaitingSecondReview,
    CaseStatus::Executing,
    CaseStatus::Refused,
    CaseStatus::Delivered,
    CaseStatus::Closed,
    CaseStatus::Withdrawn,
    CaseStatus::Postponed,
    CaseStatus::InConsultation,
];

// A status added to the store fails to compile here until `STATUSES` has it too.
const _: fn(CaseStatus) = |s| match s {
    CaseStatus::Assessed
    | CaseStatus::AwaitingInformation
    | CaseStatus::AwaitingSecondReview
    | CaseStatus::Executing
    | CaseStatus::Refused
    | CaseStatus::Delivered
    | CaseStatus::Closed
    | CaseStatus::Withdrawn
    | CaseStatus::Postponed
    | CaseStatus::InConsultation => {}
};

/// Which cases to list: the query string of `GET /v1/requests` and of the console's queue.
/// Every field is optional; a field the list does not know, or a value it cannot take, is
/// refused ([`CaseQuery::parse`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CaseQuery {
    /// Only cases in this status.
    #[serde(default, deserialize_with = "status")]
    #[param(required = false, schema_with = status_schema)]
    pub status: Option<CaseStatus>,
    /// Only cases whose latest assessment has this outcome.
    #[param(required = false, schema_with = outcome_schema)]
    pub outcome: Option<Outcome>,
    /// Only cases asking this measure.
    #[param(required = false, schema_with = measure_schema)]
    pub measure: Option<Measure>,
    /// Requesting state (ISO 3166-1 alpha-2, either case).
    #[serde(default, deserialize_with = "state")]
    #[param(required = false, schema_with = state_schema)]
    pub state: Option<String>,
    /// Only cases that came by this channel.
    #[param(required = false, schema_with = channel_schema)]
    pub channel: Option<Channel>,
    /// Only cases that claim (true) or do not claim (false) an emergency.
    pub emergency: Option<bool>,
    /// Leave out closed and refused.
    #[serde(default)]
    #[param(required = false)]
    pub open: bool,
    /// Search (people only): cases whose request id, agency reference
    /// (`investigation.reference`, `authorization.reference`), a target's value, or requesting
    /// authority's name (as the request gives it or as the directory has it) contains this
    /// text, ignoring case (ASCII on SQLite); `%` and `_` are literal. Surrounding blanks are
    /// trimmed; a blank `q`, or one with a control character, is refused (400).
    #[serde(default, deserialize_with = "search")]
    #[param(required = false, value_type = Option<String>, min_length = 1, max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$")]
    pub q: Option<String>,
    /// Who has the case (people only): `me`, `none` (no one), or a user's name. Checked like
    /// `q` (trimmed; blank or with a control character refused, 400).
    #[serde(default, deserialize_with = "search")]
    #[param(required = false, value_type = Option<String>, min_length = 1, max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$")]
    pub assignee: Option<String>,
    /// Skip this many (paging).
    #[param(value_type = Option<u64>, maximum = 4294967295.0)]
    pub offset: Option<u32>,
    /// At most this many (the API: at most 500, the default).
    #[param(maximum = 500)]
    pub limit: Option<u32>,
}

/// The fields of [`CaseQuery`], as the query string names them.
const FIELDS: [&str; 11] = [
    "status",
    "outcome",
    "measure",
    "state",
    "channel",
    "emergency",
    "open",
    "q",
    "assignee",
    "offset",
    "limit",
];

impl CaseQuery {
    /// The query as `name` means it: `assignee=me` is `name`'s cases.
    pub fn for_viewer(mut self, name: &str) -> CaseQuery {
        if self.assignee.as_deref() == Some("me") {
            self.assignee = Some(name.to_owned());
        }
        self
    }

    /// Parses a query string (without the `?`). A field it does not know, or a value a field
    /// cannot take, is a 400 problem naming the field (and the value): `invalid-filter` for a
    /// status, outcome, measure, state or channel, `invalid-parameter` otherwise.
    pub fn parse(query: &str) -> Result<CaseQuery, Problem> {
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let message = e.inner().to_string();
            let about_a_field =
                message.starts_with("unknown field") || message.starts_with("duplicate field");
            let field = FIELDS.iter().find(|f| **f == path);
            let Some(field) = field.filter(|_| !about_a_field) else {
                // Not a field's value: an unknown or repeated field, which serde names.
                return Problem::bad_request(
                    "invalid-parameter",
                    format!("{message}; the filters are {}", FIELDS.join(", ")),
                );
            };
            let value = form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == field)
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            // The API refused the other fields' bad values as `invalid-parameter` before
            // these five were typed; each keeps its kind.
            let kind = match *field {
                "status" | "outcome" | "measure" | "state" | "channel" => "invalid-filter",
                _ => "invalid-parameter",
            };
            Problem::bad_request(kind, refusal(field, &value))
        })
    }
}

/// Why `value` is no value of `field`, and what is.
fn refusal(field: &str, value: &str) -> String {
    let one_of = |names: Vec<&str>| {
        format!(
            "{field}={value:?} is not a filter value; use one of {}",
            names.join(", ")
        )
    };
    match field {
        "status" => one_of(STATUSES.iter().map(|s| s.as_str()).collect()),
        "outcome" => one_of(Outcome::ALL.iter().map(|o| o.as_str()).collect()),
        "measure" => one_of(Measure::ALL.iter().map(|m| m.as_str()).collect()),
        "channel" => one_of(Channel::ALL.iter().map(|c| c.as_str()).collect()),
        "state" => format!("state={value:?} is not a state code; use two letters, e.g. XA"),
        "emergency" | "open" => one_of(vec!["true", "false"]),
        "q" => format!(
            "q={value:?} is not text to search for; give 1 to {MAX_SEARCH} characters (not all blank, no control characters) of a request id, reference, target or authority name, or leave q out"
        ),
        "assignee" => format!(
            "assignee={value:?} is not someone who can have a case; use me, none or a user's name"
        ),
        _ => format!("{field}={value:?} is not a whole number from 0 to 4294967295"),
    }
}

fn status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<CaseStatus>, D::Error> {
    let s = String::deserialize(d)?;
    CaseStatus::parse(&s)
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom(format!("{s:?} is not a case status")))
}

/// The longest search text (`q`), in characters.
const MAX_SEARCH: usize = 200;

/// Search text, trimmed: blank, longer than [`MAX_SEARCH`] or with a control character (which
/// PostgreSQL cannot bind if NUL) is refused, as the parameter's documented pattern says.
fn search<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s = String::deserialize(d)?;
    let t = s.trim();
    if t.is_empty() || s.chars().count() > MAX_SEARCH || s.chars().any(char::is_control) {
        return Err(serde::de::Error::custom(format!("{s:?} is no search text")));
    }
    Ok(Some(t.to_owned()))
}

/// A requesting state, in upper case.
fn state<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s = String::deserialize(d)?.to_ascii_uppercase();
    if s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(Some(s))
    } else {
        Err(serde::de::Error::custom(format!(
            "{s:?} is not a state code"
        )))
    }
}

// With `schema_with` the generated parameter has no description of its own: it goes in the
// schema.
fn names(all: impl IntoIterator<Item = &'static str>, description: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(all))
        .description(Some(description))
        .build()
}

fn status_schema() -> Object {
    names(
        STATUSES.map(CaseStatus::as_str),
        "Only cases in this status.",
    )
}

fn outcome_schema() -> Object {
    names(
        Outcome::ALL.iter().map(|o| o.as_str()),
        "Only cases whose latest assessment has this outcome.",
    )
}

fn measure_schema() -> Object {
    names(
        Measure::ALL.map(Measure::as_str),
        "Only cases asking this measure.",
    )
}

fn channel_schema() -> Object {
    names(
        Channel::ALL.map(Channel::as_str),
        "Only cases that came by this channel.",
    )
}

fn state_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^[A-Za-z]{2}$"))
        .description(Some("Requesting state (ISO 3166-1 alpha-2, either case)."))
        .build()
}

/// Why a case's response clock does not run in `status`: decided, or waiting on the requester.
/// The clock runs while the node owes the next step (awaiting a decision or its second review,
/// postponed by a reviewer).
pub fn clock_stopped(status: CaseStatus) -> Option<custos_model::deadline::Stopped> {
    use custos_model::deadline::Stopped;
    match status {
        CaseStatus::Assessed | CaseStatus::AwaitingSecondReview | CaseStatus::Postponed => None,
        CaseStatus::AwaitingInformation | CaseStatus::InConsultation => {
            Some(Stopped::AwaitingRequester)
        }
        CaseStatus::Executing
        | CaseStatus::Delivered
        | CaseStatus::Refused
        | CaseStatus::Closed
        | CaseStatus::Withdrawn => Some(Stopped::Decided),
    }
}

/// Where `case`'s response deadline stands at `now` ([`custos_model::deadline::standing`]).
pub fn deadline(case: &Case, now: jiff::Timestamp) -> custos_model::deadline::Standing {
    custos_model::deadline::standing(case.respond_by, clock_stopped(case.status), now)
}

/// A supplement of a case and what it changed in the request (issue 16).
#[derive(Debug, Clone, PartialEq)]
pub struct Supplement {
    /// The `request.supplemented` event's log index.
    pub index: u64,
    /// When it arrived (the response deadline restarted then).
    pub at: jiff::Timestamp,
    /// The fields it changed against the document before it.
    pub changes: Vec<custos_model::diff::FieldChange>,
}

impl Queries<'_> {
    /// The supplements of `case_id`, oldest first, each diffed against the document it
    /// replaced. Staff only: the changes name target identifiers.
    pub async fn supplements(&self, case_id: i64) -> Read<Vec<Supplement>> {
        let mut out = Vec::new();
        let mut before: Option<serde_json::Value> = None;
        for e in self.store.case_events(case_id).await? {
            use custos_model::EventType::{RequestReceived, RequestSupplemented};
            if !matches!(e.kind(), Some(RequestReceived | RequestSupplemented)) {
                continue;
            }
            let what = format!("event {} ({})", e.seq, e.event_type);
            let arrival = ReceivedRequest::of(e)?;
            let document: serde_json::Value =
                serde_json::from_slice(&arrival.request).map_err(|err| StoreError::Corrupt {
                    what,
                    detail: format!("the signed request is not JSON: {err}"),
                })?;
            if let (true, Some(old)) = (arrival.supplement, &before) {
                out.push(Supplement {
                    index: arrival.index,
                    at: arrival.received_at,
                    changes: custos_model::diff::diff(old, &document),
                });
            }
            before = Some(document);
        }
        Ok(out)
    }

    /// When a supplement last restarted each of `case_ids`' response clocks, for a list: one
    /// query for the page, not one per case.
    pub async fn deadlines_restarted_at(
        &self,
        case_ids: &[i64],
    ) -> Read<std::collections::HashMap<i64, jiff::Timestamp>> {
        self.store.latest_supplements(case_ids).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(query: &str) -> Problem {
        match CaseQuery::parse(query) {
            Ok(q) => panic!("{query:?} was accepted as {q:?}"),
            Err(p) => p,
        }
    }

    #[test]
    fn every_filter_parses() {
        let q = CaseQuery::parse(
            "status=executing&outcome=refuse&measure=preserve_stored_data&state=xa&channel=network_24_7&emergency=true&open=true&assignee=+rita+&offset=2&limit=5",
        )
        .unwrap();
        assert_eq!(
            q,
            CaseQuery {
                status: Some(CaseStatus::Executing),
                outcome: Some(Outcome::Refuse),
                measure: Some(Measure::PreserveStoredData),
                state: Some("XA".into()),
                channel: Some(Channel::Network24x7),
                emergency: Some(true),
                open: true,
                q: None,
                assignee: Some("rita".into()),
                offset: Some(2),
                limit: Some(5),
            }
        );
        assert_eq!(CaseQuery::parse("").unwrap(), CaseQuery::default());
        let q = CaseQuery::parse("q=+XA-1%25+&status=refused").unwrap();
        assert_eq!(q.q.as_deref(), Some("XA-1%"), "trimmed, `%` kept");
        assert_eq!(q.status, Some(CaseStatus::Refused));
        // `me` is the viewer; a blank assignee is refused, naming the field.
        let q = CaseQuery::parse("assignee=me").unwrap().for_viewer("rex");
        assert_eq!(q.assignee.as_deref(), Some("rex"));
        let p = CaseQuery::parse("assignee=+").unwrap_err();
        assert!(p.detail.contains("assignee=\" \""), "{}", p.detail);
    }

    #[test]
    fn a_misspelt_value_is_refused_naming_field_and_value() {
        for (query, field, value) in [
            ("outcome=refused", "outcome", "refused"),
            ("status=open", "status", "open"),
            ("measure=everything", "measure", "everything"),
            ("channel=email", "channel", "email"),
            ("state=Xanadu", "state", "Xanadu"),
            ("emergency=maybe", "emergency", "maybe"),
            ("open=yes", "open", "yes"),
            ("limit=-1", "limit", "-1"),
            ("outcome=", "outcome", ""),
            ("q=", "q", ""),
            ("q=+", "q", " "),
            ("q=a%00", "q", "a\0"),
        ] {
            let p = refused(query);
            assert_eq!(p.status, 400, "{query}");
            let kind = if ["emergency", "open", "limit", "q"].contains(&field) {
                "/invalid-parameter"
            } else {
                "/invalid-filter"
            };
            assert!(p.kind.ends_with(kind), "{query}: {p:?}");
            assert!(
                p.detail.starts_with(&format!("{field}={value:?} is not")),
                "{query}: {}",
                p.detail
            );
        }
        assert!(refused("outcome=refused").detail.ends_with(
            "use one of execute, execute_narrowed, refer_for_review, needs_information, refuse"
        ));
    }

    #[test]
    fn an_unknown_or_repeated_field_is_refused_naming_it() {
        let p = refused("emergncy=true");
        assert!(p.kind.ends_with("/invalid-parameter"), "{p:?}");
        assert!(p.detail.contains("emergncy"), "{}", p.detail);
        let p = refused("outcome=refuse&outcome=execute");
        assert!(p.kind.ends_with("/invalid-parameter"), "{p:?}");
        assert!(p.detail.contains("outcome"), "{}", p.detail);
    }

    #[test]
    fn every_status_is_listed() {
        for s in STATUSES {
            assert_eq!(CaseStatus::parse(s.as_str()), Some(s));
        }
    }
}
