//! The one place where failures become HTTP status codes and `{"error": {"code", "message"}}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::refusals::Refused;
use crate::app::AppError;
use crate::domain::RejectionReason;
use crate::error_kind::ErrorKind;
use crate::wire::{ErrorBody, ProblemView};

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// The console's group for this refusal, should it concern a known workflow's webhook.
    reason: RejectionReason,
    details: Vec<ProblemView>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            reason: RejectionReason::Other,
            details: Vec::new(),
        }
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

pub fn status_of(kind: ErrorKind) -> StatusCode {
    use StatusCode as S;
    match kind {
        ErrorKind::BadRequest => S::BAD_REQUEST,
        ErrorKind::Unauthorized => S::UNAUTHORIZED,
        ErrorKind::Forbidden => S::FORBIDDEN,
        ErrorKind::NotFound => S::NOT_FOUND,
        ErrorKind::Gone => S::GONE,
        ErrorKind::Conflict => S::CONFLICT,
        ErrorKind::PreconditionRequired => S::PRECONDITION_REQUIRED,
        ErrorKind::PayloadTooLarge => S::PAYLOAD_TOO_LARGE,
        ErrorKind::Unprocessable => S::UNPROCESSABLE_ENTITY,
        ErrorKind::RequestTimeout => S::REQUEST_TIMEOUT,
        ErrorKind::UnsupportedMediaType => S::UNSUPPORTED_MEDIA_TYPE,
        ErrorKind::BadGateway => S::BAD_GATEWAY,
        ErrorKind::Unavailable => S::SERVICE_UNAVAILABLE,
    }
}

impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        let status = status_of(err.kind());
        let code = err.code();
        let message = err.public_message();
        if status.is_server_error() {
            tracing::error!(error = %err, code, "request failed");
        } else {
            tracing::info!(code, reason = %message, "request refused");
            crate::measure::rejected(code);
        }
        Self {
            status,
            code,
            message,
            reason: err.rejection_reason(),
            details: match &err {
                AppError::InvalidDefinition(definition) => vec![ProblemView::from(definition)],
                other => other.details().iter().map(ProblemView::from).collect(),
            },
        }
    }
}

/// A handler panicked (a bug: no input should get here). The caller gets a 500 in the usual
/// error shape and may retry; the panic message goes to the log only, since it may quote
/// internal state.
pub fn panic_response(payload: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-text panic payload".into());
    tracing::error!(panic = %detail, "handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "the service failed while handling the request; retry later",
    )
    .into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody::new(self.code, self.message).with_details(self.details);
        let mut response = (self.status, Json(body)).into_response();
        if self.status.is_client_error() {
            // For `refusals::count`, which attributes webhook refusals to their workflow.
            response.extensions_mut().insert(Refused {
                code: self.code,
                reason: self.reason,
            });
        }
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
    use crate::ports::StoreError;
    use crate::sns::SnsError;

    #[test]
    fn each_class_has_its_status() {
        let cases = [
            (AppError::InvalidJson("x".into()), StatusCode::BAD_REQUEST),
            (AppError::MissingApiKey, StatusCode::UNAUTHORIZED),
            (
                AppError::Sns(SnsError::Rejected("x".into())),
                StatusCode::FORBIDDEN,
            ),
            (
                AppError::from(StoreError::NotFound("x".into())),
                StatusCode::NOT_FOUND,
            ),
            (
                AppError::from(StoreError::Unavailable("x".into())),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (
                AppError::Sns(SnsError::Upstream("x".into())),
                StatusCode::BAD_GATEWAY,
            ),
            (
                AppError::from(StoreError::VersionConflict("workflow wf".into())),
                StatusCode::CONFLICT,
            ),
            (
                AppError::PreconditionRequired("x".into()),
                StatusCode::PRECONDITION_REQUIRED,
            ),
        ];
        for (err, status) in cases {
            assert_eq!(ApiError::from(err).status, status);
        }
    }

    #[test]
    fn a_refused_definition_lists_its_field_in_details() {
        let err = ApiError::from(AppError::InvalidDefinition(
            crate::domain::WorkflowFile::parse(
                "name: x\napi_key: k\nsteps:\n  - type: http_request\n    url: ftp://x\n",
            )
            .unwrap_err(),
        ));
        let details = &err.details;
        assert_eq!(details[0].path.as_deref(), Some("steps[0].url"));
        assert!(details[0].message.contains("ftp"));
        assert!(
            ApiError::from(AppError::InvalidJson("x".into()))
                .details
                .is_empty()
        );
    }

    #[test]
    fn a_payload_refusal_is_422_with_its_details() {
        let err = ApiError::from(AppError::PayloadInvalid {
            message: "the body does not match".into(),
            details: vec![crate::domain::PayloadProblem {
                pointer: "/alerts/0/name".into(),
                message: "value is not of type \"string\"".into(),
            }],
        });
        assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err.reason, RejectionReason::PayloadInvalid);
        let body =
            serde_json::to_value(ErrorBody::new(err.code, err.message).with_details(err.details))
                .unwrap();
        assert_eq!(body["error"]["code"], "payload_invalid");
        assert_eq!(body["error"]["details"][0]["pointer"], "/alerts/0/name");
        let plain = serde_json::to_value(ErrorBody::new("x", "y")).unwrap();
        assert!(plain["error"].get("details").is_none(), "{plain}");
    }

    #[test]
    fn client_errors_keep_their_reason() {
        let err = ApiError::from(AppError::InvalidJson("EOF at line 1 column 3".into()));
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert!(err.message.contains("line 1 column 3"));
    }
}
