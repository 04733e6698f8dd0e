//! From facts back to a request: the inverse of `custos_safeguards::Facts::of`.
//!
//! The solver answers a failed property with facts (the Cedar context of a counterexample). An
//! operator needs a request: something `custos assess --profile FILE` runs and that shows the
//! hole. [`request_for`] builds a `custos.request/v1` document whose facts, at the given time
//! and under the returned jurisdiction, are exactly the given facts; `tests/inverse.rs` checks
//! that property with proptest over generated requests, and `prove` checks every counterexample
//! it writes by assessing it again.
//!
//! Texts are placeholders that say what they are ("given by the counterexample"); times are
//! relative to `now`, so the request reproduces when assessed within a day of it.

use std::collections::BTreeMap;
use std::fmt;

use cedar_policy::{Context, EvalResult};
use custos_model::{
    AuthorityKind, AuthorizationKind, Channel, DataCategory, MaxPenalty, Measure, OffenceCategory,
    Request, StateCode, Timestamp,
};
use custos_safeguards::{Facts, Jurisdiction, LocalStatus};
use jiff::SignedDuration;
use serde_json::{Value, json};

use crate::space::{OFFENCE_FACTS, ONWARD_TRANSFERS, OffenceSignature, asks, offence_choices};

/// One fact's value (the schema uses only these three types).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum FactValue {
    Bool(bool),
    Long(i64),
    Text(String),
}

impl fmt::Display for FactValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FactValue::Bool(b) => write!(f, "{b}"),
            FactValue::Long(n) => write!(f, "{n}"),
            FactValue::Text(s) => write!(f, "{s:?}"),
        }
    }
}

/// Facts by name; an optional fact that is absent is not in the map.
pub type FactMap = BTreeMap<String, FactValue>;

/// The facts of a Cedar context, or the name of the first value of a type the schema never uses.
pub fn facts_of_context(context: &Context) -> Result<FactMap, InverseError> {
    let mut map = FactMap::new();
    for (name, _) in context.clone() {
        let value = match context.get(&name) {
            Some(EvalResult::Bool(b)) => FactValue::Bool(b),
            Some(EvalResult::Long(n)) => FactValue::Long(n),
            Some(EvalResult::String(s)) => FactValue::Text(s),
            other => {
                return Err(InverseError(format!(
                    "fact `{name}` has a value of a type the schema does not declare: {other:?}"
                )));
            }
        };
        map.insert(name, value);
    }
    Ok(map)
}

/// The facts `Facts::of` computes for a request.
pub fn facts_of_request(
    request: &Request,
    jurisdiction: &Jurisdiction,
    now: Timestamp,
) -> Result<FactMap, InverseError> {
    let context = Facts::of(request, jurisdiction, now)
        .to_context()
        .map_err(|e| InverseError(format!("the facts do not form a Cedar context: {e}")))?;
    facts_of_context(&context)
}

/// Why facts could not be turned into a request (facts outside the space of `crate::space`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no request has these facts: {0}")]
pub struct InverseError(pub String);

/// A request realising some facts, and the jurisdiction under which it does.
#[derive(Debug, Clone)]
pub struct Realized {
    /// The `custos.request/v1` document.
    pub document: Value,
    /// The parsed request.
    pub request: Request,
    pub jurisdiction: Jurisdiction,
    /// `None` when `jurisdiction` is the one given; otherwise the TOML file (for
    /// `custos assess --jurisdiction`) that makes it.
    pub jurisdiction_toml: Option<String>,
}

struct Reader<'a>(&'a FactMap);

impl Reader<'_> {
    fn flag(&self, name: &str) -> Result<bool, InverseError> {
        match self.0.get(name) {
            Some(FactValue::Bool(b)) => Ok(*b),
            other => Err(InverseError(format!(
                "fact `{name}` should be a boolean, found {other:?}"
            ))),
        }
    }
    fn long(&self, name: &str) -> Result<Option<i64>, InverseError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(FactValue::Long(n)) => Ok(Some(*n)),
            other => Err(InverseError(format!(
                "fact `{name}` should be a number, found {other:?}"
            ))),
        }
    }
    fn required_long(&self, name: &str) -> Result<i64, InverseError> {
        self.long(name)?
            .ok_or_else(|| InverseError(format!("fact `{name}` is missing")))
    }
    fn text(&self, name: &str) -> Result<&str, InverseError> {
        match self.0.get(name) {
            Some(FactValue::Text(s)) => Ok(s),
            other => Err(InverseError(format!(
                "fact `{name}` should be a string, found {other:?}"
            ))),
        }
    }
}

const GIVEN: &str = "Given by the counterexample.";

fn days(n: i64) -> Result<SignedDuration, InverseError> {
    n.checked_mul(86_400)
        .map(SignedDuration::from_secs)
        .ok_or_else(|| InverseError(format!("{n} days is beyond any time")))
}

fn shift(t: Timestamp, d: SignedDuration) -> Result<Timestamp, InverseError> {
    t.checked_add(d)
        .map_err(|_| InverseError(format!("{t} shifted by {d:#} is beyond the range of time")))
}

/// A request whose facts at `now` are `facts`.
///
/// `principal` and `resource` are the counterexample's entity ids: the state (when it is a valid
/// code) and the request id (when it is a valid id). With `adjust_jurisdiction`, offence
/// statuses and heightened scrutiny that `base` cannot give are given by a jurisdiction
/// derived from `base` (returned as TOML); without it they are an error.
pub fn request_for(
    facts: &FactMap,
    resource: Option<&str>,
    now: Timestamp,
    base: &Jurisdiction,
    adjust_jurisdiction: bool,
) -> Result<Realized, InverseError> {
    let f = Reader(facts);

    let measure = Measure::from_name(f.text("measure")?)
        .ok_or_else(|| InverseError(format!("unknown measure {:?}", f.text("measure"))))?;
    let channel = Channel::from_name(f.text("channel")?)
        .ok_or_else(|| InverseError(format!("unknown channel {:?}", f.text("channel"))))?;
    let kind = AuthorityKind::from_name(f.text("requesting_authority_kind")?).ok_or_else(|| {
        InverseError(format!(
            "unknown authority kind {:?}",
            f.text("requesting_authority_kind")
        ))
    })?;
    let authorization = f.text("authorization")?;
    if authorization != "absent"
        && !AuthorizationKind::ALL
            .iter()
            .any(|k| k.as_str() == authorization)
    {
        return Err(InverseError(format!(
            "unknown authorization {authorization:?}"
        )));
    }
    let onward = f.text("onward_transfer")?;
    if !ONWARD_TRANSFERS.contains(&onward) {
        return Err(InverseError(format!("unknown onward transfer {onward:?}")));
    }
    let state_text = f.text("requesting_state")?;
    let state: StateCode = state_text.to_owned().try_into().map_err(|e| {
        InverseError(format!(
            "the requesting state {state_text:?} is not a state code ({e})"
        ))
    })?;

    // The jurisdiction: `base`, or what the offences and heightened scrutiny need of it.
    let mut criminal: Vec<OffenceCategory> = OffenceCategory::ALL
        .into_iter()
        .filter(|c| base.local_status(*c) == LocalStatus::Criminal)
        .collect();
    let mut heightened: Vec<String> = base
        .heightened_scrutiny_states
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    let mut adjusted = false;
    let wants_heightened = f.flag("heightened_scrutiny")?;
    if wants_heightened != base.heightened_scrutiny_states.contains(&state) {
        if !adjust_jurisdiction {
            return Err(InverseError(format!(
                "heightened_scrutiny is {wants_heightened} but {} is {}on the jurisdiction's list",
                state.as_str(),
                if wants_heightened { "not " } else { "" }
            )));
        }
        adjusted = true;
        if wants_heightened {
            heightened.push(state.as_str().to_owned());
        } else {
            heightened.retain(|s| s != state.as_str());
        }
    }

    // Offences: for each offence fact that holds, one offence that brings it and nothing that
    // does not hold.
    let wanted: Vec<bool> = OFFENCE_FACTS
        .iter()
        .map(|name| f.flag(name))
        .collect::<Result<_, _>>()?;
    let fits = |s: &OffenceSignature| s.bits().iter().zip(&wanted).all(|(b, w)| !b || *w);
    let choices = offence_choices((!adjust_jurisdiction).then_some(base));
    let mut chosen: Vec<(OffenceCategory, LocalStatus)> = Vec::new();
    let mut covered = [false; 6];
    let pick = |needed: Option<usize>,
                chosen: &mut Vec<(OffenceCategory, LocalStatus)>,
                covered: &mut [bool; 6]| {
        let found = choices.iter().find(|(c, s, sig)| {
            fits(sig)
                && needed.is_none_or(|i| sig.bits()[i])
                && chosen.iter().all(|(c2, s2)| c2 != c || s2 == s)
        });
        if let Some((c, s, sig)) = found {
            if !chosen.contains(&(*c, *s)) {
                chosen.push((*c, *s));
            }
            for (i, b) in sig.bits().iter().enumerate() {
                covered[i] |= b;
            }
            true
        } else {
            false
        }
    };
    for i in 0..OFFENCE_FACTS.len() {
        if wanted[i] && !covered[i] && !pick(Some(i), &mut chosen, &mut covered) {
            return Err(InverseError(format!(
                "no offence brings `{}` without a fact the counterexample denies",
                OFFENCE_FACTS[i]
            )));
        }
    }
    if chosen.is_empty() && !pick(None, &mut chosen, &mut covered) {
        return Err(InverseError(
            "no offence has none of the offence facts under this jurisdiction".to_owned(),
        ));
    }
    for (c, s) in &chosen {
        if base.local_status(*c) != *s {
            adjusted = true;
            criminal.retain(|x| x != c);
            if *s == LocalStatus::Criminal {
                criminal.push(*c);
            }
        }
    }
    let all_unknown = chosen.iter().all(|(_, s)| *s == LocalStatus::Unknown);
    if all_unknown != f.flag("all_locally_unknown")? {
        return Err(InverseError(
            "all_locally_unknown contradicts the other offence facts".to_owned(),
        ));
    }

    let max_years = f.required_long("max_penalty_years")?;
    let death = f.flag("any_death_penalty")?;
    let top_penalty = if death {
        json!("death")
    } else if max_years >= MaxPenalty::UNBOUNDED_YEARS {
        json!("life")
    } else {
        json!(max_years)
    };
    let offences: Vec<Value> = chosen
        .iter()
        .enumerate()
        .map(|(i, (c, _))| {
            json!({
                "name": format!("Offence {} of the counterexample", i + 1),
                "category": c.as_str(),
                "max_penalty": if i == 0 { top_penalty.clone() } else { json!(0) },
            })
        })
        .collect();

    let categories: Vec<&str> = DataCategory::ALL
        .into_iter()
        .filter_map(|d| match f.flag(asks(d)) {
            Ok(true) => Some(Ok(d.as_str())),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        })
        .collect::<Result<_, _>>()?;

    let targets = f.required_long("target_count")?;
    if !(1..=custos_model::request::MAX_TARGETS as i64).contains(&targets) {
        return Err(InverseError(format!("{targets} targets")));
    }
    let targets: Vec<Value> = (1..=targets)
        .map(|i| json!({"kind": "account", "value": format!("target-{i}@counterexample.invalid")}))
        .collect();

    let submitted_at = shift(now, SignedDuration::from_hours(-1))?;
    let id = resource
        .filter(|r| custos_model::RequestId::try_from(r.to_string()).is_ok())
        .unwrap_or("CEX-0001");
    let text = |given: bool| given.then_some(GIVEN);

    let mut investigation = json!({
        "offences": offences,
    });
    if f.flag("summary_of_facts_given")? {
        investigation["summary_of_facts"] = json!(GIVEN);
    }
    if f.flag("authority_conducting_given")? {
        investigation["authority_conducting"] = json!("Counterexample investigating authority");
    }
    if f.flag("good_faith_research_excluded")? {
        investigation["good_faith_research_excluded"] = json!(true);
    }

    let mut doc = json!({
        "format": "custos.request/v1",
        "id": id,
        "submitted_at": submitted_at.to_string(),
        "channel": channel.as_str(),
        "measure": measure.as_str(),
        "requesting_authority": {
            "state": state.as_str(),
            "name": "Counterexample requesting authority",
            "kind": kind.as_str(),
        },
        "investigation": investigation,
        "targets": targets,
        "data_categories": categories,
    });
    if let Some(d) = f.long("period_days")? {
        if d < 0 {
            return Err(InverseError(format!("a period of {d} days")));
        }
        let to = now;
        let from = shift(to, -days(d)?)?;
        doc["period"] = json!({"from": from.to_string(), "to": to.to_string()});
    }
    if authorization != "absent" {
        doc["authorization"] = json!({"kind": authorization, "issued_by": "Counterexample issuer"});
    }
    if let Some(t) = text(f.flag("purpose_given")?) {
        doc["purpose"] = json!(t);
    }
    if let Some(t) = text(f.flag("necessity_given")?) {
        doc["necessity"] = json!(t);
    }
    if f.flag("mla_followup_intended")? {
        doc["mla_followup_intended"] = json!(true);
    }
    if f.flag("emergency_claimed")? {
        let mut e = json!({"claimed": true});
        if f.flag("emergency_justified")? {
            e["justification"] = json!(GIVEN);
        }
        doc["emergency"] = e;
    } else if f.flag("emergency_justified")? {
        return Err(InverseError(
            "emergency_justified without emergency_claimed".to_owned(),
        ));
    }
    let secrecy_days = f.long("confidentiality_days_from_now")?;
    if f.flag("confidentiality_requested")? {
        let mut c = json!({"requested": true, "until": null});
        if let Some(d) = secrecy_days {
            c["until"] = json!(shift(now, days(d)?)?.to_string());
        }
        if f.flag("confidentiality_justified")? {
            c["justification"] = json!(GIVEN);
        }
        doc["confidentiality"] = c;
    }
    if f.flag("data_protection_given")? {
        let mut d = json!({});
        if f.flag("retention_limited")? {
            d["retention_days"] = json!(180);
        }
        if f.flag("purpose_limited")? {
            d["purpose_limited"] = json!(true);
        }
        if onward != "unspecified" {
            d["onward_transfer"] = json!(onward);
        }
        doc["data_protection"] = d;
    }
    if f.flag("no_death_penalty_assured")? {
        doc["assurances"] = json!({"no_death_penalty": true});
    }

    let (jurisdiction, jurisdiction_toml) = if adjusted {
        let mut toml = String::from(
            "# The receiving jurisdiction under which the counterexample's facts hold.\n",
        );
        if let Some(name) = &base.name {
            toml.push_str(&format!("name = {name:?}\n"));
        }
        let list: Vec<String> = criminal
            .iter()
            .map(|c| format!("{:?}", c.as_str()))
            .collect();
        toml.push_str(&format!("criminal_categories = [{}]\n", list.join(", ")));
        let states: Vec<String> = heightened.iter().map(|s| format!("{s:?}")).collect();
        toml.push_str(&format!(
            "heightened_scrutiny_states = [{}]\n",
            states.join(", ")
        ));
        let j = Jurisdiction::from_toml(&toml)
            .map_err(|e| InverseError(format!("the derived jurisdiction does not load: {e}")))?;
        (j, Some(toml))
    } else {
        (base.clone(), None)
    };

    let bytes = serde_json::to_vec(&doc)
        .map_err(|e| InverseError(format!("the request does not serialise: {e}")))?;
    let request = custos_model::parse_request(&bytes)
        .map_err(|e| InverseError(format!("the request built is invalid: {e}")))?;
    Ok(Realized {
        document: doc,
        request,
        jurisdiction,
        jurisdiction_toml,
    })
}
