//! The assessment in plain words, for a reviewer at a terminal: the outcome first, what the
//! request asks, then one entry per finding with its legal basis, the narrowed request and the
//! deadlines. Target identifiers are never printed (they are personal data).

use std::fmt::Write as _;

use custos_model::{Period, Request};
use custos_safeguards::template::when;
use custos_safeguards::{Assessment, Jurisdiction, Severity};

const WIDTH: usize = 96;

pub fn render(request: &Request, a: &Assessment, jurisdiction: &Jurisdiction) -> String {
    let mut out = String::new();
    let headline = a.outcome.label().to_uppercase();
    let gloss = a.outcome.gloss();
    let _ = writeln!(out, "{headline}: {gloss}.");
    let _ = writeln!(
        out,
        "Request {} · profile {} · assessed {} for {}.",
        a.request_id,
        a.profile,
        when(a.assessed_at),
        jurisdiction.display_name()
    );
    out.push('\n');

    let ra = &request.requesting_authority;
    let mut asks = format!(
        "{} ({}, {}) asks through {} for {}. Data: {}; period: ",
        ra.name,
        ra.state,
        ra.kind.describe(),
        request.channel.describe(),
        request.measure.describe(),
        request.data_categories,
    );
    match request.period {
        Some(p) => asks.push_str(&period(p)),
        None => asks.push_str("none given"),
    }
    let _ = write!(
        asks,
        "; {} target{}.",
        request.targets.len(),
        if request.targets.len() == 1 { "" } else { "s" }
    );
    wrap_into(&mut out, "", &asks);
    let offences: Vec<String> = request
        .investigation
        .offences
        .iter()
        .map(|o| format!("{} ({}, up to {})", o.name, o.category, o.max_penalty))
        .collect();
    wrap_into(&mut out, "", &format!("Offences: {}.", offences.join("; ")));
    out.push('\n');

    let counted: Vec<_> = a
        .findings
        .iter()
        .filter(|f| f.severity != Severity::Note)
        .collect();
    if a.findings.is_empty() {
        out.push_str("No findings.\n");
    } else {
        let notes = a.findings.len() - counted.len();
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        let _ = match (counted.len(), notes) {
            (0, n) => writeln!(out, "No findings; {}:", plural(n, "note")),
            (c, 0) => writeln!(out, "{}:", plural(c, "finding")),
            (c, n) => writeln!(out, "{} and {}:", plural(c, "finding"), plural(n, "note")),
        };
        for f in &a.findings {
            let label = f.severity.label();
            let _ = writeln!(out, "  ▸ {} [{label}]", f.code);
            wrap_into(&mut out, "      ", &f.message);
            wrap_into(
                &mut out,
                "      ",
                &format!("Basis: {}.", f.basis.join("; ")),
            );
        }
    }

    if let Some(n) = &a.narrowed {
        out.push('\n');
        out.push_str("Narrowed request (what may be executed):\n");
        let _ = writeln!(
            out,
            "  data:          {}{}",
            n.data_categories,
            if n.data_categories != request.data_categories {
                format!("  (asked: {})", request.data_categories)
            } else {
                String::new()
            }
        );
        if let Some(p) = n.period {
            let _ = writeln!(
                out,
                "  period:        {}{}",
                period(p),
                match request.period {
                    Some(orig) if orig != p => format!("  (asked: {})", period(orig)),
                    _ => String::new(),
                }
            );
        }
        if request.confidentiality_requested() {
            let _ = writeln!(
                out,
                "  secrecy until: {}{}",
                n.confidentiality_until.map_or("no end".to_owned(), when),
                if n.confidentiality_until != request.confidentiality_until() {
                    format!(
                        "  (asked: {})",
                        request
                            .confidentiality_until()
                            .map_or("no end".to_owned(), when)
                    )
                } else {
                    String::new()
                }
            );
        }
    }

    out.push('\n');
    out.push_str("Deadlines:\n");
    let _ = writeln!(out, "  respond by:        {}", when(a.deadlines.respond_by));
    if let Some(t) = a.deadlines.preserve_until {
        let _ = writeln!(out, "  preserve until:    {} (renewable)", when(t));
    }
    if let Some(t) = a.deadlines.notify_person_at {
        let _ = writeln!(out, "  notify the person: {}", when(t));
    }
    out.push('\n');
    out.push_str("This is a recommendation; a person decides, with reasons.\n");
    out
}

fn period(p: Period) -> String {
    format!("{} .. {}", when(p.from), when(p.to))
}

/// Appends `text` wrapped at [`WIDTH`] columns, every line starting with `indent`.
fn wrap_into(out: &mut String, indent: &str, text: &str) {
    let mut line = String::from(indent);
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > WIDTH {
            out.push_str(&line);
            out.push('\n');
            line = String::from(indent);
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    if !empty {
        out.push_str(&line);
        out.push('\n');
    }
}
