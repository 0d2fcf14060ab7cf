//! SDP (RFC 8866): parse, serialize and re-parse, attribute accessors and the offer/answer
//! answerer with and without SDES keys (`attendant_sip::fuzz_sdp`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sip::fuzz_sdp(data));
