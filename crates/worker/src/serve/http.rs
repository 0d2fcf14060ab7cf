//! The worker's HTTP API (axum on the worker's tokio runtime): liveness and readiness for
//! Kubernetes, each tenant's agents as the router sees them, and presence updates in Microsoft
//! Graph's shapes, so a Graph change-notification relay or a poller of
//! `getPresencesByUserId` can feed routing directly.
//!
//! | method | path | body | answer |
//! |---|---|---|---|
//! | GET | `/healthz` | | 200 `ok` |
//! | GET | `/readyz` | | 200 `ready`; 503 `not ready: REASON` while models load, while draining, or at the process's call limit |
//! | GET | `/metrics` | | Prometheus text format 0.0.4 (see [`super::telemetry`]) |
//! | GET | `/v1/calls` | | 200, JSON array of the live calls ([`super::telemetry::calls::CallView`]) |
//! | GET | `/v1/calls/{call_id}` | | 200, one call, live or ended in the last 5 minutes: state, transcript so far, intent, decision, quality |
//! | GET | `/v1/tenants/{tenant}/agents` | | 200, JSON array of [`routing::AgentStatus`] |
//! | PUT, POST | `/v1/tenants/{tenant}/agents/{agent}/presence` | Graph presence `{"availability","activity"}` | 204 |
//! | POST | `/v1/tenants/{tenant}/presence` | `{"value":[{"id","availability","activity"}, ...]}`, an array, or one object | 200, [`BatchResult`] |
//!
//! `{agent}` and a batch item's `id` are the agent's configured id or its Teams user id.
//! Errors are JSON `{"error": code, "message": text}`: 404 `unknown_tenant` / `unknown_agent` / `unknown_call`,
//! 400 `bad_json` / `unknown_availability` / `bad_presence`, 413 for a body over the limit.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Json;
use routing::{AgentStatus, PresenceUpdate, Router, RoutingError};

/// Largest body of a single presence update: Graph's presence document is a few hundred bytes.
pub const PRESENCE_BODY_LIMIT: usize = 16 * 1024;

/// Largest batch body: room for Graph's `getPresencesByUserId` maximum of 650 users.
pub const BATCH_BODY_LIMIT: usize = 256 * 1024;

/// What the handlers share. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HttpState {
    /// Each tenant's router, by tenant name.
    pub routers: Arc<HashMap<String, Arc<Router>>>,
    ready: Arc<AtomicBool>,
    /// Set at SIGTERM: `/readyz` says not ready from then on.
    draining: Arc<AtomicBool>,
    /// Metrics and the call table (`serve` shares the event sink's; standalone, an empty one).
    pub telemetry: Arc<super::telemetry::Telemetry>,
    /// The process's call limit, past which `/readyz` says not ready.
    pub max_calls: Option<u32>,
    /// Media streams and WebRTC calls (`serve` sets it; the presence API runs without).
    pub media: Option<MediaState>,
}

/// What the media stream and WebRTC handlers need.
#[derive(Debug, Clone)]
pub struct MediaState {
    pub streams: super::stream::StreamCalls,
    pub sink: Arc<super::events::EventSink>,
    pub auth: Arc<super::auth::MediaAuth>,
    /// The address WebRTC binds its media on (the RTP address of the configuration).
    pub media_ip: std::net::IpAddr,
}

/// The answer to a batch presence update: one result per item, in order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BatchResult {
    /// Items applied.
    pub updated: usize,
    /// Items refused.
    pub failed: usize,
    pub results: Vec<ItemResult>,
}

/// One batch item's outcome.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ItemResult {
    /// The item's `id` as given (absent if it had none).
    pub id: Option<String>,
    /// HTTP status this item alone would have had: 204, 400 or 404.
    pub status: u16,
    /// The configured agent id updated, on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// Error code, on failure (as in the error bodies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl HttpState {
    /// State over `routers`; not ready until [`HttpState::set_ready`].
    pub fn new(routers: HashMap<String, Arc<Router>>) -> Self {
        Self {
            routers: Arc::new(routers),
            ready: Arc::new(AtomicBool::new(false)),
            draining: Arc::new(AtomicBool::new(false)),
            telemetry: Arc::default(),
            max_calls: None,
            media: None,
        }
    }

    /// Metrics and calls from `telemetry`, with readiness lost at `max_calls` live calls.
    pub fn with_telemetry(mut self, telemetry: Arc<super::telemetry::Telemetry>, max_calls: u32) -> Self {
        self.telemetry = telemetry;
        self.max_calls = Some(max_calls);
        self
    }

    /// Adds the media routes: `/v1/media/{acs,twilio,relay}` WebSockets, WebRTC and its page.
    pub fn with_media(mut self, media: MediaState) -> Self {
        self.media = Some(media);
        self
    }

    /// What `/readyz` reports: set once models are loaded and listeners bound; cleared when
    /// draining, so Kubernetes sends no new work.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    /// The drain has begun: not ready from now on.
    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
        self.telemetry.set_draining(true);
    }

    pub fn is_ready(&self) -> bool {
        self.not_ready_because().is_none()
    }

    /// Why `/readyz` says not ready, if it does.
    pub fn not_ready_because(&self) -> Option<String> {
        if !self.ready.load(Ordering::Relaxed) {
            return Some("starting".into());
        }
        if self.draining.load(Ordering::Relaxed) {
            return Some("draining".into());
        }
        let live = self.telemetry.live_count(None);
        match self.max_calls {
            Some(max) if live >= max as usize => Some(format!("at the call limit ({live} of {max})")),
            _ => None,
        }
    }

    fn tenant(&self, tenant: &str) -> Result<&Router, ApiError> {
        self.routers
            .get(tenant)
            .map(|r| &**r)
            .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "unknown_tenant", format!("unknown tenant {:?}", clip(tenant))))
    }
}

/// The API's routes over `state`.
pub fn router(state: HttpState) -> axum::Router {
    let media = state.media.clone();
    let api = axum::Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/calls", get(calls))
        .route("/v1/calls/{call_id}", get(call))
        .route("/v1/tenants/{tenant}/agents", get(agents))
        .route(
            "/v1/tenants/{tenant}/agents/{agent}/presence",
            put(agent_presence).post(agent_presence).layer(DefaultBodyLimit::max(PRESENCE_BODY_LIMIT)),
        )
        .route("/v1/tenants/{tenant}/presence", post(batch_presence).layer(DefaultBodyLimit::max(BATCH_BODY_LIMIT)))
        .fallback(not_found)
        .with_state(state);
    match media {
        Some(media) => api.merge(super::ws::router(media.clone())).merge(super::webrtc::router(media)),
        None => api,
    }
}

/// Serves the API on `listener` until the process stops (or the listener fails).
pub async fn serve(listener: tokio::net::TcpListener, state: HttpState) -> std::io::Result<()> {
    // The peer's address decides whether a tokenless media stream is allowed (loopback).
    axum::serve(listener, router(state).into_make_service_with_connect_info::<std::net::SocketAddr>()).await
}

/// Serves until `shutdown` completes, then lets requests in progress finish.
pub async fn serve_with_shutdown(
    listener: tokio::net::TcpListener,
    state: HttpState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state).into_make_service_with_connect_info::<std::net::SocketAddr>()).with_graceful_shutdown(shutdown).await
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<HttpState>) -> (StatusCode, String) {
    match state.not_ready_because() {
        None => (StatusCode::OK, "ready".into()),
        Some(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {why}")),
    }
}

async fn metrics(State(state): State<HttpState>) -> impl IntoResponse {
    let text = state.telemetry.render(state.is_ready());
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text)
}

async fn calls(State(state): State<HttpState>) -> Json<Vec<super::telemetry::calls::CallView>> {
    Json(state.telemetry.live_calls())
}

async fn call(State(state): State<HttpState>, path: Result<Path<String>, PathRejection>) -> Result<Json<super::telemetry::calls::CallView>, ApiError> {
    let Path(call_id) = path?;
    state
        .telemetry
        .call(&call_id)
        .map(Json)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "unknown_call", format!("no call {:?} (ended more than 5 minutes ago, or never here)", clip(&call_id))))
}

async fn agents(
    State(state): State<HttpState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Vec<AgentStatus>>, ApiError> {
    let Path(tenant) = path?;
    Ok(Json(state.tenant(&tenant)?.agents(Instant::now())))
}

async fn agent_presence(
    State(state): State<HttpState>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let Path((tenant, agent)) = path?;
    let router = state.tenant(&tenant)?;
    let body = body?;
    let mut update: PresenceUpdate = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_json", format!("not a Graph presence document: {e}")))?;
    // The path names the agent; an `id` in the body (Graph includes one) does not override it.
    update.id = Some(agent);
    router.apply_presence_update(&update, Instant::now())?;
    Ok(StatusCode::NO_CONTENT)
}

async fn batch_presence(
    State(state): State<HttpState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<BatchResult>, ApiError> {
    let Path(tenant) = path?;
    let router = state.tenant(&tenant)?;
    let updates = PresenceUpdate::parse_batch(&body?)?;
    let now = Instant::now();
    let results: Vec<ItemResult> = updates
        .iter()
        .map(|u| {
            let id = u.id.as_deref().map(clip);
            match router.apply_presence_update(u, now) {
                Ok(agent) => ItemResult { id, status: 204, agent: Some(agent), error: None, message: None },
                Err(e) => {
                    let e = ApiError::from(e);
                    ItemResult { id, status: e.status.as_u16(), agent: None, error: Some(e.code.into()), message: Some(e.message) }
                }
            }
        })
        .collect();
    let updated = results.iter().filter(|r| r.agent.is_some()).count();
    Ok(Json(BatchResult { updated, failed: results.len() - updated, results }))
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint".into())
}

/// An error answer: `{"error": code, "message": text}` with `status` (the WebRTC routes
/// answer with it too).
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: String) -> Self {
        Self { status, code, message }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(serde_json::json!({"error": self.code, "message": self.message}))).into_response()
    }
}

impl From<RoutingError> for ApiError {
    fn from(e: RoutingError) -> Self {
        let (status, code) = match &e {
            RoutingError::UnknownAgent(_) => (StatusCode::NOT_FOUND, "unknown_agent"),
            RoutingError::UnknownQueue(_) => (StatusCode::NOT_FOUND, "unknown_queue"),
            RoutingError::UnknownPresence(_) => (StatusCode::BAD_REQUEST, "unknown_availability"),
            RoutingError::BadPresence(_) => (StatusCode::BAD_REQUEST, "bad_presence"),
            RoutingError::Config { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "config"),
        };
        Self::new(status, code, e.to_string())
    }
}

impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> Self {
        let status = r.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE { "body_too_large" } else { "bad_body" };
        Self::new(status, code, r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        Self::new(r.status(), "bad_path", r.body_text())
    }
}

/// Caller-given text echoed in an error, cut short.
pub(crate) fn clip(s: &str) -> String {
    s.chars().take(64).collect()
}
