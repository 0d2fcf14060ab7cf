//! In-dialog behaviour of the UAS core: re-INVITE (hold, codec change, refresh), OPTIONS,
//! REFER with NOTIFY sipfrag progress, session timers, refusals and malformed input.
#![allow(clippy::unwrap_used)]

mod common;

use attendant_sip::refer::user_to_user_hex;
use attendant_sip::sdp::{self, Direction, LocalMedia};
use attendant_sip::uri::Uri;
use attendant_sip::{
    CallHandle, EndReason, Header, HeaderName, Message, ReferOptions, SipEvent, StatusCode,
};
use common::*;

fn reoffer(version: u32, direction: &str, codecs: &str) -> String {
    format!(
        "v=0\r\no=sbc 1000 {version} IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
         m=audio 52000 RTP/AVP {codecs} 101\r\na=rtpmap:101 telephone-event/8000\r\na={direction}\r\n"
    )
}

fn reinvite(tag: &str, cseq: u32, branch: &str, body: &str) -> String {
    request(
        "INVITE",
        branch,
        "c1",
        Some(tag),
        cseq,
        "INVITE",
        "Content-Type: application/sdp\r\n",
        body,
    )
}

fn answer_reinvite(
    sbc: &mut Sbc,
    call: CallHandle,
    offer: &sdp::SessionDescription,
) -> sdp::SdpAnswer {
    let mut local = LocalMedia::new("192.0.2.1".parse().unwrap(), 40000);
    local.session_version = 2;
    let a = sdp::answer(offer, &local).unwrap();
    sbc.core.accept_reinvite(call, Some(&a.sdp), sbc.now).unwrap();
    a
}

#[test]
fn reinvite_to_hold_is_answered_recvonly() {
    let mut sbc = Sbc::udp();
    let (call, tag) = established(&mut sbc, "c1");
    let out = sbc.send(&reinvite(&tag, 2, "z9hG4bKre1", &reoffer(2, "sendonly", "8")));
    assert_eq!(codes(&out), vec![100]);
    let ev = events(&out);
    let [SipEvent::ReInvite { call: c, offer: Some(offer), refresh: false }] = &ev[..] else {
        panic!("{ev:?}")
    };
    assert_eq!(*c, call);
    let a = answer_reinvite(&mut sbc, call, offer);
    assert_eq!(a.negotiated.direction, Direction::RecvOnly);
    let ok = responses(&sbc.drain()).remove(0);
    assert_eq!(ok.status.0, 200);
    assert_eq!(ok.headers.to().unwrap().tag(), Some(tag.as_str()));
    assert!(ok.headers.contains(&HeaderName::Contact));
    assert_eq!(sdp::parse(&ok.body).unwrap().direction(0), Direction::RecvOnly);
    // The ACK of a re-INVITE is absorbed without a second CallAnswered.
    assert!(events(&sbc.send(&ack("z9hG4bKack2", "c1", &tag, 2))).is_empty());
    assert!(sbc.advance_to(40.0).iter().all(|(_, o)| !matches!(o, Out::Tx(..))));
}

#[test]
fn reinvite_inactive_then_resume_and_codec_change() {
    let mut sbc = Sbc::udp();
    let (call, tag) = established(&mut sbc, "c1");
    let out = sbc.send(&reinvite(&tag, 2, "z9hG4bKre1", &reoffer(2, "inactive", "8")));
    let Some(SipEvent::ReInvite { offer: Some(offer), .. }) = events(&out).pop() else { panic!() };
    assert_eq!(answer_reinvite(&mut sbc, call, &offer).negotiated.direction, Direction::Inactive);
    sbc.drain();
    sbc.send(&ack("z9hG4bKack2", "c1", &tag, 2));
    let out = sbc.send(&reinvite(&tag, 3, "z9hG4bKre2", &reoffer(3, "sendrecv", "0")));
    let Some(SipEvent::ReInvite { offer: Some(offer), refresh: false, .. }) = events(&out).pop()
    else {
        panic!()
    };
    let a = answer_reinvite(&mut sbc, call, &offer);
    assert_eq!(a.negotiated.direction, Direction::SendRecv);
    assert_eq!(a.negotiated.codec.payload_type, 0, "codec changed to PCMU");
}

#[test]
fn reinvite_with_the_same_session_version_is_a_refresh() {
    let mut sbc = Sbc::udp();
    let (_, tag) = established(&mut sbc, "c1");
    let out = sbc.send(&reinvite(&tag, 2, "z9hG4bKre1", OFFER));
    let Some(SipEvent::ReInvite { refresh, .. }) = events(&out).pop() else { panic!() };
    assert!(refresh, "o= version unchanged: session refresh");
    let offerless = request("INVITE", "z9hG4bKre3", "c1", Some(&tag), 3, "INVITE", "", "");
    let out = sbc.send(&offerless);
    assert_eq!(codes(&out), vec![500], "a second INVITE while one is pending gets 500");
    assert_eq!(responses(&out)[0].headers.get(&HeaderName::RetryAfter), Some("1"));
}

#[test]
fn reinvite_rejected_leaves_the_call_up() {
    let mut sbc = Sbc::udp();
    let (call, tag) = established(&mut sbc, "c1");
    sbc.send(&reinvite(&tag, 2, "z9hG4bKre1", &reoffer(2, "sendrecv", "18")));
    sbc.core.reject_reinvite(call, StatusCode::NOT_ACCEPTABLE_HERE, sbc.now).unwrap();
    assert_eq!(codes(&sbc.drain()), vec![488]);
    assert_eq!(sbc.core.call_count(), 1);
}

#[test]
fn in_dialog_request_with_a_lower_cseq_is_500() {
    let mut sbc = Sbc::udp();
    let (_, tag) = established(&mut sbc, "c1");
    sbc.send(&request("BYE", "z9hG4bKx", "c1", Some(&tag), 0, "BYE", "", ""));
    let out = sbc.send(&reinvite(&tag, 0, "z9hG4bKre0", OFFER));
    assert_eq!(codes(&out), vec![500]);
}

#[test]
fn cancel_of_a_reinvite_gets_487_and_keeps_the_call() {
    let mut sbc = Sbc::udp();
    let (call, tag) = established(&mut sbc, "c1");
    sbc.send(&reinvite(&tag, 2, "z9hG4bKre1", OFFER));
    let out = sbc.send(&request("CANCEL", "z9hG4bKre1", "c1", Some(&tag), 2, "CANCEL", "", ""));
    assert_eq!(codes(&out), vec![200, 487]);
    assert!(sbc.core.accept_reinvite(call, None, sbc.now).is_err());
    assert_eq!(sbc.core.call_count(), 1);
}

#[test]
fn options_keepalive_is_answered_200_with_allow_and_accept() {
    let mut sbc = Sbc::udp();
    let out = sbc.send(&request("OPTIONS", "z9hG4bKo1", "ka1", None, 1, "OPTIONS", "", ""));
    let r = responses(&out).remove(0);
    assert_eq!(r.status.0, 200);
    assert_eq!(
        r.headers.get(&HeaderName::Allow),
        Some("INVITE, ACK, CANCEL, BYE, OPTIONS, NOTIFY")
    );
    assert_eq!(r.headers.get(&HeaderName::Accept), Some("application/sdp"));
    assert!(events(&out).is_empty());
    // Max-Forwards: 0 is fine for an endpoint (RFC 4475 §3.3.11).
    let zero = request("OPTIONS", "z9hG4bKo2", "ka2", None, 1, "OPTIONS", "", "")
        .replace("Max-Forwards: 70", "Max-Forwards: 0");
    assert_eq!(codes(&sbc.send(&zero)), vec![200]);
}

fn refer_target() -> Uri {
    Uri::parse("sip:queue-billing@cc.example.com").unwrap()
}

/// Sends a REFER for the call and returns it.
fn start_transfer(sbc: &mut Sbc, call: CallHandle) -> attendant_sip::Request {
    let opts = ReferOptions {
        referred_by: Some("<sip:ivr@192.0.2.1>".into()),
        headers: vec![
            Header::new("User-to-User", user_to_user_hex(b"ctx-42", Some("call"))),
            Header::new("X-Intent", "billing"),
        ],
        refer_to_headers: vec![],
    };
    sbc.core.refer(call, &refer_target(), opts, sbc.now).unwrap();
    requests(&sbc.drain()).remove(0).1
}

fn respond(req: &attendant_sip::Request, status: u16, reason: &str) -> String {
    let h = &req.headers;
    format!(
        "SIP/2.0 {status} {reason}\r\nVia: {}\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {}\r\nContent-Length: 0\r\n\r\n",
        h.get(&HeaderName::Via).unwrap(),
        h.get(&HeaderName::From).unwrap(),
        h.get(&HeaderName::To).unwrap(),
        h.call_id().unwrap(),
        h.get(&HeaderName::CSeq).unwrap()
    )
}

fn notify(tag: &str, cseq: u32, frag: &str, state: &str) -> String {
    request(
        "NOTIFY",
        &format!("z9hG4bKn{cseq}"),
        "c1",
        Some(tag),
        cseq,
        "NOTIFY",
        &format!("Event: refer\r\nSubscription-State: {state}\r\nContent-Type: message/sipfrag;version=2.0\r\n"),
        frag,
    )
}

#[test]
fn refer_carries_target_referred_by_uui_and_x_headers() {
    let mut sbc = Sbc::udp();
    let (call, tag) = established(&mut sbc, "c1");
    let refer = start_transfer(&mut sbc, call);
    assert_eq!(refer.method.as_str(), "REFER");
    let h = &refer.headers;
    assert_eq!(h.get(&HeaderName::ReferTo), Some("<sip:queue-billing@cc.example.com>"));
    assert_eq!(h.get(&HeaderName::ReferredBy), Some("<sip:ivr@192.0.2.1>"));
    assert_eq!(h.get(&HeaderName::UserToUser), Some("6374782d3432;encoding=hex;purpose=call"));
    assert_eq!(h.get(&HeaderName::Other("X-Intent".into())), Some("billing"));
    assert_eq!(h.from().unwrap().tag(), Some(tag.as_str()));
    assert_eq!(h.cseq().unwrap().to_string(), "1 REFER");
    assert!(h.contains(&HeaderName::Contact));
}

#[test]
fn refer_then_notify_progress_then_success() {
    let mut sbc = Sbc::udp();
    let (call, tag) = established(&mut sbc, "c1");
    let refer = start_transfer(&mut sbc, call);
    let out = sbc.send(&respond(&refer, 202, "Accepted"));
    assert_eq!(
        events(&out),
        vec![SipEvent::TransferProgress { call, status: StatusCode::ACCEPTED }]
    );
    let out = sbc.send(&notify(&tag, 2, "SIP/2.0 100 Trying\r\n", "active;expires=60"));
    assert_eq!(codes(&out), vec![200]);
    assert_eq!(events(&out), vec![SipEvent::TransferProgress { call, status: StatusCode::TRYING }]);
    let out = sbc.send(&notify(&tag, 3, "SIP/2.0 180 Ringing\r\n", "active;expires=60"));
    assert_eq!(
        events(&out),
        vec![SipEvent::TransferProgress { call, status: StatusCode::RINGING }]
    );
    let out = sbc.send(&notify(&tag, 4, "SIP/2.0 200 OK\r\n", "terminated;reason=noresource"));
    assert_eq!(codes(&out), vec![200]);
    assert_eq!(
        events(&out),
        vec![SipEvent::TransferResult { call, ok: true, status: Some(StatusCode::OK) }]
    );
    // The application ends its leg once transferred.
    sbc.core.hangup(call, sbc.now).unwrap();
    assert_eq!(requests(&sbc.drain())[0].1.headers.cseq().unwrap().to_string(), "2 BYE");
}

#[test]
fn refer_refused_reports_failure() {
    let mut sbc = Sbc::udp();
    let (call, _) = established(&mut sbc, "c1");
    let refer = start_transfer(&mut sbc, call);
    let out = sbc.send(&respond(&refer, 403, "Forbidden"));
    assert_eq!(
        events(&out),
        vec![SipEvent::TransferResult { call, ok: false, status: Some(StatusCode::FORBIDDEN) }]
    );
    assert!(
        sbc.core.refer(call, &refer_target(), ReferOptions::default(), sbc.now).is_ok(),
        "may try again"
    );
}

#[test]
fn failed_target_in_notify_reports_failure() {
    let mut sbc = Sbc::udp();
    let (call, tag) = established(&mut sbc, "c1");
    let refer = start_transfer(&mut sbc, call);
    sbc.send(&respond(&refer, 202, "Accepted"));
    let out =
        sbc.send(&notify(&tag, 2, "SIP/2.0 486 Busy Here\r\n", "terminated;reason=noresource"));
    assert_eq!(
        events(&out),
        vec![SipEvent::TransferResult { call, ok: false, status: Some(StatusCode::BUSY_HERE) }]
    );
}

#[test]
fn unanswered_refer_times_out_as_a_failed_transfer() {
    let mut sbc = Sbc::udp();
    let (call, _) = established(&mut sbc, "c1");
    start_transfer(&mut sbc, call);
    assert!(
        sbc.core.refer(call, &refer_target(), ReferOptions::default(), sbc.now).is_err(),
        "one at a time"
    );
    let out = sbc.advance_to(sbc.secs() + 33.0);
    let result: Vec<_> = out
        .iter()
        .filter_map(|(_, o)| match o {
            Out::Ev(e @ SipEvent::TransferResult { .. }) => Some(e.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        result,
        vec![SipEvent::TransferResult {
            call,
            ok: false,
            status: Some(StatusCode::REQUEST_TIMEOUT)
        }]
    );
}

#[test]
fn notify_outside_a_dialog_is_481_and_other_events_489() {
    let mut sbc = Sbc::udp();
    assert_eq!(codes(&sbc.send(&notify("nope", 2, "SIP/2.0 200 OK\r\n", "active"))), vec![481]);
    let (_, tag) = established(&mut sbc, "c1");
    let presence = notify(&tag, 3, "", "active").replace("Event: refer", "Event: presence");
    assert_eq!(codes(&sbc.send(&presence)), vec![489]);
}

#[test]
fn session_expires_is_echoed_with_uac_refresher() {
    let mut sbc = Sbc::udp();
    let extra = "Content-Type: application/sdp\r\nSupported: timer\r\nSession-Expires: 1800\r\nMin-SE: 90\r\n";
    let out = sbc.send(&request("INVITE", "z9hG4bK1", "c1", None, 1, "INVITE", extra, OFFER));
    let Some(SipEvent::IncomingCall(c)) = events(&out).pop() else { panic!() };
    let ok = responses(&answer_and_accept(&mut sbc, c.call, c.offer.as_ref().unwrap())).remove(0);
    assert_eq!(ok.headers.get(&HeaderName::SessionExpires), Some("1800;refresher=uac"));
    assert_eq!(ok.headers.get(&HeaderName::Require), Some("timer"));
}

#[test]
fn too_short_session_interval_is_422_with_min_se() {
    let mut sbc = Sbc::udp();
    let extra = "Content-Type: application/sdp\r\nSupported: timer\r\nSession-Expires: 30\r\n";
    let out = sbc.send(&request("INVITE", "z9hG4bK1", "c1", None, 1, "INVITE", extra, OFFER));
    let r = responses(&out).remove(0);
    assert_eq!(r.status.0, 422);
    assert_eq!(r.headers.get(&HeaderName::MinSe), Some("90"));
}

#[test]
fn refusals_name_the_status_rfc3261_asks_for() {
    let mut sbc = Sbc::udp();
    let cases = [
        ("Require: 100rel, foo\r\n", "INVITE", 420),
        ("Content-Type: application/isup\r\n", "INVITE", 415),
        ("", "SUBSCRIBE", 405),
        ("", "FOOBAR", 501),
    ];
    for (i, (extra, method, status)) in cases.into_iter().enumerate() {
        let body = if extra.contains("isup") { "x" } else { "" };
        let msg = request(
            method,
            &format!("z9hG4bKr{i}"),
            &format!("r{i}"),
            None,
            1,
            method,
            extra,
            body,
        );
        let out = sbc.send(&msg);
        assert_eq!(codes(&out), vec![status], "{method} {extra}");
        assert!(matches!(events(&out)[..], [SipEvent::Refused { .. }]));
        if status == 420 {
            assert_eq!(
                responses(&out)[0].headers.get(&HeaderName::Unsupported),
                Some("100rel, foo")
            );
        }
        if status == 405 {
            assert!(responses(&out)[0].headers.contains(&HeaderName::Allow));
        }
    }
    let tel = invite("z9hG4bKt", "t1")
        .replace("INVITE sip:ivr@192.0.2.1:5060", "INVITE im:ivr@example.com");
    assert_eq!(codes(&sbc.send(&tel)), vec![416]);
    let bad_sdp = request(
        "INVITE",
        "z9hG4bKs",
        "s1",
        None,
        1,
        "INVITE",
        "Content-Type: application/sdp\r\n",
        "v=9\r\n",
    );
    let r = responses(&sbc.send(&bad_sdp)).remove(0);
    assert_eq!(r.status.0, 400);
    assert!(r.reason.contains("SDP"), "{}", r.reason);
    assert_eq!(sbc.core.call_count(), 0);
}

#[test]
fn malformed_request_gets_400_naming_the_header_or_is_dropped() {
    let mut sbc = Sbc::udp();
    let bad =
        invite("z9hG4bK1", "c1").replace("CSeq: 1 INVITE", "CSeq: 1 INVITE\r\nMax-Forwards: lots");
    let out = sbc.send(&bad);
    let r = responses(&out).remove(0);
    assert_eq!(r.status.0, 400);
    assert!(r.reason.contains("Max-Forwards"), "{}", r.reason);
    assert!(matches!(events(&out)[..], [SipEvent::Malformed { answered: true, .. }]));
    let out = sbc.send_bytes(b"\x16\x03\x01garbage that is no SIP at all\r\n\r\n");
    assert!(responses(&out).is_empty());
    assert!(matches!(events(&out)[..], [SipEvent::Malformed { answered: false, .. }]));
    assert!(sbc.send_bytes(b"\r\n\r\n").is_empty(), "keep-alive ignored");
    // Well formed but without From/To/Call-ID (RFC 4475 §3.3.1): refused, nothing sent.
    let insuf =
        "INVITE sip:ivr@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKi\r\n\
                 CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    let out = sbc.send(insuf);
    assert!(responses(&out).is_empty());
    assert!(matches!(
        events(&out)[..],
        [SipEvent::Refused { status: StatusCode::BAD_REQUEST, .. }]
    ));
}

#[test]
fn garbage_between_messages_does_not_disturb_a_call() {
    let mut sbc = Sbc::udp();
    let (call, tag) = established(&mut sbc, "c1");
    for i in 0..200u32 {
        let junk: Vec<u8> = (0..(i % 97 + 1))
            .map(|j| (i.wrapping_mul(31).wrapping_add(j * 7) % 256) as u8)
            .collect();
        sbc.send_bytes(&junk);
    }
    let out = sbc.send(&request("BYE", "z9hG4bKbye", "c1", Some(&tag), 2, "BYE", "", ""));
    assert_eq!(codes(&out), vec![200]);
    assert_eq!(
        events(&out),
        vec![SipEvent::CallEnded { call, reason: EndReason::RemoteHangup { reason: None } }]
    );
}

#[test]
fn incoming_call_exposes_headers_for_tenant_routing() {
    let mut sbc = Sbc::udp();
    let extra =
        "Content-Type: application/sdp\r\nUser-to-User: 00ff;encoding=hex\r\nX-Tenant: acme\r\n";
    let out = sbc.send(&request("INVITE", "z9hG4bK1", "c1", None, 1, "INVITE", extra, OFFER));
    let Some(SipEvent::IncomingCall(c)) = events(&out).pop() else { panic!() };
    assert_eq!(c.headers.get(&HeaderName::UserToUser), Some("00ff;encoding=hex"));
    assert_eq!(c.headers.get(&"x-tenant".into()), Some("acme"), "names compare case-insensitively");
    sbc.core.reject(c.call, StatusCode::FORBIDDEN, vec![], sbc.now).unwrap();
    let out = sbc.drain();
    assert_eq!(codes(&out), vec![403]);
    assert!(matches!(
        out.iter().find_map(|o| match o {
            Out::Tx(_, Message::Response(r)) => Some(r.status.0),
            _ => None,
        }),
        Some(403)
    ));
}
