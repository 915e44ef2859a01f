//! `spawn_app()`: the routers of every function on a random local port, over a table of their own
//! in the moto server that the test run shares.
use std::collections::HashMap;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sesv2::config::retry::RetryConfig;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use chrono::Utc;
use insomnia_scim::api::{self, AppState};
use insomnia_scim::auth::hash_passphrase;
use insomnia_scim::clock::Clock;
use insomnia_scim::config::AppConfig;
use insomnia_scim::domain::{
    EmailAddress, IdentityProvider, MemberRole, OrgId, Organization, Plan, SsoConfig, TokenWindow,
};
use insomnia_scim::enablement::enable_scim;
use insomnia_scim::notify::Mailer;
use insomnia_scim::runtime::{build_app, AwsClients};
use insomnia_scim::store::{Account, MemberRecord, NewMember, Store, StoreError};
use serde_json::json;

pub const TOKEN_KEY_SECRET: &str = "behaviour-tests/token-key";
pub const SENDER: &str = "scim@tests.example.com";

struct Moto {
    endpoint: String,
    _child: Option<Child>,
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The moto server of this test run: `AWS_ENDPOINT_URL` when set, else one started here from the
/// project's .venv (it exits with this process).
fn moto_endpoint() -> &'static str {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    &MOTO
        .get_or_init(|| {
            if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL") {
                return Moto { endpoint, _child: None };
            }
            let python = std::env::var("MOTO_PYTHON")
                .map(PathBuf::from)
                .unwrap_or_else(|_| workspace_root().join(".venv/bin/python"));
            let port = {
                let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
                listener.local_addr().expect("addr").port()
            };
            let child = Command::new(&python)
                .arg(workspace_root().join("infra/moto_server.py"))
                .args(["--port", &port.to_string(), "--exit-with-parent"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start moto with {python:?} ({e}); run infra/test.sh once"));
            let deadline = Instant::now() + Duration::from_secs(30);
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(Instant::now() < deadline, "moto did not start");
                std::thread::sleep(Duration::from_millis(50));
            }
            Moto { endpoint: format!("http://127.0.0.1:{port}"), _child: Some(child) }
        })
        .endpoint
}

pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(moto_endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .load()
        .await
}

/// Counts DynamoDB requests (each attempt is one round trip), by operation, telling request-log
/// writes apart from the rest.
/// When a call started and (once answered) ended.
type CallSpan = (Instant, Option<Instant>);

#[derive(Debug, Default, Clone)]
pub struct RoundTrips {
    calls: Arc<Mutex<Vec<String>>>,
    /// (start, end) of each non-log call, to tell concurrent calls from sequential ones.
    spans: Arc<Mutex<Vec<CallSpan>>>,
    /// (operation, request body) of each call, request-log writes excluded.
    requests: Arc<Mutex<Vec<(String, String)>>>,
    /// Items DynamoDB returned to the counted calls (GetItem, BatchGetItem, Query, Scan).
    items: Arc<AtomicUsize>,
    enabled: Arc<AtomicBool>,
    /// Count only calls made by the task serving an HTTP request (`start_served_only`).
    served_only: Arc<AtomicBool>,
}

tokio::task_local! {
    /// Set while the test server's own task serves a request: work the request spawned (a welcome
    /// email delivered after the response, the request log) runs in other tasks, without it.
    static SERVING: ();
}

/// Wraps every request the test server serves in `SERVING`.
async fn mark_serving(request: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    SERVING.scope((), next.run(request)).await
}

impl RoundTrips {
    pub fn start(&self) {
        self.calls.lock().unwrap().clear();
        self.spans.lock().unwrap().clear();
        self.requests.lock().unwrap().clear();
        self.items.store(0, Ordering::SeqCst);
        self.served_only.store(false, Ordering::SeqCst);
        self.enabled.store(true, Ordering::SeqCst);
    }

    /// As `start`, but counts only the calls the serving task makes itself: the request's own
    /// chain, without work it spawned to run after the response (which may reach DynamoDB before
    /// the client has read the response).
    pub fn start_served_only(&self) {
        self.start();
        self.served_only.store(true, Ordering::SeqCst);
    }

    /// Items DynamoDB returned since `start`, over the wire (request-log writes excluded).
    pub fn items_read(&self) -> usize {
        self.items.load(Ordering::SeqCst)
    }

    /// Paging positions written since `start` (off the response path, like the request log).
    pub fn walk_writes(&self) -> usize {
        self.calls.lock().unwrap().iter().filter(|c| c.ends_with("(walk)")).count()
    }

    /// The operations seen since `start`, request-log writes excluded.
    pub fn calls(&self) -> Vec<String> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| {
                !c.ends_with("(log)")
                    && !c.ends_with("(rate)")
                    && !c.ends_with("(use)")
                    && !c.ends_with("(walk)")
                    && !c.ends_with("(health)")
            })
            .cloned()
            .collect()
    }

    /// Fair-use counts since `start` (one per request with a token).
    pub fn rate_counts(&self) -> usize {
        self.calls.lock().unwrap().iter().filter(|c| c.ends_with("(rate)")).count()
    }

    /// Sequential round trips: calls that overlap in time (run concurrently) count once.
    pub fn sequential(&self) -> usize {
        let mut spans = self.spans.lock().unwrap().clone();
        spans.sort_by_key(|(start, _)| *start);
        let mut rounds = 0;
        let mut round_end: Option<Instant> = None;
        for (start, end) in spans {
            let end = end.unwrap_or(start);
            match round_end {
                Some(current) if start < current => round_end = Some(current.max(end)),
                _ => {
                    rounds += 1;
                    round_end = Some(end);
                }
            }
        }
        rounds
    }

    /// (operation, JSON body) of each call since `start`, request-log writes excluded.
    pub fn requests(&self) -> Vec<(String, String)> {
        self.requests.lock().unwrap().clone()
    }

    /// Last-use writes since `start` (after the response, at most once a minute per credential).
    pub fn use_writes(&self) -> usize {
        self.calls.lock().unwrap().iter().filter(|c| c.ends_with("(use)")).count()
    }

    /// Connector-health calls since `start` (in the request log's write pass).
    pub fn health_writes(&self) -> usize {
        self.calls.lock().unwrap().iter().filter(|c| c.ends_with("(health)")).count()
    }

    pub fn log_writes(&self) -> usize {
        self.calls.lock().unwrap().iter().filter(|c| c.ends_with("(log)")).count()
    }
}

impl Intercept for RoundTrips {
    fn name(&self) -> &'static str {
        "RoundTrips"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if !self.enabled.load(Ordering::SeqCst) {
            return Ok(());
        }
        if self.served_only.load(Ordering::SeqCst) && SERVING.try_with(|_| ()).is_err() {
            return Ok(());
        }
        let request = context.request();
        let operation = operation_name(context).unwrap_or("?").to_owned();
        let body = request.body().bytes().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
        // One record is a PutItem; records of requests that ended together, one BatchWriteItem.
        let is_log = (operation == "PutItem" || operation == "BatchWriteItem") && body.contains("#LOG\"");
        // Connector health rides the log's write pass, off the response path (docs/ARCHITECTURE.md,
        // "Connector health"): counted by `health_writes`.
        let is_health = body.contains("\"HEALTH\"") || body.contains("\"HEALTHROSTER\"");
        // The fair-use count is sent beside the token check's read (one `tokio::join!` in
        // `store::prefetch`; docs/ARCHITECTURE.md, "Fair use"): nothing waits on it, so it is no
        // round trip of the request's chain. Left out of `sequential` and `calls`, and counted by
        // `rate_counts`, so that a loaded machine delaying its send cannot make it look sequential.
        let is_rate = operation == "UpdateItem" && body.contains("\"RATE#");
        // A credential's last use is written after the response, like the request log
        // (docs/ARCHITECTURE.md, "Tokens: rotation, revoke, OAuth"): counted by `use_writes`.
        let is_use = operation == "UpdateItem" && body.contains("last_used_at = :at");
        // A paging position is written before the page is answered (docs/ARCHITECTURE.md, "Paging"):
        // a sequential round trip, counted by `walk_writes` too.
        let is_walk = operation == "PutItem" && body.contains("\"WALK#");
        if !is_log && !is_rate && !is_use && !is_health {
            self.spans.lock().unwrap().push((Instant::now(), None));
            cfg.interceptor_state().store_put(CallStarted(self.spans.lock().unwrap().len() - 1));
            self.requests.lock().unwrap().push((operation.clone(), body));
        }
        let call = if is_log {
            format!("{operation}(log)")
        } else if is_health {
            format!("{operation}(health)")
        } else if is_use {
            format!("{operation}(use)")
        } else if is_rate {
            format!("{operation}(rate)")
        } else if is_walk {
            format!("{operation}(walk)")
        } else {
            operation
        };
        self.calls.lock().unwrap().push(call);
        Ok(())
    }

    fn read_after_transmit(
        &self,
        _context: &aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef<
            '_,
        >,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(CallStarted(index)) = cfg.load::<CallStarted>().cloned() {
            if let Some(span) = self.spans.lock().unwrap().get_mut(index) {
                span.1 = Some(Instant::now());
            }
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &aws_smithy_runtime_api::client::interceptors::context::AfterDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg.load::<CallStarted>().is_none() {
            return Ok(());
        }
        use aws_sdk_dynamodb::operation::{batch_get_item, get_item, query, scan};
        let Ok(output) = context.output_or_error() else { return Ok(()) };
        let items = if let Some(out) = output.downcast_ref::<query::QueryOutput>() {
            out.items().len()
        } else if let Some(out) = output.downcast_ref::<batch_get_item::BatchGetItemOutput>() {
            out.responses().map_or(0, |r| r.values().map(Vec::len).sum())
        } else if let Some(out) = output.downcast_ref::<get_item::GetItemOutput>() {
            usize::from(out.item().is_some())
        } else if let Some(out) = output.downcast_ref::<scan::ScanOutput>() {
            out.items().len()
        } else {
            0
        };
        self.items.fetch_add(items, Ordering::SeqCst);
        Ok(())
    }
}

/// The DynamoDB operation a request calls (`GetItem`, `TransactWriteItems`, …).
fn operation_name<'a>(context: &'a BeforeTransmitInterceptorContextRef<'_>) -> Option<&'a str> {
    context.request().headers().get("x-amz-target").and_then(|t| t.split('.').next_back())
}

#[derive(Debug, Clone)]
struct CallStarted(usize);

impl aws_smithy_types::config_bag::Storable for CallStarted {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

/// When an injected fault strikes a DynamoDB call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FaultTiming {
    /// The request never reaches DynamoDB (a connection failure).
    BeforeSending,
    /// DynamoDB carries the request out but its answer is lost (a timeout after commit).
    AfterCommit,
}

#[derive(Debug)]
struct FaultPlan {
    operation: &'static str,
    skip: usize,
    timing: FaultTiming,
}

/// Fails one chosen DynamoDB call of the service, as the network or DynamoDB might: the service
/// sees an SDK error it cannot retry. Off until `fail_nth` arms it; each arming fails one call.
#[derive(Debug, Default, Clone)]
pub struct Faults {
    plan: Arc<Mutex<Option<FaultPlan>>>,
    struck: Arc<AtomicBool>,
}

impl Faults {
    /// The `nth` (1-based) `operation` call from now fails once, at `timing`.
    pub fn fail_nth(&self, operation: &'static str, nth: usize, timing: FaultTiming) {
        self.struck.store(false, Ordering::SeqCst);
        *self.plan.lock().unwrap() = Some(FaultPlan { operation, skip: nth.saturating_sub(1), timing });
    }

    /// Whether the armed fault has struck.
    pub fn struck(&self) -> bool {
        self.struck.load(Ordering::SeqCst)
    }
}

#[derive(Debug, Clone)]
enum AfterTransmit {
    Fail,
}

impl aws_smithy_types::config_bag::Storable for AfterTransmit {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

impl Intercept for Faults {
    fn name(&self) -> &'static str {
        "Faults"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = operation_name(context);
        // Connector health's writes (beside the request log, after the response) are never a fault's target.
        let body =
            context.request().body().bytes().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
        if body.contains("\"HEALTH\"") || body.contains("\"HEALTHROSTER\"") {
            return Ok(());
        }
        let mut plan = self.plan.lock().unwrap();
        let Some(armed) = plan.as_mut().filter(|p| Some(p.operation) == operation) else { return Ok(()) };
        if armed.skip > 0 {
            armed.skip -= 1;
            return Ok(());
        }
        let timing = armed.timing;
        *plan = None;
        self.struck.store(true, Ordering::SeqCst);
        match timing {
            FaultTiming::BeforeSending => Err("injected fault: the request was not sent".into()),
            FaultTiming::AfterCommit => {
                cfg.interceptor_state().store_put(AfterTransmit::Fail);
                Ok(())
            }
        }
    }

    fn read_after_transmit(
        &self,
        _context: &aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef<
            '_,
        >,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        match cfg.load::<AfterTransmit>() {
            Some(AfterTransmit::Fail) => Err("injected fault: the answer was lost".into()),
            _ => Ok(()),
        }
    }
}

/// Where a cut strikes the chosen DynamoDB call of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutTiming {
    /// The call is never sent: the request's future is dropped while it waits.
    BeforeSending,
    /// DynamoDB carries the call out, then the request's future is dropped before it sees the answer.
    AfterCommit,
}

tokio::task_local! {
    /// Set while `TestApp::cut_off` runs its request: the calls made by the request's own task.
    static IN_CUT_REQUEST: ();
}

#[derive(Debug, Default)]
struct CutPlan {
    counting: bool,
    /// Only calls made by the request's own task count (`TestApp::cut_off`).
    request_only: bool,
    calls: usize,
    armed: Option<(usize, CutTiming)>,
    /// The next counted call waits this long before it is sent (a hung call).
    hang: Option<Duration>,
    /// Calls of this operation (`GetItem`, …) answered by DynamoDB's error instead, this many times.
    refusals: Option<(String, usize, Refusal)>,
}

/// An error answer of DynamoDB's, injected by `Cuts::refuse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `ProvisionedThroughputExceededException` (the SDK retries it by itself).
    Throttled,
    /// A transaction cancelled for a `TransactionConflict` (the service's contention retry).
    TransactionConflict,
}

impl Refusal {
    fn response(self) -> aws_smithy_runtime_api::client::orchestrator::HttpResponse {
        let body = match self {
            Self::Throttled => json!({
                "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                "message": "The level of configured provisioned throughput for the table was exceeded."
            }),
            Self::TransactionConflict => json!({
                "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                "message": "Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict]",
                "CancellationReasons": [{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}]
            }),
        };
        let status = aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap();
        let mut response = aws_smithy_runtime_api::client::orchestrator::HttpResponse::new(
            status,
            aws_smithy_types::body::SdkBody::from(body.to_string()),
        );
        response.headers_mut().insert("content-type", "application/x-amz-json-1.0");
        response
    }
}

/// Cuts a request off as Lambda does at its timeout or in a crash: the request's future is dropped
/// at a chosen DynamoDB call and no code of it runs any more (`TestApp::cut_off`). The service's
/// own retries and undo paths never see an error: the call simply never returns. Request-log
/// writes (after the response) are not counted, nor any call of a task the request spawned (a welcome
/// email, a last-use write: work beside the response, which a Bulk's operations start while it goes on).
#[derive(Debug, Clone, Default)]
pub struct Cuts {
    plan: Arc<Mutex<CutPlan>>,
    struck: Arc<tokio::sync::Notify>,
}

impl Cuts {
    fn wrap(&self, inner: SharedHttpClient) -> SharedHttpClient {
        let cuts = self.clone();
        aws_smithy_runtime_api::client::http::http_client_fn(move |settings, components| {
            SharedHttpConnector::new(CutConnector {
                inner: inner.http_connector(settings, components),
                cuts: cuts.clone(),
            })
        })
    }

    /// Store calls counted since `count` or `arm`.
    pub fn calls(&self) -> usize {
        self.plan.lock().unwrap().calls
    }

    fn arm(&self, nth: usize, timing: CutTiming) {
        *self.plan.lock().unwrap() =
            CutPlan { counting: true, request_only: true, armed: Some((nth, timing)), ..CutPlan::default() };
    }

    /// Stops counting (keeping the count) and cutting.
    fn disarm(&self) {
        let mut plan = self.plan.lock().unwrap();
        plan.counting = false;
        plan.armed = None;
    }

    /// The next store call hangs for `delay` before it is sent (the SDK's attempt timeout ends it).
    pub fn hang_next(&self, delay: Duration) {
        *self.plan.lock().unwrap() = CutPlan { counting: true, hang: Some(delay), ..CutPlan::default() };
    }

    /// The next `times` calls of `operation` are refused by DynamoDB (`refusal`), from now on.
    pub fn refuse(&self, operation: &str, times: usize, refusal: Refusal) {
        *self.plan.lock().unwrap() =
            CutPlan { counting: true, refusals: Some((operation.to_owned(), times, refusal)), ..CutPlan::default() };
    }

    /// Stops every injected fault.
    pub fn clear(&self) {
        *self.plan.lock().unwrap() = CutPlan::default();
    }
}

#[derive(Debug)]
struct CutConnector {
    inner: SharedHttpConnector,
    cuts: Cuts,
}

impl HttpConnector for CutConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let body = request.body().bytes().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
        // Connector health rides the request log's pass: neither counted, cut nor refused.
        let is_health = body.contains("\"HEALTH\"") || body.contains("\"HEALTHROSTER\"");
        let is_log = body.contains("#LOG\"") || is_health;
        let operation =
            request.headers().get("x-amz-target").unwrap_or_default().rsplit('.').next().unwrap_or_default().to_owned();
        let (cut, hang) = {
            let mut plan = self.cuts.plan.lock().unwrap();
            if let Some((refused, times, refusal)) = plan.refusals.as_mut().filter(|_| !is_health) {
                if *refused == operation && *times > 0 {
                    *times -= 1;
                    let response = refusal.response();
                    return HttpConnectorFuture::ready(Ok(response));
                }
            }
            let spawned = plan.request_only && IN_CUT_REQUEST.try_with(|_| ()).is_err();
            if !plan.counting || is_log || spawned {
                (None, None)
            } else {
                plan.calls += 1;
                let cut = match plan.armed {
                    Some((nth, timing)) if nth == plan.calls => {
                        plan.armed = None;
                        Some(timing)
                    }
                    _ => None,
                };
                (cut, plan.hang.take())
            }
        };
        let struck = self.cuts.struck.clone();
        match (cut, hang) {
            (Some(CutTiming::BeforeSending), _) => HttpConnectorFuture::new(async move {
                struck.notify_one();
                std::future::pending().await
            }),
            (Some(CutTiming::AfterCommit), _) => {
                let call = self.inner.call(request);
                HttpConnectorFuture::new(async move {
                    let _answer = call.await;
                    struck.notify_one();
                    std::future::pending().await
                })
            }
            (None, Some(delay)) => {
                let inner = self.inner.clone();
                HttpConnectorFuture::new(async move {
                    tokio::time::sleep(delay).await;
                    inner.call(request).await
                })
            }
            (None, None) => self.inner.call(request),
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    pub app: AppState,
    pub store: Store,
    pub round_trips: RoundTrips,
    pub faults: Faults,
    pub cuts: Cuts,
    pub table: String,
}

/// An organization ready for SCIM, with its connector URL and token.
pub struct ScimOrg {
    pub id: OrgId,
    pub base: String,
    pub token: String,
}

/// Everything the service logged in this test process so far (a global JSON subscriber: every
/// level of this service's own code, INFO and up from its dependencies, as in production),
/// installed by the first `spawn_app`: "never logged" checks search it.
pub fn process_logs() -> String {
    String::from_utf8_lossy(&captured_logs().lock().unwrap()).into_owned()
}

fn captured_logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = CapturedLogs(buffer.clone());
        let subscriber = insomnia_scim::telemetry::json_subscriber(
            tracing_subscriber::EnvFilter::new("info,insomnia_scim=trace"),
            move || writer.clone(),
        );
        let _ = tracing::subscriber::set_global_default(subscriber);
        buffer
    })
}

#[derive(Clone)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with_clock(Clock::System).await
}

pub async fn spawn_app_with_clock(clock: Clock) -> TestApp {
    spawn(None, clock, SpawnOptions::default()).await
}

/// A second server over an existing test table (e.g. the same data seen on another day).
pub async fn spawn_app_on_table(table: &str, clock: Clock) -> TestApp {
    spawn(Some(table), clock, SpawnOptions::default()).await
}

/// An app whose DynamoDB client has the production timeouts (`runtime::dynamodb_timeouts`);
/// the other tests leave them off, since a loaded moto may take longer than DynamoDB would.
pub async fn spawn_app_with_production_timeouts() -> TestApp {
    spawn(None, Clock::System, SpawnOptions { production_timeouts: true }).await
}

#[derive(Default)]
struct SpawnOptions {
    production_timeouts: bool,
}

async fn spawn(existing_table: Option<&str>, clock: Clock, options: SpawnOptions) -> TestApp {
    captured_logs();
    let sdk = sdk_config().await;
    let round_trips = RoundTrips::default();
    let faults = Faults::default();
    let cuts = Cuts::default();
    let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .interceptor(round_trips.clone())
        .interceptor(faults.clone())
        // moto is plain HTTP on loopback: the SDK's own client, without TLS.
        .http_client(cuts.wrap(aws_smithy_http_client::Builder::new().build_http()));
    if options.production_timeouts {
        dynamodb = dynamodb.timeout_config(insomnia_scim::runtime::dynamodb_timeouts());
    }
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(dynamodb.build());
    let clients = AwsClients {
        dynamodb,
        secrets: aws_sdk_secretsmanager::Client::new(&sdk),
        ses: aws_sdk_sesv2::Client::new(&sdk),
    };
    ensure_shared_resources(&clients).await;
    let table = existing_table.map_or_else(|| format!("test-{}", uuid::Uuid::new_v4().simple()), str::to_owned);
    let store = Store::new(clients.dynamodb.clone(), table.clone());
    if existing_table.is_none() {
        store.create_table().await.expect("create table");
    }
    let config = AppConfig {
        table_name: table.clone(),
        token_key_secret_id: TOKEN_KEY_SECRET.into(),
        sender_email: SENDER.into(),
        public_base_url: None,
    };
    let app = build_app(config, &clients, clock).await.expect("build app");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("addr"));
    let router = api::all_routes(app.clone()).layer(axum::middleware::from_fn(mark_serving));
    tokio::spawn(async move { axum::serve(listener, api::local_service(router)).await });
    TestApp { address, http: reqwest::Client::new(), app, store, round_trips, faults, cuts, table }
}

/// The token key secret and the SES sender, created once per moto server.
async fn ensure_shared_resources(clients: &AwsClients) {
    static READY: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    READY
        .get_or_init(|| async {
            let exists = clients.secrets.describe_secret().secret_id(TOKEN_KEY_SECRET).send().await.is_ok();
            if !exists {
                let _ = clients
                    .secrets
                    .create_secret()
                    .name(TOKEN_KEY_SECRET)
                    .secret_string(insomnia_scim::auth::TokenKey::generate_secret_string())
                    .send()
                    .await;
            }
            let _ = clients.ses.create_email_identity().email_identity(SENDER).send().await;
        })
        .await;
}

impl TestApp {
    /// Sends `request` to the routers in this process and drops it at its `nth` counted DynamoDB
    /// call (`timing`), as a Lambda timeout or crash would: `None` when it was cut off, the
    /// response when it finished first (no `nth` call was made).
    pub async fn cut_off(
        &self,
        request: axum::http::Request<axum::body::Body>,
        nth: usize,
        timing: CutTiming,
    ) -> Option<axum::response::Response> {
        use tower::ServiceExt;
        let router = api::all_routes(self.app.clone());
        // As `api::local_service` serves it: the connection's peer is the client's address.
        let mut request = request;
        request.extensions_mut().insert(axum::extract::ConnectInfo(std::net::SocketAddr::from(([127, 0, 0, 1], 9))));
        self.cuts.arm(nth, timing);
        let answered = tokio::select! {
            biased;
            () = self.cuts.struck.notified() => None,
            response = IN_CUT_REQUEST.scope((), router.oneshot(request)) => Some(response.expect("infallible router")),
        };
        self.cuts.disarm();
        answered
    }

    /// An Enterprise organization meeting every SCIM requirement, with SCIM enabled.
    pub async fn scim_org(&self) -> ScimOrg {
        self.scim_org_with_window(TokenWindow::Days90).await
    }

    pub async fn scim_org_with_window(&self, window: TokenWindow) -> ScimOrg {
        let id = self.create_org(Plan::Enterprise, None).await;
        let token = enable_scim(
            &self.store,
            &self.app.token_key,
            &id.scope(),
            IdentityProvider::Okta,
            window,
            self.app.clock.now(),
        )
        .await
        .expect("enable SCIM");
        ScimOrg { base: format!("{}/scim/v2/orgs/{id}", self.address), id, token: token.reveal().to_owned() }
    }

    pub async fn create_org(&self, plan: Plan, seats: Option<u32>) -> OrgId {
        let id = OrgId::parse(&format!("org-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])).unwrap();
        let now = self.app.clock.now();
        let mut org = Organization::new(id.clone(), "Test Org", plan, seats, now);
        org.verify_domain("example.com").unwrap();
        org.sso = Some(SsoConfig { idp: IdentityProvider::Okta, configured_at: now });
        self.store.create_organization(&org).await.expect("create org");
        id
    }

    pub async fn add_manual_member(
        &self,
        org: &OrgId,
        email: &str,
        role: MemberRole,
        passphrase: &str,
    ) -> MemberRecord {
        self.try_add_member_with(org, email, role, Some(passphrase)).await.expect("add member")
    }

    /// Adds a member whose account already exists or is created without a passphrase check.
    pub async fn try_add_manual_member(
        &self,
        org: &OrgId,
        email: &str,
        role: MemberRole,
    ) -> Result<MemberRecord, StoreError> {
        self.try_add_member_with(org, email, role, None).await
    }

    async fn try_add_member_with(
        &self,
        org: &OrgId,
        email: &str,
        role: MemberRole,
        passphrase: Option<&str>,
    ) -> Result<MemberRecord, StoreError> {
        let now = Utc::now();
        let email = EmailAddress::parse(email).unwrap();
        let member = MemberRecord::manual(email.clone(), role, now);
        let new_account = match self.store.account(&email).await? {
            Some(_) => None,
            None => Some(Account::with_passphrase_hash(
                email,
                Some(hash_passphrase(passphrase.unwrap_or("generated passphrase")).unwrap()),
                passphrase.is_none(),
                now,
            )),
        };
        self.store.add_manual_member(&org.scope(), &NewMember { member: member.clone(), new_account }).await?;
        Ok(member)
    }

    pub fn get(&self, url: &str, token: &str) -> reqwest::RequestBuilder {
        self.http.get(url).bearer_auth(token)
    }

    /// Waits for the request-log writes started so far.
    pub async fn flush_logs(&self) {
        self.app.logs.flush().await;
    }

    /// Every item of this test's table, as text (for "no secret stored" checks).
    pub async fn dump_table(&self) -> String {
        let output = self.store.client().scan().table_name(&self.table).send().await.expect("scan");
        format!("{:?}", output.items())
    }
}

/// Every email moto's SES accepted for `to` (To, Cc or Bcc; any case), oldest first. moto is
/// shared by the run, so tests use unique recipients. Read from the launcher's own endpoint
/// (infra/moto_server.py), not /moto-api/data.json, which serializes every DynamoDB item.
pub async fn sent_emails(to: &str) -> Vec<serde_json::Value> {
    let url = format!("{}/_tests/ses-messages.json", moto_endpoint());
    let data: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    let wanted = to.to_lowercase();
    data["ses"]["Message"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|message| {
            ["ToAddresses", "CcAddresses", "BccAddresses"].iter().any(|field| {
                message["destinations"][*field]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|a| a.as_str().is_some_and(|a| a.to_lowercase() == wanted))
            })
        })
        .cloned()
        .collect()
}

/// A mailer whose SES endpoint refuses connections (nothing listens on the port), without SDK
/// retries: every send fails the way a network outage does.
pub async fn unreachable_mailer() -> Mailer {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = aws_sdk_sesv2::config::Builder::from(&sdk_config().await)
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .retry_config(RetryConfig::disabled())
        .build();
    Mailer::new(aws_sdk_sesv2::Client::from_conf(config), SENDER)
}

/// An account as it is created with its member, before the welcome: no passphrase yet, one to
/// change, the welcome pending.
pub async fn create_pending_account(app: &TestApp, email: &EmailAddress) {
    let mut item = account_key(email);
    item.extend([
        ("email".to_owned(), AttributeValue::S(email.as_str().to_owned())),
        ("welcome_pending".to_owned(), AttributeValue::Bool(true)),
        ("must_change_passphrase".to_owned(), AttributeValue::Bool(true)),
        ("created_at".to_owned(), AttributeValue::S(Utc::now().to_rfc3339())),
    ]);
    app.store.client().put_item().table_name(&app.table).set_item(Some(item)).send().await.unwrap();
}

/// The key (`PK`, `SK`) of an account's item in the table.
pub fn account_key(email: &EmailAddress) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("PK".to_owned(), AttributeValue::S(insomnia_scim::store::keys::account_pk(&email.normalized()))),
        ("SK".to_owned(), AttributeValue::S("ACCOUNT".into())),
    ])
}

/// The tests act for an organization as its operator would (`AuthorizedOrg::for_operator`).
pub trait OperatorScope {
    fn scope(&self) -> insomnia_scim::auth::AuthorizedOrg;
}

impl OperatorScope for OrgId {
    fn scope(&self) -> insomnia_scim::auth::AuthorizedOrg {
        insomnia_scim::auth::AuthorizedOrg::for_operator(self.clone())
    }
}
