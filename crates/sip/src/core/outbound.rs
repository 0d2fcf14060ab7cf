//! What the application does with a call: ring, accept with an SDP answer, reject, hang up,
//! transfer, and answer re-INVITEs.

use std::time::Instant;

use super::{CallError, CallHandle, CallState, ClientKind, EndReason, SipEvent, UasCore, ALLOW};
use crate::message::{Header, HeaderName, Method, Request, Response, StatusCode};
use crate::refer::{refer_to_value, ReferOptions};
use crate::sdp::SessionDescription;
use crate::transaction::TransactionKey;
use crate::uri::Uri;

impl UasCore {
    /// Sends 180 Ringing (with our To tag: an early dialog).
    pub fn ringing(&mut self, call: CallHandle, now: Instant) -> Result<(), CallError> {
        let (key, resp) = self.dialog_response(call, StatusCode::RINGING)?;
        self.send_response(&key, resp, now);
        Ok(())
    }

    /// Answers the INVITE with 200 OK carrying `answer` (RFC 3264). The 200 is retransmitted
    /// over UDP until the ACK ([`SipEvent::CallAnswered`]) or 64*T1.
    pub fn accept(
        &mut self,
        call: CallHandle,
        answer: &SessionDescription,
        now: Instant,
    ) -> Result<(), CallError> {
        let (key, mut resp) = self.dialog_response(call, StatusCode::OK)?;
        let Some(c) = self.calls.get_mut(&call) else { return Err(CallError::UnknownCall) };
        let seq = c.invite.headers.cseq().map(|s| s.seq).unwrap_or_default();
        c.state = CallState::Accepted;
        c.awaiting_ack = Some((seq, key.clone()));
        let (invite, transport) = (c.invite.clone(), c.peer.transport);
        let contact = self.contact(transport);
        self.finish_2xx(&invite, &mut resp, Some(answer), contact);
        self.send_response(&key, resp, now);
        Ok(())
    }

    /// Rejects the INVITE with a 3xx-6xx (403 unknown source, 486 busy, 488 no common codec,
    /// 503 with a Retry-After header when over capacity, ...). Ends the call.
    pub fn reject(
        &mut self,
        call: CallHandle,
        status: StatusCode,
        headers: Vec<Header>,
        now: Instant,
    ) -> Result<(), CallError> {
        if status.0 < 300 {
            return Err(CallError::InvalidStatus(status));
        }
        let (key, mut resp) = self.dialog_response(call, status)?;
        resp.headers.0.extend(headers);
        self.send_response(&key, resp, now);
        self.end_call(call, EndReason::Rejected(status));
        Ok(())
    }

    /// Hangs up: BYE on an established call (after the ACK if it has not come yet), 480 on
    /// one not answered. [`SipEvent::CallEnded`] follows when the BYE completes.
    pub fn hangup(&mut self, call: CallHandle, now: Instant) -> Result<(), CallError> {
        let c = self.calls.get_mut(&call).ok_or(CallError::UnknownCall)?;
        match c.state {
            CallState::Pending => {
                let (key, resp) =
                    self.dialog_response(call, StatusCode::TEMPORARILY_UNAVAILABLE)?;
                self.send_response(&key, resp, now);
                self.end_call(call, EndReason::LocalHangup);
            }
            // §15: no BYE before the ACK of our 2xx.
            CallState::Accepted => c.hangup_after_ack = true,
            CallState::Confirmed => self.send_bye(call, now),
            CallState::Ending => return Err(CallError::InvalidState("already hanging up")),
        }
        Ok(())
    }

    /// Blind transfer (RFC 3515): REFER to `target` with Referred-By, extra headers
    /// (User-to-User, X-...) and headers embedded in Refer-To. Progress arrives as
    /// [`SipEvent::TransferProgress`], the outcome as [`SipEvent::TransferResult`]; hang up
    /// after a successful transfer if the peer does not.
    pub fn refer(
        &mut self,
        call: CallHandle,
        target: &Uri,
        options: ReferOptions,
        now: Instant,
    ) -> Result<(), CallError> {
        let c = self.calls.get(&call).ok_or(CallError::UnknownCall)?;
        if c.state != CallState::Confirmed {
            return Err(CallError::InvalidState("transfer needs an established call"));
        }
        if c.transfer_active {
            return Err(CallError::InvalidState("a transfer is already in progress"));
        }
        let transport = c.peer.transport;
        let via = self.our_via(transport);
        let contact = self.contact(transport);
        let ua = self.config.user_agent.clone();
        let Some(c) = self.calls.get_mut(&call) else { return Err(CallError::UnknownCall) };
        c.transfer_active = true;
        let mut req: Request = c.dialog.new_request(Method::Refer, &via);
        let h = &mut req.headers;
        h.push(HeaderName::Contact, contact);
        h.push(HeaderName::ReferTo, refer_to_value(target, &options.refer_to_headers));
        if let Some(rb) = &options.referred_by {
            h.push(HeaderName::ReferredBy, rb.clone());
        }
        if let Some(ua) = ua {
            h.push(HeaderName::UserAgent, ua);
        }
        h.0.extend(options.headers);
        self.send_request(call, ClientKind::Refer, req, now);
        Ok(())
    }

    /// Answers the pending re-INVITE with 200 OK; `answer` is the SDP answer (or, for an
    /// offerless re-INVITE, our offer).
    pub fn accept_reinvite(
        &mut self,
        call: CallHandle,
        answer: Option<&SessionDescription>,
        now: Instant,
    ) -> Result<(), CallError> {
        let c = self.calls.get_mut(&call).ok_or(CallError::UnknownCall)?;
        let (key, req) =
            c.reinvite.take().ok_or(CallError::InvalidState("no re-INVITE pending"))?;
        let seq = req.headers.cseq().map(|s| s.seq).unwrap_or_default();
        c.awaiting_ack = Some((seq, key.clone()));
        let (tag, transport) = (c.dialog.id.local_tag.clone(), c.peer.transport);
        let contact = self.contact(transport);
        let mut resp = self.build_response(&req, StatusCode::OK, Some(&tag));
        self.finish_2xx(&req, &mut resp, answer, contact);
        self.send_response(&key, resp, now);
        Ok(())
    }

    /// Refuses the pending re-INVITE (488 for an unacceptable offer, 491, ...); the session
    /// stays as it was (RFC 3261 §14.2).
    pub fn reject_reinvite(
        &mut self,
        call: CallHandle,
        status: StatusCode,
        now: Instant,
    ) -> Result<(), CallError> {
        if status.0 < 300 {
            return Err(CallError::InvalidStatus(status));
        }
        let c = self.calls.get_mut(&call).ok_or(CallError::UnknownCall)?;
        let (key, req) =
            c.reinvite.take().ok_or(CallError::InvalidState("no re-INVITE pending"))?;
        let tag = c.dialog.id.local_tag.clone();
        let resp = self.build_response(&req, status, Some(&tag));
        self.send_response(&key, resp, now);
        Ok(())
    }

    /// A response to the pending initial INVITE with our tag, Record-Route (in order, §12.1.1)
    /// and Contact.
    fn dialog_response(
        &self,
        call: CallHandle,
        status: StatusCode,
    ) -> Result<(TransactionKey, Response), CallError> {
        let c = self.calls.get(&call).ok_or(CallError::UnknownCall)?;
        if c.state != CallState::Pending {
            return Err(CallError::InvalidState("the INVITE was already answered"));
        }
        let mut resp = self.build_response(&c.invite, status, Some(&c.dialog.id.local_tag));
        if status.0 < 300 {
            for rr in c.invite.headers.get_all(&HeaderName::RecordRoute) {
                resp.headers.push(HeaderName::RecordRoute, rr);
            }
            resp.headers.push(HeaderName::Contact, self.contact(c.peer.transport));
        }
        Ok((c.invite_key.clone(), resp))
    }

    /// Headers every 2xx to an INVITE carries, the session timer echo (RFC 4028 §9) and the
    /// SDP body.
    fn finish_2xx(
        &self,
        req: &Request,
        resp: &mut Response,
        sdp: Option<&SessionDescription>,
        contact: String,
    ) {
        let h = &mut resp.headers;
        if !h.contains(&HeaderName::Contact) {
            // A 2xx to a re-INVITE also carries Contact (§12.2.2 target refresh).
            h.push(HeaderName::Contact, contact);
        }
        h.push(HeaderName::Allow, ALLOW);
        h.push(HeaderName::Supported, "timer");
        if let Some(se) = req.headers.session_expires() {
            let uac_supports = req
                .headers
                .list(&HeaderName::Supported)
                .iter()
                .any(|t| t.eq_ignore_ascii_case("timer"));
            let refresher = se.refresher().or_else(|| uac_supports.then(|| "uac".to_owned()));
            if let Some(r) = refresher {
                let seconds = se.seconds.max(self.config.min_se);
                h.push(HeaderName::SessionExpires, format!("{seconds};refresher={r}"));
                if r == "uac" {
                    h.push(HeaderName::Require, "timer");
                }
            }
        }
        if let Some(sdp) = sdp {
            h.push(HeaderName::ContentType, "application/sdp");
            resp.body = sdp.to_bytes();
        }
    }
}

impl SipEvent {
    /// The call an event is about, if any.
    pub fn call(&self) -> Option<CallHandle> {
        match self {
            SipEvent::IncomingCall(c) => Some(c.call),
            SipEvent::CallAnswered { call }
            | SipEvent::CallEnded { call, .. }
            | SipEvent::Cancelled { call }
            | SipEvent::ReInvite { call, .. }
            | SipEvent::TransferProgress { call, .. }
            | SipEvent::TransferResult { call, .. } => Some(*call),
            SipEvent::Malformed { .. } | SipEvent::Refused { .. } => None,
        }
    }
}
