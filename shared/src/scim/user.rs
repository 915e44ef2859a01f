//! The SCIM User resource of an Insomnia member: validating what the IdP sends, deriving the
//! member's fields from it, and rendering a member back as SCIM JSON.
use serde_json::{json, Map, Value};

use super::patch::{apply_patch, PatchOp, PatchOpKind, PatchRequest};
use super::schema::{ResourceSchema, USER_RESOURCE, USER_SCHEMA};
use super::{ScimError, ScimType};
use crate::domain::MemberRecord;
use crate::domain::{EmailAddress, LookupAttr};

pub const RESOURCE_TYPE: &str = "User";

/// Attributes a client may send but the service sets itself: ignored on POST and PUT.
const SERVER_SET: [&str; 3] = ["id", "meta", "groups"];

/// A User document as stored: every attribute as sent, minus id, meta and groups, and never an
/// attribute that is never returned (`password`, in any spelling): every constructor ends in
/// `rules::remove_never_returned`, so no document that reaches the store or an answer holds one.
#[derive(Debug, Clone, PartialEq)]
pub struct UserDocument(Value);

impl UserDocument {
    /// Validates a POST or PUT body into a document (types, multi-valued rules, `primary`,
    /// IdP tolerances), reporting the tolerances applied.
    pub fn from_request(body: Value) -> Result<(Self, Vec<String>), ScimError> {
        let Value::Object(mut body) = body else {
            return Err(ScimError::bad_request(ScimType::InvalidSyntax, "The request body must be a JSON object."));
        };
        let mut tolerances = Vec::new();
        for key in SERVER_SET.iter() {
            let present: Vec<String> = body.keys().filter(|k| k.eq_ignore_ascii_case(key)).cloned().collect();
            for k in present {
                body.remove(&k);
            }
        }
        for key in body.keys() {
            let known = key.eq_ignore_ascii_case("schemas")
                || key.to_ascii_lowercase().starts_with("urn:")
                || USER_RESOURCE.definition(None, key, None).is_some();
            if !known {
                return Err(ScimError::bad_request(
                    ScimType::InvalidSyntax,
                    format!("Unknown attribute '{key}': the User schema has no such attribute (extension attributes go under their schema URN)."),
                ));
            }
        }
        match body.iter().find(|(k, _)| k.eq_ignore_ascii_case("schemas")).map(|(_, v)| v) {
            None => tolerances.push("missing_schemas".to_owned()),
            Some(Value::Array(list))
                if list.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(USER_SCHEMA))) => {}
            Some(_) => {
                return Err(ScimError::bad_request(
                    ScimType::InvalidSyntax,
                    format!("'schemas' must be an array that contains \"{USER_SCHEMA}\"."),
                ))
            }
        }
        let mut doc = json!({ "schemas": [USER_SCHEMA] });
        let request = PatchRequest {
            operations: vec![PatchOp {
                op: PatchOpKind::Replace,
                path: None,
                raw_path: None,
                value: Some(Value::Object(body)),
            }],
            tolerances: Vec::new(),
        };
        let mut applied = Vec::new();
        apply_patch(&mut doc, &request, &USER_RESOURCE, &mut applied)?;
        tolerances.extend(applied.iter().map(|t| t.as_str().to_owned()));
        let doc = Self(doc);
        doc.check()?;
        doc.check_email_values(0)?;
        Ok((doc, tolerances))
    }

    /// The document of an existing member: as the IdP wrote it, or made from the member's
    /// account for members added by hand.
    pub fn of_member(member: &MemberRecord) -> Self {
        let stored = member.resource.as_deref().and_then(|text| serde_json::from_str::<Value>(text).ok());
        let mut doc = stored.unwrap_or_else(|| {
            json!({
                "schemas": [USER_SCHEMA],
                "userName": member.user_name,
                "emails": [{ "value": member.email.as_str(), "primary": true }],
            })
        });
        if let Value::Object(map) = &mut doc {
            map.insert("active".into(), Value::Bool(member.active));
        }
        // A document stored before write-only attributes were dropped on write is cleaned on read.
        super::rules::remove_never_returned(&mut doc, &USER_RESOURCE);
        Self(doc)
    }

    /// Applies a PATCH request to the user `id`, then re-checks the result. The id is visible to
    /// the PATCH engine so that a value repeating it (Okta sends the user's own id) is ignored.
    pub fn patch(&mut self, id: &str, request: &PatchRequest) -> Result<Vec<String>, ScimError> {
        // A document stored before `emails.value` was enforced keeps its entries; a PATCH adds none without one.
        let valueless_before = self.valueless_emails();
        let mut applied = Vec::new();
        with_id(&mut self.0, id, |doc| apply_patch(doc, request, &USER_RESOURCE, &mut applied))?;
        self.check()?;
        self.check_email_values(valueless_before)?;
        Ok(applied.iter().map(|t| t.as_str().to_owned()).collect())
    }

    fn check(&self) -> Result<(), ScimError> {
        if let Some(Value::String(external_id)) = self.get("externalId") {
            super::check_key_length("externalId", external_id)?;
        }
        for email in self.email_values() {
            if let Some(value) = email.get("value").and_then(Value::as_str) {
                super::check_key_length("emails.value", value)?;
            }
        }
        match self.get("userName") {
            Some(Value::String(name)) if !name.trim().is_empty() => super::check_key_length("userName", name),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                Err(ScimError::bad_request(ScimType::InvalidValue, "'userName' is required and must not be empty."))
            }
            Some(_) => Err(ScimError::bad_request(ScimType::InvalidValue, "'userName' must be a string.")),
        }
    }

    /// How many `emails` entries lack a `value` (a non-empty string).
    fn valueless_emails(&self) -> usize {
        let has_value = |e: &&Map<String, Value>| {
            e.iter().any(|(k, v)| k.eq_ignore_ascii_case("value") && v.as_str().is_some_and(|s| !s.trim().is_empty()))
        };
        self.email_values().iter().filter(|e| !has_value(e)).count()
    }

    /// `emails.value` is required (`/Schemas` says so, docs/ARCHITECTURE.md, "Discovery"): an entry without
    /// one cannot name an account.
    fn check_email_values(&self, allowed: usize) -> Result<(), ScimError> {
        if self.valueless_emails() > allowed {
            return Err(ScimError::bad_request(
                ScimType::InvalidValue,
                "Each entry of 'emails' needs a 'value' (an email address): 'emails.value' is required.",
            ));
        }
        Ok(())
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.0.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }

    pub fn user_name(&self) -> &str {
        self.get("userName").and_then(Value::as_str).unwrap_or_default()
    }

    pub fn external_id(&self) -> Option<String> {
        self.get("externalId").and_then(Value::as_str).map(str::to_owned)
    }

    pub fn active(&self) -> bool {
        self.get("active").and_then(Value::as_bool).unwrap_or(true)
    }

    fn email_values(&self) -> Vec<&Map<String, Value>> {
        self.get("emails")
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(Value::as_object).collect())
            .unwrap_or_default()
    }

    /// The email that names the member's Insomnia account: the primary email, else the work
    /// email, else the first, else the userName when it is an address.
    pub fn account_email(&self) -> Result<EmailAddress, ScimError> {
        let emails = self.email_values();
        let value_of = |e: &&Map<String, Value>| e.get("value").and_then(Value::as_str).map(str::to_owned);
        let primary =
            emails.iter().find(|e| e.get("primary").and_then(Value::as_bool) == Some(true)).and_then(value_of);
        let work = emails
            .iter()
            .find(|e| e.get("type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("work")))
            .and_then(value_of);
        let first = emails.first().and_then(value_of);
        let candidate = primary.or(work).or(first);
        match candidate {
            Some(address) => EmailAddress::parse(&address).map_err(|e| ScimError::bad_request(ScimType::InvalidValue, e.to_string())),
            None => EmailAddress::parse(self.user_name()).map_err(|_| {
                ScimError::bad_request(
                    ScimType::InvalidValue,
                    "The user needs an email address (in 'emails', or as a 'userName' that is an email) to be matched to an Insomnia account.",
                )
            }),
        }
    }

    /// Values indexed for key lookups: externalId (exact) and every email (lower case).
    pub fn lookups(&self) -> Vec<(String, String)> {
        let mut lookups = Vec::new();
        if let Some(external_id) = self.external_id() {
            lookups.push((LookupAttr::ExternalId.as_str().to_owned(), LookupAttr::ExternalId.normalize(&external_id)));
        }
        for email in self.email_values() {
            if let Some(value) = email.get("value").and_then(Value::as_str) {
                let entry = (LookupAttr::Email.as_str().to_owned(), LookupAttr::Email.normalize(value));
                if !lookups.contains(&entry) {
                    lookups.push(entry);
                }
            }
        }
        lookups
    }

    /// The stored JSON text (without `active`, which the member record holds).
    pub fn to_stored(&self) -> String {
        let mut doc = self.0.clone();
        if let Value::Object(map) = &mut doc {
            map.retain(|k, _| !k.eq_ignore_ascii_case("active"));
        }
        doc.to_string()
    }

    pub fn as_value(&self) -> &Value {
        &self.0
    }
}

/// Runs `f` with `id` present in the document, and removes it again (it is never stored).
pub(crate) fn with_id<T>(doc: &mut Value, id: &str, f: impl FnOnce(&mut Value) -> T) -> T {
    if let Value::Object(map) = doc {
        map.insert("id".into(), Value::String(id.to_owned()));
    }
    let result = f(doc);
    if let Value::Object(map) = doc {
        map.remove("id");
    }
    result
}

/// `W/"n"`: the weak ETag of a version.
pub fn etag(version: u64) -> String {
    format!("W/\"{version}\"")
}

/// The full SCIM representation of a member.
pub fn render(member: &MemberRecord, base_url: &str) -> Value {
    let mut doc = UserDocument::of_member(member).0;
    if let Value::Object(map) = &mut doc {
        map.insert("id".into(), Value::String(member.id.clone()));
        map.insert(
            "meta".into(),
            json!({
                "resourceType": RESOURCE_TYPE,
                "created": member.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "lastModified": member.modified_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "location": format!("{base_url}/Users/{}", member.id),
                "version": etag(member.version),
            }),
        );
    }
    doc
}

pub fn rules() -> &'static ResourceSchema {
    &USER_RESOURCE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_validated_and_server_set_attributes_dropped() {
        let (doc, tolerances) = UserDocument::from_request(json!({
            "schemas": [USER_SCHEMA],
            "id": "ignored",
            "userName": "Jane@Example.com",
            "password": "secret",
            "active": "False",
            "emails": {"value": "jane@example.com", "type": "work"},
        }))
        .unwrap();
        let value = doc.as_value();
        assert!(value.get("id").is_none());
        assert!(value.get("password").is_none());
        assert_eq!(value["active"], false);
        assert_eq!(value["userName"], "Jane@Example.com");
        assert!(tolerances.contains(&"boolean_as_string".to_owned()), "{tolerances:?}");
        assert!(tolerances.contains(&"single_value_for_multi_valued".to_owned()), "{tolerances:?}");
        assert_eq!(doc.account_email().unwrap().as_str(), "jane@example.com");
        assert!(!doc.active());
    }

    #[test]
    fn bad_bodies_are_named() {
        let err =
            UserDocument::from_request(json!({"schemas": [USER_SCHEMA], "userName": "a", "favouriteColour": "red"}))
                .unwrap_err();
        assert_eq!(err.scim_type, Some(ScimType::InvalidSyntax));
        assert!(err.detail.contains("favouriteColour"));
        let err = UserDocument::from_request(json!({"schemas": [USER_SCHEMA]})).unwrap_err();
        assert_eq!(err.scim_type, Some(ScimType::InvalidValue));
        let err =
            UserDocument::from_request(json!({"schemas": [USER_SCHEMA], "userName": "a", "active": 5})).unwrap_err();
        assert_eq!(err.scim_type, Some(ScimType::InvalidValue));
        let err = UserDocument::from_request(json!([1])).unwrap_err();
        assert_eq!(err.scim_type, Some(ScimType::InvalidSyntax));
    }

    #[test]
    fn the_account_email_prefers_primary_then_work_then_first_then_user_name() {
        let pick =
            |body: Value| UserDocument::from_request(body).unwrap().0.account_email().map(|e| e.as_str().to_owned());
        let base = |emails: Value| json!({"schemas": [USER_SCHEMA], "userName": "u@x.com", "emails": emails});
        assert_eq!(
            pick(base(json!([{"value": "a@x.com", "type": "home"}, {"value": "b@x.com", "primary": true}]))).unwrap(),
            "b@x.com"
        );
        assert_eq!(
            pick(base(json!([{"value": "a@x.com", "type": "home"}, {"value": "w@x.com", "type": "work"}]))).unwrap(),
            "w@x.com"
        );
        assert_eq!(pick(json!({"schemas": [USER_SCHEMA], "userName": "u@x.com"})).unwrap(), "u@x.com");
        assert!(pick(json!({"schemas": [USER_SCHEMA], "userName": "plain"})).is_err());
    }
}
