//! The webhook request path: the router over a SQLite store, as `harness::webhook_request`
//! describes. Run with `make fuzz`; `make test` replays `fuzz/corpus/webhook_request/`.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::webhook_request(data));
