//! `scimctl`: the operator's CLI. It bootstraps the AWS resources of a stack (table, token key
//! secret, SES sender identity) and stands in for the parts of Insomnia that SCIM depends on:
//! organizations and their plan, members, verified domains, SSO. Same store code as the functions.
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use insomnia_scim::auth::AuthorizedOrg;
use insomnia_scim::auth::{generate_passphrase, hash_passphrase, TokenKey};
use insomnia_scim::clock::Clock;
use insomnia_scim::config::AppConfig;
use insomnia_scim::domain::{
    EmailAddress, IdentityProvider, MemberRole, OrgId, Organization, Plan, SsoConfig, TokenWindow,
};
use insomnia_scim::enablement::enable_scim;
use insomnia_scim::notify::Mailer;
use insomnia_scim::provisioning::fair_use;
use insomnia_scim::runtime::{build_app, AwsClients, TokenKeySource};
use insomnia_scim::scheduler::TokenScheduler;
use insomnia_scim::store::{Account, MemberRecord, NewMember, RateBudget, Store, TeamRecord};

#[derive(Parser)]
#[command(name = "scimctl", about = "Operate the SCIM service: bootstrap a stack, manage organizations")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the DynamoDB table, the token key secret and the SES sender identity (idempotent).
    Bootstrap,
    /// Create an organization.
    CreateOrg {
        #[arg(long)]
        org: String,
        #[arg(long)]
        name: String,
        /// free, individual, team or enterprise
        #[arg(long, default_value = "enterprise")]
        plan: String,
        /// Enterprise licenses bought (no limit when omitted)
        #[arg(long)]
        seats: Option<u32>,
    },
    /// Show or set an organization's SCIM request budget (fair use; default 50 requests/s, bursts of 200).
    FairUse {
        #[arg(long)]
        org: String,
        /// Sustained requests per second (with --burst; omit both to show the budget)
        #[arg(long, requires = "burst")]
        rate: Option<u32>,
        /// Requests admitted at once (a window of burst / rate seconds admits this many)
        #[arg(long, requires = "rate")]
        burst: Option<u32>,
    },
    /// Add a member by hand (an owner, co-owner or manually managed member).
    AddMember {
        #[arg(long)]
        org: String,
        #[arg(long)]
        email: String,
        /// owner, co-owner or member
        #[arg(long, default_value = "member")]
        role: String,
        /// Passphrase of the account if it is new (read from SCIMCTL_PASSPHRASE; generated and printed when absent)
        #[arg(long, env = "SCIMCTL_PASSPHRASE", hide_env_values = true)]
        passphrase: Option<String>,
    },
    /// Mark a domain as verified for the organization.
    VerifyDomain {
        #[arg(long)]
        org: String,
        #[arg(long)]
        domain: String,
    },
    /// Record that SSO is configured with an identity provider (okta or azure).
    ConfigureSso {
        #[arg(long)]
        org: String,
        #[arg(long)]
        idp: String,
    },
    /// Enable SCIM and issue a new connector token (development): prints the URL and the token once.
    IssueToken {
        #[arg(long)]
        org: String,
        /// 30d, 90d, 180d, 1y, 2y or none
        #[arg(long, default_value = "90d")]
        window: String,
        /// Origin of the API, to print the connector URL
        #[arg(long, env = "PUBLIC_BASE_URL", default_value = "http://127.0.0.1:8080")]
        base_url: String,
    },
    /// Show an organization: profile, licenses, SCIM status, members.
    ShowOrg {
        #[arg(long)]
        org: String,
    },
    /// Create (or refresh) the demo organization that meets every SCIM requirement.
    SeedDemo {
        #[arg(long, env = "PUBLIC_BASE_URL", default_value = "http://127.0.0.1:8080")]
        base_url: String,
    },
    /// Load a team of N new SCIM-provisioned members, in bulk (benchmarks, load tests): members
    /// skip the uniqueness guards and license counters, so use a throwaway organization.
    LoadTeam {
        #[arg(long)]
        org: String,
        #[arg(long)]
        team: String,
        #[arg(long)]
        members: usize,
    },
    /// Run the token scheduler once (token refresh, expiry notices, email retries); prints its summary.
    RunScheduler {
        /// Run as of this time (RFC 3339, e.g. 2026-11-03T06:00:00Z) instead of now
        #[arg(long)]
        as_of: Option<String>,
    },
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Failed(String),
}

fn usage(err: impl std::fmt::Display) -> CliError {
    CliError::Usage(err.to_string())
}

fn failed(err: impl std::fmt::Display) -> CliError {
    CliError::Failed(err.to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Usage(message)) => {
            eprintln!("scimctl: {message}");
            ExitCode::from(2)
        }
        Err(CliError::Failed(message)) => {
            eprintln!("scimctl: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), CliError> {
    let config = AppConfig::from_env().map_err(usage)?;
    let clients = AwsClients::from_env().await;
    let store = Store::new(clients.dynamodb.clone(), config.table_name.clone());
    if let Command::Bootstrap = command {
        return bootstrap(&config, &clients, &store).await;
    }
    let now = Utc::now();
    match command {
        Command::Bootstrap => Ok(()),
        Command::CreateOrg { org, name, plan, seats } => {
            let id = OrgId::parse(&org).map_err(usage)?;
            let plan = Plan::parse(&plan).map_err(usage)?;
            if name.trim().is_empty() {
                return Err(usage("--name must not be empty"));
            }
            store.create_organization(&Organization::new(id.clone(), &name, plan, seats, now)).await.map_err(failed)?;
            println!("created organization {id} ({plan})");
            Ok(())
        }
        Command::AddMember { org, email, role, passphrase } => {
            let id = OrgId::parse(&org).map_err(usage)?;
            let email = EmailAddress::parse(&email).map_err(usage)?;
            let role = MemberRole::parse(&role).map_err(usage)?;
            add_member(&store, &id, &email, role, passphrase).await
        }
        Command::VerifyDomain { org, domain } => {
            let id = OrgId::parse(&org).map_err(usage)?;
            let mut organization = load_org(&store, &id).await?;
            organization.verify_domain(&domain).map_err(usage)?;
            store.update_organization(&organization).await.map_err(failed)?;
            println!("verified domains of {id}: {}", organization.verified_domains.join(", "));
            Ok(())
        }
        Command::ConfigureSso { org, idp } => {
            let id = OrgId::parse(&org).map_err(usage)?;
            let idp = IdentityProvider::parse(&idp).map_err(usage)?;
            let mut organization = load_org(&store, &id).await?;
            organization.sso = Some(SsoConfig { idp, configured_at: now });
            store.update_organization(&organization).await.map_err(failed)?;
            println!("SSO of {id} configured with {idp}");
            Ok(())
        }
        Command::IssueToken { org, window, base_url } => {
            let id = OrgId::parse(&org).map_err(usage)?;
            let window = TokenWindow::parse(&window).map_err(usage)?;
            let organization = load_org(&store, &id).await?;
            let idp = organization.sso.as_ref().map_or(IdentityProvider::Okta, |sso| sso.idp);
            let app = build_app(config, &clients, Clock::System).await.map_err(failed)?;
            let token = enable_scim(&store, &app.token_key, &AuthorizedOrg::for_operator(id.clone()), idp, window, now)
                .await
                .map_err(failed)?;
            println!("connector URL: {}/scim/v2/orgs/{id}", base_url.trim_end_matches('/'));
            println!("token (shown once): {}", token.reveal());
            Ok(())
        }
        Command::FairUse { org, rate, burst } => {
            let id = AuthorizedOrg::for_operator(OrgId::parse(&org).map_err(usage)?);
            if let (Some(per_second), Some(burst)) = (rate, burst) {
                if per_second == 0 || burst == 0 {
                    return Err(usage("--rate and --burst must be at least 1"));
                }
                store.set_rate_budget(&id, RateBudget { per_second, burst }).await.map_err(failed)?;
            }
            let (budget, source) = match store.rate_budget(&id).await.map_err(failed)? {
                Some(budget) => (budget, "set"),
                None => (fair_use::DEFAULT_BUDGET, "default"),
            };
            println!("{}: {} requests/s, bursts of {} ({source})", id.id(), budget.per_second, budget.burst);
            Ok(())
        }
        Command::ShowOrg { org } => {
            let id = OrgId::parse(&org).map_err(usage)?;
            show_org(&store, &id).await
        }
        Command::SeedDemo { base_url } => seed_demo(config, &clients, &store, &base_url).await,
        Command::LoadTeam { org, team, members } => {
            let id = OrgId::parse(&org).map_err(usage)?;
            load_team(&store, &id, &team, members).await
        }
        Command::RunScheduler { as_of } => run_scheduler(config, &clients, store, as_of.as_deref()).await,
    }
}

async fn load_team(store: &Store, org: &OrgId, display_name: &str, count: usize) -> Result<(), CliError> {
    if display_name.trim().is_empty() {
        return Err(usage("--team must not be empty"));
    }
    let now = Utc::now();
    let batch = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let mut members = Vec::with_capacity(count);
    for i in 0..count {
        let user_name = format!("load.{batch}.{i}@{org}.example.com");
        let email = EmailAddress::parse(&user_name).map_err(failed)?;
        let resource = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user_name,
            "name": {"givenName": "Load", "familyName": format!("Member {i}")},
            "emails": [{"value": user_name, "type": "work", "primary": true}],
            "active": true
        });
        members.push(MemberRecord::provisioned(email, &resource, now));
    }
    store.load_members_unchecked(&AuthorizedOrg::for_operator(org.clone()), &members).await.map_err(failed)?;
    let resource =
        serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": display_name});
    let team = TeamRecord::new(display_name, None, &resource, now);
    let team_id = team.id.clone();
    store.create_team(&AuthorizedOrg::for_operator(org.clone()), &team, None).await.map_err(failed)?;
    let ids: Vec<String> = members.into_iter().map(|m| m.id).collect();
    store
        .load_memberships_unchecked(&AuthorizedOrg::for_operator(org.clone()), &team_id, &ids)
        .await
        .map_err(failed)?;
    println!("team {team_id} ({display_name}) with {count} members");
    if let Some(first) = ids.first() {
        println!("first member: {first}");
    }
    Ok(())
}

async fn load_org(store: &Store, id: &OrgId) -> Result<Organization, CliError> {
    store
        .organization(&AuthorizedOrg::for_operator(id.clone()))
        .await
        .map_err(failed)?
        .map(|(org, _)| org)
        .ok_or_else(|| failed(format!("organization '{id}' does not exist")))
}

async fn add_member(
    store: &Store,
    org: &OrgId,
    email: &EmailAddress,
    role: MemberRole,
    passphrase: Option<String>,
) -> Result<(), CliError> {
    let now = Utc::now();
    let existing = store.account(email).await.map_err(failed)?;
    let mut generated = None;
    let new_account = match existing {
        Some(_) => None,
        None => {
            let passphrase = match passphrase {
                Some(p) => p,
                None => generated.insert(generate_passphrase()).clone(),
            };
            Some(Account::with_passphrase_hash(
                email.clone(),
                Some(hash_passphrase(&passphrase).map_err(usage)?),
                generated.is_some(),
                now,
            ))
        }
    };
    let member = MemberRecord::manual(email.clone(), role, now);
    let id = member.id.clone();
    store
        .add_manual_member(&AuthorizedOrg::for_operator(org.clone()), &NewMember { member, new_account })
        .await
        .map_err(failed)?;
    println!("added {email} to {org} as {role} (member id {id})");
    if let Some(passphrase) = generated {
        println!("initial passphrase (shown once; must be changed at first sign-in): {passphrase}");
    }
    Ok(())
}

async fn show_org(store: &Store, id: &OrgId) -> Result<(), CliError> {
    let (org, licenses) = store
        .organization(&AuthorizedOrg::for_operator(id.clone()))
        .await
        .map_err(failed)?
        .ok_or_else(|| failed(format!("organization '{id}' does not exist")))?;
    let settings = store.scim_settings(id).await.map_err(failed)?;
    let members = store.members(&AuthorizedOrg::for_operator(id.clone())).await.map_err(failed)?;
    let now = Utc::now();
    let scim = settings.map(|s| {
        serde_json::json!({
            "enabled": s.enabled,
            "idp": s.idp,
            "token_state": s.token_state(now),
            "token_window": s.token_window,
            "token_created_at": s.token_created_at,
            "token_expires_at": s.token_expires_at,
        })
    });
    let report = serde_json::json!({
        "organization": org,
        "unmet_scim_requirements": org.unmet_scim_requirements(),
        "licenses": licenses,
        "scim": scim,
        "members": members.iter().map(|m| serde_json::json!({
            "id": m.id, "email": m.email, "role": m.role, "managed_by": m.managed_by, "active": m.active,
        })).collect::<Vec<_>>(),
    });
    println!("{}", serde_json::to_string_pretty(&report).map_err(failed)?);
    Ok(())
}

async fn bootstrap(config: &AppConfig, clients: &AwsClients, store: &Store) -> Result<(), CliError> {
    let created = store.ensure_table().await.map_err(failed)?;
    println!("table {}: {}", config.table_name, if created { "created" } else { "exists" });

    let secret = clients.secrets.describe_secret().secret_id(&config.token_key_secret_id).send().await;
    match secret {
        Ok(_) => println!("secret {}: exists", config.token_key_secret_id),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => {
            clients
                .secrets
                .create_secret()
                .name(&config.token_key_secret_id)
                .description("Key of the SCIM token hashes (HMAC-SHA256)")
                .secret_string(TokenKey::generate_secret_string())
                .send()
                .await
                .map_err(|e| failed(aws_sdk_secretsmanager::error::DisplayErrorContext(&e)))?;
            println!("secret {}: created", config.token_key_secret_id);
        }
        Err(err) => return Err(failed(aws_sdk_secretsmanager::error::DisplayErrorContext(&err))),
    }

    let identity = clients.ses.create_email_identity().email_identity(&config.sender_email).send().await;
    match identity {
        Ok(_) => println!("SES sender identity {}: created", config.sender_email),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_already_exists_exception()) => {
            println!("SES sender identity {}: exists", config.sender_email)
        }
        Err(err) => return Err(failed(aws_sdk_sesv2::error::DisplayErrorContext(&err))),
    }
    Ok(())
}

async fn run_scheduler(
    config: AppConfig,
    clients: &AwsClients,
    store: Store,
    as_of: Option<&str>,
) -> Result<(), CliError> {
    let clock = match as_of {
        Some(raw) => Clock::Fixed(
            DateTime::parse_from_rfc3339(raw)
                .map_err(|e| usage(format!("--as-of must be an RFC 3339 time such as 2026-11-03T06:00:00Z: {e}")))?
                .with_timezone(&Utc),
        ),
        None => Clock::System,
    };
    let mailer = Mailer::new(clients.ses.clone(), config.sender_email);
    let key = TokenKeySource::from_secret(clients.secrets.clone(), config.token_key_secret_id);
    let summary = TokenScheduler::new(store, mailer, key, clock).run().await;
    println!("{}", serde_json::to_string_pretty(&summary).map_err(failed)?);
    // Printed above; the run went on for every other organization. Emails given up on count too.
    summary.into_result().map(drop).map_err(failed)
}

const DEMO_ORG: &str = "demo";
const DEMO_OWNER: &str = "owner@demo.example.com";

async fn seed_demo(config: AppConfig, clients: &AwsClients, store: &Store, base_url: &str) -> Result<(), CliError> {
    let now = Utc::now();
    let id = OrgId::parse(DEMO_ORG).map_err(failed)?;
    let email = EmailAddress::parse(DEMO_OWNER).map_err(failed)?;
    if store.organization(&AuthorizedOrg::for_operator(id.clone())).await.map_err(failed)?.is_none() {
        let mut org = Organization::new(id.clone(), "Demo Enterprise", Plan::Enterprise, Some(50), now);
        org.verify_domain("demo.example.com").map_err(failed)?;
        org.sso = Some(SsoConfig { idp: IdentityProvider::Okta, configured_at: now });
        store.create_organization(&org).await.map_err(failed)?;
    }
    let passphrase = "demo owner passphrase";
    if store.account(&email).await.map_err(failed)?.is_none() {
        add_member(store, &id, &email, MemberRole::Owner, Some(passphrase.to_owned())).await?;
    }
    let app = build_app(config, clients, Clock::System).await.map_err(failed)?;
    let token = enable_scim(
        store,
        &app.token_key,
        &AuthorizedOrg::for_operator(id.clone()),
        IdentityProvider::Okta,
        TokenWindow::Days90,
        now,
    )
    .await
    .map_err(failed)?;
    let connector = format!("{}/scim/v2/orgs/{id}", base_url.trim_end_matches('/'));
    println!("demo organization: {id} (Enterprise, 50 seats, domain demo.example.com, SSO okta)");
    println!("admin login: {DEMO_OWNER} / {passphrase}");
    println!("connector URL: {connector}");
    println!("token (shown once): {}", token.reveal());
    println!("try: curl -H \"Authorization: Bearer {}\" {connector}/ServiceProviderConfig", token.reveal());
    Ok(())
}
