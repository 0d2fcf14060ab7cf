//! The recognition pool: whisper decoders on their own threads, fed through one bounded queue.
//!
//! Decoding never runs on the media or network threads. The queue is bounded: when every
//! decoder is busy and the queue is full, a job is refused at once (and the caller reports it)
//! instead of blocking a call's media or growing without bound.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use asr::{AsrConfig, AsrError, Recognition, WhisperModel};

/// A decoded turn (or the error), delivered to whoever submitted the job.
pub type Reply = Box<dyn FnOnce(Result<Recognition, AsrError>) + Send>;

struct Job {
    audio: Vec<f32>,
    prompt: Option<String>,
    reply: Reply,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SubmitError {
    #[error("recognition queue full ({0} jobs waiting)")]
    Full(usize),
    #[error("recognition pool stopped")]
    Stopped,
}

pub struct RecognitionPool {
    queue: SyncSender<Job>,
    capacity: usize,
    workers: Vec<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for RecognitionPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecognitionPool").field("decoders", &self.workers.len()).field("capacity", &self.capacity).finish()
    }
}

impl RecognitionPool {
    /// Starts `decoders` threads, each with its own decoder of `model`.
    pub fn start(model: &Arc<WhisperModel>, config: &AsrConfig, decoders: usize, capacity: usize) -> Result<Self, AsrError> {
        let (queue, jobs) = sync_channel::<Job>(capacity);
        let jobs = Arc::new(Mutex::new(jobs));
        let mut workers = Vec::with_capacity(decoders);
        for i in 0..decoders {
            let mut decoder = model.decoder(config.clone())?;
            let jobs = Arc::clone(&jobs);
            let handle = std::thread::Builder::new()
                .name(format!("asr-{i}"))
                .spawn(move || run(&mut decoder, &jobs))
                .map_err(|e| AsrError::Decode(format!("cannot start decoder thread: {e}")))?;
            workers.push(handle);
        }
        Ok(Self { queue, capacity, workers })
    }

    /// Queues `audio` (16 kHz mono) for recognition; `reply` runs on a decoder thread.
    pub fn submit(&self, audio: Vec<f32>, prompt: Option<String>, reply: Reply) -> Result<(), SubmitError> {
        match self.queue.try_send(Job { audio, prompt, reply }) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(SubmitError::Full(self.capacity)),
            Err(TrySendError::Disconnected(_)) => Err(SubmitError::Stopped),
        }
    }
}

fn run(decoder: &mut asr::Decoder, jobs: &Mutex<Receiver<Job>>) {
    loop {
        // The lock is held only while waiting for the next job, never while decoding.
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        let Ok(job) = job else { return };
        let result = decoder.recognize(&job.audio, job.prompt.as_deref());
        (job.reply)(result);
    }
}
