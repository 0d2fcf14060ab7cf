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
pub mod telemetry;
mod transport;
mod webrtc;
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
        } else {
            // A speculative decode pays off only when a dialogue can end the turn on it and
            // take it as the final. A tenant without one decodes every final anyway, so a
            // speculative decode doubled its recognition work per turn (at 40 duty-cycle
            // callers, half the decodes were thrown away and finals were refused).
            let mut graph = t.graph.as_ref().unwrap_or(&config.graph).clone();
            graph.speculative_final_ms = 0;
            t.graph = Some(graph);
        }
    }
    let config = Arc::new(config);
    if config.events.stdout {
        init_logs(config.logs.format);
    }
    let telemetry = Arc::new(telemetry::Telemetry::new(config.logs.redact));
    // Calls that may be traced at once: the limit, and room for calls that are ending.
    let max_traced = usize::try_from(config.limits.max_calls).unwrap_or(usize::MAX).saturating_mul(2);
    let traces = telemetry::otel::CallTraces::start(&config.otel, config.logs.redact, max_traced)?;
    if let Some(endpoint) = &config.otel.endpoint {
        eprintln!("attendant: call traces to {endpoint} (OTLP/HTTP)");
    }
    let sink = Arc::new(
        EventSink::open(config.events.file.as_deref(), config.events.stdout)?
            .with_telemetry(Arc::clone(&telemetry))
            .with_traces(traces.clone()),
    );

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
        let (cores, decoders) = config.compute.pool_shape();
        let pool = Arc::new(RecognitionPool::start_niced(&whisper, &g.asr, decoders, cores, config.compute.queue_capacity(&config.limits), i32::from(config.compute.decoder_nice))?.with_telemetry(Arc::clone(&telemetry)));
        telemetry.add_queue(&g.asr.model, Arc::clone(&pool));
        eprintln!("attendant: recognition ({}) on {decoders} decoders sharing {cores} cores, 1 to {} threads a decode", g.asr.model, g.asr.threads);
        pools.insert(g.asr.model.clone(), pool);
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
    let served = runtime.block_on(async move {
        let (inbound_tx, inbound_rx) = tokio::sync::mpsc::channel(4096);
        let (stream_tx, stream_rx) = tokio::sync::mpsc::channel(1024);
        let streams = stream::StreamCalls::new(stream_tx);
        let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
        let mut http_state = None;
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
            let state = http::HttpState::new(routers).with_media(media).with_telemetry(Arc::clone(&telemetry), config.limits.max_calls);
            state.set_ready(true);
            http_state = Some(state.clone());
            tokio::spawn(async move {
                if let Err(e) = http::serve(listener, state).await {
                    eprintln!("attendant: HTTP API stopped: {e}");
                }
            });
        }
        tokio::spawn(async move {
            let signal = wait_for_stop().await;
            // Readiness first, so the load balancer stops sending while calls finish.
            if let Some(state) = &http_state {
                state.set_draining();
            }
            telemetry.set_draining(true);
            eprintln!("attendant: {signal}: draining (new calls refused, live calls finish)");
            let _ = shutdown_tx.send(true);
            // Kept open: a dropped sender would read as a second request to stop.
            std::future::pending::<()>().await;
        });
        let control = control::Control::new(Arc::clone(&config), transports, media_tx, pools, Arc::clone(&sink), assistants, webhooks)?;
        control.run(inbound_rx, notice_rx, stream_rx, shutdown_rx).await?;
        eprintln!("attendant: drained, exiting");
        Ok(())
    });
    // After the drain: the calls' spans are complete and go out before the process exits.
    if let Some(traces) = &traces {
        traces.shutdown();
    }
    served
}

/// The first SIGTERM (what Kubernetes sends) or SIGINT; its name.
async fn wait_for_stop() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        eprintln!("warning: cannot install signal handlers: SIGTERM will not drain");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}

/// Event records as log lines on standard output: readable text, or JSON objects with the
/// call and turn spans. Once per process (a second call, as in tests, changes nothing).
fn init_logs(format: config::LogFormat) {
    let builder = tracing_subscriber::fmt().with_writer(std::io::stdout).with_ansi(false).with_target(false);
    let result = match format {
        config::LogFormat::Text => builder.try_init(),
        config::LogFormat::Json => builder.json().with_current_span(false).with_span_list(true).try_init(),
    };
    drop(result);
}
