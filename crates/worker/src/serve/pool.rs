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
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
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
    /// Cores the decodes share, and how many of them running decodes hold.
    cores: usize,
    cores_in_use: usize,
    /// The most threads one decode gets (`asr.threads`).
    max_threads: usize,
    /// Callers of this pool mid-turn, as the media thread last counted them: each will submit
    /// a decode soon (its speculative or final).
    turns_in_progress: usize,
}

impl Queues {
    fn len(&self) -> usize {
        self.finals.len() + self.partials.len()
    }

    /// Whether a job submitted now would start at once.
    fn decoder_free(&self) -> bool {
        self.idle > self.len() && self.cores_in_use < self.cores
    }

    /// Threads for the job a decoder is taking now: the free cores shared with the jobs the
    /// other idle decoders could start at the same time, 1 to `max_threads`. None while every
    /// core is held (the job waits for a decode to finish).
    ///
    /// On 2 cores this is one decode on 2 threads when one caller is speaking (the lowest
    /// latency of a turn) and two decodes on 1 thread each when turns queue or other callers
    /// are mid-turn (whisper's threads synchronise
    /// per operation, so two narrow decodes finish more turns per second than one wide one).
    /// Never more threads than cores: ggml's threads spin at their barriers, and four of them
    /// on two cores decoded ten times slower.
    fn threads_for_next(&self) -> Option<usize> {
        let free = self.cores.saturating_sub(self.cores_in_use);
        if free == 0 {
            return None;
        }
        // `idle` still counts the decoder asking; `len` still counts the job it takes. Turns
        // still being spoken count as jobs about to arrive: a wide decode started now would
        // hold every core when their speculative decodes come (under steady load, arrivals
        // a few hundred ms apart, that serialised every turn behind a 2-thread decode).
        let expected = self.len().max(self.turns_in_progress);
        let others = expected.saturating_sub(1).min(self.idle.saturating_sub(1));
        Some((free / (1 + others)).clamp(1, self.max_threads.max(1)))
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
    /// The last `set_turns_in_progress` value, so an unchanged count skips the lock.
    turns_hint: AtomicUsize,
    /// Where queue waits are recorded, once `serve` has set it.
    telemetry: std::sync::OnceLock<Arc<super::telemetry::Telemetry>>,
}

impl Shared {
    fn new(decoders: usize, cores: usize, max_threads: usize) -> Self {
        let queues = Queues { running_partial: vec![false; decoders], cores: cores.max(1), max_threads, ..Queues::default() };
        Shared {
            queues: Mutex::new(queues),
            ready: Condvar::new(),
            aborts: (0..decoders).map(|_| AtomicBool::new(false)).collect(),
            partials_decoded: AtomicU64::new(0),
            partials_skipped: AtomicU64::new(0),
            partials_preempted: AtomicU64::new(0),
            turns_hint: AtomicUsize::new(0),
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
    /// Starts `decoders` threads, each with its own (warmed-up) decoder of `model`. The decodes
    /// share `cores`; each runs on 1 to `config.threads` threads (see `Queues::threads_for_next`).
    pub fn start(model: &Arc<WhisperModel>, config: &AsrConfig, decoders: usize, cores: usize, capacity: usize) -> Result<Self, AsrError> {
        Self::start_niced(model, config, decoders, cores, capacity, 0)
    }

    /// As [`RecognitionPool::start`], the threads at nice value `nice` (Linux: per thread;
    /// whisper's compute threads, created by them, inherit it).
    pub fn start_niced(model: &Arc<WhisperModel>, config: &AsrConfig, decoders: usize, cores: usize, capacity: usize, nice: i32) -> Result<Self, AsrError> {
        let shared = Arc::new(Shared::new(decoders, cores, usize::from(config.threads)));
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

    /// Tells the pool how many of its callers are mid-turn (the media thread, every tick). It
    /// only sets how wide the next decodes are (see `Queues::threads_for_next`).
    pub fn set_turns_in_progress(&self, turns: usize) {
        if self.shared.turns_hint.swap(turns, Ordering::Relaxed) != turns {
            self.shared.lock().turns_in_progress = turns;
        }
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
        let (job, threads) = {
            let mut q = shared.lock();
            q.idle += 1;
            let (job, threads) = loop {
                if let Some(threads) = q.threads_for_next() {
                    if let Some(job) = q.next() {
                        break (job, threads);
                    }
                }
                if q.stopped && q.len() == 0 {
                    return;
                }
                q = shared.ready.wait(q).unwrap_or_else(|p| p.into_inner());
            };
            q.idle -= 1;
            q.cores_in_use += threads;
            // Under the lock, so a final's abort always targets this job, never the next.
            q.running_partial[index] = !job.is_final;
            shared.aborts[index].store(false, Ordering::Relaxed);
            (job, threads)
        };
        if let Some(t) = shared.telemetry.get() {
            t.queue_wait.observe_duration(job.queued_at.elapsed());
        }
        // The lock is not held while decoding.
        let abort = (!job.is_final).then_some(&shared.aborts[index]);
        decoder.set_threads(u16::try_from(threads).unwrap_or(u16::MAX));
        let result = decoder.recognize_abortable(&job.audio, job.prompt.as_deref(), abort);
        {
            let mut q = shared.lock();
            q.running_partial[index] = false;
            q.cores_in_use -= threads;
        }
        // Freed cores may let a decoder that found none take the next job.
        shared.ready.notify_all();
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
        let shared = Shared::new(free.max(2), free.max(2), 1);
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

    /// The queue state a decoder sees when it looks for work: `idle` decoders (itself
    /// included), `queued` finals, `in_use` of 2 cores held, up to 2 threads a decode.
    fn two_cores(idle: usize, queued: usize, in_use: usize) -> Queues {
        let mut q = Queues { idle, cores: 2, cores_in_use: in_use, max_threads: 2, ..Queues::default() };
        for i in 0..queued {
            let reply: Reply = Box::new(|_| {});
            q.finals.push_back(Job { key: key("c", i as u32), is_final: true, queued_at: std::time::Instant::now(), audio: Vec::new(), prompt: None, reply });
        }
        q
    }

    #[test]
    fn a_lone_turn_gets_every_core_and_queued_turns_share_them() {
        // Alone: both cores.
        assert_eq!(two_cores(2, 1, 0).threads_for_next(), Some(2));
        // Two turns waiting, two decoders idle: one core each.
        assert_eq!(two_cores(2, 2, 0).threads_for_next(), Some(1));
        // The second decoder, after the first took its core.
        assert_eq!(two_cores(1, 1, 1).threads_for_next(), Some(1));
        // Many queued but only this decoder idle: it still gets what is free.
        assert_eq!(two_cores(1, 5, 0).threads_for_next(), Some(2));
        // Every core held: the turn waits (no oversubscription), and nothing counts as free.
        let busy = two_cores(1, 1, 2);
        assert_eq!(busy.threads_for_next(), None);
        assert!(!two_cores(2, 0, 2).decoder_free());
        assert!(two_cores(2, 0, 1).decoder_free());
        // One turn queued but another caller mid-turn: one core, the other kept for them.
        let mut spoken = two_cores(2, 1, 0);
        spoken.turns_in_progress = 2;
        assert_eq!(spoken.threads_for_next(), Some(1));
        // Only its own turn in progress: both cores.
        spoken.turns_in_progress = 1;
        assert_eq!(spoken.threads_for_next(), Some(2));
        // Never above asr.threads.
        let mut wide = two_cores(1, 1, 0);
        (wide.cores, wide.max_threads) = (8, 4);
        assert_eq!(wide.threads_for_next(), Some(4));
    }

    #[test]
    fn a_final_leaves_partials_alone_when_a_decoder_is_free() {
        let pool = idle(10, 1);
        pool.shared.lock().running_partial = vec![true];
        submit(&pool, key("a", 1), true).unwrap();
        assert!(!pool.shared.aborts[0].load(Ordering::Relaxed));
    }
}
