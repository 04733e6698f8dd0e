//! The request page and its forms: decide, correct the offences' classification, second review,
//! renew a hold, decide a request to extend secrecy.

use super::*;
use custos_service::ops::{AcceptanceState, ConditionsStatus};

/// A choosable ground (a finding of the assessment).
#[derive(Debug, Clone)]
pub struct GroundChoice {
    pub code: String,
    pub label: String,
    pub checked: bool,
}

/// A data category in the narrowing form.
#[derive(Debug, Clone)]
pub struct CategoryChoice {
    pub value: String,
    pub label: String,
    pub checked: bool,
}

/// A target in the narrowing form: kept when checked.
#[derive(Debug, Clone)]
pub struct TargetChoice {
    pub kind: String,
    pub value: String,
    pub checked: bool,
}

/// A reason box for one finding the assessment refers for review.
#[derive(Debug, Clone)]
pub struct FindingReasonField {
    pub code: String,
    pub message: String,
    pub value: String,
}

/// The decision form's values: defaults from the assessment, or what was sent.
#[derive(Debug, Clone, Default)]
pub struct DecisionForm {
    /// One reason box per referred finding (required to execute over a referral).
    pub finding_reasons: Vec<FindingReasonField>,
    pub decision: String,
    pub reason: String,
    pub internal_note: String,
    pub message: String,
    pub grounds: Vec<GroundChoice>,
    pub categories: Vec<CategoryChoice>,
    pub period_from: String,
    pub period_to: String,
    pub confidentiality_until: String,
    /// One checkbox per target of the request (execute in part).
    pub targets: Vec<TargetChoice>,
    pub has_period: bool,
    pub has_confidentiality: bool,
    /// Conditions of an execution (the requester must accept them before any release).
    pub cond_use_limitation: String,
    pub cond_confidentiality: bool,
    pub cond_confidentiality_text: String,
    pub cond_deletion_days: String,
    pub cond_free_text: String,
}

/// The decision form as posted: one value per field, but every ground and category checked.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DecisionFields {
    pub(super) csrf: String,
    /// The case's version as the page showed it (its `ETag`).
    pub(super) version: String,
    pub(super) decision: String,
    pub(super) reason: String,
    pub(super) internal_note: String,
    pub(super) message: String,
    pub(super) grounds: Vec<String>,
    #[serde(rename = "category")]
    pub(super) categories: Vec<String>,
    pub(super) period_from: String,
    pub(super) period_to: String,
    pub(super) confidentiality_until: String,
    /// The targets kept (checked), and every target the form offered.
    #[serde(rename = "target")]
    pub(super) targets: Vec<String>,
    pub(super) target_offered: Vec<String>,
    /// The referred findings' codes, each followed by its reason in `finding_reason`.
    pub(super) finding_code: Vec<String>,
    pub(super) finding_reason: Vec<String>,
    /// Conditions: the purposes (specialty), confidentiality (checked, with optional words),
    /// deletion after N days, and free-text conditions one per line.
    pub(super) cond_use_limitation: String,
    pub(super) cond_confidentiality: String,
    pub(super) cond_confidentiality_text: String,
    pub(super) cond_deletion_days: String,
    pub(super) cond_free_text: String,
    /// "Insert template" pressed for this ground (no JavaScript): the page comes back with the
    /// template added to the reason (or the message), nothing recorded.
    pub(super) insert_template: String,
}

/// The reclassification form: for each offence in order its index, category and maximum
/// penalty (prefilled with the classification in force), and the reason.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ReclassifyFields {
    pub(super) csrf: String,
    /// The case's version as the page showed it (its `ETag`).
    pub(super) version: String,
    pub(super) offence: Vec<String>,
    pub(super) offence_category: Vec<String>,
    pub(super) offence_penalty: Vec<String>,
    pub(super) reclass_reason: String,
}

/// What was sent with a refused form, to show again.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Sent<'a> {
    Nothing,
    Decision(&'a DecisionFields),
    Reclassification(&'a ReclassifyFields),
    Postponement(&'a PostponeFields),
    Consultation(&'a ConsultFields),
    SecondReview(&'a SecondReviewFields),
    Note(&'a super::desk::NoteFields),
}

/// The consultation form: a message the requester reads and a date to answer by (RFC 3339).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ConsultFields {
    csrf: String,
    version: String,
    message: String,
    answer_by: String,
}

/// One message of a consultation, on the request page.
#[derive(Debug, Clone)]
pub struct ThreadRow {
    pub at: String,
    pub from: String,
    pub message: String,
    pub answer_by: String,
}

/// The postponement form: a reason the requester reads and a date (RFC 3339).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PostponeFields {
    csrf: String,
    version: String,
    reason: String,
    until: String,
}

/// One offence in the classification table and form: as the requester classified it and as it
/// stands after the corrections in force.
#[derive(Debug, Clone)]
pub struct ClassificationRow {
    pub index: usize,
    pub name: String,
    pub asked_category: String,
    pub asked_penalty: String,
    pub category: String,
    pub penalty: String,
    pub changed: bool,
    /// The form's values (the penalty as typed: years, `life` or `death`).
    pub form_category: String,
    pub form_penalty: String,
}

/// The original and the current assessment side by side, once reclassified.
#[derive(Debug, Clone)]
pub struct ReassessedView {
    pub original_outcome: String,
    pub original_label: &'static str,
    pub original_findings: String,
    pub corrections: Vec<String>,
}

/// A correction waiting for a second reviewer.
#[derive(Debug, Clone)]
pub struct PendingCorrectionView {
    pub reviewer: String,
    pub reason: String,
    pub changes: String,
    pub outcome_before: &'static str,
    pub outcome_after: &'static str,
}

/// The second-review form: `confirm` is `yes` or `no`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SecondReviewFields {
    csrf: String,
    version: String,
    confirm: String,
    second_reason: String,
}

/// The form deciding a request for an extension: `decision` is `grant` or `refuse`; `until` (a
/// grant's date, RFC 3339) may be left empty for the date asked.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ExtensionFields {
    csrf: String,
    version: String,
    decision: String,
    until: String,
    reason: String,
}

/// A request for an extension of the case, with its answer or, while pending, its form.
#[derive(Debug, Clone)]
pub struct ExtensionRow {
    pub id: i64,
    pub kind: &'static str,
    pub pending: bool,
    pub asked_at: String,
    pub current_until: String,
    pub asked_until: String,
    pub asked_until_value: String,
    pub reasons: String,
    pub answer: String,
}

/// The extension form as sent (after a refusal), or empty.
#[derive(Debug, Clone, Default)]
pub struct ExtensionForm {
    pub id: i64,
    pub decision: String,
    pub until: String,
    pub reason: String,
}

/// The renewal form: `back` is `holds` when it was sent from the holds page.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RenewFields {
    csrf: String,
    version: String,
    back: String,
    /// Required by the console (optional in the API).
    #[serde(default)]
    reason: String,
}

/// The pending decision, for the second-review form.
#[derive(Debug, Clone)]
pub struct PendingView {
    pub decision: String,
    pub reviewer: String,
    pub reason: String,
    pub narrowed: String,
}

/// A preservation hold, on the request page and the holds page.
#[derive(Debug, Clone)]
pub struct HoldView {
    pub case_id: i64,
    pub request_id: String,
    pub started_at: String,
    pub expires_at: String,
    pub expires_in: String,
    pub due_class: &'static str,
    pub renewals: i64,
    /// The end a renewal now would give (renewals never stack).
    pub renews_to: String,
}

/// An evidence package of the case.
#[derive(Debug, Clone)]
pub struct EvidenceView {
    /// `BLAKE3` (format v2) or `SHA-256` (format v1).
    pub digest_kind: &'static str,
    pub digest: String,
    /// The targets it covers, joined (execute in part: only those produced).
    pub targets: String,
    pub size: String,
    pub sealed_at: String,
    pub delivered_at: String,
    pub destroyed_at: String,
}

#[derive(Template)]
#[template(path = "request.html")]
struct RequestPage {
    layout: Layout,
    case_id: i64,
    request_id: String,
    status_label: &'static str,
    outcome: String,
    outcome_label: &'static str,
    profile: String,
    respond_by: String,
    respond_in: String,
    deadline: DeadlineFacts,
    /// What each supplement changed, oldest first (staff only: it may name targets).
    supplements: Vec<SupplementSection>,
    emergency: bool,
    /// The order that must follow the emergency, when one is due (`pages/order.rs`).
    order: Option<super::order::OrderSection>,
    /// Whether the emergency is verified, and how it stands in words.
    verified: bool,
    verification: String,
    /// The call-back section of an emergency (`callback.rs`).
    callback: Option<super::callback::CallbackSection>,
    authority_kid: String,
    authority: Vec<Fact>,
    signature_ok: bool,
    signature: String,
    facts: RequestFacts,
    findings: Vec<FindingRow>,
    comparison: Vec<CompareRow>,
    timeline: Vec<EventRow>,
    decision: Option<DecisionView>,
    /// The case's version (its `ETag`), carried by every form as `version`.
    version: String,
    /// Delivered and Close offered (the service decides whether the step is allowed).
    can_deliver: bool,
    can_close: bool,
    /// The second-review form's text as sent (after a refusal).
    second_reason: String,
    /// Said beside an execution when it tells the person concerned at once (no secrecy asked,
    /// and the node notifies): the reviewer should know before deciding.
    notify_warning: Option<String>,
    /// The list the reviewer came from (its query string), for the link back.
    back: Option<String>,
    /// The id of the form a refusal keeps the typed text in.
    kept_in: &'static str,
    /// The execution's conditions and their acceptance.
    conditions: Option<String>,
    can_decide: bool,
    form: DecisionForm,
    classification: Vec<ClassificationRow>,
    categories: Vec<&'static str>,
    reassessed: Option<ReassessedView>,
    can_reclassify: bool,
    reclass_reason: String,
    postpone_reason: String,
    postpone_until: String,
    postponed_until: Option<String>,
    can_postpone: bool,
    consult_message: String,
    consult_answer_by: String,
    thread: Vec<ThreadRow>,
    pending_correction: Option<PendingCorrectionView>,
    pending: Option<PendingView>,
    can_second_review: bool,
    second_review_note: String,
    hold: Option<HoldView>,
    /// The notice owed to the person concerned, if one is (`notice_actions.html`).
    notice: Option<super::holds::NoticeView>,
    notice_back: &'static str,
    evidence: Vec<EvidenceView>,
    extensions: Vec<ExtensionRow>,
    extension_form: ExtensionForm,
    /// A preservation and its follow-ups (`follow_up.html`).
    links: super::follow_up::FollowLinks,
    /// Who has the case, and the internal notes (`pages/desk.rs`).
    desk: super::desk::DeskSection,
    refusal: Option<Refusal>,
    flash: Option<&'static str>,
    /// Files staff keep with the case (`attachments.html`).
    attachments: super::attachments::AttachmentsSection,
    /// Reply templates for the case's grounds (`reply_templates.html`).
    templates: Vec<super::attachments::TemplateChoice>,
}

/// Re-checks the signature of the request as logged, against the directory's key now.
fn check_signature(
    case: &Case,
    jws: Option<&str>,
    authority: Option<&Authority>,
) -> (bool, String) {
    let (Some(jws), Some(a)) = (jws, authority) else {
        return (
            false,
            "no signed request or no directory entry found for this case".into(),
        );
    };
    let key = match PublicJwk::parse(&a.jwk) {
        Ok(k) => k,
        Err(e) => return (false, format!("the directory's key is unusable: {e}")),
    };
    match custos_jose::verify_compact(jws, &key) {
        Ok(verified) => {
            let digest: [u8; 32] = Sha256::digest(&verified.payload).into();
            if digest == case.payload_sha256.0 {
                (
                    true,
                    format!(
                        "Signed with key {} of {} ({}); checked again against the directory when this page was made.",
                        a.kid, a.name, a.state
                    ),
                )
            } else {
                (
                    false,
                    "the signature is valid but covers a different payload than the case holds"
                        .into(),
                )
            }
        }
        Err(e) => (false, format!("the signature does not verify: {e}")),
    }
}

/// The conditions of the execution and whether the requesting authority accepted them.
fn conditions_text(case: &Case, st: &ConditionsStatus) -> String {
    let list: Vec<String> = case
        .decision
        .iter()
        .flat_map(|d| d.conditions.iter().map(|c| c.describe()))
        .collect();
    let state = match (st.state, st.answered_at) {
        (AcceptanceState::Accepted, Some(at)) => {
            format!(
                "accepted by the requesting authority on {}",
                views::when(at)
            )
        }
        (AcceptanceState::Declined, at) => format!(
            "declined by the requesting authority{}: {}; no evidence is released",
            at.map(|t| format!(" on {}", views::when(t)))
                .unwrap_or_default(),
            st.reason.as_deref().unwrap_or("")
        ),
        _ => "not yet accepted by the requesting authority; no evidence is released before".into(),
    };
    let delete_by = st
        .delete_by
        .map(|t| {
            format!(
                " The requester is to delete the evidence by {} (stated, not enforced here).",
                views::when(t)
            )
        })
        .unwrap_or_default();
    format!(
        "Conditions: {} {} (SHA-256 {}).{delete_by}",
        views::sentence(&list.join("; ")),
        state,
        st.sha256
    )
}

/// A ground of a decision with the legal basis of its finding.
#[derive(Debug, Clone)]
pub struct GroundView {
    pub code: String,
    pub message: String,
    pub basis: Vec<views::BasisSource>,
}

/// The decision in force as the record has it: who, why, what is handed over, on what grounds,
/// and the second reviewer with their reason.
#[derive(Debug, Clone)]
pub struct DecisionView {
    /// "Execute narrowed by alice, confirmed by sam on …: reason".
    pub headline: String,
    /// Categories, period, targets kept and the end of secrecy (execute only).
    pub handed_over: Vec<Fact>,
    pub grounds: Vec<GroundView>,
    /// "Confirmed by sam: reason".
    pub second_review: Option<String>,
    /// The reason for each referred finding, and the internal note.
    pub notes: Vec<String>,
}

/// What a decision hands over: the narrowed terms, or everything asked for an execution.
fn handed_over(d: &RecordedDecision, r: &Request, case: &Case) -> Vec<Fact> {
    if !matches!(d.decision_label(), "Execute" | "Execute narrowed") {
        return Vec::new();
    }
    let n = d.narrowed.as_ref();
    let all: Vec<String> = r
        .targets
        .iter()
        .map(|t| t.value.as_str().to_owned())
        .collect();
    let kept: Vec<String> = n
        .and_then(|n| n.targets.as_ref())
        .map(|t| t.iter().map(|v| v.as_str().to_owned()).collect())
        .unwrap_or_else(|| all.clone());
    let secrecy_asked = r.confidentiality.as_ref().is_some_and(|c| c.requested);
    let until = n
        .and_then(|n| n.confidentiality_until)
        .or(case.confidentiality_until);
    vec![
        Fact {
            label: "Data categories",
            value: views::categories_text(
                &n.map(|n| n.data_categories)
                    .unwrap_or(r.data_categories)
                    .to_string(),
            ),
        },
        Fact {
            label: "Period",
            value: views::period_text(n.and_then(|n| n.period).or(r.period).as_ref()),
        },
        Fact {
            label: "Targets kept",
            value: format!("{} ({} of {})", kept.join(", "), kept.len(), all.len()),
        },
        Fact {
            label: "Secrecy ends",
            value: match (secrecy_asked, until) {
                (_, Some(t)) => views::when(t),
                (true, None) => "no end recorded".into(),
                (false, None) => "no secrecy asked".into(),
            },
        },
    ]
}

fn decision_view(
    d: &RecordedDecision,
    r: &Request,
    case: &Case,
    a: &Assessment,
    second_reason: Option<String>,
) -> DecisionView {
    let mut headline = format!("{} by {}", d.decision_label(), d.reviewer);
    if let Some(by) = &d.confirmed_by {
        headline.push_str(&format!(", confirmed by {by}"));
    }
    headline.push_str(&format!(" on {}: {}", views::when(d.at), d.reason));
    let grounds = d
        .grounds
        .iter()
        .map(|g| {
            let f = a.findings.iter().find(|f| &f.code == g);
            GroundView {
                code: g.clone(),
                message: f.map(|f| f.message.clone()).unwrap_or_default(),
                basis: f
                    .map(|f| views::basis_sources(&f.basis))
                    .unwrap_or_default(),
            }
        })
        .collect();
    let mut notes: Vec<String> = d
        .finding_reasons
        .iter()
        .map(|(code, reason)| format!("On {code}: {reason}"))
        .collect();
    if let Some(note) = &d.internal_note {
        notes.push(format!("Internal note (staff only): {note}"));
    }
    DecisionView {
        headline,
        handed_over: handed_over(d, r, case),
        grounds,
        second_review: d.confirmed_by.as_ref().map(|by| match second_reason {
            Some(reason) => format!("Confirmed by {by}: {reason}"),
            None => format!("Confirmed by {by}"),
        }),
        notes,
    }
}

trait DecisionLabel {
    fn decision_label(&self) -> &'static str;
}

impl DecisionLabel for RecordedDecision {
    fn decision_label(&self) -> &'static str {
        match serde_json::to_value(self.decision)
            .ok()
            .as_ref()
            .and_then(Value::as_str)
        {
            Some("execute") => "Execute",
            Some("execute_narrowed") => "Execute narrowed",
            Some("request_information") => "Request information",
            Some("refuse") => "Refuse",
            _ => "Decision",
        }
    }
}

fn default_form(r: &Request, a: &Assessment) -> DecisionForm {
    let narrowed = a.narrowed.as_ref();
    let period = narrowed.and_then(|n| n.period).or(r.period);
    let secrecy = r.confidentiality.as_ref().filter(|c| c.requested);
    let asked_until = secrecy.and_then(|c| c.until);
    // Open-ended secrecy: the proposal's end is offered, so the decision records one.
    let until = narrowed
        .and_then(|n| n.confidentiality_until)
        .or(asked_until);
    DecisionForm {
        decision: match a.outcome {
            Outcome::Execute => "execute",
            Outcome::ExecuteNarrowed => "execute_narrowed",
            Outcome::NeedsInformation => "request_information",
            Outcome::Refuse => "refuse",
            Outcome::ReferForReview => "",
        }
        .to_owned(),
        finding_reasons: a
            .findings
            .iter()
            .filter(|f| f.severity == custos_model::Severity::ReferForReview)
            .map(|f| FindingReasonField {
                code: f.code.clone(),
                message: f.message.clone(),
                value: String::new(),
            })
            .collect(),
        reason: String::new(),
        internal_note: String::new(),
        message: String::new(),
        grounds: a
            .findings
            .iter()
            .map(|f| GroundChoice {
                code: f.code.clone(),
                label: format!("{} ({}): {}", f.code, f.severity.as_str(), f.message),
                checked: false,
            })
            .collect(),
        categories: views::category_choices(r, a)
            .into_iter()
            .map(|(c, checked)| CategoryChoice {
                label: views::category_label(c.as_str()).to_owned(),
                value: c.as_str().to_owned(),
                checked,
            })
            .collect(),
        period_from: period
            .map(|p| views::input_time(p.from))
            .unwrap_or_default(),
        period_to: period.map(|p| views::input_time(p.to)).unwrap_or_default(),
        confidentiality_until: until.map(views::input_time).unwrap_or_default(),
        targets: r
            .targets
            .iter()
            .map(|t| TargetChoice {
                kind: t.kind.as_str().replace('_', " "),
                value: t.value.as_str().to_owned(),
                checked: true,
            })
            .collect(),
        has_period: r.period.is_some(),
        has_confidentiality: secrecy.is_some(),
        ..DecisionForm::default()
    }
}

/// The form as sent, laid over the defaults so every choice offered stays offered.
fn sent_form(mut form: DecisionForm, sent: &DecisionFields) -> DecisionForm {
    form.decision = sent.decision.clone();
    form.reason = sent.reason.clone();
    form.internal_note = sent.internal_note.clone();
    form.cond_use_limitation = sent.cond_use_limitation.clone();
    form.cond_confidentiality = !sent.cond_confidentiality.is_empty();
    form.cond_confidentiality_text = sent.cond_confidentiality_text.clone();
    form.cond_deletion_days = sent.cond_deletion_days.clone();
    form.cond_free_text = sent.cond_free_text.clone();
    form.message = sent.message.clone();
    for g in &mut form.grounds {
        g.checked = sent.grounds.contains(&g.code);
    }
    for c in &mut form.categories {
        c.checked = sent.categories.contains(&c.value);
    }
    if !sent.target_offered.is_empty() {
        for t in &mut form.targets {
            t.checked = sent.targets.contains(&t.value);
        }
    }
    for r in &mut form.finding_reasons {
        if let Some(i) = sent.finding_code.iter().position(|c| c == &r.code) {
            r.value = sent.finding_reason.get(i).cloned().unwrap_or_default();
        }
    }
    form.period_from = sent.period_from.clone();
    form.period_to = sent.period_to.clone();
    form.confidentiality_until = sent.confidentiality_until.clone();
    form
}

struct Loaded {
    case: Case,
    request: Request,
    assessment: Assessment,
}

async fn load(c: &Console, case_id: i64) -> Result<Loaded, Problem> {
    let case =
        c.node.query().case(case_id).await?.ok_or_else(|| {
            Problem::not_found(format!("there is no case {case_id} on this node"))
        })?;
    let corrupt = |what: &str, e: serde_json::Error| {
        tracing::error!(case = case_id, error = %e, "stored {what} does not parse");
        Problem::internal(format!(
            "the stored {what} of case {case_id} does not parse; run `custos audit`"
        ))
    };
    let request = serde_json::from_str(&case.request_json).map_err(|e| corrupt("request", e))?;
    let assessment = case.assessment.clone();
    Ok(Loaded {
        case,
        request,
        assessment,
    })
}

async fn request_view(
    c: &Console,
    v: &Viewer,
    case_id: i64,
    sent: Sent<'_>,
    refusal: Option<Refusal>,
    flash: Option<&'static str>,
) -> Result<RequestPage, Problem> {
    let Loaded {
        case,
        request,
        assessment,
    } = load(c, case_id).await?;
    let query = c.node.query();
    let authority = query.authority(&case.authority_kid).await?;
    let events = query.case_events(case_id).await?;
    let published = c.node.log.published_size();
    let jws = events
        .iter()
        .rev()
        .find(|e| {
            matches!(
                e.kind(),
                Some(EventType::RequestReceived | EventType::RequestSupplemented)
            )
        })
        .and_then(|e| serde_json::from_str::<Value>(&e.body).ok())
        .and_then(|b| b["jws"].as_str().map(str::to_owned));
    let (signature_ok, signature) = check_signature(&case, jws.as_deref(), authority.as_ref());
    let mut authority_facts = match &authority {
        Some(a) => vec![
            Fact {
                label: "Name",
                value: a.name.clone(),
            },
            Fact {
                label: "State",
                value: a.state.clone(),
            },
            Fact {
                label: "Kind",
                value: a.kind.clone(),
            },
            Fact {
                label: "Key (RFC 7638 thumbprint)",
                value: a.kid.clone(),
            },
        ],
        None => vec![],
    };
    if let Some(a) = authority.as_ref().filter(|a| a.revoked_at.is_some()) {
        authority_facts.push(Fact {
            label: "Key revoked",
            value: format!(
                "{}{}",
                views::when_opt(a.revoked_at),
                a.revoke_reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
        });
    }
    let state = custos_service::ops::Verification::of(&case.payload_sha256.to_hex(), &events);
    let (verified, verification) = views::emergency_verification(&state, case_id);
    let callback = super::callback::section(c, &case, &state, &v.user);
    let timeline = events
        .iter()
        .map(|e| EventRow {
            index: e.seq,
            label: views::event_label(&e.event_type),
            event_type: e.event_type.clone(),
            at: views::when(e.at),
            summary: views::event_summary(e),
            proof: (e.seq < published)
                .then(|| format!("/v1/log/inclusion?index={}&size={published}", e.seq)),
        })
        .collect();
    // The second reviewer's reason is in the event that put the decision in force.
    let second_reason = events
        .iter()
        .rev()
        .find(|e| e.kind() == Some(EventType::DecisionRecorded))
        .and_then(|e| serde_json::from_str::<Value>(&e.body).ok())
        .and_then(|b| b["second_review_reason"].as_str().map(str::to_owned));
    let decision = case
        .decision
        .as_ref()
        .map(|d| decision_view(d, &request, &case, &assessment, second_reason));
    let version = events
        .last()
        .map(|e| custos_service::ops::version::etag(case_id, e.seq))
        .unwrap_or_default();
    let links = super::follow_up::links(&query, &case).await?;
    let conditions = query
        .conditions_status(&case)
        .await?
        .map(|st| conditions_text(&case, &st));
    let pending = case.pending_decision.clone();
    let can_change = v.can_change();
    let can_decide = can_change
        && matches!(
            case.status,
            CaseStatus::Assessed | CaseStatus::AwaitingInformation
        );
    let pending_correction = case
        .reclassification
        .as_ref()
        .and_then(|r| r.pending.as_ref());
    // Whoever proposed what waits for a second reviewer: a decision, or a correction.
    let proposer = pending
        .as_ref()
        .map(|p| (p.reviewer.as_str(), "decision"))
        .or(pending_correction.map(|p| (p.reclassification.reviewer.as_str(), "correction")));
    let (can_second_review, second_review_note) = match proposer {
        None => (false, String::new()),
        Some(_) if !can_change => (false, "Auditors cannot take part in decisions.".into()),
        Some(_) if v.user.role < Role::Supervisor => (
            false,
            format!(
                "A second reviewer with the supervisor role must confirm this; your role is {}.",
                v.user.role.as_str()
            ),
        ),
        Some((who, what)) if who == v.user.name => (
            false,
            format!("You proposed this {what}; another supervisor must confirm it."),
        ),
        Some(_) => (true, String::new()),
    };
    let pending_correction = pending_correction.map(|p| {
        let r = &p.reclassification;
        PendingCorrectionView {
            reviewer: r.reviewer.clone(),
            reason: r.reason.clone(),
            changes: views::corrections_text(&json!(r.offences)),
            outcome_before: r.outcome_before.label(),
            outcome_after: r.outcome_after.label(),
        }
    });
    let in_force = case
        .reclassification
        .as_ref()
        .map(|r| r.corrections.as_slice())
        .unwrap_or_default();
    let current = custos_service::ops::reclassification::corrected(&request, in_force);
    let sent_reclass = match sent {
        Sent::Reclassification(f) => Some(f),
        _ => None,
    };
    let (postpone_reason, postpone_until) = match sent {
        Sent::Postponement(f) => (f.reason.clone(), f.until.clone()),
        _ => Default::default(),
    };
    let (consult_message, consult_answer_by) = match sent {
        Sent::Consultation(f) => (f.message.clone(), f.answer_by.clone()),
        _ => Default::default(),
    };
    let mut thread = Vec::new();
    for e in query.case_events(case_id).await? {
        let from = match e.kind() {
            Some(custos_model::EventType::ConsultationOpened) => "",
            Some(custos_model::EventType::ConsultationAnswered) => "The requesting authority",
            _ => continue,
        };
        let b: serde_json::Value = serde_json::from_str(&e.body).unwrap_or_default();
        thread.push(ThreadRow {
            at: views::when(e.at),
            from: match from {
                "" => b["by"].as_str().unwrap_or_default().to_owned(),
                who => who.to_owned(),
            },
            message: b["message"].as_str().unwrap_or_default().to_owned(),
            answer_by: b["answer_by"].as_str().unwrap_or_default().to_owned(),
        });
    }
    let postponed_until = match case.status {
        CaseStatus::Postponed => query
            .latest_case_event(case_id, custos_model::EventType::RequestPostponed)
            .await?
            .and_then(|e| {
                serde_json::from_str::<serde_json::Value>(&e.body)
                    .ok()
                    .and_then(|b| b["until"].as_str().map(str::to_owned))
            }),
        _ => None,
    };
    let classification = request
        .investigation
        .offences
        .iter()
        .zip(&current)
        .enumerate()
        .map(|(index, (o, now))| {
            let form_penalty = match serde_json::to_value(now.max_penalty) {
                Ok(Value::String(s)) => s,
                Ok(v) => v.to_string(),
                Err(_) => String::new(),
            };
            let sent_at = |list: &[String]| {
                sent_reclass
                    .and_then(|f| f.offence.iter().position(|i| i == &index.to_string()))
                    .and_then(|i| list.get(i).cloned())
            };
            ClassificationRow {
                index,
                name: o.name.to_string(),
                asked_category: o.category.to_string(),
                asked_penalty: o.max_penalty.to_string(),
                category: now.category.to_string(),
                penalty: now.max_penalty.to_string(),
                changed: now.category != o.category || now.max_penalty != o.max_penalty,
                form_category: sent_at(
                    sent_reclass
                        .map(|f| f.offence_category.as_slice())
                        .unwrap_or_default(),
                )
                .unwrap_or_else(|| now.category.to_string()),
                form_penalty: sent_at(
                    sent_reclass
                        .map(|f| f.offence_penalty.as_slice())
                        .unwrap_or_default(),
                )
                .unwrap_or(form_penalty),
            }
        })
        .collect();
    let reassessed = case
        .reclassification
        .as_ref()
        .filter(|r| !r.corrections.is_empty())
        .map(|r| ReassessedView {
            original_outcome: r.original.outcome.as_str().to_owned(),
            original_label: r.original.outcome.label(),
            original_findings: finding_codes(&r.original),
            corrections: r
                .corrections
                .iter()
                .map(|k| {
                    let mut s = format!(
                        "{} by {}",
                        views::corrections_text(&json!(k.offences)),
                        k.reviewer
                    );
                    if let Some(by) = &k.confirmed_by {
                        s.push_str(&format!(", confirmed by {by}"));
                    }
                    s.push_str(&format!(" on {}: {}", views::when(k.at), k.reason));
                    s
                })
                .collect(),
        });
    let can_reclassify = can_decide;
    let pending = pending.map(|p| PendingView {
        decision: p.decision_label().to_owned(),
        reviewer: p.reviewer.clone(),
        reason: p.reason.clone(),
        narrowed: p
            .narrowed
            .as_ref()
            .map(|n| {
                let mut terms = format!(
                    "{}; period {}",
                    views::categories_text(&n.data_categories.to_string()),
                    views::period_text(n.period.as_ref())
                );
                if let Some(t) = &n.targets {
                    let kept: Vec<&str> = t.iter().map(|v| v.as_str()).collect();
                    terms.push_str(&format!("; targets kept: {}", kept.join(", ")));
                }
                if let Some(u) = n.confidentiality_until {
                    terms.push_str(&format!("; secrecy ends {}", views::when(u)));
                }
                terms
            })
            .unwrap_or_default(),
    });
    let now = c.node.now();
    let hold = query.active_hold(case_id).await?.map(|h| {
        hold_view(
            &h,
            &case.request_id,
            now,
            c.node.config.lifecycle.preservation_days,
        )
    });
    let notice = query
        .notice(case_id)
        .await?
        .map(|n| super::holds::notice_view(&n, now));
    let mut evidence = Vec::new();
    for e in query.evidence_for_case(case_id).await? {
        let targets = query.evidence_targets(&e).await?.join(", ");
        evidence.push(EvidenceView {
            digest_kind: e.digest_kind.label(),
            digest: e.package_digest,
            targets,
            size: format!("{} bytes", e.size),
            sealed_at: views::when(e.sealed_at),
            delivered_at: views::when_opt(e.delivered_at),
            destroyed_at: views::when_opt(e.destroyed_at),
        });
    }
    let extensions = query
        .case_extensions(case_id)
        .await?
        .iter()
        .map(extension_row)
        .collect();
    let defaults = default_form(&request, &assessment);
    let form = match sent {
        Sent::Decision(f) => sent_form(defaults, f),
        _ => defaults,
    };
    let deadline = deadline_facts(c, &case).await?;
    let supplements = query
        .supplements(case_id)
        .await?
        .iter()
        .map(|s| SupplementSection {
            at: views::when(s.at),
            at_attr: views::datetime_attr(s.at),
            rows: views::change_rows(&s.changes),
        })
        .collect();
    Ok(RequestPage {
        layout: v.layout(format!("Case {case_id}"), "queue"),
        case_id,
        request_id: case.request_id.clone(),
        status_label: views::status_label(case.status),
        outcome: case.outcome.as_str().to_owned(),
        outcome_label: case.outcome.label(),
        profile: assessment.profile.clone(),
        respond_by: views::when(case.respond_by),
        respond_in: views::relative(case.respond_by, now),
        deadline,
        supplements,
        emergency: case.emergency,
        order: super::order::section(c, case_id, can_change).await?,
        verified,
        verification,
        callback,
        authority_kid: case.authority_kid.clone(),
        authority: authority_facts,
        signature_ok,
        signature,
        facts: RequestFacts::new(&request),
        findings: views::findings(&assessment),
        comparison: views::comparison(&request, &assessment),
        timeline,
        decision,
        version,
        can_deliver: can_change && case.status == CaseStatus::Executing,
        can_close: can_change
            && matches!(
                case.status,
                CaseStatus::Executing
                    | CaseStatus::Delivered
                    | CaseStatus::Refused
                    | CaseStatus::Withdrawn
            ),
        notify_warning: match (&request.confidentiality, case.notify_person_at) {
            (Some(c), _) if c.requested => None,
            (_, Some(at)) => Some(format!(
                "No secrecy was asked: once executed, the node tells the person concerned {} (notice due {}). If the investigation needs secrecy, consult the requester first.",
                if at <= now {
                    "at once"
                } else {
                    "when the notice falls due"
                },
                views::when(at)
            )),
            _ => None,
        },
        second_reason: match sent {
            Sent::SecondReview(f) => f.second_reason.clone(),
            _ => String::new(),
        },
        back: None,
        kept_in: match sent {
            Sent::Nothing => "",
            Sent::Decision(_) => "decide",
            Sent::Reclassification(_) => "reclassify",
            Sent::Postponement(_) => "postpone",
            Sent::Consultation(_) => "consult",
            Sent::SecondReview(_) => "second-review",
            Sent::Note(_) => "note",
        },
        conditions,
        can_decide,
        form,
        classification,
        categories: custos_model::OffenceCategory::ALL
            .iter()
            .map(|c| c.as_str())
            .collect(),
        reassessed,
        can_reclassify,
        postpone_reason,
        postpone_until,
        postponed_until,
        can_postpone: can_change && case.status == CaseStatus::Assessed,
        consult_message,
        consult_answer_by,
        thread,
        reclass_reason: sent_reclass
            .map(|f| f.reclass_reason.clone())
            .unwrap_or_default(),
        pending_correction,
        pending,
        can_second_review,
        second_review_note,
        hold,
        notice,
        notice_back: "request",
        evidence,
        extensions,
        extension_form: ExtensionForm::default(),
        links,
        desk: super::desk::section(c, &case, &v.user, sent).await?,
        refusal,
        flash,
        attachments: super::attachments::section(c, case_id, &events, can_change),
        templates: super::attachments::templates(c, &assessment),
    })
}

/// The codes of an assessment's findings, or "none".
fn finding_codes(a: &Assessment) -> String {
    if a.findings.is_empty() {
        return "none".into();
    }
    a.findings
        .iter()
        .map(|f| format!("{} ({})", f.code, f.severity.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn extension_row(x: &Extension) -> ExtensionRow {
    let by = x.decided_by.as_deref().unwrap_or("?");
    let on = views::when_opt(x.decided_at);
    let reason = x.decision_reason.as_deref().unwrap_or("");
    let answer = match x.status {
        ExtensionStatus::Pending => String::new(),
        ExtensionStatus::Granted => format!(
            "Granted to {} by {by} on {on}: {reason}",
            views::when_opt(x.granted_until)
        ),
        ExtensionStatus::Refused => format!("Refused by {by} on {on}: {reason}"),
    };
    ExtensionRow {
        id: x.extension_id,
        kind: views::extension_kind(x.kind),
        pending: x.status == ExtensionStatus::Pending,
        asked_at: views::when(x.asked_at),
        current_until: views::when(x.current_until),
        asked_until: views::when(x.asked_until),
        asked_until_value: views::input_time(x.asked_until),
        reasons: x.reasons.clone(),
        answer,
    }
}

pub(super) fn hold_view(
    h: &Hold,
    request_id: &str,
    now: Timestamp,
    preservation_days: u32,
) -> HoldView {
    HoldView {
        renews_to: views::when(custos_service::ops::renewed_end(
            h.expires_at,
            now,
            preservation_days,
        )),
        case_id: h.case_id,
        request_id: request_id.to_owned(),
        started_at: views::when(h.started_at),
        expires_at: views::when(h.expires_at),
        expires_in: views::relative(h.expires_at, now),
        due_class: views::hold_badge(h.expires_at, now).0,
        renewals: h.renewals,
    }
}

const FLASHES: &[(&str, &str)] = &[
    ("hold-released", "Preservation hold released and logged."),
    ("notice-acted", "Notice action recorded and logged."),
    (
        "callback-recorded",
        "Call-back recorded and logged; a supervisor who did not record it must confirm it.",
    ),
    ("callback-reviewed", "Call-back reviewed and logged."),
    (
        "deletion-requested",
        "Deletion asked and logged; the requester reads the message in its reply.",
    ),
    (
        "reclassified",
        "Classification corrected and the request assessed again; both assessments are kept and logged.",
    ),
    (
        "reclassification-proposed",
        "Correction proposed; it lightens the recommendation, so it takes effect when a second reviewer (a supervisor) confirms it.",
    ),
    (
        "extension-granted",
        "Extension granted and logged; the end of confidentiality and the notice moved.",
    ),
    ("extension-refused", "Extension refused and logged."),
    ("decided", "Decision recorded and logged."),
    ("delivered", "Marked delivered and logged."),
    ("closed", "Case closed and logged."),
    (
        "proposed",
        "Decision proposed; it takes effect when a second reviewer (a supervisor) confirms it.",
    ),
    ("confirmed", "Second review recorded and logged: confirmed."),
    (
        "sent-back",
        "Sent back and logged: the proposal is withdrawn and the case can be decided again.",
    ),
    ("renewed", "Preservation hold renewed and logged."),
    (
        "consulted",
        "Consultation sent and logged; the case awaits the requester's answer or the date.",
    ),
    (
        "postponed",
        "Postponed and logged; the requester reads the reason and the date, and the case awaits a decision again then.",
    ),
    (
        "attached",
        "File attached and logged; it is kept by its digest and shown to staff only.",
    ),
    (
        "information",
        "Request for information recorded and logged; the requester can now supplement the request.",
    ),
    (
        "taken",
        "You have this case now; the queue shows it as yours.",
    ),
    ("released", "Case released; no one has it now."),
    (
        "noted",
        "Note added and logged; the requester never sees it.",
    ),
];

/// `GET /console/requests/{case}`.
pub async fn request_page(
    State(c): Shared,
    Path(case_id): Path<i64>,
    jar: CookieJar,
    RawQuery(q): RawQuery,
) -> Response {
    let v = match page_viewer(&c, &jar, &format!("/console/requests/{case_id}")).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let done = query_get(&query_pairs(&q), "done");
    let flash = FLASHES
        .iter()
        .find(|(k, _)| Some(*k) == done.as_deref())
        .map(|(_, text)| *text);
    match request_view(&c, &v, case_id, Sent::Nothing, None, flash).await {
        Ok(mut page) => {
            // The list the reviewer came from, kept by the queue (its filters survive the visit).
            page.back = cookie_value(&jar, super::queue::LIST_COOKIE);
            render(StatusCode::OK, &page)
        }
        Err(p) => error_page(v.layout("Case", "queue"), &p),
    }
}

/// The page again with a refusal of a form that keeps nothing typed (an upload).
pub(super) async fn refused_page(c: &Console, v: &Viewer, case_id: i64, p: &Problem) -> Response {
    refused(c, v, case_id, Sent::Nothing, p).await
}

/// The page again, with the refusal and what was sent (the decision form as sent, if it was).
async fn refused(c: &Console, v: &Viewer, case_id: i64, sent: Sent<'_>, p: &Problem) -> Response {
    let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
    match request_view(c, v, case_id, sent, Some(p.into()), None).await {
        Ok(page) => render(status, &page),
        Err(p2) => error_page(v.layout("Case", "queue"), &p2),
    }
}

/// The typed conditions the form sets (empty boxes set none); the node checks each.
fn conditions_of(form: &DecisionFields) -> Result<Vec<Value>, Problem> {
    let mut out = Vec::new();
    let purposes = form.cond_use_limitation.trim();
    if !purposes.is_empty() {
        out.push(json!({"kind": "use_limitation", "purposes": purposes}));
    }
    if !form.cond_confidentiality.is_empty() {
        let text = form.cond_confidentiality_text.trim();
        out.push(if text.is_empty() {
            json!({"kind": "confidentiality"})
        } else {
            json!({"kind": "confidentiality", "text": text})
        });
    }
    let days = form.cond_deletion_days.trim();
    if !days.is_empty() {
        let n: u32 = days.parse().map_err(|_| {
            Problem::unprocessable(
                "invalid-decision",
                format!("$.conditions: deletion after {days:?} days is not a whole number of days"),
            )
        })?;
        out.push(json!({"kind": "deletion_after", "days": n}));
    }
    for line in form.cond_free_text.lines().map(str::trim) {
        if !line.is_empty() {
            out.push(json!({"kind": "free_text", "text": line}));
        }
    }
    Ok(out)
}

/// One supplement of the request and the fields it changed (issue 16).
#[derive(Debug, Clone)]
pub struct SupplementSection {
    pub at: String,
    pub at_attr: String,
    pub rows: Vec<views::ChangeRow>,
}

/// The case's deadline as the request page shows it (the service's rule, at the node's clock).
#[derive(Debug, Clone)]
pub struct DeadlineFacts {
    pub due_class: &'static str,
    pub due_label: &'static str,
    /// `respond_by` for `<time datetime>`.
    pub due_attr: String,
    /// "Deadline restarted by supplement at …", when a supplement restarted the clock.
    pub restarted: Option<String>,
    /// Executing this case tells the person concerned at once (no secrecy holds the notice).
    pub notifies_at_once: bool,
}

async fn deadline_facts(c: &Console, case: &Case) -> Result<DeadlineFacts, Problem> {
    let now = c.node.now();
    let (due_class, due_label) = views::deadline_badge(case, now);
    let restarted = c.node.query().deadline_restarted_at(case.case_id).await?;
    let pending = case.decision.as_ref().or(case.pending_decision.as_ref());
    Ok(DeadlineFacts {
        due_class,
        due_label,
        due_attr: views::datetime_attr(case.respond_by),
        restarted: restarted
            .map(|t| format!("Deadline restarted by supplement at {}", views::when(t))),
        notifies_at_once: pending.is_none()
            && custos_service::ops::notifies_at_once(case.notify_person_at, None, now),
    })
}

/// The decision as the API takes it, built from the form (so the API's own checks apply).
pub(super) fn decision_input(form: &DecisionFields) -> Result<DecisionInput, Problem> {
    let decision = form.decision.as_str();
    if form.finding_code.len() != form.finding_reason.len() {
        return Err(Problem::unprocessable(
            "invalid-decision",
            "$.finding_reasons: the form's findings and their reasons do not pair up; reload the page",
        ));
    }
    // Blank boxes are left out: a reason is required only to execute over a referral, and the
    // node says which one is missing.
    let finding_reasons: serde_json::Map<String, Value> = form
        .finding_code
        .iter()
        .zip(&form.finding_reason)
        .filter(|(_, r)| !r.trim().is_empty())
        .map(|(c, r)| (c.clone(), json!(r)))
        .collect();
    let mut v = json!({
        "decision": decision,
        "reason": form.reason,
        "grounds": form.grounds,
        "finding_reasons": finding_reasons,
    });
    if decision == "request_information" {
        v["message"] = json!(form.message);
    }
    if !form.internal_note.trim().is_empty() {
        v["internal_note"] = json!(form.internal_note);
    }
    if matches!(decision, "execute" | "execute_narrowed") {
        let conditions = conditions_of(form)?;
        if !conditions.is_empty() {
            v["conditions"] = Value::Array(conditions);
        }
    }
    if decision == "execute_narrowed" {
        let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        // Date inputs send `2027-03-01T00:00` (UTC, as labelled): RFC 3339 for the API.
        let time = |s: &str, pointer: &str, words: &str| -> Result<Option<String>, Problem> {
            text(s)
                .map(|t| {
                    views::parse_input_time(&t, words)
                        .map(|ts| ts.to_string())
                        .map_err(|e| {
                            Problem::unprocessable("invalid-decision", format!("{pointer}: {e}"))
                        })
                })
                .transpose()
        };
        let from = time(&form.period_from, "$.narrowed.period", "Period from")?;
        let to = time(&form.period_to, "$.narrowed.period", "Period to")?;
        let period = match (from, to) {
            (Some(from), Some(to)) => json!({ "from": from, "to": to }),
            (None, None) => Value::Null,
            _ => {
                return Err(Problem::unprocessable(
                    "invalid-decision",
                    "$.narrowed.period: give both the start and the end of the period, or neither",
                ));
            }
        };
        let until = time(
            &form.confidentiality_until,
            "$.narrowed.confidentiality_until",
            "Secrecy ends",
        )?;
        v["narrowed"] = json!({
            "data_categories": form.categories,
            "period": period,
        });
        // Blank keeps the end asked (as the profile limits it); null would lift secrecy.
        if let Some(until) = until {
            v["narrowed"]["confidentiality_until"] = json!(until);
        }
        // Every target offered still checked: all of them (the field left out).
        let offered: BTreeSet<&String> = form.target_offered.iter().collect();
        let kept: BTreeSet<&String> = form.targets.iter().collect();
        if !offered.is_empty() && kept != offered {
            v["narrowed"]["targets"] = json!(form.targets);
        }
    }
    if decision.is_empty() {
        return Err(Problem::unprocessable(
            "invalid-decision",
            "$.decision: choose what to decide (execute, execute narrowed, ask for information or refuse)",
        ));
    }
    serde_json::from_value(v).map_err(|e| {
        Problem::unprocessable(
            "invalid-decision",
            format!("the form does not make a valid decision: {e}"),
        )
    })
}

/// A writer job waiting for its reply channel.
pub(super) type MakeJob<T> =
    Box<dyn FnOnce(tokio::sync::oneshot::Sender<Result<T, Problem>>) -> Job + Send>;

/// The common path of a case form: check the session and the form's CSRF token, turn the form
/// into a writer job (`make`, which may refuse the form first), run it, then redirect to where
/// `done` says, or show the page again with the refusal (and `sent`, the decision form as sent).
/// `version` is the case's `ETag` as the page showed it (the form's hidden `version`): a case
/// changed since is refused (412, before the form's own refusals), as the API's `If-Match`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn case_form<T>(
    c: &Console,
    case_id: i64,
    jar: &CookieJar,
    csrf: &str,
    version: &str,
    sent: Sent<'_>,
    make: impl FnOnce(User) -> Result<MakeJob<T>, Problem>,
    done: impl FnOnce(&T) -> String,
) -> Response {
    let v = match form_viewer(c, jar, csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let if_match = if_match(version);
    if let Err(p) = if_match.check(&c.node, case_id).await {
        return refused(c, &v, case_id, sent, &p).await;
    }
    let job = match make(v.user.clone()) {
        Ok(job) => job,
        Err(p) => return refused(c, &v, case_id, sent, &p).await,
    };
    match if_match.call(&c.node, case_id, job).await {
        Ok(result) => see_other(&done(&result)),
        Err(p) => refused(c, &v, case_id, sent, &p).await,
    }
}

/// The `If-Match` a form's hidden `version` stands for (none when the form sent none).
pub(super) fn if_match(version: &str) -> IfMatch {
    IfMatch(Some(version.trim().to_owned()).filter(|v| !v.is_empty()))
}

/// `POST /console/requests/{case}/decision`.
pub async fn decide(
    State(c): Shared,
    Path(case_id): Path<i64>,
    jar: CookieJar,
    Posted(form): Posted<DecisionFields>,
) -> Response {
    if !form.insert_template.is_empty() {
        return with_template(&c, case_id, &jar, form).await;
    }
    case_form(
        &c,
        case_id,
        &jar,
        &form.csrf,
        &form.version,
        Sent::Decision(&form),
        |user| {
            let input = decision_input(&form)?;
            Ok(Box::new(move |reply| Job::Decide {
                case_id,
                user,
                input,
                reply,
            }))
        },
        |case: &Case| {
            let done = match case.status {
                CaseStatus::AwaitingSecondReview => "proposed",
                CaseStatus::AwaitingInformation => "information",
                _ => "decided",
            };
            format!("/console/requests/{case_id}?done={done}")
        },
    )
    .await
}

/// The decision form again, as sent, with the template of the ground asked for added to the
/// message (asking for information) or the reason, and that ground checked: the "insert
/// template" of a browser without JavaScript. Nothing is recorded.
async fn with_template(
    c: &Console,
    case_id: i64,
    jar: &CookieJar,
    form: DecisionFields,
) -> Response {
    let v = match form_viewer(c, jar, &form.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let ground = form.insert_template.clone();
    let mut form = form;
    if let Some(text) = custos_service::templates::template_for(&c.node.config.templates, &ground) {
        if form.decision == "request_information" {
            form.message = super::attachments::appended(&form.message, &text);
        } else {
            form.reason = super::attachments::appended(&form.reason, &text);
        }
        if !form.grounds.contains(&ground) {
            form.grounds.push(ground);
        }
    }
    match request_view(c, &v, case_id, Sent::Decision(&form), None, None).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(p) => error_page(v.layout("Case", "queue"), &p),
    }
}

/// The reclassification as the API takes it, built from the form: the offences whose category
/// or penalty differs from the classification in force (`current`), and the reason.
pub(super) fn reclassification_input(
    form: &ReclassifyFields,
    current: &[custos_service::ops::Classification],
) -> Result<ReclassificationInput, Problem> {
    let located = |pointer: String, detail: &str| {
        let mut p =
            Problem::unprocessable("invalid-reclassification", format!("{pointer}: {detail}"));
        p.errors.push(custos_service::problem::FieldProblem {
            pointer,
            detail: detail.to_owned(),
        });
        p
    };
    if form.offence.len() != form.offence_category.len()
        || form.offence.len() != form.offence_penalty.len()
    {
        return Err(located(
            "$.offences".into(),
            "the form's offences, categories and penalties do not pair up; reload the page",
        ));
    }
    let mut offences = Vec::new();
    for ((index, category), penalty) in form
        .offence
        .iter()
        .zip(&form.offence_category)
        .zip(&form.offence_penalty)
    {
        let n = offences.len();
        let Some((i, now)) = index
            .parse::<usize>()
            .ok()
            .and_then(|i| current.get(i).map(|c| (i, c)))
        else {
            return Err(located(
                format!("$.offences[{n}].index"),
                &format!("{index:?} is not an offence of this request"),
            ));
        };
        let penalty = penalty.trim();
        let max_penalty = match penalty {
            "life" | "death" => json!(penalty),
            _ => match penalty.parse::<f64>() {
                Ok(y) if y.is_finite() && y >= 0.0 => json!(y),
                _ => {
                    return Err(located(
                        format!("$.offences[{n}].max_penalty"),
                        &format!(
                            "{penalty:?} is not a penalty; give a number of years, or \"life\", or \"death\""
                        ),
                    ));
                }
            },
        };
        let mut o = serde_json::Map::new();
        if category.trim() != now.category.as_str() {
            o.insert("category".into(), json!(category.trim()));
        }
        let typed: custos_model::MaxPenalty = serde_json::from_value(max_penalty.clone())
            .map_err(|e| located(format!("$.offences[{n}].max_penalty"), &e.to_string()))?;
        if typed != now.max_penalty {
            o.insert("max_penalty".into(), max_penalty);
        }
        if !o.is_empty() {
            o.insert("index".into(), json!(i));
            offences.push(Value::Object(o));
        }
    }
    serde_json::from_value(json!({ "offences": offences, "reason": form.reclass_reason })).map_err(
        |e| {
            located(
                "$.offences".into(),
                &format!("the form does not make a valid correction: {e}"),
            )
        },
    )
}

/// `POST /console/requests/{case}/reclassification`.
pub async fn reclassify(
    State(c): Shared,
    Path(case_id): Path<i64>,
    jar: CookieJar,
    Posted(form): Posted<ReclassifyFields>,
) -> Response {
    // The classification in force, to tell what the form changes (a case that is not found is
    // refused after the session check, like every form).
    let current = load(&c, case_id).await.map(|l| {
        custos_service::ops::reclassification::corrected(
            &l.request,
            l.case
                .reclassification
                .as_ref()
                .map(|r| r.corrections.as_slice())
                .unwrap_or_default(),
        )
    });
    case_form(
        &c,
        case_id,
        &jar,
        &form.csrf,
        &form.version,
        Sent::Reclassification(&form),
        |user| {
            let input = reclassification_input(&form, &current?)?;
            Ok(Box::new(move |reply| Job::Reclassify {
                case_id,
                user,
                input,
                reply,
            }))
        },
        |case: &Case| {
            let done = match case.status {
                CaseStatus::AwaitingSecondReview => "reclassification-proposed",
                _ => "reclassified",
            };
            format!("/console/requests/{case_id}?done={done}")
        },
    )
    .await
}

/// `POST /console/requests/{case}/second-review`: `confirm` is `yes` or `no`.
pub async fn second_review(
    State(c): Shared,
    Path(case_id): Path<i64>,
    jar: CookieJar,
    Posted(form): Posted<SecondReviewFields>,
) -> Response {
    let confirm = form.confirm == "yes";
    case_form(
        &c,
        case_id,
        &jar,
        &form.csrf,
        &form.version,
        Sent::SecondReview(&form),
        |user| {
            let input = SecondReviewInput {
                confirm,
                reason: form.second_reason.clone(),
            };
            Ok(Box::new(move |reply| Job::SecondReview {
                case_id,
                user,
                input,
                reply,
            }))
        },
        // Sending back is not a confirmation: each says what happened.
        |_: &Case| {
            let done = if confirm { "confirmed" } else { "sent-back" };
            format!("/console/requests/{case_id}?done={done}")
        },
    )
    .await
}

/// `POST /console/requests/{case}/consultation`: consult the requester, with a message it
/// reads and a date to answer by. A refusal shows the page again with what was typed.
pub async fn consult(
    State(c): Shared,
    Path(case_id): Path<i64>,
    jar: CookieJar,
    Posted(form): Posted<ConsultFields>,
) -> Response {
    case_form(
        &c,
        case_id,
        &jar,
        &form.csrf,
        &form.version,
        Sent::Consultation(&form),
        |user| {
            let answer_by = views::parse_input_time(&form.answer_by, "Answer by").map_err(|e| {
                Problem::unprocessable("invalid-consultation", format!("$.answer_by: {e}"))
            })?;
            let input = custos_service::ops::ConsultationInput {
                message: form.message.clone(),
                answer_by,
            };
            Ok(Box::new(move |reply| Job::Consult {
                case_id,
                user,
                input,
                reply,
            }))
        },
        |_: &Case| format!("/console/requests/{case_id}?done=consulted"),
    )
    .await
}

/// `POST /console/requests/{case}/postponement`: postpone the decision until a date, with a
/// reason the requester reads. A refusal shows the page again with what was typed.
pub async fn postpone(
    State(c): Shared,
    Path(case_id): Path<i64>,
    jar: CookieJar,
    Posted(form): Posted<PostponeFields>,
) -> Response {
    case_form(
        &c,
        case_id,
        &jar,
        &form.csrf,
        &form.version,
        Sent::Postponement(&form),
        |user| {
            let until = views::parse_input_time(&form.until, "Postponed until").map_err(|e| {
                Problem::unprocessable("invalid-postponement", format!("$.until: {e}"))
            })?;
            let input = custos_service::ops::PostponementInput {
                reason: form.reason.clone(),
                until,
            };
            Ok(Box::new(move |reply| Job::Postpone {
                case_id,
                user,
                input,
                reply,
            }))
        },
        |_: &Case| format!("/console/requests/{case_id}?done=postponed"),
    )
    .await
}

/// `POST /console/requests/{case}/hold/renew` (from the request page, or the holds page with
/// `back=holds`).
pub async fn renew(
    State(c): Shared,
    Path(case_id): Path<i64>,
    jar: CookieJar,
    Posted(form): Posted<RenewFields>,
) -> Response {
    case_form(
        &c,
        case_id,
        &jar,
        &form.csrf,
        &form.version,
        Sent::Nothing,
        |user| {
            let reason = form.reason.trim().to_owned();
            // An auditor hears the role refusal (the writer's), not a form problem.
            if reason.is_empty() && user.role != Role::Auditor {
                return Err(Problem::unprocessable(
                    "invalid-hold-change",
                    "$.reason: say why the hold is renewed",
                ));
            }
            let input = custos_service::ops::HoldRenewalInput {
                reason: Some(reason).filter(|r| !r.is_empty()),
            };
            Ok(Box::new(move |reply| Job::Renew {
                case_id,
                user,
                input,
                reply,
            }))
        },
        |_: &Hold| match form.back.as_str() {
            "holds" => "/console/holds?done=renewed".to_owned(),
            _ => format!("/console/requests/{case_id}?done=renewed"),
        },
    )
    .await
}

/// `POST /console/requests/{case}/extensions/{extension}/decision`: grant (to the date given,
/// or the date asked) or refuse a request to extend secrecy. A refusal of the form shows the
/// page again with what was typed.
pub async fn decide_extension(
    State(c): Shared,
    Path((case_id, extension_id)): Path<(i64, i64)>,
    jar: CookieJar,
    Posted(form): Posted<ExtensionFields>,
) -> Response {
    let v = match form_viewer(&c, &jar, &form.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let if_match = if_match(&form.version);
    let input = match if_match.check(&c.node, case_id).await {
        Ok(()) => extension_input(&form),
        Err(p) => Err(p),
    };
    let result = match input {
        Ok(input) => {
            let user = v.user.clone();
            if_match
                .call(&c.node, case_id, |reply| Job::DecideExtension {
                    case_id,
                    extension_id,
                    user,
                    input,
                    reply,
                })
                .await
        }
        Err(p) => Err(p),
    };
    let p = match result {
        Ok(x) => {
            let done = match x.status {
                ExtensionStatus::Granted => "extension-granted",
                _ => "extension-refused",
            };
            return see_other(&format!(
                "/console/requests/{case_id}?done={done}#h-extensions"
            ));
        }
        Err(p) => p,
    };
    let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
    // The extension's own fields, not the decision form's of the same name.
    let mut refusal = Refusal::from(&p);
    refusal.field = match refusal.field.as_str() {
        "reason" => format!("extension-reason-{extension_id}"),
        "postpone-until" => format!("until-{extension_id}"),
        "decision-grant" => format!("grant-{extension_id}"),
        other => other.to_owned(),
    };
    match request_view(&c, &v, case_id, Sent::Nothing, Some(refusal), None).await {
        Ok(mut page) => {
            page.extension_form = ExtensionForm {
                id: extension_id,
                decision: form.decision,
                until: form.until,
                reason: form.reason,
            };
            render(status, &page)
        }
        Err(p2) => error_page(v.layout("Case", "queue"), &p2),
    }
}

/// The decision on an extension as the API takes it, built from the form.
fn extension_input(form: &ExtensionFields) -> Result<ExtensionDecisionInput, Problem> {
    let grant = match form.decision.as_str() {
        "grant" => true,
        "refuse" => false,
        _ => {
            return Err(Problem::unprocessable(
                "invalid-extension",
                "$.grant: choose whether to grant or refuse the extension",
            ));
        }
    };
    let until =
        match form.until.trim() {
            "" => None,
            t => Some(views::parse_input_time(t, "Grant until").map_err(|e| {
                Problem::unprocessable("invalid-extension", format!("$.until: {e}"))
            })?),
        };
    Ok(ExtensionDecisionInput {
        grant,
        // A refusal sets no date: the grant's date field is ignored when refusing.
        until: until.filter(|_| grant),
        reason: form.reason.clone(),
    })
}

/// The form that marks a case delivered or closed: `to` is `delivered` or `closed`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AdvanceFields {
    csrf: String,
    version: String,
    to: String,
}

/// `POST /console/requests/{case}/status`: mark an executed case delivered, or close a case (the
/// API's `/delivered` and `/closed`, the same writer job).
pub async fn advance(
    State(c): Shared,
    Path(case_id): Path<i64>,
    jar: CookieJar,
    Posted(form): Posted<AdvanceFields>,
) -> Response {
    case_form(
        &c,
        case_id,
        &jar,
        &form.csrf,
        &form.version,
        Sent::Nothing,
        |user| {
            let to = match form.to.as_str() {
                "delivered" => CaseStatus::Delivered,
                "closed" => CaseStatus::Closed,
                other => {
                    return Err(Problem::unprocessable(
                        "invalid-status",
                        format!("{other:?} is not a step a case can take here; choose Delivered or Close"),
                    ));
                }
            };
            Ok(Box::new(move |reply| Job::Advance {
                case_id,
                user,
                to,
                reply,
            }))
        },
        |case: &Case| {
            let done = match case.status {
                CaseStatus::Delivered => "delivered",
                _ => "closed",
            };
            format!("/console/requests/{case_id}?done={done}")
        },
    )
    .await
}
