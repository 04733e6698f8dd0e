//! The policy workbench's tests: one binary, a module per file.

mod check;
mod common;
mod diff;
mod inverse;
mod prove;
mod space;
