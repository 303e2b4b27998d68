//! What workflow steps need from the world: send an HTTP request, publish to an SNS topic.
//! The step runner renders templates into these plain requests; adapters own the transport
//! (and, for HTTP, the guard that refuses private and metadata addresses).

use std::time::Duration;

use async_trait::async_trait;

/// A fully rendered HTTP request: templates are already applied, the query is in the URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRequest {
    /// Upper-case method name (`GET`, `POST`, ...).
    pub method: String,
    /// Absolute `http` or `https` URL.
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// The whole exchange, connect to last body byte.
    pub timeout: Duration,
    /// Follow 3xx answers (each hop checked by the same guard), or return them as they are.
    pub follow_redirects: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundResponse {
    pub status: u16,
    /// Names lower-cased, in the order received.
    pub headers: Vec<(String, String)>,
    /// At most the sender's body cap; `body_truncated` says whether more was cut off.
    pub body: Vec<u8>,
    pub body_truncated: bool,
}

impl OutboundResponse {
    /// The first value of a header, by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request got no HTTP answer. `is_transient` says whether trying again may help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    /// The guard refused the destination (private, loopback, link-local, metadata address, or
    /// a scheme other than http/https). Never retried.
    #[error("destination refused: {0}")]
    Refused(String),
    /// The request cannot be sent as rendered (bad URL, method or header). Never retried.
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// Any other transport failure (connection reset mid-answer, TLS failure, ...).
    #[error("request failed: {0}")]
    Transport(String),
    /// This process cannot make HTTP requests at all (no root certificate could be loaded,
    /// ...): an operator's problem, which retrying the step does not fix. Never retried.
    #[error("this worker cannot send HTTP requests: {0}")]
    Setup(String),
}

impl OutboundError {
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Connect(_) | Self::Timeout(_) | Self::Transport(_)
        )
    }
}

#[async_trait]
pub trait HttpSender: Send + Sync {
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, OutboundError>;
}

/// One SNS message attribute (`DataType` is `String`, `Number` or `String.Array`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsAttribute {
    pub name: String,
    pub data_type: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsPublishRequest {
    pub topic_arn: String,
    pub subject: Option<String>,
    pub message: String,
    pub attributes: Vec<SnsAttribute>,
    /// Required by FIFO topics (`.fifo`), absent otherwise.
    pub message_group_id: Option<String>,
    pub deduplication_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// SNS refused the request itself (no such topic, not allowed, bad attribute). Never retried.
    #[error("SNS refused the publish: {0}")]
    Refused(String),
    /// SNS could not be reached or answered with a server error. Worth retrying.
    #[error("SNS unavailable: {0}")]
    Unavailable(String),
}

impl PublishError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

#[async_trait]
pub trait SnsPublisher: Send + Sync {
    /// Publishes one message and returns the `MessageId` SNS assigned.
    async fn publish(&self, request: SnsPublishRequest) -> Result<String, PublishError>;
}
