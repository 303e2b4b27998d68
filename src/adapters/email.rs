//! The `send_email` step's transports: Amazon SES v2 `SendEmail` through the AWS SDK, and SMTP
//! through `lettre` (rustls; STARTTLS when offered for `smtp://`, TLS from the start for
//! `smtps://`).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::config::http::HttpResponse;
use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::EmailTransport;
use crate::ports::{EmailError, EmailMessage, EmailSender, NoEmailTransport};

/// Error codes for "slow down" and "try later" that may arrive unmodelled.
const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalError",
    "RequestTimeout",
];

/// How long one SMTP read or write may take (connect, each command).
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a whole SMTP send may take, inside the step's worst case (30 s).
const SMTP_SEND_TIMEOUT: Duration = Duration::from_secs(25);

/// The sender `transport` names, or one that fails every send with a setup error.
pub fn email_sender(
    transport: Option<&EmailTransport>,
    sdk: &aws_config::SdkConfig,
) -> Result<std::sync::Arc<dyn EmailSender>, String> {
    Ok(match transport {
        None => std::sync::Arc::new(NoEmailTransport),
        Some(EmailTransport::Ses) => std::sync::Arc::new(SesEmailSender::new(Client::new(sdk))),
        Some(smtp) => std::sync::Arc::new(SmtpEmailSender::new(smtp)?),
    })
}

#[derive(Debug, Clone)]
pub struct SesEmailSender {
    client: Client,
}

impl SesEmailSender {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

fn content(data: String) -> Result<Content, EmailError> {
    Content::builder()
        .data(data)
        .charset("UTF-8")
        .build()
        .map_err(|e| EmailError::Refused(e.to_string()))
}

#[async_trait]
impl EmailSender for SesEmailSender {
    async fn send(&self, message: EmailMessage) -> Result<String, EmailError> {
        let destination = Destination::builder()
            .set_to_addresses(Some(message.to).filter(|l| !l.is_empty()))
            .set_cc_addresses(Some(message.cc).filter(|l| !l.is_empty()))
            .set_bcc_addresses(Some(message.bcc).filter(|l| !l.is_empty()))
            .build();
        let body = Body::builder()
            .set_text(message.text.map(content).transpose()?)
            .set_html(message.html.map(content).transpose()?)
            .build();
        let simple = Message::builder()
            .subject(content(message.subject)?)
            .body(body)
            .build();
        let output = self
            .client
            .send_email()
            .from_email_address(message.from)
            .destination(destination)
            .content(EmailContent::builder().simple(simple).build())
            .send()
            .await
            .map_err(classify)?;
        // Without an id the message may still have gone out: not a refusal.
        output
            .message_id
            .ok_or_else(|| EmailError::Unavailable("SES returned no MessageId".to_owned()))
    }
}

fn classify(error: SdkError<SendEmailError, HttpResponse>) -> EmailError {
    let (transient, detail) = super::aws::sdk_failure(&error, |e, status| {
        service_error_is_transient(e, Some(status))
    });
    let text = format!("SES SendEmail failed: {detail}");
    if transient {
        EmailError::Unavailable(text)
    } else {
        EmailError::Refused(text)
    }
}

/// Throttling and server-side failures are worth retrying; every other answer (sender not
/// verified, message rejected, sending paused, account suspended) will be the same next time.
fn service_error_is_transient(error: &SendEmailError, status: Option<u16>) -> bool {
    error.is_too_many_requests_exception()
        || error
            .code()
            .is_some_and(|code| TRANSIENT_CODES.contains(&code))
        || status.is_some_and(|s| s == 429 || s >= 500)
}

/// SMTP through `lettre`. Its `Debug` shows the server, never the credentials.
pub struct SmtpEmailSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    server: String,
}

impl std::fmt::Debug for SmtpEmailSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpEmailSender")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl SmtpEmailSender {
    /// For an `EmailTransport::Smtp`; `Ses` is refused.
    pub fn new(transport: &EmailTransport) -> Result<Self, String> {
        let EmailTransport::Smtp {
            implicit_tls,
            host,
            port,
            credentials,
        } = transport
        else {
            return Err("not an SMTP transport".to_owned());
        };
        let tls = TlsParameters::new(host.clone())
            .map_err(|e| format!("EMAIL_TRANSPORT: TLS setup for {host}: {e}"))?;
        let tls = if *implicit_tls {
            Tls::Wrapper(tls)
        } else {
            Tls::Opportunistic(tls)
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
            .port(*port)
            .tls(tls)
            .timeout(Some(SMTP_TIMEOUT));
        if let Some(c) = credentials {
            builder = builder.credentials(Credentials::new(c.user.clone(), c.password.clone()));
        }
        Ok(Self {
            transport: builder.build(),
            server: format!("{host}:{port}"),
        })
    }
}

fn mailbox(field: &str, value: &str) -> Result<Mailbox, EmailError> {
    if value.contains(['\r', '\n']) {
        return Err(EmailError::Refused(format!(
            "{field}: an address holds a line break"
        )));
    }
    value
        .parse()
        .map_err(|_| EmailError::Refused(format!("{field}: {value:?} is not a valid address")))
}

/// The message as lettre builds it, with a `Message-ID` of our own (returned as the id).
fn smtp_message(message: EmailMessage) -> Result<(lettre::Message, String), EmailError> {
    if message.subject.contains(['\r', '\n']) {
        return Err(EmailError::Refused(
            "subject: holds a line break, which a mail header cannot hold".to_owned(),
        ));
    }
    let from = mailbox("from", &message.from)?;
    let domain = from.email.domain().to_owned();
    let message_id = format!("<{}@{domain}>", ulid::Ulid::new());
    let mut builder = lettre::Message::builder()
        .from(from)
        .subject(message.subject)
        .message_id(Some(message_id.clone()));
    for to in &message.to {
        builder = builder.to(mailbox("to", to)?);
    }
    for cc in &message.cc {
        builder = builder.cc(mailbox("cc", cc)?);
    }
    for bcc in &message.bcc {
        builder = builder.bcc(mailbox("bcc", bcc)?);
    }
    let built = match (message.text, message.html) {
        (Some(text), Some(html)) => {
            builder.multipart(MultiPart::alternative_plain_html(text, html))
        }
        (Some(text), None) => builder.singlepart(SinglePart::plain(text)),
        (None, Some(html)) => builder.singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_HTML)
                .body(html),
        ),
        (None, None) => {
            return Err(EmailError::Refused("a message needs a body".to_owned()));
        }
    };
    let built = built.map_err(|e| EmailError::Refused(format!("cannot build the message: {e}")))?;
    Ok((built, message_id))
}

#[async_trait]
impl EmailSender for SmtpEmailSender {
    async fn send(&self, message: EmailMessage) -> Result<String, EmailError> {
        let (message, message_id) = smtp_message(message)?;
        let sent = tokio::time::timeout(SMTP_SEND_TIMEOUT, self.transport.send(message)).await;
        let Ok(sent) = sent else {
            // The server may have taken the message before going silent: a retry may send it
            // twice (as SNS and SES delivery may).
            return Err(EmailError::Unavailable(format!(
                "SMTP server {}: no answer within {SMTP_SEND_TIMEOUT:?}",
                self.server
            )));
        };
        match sent {
            Ok(_) => Ok(message_id),
            // 5xx: the server refused (bad recipient, authentication failed): the same next time.
            Err(e) if e.is_permanent() => Err(EmailError::Refused(format!(
                "SMTP server {} refused the message: {e}",
                self.server
            ))),
            // The client cannot go on with this server (credentials set but no AUTH mechanism
            // in common, ...): a setting to fix, which retrying does not.
            Err(e) if e.is_client() => Err(EmailError::Setup(format!(
                "SMTP server {}: {e} (check EMAIL_TRANSPORT)",
                self.server
            ))),
            // 4xx, timeouts, connection and TLS failures.
            Err(e) => Err(EmailError::Unavailable(format!(
                "SMTP server {}: {e}",
                self.server
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sesv2::error::ErrorMetadata;
    use aws_sdk_sesv2::types::error::{
        BadRequestException, MessageRejected, TooManyRequestsException,
    };

    fn unmodelled(code: &str) -> SendEmailError {
        SendEmailError::generic(ErrorMetadata::builder().code(code).build())
    }

    fn message() -> EmailMessage {
        EmailMessage {
            from: "a@example.com".into(),
            to: vec!["b@example.com".into()],
            cc: Vec::new(),
            bcc: vec!["c@example.com".into()],
            subject: "s".into(),
            text: Some("t".into()),
            html: None,
        }
    }

    #[test]
    fn ses_refusals_are_not_transient_and_throttling_is() {
        for error in [
            SendEmailError::BadRequestException(BadRequestException::builder().build()),
            SendEmailError::MessageRejected(MessageRejected::builder().build()),
            unmodelled("AccessDenied"),
        ] {
            assert!(!service_error_is_transient(&error, Some(400)), "{error:?}");
        }
        for error in [
            SendEmailError::TooManyRequestsException(TooManyRequestsException::builder().build()),
            unmodelled("Throttling"),
        ] {
            assert!(service_error_is_transient(&error, Some(400)), "{error:?}");
        }
        assert!(service_error_is_transient(&unmodelled("X"), Some(503)));
        assert!(!service_error_is_transient(&unmodelled("X"), None));
    }

    #[tokio::test]
    async fn unreachable_ses_is_unavailable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let config = aws_sdk_sesv2::Config::builder()
            .behavior_version(aws_sdk_sesv2::config::BehaviorVersion::latest())
            .endpoint_url(format!("http://{addr}"))
            .region(aws_sdk_sesv2::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sesv2::config::Credentials::new(
                "testing", "testing", None, None, "tests",
            ))
            .retry_config(aws_sdk_sesv2::config::retry::RetryConfig::disabled())
            .build();
        let sender = SesEmailSender::new(Client::from_conf(config));
        let result = sender.send(message()).await;
        assert!(
            matches!(result, Err(EmailError::Unavailable(_))),
            "{result:?}"
        );
    }

    #[test]
    fn the_smtp_message_keeps_bcc_out_of_its_headers_and_refuses_line_breaks() {
        let (built, id) = smtp_message(message()).expect("builds");
        let text = String::from_utf8(built.formatted()).expect("utf-8");
        assert!(text.contains("To: b@example.com"), "{text}");
        assert!(!text.contains("Bcc"), "{text}");
        assert!(text.contains(&format!("Message-ID: {id}")), "{text}");
        assert_eq!(built.envelope().to().len(), 2);
        let mut bad = message();
        bad.subject = "s\r\nBcc: evil@example.com".into();
        assert!(matches!(smtp_message(bad), Err(EmailError::Refused(_))));
        let mut bad = message();
        bad.to = vec!["b@example.com\r\nBcc: evil@example.com".into()];
        assert!(matches!(smtp_message(bad), Err(EmailError::Refused(_))));
    }

    #[tokio::test]
    async fn unreachable_smtp_is_unavailable_and_never_shows_the_password() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let transport =
            EmailTransport::parse(&format!("smtp://me:hunter2@127.0.0.1:{port}")).expect("parses");
        let sender = SmtpEmailSender::new(&transport).expect("builds");
        assert!(!format!("{sender:?}").contains("hunter2"));
        let error = sender.send(message()).await.expect_err("nobody listens");
        assert!(error.is_transient(), "{error:?}");
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }
}
