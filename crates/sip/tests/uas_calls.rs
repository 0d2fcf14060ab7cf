//! Call set-up and tear-down through the UAS core, in virtual time: 100 Trying, ringing,
//! answer, ACK, the 2xx and non-2xx retransmission schedules, CANCEL, BYE both ways.
#![allow(clippy::unwrap_used)]

mod common;

use attendant_sip::{EndReason, Header, HeaderName, Message, SipEvent, StatusCode, Transport};
use common::*;

#[test]
fn invite_gets_100_trying_at_once_and_one_incoming_call() {
    let mut sbc = Sbc::udp();
    let out = sbc.send(&invite("z9hG4bK1", "c1"));
    let r = responses(&out);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].status, StatusCode::TRYING);
    assert_eq!(r[0].headers.to().unwrap().tag(), None, "100 Trying carries no To tag");
    let ev = events(&out);
    let [SipEvent::IncomingCall(c)] = &ev[..] else { panic!("{ev:?}") };
    assert_eq!(c.call_id, "c1");
    assert_eq!(c.source, sbc.addr);
    assert_eq!(c.from.uri.to_string(), "sip:+15550100@sbc.example.com");
    assert_eq!(c.request_uri.to_string(), "sip:ivr@192.0.2.1:5060");
    assert_eq!(c.offer.as_ref().unwrap().media[0].port, 52000);
    // Via of the response carries rport and received stamped from the source.
    let via = r[0].headers.top_via().unwrap();
    assert_eq!(via.rport(), Some(Some(5060)));
    assert_eq!(via.received(), Some("198.51.100.7".parse().unwrap()));
}

#[test]
fn invite_retransmission_is_absorbed_and_answered_with_the_last_response() {
    let mut sbc = Sbc::udp();
    let first = sbc.send(&invite("z9hG4bK1", "c1"));
    let Some(SipEvent::IncomingCall(c)) = events(&first).pop() else { panic!() };
    let again = sbc.send(&invite("z9hG4bK1", "c1"));
    assert_eq!(codes(&again), vec![100]);
    assert!(events(&again).is_empty(), "no second call");
    sbc.core.ringing(c.call, sbc.now).unwrap();
    sbc.drain();
    assert_eq!(codes(&sbc.send(&invite("z9hG4bK1", "c1"))), vec![180]);
}

#[test]
fn ringing_and_200_carry_our_tag_record_route_in_order_and_contact() {
    let mut sbc = Sbc::udp();
    let out = sbc.send(&invite("z9hG4bK1", "c1"));
    let Some(SipEvent::IncomingCall(c)) = events(&out).pop() else { panic!() };
    sbc.core.ringing(c.call, sbc.now).unwrap();
    let ringing = responses(&sbc.drain()).remove(0);
    let out = answer_and_accept(&mut sbc, c.call, c.offer.as_ref().unwrap());
    let ok = responses(&out).remove(0);
    assert_eq!(ringing.status.0, 180);
    assert_eq!(ok.status.0, 200);
    let tag = ringing.headers.to().unwrap().tag().map(str::to_owned);
    assert!(tag.is_some());
    assert_eq!(ok.headers.to().unwrap().tag().map(str::to_owned), tag, "same tag, same dialog");
    for r in [&ringing, &ok] {
        let rr: Vec<&str> = r.headers.get_all(&HeaderName::RecordRoute).collect();
        assert_eq!(rr, vec!["<sip:edge2.sbc.example.com;lr>", "<sip:198.51.100.7;lr>"]);
        assert_eq!(r.headers.get(&HeaderName::Contact), Some("<sip:192.0.2.1:5060>"));
    }
    assert_eq!(ok.headers.get(&HeaderName::ContentType), Some("application/sdp"));
    let answer = attendant_sip::sdp::parse(&ok.body).unwrap();
    assert_eq!(answer.media[0].formats, vec!["8", "101"], "PCMA: first offered codec we support");
    assert!(ok.headers.get(&HeaderName::Allow).unwrap().contains("BYE"));
}

#[test]
fn unacknowledged_200_is_retransmitted_doubling_to_t2_until_the_ack() {
    let mut sbc = Sbc::udp();
    let out = sbc.send(&invite("z9hG4bK1", "c1"));
    let Some(SipEvent::IncomingCall(c)) = events(&out).pop() else { panic!() };
    let ok = responses(&answer_and_accept(&mut sbc, c.call, c.offer.as_ref().unwrap())).remove(0);
    let tag = ok.headers.to().unwrap().tag().unwrap().to_owned();
    let resent = sbc.advance_to(10.0);
    let times: Vec<f64> = resent.iter().map(|(t, _)| *t).collect();
    assert_eq!(times, vec![0.5, 1.5, 3.5, 7.5]);
    assert!(resent
        .iter()
        .all(|(_, o)| matches!(o, Out::Tx(_, Message::Response(r)) if r.status.0 == 200)));
    let out = sbc.send(&ack("z9hG4bKack", "c1", &tag, 1));
    assert_eq!(events(&out), vec![SipEvent::CallAnswered { call: c.call }]);
    assert!(sbc.advance_to(40.0).is_empty(), "the ACK stops retransmission");
    assert!(sbc.send(&ack("z9hG4bKack", "c1", &tag, 1)).is_empty(), "repeated ACK absorbed");
}

#[test]
fn missing_ack_ends_the_call_with_a_bye_after_64_t1() {
    let mut sbc = Sbc::udp();
    let out = sbc.send(&invite("z9hG4bK1", "c1"));
    let Some(SipEvent::IncomingCall(c)) = events(&out).pop() else { panic!() };
    answer_and_accept(&mut sbc, c.call, c.offer.as_ref().unwrap());
    let out = sbc.advance_to(33.0);
    let end: Vec<_> = out.iter().filter(|(t, _)| *t == 32.0).map(|(_, o)| o.clone()).collect();
    let bye = requests(&end);
    assert_eq!(bye.len(), 1);
    assert_eq!(bye[0].1.method.as_str(), "BYE");
    assert!(events(&end).contains(&SipEvent::CallEnded { call: c.call, reason: EndReason::NoAck }));
    assert_eq!(sbc.core.call_count(), 0);
}

#[test]
fn reject_is_retransmitted_on_timer_g_and_absorbs_the_ack() {
    let mut sbc = Sbc::udp();
    let out = sbc.send(&invite("z9hG4bK1", "c1"));
    let Some(SipEvent::IncomingCall(c)) = events(&out).pop() else { panic!() };
    let retry = vec![Header::new(HeaderName::RetryAfter, "30")];
    sbc.core.reject(c.call, StatusCode::SERVICE_UNAVAILABLE, retry, sbc.now).unwrap();
    let out = sbc.drain();
    let r = responses(&out).remove(0);
    assert_eq!(r.status.0, 503);
    assert_eq!(r.headers.get(&HeaderName::RetryAfter), Some("30"));
    assert!(r.headers.to().unwrap().tag().is_some());
    let reason = EndReason::Rejected(StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(events(&out), vec![SipEvent::CallEnded { call: c.call, reason }]);
    // Timer G: 0.5, 1, 2, 4, 4, ... s apart.
    let times: Vec<f64> = sbc.advance_to(16.0).iter().map(|(t, _)| *t).collect();
    assert_eq!(times, vec![0.5, 1.5, 3.5, 7.5, 11.5, 15.5]);
    // The ACK (same branch as the INVITE) stops it; it is never answered.
    let ack = request("ACK", "z9hG4bK1", "c1", r.headers.to().unwrap().tag(), 1, "ACK", "", "");
    assert!(sbc.send(&ack).is_empty());
    assert!(sbc.advance_to(60.0).is_empty());
    assert_eq!(sbc.core.transaction_count(), 0, "Timer I ended the transaction");
}

#[test]
fn unacknowledged_reject_gives_up_at_timer_h() {
    let mut sbc = Sbc::udp();
    let out = sbc.send(&invite("z9hG4bK1", "c1"));
    let Some(SipEvent::IncomingCall(c)) = events(&out).pop() else { panic!() };
    sbc.core.reject(c.call, StatusCode::BUSY_HERE, vec![], sbc.now).unwrap();
    sbc.drain();
    let out = sbc.advance_to(100.0);
    let last = out.last().unwrap().0;
    assert_eq!(last, 31.5, "last retransmission before Timer H at 32 s");
    assert_eq!(sbc.core.transaction_count(), 0);
}

#[test]
fn cancel_before_answer_gets_200_and_the_invite_487() {
    let mut sbc = Sbc::udp();
    let out = sbc.send(&invite("z9hG4bK1", "c1"));
    let Some(SipEvent::IncomingCall(c)) = events(&out).pop() else { panic!() };
    let out = sbc.send(&request("CANCEL", "z9hG4bK1", "c1", None, 1, "CANCEL", "", ""));
    let r = responses(&out);
    assert_eq!(codes(&out), vec![200, 487]);
    assert_eq!(r[0].headers.cseq().unwrap().method.as_str(), "CANCEL");
    assert_eq!(r[1].headers.cseq().unwrap().method.as_str(), "INVITE");
    assert_eq!(
        events(&out),
        vec![
            SipEvent::Cancelled { call: c.call },
            SipEvent::CallEnded { call: c.call, reason: EndReason::Cancelled }
        ]
    );
    assert!(sbc.core.accept(c.call, &c.offer.unwrap(), sbc.now).is_err(), "too late to accept");
    let tag = r[1].headers.to().unwrap().tag().map(str::to_owned);
    assert!(sbc
        .send(&request("ACK", "z9hG4bK1", "c1", tag.as_deref(), 1, "ACK", "", ""))
        .is_empty());
}

#[test]
fn cancel_after_answer_only_gets_200_and_the_call_goes_on() {
    let mut sbc = Sbc::udp();
    let out = sbc.send(&invite("z9hG4bK1", "c1"));
    let Some(SipEvent::IncomingCall(c)) = events(&out).pop() else { panic!() };
    answer_and_accept(&mut sbc, c.call, c.offer.as_ref().unwrap());
    let out = sbc.send(&request("CANCEL", "z9hG4bK1", "c1", None, 1, "CANCEL", "", ""));
    assert_eq!(codes(&out), vec![200]);
    assert!(events(&out).is_empty());
    assert_eq!(sbc.core.call_count(), 1);
}

#[test]
fn cancel_for_an_unknown_transaction_is_481() {
    let mut sbc = Sbc::udp();
    let out = sbc.send(&request("CANCEL", "z9hG4bKnone", "c9", None, 1, "CANCEL", "", ""));
    assert_eq!(codes(&out), vec![481]);
}

#[test]
fn bye_from_the_peer_ends_the_call_with_its_reason() {
    let mut sbc = Sbc::udp();
    let (call, tag) = established(&mut sbc, "c1");
    let bye =
        request("BYE", "z9hG4bKbye", "c1", Some(&tag), 2, "BYE", "Reason: Q.850;cause=16\r\n", "");
    let out = sbc.send(&bye);
    assert_eq!(codes(&out), vec![200]);
    let reason = EndReason::RemoteHangup { reason: Some("Q.850;cause=16".into()) };
    assert_eq!(events(&out), vec![SipEvent::CallEnded { call, reason }]);
    assert_eq!(codes(&sbc.send(&bye)), vec![200], "retransmitted BYE gets the same 200");
    let stray = request("BYE", "z9hG4bKbye2", "c1", Some("other"), 3, "BYE", "", "");
    assert_eq!(codes(&sbc.send(&stray)), vec![481]);
}

#[test]
fn hangup_sends_bye_along_the_route_set_with_our_tags() {
    let mut sbc = Sbc::udp();
    let (call, tag) = established(&mut sbc, "c1");
    sbc.core.hangup(call, sbc.now).unwrap();
    let out = sbc.drain();
    let [(t, bye)] = &requests(&out)[..] else { panic!("{out:?}") };
    assert_eq!(bye.method.as_str(), "BYE");
    // UAS route set: Record-Route in order (RFC 3261 §12.1.1); loose routing keeps the
    // remote target (Contact) as Request-URI.
    let routes: Vec<&str> = bye.headers.get_all(&HeaderName::Route).collect();
    assert_eq!(routes, vec!["<sip:edge2.sbc.example.com;lr>", "<sip:198.51.100.7;lr>"]);
    assert_eq!(bye.uri.to_string(), "sip:sbc@198.51.100.7:5060");
    assert_eq!(bye.headers.from().unwrap().tag(), Some(tag.as_str()));
    assert_eq!(bye.headers.to().unwrap().tag(), Some("sbc-tag"));
    assert_eq!(bye.headers.cseq().unwrap().seq, 1);
    assert_eq!(bye.headers.get(&HeaderName::MaxForwards), Some("70"));
    let via = bye.headers.top_via().unwrap();
    assert!(via.has_rfc3261_branch());
    assert_eq!(via.sent_by(), "192.0.2.1:5060");
    // The first route is a name: the BYE goes to where the INVITE came from.
    assert_eq!(t.destination, sbc.addr);
    // No answer yet: Timer E retransmits.
    let times: Vec<f64> = sbc.advance_to(sbc.secs() + 4.0).iter().map(|(t, _)| *t).collect();
    assert_eq!(times, vec![0.5, 1.5, 3.5]);
    let ok = format!(
        "SIP/2.0 200 OK\r\nVia: {}\r\nFrom: {}\r\nTo: {}\r\nCall-ID: c1\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n",
        bye.headers.get(&HeaderName::Via).unwrap(),
        bye.headers.get(&HeaderName::From).unwrap(),
        bye.headers.get(&HeaderName::To).unwrap()
    );
    let out = sbc.send(&ok);
    assert_eq!(events(&out), vec![SipEvent::CallEnded { call, reason: EndReason::LocalHangup }]);
    assert!(sbc.send(&ok).is_empty(), "retransmitted 200 absorbed");
}

#[test]
fn hangup_before_the_ack_waits_for_it() {
    let mut sbc = Sbc::udp();
    let out = sbc.send(&invite("z9hG4bK1", "c1"));
    let Some(SipEvent::IncomingCall(c)) = events(&out).pop() else { panic!() };
    let ok = responses(&answer_and_accept(&mut sbc, c.call, c.offer.as_ref().unwrap())).remove(0);
    sbc.core.hangup(c.call, sbc.now).unwrap();
    assert!(requests(&sbc.drain()).is_empty(), "no BYE before the ACK (RFC 3261 §15)");
    let tag = ok.headers.to().unwrap().tag().unwrap().to_owned();
    let out = sbc.send(&ack("z9hG4bKack", "c1", &tag, 1));
    assert_eq!(events(&out), vec![SipEvent::CallAnswered { call: c.call }]);
    assert_eq!(requests(&out)[0].1.method.as_str(), "BYE");
}

#[test]
fn bye_timeout_ends_the_call() {
    let mut sbc = Sbc::udp();
    let (call, _) = established(&mut sbc, "c1");
    sbc.core.hangup(call, sbc.now).unwrap();
    sbc.drain();
    let start = sbc.secs();
    let out = sbc.advance_to(start + 40.0);
    let ended: Vec<_> =
        out.iter().filter(|(_, o)| matches!(o, Out::Ev(SipEvent::CallEnded { .. }))).collect();
    assert_eq!(ended.len(), 1);
    assert!((ended[0].0 - start - 32.0).abs() < 1e-9, "Timer F at 64*T1");
}

#[test]
fn hangup_before_answer_rejects_with_480() {
    let mut sbc = Sbc::udp();
    let out = sbc.send(&invite("z9hG4bK1", "c1"));
    let Some(SipEvent::IncomingCall(c)) = events(&out).pop() else { panic!() };
    sbc.core.hangup(c.call, sbc.now).unwrap();
    let out = sbc.drain();
    assert_eq!(codes(&out), vec![480]);
    assert_eq!(
        events(&out),
        vec![SipEvent::CallEnded { call: c.call, reason: EndReason::LocalHangup }]
    );
}

#[test]
fn reliable_transport_sends_no_retransmissions() {
    let mut sbc = Sbc::tcp();
    let msg = invite("z9hG4bK1", "c1").replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    let out = sbc.send(&msg);
    let Some(SipEvent::IncomingCall(c)) = events(&out).pop() else { panic!() };
    assert_eq!(c.transport, Transport::Tcp);
    let out = answer_and_accept(&mut sbc, c.call, c.offer.as_ref().unwrap());
    let Out::Tx(t, _) = &out[0] else { panic!() };
    assert_eq!((t.transport, t.destination), (Transport::Tcp, sbc.addr));
    assert!(responses(&out)[0]
        .headers
        .get(&HeaderName::Contact)
        .unwrap()
        .contains("transport=tcp"));
    let resent = sbc.advance_to(40.0);
    assert!(resent.iter().all(|(_, o)| !matches!(o, Out::Tx(_, Message::Response(_)))));
}

#[test]
fn responses_without_rport_go_to_the_via_port() {
    let mut sbc = Sbc::udp();
    let msg = invite("z9hG4bK1", "c1")
        .replace(";rport", "")
        .replace("198.51.100.7:5060;branch", "198.51.100.7:5070;branch");
    let out = sbc.send(&msg);
    let Out::Tx(t, _) = &out[0] else { panic!() };
    assert_eq!(t.destination, "198.51.100.7:5070".parse().unwrap());
}

#[test]
fn merged_request_by_another_path_is_482() {
    let mut sbc = Sbc::udp();
    sbc.send(&invite("z9hG4bK1", "c1"));
    let out = sbc.send(&invite("z9hG4bK2", "c1"));
    assert_eq!(codes(&out), vec![482]);
    assert_eq!(sbc.core.call_count(), 1);
}

#[test]
fn everything_is_cleaned_up_after_calls_end() {
    let mut sbc = Sbc::udp();
    for i in 0..5 {
        let call_id = format!("c{i}");
        let (call, _) = established(&mut sbc, &call_id);
        sbc.core.hangup(call, sbc.now).unwrap();
    }
    sbc.advance_to(200.0);
    assert_eq!(sbc.core.call_count(), 0);
    assert_eq!(sbc.core.transaction_count(), 0);
    assert!(
        sbc.core.poll_output().is_none()
            || matches!(sbc.core.poll_output(), Some(attendant_sip::Output::Timeout(_)))
    );
}
