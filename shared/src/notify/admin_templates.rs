//! The console's account emails. Plain text, in Insomnia's voice.
use super::MessageText;
use crate::domain::EmailAddress;

/// A passphrase reset code, valid once for `minutes` minutes.
pub fn passphrase_reset_message(email: &EmailAddress, code: &str, minutes: i64) -> MessageText {
    MessageText {
        subject: "Your Insomnia passphrase reset code".to_owned(),
        text_body: format!(
            "Hello,

Someone asked to reset the passphrase of the Insomnia account {email}. Your reset code is:

  {code}

Enter it with a new passphrase of your choice within {minutes} minutes. The code works once; asking
for another code makes this one stop working. Resetting signs you out everywhere.

If you did not ask for this, ignore this email: your passphrase stays as it is.

— The Insomnia team
"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reset_email_gives_the_code_and_its_limits() {
        let email = EmailAddress::parse("jane@example.com").unwrap();
        let text = passphrase_reset_message(&email, "ABCDE-FGHJK", 15);
        for expected in ["jane@example.com", "  ABCDE-FGHJK\n", "within 15 minutes", "works once", "ignore this email"]
        {
            assert!(text.text_body.contains(expected), "missing {expected:?} in:\n{}", text.text_body);
        }
        assert!(!format!("{text:?}").contains("ABCDE"));
    }
}
