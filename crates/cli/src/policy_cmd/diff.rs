//! `custos policy diff`: reads the two profiles and the requests (a folder, or a node's log
//! through custos-service), replays them with `custos_policy::diff` page by page, prints the
//! report.

use std::path::{Path, PathBuf};

use custos_policy::diff::{Diff, Input, ProfileRef, Report, SourceRef, Unusable};
use custos_safeguards::{Jurisdiction, Profile};
use custos_service::NodeDir;

use crate::{Failure, Format};

/// Requests held in memory at once: a page of the log, or of the folder's files.
const PAGE: usize = 10_000;

pub fn run(
    from: &str,
    to: &str,
    cases: Option<&Path>,
    dir: Option<&Path>,
    format: Option<Format>,
) -> Result<(), Failure> {
    let (from_profile, from_ref) = profile("--from", from)?;
    let (to_profile, to_ref) = profile("--to", to)?;
    let report = match (cases, dir) {
        (Some(cases), _) => replay_folder(cases, from_profile, to_profile, from_ref, to_ref)?,
        (None, Some(dir)) => replay_node(dir, from_profile, to_profile, from_ref, to_ref)?,
        (None, None) => {
            return Err(Failure::Input(
                "give the requests to replay: --cases DIR (a folder of requests or cases) or --dir NODE (a node directory)".to_owned(),
            ));
        }
    };
    let out = match Format::chosen(format) {
        Format::Json => {
            let mut s =
                serde_json::to_string_pretty(&report).map_err(|e| Failure::Setup(e.into()))?;
            s.push('\n');
            s
        }
        Format::Text => report.render_text(),
    };
    crate::out::write(&out)
}

fn profile(option: &str, spec: &str) -> Result<(Profile, ProfileRef), Failure> {
    let profile = crate::assess::load_profile(spec).map_err(|e| {
        Failure::Input(format!(
            "{option} {spec}: the profile cannot be used: {e:#}\nCheck it with `custos policy check FILE`, or give `rights-first` or `convention`."
        ))
    })?;
    let reference = ProfileRef {
        profile: spec.to_owned(),
        name: profile.name().to_owned(),
    };
    Ok((profile, reference))
}

/// Every `*.json` file of `dir`, sorted by name.
fn replay_folder(
    dir: &Path,
    from: Profile,
    to: Profile,
    from_ref: ProfileRef,
    to_ref: ProfileRef,
) -> Result<Report, Failure> {
    let unreadable = |e: std::io::Error| {
        Failure::Input(format!(
            "--cases {}: cannot read the folder: {e}. Give a folder of .json requests or cases.",
            dir.display()
        ))
    };
    let mut files: Vec<PathBuf> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let path = entry.map_err(unreadable)?.path();
        if path.extension().is_some_and(|e| e == "json") && path.is_file() {
            files.push(path);
        }
    }
    if files.is_empty() {
        return Err(Failure::Input(format!(
            "--cases {}: the folder holds no .json file; give a folder of custos.request/v1 documents or cases",
            dir.display()
        )));
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));

    let diff = Diff::new(from, to, Jurisdiction::default());
    let mut report = Report::new(
        from_ref,
        to_ref,
        SourceRef {
            kind: "cases".to_owned(),
            path: dir.display().to_string(),
        },
    );
    for page in files.chunks(PAGE) {
        let inputs: Vec<Input> = page
            .iter()
            .map(|path| {
                let name = path
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                match std::fs::read(path) {
                    Ok(bytes) => Input::from_file(name, &bytes),
                    Err(e) => Input {
                        source: name,
                        request: Err(Unusable {
                            request_id: None,
                            error: format!("$: cannot read the file: {e}"),
                        }),
                        now: None,
                        jurisdiction: None,
                    },
                }
            })
            .collect();
        report.extend(diff.replay(&inputs));
    }
    Ok(report)
}

/// Every request the node received, at its time of receipt, under the node's jurisdiction.
fn replay_node(
    dir: &Path,
    from: Profile,
    to: Profile,
    from_ref: ProfileRef,
    to_ref: ProfileRef,
) -> Result<Report, Failure> {
    crate::node_cmd::check_dir(dir).map_err(Failure::Setup)?;
    let rt = crate::node_cmd::runtime().map_err(Failure::Setup)?;
    let cannot_open = |e: anyhow::Error| {
        Failure::Setup(e.context(format!(
            "--dir {}: cannot read the node's requests",
            dir.display()
        )))
    };
    // Reading needs no node key: a copy of the directory without it will do.
    let nd = rt
        .block_on(NodeDir::open_to_read(dir))
        .map_err(cannot_open)?;
    let result = (|| {
        let jurisdiction = custos_service::node::load_jurisdiction(dir, nd.config())
            .map_err(|e| cannot_open(e.context("the node's jurisdiction")))?;
        let diff = Diff::new(from, to, jurisdiction);
        let mut report = Report::new(
            from_ref,
            to_ref,
            SourceRef {
                kind: "node".to_owned(),
                path: dir.display().to_string(),
            },
        );
        let mut start = 0;
        loop {
            let page = rt
                .block_on(nd.query().received_requests(start, PAGE as u64))
                .map_err(|e| cannot_open(e.into()))?;
            let Some(last) = page.last() else { break };
            start = last.index + 1;
            let inputs: Vec<Input> = page
                .into_iter()
                .map(|r| {
                    let case = r
                        .case_id
                        .map_or_else(String::new, |c| format!("case {c}, "));
                    let supplement = if r.supplement { ", supplement" } else { "" };
                    Input::request(
                        format!("{case}log index {}{supplement}", r.index),
                        r.request,
                        Some(r.received_at),
                    )
                })
                .collect();
            report.extend(diff.replay(&inputs));
        }
        Ok(report)
    })();
    rt.block_on(nd.close());
    result
}
