//! The outbound half of [`Session`]: audio and key presses to send, RTCP reports and BYE.

use super::*;

impl Session {
    /// One frame interval of outbound audio: writes the packet for this frame (`payload`,
    /// already encoded, or a queued key press) into `out`, SRTP-protected when keyed. `None`
    /// when nothing is sent: silence, or no remote address known yet.
    pub fn send_audio(
        &mut self,
        payload: Option<&[u8]>,
        now: Instant,
        out: &mut Vec<u8>,
    ) -> Option<Transmit> {
        let _: Sent = self.outbound.tick(payload, now, out)?;
        if let Some(ctx) = &mut self.srtp_out {
            // Our own packets always have a valid header.
            ctx.protect_rtp(out).ok()?;
        }
        let destination = self.remote?;
        self.stats.sent_rtp += 1;
        Some(Transmit {
            destination,
            len: out.len(),
        })
    }

    /// Queues an RFC 4733 key press; it replaces audio from the next frame.
    pub fn send_dtmf(&mut self, key: DtmfKey, duration: Duration) -> Result<(), DtmfSendError> {
        self.outbound.send_dtmf(key, duration)
    }

    /// Writes the compound RTCP report into `out` when one is due (RFC 3550 §6.2), and emits a
    /// [`SessionEvent::Quality`].
    pub fn poll_rtcp(&mut self, now: Instant, out: &mut Vec<u8>) -> Option<Transmit> {
        if !self.scheduler.poll(now) {
            return None;
        }
        self.write_report(now, None, out)
    }

    /// Writes a final report with a BYE (RFC 3550 §6.6) into `out`.
    pub fn bye(
        &mut self,
        now: Instant,
        reason: Option<&str>,
        out: &mut Vec<u8>,
    ) -> Option<Transmit> {
        self.write_report(now, Some(reason.unwrap_or("")), out)
    }

    fn write_report(
        &mut self,
        now: Instant,
        bye: Option<&str>,
        out: &mut Vec<u8>,
    ) -> Option<Transmit> {
        out.clear();
        let ssrc = self.settings.local_ssrc;
        let block = self.reception_block(now);
        let blocks: &[ReportBlock] = block.as_slice();
        let info = self.outbound.sender_info(now, self.clock.at(now));
        let written = match info {
            Some(info) if self.outbound.take_sent_since_report() => {
                rtcp::write_sender_report(ssrc, &info, blocks, out)
            }
            _ => rtcp::write_receiver_report(ssrc, blocks, out),
        };
        written.ok()?;
        rtcp::write_sdes_cname(ssrc, &self.settings.cname, out).ok()?;
        if let Some(reason) = bye {
            rtcp::write_bye(&[ssrc], Some(reason).filter(|r| !r.is_empty()), out).ok()?;
        }
        if let Some(ctx) = &mut self.srtp_out {
            ctx.protect_rtcp(out).ok()?;
        }
        self.stats.sent_rtcp += 1;
        Some(Transmit {
            destination: self.rtcp_destination()?,
            len: out.len(),
        })
    }

    /// The report block about the source we receive, and the quality figures with it.
    fn reception_block(&mut self, now: Instant) -> Option<ReportBlock> {
        let remote = self.source.as_mut()?;
        let r = remote.state.report();
        let (last_sr, delay_since_last_sr) = self.last_sr.map_or((0, 0), |s| s.lsr_dlsr(now));
        let block = ReportBlock {
            ssrc: remote.ssrc,
            fraction_lost: r.fraction_lost,
            cumulative_lost: r.cumulative_lost,
            extended_highest_seq: r.extended_highest_seq,
            jitter: r.jitter,
            last_sr,
            delay_since_last_sr,
        };
        let clock = self.settings.clock_rate;
        let jb = self.jitter.stats();
        let one_way = self.stats.rtt.map_or(Duration::ZERO, |rtt| rtt / 2)
            + jb.current_delay
            + self.settings.frame;
        let fraction_lost = f64::from(r.fraction_lost) / 256.0;
        let report = QualityReport {
            fraction_lost,
            cumulative_lost: r.cumulative_lost,
            expected: r.expected,
            jitter: clock.duration(u64::from(r.jitter)),
            rtt: self.stats.rtt,
            one_way_delay: one_way,
            quality: mos::estimate(self.settings.codec, fraction_lost, one_way),
        };
        self.stats.last_quality = Some(report);
        self.emit(SessionEvent::Quality(report));
        Some(block)
    }
}
