//! The one place where failures become HTTP status codes and `{"error": {"code", "message"}}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::AppError;
use crate::ports::StoreError;
use crate::sns::SnsError;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
}

impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        use StatusCode as S;
        let (status, code) = match &err {
            AppError::MissingApiKey => (S::UNAUTHORIZED, "missing_api_key"),
            AppError::InvalidApiKey => (S::UNAUTHORIZED, "invalid_api_key"),
            AppError::WorkflowNotFound => (S::NOT_FOUND, "workflow_not_found"),
            AppError::ExecutionNotFound => (S::NOT_FOUND, "execution_not_found"),
            AppError::NotFound(_) => (S::NOT_FOUND, "not_found"),
            AppError::AlreadyExists(_) => (S::CONFLICT, "already_exists"),
            AppError::InvalidJson(_) => (S::BAD_REQUEST, "invalid_json"),
            AppError::InvalidRequest(_) => (S::BAD_REQUEST, "invalid_request"),
            AppError::WrongTrigger(_) => (S::BAD_REQUEST, "wrong_trigger"),
            AppError::PayloadTooLarge { .. } => (S::PAYLOAD_TOO_LARGE, "payload_too_large"),
            AppError::UnsupportedMediaType(_) => {
                (S::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            AppError::Forbidden(_) => (S::FORBIDDEN, "forbidden"),
            AppError::Upstream(_) => (S::BAD_GATEWAY, "upstream_failed"),
            AppError::Sns(e) => match e {
                SnsError::Malformed(_) => (S::BAD_REQUEST, "invalid_sns_message"),
                SnsError::RawDelivery => (S::BAD_REQUEST, "sns_raw_delivery"),
                SnsError::Rejected(_) => (S::FORBIDDEN, "sns_message_rejected"),
                SnsError::Upstream(_) => (S::BAD_GATEWAY, "sns_upstream_failed"),
            },
            AppError::Store(StoreError::TooLarge(_)) => (S::PAYLOAD_TOO_LARGE, "payload_too_large"),
            AppError::Store(_) => (S::SERVICE_UNAVAILABLE, "store_unavailable"),
            AppError::Queue(_) => (S::SERVICE_UNAVAILABLE, "queue_unavailable"),
        };
        let message = match &err {
            // Internal details go to the log, not to the caller.
            AppError::Store(StoreError::TooLarge(_)) => {
                "the execution would be larger than the store can hold; send a smaller body"
                    .to_owned()
            }
            AppError::Store(_) => {
                "the execution store is unavailable; nothing was accepted, retry later".to_owned()
            }
            AppError::Queue(_) => {
                "the work queue is unavailable; nothing was accepted, retry later".to_owned()
            }
            other => other.to_string(),
        };
        if status.is_server_error() {
            tracing::error!(error = %err, code, "request failed");
        } else {
            tracing::info!(code, reason = %message, "request refused");
        }
        Self {
            status,
            code,
            message,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::QueueError;

    #[test]
    fn internal_failures_do_not_leak_details() {
        let err = ApiError::from(AppError::Store(StoreError::Unavailable(
            "disk /secret/path full".into(),
        )));
        assert_eq!(err.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(!err.message.contains("/secret/path"));
        let err = ApiError::from(AppError::Queue(QueueError::Unavailable(
            "arn:aws:sqs:...".into(),
        )));
        assert_eq!(err.code, "queue_unavailable");
        assert!(!err.message.contains("arn:"));
    }

    #[test]
    fn client_errors_keep_their_reason() {
        let err = ApiError::from(AppError::InvalidJson("EOF at line 1 column 3".into()));
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert!(err.message.contains("line 1 column 3"));
    }
}
