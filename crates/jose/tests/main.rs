//! The integration tests of custos-jose, one binary: each module was a test file of its own.

mod fuzz_inputs;
mod properties;
mod vectors;
