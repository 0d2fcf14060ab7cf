//! Server transactions: INVITE (RFC 3261 §17.2.1 with the Accepted state of RFC 6026 §7.1)
//! and non-INVITE (§17.2.2).

use std::time::{Duration, Instant};

use super::{earliest, Timers, TxEvent};
use crate::message::StatusCode;

/// A response the transaction cannot send in its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("transaction already sent a final response")]
pub struct TxError;

/// States of the INVITE server transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteState {
    Proceeding,
    /// A 2xx was sent; it is retransmitted (RFC 3261 §13.3.1.4) until the ACK arrives, and
    /// INVITE retransmissions are absorbed until Timer L (RFC 6026).
    Accepted,
    /// A 3xx-6xx was sent and is retransmitted on Timer G until the ACK or Timer H.
    Completed,
    /// The ACK for the 3xx-6xx arrived; Timer I absorbs ACK retransmissions.
    Confirmed,
    Terminated,
}

/// The INVITE server transaction.
#[derive(Debug, Clone)]
pub struct ServerInvite {
    state: InviteState,
    reliable: bool,
    timers: Timers,
    last_response: Option<Vec<u8>>,
    final_status: Option<StatusCode>,
    acked: bool,
    /// Timer G (and the 2xx retransmission timer): next time and current interval.
    retransmit: Option<(Instant, Duration)>,
    /// Timer H in Completed, Timer L in Accepted.
    timeout_at: Option<Instant>,
    /// Timer I.
    terminate_at: Option<Instant>,
}

impl ServerInvite {
    pub fn new(reliable: bool, timers: Timers) -> Self {
        Self {
            state: InviteState::Proceeding,
            reliable,
            timers,
            last_response: None,
            final_status: None,
            acked: false,
            retransmit: None,
            timeout_at: None,
            terminate_at: None,
        }
    }

    pub fn state(&self) -> InviteState {
        self.state
    }

    pub fn final_status(&self) -> Option<StatusCode> {
        self.final_status
    }

    /// Records a response handed to the transport (the caller sends `bytes` itself).
    pub fn send_response(
        &mut self,
        status: StatusCode,
        bytes: Vec<u8>,
        now: Instant,
    ) -> Result<(), TxError> {
        if self.state != InviteState::Proceeding {
            return Err(TxError);
        }
        self.last_response = Some(bytes);
        if status.is_provisional() {
            return Ok(());
        }
        self.final_status = Some(status);
        self.state =
            if status.is_success() { InviteState::Accepted } else { InviteState::Completed };
        if !self.reliable {
            self.retransmit = Some((now + self.timers.t1, self.timers.t1));
        }
        // Timer H (64*T1) for non-2xx; Timer L (64*T1) for 2xx, which is also how long the
        // UAS core retransmits a 2xx waiting for its ACK (§13.3.1.4).
        self.timeout_at = Some(now + self.timers.timeout());
        Ok(())
    }

    /// A retransmission of the INVITE arrived: the bytes to send again, if any (§17.2.1).
    pub fn on_retransmission(&self) -> Option<Vec<u8>> {
        match self.state {
            InviteState::Proceeding | InviteState::Completed | InviteState::Accepted => {
                self.last_response.clone()
            }
            InviteState::Confirmed | InviteState::Terminated => None,
        }
    }

    /// An ACK matching this transaction: for a non-2xx final response (same branch), or for
    /// a 2xx (matched by the dialog). Returns true when the ACK was expected.
    pub fn on_ack(&mut self, now: Instant) -> bool {
        match self.state {
            InviteState::Completed => {
                self.state = InviteState::Confirmed;
                self.retransmit = None;
                self.timeout_at = None;
                let linger = if self.reliable { Duration::ZERO } else { self.timers.t4 };
                self.terminate_at = Some(now + linger);
                true
            }
            InviteState::Accepted => {
                let first = !self.acked;
                self.acked = true;
                self.retransmit = None;
                first
            }
            _ => false,
        }
    }

    pub fn is_acked(&self) -> bool {
        self.acked || self.state == InviteState::Confirmed
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state == InviteState::Terminated {
            return None;
        }
        earliest(&[self.retransmit.map(|r| r.0), self.timeout_at, self.terminate_at])
    }

    /// Fires the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<TxEvent> {
        let mut events = Vec::new();
        if let Some((at, interval)) = self.retransmit {
            if at <= now {
                // Timer G doubles up to T2 (§17.2.1); the 2xx timer does the same (§13.3.1.4).
                let next = (interval * 2).min(self.timers.t2);
                self.retransmit = Some((at + next, next));
                if let Some(b) = &self.last_response {
                    events.push(TxEvent::Retransmit(b.clone()));
                }
            }
        }
        if self.timeout_at.is_some_and(|t| t <= now) {
            self.timeout_at = None;
            self.retransmit = None;
            let timed_out = match self.state {
                InviteState::Completed => true,
                InviteState::Accepted => !self.acked,
                _ => false,
            };
            self.state = InviteState::Terminated;
            if timed_out {
                events.push(TxEvent::TimedOut);
            }
            events.push(TxEvent::Terminated);
        }
        if self.terminate_at.is_some_and(|t| t <= now) {
            self.terminate_at = None;
            self.state = InviteState::Terminated;
            events.push(TxEvent::Terminated);
        }
        events
    }
}

/// States of the non-INVITE server transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonInviteState {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// The non-INVITE server transaction (§17.2.2).
#[derive(Debug, Clone)]
pub struct ServerNonInvite {
    state: NonInviteState,
    reliable: bool,
    timers: Timers,
    last_response: Option<Vec<u8>>,
    /// Timer J.
    terminate_at: Option<Instant>,
}

impl ServerNonInvite {
    pub fn new(reliable: bool, timers: Timers) -> Self {
        Self {
            state: NonInviteState::Trying,
            reliable,
            timers,
            last_response: None,
            terminate_at: None,
        }
    }

    pub fn state(&self) -> NonInviteState {
        self.state
    }

    pub fn send_response(
        &mut self,
        status: StatusCode,
        bytes: Vec<u8>,
        now: Instant,
    ) -> Result<(), TxError> {
        if matches!(self.state, NonInviteState::Completed | NonInviteState::Terminated) {
            return Err(TxError);
        }
        self.last_response = Some(bytes);
        if status.is_provisional() {
            self.state = NonInviteState::Proceeding;
        } else {
            self.state = NonInviteState::Completed;
            let linger = if self.reliable { Duration::ZERO } else { self.timers.timeout() };
            self.terminate_at = Some(now + linger);
        }
        Ok(())
    }

    /// A retransmission of the request: absorbed in Trying, answered with the last response
    /// otherwise.
    pub fn on_retransmission(&self) -> Option<Vec<u8>> {
        match self.state {
            NonInviteState::Proceeding | NonInviteState::Completed => self.last_response.clone(),
            _ => None,
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.terminate_at
    }

    pub fn handle_timeout(&mut self, now: Instant) -> Vec<TxEvent> {
        if self.terminate_at.is_some_and(|t| t <= now) {
            self.terminate_at = None;
            self.state = NonInviteState::Terminated;
            return vec![TxEvent::Terminated];
        }
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    /// Runs `tx` until it terminates, collecting (time since start, event).
    fn run(tx: &mut ServerInvite, t0: Instant, until: Duration) -> Vec<(Duration, TxEvent)> {
        let mut out = Vec::new();
        while let Some(at) = tx.poll_timeout() {
            if at > t0 + until {
                break;
            }
            for e in tx.handle_timeout(at) {
                out.push((at - t0, e));
            }
        }
        out
    }

    #[test]
    fn non_2xx_final_is_retransmitted_on_timer_g_until_timer_h() {
        let t0 = Instant::now();
        let mut tx = ServerInvite::new(false, Timers::default());
        tx.send_response(StatusCode(100), b"100".to_vec(), t0).unwrap();
        tx.send_response(StatusCode(486), b"486".to_vec(), t0).unwrap();
        let events = run(&mut tx, t0, secs(40.0));
        let resends: Vec<f64> = events
            .iter()
            .filter(|(_, e)| matches!(e, TxEvent::Retransmit(b) if b == b"486"))
            .map(|(t, _)| t.as_secs_f64())
            .collect();
        // Intervals 0.5, 1, 2, 4, 4, ... (Timer G capped at T2), last one before H at 32 s.
        assert_eq!(&resends[..6], &[0.5, 1.5, 3.5, 7.5, 11.5, 15.5]);
        assert_eq!(*resends.last().unwrap(), 31.5);
        let h = events.iter().find(|(_, e)| *e == TxEvent::TimedOut).unwrap();
        assert_eq!(h.0, secs(32.0));
        assert_eq!(tx.state(), InviteState::Terminated);
    }

    #[test]
    fn ack_stops_retransmission_and_timer_i_absorbs_the_rest() {
        let t0 = Instant::now();
        let mut tx = ServerInvite::new(false, Timers::default());
        tx.send_response(StatusCode(603), b"603".to_vec(), t0).unwrap();
        assert!(tx.on_ack(t0 + secs(0.7)));
        assert_eq!(tx.state(), InviteState::Confirmed);
        assert!(!tx.on_ack(t0 + secs(0.8)));
        assert_eq!(tx.on_retransmission(), None);
        let events = run(&mut tx, t0, secs(60.0));
        assert_eq!(events, vec![(secs(5.7), TxEvent::Terminated)]);
    }

    #[test]
    fn reliable_transport_has_no_retransmissions() {
        let t0 = Instant::now();
        let mut tx = ServerInvite::new(true, Timers::default());
        tx.send_response(StatusCode(486), b"486".to_vec(), t0).unwrap();
        let events = run(&mut tx, t0, secs(60.0));
        assert_eq!(
            events,
            vec![(secs(32.0), TxEvent::TimedOut), (secs(32.0), TxEvent::Terminated)]
        );
        let mut tx = ServerInvite::new(true, Timers::default());
        tx.send_response(StatusCode(486), b"486".to_vec(), t0).unwrap();
        tx.on_ack(t0);
        assert_eq!(run(&mut tx, t0, secs(60.0)), vec![(secs(0.0), TxEvent::Terminated)]);
    }

    #[test]
    fn invite_retransmission_gets_the_last_response() {
        let t0 = Instant::now();
        let mut tx = ServerInvite::new(false, Timers::default());
        assert_eq!(tx.on_retransmission(), None);
        tx.send_response(StatusCode(100), b"100".to_vec(), t0).unwrap();
        assert_eq!(tx.on_retransmission(), Some(b"100".to_vec()));
        tx.send_response(StatusCode(180), b"180".to_vec(), t0).unwrap();
        assert_eq!(tx.on_retransmission(), Some(b"180".to_vec()));
        tx.send_response(StatusCode(200), b"200".to_vec(), t0).unwrap();
        assert_eq!(tx.on_retransmission(), Some(b"200".to_vec()));
        assert_eq!(tx.send_response(StatusCode(486), b"486".to_vec(), t0), Err(TxError));
    }

    #[test]
    fn unacknowledged_2xx_times_out_after_64_t1() {
        let t0 = Instant::now();
        let mut tx = ServerInvite::new(false, Timers::default());
        tx.send_response(StatusCode(200), b"200".to_vec(), t0).unwrap();
        let events = run(&mut tx, t0, secs(40.0));
        assert_eq!(events.iter().filter(|(_, e)| matches!(e, TxEvent::Retransmit(_))).count(), 10);
        assert!(events.contains(&(secs(32.0), TxEvent::TimedOut)));
    }

    #[test]
    fn acknowledged_2xx_lingers_silently_until_timer_l() {
        let t0 = Instant::now();
        let mut tx = ServerInvite::new(false, Timers::default());
        tx.send_response(StatusCode(200), b"200".to_vec(), t0).unwrap();
        assert!(tx.on_ack(t0 + secs(0.1)));
        assert!(!tx.on_ack(t0 + secs(0.2)), "a repeated ACK is not news");
        let events = run(&mut tx, t0, secs(40.0));
        assert_eq!(events, vec![(secs(32.0), TxEvent::Terminated)]);
    }

    #[test]
    fn non_invite_absorbs_retransmissions_until_timer_j() {
        let t0 = Instant::now();
        let mut tx = ServerNonInvite::new(false, Timers::default());
        assert_eq!(tx.on_retransmission(), None);
        tx.send_response(StatusCode(200), b"200".to_vec(), t0).unwrap();
        assert_eq!(tx.on_retransmission(), Some(b"200".to_vec()));
        assert_eq!(tx.poll_timeout(), Some(t0 + secs(32.0)));
        assert_eq!(tx.handle_timeout(t0 + secs(32.0)), vec![TxEvent::Terminated]);
        let mut tcp = ServerNonInvite::new(true, Timers::default());
        tcp.send_response(StatusCode(200), b"200".to_vec(), t0).unwrap();
        assert_eq!(tcp.poll_timeout(), Some(t0));
    }
}
