//! Standard output and error that a reader may close early (`custos log open 3 | head -1`):
//! once a pipe is closed, output stops quietly and the command still ends with its own exit
//! status, where `println!` would panic.

use std::io::{ErrorKind, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::Failure;

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes `text` to standard output and flushes it.
pub fn write(text: &str) -> Result<(), Failure> {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        // The reader has all it wanted.
        Err(e) if e.kind() == ErrorKind::BrokenPipe => {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => Err(Failure::Setup(
            anyhow::Error::new(e).context("writing to standard output"),
        )),
    }
}

/// Writes `text` and a newline to standard error; a closed or failing standard error is no
/// reason to fail a command.
pub fn note(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// `println!` that ends quietly on a closed pipe; evaluates to `Result<(), Failure>`.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::out::write(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprintln!` that never panics.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::out::note(&format!($($arg)*))
    };
}

pub(crate) use {errln, outln};
