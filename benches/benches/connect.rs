//! Criterion benchmarks of the Connect model's hot paths: SIP call set-up through the sans-IO
//! UAS core, and the per-packet RTP path (parse, SRTP unprotect, jitter buffer, G.711 decode).
//!
//! Run from the repository root with `cargo bench -p attendant-benches --bench connect`
//! (see benches/README.md, section "Connect", for what each benchmark measures and the medians
//! measured here). Audio is real speech from `testdata/ivr`.
//!
//! Everything runs in virtual time: `now` advances by the arrival spacing of the traffic being
//! modelled (5 ms between calls = 200 call set-ups per second, 20 ms between packets), so the
//! cores carry the state they would carry in steady state (lingering transactions, armed timers,
//! a jitter buffer with a playout delay, an SRTP replay window) instead of starting empty.

use std::hint::black_box;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use codec::{PayloadCodec, SampleFormat, WavFile};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rtp::{
    ClockRate, MasterKey, MediaItem, PayloadType, RtpHeader, RtpPacket, Session, SessionSettings,
    SrtpContext, SrtpKeys, SrtpProfile, Ssrc,
};
use sip::sdp::{self, LocalMedia};
use sip::{Config, Framing, Input, Message, Output, SipEvent, Transport, UasCore};

#[path = "../common/mod.rs"]
mod common;
use common::repo_root;

/// Bytes of one 20 ms G.711 frame at 8 kHz.
const G711_FRAME: usize = 160;
/// Virtual time between two calls: 200 call set-ups per second.
const CALL_SPACING: Duration = Duration::from_millis(5);
/// Virtual time between two RTP packets of a call (ptime 20).
const PACKET_SPACING: Duration = Duration::from_millis(20);
/// Packets prepared (untimed) before each timed batch of the RTP benchmarks.
const RTP_BATCH: usize = 1024;
/// Calls prepared (untimed) before each timed batch of the SIP benchmarks.
const SIP_BATCH: usize = 64;

fn print_load() {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    eprintln!(
        "  {} CPUs, load average {} (anything else running skews these numbers)",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
}

// ---------------------------------------------------------------------------------------------
// SIP: an SBC-like call through the UAS core
// ---------------------------------------------------------------------------------------------

/// Address of the SBC (the caller) and of the worker.
const SBC: &str = "192.0.2.10";
const SBC_PORT: u16 = 5060;
const WORKER: [u8; 4] = [192, 0, 2, 1];

fn sbc_addr() -> SocketAddr {
    SocketAddr::new(SBC.parse().expect("literal address"), SBC_PORT)
}

/// The SDP offer of `testdata/sipp/sbc_call.xml`: PCMU, PCMA, G.722, telephone-event and CN.
fn offer_sdp(n: u64) -> String {
    format!(
        "v=0\r\n\
         o=sbc {n} 2353687637 IN IP4 {SBC}\r\n\
         s=-\r\n\
         c=IN IP4 {SBC}\r\n\
         t=0 0\r\n\
         m=audio {port} RTP/AVP 0 8 9 101 13\r\n\
         a=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:9 G722/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\n\
         a=fmtp:101 0-16\r\n\
         a=rtpmap:13 CN/8000\r\n\
         a=ptime:20\r\n\
         a=sendrecv\r\n",
        port = 40_000 + 2 * (n % 10_000)
    )
}

/// Call `n`'s identifiers: every call has its own Call-ID, From tag and branches.
struct CallIds {
    call_id: String,
    from_tag: String,
    n: u64,
}

impl CallIds {
    fn new(n: u64) -> Self {
        Self {
            call_id: format!("{n:08x}-4c2f-481a-9d3e-{n:012x}@{SBC}"),
            from_tag: format!("sbc{n:x}t7"),
            n,
        }
    }

    /// An SBC-style INVITE (as `testdata/sipp/sbc_call.xml` sends it), with a Record-Route and a
    /// session timer.
    fn invite(&self) -> Vec<u8> {
        let body = offer_sdp(self.n);
        format!(
            "INVITE sip:ivr@192.0.2.1:5060 SIP/2.0\r\n\
             Via: SIP/2.0/UDP {SBC}:{SBC_PORT};branch=z9hG4bK-inv-{n:x};rport\r\n\
             Record-Route: <sip:{SBC}:{SBC_PORT};lr>\r\n\
             From: \"Caller\" <sip:+15551230001@sbc.example.net>;tag={tag}\r\n\
             To: <sip:ivr@192.0.2.1:5060>\r\n\
             Call-ID: {cid}\r\n\
             CSeq: 1 INVITE\r\n\
             Contact: <sip:+15551230001@{SBC}:{SBC_PORT};transport=udp>\r\n\
             Max-Forwards: 70\r\n\
             Supported: timer, replaces\r\n\
             Session-Expires: 1800;refresher=uac\r\n\
             Min-SE: 90\r\n\
             Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REFER, NOTIFY\r\n\
             User-Agent: sbc-bench\r\n\
             Content-Type: application/sdp\r\n\
             Content-Length: {len}\r\n\
             \r\n\
             {body}",
            n = self.n,
            tag = self.from_tag,
            cid = self.call_id,
            len = body.len(),
        )
        .into_bytes()
    }

    /// An in-dialog request (ACK or BYE) to the worker's Contact, routed by the Record-Route.
    fn in_dialog(&self, method: &str, cseq: u32, to_tag: &str) -> Vec<u8> {
        format!(
            "{method} sip:192.0.2.1:5060 SIP/2.0\r\n\
             Via: SIP/2.0/UDP {SBC}:{SBC_PORT};branch=z9hG4bK-{m}-{n:x};rport\r\n\
             Route: <sip:{SBC}:{SBC_PORT};lr>\r\n\
             From: \"Caller\" <sip:+15551230001@sbc.example.net>;tag={tag}\r\n\
             To: <sip:ivr@192.0.2.1:5060>;tag={to_tag}\r\n\
             Call-ID: {cid}\r\n\
             CSeq: {cseq} {method}\r\n\
             Contact: <sip:+15551230001@{SBC}:{SBC_PORT};transport=udp>\r\n\
             Max-Forwards: 70\r\n\
             Content-Length: 0\r\n\
             \r\n",
            m = method.to_ascii_lowercase(),
            n = self.n,
            tag = self.from_tag,
            cid = self.call_id,
        )
        .into_bytes()
    }
}

/// What one step of the core produced.
#[derive(Default, Debug)]
struct Step {
    statuses: Vec<u16>,
    /// The first 200 OK sent (moved, not copied), for the SBC to read the To tag from later.
    ok: Option<Vec<u8>>,
    answered: bool,
    ended: bool,
}

/// The worker side: a UAS core that accepts every call with an SDP answer, as `attendant serve`'s
/// control task does (minus tenant admission, RTP socket, media set-up and event output).
struct Uas {
    core: UasCore,
    local: LocalMedia,
}

impl Uas {
    fn new() -> Self {
        let core = UasCore::new(Config::new(std::net::IpAddr::from(WORKER).into(), 5060, 0x5eed));
        let mut local = LocalMedia::new(WORKER.into(), 20_000);
        local.srtp_key = Some([7; 30]);
        Self { core, local }
    }

    /// Feeds one datagram from the SBC and carries out everything the core asks for, answering
    /// an incoming call with 180 then 200 and the SDP answer.
    fn input(&mut self, now: Instant, data: &[u8], step: &mut Step) {
        self.core.handle_input(now, Input { transport: Transport::Udp, source: sbc_addr(), data });
        self.drain(now, step);
    }

    fn drain(&mut self, now: Instant, step: &mut Step) {
        while let Some(out) = self.core.poll_output() {
            match out {
                Output::Transmit(t) => {
                    // The status code is at a fixed offset: "SIP/2.0 200 ..."
                    let status = t.data.get(8..11).and_then(|s| std::str::from_utf8(s).ok()).and_then(|s| s.parse().ok());
                    black_box(&t.data);
                    if let Some(s) = status {
                        step.statuses.push(s);
                        if s == 200 && step.ok.is_none() {
                            step.ok = Some(t.data);
                        }
                    }
                }
                Output::Event(SipEvent::IncomingCall(call)) => {
                    self.local.rtp_port = 20_000 + (call.call.0 % 5_000) as u16 * 2;
                    let offer = call.offer.as_ref().expect("the INVITE carries an offer");
                    let answer = sdp::answer(offer, &self.local).expect("PCMU is offered");
                    self.core.ringing(call.call, now).expect("pending call rings");
                    self.core.accept(call.call, &answer.sdp, now).expect("pending call accepts");
                }
                Output::Event(SipEvent::CallAnswered { .. }) => step.answered = true,
                Output::Event(SipEvent::CallEnded { .. }) => step.ended = true,
                Output::Event(e) => panic!("unexpected event {e:?}"),
                Output::Timeout(_) => break,
            }
        }
    }

    /// Fires the timers due at `now` (retransmissions stop, transactions linger and go).
    fn tick(&mut self, now: Instant) {
        self.core.handle_timeout(now);
        let mut step = Step::default();
        self.drain(now, &mut step);
        assert!(step.statuses.is_empty(), "no retransmission expected: {:?}", step.statuses);
    }
}

fn to_tag(response: &[u8]) -> Option<String> {
    match sip::message::parse(response, Framing::Datagram).ok()? {
        Message::Response(r) => r.headers.to()?.tag().map(str::to_owned),
        Message::Request(_) => None,
    }
}

/// The datagrams of one call from the SBC, prepared before timing.
struct Prepared {
    ids: CallIds,
    invite: Vec<u8>,
}

/// Which part of a call is timed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Timed {
    /// INVITE in, 100/180/200 out (with the SDP answer): the worker's time to answer.
    InviteTo200,
    /// ACK in, then BYE in and its 200 out.
    AckBye,
    /// The whole call, with the timers that fire in the 5 ms since the previous call.
    WholeCall,
}

/// Runs `iters` calls, 5 ms of virtual time apart, and returns the time spent in the `timed`
/// part. The core lives across batches, so it carries ~32 s of lingering transactions, as at
/// 200 calls per second.
fn run_calls(uas: &mut Uas, clock: &mut Instant, next: &mut u64, iters: u64, timed: Timed) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let batch = left.min(SIP_BATCH as u64);
        left -= batch;
        let calls: Vec<Prepared> = (0..batch)
            .map(|_| {
                *next += 1;
                let ids = CallIds::new(*next);
                let invite = ids.invite();
                Prepared { ids, invite }
            })
            .collect();
        for call in calls {
            *clock += CALL_SPACING;
            let now = *clock;
            let mut step = Step::default();
            // INVITE -> 100, 180, 200
            let t = Instant::now();
            if timed == Timed::WholeCall {
                uas.core.handle_timeout(now);
                uas.drain(now, &mut step);
            }
            uas.input(now, &call.invite, &mut step);
            let invite_time = t.elapsed();
            if timed == Timed::InviteTo200 {
                total += invite_time;
                uas.tick(now);
            }
            assert_eq!(&step.statuses[..], &[100, 180, 200], "call {} answered", call.ids.n);
            // The SBC reads our To tag for the ACK and BYE (not the worker's work: untimed).
            let tag = step.ok.as_deref().and_then(to_tag).expect("200 has a To tag");
            // ACK, then BYE -> 200 (the call lasts 0 s of virtual time: the core's work per call
            // is the same whatever the hold time, only the number of live calls changes).
            let ack = call.ids.in_dialog("ACK", 1, &tag);
            let bye = call.ids.in_dialog("BYE", 2, &tag);
            let mut end = Step::default();
            let t = Instant::now();
            uas.input(now, &ack, &mut end);
            uas.input(now, &bye, &mut end);
            let bye_time = t.elapsed();
            match timed {
                Timed::InviteTo200 => {}
                Timed::AckBye => total += bye_time,
                Timed::WholeCall => total += invite_time + bye_time,
            }
            assert!(end.answered && end.ended && end.statuses == [200], "call {} ended: {end:?}", call.ids.n);
            if timed == Timed::AckBye {
                uas.tick(now);
            }
        }
    }
    total
}

fn bench_sip(c: &mut Criterion) {
    print_load();
    // Show the input is what it claims: one call end to end, with sizes.
    {
        let mut uas = Uas::new();
        let invite = CallIds::new(0).invite();
        let now = Instant::now();
        uas.core.handle_input(now, Input { transport: Transport::Udp, source: sbc_addr(), data: &invite });
        let mut sizes = Vec::new();
        while let Some(out) = uas.core.poll_output() {
            match out {
                Output::Transmit(t) => {
                    sizes.push(t.data.len());
                    if t.data.starts_with(b"SIP/2.0 200") {
                        let text = String::from_utf8_lossy(&t.data);
                        let sdp_start = text.find("\r\n\r\n").map_or(0, |i| i + 4);
                        eprintln!("  answer SDP: {}", text[sdp_start..].trim_end().replace("\r\n", " | "));
                    }
                }
                Output::Event(SipEvent::IncomingCall(call)) => {
                    let answer = sdp::answer(call.offer.as_ref().expect("offer"), &uas.local).expect("answer");
                    eprintln!("  INVITE {} B; negotiated {:?}", invite.len(), answer.negotiated.codec.codec);
                    uas.core.ringing(call.call, now).expect("ringing");
                    uas.core.accept(call.call, &answer.sdp, now).expect("accept");
                }
                Output::Event(_) => {}
                Output::Timeout(_) => break,
            }
        }
        eprintln!("  responses out: {sizes:?} B (100, 180, 200 with SDP)");
    }

    let mut g = c.benchmark_group("sip_call");
    g.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Elements(1));
    for (name, timed) in [
        ("invite_to_200", Timed::InviteTo200),
        ("ack_bye", Timed::AckBye),
        ("whole_call_200cps", Timed::WholeCall),
    ] {
        let mut uas = Uas::new();
        let mut clock = Instant::now();
        let mut next = 0u64;
        g.bench_function(name, |b| b.iter_custom(|iters| run_calls(&mut uas, &mut clock, &mut next, iters, timed)));
        eprintln!(
            "  {name}: {} calls run, {} transactions alive at the end (virtual {:.0} s at 200 cps)",
            next,
            uas.core.transaction_count(),
            next as f64 * CALL_SPACING.as_secs_f64()
        );
    }
    // The pieces: message parse, SDP answer.
    let invite = CallIds::new(1).invite();
    g.bench_function("parse_invite", |b| b.iter(|| sip::message::parse(black_box(&invite), Framing::Datagram).expect("parses")));
    let offer = sdp::parse(offer_sdp(1).as_bytes()).expect("offer parses");
    let uas = Uas::new();
    g.bench_function("sdp_answer", |b| b.iter(|| sdp::answer(black_box(&offer), &uas.local).expect("answers")));
    g.finish();
}

// ---------------------------------------------------------------------------------------------
// RTP: one packet through parse, SRTP, jitter buffer, decode
// ---------------------------------------------------------------------------------------------

/// µ-law payload of the IVR fixtures back to back, cut to whole 20 ms frames: speech with pauses.
fn ivr_ulaw() -> Vec<u8> {
    let dir = repo_root().join("testdata/ivr");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".8k-ulaw.wav"))
        .collect();
    names.sort();
    let mut all = Vec::new();
    for path in names {
        let wav = WavFile::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(wav.format, SampleFormat::Ulaw);
        let n = wav.data.len() / G711_FRAME * G711_FRAME;
        all.extend_from_slice(&wav.data[..n]);
    }
    assert!(all.len() >= 100 * G711_FRAME, "IVR fixtures hold speech");
    all
}

const REMOTE_SSRC: Ssrc = Ssrc(0x1bad_cafe);
/// The SBC's SDES key (what it sends in `a=crypto`) and ours.
fn remote_key() -> MasterKey {
    MasterKey::new(*b"0123456789abcdef", *b"saltsaltsaltsa")
}
fn local_key() -> MasterKey {
    MasterKey::new(*b"fedcba9876543210", *b"SALTSALTSALTSA")
}

fn peer() -> SocketAddr {
    SocketAddr::new(SBC.parse().expect("literal address"), 40_000)
}

/// The SBC's side of one call: a continuous PCMU stream, 20 ms apart, arriving with up to
/// ±8 ms of jitter, SRTP-protected when keyed.
struct Sender {
    audio: Vec<u8>,
    seq: u16,
    ts: u32,
    index: u64,
    srtp: Option<SrtpContext>,
    t0: Instant,
    jitter_state: u32,
}

/// One datagram as the socket hands it over, with its arrival time.
struct Datagram {
    data: Vec<u8>,
    arrival: Instant,
}

impl Sender {
    fn new(audio: Vec<u8>, srtp: bool, t0: Instant) -> Self {
        Self {
            audio,
            // Start near the wrap so the 16-bit sequence and SRTP roll-over counter wrap early.
            seq: 65_000,
            ts: 0x7fff_0000,
            index: 0,
            srtp: srtp.then(|| SrtpContext::new(SrtpProfile::AesCm128HmacSha1_80, &remote_key())),
            t0,
            jitter_state: 0x2545_f491,
        }
    }

    fn next(&mut self) -> Datagram {
        let frames = self.audio.len() / G711_FRAME;
        let at = (self.index as usize % frames) * G711_FRAME;
        let mut header = RtpHeader::new(PayloadType::PCMU, self.seq, self.ts, REMOTE_SSRC);
        header.marker = self.index == 0;
        let mut data = Vec::with_capacity(12 + G711_FRAME + 10);
        RtpPacket::write(&header, &self.audio[at..at + G711_FRAME], &mut data);
        if let Some(ctx) = &mut self.srtp {
            ctx.protect_rtp(&mut data).expect("protects");
        }
        // xorshift: arrival jitter of 0..16 ms around the nominal time (after 8 ms).
        self.jitter_state ^= self.jitter_state << 13;
        self.jitter_state ^= self.jitter_state >> 17;
        self.jitter_state ^= self.jitter_state << 5;
        let jitter = Duration::from_micros(u64::from(self.jitter_state % 16_000));
        let arrival = self.t0 + PACKET_SPACING * (self.index as u32) + Duration::from_millis(8) + jitter;
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(G711_FRAME as u32);
        self.index += 1;
        Datagram { data, arrival }
    }

    fn batch(&mut self, n: usize) -> Vec<Datagram> {
        (0..n).map(|_| self.next()).collect()
    }
}

/// The worker's side: the call's RTP session as `attendant serve` sets it up for a PCMU answer
/// with telephone-event, and its decoder.
struct Receiver {
    session: Session,
    decoder: codec::Decoder,
    pcm: Vec<f32>,
    audio: u64,
    concealed: u64,
}

impl Receiver {
    fn new(srtp: bool, t0: Instant) -> Self {
        let mut s = SessionSettings::new(Ssrc(0x600d_f00d), PayloadType::PCMU, ClockRate::HZ_8000, 42);
        s.telephone_event = PayloadType::new(101);
        s.remote = Some(peer());
        if srtp {
            s.srtp = Some(SrtpKeys { profile: SrtpProfile::AesCm128HmacSha1_80, local: local_key(), remote: remote_key() });
        }
        Self {
            session: Session::new(s, t0, SystemTime::now()),
            decoder: codec::Decoder::new(PayloadCodec::Pcmu).expect("G.711 decoder"),
            pcm: vec![0.0; PayloadCodec::Pcmu.frame_samples()],
            audio: 0,
            concealed: 0,
        }
    }

    /// The per-packet path: datagram in, what is due played out and decoded (or concealed).
    fn packet(&mut self, d: &mut Datagram, decode: bool) {
        let _ = self.session.handle_datagram(peer(), &mut d.data, d.arrival);
        while let Some(item) = self.session.poll_playout(d.arrival) {
            match item {
                MediaItem::Audio { payload, .. } => {
                    self.audio += 1;
                    if decode {
                        let n = self.decoder.decode(payload, &mut self.pcm).expect("160 samples fit");
                        black_box(&self.pcm[..n]);
                    }
                }
                _ => {
                    self.concealed += 1;
                    if decode {
                        black_box(self.decoder.conceal(&mut self.pcm));
                    }
                }
            }
        }
        while let Some(e) = self.session.poll_event() {
            black_box(e);
        }
    }
}

/// Runs `iters` packets of one continuous call through `f`, preparing them (untimed) in batches,
/// and returns the time spent in `f`.
fn run_packets<F: FnMut(&mut Datagram)>(sender: &mut Sender, iters: u64, mut f: F) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters as usize;
    while left > 0 {
        let n = left.min(RTP_BATCH);
        left -= n;
        let mut batch = sender.batch(n);
        let t = Instant::now();
        for d in &mut batch {
            f(d);
        }
        total += t.elapsed();
    }
    total
}

fn bench_rtp(c: &mut Criterion) {
    let audio = ivr_ulaw();
    eprintln!("  RTP stream: {} s of IVR speech (PCMU), looped", audio.len() / 8_000);
    let mut g = c.benchmark_group("rtp_packet");
    g.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Elements(1));

    // Parse only.
    let t0 = Instant::now();
    let packet = Sender::new(audio.clone(), false, t0).next().data;
    g.bench_function("parse", |b| b.iter(|| RtpPacket::parse(black_box(&packet)).expect("parses").payload.len()));

    // SRTP unprotect only: a fresh packet each iteration (the replay window refuses repeats).
    {
        let mut sender = Sender::new(audio.clone(), true, t0);
        let mut rx = SrtpContext::new(SrtpProfile::AesCm128HmacSha1_80, &remote_key());
        g.bench_function("srtp_unprotect", |b| {
            b.iter_custom(|iters| run_packets(&mut sender, iters, |d| {
                black_box(rx.unprotect_rtp(&mut d.data).expect("authentic, fresh packet"));
            }))
        });
    }

    // G.711 decode through codec::Decoder.
    {
        let mut decoder = codec::Decoder::new(PayloadCodec::Pcmu).expect("G.711 decoder");
        let mut pcm = [0f32; G711_FRAME];
        let payload = &audio[50 * G711_FRAME..51 * G711_FRAME];
        g.bench_function("pcmu_decode", |b| b.iter(|| decoder.decode(black_box(payload), &mut pcm).expect("fits")));
    }

    // The session paths: handle_datagram (+ SRTP) + poll_playout (+ decode).
    for (name, srtp, decode) in [
        ("session_rtp", false, false),
        ("session_srtp", true, false),
        ("path_rtp_decode", false, true),
        ("path_srtp_decode", true, true),
    ] {
        let t0 = Instant::now();
        let mut sender = Sender::new(audio.clone(), srtp, t0);
        let mut rx = Receiver::new(srtp, t0);
        g.bench_function(name, |b| b.iter_custom(|iters| run_packets(&mut sender, iters, |d| rx.packet(d, decode))));
        let s = rx.session.stats();
        eprintln!(
            "  {name}: {} datagrams, {} RTP accepted, {} played as audio, {} concealed; late {}, duplicates {}, \
             srtp auth failures {}, replays {}, discarded {}",
            s.datagrams,
            s.rtp_packets,
            rx.audio,
            rx.concealed,
            s.jitter.late,
            s.jitter.duplicates,
            s.srtp_auth_failures,
            s.srtp_replays,
            s.jitter.discarded,
        );
        assert_eq!(s.srtp_auth_failures + s.srtp_replays + s.malformed, 0, "{name}: every packet is good");
    }

    // Bad packets: what one costs a call before it is dropped (a garbage flood's price).
    {
        let t0 = Instant::now();
        let mut rx = Receiver::new(true, t0);
        let mut sender = Sender::new(audio.clone(), true, t0);
        for _ in 0..10 {
            let mut d = sender.next();
            rx.packet(&mut d, true);
        }
        let mut garbage = [0u8; 172];
        let mut x = 0x1234_5678u32;
        for b in garbage.iter_mut() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = x as u8;
        }
        let now = t0 + Duration::from_secs(1);
        // First byte outside 128..=191: refused on sight (STUN/DTLS/garbage demux).
        garbage[0] = 0x17;
        g.bench_function("reject_not_rtp", |b| {
            b.iter(|| {
                let mut d = garbage;
                rx.session.handle_datagram(peer(), &mut d, now).is_err()
            })
        });
        // Looks like RTP, fails SRTP authentication: the HMAC is computed, then dropped.
        garbage[0] = 0x80;
        garbage[1] = 0x00;
        g.bench_function("reject_bad_srtp_tag", |b| {
            b.iter(|| {
                let mut d = garbage;
                rx.session.handle_datagram(peer(), &mut d, now).is_err()
            })
        });
        let s = rx.session.stats();
        eprintln!("  garbage: not_rtp {}, srtp auth failures {}, rtp accepted {}", s.not_rtp, s.srtp_auth_failures, s.rtp_packets);
        // The call is unharmed: its stream continues.
        let before = rx.audio;
        for _ in 0..100 {
            let mut d = sender.next();
            d.arrival = now + (d.arrival - t0);
            rx.packet(&mut d, true);
        }
        assert!(rx.audio > before + 90, "the call's audio continues after the garbage");
    }
    g.finish();
}

criterion_group!(benches, bench_sip, bench_rtp);
criterion_main!(benches);
