//! The HTTP server: the API of CONTRACT.md section 2, the inspector, static files and the
//! admin (fault injection) API.
//!
//! Invariants:
//! - Every response carries `Access-Control-Allow-Origin: *`, the `Access-Control-Expose-Headers`
//!   list and an `X-Request-Id`; every response of the API paths (`/collect/batch`, `/ct`),
//!   preflights and 405s included, carries the `X-RateLimit-*` headers.
//! - What a body means is decided by `scantrack_core::validate` only, the same code the
//!   snippet runs, so client and collector cannot disagree.
//! - Order for a POST: fault step (if scripted) -> rate limit -> body size -> UTF-8 -> the core's
//!   validation (JSON, site, event count, fields) -> sticky fault rejections -> store.
//! - A refused request (any status >= 400) is stored with its reason and shown live.
//!
//! Why a hand-written accept loop instead of `axum::serve`: fault injection must be able to
//! drop a connection without any response, which needs the connection future in our hands.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{any, get, post};
use axum::{Extension, Json, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use scantrack_core::json::Value;
use scantrack_core::validate::{validate_batch, validate_single, BatchError, Limits, LocPart};
use serde::Deserialize;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, Notify};
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;
use tower_http::services::ServeDir;

use crate::clock::Clock;
use crate::config::Config;
use crate::faults::{
    FaultPlan, FaultStep, FaultsRequest, RejectEvent, RequestLog, RequestRecord,
    MAX_LOGGED_BODY_BYTES,
};
use crate::ratelimit::{Decision, RateLimiter};
use crate::store::{
    EventFilter, NewBatch, NewEvent, NewRefused, Store, StoreError, StoredEvent, StoredRefused,
};

/// The headers a browser lets the client read (without this list `fetch` hides them).
pub const EXPOSE_HEADERS: &str =
    "Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, X-Request-Id";
/// How long a browser may cache a preflight answer.
pub const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);
/// Bodies above this are refused (413) without being read to the end, whatever the limits.
pub const HARD_BODY_CAP_BYTES: usize = 16 * 1024 * 1024;
/// The start of a refused request's body kept in the `refused` table.
pub const REFUSED_EXCERPT_BYTES: usize = 2048;
/// Live messages buffered per inspector tab before it is told it lagged.
const LIVE_CHANNEL_CAPACITY: usize = 1024;
/// Default number of rows the inspector API returns.
const DEFAULT_API_ROWS: usize = 200;

pub const PATH_BATCH: &str = "/collect/batch";
pub const PATH_SINGLE: &str = "/ct";

const X_RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const X_RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const X_RATELIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

const INSPECTOR_HTML: &str = include_str!("inspector.html");

/// Everything a request handler can reach.
pub struct AppState {
    pub config: Config,
    clock: Arc<dyn Clock>,
    pub store: Arc<Store>,
    limiter: Mutex<RateLimiter>,
    faults: Mutex<FaultPlan>,
    log: Mutex<RequestLog>,
    live: broadcast::Sender<Live>,
    ids: RequestIds,
}

/// One message of the inspector's live stream.
#[derive(Clone, Debug)]
struct Live {
    kind: &'static str,
    json: String,
}

/// The connection a request came on: the client's address, and a way to drop the connection.
#[derive(Clone, Debug)]
pub struct Conn {
    pub peer: SocketAddr,
    kill: Arc<Notify>,
}

#[derive(Clone, Debug)]
struct RequestId(String);

/// `X-Request-Id`s: a per-process prefix (start time in hex ms, so ids differ across restarts)
/// and a counter.
#[derive(Debug)]
struct RequestIds {
    prefix: String,
    next: AtomicU64,
}

impl RequestIds {
    fn new() -> Self {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        RequestIds {
            prefix: format!("{ms:x}"),
            next: AtomicU64::new(1),
        }
    }
    fn next(&self) -> String {
        format!(
            "{}-{:06}",
            self.prefix,
            self.next.fetch_add(1, Ordering::Relaxed)
        )
    }
}

/// Which API endpoint a request is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endpoint {
    Batch,
    Single,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl AppState {
    pub fn new(config: Config, clock: Arc<dyn Clock>, store: Store) -> Self {
        let (live, _) = broadcast::channel(LIVE_CHANNEL_CAPACITY);
        AppState {
            limiter: Mutex::new(RateLimiter::new(config.rate)),
            log: Mutex::new(RequestLog::new(config.request_log_capacity)),
            config,
            clock,
            store: Arc::new(store),
            faults: Mutex::new(FaultPlan::default()),
            live,
            ids: RequestIds::new(),
        }
    }

    /// The limits in force: the flags, unless the fault plan lowers them.
    fn limits(&self) -> Limits {
        let plan = lock(&self.faults);
        Limits {
            max_body_bytes: plan
                .max_body_bytes
                .unwrap_or(self.config.limits.max_body_bytes),
            max_events: plan.max_events.unwrap_or(self.config.limits.max_events),
        }
    }

    fn publish<T: serde::Serialize>(&self, kind: &'static str, item: &T) {
        // Serialising costs time on the hot path: only when an inspector is watching.
        if self.live.receiver_count() > 0 {
            if let Ok(json) = serde_json::to_string(item) {
                let _ = self.live.send(Live { kind, json });
            }
        }
    }
}

/// A running collector.
pub struct Collector {
    addr: SocketAddr,
    state: Arc<AppState>,
    task: JoinHandle<()>,
}

/// Why the collector could not start.
#[derive(Debug)]
pub enum StartError {
    Bind(SocketAddr, std::io::Error),
    Store(StoreError),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Bind(addr, e) => write!(
                f,
                "cannot listen on {addr}: {e} (another collector running? try --listen 127.0.0.1:0)"
            ),
            StartError::Store(e) => write!(f, "cannot open the database: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

impl Collector {
    /// The address actually bound (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }
    /// Runs until the accept loop ends (it does not end by itself).
    pub async fn wait(&mut self) {
        let _ = (&mut self.task).await;
    }
    /// Stops accepting, drops every open connection and closes the database (once in-flight
    /// blocking writes have finished).
    pub async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Binds, opens the database and starts serving in the background.
pub async fn start(config: Config, clock: Arc<dyn Clock>) -> Result<Collector, StartError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| StartError::Bind(config.listen, e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| StartError::Bind(config.listen, e))?;
    let store = Store::open(&config.db).map_err(StartError::Store)?;
    let state = Arc::new(AppState::new(config, clock, store));
    let app = router(state.clone());
    let task = tokio::spawn(accept_loop(listener, app));
    Ok(Collector { addr, state, task })
}

async fn accept_loop(listener: TcpListener, app: Router) {
    // Owning the connections here means aborting this task drops them all (`Collector::stop`).
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(serve_connection(stream, peer, app.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    eprintln!("scantrack-collector: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_connection(stream: TcpStream, peer: SocketAddr, app: Router) {
    let _ = stream.set_nodelay(true);
    let kill = Arc::new(Notify::new());
    let conn = Conn {
        peer,
        kill: kill.clone(),
    };
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(conn.clone());
            app.clone().oneshot(req.map(Body::new))
        });
    let http = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = http => {}
        // Fault injection: drop the connection with no response at all.
        _ = kill.notified() => {}
    }
}

/// The whole application.
pub fn router(state: Arc<AppState>) -> Router {
    let admin = Router::new()
        .route(
            "/__admin/faults",
            get(get_faults).post(post_faults).delete(delete_faults),
        )
        .route("/__admin/requests", get(get_requests))
        .route("/__admin/reset", post(post_reset))
        .route_layer(middleware::from_fn_with_state(state.clone(), admin_guard));
    Router::new()
        .route(PATH_BATCH, any(collect_batch))
        .route(PATH_SINGLE, any(collect_single))
        .route("/", get(|| async { Html(INSPECTOR_HTML) }))
        .route("/api/events", get(api_events))
        .route("/api/refused", get(api_refused))
        .route("/api/stats", get(api_stats))
        .route("/__events", get(live_stream))
        .merge(admin)
        .nest_service("/demo", ServeDir::new(&state.config.www))
        .nest_service("/dist", ServeDir::new(&state.config.dist))
        .fallback(|| async { reply_json(StatusCode::NOT_FOUND, json!({"detail": "not found"})) })
        .layer(middleware::from_fn_with_state(state.clone(), envelope))
        .with_state(state)
}

fn is_api_path(path: &str) -> bool {
    path == PATH_BATCH || path == PATH_SINGLE
}

fn client_ip(conn: Option<&Conn>) -> IpAddr {
    conn.map(|c| c.peer.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// Request ids, preflights, CORS and the rate-limit headers of every API response.
async fn envelope(State(state): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let rid = state.ids.next();
    req.extensions_mut().insert(RequestId(rid.clone()));
    let path = req.uri().path().to_owned();
    let api = is_api_path(&path);
    let ip = client_ip(req.extensions().get::<Conn>());

    let mut resp = if path == "/demo" || path == "/dist" {
        // Relative links in the served pages need the trailing slash.
        Redirect::permanent(&format!("{path}/")).into_response()
    } else if req.method() == Method::OPTIONS {
        let mut resp = StatusCode::NO_CONTENT.into_response();
        let h = resp.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Content-Type"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from(PREFLIGHT_MAX_AGE.as_secs()),
        );
        if api {
            let decision = lock(&state.limiter).peek(ip, state.clock.now());
            add_rate_headers(h, &decision);
            add_common_headers(h, &rid);
            let record = record_for(&state, &req, &rid, ip);
            log_response(&state, record, &resp, String::new(), started);
        }
        resp
    } else {
        next.run(req).await
    };
    let h = resp.headers_mut();
    // "Headers on every response": the bucket's state (without taking a token) on responses
    // that did not already report it, inspector and static files included.
    if !h.contains_key(X_RATELIMIT_LIMIT) {
        let decision = lock(&state.limiter).peek(ip, state.clock.now());
        add_rate_headers(h, &decision);
    }
    if path.starts_with("/dist/") || path.starts_with("/demo/") {
        // Development server: a rebuilt dist/ must be picked up on the next reload.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    add_common_headers(h, &rid);
    resp
}

fn add_common_headers(h: &mut HeaderMap, rid: &str) {
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
    if !h.contains_key(X_REQUEST_ID) {
        if let Ok(v) = HeaderValue::from_str(rid) {
            h.insert(X_REQUEST_ID, v);
        }
    }
}

fn add_rate_headers(h: &mut HeaderMap, d: &Decision) {
    h.insert(X_RATELIMIT_LIMIT, HeaderValue::from(d.limit));
    h.insert(X_RATELIMIT_REMAINING, HeaderValue::from(d.remaining));
    h.insert(X_RATELIMIT_RESET, HeaderValue::from(d.reset_unix_secs));
}

fn header_string(h: &HeaderMap, name: HeaderName) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn record_for(state: &AppState, req: &Request, rid: &str, ip: IpAddr) -> RequestRecord {
    RequestRecord {
        seq: 0,
        request_id: rid.to_owned(),
        received_at: state.clock.now().0,
        method: req.method().to_string(),
        path: req.uri().path().to_owned(),
        client_ip: ip.to_string(),
        content_type: header_string(req.headers(), header::CONTENT_TYPE),
        origin: header_string(req.headers(), header::ORIGIN),
        body_bytes: 0,
        body: String::new(),
        status: None,
        response_headers: BTreeMap::new(),
        response_body: String::new(),
        fault: None,
        duration_ms: 0,
    }
}

fn log_response(
    state: &AppState,
    mut record: RequestRecord,
    resp: &Response,
    body: String,
    started: Instant,
) {
    record.status = Some(resp.status().as_u16());
    record.response_headers = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    record.response_body = body;
    record.duration_ms = started.elapsed().as_millis() as u64;
    lock(&state.log).push(record);
}

/// What the API answers, before it becomes a `Response`.
struct Reply {
    status: StatusCode,
    body: String,
    content_type: &'static str,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// For a refusal: one line saying why, for the refused table and the inspector.
    reason: Option<String>,
}

const JSON_TYPE: &str = "application/json";

impl Reply {
    fn json(status: u16, body: String) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body,
            content_type: JSON_TYPE,
            headers: Vec::new(),
            reason: None,
        }
    }
    fn detail(status: u16, detail: &str) -> Reply {
        Reply::json(status, json!({ "detail": detail }).to_string())
    }
    fn because(mut self, reason: impl Into<String>) -> Reply {
        self.reason = Some(reason.into());
        self
    }
    fn rate(mut self, d: &Decision) -> Reply {
        let mut h = HeaderMap::new();
        add_rate_headers(&mut h, d);
        self.headers
            .extend(h.into_iter().filter_map(|(k, v)| Some((k?, v))));
        self
    }
    fn set_header(&mut self, name: HeaderName, value: HeaderValue) {
        self.headers.retain(|(k, _)| *k != name);
        self.headers.push((name, value));
    }
    fn to_response(&self, rid: &str) -> Response {
        let mut resp = Response::new(Body::from(self.body.clone()));
        *resp.status_mut() = self.status;
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        for (k, v) in &self.headers {
            h.insert(k.clone(), v.clone());
        }
        add_common_headers(h, rid);
        resp
    }
}

fn reply_json(status: StatusCode, body: serde_json::Value) -> Response {
    (status, Json(body)).into_response()
}

async fn collect_batch(
    State(state): State<Arc<AppState>>,
    Extension(conn): Extension<Conn>,
    Extension(rid): Extension<RequestId>,
    req: Request,
) -> Response {
    handle_api(state, conn, rid, Endpoint::Batch, req).await
}

async fn collect_single(
    State(state): State<Arc<AppState>>,
    Extension(conn): Extension<Conn>,
    Extension(rid): Extension<RequestId>,
    req: Request,
) -> Response {
    handle_api(state, conn, rid, Endpoint::Single, req).await
}

/// Why a body could not be read.
enum BodyError {
    /// Larger than `HARD_BODY_CAP_BYTES` (declared or seen).
    TooLarge,
    /// The client went away or sent a broken body.
    Unreadable,
}

async fn read_body(body: Body, headers: &HeaderMap) -> Result<Bytes, BodyError> {
    let declared = header_string(headers, header::CONTENT_LENGTH).and_then(|s| s.parse().ok());
    if declared.is_some_and(|n: usize| n > HARD_BODY_CAP_BYTES) {
        return Err(BodyError::TooLarge);
    }
    axum::body::to_bytes(body, HARD_BODY_CAP_BYTES)
        .await
        .map_err(|e| {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if too_large {
                BodyError::TooLarge
            } else {
                BodyError::Unreadable
            }
        })
}

fn excerpt(body: &[u8], max: usize) -> String {
    let cut = &body[..body.len().min(max)];
    String::from_utf8_lossy(cut).into_owned()
}

async fn handle_api(
    state: Arc<AppState>,
    conn: Conn,
    rid: RequestId,
    endpoint: Endpoint,
    req: Request,
) -> Response {
    let started = Instant::now();
    let ip = conn.peer.ip();
    let now = state.clock.now();
    let mut record = record_for(&state, &req, &rid.0, ip);
    let (parts, body) = req.into_parts();

    let mut body_bytes = Bytes::new();
    let reply = if parts.method != Method::POST {
        let mut r = Reply::detail(
            405,
            &format!("method {} not allowed; use POST", parts.method),
        )
        .because(format!("method {} not allowed", parts.method));
        r.set_header(header::ALLOW, HeaderValue::from_static("POST, OPTIONS"));
        r
    } else {
        let body = read_body(body, &parts.headers).await;
        if let Ok(b) = &body {
            record.body_bytes = b.len();
            record.body = excerpt(b, MAX_LOGGED_BODY_BYTES);
            body_bytes = b.clone();
        }
        let step = lock(&state.faults).next_step();
        if let Some(step) = &step {
            record.fault = Some(step.describe());
            if let Some(ms) = step.delay_ms {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            if step.drop {
                record.duration_ms = started.elapsed().as_millis() as u64;
                lock(&state.log).push(record);
                conn.kill.notify_one();
                return std::future::pending().await;
            }
        }
        match step {
            Some(step) if step.status.is_some() || step.reject_event.is_some() => {
                scripted(&state, ip, now, &step, endpoint)
            }
            step => {
                let mut reply = process(&state, ip, now, &rid.0, endpoint, body).await;
                if let Some(step) = step {
                    apply_step_headers(&mut reply, &step);
                }
                reply
            }
        }
    };

    if let Some(reason) = &reply.reason {
        let refused = NewRefused {
            received_at: now.0,
            request_id: rid.0.clone(),
            client_ip: ip.to_string(),
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            status: reply.status.as_u16(),
            reason: reason.clone(),
            response_body: reply.body.clone(),
            body_bytes: body_bytes.len(),
            body_excerpt: excerpt(&body_bytes, REFUSED_EXCERPT_BYTES),
        };
        let store = state.store.clone();
        match tokio::task::spawn_blocking(move || store.insert_refused(&refused)).await {
            Ok(Ok(stored)) => state.publish("refused", &stored),
            Ok(Err(e)) => eprintln!("scantrack-collector: could not record a refusal: {e}"),
            Err(e) => eprintln!("scantrack-collector: could not record a refusal: {e}"),
        }
    }

    let resp = reply.to_response(&rid.0);
    log_response(&state, record, &resp, reply.body, started);
    resp
}

/// A scripted answer: replaces processing; takes no rate-limit token, stores nothing.
fn scripted(
    state: &AppState,
    ip: IpAddr,
    now: scantrack_core::Millis,
    step: &FaultStep,
    endpoint: Endpoint,
) -> Reply {
    let decision = lock(&state.limiter).peek(ip, now);
    let status = step.status.unwrap_or(422);
    let reject = step.reject_event.clone().or_else(|| {
        (status == 422 && step.body.is_none())
            .then(|| serde_json::from_str::<RejectEvent>("{}").expect("defaults deserialize"))
    });
    let mut reply = match (&step.body, reject) {
        (Some(serde_json::Value::String(text)), _) => {
            let mut r = Reply::json(status, text.clone());
            r.content_type = "text/plain; charset=utf-8";
            r
        }
        (Some(v), _) => Reply::json(status, v.to_string()),
        (None, Some(rej)) => {
            let loc = match endpoint {
                Endpoint::Batch => json!(["body", "events", rej.index, rej.field]),
                Endpoint::Single => json!(["body", rej.field]),
            };
            Reply::json(
                status,
                json!({"detail": [{"loc": loc, "msg": rej.msg, "type": rej.kind}]}).to_string(),
            )
        }
        (None, None) => match status {
            429 => Reply::detail(429, "rate limit exceeded"),
            413 => Reply::detail(413, "payload too large"),
            s => Reply::detail(s, &format!("injected fault: status {s}")),
        },
    }
    .rate(&decision);
    if status >= 400 {
        reply.reason = Some(step.describe());
    }
    apply_step_headers(&mut reply, step);
    reply
}

fn apply_step_headers(reply: &mut Reply, step: &FaultStep) {
    if let Some(ra) = &step.retry_after {
        if let Ok(v) = HeaderValue::from_str(&ra.header_value()) {
            reply.set_header(header::RETRY_AFTER, v);
        }
    }
    for (k, v) in &step.headers {
        // Names and values were checked when the plan was posted.
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k.as_str()), HeaderValue::from_str(v)) {
            reply.set_header(k, v);
        }
    }
}

/// The collector's own processing of a POST.
async fn process(
    state: &Arc<AppState>,
    ip: IpAddr,
    now: scantrack_core::Millis,
    rid: &str,
    endpoint: Endpoint,
    body: Result<Bytes, BodyError>,
) -> Reply {
    let decision = lock(&state.limiter).check(ip, now);
    if !decision.allowed {
        let secs = decision.retry_after_secs.unwrap_or(1);
        let reason = format!(
            "rate limit exceeded: {} requests per minute per IP; retry after {secs} s",
            decision.limit
        );
        let mut reply = Reply::detail(429, "rate limit exceeded")
            .rate(&decision)
            .because(reason);
        // Retry-After only on the 429 itself (a peek at an empty bucket does not add it).
        reply.set_header(header::RETRY_AFTER, HeaderValue::from(secs));
        return reply;
    }
    let limits = state.limits();
    let reply = match body {
        Err(BodyError::TooLarge) => Reply::detail(413, "payload too large").because(format!(
            "body above the hard cap of {HARD_BODY_CAP_BYTES} bytes (limit {})",
            limits.max_body_bytes
        )),
        Err(BodyError::Unreadable) => Reply::detail(400, "request body could not be read")
            .because("request body could not be read"),
        Ok(body) => validate_and_store(state, now, rid, endpoint, &body, &limits).await,
    };
    reply.rate(&decision)
}

/// What the core's validation said, turned into storable events; computed under
/// `catch_unwind` so that a bug in validation is a 500 for one request, not a dead connection.
enum Checked {
    Refused(Reply),
    Valid {
        site_id: String,
        sent_at: Option<u64>,
        events: Vec<NewEvent>,
        ids: Vec<Option<String>>,
    },
}

async fn validate_and_store(
    state: &Arc<AppState>,
    now: scantrack_core::Millis,
    rid: &str,
    endpoint: Endpoint,
    body: &[u8],
    limits: &Limits,
) -> Reply {
    if body.len() > limits.max_body_bytes {
        return Reply::detail(413, "payload too large").because(format!(
            "body of {} bytes is above the limit of {} bytes",
            body.len(),
            limits.max_body_bytes
        ));
    }
    let text = match std::str::from_utf8(body) {
        Ok(t) => t,
        Err(e) => {
            let detail = format!(
                "body is not UTF-8 text (invalid byte at {})",
                e.valid_up_to()
            );
            return Reply::detail(400, &detail).because(detail);
        }
    };
    let config = &state.config;
    let checked = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let active = |id: &str| config.site_is_active(id);
        let result = match endpoint {
            Endpoint::Batch => validate_batch(text, limits, &active),
            Endpoint::Single => validate_single(text, limits, &active),
        };
        match result {
            Err(e) => Checked::Refused(refusal(&e, body.len(), limits)),
            Ok(valid) => Checked::Valid {
                ids: valid
                    .events
                    .iter()
                    .map(|e| string_field(e, "event_id"))
                    .collect(),
                events: valid.events.iter().map(new_event).collect(),
                site_id: valid.site_id,
                sent_at: valid.sent_at.map(|t| t.0),
            },
        }
    }));
    let (site_id, sent_at, events, ids) = match checked {
        Err(_) => {
            return Reply::detail(500, "internal error while validating")
                .because("internal error while validating (see the collector's stderr)")
        }
        Ok(Checked::Refused(reply)) => return reply,
        Ok(Checked::Valid {
            site_id,
            sent_at,
            events,
            ids,
        }) => (site_id, sent_at, events, ids),
    };

    let rejected = lock(&state.faults).reject_event_ids.clone();
    if !rejected.is_empty() {
        let detail: Vec<_> = ids
            .iter()
            .enumerate()
            .filter(|(_, id)| id.as_ref().is_some_and(|id| rejected.iter().any(|r| r == id)))
            .map(|(i, _)| {
                let loc = match endpoint {
                    Endpoint::Batch => json!(["body", "events", i, "event_id"]),
                    Endpoint::Single => json!(["body", "event_id"]),
                };
                json!({"loc": loc, "msg": "rejected by fault injection", "type": "value_error.injected"})
            })
            .collect();
        if !detail.is_empty() {
            let n = detail.len();
            return Reply::json(422, json!({ "detail": detail }).to_string()).because(format!(
                "injected: {n} event(s) rejected by reject_event_ids"
            ));
        }
    }

    let batch = NewBatch {
        site_id,
        sent_at,
        received_at: now.0,
        request_id: rid.to_owned(),
        events,
    };
    let store = state.store.clone();
    match tokio::task::spawn_blocking(move || store.insert_batch(&batch)).await {
        Ok(Ok(inserted)) => {
            for e in &inserted.accepted {
                state.publish("accepted", e);
            }
            let body =
                json!({"accepted": inserted.accepted.len(), "duplicates": inserted.duplicates});
            Reply::json(200, body.to_string())
        }
        Ok(Err(e)) => {
            eprintln!("scantrack-collector: {e}");
            Reply::detail(500, "storage failed").because(e.to_string())
        }
        Err(e) => Reply::detail(500, "storage failed").because(e.to_string()),
    }
}

fn string_field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn new_event(v: &Value) -> NewEvent {
    NewEvent {
        event_id: string_field(v, "event_id"),
        scan_session_id: string_field(v, "scan_session_id"),
        event_name: string_field(v, "event_name"),
        json: v.to_json(),
    }
}

/// The response and the one-line reason for a validation failure.
fn refusal(e: &BatchError, body_len: usize, limits: &Limits) -> Reply {
    let reason = match e {
        BatchError::BadRequest { detail } => detail.clone(),
        BatchError::TooLarge if body_len > limits.max_body_bytes => format!(
            "body of {body_len} bytes is above the limit of {} bytes",
            limits.max_body_bytes
        ),
        BatchError::TooLarge => {
            format!("more than {} events in one request", limits.max_events)
        }
        BatchError::Invalid(issues) => issues
            .iter()
            .map(|i| format!("{}: {}", loc_text(&i.loc), i.msg))
            .collect::<Vec<_>>()
            .join("; "),
    };
    Reply::json(e.status(), e.to_value().to_json()).because(reason)
}

/// `["body", "events", 3, "scan_session_id"]` as `events[3].scan_session_id`.
fn loc_text(loc: &[LocPart]) -> String {
    let mut out = String::new();
    for part in loc
        .iter()
        .skip_while(|p| matches!(p, LocPart::Key(k) if k == "body"))
    {
        match part {
            LocPart::Index(i) => out.push_str(&format!("[{i}]")),
            LocPart::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
        }
    }
    if out.is_empty() {
        "body".into()
    } else {
        out
    }
}

// ---- inspector API ----

#[derive(Debug, Default, Deserialize)]
struct EventsQuery {
    session: Option<String>,
    name: Option<String>,
    site: Option<String>,
    before: Option<i64>,
    limit: Option<usize>,
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn store_error(e: impl std::fmt::Display) -> Response {
    reply_json(
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({"detail": e.to_string()}),
    )
}

async fn api_events(State(state): State<Arc<AppState>>, Query(q): Query<EventsQuery>) -> Response {
    let filter = EventFilter {
        site_id: non_empty(q.site),
        session: non_empty(q.session),
        name: non_empty(q.name),
        before_id: q.before,
        limit: q.limit.unwrap_or(DEFAULT_API_ROWS),
    };
    let store = state.store.clone();
    match tokio::task::spawn_blocking(move || store.events(&filter)).await {
        // Serialised as structs, not through `json!`, so each event keeps its key order.
        Ok(Ok(events)) => Json(EventsPage { events }).into_response(),
        Ok(Err(e)) => store_error(e),
        Err(e) => store_error(e),
    }
}

#[derive(serde::Serialize)]
struct EventsPage {
    events: Vec<StoredEvent>,
}

#[derive(serde::Serialize)]
struct RefusedPage {
    refused: Vec<StoredRefused>,
}

#[derive(Debug, Default, Deserialize)]
struct LimitQuery {
    limit: Option<usize>,
}

async fn api_refused(State(state): State<Arc<AppState>>, Query(q): Query<LimitQuery>) -> Response {
    let store = state.store.clone();
    let limit = q.limit.unwrap_or(DEFAULT_API_ROWS);
    match tokio::task::spawn_blocking(move || store.refused(limit)).await {
        Ok(Ok(refused)) => Json(RefusedPage { refused }).into_response(),
        Ok(Err(e)) => store_error(e),
        Err(e) => store_error(e),
    }
}

async fn api_stats(State(state): State<Arc<AppState>>) -> Response {
    let store = state.store.clone();
    let counts = match tokio::task::spawn_blocking(move || store.counts()).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return store_error(e),
        Err(e) => return store_error(e),
    };
    let c = &state.config;
    Json(json!({
        "events": counts.0,
        "refused": counts.1,
        "db": c.db.to_string(),
        "sites": c.sites,
        "inactive_sites": c.inactive_sites,
        "max_body_bytes": c.limits.max_body_bytes,
        "max_events": c.limits.max_events,
        "rate_per_minute": c.rate.per_minute,
        "rate_grace": c.rate.grace,
        "admin": c.admin,
    }))
    .into_response()
}

/// Server-sent events: `accepted` (a stored event, as `/api/events` shows it), `refused` (as
/// `/api/refused` shows it) and `lagged` (the tab missed messages: reload from the API).
async fn live_stream(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let rx = state.live.subscribe();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        let event = match rx.recv().await {
            Ok(live) => SseEvent::default().event(live.kind).data(live.json),
            Err(broadcast::error::RecvError::Lagged(n)) => {
                SseEvent::default().event("lagged").data(n.to_string())
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok::<_, Infallible>(event), rx))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

// ---- admin API ----

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_loopback(),
        IpAddr::V6(a) => a.is_loopback() || a.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    }
}

async fn admin_guard(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if !state.config.admin {
        return reply_json(
            StatusCode::NOT_FOUND,
            json!({"detail": "the admin API is disabled (--no-admin)"}),
        );
    }
    if !is_loopback(client_ip(req.extensions().get::<Conn>())) {
        return reply_json(
            StatusCode::FORBIDDEN,
            json!({"detail": "the admin API answers loopback clients only"}),
        );
    }
    next.run(req).await
}

async fn get_faults(State(state): State<Arc<AppState>>) -> Response {
    Json(lock(&state.faults).clone()).into_response()
}

async fn post_faults(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let text = String::from_utf8_lossy(&body);
    let text = if text.trim().is_empty() { "{}" } else { &text };
    let req = match FaultsRequest::from_json(text) {
        Ok(r) => r,
        Err(e) => {
            return reply_json(
                StatusCode::BAD_REQUEST,
                json!({"detail": format!("fault plan is not valid: {e}")}),
            )
        }
    };
    for step in &req.plan.responses {
        for (k, v) in &step.headers {
            if HeaderName::try_from(k.as_str()).is_err() || HeaderValue::from_str(v).is_err() {
                return reply_json(
                    StatusCode::BAD_REQUEST,
                    json!({"detail": format!("fault plan is not valid: header '{k}: {v}'")}),
                );
            }
        }
        if let Some(s) = step.status {
            if !(200..=599).contains(&s) {
                return reply_json(
                    StatusCode::BAD_REQUEST,
                    json!({"detail": format!("fault plan is not valid: status {s} is not 200..=599")}),
                );
            }
        }
    }
    let mut plan = lock(&state.faults);
    plan.apply(req);
    Json(plan.clone()).into_response()
}

async fn delete_faults(State(state): State<Arc<AppState>>) -> Response {
    *lock(&state.faults) = FaultPlan::default();
    Json(FaultPlan::default()).into_response()
}

#[derive(Debug, Default, Deserialize)]
struct RequestsQuery {
    since: Option<u64>,
    path: Option<String>,
}

async fn get_requests(
    State(state): State<Arc<AppState>>,
    Query(q): Query<RequestsQuery>,
) -> Response {
    let mut records = lock(&state.log).since(q.since.unwrap_or(0));
    if let Some(path) = non_empty(q.path) {
        records.retain(|r| r.path == path);
    }
    Json(json!({ "requests": records })).into_response()
}

#[derive(Debug, Default, Deserialize)]
struct ResetQuery {
    store: Option<bool>,
}

/// Clears the fault plan, the request log and every rate-limit bucket; with `?store=true`
/// also deletes every stored event and refusal.
async fn post_reset(State(state): State<Arc<AppState>>, Query(q): Query<ResetQuery>) -> Response {
    *lock(&state.faults) = FaultPlan::default();
    lock(&state.log).clear();
    lock(&state.limiter).clear();
    let wipe = q.store.unwrap_or(false);
    if wipe {
        let store = state.store.clone();
        match tokio::task::spawn_blocking(move || store.clear()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return store_error(e),
            Err(e) => return store_error(e),
        }
    }
    Json(json!({"reset": true, "store_cleared": wipe})).into_response()
}
