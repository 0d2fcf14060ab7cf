//! The WebRTC call against a second str0m instance playing the browser, over loopback UDP:
//! offers refused for what they lack, and a whole connection (ICE, DTLS-SRTP, Opus both ways,
//! key presses on the data channel, the worker's hang-up) with a stand-in for call control.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::channel::ChannelId;
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::net::UdpSocket;

use super::audio::AudioPath;
use super::peer::{Ending, OfferError, Peer, CALL_RATE};
use crate::serve::stream::{StreamCall, StreamIn, StreamOut};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// The browser's side: an offer made by str0m with `codecs` enabled.
fn browser(configure: impl FnOnce(str0m::RtcConfig) -> str0m::RtcConfig, add: impl FnOnce(&mut str0m::change::SdpApi)) -> (Rtc, SdpOffer, SdpPendingOffer) {
    let mut rtc = configure(Rtc::builder()).build(Instant::now());
    let mut api = rtc.sdp_api();
    add(&mut api);
    let (offer, pending) = api.apply().expect("a change");
    (rtc, offer, pending)
}

async fn answer_of(offer: &SdpOffer) -> Result<(Peer, String), OfferError> {
    Peer::answer(&offer.to_sdp_string(), LOOPBACK, LOOPBACK).await
}

#[tokio::test]
async fn offers_without_usable_audio_are_refused_with_the_reason() {
    assert!(matches!(Peer::answer("hello", LOOPBACK, LOOPBACK).await, Err(OfferError::Sdp(_))));
    assert!(matches!(Peer::answer("v=0\r\n", LOOPBACK, LOOPBACK).await, Err(OfferError::Sdp(_))));
    let (_, offer, _) = browser(|c| c, |api| {
        api.add_channel("chat".into());
    });
    assert!(matches!(answer_of(&offer).await, Err(OfferError::NoAudio)));
    let (_, offer, _) = browser(|c| c, |api| {
        api.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
    });
    assert!(matches!(answer_of(&offer).await, Err(OfferError::NoAudio)));
    let (_, offer, _) = browser(|c| c.clear_codecs().enable_pcmu(true, false), |api| {
        api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
    });
    assert!(matches!(answer_of(&offer).await, Err(OfferError::NoAudio | OfferError::NoOpus)), "PCMU only");
    let (_, offer, _) = browser(|c| c, |api| {
        api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
    });
    let (_, answer) = answer_of(&offer).await.expect("an audio offer is answered");
    assert!(answer.contains("a=ice-lite") && answer.contains("opus/48000/2") && answer.contains("127.0.0.1"), "{answer}");
}

/// The browser's run loop, reduced: its socket, its Rtc, what it got.
struct Browser {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    channel_open: bool,
    connected: bool,
    closed: bool,
    /// Opus packets from the worker.
    packets: Vec<Vec<u8>>,
}

impl Browser {
    fn drain(&mut self) -> Instant {
        loop {
            match self.rtc.poll_output().expect("browser poll") {
                Output::Timeout(t) => return t,
                Output::Transmit(t) => {
                    let _ = self.socket.try_send_to(&t.contents, t.destination);
                }
                Output::Event(Event::Connected) => self.connected = true,
                Output::Event(Event::Closed) => self.closed = true,
                Output::Event(Event::ChannelOpen(..)) => self.channel_open = true,
                Output::Event(Event::MediaData(d)) => self.packets.push(d.data.to_vec()),
                Output::Event(_) => {}
            }
        }
    }

    /// Runs the connection until `until` or `done`.
    async fn run_for(&mut self, until: Duration, done: impl Fn(&Self) -> bool) {
        let end = Instant::now() + until;
        let mut buf = vec![0u8; 2048];
        while Instant::now() < end && !done(self) {
            let next = self.drain().min(end);
            tokio::select! {
                r = self.socket.recv_from(&mut buf) => {
                    let (n, source) = r.expect("recv");
                    if let Ok(rx) = Receive::new(Protocol::Udp, source, self.local, &buf[..n]) {
                        let _ = self.rtc.handle_input(Input::Receive(Instant::now(), rx));
                    }
                }
                () = tokio::time::sleep_until(next.into()) => {
                    let _ = self.rtc.handle_input(Input::Timeout(Instant::now()));
                }
            }
        }
        self.drain();
    }
}

#[tokio::test]
async fn a_call_connects_and_carries_audio_both_ways_until_the_worker_hangs_up() {
    let (mut mid, mut channel): (Option<Mid>, Option<ChannelId>) = (None, None);
    let (mut rtc, offer, pending) = browser(|c| c, |api| {
        mid = Some(api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None));
        channel = Some(api.add_channel("dtmf".into()));
    });
    let (mid, channel) = (mid.expect("mid"), channel.expect("channel"));
    let socket = UdpSocket::bind((LOOPBACK, 0)).await.expect("bind");
    let local = socket.local_addr().expect("addr");
    rtc.add_local_candidate(Candidate::host(local, "udp").expect("candidate"));
    let (mut peer, answer) = answer_of(&offer).await.expect("answered");
    rtc.sdp_api().accept_answer(pending, SdpAnswer::from_sdp_string(&answer).expect("answer parses")).expect("answer accepted");
    let mut browser = Browser { rtc, socket, local, channel_open: false, connected: false, closed: false, packets: Vec::new() };

    // Call control's stand-in: the call starts with these ends.
    let (to_media, inbound) = std::sync::mpsc::sync_channel(crate::serve::stream::INBOUND_FRAMES * 10);
    let (outbound, from_media) = tokio::sync::mpsc::channel(crate::serve::stream::OUTBOUND_MESSAGES);
    let call = StreamCall { call_id: "webrtc-test".into(), to_media, from_media };
    let worker = tokio::spawn(async move {
        let ending = peer.run(move || async move { Ok(call) }).await;
        (ending, peer.frames_out, peer.dropped_in)
    });

    browser.run_for(Duration::from_secs(10), |b| b.connected && b.channel_open).await;
    assert!(browser.connected && browser.channel_open, "ICE, DTLS or SCTP did not connect");

    // One second of a tone from the browser, and a key press.
    let mut caller = AudioPath::new(CALL_RATE).expect("audio");
    let pt = browser.rtc.writer(mid).and_then(|w| w.payload_params().find(|p| p.spec().codec == Codec::Opus).map(|p| p.pt())).expect("opus");
    let start = Instant::now();
    for i in 0..50u64 {
        let tone: Vec<f32> = (0..320).map(|n| ((i * 320 + n) as f32 * 0.17).sin() * 0.4).collect();
        let (packet, ts) = caller.encode(&tone, start + Duration::from_millis(20 * i)).expect("encode");
        let packet = packet.to_vec();
        let writer = browser.rtc.writer(mid).expect("writer");
        writer.write(pt, Instant::now(), MediaTime::new(ts, Frequency::FORTY_EIGHT_KHZ), packet).expect("write");
        browser.run_for(Duration::from_millis(20), |_| false).await;
    }
    browser.rtc.channel(channel).expect("channel").write(false, b"5#").expect("key presses");
    // The worker's half: a second of frames from the engine.
    for _ in 0..50 {
        outbound.send(StreamOut::Audio(vec![0.1; CALL_RATE.frame_samples()])).await.expect("to the connection");
        browser.run_for(Duration::from_millis(20), |_| false).await;
    }
    browser.run_for(Duration::from_millis(300), |_| false).await;

    let mut frames = 0;
    let mut keys = String::new();
    while let Ok(message) = inbound.try_recv() {
        match message {
            StreamIn::Audio(frame) => {
                assert_eq!(frame.len(), CALL_RATE.frame_samples());
                frames += 1;
            }
            StreamIn::Dtmf(key) => keys.push(key),
            StreamIn::MarkPlayed(_) => {}
        }
    }
    // Every packet sent became one frame at the call's rate (the first ones may have come
    // before the call had started on the stand-in).
    assert!((45..=50).contains(&frames), "{frames} frames from 50 packets");
    assert_eq!(keys, "5#");
    assert!(browser.packets.len() >= 45, "{} packets from the worker", browser.packets.len());

    outbound.send(StreamOut::Hangup { reason: "dialogue finished".into() }).await.expect("hang-up");
    let (ending, frames_out, dropped) = tokio::time::timeout(Duration::from_secs(5), worker).await.expect("the task ends").expect("no panic");
    assert_eq!(ending, Ending::Hangup("dialogue finished".into()));
    assert_eq!((frames_out, dropped), (50, 0));
    browser.run_for(Duration::from_secs(2), |b| b.closed).await;
    assert!(browser.closed, "the browser saw no close");
}

#[tokio::test]
async fn a_browser_that_closes_ends_the_call() {
    let (mut rtc, offer, pending) = browser(|c| c, |api| {
        api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
    });
    let socket = UdpSocket::bind((LOOPBACK, 0)).await.expect("bind");
    let local = socket.local_addr().expect("addr");
    rtc.add_local_candidate(Candidate::host(local, "udp").expect("candidate"));
    let (mut peer, answer) = answer_of(&offer).await.expect("answered");
    rtc.sdp_api().accept_answer(pending, SdpAnswer::from_sdp_string(&answer).expect("answer parses")).expect("answer accepted");
    let mut browser = Browser { rtc, socket, local, channel_open: false, connected: false, closed: false, packets: Vec::new() };
    let (to_media, _inbound) = std::sync::mpsc::sync_channel(10);
    let (_outbound, from_media) = tokio::sync::mpsc::channel(10);
    let call = StreamCall { call_id: "webrtc-test".into(), to_media, from_media };
    let worker = tokio::spawn(async move { peer.run(move || async move { Ok(call) }).await });
    browser.run_for(Duration::from_secs(10), |b| b.connected).await;
    assert!(browser.connected);
    browser.rtc.close().expect("close");
    browser.run_for(Duration::from_millis(500), |_| false).await;
    let ending = tokio::time::timeout(Duration::from_secs(5), worker).await.expect("the task ends").expect("no panic");
    assert_eq!(ending, Ending::Peer("caller_hangup".into()));
}
