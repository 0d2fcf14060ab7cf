//! Transaction registry, timer heap, destinations and response building of the UAS core.

use std::cmp::Reverse;
use std::net::SocketAddr;
use std::time::Instant;

use super::{
    Call, CallHandle, CallState, ClientEntry, ClientKind, Dest, EndReason, ServerEntry, ServerTx,
    SipEvent, TimerRef, UasCore,
};
use crate::headers::Via;
use crate::message::{HeaderName, Method, Request, Response, StatusCode};
use crate::transaction::{
    ClientNonInvite, InviteState, ServerInvite, ServerNonInvite, TransactionKey, Transport, TxEvent,
};
use crate::uri::Uri;
use crate::validate::{can_respond, Refusal};

impl ServerEntry {
    fn poll_timeout(&self) -> Option<Instant> {
        match &self.tx {
            ServerTx::Invite(t) => t.poll_timeout(),
            ServerTx::NonInvite(t) => t.poll_timeout(),
        }
    }

    pub(super) fn on_retransmission(&self) -> Option<Vec<u8>> {
        match &self.tx {
            ServerTx::Invite(t) => t.on_retransmission(),
            ServerTx::NonInvite(t) => t.on_retransmission(),
        }
    }

    pub(super) fn invite_state(&self) -> Option<InviteState> {
        match &self.tx {
            ServerTx::Invite(t) => Some(t.state()),
            ServerTx::NonInvite(_) => None,
        }
    }
}

/// Where responses to `req` go (RFC 3261 §18.2.2, RFC 3581 §4): back over the connection for
/// TCP/TLS; to the source address and port when the Via asked for rport; else to `received`
/// (or the sent-by host) at the sent-by port.
pub(super) fn response_dest(transport: Transport, source: SocketAddr, req: &Request) -> Dest {
    if transport.is_reliable() {
        return Dest { transport, addr: source };
    }
    let addr = match req.headers.top_via() {
        Some(v) if v.rport().is_none() => {
            let ip = v.received().or(v.host.ip()).unwrap_or(source.ip());
            SocketAddr::new(ip, v.port.unwrap_or(5060))
        }
        _ => source,
    };
    Dest { transport, addr }
}

impl UasCore {
    fn schedule(&mut self, at: Instant, r: TimerRef) {
        self.timer_seq += 1;
        let id = self.timer_seq;
        self.timer_refs.insert(id, r);
        self.timers.push(Reverse((at, id)));
    }

    pub(super) fn arm_server(&mut self, key: &TransactionKey) {
        if let Some(at) = self.server.get(key).and_then(ServerEntry::poll_timeout) {
            self.schedule(at, TimerRef::Server(key.clone()));
        }
    }

    pub(super) fn arm_client(&mut self, branch: &str) {
        if let Some(at) = self.client.get(branch).and_then(|c| c.tx.poll_timeout()) {
            self.schedule(at, TimerRef::Client(branch.to_owned()));
        }
    }

    pub(super) fn new_server_tx(
        &mut self,
        key: &TransactionKey,
        invite: bool,
        dest: Dest,
        call: Option<CallHandle>,
    ) {
        let reliable = dest.transport.is_reliable();
        let timers = self.config.timers;
        let tx = if invite {
            ServerTx::Invite(ServerInvite::new(reliable, timers))
        } else {
            ServerTx::NonInvite(ServerNonInvite::new(reliable, timers))
        };
        self.server.insert(key.clone(), ServerEntry { tx, dest, call });
    }

    /// A response with the copied headers and our Server header.
    pub(super) fn build_response(
        &self,
        req: &Request,
        status: StatusCode,
        to_tag: Option<&str>,
    ) -> Response {
        let mut r = Response::for_request(req, status, to_tag);
        if let Some(ua) = &self.config.user_agent {
            r.headers.push(HeaderName::Server, ua.clone());
        }
        r
    }

    /// Sends `resp` through server transaction `key` (which must exist).
    pub(super) fn send_response(&mut self, key: &TransactionKey, resp: Response, now: Instant) {
        let bytes = resp.to_bytes();
        let Some(entry) = self.server.get_mut(key) else { return };
        let accepted = match &mut entry.tx {
            ServerTx::Invite(t) => t.send_response(resp.status, bytes.clone(), now),
            ServerTx::NonInvite(t) => t.send_response(resp.status, bytes.clone(), now),
        };
        if accepted.is_ok() {
            let dest = entry.dest;
            self.transmit(dest, bytes);
            self.arm_server(key);
        }
    }

    /// Answers a new request with a final status through a new transaction, and reports it.
    pub(super) fn refuse(
        &mut self,
        now: Instant,
        key: &TransactionKey,
        dest: Dest,
        req: &Request,
        refusal: Refusal,
    ) {
        let status = refusal.status;
        if !can_respond(&req.headers) {
            // No response can be built: drop it, but still report it.
            let method = req.method.to_string();
            self.event(SipEvent::Refused { source: dest.addr, method, status });
            return;
        }
        let tag = self.new_tag();
        let mut resp = self.build_response(req, status, Some(&tag)).with_reason(&refusal.reason);
        resp.headers.0.extend(refusal.headers);
        if !self.server.contains_key(key) {
            self.new_server_tx(key, req.method == Method::Invite, dest, None);
        }
        self.send_response(key, resp, now);
        self.event(SipEvent::Refused { source: dest.addr, method: req.method.to_string(), status });
    }

    /// Our Via for a new request, with a fresh branch and rport (RFC 3581).
    pub(super) fn our_via(&mut self, transport: Transport) -> Via {
        let branch = self.new_branch();
        let mut via = Via::new(
            transport.via_name(),
            self.config.local_host.clone(),
            Some(self.config.local_port),
            &branch,
        );
        via.params.set("rport", None);
        via
    }

    /// Our Contact header value.
    pub(super) fn contact(&self, transport: Transport) -> String {
        let user = self.config.contact_user.as_deref().map(|u| format!("{u}@")).unwrap_or_default();
        let tp = match transport {
            Transport::Udp => "",
            Transport::Tcp => ";transport=tcp",
            Transport::Tls => ";transport=tls",
        };
        format!("<sip:{user}{}:{}{tp}>", self.config.local_host, self.config.local_port)
    }

    /// Where our in-dialog requests go: over TCP/TLS the connection the call came on; over
    /// UDP the next hop's IP address, or the INVITE's source when the hop is a name (the core
    /// does no DNS).
    pub(super) fn request_dest(call: &Call) -> Dest {
        if call.peer.transport.is_reliable() {
            return call.peer;
        }
        match call.dialog.next_hop() {
            Uri::Sip(u) => match u.host.ip() {
                Some(ip) => Dest {
                    transport: call.peer.transport,
                    addr: SocketAddr::new(ip, u.port.unwrap_or(5060)),
                },
                None => call.peer,
            },
            Uri::Other { .. } => call.peer,
        }
    }

    /// Sends our request `req` for `handle` in a new client transaction.
    pub(super) fn send_request(
        &mut self,
        handle: CallHandle,
        kind: ClientKind,
        req: Request,
        now: Instant,
    ) {
        let Some(call) = self.calls.get(&handle) else { return };
        let dest = Self::request_dest(call);
        let Some(branch) = req.headers.top_via().and_then(|v| v.branch().map(str::to_owned)) else {
            return;
        };
        let bytes = req.to_bytes();
        let tx = ClientNonInvite::new(
            bytes.clone(),
            dest.transport.is_reliable(),
            self.config.timers,
            now,
        );
        self.client.insert(branch.clone(), ClientEntry { tx, dest, call: handle, kind });
        self.transmit(dest, bytes);
        self.arm_client(&branch);
    }

    /// Builds and sends a BYE for the call, which moves to `Ending`.
    pub(super) fn send_bye(&mut self, handle: CallHandle, now: Instant) {
        let Some(transport) = self.calls.get(&handle).map(|c| c.peer.transport) else { return };
        let via = self.our_via(transport);
        let ua = self.config.user_agent.clone();
        let Some(call) = self.calls.get_mut(&handle) else { return };
        call.state = CallState::Ending;
        let mut bye = call.dialog.new_request(Method::Bye, &via);
        if let Some(ua) = ua {
            bye.headers.push(HeaderName::UserAgent, ua);
        }
        self.send_request(handle, ClientKind::Bye, bye, now);
    }

    /// Forgets the call and reports how it ended.
    pub(super) fn end_call(&mut self, handle: CallHandle, reason: EndReason) {
        let Some(call) = self.calls.remove(&handle) else { return };
        self.dialogs.remove(&(call.dialog.id.call_id.clone(), call.dialog.id.local_tag.clone()));
        if let Some(c) = call.invite.headers.cseq() {
            self.initial.remove(&(
                call.dialog.id.call_id.clone(),
                call.dialog.id.remote_tag.clone(),
                c.seq,
            ));
        }
        self.event(SipEvent::CallEnded { call: handle, reason });
    }

    pub(super) fn fire_server(&mut self, key: &TransactionKey, now: Instant) {
        let Some(entry) = self.server.get_mut(key) else { return };
        if entry.poll_timeout().is_none_or(|t| t > now) {
            return; // stale heap entry
        }
        let events = match &mut entry.tx {
            ServerTx::Invite(t) => t.handle_timeout(now),
            ServerTx::NonInvite(t) => t.handle_timeout(now),
        };
        let (dest, call) = (entry.dest, entry.call);
        let mut terminated = false;
        for e in events {
            match e {
                TxEvent::Retransmit(b) => self.transmit(dest, b),
                TxEvent::TimedOut => self.on_invite_timeout(key, call, now),
                TxEvent::Terminated => terminated = true,
            }
        }
        if terminated {
            self.server.remove(key);
        } else {
            self.arm_server(key);
        }
    }

    /// Timer H or L fired. A 2xx never acknowledged ends the dialog with a BYE (§13.3.1.4).
    fn on_invite_timeout(&mut self, key: &TransactionKey, call: Option<CallHandle>, now: Instant) {
        let Some(handle) = call else { return };
        let Some(c) = self.calls.get_mut(&handle) else { return };
        if c.awaiting_ack.as_ref().is_some_and(|(_, k)| k == key) {
            c.awaiting_ack = None;
            self.send_bye(handle, now);
            self.end_call(handle, EndReason::NoAck);
        }
    }

    pub(super) fn fire_client(&mut self, branch: &str, now: Instant) {
        let Some(entry) = self.client.get_mut(branch) else { return };
        if entry.tx.poll_timeout().is_none_or(|t| t > now) {
            return;
        }
        let events = entry.tx.handle_timeout(now);
        let (dest, call, kind) = (entry.dest, entry.call, entry.kind);
        let mut terminated = false;
        for e in events {
            match e {
                TxEvent::Retransmit(b) => self.transmit(dest, b),
                TxEvent::TimedOut => match kind {
                    ClientKind::Bye => self.end_call(call, EndReason::ByeTimeout),
                    ClientKind::Refer => {
                        if let Some(c) = self.calls.get_mut(&call) {
                            c.transfer_active = false;
                            self.event(SipEvent::TransferResult {
                                call,
                                ok: false,
                                status: Some(StatusCode::REQUEST_TIMEOUT),
                            });
                        }
                    }
                },
                TxEvent::Terminated => terminated = true,
            }
        }
        if terminated {
            self.client.remove(branch);
        } else {
            self.arm_client(branch);
        }
    }
}
