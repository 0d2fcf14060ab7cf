//! Requests and responses arriving at the UAS core.

use std::net::SocketAddr;
use std::time::Instant;

use super::plumbing::response_dest;
use super::{
    Call, CallHandle, CallState, ClientKind, Dest, EndReason, IncomingCall, ServerTx, SipEvent,
    UasCore, ALLOW,
};
use crate::dialog::Dialog;
use crate::message::{HeaderName, Method, Request, Response, StatusCode};
use crate::refer::parse_sipfrag_status;
use crate::sdp::{self, SessionDescription};
use crate::transaction::{InviteState, TransactionKey, Transport};
use crate::validate::{validate_request, validate_response, Refusal};

impl UasCore {
    pub(super) fn on_request(
        &mut self,
        now: Instant,
        transport: Transport,
        source: SocketAddr,
        mut req: Request,
    ) {
        // §18.2.1, RFC 3581: note where the request really came from.
        if let Some(mut via) = req.headers.top_via() {
            via.stamp_source(source);
            req.headers.set_top_via(&via);
        }
        let dest = response_dest(transport, source, &req);
        let Some(key) = TransactionKey::for_request(&req) else { return };
        if req.method == Method::Ack {
            self.on_ack(now, &key, &req);
            return;
        }
        if let Some(entry) = self.server.get(&key) {
            // §17.2.3: a retransmission gets the last response again.
            if let Some(bytes) = entry.on_retransmission() {
                let d = entry.dest;
                self.transmit(d, bytes);
            }
            return;
        }
        if let Err(r) = validate_request(&req, &self.config.policy) {
            self.refuse(now, &key, dest, &req, r);
            return;
        }
        let in_dialog = req.headers.to().is_some_and(|t| t.tag().is_some());
        match req.method {
            Method::Invite if !in_dialog => {
                self.on_initial_invite(now, key, dest, transport, source, req)
            }
            Method::Invite => self.on_reinvite(now, key, dest, req),
            Method::Cancel => self.on_cancel(now, key, dest, &req),
            Method::Bye => self.on_bye(now, key, dest, &req),
            Method::Options => {
                let tag = self.new_tag();
                let mut resp = self.build_response(&req, StatusCode::OK, Some(&tag));
                resp.headers.push(HeaderName::Allow, ALLOW);
                resp.headers.push(HeaderName::Accept, "application/sdp");
                resp.headers.push(HeaderName::Supported, "timer");
                self.new_server_tx(&key, false, dest, None);
                self.send_response(&key, resp, now);
            }
            Method::Notify => self.on_notify(now, key, dest, &req),
            ref m if m.is_known() => {
                let r = Refusal::plain(StatusCode::METHOD_NOT_ALLOWED)
                    .with_header(HeaderName::Allow, ALLOW);
                self.refuse(now, &key, dest, &req, r);
            }
            _ => self.refuse(now, &key, dest, &req, Refusal::plain(StatusCode::NOT_IMPLEMENTED)),
        }
    }

    /// The call whose dialog `req` belongs to.
    fn find_dialog(&self, req: &Request) -> Option<CallHandle> {
        let tag = req.headers.to()?.tag()?.to_owned();
        let handle = *self.dialogs.get(&(req.headers.call_id()?.to_owned(), tag))?;
        self.calls.get(&handle).filter(|c| c.dialog.matches(req)).map(|_| handle)
    }

    fn on_ack(&mut self, now: Instant, key: &TransactionKey, req: &Request) {
        // ACK for a 3xx-6xx: same branch as the INVITE (§17.2.3).
        if let Some(entry) = self.server.get_mut(key) {
            if let ServerTx::Invite(t) = &mut entry.tx {
                if t.state() == InviteState::Completed || t.state() == InviteState::Confirmed {
                    t.on_ack(now);
                    self.arm_server(key);
                    return;
                }
            }
        }
        // ACK for a 2xx: a request of its own within the dialog (§13.3.1.4, §17.1.1.3).
        let Some(handle) = self.find_dialog(req) else { return };
        let Some(call) = self.calls.get_mut(&handle) else { return };
        let seq = req.headers.cseq().map(|c| c.seq);
        let Some((_, inv_key)) = call.awaiting_ack.clone().filter(|(s, _)| Some(*s) == seq) else {
            return;
        };
        call.awaiting_ack = None;
        let answered = call.state == CallState::Accepted;
        if answered {
            call.state = CallState::Confirmed;
        }
        let hangup = answered && call.hangup_after_ack;
        if let Some(ServerTx::Invite(t)) = self.server.get_mut(&inv_key).map(|e| &mut e.tx) {
            t.on_ack(now);
        }
        self.arm_server(&inv_key);
        if answered {
            self.event(SipEvent::CallAnswered { call: handle });
        }
        if hangup {
            self.send_bye(handle, now);
        }
    }

    /// Parses the SDP body of an INVITE; a malformed one is refused with 400.
    fn offer_of(
        &mut self,
        now: Instant,
        key: &TransactionKey,
        dest: Dest,
        req: &Request,
    ) -> Result<Option<SessionDescription>, ()> {
        if req.body.is_empty() {
            return Ok(None);
        }
        match sdp::parse(&req.body) {
            Ok(s) => Ok(Some(s)),
            Err(e) => {
                let why = format!("malformed SDP: {e}");
                self.refuse(now, key, dest, req, Refusal::new(StatusCode::BAD_REQUEST, &why));
                Err(())
            }
        }
    }

    /// RFC 4028 §8: a Session-Expires below our Min-SE gets 422 with Min-SE.
    fn session_interval_ok(
        &mut self,
        now: Instant,
        key: &TransactionKey,
        dest: Dest,
        req: &Request,
    ) -> bool {
        match req.headers.session_expires() {
            Some(se) if se.seconds < self.config.min_se => {
                let r = Refusal::plain(StatusCode::INTERVAL_TOO_BRIEF)
                    .with_header(HeaderName::MinSe, self.config.min_se.to_string());
                self.refuse(now, key, dest, req, r);
                false
            }
            _ => true,
        }
    }

    fn on_initial_invite(
        &mut self,
        now: Instant,
        key: TransactionKey,
        dest: Dest,
        transport: Transport,
        source: SocketAddr,
        req: Request,
    ) {
        let h = &req.headers;
        let (Some(call_id), Some(from), Some(to), Some(cseq)) =
            (h.call_id(), h.from(), h.to(), h.cseq())
        else {
            return; // validation guarantees these
        };
        let merged_key = (call_id.to_owned(), from.tag().unwrap_or_default().to_owned(), cseq.seq);
        if self.initial.get(&merged_key).is_some_and(|k| *k != key) {
            // §8.2.2.2: the same request arrived by another path.
            self.refuse(now, &key, dest, &req, Refusal::plain(StatusCode::LOOP_DETECTED));
            return;
        }
        let Ok(offer) = self.offer_of(now, &key, dest, &req) else { return };
        if !self.session_interval_ok(now, &key, dest, &req) {
            return;
        }
        let tag = self.new_tag();
        let Ok(dialog) = Dialog::new_uas(&req, &tag) else {
            self.refuse(now, &key, dest, &req, Refusal::plain(StatusCode::BAD_REQUEST));
            return;
        };
        let handle = self.new_handle();
        self.new_server_tx(&key, true, dest, Some(handle));
        // 100 Trying at once (§17.2.1): stops the caller's INVITE retransmissions.
        let trying = self.build_response(&req, StatusCode::TRYING, None);
        self.send_response(&key, trying, now);
        self.initial.insert(merged_key, key.clone());
        self.dialogs.insert((call_id.to_owned(), tag), handle);
        let event = IncomingCall {
            call: handle,
            call_id: call_id.to_owned(),
            from,
            to,
            request_uri: req.uri.clone(),
            offer: offer.clone(),
            source,
            transport,
            headers: req.headers.clone(),
        };
        self.calls.insert(
            handle,
            Call {
                state: CallState::Pending,
                dialog,
                remote_sdp_version: offer.map(|o| o.origin.session_version),
                invite: req,
                invite_key: key,
                peer: Dest { transport, addr: source },
                reinvite: None,
                awaiting_ack: None,
                hangup_after_ack: false,
                transfer_active: false,
            },
        );
        self.event(SipEvent::IncomingCall(event));
    }

    fn on_reinvite(&mut self, now: Instant, key: TransactionKey, dest: Dest, req: Request) {
        let Some(handle) = self.find_dialog(&req) else {
            self.refuse(now, &key, dest, &req, Refusal::plain(StatusCode::CALL_DOES_NOT_EXIST));
            return;
        };
        let busy = self.calls.get(&handle).is_none_or(|c| {
            c.state != CallState::Confirmed || c.reinvite.is_some() || c.awaiting_ack.is_some()
        });
        if busy {
            // §14.2: an INVITE while another is still being answered gets 500 + Retry-After.
            let r = Refusal::plain(StatusCode::SERVER_INTERNAL_ERROR)
                .with_header(HeaderName::RetryAfter, "1");
            self.refuse(now, &key, dest, &req, r);
            return;
        }
        if !self.check_cseq(now, handle, &key, dest, &req) {
            return;
        }
        let Ok(offer) = self.offer_of(now, &key, dest, &req) else { return };
        if !self.session_interval_ok(now, &key, dest, &req) {
            return;
        }
        self.new_server_tx(&key, true, dest, Some(handle));
        let trying = self.build_response(&req, StatusCode::TRYING, None);
        self.send_response(&key, trying, now);
        let Some(call) = self.calls.get_mut(&handle) else { return };
        let version = offer.as_ref().map(|o| o.origin.session_version.clone());
        let refresh = version.is_none() || version == call.remote_sdp_version;
        if version.is_some() {
            call.remote_sdp_version = version;
        }
        call.reinvite = Some((key, req));
        self.event(SipEvent::ReInvite { call: handle, offer, refresh });
    }

    /// §12.2.2: a CSeq lower than the last one gets 500.
    fn check_cseq(
        &mut self,
        now: Instant,
        handle: CallHandle,
        key: &TransactionKey,
        dest: Dest,
        req: &Request,
    ) -> bool {
        let Some(call) = self.calls.get_mut(&handle) else { return false };
        match call.dialog.on_remote_request(req) {
            Ok(()) => true,
            Err(e) => {
                let r = Refusal::new(StatusCode::SERVER_INTERNAL_ERROR, &e.to_string());
                self.refuse(now, key, dest, req, r);
                false
            }
        }
    }

    fn on_cancel(&mut self, now: Instant, key: TransactionKey, dest: Dest, req: &Request) {
        let invite_key = TransactionKey::invite_for_cancel(req);
        let found = invite_key
            .as_ref()
            .and_then(|k| self.server.get(k).map(|e| (e.call, e.invite_state())));
        let (Some(invite_key), Some((handle, Some(state)))) = (invite_key, found) else {
            self.refuse(now, &key, dest, req, Refusal::plain(StatusCode::CALL_DOES_NOT_EXIST));
            return;
        };
        let tag = handle.and_then(|h| self.calls.get(&h)).map(|c| c.dialog.id.local_tag.clone());
        let ok = self.build_response(req, StatusCode::OK, tag.as_deref());
        self.new_server_tx(&key, false, dest, handle);
        self.send_response(&key, ok, now);
        // §9.2: only an INVITE without a final response is terminated.
        let (Some(handle), InviteState::Proceeding) = (handle, state) else { return };
        let Some(call) = self.calls.get_mut(&handle) else { return };
        if call.invite_key == invite_key && call.state == CallState::Pending {
            let invite = call.invite.clone();
            let resp = self.build_response(&invite, StatusCode::REQUEST_TERMINATED, tag.as_deref());
            self.send_response(&invite_key, resp, now);
            self.event(SipEvent::Cancelled { call: handle });
            self.end_call(handle, EndReason::Cancelled);
        } else if call.reinvite.as_ref().is_some_and(|(k, _)| *k == invite_key) {
            if let Some((k, r)) = call.reinvite.take() {
                let resp = self.build_response(&r, StatusCode::REQUEST_TERMINATED, tag.as_deref());
                self.send_response(&k, resp, now);
            }
        }
    }

    fn on_bye(&mut self, now: Instant, key: TransactionKey, dest: Dest, req: &Request) {
        let Some(handle) = self.find_dialog(req) else {
            self.refuse(now, &key, dest, req, Refusal::plain(StatusCode::CALL_DOES_NOT_EXIST));
            return;
        };
        if !self.check_cseq(now, handle, &key, dest, req) {
            return;
        }
        let ok = self.build_response(req, StatusCode::OK, None);
        self.new_server_tx(&key, false, dest, Some(handle));
        self.send_response(&key, ok, now);
        // §15.1.2: pending requests of the dialog get 487.
        let Some(call) = self.calls.get_mut(&handle) else { return };
        let mut pending = Vec::new();
        if call.state == CallState::Pending {
            pending.push((call.invite_key.clone(), call.invite.clone()));
        }
        pending.extend(call.reinvite.take());
        let tag = call.dialog.id.local_tag.clone();
        for (k, r) in pending {
            let resp = self.build_response(&r, StatusCode::REQUEST_TERMINATED, Some(&tag));
            self.send_response(&k, resp, now);
        }
        let reason = req.headers.get(&HeaderName::Reason).map(str::to_owned);
        self.end_call(handle, EndReason::RemoteHangup { reason });
    }

    /// NOTIFY for the implicit subscription of our REFER (RFC 3515 §2.4.4).
    fn on_notify(&mut self, now: Instant, key: TransactionKey, dest: Dest, req: &Request) {
        let Some(handle) = self.find_dialog(req) else {
            self.refuse(now, &key, dest, req, Refusal::plain(StatusCode::CALL_DOES_NOT_EXIST));
            return;
        };
        let is_refer = req.headers.event().is_some_and(|e| e.value.eq_ignore_ascii_case("refer"));
        if !is_refer {
            let mut r =
                Refusal::plain(StatusCode(489)).with_header(HeaderName::AllowEvents, "refer");
            r.reason = "Bad Event".into();
            self.refuse(now, &key, dest, req, r);
            return;
        }
        if !self.check_cseq(now, handle, &key, dest, req) {
            return;
        }
        let ok = self.build_response(req, StatusCode::OK, None);
        self.new_server_tx(&key, false, dest, Some(handle));
        self.send_response(&key, ok, now);
        let Some(call) = self.calls.get_mut(&handle) else { return };
        if !call.transfer_active {
            return;
        }
        let terminated = req
            .headers
            .subscription_state()
            .is_some_and(|s| s.value.eq_ignore_ascii_case("terminated"));
        let status = parse_sipfrag_status(&req.body).map(|(s, _)| s);
        let result = match status {
            Some(s) if s.is_final() => Some((s.is_success(), Some(s))),
            _ if terminated => Some((false, status)),
            _ => None,
        };
        match (result, status) {
            (Some((ok, status)), _) => {
                call.transfer_active = false;
                self.event(SipEvent::TransferResult { call: handle, ok, status });
            }
            (None, Some(s)) => self.event(SipEvent::TransferProgress { call: handle, status: s }),
            (None, None) => {}
        }
    }

    pub(super) fn on_response(&mut self, now: Instant, resp: Response) {
        if validate_response(&resp).is_err() {
            return; // §8.1.3.3
        }
        let Some(branch) = resp.headers.top_via().and_then(|v| v.branch().map(str::to_owned))
        else {
            return;
        };
        let Some(entry) = self.client.get_mut(&branch) else { return };
        let expected = match entry.kind {
            ClientKind::Bye => Method::Bye,
            ClientKind::Refer => Method::Refer,
        };
        if resp.headers.cseq().map(|c| c.method) != Some(expected) {
            return;
        }
        if !entry.tx.on_response(resp.status, now) {
            return; // retransmitted final response
        }
        let (handle, kind) = (entry.call, entry.kind);
        self.arm_client(&branch);
        match kind {
            ClientKind::Bye if resp.status.is_final() => {
                self.end_call(handle, EndReason::LocalHangup)
            }
            ClientKind::Bye => {}
            ClientKind::Refer if resp.status.is_provisional() => {}
            ClientKind::Refer => {
                let Some(call) = self.calls.get_mut(&handle) else { return };
                if resp.status.is_success() {
                    self.event(SipEvent::TransferProgress { call: handle, status: resp.status });
                } else {
                    call.transfer_active = false;
                    self.event(SipEvent::TransferResult {
                        call: handle,
                        ok: false,
                        status: Some(resp.status),
                    });
                }
            }
        }
    }
}
