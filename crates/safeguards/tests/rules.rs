//! One test per safeguard rule of shared/spec/safeguards.md (*Rules*): each rule fires, and stays
//! silent, in each profile, with the severity of the table, on both sides of its thresholds.
//! Then the narrowed values and the deadlines (*Deadlines*, *Output*).
//!
//! Every request is the clean baseline `p01-ransomware-production` (no findings under either
//! profile; checked below) with a few fields patched, parsed like any request and assessed at
//! 2026-11-20T12:00:00Z.

use std::sync::OnceLock;

use custos_model::{DataCategories, DataCategory, Period, Request, Timestamp, parse_request};
use custos_safeguards::Severity::{
    Narrow, NeedsInformation as NeedsInfo, Note, ReferForReview as Refer, Refuse,
};
use custos_safeguards::{Assessment, Assessor, Jurisdiction, Outcome, Profile, Severity};
use jiff::SignedDuration;
use serde_json::{Value, json};

const CONV: &str = "convention";
const RF: &str = "rights-first";
const BOTH: [&str; 2] = [CONV, RF];

const MEASURES: [&str; 7] = [
    "preserve_stored_data",
    "disclose_preserved_traffic",
    "produce_subscriber_info",
    "produce_stored_data",
    "search_and_seize",
    "collect_traffic_realtime",
    "intercept_content",
];
/// Preservation measures for the channel rules and `convention`'s dual criminality (arts. 42–43).
const PRESERVATION: [&str; 2] = ["preserve_stored_data", "disclose_preserved_traffic"];
/// Text that is blank under safeguards.md 1.1: White_Space, control (Cc) and format (Cf)
/// characters only. U+00A0 is White_Space, U+200B and U+FEFF are Cf, U+0001 and U+0085 are Cc.
const BLANKS: [&str; 6] = [
    "",
    "  \t\n",
    "\u{1}",
    "\u{200b}",
    "\u{a0}\u{feff}",
    "\u{85}\u{2060}\u{3000}",
];
const INTRUSIVE: [&str; 2] = ["collect_traffic_realtime", "intercept_content"];

// ── time ─────────────────────────────────────────────────────────────────────────────────────

fn now() -> Timestamp {
    "2026-11-20T12:00:00Z".parse().unwrap()
}

/// Where patched periods start.
fn start() -> Timestamp {
    "2026-01-01T00:00:00Z".parse().unwrap()
}

fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * n)
}

fn secs(n: i64) -> SignedDuration {
    SignedDuration::from_secs(n)
}

// ── building requests ────────────────────────────────────────────────────────────────────────

fn baseline() -> &'static Value {
    static BASELINE: OnceLock<Value> = OnceLock::new();
    BASELINE.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/cases/p01-ransomware-production.json"
        );
        let case: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        case["request"].clone()
    })
}

/// A change to the baseline request, addressed by JSON pointer.
#[derive(Clone)]
enum Edit {
    Set(&'static str, Value),
    Del(&'static str),
    Many(Vec<Edit>),
}

fn set(pointer: &'static str, value: Value) -> Edit {
    Edit::Set(pointer, value)
}

fn del(pointer: &'static str) -> Edit {
    Edit::Del(pointer)
}

fn apply(request: &mut Value, edit: &Edit) {
    let parent_of = |request: &mut Value, pointer: &str| -> (String, usize) {
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        assert!(request.pointer(parent).is_some_and(Value::is_object));
        (key.to_owned(), parent.len())
    };
    match edit {
        Edit::Set(pointer, value) => {
            let (key, n) = parent_of(request, pointer);
            let parent = request.pointer_mut(&pointer[..n]).unwrap();
            parent.as_object_mut().unwrap().insert(key, value.clone());
        }
        Edit::Del(pointer) => {
            let (key, n) = parent_of(request, pointer);
            let parent = request.pointer_mut(&pointer[..n]).unwrap();
            assert!(
                parent.as_object_mut().unwrap().remove(&key).is_some(),
                "nothing to delete at {pointer}"
            );
        }
        Edit::Many(edits) => edits.iter().for_each(|e| apply(request, e)),
    }
}

fn request(edits: &[Edit]) -> Request {
    let mut value = baseline().clone();
    for e in edits {
        apply(&mut value, e);
    }
    let bytes = serde_json::to_vec(&value).unwrap();
    parse_request(&bytes).unwrap_or_else(|e| panic!("patched request is invalid: {e}\n{value:#}"))
}

/// The measure, with data categories it reaches (and, for intrusive measures, a 30-day period;
/// for `preserve_stored_data`, the promised MLA follow-up): a clean request for every measure.
fn measure(name: &str) -> Edit {
    let mut edits = vec![set("/measure", json!(name))];
    let categories: &[&str] = match name {
        "preserve_stored_data" => {
            edits.push(set("/mla_followup_intended", json!(true)));
            &["subscriber", "traffic"]
        }
        "disclose_preserved_traffic" | "collect_traffic_realtime" => &["traffic"],
        "produce_subscriber_info" => &["subscriber"],
        "produce_stored_data" => &["subscriber", "traffic"],
        "search_and_seize" => &["subscriber", "traffic", "content"],
        "intercept_content" => &["content"],
        other => panic!("unknown measure {other}"),
    };
    edits.push(cats(categories));
    if INTRUSIVE.contains(&name) {
        edits.push(period_len(days(30)));
    }
    Edit::Many(edits)
}

fn cats(categories: &[&str]) -> Edit {
    set("/data_categories", json!(categories))
}

fn channel(name: &str) -> Edit {
    set("/channel", json!(name))
}

fn auth(kind: &str) -> Edit {
    set("/authorization", json!({ "kind": kind }))
}

fn no_auth() -> Edit {
    del("/authorization")
}

fn period(from: Timestamp, to: Timestamp) -> Edit {
    set(
        "/period",
        json!({ "from": from.to_string(), "to": to.to_string() }),
    )
}

fn period_len(length: SignedDuration) -> Edit {
    period(start(), start() + length)
}

/// Replaces the offences: (category, max_penalty).
fn offences(list: &[(&str, Value)]) -> Edit {
    let list: Vec<Value> = list
        .iter()
        .enumerate()
        .map(|(i, (category, penalty))| {
            json!({ "name": format!("Offence {i}"), "category": category, "max_penalty": penalty })
        })
        .collect();
    set("/investigation/offences", Value::Array(list))
}

fn offence(category: &str, penalty: Value) -> Edit {
    offences(&[(category, penalty)])
}

fn targets(n: usize) -> Edit {
    let list: Vec<Value> = (0..n)
        .map(|i| json!({ "kind": "account", "value": format!("user{i}@mail.example") }))
        .collect();
    set("/targets", Value::Array(list))
}

fn emergency(claimed: bool, justification: &str) -> Edit {
    set(
        "/emergency",
        json!({ "claimed": claimed, "justification": justification }),
    )
}

const EMERGENCY_WHY: &str = "The account holder threatens to kill a named hostage tonight.";

fn justified_emergency() -> Edit {
    emergency(true, EMERGENCY_WHY)
}

fn confidentiality(requested: bool, until: Option<Timestamp>, justification: &str) -> Edit {
    set(
        "/confidentiality",
        json!({
            "requested": requested,
            "until": until.map(|t| t.to_string()),
            "justification": justification,
        }),
    )
}

const SECRECY_WHY: &str = "Telling the suspects would let them destroy the evidence.";

// ── assessing ────────────────────────────────────────────────────────────────────────────────

fn assessor(profile: &str) -> &'static Assessor {
    static CONVENTION: OnceLock<Assessor> = OnceLock::new();
    static RIGHTS_FIRST: OnceLock<Assessor> = OnceLock::new();
    let cell = match profile {
        CONV => &CONVENTION,
        RF => &RIGHTS_FIRST,
        other => panic!("unknown profile {other}"),
    };
    cell.get_or_init(|| Assessor::new(Profile::builtin(profile).unwrap(), Jurisdiction::default()))
}

fn assess(profile: &str, edits: &[Edit]) -> Assessment {
    assessor(profile).assess(&request(edits), now()).unwrap()
}

fn assess_in(profile: &str, jurisdiction: &Jurisdiction, edits: &[Edit]) -> Assessment {
    Assessor::new(Profile::builtin(profile).unwrap(), jurisdiction.clone())
        .assess(&request(edits), now())
        .unwrap()
}

fn codes_of(a: &Assessment) -> Vec<(String, Severity)> {
    a.findings
        .iter()
        .map(|f| (f.code.clone(), f.severity))
        .collect()
}

fn codes(profile: &str, edits: &[Edit]) -> Vec<(String, Severity)> {
    codes_of(&assess(profile, edits))
}

/// `code` fires exactly once, with `severity`.
#[track_caller]
fn expect_fires(profile: &str, a: &Assessment, code: &str, severity: Severity) {
    let got: Vec<Severity> = a
        .findings
        .iter()
        .filter(|f| f.code == code)
        .map(|f| f.severity)
        .collect();
    assert_eq!(
        got,
        [severity],
        "{profile}: expected `{code}` once as {severity}; findings: {:?}",
        codes_of(a)
    );
}

#[track_caller]
fn expect_silent(profile: &str, a: &Assessment, code: &str) {
    assert!(
        a.findings.iter().all(|f| f.code != code),
        "{profile}: expected no `{code}`; findings: {:?}",
        codes_of(a)
    );
}

#[track_caller]
fn fires(profile: &str, edits: &[Edit], code: &str, severity: Severity) {
    expect_fires(profile, &assess(profile, edits), code, severity);
}

#[track_caller]
fn silent(profile: &str, edits: &[Edit], code: &str) {
    expect_silent(profile, &assess(profile, edits), code);
}

#[track_caller]
fn fires_in(j: &Jurisdiction, profile: &str, edits: &[Edit], code: &str, severity: Severity) {
    expect_fires(profile, &assess_in(profile, j, edits), code, severity);
}

#[track_caller]
fn silent_in(j: &Jurisdiction, profile: &str, edits: &[Edit], code: &str) {
    expect_silent(profile, &assess_in(profile, j, edits), code);
}

fn toml(text: &str) -> Jurisdiction {
    Jurisdiction::from_toml(text).unwrap()
}

// ── the baseline ─────────────────────────────────────────────────────────────────────────────

/// Every `silent` case below relies on this: the baseline, moved to any measure, has no findings.
#[test]
fn baseline_is_clean_for_every_measure_in_both_profiles() {
    for p in BOTH {
        assert_eq!(codes(p, &[]), [], "{p}");
        let a = assess(p, &[]);
        assert_eq!(a.outcome, Outcome::Execute, "{p}");
        assert!(a.narrowed.is_none(), "{p}");
        for m in MEASURES {
            assert_eq!(codes(p, &[measure(m)]), [], "{p} / {m}");
        }
    }
}

// ── formal defects ───────────────────────────────────────────────────────────────────────────

/// UNCC art. 40 (contents of a request), art. 42 (contents of a preservation request).
#[test]
fn incomplete_request() {
    const C: &str = "incomplete-request";
    for p in BOTH {
        fires(p, &[del("/investigation/summary_of_facts")], C, NeedsInfo);
        fires(
            p,
            &[set("/investigation/summary_of_facts", json!("  "))],
            C,
            NeedsInfo,
        );
        fires(
            p,
            &[del("/investigation/authority_conducting")],
            C,
            NeedsInfo,
        );
        fires(p, &[del("/purpose")], C, NeedsInfo);
        for blank in BLANKS {
            fires(p, &[set("/purpose", json!(blank))], C, NeedsInfo);
            fires(
                p,
                &[set("/investigation/authority_conducting", json!(blank))],
                C,
                NeedsInfo,
            );
        }
        // Something besides blank characters is given.
        silent(p, &[set("/purpose", json!("\u{200b}Evidence\u{1}"))], C);
        silent(p, &[], C);
        // Preservation (art. 42): necessity and the promised MLA follow-up are also required.
        let pres = || measure("preserve_stored_data");
        silent(p, &[pres()], C);
        fires(p, &[pres(), del("/necessity")], C, NeedsInfo);
        fires(
            p,
            &[pres(), set("/mla_followup_intended", json!(false))],
            C,
            NeedsInfo,
        );
        fires(p, &[pres(), del("/mla_followup_intended")], C, NeedsInfo);
        // … but only for preserve_stored_data, not for other measures.
        for m in ["disclose_preserved_traffic", "produce_stored_data"] {
            silent(
                p,
                &[measure(m), set("/mla_followup_intended", json!(false))],
                C,
            );
        }
        silent(
            p,
            &[measure("disclose_preserved_traffic"), del("/necessity")],
            C,
        );
    }
}

/// UNCC art. 24 (proportionality); N&P principle 3. rights-first only; preserve_stored_data
/// exempt, disclose_preserved_traffic not (safeguards.md 1.1: it hands traffic data over).
#[test]
fn necessity_not_shown() {
    const C: &str = "necessity-not-shown";
    for m in MEASURES {
        let edits = [measure(m), del("/necessity")];
        if m == "preserve_stored_data" {
            silent(RF, &edits, C);
        } else {
            fires(RF, &edits, C, NeedsInfo);
            silent(RF, &[measure(m)], C);
        }
        silent(CONV, &edits, C);
    }
    let disclose = || measure("disclose_preserved_traffic");
    fires(RF, &[disclose(), del("/necessity")], C, NeedsInfo);
    silent(RF, &[disclose()], C);
    silent(CONV, &[disclose(), del("/necessity")], C);
    for blank in BLANKS {
        fires(RF, &[set("/necessity", json!(blank))], C, NeedsInfo);
        fires(
            RF,
            &[disclose(), set("/necessity", json!(blank))],
            C,
            NeedsInfo,
        );
    }
}

/// UNCC art. 2(o): an emergency is a significant and imminent risk; it must be stated.
#[test]
fn emergency_unjustified() {
    const C: &str = "emergency-unjustified";
    for p in BOTH {
        for blank in BLANKS {
            fires(p, &[emergency(true, blank)], C, NeedsInfo);
        }
        fires(
            p,
            &[set("/emergency", json!({ "claimed": true }))],
            C,
            NeedsInfo,
        );
        silent(p, &[justified_emergency()], C);
        silent(p, &[emergency(false, "")], C);
        silent(p, &[del("/emergency")], C);
    }
}

// ── scope ────────────────────────────────────────────────────────────────────────────────────

/// UNCC art. 2(h) "serious crime" (≥ 4 years), art. 35(1): no convention offence and every
/// maximum penalty below 4 years.
#[test]
fn offence_out_of_scope() {
    const C: &str = "offence-out-of-scope";
    for p in BOTH {
        // Threshold: 3.99 years fires, exactly 4 does not.
        fires(p, &[offence("fraud", json!(3.99))], C, Refuse);
        fires(p, &[offence("fraud", json!(3.999999))], C, Refuse);
        fires(p, &[offence("fraud", json!(0))], C, Refuse);
        silent(p, &[offence("fraud", json!(4))], C);
        silent(p, &[offence("fraud", json!(4.5))], C);
        // Life and death count as ≥ 4.
        silent(p, &[offence("homicide", json!("life"))], C);
        silent(p, &[offence("homicide", json!("death"))], C);
        // A convention offence is in scope whatever its penalty.
        silent(p, &[offence("ict_fraud", json!(1))], C);
        silent(p, &[offence("illegal_access", json!(0.5))], C);
        // Several offences: fires only if none is in scope.
        fires(
            p,
            &[offences(&[
                ("fraud", json!(2)),
                ("tax_offence", json!(3.99)),
            ])],
            C,
            Refuse,
        );
        silent(
            p,
            &[offences(&[("fraud", json!(2)), ("tax_offence", json!(4))])],
            C,
        );
        silent(
            p,
            &[offences(&[("fraud", json!(2)), ("laundering", json!(2))])],
            C,
        );
    }
}

/// OHCHR proposal to narrow "serious crime" (death, injury or significant harm). rights-first
/// only: refer for ordinary measures, disclose_preserved_traffic included (1.1), refuse for
/// intrusive ones, nothing for preserve_stored_data.
#[test]
fn serious_harm_test() {
    const C: &str = "serious-harm-test";
    let minor = || offence("fraud", json!(5));
    let disclose = || measure("disclose_preserved_traffic");
    fires(RF, &[disclose(), minor()], C, Refer);
    silent(RF, &[disclose(), offence("kidnapping", json!(20))], C);
    silent(CONV, &[disclose(), minor()], C);
    for m in MEASURES {
        let edits = [measure(m), minor()];
        if m == "preserve_stored_data" {
            silent(RF, &edits, C);
        } else if INTRUSIVE.contains(&m) {
            fires(RF, &edits, C, Refuse);
        } else {
            fires(RF, &edits, C, Refer);
        }
        silent(CONV, &edits, C);
        // One serious-harm offence among several is enough.
        silent(
            RF,
            &[
                measure(m),
                offences(&[("fraud", json!(5)), ("kidnapping", json!(20))]),
            ],
            C,
        );
    }
    // Every convention offence counts as serious harm; so do the listed violent crimes.
    for c in [
        "csam",
        "ict_fraud",
        "laundering",
        "homicide",
        "terrorism",
        "drug_trafficking",
    ] {
        silent(RF, &[offence(c, json!(5))], C);
    }
    for c in [
        "tax_offence",
        "robbery_or_theft",
        "intellectual_property",
        "corruption",
        "other",
    ] {
        fires(RF, &[offence(c, json!(5))], C, Refer);
    }
}

// ── rights ───────────────────────────────────────────────────────────────────────────────────

/// UNCC art. 35(2), art. 40; art. 42 waives dual criminality for preservation (convention only).
#[test]
fn dual_criminality() {
    const C: &str = "dual-criminality";
    let not_here = || offence("defamation_or_insult", json!(5));
    for m in MEASURES {
        let edits = [measure(m), not_here()];
        if PRESERVATION.contains(&m) {
            silent(CONV, &edits, C);
        } else {
            fires(CONV, &edits, C, Refer);
        }
        fires(RF, &edits, C, Refuse);
    }
    for p in BOTH {
        // Any locally criminal offence satisfies it.
        silent(
            p,
            &[offences(&[
                ("defamation_or_insult", json!(5)),
                ("fraud", json!(5)),
            ])],
            C,
        );
        // `other` alone is unknown, not "not criminal": the -unverified rule, not this one.
        silent(p, &[offence("other", json!(5))], C);
        // `other` next to an expression offence: one is known not to be criminal.
        let mixed = [offences(&[
            ("other", json!(5)),
            ("lgbt_expression", json!(5)),
        ])];
        let sev = if p == RF { Refuse } else { Refer };
        fires(p, &mixed, C, sev);
        silent(p, &mixed, "dual-criminality-unverified");
    }
}

/// As above: every offence is `other`, so local criminality cannot be established.
#[test]
fn dual_criminality_unverified() {
    const C: &str = "dual-criminality-unverified";
    for m in MEASURES {
        let edits = [measure(m), offence("other", json!(5))];
        if PRESERVATION.contains(&m) {
            silent(CONV, &edits, C);
        } else {
            fires(CONV, &edits, C, Refer);
        }
        // rights-first: all measures, preservation included.
        fires(RF, &edits, C, Refer);
    }
    for p in BOTH {
        fires(
            p,
            &[offences(&[("other", json!(5)), ("other", json!(8))])],
            C,
            Refer,
        );
        silent(
            p,
            &[offences(&[("other", json!(5)), ("fraud", json!(5))])],
            C,
        );
        silent(p, &[offence("fraud", json!(5))], C);
        silent(p, &[offence("defamation_or_insult", json!(5))], C);
    }
}

/// UNCC art. 6(2); art. 40 (political opinions, discrimination); ICCPR art. 19.
#[test]
fn expression_offence() {
    const C: &str = "expression-offence";
    let expression = [
        "defamation_or_insult",
        "false_information",
        "religious_offence",
        "extremist_expression",
        "lgbt_expression",
        "assembly_or_association",
    ];
    for (p, sev) in [(CONV, Refer), (RF, Refuse)] {
        for c in expression {
            fires(p, &[offence(c, json!(5))], C, sev);
        }
        // Any offence: one among serious ones is enough; preservation is not exempt.
        fires(
            p,
            &[offences(&[
                ("terrorism", json!(20)),
                ("extremist_expression", json!(5)),
            ])],
            C,
            sev,
        );
        fires(
            p,
            &[
                measure("preserve_stored_data"),
                offence("lgbt_expression", json!(5)),
            ],
            C,
            sev,
        );
        for c in ["fraud", "terrorism", "other", "illegal_access"] {
            silent(p, &[offence(c, json!(5))], C);
        }
    }
}

/// UNCC art. 6(1); MLA practice of refusing without assurances.
#[test]
fn death_penalty() {
    const C: &str = "death-penalty";
    let death = || offence("homicide", json!("death"));
    for (p, sev) in [(CONV, Refer), (RF, Refuse)] {
        fires(p, &[death()], C, sev);
        fires(p, &[death(), set("/assurances", json!({}))], C, sev);
        fires(
            p,
            &[
                death(),
                set("/assurances", json!({ "no_death_penalty": false })),
            ],
            C,
            sev,
        );
        silent(
            p,
            &[
                death(),
                set("/assurances", json!({ "no_death_penalty": true })),
            ],
            C,
        );
        silent(p, &[offence("homicide", json!("life"))], C);
        silent(p, &[offence("homicide", json!(999))], C);
        let one_of_two = offences(&[("extortion", json!(10)), ("homicide", json!("death"))]);
        fires(p, &[one_of_two], C, sev);
    }
}

/// UNCC art. 11(2); critics: protection of good-faith research. rights-first only.
#[test]
fn security_research() {
    const C: &str = "security-research";
    let core = [
        "illegal_access",
        "illegal_interception",
        "data_interference",
        "system_interference",
        "misuse_of_devices",
    ];
    for c in core {
        fires(
            RF,
            &[
                offence(c, json!(5)),
                del("/investigation/good_faith_research_excluded"),
            ],
            C,
            Refer,
        );
        let not_excluded = set("/investigation/good_faith_research_excluded", json!(false));
        fires(RF, &[offence(c, json!(5)), not_excluded], C, Refer);
        silent(RF, &[offence(c, json!(5))], C); // baseline: excluded = true
        silent(
            CONV,
            &[
                offence(c, json!(5)),
                del("/investigation/good_faith_research_excluded"),
            ],
            C,
        );
    }
    // Convention offences outside arts. 7–11 are not core cybercrimes.
    for c in ["ict_forgery", "ict_fraud", "csam", "laundering", "fraud"] {
        silent(
            RF,
            &[
                offence(c, json!(5)),
                del("/investigation/good_faith_research_excluded"),
            ],
            C,
        );
    }
}

// ── channel ──────────────────────────────────────────────────────────────────────────────────

/// UNCC arts. 40–41; Budapest 2nd Protocol arts. 7, 9. Refused in both profiles.
#[test]
fn channel_not_permitted() {
    const C: &str = "channel-not-permitted";
    for p in BOTH {
        // mla: never.
        for m in MEASURES {
            silent(p, &[measure(m), channel("mla")], C);
            silent(p, &[measure(m), channel("mla"), justified_emergency()], C);
        }

        // direct: preserve_stored_data and produce_subscriber_info only …
        let direct = || channel("direct");
        silent(p, &[direct(), measure("preserve_stored_data")], C);
        silent(p, &[direct(), measure("produce_subscriber_info")], C);
        for m in [
            "disclose_preserved_traffic",
            "produce_stored_data",
            "search_and_seize",
            "collect_traffic_realtime",
            "intercept_content",
        ] {
            fires(p, &[direct(), measure(m)], C, Refuse);
        }
        // … except stored subscriber/traffic data in a claimed emergency (claimed suffices).
        for cs in [
            &["subscriber", "traffic"][..],
            &["subscriber"],
            &["traffic"],
        ] {
            let stored = || Edit::Many(vec![measure("produce_stored_data"), cats(cs)]);
            silent(p, &[direct(), stored(), justified_emergency()], C);
            silent(p, &[direct(), stored(), emergency(true, "")], C);
            fires(
                p,
                &[direct(), stored(), emergency(false, EMERGENCY_WHY)],
                C,
                Refuse,
            );
        }
        fires(
            p,
            &[
                direct(),
                measure("produce_stored_data"),
                cats(&["traffic", "content"]),
                justified_emergency(),
            ],
            C,
            Refuse,
        );
        for m in [
            "disclose_preserved_traffic",
            "search_and_seize",
            "intercept_content",
            "collect_traffic_realtime",
        ] {
            fires(p, &[direct(), measure(m), justified_emergency()], C, Refuse);
        }

        // network_24_7: preservation measures only …
        let net = || channel("network_24_7");
        for m in PRESERVATION {
            silent(p, &[net(), measure(m)], C);
        }
        for m in [
            "produce_subscriber_info",
            "produce_stored_data",
            "search_and_seize",
            "collect_traffic_realtime",
            "intercept_content",
        ] {
            fires(p, &[net(), measure(m)], C, Refuse);
        }
        // … except subscriber info or stored subscriber/traffic data in a claimed emergency.
        silent(
            p,
            &[
                net(),
                measure("produce_subscriber_info"),
                justified_emergency(),
            ],
            C,
        );
        silent(
            p,
            &[
                net(),
                measure("produce_subscriber_info"),
                emergency(true, ""),
            ],
            C,
        );
        silent(
            p,
            &[net(), measure("produce_stored_data"), justified_emergency()],
            C,
        );
        fires(
            p,
            &[
                net(),
                measure("produce_stored_data"),
                cats(&["content"]),
                justified_emergency(),
            ],
            C,
            Refuse,
        );
        fires(
            p,
            &[
                net(),
                measure("produce_stored_data"),
                cats(&["subscriber", "content"]),
                justified_emergency(),
            ],
            C,
            Refuse,
        );
        for m in [
            "search_and_seize",
            "collect_traffic_realtime",
            "intercept_content",
        ] {
            fires(p, &[net(), measure(m), justified_emergency()], C, Refuse);
        }
    }
}

// ── authorization ────────────────────────────────────────────────────────────────────────────

/// UNCC art. 24 ("judicial or other independent review", as appropriate) and an operator
/// default: convention asks it only for the intrusive measures, and accepts a judge or an
/// independent body. disclose_preserved_traffic needs none here (1.1 changes rights-first only).
#[test]
fn judicial_authorization_convention() {
    const C: &str = "judicial-authorization";
    for kind in ["prosecutorial", "administrative", "none"] {
        silent(
            CONV,
            &[measure("disclose_preserved_traffic"), auth(kind)],
            C,
        );
    }
    silent(CONV, &[measure("disclose_preserved_traffic"), no_auth()], C);
    for m in INTRUSIVE {
        silent(CONV, &[measure(m), auth("judicial")], C);
        silent(CONV, &[measure(m), auth("independent")], C);
        for kind in ["prosecutorial", "administrative", "none"] {
            fires(CONV, &[measure(m), auth(kind)], C, NeedsInfo);
            // No emergency waiver for intrusive measures.
            fires(
                CONV,
                &[measure(m), auth(kind), justified_emergency()],
                C,
                NeedsInfo,
            );
        }
        fires(CONV, &[measure(m), no_auth()], C, NeedsInfo);
    }
    for m in MEASURES.iter().filter(|m| !INTRUSIVE.contains(m)) {
        silent(CONV, &[measure(m), no_auth()], C);
        silent(CONV, &[measure(m), auth("none")], C);
        // Nothing to waive, so no note either.
        silent(CONV, &[measure(m), no_auth(), justified_emergency()], C);
    }
}

/// N&P principles 5–7; EU Reg. 2023/1543 art. 4. rights-first: a judge for intrusive measures,
/// search and seizure, and stored traffic or content; a judge or prosecutor for subscriber data
/// and for the disclosure of preserved traffic data (1.1); nothing for preserve_stored_data.
#[test]
fn judicial_authorization_rights_first() {
    const C: &str = "judicial-authorization";
    let judge_only = [
        measure("intercept_content"),
        measure("collect_traffic_realtime"),
        measure("search_and_seize"),
        Edit::Many(vec![measure("produce_stored_data"), cats(&["traffic"])]),
        Edit::Many(vec![measure("produce_stored_data"), cats(&["content"])]),
        Edit::Many(vec![
            measure("produce_stored_data"),
            cats(&["subscriber", "traffic"]),
        ]),
        Edit::Many(vec![
            measure("produce_stored_data"),
            cats(&["subscriber", "content"]),
        ]),
    ];
    for case in judge_only {
        let with = |a: Edit| Edit::Many(vec![case.clone(), a]);
        silent(RF, &[with(auth("judicial"))], C);
        for kind in ["independent", "prosecutorial", "administrative", "none"] {
            fires(RF, &[with(auth(kind))], C, NeedsInfo);
        }
        fires(RF, &[with(no_auth())], C, NeedsInfo);
    }
    let subscriber_level = [
        measure("produce_subscriber_info"),
        Edit::Many(vec![measure("produce_stored_data"), cats(&["subscriber"])]),
        measure("disclose_preserved_traffic"),
    ];
    for case in subscriber_level {
        let with = |a: Edit| Edit::Many(vec![case.clone(), a]);
        silent(RF, &[with(auth("judicial"))], C);
        silent(RF, &[with(auth("prosecutorial"))], C);
        for kind in ["independent", "administrative", "none"] {
            fires(RF, &[with(auth(kind))], C, NeedsInfo);
        }
        fires(RF, &[with(no_auth())], C, NeedsInfo);
    }
    let preserve = || measure("preserve_stored_data");
    silent(RF, &[preserve(), no_auth()], C);
    silent(RF, &[preserve(), auth("none")], C);
    // Its message asks for a judge or a prosecutor.
    let a = assess(RF, &[measure("disclose_preserved_traffic"), auth("none")]);
    let f = a.findings.iter().find(|f| f.code == C).unwrap();
    assert!(
        f.message.starts_with(
            "Disclosure of preserved traffic data needs the order of a judge or a prosecutor"
        ),
        "{}",
        f.message
    );
}

/// The emergency waiver (rights-first): a *justified* emergency waives prior authorization for
/// subscriber information and stored subscriber/traffic data only, and leaves a `note` that the
/// order must follow; never for content, search and seizure or intrusive measures.
#[test]
fn judicial_authorization_emergency_waiver() {
    const C: &str = "judicial-authorization";
    let e = justified_emergency;
    let stored = |cs: &[&str]| Edit::Many(vec![measure("produce_stored_data"), cats(cs)]);

    fires(
        RF,
        &[measure("produce_subscriber_info"), no_auth(), e()],
        C,
        Note,
    );
    fires(
        RF,
        &[
            measure("produce_subscriber_info"),
            auth("administrative"),
            e(),
        ],
        C,
        Note,
    );
    fires(RF, &[stored(&["subscriber"]), auth("none"), e()], C, Note);
    fires(
        RF,
        &[
            stored(&["subscriber", "traffic"]),
            auth("prosecutorial"),
            e(),
        ],
        C,
        Note,
    );
    fires(RF, &[stored(&["traffic"]), no_auth(), e()], C, Note);
    // The note only when the waiver was actually needed.
    silent(
        RF,
        &[
            measure("produce_subscriber_info"),
            auth("prosecutorial"),
            e(),
        ],
        C,
    );
    silent(
        RF,
        &[stored(&["subscriber"]), auth("prosecutorial"), e()],
        C,
    );
    silent(
        RF,
        &[stored(&["subscriber", "traffic"]), auth("judicial"), e()],
        C,
    );
    // No waiver for content, search and seizure, intrusive measures.
    fires(
        RF,
        &[stored(&["content"]), auth("prosecutorial"), e()],
        C,
        NeedsInfo,
    );
    fires(
        RF,
        &[stored(&["traffic", "content"]), no_auth(), e()],
        C,
        NeedsInfo,
    );
    fires(
        RF,
        &[measure("search_and_seize"), no_auth(), e()],
        C,
        NeedsInfo,
    );
    for m in INTRUSIVE {
        fires(RF, &[measure(m), auth("prosecutorial"), e()], C, NeedsInfo);
    }
    // Nor for the disclosure of preserved traffic data (safeguards.md 1.1): no note, the order
    // of a judge or a prosecutor is needed first.
    for a in [
        no_auth(),
        auth("none"),
        auth("administrative"),
        auth("independent"),
    ] {
        fires(
            RF,
            &[measure("disclose_preserved_traffic"), a, e()],
            C,
            NeedsInfo,
        );
    }
    silent(
        RF,
        &[
            measure("disclose_preserved_traffic"),
            auth("prosecutorial"),
            e(),
        ],
        C,
    );
    // An unjustified or unclaimed emergency waives nothing.
    fires(
        RF,
        &[
            measure("produce_subscriber_info"),
            no_auth(),
            emergency(true, ""),
        ],
        C,
        NeedsInfo,
    );
    fires(
        RF,
        &[
            stored(&["subscriber", "traffic"]),
            no_auth(),
            emergency(true, " "),
        ],
        C,
        NeedsInfo,
    );
    fires(
        RF,
        &[
            stored(&["subscriber", "traffic"]),
            no_auth(),
            emergency(false, EMERGENCY_WHY),
        ],
        C,
        NeedsInfo,
    );

    // A waived request executes (the note does not block it).
    let a = assess(
        RF,
        &[
            stored(&["subscriber", "traffic"]),
            auth("prosecutorial"),
            e(),
        ],
    );
    assert_eq!(a.outcome, Outcome::Execute, "{:?}", codes_of(&a));
}

// ── scope and duration ───────────────────────────────────────────────────────────────────────

/// The measure's article: asked categories it cannot reach are dropped (narrow), both profiles.
#[test]
fn category_exceeds_measure() {
    const C: &str = "category-exceeds-measure";
    for p in BOTH {
        let cases: [(&str, &[&str]); 5] = [
            ("produce_subscriber_info", &["subscriber", "traffic"]),
            (
                "produce_subscriber_info",
                &["subscriber", "traffic", "content"],
            ),
            ("disclose_preserved_traffic", &["traffic", "content"]),
            ("collect_traffic_realtime", &["subscriber", "traffic"]),
            ("intercept_content", &["traffic", "content"]),
        ];
        for (m, cs) in cases {
            let a = assess(p, &[measure(m), cats(cs)]);
            expect_fires(p, &a, C, Narrow);
            expect_silent(p, &a, "category-mismatch");
        }
        // Measures that reach everything never narrow categories.
        for m in [
            "preserve_stored_data",
            "produce_stored_data",
            "search_and_seize",
        ] {
            silent(
                p,
                &[measure(m), cats(&["subscriber", "traffic", "content"])],
                C,
            );
        }
        silent(p, &[measure("intercept_content"), cats(&["content"])], C);
    }
}

/// Same basis: nothing asked is within the measure's reach → ask which measure is meant.
#[test]
fn category_mismatch() {
    const C: &str = "category-mismatch";
    for p in BOTH {
        let cases: [(&str, &[&str]); 5] = [
            ("produce_subscriber_info", &["traffic"]),
            ("produce_subscriber_info", &["traffic", "content"]),
            ("disclose_preserved_traffic", &["subscriber"]),
            ("collect_traffic_realtime", &["content"]),
            ("intercept_content", &["subscriber", "traffic"]),
        ];
        for (m, cs) in cases {
            let a = assess(p, &[measure(m), cats(cs)]);
            expect_fires(p, &a, C, NeedsInfo);
            expect_silent(p, &a, "category-exceeds-measure");
        }
        silent(
            p,
            &[
                measure("produce_subscriber_info"),
                cats(&["subscriber", "traffic"]),
            ],
            C,
        );
    }
}

/// UNCC art. 24(2) (limits of scope and duration). rights-first only.
#[test]
fn period_missing() {
    const C: &str = "period-missing";
    for m in MEASURES {
        let edits = [measure(m), del("/period")];
        if [
            "produce_stored_data",
            "search_and_seize",
            "collect_traffic_realtime",
            "intercept_content",
        ]
        .contains(&m)
        {
            fires(RF, &edits, C, NeedsInfo);
        } else {
            silent(RF, &edits, C);
        }
        silent(CONV, &edits, C);
        silent(RF, &[measure(m)], C);
    }
}

/// UNCC art. 24(2): convention caps intrusive measures at 90 days (keep the start).
#[test]
fn period_too_long_convention() {
    const C: &str = "period-too-long";
    for m in INTRUSIVE {
        silent(CONV, &[measure(m), period_len(days(90))], C);
        fires(
            CONV,
            &[measure(m), period_len(days(90) + secs(1))],
            C,
            Narrow,
        );
        fires(CONV, &[measure(m), period_len(days(91))], C, Narrow);
    }
    // No limit for stored data in this profile.
    for m in [
        "produce_stored_data",
        "search_and_seize",
        "preserve_stored_data",
    ] {
        silent(CONV, &[measure(m), period_len(days(1000))], C);
    }
}

/// UNCC art. 24(2); N&P principle 5: rights-first caps intrusive measures at 30 days (keep the
/// start) and stored data / search and seizure at 366 days (keep the end).
#[test]
fn period_too_long_rights_first() {
    const C: &str = "period-too-long";
    for m in INTRUSIVE {
        silent(RF, &[measure(m), period_len(days(30))], C);
        fires(RF, &[measure(m), period_len(days(30) + secs(1))], C, Narrow);
        fires(RF, &[measure(m), period_len(days(31))], C, Narrow);
    }
    for m in ["produce_stored_data", "search_and_seize"] {
        silent(RF, &[measure(m), period_len(days(366))], C);
        fires(
            RF,
            &[measure(m), period_len(days(366) + secs(1))],
            C,
            Narrow,
        );
        fires(RF, &[measure(m), period_len(days(367))], C, Narrow);
    }
    for m in [
        "produce_subscriber_info",
        "preserve_stored_data",
        "disclose_preserved_traffic",
    ] {
        silent(RF, &[measure(m), period_len(days(1000))], C);
    }
}

/// UNCC art. 23(1) ("specific" investigations); N&P principle 3: more than 50 / 10 targets.
#[test]
fn too_many_targets() {
    const C: &str = "too-many-targets";
    silent(CONV, &[targets(50)], C);
    fires(CONV, &[targets(51)], C, Refer);
    silent(RF, &[targets(10)], C);
    fires(RF, &[targets(11)], C, Refer);
    fires(RF, &[targets(51)], C, Refer);
    silent(CONV, &[targets(11)], C);
}

// ── secrecy and notice ───────────────────────────────────────────────────────────────────────

/// N&P principle 8; EU Reg. 2023/1543 art. 13: secrecy without end. A note in convention;
/// rights-first narrows it to now + 90 days.
#[test]
fn confidentiality_unbounded() {
    const C: &str = "confidentiality-unbounded";
    for (p, sev) in [(CONV, Note), (RF, Narrow)] {
        fires(p, &[confidentiality(true, None, SECRECY_WHY)], C, sev);
        fires(
            p,
            &[set(
                "/confidentiality",
                json!({ "requested": true, "justification": SECRECY_WHY }),
            )],
            C,
            sev,
        );
        silent(
            p,
            &[confidentiality(true, Some(now() + days(30)), SECRECY_WHY)],
            C,
        );
        silent(p, &[confidentiality(false, None, "")], C);
        silent(p, &[del("/confidentiality")], C);
    }
}

/// Same basis: rights-first allows at most now + 365 days; convention sets no limit.
#[test]
fn confidentiality_too_long() {
    const C: &str = "confidentiality-too-long";
    let until = |d: SignedDuration| confidentiality(true, Some(now() + d), SECRECY_WHY);
    silent(RF, &[until(days(365))], C);
    fires(RF, &[until(days(365) + secs(1))], C, Narrow);
    fires(RF, &[until(days(3650))], C, Narrow);
    silent(RF, &[until(days(1))], C);
    silent(
        RF,
        &[confidentiality(false, Some(now() + days(3650)), "")],
        C,
    );
    silent(RF, &[confidentiality(true, None, SECRECY_WHY)], C); // that is -unbounded
    for d in [days(365) + secs(1), days(3650)] {
        silent(CONV, &[until(d)], C);
    }
}

/// Same basis: secrecy without a reason. A note in convention; needs information in rights-first.
#[test]
fn confidentiality_unjustified() {
    const C: &str = "confidentiality-unjustified";
    let in_30d = || Some(now() + days(30));
    for (p, sev) in [(CONV, Note), (RF, NeedsInfo)] {
        for blank in BLANKS {
            fires(p, &[confidentiality(true, in_30d(), blank)], C, sev);
        }
        fires(
            p,
            &[set(
                "/confidentiality",
                json!({ "requested": true, "until": null }),
            )],
            C,
            sev,
        );
        silent(p, &[confidentiality(true, in_30d(), SECRECY_WHY)], C);
        silent(p, &[confidentiality(false, None, "")], C);
    }
}

/// UNCC art. 36; Budapest 2nd Protocol art. 14. A note in convention; needs information in
/// rights-first.
#[test]
fn data_protection_terms() {
    const C: &str = "data-protection-terms";
    for (p, sev) in [(CONV, Note), (RF, NeedsInfo)] {
        fires(p, &[del("/data_protection")], C, sev);
        // 1 to 36,500 days is a retention limit (safeguards.md 1.1); more is not a request.
        for d in [1, 36_500] {
            silent(p, &[set("/data_protection/retention_days", json!(d))], C);
        }
        fires(
            p,
            &[set("/data_protection/retention_days", json!(null))],
            C,
            sev,
        );
        fires(p, &[del("/data_protection/retention_days")], C, sev);
        fires(
            p,
            &[set("/data_protection/purpose_limited", json!(false))],
            C,
            sev,
        );
        fires(p, &[del("/data_protection/purpose_limited")], C, sev);
        fires(
            p,
            &[set(
                "/data_protection/onward_transfer",
                json!("unrestricted"),
            )],
            C,
            sev,
        );
        silent(
            p,
            &[set(
                "/data_protection/onward_transfer",
                json!("authorized_only"),
            )],
            C,
        );
        silent(
            p,
            &[set("/data_protection/onward_transfer", json!("none"))],
            C,
        );
        // Not listed by the spec: an unspecified onward transfer alone does not fire.
        silent(p, &[del("/data_protection/onward_transfer")], C);
        silent(p, &[set("/data_protection/retention_days", json!(1))], C);
    }
}

// ── the receiving jurisdiction ───────────────────────────────────────────────────────────────

/// Operator policy (UNCC art. 6): requesting states on the operator's list go to a reviewer.
#[test]
fn heightened_scrutiny() {
    const C: &str = "heightened-scrutiny";
    let listed = toml(r#"heightened_scrutiny_states = ["XA", "QX"]"#);
    let other = toml(r#"heightened_scrutiny_states = ["QX"]"#);
    for p in BOTH {
        fires_in(&listed, p, &[], C, Refer);
        silent_in(&other, p, &[], C);
        fires_in(
            &other,
            p,
            &[set("/requesting_authority/state", json!("QX"))],
            C,
            Refer,
        );
        silent(p, &[], C); // default: nobody listed
        silent_in(&toml(r#"name = "Example Provider Ltd.""#), p, &[], C);
    }
}

/// `criminal_categories` replaces the default list; `other` left out stays unknown.
#[test]
fn jurisdiction_overrides_decide_dual_criminality() {
    const DC: &str = "dual-criminality";
    const DU: &str = "dual-criminality-unverified";
    let fraud_only = toml(r#"criminal_categories = ["fraud"]"#);
    let defamation_too = toml(r#"criminal_categories = ["fraud", "defamation_or_insult"]"#);
    let with_other = toml(r#"criminal_categories = ["fraud", "other"]"#);
    let nothing = toml("criminal_categories = []");
    let name_only = toml(r#"name = "Example Provider Ltd.""#);
    for (p, sev) in [(CONV, Refer), (RF, Refuse)] {
        // The baseline's offences (system_interference, extortion) are not on the list.
        fires_in(&fraud_only, p, &[], DC, sev);
        silent_in(&fraud_only, p, &[offence("fraud", json!(5))], DC);
        fires_in(&nothing, p, &[offence("fraud", json!(5))], DC, sev);
        // An expression offence made criminal locally satisfies dual criminality …
        let defamation = || offence("defamation_or_insult", json!(5));
        silent_in(&defamation_too, p, &[defamation()], DC);
        fires(p, &[defamation()], DC, sev);
        // … but stays an expression offence.
        fires_in(
            &defamation_too,
            p,
            &[defamation()],
            "expression-offence",
            sev,
        );
        // `other` listed as criminal: nothing left to verify.
        silent_in(&with_other, p, &[offence("other", json!(5))], DU);
        fires_in(&nothing, p, &[offence("other", json!(5))], DU, Refer);
        fires_in(&fraud_only, p, &[offence("other", json!(5))], DU, Refer);
        // A file without criminal_categories keeps the defaults.
        silent_in(&name_only, p, &[], DC);
        fires_in(&name_only, p, &[defamation()], DC, sev);
        fires_in(&name_only, p, &[offence("other", json!(5))], DU, Refer);
    }
    // Preservation exemption holds under overrides too (convention only).
    silent_in(&fraud_only, CONV, &[measure("preserve_stored_data")], DC);
    fires_in(
        &fraud_only,
        RF,
        &[measure("preserve_stored_data")],
        DC,
        Refuse,
    );
}

// ── narrowing ────────────────────────────────────────────────────────────────────────────────

fn narrowed(profile: &str, edits: &[Edit]) -> custos_safeguards::Narrowed {
    let a = assess(profile, edits);
    assert_eq!(
        a.outcome,
        Outcome::ExecuteNarrowed,
        "{profile}: {:?}",
        codes_of(&a)
    );
    a.narrowed
        .expect("narrowed is present when the outcome is execute_narrowed")
}

#[test]
fn narrowing_drops_categories_outside_the_measure() {
    use DataCategory::*;
    for p in BOTH {
        let n = narrowed(
            p,
            &[
                measure("produce_subscriber_info"),
                cats(&["subscriber", "traffic", "content"]),
            ],
        );
        assert_eq!(n.data_categories, DataCategories::of(&[Subscriber]), "{p}");
        // Unchanged values are repeated.
        let baseline_period = request(&[]).period;
        assert_eq!(n.period, baseline_period, "{p}");
        assert_eq!(n.confidentiality_until, None, "{p}");
        let n = narrowed(
            p,
            &[measure("intercept_content"), cats(&["traffic", "content"])],
        );
        assert_eq!(n.data_categories, DataCategories::of(&[Content]), "{p}");
    }
}

#[test]
fn narrowing_caps_periods() {
    let from = start();
    // Convention, intrusive: keep the start, end at from + 90 d.
    let n = narrowed(
        CONV,
        &[measure("intercept_content"), period_len(days(90) + secs(1))],
    );
    assert_eq!(
        n.period,
        Some(Period {
            from,
            to: from + days(90)
        })
    );
    let n = narrowed(
        CONV,
        &[measure("collect_traffic_realtime"), period_len(days(200))],
    );
    assert_eq!(
        n.period,
        Some(Period {
            from,
            to: from + days(90)
        })
    );
    // rights-first, intrusive: keep the start, end at from + 30 d.
    let n = narrowed(RF, &[measure("intercept_content"), period_len(days(90))]);
    assert_eq!(
        n.period,
        Some(Period {
            from,
            to: from + days(30)
        })
    );
    let n = narrowed(
        RF,
        &[
            measure("collect_traffic_realtime"),
            period_len(days(30) + secs(1)),
        ],
    );
    assert_eq!(
        n.period,
        Some(Period {
            from,
            to: from + days(30)
        })
    );
    // rights-first, stored data and search and seizure: keep the end, start at to − 366 d.
    for m in ["produce_stored_data", "search_and_seize"] {
        let to = from + days(540);
        let n = narrowed(RF, &[measure(m), period(from, to)]);
        assert_eq!(
            n.period,
            Some(Period {
                from: to - days(366),
                to
            }),
            "{m}"
        );
        let to = from + days(366) + secs(1);
        let n = narrowed(RF, &[measure(m), period(from, to)]);
        assert_eq!(
            n.period,
            Some(Period {
                from: from + secs(1),
                to
            }),
            "{m}"
        );
    }
}

#[test]
fn narrowing_caps_confidentiality() {
    let now = now();
    // Unbounded → now + 90 d.
    let n = narrowed(RF, &[confidentiality(true, None, SECRECY_WHY)]);
    assert_eq!(n.confidentiality_until, Some(now + days(90)));
    // Too long → now + 365 d.
    let n = narrowed(
        RF,
        &[confidentiality(
            true,
            Some(now + days(365) + secs(1)),
            SECRECY_WHY,
        )],
    );
    assert_eq!(n.confidentiality_until, Some(now + days(365)));
    let n = narrowed(
        RF,
        &[confidentiality(true, Some(now + days(3650)), SECRECY_WHY)],
    );
    assert_eq!(n.confidentiality_until, Some(now + days(365)));
    // Convention only notes unbounded secrecy: nothing is narrowed.
    let a = assess(CONV, &[confidentiality(true, None, SECRECY_WHY)]);
    assert_eq!(a.outcome, Outcome::Execute, "{:?}", codes_of(&a));
    assert!(a.narrowed.is_none());
}

/// A request arrives at any instant; the proposed end of secrecy is a whole second, rounded
/// down, so a reviewer who accepts it as offered records exactly the proposal (issue 16).
#[test]
fn a_proposed_end_of_secrecy_is_a_whole_second_never_past_the_cap() {
    let r = request(&[confidentiality(true, None, SECRECY_WHY)]);
    let arrived = now() + SignedDuration::from_nanos(253_965_542);
    let n = custos_safeguards::narrow(
        &r,
        arrived,
        [custos_safeguards::Narrowing::CapConfidentiality { days: 90 }],
    );
    assert_eq!(n.confidentiality_until, Some(now() + days(90)));
}

/// Every rule is evaluated on the request as submitted; several narrowings combine; `narrowed`
/// is present exactly when the outcome is execute_narrowed.
#[test]
fn narrowings_combine_and_only_show_when_executing_narrowed() {
    use DataCategory::*;
    let edits = || {
        [
            measure("intercept_content"),
            cats(&["traffic", "content"]),
            period_len(days(45)),
            confidentiality(true, None, SECRECY_WHY),
        ]
    };
    let a = assess(RF, &edits());
    let mut got = codes_of(&a);
    got.sort();
    assert_eq!(
        got,
        [
            ("category-exceeds-measure".to_owned(), Narrow),
            ("confidentiality-unbounded".to_owned(), Narrow),
            ("period-too-long".to_owned(), Narrow),
        ]
    );
    let n = a.narrowed.expect("narrowed");
    assert_eq!(n.data_categories, DataCategories::of(&[Content]));
    assert_eq!(
        n.period,
        Some(Period {
            from: start(),
            to: start() + days(30)
        })
    );
    assert_eq!(n.confidentiality_until, Some(now() + days(90)));

    // A more severe finding: the narrowing findings are still reported, `narrowed` is not.
    let mut more = edits().to_vec();
    more.push(del("/necessity"));
    let a = assess(RF, &more);
    assert_eq!(a.outcome, Outcome::NeedsInformation);
    assert!(a.narrowed.is_none());
    expect_fires(RF, &a, "period-too-long", Narrow);
    expect_fires(RF, &a, "category-exceeds-measure", Narrow);
    expect_fires(RF, &a, "necessity-not-shown", NeedsInfo);
}

/// safeguards.md 1.1: `retention_days` runs to 36,500; above it, and above every integer type,
/// the request is invalid and the refusal names the field (never an overflow).
#[test]
fn retention_days_above_36500_make_the_request_invalid() {
    for days in [
        json!(36_501),
        json!(5_000_000_000_u64),
        json!(u64::MAX),
        json!(1e20),
    ] {
        let mut value = baseline().clone();
        value["data_protection"]["retention_days"] = days.clone();
        let e = parse_request(&serde_json::to_vec(&value).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("$.data_protection.retention_days: ")
                && e.contains("is more than the 36,500"),
            "{days}: {e}"
        );
    }
}

// ── deadlines ────────────────────────────────────────────────────────────────────────────────

#[test]
fn respond_by_is_ten_days_or_eight_hours_in_a_justified_emergency() {
    for p in BOTH {
        assert_eq!(assess(p, &[]).deadlines.respond_by, now() + days(10), "{p}");
        let stored = measure("produce_stored_data");
        let a = assess(p, &[stored, justified_emergency()]);
        assert_eq!(
            a.deadlines.respond_by,
            now() + SignedDuration::from_hours(8),
            "{p}"
        );
        // An unjustified emergency does not shorten it.
        let a = assess(p, &[emergency(true, "")]);
        assert_eq!(a.deadlines.respond_by, now() + days(10), "{p}");
        // Operators may change the defaults.
        let j = toml("[deadlines]\nrespond_within_days = 5\nemergency_respond_within_hours = 2");
        let a = assess_in(p, &j, &[]);
        assert_eq!(a.deadlines.respond_by, now() + days(5), "{p}");
        let a = assess_in(p, &j, &[justified_emergency()]);
        assert_eq!(
            a.deadlines.respond_by,
            now() + SignedDuration::from_hours(2),
            "{p}"
        );
    }
}

/// UNCC art. 42 asks at least 60 days; the default is 90, for preserve_stored_data only.
#[test]
fn preserve_until_only_for_preservation_of_stored_data() {
    for p in BOTH {
        for m in MEASURES {
            let want = (m == "preserve_stored_data").then(|| now() + days(90));
            assert_eq!(
                assess(p, &[measure(m)]).deadlines.preserve_until,
                want,
                "{p} / {m}"
            );
        }
        let j = toml("[deadlines]\npreserve_for_days = 60");
        let a = assess_in(p, &j, &[measure("preserve_stored_data")]);
        assert_eq!(a.deadlines.preserve_until, Some(now() + days(60)), "{p}");
    }
}

/// safeguards.md 1.1: preserve_stored_data alone owes no notice (it hands nothing over and the
/// custodian keeps it confidential); every other measure does under rights-first,
/// disclose_preserved_traffic included.
#[test]
fn notify_person_at_is_null_for_preserve_stored_data_alone() {
    let now = now();
    let notify = |p: &str, edits: &[Edit]| assess(p, edits).deadlines.notify_person_at;
    let preserve = || measure("preserve_stored_data");
    assert_eq!(notify(RF, &[preserve()]), None);
    assert_eq!(notify(RF, &[preserve(), del("/confidentiality")]), None);
    // Whatever secrecy it asks, bounded, unbounded or beyond the cap.
    for until in [Some(now + days(30)), Some(now + days(400)), None] {
        assert_eq!(
            notify(RF, &[preserve(), confidentiality(true, until, SECRECY_WHY)]),
            None,
            "{until:?}"
        );
    }
    // Preservation together with the disclosure of the preserved traffic owes the notice, like
    // every other measure.
    for m in MEASURES
        .into_iter()
        .filter(|m| *m != "preserve_stored_data")
    {
        assert_eq!(notify(RF, &[measure(m)]), Some(now), "{m}");
        let until = now + days(100);
        assert_eq!(
            notify(
                RF,
                &[measure(m), confidentiality(true, Some(until), SECRECY_WHY)]
            ),
            Some(until),
            "{m}"
        );
        assert_eq!(
            notify(RF, &[measure(m), confidentiality(true, None, SECRECY_WHY)]),
            Some(now + days(90)),
            "{m}"
        );
    }
    // The preservation deadline is unaffected.
    assert_eq!(
        assess(RF, &[preserve()]).deadlines.preserve_until,
        Some(now + days(90))
    );
    for m in MEASURES {
        assert_eq!(notify(CONV, &[measure(m)]), None, "{m}");
    }
}

/// rights-first: the person is notified when secrecy ends (now if none was asked); convention
/// gives no date.
#[test]
fn notify_person_at() {
    let now = now();
    let notify = |p: &str, edits: &[Edit]| assess(p, edits).deadlines.notify_person_at;
    // No confidentiality asked: now.
    assert_eq!(notify(RF, &[]), Some(now));
    assert_eq!(notify(RF, &[del("/confidentiality")]), Some(now));
    assert_eq!(
        notify(RF, &[confidentiality(false, Some(now + days(100)), "")]),
        Some(now)
    );
    // Asked: when it ends, as narrowed.
    let until = now + days(100);
    assert_eq!(
        notify(RF, &[confidentiality(true, Some(until), SECRECY_WHY)]),
        Some(until)
    );
    let until = now + days(365);
    assert_eq!(
        notify(RF, &[confidentiality(true, Some(until), SECRECY_WHY)]),
        Some(until)
    );
    let far = now + days(365) + secs(1);
    assert_eq!(
        notify(RF, &[confidentiality(true, Some(far), SECRECY_WHY)]),
        Some(now + days(365))
    );
    assert_eq!(
        notify(RF, &[confidentiality(true, None, SECRECY_WHY)]),
        Some(now + days(90))
    );
    // convention: never a date.
    for edits in [
        vec![],
        vec![confidentiality(true, Some(now + days(100)), SECRECY_WHY)],
        vec![confidentiality(true, None, SECRECY_WHY)],
    ] {
        assert_eq!(notify(CONV, &edits), None);
    }
}
