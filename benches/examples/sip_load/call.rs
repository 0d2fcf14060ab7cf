//! One call slot: calls placed one after the other for the slot's `--duration-s`, each from its
//! own SIP and RTP sockets. A call: INVITE (timer A retransmissions, timer B), 100/180, the 200
//! ACKed (or a refusal ACKed), its RTP stream handed to the pump, then the call: the worker's
//! RTP measured (and, in script mode, listened to for the end of the menu), its requests and
//! our BYE handled in `dialog.rs`. Everything it saw goes into [`CallStats`].

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sip::dialog::Dialog;
use sip::{Framing, Message, Method, Request, Response};
use tokio::net::UdpSocket;
use tokio::sync::mpsc::UnboundedSender;

use super::content::{ulaw_rms, Content};
use super::msg::{self, Local, T1_MS, TIMEOUT_MS};
use super::pump::{Ctl, Stream, NOT_YET};
use super::{Shared, FRAME};

/// Worker audio above this RMS (-45 dBFS) is a prompt playing; its idle line is ~-70 dB.
const PROMPT_RMS: f32 = 0.0056;
/// A gap between two of the worker's packets longer than this is a late frame.
pub const LATE: Duration = Duration::from_millis(40);

/// What one call saw.
#[derive(Debug, Default)]
pub struct CallStats {
    pub slot: usize,
    pub attempt: usize,
    pub call_id: String,
    pub user: String,
    pub fixture: Option<usize>,
    pub placed_ms: u64,
    pub answered_ms: Option<u64>,
    pub ended_ms: u64,
    pub setup_us: Option<u32>,
    pub invite_retransmits: u32,
    /// Provisional statuses received (retransmissions included).
    pub provisional: Vec<u16>,
    pub refused: Option<(u16, String)>,
    /// Set-up failure, or a failure in the call.
    pub error: Option<String>,
    pub setup_failed: bool,
    /// `worker_bye`, `worker_bye_after_transfer`, `our_bye`.
    pub ended_by: Option<&'static str>,
    pub refer_to: Option<String>,
    pub notify_status: Option<u16>,
    pub other_requests: Vec<String>,
    pub rtp_sent: u64,
    pub rtp_lost: u64,
    pub rtp_reordered: u64,
    pub speech_frames: u64,
    pub frames_skipped: u64,
    pub send_errors: u64,
    pub rtp_in: u64,
    pub rtcp_in: u64,
    pub dtmf_in: u64,
    pub not_rtp_in: u64,
    /// Arrival gaps between the worker's consecutive packets while a prompt plays (both loud).
    pub prompt_gaps_us: Vec<u32>,
    pub prompt_packets: u64,
    pub gaps_all: u64,
    pub late_all: u64,
    pub max_gap_us: u32,
    /// Script mode: when the utterance started (Unix ms), how it was triggered (`quiet`,
    /// `fixed`, `fallback`), and when its last word left (Unix ms) if it was said to the end.
    pub spoke_ms: Option<u64>,
    pub speak_trigger: Option<&'static str>,
    pub last_word_ms: Option<u64>,
}

impl CallStats {
    pub fn crashed(slot: usize, error: String) -> Self {
        Self { slot, error: Some(error), ..Default::default() }
    }
}

/// Runs slot `slot` for `--duration-s` from its start (spread over `--ramp-ms`).
pub async fn run_slot(shared: Arc<Shared>, slot: usize, pump: UnboundedSender<Stream>) -> Vec<CallStats> {
    let start = shared.t0 + shared.ramp.mul_f64(slot as f64 / shared.calls.max(1) as f64);
    tokio::time::sleep_until(start.into()).await;
    let end = start + shared.duration;
    let mut calls = Vec::new();
    for attempt in 0.. {
        let stats = call(&shared, slot, attempt, end, &pump).await;
        let (refused, failed) = (stats.refused.is_some(), stats.error.is_some());
        let ended_early = stats.ended_by.is_some_and(|b| b != "our_bye");
        calls.push(stats);
        if !shared.redial || failed || !(refused || ended_early) {
            break;
        }
        if refused {
            // The worker said Retry-After; a second is enough to see whether it still refuses.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        if Instant::now() + shared.min_call >= end {
            break;
        }
    }
    calls
}

async fn call(shared: &Shared, slot: usize, attempt: usize, end: Instant, pump: &UnboundedSender<Stream>) -> CallStats {
    let n = shared.placed.fetch_add(1, Relaxed);
    let call_id = format!("{}-{slot}-{attempt}@sip-load", shared.run_id);
    let user = format!("load-{}-{slot}-{attempt}", shared.run_id);
    let fixture = matches!(shared.content, Content::Script(_)).then_some(n);
    let mut stats = CallStats { slot, attempt, call_id, user, fixture, placed_ms: unix_ms(), ..Default::default() };
    let bind = SocketAddr::new(shared.target.ip(), 0);
    let sockets = match (UdpSocket::bind(bind).await, UdpSocket::bind(bind).await) {
        (Ok(s), Ok(r)) => (s, r),
        (Err(e), _) | (_, Err(e)) => {
            stats.error = Some(format!("binding a socket: {e}"));
            stats.setup_failed = true;
            stats.ended_ms = unix_ms();
            return stats;
        }
    };
    let (sip_sock, rtp_sock) = (sockets.0, Arc::new(sockets.1));
    let local = Local {
        sip: sip_sock.local_addr().unwrap_or(bind),
        rtp: rtp_sock.local_addr().unwrap_or(bind),
        user: stats.user.clone(),
    };
    let seed = ((slot as u64) << 32) ^ (attempt as u64) ^ shared.wall_t0_ms.rotate_left(17);
    let mut c = Call { shared, stats, local, sip: sip_sock, rtp: rtp_sock, rng: seed, dialog: None, dest: shared.target, pending: Vec::new() };
    if let Some((dialog, remote_rtp)) = c.set_up().await {
        c.dest = msg::next_hop(&dialog, shared.target);
        c.dialog = Some(dialog);
        let ctl = Arc::new(Ctl::default());
        let stream = Stream { socket: Arc::clone(&c.rtp), dest: remote_rtp, slot, fixture, ssrc: u32::from_str_radix(&c.token()[..8], 16).unwrap_or(1), ctl: Arc::clone(&ctl) };
        if pump.send(stream).is_err() {
            c.stats.error = Some("the RTP pump is gone".into());
        } else {
            c.in_call(end, &ctl).await;
        }
        ctl.stop.store(true, Relaxed);
        c.collect(&ctl);
    }
    c.stats.ended_ms = unix_ms();
    c.stats
}

/// One of our non-INVITE requests in flight (BYE, NOTIFY): retransmitted on timer E.
pub(crate) struct Pending {
    pub(crate) branch: String,
    pub(crate) method: Method,
    pub(crate) bytes: Vec<u8>,
    pub(crate) next: Instant,
    pub(crate) interval: Duration,
    pub(crate) deadline: Instant,
}

pub(crate) struct Call<'a> {
    pub(crate) shared: &'a Shared,
    pub(crate) stats: CallStats,
    pub(crate) local: Local,
    pub(crate) sip: UdpSocket,
    pub(crate) rtp: Arc<UdpSocket>,
    pub(crate) rng: u64,
    pub(crate) dialog: Option<Dialog>,
    /// Where in-dialog requests go.
    pub(crate) dest: SocketAddr,
    pub(crate) pending: Vec<Pending>,
}

/// Where the call is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Up,
    /// NOTIFY sent after a REFER; the worker's BYE is due by then.
    Transferred(Instant),
    /// Our BYE sent; its 200 is due by then.
    Leaving(Instant),
    Done,
}

impl Call<'_> {
    pub(crate) fn token(&mut self) -> String {
        msg::token(&mut self.rng)
    }

    pub(crate) async fn send(&mut self, bytes: &[u8], to: SocketAddr) {
        let _ = self.sip.send_to(bytes, to).await;
    }

    /// INVITE to a final response. The dialog and the worker's RTP address on a 200.
    async fn set_up(&mut self) -> Option<(Dialog, SocketAddr)> {
        let (tag, branch) = (self.token(), format!("z9hG4bK{}", self.token()));
        let session = self.rng >> 1;
        let invite = msg::invite(&self.local, self.shared.target, &self.stats.call_id, &tag, &branch, msg::offer(self.local.rtp, session));
        let bytes = invite.to_bytes();
        let began = Instant::now();
        let deadline = began + Duration::from_millis(TIMEOUT_MS);
        let mut interval = Duration::from_millis(T1_MS);
        let mut retransmit = Some(began + interval);
        self.send(&bytes, self.shared.target).await;
        let mut buf = vec![0u8; 65_535];
        let fail = |s: &mut CallStats, e: String| {
            s.error = Some(e);
            s.setup_failed = true;
            None
        };
        loop {
            let wake = retransmit.map_or(deadline, |r| r.min(deadline));
            tokio::select! {
                r = self.sip.recv_from(&mut buf) => {
                    let Ok((len, from)) = r else { continue };
                    let Ok(Message::Response(resp)) = sip::message::parse(&buf[..len], Framing::Datagram) else {
                        // A request before our dialog exists (never from the worker): ignored.
                        continue;
                    };
                    if resp.headers.top_via().and_then(|v| v.branch().map(str::to_owned)).as_deref() != Some(branch.as_str()) {
                        continue;
                    }
                    let code = resp.status.0;
                    if code < 200 {
                        self.stats.provisional.push(code);
                        retransmit = None;
                        continue;
                    }
                    if code >= 300 {
                        self.send(&msg::ack_error(&invite, &resp).to_bytes(), from).await;
                        self.stats.refused = Some((code, resp.reason.clone()));
                        return None;
                    }
                    self.stats.setup_us = Some(micros(began.elapsed()));
                    return match self.answered(&invite, &resp, from).await {
                        Ok(x) => Some(x),
                        Err(e) => fail(&mut self.stats, e),
                    };
                }
                () = tokio::time::sleep_until(wake.into()) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return fail(&mut self.stats, format!("no final response to INVITE in {} s", TIMEOUT_MS / 1000));
                    }
                    if retransmit.is_some_and(|r| now >= r) {
                        self.stats.invite_retransmits += 1;
                        self.send(&bytes, self.shared.target).await;
                        interval *= 2;
                        retransmit = Some(now + interval);
                    }
                }
            }
        }
    }

    /// A 200 to our INVITE: the dialog, the ACK, the answer.
    async fn answered(&mut self, invite: &Request, ok: &Response, from: SocketAddr) -> Result<(Dialog, SocketAddr), String> {
        let mut dialog = msg::uac_dialog(invite, ok)?;
        let seq = invite.headers.cseq().map_or(1, |c| c.seq);
        let branch = format!("z9hG4bK{}", self.token());
        let ack = msg::ack_ok(&mut dialog, &self.local, &branch, seq).to_bytes();
        let to = msg::next_hop(&dialog, from);
        self.send(&ack, to).await;
        self.stats.answered_ms = Some(unix_ms());
        // A retransmitted 200 is ACKed again in the call (the same ACK).
        self.pending.push(Pending { branch: String::new(), method: Method::Ack, bytes: ack, next: Instant::now(), interval: Duration::ZERO, deadline: Instant::now() });
        let rtp = msg::answer_rtp(ok)?;
        Ok((dialog, rtp))
    }

    /// The answered call, until it ends.
    async fn in_call(&mut self, end: Instant, ctl: &Ctl) {
        let answered = Instant::now();
        let (mut sbuf, mut rbuf) = (vec![0u8; 65_535], vec![0u8; 2048]);
        let mut phase = Phase::Up;
        let mut last_rtp: Option<(Instant, bool)> = None;
        let (mut loud_seen, mut last_loud) = (false, answered);
        let script = matches!(self.shared.content, Content::Script(_));
        let mut spoke = false;
        // Script mode: when to speak (fixed), or to give up waiting for prompts (quiet).
        let mut speak_deadline = script.then(|| answered + self.shared.speak_at);
        while phase != Phase::Done {
            let mut wake = match phase {
                Phase::Up => end,
                Phase::Transferred(t) | Phase::Leaving(t) => t.min(end),
                Phase::Done => break,
            };
            if let Some(t) = speak_deadline {
                wake = wake.min(t);
            }
            for p in self.pending.iter().filter(|p| p.method != Method::Ack) {
                wake = wake.min(p.next);
            }
            tokio::select! {
                biased;
                r = self.rtp.recv_from(&mut rbuf) => {
                    let Ok((len, _)) = r else { continue };
                    let now = Instant::now();
                    let Some(loud) = self.on_rtp(&rbuf[..len]) else { continue };
                    if let Some((at, was_loud)) = last_rtp {
                        let gap = now.saturating_duration_since(at);
                        self.stats.gaps_all += 1;
                        self.stats.late_all += u64::from(gap > LATE);
                        self.stats.max_gap_us = self.stats.max_gap_us.max(micros(gap));
                        if loud && was_loud {
                            self.stats.prompt_gaps_us.push(micros(gap));
                        }
                    }
                    last_rtp = Some((now, loud));
                    if loud {
                        loud_seen = true;
                        last_loud = now;
                    } else if script && !spoke && !self.shared.speak_fixed && loud_seen && now.duration_since(last_loud) >= self.shared.quiet {
                        self.speak(ctl, "quiet");
                        spoke = true;
                        speak_deadline = None;
                    }
                }
                r = self.sip.recv_from(&mut sbuf) => {
                    let Ok((len, from)) = r else { continue };
                    let data = sbuf[..len].to_vec();
                    phase = self.on_sip(&data, from, phase).await;
                }
                () = tokio::time::sleep_until(wake.into()) => {
                    let now = Instant::now();
                    if speak_deadline.is_some_and(|t| now >= t) {
                        speak_deadline = None;
                        // Quiet mode with prompts still playing: keep waiting for the quiet.
                        if !spoke && (self.shared.speak_fixed || !loud_seen) {
                            self.speak(ctl, if self.shared.speak_fixed { "fixed" } else { "fallback" });
                            spoke = true;
                        }
                    }
                    phase = self.on_timer(now, end, phase).await;
                }
            }
        }
        if self.stats.rtp_in == 0 && answered.elapsed() > Duration::from_secs(2) {
            self.fail("no RTP from the worker");
        }
    }

    fn speak(&mut self, ctl: &Ctl, trigger: &'static str) {
        let tick = (Instant::now().saturating_duration_since(self.shared.t0).as_millis() / FRAME.as_millis()) as u64 + 1;
        ctl.speak_tick.store(tick, Relaxed);
        self.stats.speak_trigger = Some(trigger);
    }

    /// One datagram on the RTP socket: `Some(loud)` for the worker's audio, `None` otherwise.
    fn on_rtp(&mut self, data: &[u8]) -> Option<bool> {
        // RTCP shares the port (rtcp-mux): packet types 200-204 where RTP has marker + type.
        if data.len() >= 2 && (200..=204).contains(&data[1]) {
            self.stats.rtcp_in += 1;
            return None;
        }
        let Ok(p) = rtp::RtpPacket::parse(data) else {
            self.stats.not_rtp_in += 1;
            return None;
        };
        if p.header.payload_type.get() != 0 {
            self.stats.dtmf_in += 1;
            return None;
        }
        self.stats.rtp_in += 1;
        let loud = ulaw_rms(p.payload) > PROMPT_RMS;
        self.stats.prompt_packets += u64::from(loud);
        Some(loud)
    }

    pub(crate) fn fail(&mut self, e: &str) {
        if self.stats.error.is_none() {
            self.stats.error = Some(e.to_owned());
        }
    }

    /// The pump's counters for this call, once it has stopped.
    fn collect(&mut self, ctl: &Ctl) {
        let s = &mut self.stats;
        s.rtp_sent = ctl.sent.load(Relaxed);
        s.rtp_lost = ctl.lost.load(Relaxed);
        s.rtp_reordered = ctl.reordered.load(Relaxed);
        s.speech_frames = ctl.speech.load(Relaxed);
        s.frames_skipped = ctl.skipped.load(Relaxed);
        s.send_errors = ctl.send_errors.load(Relaxed);
        let tick_ms = |t: u64| (t != NOT_YET).then(|| self.shared.wall_t0_ms + t * 20);
        s.spoke_ms = tick_ms(ctl.spoke_tick.load(Relaxed));
        let fixture_end = match (&self.shared.content, s.fixture) {
            (Content::Script(f), Some(i)) => Some(f[i % f.len()].speech_end_ms),
            _ => None,
        };
        // Said to the end: the last word left `speech_end_ms` into the file.
        if let (Some(at), Some(end), Some(_)) = (s.spoke_ms, fixture_end, tick_ms(ctl.spoken_end_tick.load(Relaxed))) {
            s.last_word_ms = Some(at + end);
        }
    }
}

pub fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

/// Unix time in ms now.
pub fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}
