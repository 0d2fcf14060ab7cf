//! Stream calls (WebSocket media streams, WebRTC) in call control: admission before the
//! connection is upgraded, the start when the peer has said what its media is, and the end.
//! From the start on, a stream call is an entry of the call table like a SIP call: the same
//! media engine, dialogue, barge-in and decisions (see [`crate::serve::stream`]).

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use tokio::sync::mpsc;

use super::{CallInfo, CallKey, Control, Leg};
use crate::graph::CallGraph;
use crate::serve::media::{CallMedia, Link, MediaCall, MediaCommand, StreamLink};
use crate::serve::session::{hex, random_u64};
use crate::serve::stream::{StreamCall, StreamMeta, StreamOut, StreamRefusal, StreamRequest, StreamTransport, INBOUND_FRAMES, OUTBOUND_MESSAGES};

/// A stream call's signalling side: its transport and the way to its connection.
pub(super) struct StreamLeg {
    pub transport: StreamTransport,
    outbound: mpsc::Sender<StreamOut>,
}

impl StreamLeg {
    /// A control message to the connection (decision, hang-up): it must not be lost behind a
    /// full queue of audio, so a full queue hands it to a task that waits for room.
    pub fn send(&self, message: StreamOut) {
        if let Err(mpsc::error::TrySendError::Full(message)) = self.outbound.try_send(message) {
            let outbound = self.outbound.clone();
            tokio::spawn(async move {
                let _ = outbound.send(message).await;
            });
        }
    }
}

/// A call admitted and not yet started.
pub(super) struct Admitted {
    tenant: String,
    transport: StreamTransport,
    at: Instant,
}

impl Control {
    pub(super) fn on_stream_request(&mut self, request: StreamRequest, now: Instant) {
        match request {
            StreamRequest::Admit { tenant, transport, reply } => {
                let _ = reply.send(self.admit_stream(&tenant, transport, now));
            }
            StreamRequest::Start { call_id, rate, meta, mark_policy, reply } => {
                let result = self.start_stream(&call_id, rate, meta, mark_policy, now);
                if let Err(e) = &result {
                    self.sink.emit(&call_id, super::NO_CALL, &json!({"event": "call_failed", "error": e.to_string()}));
                }
                let _ = reply.send(result);
            }
            StreamRequest::End { call_id, reason } => {
                if let Some(admitted) = self.admitted.remove(&call_id) {
                    self.release_tenant(&admitted.tenant);
                    let event = json!({"event": "call_ended", "reason": reason, "transport": admitted.transport, "started": false, "duration_ms": admitted.at.elapsed().as_millis() as u64});
                    self.sink.emit(&call_id, &admitted.tenant, &event);
                } else if let Some(&key) = self.by_call_id.get(&call_id) {
                    self.end_call(key, &reason, now);
                }
            }
        }
    }

    fn admit_stream(&mut self, tenant: &str, transport: StreamTransport, now: Instant) -> Result<String, StreamRefusal> {
        let config = Arc::clone(&self.config);
        let Some(t) = config.tenants.iter().find(|t| t.name == tenant) else {
            return Err(StreamRefusal::UnknownTenant(tenant.to_owned()));
        };
        if let Some(refusal) = self.process_refusal() {
            let event = json!({"event": "call_refused", "status": 503, "cause": refusal.cause(), "reason": refusal.reason(), "transport": transport});
            self.sink.emit(super::NO_CALL, tenant, &event);
            return Err(StreamRefusal::Unavailable(refusal.reason()));
        }
        let active = self.per_tenant.get(tenant).copied().unwrap_or(0);
        if active >= t.max_calls {
            let event = json!({"event": "call_refused", "status": 503, "cause": "tenant_limit", "reason": "tenant call limit", "transport": transport, "limit": t.max_calls});
            self.sink.emit(super::NO_CALL, tenant, &event);
            return Err(StreamRefusal::TenantLimit { tenant: tenant.to_owned(), limit: t.max_calls });
        }
        // Unguessable: the id names the call in the HTTP API and the events.
        let call_id = format!("{}-{}", transport.as_str(), hex(&random_u64().to_be_bytes()));
        *self.per_tenant.entry(tenant.to_owned()).or_insert(0) += 1;
        self.admitted.insert(call_id.clone(), Admitted { tenant: tenant.to_owned(), transport, at: now });
        Ok(call_id)
    }

    fn release_tenant(&mut self, tenant: &str) {
        if let Some(n) = self.per_tenant.get_mut(tenant) {
            *n = n.saturating_sub(1);
        }
    }

    fn start_stream(&mut self, call_id: &str, rate: types::SampleRate, meta: StreamMeta, marks: playback::MarkPolicy, now: Instant) -> Result<StreamCall, StreamRefusal> {
        let Some(admitted) = self.admitted.remove(call_id) else {
            return Err(StreamRefusal::UnknownCall(call_id.to_owned()));
        };
        let config = Arc::clone(&self.config);
        let Some(tenant) = config.tenants.iter().find(|t| t.name == admitted.tenant) else {
            self.release_tenant(&admitted.tenant);
            return Err(StreamRefusal::UnknownTenant(admitted.tenant));
        };
        let unavailable = |e: String| StreamRefusal::Unavailable(e);
        let graph_config = self.config.graph_for(tenant);
        let assistant = self.assistants.get(&tenant.name).cloned();
        let prepared = (|| {
            let pool = self.pools.get(&graph_config.asr.model).cloned().ok_or_else(|| unavailable("no recognizer for the tenant's model".into()))?;
            let mut prompts = std::collections::VecDeque::new();
            if let (Some(path), None) = (&tenant.prompt, &assistant) {
                prompts.push_back(self.prompts.get(path, rate).map_err(|e| unavailable(format!("{e:#}")))?);
            }
            Ok((pool, prompts))
        })();
        let (pool, prompts) = match prepared {
            Ok(p) => p,
            Err(e) => {
                self.release_tenant(&admitted.tenant);
                return Err(e);
            }
        };
        let (to_media, inbound) = std::sync::mpsc::sync_channel(INBOUND_FRAMES);
        let (outbound, from_media) = mpsc::channel(OUTBOUND_MESSAGES);
        let media = MediaCall {
            link: Link::Stream(StreamLink {
                rate,
                inbound,
                outbound: outbound.clone(),
                marks,
                continuous: admitted.transport == StreamTransport::Webrtc,
            }),
            call: CallMedia {
                call_id: call_id.to_owned(),
                tenant: tenant.name.clone(),
                graph: CallGraph::new(graph_config),
                prompts,
                recognition_prompt: assistant.as_ref().and_then(|a| a.recognition_prompt.clone()).or_else(|| graph_config.asr.initial_prompt.clone()),
                embedder: assistant.as_ref().map(|a| Arc::clone(&a.embedder)),
                pool,
                keypad_after: self.config.compute.keypad_after(),
            },
        };
        if self.media.send(MediaCommand::Add(Box::new(media))).is_err() {
            self.release_tenant(&admitted.tenant);
            return Err(unavailable("the media engine has stopped".into()));
        }
        let key = CallKey::Stream(random_u64());
        let event = json!({
            "event": "call_started",
            "transport": admitted.transport,
            "peer_call_id": meta.peer_call_id,
            "from": meta.caller_number,
            "sample_rate": rate.hz(),
        });
        self.sink.emit(call_id, &tenant.name, &event);
        let info = CallInfo {
            call_id: call_id.to_owned(),
            tenant: tenant.name.clone(),
            started: now,
            leg: Leg::Stream(StreamLeg { transport: admitted.transport, outbound }),
            rate,
            transferring: false,
            caller_number: meta.caller_number,
            dialogue: None,
        };
        self.by_call_id.insert(call_id.to_owned(), key);
        self.calls.insert(key, info);
        self.start_dialogue(key, now);
        Ok(StreamCall { call_id: call_id.to_owned(), to_media, from_media })
    }
}
