//! Each WebRTC call's event records, kept from its admission until a while after its end, for
//! the page's Server-Sent Events stream.
//!
//! One dispatcher task reads the [`EventSink`] subscription and files records by call id, so the
//! cost per record does not grow with the number of calls. A page connects to its stream only
//! after the answer names the call, and call control may have written the call's first records
//! by then (or while the answer was on its way): records of calls not registered yet wait in a
//! short backlog that [`Feeds::register`] searches, and a feed replays from its first record.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use axum::response::sse::Event as SseEvent;
use futures_util::Stream;
use serde_json::Value;
use tokio::sync::{broadcast, Notify};

use crate::serve::events::EventSink;

/// Records kept for one call; a call that writes more keeps its first ones (the dialogue's
/// records are few; this bounds a call that goes wrong in a loop).
const MAX_RECORDS: usize = 4096;
/// Records of calls not (yet) registered, kept for [`Feeds::register`].
const BACKLOG: usize = 256;
/// How long a feed stays readable after its call ended (a page that reconnects, a late reader).
const RETAIN: Duration = Duration::from_secs(60);
/// The record that closes a call's stream.
pub(super) const CALL_ENDED: &str = "call_ended";

/// One call's records.
#[derive(Debug)]
pub(super) struct Feed {
    pub tenant: String,
    state: Mutex<FeedState>,
    changed: Notify,
}

#[derive(Debug, Default)]
struct FeedState {
    records: Vec<Arc<Value>>,
    /// `call_ended` was written, or the call's connection is gone.
    ended: Option<Instant>,
    /// Records past [`MAX_RECORDS`], not kept.
    dropped: u64,
}

impl Feed {
    fn state(&self) -> MutexGuard<'_, FeedState> {
        // A panic while holding the lock leaves plain data behind; it is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, record: Arc<Value>) {
        let mut s = self.state();
        if record.get("event").and_then(Value::as_str) == Some(CALL_ENDED) {
            s.ended.get_or_insert_with(Instant::now);
        }
        if s.records.len() < MAX_RECORDS {
            s.records.push(record);
        } else {
            s.dropped += 1;
        }
        drop(s);
        self.changed.notify_waiters();
    }

    fn end(&self) {
        self.state().ended.get_or_insert_with(Instant::now);
        self.changed.notify_waiters();
    }

    /// The records from index `from` on, and whether the call has ended; waits while there are
    /// none and the call goes on.
    pub async fn next(&self, from: usize) -> (Vec<Arc<Value>>, bool) {
        loop {
            // Registered before the check, so a push between the check and the wait wakes it.
            let changed = self.changed.notified();
            {
                let s = self.state();
                let ended = s.ended.is_some();
                if from < s.records.len() || ended {
                    return (s.records.get(from..).map(<[_]>::to_vec).unwrap_or_default(), ended);
                }
            }
            changed.await;
        }
    }
}

/// The feeds of this worker's WebRTC calls, by call id. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub(super) struct Feeds {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    table: Mutex<Table>,
    /// Started by the first call (a runtime is there by then), once.
    dispatcher: OnceLock<()>,
}

#[derive(Debug, Default)]
struct Table {
    feeds: HashMap<String, Arc<Feed>>,
    backlog: VecDeque<Arc<Value>>,
    /// Records skipped because the dispatcher fell behind the sink.
    lagged: u64,
    last_sweep: Option<Instant>,
}

impl Feeds {
    fn table(&self) -> MutexGuard<'_, Table> {
        self.inner.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts filing `sink`'s records (the first call does; later calls change nothing). Must run
    /// inside the tokio runtime.
    pub fn start(&self, sink: &EventSink) {
        self.inner.dispatcher.get_or_init(|| {
            let mut rx = sink.subscribe();
            let feeds = self.clone();
            tokio::spawn(async move {
                loop {
                    match rx.recv().await {
                        Ok(record) => feeds.file(record),
                        Err(broadcast::error::RecvError::Lagged(n)) => feeds.table().lagged += n,
                        Err(broadcast::error::RecvError::Closed) => break,
                    }
                }
            });
        });
    }

    /// A feed for `call_id`, with the records already written for it.
    pub fn register(&self, call_id: &str, tenant: &str) -> Arc<Feed> {
        let mut t = self.table();
        t.sweep();
        let feed = Arc::new(Feed { tenant: tenant.to_owned(), state: Mutex::default(), changed: Notify::new() });
        let (mine, others): (VecDeque<_>, VecDeque<_>) = t.backlog.drain(..).partition(|r| call_of(r) == Some(call_id));
        t.backlog = others;
        for record in mine {
            feed.push(record);
        }
        t.feeds.insert(call_id.to_owned(), Arc::clone(&feed));
        feed
    }

    /// The call's connection is gone: its stream ends even if no `call_ended` record comes.
    pub fn end(&self, call_id: &str) {
        if let Some(feed) = self.table().feeds.get(call_id) {
            feed.end();
        }
    }

    pub fn get(&self, call_id: &str) -> Option<Arc<Feed>> {
        self.table().feeds.get(call_id).cloned()
    }

    fn file(&self, record: Arc<Value>) {
        let mut t = self.table();
        t.sweep();
        let Some(call_id) = call_of(&record) else { return };
        match t.feeds.get(call_id) {
            Some(feed) => feed.push(record),
            None => {
                if t.backlog.len() == BACKLOG {
                    t.backlog.pop_front();
                }
                t.backlog.push_back(record);
            }
        }
    }
}

impl Table {
    /// Forgets feeds whose call ended more than [`RETAIN`] ago (at most once a second).
    fn sweep(&mut self) {
        let now = Instant::now();
        if self.last_sweep.is_some_and(|at| now.duration_since(at) < Duration::from_secs(1)) {
            return;
        }
        self.last_sweep = Some(now);
        self.feeds.retain(|_, f| f.state().ended.is_none_or(|at| now.duration_since(at) < RETAIN));
    }
}

/// `feed`'s records from index `from` on as Server-Sent Events, each with its index as its id
/// (what `Last-Event-ID` names on a reconnection); the stream ends with the call.
pub(super) fn stream(feed: Arc<Feed>, from: usize) -> impl Stream<Item = Result<SseEvent, Infallible>> + Send {
    struct Reader {
        feed: Arc<Feed>,
        next: usize,
        queue: VecDeque<(usize, Arc<Value>)>,
        ended: bool,
    }
    let reader = Reader { feed, next: from, queue: VecDeque::new(), ended: false };
    futures_util::stream::unfold(reader, |mut r| async move {
        loop {
            if let Some((i, record)) = r.queue.pop_front() {
                // Compact JSON has no raw line breaks, which SSE data could not carry.
                let event = SseEvent::default().id(i.to_string()).data(record.to_string());
                return Some((Ok(event), r));
            }
            if r.ended {
                return None;
            }
            let (records, ended) = r.feed.next(r.next).await;
            let first = r.next;
            r.next += records.len();
            r.queue.extend((first..).zip(records));
            r.ended = ended;
        }
    })
}

fn call_of(record: &Value) -> Option<&str> {
    record.get("call_id").and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(call: &str, event: &str) -> Arc<Value> {
        Arc::new(json!({"call_id": call, "tenant": "acme", "event": event}))
    }

    #[tokio::test]
    async fn records_written_before_registration_are_replayed() {
        let feeds = Feeds::default();
        feeds.file(record("a", "call_started"));
        feeds.file(record("b", "call_started"));
        let a = feeds.register("a", "acme");
        feeds.file(record("a", "prompt"));
        let (got, ended) = a.next(0).await;
        let names: Vec<_> = got.iter().map(|r| r["event"].as_str().unwrap_or("")).collect();
        assert_eq!((names, ended), (vec!["call_started", "prompt"], false));
        // b's record stays for b.
        assert_eq!(feeds.register("b", "acme").next(0).await.0.len(), 1);
    }

    #[tokio::test]
    async fn a_reader_waits_for_records_and_sees_the_end() {
        let feeds = Feeds::default();
        let feed = feeds.register("a", "acme");
        let reader = tokio::spawn({
            let feed = Arc::clone(&feed);
            async move { feed.next(0).await }
        });
        tokio::task::yield_now().await;
        feeds.file(record("a", CALL_ENDED));
        let (got, ended) = reader.await.unwrap();
        assert_eq!((got.len(), ended), (1, true));
        // Past the last record of an ended call: nothing, ended, at once.
        assert_eq!(feed.next(1).await, (vec![], true));
    }

    #[tokio::test]
    async fn the_backlog_and_each_feed_are_bounded() {
        let feeds = Feeds::default();
        for _ in 0..BACKLOG + 5 {
            feeds.file(record("nobody", "x"));
        }
        assert_eq!(feeds.table().backlog.len(), BACKLOG);
        let feed = feeds.register("a", "acme");
        for _ in 0..MAX_RECORDS + 3 {
            feeds.file(record("a", "x"));
        }
        let state = feed.state();
        assert_eq!((state.records.len(), state.dropped), (MAX_RECORDS, 3));
    }
}
