//! The stream side of a call: PCM frames from a connection's task (WebSocket media streams,
//! WebRTC) and frames back to it. The inbound queue is the jitter buffer: one frame is taken
//! per tick, so a peer's bursts are smoothed and its DTMF and mark echoes keep their place
//! between the frames around them.

use std::sync::mpsc::TryRecvError;

use tokio::sync::mpsc::error::TrySendError;

use super::{CallMedia, MediaNotice, Notices, StreamLink};
use crate::serve::events::EventSink;
use crate::serve::stream::{StreamIn, StreamOut};

pub(super) struct StreamWire {
    link: StreamLink,
    frames_in: u64,
    /// Ticks with no frame from the peer (after its first).
    underruns: u64,
    /// Outbound messages dropped because the connection's writer was behind.
    dropped_out: u64,
    frames_out: u64,
    /// The peer's task has gone (its end of the queue is dropped): call control ends the call.
    closed: bool,
}

impl StreamWire {
    pub fn new(link: StreamLink) -> Self {
        Self { link, frames_in: 0, underruns: 0, dropped_out: 0, frames_out: 0, closed: false }
    }

    pub fn rate(&self) -> types::SampleRate {
        self.link.rate
    }

    pub fn marks(&self) -> playback::MarkPolicy {
        self.link.marks
    }

    /// The next frame into `pcm` (true), handling the DTMF and mark echoes queued before it.
    pub fn receive(&mut self, pcm: &mut [f32], playback: &mut playback::PlaybackController, call: &CallMedia, media_ms: u64, notices: &Notices, sink: &EventSink) -> bool {
        loop {
            match self.link.inbound.try_recv() {
                Ok(StreamIn::Audio(frame)) => {
                    let n = frame.len().min(pcm.len());
                    pcm[..n].copy_from_slice(&frame[..n]);
                    pcm[n..].fill(0.0);
                    self.frames_in += 1;
                    return true;
                }
                Ok(StreamIn::Dtmf(digit)) => {
                    sink.emit(&call.call_id, &call.tenant, &serde_json::json!({"event": "dtmf", "digit": digit.to_string(), "at": media_ms}));
                    let _ = notices.send(MediaNotice::Dtmf { call_id: call.call_id.clone(), digit });
                }
                Ok(StreamIn::MarkPlayed(name)) => {
                    // An echo of a mark we never sent (or sent twice) changes nothing.
                    playback.confirm_mark(&name);
                }
                Err(TryRecvError::Empty) => {
                    if self.frames_in > 0 {
                        self.underruns += 1;
                    }
                    return false;
                }
                Err(TryRecvError::Disconnected) => {
                    self.closed = true;
                    return false;
                }
            }
        }
    }

    /// This tick's outbound frame: sent while a prompt plays (always, for continuous links).
    pub fn send(&mut self, out: &[f32], from_prompt: bool) {
        if from_prompt || self.link.continuous {
            self.frames_out += 1;
            self.push(StreamOut::Audio(out.to_vec()));
        }
    }

    /// A message to the connection; never blocks the engine (a full queue drops it, counted).
    pub fn push(&mut self, message: StreamOut) {
        if self.closed {
            return;
        }
        match self.link.outbound.try_send(message) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.dropped_out += 1,
            Err(TrySendError::Closed(_)) => self.closed = true,
        }
    }

    /// The call's stream statistics as an event.
    pub fn stop(&mut self, call: &CallMedia, sink: &EventSink) {
        sink.emit(
            &call.call_id,
            &call.tenant,
            &serde_json::json!({
                "event": "media_stats",
                "frames_in": self.frames_in,
                "underruns": self.underruns,
                "frames_out": self.frames_out,
                "dropped_out": self.dropped_out,
            }),
        );
    }
}
