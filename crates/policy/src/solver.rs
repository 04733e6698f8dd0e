//! Finding the SMT solver at run time. The build never needs it; only `custos policy prove`
//! does, and it says how to install it when it is missing.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The oldest cvc5 cedar-policy-symcc works with.
pub const MIN_VERSION: (u32, u32) = (1, 3);

/// How to install the solver, for error messages.
pub const INSTALL_HINT: &str = "install it with `scripts/install-cvc5` from the Custos source tree (cvc5 from PyPI, with a small SMT-LIB front end; Debian's cvc5 is too old), then put the path it prints in the CVC5 variable (export CVC5=…) or its folder on PATH";

/// The solver could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SolverError {
    #[error("the cvc5 SMT solver was not found ({searched}); {INSTALL_HINT}")]
    Missing { searched: String },
    #[error("{path}: {problem}; {INSTALL_HINT}")]
    Unusable { path: String, problem: String },
}

/// A usable cvc5: its path and how it names itself.
#[derive(Debug, Clone)]
pub struct Cvc5 {
    pub path: PathBuf,
    pub version: String,
}

/// The cvc5 named by `CVC5`, else the first `cvc5` on `PATH`; checked to answer `--version`
/// with 1.3 or newer.
pub fn find() -> Result<Cvc5, SolverError> {
    find_in(std::env::var_os("CVC5"), std::env::var_os("PATH"))
}

/// [`find`] with the two variables given (for tests).
pub fn find_in(cvc5: Option<OsString>, path: Option<OsString>) -> Result<Cvc5, SolverError> {
    let candidate = match cvc5.filter(|v| !v.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => path
            .as_deref()
            .into_iter()
            .flat_map(std::env::split_paths)
            .map(|dir| dir.join("cvc5"))
            .find(|p| p.is_file())
            .ok_or_else(|| SolverError::Missing {
                searched: "CVC5 is not set and no `cvc5` is on PATH".to_owned(),
            })?,
    };
    check(&candidate)
}

fn check(path: &Path) -> Result<Cvc5, SolverError> {
    let shown = path.display().to_string();
    let output =
        Command::new(path)
            .arg("--version")
            .output()
            .map_err(|e| SolverError::Unusable {
                path: shown.clone(),
                problem: format!("cannot be run ({e})"),
            })?;
    let text = String::from_utf8_lossy(&output.stdout);
    let version = parse_version(&text).ok_or_else(|| SolverError::Unusable {
        path: shown.clone(),
        problem: format!(
            "does not say which cvc5 version it is (`--version` printed {:?})",
            text.lines().next().unwrap_or("")
        ),
    })?;
    if version < MIN_VERSION {
        return Err(SolverError::Unusable {
            path: shown,
            problem: format!(
                "is cvc5 {}.{}, older than the {}.{} cedar-policy-symcc needs",
                version.0, version.1, MIN_VERSION.0, MIN_VERSION.1
            ),
        });
    }
    Ok(Cvc5 {
        path: path.to_owned(),
        version: format!("cvc5 {}.{}", version.0, version.1),
    })
}

/// `(major, minor)` from the first line of `cvc5 --version` ("This is cvc5 version 1.4.2 …").
pub fn parse_version(text: &str) -> Option<(u32, u32)> {
    let line = text.lines().next()?;
    let rest = line.split("version").nth(1)?.trim_start();
    let word = rest.split_whitespace().next()?;
    let mut parts = word.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts
        .next()?
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .ok()?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_the_first_line() {
        assert_eq!(
            parse_version("This is cvc5 version 1.4.2 (through the cvc5 Python library)\n"),
            Some((1, 4))
        );
        assert_eq!(
            parse_version("This is cvc5 version 1.0.5 [git tag 1.0.5 branch HEAD]\ncompiled"),
            Some((1, 0))
        );
        assert_eq!(parse_version("z3 4.12"), None);
        assert!((1, 0) < MIN_VERSION && (1, 4) >= MIN_VERSION && (2, 0) >= MIN_VERSION);
    }

    #[test]
    fn a_missing_solver_says_how_to_install_it() {
        let e = find_in(None, Some(OsString::from("/nonexistent-dir"))).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("scripts/install-cvc5"), "{text}");
        let e = find_in(Some(OsString::from("/nonexistent/cvc5")), None).unwrap_err();
        assert!(
            e.to_string().contains("/nonexistent/cvc5: cannot be run"),
            "{e}"
        );
    }
}
