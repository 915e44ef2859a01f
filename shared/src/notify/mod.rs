//! Email: the port (`Mailer`, an SES v2 adapter), the message templates, and the delivery of the
//! outbox (`store::OutboxItem`) with retries.
mod admin_templates;
mod delivery;
mod mailer;
mod templates;

pub use admin_templates::passphrase_reset_message;
pub use delivery::{deliver, deliver_due, retry_delay, DeliveryOutcome, DeliveryReport, MAX_ATTEMPTS};
pub use mailer::{EmailMessage, Mailer, NotifyError};
pub use templates::{
    oauth_expiring_message, token_expired_message, token_expiring_message, welcome_message, MessageText,
};
