//! SRTP and SRTCP unprotect (RFC 3711) with a fixed AES_CM_128_HMAC_SHA1_80 key
//! (`attendant_rtp::fuzz_srtp`). Random input fails authentication, so this covers what runs
//! before and at the tag check: header and index parsing, length checks, replay lookup.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rtp::fuzz_srtp(data));
