//! Workflow files (`WorkflowFile::parse`, YAML or JSON), as `harness::workflow_file`
//! describes. Run with `make fuzz`; `make test` replays `fuzz/corpus/workflow_file/`.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::workflow_file(data));
