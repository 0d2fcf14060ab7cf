//! Third-party corpora through the parser, the SDP parser and a UAS core, without a panic:
//! RFC 5118 IPv6 torture messages (which must also parse as the RFC says), all PROTOS c07-sip
//! cases, and the pjproject SIP and SDP fuzz seeds.
//!
//! Fixtures live in ../shared/corpora (see its README and PROVENANCE); GPL sets are read in
//! place, never copied into the project.
#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::path::PathBuf;

use attendant_sip::message::{parse, Framing, Message};
use attendant_sip::validate::{validate_request, Policy};
use attendant_sip::{fuzz_sdp, fuzz_sip, sdp};

fn corpora() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora")
}

#[test]
fn rfc5118_ipv6_messages_parse_as_the_rfc_says() {
    // §4.2 (no brackets) and §4.10 (three colons) are invalid; the rest must parse.
    let invalid = ["ipv6-bad", "ipv6-bug-abnf-3-colons"];
    let dir = corpora().join("rfc5118-ersip");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("rfc5118 corpus") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        let data = std::fs::read(&path).expect("read");
        let parsed = parse(&data, Framing::Datagram);
        seen += 1;
        if invalid.contains(&name.as_str()) {
            assert!(parsed.is_err(), "{name} should be rejected");
            continue;
        }
        let msg = parsed.unwrap_or_else(|e| panic!("{name}: {e}"));
        let Message::Request(req) = msg else { panic!("{name}: not a request") };
        validate_request(&req, &Policy::default()).unwrap_or_else(|r| panic!("{name}: {r:?}"));
        assert!(!req.headers.vias().is_empty(), "{name}: Via");
        if !req.body.is_empty() {
            let sd = sdp::parse(&req.body).unwrap_or_else(|e| panic!("{name}: SDP {e}"));
            assert!(!sd.media.is_empty());
        }
    }
    assert_eq!(seen, 12);
}

#[test]
fn rfc5118_ipv6_addresses_are_understood() {
    let data = std::fs::read(corpora().join("rfc5118-ersip/mult-ip-in-header")).unwrap();
    let Ok(Message::Request(req)) = parse(&data, Framing::Datagram) else { panic!() };
    let vias = req.headers.vias();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[0].sent_by(), "[2001:db8::9:1]:6050");
    assert_eq!(vias[2].received(), Some("192.0.2.200".parse().unwrap()));
    let data = std::fs::read(corpora().join("rfc5118-ersip/mult-ip-in-sdp")).unwrap();
    let Ok(Message::Request(req)) = parse(&data, Framing::Datagram) else { panic!() };
    let sd = sdp::parse(&req.body).unwrap();
    assert_eq!(sd.connection_for(1).and_then(|c| c.ip()), Some("2001:db8::1".parse().unwrap()));
}

/// Splits a PROTOS case into its records: `<decimal length> <message bytes>` repeated.
fn protos_records(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(sp) = rest.iter().position(|&b| b == b' ') {
        let Some(len) = std::str::from_utf8(&rest[..sp]).ok().and_then(|s| s.parse::<usize>().ok())
        else {
            break;
        };
        let body = &rest[sp + 1..];
        let len = len.min(body.len());
        out.push(&body[..len]);
        rest = &body[len..];
    }
    out
}

/// Fills the PROTOS placeholders as its test driver would.
fn fill_placeholders(msg: &[u8]) -> Vec<u8> {
    let mut s = msg.to_vec();
    for (from, to) in [
        (&b"<To>"[..], &b"ivr@192.0.2.1"[..]),
        (b"<From>", b"caller@192.0.2.9"),
        (b"<From-Address>", b"192.0.2.9"),
        (b"<From-IP>", b"192.0.2.9"),
        (b"<Local-Port>", b"5060"),
        (b"<Branch-ID>", b"1"),
        (b"<Call-ID>", b"protos"),
        (b"<CSeq>", b"1"),
        (b"<Teardown-Method>", b"CANCEL"),
    ] {
        s = replace_all(&s, from, to);
    }
    // Content-Length placeholder: the real body length.
    if let Some(pos) = find(&s, b"\r\n\r\n") {
        let body = s.len() - pos - 4;
        s = replace_all(&s, b"<Content-Length>", body.to_string().as_bytes());
    }
    s
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

fn replace_all(h: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(h.len());
    let mut i = 0;
    while i < h.len() {
        if h[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(h[i]);
            i += 1;
        }
    }
    out
}

#[test]
fn every_protos_c07_case_runs_through_parser_sdp_and_core_without_panic() {
    let dir = corpora().join("protos-c07-sip/cases");
    let mut cases = 0;
    let mut parsed = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir).expect("protos corpus").flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let data = std::fs::read(entry.path()).expect("read");
        cases += 1;
        for record in protos_records(&data) {
            fuzz_sip(record);
            let filled = fill_placeholders(record);
            fuzz_sip(&filled);
            if parse(&filled, Framing::Datagram).is_ok() {
                parsed += 1;
            }
        }
    }
    eprintln!("PROTOS c07-sip: {cases} cases, {parsed} filled-in records parsed");
    assert_eq!(cases, 4527);
    // Case 0 is a valid INVITE and its CANCEL; most others are malformed on purpose.
    assert!(parsed > 0);
}

#[test]
fn protos_case_zero_is_a_valid_call_and_its_cancel() {
    let data = std::fs::read(corpora().join("protos-c07-sip/cases/0000000")).unwrap();
    let records = protos_records(&data);
    assert_eq!(records.len(), 2);
    let invite = fill_placeholders(records[0]);
    let Ok(Message::Request(req)) = parse(&invite, Framing::Datagram) else { panic!("INVITE") };
    validate_request(&req, &Policy::default()).unwrap();
    assert!(sdp::parse(&req.body).is_ok());
}

fn zip_entries(name: &str) -> Vec<(String, Vec<u8>)> {
    let file = std::fs::File::open(corpora().join("pjproject-seeds").join(name)).expect("zip");
    let mut archive = zip::ZipArchive::new(file).expect("archive");
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).expect("entry");
        if f.is_dir() {
            continue;
        }
        let mut data = Vec::new();
        f.read_to_end(&mut data).expect("inflate");
        out.push((f.name().to_owned(), data));
    }
    out
}

#[test]
fn pjproject_sip_and_sdp_seeds_run_without_panic() {
    let sip = zip_entries("fuzz-sip_seed_corpus.zip");
    assert_eq!(sip.len(), 15);
    let mut sip_parsed = Vec::new();
    for (name, data) in &sip {
        fuzz_sip(data);
        if parse(data, Framing::Datagram).is_ok() {
            sip_parsed.push(name.as_str());
        }
    }
    eprintln!("pjproject SIP seeds parsed: {sip_parsed:?}");
    let sdps = zip_entries("fuzz-sdp_seed_corpus.zip");
    assert_eq!(sdps.len(), 6);
    let mut parsed = 0;
    for (_, data) in &sdps {
        fuzz_sdp(data);
        parsed += usize::from(sdp::parse(data).is_ok());
    }
    eprintln!("pjproject SDP seeds parsed: {parsed}/6");
    assert!(parsed >= 4, "most pjproject SDP seeds are well formed ({parsed}/6)");
}

#[test]
fn pjproject_refer_seed_parses_with_embedded_replaces() {
    let sip = zip_entries("fuzz-sip_seed_corpus.zip");
    let (_, data) = sip.iter().find(|(n, _)| n.ends_with("replaces_refer.sip")).expect("seed");
    let Ok(Message::Request(req)) = parse(data, Framing::Datagram) else { panic!("REFER") };
    let refer_to = req.headers.get(&attendant_sip::HeaderName::ReferTo).unwrap();
    let na = attendant_sip::headers::NameAddr::parse(refer_to).unwrap();
    assert_eq!(na.uri.as_sip().unwrap().headers[0].0, "Replaces");
}

/// Deterministic xorshift mutations (flip, truncate, duplicate, splice CRLF) of the RFC 4475
/// messages and pjproject seeds: a bounded stand-in for the fuzz targets.
#[test]
fn mutated_torture_messages_never_panic() {
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(corpora().join("rfc4475-ersip"))
        .expect("rfc4475 corpus")
        .flatten()
        .filter_map(|e| std::fs::read(e.path()).ok())
        .collect();
    seeds.extend(zip_entries("fuzz-sip_seed_corpus.zip").into_iter().map(|(_, d)| d));
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for i in 0..20_000 {
        let seed = &seeds[i % seeds.len()];
        let mut data = seed.clone();
        for _ in 0..(next() % 4 + 1) {
            if data.is_empty() {
                break;
            }
            let pos = (next() as usize) % data.len();
            match next() % 5 {
                0 => data[pos] ^= 1 << (next() % 8),
                1 => data.truncate(pos),
                2 => {
                    let end = (pos + (next() as usize) % 64).min(data.len());
                    let chunk = data[pos..end].to_vec();
                    data.splice(pos..pos, chunk);
                }
                3 => data.splice(pos..pos, b"\r\n ".iter().copied()).for_each(drop),
                _ => data[pos] = [b':', b';', b',', b'<', b'"', 0, 0xff][(next() % 7) as usize],
            }
        }
        fuzz_sip(&data);
        if let Some(body) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            fuzz_sdp(&data[body + 4..]);
        }
    }
}
