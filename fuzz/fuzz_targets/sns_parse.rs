//! SNS envelope parser, canonical string, URL rules and verifier: `harness::sns_parse` says
//! what is checked. Run with `make fuzz` (nightly and cargo-fuzz); `make test` replays
//! `fuzz/corpus/sns_parse/` through the same function on stable.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::sns_parse(data));
