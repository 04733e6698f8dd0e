//! The profiles (issue 17): `/console/profiles` lists the node's own profile and the built-in
//! ones; `/console/profiles/{name}` shows one profile's rules in order (code, severity, legal
//! basis, narrowing) and each property with where its proof stands, read by the service
//! (`custos_service::profiles`) from the record `custos policy prove --dir NODE` writes. The
//! console reads no file itself. Reading only: every signed-in person may see them.

use custos_safeguards::{ProofStatus, Rule};
use custos_service::profiles::{ProfileDetail, ProfileEntry, ProofState};

use super::*;

#[derive(Template)]
#[template(path = "profiles.html")]
struct ProfilesPage {
    layout: Layout,
    profiles: Vec<ProfileEntry>,
}

/// `GET /console/profiles`.
pub async fn profiles(State(c): Shared, jar: CookieJar) -> Response {
    let v = match page_viewer(&c, &jar, "/console/profiles").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    render(
        StatusCode::OK,
        &ProfilesPage {
            layout: v.layout("Profiles", "profiles"),
            profiles: c.node.profiles(),
        },
    )
}

/// A rule as the page lists it.
pub struct RuleRow {
    pub number: usize,
    pub code: String,
    /// The wire name, for the badge's class.
    pub severity: &'static str,
    /// In words.
    pub severity_label: &'static str,
    /// Its sources, one per `; `-separated part of `@basis`, placeholders in words.
    pub basis: Vec<String>,
    /// How it narrows, or empty.
    pub narrowing: String,
    /// `@limit_days`, or empty.
    pub limit: String,
}

impl RuleRow {
    fn of(number: usize, rule: &Rule) -> RuleRow {
        RuleRow {
            number,
            code: rule.code.clone(),
            severity: rule.severity.as_str(),
            severity_label: rule.severity.label(),
            basis: rule.basis.iter().map(|b| b.outline()).collect(),
            narrowing: rule
                .narrowing
                .map(|n| format!("{} ({})", n.describe(), n.name()))
                .unwrap_or_default(),
            limit: rule
                .limit_days
                .map(|d| format!("{d} days"))
                .unwrap_or_default(),
        }
    }
}

/// A property as the page lists it.
pub struct PropertyRow {
    pub name: String,
    pub statement: String,
    pub basis: Vec<String>,
    /// `holds`, `fails`, `not_applicable`, `error`: the badge's class.
    pub status: &'static str,
    pub status_label: &'static str,
    pub detail: String,
}

/// Where the proof stands, as the page says it.
pub struct ProofView {
    /// `current`, `stale`, `missing`, `unreadable`.
    pub state: &'static str,
    /// The sentence at the top of the properties.
    pub summary: String,
    /// The solver and time of the record, when there is one.
    pub by: String,
    pub properties: Vec<PropertyRow>,
}

fn property_rows(record: &custos_safeguards::ProofRecord) -> Vec<PropertyRow> {
    record
        .properties
        .iter()
        .map(|p| {
            let (status, status_label) = match p.status {
                ProofStatus::Holds => ("holds", "Proved"),
                ProofStatus::Fails => ("fails", "Fails: a counterexample exists"),
                ProofStatus::NotApplicable => ("not_applicable", "Not applicable"),
                ProofStatus::Error => ("error", "No answer from the solver"),
            };
            PropertyRow {
                name: p.name.clone(),
                statement: p.statement.clone(),
                basis: p
                    .basis
                    .split("; ")
                    .filter(|b| !b.trim().is_empty())
                    .map(str::to_owned)
                    .collect(),
                status,
                status_label,
                detail: p.detail.clone().unwrap_or_default(),
            }
        })
        .collect()
}

/// The date a proof ran, as the page says it.
fn day(record: &custos_safeguards::ProofRecord) -> String {
    record.proved_at.strftime("%Y-%m-%d").to_string()
}

fn proof_view(d: &ProfileDetail) -> ProofView {
    let by = |r: &custos_safeguards::ProofRecord| {
        format!("Proof run at {} by {}.", views::when(r.proved_at), r.solver)
    };
    match &d.proof {
        ProofState::Current(r) => ProofView {
            state: "current",
            summary: format!("Proved on {} for this exact profile text.", day(r)),
            by: by(r),
            properties: property_rows(r),
        },
        ProofState::Stale(r) => ProofView {
            state: "stale",
            summary: format!(
                "The profile changed since the last proof (of {}): these results are of another text. Run `{}` again.",
                day(r),
                d.prove_command
            ),
            by: by(r),
            properties: property_rows(r),
        },
        ProofState::Missing => ProofView {
            state: "missing",
            summary: format!("No proof recorded — run `{}`.", d.prove_command),
            by: String::new(),
            properties: Vec::new(),
        },
        ProofState::Unreadable(why) => ProofView {
            state: "unreadable",
            summary: format!("The proof record cannot be used: {why}."),
            by: String::new(),
            properties: Vec::new(),
        },
    }
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    layout: Layout,
    entry: ProfileEntry,
    sha256: String,
    notify_person: bool,
    rules: Vec<RuleRow>,
    proof: ProofView,
}

/// `GET /console/profiles/{name}`.
pub async fn profile_page(State(c): Shared, Path(name): Path<String>, jar: CookieJar) -> Response {
    let here = format!(
        "/console/profiles/{}",
        form_urlencoded::byte_serialize(name.as_bytes()).collect::<String>()
    );
    let v = match page_viewer(&c, &jar, &here).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(d) = c.node.profile_detail(&name).await else {
        let known: Vec<String> = c.node.profiles().into_iter().map(|p| p.name).collect();
        return error_page(
            v.layout("Profile not found", "profiles"),
            &Problem::not_found(format!(
                "this node has no profile named {name:?}; it knows {}",
                known.join(", ")
            )),
        );
    };
    let rules = d
        .profile
        .rules()
        .into_iter()
        .enumerate()
        .map(|(i, r)| RuleRow::of(i + 1, r))
        .collect();
    render(
        StatusCode::OK,
        &ProfilePage {
            layout: v.layout(format!("Profile {}", d.entry.name), "profiles"),
            proof: proof_view(&d),
            notify_person: d.profile.notifies_person(),
            sha256: d.sha256,
            entry: d.entry,
            rules,
        },
    )
}
