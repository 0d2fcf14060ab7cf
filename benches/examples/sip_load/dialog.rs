//! The call's dialog once answered: the worker's requests (BYE answered 200; REFER answered
//! 202 and followed by our NOTIFY that the transfer target answered, after which the worker's
//! BYE is expected; re-INVITE, OPTIONS, INFO, UPDATE answered 200; anything else 501), the
//! responses to ours (BYE, NOTIFY; a retransmitted 200 to the INVITE gets its ACK again), and
//! the timers: retransmissions (timer E, up to T2), give-ups (timer F), our BYE at the end.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sip::{Framing, HeaderName, Message, Method, Request, Response};

use super::call::{Call, Pending, Phase};
use super::msg::{self, T1_MS, T2_MS, TIMEOUT_MS};

/// After our NOTIFY, the worker's BYE is expected within this.
const BYE_AFTER_NOTIFY: Duration = Duration::from_secs(10);
/// After our BYE, its 200 within this, else the call failed.
const BYE_WAIT: Duration = Duration::from_secs(8);

impl Call<'_> {
    /// Sends a request of the dialog and keeps it for retransmission.
    pub(crate) async fn request(&mut self, method: Method) {
        let Some(mut dialog) = self.dialog.take() else { return };
        let branch = format!("z9hG4bK{}", self.token());
        let req = match &method {
            Method::Notify => msg::notify_transfer_done(&mut dialog, &self.local, &branch),
            m => msg::in_dialog(&mut dialog, &self.local, m.clone(), &branch),
        };
        self.dialog = Some(dialog);
        let bytes = req.to_bytes();
        self.send(&bytes, self.dest).await;
        let now = Instant::now();
        let interval = Duration::from_millis(T1_MS);
        self.pending.push(Pending { branch, method, bytes, next: now + interval, interval, deadline: now + Duration::from_millis(TIMEOUT_MS) });
    }

    pub(crate) async fn on_timer(&mut self, now: Instant, end: Instant, phase: Phase) -> Phase {
        // Retransmissions (timer E) and give-ups (timer F).
        let mut resend = Vec::new();
        let mut expired = Vec::new();
        for p in self.pending.iter_mut().filter(|p| p.method != Method::Ack) {
            if now >= p.deadline {
                expired.push(p.method.clone());
            } else if now >= p.next {
                p.interval = (p.interval * 2).min(Duration::from_millis(T2_MS));
                p.next = now + p.interval;
                resend.push(p.bytes.clone());
            }
        }
        self.pending.retain(|p| p.method == Method::Ack || now < p.deadline);
        for b in resend {
            self.send(&b, self.dest).await;
        }
        if let Some(m) = expired.first() {
            self.fail(&format!("no response to our {m}"));
        }
        match phase {
            Phase::Up if now >= end => {
                self.request(Method::Bye).await;
                self.stats.ended_by = Some("our_bye");
                Phase::Leaving(now + BYE_WAIT)
            }
            Phase::Transferred(t) if now >= t || now >= end => {
                if now >= t {
                    self.fail("no BYE from the worker after our NOTIFY");
                }
                self.request(Method::Bye).await;
                self.stats.ended_by = Some("our_bye");
                Phase::Leaving(now + BYE_WAIT)
            }
            Phase::Leaving(t) if now >= t => {
                self.fail("no 200 to our BYE");
                Phase::Done
            }
            p => p,
        }
    }

    pub(crate) async fn on_sip(&mut self, data: &[u8], from: SocketAddr, phase: Phase) -> Phase {
        match sip::message::parse(data, Framing::Datagram) {
            Ok(Message::Request(req)) => self.on_request(&req, from, phase).await,
            Ok(Message::Response(resp)) => self.on_response(&resp, from, phase).await,
            Err(_) => phase,
        }
    }

    pub(crate) async fn on_request(&mut self, req: &Request, from: SocketAddr, phase: Phase) -> Phase {
        let ours = self.dialog.as_ref().is_some_and(|d| {
            req.headers.call_id() == Some(d.id.call_id.as_str()) && req.headers.to().and_then(|t| t.tag().map(str::to_owned)).as_deref() == Some(d.id.local_tag.as_str())
        });
        if !ours {
            self.send(&msg::respond(req, 481, &self.local), from).await;
            return phase;
        }
        if let Some(d) = self.dialog.as_mut() {
            if d.on_remote_request(req).is_err() {
                self.send(&msg::respond(req, 500, &self.local), from).await;
                return phase;
            }
        }
        match req.method {
            Method::Bye => {
                self.send(&msg::respond(req, 200, &self.local), from).await;
                if self.stats.ended_by.is_none() {
                    self.stats.ended_by = Some(if matches!(phase, Phase::Transferred(_)) { "worker_bye_after_transfer" } else { "worker_bye" });
                }
                Phase::Done
            }
            Method::Refer => {
                self.send(&msg::respond(req, 202, &self.local), from).await;
                if self.stats.refer_to.is_some() {
                    return phase; // a retransmission: the NOTIFY is already out
                }
                self.stats.refer_to = Some(req.headers.get(&HeaderName::ReferTo).unwrap_or("").to_owned());
                self.request(Method::Notify).await;
                match phase {
                    Phase::Up => Phase::Transferred(Instant::now() + BYE_AFTER_NOTIFY),
                    p => p,
                }
            }
            Method::Ack => phase,
            Method::Invite | Method::Options | Method::Notify | Method::Info | Method::Update => {
                // A re-INVITE (session refresh) keeps our session: the same offer as answer.
                let mut r = Response::for_request(req, sip::StatusCode::OK, None);
                if req.method == Method::Invite {
                    r.headers.push(HeaderName::ContentType, "application/sdp");
                    r.body = msg::offer(self.local.rtp, self.rng >> 1);
                }
                self.stats.other_requests.push(req.method.to_string());
                self.send(&r.to_bytes(), from).await;
                phase
            }
            _ => {
                self.stats.other_requests.push(req.method.to_string());
                self.send(&msg::respond(req, 501, &self.local), from).await;
                phase
            }
        }
    }

    pub(crate) async fn on_response(&mut self, resp: &Response, from: SocketAddr, phase: Phase) -> Phase {
        let Some(cseq) = resp.headers.cseq() else { return phase };
        if cseq.method == Method::Invite && resp.status.is_success() {
            // The worker did not see our ACK: the same ACK again.
            if let Some(ack) = self.pending.iter().find(|p| p.method == Method::Ack).map(|p| p.bytes.clone()) {
                self.send(&ack, from).await;
            }
            return phase;
        }
        let branch = resp.headers.top_via().and_then(|v| v.branch().map(str::to_owned)).unwrap_or_default();
        let Some(i) = self.pending.iter().position(|p| p.branch == branch && p.method != Method::Ack) else { return phase };
        if resp.status.is_provisional() {
            return phase;
        }
        let p = self.pending.remove(i);
        let code = resp.status.0;
        match p.method {
            Method::Notify => {
                self.stats.notify_status = Some(code);
                if code >= 300 {
                    self.fail(&format!("our NOTIFY got {code}"));
                }
                phase
            }
            Method::Bye => {
                if code >= 300 && code != 481 {
                    self.fail(&format!("our BYE got {code}"));
                }
                Phase::Done
            }
            _ => phase,
        }
    }
}
