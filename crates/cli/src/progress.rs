//! Progress bars and Ctrl-C for the commands that move large files (`seal`, `unseal`,
//! `evidence seal`, `fetch`).
//!
//! A bar (bytes, rate, time left) goes to standard error only, only when it is a terminal, only
//! for inputs of 32 MiB or more, and never with `--json`: standard output is unchanged. Ctrl-C
//! sets a flag that the command checks between pieces of work, so it stops, removes its partial
//! output and exits with status 130, instead of dying with a partial file on disk.

use std::io::IsTerminal as _;
use std::ops::ControlFlow;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressStyle};

/// Inputs smaller than this get no bar.
const PROGRESS_FROM: u64 = 32 << 20;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static HANDLER: OnceLock<bool> = OnceLock::new();

/// Catches Ctrl-C (SIGINT) from now on: [`interrupted`] tells. Idempotent. If the handler cannot
/// be installed, Ctrl-C keeps its default effect (the partial output keeps its temporary name).
pub fn catch_interrupt() {
    HANDLER
        .get_or_init(|| ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst)).is_ok());
}

/// Whether Ctrl-C was pressed since [`catch_interrupt`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// A progress bar over `total` bytes, or nothing (see the module's rules).
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// A bar for `total` bytes, shown only on a terminal and unless `quiet` (`--json`).
    pub fn new(total: u64, quiet: bool) -> Progress {
        if quiet || total < PROGRESS_FROM || !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = ProgressBar::new(total);
        if let Ok(style) = ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
        ) {
            bar.set_style(style);
        }
        Progress(Some(bar))
    }

    /// Counts `n` more bytes; `Break` once Ctrl-C was pressed.
    pub fn advance(&self, n: u64) -> ControlFlow<()> {
        if let Some(bar) = &self.0 {
            bar.inc(n);
        }
        if interrupted() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
