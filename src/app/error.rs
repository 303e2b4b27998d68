use crate::domain::{DefinitionError, PayloadProblem, RejectionReason, SignatureError};
use crate::error_kind::ErrorKind;
use crate::ports::{QueueError, StoreError};
use crate::sns::SnsError;

/// Everything a use case can refuse or fail with. Each variant knows its class and its stable
/// `code`; `crate::http::error` is the one place that turns classes into status codes.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("no API key: send it in the x-api-key header or the x-api-key query parameter")]
    MissingApiKey,
    #[error("the API key is not valid for this workflow")]
    InvalidApiKey,
    #[error(
        "no admin key: send it in the x-admin-key header (create one with `admin-keys create NAME`)"
    )]
    MissingAdminKey,
    #[error("the admin key is not valid")]
    InvalidAdminKey,
    #[error("no signature: this workflow needs the {0} header signed with its secret")]
    MissingSignature(String),
    /// Never says what was expected: that would hand out a valid signature.
    #[error("the signature does not match the body for any of this workflow's secrets")]
    InvalidSignature,
    #[error(
        "the signed timestamp is more than {tolerance} seconds from now; the request may be a replay"
    )]
    StaleTimestamp { tolerance: u64 },
    #[error(
        "the API key was sent more than once with different values (x-api-key headers and query parameter); send it once"
    )]
    AmbiguousApiKey,
    #[error("workflow not found")]
    WorkflowNotFound,
    #[error("execution not found")]
    ExecutionNotFound,
    /// No `for_each` step of that id in the execution (the only steps with items).
    #[error("no for_each step {0:?} in this execution")]
    StepNotFound(String),
    #[error("{0} not found")]
    NotFound(String),
    /// A dry-run or test run with nothing to work on: no input given and no execution stored.
    #[error("{0}")]
    NoInput(String),
    /// No resume URL with this token (never issued, or removed with its execution).
    #[error("no such callback URL")]
    CallbackNotFound,
    #[error("this callback URL was already used: each one decides once")]
    CallbackUsed,
    #[error("this callback URL has expired")]
    CallbackExpired,
    /// The execution is not waiting (for an operator's approve, deny or cancel).
    #[error("{0}")]
    NotWaiting(String),
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The record is in a state that does not allow the change (a third secret, say).
    #[error("{0}")]
    Conflict(String),
    /// A workflow document refused by its loader; the message names the field path.
    #[error("{0}")]
    InvalidDefinition(#[from] DefinitionError),
    /// Another save of the workflow came first; read it again and redo the change.
    #[error("{0}")]
    VersionConflict(String),
    /// A replace that does not say which version it was based on.
    #[error("{0}")]
    PreconditionRequired(String),
    #[error("the body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("{0}")]
    InvalidRequest(String),
    /// The body does not match the workflow's `payload_schema` (or is not JSON when it has
    /// one); `details` says where and what was expected, at most `MAX_PAYLOAD_DETAILS`.
    #[error("{message}")]
    PayloadInvalid {
        message: String,
        details: Vec<PayloadProblem>,
    },
    #[error("{0}")]
    WrongTrigger(String),
    #[error("the body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("the body did not arrive within {seconds} s; send it at once")]
    BodyTimeout { seconds: u64 },
    #[error("content type {0:?} cannot carry JSON; send application/json")]
    UnsupportedMediaType(String),
    #[error("a dependency failed: {0}")]
    Upstream(String),
    #[error(transparent)]
    Sns(#[from] SnsError),
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl From<SignatureError> for AppError {
    fn from(err: SignatureError) -> Self {
        match err {
            SignatureError::Missing(header) => Self::MissingSignature(header),
            SignatureError::Invalid => Self::InvalidSignature,
            SignatureError::Stale { tolerance } => Self::StaleTimestamp { tolerance },
        }
    }
}

/// A missing or duplicate record is the caller's problem wherever it is found; every other
/// store failure is ours.
impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::AlreadyExists(what) => Self::AlreadyExists(what),
            StoreError::NotFound(what) => Self::NotFound(what),
            StoreError::VersionConflict(what) => {
                Self::VersionConflict(format!("{what} was changed by another save; read it again"))
            }
            other => Self::Store(other),
        }
    }
}

impl AppError {
    pub fn kind(&self) -> ErrorKind {
        use ErrorKind as K;
        match self {
            Self::MissingApiKey
            | Self::InvalidApiKey
            | Self::MissingAdminKey
            | Self::InvalidAdminKey
            | Self::MissingSignature(_)
            | Self::InvalidSignature
            | Self::StaleTimestamp { .. } => K::Unauthorized,
            Self::WorkflowNotFound
            | Self::ExecutionNotFound
            | Self::StepNotFound(_)
            | Self::NotFound(_)
            | Self::CallbackNotFound => K::NotFound,
            Self::CallbackUsed | Self::CallbackExpired => K::Gone,
            Self::NotWaiting(_) => K::Conflict,
            Self::AlreadyExists(_) | Self::Conflict(_) | Self::VersionConflict(_) => K::Conflict,
            Self::PreconditionRequired(_) => K::PreconditionRequired,
            Self::NoInput(_) => K::Unprocessable,
            Self::AmbiguousApiKey
            | Self::InvalidDefinition(_)
            | Self::InvalidJson(_)
            | Self::InvalidRequest(_)
            | Self::WrongTrigger(_) => K::BadRequest,
            Self::BodyTimeout { .. } => K::RequestTimeout,
            Self::PayloadTooLarge { .. } | Self::Store(StoreError::TooLarge(_)) => {
                K::PayloadTooLarge
            }
            Self::UnsupportedMediaType(_) => K::UnsupportedMediaType,
            Self::PayloadInvalid { .. } => K::Unprocessable,
            Self::Upstream(_) => K::BadGateway,
            Self::Sns(e) => e.kind(),
            Self::Store(_) | Self::Queue(_) => K::Unavailable,
        }
    }

    /// The stable, machine-readable `error.code` of the API and the CLI's `--json`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingApiKey => "missing_api_key",
            Self::InvalidApiKey => "invalid_api_key",
            Self::MissingAdminKey => "missing_admin_key",
            Self::InvalidAdminKey => "invalid_admin_key",
            Self::MissingSignature(_) => "missing_signature",
            Self::InvalidSignature => "invalid_signature",
            Self::StaleTimestamp { .. } => "stale_timestamp",
            Self::AmbiguousApiKey => "ambiguous_api_key",
            Self::BodyTimeout { .. } => "request_timeout",
            Self::WorkflowNotFound => "workflow_not_found",
            Self::ExecutionNotFound => "execution_not_found",
            Self::StepNotFound(_) => "step_not_found",
            Self::NotFound(_) => "not_found",
            Self::NoInput(_) => "no_input",
            Self::CallbackNotFound => "callback_not_found",
            Self::CallbackUsed => "callback_used",
            Self::CallbackExpired => "callback_expired",
            Self::NotWaiting(_) => "not_waiting",
            Self::AlreadyExists(_) => "already_exists",
            Self::Conflict(_) => "conflict",
            Self::VersionConflict(_) => "version_conflict",
            Self::PreconditionRequired(_) => "precondition_required",
            Self::InvalidDefinition(_) => "invalid_definition",
            Self::InvalidJson(_) => "invalid_json",
            Self::InvalidRequest(_) => "invalid_request",
            Self::WrongTrigger(_) => "wrong_trigger",
            Self::PayloadTooLarge { .. } | Self::Store(StoreError::TooLarge(_)) => {
                "payload_too_large"
            }
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::PayloadInvalid { .. } => "payload_invalid",
            Self::Upstream(_) => "upstream_failed",
            Self::Sns(e) => e.code(),
            Self::Store(_) => "store_unavailable",
            Self::Queue(_) => "queue_unavailable",
        }
    }

    /// The console's group for this failure when it refuses a request for a known workflow.
    /// Written out for every variant, so a new one has to be placed.
    pub fn rejection_reason(&self) -> RejectionReason {
        use RejectionReason as R;
        match self {
            Self::MissingApiKey | Self::InvalidApiKey | Self::AmbiguousApiKey => R::Auth,
            Self::MissingAdminKey | Self::InvalidAdminKey => R::Auth,
            Self::PayloadTooLarge { .. } | Self::Store(StoreError::TooLarge(_)) => R::Size,
            Self::MissingSignature(_) | Self::InvalidSignature | Self::StaleTimestamp { .. } => {
                R::Signature
            }
            Self::Sns(SnsError::Rejected(_)) => R::Signature,
            Self::PayloadInvalid { .. } => R::PayloadInvalid,
            Self::Sns(SnsError::Malformed(_) | SnsError::RawDelivery | SnsError::Upstream(_))
            | Self::WorkflowNotFound
            | Self::ExecutionNotFound
            | Self::StepNotFound(_)
            | Self::NotFound(_)
            | Self::NoInput(_)
            | Self::CallbackNotFound
            | Self::CallbackUsed
            | Self::CallbackExpired
            | Self::NotWaiting(_)
            | Self::AlreadyExists(_)
            | Self::Conflict(_)
            | Self::VersionConflict(_)
            | Self::PreconditionRequired(_)
            | Self::InvalidDefinition(_)
            | Self::InvalidJson(_)
            | Self::InvalidRequest(_)
            | Self::WrongTrigger(_)
            | Self::BodyTimeout { .. }
            | Self::UnsupportedMediaType(_)
            | Self::Upstream(_)
            | Self::Store(_)
            | Self::Queue(_) => R::Other,
        }
    }

    /// Where and why the request was refused, beside the message (`error.details`).
    pub fn details(&self) -> &[PayloadProblem] {
        match self {
            Self::PayloadInvalid { details, .. } => details,
            _ => &[],
        }
    }

    /// What the caller is told. Internal details (paths, ARNs, SDK messages) stay in the log.
    pub fn public_message(&self) -> String {
        match self {
            Self::Store(StoreError::TooLarge(_)) => {
                "the execution would be larger than the store can hold; send a smaller body".into()
            }
            Self::Store(_) => {
                "the execution store is unavailable; nothing was accepted, retry later".into()
            }
            Self::Queue(_) => {
                "the work queue is unavailable; nothing was accepted, retry later".into()
            }
            other => other.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_record_is_not_found_wherever_it_comes_from() {
        let err = AppError::from(StoreError::NotFound("workflow wf".into()));
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert_eq!(err.code(), "not_found");
        let err = AppError::from(StoreError::AlreadyExists("API key k".into()));
        assert_eq!(err.kind(), ErrorKind::Conflict);
        let err = AppError::from(StoreError::Unavailable("disk".into()));
        assert_eq!(err.kind(), ErrorKind::Unavailable);
    }

    #[test]
    fn signature_failures_are_401_with_the_check_that_failed() {
        let cases = [
            (
                SignatureError::Missing("stripe-signature".into()),
                "missing_signature",
            ),
            (SignatureError::Invalid, "invalid_signature"),
            (SignatureError::Stale { tolerance: 300 }, "stale_timestamp"),
        ];
        for (err, code) in cases {
            let err = AppError::from(err);
            assert_eq!((err.kind(), err.code()), (ErrorKind::Unauthorized, code));
        }
    }

    #[test]
    fn internal_failures_do_not_leak_details() {
        let err = AppError::from(StoreError::Unavailable("disk /secret/path full".into()));
        assert!(!err.public_message().contains("/secret/path"));
        let err = AppError::Queue(QueueError::Unavailable("arn:aws:sqs:...".into()));
        assert_eq!(err.code(), "queue_unavailable");
        assert!(!err.public_message().contains("arn:"));
    }

    #[test]
    fn refusals_fall_in_the_consoles_groups() {
        let cases = [
            (AppError::MissingApiKey, RejectionReason::Auth),
            (AppError::InvalidApiKey, RejectionReason::Auth),
            (AppError::AmbiguousApiKey, RejectionReason::Auth),
            (
                AppError::PayloadTooLarge { limit: 1 },
                RejectionReason::Size,
            ),
            (
                AppError::from(StoreError::TooLarge("x".into())),
                RejectionReason::Size,
            ),
            (
                AppError::MissingSignature("x-hub-signature-256".into()),
                RejectionReason::Signature,
            ),
            (AppError::InvalidSignature, RejectionReason::Signature),
            (
                AppError::StaleTimestamp { tolerance: 300 },
                RejectionReason::Signature,
            ),
            (
                AppError::Sns(SnsError::Rejected("bad signature".into())),
                RejectionReason::Signature,
            ),
            (AppError::InvalidJson("x".into()), RejectionReason::Other),
            (AppError::WrongTrigger("x".into()), RejectionReason::Other),
            (
                AppError::UnsupportedMediaType("text/xml".into()),
                RejectionReason::Other,
            ),
            (AppError::Sns(SnsError::RawDelivery), RejectionReason::Other),
            (
                AppError::PayloadInvalid {
                    message: "x".into(),
                    details: Vec::new(),
                },
                RejectionReason::PayloadInvalid,
            ),
        ];
        for (err, reason) in cases {
            assert_eq!(err.rejection_reason(), reason, "{}", err.code());
        }
    }

    #[test]
    fn sns_failures_keep_the_class_the_sns_layer_chose() {
        let err = AppError::from(SnsError::Rejected("bad signature".into()));
        assert_eq!(err.kind(), ErrorKind::Forbidden);
        assert_eq!(err.code(), "sns_message_rejected");
    }
}
