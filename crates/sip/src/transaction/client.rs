//! The non-INVITE client transaction (RFC 3261 §17.1.2) for the requests the UAS sends in a
//! dialog: BYE, REFER.

use std::time::{Duration, Instant};

use super::{earliest, Timers, TxEvent};
use crate::message::StatusCode;

/// States of the non-INVITE client transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// A non-INVITE client transaction. The owner sends the request once; the transaction asks
/// for retransmissions (Timer E), gives up after Timer F and lingers for Timer K.
#[derive(Debug, Clone)]
pub struct ClientNonInvite {
    state: ClientState,
    reliable: bool,
    timers: Timers,
    request: Vec<u8>,
    /// Timer E: next time and current interval.
    retransmit: Option<(Instant, Duration)>,
    /// Timer F.
    timeout_at: Option<Instant>,
    /// Timer K.
    terminate_at: Option<Instant>,
}

impl ClientNonInvite {
    /// Starts the transaction for `request`, sent at `now`.
    pub fn new(request: Vec<u8>, reliable: bool, timers: Timers, now: Instant) -> Self {
        Self {
            state: ClientState::Trying,
            reliable,
            timers,
            request,
            retransmit: (!reliable).then(|| (now + timers.t1, timers.t1)),
            timeout_at: Some(now + timers.timeout()),
            terminate_at: None,
        }
    }

    pub fn state(&self) -> ClientState {
        self.state
    }

    pub fn request(&self) -> &[u8] {
        &self.request
    }

    /// A response for this transaction. Returns true when it goes up to the owner, false when
    /// it is a retransmission to absorb (§17.1.2.2).
    pub fn on_response(&mut self, status: StatusCode, now: Instant) -> bool {
        match self.state {
            ClientState::Trying | ClientState::Proceeding if status.is_provisional() => {
                self.state = ClientState::Proceeding;
                true
            }
            ClientState::Trying | ClientState::Proceeding => {
                self.state = ClientState::Completed;
                self.retransmit = None;
                self.timeout_at = None;
                let linger = if self.reliable { Duration::ZERO } else { self.timers.t4 };
                self.terminate_at = Some(now + linger);
                true
            }
            ClientState::Completed | ClientState::Terminated => false,
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state == ClientState::Terminated {
            return None;
        }
        earliest(&[self.retransmit.map(|r| r.0), self.timeout_at, self.terminate_at])
    }

    pub fn handle_timeout(&mut self, now: Instant) -> Vec<TxEvent> {
        let mut events = Vec::new();
        if let Some((at, interval)) = self.retransmit {
            if at <= now {
                // Timer E doubles up to T2 in Trying and fires every T2 in Proceeding.
                let next = match self.state {
                    ClientState::Proceeding => self.timers.t2,
                    _ => (interval * 2).min(self.timers.t2),
                };
                self.retransmit = Some((at + next, next));
                events.push(TxEvent::Retransmit(self.request.clone()));
            }
        }
        if self.timeout_at.is_some_and(|t| t <= now) {
            self.state = ClientState::Terminated;
            self.retransmit = None;
            self.timeout_at = None;
            events.push(TxEvent::TimedOut);
            events.push(TxEvent::Terminated);
        }
        if self.terminate_at.is_some_and(|t| t <= now) {
            self.terminate_at = None;
            self.state = ClientState::Terminated;
            events.push(TxEvent::Terminated);
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn request_is_retransmitted_on_timer_e_until_timer_f() {
        let t0 = Instant::now();
        let mut tx = ClientNonInvite::new(b"BYE".to_vec(), false, Timers::default(), t0);
        let mut resends = Vec::new();
        let mut timed_out = None;
        while let Some(at) = tx.poll_timeout() {
            for e in tx.handle_timeout(at) {
                match e {
                    TxEvent::Retransmit(_) => resends.push((at - t0).as_secs_f64()),
                    TxEvent::TimedOut => timed_out = Some(at - t0),
                    TxEvent::Terminated => {}
                }
            }
        }
        assert_eq!(&resends[..5], &[0.5, 1.5, 3.5, 7.5, 11.5]);
        assert_eq!(timed_out, Some(secs(32.0)));
        assert_eq!(tx.state(), ClientState::Terminated);
    }

    #[test]
    fn provisional_response_slows_retransmission_to_t2() {
        let t0 = Instant::now();
        let mut tx = ClientNonInvite::new(b"REFER".to_vec(), false, Timers::default(), t0);
        assert!(tx.on_response(StatusCode(100), t0 + secs(0.1)));
        tx.handle_timeout(t0 + secs(0.5));
        assert_eq!(tx.poll_timeout(), Some(t0 + secs(4.5)));
    }

    #[test]
    fn final_response_goes_up_once_then_timer_k_ends_it() {
        let t0 = Instant::now();
        let mut tx = ClientNonInvite::new(b"BYE".to_vec(), false, Timers::default(), t0);
        assert!(tx.on_response(StatusCode(200), t0 + secs(0.2)));
        assert!(!tx.on_response(StatusCode(200), t0 + secs(0.3)));
        assert_eq!(tx.poll_timeout(), Some(t0 + secs(5.2)));
        assert_eq!(tx.handle_timeout(t0 + secs(5.2)), vec![TxEvent::Terminated]);
    }

    #[test]
    fn reliable_transport_does_not_retransmit() {
        let t0 = Instant::now();
        let mut tx = ClientNonInvite::new(b"BYE".to_vec(), true, Timers::default(), t0);
        assert_eq!(tx.poll_timeout(), Some(t0 + secs(32.0)));
        assert!(tx.on_response(StatusCode(200), t0));
        assert_eq!(tx.handle_timeout(t0), vec![TxEvent::Terminated]);
    }
}
