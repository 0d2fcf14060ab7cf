//! SIP messages (RFC 3261): both framings of the parser, header accessors, serialization,
//! validation, the stream decoder, SDP bodies and a UAS core (`attendant_sip::fuzz_sip`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sip::fuzz_sip(data));
