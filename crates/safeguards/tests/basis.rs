//! Every policy's `@basis` cites what the spec's basis column cites for that rule and profile
//! (safeguards.md 1.1, *Rules*), read from the copy in `testdata/spec/safeguards.md`; and each
//! policy of the profile files is one block (`@code` line first, `@severity` next, `};` last).
//!
//! The comparison is by source, not by wording: each side is reduced to the set of articles,
//! principles and named sources it cites (`UNCC art. 24`, `cf. Budapest art. 29(2)`,
//! `N&P principle 5`, `operator default`, `critics`, …). A `cf.` stays part of the citation: a
//! comparison is not a basis. Paragraphs of the UNCC are compared only where the project's legal
//! research confirmed them (arts. 1–15, read in an authentic text); elsewhere the policies cite
//! the article, and citing a paragraph there is itself an error.

use std::collections::{BTreeMap, BTreeSet};

use custos_safeguards::{Profile, SPEC_VERSION};

const SPEC: &str = include_str!("../../../testdata/spec/safeguards.md");
const CONVENTION: &str = include_str!("../policies/convention.cedar");
const RIGHTS_FIRST: &str = include_str!("../policies/rights-first.cedar");

fn sources() -> [(&'static str, &'static str); 2] {
    [("convention", CONVENTION), ("rights-first", RIGHTS_FIRST)]
}

/// UNCC articles whose paragraphs the research read in an authentic text (arts. 1–15, Arabic).
const UNCC_CONFIRMED_PARAGRAPHS: std::ops::RangeInclusive<u32> = 1..=15;

// ── the spec ─────────────────────────────────────────────────────────────────────────────────

/// One row of the spec's rules table.
struct SpecRule {
    convention: String,
    rights_first: String,
    basis: String,
}

/// The rules table of the spec, by code, with "same" and "as above" resolved to the row above.
fn spec_rules() -> BTreeMap<String, SpecRule> {
    let table = SPEC
        .split_once("\n## Rules\n")
        .expect("the spec has a Rules section")
        .1;
    let mut rules = BTreeMap::new();
    let mut previous_basis = String::new();
    for line in table.lines().take_while(|l| !l.starts_with("## ")) {
        if !line.starts_with("| `") {
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        assert_eq!(cells.len(), 5, "a rules row has five cells: {line}");
        let code = cells[0].trim_matches('`').to_owned();
        let basis = match cells[4] {
            "same" | "as above" => previous_basis.clone(),
            b => b.to_owned(),
        };
        previous_basis = basis.clone();
        rules.insert(
            code,
            SpecRule {
                convention: cells[2].to_owned(),
                rights_first: cells[3].to_owned(),
                basis,
            },
        );
    }
    assert!(rules.len() >= 22, "found {} rules in the spec", rules.len());
    rules
}

/// The part of a basis cell after `` `label`: `` and before the next such label, or the whole
/// cell when it has no labels.
fn labelled_part<'a>(cell: &'a str, label: &str) -> &'a str {
    let marker = format!("`{label}`:");
    let Some(start) = cell.find(&marker) else {
        return cell;
    };
    let rest = &cell[start + marker.len()..];
    let end = rest.find(". `").map_or(rest.len(), |i| i + 1);
    rest[..end].trim()
}

// ── the policies ─────────────────────────────────────────────────────────────────────────────

/// One `forbid` policy of a profile file.
struct Policy {
    code: String,
    basis: String,
    /// The channel its condition is about, for rules with one policy per channel.
    channel: Option<&'static str>,
}

fn annotation(line: &str, name: &str) -> Option<String> {
    let rest = line.strip_prefix(&format!("@{name}(\""))?;
    Some(rest.strip_suffix("\")")?.to_owned())
}

/// The `forbid` policies of a profile file, each checked to be one block: its `@code(…)` line
/// first, `@severity` next, and ending in `};`.
fn policies(profile: &str, source: &str) -> Vec<Policy> {
    let mut out = Vec::new();
    let lines: Vec<&str> = source.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.starts_with("forbid") {
            panic!(
                "{profile}: line {}: a forbid without an @code line first",
                i + 1
            );
        }
        let Some(code) = annotation(line, "code") else {
            i += 1;
            continue;
        };
        let start = i;
        assert!(
            lines
                .get(i + 1)
                .is_some_and(|l| l.starts_with("@severity(\"")),
            "{profile}: `{code}` (line {}): @severity must follow @code",
            start + 1
        );
        let mut basis = None;
        let mut block = String::new();
        loop {
            let l = lines
                .get(i)
                .unwrap_or_else(|| panic!("{profile}: `{code}` never ends in `}};`"));
            assert!(
                i == start || !l.starts_with("@code("),
                "{profile}: `{code}` (line {}) runs into the next policy before `}};`",
                start + 1
            );
            if let Some(b) = annotation(l, "basis") {
                basis = Some(b);
            }
            block.push_str(l);
            block.push('\n');
            i += 1;
            if l.ends_with("};") {
                break;
            }
        }
        let channel = ["direct", "network_24_7"]
            .into_iter()
            .find(|c| block.contains(&format!("context.channel == \"{c}\"")));
        out.push(Policy {
            basis: basis.unwrap_or_else(|| panic!("{profile}: `{code}` has no @basis")),
            code,
            channel,
        });
    }
    out
}

// ── citations ────────────────────────────────────────────────────────────────────────────────

/// The sources a basis text cites, as comparable keys.
fn citations(text: &str) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let lower = text.to_lowercase();
    for (needle, key) in [
        ("operator default", "operator default"),
        ("operator policy", "operator policy"),
        ("custos policy", "Custos policy"),
        ("critics", "critics"),
        ("ohchr", "OHCHR"),
        ("mla practice", "MLA practice"),
        ("{measure_basis}", "the measure's article"),
        ("the measure's article", "the measure's article"),
    ] {
        if lower.contains(needle) {
            keys.insert(key.to_owned());
        }
    }
    if text
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| w == "EFF")
    {
        keys.insert("EFF".to_owned());
    }

    let words: Vec<&str> = text.split_whitespace().collect();
    let mut instrument: Option<&str> = None;
    let mut cf = false;
    let mut pending_cf = false;
    let mut i = 0;
    while i < words.len() {
        let word = words[i].trim_start_matches('(');
        let next = words.get(i + 1).copied().unwrap_or("");
        let named = match word {
            "UNCC" => Some("UNCC"),
            "ICCPR" => Some("ICCPR"),
            "N&P" => Some("N&P"),
            "EU" if next.starts_with("Reg.") => Some("EU Reg. 2023/1543"),
            "Budapest" if next == "2nd" => Some("2nd Protocol"),
            // "cf. 2nd Protocol", but not the "2nd" of "Budapest 2nd Protocol" again.
            "2nd" if next == "Protocol" && instrument != Some("2nd Protocol") => {
                Some("2nd Protocol")
            }
            "Budapest" => Some("Budapest"),
            _ => None,
        };
        if let Some(name) = named {
            instrument = Some(name);
            cf = std::mem::take(&mut pending_cf);
            i += 1;
            continue;
        }
        match word {
            "cf." => pending_cf = true,
            "art." | "arts." | "principle" | "principles" => {
                let source = instrument
                    .unwrap_or_else(|| panic!("`{word}` before any instrument in {text:?}"));
                let unit = if word.starts_with("principle") {
                    "principle"
                } else {
                    "art."
                };
                let prefix = if cf { "cf. " } else { "" };
                // Numbers follow, separated by commas: "17–19, 21, 22, 26".
                while let Some(number) = words.get(i + 1).copied() {
                    if !number.starts_with(|c: char| c.is_ascii_digit()) {
                        break;
                    }
                    i += 1;
                    for (article, paragraph) in numbers(number) {
                        let paragraph =
                            if source == "UNCC" && !UNCC_CONFIRMED_PARAGRAPHS.contains(&article) {
                                ""
                            } else {
                                paragraph
                            };
                        keys.insert(format!("{prefix}{source} {unit} {article}{paragraph}"));
                    }
                    if !number.ends_with(',') {
                        break;
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    keys
}

/// `35(1)(c),` → [(35, "(1)(c)")]; `17–19,` → [(17, ""), (18, ""), (19, "")].
fn numbers(word: &str) -> Vec<(u32, &str)> {
    let mut w = word.trim_end_matches([',', ';', '.']);
    while w.ends_with(')') && w.matches(')').count() > w.matches('(').count() {
        w = &w[..w.len() - 1];
    }
    if let Some((from, to)) = w.split_once(['–', '-']) {
        let (from, to): (u32, u32) = (from.parse().unwrap(), to.parse().unwrap());
        return (from..=to).map(|n| (n, "")).collect();
    }
    let digits = w.find(|c: char| !c.is_ascii_digit()).unwrap_or(w.len());
    let article = w[..digits]
        .parse()
        .unwrap_or_else(|_| panic!("not an article number: {word:?}"));
    vec![(article, &w[digits..])]
}

/// UNCC paragraphs the research did not confirm, cited anyway.
fn unconfirmed_paragraphs(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut instrument = "";
    let words: Vec<&str> = text.split_whitespace().collect();
    for (i, word) in words.iter().enumerate() {
        let word = word.trim_start_matches('(');
        match word {
            "UNCC" | "ICCPR" | "N&P" | "Budapest" | "EU" => instrument = word,
            "art." | "arts." if instrument == "UNCC" => {
                for n in words[i + 1..]
                    .iter()
                    .take_while(|n| n.starts_with(|c: char| c.is_ascii_digit()))
                {
                    for (article, paragraph) in numbers(n) {
                        if !paragraph.is_empty() && !UNCC_CONFIRMED_PARAGRAPHS.contains(&article) {
                            found.push(format!("UNCC art. {article}{paragraph}"));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    found
}

// ── the tests ────────────────────────────────────────────────────────────────────────────────

/// The copy of the spec is the version the engine says it implements.
#[test]
fn the_spec_copy_is_the_version_the_engine_implements() {
    let line = format!("Spec version {SPEC_VERSION} ");
    assert!(
        SPEC.contains(&line),
        "testdata/spec/safeguards.md is not {SPEC_VERSION}"
    );
}

#[test]
fn citations_are_read_as_sources() {
    let keys = |t: &str| citations(t).into_iter().collect::<Vec<_>>();
    assert_eq!(
        keys(
            "UNCC art. 40 (contents of a request), art. 42 (contents of a preservation request); cf. Budapest art. 29(2)"
        ),
        ["UNCC art. 40", "UNCC art. 42", "cf. Budapest art. 29(2)"]
    );
    assert_eq!(
        keys("UNCC art. 35(2), art. 40; art. 42 (cf. Budapest art. 29(3)) for preservation."),
        [
            "UNCC art. 35",
            "UNCC art. 40",
            "UNCC art. 42",
            "cf. Budapest art. 29(3)"
        ]
    );
    assert_eq!(
        keys("UNCC art. 6(2); art. 40 (x); ICCPR arts. 17–19, 21, 22, 26"),
        [
            "ICCPR art. 17",
            "ICCPR art. 18",
            "ICCPR art. 19",
            "ICCPR art. 21",
            "ICCPR art. 22",
            "ICCPR art. 26",
            "UNCC art. 40",
            "UNCC art. 6(2)"
        ]
    );
    assert_eq!(
        keys(
            "the UNCC has no direct channel (art. 5(2) sovereignty); cf. Budapest 2nd Protocol art. 7 (subscriber information); the rest is operator default."
        ),
        [
            "UNCC art. 5(2)",
            "cf. 2nd Protocol art. 7",
            "operator default"
        ]
    );
    assert_eq!(
        keys("N&P principles 5–7; EU Reg. 2023/1543 art. 4"),
        [
            "EU Reg. 2023/1543 art. 4",
            "N&P principle 5",
            "N&P principle 6",
            "N&P principle 7"
        ]
    );
    assert_eq!(
        keys("OHCHR proposal (reported by EFF) to narrow UNCC art. 2(h) to offences causing death"),
        ["EFF", "OHCHR", "UNCC art. 2(h)"]
    );
    assert_eq!(
        unconfirmed_paragraphs("UNCC art. 35(1)(c); UNCC art. 2(h), art. 24(2)"),
        ["UNCC art. 35(1)(c)", "UNCC art. 24(2)"]
    );
}

/// The heart of this file: each policy cites the sources of the spec's basis column for its rule
/// and profile, no more and no fewer.
#[test]
fn every_basis_matches_the_spec() {
    let spec = spec_rules();
    let mut mismatches = Vec::new();
    for (profile, source) in sources() {
        for policy in policies(profile, source) {
            let rule = spec.get(&policy.code).unwrap_or_else(|| {
                panic!("{profile}: `{}` is not a rule of the spec", policy.code)
            });
            let mut cell = labelled_part(&rule.basis, profile);
            if let Some(channel) = policy.channel {
                cell = labelled_part(cell, channel);
            }
            let (want, got) = (citations(cell), citations(&policy.basis));
            if want != got {
                mismatches.push(format!(
                    "{profile} `{}`{}:\n  spec:   {cell}\n          {want:?}\n  policy: {}\n          {got:?}",
                    policy.code,
                    policy.channel.map(|c| format!(" ({c})")).unwrap_or_default(),
                    policy.basis
                ));
            }
            let unconfirmed = unconfirmed_paragraphs(&policy.basis);
            if !unconfirmed.is_empty() {
                mismatches.push(format!(
                    "{profile} `{}` cites paragraphs the research did not confirm: {unconfirmed:?}",
                    policy.code
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// The block structure the test above relies on covers every rule the engine loads, in order.
#[test]
fn every_policy_is_one_block_and_every_rule_is_read() {
    for (profile, source) in sources() {
        let read: Vec<String> = policies(profile, source)
            .into_iter()
            .map(|p| p.code)
            .collect();
        let loaded: Vec<String> = Profile::builtin(profile)
            .unwrap()
            .rules()
            .into_iter()
            .map(|r| r.code.clone())
            .collect();
        assert_eq!(read, loaded, "{profile}");
    }
}

/// A rule marked "—" in a profile's column has no policy there; any other mark, "— (note)"
/// included, has at least one.
#[test]
fn every_rule_of_the_spec_is_in_the_profiles_it_names() {
    for (profile, source) in sources() {
        let codes: BTreeSet<String> = policies(profile, source)
            .into_iter()
            .map(|p| p.code)
            .collect();
        for (code, rule) in spec_rules() {
            let column = match profile {
                "convention" => &rule.convention,
                _ => &rule.rights_first,
            };
            let applies = column != "—";
            assert_eq!(
                codes.contains(&code),
                applies,
                "{profile} `{code}`: the spec says {column:?}"
            );
        }
    }
}

/// safeguards.md 1.1: the convention profile's own choices are cited as operator defaults,
/// never as treaty text; serious harm narrows art. 2(h) rather than resting on it; rights-first's
/// dual criminality is Custos policy, not a demand the research did not find.
#[test]
fn the_corrections_of_1_1_hold() {
    let basis = |profile: &str, code: &str| -> Vec<String> {
        let (_, source) = sources().into_iter().find(|(p, _)| *p == profile).unwrap();
        policies(profile, source)
            .into_iter()
            .filter(|p| p.code == code)
            .map(|p| p.basis)
            .collect()
    };
    for code in [
        "judicial-authorization",
        "period-too-long",
        "too-many-targets",
    ] {
        for b in basis("convention", code) {
            assert!(b.contains("operator default"), "convention `{code}`: {b}");
        }
    }
    let direct = policies("convention", CONVENTION)
        .into_iter()
        .find(|p| p.code == "channel-not-permitted" && p.channel == Some("direct"))
        .unwrap();
    assert!(
        direct.basis.contains("operator default"),
        "{}",
        direct.basis
    );
    for b in basis("rights-first", "serious-harm-test") {
        for source in b.split("; ") {
            assert!(!source.starts_with("UNCC art. 2(h)"), "{b}");
        }
        assert!(b.contains("to narrow"), "{b}");
    }
    for code in ["dual-criminality", "dual-criminality-unverified"] {
        for b in basis("rights-first", code) {
            assert!(b.starts_with("Custos policy"), "{b}");
            assert!(!b.contains("critics: dual criminality"), "{b}");
        }
    }
}
