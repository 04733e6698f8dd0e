//! `custos policy diff`: two profiles replayed over the same requests, and every request whose
//! recommendation changes.
//!
//! Pure: the caller reads the folder of cases or the node's log and hands over bytes
//! ([`Input`]); this module parses, assesses each request under both profiles with the same
//! jurisdiction at the same time, and compares what an operator would see change:
//!
//! * the outcome;
//! * the set of finding codes, of every severity (a note that appears or goes is a change);
//! * the narrowed values (categories, period, end of confidentiality) when the outcome is
//!   `execute_narrowed`: a rule that narrows to 60 days instead of 90 changes what is handed
//!   over without changing the outcome or the codes.
//!
//! Messages and legal bases are not compared: rewording a rule is not a change of decision.
//!
//! Direction: *stricter* means a more severe outcome in the order
//! `refuse > needs_information > refer_for_review > execute_narrowed > execute` ([`rank`]);
//! *more permissive* the reverse; *same outcome* a change of codes or narrowing only.
//!
//! An invalid request is listed under `invalid` with the parse error and its field path, and a
//! request that a profile fails to assess (a rule that fails to evaluate) under `failed`; neither
//! stops the replay. Requests are replayed on every core ([`Diff::with_threads`]); the report
//! keeps the order of the inputs. Each request's facts and Cedar request are built once for both
//! profiles, and only what is compared is computed ([`verdict`], held equal to
//! `Assessor::assess` by the tests).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use custos_model::{Outcome, Request, Timestamp, parse_request};
use custos_safeguards::{
    AssessError, Assessment, Assessor, Facts, Jurisdiction, Narrowed, Profile, narrow,
};
use serde::Serialize;
use serde_json::Value;

/// The value of the report's `format` field.
pub const DIFF_FORMAT: &str = "custos.policy-diff/v1";

/// The outcomes from the most permissive to the strictest: the order "stricter" refers to.
pub const OUTCOME_ORDER: [Outcome; 5] = [
    Outcome::Execute,
    Outcome::ExecuteNarrowed,
    Outcome::ReferForReview,
    Outcome::NeedsInformation,
    Outcome::Refuse,
];

/// How strict an outcome is: its place in [`OUTCOME_ORDER`] (0 = `execute`).
pub fn rank(outcome: Outcome) -> usize {
    match outcome {
        Outcome::Execute => 0,
        Outcome::ExecuteNarrowed => 1,
        Outcome::ReferForReview => 2,
        Outcome::NeedsInformation => 3,
        Outcome::Refuse => 4,
    }
}

/// One request to replay.
#[derive(Debug, Clone)]
pub struct Input {
    /// Where it comes from, as the report names it: a file name, or a case and log index.
    pub source: String,
    /// The `custos.request/v1` document, or why the source holds none to assess.
    pub request: Result<Vec<u8>, Unusable>,
    /// When to assess it; `None`: at the request's own `submitted_at`.
    pub now: Option<Timestamp>,
    /// The receiving jurisdiction; `None`: the diff's own.
    pub jurisdiction: Option<Jurisdiction>,
}

/// A source that holds no request to assess (a case file that is not JSON, or has no `now`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unusable {
    /// The request's id, when it can be read.
    pub request_id: Option<String>,
    /// What is wrong, with the field path (`$.now: …`).
    pub error: String,
}

impl Input {
    /// A `custos.request/v1` document to assess at `now` (`None`: at its `submitted_at`) under
    /// the diff's jurisdiction.
    pub fn request(source: impl Into<String>, bytes: Vec<u8>, now: Option<Timestamp>) -> Input {
        Input {
            source: source.into(),
            request: Ok(bytes),
            now,
            jurisdiction: None,
        }
    }

    /// The content of a file in a folder of cases: either a bare `custos.request/v1` document
    /// (assessed at its `submitted_at`), or a case in the shared format (testdata/cases: an
    /// object with `request`, `now` and optional `jurisdiction` overrides, assessed at `now`
    /// under the default jurisdiction with those overrides).
    pub fn from_file(source: impl Into<String>, bytes: &[u8]) -> Input {
        let source = source.into();
        let unusable = |request_id, error: String| Input {
            source: source.clone(),
            request: Err(Unusable { request_id, error }),
            now: None,
            jurisdiction: None,
        };
        // Peek at the top level only: a bare request is parsed strictly later.
        let value: Value = match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(e) => return unusable(None, format!("$: the file is not JSON: {e}")),
        };
        let Some(case) = value.as_object().filter(|o| o.contains_key("request")) else {
            return Input::request(source, bytes.to_vec(), None);
        };
        let request_id = case
            .get("request")
            .and_then(|r| r.get("id"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let now = match case
            .get("now")
            .map(|n| n.as_str().map(str::parse::<Timestamp>))
        {
            Some(Some(Ok(now))) => now,
            Some(Some(Err(e))) => {
                return unusable(request_id, format!("$.now: not an RFC 3339 time: {e}"));
            }
            _ => {
                return unusable(
                    request_id,
                    "$.now: a case gives the time to assess its request at, e.g. \"2026-11-20T12:00:00Z\""
                        .to_owned(),
                );
            }
        };
        let jurisdiction = match case.get("jurisdiction") {
            None | Some(Value::Null) => None,
            Some(overrides) => match jurisdiction_of(overrides) {
                Ok(j) => Some(j),
                Err(e) => return unusable(request_id, format!("$.jurisdiction: {e}")),
            },
        };
        match serde_json::to_vec(&case["request"]) {
            Ok(request) => Input {
                source,
                request: Ok(request),
                now: Some(now),
                jurisdiction,
            },
            Err(e) => unusable(request_id, format!("$.request: {e}")),
        }
    }
}

/// A case's jurisdiction overrides (JSON, the keys of a jurisdiction file) as a jurisdiction.
fn jurisdiction_of(overrides: &Value) -> Result<Jurisdiction, String> {
    if !overrides.is_object() {
        return Err("give the overrides as an object of jurisdiction-file keys".to_owned());
    }
    let toml = toml::to_string(overrides).map_err(|e| e.to_string())?;
    Jurisdiction::from_toml(&toml).map_err(|e| e.to_string())
}

/// A profile as the report names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfileRef {
    /// As given: `rights-first`, `convention` or a path.
    pub profile: String,
    /// The profile's name (its `@profile` annotation; a copy of `rights-first.cedar` keeps it).
    pub name: String,
}

/// What was replayed, as the report names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceRef {
    /// `cases` (a folder) or `node` (a node's log).
    pub kind: String,
    pub path: String,
}

/// What the comparison looks at in one assessment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub outcome: Outcome,
    /// The finding codes of every severity, sorted, each once.
    pub codes: Vec<String>,
    /// The narrowed values (present exactly when the outcome is `execute_narrowed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub narrowed: Option<Narrowed>,
}

impl Verdict {
    pub fn of(assessment: &Assessment) -> Verdict {
        let codes: BTreeSet<&str> = assessment
            .findings
            .iter()
            .map(|f| f.code.as_str())
            .collect();
        Verdict {
            outcome: assessment.outcome,
            codes: codes.into_iter().map(str::to_owned).collect(),
            narrowed: assessment.narrowed,
        }
    }
}

/// Which way a request's outcome moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// A more severe outcome ([`rank`] rose).
    Stricter,
    /// A less severe outcome.
    MorePermissive,
    /// The same outcome with other findings or narrowing.
    SameOutcome,
}

impl Direction {
    pub fn between(before: Outcome, after: Outcome) -> Direction {
        match rank(after).cmp(&rank(before)) {
            std::cmp::Ordering::Greater => Direction::Stricter,
            std::cmp::Ordering::Less => Direction::MorePermissive,
            std::cmp::Ordering::Equal => Direction::SameOutcome,
        }
    }

    fn words(self) -> &'static str {
        match self {
            Direction::Stricter => "stricter",
            Direction::MorePermissive => "more permissive",
            Direction::SameOutcome => "same outcome",
        }
    }
}

/// A request whose recommendation changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub request_id: String,
    pub source: String,
    pub before: Verdict,
    pub after: Verdict,
    pub direction: Direction,
}

/// A source whose request could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invalid {
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Every problem, `$.path: why`, separated by `; `.
    pub error: String,
}

/// Which side of the diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    From,
    To,
}

/// A valid request that a profile failed to assess (a rule failed to evaluate: the assessment
/// fails closed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failed {
    pub request_id: String,
    pub source: String,
    pub profile: Side,
    pub error: String,
}

/// What replaying one input gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replayed {
    Unchanged,
    Changed(Change),
    Invalid(Invalid),
    Failed(Failed),
}

/// The counts at the end of the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Every input, valid or not.
    pub requests: usize,
    /// Assessed under both profiles.
    pub assessed: usize,
    pub unchanged: usize,
    pub changed: usize,
    pub stricter: usize,
    pub more_permissive: usize,
    pub same_outcome: usize,
    pub invalid: usize,
    pub failed: usize,
}

/// The whole diff, `custos.policy-diff/v1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub format: &'static str,
    pub from: ProfileRef,
    pub to: ProfileRef,
    pub source: SourceRef,
    /// How many inputs were replayed (valid or not).
    pub requests: usize,
    pub changed: Vec<Change>,
    pub invalid: Vec<Invalid>,
    pub failed: Vec<Failed>,
    pub summary: Summary,
}

impl Report {
    pub fn new(from: ProfileRef, to: ProfileRef, source: SourceRef) -> Report {
        Report {
            format: DIFF_FORMAT,
            from,
            to,
            source,
            requests: 0,
            changed: Vec::new(),
            invalid: Vec::new(),
            failed: Vec::new(),
            summary: Summary::default(),
        }
    }

    /// Adds the results of the next inputs, in order.
    pub fn extend(&mut self, results: impl IntoIterator<Item = Replayed>) {
        for r in results {
            let s = &mut self.summary;
            s.requests += 1;
            match r {
                Replayed::Unchanged => {
                    s.assessed += 1;
                    s.unchanged += 1;
                }
                Replayed::Changed(c) => {
                    s.assessed += 1;
                    s.changed += 1;
                    match c.direction {
                        Direction::Stricter => s.stricter += 1,
                        Direction::MorePermissive => s.more_permissive += 1,
                        Direction::SameOutcome => s.same_outcome += 1,
                    }
                    self.changed.push(c);
                }
                Replayed::Invalid(i) => {
                    s.invalid += 1;
                    self.invalid.push(i);
                }
                Replayed::Failed(f) => {
                    s.failed += 1;
                    self.failed.push(f);
                }
            }
            self.requests = s.requests;
        }
    }

    /// The report for people: each change, the invalid and failed sources, the summary.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let whence = match self.source.kind.as_str() {
            "node" => "the node",
            _ => "the folder",
        };
        let _ = writeln!(
            out,
            "Replayed {} request(s) of {whence} {}: before under {}, after under {}.",
            self.requests,
            self.source.path,
            profile_text(&self.from),
            profile_text(&self.to)
        );
        if !self.changed.is_empty() {
            let _ = writeln!(out, "\nChanged:");
        }
        for c in &self.changed {
            let _ = writeln!(
                out,
                "  {} ({}): {}\n    before: {}\n    after:  {}",
                c.request_id,
                c.source,
                c.direction.words(),
                verdict_text(&c.before),
                verdict_text(&c.after)
            );
        }
        if !self.invalid.is_empty() {
            let _ = writeln!(out, "\nInvalid (not assessed):");
        }
        for i in &self.invalid {
            let id = i
                .request_id
                .as_deref()
                .map(|id| format!(" {id}"))
                .unwrap_or_default();
            let _ = writeln!(out, "  {}{id}: {}", i.source, i.error);
        }
        if !self.failed.is_empty() {
            let _ = writeln!(out, "\nFailed to assess (a rule did not evaluate):");
        }
        for f in &self.failed {
            let side = match f.profile {
                Side::From => &self.from.profile,
                Side::To => &self.to.profile,
            };
            let _ = writeln!(
                out,
                "  {} ({}) under {side}: {}",
                f.request_id, f.source, f.error
            );
        }
        let s = &self.summary;
        let _ = writeln!(
            out,
            "\nSummary: {} of {} assessed request(s) changed: {} stricter, {} more permissive, {} same outcome with other findings or narrowing; {} unchanged, {} invalid, {} failed.",
            s.changed,
            s.assessed,
            s.stricter,
            s.more_permissive,
            s.same_outcome,
            s.unchanged,
            s.invalid,
            s.failed
        );
        let _ = writeln!(
            out,
            "Stricter means a more severe outcome: refuse > needs_information > refer_for_review > execute_narrowed > execute."
        );
        out
    }
}

fn profile_text(p: &ProfileRef) -> String {
    if p.profile == p.name {
        p.profile.clone()
    } else {
        format!("{} (profile {})", p.profile, p.name)
    }
}

fn verdict_text(v: &Verdict) -> String {
    let codes = if v.codes.is_empty() {
        "no findings".to_owned()
    } else {
        v.codes.join(", ")
    };
    let mut text = format!("{} [{codes}]", v.outcome.as_str());
    if let Some(n) = &v.narrowed {
        let _ = write!(text, " narrowed to {}", narrowed_text(n));
    }
    text
}

fn narrowed_text(n: &Narrowed) -> String {
    let mut parts = vec![format!(
        "categories {}",
        serde_json::to_string(&n.data_categories).unwrap_or_default()
    )];
    if let Some(p) = &n.period {
        parts.push(format!(
            "period {}",
            serde_json::to_string(p).unwrap_or_default()
        ));
    }
    if let Some(until) = n.confidentiality_until {
        parts.push(format!("confidential until {until}"));
    }
    parts.join(", ")
}

/// Two assessors over the same jurisdiction.
struct Pair {
    from: Assessor,
    to: Assessor,
}

/// The two profiles and the jurisdiction to replay requests under.
pub struct Diff {
    from: Profile,
    to: Profile,
    pair: Pair,
    threads: usize,
}

/// Below this many inputs per thread, starting threads costs more than it saves.
const MIN_PER_THREAD: usize = 64;

impl Diff {
    /// Replays under `from` and `to`, both in `jurisdiction` (inputs may bring their own), on
    /// every available core.
    pub fn new(from: Profile, to: Profile, jurisdiction: Jurisdiction) -> Diff {
        let pair = Pair {
            from: Assessor::new(from.clone(), jurisdiction.clone()),
            to: Assessor::new(to.clone(), jurisdiction),
        };
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        Diff {
            from,
            to,
            pair,
            threads,
        }
    }

    /// Use at most `threads` threads (at least one).
    pub fn with_threads(mut self, threads: usize) -> Diff {
        self.threads = threads.max(1);
        self
    }

    /// The result of each input, in the inputs' order.
    pub fn replay(&self, inputs: &[Input]) -> Vec<Replayed> {
        // Inputs with a jurisdiction of their own (cases' overrides: few) get their own pair.
        let mut own: Vec<(&Jurisdiction, Pair)> = Vec::new();
        for j in inputs.iter().filter_map(|i| i.jurisdiction.as_ref()) {
            if j != self.pair.from.jurisdiction() && !own.iter().any(|(k, _)| *k == j) {
                let pair = Pair {
                    from: Assessor::new(self.from.clone(), j.clone()),
                    to: Assessor::new(self.to.clone(), j.clone()),
                };
                own.push((j, pair));
            }
        }
        let pair_of = |input: &Input| -> &Pair {
            input
                .jurisdiction
                .as_ref()
                .and_then(|j| own.iter().find(|(k, _)| *k == j))
                .map_or(&self.pair, |(_, p)| p)
        };
        let threads = self
            .threads
            .min(inputs.len().div_ceil(MIN_PER_THREAD))
            .max(1);
        if threads == 1 {
            return inputs.iter().map(|i| replay_one(i, pair_of(i))).collect();
        }
        let chunk = inputs.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let handles: Vec<_> = inputs
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|i| replay_one(i, pair_of(i)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| match h.join() {
                    Ok(results) => results,
                    // A panic in an assessment is a bug: show it as the bug it is.
                    Err(panic) => std::panic::resume_unwind(panic),
                })
                .collect()
        })
    }
}

fn replay_one(input: &Input, pair: &Pair) -> Replayed {
    let bytes = match &input.request {
        Ok(bytes) => bytes,
        Err(u) => {
            return Replayed::Invalid(Invalid {
                source: input.source.clone(),
                request_id: u.request_id.clone(),
                error: u.error.clone(),
            });
        }
    };
    let request = match parse_request(bytes) {
        Ok(r) => r,
        Err(invalid) => {
            return Replayed::Invalid(Invalid {
                source: input.source.clone(),
                request_id: id_of(bytes),
                error: invalid
                    .problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            });
        }
    };
    let now = input.now.unwrap_or(request.submitted_at);
    let failed = |profile, e: AssessError| {
        Replayed::Failed(Failed {
            request_id: request.id.to_string(),
            source: input.source.clone(),
            profile,
            error: e.to_string(),
        })
    };
    // The facts and the Cedar request depend on the request, the time and the jurisdiction
    // only, which both sides share: built once for both.
    let facts = Facts::of(&request, pair.from.jurisdiction(), now);
    let cedar = match pair.from.cedar_request(&request, &facts) {
        Ok(c) => c,
        Err(e) => return failed(Side::From, e),
    };
    let before = match verdict_for(&pair.from, &request, &cedar, now) {
        Ok(v) => v,
        Err(e) => return failed(Side::From, e),
    };
    let after = match verdict_for(&pair.to, &request, &cedar, now) {
        Ok(v) => v,
        Err(e) => return failed(Side::To, e),
    };
    if before == after {
        return Replayed::Unchanged;
    }
    Replayed::Changed(Change {
        request_id: request.id.to_string(),
        source: input.source.clone(),
        direction: Direction::between(before.outcome, after.outcome),
        before,
        after,
    })
}

/// What [`Verdict::of`] reads from `assessor.assess(request, now)`, computed as `assess` does
/// (the rules that fire, the outcome of their severities, the narrowing when the outcome is
/// `execute_narrowed`) without rendering messages or setting deadlines, which the diff does not
/// compare: the replay's fast path. The tests hold it equal to `Verdict::of(assess)`.
pub fn verdict(
    assessor: &Assessor,
    request: &Request,
    now: Timestamp,
) -> Result<Verdict, AssessError> {
    let facts = Facts::of(request, assessor.jurisdiction(), now);
    let cedar = assessor.cedar_request(request, &facts)?;
    verdict_for(assessor, request, &cedar, now)
}

fn verdict_for(
    assessor: &Assessor,
    request: &Request,
    cedar: &cedar_policy::Request,
    now: Timestamp,
) -> Result<Verdict, AssessError> {
    let fired = assessor.fired_rules(cedar)?;
    let outcome = Outcome::most_severe(fired.iter().map(|r| r.severity));
    let narrowed = (outcome == Outcome::ExecuteNarrowed)
        .then(|| narrow(request, now, fired.iter().filter_map(|r| r.narrowing)));
    let codes: BTreeSet<&str> = fired.iter().map(|r| r.code.as_str()).collect();
    Ok(Verdict {
        outcome,
        codes: codes.into_iter().map(str::to_owned).collect(),
        narrowed,
    })
}

/// The `id` of a request that does not parse, if it has a textual one.
fn id_of(bytes: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Id {
        id: Option<Value>,
    }
    let id: Id = serde_json::from_slice(bytes).ok()?;
    id.id?.as_str().map(str::to_owned)
}
