//! The integration tests of custos-seal, one binary: each module was a test file of its own.

mod age_vectors;
mod package;
mod payload_interop;
