//! The integration tests of custos-safeguards, one binary: each module was a test file of its own.

mod basis;
mod cases;
mod properties;
mod rules;
