//! Calls from a browser over WebRTC (the Power model), and the page that places them.
//!
//! | method | path | body | answer |
//! |---|---|---|---|
//! | GET | `/` | | the call page (HTML, no external resources) |
//! | POST | `/v1/webrtc/offer?tenant=T&token=K` | SDP offer (`application/sdp`), ICE gathering complete | 201, the SDP answer (`application/sdp`), header `X-Attendant-Call-Id` |
//! | GET | `/v1/calls/{call_id}/events?token=K` | | Server-Sent Events: the call's event records, from its admission on |
//!
//! Signalling is one request, as in WHIP: the browser gathers its candidates before it posts
//! the offer, and the answer carries the worker's single host candidate. The worker is ICE-lite
//! (RFC 8445 §2.5): it never sends checks of its own, the browser's checks reach its socket and
//! the worker answers from there, so one UDP port per call on the media address is enough.
//! Media is DTLS-SRTP with Opus; see [`peer`] for the call's life and [`audio`] for the audio.
//!
//! Errors are JSON `{"error": code, "message": text}`: 400 `bad_sdp` / `no_audio` / `no_opus`,
//! 401 / 403 from the media token, 404 `unknown_tenant` / `unknown_call`, 413 for a body over
//! [`OFFER_BODY_LIMIT`], 415 `bad_content_type`, 503 at the tenant's limit or when no socket
//! can be had.
//!
//! Crypto: str0m's DTLS (dimpl) on aws-lc-rs, str0m's default backend. Its pure-Rust backend
//! (`rust-crypto`) is not usable with str0m 0.25 (its `str0m-rust-crypto` 0.7 is not published),
//! and with 0.24 it still builds aws-lc-sys through rcgen, so it would buy nothing.

mod audio;
mod feed;
mod peer;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Extension;
use serde_json::json;

use crate::serve::auth::{query_param, token_from, AuthError};
use crate::serve::http::{clip, ApiError, MediaState};
use crate::serve::stream::{StreamMeta, StreamRefusal, StreamTransport};
use feed::Feeds;
use peer::{Ending, OfferError, Peer};

/// Largest SDP offer taken: a browser's audio offer with a data channel is 2-4 KB.
pub const OFFER_BODY_LIMIT: usize = 64 * 1024;
/// The call id header of the offer's answer.
pub const CALL_ID_HEADER: &str = "x-attendant-call-id";

const PAGE: &str = include_str!("page.html");

#[derive(Debug, Clone)]
struct Shared {
    ctx: MediaState,
    feeds: Feeds,
}

/// The page and the WebRTC API, with their state.
pub fn router(ctx: MediaState) -> axum::Router {
    axum::Router::new()
        .route("/", get(page))
        .route("/v1/webrtc/offer", post(offer).layer(DefaultBodyLimit::max(OFFER_BODY_LIMIT)))
        .route("/v1/calls/{call_id}/events", get(events))
        .with_state(Shared { ctx, feeds: Feeds::default() })
}

async fn page() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], PAGE)
}

/// The peer's address as the server saw it; unknown (which no loopback rule accepts) when the
/// server was not started with connect info.
fn peer_of(connect: Option<Extension<ConnectInfo<SocketAddr>>>) -> SocketAddr {
    connect.map_or(SocketAddr::from(([0, 0, 0, 0], 0)), |Extension(ConnectInfo(addr))| addr)
}

async fn offer(
    State(shared): State<Shared>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let ctx = &shared.ctx;
    let browser = peer_of(connect);
    let token = token_from(&headers, query.as_deref());
    let tenant = ctx.auth.authorize(token.as_deref(), browser, query_param(query.as_deref(), "tenant").as_deref())?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    // text/plain is what fetch() sends for a string body when the page does not say.
    if !(content_type.starts_with("application/sdp") || content_type.starts_with("text/plain")) {
        return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "bad_content_type", format!("the offer must be application/sdp, not {:?}", clip(content_type))));
    }
    let body = body?;
    let sdp = std::str::from_utf8(&body).map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "bad_sdp", "the offer is not UTF-8 text".into()))?;
    // Answered before admission: a bad offer costs call control nothing.
    let (mut peer, answer) = Peer::answer(sdp, ctx.media_ip, browser.ip()).await?;
    // Filing starts before the call exists, so that none of its records is missed.
    shared.feeds.start(&ctx.sink);
    let call_id = ctx.streams.admit(&tenant, StreamTransport::Webrtc).await?;
    shared.feeds.register(&call_id, &tenant);
    ctx.sink.emit(&call_id, &tenant, &json!({"event": "webrtc_offer", "browser": browser.to_string(), "media": peer.local_addr().to_string()}));

    let (streams, sink, feeds, id) = (ctx.streams.clone(), Arc::clone(&ctx.sink), shared.feeds.clone(), call_id.clone());
    tokio::spawn(async move {
        let starter = streams.clone();
        let start_id = id.clone();
        let ending = peer
            .run(move || async move { starter.start(&start_id, peer::CALL_RATE, StreamMeta::default(), playback::MarkPolicy::CountSamples).await })
            .await;
        let reason = match &ending {
            Ending::Hangup(reason) => reason.clone(),
            Ending::Gone => "call_gone".to_owned(),
            Ending::Peer(reason) => reason.clone(),
        };
        // Before `end`, so that the page's stream (which closes on call_ended) still shows it.
        sink.emit(
            &id,
            &tenant,
            &json!({
                "event": "webrtc_ended",
                "reason": reason,
                "packets_in": peer.packets_in,
                "bad_datagrams": peer.bad_datagrams,
                "frames_dropped": peer.dropped_in,
                "frames_out": peer.frames_out,
                "send_errors": peer.send_errors,
            }),
        );
        // Call control waits for this after a hang-up of its own too: the connection is closed.
        streams.end(&id, &reason).await;
        feeds.end(&id);
    });

    let mut response = (StatusCode::CREATED, [(header::CONTENT_TYPE, "application/sdp")], answer).into_response();
    // Call ids are made of letters, digits and '-', always a valid header value.
    if let Ok(value) = HeaderValue::from_str(&call_id) {
        response.headers_mut().insert(CALL_ID_HEADER, value);
    }
    Ok(response)
}

async fn events(
    State(shared): State<Shared>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    Path(call_id): Path<String>,
) -> Result<Response, ApiError> {
    let token = token_from(&headers, query.as_deref());
    let tenant = shared.ctx.auth.authorize(token.as_deref(), peer_of(connect), query_param(query.as_deref(), "tenant").as_deref())?;
    let unknown = || ApiError::new(StatusCode::NOT_FOUND, "unknown_call", format!("no WebRTC call {:?} (ended more than a minute ago, or another tenant's)", clip(&call_id)));
    let feed = shared.feeds.get(&call_id).ok_or_else(unknown)?;
    // Another tenant's call looks like no call at all.
    if feed.tenant != tenant {
        return Err(unknown());
    }
    // EventSource reconnects with the id of the last record it got: go on after it.
    let from = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .map_or(0, |last| last + 1);
    Ok(Sse::new(feed::stream(feed, from)).keep_alive(KeepAlive::default()).into_response())
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        let code = match e {
            AuthError::Missing => "token_required",
            AuthError::UnknownTenant(_) => "unknown_tenant",
            _ => "forbidden",
        };
        Self::new(StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::FORBIDDEN), code, e.to_string())
    }
}

impl From<StreamRefusal> for ApiError {
    fn from(e: StreamRefusal) -> Self {
        let code = match e {
            StreamRefusal::UnknownTenant(_) => "unknown_tenant",
            StreamRefusal::TenantLimit { .. } => "tenant_limit",
            StreamRefusal::Unavailable(_) => "unavailable",
            StreamRefusal::UnknownCall(_) => "unknown_call",
        };
        Self::new(StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE), code, e.to_string())
    }
}

impl From<OfferError> for ApiError {
    fn from(e: OfferError) -> Self {
        let (status, code) = match e {
            OfferError::Sdp(_) => (StatusCode::BAD_REQUEST, "bad_sdp"),
            OfferError::NoAudio => (StatusCode::BAD_REQUEST, "no_audio"),
            OfferError::NoOpus => (StatusCode::BAD_REQUEST, "no_opus"),
            OfferError::Socket { .. } => (StatusCode::SERVICE_UNAVAILABLE, "media_unavailable"),
            OfferError::Setup(_) => (StatusCode::INTERNAL_SERVER_ERROR, "webrtc_setup"),
        };
        Self::new(status, code, e.to_string())
    }
}
