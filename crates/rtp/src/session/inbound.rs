//! The inbound half of [`Session`]: demultiplexing, SRTP, source validation, dispatch, RTCP.

use super::*;

/// RFC 5761 §4: with rtcp-mux, a second octet of 192..=223 (RTCP packet types 192-223, i.e.
/// RTP payload types 64-95 with the marker set) is RTCP.
fn is_rtcp(second_byte: u8) -> bool {
    (192..=223).contains(&second_byte)
}

impl Session {
    /// Takes one datagram that arrived at `now` from `from`, on the RTP port (RTP, or RTCP when
    /// multiplexed). `data` is decrypted in place when SRTP is in use. An error means the
    /// datagram was dropped and counted; the session is unaffected.
    pub fn handle_datagram(
        &mut self,
        from: SocketAddr,
        data: &mut [u8],
        now: Instant,
    ) -> Result<(), InputError> {
        self.stats.datagrams += 1;
        self.stats.bytes += data.len() as u64;
        let (first, second) = match data {
            [a, b, ..] => (*a, *b),
            _ => {
                self.stats.malformed += 1;
                return Err(RtpError::Truncated {
                    expected: 12,
                    actual: data.len(),
                }
                .into());
            }
        };
        // RFC 7983 §7: 128..=191 is RTP or RTCP; STUN (0..=3) and DTLS (20..=63) are not ours.
        if !(128..=191).contains(&first) {
            self.stats.not_rtp += 1;
            return Err(InputError::NotRtp { first_byte: first });
        }
        let r = if is_rtcp(second) {
            self.handle_rtcp(data, now)
        } else {
            self.handle_rtp(from, data, now)
        };
        if let Err(e) = &r {
            self.count(e);
        }
        r
    }

    /// Takes one datagram from the separate RTCP port (no rtcp-mux).
    pub fn handle_rtcp_datagram(
        &mut self,
        data: &mut [u8],
        now: Instant,
    ) -> Result<(), InputError> {
        self.stats.datagrams += 1;
        self.stats.bytes += data.len() as u64;
        let r = self.handle_rtcp(data, now);
        if let Err(e) = &r {
            self.count(e);
        }
        r
    }

    fn count(&mut self, e: &InputError) {
        let s = &mut self.stats;
        match e {
            InputError::NotRtp { .. } => s.not_rtp += 1,
            InputError::Rtp(_) | InputError::Rtcp(_) => s.malformed += 1,
            InputError::Srtp(SrtpError::AuthenticationFailed) => s.srtp_auth_failures += 1,
            InputError::Srtp(SrtpError::Replayed { .. } | SrtpError::TooOld { .. }) => {
                s.srtp_replays += 1
            }
            InputError::Srtp(_) => s.malformed += 1,
            InputError::Dtmf(_) => s.dtmf_errors += 1,
            InputError::UnknownPayloadType(_) => s.unknown_payload_type += 1,
            InputError::Probation { .. } => s.probation += 1,
            InputError::SequenceJump { .. } => s.sequence_jumps += 1,
        }
    }

    fn handle_rtp(
        &mut self,
        from: SocketAddr,
        data: &mut [u8],
        now: Instant,
    ) -> Result<(), InputError> {
        let len = match &mut self.srtp_in {
            Some(ctx) => ctx.unprotect_rtp(data)?,
            None => data.len(),
        };
        let packet = RtpPacket::parse(&data[..len])?;
        let h = packet.header;
        let pt = h.payload_type;
        let s = &self.settings;
        let is_dtmf = Some(pt) == s.telephone_event;
        if pt != s.audio_payload_type && !is_dtmf && Some(pt) != s.comfort_noise {
            return Err(InputError::UnknownPayloadType(pt.get()));
        }
        if let Err(e) = self.validate_source(h.ssrc, h.sequence) {
            if matches!(e, InputError::Probation { .. }) && !is_dtmf {
                // Kept, so that the packet before the one that validates the source plays too.
                self.held.header = Some(h);
                self.held.payload.clear();
                self.held.payload.extend_from_slice(packet.payload);
            }
            return Err(e);
        }
        self.stats.rtp_packets += 1;
        self.latch(from);
        if let Some(held) = self.held.header.take() {
            if held.ssrc == h.ssrc && held.sequence == h.sequence.wrapping_sub(1) {
                let payload = std::mem::take(&mut self.held.payload);
                self.dispatch(&held, &payload, now)?;
                self.held.payload = payload;
            }
        }
        self.dispatch(&h, packet.payload, now)
    }

    /// Hands a validated packet to the DTMF receiver or the jitter buffer.
    fn dispatch(&mut self, h: &RtpHeader, payload: &[u8], now: Instant) -> Result<(), InputError> {
        let arrival = self
            .settings
            .clock_rate
            .ticks(now.saturating_duration_since(self.epoch)) as u32;
        if Some(h.payload_type) == self.settings.telephone_event {
            self.jitter.push_skip(h.sequence, h.timestamp, now);
            self.dtmf.receive(h.timestamp, h.marker, payload)?;
            while let Some(e) = self.dtmf.poll_event() {
                let e = match e {
                    DtmfEvent::Started { key, .. } => SessionEvent::DtmfStarted { key },
                    DtmfEvent::Ended { key, duration, .. } => SessionEvent::DtmfEnded {
                        key,
                        duration: self.settings.clock_rate.duration(u64::from(duration)),
                    },
                };
                self.emit(e);
            }
            return Ok(());
        }
        if let Some(r) = &mut self.source {
            r.state.update_jitter(h.timestamp, arrival);
        }
        self.jitter.push(
            h.sequence,
            h.timestamp,
            h.payload_type,
            h.marker,
            payload,
            now,
        );
        Ok(())
    }

    /// RFC 3550 §A.1 for the current source, and probation for a new SSRC before it takes over.
    fn validate_source(&mut self, ssrc: Ssrc, seq: u16) -> Result<(), InputError> {
        // Authenticated packets need no probation (RFC 3550 §6.2.1 allows skipping it when
        // packets are authenticated).
        let trusted = self.srtp_in.is_some();
        if let Some(r) = &mut self.source {
            if r.ssrc == ssrc {
                return match r.state.update_seq(seq) {
                    SeqVerdict::Valid => Ok(()),
                    SeqVerdict::Restarted => {
                        self.jitter.resync();
                        self.stats.sequence_restarts += 1;
                        self.emit(SessionEvent::SequenceRestarted { ssrc });
                        Ok(())
                    }
                    SeqVerdict::Bad => Err(InputError::SequenceJump {
                        ssrc,
                        sequence: seq,
                    }),
                    SeqVerdict::Probation => Err(InputError::Probation { ssrc }),
                };
            }
        }
        let verdict = match &mut self.candidate {
            Some(c) if c.ssrc == ssrc => c.state.update_seq(seq),
            _ if trusted => {
                self.candidate = Some(Remote {
                    ssrc,
                    state: SourceState::validated(seq),
                });
                self.candidate
                    .as_mut()
                    .map_or(SeqVerdict::Probation, |c| c.state.update_seq(seq))
            }
            _ => {
                let mut state = SourceState::new(seq);
                let v = state.update_seq(seq);
                self.candidate = Some(Remote { ssrc, state });
                v
            }
        };
        if verdict != SeqVerdict::Valid {
            return Err(InputError::Probation { ssrc });
        }
        let new = self.candidate.take();
        match self.source.replace(new.unwrap_or(Remote {
            ssrc,
            state: SourceState::validated(seq),
        })) {
            None => self.emit(SessionEvent::SourceAccepted { ssrc }),
            Some(old) => {
                self.jitter.resync();
                self.dtmf = DtmfReceiver::new();
                self.last_sr = None;
                self.stats.ssrc_changes += 1;
                self.emit(SessionEvent::SsrcChanged {
                    old: old.ssrc,
                    new: ssrc,
                });
            }
        }
        Ok(())
    }

    /// Symmetric RTP: latch on the first valid source address; move after
    /// `relatch_after` valid packets in a row from another.
    fn latch(&mut self, from: SocketAddr) {
        if !self.latched {
            self.latched = true;
            if self.remote != Some(from) {
                self.remote = Some(from);
            }
            self.emit(SessionEvent::RemoteAddressLearned { addr: from });
            return;
        }
        if self.remote == Some(from) {
            self.relatch = None;
            return;
        }
        self.stats.from_other_address += 1;
        let count = match self.relatch {
            Some((addr, n)) if addr == from => n + 1,
            _ => 1,
        };
        if count >= self.settings.relatch_after {
            let old = self.remote.replace(from);
            self.relatch = None;
            if let Some(old) = old {
                self.emit(SessionEvent::RemoteAddressChanged { old, new: from });
            }
        } else {
            self.relatch = Some((from, count));
        }
    }

    fn handle_rtcp(&mut self, data: &mut [u8], now: Instant) -> Result<(), InputError> {
        let len = match &mut self.srtp_in {
            Some(ctx) => ctx.unprotect_rtcp(data)?,
            None => data.len(),
        };
        self.stats.rtcp_packets += 1;
        let local = self.settings.local_ssrc;
        let remote = self.source.map(|r| r.ssrc);
        for packet in rtcp::packets(&data[..len]) {
            match packet? {
                RtcpPacket::SenderReport {
                    ssrc,
                    info,
                    reports,
                } => {
                    if Some(ssrc) == remote {
                        self.last_sr = Some(LastSenderReport {
                            ntp_middle: info.ntp.middle32(),
                            received_at: now,
                        });
                    }
                    reports
                        .iter()
                        .filter(|b| b.ssrc == local)
                        .for_each(|b| self.remote_report(&b, now));
                }
                RtcpPacket::ReceiverReport { reports, .. } => {
                    reports
                        .iter()
                        .filter(|b| b.ssrc == local)
                        .for_each(|b| self.remote_report(&b, now));
                }
                RtcpPacket::Bye(bye) => {
                    if let Some(ssrc) = bye.sources().find(|s| Some(*s) == remote) {
                        self.emit(SessionEvent::Bye { ssrc });
                    }
                }
                RtcpPacket::SourceDescription(_) => {}
                RtcpPacket::Unknown { .. } => self.stats.rtcp_unknown_packets += 1,
            }
        }
        Ok(())
    }

    fn remote_report(&mut self, block: &ReportBlock, now: Instant) {
        let rtt = round_trip(block, self.clock.at(now));
        if rtt.is_some() {
            self.stats.rtt = rtt;
        }
        let clock: ClockRate = self.settings.clock_rate;
        self.emit(SessionEvent::RemoteReport {
            fraction_lost: f64::from(block.fraction_lost) / 256.0,
            cumulative_lost: block.cumulative_lost,
            jitter: clock.duration(u64::from(block.jitter)),
            rtt,
        });
    }
}
