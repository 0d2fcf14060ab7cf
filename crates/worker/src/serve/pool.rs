//! The recognition pool: whisper decoders on their own threads, fed from one bounded queue.
//!
//! Decoding never runs on the media or network threads. Finals go before partials: a caller
//! waits on a final (the end of their turn), while a partial only shows progress; and when a
//! turn's final arrives, that turn's queued partials are dropped as stale. The queue is
//! bounded: when it is full a job is refused at once (and the caller reports it) instead of
//! blocking a call's media or growing without bound.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};

use asr::{AsrConfig, AsrError, Recognition, WhisperModel};

/// A decoded turn (or the error), delivered to whoever submitted the job.
pub type Reply = Box<dyn FnOnce(Result<Recognition, AsrError>) + Send>;

/// Which turn a job belongs to: a call and its turn number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TurnKey {
    pub call_id: String,
    pub turn: u32,
}

struct Job {
    key: TurnKey,
    /// When it was queued: its wait for a decoder is a metric.
    queued_at: std::time::Instant,
    audio: Vec<f32>,
    prompt: Option<String>,
    reply: Reply,
}

#[derive(Default)]
struct Queues {
    finals: VecDeque<Job>,
    partials: VecDeque<Job>,
    stopped: bool,
}

impl Queues {
    fn len(&self) -> usize {
        self.finals.len() + self.partials.len()
    }

    /// The job a free decoder takes: the oldest final, else the oldest partial.
    fn next(&mut self) -> Option<Job> {
        self.finals.pop_front().or_else(|| self.partials.pop_front())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SubmitError {
    #[error("recognition queue full ({0} jobs waiting)")]
    Full(usize),
    #[error("recognition pool stopped")]
    Stopped,
}

struct Shared {
    queues: Mutex<Queues>,
    ready: Condvar,
    /// Where queue waits are recorded, once `serve` has set it.
    telemetry: std::sync::OnceLock<Arc<super::telemetry::Telemetry>>,
}

pub struct RecognitionPool {
    shared: Arc<Shared>,
    capacity: usize,
    workers: Vec<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for RecognitionPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecognitionPool").field("decoders", &self.workers.len()).field("capacity", &self.capacity).finish()
    }
}

impl RecognitionPool {
    /// Starts `decoders` threads, each with its own (warmed-up) decoder of `model`.
    pub fn start(model: &Arc<WhisperModel>, config: &AsrConfig, decoders: usize, capacity: usize) -> Result<Self, AsrError> {
        Self::start_niced(model, config, decoders, capacity, 0)
    }

    /// As [`RecognitionPool::start`], the threads at nice value `nice` (Linux: per thread;
    /// whisper's compute threads, created by them, inherit it).
    pub fn start_niced(model: &Arc<WhisperModel>, config: &AsrConfig, decoders: usize, capacity: usize, nice: i32) -> Result<Self, AsrError> {
        let shared = Arc::new(Shared { queues: Mutex::default(), ready: Condvar::new(), telemetry: std::sync::OnceLock::new() });
        let mut workers = Vec::with_capacity(decoders);
        for i in 0..decoders {
            let mut decoder = model.decoder(config.clone())?;
            let shared = Arc::clone(&shared);
            let handle = std::thread::Builder::new()
                .name(format!("asr-{i}"))
                .spawn(move || {
                    if nice != 0 {
                        if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), nice) {
                            eprintln!("warning: recognition thread priority not lowered (compute.decoder_nice): {e}");
                        }
                    }
                    run(&mut decoder, &shared)
                })
                .map_err(|e| AsrError::Decode(format!("cannot start decoder thread: {e}")))?;
            workers.push(handle);
        }
        Ok(Self { shared, capacity, workers })
    }

    /// Records each job's wait for a decoder in `telemetry` (the queue-wait histogram).
    pub fn with_telemetry(self, telemetry: Arc<super::telemetry::Telemetry>) -> Self {
        let _ = self.shared.telemetry.set(telemetry);
        self
    }

    /// Queues `audio` (16 kHz mono) for recognition; `reply` runs on a decoder thread. A final
    /// also drops the queued partials of its turn.
    pub fn submit(&self, key: TurnKey, is_final: bool, audio: Vec<f32>, prompt: Option<String>, reply: Reply) -> Result<(), SubmitError> {
        let mut q = self.shared.queues.lock().unwrap_or_else(|p| p.into_inner());
        if q.stopped {
            return Err(SubmitError::Stopped);
        }
        if is_final {
            q.partials.retain(|j| j.key != key);
        }
        if q.len() >= self.capacity {
            return Err(SubmitError::Full(self.capacity));
        }
        let job = Job { key, queued_at: std::time::Instant::now(), audio, prompt, reply };
        if is_final {
            q.finals.push_back(job);
        } else {
            q.partials.push_back(job);
        }
        drop(q);
        self.shared.ready.notify_one();
        Ok(())
    }

    /// Jobs waiting for a decoder.
    pub fn queued(&self) -> usize {
        self.shared.queues.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

impl Drop for RecognitionPool {
    fn drop(&mut self) {
        self.shared.queues.lock().unwrap_or_else(|p| p.into_inner()).stopped = true;
        self.shared.ready.notify_all();
    }
}

fn run(decoder: &mut asr::Decoder, shared: &Shared) {
    loop {
        let job = {
            let mut q = shared.queues.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                if let Some(job) = q.next() {
                    break job;
                }
                if q.stopped {
                    return;
                }
                q = shared.ready.wait(q).unwrap_or_else(|p| p.into_inner());
            }
        };
        if let Some(t) = shared.telemetry.get() {
            t.queue_wait.observe_duration(job.queued_at.elapsed());
        }
        // The lock is not held while decoding.
        let result = decoder.recognize(&job.audio, job.prompt.as_deref());
        (job.reply)(result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pool with no decoder threads, to look at its queue.
    fn idle(capacity: usize) -> RecognitionPool {
        RecognitionPool { shared: Arc::new(Shared { queues: Mutex::default(), ready: Condvar::new(), telemetry: std::sync::OnceLock::new() }), capacity, workers: Vec::new() }
    }

    fn key(call: &str, turn: u32) -> TurnKey {
        TurnKey { call_id: call.into(), turn }
    }

    fn submit(pool: &RecognitionPool, k: TurnKey, is_final: bool) -> Result<(), SubmitError> {
        pool.submit(k, is_final, Vec::new(), None, Box::new(|_| {}))
    }

    fn order(pool: &RecognitionPool) -> Vec<(String, u32, bool)> {
        let mut q = pool.shared.queues.lock().unwrap();
        let finals: Vec<_> = q.finals.iter().map(|j| j.key.clone()).collect();
        let mut out = Vec::new();
        while let Some(job) = q.next() {
            out.push((job.key.call_id.clone(), job.key.turn, finals.contains(&job.key)));
        }
        out
    }

    #[test]
    fn finals_go_first_and_drop_their_turns_stale_partials() {
        let pool = idle(10);
        submit(&pool, key("a", 0), false).unwrap();
        submit(&pool, key("b", 3), false).unwrap();
        submit(&pool, key("a", 0), false).unwrap();
        submit(&pool, key("c", 1), true).unwrap();
        submit(&pool, key("a", 0), true).unwrap();
        assert_eq!(
            order(&pool),
            vec![("c".into(), 1, true), ("a".into(), 0, true), ("b".into(), 3, false)],
        );
    }

    #[test]
    fn full_queue_refuses_instead_of_blocking() {
        let pool = idle(2);
        submit(&pool, key("a", 0), false).unwrap();
        submit(&pool, key("b", 0), false).unwrap();
        assert_eq!(submit(&pool, key("c", 0), true), Err(SubmitError::Full(2)));
        // A final that makes room by dropping its own stale partial still gets in.
        assert_eq!(submit(&pool, key("a", 0), true), Ok(()));
        assert_eq!(pool.queued(), 2);
    }
}
