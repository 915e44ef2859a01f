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
        return match (service.code(), service.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            _ => service.to_string(),
        };
    }
    let mut causes = vec![err.to_string()];
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    causes.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sesv2::error::ErrorMetadata;
    use aws_sdk_sesv2::types::error::{MessageRejected, TooManyRequestsException};
    use aws_smithy_runtime_api::http::{Response, StatusCode};

    fn service_error(error: SendEmailError, status: u16) -> SdkError<SendEmailError> {
        let raw: Response = Response::new(StatusCode::try_from(status).unwrap(), "{}".into());
        SdkError::service_error(error, raw)
    }

    fn unknown(code: &str) -> SendEmailError {
        SendEmailError::generic(ErrorMetadata::builder().code(code).message("details").build())
    }

    #[test]
    fn rejections_are_permanent_and_throttling_or_outages_transient() {
        let rejected = MessageRejected::builder().message("Email address not verified a@b.example").build();
        let classified = classify(service_error(SendEmailError::MessageRejected(rejected), 400));
        assert!(!classified.is_transient());
        assert_eq!(
            classified.to_string(),
            "the email was rejected: MessageRejected: Email address not verified a@b.example"
        );

        let throttled = TooManyRequestsException::builder().message("slow down").build();
        assert!(classify(service_error(SendEmailError::TooManyRequestsException(throttled), 429)).is_transient());
        assert!(classify(service_error(unknown("InternalFailure"), 500)).is_transient());
        assert!(classify(service_error(unknown("Throttling"), 400)).is_transient());
        assert!(!classify(service_error(unknown("InvalidParameterValue"), 400)).is_transient());
        assert!(classify(SdkError::timeout_error("timed out")).is_transient());
    }

    #[test]
    fn nothing_is_sent_without_a_recipient() {
        assert!(!NotifyError::NoRecipient.is_transient());
    }
}
