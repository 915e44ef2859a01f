//! Structured logs for CloudWatch: JSON, one line per event, no timestamps (CloudWatch adds them).
//! Each line carries the fields of the span it was logged in (a SCIM request's `request_id`,
//! `route`, `method`, `org`: see api::request_log), so it joins the request's log record.
//! Nothing here logs request headers or bodies; secrets never reach a log.
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A second init (tests, dev server) is harmless: keep the first subscriber.
    let _ = tracing::subscriber::set_global_default(json_subscriber(filter, std::io::stdout));
}

/// The service's log format, writing to `writer` (tests capture it with the same format).
pub fn json_subscriber<W>(filter: EnvFilter, writer: W) -> impl tracing::Subscriber + Send + Sync + 'static
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        // The innermost span's fields on every line; the service opens one span per request.
        .with_current_span(true)
        .with_span_list(false)
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .with_writer(writer)
        .finish()
}

/// An error and its causes on one line (`outer: cause: root cause`): how every error is logged,
/// so a cause kept as a `#[source]` is never lost on the way to the log.
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(err) = cause {
            write!(f, ": {err}")?;
            cause = err.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Chain;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("inner")]
    struct Inner(#[source] std::io::Error);

    #[test]
    fn a_chain_names_every_cause_in_order() {
        let err = Outer(Inner(std::io::Error::other("root")));
        assert_eq!(Chain(&err).to_string(), "outer: inner: root");
        assert_eq!(Chain(&std::io::Error::other("alone")).to_string(), "alone");
    }
}
