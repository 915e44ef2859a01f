//! The email port: plain-text messages sent through SES (v2 API).
use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

use crate::domain::EmailAddress;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// SES refused this message for good (unverified sender, bad address, suspended account…):
    /// sending it again cannot help.
    #[error("the email was rejected: {0}")]
    Rejected(String),
    /// SES throttled or could not be reached: the same message may go through later.
    #[error("the email could not be sent now: {0}")]
    Unavailable(String),
    #[error("the email has no recipient")]
    NoRecipient,
}

impl NotifyError {
    /// Whether sending the same message again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// One plain-text email. Its body may hold a secret (a welcome's initial passphrase), so `Debug`
/// never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct EmailMessage {
    pub to: Vec<EmailAddress>,
    pub subject: String,
    pub text_body: String,
}

impl std::fmt::Debug for EmailMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailMessage").field("to", &self.to).field("subject", &self.subject).finish_non_exhaustive()
    }
}

/// Sends email from one verified sender address. Endpoint, region and credentials come from the
/// SES client's configuration.
#[derive(Clone, Debug)]
pub struct Mailer {
    client: aws_sdk_sesv2::Client,
    sender: String,
}

impl Mailer {
    pub fn new(client: aws_sdk_sesv2::Client, sender: impl Into<String>) -> Self {
        Self { client, sender: sender.into() }
    }

    pub fn sender(&self) -> &str {
        &self.sender
    }

    pub async fn send(&self, message: &EmailMessage) -> Result<(), NotifyError> {
        if message.to.is_empty() {
            return Err(NotifyError::NoRecipient);
        }
        let destination = Destination::builder()
            .set_to_addresses(Some(message.to.iter().map(|to| to.as_str().to_owned()).collect()))
            .build();
        let content = EmailContent::builder()
            .simple(
                Message::builder()
                    .subject(utf8(&message.subject)?)
                    .body(Body::builder().text(utf8(&message.text_body)?).build())
                    .build(),
            )
            .build();
        self.client
            .send_email()
            .from_email_address(&self.sender)
            .destination(destination)
            .content(content)
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}

fn utf8(text: &str) -> Result<Content, NotifyError> {
    Content::builder().data(text).charset("UTF-8").build().map_err(|e| NotifyError::Rejected(e.to_string()))
}

/// Permanent versus transient, by SES error; unknown errors by HTTP status (5xx and throttling
/// are worth retrying, any other 4xx is not). Failures to reach SES at all are transient.
fn classify(err: SdkError<SendEmailError>) -> NotifyError {
    let transient = match &err {
        SdkError::ServiceError(service) => match service.err() {
            SendEmailError::TooManyRequestsException(_)
            | SendEmailError::LimitExceededException(_)
            // Paused sending is resumed by an operator; the retries give them time.
            | SendEmailError::SendingPausedException(_) => true,
            SendEmailError::AccountSuspendedException(_)
            | SendEmailError::BadRequestException(_)
            | SendEmailError::MailFromDomainNotVerifiedException(_)
            | SendEmailError::MessageRejected(_)
            | SendEmailError::NotFoundException(_) => false,
            other => {
                let status = service.raw().status();
                matches!(other.code(), Some("Throttling" | "ThrottlingException" | "ServiceUnavailable"))
                    || status.is_server_error()
                    || status.as_u16() == 429
            }
        },
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        _ => false,
    };
    let detail = describe(&err);
    if transient {
        NotifyError::Unavailable(detail)
    } else {
        NotifyError::Rejected(detail)
    }
}

/// A one-line reason, kept with the outbox item: the service's code and message, or the chain of
/// causes of a failure to reach it (the SDK's debug context, with raw responses, is too much).
fn describe(err: &SdkError<SendEmailError>) -> String {
    if let Some(service) = err.as_service_error() {
        return format!("{}: {}", service.code().unwrap_or("unknown error"), service.message().unwrap_or("no message"));
    }
    let mut causes = vec![err.to_string()];
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    causes.join(": ")
}
