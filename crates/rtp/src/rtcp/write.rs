//! Writing RTCP packets (RFC 3550 §6.4-§6.6); append them to one buffer for a compound packet.

use super::{
    ReportBlock, RtcpError, SenderInfo, MAX_COUNT, PT_BYE, PT_RR, PT_SDES, PT_SR, REPORT_BLOCK_LEN,
    SDES_CNAME, SENDER_INFO_LEN,
};
use crate::Ssrc;

/// Appends a common header for `body_len` bytes of body (a multiple of 4).
fn header(count: usize, packet_type: u8, body_len: usize, out: &mut Vec<u8>) {
    out.push(0x80 | count as u8);
    out.push(packet_type);
    out.extend_from_slice(&((body_len / 4) as u16).to_be_bytes());
}

fn check_count(count: usize) -> Result<(), RtcpError> {
    if count > MAX_COUNT {
        Err(RtcpError::TooMany { count })
    } else {
        Ok(())
    }
}

/// Appends an SR (RFC 3550 §6.4.1).
pub fn write_sender_report(
    ssrc: Ssrc,
    info: &SenderInfo,
    blocks: &[ReportBlock],
    out: &mut Vec<u8>,
) -> Result<(), RtcpError> {
    check_count(blocks.len())?;
    header(
        blocks.len(),
        PT_SR,
        4 + SENDER_INFO_LEN + REPORT_BLOCK_LEN * blocks.len(),
        out,
    );
    out.extend_from_slice(&ssrc.0.to_be_bytes());
    out.extend_from_slice(&info.ntp.0.to_be_bytes());
    for v in [info.rtp_timestamp, info.packet_count, info.octet_count] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    blocks.iter().for_each(|b| b.write(out));
    Ok(())
}

/// Appends an RR (RFC 3550 §6.4.2).
pub fn write_receiver_report(
    ssrc: Ssrc,
    blocks: &[ReportBlock],
    out: &mut Vec<u8>,
) -> Result<(), RtcpError> {
    check_count(blocks.len())?;
    header(
        blocks.len(),
        PT_RR,
        4 + REPORT_BLOCK_LEN * blocks.len(),
        out,
    );
    out.extend_from_slice(&ssrc.0.to_be_bytes());
    blocks.iter().for_each(|b| b.write(out));
    Ok(())
}

/// Appends an SDES packet with one chunk carrying a CNAME (RFC 3550 §6.5.1).
pub fn write_sdes_cname(ssrc: Ssrc, cname: &str, out: &mut Vec<u8>) -> Result<(), RtcpError> {
    let len = cname.len();
    if len > 255 {
        return Err(RtcpError::ItemTooLong { len });
    }
    // SSRC, type, length, text, then at least one null octet, padded to 32 bits.
    let chunk = (4 + 2 + len + 1).div_ceil(4) * 4;
    header(1, PT_SDES, chunk, out);
    out.extend_from_slice(&ssrc.0.to_be_bytes());
    out.push(SDES_CNAME);
    out.push(len as u8);
    out.extend_from_slice(cname.as_bytes());
    out.resize(out.len() + chunk - (4 + 2 + len), 0);
    Ok(())
}

/// Appends a BYE (RFC 3550 §6.6).
pub fn write_bye(
    sources: &[Ssrc],
    reason: Option<&str>,
    out: &mut Vec<u8>,
) -> Result<(), RtcpError> {
    check_count(sources.len())?;
    let reason = reason.unwrap_or("").as_bytes();
    if reason.len() > 255 {
        return Err(RtcpError::ItemTooLong { len: reason.len() });
    }
    let reason_len = if reason.is_empty() {
        0
    } else {
        (1 + reason.len()).div_ceil(4) * 4
    };
    header(sources.len(), PT_BYE, 4 * sources.len() + reason_len, out);
    sources
        .iter()
        .for_each(|s| out.extend_from_slice(&s.0.to_be_bytes()));
    if !reason.is_empty() {
        out.push(reason.len() as u8);
        out.extend_from_slice(reason);
        out.resize(out.len() + reason_len - 1 - reason.len(), 0);
    }
    Ok(())
}
