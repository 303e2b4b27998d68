//! The step types live in `crate::steps`; the worker's modules reach them here.

pub use crate::steps::{
    ExecutionInfo, StepContext, StepDeps, StepRun, StepStatus, preview_step, resume_step, run_step,
};
