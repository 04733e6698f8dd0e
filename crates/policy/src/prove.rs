//! Proving a profile's properties with Cedar's symbolic compiler (SymCC) and cvc5.
//!
//! Every claim becomes one or more `implies` checks between policy sets that all begin with
//! `permit(principal, action, resource)`: such a set *allows* a request exactly when none of its
//! `forbid`s fires. So:
//!
//! * "the profile stops X at severity ≥ L" is: every request that no rule of severity ≥ L
//!   stops (premise), and that is a request at all ([`crate::space`]), is allowed by
//!   `forbid when X` (conclusion). A counterexample is a request the profile lets through
//!   although X holds.
//! * "never more permissive than `convention`" is that check at each level L, with
//!   `convention`'s rules of severity ≥ L as the conclusion.
//! * "no dead rule": a rule is dead when every request is allowed by it alone.
//! * "never errors": SymCC's own `check_never_errors`, rule by rule.
//!
//! A failed claim's counterexample is searched again in the reproducible scope (the default
//! jurisdiction, a real state code, times within a century), turned into a request
//! ([`crate::inverse`]), and checked by evaluating both policy sets on that request's own facts
//! with Cedar's concrete authorizer. Proofs cover the Cedar policies over the facts; the step
//! from request to facts is Rust, covered by proptest (`tests/space.rs`, `tests/inverse.rs`).

use std::str::FromStr;
use std::time::Instant;

use cedar_policy::{
    Authorizer, Decision, Effect, Entities, EntityTypeName, EntityUid, Policy, PolicyId, PolicySet,
    RequestEnv, Schema,
};
use cedar_policy_symcc::solver::LocalSolver;
use cedar_policy_symcc::{CedarSymCompiler, CompiledPolicy, CompiledPolicySet, Env};
use custos_model::{Severity, Timestamp};
use custos_safeguards::{
    Assessor, Jurisdiction, Narrowing, PROOF_FORMAT, Profile, ProofRecord, ProofStatus,
    PropertyResult,
};

use crate::inverse::{FactMap, Realized, facts_of_context, facts_of_request, request_for};
use crate::properties::{Claim, Property};
use crate::solver::Cvc5;
use crate::space::{Scope, outside_space_policies};

/// Why proving could not run at all (a failed property is not an error: it is a verdict).
#[derive(Debug, thiserror::Error)]
pub enum ProveError {
    #[error("the solver could not be started or failed: {0}")]
    Solver(String),
    #[error("the policies could not be compiled for the solver: {0}")]
    Compile(String),
    #[error("internal: {0}")]
    Internal(String),
}

/// The counterexample of a failed property.
#[derive(Debug, Clone)]
pub struct Counterexample {
    /// The facts the solver found.
    pub facts: FactMap,
    /// The request with exactly these facts, when one could be built and checked.
    pub realized: Option<Realized>,
    /// Why no request is given, or what to know about it.
    pub note: Option<String>,
    /// What the profile does with it, in words (e.g. which severity it reaches).
    pub explanation: String,
}

/// The verdict on one property.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub property: Property,
    pub status: ProofStatus,
    pub detail: Option<String>,
    pub millis: u64,
    pub counterexample: Option<Counterexample>,
}

/// Where counterexamples are made reproducible: the jurisdiction `custos assess` uses by
/// default and the time they are written for.
#[derive(Debug, Clone)]
pub struct Reproduction {
    pub jurisdiction: Jurisdiction,
    pub now: Timestamp,
}

fn internal(e: impl std::fmt::Display) -> ProveError {
    ProveError::Internal(e.to_string())
}

/// What a plain request looks like, tried in this order when simplifying a counterexample.
const PREFERENCES: [&str; 13] = [
    "!context.emergency_claimed",
    "!context.any_death_penalty",
    "!context.confidentiality_requested",
    "!context.heightened_scrutiny",
    "context.target_count == 1",
    "context.categories_outside_measure == 0",
    "if context has period_days then context.period_days <= 30 else true",
    "context.channel == \"mla\"",
    "context.max_penalty_years <= 20",
    "context.summary_of_facts_given && context.authority_conducting_given && context.purpose_given && context.necessity_given",
    "context.data_protection_given && context.retention_limited && context.purpose_limited && context.onward_transfer == \"none\"",
    "context.authorization != \"absent\"",
    "context.requesting_authority_kind == \"prosecutor\"",
];

const ALLOW_ALL: &str = "permit (principal, action == Custos::Action::\"assess\", resource);";

/// The profile's `forbid` rules with their severity and narrowing, in the profile's order.
fn rules(profile: &Profile) -> Vec<(Policy, Severity, Option<Narrowing>, String)> {
    let mut out: Vec<(usize, Policy, Severity, Option<Narrowing>, String)> = profile
        .policies()
        .policies()
        .filter(|p| p.effect() == Effect::Forbid)
        .filter_map(|p| {
            profile
                .rule(p.id())
                .map(|r| (r.index, p.clone(), r.severity, r.narrowing, r.code.clone()))
        })
        .collect();
    out.sort_by_key(|r| r.0);
    out.into_iter()
        .map(|(_, p, s, n, c)| (p, s, n, c))
        .collect()
}

fn at_least(profile: &Profile, level: Severity) -> Vec<Policy> {
    rules(profile)
        .into_iter()
        .filter(|r| r.1 >= level)
        .map(|r| r.0)
        .collect()
}

/// `permit` + `forbids` (+ the space's own `forbid`), with fresh ids.
fn policy_set(forbids: &[Policy], scope: Option<Scope<'_>>) -> Result<PolicySet, ProveError> {
    let mut set = PolicySet::new();
    let permit = Policy::parse(Some(PolicyId::new("allow")), ALLOW_ALL).map_err(internal)?;
    set.add(permit).map_err(internal)?;
    for (i, p) in forbids.iter().enumerate() {
        set.add(p.new_id(PolicyId::new(format!("rule{i}"))))
            .map_err(internal)?;
    }
    if let Some(scope) = scope {
        for (i, text) in outside_space_policies(scope).into_iter().enumerate() {
            let space =
                Policy::parse(Some(PolicyId::new(format!("space{i}"))), text).map_err(|e| {
                    ProveError::Internal(format!("the space of facts does not parse: {e:?}"))
                })?;
            set.add(space).map_err(internal)?;
        }
    }
    Ok(set)
}

/// A premise and a conclusion: the claim is that every request the premise allows, the
/// conclusion allows too.
struct Implication {
    premise: Vec<Policy>,
    conclusion: Vec<Policy>,
    /// What a counterexample means, in words.
    explanation: String,
    /// Conditions to prefer in a counterexample, before the general [`PREFERENCES`].
    prefer: Vec<String>,
}

/// The prover: one solver process, reused for every query.
pub struct Prover {
    compiler: CedarSymCompiler<LocalSolver>,
    schema: Schema,
    env: RequestEnv,
    reproduction: Reproduction,
    /// State codes a reproducible counterexample may use.
    states: Vec<String>,
}

impl Prover {
    /// Starts `cvc5` (with SymCC's default time limit of 60 s per query).
    pub fn new(cvc5: &Cvc5, reproduction: Reproduction) -> Result<Prover, ProveError> {
        let solver = LocalSolver::from_command(tokio::process::Command::new(&cvc5.path).args([
            "--lang",
            "smt",
            "--tlimit=60000",
        ]))
        .map_err(|e| ProveError::Solver(e.to_string()))?;
        let compiler =
            CedarSymCompiler::new(solver).map_err(|e| ProveError::Solver(e.to_string()))?;
        let schema = custos_safeguards::profile::schema()
            .map_err(internal)?
            .clone();
        let ty = |n: &str| EntityTypeName::from_str(n).map_err(internal);
        let action = EntityUid::from_str("Custos::Action::\"assess\"").map_err(internal)?;
        let env = RequestEnv::new(
            ty("Custos::RequestingState")?,
            action,
            ty("Custos::Request")?,
        );
        let mut states = vec!["XA".to_owned()];
        states.extend(
            reproduction
                .jurisdiction
                .heightened_scrutiny_states
                .iter()
                .map(|s| s.as_str().to_owned()),
        );
        Ok(Prover {
            compiler,
            schema,
            env,
            reproduction,
            states,
        })
    }

    /// Adds the state codes a profile names, so a reproducible counterexample can use them.
    fn note_states(&mut self, profile: &Profile) {
        for p in profile.policies().policies() {
            let text = p.to_string();
            for piece in text.split('"') {
                if piece.len() == 2
                    && piece.bytes().all(|b| b.is_ascii_uppercase())
                    && !self.states.iter().any(|s| s == piece)
                {
                    self.states.push(piece.to_owned());
                }
            }
        }
    }

    fn compile_set(&self, set: &PolicySet) -> Result<CompiledPolicySet, ProveError> {
        CompiledPolicySet::compile(set, &self.env, &self.schema).map_err(|e| {
            // Name what the type checker refuses: SymCC's own message does not.
            let result = cedar_policy::Validator::new(self.schema.clone())
                .validate(set, cedar_policy::ValidationMode::Strict);
            let why: Vec<String> = result.validation_errors().map(|e| e.to_string()).collect();
            ProveError::Compile(format!("{e}: {}", why.join("; ")))
        })
    }

    async fn implies(
        &mut self,
        premise: &[Policy],
        conclusion: &[Policy],
        scope: Scope<'_>,
    ) -> Result<Option<Env>, ProveError> {
        let p = self.compile_set(&policy_set(premise, Some(scope))?)?;
        let q = self.compile_set(&policy_set(conclusion, None)?)?;
        self.compiler
            .check_implies_with_counterexample_opt(&p, &q)
            .await
            .map_err(|e| ProveError::Solver(e.to_string()))
    }

    /// Whether the implication holds, without asking for a model (cheaper when it fails).
    async fn implication_holds(
        &mut self,
        premise: &[Policy],
        conclusion: &[Policy],
    ) -> Result<bool, ProveError> {
        let p = self.compile_set(&policy_set(premise, Some(Scope::AnyJurisdiction))?)?;
        let q = self.compile_set(&policy_set(conclusion, None)?)?;
        self.compiler
            .check_implies_opt(&p, &q)
            .await
            .map_err(|e| ProveError::Solver(e.to_string()))
    }

    /// Proves each property of `profile`.
    pub async fn prove(
        &mut self,
        profile: &Profile,
        properties: &[Property],
    ) -> Result<Vec<Verdict>, ProveError> {
        self.note_states(profile);
        let mut out = Vec::new();
        for property in properties {
            let started = Instant::now();
            let mut verdict = self
                .prove_one(profile, property)
                .await
                .map_err(|e| match e {
                    ProveError::Solver(m) => {
                        ProveError::Solver(format!("while proving `{}`: {m}", property.name))
                    }
                    other => other,
                })?;
            verdict.millis = started.elapsed().as_millis() as u64;
            out.push(verdict);
        }
        Ok(out)
    }

    async fn prove_one(
        &mut self,
        profile: &Profile,
        property: &Property,
    ) -> Result<Verdict, ProveError> {
        let verdict = |status, detail: Option<String>, cex| Verdict {
            property: property.clone(),
            status,
            detail,
            millis: 0,
            counterexample: cex,
        };
        let implications: Vec<Implication> = match &property.claim {
            Claim::Stops {
                at_least: level,
                condition,
                prefer,
            } => vec![Implication {
                prefer: prefer.clone(),
                premise: at_least(profile, *level),
                conclusion: vec![(**condition).clone()],
                explanation: format!(
                    "no rule of severity {} or above fires: the profile lets the request through",
                    level.as_str()
                ),
            }],
            Claim::NoMorePermissiveThan { other } => {
                let other = Profile::builtin(other).map_err(internal)?;
                Severity::ALL
                    .iter()
                    .rev()
                    .map(|&level| Implication {
                        prefer: Vec::new(),
                        premise: at_least(profile, level),
                        conclusion: at_least(&other, level),
                        explanation: format!(
                            "`{}` stops this request at severity {} or above, `{}` does not",
                            other.name(),
                            level.as_str(),
                            profile.name()
                        ),
                    })
                    .collect()
            }
            Claim::SecrecyWithinCap => {
                let caps: Vec<(Policy, u32)> = rules(profile)
                    .into_iter()
                    .filter_map(|(p, _, n, _)| match n {
                        Some(Narrowing::CapConfidentiality { days }) => Some((p, days)),
                        _ => None,
                    })
                    .collect();
                let Some(cap) = caps.iter().map(|c| c.1).max() else {
                    return Ok(verdict(
                        ProofStatus::NotApplicable,
                        Some(format!(
                            "the profile `{}` sets no cap on secrecy (no rule narrows with cap_confidentiality)",
                            profile.name()
                        )),
                        None,
                    ));
                };
                let mut premise = at_least(profile, Severity::ReferForReview);
                premise.extend(caps.into_iter().map(|c| c.0));
                let beyond = Policy::parse(
                    Some(PolicyId::new("beyond-cap")),
                    format!(
                        "forbid (principal, action, resource) when {{ context.confidentiality_requested && !(context has confidentiality_days_from_now && context.confidentiality_days_from_now <= {cap}) }};"
                    ),
                )
                .map_err(internal)?;
                vec![Implication {
                    prefer: Vec::new(),
                    premise,
                    conclusion: vec![beyond],
                    explanation: format!(
                        "the request is executed with secrecy beyond {cap} days, and no rule caps it"
                    ),
                }]
            }
            Claim::NoDeadRule => return self.dead_rules(profile, property).await,
            Claim::NeverErrors => return self.never_errors(profile, property).await,
        };
        for imp in implications {
            if let Some(env) = self
                .implies(&imp.premise, &imp.conclusion, Scope::AnyJurisdiction)
                .await?
            {
                let cex = self.counterexample(profile, &imp, env).await?;
                let detail = describe_facts(&cex.facts);
                return Ok(verdict(ProofStatus::Fails, Some(detail), Some(cex)));
            }
        }
        Ok(verdict(ProofStatus::Holds, None, None))
    }

    /// A counterexample made reproducible where possible, turned into a request and checked.
    async fn counterexample(
        &mut self,
        profile: &Profile,
        imp: &Implication,
        general: Env,
    ) -> Result<Counterexample, ProveError> {
        let general_facts = env_facts(&general)?;
        let jurisdiction = self.reproduction.jurisdiction.clone();
        let states = self.states.clone();
        let request_id = "CEX-0001";
        let reproducible = self
            .implies(
                &imp.premise,
                &imp.conclusion,
                Scope::Reproducible {
                    jurisdiction: &jurisdiction,
                    states: &states,
                    request_id,
                },
            )
            .await?;
        // Prefer the plainest request that still shows the hole: each preference is kept when a
        // counterexample remains with it, so what is left unusual is what matters.
        let reproducible = match reproducible {
            None => None,
            Some(first) => {
                let mut premise = imp.premise.clone();
                let mut best = first;
                let preferences = imp
                    .prefer
                    .iter()
                    .map(String::as_str)
                    .chain(PREFERENCES.iter().copied());
                for (i, preference) in preferences.enumerate() {
                    let policy = Policy::parse(
                        Some(PolicyId::new(format!("prefer{i}"))),
                        format!("forbid (principal, action, resource) unless {{ {preference} }};"),
                    )
                    .map_err(internal)?;
                    premise.push(policy);
                    let scope = Scope::Reproducible {
                        jurisdiction: &jurisdiction,
                        states: &states,
                        request_id,
                    };
                    match self.implies(&premise, &imp.conclusion, scope).await? {
                        Some(env) => best = env,
                        None => {
                            premise.pop();
                        }
                    }
                }
                Some(best)
            }
        };
        let (facts, adjust) = match &reproducible {
            Some(env) => (env_facts(env)?, false),
            None => (general_facts, true),
        };
        let now = self.reproduction.now;
        let resource = reproducible
            .as_ref()
            .and_then(|e| e.request.resource())
            .map(|r| r.id().unescaped().to_owned());
        let mut cex = Counterexample {
            facts: facts.clone(),
            realized: None,
            note: None,
            explanation: imp.explanation.clone(),
        };
        match request_for(&facts, resource.as_deref(), now, &jurisdiction, adjust) {
            Err(e) => cex.note = Some(format!("{e}; only the facts are given")),
            Ok(realized) => match check_realized(profile, imp, &realized, &facts, now) {
                Ok(()) => {
                    if realized.jurisdiction_toml.is_some() {
                        cex.note = Some(
                            "no request shows this under the default jurisdiction; it needs the receiving jurisdiction given with it"
                                .to_owned(),
                        );
                    }
                    cex.realized = Some(realized);
                }
                Err(e) => {
                    cex.note = Some(format!(
                        "the request built from these facts does not reproduce them ({e}); only the facts are given"
                    ))
                }
            },
        }
        Ok(cex)
    }

    async fn dead_rules(
        &mut self,
        profile: &Profile,
        property: &Property,
    ) -> Result<Verdict, ProveError> {
        let mut dead = Vec::new();
        for (i, (policy, _, _, code)) in rules(profile).into_iter().enumerate() {
            // Dead when the space alone implies "permit + this rule": the rule never fires.
            if self
                .implication_holds(&[], std::slice::from_ref(&policy))
                .await?
            {
                dead.push(format!("rule {} (`{code}`)", i + 1));
            }
        }
        Ok(Verdict {
            property: property.clone(),
            status: if dead.is_empty() {
                ProofStatus::Holds
            } else {
                ProofStatus::Fails
            },
            detail: (!dead.is_empty()).then(|| {
                format!(
                    "no request makes these rules fire: {}; remove them or fix their conditions",
                    dead.join(", ")
                )
            }),
            millis: 0,
            counterexample: None,
        })
    }

    async fn never_errors(
        &mut self,
        profile: &Profile,
        property: &Property,
    ) -> Result<Verdict, ProveError> {
        let mut failing = Vec::new();
        let mut first: Option<Counterexample> = None;
        for (i, (policy, _, _, code)) in rules(profile).into_iter().enumerate() {
            let compiled = CompiledPolicy::compile(&policy, &self.env, &self.schema)
                .map_err(|e| ProveError::Compile(e.to_string()))?;
            if let Some(env) = self
                .compiler
                .check_never_errors_with_counterexample_opt(&compiled)
                .await
                .map_err(|e| ProveError::Solver(e.to_string()))?
            {
                failing.push(format!("rule {} (`{code}`)", i + 1));
                if first.is_none() {
                    first = Some(Counterexample {
                        facts: env_facts(&env)?,
                        realized: None,
                        note: Some("facts on which the rule fails to evaluate".to_owned()),
                        explanation: format!("rule `{code}` fails to evaluate"),
                    });
                }
            }
        }
        Ok(Verdict {
            property: property.clone(),
            status: if failing.is_empty() {
                ProofStatus::Holds
            } else {
                ProofStatus::Fails
            },
            detail: (!failing.is_empty())
                .then(|| format!("these rules can fail to evaluate: {}", failing.join(", "))),
            millis: 0,
            counterexample: first,
        })
    }
}

fn env_facts(env: &Env) -> Result<FactMap, ProveError> {
    let context = env
        .request
        .context()
        .ok_or_else(|| ProveError::Internal("the counterexample has no context".to_owned()))?;
    facts_of_context(context).map_err(internal)
}

/// The realized request has the counterexample's facts, and the premise lets it through
/// while the conclusion stops it — evaluated concretely by Cedar, not by the solver.
fn check_realized(
    profile: &Profile,
    imp: &Implication,
    realized: &Realized,
    facts: &FactMap,
    now: Timestamp,
) -> Result<(), String> {
    let actual = facts_of_request(&realized.request, &realized.jurisdiction, now)
        .map_err(|e| e.to_string())?;
    if &actual != facts {
        let differing: Vec<String> = actual
            .keys()
            .chain(facts.keys())
            .filter(|k| actual.get(*k) != facts.get(*k))
            .map(|k| format!("`{k}`"))
            .collect();
        return Err(format!("facts differ: {}", differing.join(", ")));
    }
    let assessor = Assessor::new(profile.clone(), realized.jurisdiction.clone());
    let own = custos_safeguards::Facts::of(&realized.request, &realized.jurisdiction, now);
    let cedar_request = assessor
        .cedar_request(&realized.request, &own)
        .map_err(|e| e.to_string())?;
    let authorizer = Authorizer::new();
    let entities = Entities::empty();
    let decide = |forbids: &[Policy]| -> Result<Decision, String> {
        let set = policy_set(forbids, None).map_err(|e| e.to_string())?;
        Ok(authorizer
            .is_authorized(&cedar_request, &set, &entities)
            .decision())
    };
    if decide(&imp.premise)? != Decision::Allow {
        return Err("the profile stops the request after all".to_owned());
    }
    if decide(&imp.conclusion)? != Decision::Deny {
        return Err("the property's situation does not hold for the request".to_owned());
    }
    Ok(())
}

/// The facts in one line each, `name = value`.
pub fn describe_facts(facts: &FactMap) -> String {
    facts
        .iter()
        .map(|(k, v)| format!("{k} = {v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The record of a proof run (`custos.proof/v1`).
pub fn record(
    profile: &Profile,
    solver: &Cvc5,
    verdicts: &[Verdict],
    proved_at: Timestamp,
) -> ProofRecord {
    ProofRecord {
        format: PROOF_FORMAT.to_owned(),
        profile: profile.name().to_owned(),
        profile_sha256: custos_safeguards::profile_sha256(profile),
        proved_at,
        solver: solver.version.clone(),
        properties: verdicts
            .iter()
            .map(|v| PropertyResult {
                name: v.property.name.clone(),
                statement: v.property.statement.clone(),
                basis: v.property.basis.clone(),
                status: v.status,
                detail: v.detail.clone(),
                millis: v.millis,
            })
            .collect(),
    }
}
