//! The schemas this service implements (RFC 7643 §4.1, §4.2, §4.3), as data: rendered by the
//! `/Schemas` endpoint and consulted by filters, PATCH and attribute projection.
use serde_json::{json, Value};

use super::rules::{AttrInfo, AttrType, AttributeRules, Mutability};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

#[derive(Debug, Clone, Copy)]
pub struct AttributeDef {
    pub name: &'static str,
    pub attr_type: AttrType,
    pub multi_valued: bool,
    pub description: &'static str,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub sub_attributes: &'static [AttributeDef],
}

const fn attr(name: &'static str, attr_type: AttrType, description: &'static str) -> AttributeDef {
    AttributeDef {
        name,
        attr_type,
        multi_valued: false,
        description,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: Uniqueness::None,
        canonical_values: &[],
        reference_types: &[],
        sub_attributes: &[],
    }
}

const fn string(name: &'static str, description: &'static str) -> AttributeDef {
    attr(name, AttrType::String, description)
}

impl AttributeDef {
    const fn multi(self) -> Self {
        Self { multi_valued: true, ..self }
    }
    const fn required(self) -> Self {
        Self { required: true, ..self }
    }
    const fn case_exact(self) -> Self {
        Self { case_exact: true, ..self }
    }
    const fn mutability(self, mutability: Mutability) -> Self {
        Self { mutability, ..self }
    }
    const fn returned(self, returned: Returned) -> Self {
        Self { returned, ..self }
    }
    const fn unique(self) -> Self {
        Self { uniqueness: Uniqueness::Server, ..self }
    }
    const fn canonical(self, canonical_values: &'static [&'static str]) -> Self {
        Self { canonical_values, ..self }
    }
    const fn refs(self, reference_types: &'static [&'static str]) -> Self {
        Self { reference_types, ..self }
    }
    const fn subs(self, sub_attributes: &'static [AttributeDef]) -> Self {
        Self { sub_attributes, ..self }
    }

    fn info(&self) -> AttrInfo {
        AttrInfo {
            attr_type: self.attr_type,
            multi_valued: self.multi_valued,
            case_exact: self.case_exact,
            mutability: self.mutability,
        }
    }

    pub fn sub_attribute(&self, name: &str) -> Option<&'static AttributeDef> {
        self.sub_attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }

    fn to_json(self) -> Value {
        let mut out = json!({
            "name": self.name,
            "type": type_name(self.attr_type),
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
            "mutability": mutability_name(self.mutability),
            "returned": returned_name(self.returned),
        });
        if let Value::Object(map) = &mut out {
            if matches!(self.attr_type, AttrType::String | AttrType::Reference | AttrType::Binary) {
                map.insert("caseExact".into(), Value::Bool(self.case_exact));
                map.insert("uniqueness".into(), json!(uniqueness_name(self.uniqueness)));
            }
            if !self.canonical_values.is_empty() {
                map.insert("canonicalValues".into(), json!(self.canonical_values));
            }
            if !self.reference_types.is_empty() {
                map.insert("referenceTypes".into(), json!(self.reference_types));
            }
            if !self.sub_attributes.is_empty() {
                let subs: Vec<Value> = self.sub_attributes.iter().map(|a| a.to_json()).collect();
                map.insert("subAttributes".into(), Value::Array(subs));
            }
        }
        out
    }
}

fn type_name(t: AttrType) -> &'static str {
    match t {
        AttrType::String => "string",
        AttrType::Boolean => "boolean",
        AttrType::Decimal => "decimal",
        AttrType::Integer => "integer",
        AttrType::DateTime => "dateTime",
        AttrType::Binary => "binary",
        AttrType::Reference => "reference",
        AttrType::Complex => "complex",
    }
}

fn mutability_name(m: Mutability) -> &'static str {
    match m {
        Mutability::ReadOnly => "readOnly",
        Mutability::ReadWrite => "readWrite",
        Mutability::Immutable => "immutable",
        Mutability::WriteOnly => "writeOnly",
    }
}

fn returned_name(r: Returned) -> &'static str {
    match r {
        Returned::Always => "always",
        Returned::Never => "never",
        Returned::Default => "default",
        Returned::Request => "request",
    }
}

fn uniqueness_name(u: Uniqueness) -> &'static str {
    match u {
        Uniqueness::None => "none",
        Uniqueness::Server => "server",
        Uniqueness::Global => "global",
    }
}

const TYPE_WORK_HOME_OTHER: &[&str] = &["work", "home", "other"];

/// `value`, `display`, `type`, `primary`: the shape of most multi-valued attributes. `value` is
/// required when the service needs it in every entry (`emails`: docs/ARCHITECTURE.md, "Discovery").
macro_rules! multi_valued_subs {
    ($value_desc:literal, $types:expr) => {
        multi_valued_subs!(string("value", $value_desc), $types)
    };
    ($value:expr, $types:expr) => {
        &[
            $value,
            string("display", "A human-readable name, primarily used for display purposes.")
                .mutability(Mutability::ReadOnly),
            string("type", "A label indicating the attribute's function.").canonical($types),
            attr("primary", AttrType::Boolean, "Indicates the preferred value; at most one value is primary."),
        ]
    };
}

const NAME_SUBS: &[AttributeDef] = &[
    string("formatted", "The full name, formatted for display."),
    string("familyName", "The family name of the User."),
    string("givenName", "The given name of the User."),
    string("middleName", "The middle name(s) of the User."),
    string("honorificPrefix", "The honorific prefix(es) of the User."),
    string("honorificSuffix", "The honorific suffix(es) of the User."),
];

const ADDRESS_SUBS: &[AttributeDef] = &[
    string("formatted", "The full mailing address, formatted for display."),
    string("streetAddress", "The full street address component."),
    string("locality", "The city or locality component."),
    string("region", "The state or region component."),
    string("postalCode", "The zip code or postal code component."),
    string("country", "The country name component (ISO 3166-1 alpha-2)."),
    string("type", "A label indicating the attribute's function.").canonical(TYPE_WORK_HOME_OTHER),
    attr("primary", AttrType::Boolean, "Indicates the preferred mailing address."),
];

const GROUPS_SUBS: &[AttributeDef] = &[
    string("value", "The identifier of the User's group.").mutability(Mutability::ReadOnly),
    attr("$ref", AttrType::Reference, "The URI of the corresponding 'Group' resource.")
        .refs(&["Group"])
        .mutability(Mutability::ReadOnly),
    string("display", "A human-readable name of the group.").mutability(Mutability::ReadOnly),
    string("type", "How the membership was derived.")
        .canonical(&["direct", "indirect"])
        .mutability(Mutability::ReadOnly),
];

pub const USER_ATTRIBUTES: &[AttributeDef] = &[
    string(
        "userName",
        "Unique identifier for the User, typically used to sign in; unique per organization, case-insensitive.",
    )
    .required()
    .unique(),
    attr("name", AttrType::Complex, "The components of the user's real name.").subs(NAME_SUBS),
    string("displayName", "The name of the User, suitable for display to end-users."),
    string("nickName", "The casual way to address the user."),
    attr("profileUrl", AttrType::Reference, "A fully qualified URL pointing to a page representing the User.")
        .refs(&["external"]),
    string("title", "The user's title, such as \"Vice President\"."),
    string("userType", "The relationship between the organization and the user."),
    string("preferredLanguage", "The User's preferred written or spoken language."),
    string("locale", "The User's default location for localization."),
    string("timezone", "The User's time zone in IANA Time Zone database format."),
    attr(
        "active",
        AttrType::Boolean,
        "The User's administrative status; inactive users lose access and consume no license. Always has a value: \
         a create without it makes an active user, and it cannot be removed, only set to false.",
    )
    .required(),
    string("password", "The User's cleartext password; write-only, never returned.")
        .mutability(Mutability::WriteOnly)
        .returned(Returned::Never),
    attr(
        "emails",
        AttrType::Complex,
        "Email addresses for the user. Required: one (the primary, else the work, else the first) is matched to an \
         Insomnia account; a userName that is an email address is accepted in its place.",
    )
    .required()
    .multi()
    .subs(multi_valued_subs!(
        string("value", "Email address for the User; required in every entry.").required(),
        TYPE_WORK_HOME_OTHER
    )),
    attr("phoneNumbers", AttrType::Complex, "Phone numbers for the User.")
        .multi()
        .subs(multi_valued_subs!("Phone number of the User.", &["work", "home", "mobile", "fax", "pager", "other"])),
    attr("ims", AttrType::Complex, "Instant messaging addresses for the User.").multi().subs(multi_valued_subs!(
        "Instant messaging address for the User.",
        &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"]
    )),
    attr("photos", AttrType::Complex, "URLs of photos of the User.")
        .multi()
        .subs(multi_valued_subs!("URL of a photo of the User.", &["photo", "thumbnail"])),
    attr("addresses", AttrType::Complex, "A physical mailing address for this User.").multi().subs(ADDRESS_SUBS),
    attr("groups", AttrType::Complex, "The Insomnia teams the user belongs to; managed through the Group resource.")
        .multi()
        .mutability(Mutability::ReadOnly)
        .subs(GROUPS_SUBS),
    attr("entitlements", AttrType::Complex, "A list of entitlements for the User.")
        .multi()
        .subs(multi_valued_subs!("The value of an entitlement.", &[])),
    attr("roles", AttrType::Complex, "A list of roles for the User.")
        .multi()
        .subs(multi_valued_subs!("The value of a role.", &[])),
    attr("x509Certificates", AttrType::Complex, "A list of certificates issued to the User.")
        .multi()
        .subs(multi_valued_subs!("The value of an X.509 certificate.", &[])),
];

pub const ENTERPRISE_USER_ATTRIBUTES: &[AttributeDef] = &[
    string("employeeNumber", "Numeric or alphanumeric identifier assigned to a person."),
    string("costCenter", "Identifies the name of a cost center."),
    string("organization", "Identifies the name of an organization."),
    string("division", "Identifies the name of a division."),
    string("department", "Identifies the name of a department."),
    attr("manager", AttrType::Complex, "The User's manager.").subs(&[
        string("value", "The id of the SCIM resource representing the User's manager."),
        attr("$ref", AttrType::Reference, "The URI of the SCIM resource representing the User's manager.")
            .refs(&["User"]),
        string("displayName", "The displayName of the User's manager.").mutability(Mutability::ReadOnly),
    ]),
];

pub const GROUP_ATTRIBUTES: &[AttributeDef] = &[
    string(
        "displayName",
        "A human-readable name for the Group (the Insomnia team name); unique per organization, case-insensitive.",
    )
    .required()
    .unique(),
    attr("members", AttrType::Complex, "A list of members of the Group (users of this organization).").multi().subs(&[
        string("value", "Identifier of the member of this Group: the id of a user of this organization.")
            .required()
            .mutability(Mutability::Immutable),
        attr("$ref", AttrType::Reference, "The URI of the member resource.")
            .refs(&["User"])
            .mutability(Mutability::Immutable),
        string(
            "display",
            "The member's userName, set by the service; returned when asked for (attributes=members.display).",
        )
        .mutability(Mutability::ReadOnly)
        .returned(Returned::Request),
        string("type", "The type of the member.").canonical(&["User"]).mutability(Mutability::Immutable),
    ]),
];

/// id, externalId and meta (RFC 7643 §3.1): on every resource, not part of any schema document.
pub const COMMON_ATTRIBUTES: &[AttributeDef] = &[
    string("id", "Unique identifier assigned by the service provider.")
        .case_exact()
        .mutability(Mutability::ReadOnly)
        .returned(Returned::Always)
        .unique(),
    string("externalId", "Identifier of the resource as defined by the provisioning client.").case_exact(),
    attr("meta", AttrType::Complex, "Resource metadata.").mutability(Mutability::ReadOnly).subs(&[
        string("resourceType", "The name of the resource type.").case_exact().mutability(Mutability::ReadOnly),
        attr("created", AttrType::DateTime, "When the resource was added.").mutability(Mutability::ReadOnly),
        attr("lastModified", AttrType::DateTime, "When the resource was last updated.")
            .mutability(Mutability::ReadOnly),
        attr("location", AttrType::Reference, "The URI of the resource.").mutability(Mutability::ReadOnly),
        string("version", "The version (ETag) of the resource.").case_exact().mutability(Mutability::ReadOnly),
    ]),
    attr("schemas", AttrType::Reference, "The schema URIs of the resource.")
        .multi()
        .case_exact()
        .mutability(Mutability::ReadOnly)
        .returned(Returned::Always),
];

pub struct SchemaDef {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [AttributeDef],
}

pub const SCHEMAS: &[SchemaDef] = &[
    SchemaDef {
        id: USER_SCHEMA,
        name: "User",
        description: "User Account (an Insomnia organization member)",
        attributes: USER_ATTRIBUTES,
    },
    SchemaDef {
        id: GROUP_SCHEMA,
        name: "Group",
        description: "Group (an Insomnia team)",
        attributes: GROUP_ATTRIBUTES,
    },
    SchemaDef {
        id: ENTERPRISE_USER_SCHEMA,
        name: "EnterpriseUser",
        description: "Enterprise User",
        attributes: ENTERPRISE_USER_ATTRIBUTES,
    },
];

impl SchemaDef {
    /// The RFC 7643 §7 representation, with `meta.location` under `base_url`.
    pub fn to_json(&self, base_url: &str) -> Value {
        let attributes: Vec<Value> = self.attributes.iter().map(|a| a.to_json()).collect();
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": attributes,
            "meta": { "resourceType": "Schema", "location": format!("{base_url}/Schemas/{}", self.id) },
        })
    }

    pub fn find(id: &str) -> Option<&'static SchemaDef> {
        SCHEMAS.iter().find(|s| s.id.eq_ignore_ascii_case(id))
    }
}

fn find_attribute(list: &'static [AttributeDef], name: &str) -> Option<&'static AttributeDef> {
    list.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

/// A resource type's schema rules: core schema plus extensions, plus the common attributes.
pub struct ResourceSchema {
    pub core: &'static SchemaDef,
    pub extensions: &'static [&'static str],
}

// Constant indexes of a fixed array in a const: out of bounds would not compile.
#[expect(clippy::indexing_slicing, reason = "checked at compile time")]
pub const USER_RESOURCE: ResourceSchema = ResourceSchema { core: &SCHEMAS[0], extensions: &[ENTERPRISE_USER_SCHEMA] };
#[expect(clippy::indexing_slicing, reason = "checked at compile time")]
pub const GROUP_RESOURCE: ResourceSchema = ResourceSchema { core: &SCHEMAS[1], extensions: &[] };

impl ResourceSchema {
    /// The definition of `name` (and `sub`) under `schema` (None = core), case-insensitive.
    pub fn definition(&self, schema: Option<&str>, name: &str, sub: Option<&str>) -> Option<&'static AttributeDef> {
        let top = match schema {
            None => find_attribute(self.core.attributes, name).or_else(|| find_attribute(COMMON_ATTRIBUTES, name)),
            Some(urn) if urn.eq_ignore_ascii_case(self.core.id) => {
                find_attribute(self.core.attributes, name).or_else(|| find_attribute(COMMON_ATTRIBUTES, name))
            }
            Some(urn) => {
                let known = self.extensions.iter().any(|e| e.eq_ignore_ascii_case(urn));
                if !known {
                    return None;
                }
                SchemaDef::find(urn).and_then(|s| find_attribute(s.attributes, name))
            }
        }?;
        match sub {
            None => Some(top),
            Some(sub) => top.sub_attribute(sub),
        }
    }
}

impl AttributeRules for ResourceSchema {
    fn core_schema(&self) -> &str {
        self.core.id
    }

    fn extension_schemas(&self) -> &[&str] {
        self.extensions
    }

    fn attribute(&self, schema: Option<&str>, name: &str, sub: Option<&str>) -> Option<AttrInfo> {
        self.definition(schema, name, sub).map(|d| d.info())
    }

    fn never_returned(&self, schema: Option<&str>, name: &str, sub: Option<&str>) -> bool {
        self.definition(schema, name, sub)
            .is_some_and(|d| d.returned == Returned::Never || d.mutability == Mutability::WriteOnly)
    }

    fn required(&self, schema: Option<&str>, name: &str, sub: Option<&str>) -> bool {
        self.definition(schema, name, sub).is_some_and(|d| d.required)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_rules_answer_case_insensitively() {
        let user = &USER_RESOURCE;
        let user_name = user.attribute(None, "USERNAME", None).unwrap();
        assert!(!user_name.case_exact);
        assert!(user.attribute(None, "id", None).unwrap().case_exact);
        assert!(user.attribute(None, "emails", None).unwrap().multi_valued);
        assert_eq!(user.attribute(None, "emails", Some("Primary")).unwrap().attr_type, AttrType::Boolean);
        assert_eq!(user.attribute(None, "meta", Some("lastModified")).unwrap().attr_type, AttrType::DateTime);
        assert_eq!(user.attribute(Some(USER_SCHEMA), "name", Some("givenName")).unwrap().attr_type, AttrType::String);
        assert_eq!(
            user.attribute(Some(ENTERPRISE_USER_SCHEMA), "manager", Some("value")).unwrap().mutability,
            Mutability::ReadWrite
        );
        assert!(user.attribute(None, "nope", None).is_none());
        assert!(user.attribute(Some("urn:example:unknown"), "x", None).is_none());
        assert_eq!(user.attribute(None, "groups", None).unwrap().mutability, Mutability::ReadOnly);
    }

    #[test]
    fn schema_documents_have_rfc_7643_shape() {
        let doc = SCHEMAS[0].to_json("https://x/scim/v2/orgs/a");
        assert_eq!(doc["id"], USER_SCHEMA);
        assert_eq!(doc["meta"]["location"], format!("https://x/scim/v2/orgs/a/Schemas/{USER_SCHEMA}"));
        let attrs = doc["attributes"].as_array().unwrap();
        let password = attrs.iter().find(|a| a["name"] == "password").unwrap();
        assert_eq!(password["returned"], "never");
        assert_eq!(password["mutability"], "writeOnly");
        let user_name = attrs.iter().find(|a| a["name"] == "userName").unwrap();
        assert_eq!(user_name["uniqueness"], "server");
        assert_eq!(user_name["required"], true);
        let emails = attrs.iter().find(|a| a["name"] == "emails").unwrap();
        assert_eq!(emails["subAttributes"].as_array().unwrap().len(), 4);
        assert!(attrs.iter().all(|a| a["name"] != "id"), "common attributes are not in the schema document");
    }
}
