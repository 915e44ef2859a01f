//! The deployment description agrees with the code: routes and the table definition.
use std::collections::BTreeSet;

use insomnia_scim::api::routes::ROUTES;
use insomnia_scim::store::table;
use yaml_rust2::{Yaml, YamlLoader};

use crate::helpers::spawn_app;

/// template.yaml as plain YAML: CloudFormation's short tags (`!Ref X`, `!Sub "…"`, `!GetAtt [a, b]`)
/// are application tags the loader leaves off, keeping the tagged node itself.
fn template() -> Yaml {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    YamlLoader::load_from_str(&text).unwrap().remove(0)
}

fn str_of<'a>(value: &'a Yaml, key: &str) -> &'a str {
    value[key].as_str().unwrap_or_default()
}

#[test]
fn template_routes_are_the_code_routes() {
    let template = template();
    let mut in_template = BTreeSet::new();
    for (_, resource) in template["Resources"].as_hash().unwrap() {
        if str_of(resource, "Type") != "AWS::Serverless::Function" {
            continue;
        }
        let binary = str_of(&resource["Metadata"]["BuildProperties"], "Binary").to_owned();
        let Some(events) = resource["Properties"]["Events"].as_hash() else { continue };
        for (_, event) in events {
            if str_of(event, "Type") == "HttpApi" {
                let props = &event["Properties"];
                in_template.insert((
                    binary.clone(),
                    str_of(props, "Method").to_owned(),
                    str_of(props, "Path").to_owned(),
                ));
            }
        }
    }
    let in_code: BTreeSet<_> = ROUTES
        .iter()
        .map(|r| (r.function.crate_name().to_owned(), r.method.as_str().to_owned(), r.path.to_owned()))
        .collect();
    assert_eq!(in_template, in_code);
}

#[test]
fn template_table_is_the_code_table() {
    let template = template();
    let table_resource = template["Resources"]
        .as_hash()
        .unwrap()
        .values()
        .find(|r| str_of(r, "Type") == "AWS::DynamoDB::Table")
        .unwrap();
    let props = &table_resource["Properties"];
    let keys = |schema: &Yaml| -> Vec<(String, String)> {
        schema
            .as_vec()
            .unwrap()
            .iter()
            .map(|k| (str_of(k, "AttributeName").to_owned(), str_of(k, "KeyType").to_owned()))
            .collect()
    };
    assert_eq!(
        keys(&props["KeySchema"]),
        [(table::PARTITION_KEY.into(), "HASH".into()), (table::SORT_KEY.into(), "RANGE".into())]
    );
    let attributes: BTreeSet<_> = props["AttributeDefinitions"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|a| (str_of(a, "AttributeName").to_owned(), str_of(a, "AttributeType").to_owned()))
        .collect();
    let expected: BTreeSet<_> = table::KEY_ATTRIBUTES.iter().map(|a| ((*a).to_owned(), "S".to_owned())).collect();
    assert_eq!(attributes, expected);
    let gsis = props["GlobalSecondaryIndexes"].as_vec().unwrap();
    assert_eq!(gsis.len(), 1);
    assert_eq!(str_of(&gsis[0], "IndexName"), table::GSI1_NAME);
    assert_eq!(
        keys(&gsis[0]["KeySchema"]),
        [(table::GSI1_PARTITION_KEY.into(), "HASH".into()), (table::GSI1_SORT_KEY.into(), "RANGE".into())]
    );
    assert_eq!(str_of(&gsis[0]["Projection"], "ProjectionType"), "ALL");
    assert_eq!(str_of(&props["TimeToLiveSpecification"], "AttributeName"), table::TTL_ATTRIBUTE);
    assert_eq!(str_of(props, "BillingMode"), "PAY_PER_REQUEST");
}

#[tokio::test]
async fn the_local_table_matches_the_definition() {
    let app = spawn_app().await;
    let described = app.store.client().describe_table().table_name(&app.table).send().await.unwrap();
    let table_description = described.table().unwrap();
    let gsi = &table_description.global_secondary_indexes()[0];
    assert_eq!(gsi.index_name(), Some(table::GSI1_NAME));
    let ttl = app.store.client().describe_time_to_live().table_name(&app.table).send().await.unwrap();
    assert_eq!(ttl.time_to_live_description().and_then(|t| t.attribute_name()), Some(table::TTL_ATTRIBUTE));
}

#[tokio::test]
async fn the_dev_server_serves_every_template_route() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    for route in ROUTES {
        let (method, path) = (route.method.as_str(), route.path);
        let concrete = path.replace("{orgId}", org.id.as_str()).replace("{id}", "x");
        let request = app
            .http
            .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), format!("{}{concrete}", app.address))
            .bearer_auth(&org.token);
        let response = request.send().await.unwrap();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(!detail.starts_with("No endpoint at this path"), "{method} {path} is not served");
        assert!(!detail.contains("method is not supported"), "{method} {path} is not served");
    }
}

#[tokio::test]
async fn the_smoke_script_passes_against_a_running_stack() {
    let app = spawn_app().await;
    let org = app.create_org(insomnia_scim::domain::Plan::Enterprise, None).await;
    let passphrase = "smoke owner passphrase";
    app.add_manual_member(&org, "owner@smoke-org.example.com", insomnia_scim::domain::MemberRole::Owner, passphrase)
        .await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/smoke.py");
    let (address, org_id) = (app.address.clone(), org.to_string());
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .arg(script)
            .args(["--base-url", &address, "--org", &org_id, "--email", "owner@smoke-org.example.com"])
            .env("SMOKE_PASSPHRASE", passphrase)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "smoke failed:\n{stdout}\n{stderr}");
    for step in ["signed in", "SCIM enabled", "user and team read back", "SCIM log read", "deprovisioned"] {
        assert!(stdout.contains(step), "missing step '{step}':\n{stdout}");
    }
    assert!(app
        .store
        .members(&crate::helpers::OperatorScope::scope(&org))
        .await
        .unwrap()
        .iter()
        .all(|m| m.email.as_str() == "owner@smoke-org.example.com"));
}
