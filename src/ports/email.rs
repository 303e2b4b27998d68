//! What the `send_email` step needs from the world: one rendered message sent, its id back.
//! The step renders and checks every field (addresses parsed, no line break in a header); an
//! adapter only carries the message (SES v2 on AWS, SMTP or SES when serving locally).

use async_trait::async_trait;

/// A fully rendered message. Addresses are single, checked mailboxes (`a@example.com` or
/// `Name <a@example.com>`); the subject holds no line break; at least one of `text` / `html`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailMessage {
    pub from: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    pub subject: String,
    pub text: Option<String>,
    pub html: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// The service refused the message itself (sender not verified, bad address, rejected
    /// content, not allowed). Never retried.
    #[error("the message was refused: {0}")]
    Refused(String),
    /// The service could not be reached, throttled, or failed on its side. Worth retrying.
    #[error("email service unavailable: {0}")]
    Unavailable(String),
    /// This process cannot send email at all (no transport configured, no sender address):
    /// an operator's problem, which retrying the step does not fix. Never retried.
    #[error("{0}")]
    Setup(String),
}

impl EmailError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

#[async_trait]
pub trait EmailSender: Send + Sync {
    /// Sends one message and returns the id the service assigned to it.
    async fn send(&self, message: EmailMessage) -> Result<String, EmailError>;
}

/// The sender of a process with no `EMAIL_TRANSPORT`: every send fails with a setup error.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEmailTransport;

/// What a `send_email` step says when this process has no way to send email.
pub const NO_EMAIL_TRANSPORT: &str = "send_email needs EMAIL_TRANSPORT to be set on this \
     process: `ses` (Amazon SES v2, from the AWS SDK's configuration) or \
     `smtp://[user:password@]host:port` / `smtps://...`";

#[async_trait]
impl EmailSender for NoEmailTransport {
    async fn send(&self, _message: EmailMessage) -> Result<String, EmailError> {
        Err(EmailError::Setup(NO_EMAIL_TRANSPORT.to_owned()))
    }
}
