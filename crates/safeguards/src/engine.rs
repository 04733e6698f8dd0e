//! The assessment: facts → Cedar → findings → outcome, narrowing and deadlines.
//!
//! Cedar decides *which* rules fire: with every rule a `forbid`, the policies that determine the
//! decision are exactly the rules whose conditions hold. Rust turns them into findings, computes
//! the narrowed request from the `narrow` findings and sets the deadlines. If any policy fails to
//! evaluate, the assessment fails: a rule that silently did not run would be a safeguard that
//! silently did not apply.

use std::str::FromStr;

use cedar_policy::{Authorizer, Entities, EntityId, EntityTypeName, EntityUid};
use custos_model::{DataCategories, Measure, Period, Request, Timestamp};
use jiff::SignedDuration;

use crate::assessment::{ASSESSMENT_FORMAT, Assessment, Deadlines, Finding, Narrowed, Outcome};
use crate::facts::Facts;
use crate::jurisdiction::Jurisdiction;
use crate::profile::{Narrowing, Profile, Rule};
use crate::template::RenderEnv;

/// Why no assessment could be produced for a valid request.
#[derive(Debug, thiserror::Error)]
pub enum AssessError {
    #[error("the facts of the request could not be given to the policy engine: {0}")]
    Facts(String),
    #[error("rules of the profile failed to evaluate, so the assessment is incomplete: {0}")]
    Evaluation(String),
}

/// Assesses requests with one profile for one receiving jurisdiction. Build it once; it is cheap
/// to call and safe to share between threads.
pub struct Assessor {
    profile: Profile,
    jurisdiction: Jurisdiction,
    authorizer: Authorizer,
    entities: Entities,
    action: EntityUid,
    state_type: EntityTypeName,
    request_type: EntityTypeName,
}

fn type_name(name: &str) -> EntityTypeName {
    // Constant, valid names: a failure here is a programming error caught by every test.
    EntityTypeName::from_str(name).unwrap_or_else(|e| panic!("entity type {name}: {e}"))
}

impl Assessor {
    pub fn new(profile: Profile, jurisdiction: Jurisdiction) -> Assessor {
        Assessor {
            profile,
            jurisdiction,
            authorizer: Authorizer::new(),
            entities: Entities::empty(),
            action: EntityUid::from_type_name_and_id(
                type_name("Custos::Action"),
                EntityId::new("assess"),
            ),
            state_type: type_name("Custos::RequestingState"),
            request_type: type_name("Custos::Request"),
        }
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    pub fn jurisdiction(&self) -> &Jurisdiction {
        &self.jurisdiction
    }

    /// The Cedar request for these facts (public so benchmarks can time Cedar alone).
    pub fn cedar_request(
        &self,
        request: &Request,
        facts: &Facts,
    ) -> Result<cedar_policy::Request, AssessError> {
        let context = facts
            .to_context()
            .map_err(|e| AssessError::Facts(e.to_string()))?;
        cedar_policy::Request::new(
            EntityUid::from_type_name_and_id(
                self.state_type.clone(),
                EntityId::new(request.requesting_authority.state.as_str()),
            ),
            self.action.clone(),
            EntityUid::from_type_name_and_id(
                self.request_type.clone(),
                EntityId::new(request.id.as_str()),
            ),
            context,
            None,
        )
        .map_err(|e| AssessError::Facts(e.to_string()))
    }

    /// The rules that fire for a Cedar request, in the profile's order.
    pub fn fired_rules(
        &self,
        cedar_request: &cedar_policy::Request,
    ) -> Result<Vec<&Rule>, AssessError> {
        let response =
            self.authorizer
                .is_authorized(cedar_request, self.profile.policies(), &self.entities);
        let diagnostics = response.diagnostics();
        let errors: Vec<String> = diagnostics.errors().map(|e| e.to_string()).collect();
        if !errors.is_empty() {
            return Err(AssessError::Evaluation(errors.join("; ")));
        }
        let mut fired: Vec<&Rule> = diagnostics
            .reason()
            .filter_map(|id| self.profile.rule(id))
            .collect();
        fired.sort_by_key(|r| r.index);
        Ok(fired)
    }

    /// Assesses a valid request at `now`.
    pub fn assess(&self, request: &Request, now: Timestamp) -> Result<Assessment, AssessError> {
        let facts = Facts::of(request, &self.jurisdiction, now);
        let cedar_request = self.cedar_request(request, &facts)?;
        let fired = self.fired_rules(&cedar_request)?;

        let proposed = narrow(request, now, fired.iter().filter_map(|r| r.narrowing));
        let mut findings: Vec<Finding> = fired
            .iter()
            .map(|rule| {
                let env = RenderEnv {
                    request,
                    facts: &facts,
                    jurisdiction: &self.jurisdiction,
                    narrowed: &proposed,
                    limit_days: rule.limit_days,
                };
                Finding {
                    code: rule.code.clone(),
                    severity: rule.severity,
                    basis: rule.basis.iter().map(|b| b.render(&env)).collect(),
                    message: rule.message.render(&env),
                }
            })
            .collect();
        // Most severe first; the sort is stable, so equal severities keep the profile's order.
        findings.sort_by_key(|f| std::cmp::Reverse(f.severity));

        let outcome = crate::assessment::outcome_of(&findings);
        let narrowed = (outcome == Outcome::ExecuteNarrowed).then_some(proposed);
        let deadlines = self.deadlines(request, &facts, &proposed, now);
        Ok(Assessment {
            format: ASSESSMENT_FORMAT.to_owned(),
            request_id: request.id.to_string(),
            profile: self.profile.name().to_owned(),
            assessed_at: now,
            outcome,
            findings,
            narrowed,
            deadlines,
        })
    }

    fn deadlines(
        &self,
        request: &Request,
        facts: &Facts,
        proposed: &Narrowed,
        now: Timestamp,
    ) -> Deadlines {
        let d = &self.jurisdiction.deadlines;
        let respond_within = if facts.emergency_justified {
            SignedDuration::from_hours(i64::from(d.emergency_respond_within_hours))
        } else {
            days(d.respond_within_days)
        };
        let preserve_until = (request.measure == Measure::PreserveStoredData)
            .then(|| add(now, days(d.preserve_for_days)));
        // Notice is due when secrecy ends: at once if none was asked, at its (narrowed) end
        // otherwise, never earlier than now. Unbounded secrecy that the profile did not bound
        // leaves no date to give. Preservation of stored data alone hands nothing over and the
        // custodian keeps it confidential: no notice, which falls due with the request that
        // follows it (safeguards.md 1.1, *Deadlines*).
        let notify_person_at = if !self.profile.notifies_person() || !facts.hands_over_data {
            None
        } else if !request.confidentiality_requested() {
            Some(now)
        } else {
            proposed.confidentiality_until.map(|until| until.max(now))
        };
        Deadlines {
            respond_by: add(now, respond_within),
            preserve_until,
            notify_person_at,
        }
    }
}

fn days(n: u32) -> SignedDuration {
    SignedDuration::from_hours(i64::from(n) * 24)
}

/// `t + d`, saturating at the ends of time rather than failing on absurd inputs.
fn add(t: Timestamp, d: SignedDuration) -> Timestamp {
    t.checked_add(d).unwrap_or(if d.is_negative() {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// The request with these narrowings applied. Each one can only take away: categories are
/// intersected, periods shortened, secrecy ended sooner.
pub fn narrow(
    request: &Request,
    now: Timestamp,
    narrowings: impl IntoIterator<Item = Narrowing>,
) -> Narrowed {
    let mut data_categories: DataCategories = request.data_categories;
    let mut period: Option<Period> = request.period;
    let mut until = request.confidentiality_until();
    for n in narrowings {
        match n {
            Narrowing::DropCategoriesOutsideMeasure => {
                data_categories = data_categories.intersection(request.measure.reach());
            }
            Narrowing::CapPeriodKeepStart { days: d } => {
                if let Some(p) = period.as_mut() {
                    p.to = p.to.min(add(p.from, days(d)));
                }
            }
            Narrowing::CapPeriodKeepEnd { days: d } => {
                if let Some(p) = period.as_mut() {
                    p.from = p.from.max(add(p.to, -days(d)));
                }
            }
            Narrowing::CapConfidentiality { days: d } => {
                if request.confidentiality_requested() {
                    // Whole seconds, rounded down: the proposal is a date a reviewer can
                    // accept as offered (forms and reports give seconds), never past the cap.
                    let cap = add(now, days(d));
                    let cap = Timestamp::from_second(cap.as_second()).unwrap_or(cap);
                    until = Some(until.map_or(cap, |u| u.min(cap)));
                }
            }
        }
    }
    Narrowed {
        data_categories,
        period,
        confidentiality_until: until,
    }
}
