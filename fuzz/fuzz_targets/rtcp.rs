//! Compound RTCP packets (RFC 3550 §6): SR, RR, SDES, BYE and unknown types
//! (`attendant_rtp::fuzz_rtcp`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rtp::fuzz_rtcp(data));
