//! The integration tests of custos-witness, one binary.

mod properties;
mod protocol;
