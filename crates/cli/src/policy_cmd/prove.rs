//! `custos policy prove`: read the profile and its property file, find the solver, prove,
//! print, write counterexamples and the proof record.

use std::path::{Path, PathBuf};

use custos_policy::prove::{Prover, Reproduction, Verdict, describe_facts, record};
use custos_policy::{properties, solver};
use custos_safeguards::{Jurisdiction, Profile, ProofStatus};
use jiff::Timestamp;

use crate::{Failure, Format};

pub struct Args {
    pub profile: Option<String>,
    pub property: Option<String>,
    pub counterexamples: Option<PathBuf>,
    pub dir: Option<PathBuf>,
    pub format: Option<Format>,
}

/// A profile's text, where it comes from, and its path when it is a file.
pub struct Source {
    pub text: String,
    pub origin: String,
    pub path: Option<PathBuf>,
}

/// Reads `rights-first`, `convention` or a .cedar file (relative to `base` when given).
pub fn profile_source(spec: &str, base: Option<&Path>) -> Result<Source, Failure> {
    match spec {
        "rights-first" => {
            return Ok(Source {
                text: custos_safeguards::profile::RIGHTS_FIRST_SOURCE.to_owned(),
                origin: "built-in profile rights-first".to_owned(),
                path: None,
            });
        }
        "convention" => {
            return Ok(Source {
                text: custos_safeguards::profile::CONVENTION_SOURCE.to_owned(),
                origin: "built-in profile convention".to_owned(),
                path: None,
            });
        }
        _ => {}
    }
    let path = match base {
        Some(b) if Path::new(spec).is_relative() => b.join(spec),
        _ => PathBuf::from(spec),
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Failure::Input(format!(
            "{}: cannot read the profile ({e}); give `rights-first`, `convention` or the path of a .cedar file",
            path.display()
        ))
    })?;
    Ok(Source {
        text,
        origin: path.display().to_string(),
        path: Some(path),
    })
}

fn setup(e: impl std::fmt::Display) -> Failure {
    Failure::Setup(anyhow::anyhow!("{e}"))
}

pub fn run(args: Args) -> Result<(), Failure> {
    // The node, when given: its profile by default, its jurisdiction for counterexamples.
    let node = match &args.dir {
        None => None,
        Some(dir) => Some(custos_service::config::Config::load(dir).map_err(Failure::Setup)?),
    };
    let spec = match (&args.profile, &node) {
        (Some(p), _) => p.clone(),
        (None, Some(config)) => config.profile.clone(),
        (None, None) => return Err(Failure::Input("give --profile or --dir".to_owned())),
    };
    let base = if args.profile.is_some() {
        None
    } else {
        args.dir.as_deref()
    };
    let source = profile_source(&spec, base)?;
    let stem = source
        .path
        .as_deref()
        .and_then(Path::file_stem)
        .map_or_else(|| spec.clone(), |s| s.to_string_lossy().into_owned());
    let profile = Profile::from_cedar(&source.text, &source.origin, &stem)
        .map_err(|e| Failure::Input(format!("{e}\nCheck it with `custos policy check`.")))?;

    // The operator's property file beside the profile.
    let extra = match &source.path {
        None => None,
        Some(path) => {
            let file = path.with_file_name(format!("{stem}.properties.cedar"));
            match std::fs::read_to_string(&file) {
                Ok(text) => Some((text, file.display().to_string())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => {
                    return Err(Failure::Input(format!(
                        "{}: cannot read the property file: {e}",
                        file.display()
                    )));
                }
            }
        }
    };
    let properties = properties::for_profile(
        &profile,
        extra.as_ref().map(|(t, o)| (t.as_str(), o.as_str())),
        args.property.as_deref(),
    )
    .map_err(|e| Failure::Input(e.to_string()))?;

    let jurisdiction = match node.as_ref().and_then(|c| c.jurisdiction.clone()) {
        None => Jurisdiction::default(),
        Some(path) => {
            let path = match &args.dir {
                Some(dir) if path.is_relative() => dir.join(path),
                _ => path,
            };
            let text = std::fs::read_to_string(&path).map_err(|e| {
                Failure::Setup(anyhow::anyhow!(
                    "{}: cannot read the node's jurisdiction: {e}",
                    path.display()
                ))
            })?;
            Jurisdiction::from_toml(&text).map_err(setup)?
        }
    };

    let cvc5 = solver::find().map_err(setup)?;
    let now = Timestamp::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(setup)?;
    let verdicts = runtime
        .block_on(async {
            let mut prover = Prover::new(&cvc5, Reproduction { jurisdiction, now })?;
            prover.prove(&profile, &properties).await
        })
        .map_err(setup)?;

    let proof = record(&profile, &cvc5, &verdicts, now);
    let failed = verdicts.iter().any(|v| v.status == ProofStatus::Fails);
    let errored = verdicts.iter().any(|v| v.status == ProofStatus::Error);

    let mut written = Vec::new();
    if let Some(out) = &args.counterexamples {
        std::fs::create_dir_all(out).map_err(|e| {
            Failure::Setup(anyhow::anyhow!(
                "{}: cannot create the folder: {e}",
                out.display()
            ))
        })?;
        for v in &verdicts {
            let Some(realized) = v.counterexample.as_ref().and_then(|c| c.realized.as_ref()) else {
                continue;
            };
            let file = out.join(format!("{}.json", v.property.name));
            let mut text = serde_json::to_string_pretty(&realized.document).map_err(setup)?;
            text.push('\n');
            write_file(&file, &text)?;
            written.push(file.display().to_string());
            if let Some(toml) = &realized.jurisdiction_toml {
                let file = out.join(format!("{}.jurisdiction.toml", v.property.name));
                write_file(&file, toml)?;
                written.push(file.display().to_string());
            }
        }
    }
    if let Some(dir) = &args.dir {
        let folder = dir.join("proofs");
        std::fs::create_dir_all(&folder).map_err(|e| {
            Failure::Setup(anyhow::anyhow!(
                "{}: cannot create the folder: {e}",
                folder.display()
            ))
        })?;
        let mut text = serde_json::to_string_pretty(&proof).map_err(setup)?;
        text.push('\n');
        write_file(&folder.join(format!("{}.json", profile.name())), &text)?;
    }

    let format = Format::chosen(args.format);
    let out = match format {
        Format::Json => {
            let counterexamples: serde_json::Map<String, serde_json::Value> = verdicts
                .iter()
                .filter_map(|v| {
                    let c = v.counterexample.as_ref()?;
                    Some((
                        v.property.name.clone(),
                        serde_json::json!({
                            "explanation": c.explanation,
                            "facts": c.facts.iter().map(|(k, v)| (k.clone(), match v {
                                custos_policy::inverse::FactValue::Bool(b) => serde_json::json!(b),
                                custos_policy::inverse::FactValue::Long(n) => serde_json::json!(n),
                                custos_policy::inverse::FactValue::Text(s) => serde_json::json!(s),
                            })).collect::<serde_json::Map<_, _>>(),
                            "request": c.realized.as_ref().map(|r| &r.document),
                            "jurisdiction_toml": c.realized.as_ref().and_then(|r| r.jurisdiction_toml.as_ref()),
                            "note": c.note,
                        }),
                    ))
                })
                .collect();
            let mut s = serde_json::to_string_pretty(&serde_json::json!({
                "proof": proof,
                "counterexamples": counterexamples,
                "written": written,
            }))
            .map_err(setup)?;
            s.push('\n');
            s
        }
        Format::Text => render(&profile, &source.origin, &cvc5.version, &verdicts, &written),
    };
    crate::out::write(&out)?;
    if failed {
        return Err(Failure::Input(format!(
            "{}: a property does not hold (above: the counterexample, as facts and as a request)",
            source.origin
        )));
    }
    if errored {
        return Err(Failure::Setup(anyhow::anyhow!(
            "the solver gave no answer for a property (above)"
        )));
    }
    Ok(())
}

fn write_file(path: &Path, text: &str) -> Result<(), Failure> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| Failure::Setup(anyhow::anyhow!("{}: cannot write: {e}", path.display())))
}

fn render(
    profile: &Profile,
    origin: &str,
    solver: &str,
    verdicts: &[Verdict],
    written: &[String],
) -> String {
    let mut s = format!(
        "Profile `{}` ({origin}), proved with {solver} for every request the schema allows.\n\n",
        profile.name()
    );
    for v in verdicts {
        let mark = match v.status {
            ProofStatus::Holds => "holds",
            ProofStatus::Fails => "FAILS",
            ProofStatus::NotApplicable => "n/a  ",
            ProofStatus::Error => "ERROR",
        };
        s.push_str(&format!(
            "{mark}  {}  ({} ms)\n       {}\n       Basis: {}\n",
            v.property.name, v.millis, v.property.statement, v.property.basis
        ));
        if let Some(d) = &v.detail
            && v.counterexample.is_none()
        {
            s.push_str(&format!("       {d}\n"));
        }
        if let Some(c) = &v.counterexample {
            s.push_str(&format!("       Counterexample: {}.\n", c.explanation));
            s.push_str("       Its facts:\n");
            for line in describe_facts(&c.facts).lines() {
                s.push_str(&format!("         {line}\n"));
            }
            if let Some(note) = &c.note {
                s.push_str(&format!("       Note: {note}\n"));
            }
            if let Some(r) = &c.realized {
                s.push_str("       As a request (custos.request/v1):\n");
                let json = serde_json::to_string_pretty(&r.document).unwrap_or_default();
                for line in json.lines() {
                    s.push_str(&format!("         {line}\n"));
                }
                if let Some(toml) = &r.jurisdiction_toml {
                    s.push_str("       Under this receiving jurisdiction (--jurisdiction):\n");
                    for line in toml.lines() {
                        s.push_str(&format!("         {line}\n"));
                    }
                }
            }
        }
        s.push('\n');
    }
    for w in written {
        s.push_str(&format!("Wrote {w}\n"));
    }
    s
}
