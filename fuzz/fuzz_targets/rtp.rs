//! RTP packets (RFC 3550): parse, write back and check the round trip (`attendant_rtp::fuzz_rtp`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rtp::fuzz_rtp(data));
