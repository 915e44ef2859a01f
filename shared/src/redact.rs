//! Masking secrets out of request text before it is written or answered anywhere
//! (docs/ARCHITECTURE.md, "Secrets"). A [`Redacted`] value can only be made here, from text that
//! went through the masks, and the request log record holds nothing else: a secret an IdP put in a
//! URL (or that an error detail echoed) never reaches a table item, whichever code path built the
//! record. SCIM error answers mask their detail the same way.
use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize};

const MASK: &str = "[redacted]";
/// Query parameter names whose values are never shown.
const SECRET_NAMES: [&str; 8] =
    ["token", "password", "passphrase", "secret", "authorization", "key", "credential", "signature"];
/// Prefixes of this service's secrets (SCIM tokens, console sessions).
const SECRET_PREFIXES: [&str; 2] = ["iscim_", "isess_"];

/// Shortest presented credential that is masked wherever it appears: shorter strings would mask
/// ordinary words.
const MIN_PRESENTED_SECRET: usize = 8;

/// Text with every secret masked. Made only by a [`Redactor`] (or by reading a stored record,
/// which is masked again), so holding one proves the masks ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Redacted(String);

impl Redacted {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// Cut to `max` characters; still masked, since masking came first.
    pub fn clipped(self, max: usize) -> Self {
        Self(clip(&self.0, max))
    }
}

impl Deref for Redacted {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Redacted {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Redacted {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for Redacted {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl<'de> Deserialize<'de> for Redacted {
    /// Records written before masking moved to write time are masked as they are read.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|raw| Redactor::default().text(&raw))
    }
}

/// Masks one request's text: this service's secrets by shape, secret-named query parameters, and
/// the credential the caller presented (whatever its shape) wherever it appears.
#[derive(Default)]
pub struct Redactor {
    presented: Option<String>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Redactor(<redacted>)")
    }
}

impl Redactor {
    /// A redactor that also masks `credential` (the bearer token of the request), when it is long
    /// enough to be a secret.
    pub fn with_credential(credential: Option<&str>) -> Self {
        let presented = credential.map(str::trim).filter(|c| c.len() >= MIN_PRESENTED_SECRET).map(str::to_owned);
        Self { presented }
    }

    /// Free text: a path, a User-Agent, an error detail.
    pub fn text(&self, raw: &str) -> Redacted {
        // Most strings of a body hold none of what the masks look for: copied as they are.
        if !self.needs_masks(raw) {
            return Redacted(raw.to_owned());
        }
        Redacted(redact(&self.without_presented(raw)))
    }

    /// A query string: also masks the values of secret-named parameters.
    pub fn query(&self, raw: &str) -> Redacted {
        Redacted(redact_query(&self.without_presented(raw)))
    }

    fn without_presented(&self, raw: &str) -> String {
        match &self.presented {
            Some(secret) => raw.replace(secret.as_str(), MASK),
            None => raw.to_owned(),
        }
    }
}

/// Most of a body kept in a request-log item (docs/ARCHITECTURE.md, "Request log"): well within
/// DynamoDB's 400 KB item limit with both bodies and the rest of the record.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// The largest body the log reads at all: masking parses the whole JSON (a secret may sit
/// anywhere in it), and a parsed document takes several times its size in memory; a 3.9 MB group
/// answer of 20,000 members took scim-groups from 22 to 45 MB (its budget: 40). Bodies this large
/// are lists and big groups, not what an owner reads in a log row.
pub const MAX_BODY_READ: usize = 256 * 1024;

/// A request or response body with every secret masked, then cut to [`MAX_BODY_BYTES`] (the cut
/// marked). Made only by [`Redactor::body`] (or by reading a stored one, masked again), so a log
/// item holding one holds no password or token the body carried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MaskedBody {
    text: String,
    /// The body's size as received or sent, in bytes.
    bytes: usize,
    /// Whether `text` was cut (it then ends with a marker saying so).
    truncated: bool,
}

#[derive(Deserialize)]
struct StoredBody {
    text: String,
    bytes: usize,
    truncated: bool,
}

impl<'de> Deserialize<'de> for MaskedBody {
    /// Masked again as it is read, like [`Redacted`].
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        StoredBody::deserialize(deserializer).map(|b| Self {
            text: redact(&b.text),
            bytes: b.bytes,
            truncated: b.truncated,
        })
    }
}

impl MaskedBody {
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn truncated(&self) -> bool {
        self.truncated
    }
}

/// Whether an attribute or parameter name says its value is a secret (`password`, `PASSWORD`,
/// `urn:…:User:password`, `client_secret`, `access_token`…).
pub fn is_secret_name(name: &str) -> bool {
    SECRET_NAMES.iter().any(|secret| contains_ignoring_case(name, secret))
}

fn contains_ignoring_case(text: &str, lower_needle: &str) -> bool {
    text.as_bytes().windows(lower_needle.len()).any(|w| w.eq_ignore_ascii_case(lower_needle.as_bytes()))
}

/// Text that says what was not kept of a body that could not be read as JSON but names a secret:
/// without the JSON structure, its values cannot be told apart, so none is kept.
const UNREADABLE_WITH_SECRET: &str = "[not kept: not valid JSON, and it names a secret attribute]";

impl Redactor {
    /// A body as the request log keeps it: JSON with the value of every secret-named attribute
    /// (any spelling, any depth, and PATCH operations whose `path` names one) masked and every
    /// string masked as free text; other text masked as free text; then cut to
    /// [`MAX_BODY_BYTES`]. `complete` is false when the body was not all seen.
    pub fn body(&self, raw: &[u8], total_bytes: usize, complete: bool) -> MaskedBody {
        if total_bytes > MAX_BODY_READ || raw.len() > MAX_BODY_READ {
            return MaskedBody {
                text: format!("[not kept: {total_bytes} bytes, more than the log reads]"),
                bytes: total_bytes,
                truncated: true,
            };
        }
        if !complete {
            return MaskedBody {
                text: format!("[not kept: {total_bytes} bytes or more]"),
                bytes: total_bytes,
                truncated: true,
            };
        }
        let text = match (serde_json::from_slice::<serde_json::Value>(raw), std::str::from_utf8(raw)) {
            (Ok(value), _) => self.json(value).to_string(),
            (Err(_), Ok(text)) if is_secret_name(text) => UNREADABLE_WITH_SECRET.to_owned(),
            (Err(_), Ok(text)) => self.text(text).into_string(),
            (Err(_), Err(_)) => format!("[{total_bytes} bytes, not text]"),
        };
        cut_body(text, total_bytes)
    }

    /// A JSON value with secrets masked (see [`Redactor::body`]).
    pub fn json(&self, mut value: serde_json::Value) -> serde_json::Value {
        self.mask_in_place(&mut value);
        value
    }

    /// Masks in place: only what the masks change is rewritten (most strings are left as they are).
    fn mask_in_place(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::String(text) if self.needs_masks(text) => *text = self.text(text).into_string(),
            Value::Array(items) => items.iter_mut().for_each(|v| self.mask_in_place(v)),
            Value::Object(map) => {
                // A PATCH operation on a secret attribute: its `value` is the secret.
                let secret_path =
                    map.iter().any(|(k, v)| k.eq_ignore_ascii_case("path") && v.as_str().is_some_and(is_secret_name));
                if map.keys().any(|k| self.needs_masks(k)) {
                    // A key holds a secret (a token pasted as an attribute name): keys rewritten.
                    for (key, mut value) in std::mem::take(map) {
                        self.mask_entry(&key, &mut value, secret_path);
                        map.insert(self.text(&key).into_string(), value);
                    }
                } else {
                    for (key, value) in map.iter_mut() {
                        self.mask_entry(key, value, secret_path);
                    }
                }
            }
            _ => {}
        }
    }

    /// The value of a secret-named attribute (or of a PATCH operation on one) is masked whole.
    fn mask_entry(&self, key: &str, value: &mut serde_json::Value, secret_path: bool) {
        if is_secret_name(key) || (secret_path && key.eq_ignore_ascii_case("value")) {
            *value = serde_json::Value::String(MASK.to_owned());
        } else {
            self.mask_in_place(value);
        }
    }

    /// Whether `text` would change under the masks (`text` answers it as it is otherwise).
    fn needs_masks(&self, raw: &str) -> bool {
        self.presented.as_deref().is_some_and(|secret| raw.contains(secret)) || may_hold_secret(raw)
    }
}

/// Cuts masked text to [`MAX_BODY_BYTES`] on a character boundary and marks the cut.
fn cut_body(text: String, total_bytes: usize) -> MaskedBody {
    if text.len() <= MAX_BODY_BYTES {
        return MaskedBody { text, bytes: total_bytes, truncated: false };
    }
    let mut end = MAX_BODY_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let kept = text.get(..end).unwrap_or_default();
    let text = format!("{kept}… [truncated: the body was {total_bytes} bytes; the first 16 KB are kept]");
    MaskedBody { text, bytes: total_bytes, truncated: true }
}

/// A query string with the values of secret-named parameters masked, then `redact`ed.
fn redact_query(query: &str) -> String {
    let masked: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if SECRET_NAMES.iter().any(|s| name.to_ascii_lowercase().contains(s)) => {
                format!("{name}={MASK}")
            }
            _ => pair.to_owned(),
        })
        .collect();
    redact(&masked.join("&"))
}

/// Masks what looks like a secret in free text: this service's tokens, bearer credentials, and
/// the compared value of a `password` filter (as text or URL-encoded).
fn redact(text: &str) -> String {
    let mut out = text.to_owned();
    for prefix in SECRET_PREFIXES {
        out = mask_after(&out, prefix, 1, |rest| {
            rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        });
    }
    for marker in ["Bearer ", "bearer ", "Bearer%20", "bearer%20", "Bearer+", "bearer+"] {
        // Only a credential-sized value: prose such as "the bearer token is…" stays readable.
        out = mask_after(&out, marker, 16, |rest| rest.find(|c: char| c.is_whitespace() || c == '&' || c == '"'));
    }
    mask_password_values(&out)
}

/// Whether `redact` could change `text`: it holds one of our secret prefixes, a bearer marker, or
/// `password` in any case (what `redact` looks for, checked without copying).
fn may_hold_secret(text: &str) -> bool {
    SECRET_PREFIXES.iter().any(|prefix| text.contains(prefix))
        || text.contains("earer")
        || contains_ignoring_case(text, "password")
}

/// Replaces the text after each `marker` up to `end(rest)` (or the end) with the mask, when it is
/// at least `min_len` bytes long.
fn mask_after(text: &str, marker: &str, min_len: usize, end: impl Fn(&str) -> Option<usize>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(marker) {
        out.push_str(&rest[..at + marker.len()]);
        let after = &rest[at + marker.len()..];
        let stop = end(after).unwrap_or(after.len());
        if stop >= min_len.max(1) && !after[..stop].starts_with(MASK) {
            out.push_str(MASK);
        } else {
            out.push_str(&after[..stop]);
        }
        rest = &after[stop..];
    }
    out.push_str(rest);
    out
}

/// `password <op> "value"` (also `%22value%22`): the value is masked.
fn mask_password_values(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut search = 0;
    while let Some(found) = lower[search..].find("password") {
        let start = search + found + "password".len();
        search = start;
        let bytes = lower.as_bytes();
        let mut i = start;
        let skip_separators = |mut i: usize| loop {
            if bytes.get(i).is_some_and(|b| *b == b' ' || *b == b'+') {
                i += 1;
            } else if lower[i..].starts_with("%20") {
                i += 3;
            } else {
                return i;
            }
        };
        i = skip_separators(i);
        let operator_start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_alphabetic) {
            i += 1;
        }
        if i == operator_start {
            continue;
        }
        i = skip_separators(i);
        let quote = if lower[i..].starts_with('"') {
            "\""
        } else if lower[i..].starts_with("%22") {
            "%22"
        } else {
            continue;
        };
        let value_start = i + quote.len();
        let value_end = lower[value_start..].find(quote).map_or(lower.len(), |end| value_start + end);
        out.push_str(&text[copied..value_start]);
        out.push_str(MASK);
        copied = value_end;
        search = value_end;
    }
    out.push_str(&text[copied..]);
    out
}

/// Cuts a string to `max` characters so a hostile request cannot bloat what is kept of it.
pub fn clip(value: &str, max: usize) -> String {
    if value.chars().count() <= max {
        value.to_owned()
    } else {
        let mut clipped: String = value.chars().take(max).collect();
        clipped.push('…');
        clipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact_query(query: &str) -> String {
        Redactor::default().query(query).into_string()
    }

    fn redact(text: &str) -> String {
        Redactor::default().text(text).into_string()
    }

    #[test]
    fn secrets_in_urls_are_masked() {
        assert_eq!(redact_query("access_token=iscim_abc-def&count=5"), "access_token=[redacted]&count=5");
        assert_eq!(redact("/Users/iscim_abc_DEF-1/x"), "/Users/iscim_[redacted]/x");
        assert_eq!(redact("auth Bearer abcdefghij.klmnopqrst rest"), "auth Bearer [redacted] rest");
        let prose = "The bearer token is not valid for this organization's SCIM connector.";
        assert_eq!(redact(prose), prose);
        assert_eq!(
            redact_query("filter=password%20eq%20%22hunter2%22&startIndex=1"),
            "filter=password%20eq%20%22[redacted]%22&startIndex=1"
        );
        assert_eq!(
            redact(r#"password eq "hunter2" and userName eq "x""#),
            r#"password eq "[redacted]" and userName eq "x""#
        );
        assert_eq!(redact("userName eq \"password\""), "userName eq \"password\"");
        assert_eq!(redact("startIndex=1&count=10"), "startIndex=1&count=10");
        assert_eq!(redact(&redact("iscim_abc")), "iscim_[redacted]");
    }

    #[test]
    fn the_presented_credential_is_masked_whatever_its_shape() {
        let redactor = Redactor::with_credential(Some("opaque-Secret.Value/42"));
        assert_eq!(redactor.text("/Users/opaque-Secret.Value/42").as_str(), "/Users/[redacted]");
        assert_eq!(redactor.query("x=opaque-Secret.Value/42&count=1").as_str(), "x=[redacted]&count=1");
        // A short credential would mask ordinary text: only shapes and names apply then.
        assert_eq!(Redactor::with_credential(Some("abc")).text("/abc/Users").as_str(), "/abc/Users");
    }

    #[test]
    fn bodies_are_masked_by_attribute_name_patch_path_and_shape_then_cut() {
        let redactor = Redactor::with_credential(Some("opaque-Secret.Value/42"));
        let body = serde_json::json!({
            "userName": "bob@example.com",
            "PASSWORD": "p1",
            "urn:ietf:params:scim:schemas:core:2.0:User": {"password": "p2"},
            "Operations": [{"op": "replace", "path": "Password", "value": "p3"}, {"op": "add", "path": "title", "value": "Eng"}],
            "iscim_abcdef": "x",
            "note": "opaque-Secret.Value/42",
        })
        .to_string();
        let masked = redactor.body(body.as_bytes(), body.len(), true);
        for secret in ["p1", "p2", "p3", "abcdef", "opaque-Secret"] {
            assert!(!masked.text().contains(&format!("\"{secret}")), "{secret}: {}", masked.text());
        }
        assert!(masked.text().contains("\"Eng\"") && masked.text().contains("bob@example.com"), "{}", masked.text());
        assert!(!masked.truncated());
        // Not JSON: kept as masked text, unless it names a secret attribute.
        assert_eq!(redactor.body(b"{not json", 9, true).text(), "{not json");
        assert!(redactor.body(b"{\"password\": \"p4\"", 17, true).text().starts_with("[not kept"));
        let long = serde_json::json!({"title": "é".repeat(MAX_BODY_BYTES)}).to_string();
        let cut = redactor.body(long.as_bytes(), long.len(), true);
        assert!(cut.truncated() && cut.text().ends_with("the first 16 KB are kept]"));
        assert!(cut.text().len() < MAX_BODY_BYTES + 100);
        assert!(redactor.body(b"", 5_000_000, false).text().starts_with("[not kept"));
        // Too large to read (parsing it would take several times its size): not kept, said so.
        let huge = serde_json::json!({"members": vec!["x".repeat(100); MAX_BODY_READ / 100]}).to_string();
        let skipped = redactor.body(huge.as_bytes(), huge.len(), true);
        assert!(skipped.truncated() && skipped.text().starts_with("[not kept") && skipped.bytes() == huge.len());
    }

    #[test]
    fn clips_long_values() {
        assert_eq!(clip("abc", 5), "abc");
        assert_eq!(clip("abcdef", 3), "abc…");
    }

    #[test]
    fn stored_records_are_masked_again_when_read() {
        let read: Redacted = serde_json::from_value(serde_json::json!("/Users/iscim_abc")).unwrap();
        assert_eq!(read, "/Users/iscim_[redacted]");
    }
}
