//! The recognition pool: whisper decoders on their own threads, fed from one bounded queue.
//!
//! Decoding never runs on the media or network threads. A caller waits on a final (the end of
//! their turn, or a speculative decode that may end it), while a partial only shows progress
//! and may end a turn early. So partials only use spare capacity:
//! - a partial is taken only when a decoder is free for it at once, and is otherwise skipped
//!   (counted, not an error): under load, partials stop instead of queueing in front of
//!   finals;
//! - a final that finds every decoder busy aborts a decoder's running partial and takes its
//!   place (whisper.cpp polls the abort flag once the encoder is done and between tokens, so
//!   this saves the partial's token loop, not its encoder pass);
//! - finals go before partials, and a turn's final drops that turn's queued partials as stale.
//!
//! The queue is bounded: when it is full a final is refused at once (and the caller reports
//! it) instead of blocking a call's media or growing without bound.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    is_final: bool,
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
    /// Decoders waiting for a job. Jobs queued beyond this many wait.
    idle: usize,
    /// Per decoder: whether it is decoding a partial that a final may abort.
    running_partial: Vec<bool>,
}

impl Queues {
    fn len(&self) -> usize {
        self.finals.len() + self.partials.len()
    }

    /// Whether a job submitted now would start at once.
    fn decoder_free(&self) -> bool {
        self.idle > self.len()
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
    /// A partial found no free decoder; it is skipped, not queued.
    #[error("no decoder free for a partial")]
    Busy,
}

/// What happened to the partials offered to the pool, since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PartialCounts {
    pub decoded: u64,
    /// Refused for want of a free decoder.
    pub skipped: u64,
    /// Aborted mid-decode for a final.
    pub preempted: u64,
}

struct Shared {
    queues: Mutex<Queues>,
    ready: Condvar,
    /// Per decoder: the abort flag of its current decode.
    aborts: Vec<AtomicBool>,
    partials_decoded: AtomicU64,
    partials_skipped: AtomicU64,
    partials_preempted: AtomicU64,
    /// Where queue waits are recorded, once `serve` has set it.
    telemetry: std::sync::OnceLock<Arc<super::telemetry::Telemetry>>,
}

impl Shared {
    fn new(decoders: usize) -> Self {
        Shared {
            queues: Mutex::new(Queues { running_partial: vec![false; decoders], ..Queues::default() }),
            ready: Condvar::new(),
            aborts: (0..decoders).map(|_| AtomicBool::new(false)).collect(),
            partials_decoded: AtomicU64::new(0),
            partials_skipped: AtomicU64::new(0),
            partials_preempted: AtomicU64::new(0),
            telemetry: std::sync::OnceLock::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queues> {
        self.queues.lock().unwrap_or_else(|p| p.into_inner())
    }
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
        let shared = Arc::new(Shared::new(decoders));
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
                    run(i, &mut decoder, &shared)
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
    /// also drops the queued partials of its turn, and aborts a running partial when no
    /// decoder is free for it. A partial is refused with [`SubmitError::Busy`] unless a
    /// decoder is free for it now; its `reply` may get [`AsrError::Aborted`].
    pub fn submit(&self, key: TurnKey, is_final: bool, audio: Vec<f32>, prompt: Option<String>, reply: Reply) -> Result<(), SubmitError> {
        let mut q = self.shared.lock();
        if q.stopped {
            return Err(SubmitError::Stopped);
        }
        if is_final {
            q.partials.retain(|j| j.key != key);
        } else if !q.decoder_free() {
            self.shared.partials_skipped.fetch_add(1, Ordering::Relaxed);
            return Err(SubmitError::Busy);
        }
        if q.len() >= self.capacity {
            return Err(SubmitError::Full(self.capacity));
        }
        if is_final && !q.decoder_free() {
            if let Some(i) = q.running_partial.iter().position(|&p| p) {
                // Its decoder comes back after the encoder or a token, and takes the oldest final.
                q.running_partial[i] = false;
                self.shared.aborts[i].store(true, Ordering::Relaxed);
            }
        }
        let job = Job { key, is_final, queued_at: std::time::Instant::now(), audio, prompt, reply };
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
        self.shared.lock().len()
    }

    pub fn partial_counts(&self) -> PartialCounts {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        PartialCounts {
            decoded: load(&self.shared.partials_decoded),
            skipped: load(&self.shared.partials_skipped),
            preempted: load(&self.shared.partials_preempted),
        }
    }
}

impl Drop for RecognitionPool {
    fn drop(&mut self) {
        self.shared.lock().stopped = true;
        self.shared.ready.notify_all();
    }
}

fn run(index: usize, decoder: &mut asr::Decoder, shared: &Shared) {
    loop {
        let job = {
            let mut q = shared.lock();
            q.idle += 1;
            let job = loop {
                if let Some(job) = q.next() {
                    break job;
                }
                if q.stopped {
                    return;
                }
                q = shared.ready.wait(q).unwrap_or_else(|p| p.into_inner());
            };
            q.idle -= 1;
            // Under the lock, so a final's abort always targets this job, never the next.
            q.running_partial[index] = !job.is_final;
            shared.aborts[index].store(false, Ordering::Relaxed);
            job
        };
        if let Some(t) = shared.telemetry.get() {
            t.queue_wait.observe_duration(job.queued_at.elapsed());
        }
        // The lock is not held while decoding.
        let abort = (!job.is_final).then_some(&shared.aborts[index]);
        let result = decoder.recognize_abortable(&job.audio, job.prompt.as_deref(), abort);
        shared.lock().running_partial[index] = false;
        if !job.is_final {
            let counter = if matches!(result, Err(AsrError::Aborted)) { &shared.partials_preempted } else { &shared.partials_decoded };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        (job.reply)(result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pool with no decoder threads, to look at its queue; `free` decoders count as idle
    /// (nothing takes their jobs).
    fn idle(capacity: usize, free: usize) -> RecognitionPool {
        let shared = Shared::new(free.max(2));
        shared.lock().idle = free;
        RecognitionPool { shared: Arc::new(shared), capacity, workers: Vec::new() }
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
        let pool = idle(10, 4);
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
        let pool = idle(2, 3);
        submit(&pool, key("a", 0), false).unwrap();
        submit(&pool, key("b", 0), false).unwrap();
        assert_eq!(submit(&pool, key("c", 0), true), Err(SubmitError::Full(2)));
        // A final that makes room by dropping its own stale partial still gets in.
        assert_eq!(submit(&pool, key("a", 0), true), Ok(()));
        assert_eq!(pool.queued(), 2);
    }

    #[test]
    fn partials_only_take_a_free_decoder() {
        let pool = idle(10, 1);
        submit(&pool, key("a", 0), false).unwrap();
        // The one free decoder is spoken for: the next partial is skipped, a final queues.
        assert_eq!(submit(&pool, key("b", 0), false), Err(SubmitError::Busy));
        submit(&pool, key("c", 0), true).unwrap();
        assert_eq!(pool.queued(), 2);
        assert_eq!(pool.partial_counts(), PartialCounts { decoded: 0, skipped: 1, preempted: 0 });
    }

    #[test]
    fn a_final_aborts_a_running_partial_when_no_decoder_is_free() {
        let pool = idle(10, 0);
        pool.shared.lock().running_partial = vec![false, true];
        submit(&pool, key("a", 1), true).unwrap();
        assert!(pool.shared.aborts[1].load(Ordering::Relaxed), "the partial on decoder 1 is aborted");
        assert!(!pool.shared.aborts[0].load(Ordering::Relaxed));
        // Only once: a second final does not abort the decoder already coming back for the first.
        pool.shared.aborts[1].store(false, Ordering::Relaxed);
        submit(&pool, key("b", 1), true).unwrap();
        assert!(!pool.shared.aborts[1].load(Ordering::Relaxed));
    }

    #[test]
    fn a_final_leaves_partials_alone_when_a_decoder_is_free() {
        let pool = idle(10, 1);
        pool.shared.lock().running_partial = vec![true];
        submit(&pool, key("a", 1), true).unwrap();
        assert!(!pool.shared.aborts[0].load(Ordering::Relaxed));
    }
}
