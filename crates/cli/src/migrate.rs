//! `custos migrate`: moves a node from SQLite to PostgreSQL. The work and every check are
//! `custos_service::migrate`'s; this refuses while another process has the SQLite file open
//! (a running `custos serve`), and prints what was done.

use std::path::{Path, PathBuf};

use custos_service::migrate::{self, MigrateError};

use crate::Failure;
use crate::node_cmd::{check_dir, runtime};
use crate::out::{errln, outln};

pub fn migrate(dir: &Path, to: &str) -> Result<(), Failure> {
    check_dir(dir).map_err(Failure::Setup)?;
    let file = migrate::sqlite_file(dir).map_err(failure)?;
    let holders = processes_holding(&file);
    if !holders.is_empty() {
        return Err(Failure::Input(format!(
            "{} is open in another process ({}): stop `custos serve` (and anything else using the node) first; nothing was changed",
            file.display(),
            holders.join("; ")
        )));
    }
    let rt = runtime().map_err(Failure::Setup)?;
    let done = rt
        .block_on(migrate::migrate(dir, to, &mut |step| errln!("{step}")))
        .map_err(failure)?;
    for t in &done.tables {
        outln!("{:<12} {:>10} row(s)", t.table, t.rows)?;
    }
    outln!(
        "migrated {} events to {}; verified tree root {} (size {})",
        done.size,
        done.target,
        done.root.to_base64(),
        done.size
    )?;
    outln!(
        "custos.toml now names the PostgreSQL database. The SQLite file {} was not changed: to go back before the node writes anything new, set `database` in custos.toml to it again.",
        done.old_database.display()
    )
}

fn failure(e: MigrateError) -> Failure {
    match e {
        MigrateError::Refused(message) => Failure::Input(message),
        MigrateError::Setup(e) => Failure::Setup(e),
        MigrateError::Mismatch { summary, findings } => {
            for f in &findings {
                errln!("MISMATCH: {f}");
            }
            Failure::Findings(format!("{summary}. custos.toml was not changed."))
        }
    }
}

/// The other processes (pid and command line) with `file` or its WAL open, as far as /proc
/// shows them: other users' processes, and systems without /proc, are not seen.
fn processes_holding(file: &Path) -> Vec<String> {
    let Ok(file) = file.canonicalize() else {
        return Vec::new();
    };
    let mut wal = file.clone().into_os_string();
    wal.push("-wal");
    let wanted = [file, PathBuf::from(wal)];
    let me = std::process::id().to_string();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for p in procs.flatten() {
        let pid = p.file_name().to_string_lossy().into_owned();
        if pid == me || !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        let open = fds
            .flatten()
            .filter_map(|fd| std::fs::read_link(fd.path()).ok())
            .any(|target| wanted.contains(&target));
        if open {
            let cmdline = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            found.push(format!("pid {pid}: {}", cmdline.trim()));
        }
    }
    found
}
