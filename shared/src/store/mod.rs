//! DynamoDB adapter: one table, items keyed by `PK`/`SK` (docs/ARCHITECTURE.md, "Items"), codecs via serde_dynamo.
mod admin_history;
mod batch_write;
mod dynamo;
mod error;
#[cfg(feature = "fixtures")]
mod fixtures;
mod health;
pub mod keys;
mod members;
mod oauth;
mod organizations;
mod outbox;
mod pending;
mod prefetch;
mod rate;
mod request_log;
mod sessions;
pub mod table;
mod teams;
mod token_expiry;
mod transact;
mod walks;

use aws_sdk_dynamodb::Client;

use dynamo::{s, Item};

pub use crate::domain::{
    Account, ManagedBy, MemberRecord, Membership, OAuthCredential, OutboxItem, OutboxKind, TeamRecord,
};
pub use admin_history::{GuardedAction, PageError, RequestLogFilter, ScimHistoryAction, ScimHistoryEntry};
pub use error::{BoxError, CodecError, Conflict, Missing, Record, StoreError};
pub use health::StoredHealth;
pub use members::{MemberConflict, MemberState, MemberWriteError, MemberWriteExtras, NewMember};
pub use oauth::{Claim, OAuthRead};
pub use organizations::LicenseCounts;
pub use outbox::{DueEmails, UnreadableEmail, WelcomeClaim};
pub use pending::{PendingResource, PendingWrite};
pub use prefetch::{Prefetch, Prefetched};
pub use rate::{RateBudget, RateWindow};
pub use request_log::{RequestLogRecord, TimelineEntry};
pub use sessions::{ResetCodeRecord, SessionRecord};
pub use teams::{
    TeamGuard, TeamState, TeamWriteError, MAX_MEMBER_CHANGE, MEMBERSHIPS_PER_TRANSACTION, TEAM_EXTERNAL_ID,
};
pub use token_expiry::{ExpiryIndexEntry, TOKEN_EXPIRY_GSI_PK};
pub use walks::{WalkPage, WalkPosition, WalkScope};

/// The table and the client that reaches it (endpoint, region and credentials from the SDK's
/// standard configuration: the same code talks to AWS and to the local stack).
#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
    /// Fair-use counts waiting for the counter's next `ADD` (see `rate::RequestCounts`).
    request_counts: std::sync::Arc<rate::RequestCounts>,
}

impl Store {
    /// The store over `client`, which from then on counts each DynamoDB request it sends into the
    /// request's metrics (docs/ARCHITECTURE.md, "Metrics").
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        let client = Client::from_conf(client.config().to_builder().interceptor(CountCalls).build());
        Self { client, table: table.into(), request_counts: Default::default() }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// One cheap read that opens the connection pool during cold start, so the first request
    /// does not pay the TLS handshake.
    pub async fn warm_up(&self) -> Result<(), StoreError> {
        self.client
            .get_item()
            .table_name(&self.table)
            .key("PK", s("WARMUP"))
            .key("SK", s("WARMUP"))
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        Ok(())
    }
}

impl Store {
    /// A GetItem of the base table. Every read of the base table is strongly consistent: a token
    /// refreshed or disabled a moment ago is refused from the next request on, and an answer built
    /// right after a write sees that write. It costs read capacity, not a round trip. (GSI1 cannot
    /// be read consistently; docs/ARCHITECTURE.md, "Consistency", says where that matters.)
    pub(crate) fn read_item(&self) -> aws_sdk_dynamodb::operation::get_item::builders::GetItemFluentBuilder {
        self.client.get_item().table_name(&self.table).consistent_read(true)
    }

    /// One item by its key, read like [`Store::read_item`].
    pub(crate) async fn item_by_key(
        &self,
        pk: impl Into<String>,
        sk: impl Into<String>,
    ) -> Result<aws_sdk_dynamodb::operation::get_item::GetItemOutput, StoreError> {
        self.read_item().key("PK", s(pk)).key("SK", s(sk)).send().await.map_err(StoreError::from_sdk)
    }

    /// A Query of the base table, strongly consistent like [`Store::read_item`].
    pub(crate) fn query_table(&self) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client.query().table_name(&self.table).consistent_read(true)
    }

    /// Runs a query page by page (≤ 1 MB each) until the pages end or `each` says stop, so a large
    /// partition never has to sit in memory as raw items.
    pub(crate) async fn query_pages(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        mut each: impl FnMut(Vec<Item>) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        let mut start = None;
        loop {
            let output = query.clone().set_exclusive_start_key(start).send().await.map_err(StoreError::from_sdk)?;
            let go_on = each(output.items.unwrap_or_default())?;
            start = output.last_evaluated_key;
            if !go_on || start.is_none() {
                return Ok(());
            }
        }
    }

    /// A query of one GSI1 partition.
    pub(crate) fn gsi1_query(&self, pk: String) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .index_name(table::GSI1_NAME)
            .key_condition_expression("GSI1PK = :pk")
            .expression_attribute_values(":pk", s(pk))
    }

    /// Writes an item whatever is there (a record, a counter window, a position).
    pub(crate) async fn put_unconditionally(&self, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        Ok(())
    }

    /// Every item a query returns, decoded by `decode`.
    pub(crate) async fn query_all_decoded<T>(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        decode: impl Fn(Item) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut all = Vec::new();
        self.query_pages(query, |items| {
            for item in items {
                all.push(decode(item)?);
            }
            Ok(true)
        })
        .await?;
        Ok(all)
    }
}

/// Counts every DynamoDB request (each attempt) into the metrics of the request that sent it.
#[derive(Debug)]
struct CountCalls;

impl aws_smithy_runtime_api::client::interceptors::Intercept for CountCalls {
    fn name(&self) -> &'static str {
        "CountCalls"
    }

    fn read_before_transmit(
        &self,
        _context: &aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        _cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        crate::metrics::count_dynamodb_call();
        Ok(())
    }
}
