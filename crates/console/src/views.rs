//! What the pages show, computed from the node's records: plain strings and flags, so that the
//! templates hold no logic beyond loops and conditions.

use custos_model::{DataCategory, EventType, Request};
use custos_safeguards::Assessment;
use custos_service::query::{Authority, Case, CaseStatus, StoredEvent};
use jiff::Timestamp;
use serde_json::Value;

/// A time as people read it: minutes, UTC.
pub fn when(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

/// An optional time, or a dash.
pub fn when_opt(t: Option<Timestamp>) -> String {
    t.map(when).unwrap_or_else(|| "—".into())
}

/// A case's deadline badge at `now`, by the service's rule (`query::deadline`: rolling windows
/// of 2 and 8 hours; the clock stopped while decided or waiting on the requester): its CSS
/// classes and words (both empty when there is nothing to flag).
pub fn deadline_badge(case: &Case, now: Timestamp) -> (&'static str, &'static str) {
    badge_of(custos_service::query::deadline(case, now))
}

/// A hold's badge at `now` (its end is a deadline whose clock always runs): the same rolling
/// windows as a case's.
pub fn hold_badge(expires_at: Timestamp, now: Timestamp) -> (&'static str, &'static str) {
    badge_of(custos_model::deadline::standing(expires_at, None, now))
}

/// The CSS classes and words of a deadline's badge (both empty when there is nothing to flag).
fn badge_of(s: custos_model::deadline::Standing) -> (&'static str, &'static str) {
    use custos_model::deadline::{Badge, Stopped};
    match (s.badge, s.stopped) {
        (Badge::Overdue, _) => ("overdue", "Overdue"),
        (Badge::Under2h, _) => ("due-today due-2h", "Due in under 2 hours"),
        (Badge::Under8h, _) => ("due-today due-8h", "Due in under 8 hours"),
        (_, Some(Stopped::AwaitingRequester)) => {
            ("clock-stopped", "Clock stopped: awaiting the requester")
        }
        _ => ("", ""),
    }
}

/// A time for `<time datetime="…">`: RFC 3339 in UTC, whole seconds.
pub fn datetime_attr(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// "in 3 days", "2 h ago": how far `t` is from `now`, roughly.
pub fn relative(t: Timestamp, now: Timestamp) -> String {
    let secs = t.as_second() - now.as_second();
    let abs = secs.unsigned_abs();
    let amount = if abs < 3600 {
        format!("{} min", abs / 60)
    } else if abs < 2 * 86_400 {
        format!("{} h", abs / 3600)
    } else {
        format!("{} days", abs / 86_400)
    };
    if secs >= 0 {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

/// An emergency's clock to the minute: "5 h 12 min left", "overdue by 20 min".
pub fn time_left(deadline: Timestamp, now: Timestamp) -> String {
    let secs = deadline.as_second() - now.as_second();
    // Whole minutes, rounded towards the deadline's side: 30 s left is "0 min left".
    let mins = secs.unsigned_abs() / 60;
    let amount = if mins >= 60 {
        format!("{} h {} min", mins / 60, mins % 60)
    } else {
        format!("{mins} min")
    };
    if secs >= 0 {
        format!("{amount} left")
    } else {
        format!("overdue by {amount}")
    }
}

/// People's words for a case status.
pub fn status_label(s: CaseStatus) -> &'static str {
    match s {
        CaseStatus::Assessed => "Awaiting decision",
        CaseStatus::AwaitingInformation => "Awaiting information",
        CaseStatus::AwaitingSecondReview => "Awaiting second review",
        CaseStatus::Executing => "Executing",
        CaseStatus::Delivered => "Delivered",
        CaseStatus::Refused => "Refused",
        CaseStatus::Closed => "Closed",
        CaseStatus::Withdrawn => "Withdrawn by the requester",
        CaseStatus::Postponed => "Postponed",
        CaseStatus::InConsultation => "In consultation with the requester",
    }
}

/// People's words for an assessment outcome (safeguards.md, *Output*).
pub fn outcome_label(outcome: &str) -> &'static str {
    outcome
        .parse::<custos_model::Outcome>()
        .map_or("Unknown", custos_model::Outcome::label)
}

/// One row of the queue.
#[derive(Debug, Clone)]
pub struct QueueRow {
    pub case_id: i64,
    pub request_id: String,
    pub state: String,
    pub authority: String,
    pub measure: String,
    pub outcome: String,
    pub outcome_label: &'static str,
    pub status_label: &'static str,
    pub emergency: bool,
    pub channel: String,
    pub channel_code: String,
    pub respond_by: String,
    /// The deadline as RFC 3339, for the live countdown (`console.js`).
    pub respond_by_iso: String,
    /// `respond_by` for `<time datetime>` (RFC 3339, UTC, whole seconds).
    pub respond_by_attr: String,
    pub respond_in: String,
    pub due_class: &'static str,
    pub due_label: &'static str,
    /// A justified emergency: it leads the queue, with its clock.
    pub leads: bool,
    /// The emergency clock, e.g. "5 h 12 min left" (empty unless `leads`).
    pub clock: String,
    /// An emergency no confirmation key has confirmed yet.
    pub unverified: bool,
    /// "Order missing since …" when the order that had to follow an emergency is missing.
    pub order_missing: Option<String>,
    /// Who has the case (empty: no one).
    pub assignee: String,
    /// "Supplemented at …" when a supplement replaced the request (and restarted its clock).
    pub supplemented: Option<String>,
}

impl QueueRow {
    /// The row for `case`, naming its authority from `authorities`; `leads` and `unverified`
    /// as the service's queries say.
    pub fn new(
        case: &Case,
        authorities: &[Authority],
        now: Timestamp,
        leads: bool,
        unverified: bool,
    ) -> QueueRow {
        let (due_class, due_label) = deadline_badge(case, now);
        QueueRow {
            respond_by_attr: datetime_attr(case.respond_by),
            leads,
            clock: if leads {
                time_left(case.respond_by, now)
            } else {
                String::new()
            },
            unverified,
            case_id: case.case_id,
            request_id: case.request_id.clone(),
            state: case.requesting_state.clone(),
            authority: authorities
                .iter()
                .find(|a| a.kid == case.authority_kid)
                .map(|a| a.name.clone())
                .unwrap_or_else(|| case.authority_kid.clone()),
            measure: measure_label(case.measure.as_str()),
            outcome: case.outcome.as_str().to_owned(),
            outcome_label: case.outcome.label(),
            status_label: status_label(case.status),
            emergency: case.emergency,
            channel: channel_label(case.channel).to_owned(),
            channel_code: case.channel.as_str().to_owned(),
            respond_by: when(case.respond_by),
            respond_by_iso: case.respond_by.to_string(),
            respond_in: relative(case.respond_by, now),
            due_class,
            due_label,
            order_missing: None,
            assignee: case.assignee.clone().unwrap_or_default(),
            supplemented: None,
        }
    }
}

/// The measure in words, from its identifier.
pub fn measure_label(id: &str) -> String {
    custos_model::Measure::ALL
        .into_iter()
        .find(|m| m.as_str() == id)
        .map(|m| m.describe().to_owned())
        .unwrap_or_else(|| id.to_owned())
}

/// A label and a value, for definition lists.
#[derive(Debug, Clone)]
pub struct Fact {
    pub label: &'static str,
    pub value: String,
}

fn fact(label: &'static str, value: impl Into<String>) -> Fact {
    Fact {
        label,
        value: value.into(),
    }
}

/// An offence as listed on the request page.
#[derive(Debug, Clone)]
pub struct OffenceRow {
    pub name: String,
    pub statute: String,
    pub category: String,
    pub penalty: String,
}

/// A target as listed on the request page.
#[derive(Debug, Clone)]
pub struct TargetRow {
    pub kind: String,
    pub value: String,
    pub at: String,
}

/// A finding as listed on the request page.
#[derive(Debug, Clone)]
pub struct FindingRow {
    pub code: String,
    pub severity: String,
    /// The severity in words (the code stays in a tooltip).
    pub severity_label: String,
    pub basis: Vec<BasisSource>,
    pub message: String,
}

/// One source of a legal basis, with the weight of its kind told apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasisSource {
    /// `treaty`, `instrument`, `default`, `policy`: the CSS class.
    pub kind: &'static str,
    /// The kind in words: "Treaty text", "Budapest / EU law", "Operator default", "Policy of this profile".
    pub kind_label: &'static str,
    pub text: String,
    /// Where the instrument it cites can be read, when it cites one (`source_link`).
    pub link: Option<&'static str>,
}

/// Where the text of the instrument a basis cites can be read: the UN document of the
/// Convention (A/RES/79/243, annex), the Council of Europe's treaty pages (ETS 185, CETS 224),
/// EUR-Lex by ELI, the Necessary and Proportionate principles, OHCHR's ICCPR page. None for an
/// operator default or the profile's own policy, which cite no text.
pub fn source_link(text: &str) -> Option<&'static str> {
    let l = text.to_lowercase();
    let has = |needle: &str| l.contains(needle);
    if l.starts_with("operator") || l.starts_with("custos policy") || l.starts_with("critics") {
        None
    } else if has("2023/1543") {
        Some("https://eur-lex.europa.eu/eli/reg/2023/1543/oj")
    } else if has("2023/1544") {
        Some("https://eur-lex.europa.eu/eli/dir/2023/1544/oj")
    } else if has("2nd additional protocol") || has("second additional protocol") || has("cets 224")
    {
        Some("https://www.coe.int/en/web/conventions/full-list?module=treaty-detail&treatynum=224")
    } else if has("budapest") || has("ets 185") {
        Some("https://www.coe.int/en/web/conventions/full-list?module=treaty-detail&treatynum=185")
    } else if l.starts_with("n&p") {
        Some("https://necessaryandproportionate.org/principles/")
    } else if l.starts_with("iccpr") {
        Some(
            "https://www.ohchr.org/en/instruments-mechanisms/instruments/international-covenant-civil-and-political-rights",
        )
    } else if has("uncc") {
        Some("https://undocs.org/en/A/RES/79/243")
    } else {
        None
    }
}

/// A legal basis (`@basis` split on `; `) sorted by weight: the treaty's own text, other
/// instruments (the Budapest Convention and its protocols, EU law, human-rights treaties), the
/// operator's defaults, and the policy of this profile (critics' concerns it answers, principles).
pub fn basis_sources(basis: &[String]) -> Vec<BasisSource> {
    let mut out: Vec<BasisSource> = basis
        .iter()
        .flat_map(|b| b.split("; "))
        .filter(|t| !t.trim().is_empty())
        .map(|t| {
            let l = t.trim().to_lowercase();
            let (kind, kind_label) =
                if l.starts_with("operator default") || l.starts_with("operator policy") {
                    ("default", "Operator default")
                } else if l.starts_with("critics")
                    || l.starts_with("custos policy")
                    || l.starts_with("n&p")
                    || l.starts_with("ohchr")
                    || l.starts_with("standard ")
                {
                    ("policy", "Policy of this profile")
                } else if l.starts_with("uncc")
                    || l.starts_with("the uncc")
                    || l.starts_with("cf. uncc")
                {
                    ("treaty", "Treaty text")
                } else {
                    ("instrument", "Budapest / EU law and other instruments")
                };
            // "Critics: …" is the concern the policy answers, not a source a lawyer cites; the
            // kind is said once, not again in the text.
            let t = t.trim();
            let text = ["Critics: ", "critics: "]
                .iter()
                .find_map(|p| t.strip_prefix(p))
                .map(|r| format!("answers critics: {r}"))
                .or_else(|| {
                    ["operator default: ", "Operator default: "]
                        .iter()
                        .find_map(|p| t.strip_prefix(p))
                        .map(str::to_owned)
                })
                .unwrap_or_else(|| t.to_owned());
            BasisSource {
                kind,
                kind_label,
                link: source_link(t),
                text,
            }
        })
        .collect();
    let rank = |k: &str| {
        ["treaty", "instrument", "default", "policy"]
            .iter()
            .position(|x| *x == k)
    };
    out.sort_by_key(|s| rank(s.kind));
    out
}

/// A data category in people's words (the code stays in a tooltip).
pub fn category_label(code: &str) -> &str {
    match code {
        "subscriber" => "Subscriber information",
        "traffic" => "Traffic data",
        "content" => "Content data",
        other => other,
    }
}

/// Data categories (`subscriber, traffic`) in people's words.
pub fn categories_text(codes: &str) -> String {
    codes
        .split(", ")
        .map(category_label)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A channel in people's words (the code stays in a tooltip).
pub fn channel_label(c: custos_model::Channel) -> &'static str {
    match c {
        custos_model::Channel::Mla => "Mutual legal assistance",
        custos_model::Channel::Network24x7 => "24/7 network point of contact",
        custos_model::Channel::Direct => "Direct request to the provider",
    }
}

/// A time as a `datetime-local` input shows it: UTC, to the second.
pub fn input_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S").to_string()
}

/// A time typed in a form: a `datetime-local` value (`2027-03-01T00:00`, seconds optional),
/// read as UTC, as the form's label says; a full RFC 3339 time is taken as it is. The error
/// names the field in words.
pub fn parse_input_time(text: &str, field: &str) -> Result<Timestamp, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err(format!("{field}: give a date and time"));
    }
    if let Ok(ts) = t.parse::<Timestamp>() {
        return Ok(ts);
    }
    // A civil time read as UTC: the same text with the UTC offset.
    t.parse::<jiff::civil::DateTime>()
        .ok()
        .and_then(|dt| {
            format!("{}Z", dt.strftime("%Y-%m-%dT%H:%M:%S%.f"))
                .parse()
                .ok()
        })
        .ok_or_else(|| {
            format!("{field}: {t:?} is not a date and time; pick one with the date picker (UTC)")
        })
}

/// One aspect of the original request beside the proposed narrowing.
#[derive(Debug, Clone)]
pub struct CompareRow {
    pub aspect: &'static str,
    pub asked: String,
    pub proposed: String,
    pub changed: bool,
}

/// One event of the case's timeline.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub index: u64,
    /// The event's kind in words ("Decision recorded"); its code beside it.
    pub label: String,
    pub event_type: String,
    pub at: String,
    pub summary: String,
    pub proof: Option<String>,
}

/// The readable request.
#[derive(Debug, Clone)]
pub struct RequestFacts {
    /// Emergency justification, necessity, purpose, facts: first on the page.
    pub essentials: Vec<Fact>,
    pub overview: Vec<Fact>,
    pub offences: Vec<OffenceRow>,
    pub targets: Vec<TargetRow>,
    pub asked: Vec<Fact>,
    pub secrecy: Vec<Fact>,
    pub data_protection: Vec<Fact>,
}

/// The text, or "—" where it is not given (blank as the engine reads it: White_Space, Cc, Cf).
fn or_dash(s: Option<&str>) -> String {
    s.filter(|s| !custos_model::is_blank(s))
        .map(str::to_owned)
        .unwrap_or_else(|| "—".into())
}

fn yes_no(b: Option<bool>) -> String {
    match b {
        Some(true) => "yes".into(),
        Some(false) => "no".into(),
        None => "not stated".into(),
    }
}

/// The period in words.
pub fn period_text(p: Option<&custos_model::Period>) -> String {
    match p {
        Some(p) => format!(
            "{} to {} ({} days)",
            when(p.from),
            when(p.to),
            p.days_ceil()
        ),
        None => "not limited".into(),
    }
}

impl RequestFacts {
    /// The request's content, field by field.
    pub fn new(r: &Request) -> RequestFacts {
        let overview = vec![
            fact("Request id", r.id.as_str()),
            fact("Measure", r.measure.describe()),
            fact("Channel", channel_label(r.channel)),
            fact("Submitted", when(r.submitted_at)),
            fact(
                "Requesting authority (as stated)",
                format!(
                    "{} ({}, {})",
                    r.requesting_authority.name,
                    r.requesting_authority.state,
                    r.requesting_authority.kind.describe()
                ),
            ),
            fact(
                "Requester's contact",
                or_dash(r.requesting_authority.contact.as_deref()),
            ),
            fact(
                "Investigation reference",
                or_dash(r.investigation.reference.as_deref()),
            ),
            fact(
                "Authority conducting the investigation",
                or_dash(r.investigation.authority_conducting.as_deref()),
            ),
            fact(
                "Good-faith security research excluded",
                yes_no(r.investigation.good_faith_research_excluded),
            ),
        ];
        // What a reviewer reads first: why now, why this, what happened.
        let essentials = vec![
            fact(
                "Emergency",
                match &r.emergency {
                    Some(e) if e.claimed => {
                        format!("claimed: {}", or_dash(e.justification.as_deref()))
                    }
                    _ => "not claimed".into(),
                },
            ),
            fact("Necessity", or_dash(r.necessity.as_deref())),
            fact("Purpose", or_dash(r.purpose.as_deref())),
            fact(
                "Summary of facts",
                or_dash(r.investigation.summary_of_facts.as_deref()),
            ),
        ];
        let offences = r
            .investigation
            .offences
            .iter()
            .map(|o| OffenceRow {
                name: o.name.to_string(),
                statute: or_dash(o.statute.as_deref()),
                category: o.category.to_string(),
                penalty: o.max_penalty.to_string(),
            })
            .collect();
        let targets = r
            .targets
            .iter()
            .map(|t| TargetRow {
                kind: t.kind.as_str().to_owned(),
                value: t.value.as_str().to_owned(),
                at: when_opt(t.at),
            })
            .collect();
        let authorization = match &r.authorization {
            Some(a) => format!(
                "{} — issued by {}, reference {}, on {}",
                a.kind.as_str(),
                or_dash(a.issued_by.as_deref()),
                or_dash(a.reference.as_deref()),
                when_opt(a.issued_at)
            ),
            None => "none stated".into(),
        };
        let asked = vec![
            fact(
                "Data categories",
                categories_text(&r.data_categories.to_string()),
            ),
            fact("Period", period_text(r.period.as_ref())),
            fact("Authorization", authorization),
            fact(
                "Follow-up by mutual legal assistance intended",
                yes_no(r.mla_followup_intended),
            ),
            fact(
                "No death penalty assured",
                yes_no(r.assurances.as_ref().and_then(|a| a.no_death_penalty)),
            ),
        ];
        let secrecy = match &r.confidentiality {
            Some(c) if c.requested => vec![
                fact("Confidentiality", "requested"),
                fact(
                    "Until",
                    c.until.map(when).unwrap_or_else(|| "no end given".into()),
                ),
                fact("Justification", or_dash(c.justification.as_deref())),
            ],
            _ => vec![fact("Confidentiality", "not requested")],
        };
        let data_protection = match &r.data_protection {
            Some(d) => vec![
                fact(
                    "Retention",
                    d.retention_days
                        .map(|n| format!("{} days", n.get()))
                        .unwrap_or_else(|| "not stated".into()),
                ),
                fact("Purpose limited", yes_no(d.purpose_limited)),
                fact(
                    "Onward transfer",
                    d.onward_transfer
                        .map(|o| o.as_str().to_owned())
                        .unwrap_or_else(|| "not stated".into()),
                ),
            ],
            None => vec![fact("Data-protection terms", "none stated")],
        };
        RequestFacts {
            essentials,
            overview,
            offences,
            targets,
            asked,
            secrecy,
            data_protection,
        }
    }
}

/// The assessment's findings, most severe first.
pub fn findings(a: &Assessment) -> Vec<FindingRow> {
    a.findings
        .iter()
        .map(|f| FindingRow {
            code: f.code.clone(),
            severity: f.severity.as_str().to_owned(),
            severity_label: capitalised(f.severity.label()),
            basis: basis_sources(&f.basis),
            message: f.message.clone(),
        })
        .collect()
}

/// Text closed with a full stop, unless it already ends with one ("… Ltd." stays, never "Ltd..").
pub fn sentence(text: &str) -> String {
    let t = text.trim_end();
    if t.ends_with(['.', '!', '?']) {
        t.to_owned()
    } else {
        format!("{t}.")
    }
}

/// An event's code in words: `decision.second_review_rejected` → "Decision second review rejected".
pub fn event_label(code: &str) -> String {
    capitalised(&code.replace(['.', '_'], " "))
}

/// "refer for review" → "Refer for review".
pub fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// The original request beside the assessment's proposed narrowing (empty without one).
pub fn comparison(r: &Request, a: &Assessment) -> Vec<CompareRow> {
    let Some(n) = &a.narrowed else {
        return Vec::new();
    };
    let asked_until = r
        .confidentiality
        .as_ref()
        .filter(|c| c.requested)
        .and_then(|c| c.until);
    let rows = [
        (
            "Data categories",
            categories_text(&r.data_categories.to_string()),
            categories_text(&n.data_categories.to_string()),
        ),
        (
            "Period",
            period_text(r.period.as_ref()),
            period_text(n.period.as_ref()),
        ),
        (
            "Confidentiality until",
            when_opt(asked_until),
            when_opt(n.confidentiality_until),
        ),
    ];
    rows.into_iter()
        .map(|(aspect, asked, proposed)| CompareRow {
            aspect,
            changed: asked != proposed,
            asked,
            proposed,
        })
        .collect()
}

/// A short summary of what an event records, for the timeline (never target identifiers).
pub fn event_summary(e: &StoredEvent) -> String {
    let body: Value = serde_json::from_str(&e.body).unwrap_or(Value::Null);
    let text = |v: &Value| v.as_str().unwrap_or("").to_owned();
    let Some(kind) = e.kind() else {
        return String::new();
    };
    match kind {
        EventType::RequestReceived | EventType::RequestSupplemented => {
            format!("payload SHA-256 {}", text(&body["payload_sha256"]))
        }
        EventType::RequestAssessed => format!(
            "recommendation: {}",
            outcome_label(body["assessment"]["outcome"].as_str().unwrap_or(""))
        ),
        EventType::DecisionRecorded
        | EventType::DecisionProposed
        | EventType::RequestInformationRequested => {
            let d = &body["decision"];
            let mut s = format!(
                "{} by {}",
                text(&d["decision"]).replace('_', " "),
                text(&d["reviewer"])
            );
            if let Some(by) = d["confirmed_by"].as_str() {
                s.push_str(&format!(", confirmed by {by}"));
            }
            s.push_str(&format!(": {}", text(&d["reason"])));
            if let Some(g) = d["grounds"].as_array().filter(|g| !g.is_empty()) {
                let g: Vec<String> = g.iter().map(text).collect();
                s.push_str(&format!(" (grounds: {})", g.join(", ")));
            }
            if let Some(n) = d["internal_note"].as_str() {
                s.push_str(&format!(" (internal note: {n})"));
            }
            // What is handed over: the narrowed terms (targets by count: the timeline names none).
            let n = &d["narrowed"];
            if n.is_object() {
                let mut terms = Vec::new();
                if let Some(c) = n["data_categories"].as_array() {
                    let c: Vec<String> = c.iter().map(text).collect();
                    terms.push(format!("categories {}", c.join(", ")));
                }
                if n["period"].is_object() {
                    terms.push(format!(
                        "period {} to {}",
                        text(&n["period"]["from"]),
                        text(&n["period"]["to"])
                    ));
                }
                if let Some(t) = n["targets"].as_array() {
                    terms.push(format!("{} target(s) kept", t.len()));
                }
                if let Some(u) = n["confidentiality_until"].as_str() {
                    terms.push(format!("secrecy ends {u}"));
                }
                if !terms.is_empty() {
                    s.push_str(&format!(" (handed over: {})", terms.join("; ")));
                }
            }
            if let Some(r) = body["second_review_reason"].as_str() {
                s.push_str(&format!(" (second reviewer's reason: {r})"));
            }
            if let Some(m) = body["message"].as_str() {
                s.push_str(&format!(" — message to the requester: {m}"));
            }
            s
        }
        EventType::RequestReclassified | EventType::RequestReclassificationProposed => {
            let r = &body["reclassification"];
            let mut s = format!(
                "{} by {}",
                corrections_text(&r["offences"]),
                text(&r["reviewer"])
            );
            if let Some(by) = r["confirmed_by"].as_str() {
                s.push_str(&format!(", confirmed by {by}"));
            }
            s.push_str(&format!(
                ": {} — recommendation {} → {}",
                text(&r["reason"]),
                outcome_label(r["outcome_before"].as_str().unwrap_or("")),
                outcome_label(r["outcome_after"].as_str().unwrap_or(""))
            ));
            if kind == EventType::RequestReclassificationProposed {
                s.push_str(" (proposed; awaits a second reviewer)");
            }
            s
        }
        EventType::RequestReclassificationRejected => format!(
            "correction by {} sent back by {}: {}",
            text(&body["proposed"]["reviewer"]),
            text(&body["reviewer"]),
            text(&body["reason"])
        ),
        EventType::ReplyCommunicated => {
            let d = &body["communicated"];
            let mut s = format!(
                "the requester was told ({}): {}: {}",
                text(&body["status"]).replace('_', " "),
                text(&d["decision"]).replace('_', " "),
                text(&d["reason"])
            );
            if let Some(c) = d["conditions"].as_array().filter(|c| !c.is_empty()) {
                // Typed conditions read in words; a plain string (older events) as it is.
                let c: Vec<String> = c
                    .iter()
                    .map(|c| {
                        serde_json::from_value::<custos_service::ops::Condition>(c.clone())
                            .map(|c| c.describe())
                            .unwrap_or_else(|_| text(c))
                    })
                    .collect();
                s.push_str(&format!(" (conditions: {})", c.join("; ")));
            }
            if let Some(m) = d["message"].as_str() {
                s.push_str(&format!(" — message to the requester: {m}"));
            }
            s
        }
        EventType::DecisionSecondReviewRejected => format!(
            "rejected by {}: {}",
            text(&body["reviewer"]),
            text(&body["reason"])
        ),
        EventType::PreservationStarted | EventType::PreservationRenewed => {
            let mut s = format!("hold until {}", text(&body["expires_at"]));
            if let Some(by) = body["by"].as_str() {
                s.push_str(&format!(", renewed by {by}"));
            }
            if let Some(r) = body["reason"].as_str() {
                s.push_str(&format!(": {r}"));
            }
            s
        }
        EventType::PreservationReleased if body["by"].is_string() => format!(
            "released early by {}: {}",
            text(&body["by"]),
            text(&body["reason"])
        ),
        EventType::NoticeSent if body["by_hand"] == true => format!(
            "given by hand, recorded by {}: {}",
            text(&body["by"]),
            text(&body["note"])
        ),
        EventType::NoticeDeferred => format!(
            "deferred by {} to {}: {}",
            text(&body["by"]),
            text(&body["due_at"]),
            text(&body["reason"])
        ),
        EventType::EvidenceSealed | EventType::EvidenceDelivered | EventType::EvidenceDestroyed => {
            match custos_model::PackageDigest::from_fields(&body) {
                Some(d) => format!("package {d}"),
                None => "package (digest unreadable)".to_owned(),
            }
        }
        EventType::NoticeSent => format!("attempt {}: delivered", body["attempt"]),
        EventType::NoticeFailed => format!(
            "attempt {} failed: {}; next try {}",
            body["attempt"],
            text(&body["error"]),
            text(&body["next_attempt_at"])
        ),
        EventType::ConditionsAccepted => format!(
            "the requester accepted the conditions (SHA-256 {})",
            text(&body["conditions_sha256"])
        ),
        EventType::ConditionsDeclined => format!(
            "the requester declined the conditions (SHA-256 {}): {}",
            text(&body["conditions_sha256"]),
            text(&body["reason"])
        ),
        EventType::ExtensionRequested => format!(
            "the requester asks to move {} from {} to {}",
            text(&body["kind"]).replace('_', " "),
            text(&body["current_until"]),
            text(&body["until"])
        ),
        EventType::ExtensionGranted => format!(
            "extension {} granted to {} by {}: {}",
            body["extension"],
            text(&body["until"]),
            text(&body["by"]),
            text(&body["reason"])
        ),
        EventType::ExtensionRefused => format!(
            "extension {} refused by {}: {}",
            body["extension"],
            text(&body["by"]),
            text(&body["reason"])
        ),
        EventType::OrderDue => format!(
            "the order that must follow the emergency ({}) is due by {}",
            body["required"]
                .as_array()
                .map(|a| a.iter().map(text).collect::<Vec<_>>().join(" or "))
                .unwrap_or_default(),
            text(&body["due_at"])
        ),
        EventType::OrderReceived => format!(
            "the requester sent the order: {} ({}){}",
            text(&body["kind"]),
            text(&body["reference"]),
            if body["late"].as_bool() == Some(true) {
                ", late"
            } else {
                ""
            }
        ),
        EventType::OrderMissed => format!("the order due by {} is missing", text(&body["due_at"])),
        EventType::DeletionRequested => format!(
            "{} asked the requester to delete what was handed over: {}",
            text(&body["by"]),
            text(&body["message"])
        ),
        EventType::EmergencyConfirmed => format!(
            "emergency confirmed by the authority's confirmation key {} (payload SHA-256 {})",
            text(&body["kid"]),
            text(&body["request_sha256"])
        ),
        EventType::EmergencyDenied => format!(
            "the authority denied the request, signed by its confirmation key {}: {}",
            text(&body["kid"]),
            text(&body["reason"])
        ),
        EventType::EmergencyCallbackRecorded => {
            let r = &body["record"];
            format!(
                "call-back by {} to {} ({}): reached {}, outcome {}",
                text(&r["reviewer"]),
                text(&r["contact"]["name"]),
                text(&r["contact"]["phone"]),
                text(&r["reached"]),
                text(&r["outcome"])
            )
        }
        EventType::EmergencyCallbackConfirmed | EventType::EmergencyCallbackRejected => format!(
            "call-back record {} by {}: {}",
            if kind == EventType::EmergencyCallbackConfirmed {
                "confirmed"
            } else {
                "rejected"
            },
            text(&body["reviewer"]),
            text(&body["reason"])
        ),
        EventType::EmergencyVerificationFailed => format!(
            "emergency verification failed ({}): refused, ground {}",
            text(&body["by"]),
            text(&body["ground"])
        ),
        EventType::AttachmentAdded => format!(
            "{} ({}, {} bytes) attached by {}",
            text(&body["name"]),
            custos_service::ops::attachment::AttachmentKind::parse(&text(&body["kind"]))
                .map_or("unknown kind", |k| k.label()),
            body["size"],
            text(&body["by"])
        ),
        EventType::CaseAssigned => match body["from"].as_str() {
            Some(from) => format!("taken over by {} from {from}", text(&body["by"])),
            None => format!("taken by {}", text(&body["by"])),
        },
        EventType::CaseUnassigned => match text(&body["by"]) {
            by if by == text(&body["from"]) => format!("released by {by}"),
            by => format!("released by {by} (it was {}'s)", text(&body["from"])),
        },
        EventType::NoteAdded => format!(
            "internal note by {}: {}",
            text(&body["by"]),
            text(&body["text"])
        ),
        _ => String::new(),
    }
}

/// What the latest change of a case was, said of the person who made it ("recorded a
/// decision"), for the message of a clash.
pub fn event_words(code: &str) -> String {
    let words = match EventType::from_name(code) {
        Some(EventType::DecisionRecorded | EventType::ReplyCommunicated) => "recorded a decision",
        Some(EventType::DecisionProposed) => "proposed a decision",
        Some(EventType::DecisionSecondReviewRejected) => "sent the proposed decision back",
        Some(EventType::RequestInformationRequested) => "asked the requester for information",
        Some(EventType::RequestReclassified) => "corrected the classification",
        Some(EventType::RequestReclassificationProposed) => {
            "proposed a correction of the classification"
        }
        Some(EventType::RequestReclassificationRejected) => "sent the correction back",
        Some(EventType::RequestSupplemented) => "supplemented the request (the requester)",
        Some(EventType::RequestPostponed) => "postponed the decision",
        Some(EventType::ConsultationOpened) => "consulted the requester",
        Some(EventType::ConsultationAnswered) => "answered the consultation (the requester)",
        Some(EventType::PreservationRenewed) => "renewed the hold",
        Some(EventType::PreservationReleased) => "released the hold",
        Some(EventType::ExtensionGranted) => "granted an extension",
        Some(EventType::ExtensionRefused) => "refused an extension",
        Some(EventType::RequestDelivered) => "marked the case delivered",
        Some(EventType::RequestClosed) => "closed the case",
        Some(EventType::RequestWithdrawn) => "withdrew the request (the requester)",
        Some(EventType::EmergencyCallbackRecorded) => "recorded a call-back",
        Some(EventType::EmergencyCallbackConfirmed | EventType::EmergencyCallbackRejected) => {
            "reviewed the call-back"
        }
        Some(EventType::DeletionRequested) => "asked the requester to delete the data",
        Some(EventType::AttachmentAdded) => "added an attachment",
        Some(EventType::CaseAssigned) => "took the case",
        Some(EventType::CaseUnassigned) => "released the case",
        Some(EventType::NoteAdded) => "added an internal note",
        _ => return format!("changed it ({code})"),
    };
    words.to_owned()
}

/// Where an emergency's verification stands, in words: verified (by which confirmation key or
/// whose call-back, when) for the payload in force, failed, or not yet (and so not executable).
pub fn emergency_verification(
    v: &custos_service::ops::Verification,
    case_id: i64,
) -> (bool, String) {
    use custos_service::ops::Verified;
    if v.failed.is_some() {
        return (
            false,
            "Verification failed: the authority denied the request; it is refused (emergency-verification-failed)".to_owned(),
        );
    }
    match v.by_signature.as_ref().or(v.by_callback.as_ref()) {
        Some(Verified::Signature { kid, at }) => (
            true,
            format!(
                "Verified: confirmed by the authority's confirmation key {kid} on {}",
                when(*at)
            ),
        ),
        Some(Verified::Callback(r)) => (
            true,
            format!(
                "Verified by call-back: {} reached {} on {}, confirmed by {}",
                r.reviewer,
                r.reached,
                when(r.at),
                r.confirmed_by.as_deref().unwrap_or("")
            ),
        ),
        None => (
            false,
            format!(
                "Not verified: it cannot be executed until a confirmation key of the requesting authority confirms it (POST /v1/requests/{case_id}/confirmation, or `custos confirm`) or a call-back to its registered contact is recorded and confirmed by a second person"
            ),
        ),
    }
}

/// Corrected offences (the `offences` of a logged reclassification) in words:
/// `offence 0 (Extortion): extortion, 15 years → fraud, 15 years`.
pub fn corrections_text(offences: &Value) -> String {
    let class = |c: &Value| {
        let penalty = match &c["max_penalty"] {
            Value::String(s) => s.clone(),
            v => serde_json::from_value::<custos_model::MaxPenalty>(v.clone())
                .map(|p| p.to_string())
                .unwrap_or_else(|_| v.to_string()),
        };
        format!("{}, {}", c["category"].as_str().unwrap_or(""), penalty)
    };
    offences
        .as_array()
        .map(|list| {
            list.iter()
                .map(|o| {
                    format!(
                        "offence {} ({}): {} → {}",
                        o["index"],
                        o["name"].as_str().unwrap_or(""),
                        class(&o["from"]),
                        class(&o["to"])
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default()
}

/// The categories a narrowing form offers: those asked, with whether each is proposed.
pub fn category_choices(r: &Request, a: &Assessment) -> Vec<(DataCategory, bool)> {
    let proposed = a
        .narrowed
        .as_ref()
        .map(|n| n.data_categories)
        .unwrap_or(r.data_categories);
    r.data_categories
        .iter()
        .map(|c| (c, proposed.contains(c)))
        .collect()
}

/// A kind of extension in people's words.
pub fn extension_kind(kind: custos_service::query::ExtensionKind) -> &'static str {
    match kind {
        custos_service::query::ExtensionKind::Confidentiality => "End of confidentiality",
        custos_service::query::ExtensionKind::Preservation => "Preservation hold (renewal)",
    }
}

/// A supplement's change of one field, in words (issue 16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRow {
    /// The field's label, e.g. "Investigation reference" or "Target 2".
    pub field: String,
    /// The JSON pointer, for the tooltip.
    pub path: String,
    /// "Added", "Removed" or "Changed".
    pub change: &'static str,
    /// Before and after ("—" where there was none).
    pub old: String,
    pub new: String,
}

/// The rows of a supplement's changes.
pub fn change_rows(changes: &[custos_model::diff::FieldChange]) -> Vec<ChangeRow> {
    use custos_model::diff::ChangeKind;
    changes
        .iter()
        .map(|c| ChangeRow {
            field: field_label(&c.path),
            path: c.path.clone(),
            change: match c.change {
                ChangeKind::Added => "Added",
                ChangeKind::Removed => "Removed",
                ChangeKind::Changed => "Changed",
            },
            old: c
                .old
                .as_ref()
                .map_or("—".into(), |v| value_text(&c.path, v)),
            new: c
                .new
                .as_ref()
                .map_or("—".into(), |v| value_text(&c.path, v)),
        })
        .collect()
}

/// A request field's label from its JSON pointer: the request page's words where it has them,
/// else the field names in words ("Offence 2 › Max penalty").
pub fn field_label(pointer: &str) -> String {
    const LABELS: &[(&str, &str)] = &[
        ("/id", "Request id"),
        ("/submitted_at", "Submitted"),
        ("/requesting_authority/contact", "Requester's contact"),
        ("/investigation/reference", "Investigation reference"),
        (
            "/investigation/authority_conducting",
            "Authority conducting the investigation",
        ),
        (
            "/investigation/good_faith_research_excluded",
            "Good-faith security research excluded",
        ),
        ("/investigation/summary_of_facts", "Summary of facts"),
        (
            "/mla_followup_intended",
            "Follow-up by mutual legal assistance intended",
        ),
        ("/assurances/no_death_penalty", "No death penalty assured"),
        ("/data_protection/retention_days", "Retention"),
        ("/follows", "Follows up"),
    ];
    if let Some((_, label)) = LABELS.iter().find(|(p, _)| *p == pointer) {
        return (*label).to_owned();
    }
    let mut parts: Vec<String> = Vec::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        match (segment.parse::<usize>(), parts.last_mut()) {
            (Ok(i), Some(last)) => *last = format!("{last} {}", i + 1),
            _ => parts.push(capitalised(&match segment.as_str() {
                "targets" => "target".to_owned(),
                "offences" => "offence".to_owned(),
                other => other.replace('_', " "),
            })),
        }
    }
    parts.join(" › ")
}

/// A field's value in words: texts as they are, yes/no, lists joined, objects as `key: value`.
fn value_text(pointer: &str, v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Value::String(s) if pointer == "/data_categories" => category_label(s).to_owned(),
        // Times as the rest of the page shows them, not as RFC 3339 with nanoseconds.
        Value::String(s) => s.parse::<Timestamp>().map_or_else(|_| s.clone(), when),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => items
            .iter()
            .map(|i| value_text(pointer, i))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| format!("{}: {}", k.replace('_', " "), value_text("", v)))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// Holds are flagged by the rolling windows of the deadline rule, not by calendar days
    /// (issue 16): a hold ending just after midnight is as close as one ending before it.
    #[test]
    fn hold_badges_are_overdue_under_8_hours_or_later() {
        let now = t("2026-11-29T18:00:00Z");
        assert_eq!(hold_badge(t("2026-11-29T17:59:59Z"), now).0, "overdue");
        assert!(
            hold_badge(t("2026-11-29T23:59:59Z"), now)
                .0
                .contains("due-today")
        );
        assert!(
            hold_badge(t("2026-11-30T00:00:00Z"), now)
                .0
                .contains("due-today")
        );
        assert_eq!(hold_badge(t("2026-11-30T02:00:00Z"), now).0, "");
    }

    #[test]
    fn date_inputs_are_read_as_utc_and_rfc_3339_still_works() {
        let want = t("2027-03-01T09:30:00Z");
        assert_eq!(parse_input_time("2027-03-01T09:30", "Until"), Ok(want));
        assert_eq!(parse_input_time(" 2027-03-01T09:30:00 ", "Until"), Ok(want));
        assert_eq!(parse_input_time("2027-03-01T09:30:00Z", "Until"), Ok(want));
        assert_eq!(input_time(want), "2027-03-01T09:30:00");
        let bad = parse_input_time("next Tuesday", "Answer by").unwrap_err();
        assert!(
            bad.starts_with("Answer by: \"next Tuesday\" is not a date"),
            "{bad}"
        );
        assert_eq!(
            parse_input_time("", "Answer by").unwrap_err(),
            "Answer by: give a date and time"
        );
    }

    #[test]
    fn legal_bases_are_told_apart_by_weight_and_critics_are_not_a_source() {
        let basis = [
            "Critics: no perpetual secrecy".to_owned(),
            "N&P principle 8 (user notification)".to_owned(),
            "EU Reg. 2023/1543 art. 13".to_owned(),
            "operator default: 30 days for intrusive measures".to_owned(),
            "UNCC art. 24 (limits of duration)".to_owned(),
        ];
        let got: Vec<(&str, String)> = basis_sources(&basis)
            .into_iter()
            .map(|b| (b.kind, b.text))
            .collect();
        assert_eq!(
            got,
            [
                ("treaty", "UNCC art. 24 (limits of duration)".to_owned()),
                ("instrument", "EU Reg. 2023/1543 art. 13".to_owned()),
                ("default", "30 days for intrusive measures".to_owned()),
                ("policy", "answers critics: no perpetual secrecy".to_owned()),
                ("policy", "N&P principle 8 (user notification)".to_owned()),
            ]
        );
    }

    #[test]
    fn codes_read_as_words() {
        assert_eq!(
            channel_label(custos_model::Channel::Network24x7),
            "24/7 network point of contact"
        );
        assert_eq!(
            capitalised(custos_model::Severity::ReferForReview.label()),
            "Refer for review"
        );
        assert_eq!(event_words("decision.recorded"), "recorded a decision");
        assert_eq!(event_words("no.such"), "changed it (no.such)");
        assert_eq!(
            categories_text("subscriber, traffic"),
            "Subscriber information, Traffic data"
        );
        assert_eq!(
            sentence("use only for: Acme Ltd."),
            "use only for: Acme Ltd."
        );
        assert_eq!(sentence("delete 180 days after"), "delete 180 days after.");
        assert_eq!(
            event_label("decision.second_review_rejected"),
            "Decision second review rejected"
        );
    }

    #[test]
    fn cited_instruments_link_to_their_text_and_defaults_link_nowhere() {
        let links: Vec<(String, Option<&str>)> = basis_sources(&[
            "UNCC art. 24; EU Reg. 2023/1543 art. 4; N&P principles 5–7".to_owned(),
            "cf. Budapest 2nd Additional Protocol art. 9; cf. Budapest Convention art. 29"
                .to_owned(),
            "operator default: 90 days for intrusive measures; Critics: no perpetual secrecy"
                .to_owned(),
            "Custos policy, answering critics' concern about the UNCC".to_owned(),
        ])
        .into_iter()
        .map(|s| (s.text, s.link))
        .collect();
        let link_of = |text: &str| {
            links
                .iter()
                .find(|(t, _)| t.starts_with(text))
                .map(|(_, l)| *l)
                .unwrap_or_else(|| panic!("no source {text:?} in {links:?}"))
        };
        assert_eq!(link_of("UNCC"), Some("https://undocs.org/en/A/RES/79/243"));
        assert_eq!(
            link_of("EU Reg."),
            Some("https://eur-lex.europa.eu/eli/reg/2023/1543/oj")
        );
        assert!(link_of("cf. Budapest 2nd").is_some_and(|l| l.ends_with("treatynum=224")));
        assert!(link_of("cf. Budapest Convention").is_some_and(|l| l.ends_with("treatynum=185")));
        assert!(link_of("N&P").is_some_and(|l| l.contains("necessaryandproportionate")));
        // Defaults and the profile's own policy cite no text, even when they name the treaty.
        assert_eq!(link_of("90 days"), None);
        assert_eq!(link_of("answers critics"), None);
        assert_eq!(link_of("Custos policy"), None);
    }

    #[test]
    fn an_emergency_clock_reads_to_the_minute() {
        let now = t("2026-11-29T18:00:00Z");
        assert_eq!(time_left(t("2026-11-29T23:12:40Z"), now), "5 h 12 min left");
        assert_eq!(time_left(t("2026-11-29T18:45:00Z"), now), "45 min left");
        assert_eq!(time_left(now, now), "0 min left");
        assert_eq!(
            time_left(t("2026-11-29T17:40:00Z"), now),
            "overdue by 20 min"
        );
        assert_eq!(
            time_left(t("2026-11-29T09:55:00Z"), now),
            "overdue by 8 h 5 min"
        );
    }

    #[test]
    fn relative_times_read_naturally() {
        let now = t("2026-11-29T18:00:00Z");
        assert_eq!(relative(t("2026-11-29T18:30:00Z"), now), "in 30 min");
        assert_eq!(relative(t("2026-11-29T15:00:00Z"), now), "3 h ago");
        assert_eq!(relative(t("2026-12-09T18:00:00Z"), now), "in 10 days");
    }

    #[test]
    fn an_emergency_reads_verified_only_for_the_payload_in_force() {
        let confirmed = |sha: &str| StoredEvent {
            seq: 7,
            event_type: "emergency.confirmed".into(),
            at: t("2026-11-29T18:00:00Z"),
            case_id: Some(3),
            body: serde_json::json!({"kid": "duty-kid", "request_sha256": sha}).to_string(),
            salt: custos_ledger::commitment::Salt::from_bytes([0; 32]),
            leaf: vec![],
        };
        let of = |sha: &str, events: &[StoredEvent]| {
            emergency_verification(&custos_service::ops::Verification::of(sha, events), 3)
        };
        let (ok, text) = of("aa", &[confirmed("aa")]);
        assert!(ok);
        assert!(text.contains("duty-kid"), "{text}");
        // A confirmation of an earlier version (before a supplement) does not verify this one.
        let (ok, text) = of("bb", &[confirmed("aa")]);
        assert!(!ok);
        assert!(text.contains("/v1/requests/3/confirmation"), "{text}");
        assert!(!of("aa", &[]).0);
    }
    /// What a supplement changed reads in the page's words, never as codes alone (issue 16).
    #[test]
    fn a_supplements_changes_read_as_labelled_fields() {
        let old = serde_json::json!({
            "investigation": {"reference": "A-1"},
            "data_categories": ["subscriber"],
            "targets": [{"kind": "email", "value": "a@x.example"}],
        });
        let new = serde_json::json!({
            "investigation": {"reference": "A-2"},
            "data_categories": ["subscriber", "traffic"],
            "targets": [{"kind": "email", "value": "b@x.example"}],
        });
        let rows = change_rows(&custos_model::diff::diff(&old, &new));
        let text: Vec<String> = rows
            .iter()
            .map(|r| format!("{} | {} | {} | {}", r.field, r.change, r.old, r.new))
            .collect();
        assert_eq!(
            text,
            [
                "Data categories | Changed | Subscriber information | Subscriber information, Traffic data",
                "Investigation reference | Changed | A-1 | A-2",
                "Target 1 | Removed | kind: email, value: a@x.example | —",
                "Target 1 | Added | — | kind: email, value: b@x.example",
            ]
        );
        let times = change_rows(&custos_model::diff::diff(
            &serde_json::json!({"submitted_at": "2026-11-19T08:00:00.123456789Z"}),
            &serde_json::json!({"submitted_at": "2026-11-21T10:30:00Z"}),
        ));
        assert_eq!(
            (
                times[0].field.as_str(),
                times[0].old.as_str(),
                times[0].new.as_str()
            ),
            ("Submitted", "2026-11-19 08:00 UTC", "2026-11-21 10:30 UTC")
        );
        assert_eq!(
            field_label("/investigation/offences/1/max_penalty"),
            "Investigation › Offence 2 › Max penalty"
        );
    }
}
