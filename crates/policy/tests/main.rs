//! The policy workbench's tests: one binary, a module per file.

mod check;
