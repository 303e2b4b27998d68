use crate::ports::{QueueError, StoreError};

/// Everything a use case can refuse or fail with. `crate::http::error` is the one place that
/// turns these into status codes and bodies.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("no API key: send it in the x-api-key header or the x-api-key query parameter")]
    MissingApiKey,
    #[error("the API key is not valid for this workflow")]
    InvalidApiKey,
    #[error("workflow not found")]
    WorkflowNotFound,
    #[error("execution not found")]
    ExecutionNotFound,
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    AlreadyExists(String),
    #[error("the body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    WrongTrigger(String),
    #[error("the body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("content type {0:?} cannot carry JSON; send application/json")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("a dependency failed: {0}")]
    Upstream(String),
    #[error(transparent)]
    Sns(#[from] crate::sns::SnsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}
