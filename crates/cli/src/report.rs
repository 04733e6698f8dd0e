//! `custos report`: a transparency report of a period on the node (offline), published through
//! one batch like `authority add` (or read as published), or the exact table (`--exact`, spends
//! nothing); `--opening FILE` writes what an oversight body is handed; `custos report verify`
//! checks such an opening against the node's signed log and the report the node serves.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use custos_service::NodeDir;
use custos_service::offline::OfflineError;
use custos_service::ops::transparency::ReportPublished;
use custos_service::transparency::offline;
use custos_service::wire::Opening;
use custos_transparency::{Period, Report};
use jiff::Timestamp;

use crate::Failure;
use crate::client::{client, get, url, verify_opening_online};
use crate::node_cmd::runtime;
use crate::out::outln;

/// How to print a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `custos.transparency/v1`.
    Json,
    /// `section,key,value` rows.
    Csv,
    /// A plain standalone HTML page.
    Html,
}

fn period(from: &str, to: &str) -> Result<Period, Failure> {
    Period::parse(from, to).map_err(|e| Failure::Input(format!("--{}", e)))
}

fn failure(e: OfflineError) -> Failure {
    match e {
        OfflineError::Refused(p) => Failure::Input(p.detail),
        OfflineError::Setup(e) => Failure::Setup(e),
    }
}

/// `custos report --dir D --from --to [--exact] [--format] [--opening FILE]`.
pub fn run(
    dir: &Path,
    from: &str,
    to: &str,
    exact: bool,
    format: Format,
    opening: Option<&Path>,
) -> Result<(), Failure> {
    let period = period(from, to)?;
    let rt = runtime().map_err(Failure::Setup)?;
    let (report, open) = rt.block_on(async {
        let nd = NodeDir::open(dir).await.map_err(Failure::Setup)?;
        let result = async {
            let report = if exact {
                offline::exact(&nd, period).await?
            } else {
                offline::publish(&nd, period, Timestamp::now()).await?
            };
            let open = match opening {
                Some(_) => offline::opening(&nd, period).await?,
                None => None,
            };
            Ok::<_, OfflineError>((report, open))
        }
        .await;
        nd.close().await;
        result.map_err(failure)
    })?;
    if let Some(path) = opening {
        let o = open.ok_or_else(|| {
            Failure::Input(format!(
                "--opening: the period {} to {} is not published; run without --exact first",
                period.from, period.to
            ))
        })?;
        let text = serde_json::to_string_pretty(&o).map_err(|e| Failure::Setup(e.into()))?;
        std::fs::write(path, format!("{text}\n"))
            .with_context(|| format!("cannot write {}", path.display()))
            .map_err(Failure::Setup)?;
    }
    print(&report, format)
}

fn print(report: &Report, format: Format) -> Result<(), Failure> {
    match format {
        Format::Json => {
            let text =
                serde_json::to_string_pretty(report).map_err(|e| Failure::Setup(e.into()))?;
            outln!("{text}")
        }
        Format::Csv => {
            let text = custos_transparency::csv::to_csv(report);
            outln!("{}", text.trim_end())
        }
        Format::Html => outln!("{}", html(report)),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A plain standalone page: every figure in tables, no script, no external resource.
fn html(report: &Report) -> String {
    let mut body = String::new();
    let mut section = String::new();
    let rows = custos_transparency::csv::rows(report);
    for (s, k, v) in &rows {
        if *s != section {
            if !section.is_empty() {
                body.push_str("</tbody></table>\n");
            }
            body.push_str(&format!(
                "<table><caption>{}</caption><thead><tr><th scope=\"col\">Key</th><th scope=\"col\">Value</th></tr></thead><tbody>\n",
                escape(s)
            ));
            section.clone_from(s);
        }
        body.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td>{}</td></tr>\n",
            escape(k),
            escape(v)
        ));
    }
    if !section.is_empty() {
        body.push_str("</tbody></table>\n");
    }
    let kind = if report.exact {
        "exact figures (not for publication)"
    } else {
        "published with differential privacy"
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Transparency report {from} to {to}</title></head>\n<body><h1>Transparency report, {from} to {to}</h1>\n<p>{kind}</p>\n{body}</body></html>",
        from = report.from,
        to = report.to,
    )
}

/// `custos report verify --server URL --vkey VKEY OPENING`: the opening is in the node's signed
/// log (its commitment, so the exact table it holds, is the one logged), it is a
/// `report.published`, and the report the node serves for its period is the one in it.
pub fn verify(server: &str, vkey: &str, opening: &PathBuf) -> Result<(), Failure> {
    let vkey = crate::client::parse_vkey(vkey)?;
    let text = std::fs::read_to_string(opening)
        .map_err(|e| Failure::Input(format!("{}: {e}", opening.display())))?;
    let o: Opening = serde_json::from_str(&text).map_err(|e| {
        Failure::Input(format!(
            "{}: not a custos.opening/v1 document: {e}",
            opening.display()
        ))
    })?;
    if o.event.kind != custos_model::EventType::ReportPublished {
        return Err(Failure::Input(format!(
            "{}: event {} is a {}, not a report.published",
            opening.display(),
            o.index,
            o.event.kind
        )));
    }
    let value = o
        .event
        .to_value()
        .map_err(|e| Failure::Input(format!("event: {e}")))?;
    let published: ReportPublished = serde_json::from_value(value).map_err(|e| {
        Failure::Input(format!(
            "{}: not a report.published body: {e}",
            opening.display()
        ))
    })?;
    let rt = runtime().map_err(Failure::Setup)?;
    rt.block_on(async {
        let c = client().map_err(Failure::Setup)?;
        let (size, _, _) = verify_opening_online(&c, server, &vkey, &o).await?;
        let p = published.period;
        let served: Report = get(
            &c,
            url(
                server,
                &format!("/transparency/report.json?from={}&to={}", p.from, p.to),
            ),
        )
        .await
        .map_err(Failure::Setup)?
        .json()
        .await
        .map_err(|e| Failure::Setup(e.into()))?;
        if served != published.report {
            return Err(Failure::Input(format!(
                "the report the node serves for {} to {} is not the one its log holds (event {})",
                p.from, p.to, o.index
            )));
        }
        outln!(
            "ok: the exact table of {} to {} ({} requests) is the one committed in event {} of the log (checkpoint size {size}, signed by {}), and the published report matches it",
            p.from,
            p.to,
            published.table.requests,
            o.index,
            vkey.name()
        )
    })
}
