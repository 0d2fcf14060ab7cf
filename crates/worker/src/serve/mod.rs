//! `attendant serve`: the worker process for the Connect model. SIP over UDP and TCP from a
//! trunk (an SBC), RTP/SRTP media per call, each call's audio through the media graph, and call
//! events out.
//!
//! Three kinds of thread, none of which waits on another:
//! - tokio tasks move bytes: one reader per UDP socket and TCP connection, feeding a channel;
//! - the control task owns the sans-IO [`sip::core::UasCore`] and the call table: admission
//!   (tenant, limits), SDP answers, media set-up, transfers ([`control`]);
//! - the media engine thread owns every call's RTP session and graph ([`media`]), and the
//!   recognition pool's threads decode turns ([`pool`]).

pub mod auth;
pub mod config;
mod control;
pub mod events;
pub mod http;
mod limiter;
pub mod media;
pub mod pool;
pub(crate) mod prompt;
mod session;
pub mod stream;
mod transport;
mod ws;

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context as _;

use crate::graph::VadKind;
use crate::models::{ModelDir, ModelFile};
use config::ServeConfig;
use events::EventSink;
use pool::RecognitionPool;

/// Loads the models, binds the sockets and runs until the process is stopped.
pub fn run(mut config: ServeConfig, models: &ModelDir) -> anyhow::Result<()> {
    // Each assistant file is read once here. Its tenant ends turns on the assistant's silence
    // (see AssistantFile::end_silence_ms).
    let mut files = Vec::new();
    for (i, t) in config.tenants.iter_mut().enumerate() {
        if let Some(path) = &t.assistant {
            let file = crate::assistant::AssistantFile::load(path, &format!("tenants[{i}].assistant"))?;
            t.graph = Some(file.graph(t.graph.as_ref().unwrap_or(&config.graph)));
            files.push((i, t.name.clone(), file));
        }
    }
    let config = Arc::new(config);
    let sink = Arc::new(EventSink::open(config.events.file.as_deref(), config.events.stdout)?);

    // One recognition pool per whisper model some tenant uses; the models load once.
    let mut pools: HashMap<String, Arc<RecognitionPool>> = HashMap::new();
    let graphs = std::iter::once(&config.graph).chain(config.tenants.iter().filter_map(|t| t.graph.as_ref()));
    let mut needs_silero = false;
    for g in graphs {
        needs_silero |= g.vad == VadKind::Silero;
        if pools.contains_key(&g.asr.model) {
            continue;
        }
        let file = if g.asr.model == "base" { ModelFile::WhisperBase } else { ModelFile::WhisperTinyEn };
        let whisper = asr::WhisperModel::load(&models.require(file)?)?;
        let pool = RecognitionPool::start(&whisper, &g.asr, usize::from(config.compute.decoders), usize::from(config.compute.queue))?;
        pools.insert(g.asr.model.clone(), Arc::new(pool));
    }
    let silero = if needs_silero {
        Some(vad::SileroModel::load(&models.require(ModelFile::OnnxRuntime)?, &models.require(ModelFile::SileroVad)?)?)
    } else {
        None
    };

    // Tenants' assistants: the embedder and the prompt voice load once, each flow compiles once.
    let mut assistants = HashMap::new();
    let mut webhooks = HashMap::new();
    if !files.is_empty() {
        let embedder = crate::assistant::load_embedder(models)?;
        let renderer = crate::assistant::default_renderer(models)?;
        for (i, name, file) in &files {
            let assistant = crate::assistant::Assistant::build(name, file, Arc::clone(&embedder), Arc::clone(&renderer))?;
            // Every fixed prompt rendered now, at the G.711 and wideband rates, so that no call
            // waits for its greeting (prompts with slots stream sentence by sentence instead).
            for text in assistant.flow.fixed_prompt_texts() {
                for rate in [types::SampleRate::HZ_8000, types::SampleRate::HZ_16000] {
                    if let Err(e) = renderer.render(&text, rate) {
                        eprintln!("warning: tenants[{i}] prompt {text:?} cannot be rendered: {e}");
                    }
                }
            }
            if let Some(hook) = &file.webhook {
                let sender = crate::decisions::WebhookSender::start(hook.clone()).with_context(|| format!("tenants[{i}] webhook"))?;
                webhooks.insert(name.clone(), sender);
            }
            assistants.insert(name.clone(), Arc::new(assistant));
        }
    }
    let routers: HashMap<String, Arc<routing::Router>> = assistants.iter().map(|(k, a)| (k.clone(), Arc::clone(&a.router))).collect();

    let (media_tx, media_rx) = std::sync::mpsc::channel();
    let (notice_tx, notice_rx) = tokio::sync::mpsc::unbounded_channel();
    let media_sink = Arc::clone(&sink);
    std::thread::Builder::new()
        .name("media".into())
        .spawn(move || media::run(media_rx, notice_tx, silero, media_sink))
        .context("cannot start the media thread")?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let (inbound_tx, inbound_rx) = tokio::sync::mpsc::channel(4096);
        let (stream_tx, stream_rx) = tokio::sync::mpsc::channel(1024);
        let streams = stream::StreamCalls::new(stream_tx);
        let transports = transport::Transports::bind(&config.sip, inbound_tx).await?;
        for addr in transports.udp_addrs() {
            eprintln!("attendant: SIP on udp {addr}");
        }
        for addr in transports.tcp_addrs() {
            eprintln!("attendant: SIP on tcp {addr}");
        }
        if let Some(addr) = config.http.listen {
            let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("http.listen {addr}"))?;
            eprintln!("attendant: HTTP on {}", listener.local_addr()?);
            let media = http::MediaState {
                streams: streams.clone(),
                sink: Arc::clone(&sink),
                auth: Arc::new(auth::MediaAuth::new(&config, addr)),
                media_ip: config.rtp.address,
            };
            let state = http::HttpState::new(routers).with_media(media);
            state.set_ready(true);
            tokio::spawn(async move {
                if let Err(e) = http::serve(listener, state).await {
                    eprintln!("attendant: HTTP API stopped: {e}");
                }
            });
        }
        let control = control::Control::new(Arc::clone(&config), transports, media_tx, pools, Arc::clone(&sink), assistants, webhooks)?;
        control.run(inbound_rx, notice_rx, stream_rx).await
    })
}
