//! End-to-end tests live in `tests/tests/`; this library holds their shared harness.

pub mod binary;
pub mod browser;
pub mod node;
