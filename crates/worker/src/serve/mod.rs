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

pub mod config;
mod control;
pub mod events;
mod limiter;
pub mod media;
pub mod pool;
mod prompt;
mod session;
mod transport;

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context as _;

use crate::graph::VadKind;
use crate::models::{ModelDir, ModelFile};
use config::ServeConfig;
use events::EventSink;
use pool::RecognitionPool;

/// Loads the models, binds the sockets and runs until the process is stopped.
pub fn run(config: ServeConfig, models: &ModelDir) -> anyhow::Result<()> {
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
        let transports = transport::Transports::bind(&config.sip, inbound_tx).await?;
        for addr in transports.udp_addrs() {
            eprintln!("attendant: SIP on udp {addr}");
        }
        for addr in transports.tcp_addrs() {
            eprintln!("attendant: SIP on tcp {addr}");
        }
        let control = control::Control::new(Arc::clone(&config), transports, media_tx, pools, Arc::clone(&sink))?;
        control.run(inbound_rx, notice_rx).await
    })
}
