//! RFC 4733 telephone-event payloads through the DTMF receiver, 6-byte chunks with the first
//! byte doubling as the timestamp (`attendant_rtp::fuzz_dtmf`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rtp::fuzz_dtmf(data));
