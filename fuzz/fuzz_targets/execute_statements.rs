//! Fuzz target: see `checks::execute_statements`.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::execute_statements(data));
