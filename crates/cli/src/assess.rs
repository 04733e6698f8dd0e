//! `custos assess`: read a request, assess it, print the assessment.

use std::io::Read;
use std::path::Path;

use anyhow::Context as _;
use custos_model::parse_request;
use custos_safeguards::{Assessor, Jurisdiction, Profile};
use jiff::Timestamp;

use crate::{AssessArgs, Failure, Format, text};

pub fn run(args: AssessArgs) -> Result<(), Failure> {
    let bytes = read_request(&args.request)?;
    // Load the configuration before judging the request, so that a broken profile is reported
    // as such even for a broken request.
    let profile = load_profile(&args.profile).map_err(Failure::Setup)?;
    let jurisdiction = match &args.jurisdiction {
        None => Jurisdiction::default(),
        Some(path) => load_jurisdiction(path).map_err(Failure::Setup)?,
    };
    let request = parse_request(&bytes).map_err(|invalid| {
        let mut message = format!(
            "{}: the request is invalid and was not assessed:",
            args.request.display()
        );
        for problem in &invalid.problems {
            message.push_str(&format!("\n  {problem}"));
        }
        message.push_str("\nFix the request (see request-format.md) and assess it again.");
        Failure::Input(message)
    })?;
    let now = args.now.unwrap_or_else(Timestamp::now);
    let assessor = Assessor::new(profile, jurisdiction);
    let assessment = assessor
        .assess(&request, now)
        .map_err(|e| Failure::Setup(e.into()))?;

    let format = Format::chosen(args.format);
    let out = match format {
        Format::Json => {
            let mut s =
                serde_json::to_string_pretty(&assessment).map_err(|e| Failure::Setup(e.into()))?;
            s.push('\n');
            s
        }
        Format::Text => text::render(&request, &assessment, assessor.jurisdiction()),
    };
    crate::out::write(&out)
}

fn read_request(path: &Path) -> Result<Vec<u8>, Failure> {
    let result = if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).map(|_| buf)
    } else {
        std::fs::read(path)
    };
    result.map_err(|e| Failure::Input(format!("{}: cannot read the request: {e}", path.display())))
}

pub(crate) fn load_profile(spec: &str) -> anyhow::Result<Profile> {
    if custos_safeguards::BUILTIN_PROFILES.contains(&spec) {
        return Ok(Profile::builtin(spec)?);
    }
    let path = Path::new(spec);
    if !spec.ends_with(".cedar") && !path.exists() {
        return Err(custos_safeguards::ProfileError::UnknownBuiltin(spec.to_owned()).into());
    }
    let source = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the profile {}", path.display()))?;
    let stem = path
        .file_stem()
        .map_or_else(|| spec.to_owned(), |s| s.to_string_lossy().into_owned());
    Ok(Profile::from_cedar(
        &source,
        &path.display().to_string(),
        &stem,
    )?)
}

fn load_jurisdiction(path: &Path) -> anyhow::Result<Jurisdiction> {
    let source = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the jurisdiction file {}", path.display()))?;
    Jurisdiction::from_toml(&source)
        .with_context(|| format!("the jurisdiction file {} cannot be used", path.display()))
}
