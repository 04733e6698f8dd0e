//! The notice to the person concerned (`custos.notice/v1`): what was handed over, to whom, on
//! which basis and when, and how to challenge it. Rendered from the case as the log has it, as
//! JSON (what the operator's `notice_command` reads on its standard input) with the same words as
//! plain text inside it, and never carrying a target identifier: the command, not the notice,
//! knows whom to address (the notice says *to the person concerned*; the operator's own systems
//! hold the account). Pure: no I/O.
//!
//! Rules and their legal basis:
//! * a person whose data were handed over is told, when secrecy ends, so they can challenge the
//!   measure: a Custos policy of the `rights-first` profile, answering the critics' demand for
//!   user notification (the Convention itself has no notice duty); cf. EU Reg. 2023/1543
//!   art. 13(1);
//! * the notice names the remedies open to the person: cf. EU Reg. 2023/1543 art. 13(3)
//!   (information on remedies); the text is the operator's, per jurisdiction (`remedies` in the
//!   jurisdiction file), with a plain default that claims no particular remedy.

use custos_model::{DataCategories, Measure, Period, Request};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::Case;
use super::decision::schema;

/// The `format` of a notice.
pub const NOTICE_FORMAT: &str = "custos.notice/v1";

/// The remedies text when the jurisdiction file gives none. It claims no particular remedy: what
/// is open depends on the law of the receiving jurisdiction.
pub const DEFAULT_REMEDIES: &str = "You may be able to challenge this disclosure, for example \
before a court or an independent data-protection authority. Ask the organisation that sent you \
this notice which remedies are open to you, where to apply, and by when.";

/// What a notice says about the receiving side, from the node's jurisdiction file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeSettings {
    /// Who received and decided the request (the jurisdiction's `name`), if configured.
    pub receiver: Option<String>,
    /// How to challenge the disclosure (the jurisdiction's `remedies`, or [`DEFAULT_REMEDIES`]).
    pub remedies: String,
}

impl Default for NoticeSettings {
    fn default() -> Self {
        NoticeSettings {
            receiver: None,
            remedies: DEFAULT_REMEDIES.to_owned(),
        }
    }
}

/// A notice to the person concerned by a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NoticeDocument {
    /// Always `custos.notice/v1`.
    pub format: String,
    /// Always `person_concerned`: the notice names nobody; the operator's command addresses it.
    pub addressed_to: String,
    /// The node's case number.
    pub case: i64,
    /// The requester's id of the request.
    pub request_id: String,
    /// When this notice was made.
    #[schema(value_type = String, format = DateTime)]
    pub issued_at: Timestamp,
    /// Who received and decided the request, if the operator named it.
    pub receiver: Option<String>,
    /// The state that asked (ISO 3166-1 alpha-2).
    pub requesting_state: String,
    /// The authority of that state that asked.
    pub requesting_authority: String,
    /// The measure asked for.
    #[schema(schema_with = measure_schema)]
    pub measure: Measure,
    /// The data categories handed over (the decision's narrowed terms when it narrowed).
    #[schema(schema_with = schema::data_categories)]
    pub data_categories: DataCategories,
    /// The period the data handed over cover, if the request named one.
    #[schema(schema_with = schema::period_or_null)]
    pub period: Option<Period>,
    /// Whether less was handed over than was asked.
    pub narrowed: bool,
    /// The legal basis: the Convention's articles for the measure, and the order behind the
    /// request as the requester stated it.
    pub legal_basis: Vec<String>,
    /// When the hand-over was decided.
    #[schema(value_type = String, format = DateTime)]
    pub decided_at: Timestamp,
    /// When data were first handed over, if the node's log records it.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub handed_over_at: Option<Timestamp>,
    /// When confidentiality ended, if it has been recorded.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub confidentiality_ended_at: Option<Timestamp>,
    /// How to challenge the disclosure.
    pub remedies: String,
    /// The same notice in plain words, ready to send.
    pub text: String,
}

/// What a notice is made from, beyond the case itself.
#[derive(Debug, Clone, Copy)]
pub struct NoticeFacts {
    /// When data were first handed over (the first `evidence.delivered`), if ever.
    pub handed_over_at: Option<Timestamp>,
    /// When confidentiality ended, if recorded.
    pub confidentiality_ended_at: Option<Timestamp>,
    /// Now.
    pub issued_at: Timestamp,
}

impl NoticeDocument {
    /// The notice of an executed case. Fails (with what is wrong) for a case with no decision
    /// to hand anything over, or whose stored request does not parse.
    pub fn of(
        case: &Case,
        settings: &NoticeSettings,
        facts: NoticeFacts,
    ) -> Result<NoticeDocument, String> {
        let request: Request = serde_json::from_str(&case.request_json).map_err(|e| {
            format!(
                "the stored request of case {} does not parse: {e}",
                case.case_id
            )
        })?;
        let decision = case
            .decision
            .as_ref()
            .filter(|d| {
                matches!(
                    d.decision,
                    super::DecisionKind::Execute | super::DecisionKind::ExecuteNarrowed
                )
            })
            .ok_or_else(|| {
                format!(
                    "case {} has no decision to hand anything over; it owes no notice",
                    case.case_id
                )
            })?;
        let reach = request.measure.reach();
        let (data_categories, period) = match &decision.narrowed {
            Some(n) => (n.data_categories.intersection(reach), n.period),
            None => (request.data_categories.intersection(reach), request.period),
        };
        let narrowed = data_categories != request.data_categories || period != request.period;
        let mut legal_basis = vec![format!(
            "UN Convention against Cybercrime (UNCC), {} ({})",
            request
                .measure
                .basis()
                .trim_start_matches("UNCC ")
                .to_owned(),
            request.measure.describe()
        )];
        if let Some(a) = request
            .authorization
            .as_ref()
            .filter(|a| a.kind != custos_model::AuthorizationKind::None)
        {
            let mut s = format!("an order of the requesting state ({})", a.kind.as_str());
            if let Some(by) = a.issued_by.as_deref().filter(|t| !t.trim().is_empty()) {
                s.push_str(&format!(" issued by {}", by.trim()));
            }
            if let Some(at) = a.issued_at {
                s.push_str(&format!(" on {}", day(at)));
            }
            if let Some(r) = a.reference.as_deref().filter(|t| !t.trim().is_empty()) {
                s.push_str(&format!(", reference {}", r.trim()));
            }
            legal_basis.push(s);
        }
        let mut doc = NoticeDocument {
            format: NOTICE_FORMAT.to_owned(),
            addressed_to: "person_concerned".to_owned(),
            case: case.case_id,
            request_id: case.request_id.clone(),
            issued_at: facts.issued_at,
            receiver: settings.receiver.clone(),
            requesting_state: request.requesting_authority.state.as_str().to_owned(),
            requesting_authority: request.requesting_authority.name.as_str().trim().to_owned(),
            measure: request.measure,
            data_categories,
            period,
            narrowed,
            legal_basis,
            decided_at: decision.at,
            handed_over_at: facts.handed_over_at,
            confidentiality_ended_at: facts.confidentiality_ended_at,
            remedies: settings.remedies.trim().to_owned(),
            text: String::new(),
        };
        doc.text = doc.render_text();
        Ok(doc)
    }

    /// The notice in plain words.
    pub fn render_text(&self) -> String {
        let receiver = self
            .receiver
            .as_deref()
            .unwrap_or("the organisation that sent you this notice");
        let categories: Vec<&str> = self
            .data_categories
            .iter()
            .map(|c| match c {
                custos_model::DataCategory::Subscriber => "subscriber information",
                custos_model::DataCategory::Traffic => "traffic data",
                custos_model::DataCategory::Content => "content data",
            })
            .collect();
        let mut t = String::new();
        t.push_str("To the person concerned\n\n");
        t.push_str(&format!(
            "The authorities of another state asked {receiver} for data about you. This notice \
             tells you what was handed over, on which basis, and how you can challenge it.\n\n"
        ));
        let line = |t: &mut String, label: &str, value: &str| {
            t.push_str(&format!("{label:<18}{value}\n"));
        };
        line(
            &mut t,
            "Who asked:",
            &format!(
                "{} (state {})",
                self.requesting_authority, self.requesting_state
            ),
        );
        line(&mut t, "Measure:", self.measure.describe());
        line(
            &mut t,
            "Data handed over:",
            &if categories.is_empty() {
                "none".to_owned()
            } else {
                categories.join(", ")
            },
        );
        line(
            &mut t,
            "Period covered:",
            &match self.period {
                Some(p) => format!("{} to {}", day(p.from), day(p.to)),
                None => "no period was named".to_owned(),
            },
        );
        if self.narrowed {
            line(&mut t, "", "(less than was asked for was handed over)");
        }
        for (i, basis) in self.legal_basis.iter().enumerate() {
            line(&mut t, if i == 0 { "Legal basis:" } else { "" }, basis);
        }
        line(&mut t, "Decided on:", &day(self.decided_at));
        line(
            &mut t,
            "Handed over on:",
            &match self.handed_over_at {
                Some(at) => day(at),
                None => "not recorded by this service".to_owned(),
            },
        );
        line(
            &mut t,
            "Reference:",
            &format!("case {}, request {}", self.case, self.request_id),
        );
        t.push_str("\nHow to challenge this disclosure\n");
        t.push_str(&self.remedies);
        t.push('\n');
        t
    }
}

/// A time for people: the day, and the time of day when it is not midnight.
fn day(t: Timestamp) -> String {
    if t.as_second().rem_euclid(86_400) == 0 && t.subsec_nanosecond() == 0 {
        t.strftime("%Y-%m-%d").to_string()
    } else {
        t.strftime("%Y-%m-%d %H:%M UTC").to_string()
    }
}

/// `Measure`: its wire name.
fn measure_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(Measure::ALL.map(Measure::as_str)))
        .build()
}
