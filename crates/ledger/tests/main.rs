//! The integration tests of custos-ledger, one binary: each module was a test file of its own.

mod cosignature;
mod end_to_end;
mod properties;
mod vectors;
