//! Template checking and rendering (`webhook_trigger::domain::TemplateEngine`), as
//! `harness::template_render` describes. Run with `make fuzz`; `make test` replays
//! `fuzz/corpus/template_render/`.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::template_render(data));
