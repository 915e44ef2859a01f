//! Tests with a stand-in User schema (core + Enterprise User extension).

use super::*;
use serde_json::{json, Value};

const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const EXTENSIONS: [&str; 1] = [ENT];

struct UserRules;

fn info(attr_type: AttrType, multi_valued: bool, case_exact: bool) -> Option<AttrInfo> {
    Some(AttrInfo { attr_type, multi_valued, case_exact, mutability: Mutability::ReadWrite })
}

impl AttributeRules for UserRules {
    fn core_schema(&self) -> &str {
        CORE
    }

    fn extension_schemas(&self) -> &[&str] {
        &EXTENSIONS
    }

    fn attribute(&self, schema: Option<&str>, name: &str, sub: Option<&str>) -> Option<AttrInfo> {
        use AttrType::*;
        let ext = match schema {
            None => false,
            Some(s) if s.eq_ignore_ascii_case(CORE) => false,
            Some(s) if s.eq_ignore_ascii_case(ENT) => true,
            Some(_) => return None,
        };
        let name = name.to_ascii_lowercase();
        let sub = sub.map(str::to_ascii_lowercase);
        match (ext, name.as_str(), sub.as_deref()) {
            (false, "id", None) => info(String, false, true),
            (false, "externalid", None) => info(String, false, true),
            (false, "schemas", None) => info(Reference, true, true),
            (false, "username" | "displayname" | "title" | "usertype" | "nickname", None) => info(String, false, false),
            (false, "profileurl", None) => info(Reference, false, false),
            (false, "active", None) => info(Boolean, false, false),
            (false, "logincount", None) => info(Integer, false, false),
            (false, "score", None) => info(Decimal, false, false),
            (false, "name", None) => info(Complex, false, false),
            (false, "name", Some("givenname" | "familyname" | "formatted")) => info(String, false, false),
            (false, "emails" | "ims" | "phonenumbers", None) => info(Complex, true, false),
            (false, "emails" | "ims" | "phonenumbers", Some("value" | "type" | "display")) => {
                info(String, false, false)
            }
            (false, "emails" | "ims" | "phonenumbers", Some("primary")) => info(Boolean, false, false),
            (false, "groups" | "members", None) => info(Complex, true, false),
            (false, "groups" | "members", Some("value")) => info(String, false, true),
            (false, "groups" | "members", Some("display")) => info(String, false, false),
            (false, "groups" | "members", Some("$ref")) => info(Reference, false, true),
            (false, "meta", None) => info(Complex, false, false),
            (false, "meta", Some("lastmodified" | "created")) => info(DateTime, false, false),
            (false, "meta", Some("resourcetype" | "location" | "version")) => info(String, false, true),
            (true, "employeenumber" | "department" | "costcenter" | "organization", None) => info(String, false, false),
            (true, "manager", None) => info(Complex, false, false),
            (true, "manager", Some("value")) => info(String, false, true),
            (true, "manager", Some("$ref")) => info(Reference, false, true),
            (true, "manager", Some("displayname")) => info(String, false, false),
            _ => None,
        }
    }
}

fn user() -> Value {
    json!({
        "schemas": [CORE, ENT],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "bjensen-ext",
        "userName": "bjensen@example.com",
        "name": {
            "formatted": "Ms. Barbara J Jensen III",
            "familyName": "O'Malley",
            "givenName": "Barbara"
        },
        "displayName": "Babs Jensen",
        "title": "Tour Guide",
        "userType": "Employee",
        "nickName": "",
        "profileUrl": null,
        "active": true,
        "loginCount": 42,
        "score": 3.5,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "ims": [{"value": "babs@foo.com", "type": "xmpp"}],
        "groups": [{
            "value": "e9e30dba-f08f-4109-8486-d5c6a331660a",
            "display": "Tour Guides",
            "$ref": "https://example.com/v2/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a"
        }],
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z",
            "version": "W/\"a330bc54f0671c9\""
        },
        ENT: {
            "employeeNumber": "701984",
            "department": "Tour Operations",
            "manager": {
                "value": "26118915-6090-4610-87e4-49d8ca9f808d",
                "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d",
                "displayName": "John Smith"
            }
        }
    })
}

fn m(filter: &str) -> bool {
    parse_filter(filter).unwrap_or_else(|e| panic!("{filter:?} did not parse: {e}")).matches(&user(), &UserRules)
}

fn p(s: &str) -> AttrPath {
    parse_attr_path(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn present(s: &str) -> Filter {
    Filter::Present(p(s))
}

fn cmp(path: &str, op: CompareOp, value: Value) -> Filter {
    Filter::Compare { path: p(path), op, value }
}

fn and(l: Filter, r: Filter) -> Filter {
    Filter::And(Box::new(l), Box::new(r))
}

fn or(l: Filter, r: Filter) -> Filter {
    Filter::Or(Box::new(l), Box::new(r))
}

fn not(f: Filter) -> Filter {
    Filter::Not(Box::new(f))
}

fn err(filter: &str) -> FilterError {
    match parse_filter(filter) {
        Ok(f) => panic!("{filter:?} parsed as {f:?}"),
        Err(e) => e,
    }
}

fn err_msg(filter: &str) -> String {
    err(filter).to_string()
}

// ---------------------------------------------------------------------------------------------------------------------
// RFC 7644 §3.4.2.2 examples

const RFC_EXAMPLES: [&str; 17] = [
    r#"userName eq "bjensen""#,
    r#"name.familyName co "O'Malley""#,
    r#"userName sw "J""#,
    r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
    r#"title pr"#,
    r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
    r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
    r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
    r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
    r#"title pr and userType eq "Employee""#,
    r#"title pr or userType eq "Intern""#,
    r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
    r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
    r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
    r#"userType eq "Employee" and (emails.type eq "work")"#,
    r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
    r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
];

#[test]
fn rfc_examples_parse_and_evaluate() {
    let expected =
        [false, true, false, false, true, false, true, false, true, true, true, true, true, false, true, true, true];
    for (filter, want) in RFC_EXAMPLES.iter().zip(expected) {
        assert_eq!(m(filter), want, "{filter}");
    }
}

#[test]
fn rfc_examples_round_trip_through_display() {
    for filter in RFC_EXAMPLES {
        let parsed = parse_filter(filter).unwrap();
        let printed = parsed.to_string();
        assert_eq!(parse_filter(&printed).unwrap(), parsed, "{filter} -> {printed}");
    }
}

#[test]
fn rfc_example_structures() {
    assert_eq!(parse_filter(r#"userName eq "bjensen""#).unwrap(), cmp("userName", CompareOp::Eq, json!("bjensen")));
    assert_eq!(
        parse_filter(r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#)
            .unwrap(),
        and(
            cmp("userType", CompareOp::Ne, json!("Employee")),
            not(or(
                cmp("emails", CompareOp::Co, json!("example.com")),
                cmp("emails.value", CompareOp::Co, json!("example.org")),
            ))
        )
    );
    assert_eq!(
        parse_filter(
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#
        )
        .unwrap(),
        or(
            Filter::ValuePath {
                path: p("emails"),
                filter: Box::new(and(
                    cmp("type", CompareOp::Eq, json!("work")),
                    cmp("value", CompareOp::Co, json!("@example.com")),
                )),
            },
            Filter::ValuePath {
                path: p("ims"),
                filter: Box::new(and(
                    cmp("type", CompareOp::Eq, json!("xmpp")),
                    cmp("value", CompareOp::Co, json!("@foo.com")),
                )),
            },
        )
    );
    assert_eq!(parse_filter("title pr").unwrap(), present("title"));
}

// ---------------------------------------------------------------------------------------------------------------------
// Grammar

#[test]
fn every_operator_parses_case_insensitively() {
    for (word, op) in [
        ("eq", CompareOp::Eq),
        ("NE", CompareOp::Ne),
        ("Co", CompareOp::Co),
        ("sW", CompareOp::Sw),
        ("ew", CompareOp::Ew),
        ("GT", CompareOp::Gt),
        ("ge", CompareOp::Ge),
        ("Lt", CompareOp::Lt),
        ("le", CompareOp::Le),
    ] {
        assert_eq!(parse_filter(&format!(r#"title {word} "x""#)).unwrap(), cmp("title", op, json!("x")), "{word}");
    }
    assert_eq!(parse_filter("title PR").unwrap(), present("title"));
}

#[test]
fn logical_words_are_case_insensitive() {
    assert_eq!(
        parse_filter("title pr AND userName Pr OR NOT (active pr)").unwrap(),
        or(and(present("title"), present("userName")), not(present("active")))
    );
}

#[test]
fn precedence_not_over_and_over_or() {
    assert_eq!(parse_filter("a pr or b pr and c pr").unwrap(), or(present("a"), and(present("b"), present("c"))));
    assert_eq!(parse_filter("a pr and b pr or c pr").unwrap(), or(and(present("a"), present("b")), present("c")));
    assert_eq!(parse_filter("not (a pr) and b pr").unwrap(), and(not(present("a")), present("b")));
    assert_eq!(parse_filter("a pr or b pr or c pr").unwrap(), or(or(present("a"), present("b")), present("c")));
    assert_eq!(parse_filter("a pr and b pr and c pr").unwrap(), and(and(present("a"), present("b")), present("c")));
}

#[test]
fn parentheses_group() {
    assert_eq!(parse_filter("(a pr or b pr) and c pr").unwrap(), and(or(present("a"), present("b")), present("c")));
    assert_eq!(parse_filter("((a pr))").unwrap(), present("a"), "redundant parentheses vanish");
    assert_eq!(parse_filter("  a pr   and(b pr)  ").unwrap(), and(present("a"), present("b")));
}

#[test]
fn not_accepts_any_whitespace_before_parenthesis() {
    for f in ["not(title pr)", "not (title pr)", "not   (title pr)", "not\t(title pr)", "NOT\n( title pr )"] {
        assert_eq!(parse_filter(f).unwrap(), not(present("title")), "{f:?}");
    }
}

#[test]
fn attribute_named_like_a_keyword() {
    assert_eq!(parse_filter("not pr").unwrap(), present("not"));
    assert_eq!(parse_filter(r#"and eq "x""#).unwrap(), cmp("and", CompareOp::Eq, json!("x")));
}

#[test]
fn comp_values() {
    let v = |f: &str| match parse_filter(f).unwrap() {
        Filter::Compare { value, .. } => value,
        other => panic!("{other:?}"),
    };
    assert_eq!(v("a eq true"), json!(true));
    assert_eq!(v("a eq TRUE"), json!(true));
    assert_eq!(v("a eq false"), json!(false));
    assert_eq!(v("a eq null"), Value::Null);
    assert_eq!(v("a eq Null"), Value::Null);
    assert_eq!(v("a eq 42"), json!(42));
    assert_eq!(v("a eq -7"), json!(-7));
    assert_eq!(v("a eq 0"), json!(0));
    assert_eq!(v("a eq 1.5"), json!(1.5));
    assert_eq!(v("a eq -0.25"), json!(-0.25));
    assert_eq!(v("a eq 1e3"), json!(1000.0));
    assert_eq!(v("a eq 2.5E-3"), json!(0.0025));
    assert_eq!(v("a eq 1E+2"), json!(100.0));
    assert_eq!(v(r#"a eq """#), json!(""));
    assert_eq!(v(r#"a eq "say \"hi\"""#), json!("say \"hi\""));
    assert_eq!(v(r#"a eq "back\\slash""#), json!("back\\slash"));
    assert_eq!(v(r#"a eq "caf\u00e9""#), json!("café"));
    assert_eq!(v(r#"a eq "\ud83d\ude00""#), json!("😀"));
    assert_eq!(v(r#"a eq "tab\tnl\n\/""#), json!("tab\tnl\n/"));
    assert_eq!(v(r#"a eq "café ünïcode""#), json!("café ünïcode"));
    assert_eq!(v(r#"a eq "x] and (b pr) or [c""#), json!("x] and (b pr) or [c"));
}

#[test]
fn strings_containing_keywords_and_brackets() {
    assert_eq!(
        parse_filter(r#"displayName eq "Sales and Marketing (EMEA) [or not]" and title pr"#).unwrap(),
        and(cmp("displayName", CompareOp::Eq, json!("Sales and Marketing (EMEA) [or not]")), present("title"))
    );
}

#[test]
fn urn_qualified_paths() {
    assert_eq!(
        p("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"),
        AttrPath { schema: Some(ENT.into()), name: "manager".into(), sub: Some("value".into()) }
    );
    assert_eq!(
        p("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"),
        AttrPath { schema: Some(ENT.into()), name: "employeeNumber".into(), sub: None }
    );
    assert_eq!(
        p("urn:ietf:params:scim:schemas:core:2.0:User:userName"),
        AttrPath { schema: Some(CORE.into()), name: "userName".into(), sub: None }
    );
    assert_eq!(
        p("meta.lastModified"),
        AttrPath { schema: None, name: "meta".into(), sub: Some("lastModified".into()) }
    );
    assert_eq!(p("manager.$ref"), AttrPath { schema: None, name: "manager".into(), sub: Some("$ref".into()) });
    assert_eq!(
        parse_filter(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915""#)
            .unwrap(),
        Filter::Compare {
            path: AttrPath { schema: Some(ENT.into()), name: "manager".into(), sub: Some("value".into()) },
            op: CompareOp::Eq,
            value: json!("26118915")
        }
    );
}

#[test]
fn okta_and_entra_forms() {
    for (f, path, value) in [
        (r#"userName eq "john@x.com""#, "userName", "john@x.com"),
        (r#"externalId eq "a1""#, "externalId", "a1"),
        (r#"emails.value eq "a@b""#, "emails.value", "a@b"),
        (r#"displayName eq "Team A""#, "displayName", "Team A"),
        (r#"id eq "2819c223""#, "id", "2819c223"),
    ] {
        let parsed = parse_filter(f).unwrap();
        let (got_path, got_value) = parsed.as_string_equality().unwrap();
        assert_eq!(got_path, &p(path), "{f}");
        assert_eq!(got_value, value, "{f}");
    }
    assert_eq!(
        parse_filter(r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#).unwrap(),
        Filter::ValuePath {
            path: p("members"),
            filter: Box::new(cmp("value", CompareOp::Eq, json!("2819c223-7f76-453a-919d-413861904646")))
        }
    );
}

// ---------------------------------------------------------------------------------------------------------------------
// Errors

#[test]
fn empty_filter() {
    assert_eq!(err(""), FilterError::Empty { what: "filter" });
    assert_eq!(err("  \t "), FilterError::Empty { what: "filter" });
    assert_eq!(err_msg(""), "the filter is empty");
}

#[test]
fn unknown_operator() {
    let e = err(r#"userName foo "x""#);
    assert_eq!(e, FilterError::UnknownOperator { op: "foo".into(), attr: "userName".into(), position: 9 });
    assert_eq!(
        e.to_string(),
        "unknown comparison operator 'foo' after 'userName' at position 9; expected one of eq, ne, co, sw, ew, gt, ge, lt, le or pr"
    );
    assert_eq!(e.position(), Some(9));
}

#[test]
fn missing_operator() {
    assert_eq!(
        err_msg("userName"),
        "expected a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr) after 'userName' at position 8, found the end of the input"
    );
    assert_eq!(
        err_msg(r#"userName = "x""#),
        "expected a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr) after 'userName' at position 9, found '='"
    );
    assert_eq!(
        err(r#"userName "x""#),
        FilterError::ExpectedOperator { attr: "userName".into(), found: "the string \"x\"".into(), position: 9 }
    );
}

#[test]
fn missing_value() {
    assert_eq!(
        err_msg("userName eq"),
        "expected a comparison value (a double-quoted string, a number, true, false or null) after 'eq' at position 11, found the end of the input"
    );
    assert_eq!(
        err_msg("userName eq bjensen"),
        "expected a comparison value (a double-quoted string, a number, true, false or null) after 'eq' at position 12, found 'bjensen' (strings must be enclosed in double quotes)"
    );
    assert_eq!(err("userName eq )").position(), Some(12), "a value is expected before ')'");
    assert!(matches!(err("title pr eq \"x\""), FilterError::Expected { position: 9, .. }));
}

#[test]
fn unterminated_string() {
    assert_eq!(err(r#"userName eq "abc"#), FilterError::UnterminatedString { position: 12 });
    assert_eq!(
        err_msg(r#"userName eq "ab\"c"#),
        "unterminated string starting at position 12: a closing '\"' is missing"
    );
    assert_eq!(err(r#"userName eq "ends with backslash\"#), FilterError::UnterminatedString { position: 12 });
}

#[test]
fn bad_escapes_and_numbers() {
    assert_eq!(
        err_msg(r#"a eq "x\qy""#),
        "invalid string at position 7: '\\q' is not a valid escape; use \\\", \\\\, \\/, \\b, \\f, \\n, \\r, \\t or \\uXXXX"
    );
    assert!(matches!(err(r#"a eq "\u12g4""#), FilterError::InvalidString { position: 6, .. }));
    assert!(matches!(err(r#"a eq "\ud83d""#), FilterError::InvalidString { position: 6, .. }));
    for (f, text) in [
        ("a eq 12abc", "12abc"),
        ("a eq 01", "01"),
        ("a eq -", "-"),
        ("a eq 1.", "1."),
        ("a eq 1.2.3", "1.2.3"),
        ("a eq 1e", "1e"),
        ("a eq -x", "-x"),
    ] {
        assert_eq!(err(f), FilterError::InvalidNumber { text: text.into(), position: 5 }, "{f}");
    }
    assert_eq!(err_msg("a eq 12abc"), "invalid number '12abc' at position 5");
}

#[test]
fn dangling_logical_operator() {
    assert_eq!(
        err_msg(r#"userName eq "x" and"#),
        "expected an attribute expression (such as 'userName eq \"x\"'), 'not (' or '(' at position 19, found the end of the input"
    );
    assert_eq!(
        err(r#"userName eq "x" and or title pr"#),
        FilterError::Expected {
            expected: "an attribute expression (such as 'userName eq \"x\"'), 'not (' or '('".into(),
            found: "'or'".into(),
            position: 20
        }
    );
    assert!(matches!(err("or title pr"), FilterError::Expected { position: 0, .. }));
}

#[test]
fn unbalanced_parentheses() {
    assert_eq!(
        err(r#"(userName eq "x""#),
        FilterError::UnclosedParen { position: 0, end: 16, found: "the end of the input".into() }
    );
    assert_eq!(
        err_msg(r#"(userName eq "x""#),
        "the '(' at position 0 is never closed: expected ')' at position 16, found the end of the input"
    );
    assert_eq!(err(r#"userName eq "x")"#), FilterError::UnmatchedParen { position: 15 });
    assert_eq!(err_msg(r#"userName eq "x")"#), "unmatched ')' at position 15");
    assert_eq!(err(")"), FilterError::UnmatchedParen { position: 0 });
    assert!(matches!(err("not (title pr"), FilterError::UnclosedParen { position: 4, .. }));
    assert!(matches!(err("((title pr)"), FilterError::UnclosedParen { position: 0, .. }));
    assert!(matches!(err("()"), FilterError::Expected { position: 1, .. }));
    assert_eq!(err("(title pr]"), FilterError::UnmatchedBracket { position: 9 });
}

#[test]
fn unbalanced_brackets() {
    assert_eq!(
        err(r#"emails[type eq "work""#),
        FilterError::UnclosedBracket { position: 6, end: 21, found: "the end of the input".into() }
    );
    assert_eq!(err(r#"userName eq "x"]"#), FilterError::UnmatchedBracket { position: 15 });
    assert_eq!(err_msg(r#"userName eq "x"]"#), "unmatched ']' at position 15");
    assert!(matches!(err(r#"emails[type eq "work")"#), FilterError::UnmatchedParen { position: 21 }));
    assert!(matches!(err("emails[]"), FilterError::Expected { position: 7, .. }));
}

// Entra's query attribute `emails[type eq "work"].value`: a value filter followed by a sub-attribute.

/// The filter with `emails[type eq "work"].value <cond>` written the RFC 7644 way, `emails[type eq "work" and value <cond>]`.
fn entra_and_rfc(template: &str, cond: &str) -> (Filter, Filter) {
    let entra = template.replace("{}", &format!(r#"emails[type eq "work"].value {cond}"#));
    let rfc = template.replace("{}", &format!(r#"emails[type eq "work" and value {cond}]"#));
    let parsed = |f: &str| parse_filter(f).unwrap_or_else(|e| panic!("{f:?} did not parse: {e}"));
    (parsed(&entra), parsed(&rfc))
}

#[test]
fn value_path_followed_by_sub_attribute_means_the_condition_joins_the_value_filter() {
    let conditions = [
        r#"eq "x""#,
        r#"ne "x""#,
        r#"co "x""#,
        r#"sw "x""#,
        r#"ew "x""#,
        r#"gt "x""#,
        r#"ge "x""#,
        r#"lt "x""#,
        r#"le "x""#,
        "pr",
    ];
    let templates = [
        "{}",
        "({})",
        r#"userName pr and {}"#,
        r#"{} and userName pr"#,
        r#"title eq "nope" or {}"#,
        r#"{} or title eq "nope""#,
        "not ({})",
        r#"not ({}) and (userName pr or {})"#,
    ];
    for template in templates {
        for cond in conditions {
            let (entra, rfc) = entra_and_rfc(template, cond);
            assert_eq!(entra, rfc, "{template} with {cond}");
        }
    }
    assert_eq!(
        parse_filter(r#"emails[type eq "work"].value eq "x""#).unwrap(),
        Filter::ValuePath {
            path: p("emails"),
            filter: Box::new(and(cmp("type", CompareOp::Eq, json!("work")), cmp("value", CompareOp::Eq, json!("x")))),
        }
    );
    // The value filter keeps its own grouping: `a or b` inside the brackets is one operand of the `and`.
    assert_eq!(
        parse_filter(r#"emails[type eq "work" or type eq "home"].VALUE PR"#).unwrap(),
        Filter::ValuePath {
            path: p("emails"),
            filter: Box::new(and(
                or(cmp("type", CompareOp::Eq, json!("work")), cmp("type", CompareOp::Eq, json!("home"))),
                present("VALUE")
            )),
        }
    );
    let f = parse_filter(r#"urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"].value sw "bj""#).unwrap();
    assert!(matches!(&f, Filter::ValuePath { path, .. } if path.is(&UserRules, "emails", None)));
    assert!(f.matches(&user(), &UserRules));
}

#[test]
fn value_path_followed_by_sub_attribute_matches_only_the_selected_elements() {
    // The user's work email is bjensen@example.com, the home one babs@jensen.org.
    assert!(m(r#"emails[type eq "work"].value eq "bjensen@example.com""#));
    assert!(m(r#"emails[type eq "work"].value eq "BJENSEN@example.com""#), "emails.value is case-insensitive");
    assert!(!m(r#"emails[type eq "work"].value eq "babs@jensen.org""#), "the home email is not a work email");
    assert!(m(r#"emails[type eq "home"].value eq "babs@jensen.org""#));
    assert!(m(r#"emails[type eq "work"].value ne "babs@jensen.org""#));
    assert!(!m(r#"emails[type eq "work"].value ne "bjensen@example.com""#));
    assert!(m(r#"emails[type eq "work"].value co "@example""#));
    assert!(!m(r#"emails[type eq "work"].value co "jensen.org""#));
    assert!(m(r#"emails[type eq "work"].value sw "bjensen""#));
    assert!(m(r#"emails[type eq "home"].value ew ".org""#));
    assert!(m(r#"emails[type eq "work"].value gt "a""#));
    assert!(m(r#"emails[type eq "work"].value ge "bjensen@example.com""#));
    assert!(!m(r#"emails[type eq "work"].value lt "a""#));
    assert!(m(r#"emails[type eq "work"].value le "bjensen@example.com""#));
    assert!(m(r#"emails[type eq "work"].primary eq true"#));
    assert!(!m(r#"emails[type eq "home"].primary eq true"#));
    assert!(m(r#"emails[type eq "work"].value pr"#));
    assert!(!m(r#"emails[type eq "other"].value pr"#));
    assert!(!m(r#"ims[type eq "work"].value pr"#));
    assert!(!m(r#"addresses[type eq "work"].streetAddress pr"#));
    assert!(m(r#"not (emails[type eq "work"].value eq "babs@jensen.org")"#));
    assert!(m(r#"userName eq "nope" or emails[type eq "work"].value eq "bjensen@example.com""#));
    assert!(!m(r#"userName eq "nope" and emails[type eq "work"].value eq "bjensen@example.com""#));
}

#[test]
fn value_path_followed_by_sub_attribute_errors() {
    assert_eq!(
        err(r#"emails[type eq "work"].value"#),
        FilterError::ExpectedOperator {
            attr: r#"emails[type eq "work"].value"#.into(),
            found: "the end of the input".into(),
            position: 28
        }
    );
    assert_eq!(
        err(r#"emails[type eq "work"].value = "x""#),
        FilterError::ExpectedOperator {
            attr: r#"emails[type eq "work"].value"#.into(),
            found: "'='".into(),
            position: 29
        }
    );
    assert!(matches!(
        err(r#"emails[type eq "work"].value like "x""#),
        FilterError::UnknownOperator { ref op, position: 29, .. } if op == "like"
    ));
    assert!(matches!(err(r#"emails[type eq "work"].value eq"#), FilterError::ExpectedValue { position: 31, .. }));
    assert!(matches!(err(r#"emails[type eq "work"]."#), FilterError::Expected { position: 23, .. }));
    assert!(matches!(err(r#"emails[type eq "work"]..value pr"#), FilterError::Expected { position: 23, .. }));
    assert!(matches!(
        err(r#"emails[type eq "work"].value.display pr"#),
        FilterError::InvalidAttrPath { position: 23, .. }
    ));
    assert!(matches!(
        err(r#"emails[type eq "work"].value[type eq "x"]"#),
        FilterError::ExpectedOperator { position: 28, .. }
    ));
    assert!(matches!(
        err(r#"emails[type eq "work" and x[y pr].z pr]"#),
        FilterError::NestedValueFilter { position: 27, outer: 6 }
    ));
}

#[test]
fn value_path_followed_by_sub_attribute_names_its_key_equality() {
    let f = parse_filter(r#"emails[type eq "work"].value eq "a@b""#).unwrap();
    assert_eq!(f.as_string_equality(), None);
    assert_eq!(f.required_string_equalities(), vec![(p("emails.type"), "work"), (p("emails.value"), "a@b")]);
    let f = parse_filter(r#"userName pr and emails[type eq "work"].value eq "a@b""#).unwrap();
    assert_eq!(f.required_string_equalities(), vec![(p("emails.type"), "work"), (p("emails.value"), "a@b")]);
    for no_key in [
        r#"emails[type eq "work"].value co "a@b""#,
        r#"emails[type eq "work"].value ne "a@b""#,
        r#"emails[type eq "work"].value pr"#,
        r#"not (emails[type eq "work"].value eq "a@b")"#,
        r#"userName pr or emails[value eq "a@b"]"#,
    ] {
        let f = parse_filter(no_key).unwrap();
        assert!(
            f.required_string_equalities().iter().all(|(path, _)| path != &p("emails.value")),
            "{no_key}: {:?}",
            f.required_string_equalities()
        );
    }
}

#[test]
fn nested_value_filters_are_rejected() {
    let e = err(r#"emails[type eq "work" and addresses[type eq "x"]]"#);
    assert_eq!(e, FilterError::NestedValueFilter { position: 35, outer: 6 });
    assert_eq!(
        e.to_string(),
        "nested value filter at position 35: a '[' cannot appear inside the value filter opened at position 6"
    );
    assert!(matches!(err(r#"emails[(type eq "work" or x[y pr])]"#), FilterError::NestedValueFilter { outer: 6, .. }));
}

#[test]
fn value_filter_on_sub_attribute_is_rejected() {
    assert_eq!(
        err(r#"name.givenName[value eq "x"]"#),
        FilterError::InvalidAttrPath {
            text: "name.givenName".into(),
            position: 0,
            reason: "a value filter '[…]' applies to an attribute, not to a sub-attribute".into()
        }
    );
}

#[test]
fn trailing_garbage() {
    assert_eq!(
        err(r#"userName eq "x" garbage"#),
        FilterError::Expected {
            expected: "'and', 'or' or the end of the filter".into(),
            found: "'garbage'".into(),
            position: 16
        }
    );
    assert_eq!(
        err_msg(r#"userName eq "x" "y""#),
        "expected 'and', 'or' or the end of the filter at position 16, found the string \"y\""
    );
    assert!(matches!(err(r#"emails[type eq "work"] eq "x""#), FilterError::Expected { position: 23, .. }));
    assert!(matches!(err(r#"title pr !"#), FilterError::Expected { position: 9, .. }));
    assert!(matches!(err(r#"(title pr) (x pr)"#), FilterError::Expected { position: 11, .. }));
}

#[test]
fn not_requires_parentheses() {
    assert_eq!(err("not title pr"), FilterError::ExpectedParenAfterNot { found: "'title'".into(), position: 4 });
    assert_eq!(err_msg("not"), "expected '(' after 'not' at position 3, found the end of the input");
    assert_eq!(err_msg("title pr and not"), "expected '(' after 'not' at position 16, found the end of the input");
    assert_eq!(err_msg(r#"not userName eq "x""#), "expected '(' after 'not' at position 4, found 'userName'");
}

#[test]
fn invalid_attribute_paths() {
    assert_eq!(
        err("a.b.c pr"),
        FilterError::InvalidAttrPath {
            text: "a.b.c".into(),
            position: 0,
            reason: "'a.b.c' has more than one sub-attribute; SCIM paths are at most 'attribute.subAttribute'".into()
        }
    );
    assert_eq!(
        err_msg("title pr and name. pr"),
        "invalid attribute path 'name.' at position 13: an attribute name is empty"
    );
    assert_eq!(
        err_msg("urn:foo: pr"),
        "invalid attribute path 'urn:foo:' at position 0: an attribute name is missing after the schema URN"
    );
    assert!(matches!(err("urn::x pr"), FilterError::InvalidAttrPath { position: 0, .. }));
    assert!(matches!(err("a.1b pr"), FilterError::InvalidAttrPath { position: 0, .. }));
    assert!(matches!(err("_x pr"), FilterError::Expected { position: 0, .. }));
    assert!(matches!(err(r#""userName" eq "x""#), FilterError::Expected { position: 0, .. }));
}

#[test]
fn error_positions_are_byte_offsets() {
    // 'é' is two bytes, so the word after it starts at byte 14.
    assert_eq!(err(r#"title eq "é" foo"#).position(), Some(14));
    assert_eq!(err("title pr é").position(), Some(9));
}

// ---------------------------------------------------------------------------------------------------------------------
// Limits and hostile input

#[test]
fn input_length_limit() {
    let long = format!(r#"userName eq "{}""#, "x".repeat(10_000));
    assert_eq!(err(&long), FilterError::TooLong { what: "filter", len: long.len(), max: MAX_INPUT_LEN });
    assert_eq!(err_msg(&long), format!("the filter is {} bytes long, but at most 4096 bytes are allowed", long.len()));
    // Exactly at the limit is fine.
    let mut f = String::from("title pr");
    while f.len() + " or title pr".len() <= MAX_INPUT_LEN {
        f.push_str(" or title pr");
    }
    let pad = MAX_INPUT_LEN - f.len();
    f.push_str(&" ".repeat(pad));
    assert_eq!(f.len(), MAX_INPUT_LEN);
    let parsed = parse_filter(&f).unwrap();
    assert!(parsed.matches(&user(), &UserRules));
    assert!(matches!(parse_path(&"a".repeat(5000)), Err(FilterError::TooLong { what: "PATCH path", .. })));
    assert!(matches!(parse_attr_path(&"a".repeat(5000)), Err(FilterError::TooLong { .. })));
}

#[test]
fn long_chains_evaluate_without_trouble() {
    let f = vec![r#"userName eq "nobody""#; 150].join(" or ");
    let parsed = parse_filter(&f).unwrap();
    assert!(!parsed.matches(&user(), &UserRules));
    let f = vec!["title pr"; 300].join(" and ");
    assert!(parse_filter(&f).unwrap().matches(&user(), &UserRules));
}

#[test]
fn nesting_limit() {
    let nested = |n: usize| format!("{}title pr{}", "(".repeat(n), ")".repeat(n));
    assert_eq!(parse_filter(&nested(MAX_DEPTH)).unwrap(), present("title"));
    assert_eq!(err(&nested(MAX_DEPTH + 1)), FilterError::TooDeep { max: 64, position: 64 });
    assert_eq!(err_msg(&nested(65)), "the filter is nested more than 64 levels deep at position 64");
    let nots = |n: usize| format!("{}title pr{}", "not (".repeat(n), ")".repeat(n));
    assert!(parse_filter(&nots(32)).is_ok());
    assert!(matches!(err(&nots(100)), FilterError::TooDeep { max: 64, .. }));
    assert!(matches!(err(&"(".repeat(MAX_INPUT_LEN)), FilterError::TooDeep { .. }));
    assert!(matches!(err(&"not(".repeat(MAX_INPUT_LEN / 4)), FilterError::TooDeep { .. }));
    assert!(matches!(err(&"a[".repeat(MAX_INPUT_LEN / 2)), FilterError::NestedValueFilter { .. }));
}

#[test]
fn hostile_inputs_never_panic() {
    let mut inputs: Vec<String> = RFC_EXAMPLES.iter().map(|s| s.to_string()).collect();
    inputs.push(r#"a eq "\ud83d\ude00 é ü" and b[c eq -1.5e3] or not (d pr)"#.into());
    inputs.push("\u{0}\u{1}\u{7f}\u{feff}\"\\u".into());
    inputs.push("]]]]))))[[[[((((".into());
    inputs.push("\"\"\"\"\"\"\"".into());
    inputs.push("a eq 1e999999".into());
    inputs.push("a eq 123456789012345678901234567890".into());
    for input in &inputs {
        // Every prefix and suffix at a char boundary.
        for (i, _) in input.char_indices() {
            let _ = parse_filter(&input[..i]);
            let _ = parse_filter(&input[i..]);
            let _ = parse_path(&input[..i]);
            let _ = parse_attr_path(&input[i..]);
        }
    }
    let garbage: String = (0u32..2000).filter_map(|i| char::from_u32((i * 7919) % 0x3000)).collect();
    let garbage: String = garbage.chars().take(1000).collect();
    assert!(parse_filter(&garbage).is_err());
    assert!(parse_path(&garbage).is_err());
    assert!(matches!(err("a eq 1e999999"), FilterError::InvalidNumber { position: 5, .. }));
    assert_eq!(parse_filter("a eq 123456789012345678901234567890").unwrap().to_string(), "a eq 1.2345678901234568e+29");
}

// ---------------------------------------------------------------------------------------------------------------------
// Matching: strings

#[test]
fn string_equality_and_case_rules() {
    assert!(m(r#"userName eq "bjensen@example.com""#));
    assert!(m(r#"userName eq "BJensen@Example.COM""#), "userName is not caseExact");
    assert!(m(r#"USERNAME eq "bjensen@example.com""#), "names resolve case-insensitively");
    assert!(m(r#"id eq "2819c223-7f76-453a-919d-413861904646""#));
    assert!(!m(r#"id eq "2819C223-7F76-453A-919D-413861904646""#), "id is caseExact");
    assert!(m(r#"externalId eq "bjensen-ext""#));
    assert!(!m(r#"externalId eq "BJENSEN-EXT""#), "externalId is caseExact");
    assert!(!m(r#"userName eq "bjensen""#));
}

#[test]
fn string_operators() {
    assert!(m(r#"userName ne "someone""#));
    assert!(!m(r#"userName ne "BJENSEN@example.com""#));
    assert!(m(r#"userName co "JENSEN""#));
    assert!(!m(r#"userName co "smith""#));
    assert!(m(r#"userName sw "BJ""#));
    assert!(!m(r#"userName sw "jensen""#));
    assert!(m(r#"userName ew "@EXAMPLE.com""#));
    assert!(!m(r#"userName ew "bjensen""#));
    assert!(m(r#"userName gt "a""#));
    assert!(m(r#"userName gt "B""#), "case-insensitive ordering");
    assert!(!m(r#"userName gt "c""#));
    assert!(m(r#"userName ge "bjensen@example.com""#));
    assert!(m(r#"userName le "BJENSEN@EXAMPLE.COM""#));
    assert!(m(r#"userName lt "c""#));
    assert!(!m(r#"userName lt "bjensen""#));
    assert!(m(r#"externalId co "jensen""#));
    assert!(!m(r#"externalId co "JENSEN""#), "caseExact co");
    assert!(!m(r#"externalId sw "BJ""#));
    assert!(!m(r#"externalId lt "a""#));
    assert!(m(r#"externalId gt "B""#), "'b' > 'B' in case-exact ordering");
    assert!(m(r#"title co """#));
    assert!(m(r#"name.familyName co "O'Malley""#));
    assert!(m(r#"name.givenName eq "barbara""#));
}

#[test]
fn strings_compared_with_other_types_do_not_match() {
    assert!(!m("userName eq 5"));
    assert!(!m("userName eq true"));
    assert!(!m("userName gt 1"));
    assert!(!m("userName co 5"));
    // `ne` is "no value equals", so a type mismatch counts as not equal.
    assert!(m("userName ne 5"));
}

// Matching: numbers, dates, booleans

#[test]
fn integer_and_decimal_comparisons() {
    assert!(m("loginCount eq 42"));
    assert!(m("loginCount eq 42.0"));
    assert!(!m("loginCount eq 41"));
    assert!(m("loginCount ne 41"));
    assert!(!m("loginCount ne 42"));
    assert!(m("loginCount gt 41"));
    assert!(!m("loginCount gt 42"));
    assert!(m("loginCount ge 42"));
    assert!(!m("loginCount ge 43"));
    assert!(m("loginCount lt 43"));
    assert!(!m("loginCount lt 42"));
    assert!(m("loginCount le 42"));
    assert!(!m("loginCount le 41"));
    assert!(m("loginCount gt -1"));
    assert!(m("loginCount lt 1e3"));
    assert!(!m(r#"loginCount eq "42""#), "numbers do not equal strings");
    assert!(!m("loginCount co 4"), "co is meaningless on numbers");
    assert!(!m("loginCount sw 4"));
    assert!(!m("loginCount ew 2"));
    assert!(m("score eq 3.5"));
    assert!(m("score gt 3"));
    assert!(m("score lt 3.50001"));
    assert!(!m("score lt 3.5"));
    assert!(m("score ge 35e-1"));
    assert!(m("score le 3.5"));
}

#[test]
fn datetime_comparisons_are_chronological() {
    assert!(m(r#"meta.lastModified eq "2011-05-13T04:42:34Z""#));
    assert!(m(r#"meta.lastModified eq "2011-05-13T06:42:34+02:00""#));
    assert!(m(r#"meta.lastModified eq "2011-05-13T04:42:34.000Z""#));
    assert!(!m(r#"meta.lastModified ne "2011-05-13T06:42:34+02:00""#));
    assert!(m(r#"meta.lastModified gt "2011-05-13T04:42:33Z""#));
    assert!(!m(r#"meta.lastModified gt "2011-05-13T04:42:34Z""#));
    assert!(!m(r#"meta.lastModified gt "2011-05-13T04:42:34.001Z""#));
    assert!(m(r#"meta.lastModified ge "2011-05-13T04:42:34Z""#));
    assert!(m(r#"meta.lastModified lt "2012-01-01T00:00:00Z""#));
    assert!(!m(r#"meta.lastModified lt "2011-05-13T04:42:34Z""#));
    assert!(m(r#"meta.lastModified le "2011-05-13T04:42:34Z""#));
    // Lexicographically "2011-05-13T05:..." > "2011-05-13T04:42:34Z", chronologically it is earlier.
    assert!(m(r#"meta.lastModified gt "2011-05-13T05:00:00+02:00""#));
    assert!(!m(r#"meta.lastModified lt "2011-05-13T05:00:00+02:00""#));
    assert!(!m(r#"meta.lastModified gt "yesterday""#), "unparsable dates never order");
    assert!(!m(r#"meta.lastModified eq "yesterday""#));
    assert!(m(r#"meta.lastModified sw "2011-05""#));
    assert!(!m("meta.lastModified gt 5"));
    assert!(m(r#"meta.created lt "2011-05-13T04:42:34Z""#));
}

#[test]
fn boolean_comparisons() {
    assert!(m("active eq true"));
    assert!(m("active eq TRUE"));
    assert!(!m("active eq false"));
    assert!(m("active ne false"));
    assert!(!m("active ne true"));
    assert!(!m("active gt false"), "ordering is meaningless on booleans");
    assert!(!m("active ge true"));
    assert!(!m("active lt true"));
    assert!(!m("active le true"));
    assert!(!m("active co true"));
    assert!(!m(r#"active eq "true""#));
    assert!(!m("active eq 1"));
}

#[test]
fn presence_and_null() {
    assert!(m("title pr"));
    assert!(!m("nickName pr"), "empty string is not present");
    assert!(!m("profileUrl pr"), "null is not present");
    assert!(!m("x509Certificates pr"), "absent is not present");
    assert!(m("emails pr"));
    assert!(m("emails.primary pr"));
    assert!(m("active pr"));
    assert!(m("name pr"));
    assert!(m("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager pr"));
    assert!(m("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.$ref pr"));
    assert!(!m("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter pr"));
    assert!(m("profileUrl eq null"));
    assert!(m("x509Certificates eq null"));
    assert!(!m("title eq null"));
    assert!(m("title ne null"));
    assert!(!m("title gt null"));
    let empty = json!({"emails": [], "name": {}, "title": "", "groups": [{}]});
    for f in ["emails pr", "name pr", "title pr", "groups pr", "groups.value pr"] {
        assert!(!parse_filter(f).unwrap().matches(&empty, &UserRules), "{f}");
    }
}

#[test]
fn multi_valued_any_semantics() {
    assert!(m(r#"emails.type eq "home""#));
    assert!(m(r#"emails.type eq "WORK""#));
    assert!(!m(r#"emails.type eq "other""#));
    assert!(m(r#"emails.value ew "jensen.org""#));
    assert!(m(r#"emails co "example.com""#), "complex attribute compares its value");
    assert!(m(r#"emails eq "babs@jensen.org""#));
    assert!(!m(r#"emails eq "work""#));
    assert!(m("emails.primary eq true"));
    assert!(!m(r#"emails.type ne "work""#), "ne: some email is work");
    assert!(m(r#"emails.type ne "other""#));
    assert!(m(r#"groups.display eq "tour guides""#));
    assert!(m(r#"groups.value sw "e9e30dba""#));
    assert!(!m(r#"groups.value sw "E9E30DBA""#), "group value is caseExact");
    assert!(m(r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#));
}

#[test]
fn absent_attributes() {
    assert!(!m(r#"nope eq "x""#));
    assert!(m(r#"nope ne "x""#), "absent counts as not equal");
    assert!(!m(r#"nope co "x""#));
    assert!(!m(r#"name.middleName eq "x""#));
    assert!(!m(r#"urn:example:unknown:Thing:attr eq "x""#));
}

#[test]
fn unknown_attributes_infer_type_from_the_document() {
    let doc = json!({"custom": "Hello", "count": 7, "flag": false, "list": ["A", "b"], "objs": [{"value": "v1"}]});
    let t = |f: &str| parse_filter(f).unwrap().matches(&doc, &UserRules);
    assert!(t(r#"custom eq "HELLO""#), "unknown strings compare case-insensitively");
    assert!(t("count gt 6"));
    assert!(t("flag eq false"));
    assert!(t(r#"list eq "a""#));
    assert!(t(r#"objs eq "V1""#));
    assert!(!t(r#"count eq "7""#));
}

#[test]
fn logical_operators_evaluate() {
    assert!(m(r#"title pr and userType eq "Employee""#));
    assert!(!m(r#"title pr and userType eq "Intern""#));
    assert!(m(r#"title pr or userType eq "Intern""#));
    assert!(!m(r#"nickName pr or userType eq "Intern""#));
    assert!(!m("not (title pr)"));
    assert!(m("not (nickName pr)"));
    assert!(m("not (not (title pr))"));
    // or binds weaker than and: true or (false and false) = true, (true or false) and false = false.
    assert!(m(r#"title pr or userName eq "nobody" and active eq false"#));
    assert!(!m(r#"(title pr or userName eq "nobody") and active eq false"#));
    // and binds weaker than not.
    assert!(!m("not (title pr) and active pr"));
}

#[test]
fn value_paths_match_per_element() {
    assert!(m(r#"emails[type eq "work" and value co "@example.com"]"#));
    assert!(m(r#"emails[TYPE eq "Work"]"#));
    assert!(!m(r#"emails[type eq "home" and primary eq true]"#), "conditions hold on one element");
    assert!(m(r#"emails[type eq "home" or primary eq true]"#));
    assert!(m(r#"emails[not (type eq "work")]"#));
    assert!(!m(r#"emails[value eq "nobody@example.com"]"#));
    assert!(m(r#"ims[type eq "xmpp" and value co "@foo.com"]"#));
    assert!(m(r#"groups[value eq "e9e30dba-f08f-4109-8486-d5c6a331660a"]"#));
    assert!(m(r#"groups[$ref ew "/e9e30dba-f08f-4109-8486-d5c6a331660a"]"#));
    assert!(!m(r#"groups[value eq "E9E30DBA-F08F-4109-8486-D5C6A331660A"]"#));
    assert!(m(r#"name[givenName eq "BARBARA"]"#), "single complex attribute");
    assert!(!m(r#"phoneNumbers[type eq "work"]"#));
    assert!(m(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[displayName eq "john smith"]"#));
    assert!(
        !m(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq "26118915-6090-4610-87E4-49D8CA9F808D"]"#
        ),
        "manager.value is caseExact"
    );
}

#[test]
fn extension_and_core_urn_paths() {
    assert!(m(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "bJ""#));
    assert!(m(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#));
    assert!(m(r#"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:EMPLOYEENUMBER eq "701984""#));
    assert!(m(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#
    ));
    assert!(m(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName eq "JOHN SMITH""#));
    assert!(m(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "26118915-6090-4610-87e4-49d8ca9f808d""#
    ));
    assert!(!m(r#"employeeNumber eq "701984""#), "unqualified names are core attributes");
    assert!(!m(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName pr"#));
}

#[test]
fn matches_element_for_patch_value_filters() {
    let emails = p("emails");
    let work = json!({"value": "bjensen@example.com", "type": "work", "primary": true});
    let home = json!({"value": "babs@jensen.org", "type": "home"});
    let f = parse_filter(r#"type eq "work" and primary eq true"#).unwrap();
    assert!(f.matches_element(&work, &emails, &UserRules));
    assert!(!f.matches_element(&home, &emails, &UserRules));
    let f = parse_filter(r#"value eq "BABS@JENSEN.ORG""#).unwrap();
    assert!(f.matches_element(&home, &emails, &UserRules));
    let members = p("members");
    let member = json!({"value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs"});
    let f = parse_filter(r#"value eq "2819c223-7f76-453a-919d-413861904646""#).unwrap();
    assert!(f.matches_element(&member, &members, &UserRules));
    let f = parse_filter(r#"value eq "2819C223-7F76-453A-919D-413861904646""#).unwrap();
    assert!(!f.matches_element(&member, &members, &UserRules), "members.value is caseExact");
    // Elements of a multi-valued attribute of simple type are addressed as `value`.
    let f = parse_filter(r#"value eq "urn:x""#).unwrap();
    assert!(f.matches_element(&json!("urn:x"), &p("schemas"), &UserRules));
    assert!(!f.matches_element(&json!("urn:y"), &p("schemas"), &UserRules));
    assert!(!f.matches_element(&Value::Null, &p("schemas"), &UserRules));
    // The value filter of a parsed PATCH path.
    let path = parse_path(r#"emails[type eq "work"].value"#).unwrap();
    let filter = path.value_filter.as_ref().unwrap();
    assert!(filter.matches_element(&work, &path.attr, &UserRules));
    assert!(!filter.matches_element(&home, &path.attr, &UserRules));
}

#[test]
fn group_filters() {
    let group = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "g1",
        "displayName": "Team A",
        "members": [{"value": "u1", "display": "Ann"}, {"value": "u2"}]
    });
    let t = |f: &str| parse_filter(f).unwrap().matches(&group, &UserRules);
    assert!(t(r#"displayName eq "team a""#));
    assert!(t(r#"members[value eq "u2"]"#));
    assert!(!t(r#"members[value eq "U2"]"#));
    assert!(t(r#"members.value eq "u1""#));
    assert!(!t(r#"members[value eq "u3"]"#));
}

// ---------------------------------------------------------------------------------------------------------------------
// as_string_equality, values, is

#[test]
fn as_string_equality_only_for_plain_string_eq() {
    let f = parse_filter(r#"userName eq "john@x.com""#).unwrap();
    assert_eq!(f.as_string_equality(), Some((&p("userName"), "john@x.com")));
    let f = parse_filter(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName EQ "j""#).unwrap();
    let (path, value) = f.as_string_equality().unwrap();
    assert!(path.is(&UserRules, "username", None));
    assert_eq!(value, "j");
    for other in [
        r#"userName ne "x""#,
        r#"userName co "x""#,
        "userName eq 5",
        "userName eq true",
        "userName eq null",
        "userName pr",
        r#"userName eq "x" and title pr"#,
        r#"userName eq "x" or userName eq "y""#,
        r#"not (userName eq "x")"#,
        r#"emails[value eq "x"]"#,
    ] {
        assert_eq!(parse_filter(other).unwrap().as_string_equality(), None, "{other}");
    }
    let f = parse_filter(r#"(userName eq "x")"#).unwrap();
    assert!(f.as_string_equality().is_some(), "redundant parentheses do not matter");
}

#[test]
fn required_string_equalities_look_through_and_and_value_filters() {
    let eqs = |f: &str| -> Vec<(AttrPath, String)> {
        parse_filter(f).unwrap().required_string_equalities().into_iter().map(|(p, v)| (p, v.to_owned())).collect()
    };
    let pair = |path: &str, value: &str| (p(path), value.to_owned());
    assert_eq!(eqs(r#"userName eq "x""#), [pair("userName", "x")]);
    assert_eq!(
        eqs(r#"userName eq "x" and (active eq true and externalId eq "e")"#),
        [pair("userName", "x"), pair("externalId", "e")]
    );
    assert_eq!(eqs(r#"emails[value eq "a@b" and primary eq true]"#), [pair("emails.value", "a@b")]);
    for none in [
        r#"userName eq "x" or externalId eq "e""#,
        r#"not (userName eq "x")"#,
        r#"userName ne "x""#,
        "userName eq 5",
        r#"emails[value eq "a@b" or type eq "work"]"#,
    ] {
        assert_eq!(eqs(none), [], "{none}");
    }
}

#[test]
fn values_selects_and_flattens() {
    let doc = user();
    let v = |s: &str| p(s).values(&doc, &UserRules);
    assert_eq!(v("userName"), vec![&json!("bjensen@example.com")]);
    assert_eq!(v("USERNAME"), vec![&json!("bjensen@example.com")]);
    assert_eq!(v("urn:ietf:params:scim:schemas:core:2.0:User:userName"), vec![&json!("bjensen@example.com")]);
    assert_eq!(v("emails").len(), 2);
    assert_eq!(v("emails")[1]["type"], json!("home"));
    assert_eq!(v("emails.value"), vec![&json!("bjensen@example.com"), &json!("babs@jensen.org")]);
    assert_eq!(v("emails.primary"), vec![&json!(true)]);
    assert_eq!(v("name.givenName"), vec![&json!("Barbara")]);
    assert_eq!(
        v("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"),
        vec![&json!("26118915-6090-4610-87e4-49d8ca9f808d")]
    );
    assert_eq!(
        v("urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:department"),
        vec![&json!("Tour Operations")]
    );
    assert_eq!(v("schemas").len(), 2);
    assert!(v("profileUrl").is_empty());
    assert!(v("missing").is_empty());
    assert!(v("name.missing").is_empty());
    assert!(v("employeeNumber").is_empty());
    assert!(v("urn:other:Schema:employeeNumber").is_empty());
    assert!(p("userName").values(&json!("not an object"), &UserRules).is_empty());
}

#[test]
fn attr_path_is_and_schema_helpers() {
    let r = &UserRules;
    assert!(p("userName").is(r, "userName", None));
    assert!(p("USERNAME").is(r, "username", None));
    assert!(p("urn:ietf:params:scim:schemas:core:2.0:User:userName").is(r, "userName", None));
    assert!(!p("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName").is(r, "userName", None));
    assert!(!p("userName").is(r, "userName", Some("x")));
    assert!(p("emails.value").is(r, "emails", Some("VALUE")));
    assert!(!p("emails.value").is(r, "emails", None));
    assert!(!p("emails").is(r, "emails", Some("value")));
    assert!(!p("displayName").is(r, "userName", None));

    let mgr = p("urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:manager");
    assert_eq!(mgr.extension(r), Some(ENT));
    assert!(!mgr.is_core(r));
    assert_eq!(p("userName").extension(r), None);
    assert_eq!(p("urn:x:y:z").extension(r), None);
    assert_eq!(mgr.info(r).map(|i| i.attr_type), Some(AttrType::Complex));

    let whole = p("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User");
    assert_eq!(whole.as_schema_urn(r), Some(ENT));
    assert_eq!(p(&CORE.to_ascii_lowercase()).as_schema_urn(r), Some(CORE));
    assert_eq!(mgr.as_schema_urn(r), None);
    assert_eq!(p("userName").as_schema_urn(r), None);
}

// ---------------------------------------------------------------------------------------------------------------------
// PATCH paths

#[test]
fn patch_paths() {
    assert_eq!(
        parse_path(r#"emails[type eq "work"].value"#).unwrap(),
        PatchPath {
            attr: p("emails"),
            value_filter: Some(cmp("type", CompareOp::Eq, json!("work"))),
            sub: Some("value".into())
        }
    );
    assert_eq!(
        parse_path("name.givenName").unwrap(),
        PatchPath { attr: p("name.givenName"), value_filter: None, sub: None }
    );
    assert_eq!(
        parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager").unwrap(),
        PatchPath {
            attr: AttrPath { schema: Some(ENT.into()), name: "manager".into(), sub: None },
            value_filter: None,
            sub: None
        }
    );
    assert_eq!(
        parse_path(r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#).unwrap(),
        PatchPath {
            attr: p("members"),
            value_filter: Some(cmp("value", CompareOp::Eq, json!("2819c223-7f76-453a-919d-413861904646"))),
            sub: None
        }
    );
    assert_eq!(
        parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value").unwrap(),
        PatchPath {
            attr: AttrPath { schema: Some(ENT.into()), name: "manager".into(), sub: Some("value".into()) },
            value_filter: None,
            sub: None
        }
    );
    assert_eq!(
        parse_path(r#"addresses[type eq "work" and primary eq true].streetAddress"#).unwrap(),
        PatchPath {
            attr: p("addresses"),
            value_filter: Some(and(
                cmp("type", CompareOp::Eq, json!("work")),
                cmp("primary", CompareOp::Eq, json!(true))
            )),
            sub: Some("streetAddress".into())
        }
    );
    assert_eq!(parse_path("userName").unwrap().attr, p("userName"));
    assert_eq!(parse_path(" title ").unwrap().attr, p("title"));
    assert_eq!(parse_path(r#"members[value eq "x"]"#).unwrap().to_string(), r#"members[value eq "x"]"#);
    assert_eq!(parse_path(r#"emails[type eq "work"].value"#).unwrap().to_string(), r#"emails[type eq "work"].value"#);
}

#[test]
fn patch_path_errors() {
    assert_eq!(parse_path("").unwrap_err().to_string(), "the PATCH path is empty");
    assert_eq!(
        parse_path(r#"emails[type eq "work"]value"#).unwrap_err(),
        FilterError::Expected {
            expected: "'.' followed by a sub-attribute, or the end of the path".into(),
            found: "'value'".into(),
            position: 22
        }
    );
    assert_eq!(
        parse_path(r#"emails[type eq "work"]."#).unwrap_err().to_string(),
        "expected a sub-attribute name after '.' at position 23, found the end of the input"
    );
    assert!(matches!(
        parse_path(r#"emails[type eq "work"].value.display"#).unwrap_err(),
        FilterError::InvalidAttrPath { position: 23, .. }
    ));
    assert_eq!(
        parse_path(r#"emails[type eq "work"].value x"#).unwrap_err(),
        FilterError::Expected { expected: "the end of the path".into(), found: "'x'".into(), position: 29 }
    );
    assert!(matches!(
        parse_path(r#"name.givenName[value eq "x"]"#).unwrap_err(),
        FilterError::InvalidAttrPath { position: 0, .. }
    ));
    assert!(matches!(
        parse_path(r#"emails[type eq "work""#).unwrap_err(),
        FilterError::UnclosedBracket { position: 6, .. }
    ));
    assert_eq!(parse_path("emails]").unwrap_err(), FilterError::UnmatchedBracket { position: 6 });
    assert!(matches!(
        parse_path(r#"members[value eq "a"][x pr]"#).unwrap_err(),
        FilterError::Expected { position: 21, .. }
    ));
    assert!(matches!(
        parse_path(r#"emails[type eq "work" and x[y pr]]"#).unwrap_err(),
        FilterError::NestedValueFilter { .. }
    ));
    assert!(matches!(parse_path("userName extra").unwrap_err(), FilterError::Expected { position: 9, .. }));
    assert!(matches!(parse_path(r#"userName eq "x""#).unwrap_err(), FilterError::Expected { position: 9, .. }));
    assert!(matches!(parse_path(r#""userName""#).unwrap_err(), FilterError::Expected { position: 0, .. }));
    assert!(matches!(parse_path("emails[]").unwrap_err(), FilterError::Expected { position: 7, .. }));
}

// ---------------------------------------------------------------------------------------------------------------------
// Attribute paths

#[test]
fn attribute_paths() {
    assert_eq!(p("userName"), AttrPath::new("userName", None));
    assert_eq!(p("name.givenName"), AttrPath::new("name", Some("givenName")));
    assert_eq!(p(" meta.lastModified "), AttrPath::new("meta", Some("lastModified")));
    assert_eq!(
        p("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName").to_string(),
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName"
    );
    assert_eq!(parse_attr_path("").unwrap_err().to_string(), "the attribute path is empty");
    assert_eq!(
        parse_attr_path("userName eq").unwrap_err().to_string(),
        "expected the end of the attribute path at position 9, found 'eq'"
    );
    assert!(matches!(
        parse_attr_path(r#"emails[type eq "x"]"#).unwrap_err(),
        FilterError::Expected { position: 6, .. }
    ));
    assert!(matches!(parse_attr_path("1abc").unwrap_err(), FilterError::InvalidNumber { .. }));
    assert!(matches!(parse_attr_path("a..b").unwrap_err(), FilterError::InvalidAttrPath { .. }));
    assert!(matches!(
        parse_attr_path("name.given-Name_2").map(|a| a.sub),
        Ok(Some(s)) if s == "given-Name_2"
    ));
}

#[test]
fn attribute_path_lists() {
    assert_eq!(
        parse_attr_path_list(
            "userName, emails.value ,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"
        )
        .unwrap(),
        vec![p("userName"), p("emails.value"), p("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager")]
    );
    assert_eq!(
        parse_attr_path_list("userName,,title").unwrap_err(),
        FilterError::Expected { expected: "an attribute path".into(), found: "','".into(), position: 9 }
    );
    assert_eq!(parse_attr_path_list("userName,").unwrap_err().position(), Some(9));
    assert_eq!(
        parse_attr_path_list("userName,a.b.c").unwrap_err(),
        FilterError::InvalidAttrPath {
            text: "a.b.c".into(),
            position: 9,
            reason: "'a.b.c' has more than one sub-attribute; SCIM paths are at most 'attribute.subAttribute'".into()
        }
    );
}

#[test]
fn display_round_trips() {
    for f in [
        "a pr or b pr and c pr",
        "(a pr or b pr) and c pr",
        "a pr and (b pr and c pr)",
        "a pr or (b pr or c pr)",
        "not (a pr and b pr) or c pr",
        r#"emails[type eq "work" and not (value ew ".org")] and x eq -1.5"#,
        r#"a eq "quote \" backslash \\ unicode é""#,
        "a eq null or b eq false",
        r#"emails[type eq "work" or type eq "home"].value eq "x" and not (emails[type eq "work"].value pr)"#,
    ] {
        let parsed = parse_filter(f).unwrap();
        assert_eq!(parse_filter(&parsed.to_string()).unwrap(), parsed, "{f}");
    }
    assert_eq!(parse_filter("A PR OR (B PR AND NOT(C EQ 1))").unwrap().to_string(), "A pr or B pr and not (C eq 1)");
}
