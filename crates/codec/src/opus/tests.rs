//! Opus wrapper tests: round trips of a tone and a speech fixture, concealment and FEC, and
//! typed errors (never panics) for corrupt packets.

use super::*;
use crate::test_util::{best_correlation, read_wav_f32, sine, Rng};

/// Packet buffer for one 20 ms frame: any 20 ms packet fits in 1275 bytes (RFC 6716 §3.2.1).
const PACKET_BYTES: usize = 1_275;

/// Linear interpolation 16 kHz -> 48 kHz: crude, but Opus needs no more for the test.
fn upsample_3x(x: &[f32]) -> Vec<f32> {
    let mut out = Vec::with_capacity(3 * x.len());
    for (i, &a) in x.iter().enumerate() {
        let b = x.get(i + 1).copied().unwrap_or(a);
        out.extend([a, a + (b - a) / 3.0, a + 2.0 * (b - a) / 3.0]);
    }
    out
}

/// Encodes `pcm` in 20 ms frames and decodes every packet; returns the packets and the audio.
fn round_trip(pcm: &[f32], settings: OpusSettings) -> (Vec<Vec<u8>>, Vec<f32>) {
    let mut enc = OpusEncoder::new(settings).expect("encoder");
    let mut dec = OpusDecoder::new().expect("decoder");
    let mut packets = Vec::new();
    let mut decoded = vec![0.0; pcm.len()];
    let mut packet = [0u8; PACKET_BYTES];
    for (frame, out) in pcm.chunks_exact(FRAME_SAMPLES).zip(decoded.chunks_exact_mut(FRAME_SAMPLES))
    {
        let len = enc.encode(frame, &mut packet).expect("encodes");
        assert_eq!(dec.decode(&packet[..len], out).expect("decodes"), FRAME_SAMPLES);
        packets.push(packet[..len].to_vec());
    }
    (packets, decoded)
}

fn energy(x: &[f32]) -> f64 {
    x.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / x.len().max(1) as f64
}

#[test]
fn tone_round_trip_keeps_the_waveform() {
    let tone: Vec<f32> = sine(440.0, 48_000, 0.3, 48_000).map(|s| s as f32).collect();
    let (packets, decoded) = round_trip(&tone, OpusSettings::default());
    // Bitrate honoured: 24 kbit/s is 60 bytes per 20 ms, give or take VBR.
    let mean = packets.iter().map(Vec::len).sum::<usize>() / packets.len();
    assert!((30..=90).contains(&mean), "mean packet {mean} bytes");
    // Skip the first 100 ms while the encoder settles; libopus delays by its look-ahead.
    let (lag, corr) = best_correlation(&tone[4_800..40_000], &decoded[4_800..], 1_000);
    assert!(corr > 0.95, "correlation {corr:.3} at lag {lag}");
}

#[test]
fn speech_round_trip_correlates() {
    let (rate, speech) = read_wav_f32("ivr/pay-bill.16k.wav");
    assert_eq!(rate, types::SampleRate::HZ_16000);
    let speech = upsample_3x(&speech);
    let (_, decoded) = round_trip(&speech, OpusSettings::default());
    let n = speech.len() / FRAME_SAMPLES * FRAME_SAMPLES - 1_000;
    let (lag, corr) = best_correlation(&speech[..n], &decoded, 1_000);
    assert!(corr > 0.9, "correlation {corr:.3} at lag {lag}");
}

#[test]
fn corrupt_packets_are_typed_errors() {
    let mut dec = OpusDecoder::new().expect("decoder");
    let mut out = [0.0f32; MAX_PACKET_SAMPLES];
    let cases: [&[u8]; 5] = [
        &[],                       // packets are at least one byte (RFC 6716 §3.4 R1)
        &[0x03],                   // code 3 without its frame count byte (R6)
        &[0x03, 0x00],             // code 3 with zero frames (R5)
        &[0x03, 0x31],             // 49 frames of 20 ms: more than 120 ms (R5)
        &[0x01, 0x00, 0x00, 0x00], // code 1: two equal frames need an even remainder (R3)
    ];
    for packet in cases {
        match dec.decode(packet, &mut out) {
            Err(OpusError::CorruptPacket { len }) => assert_eq!(len, packet.len()),
            other => panic!("{packet:02x?}: {other:?}"),
        }
    }
    // Code 2 whose first frame's length runs past the end (R4), found by libopus itself.
    let r = dec.decode(&[0x02, 0xfb, 0x00, 0x00], &mut out);
    assert!(matches!(r, Err(OpusError::CorruptPacket { len: 4 })), "{r:?}");
    // The decoder is still fine afterwards.
    let (packets, _) = round_trip(&vec![0.1; FRAME_SAMPLES], OpusSettings::default());
    assert_eq!(dec.decode(&packets[0], &mut out).expect("decodes"), FRAME_SAMPLES);
}

#[test]
fn random_packets_never_panic() {
    let mut dec = OpusDecoder::new().expect("decoder");
    let mut rng = Rng(7587);
    let mut out = [0.0f32; MAX_PACKET_SAMPLES];
    let mut packet = [0u8; 400];
    let (mut ok, mut corrupt) = (0, 0);
    for i in 0..3_000 {
        let len = 1 + (rng.next_u64() as usize) % packet.len();
        rng.fill(&mut packet[..len]);
        match dec.decode(&packet[..len], &mut out) {
            Ok(n) => {
                ok += 1;
                assert!(n <= MAX_PACKET_SAMPLES && out[..n].iter().all(|s| s.is_finite()));
            }
            Err(OpusError::CorruptPacket { .. }) => corrupt += 1,
            Err(e) => panic!("packet {i}: {e}"),
        }
        if i % 10 == 0 {
            dec.conceal(&mut out).expect("conceals");
        }
    }
    assert!(ok > 0 && corrupt > 0, "{ok} decoded, {corrupt} rejected");
}

#[test]
fn short_output_buffer_is_an_error() {
    let (packets, _) = round_trip(&vec![0.0; FRAME_SAMPLES], OpusSettings::default());
    let mut dec = OpusDecoder::new().expect("decoder");
    let mut out = [0.0f32; 480];
    let e = dec.decode(&packets[0], &mut out).expect_err("fails");
    assert!(matches!(e, OpusError::BufferSize(BufferSize { expected: 960, actual: 480 })), "{e:?}");
}

#[test]
fn stereo_packets_decode_to_mono() {
    // RFC 7587 §7: the SDP always says two channels; the sender may well send stereo.
    let mut enc = ::opus::Encoder::new(48_000, ::opus::Channels::Stereo, ::opus::Application::Voip)
        .expect("stereo encoder");
    let stereo: Vec<f32> =
        sine(440.0, 48_000, 0.3, FRAME_SAMPLES).flat_map(|s| [s as f32; 2]).collect();
    let mut packet = [0u8; PACKET_BYTES];
    let mut dec = OpusDecoder::new().expect("decoder");
    let mut out = [0.0f32; FRAME_SAMPLES];
    for _ in 0..5 {
        let len = enc.encode_float(&stereo, &mut packet).expect("encodes");
        assert_eq!(
            ::opus::packet::get_nb_channels(&packet[..len]).ok(),
            Some(::opus::Channels::Stereo)
        );
        assert_eq!(dec.decode(&packet[..len], &mut out).expect("decodes"), FRAME_SAMPLES);
    }
    assert!(energy(&out) > 0.01, "energy {}", energy(&out));
}

#[test]
fn concealment_continues_the_signal_then_fades() {
    let tone: Vec<f32> = sine(300.0, 48_000, 0.3, 10 * FRAME_SAMPLES).map(|s| s as f32).collect();
    let (packets, _) = round_trip(&tone, OpusSettings::default());
    let mut dec = OpusDecoder::new().expect("decoder");
    let mut out = [0.0f32; FRAME_SAMPLES];
    for p in &packets {
        dec.decode(p, &mut out).expect("decodes");
    }
    let before = energy(&out);
    assert_eq!(dec.conceal(&mut out).expect("conceals"), FRAME_SAMPLES);
    assert!(energy(&out) > 0.1 * before, "first concealed frame continues the tone");
    for _ in 0..20 {
        dec.conceal(&mut out).expect("conceals");
    }
    assert!(energy(&out) < 0.01 * before, "long losses fade out");
    // A buffer shorter than 2.5 ms cannot be concealed into.
    let e = dec.conceal(&mut [0.0; 100]).expect_err("fails");
    assert!(matches!(e, OpusError::BufferSize(_)), "{e:?}");
}

#[test]
fn fec_rebuilds_a_lost_packet() {
    let (rate, speech) = read_wav_f32("ivr/pay-bill.16k.wav");
    assert_eq!(rate, types::SampleRate::HZ_16000);
    let speech = upsample_3x(&speech);
    let settings =
        OpusSettings { inband_fec: true, expected_loss_percent: 20, ..OpusSettings::default() };
    let (packets, clean) = round_trip(&speech, settings);
    // Lose packet 40 (0.8 s, inside the speech) and rebuild it from packet 41.
    let mut dec = OpusDecoder::new().expect("decoder");
    let mut out = [0.0f32; FRAME_SAMPLES];
    for p in &packets[..40] {
        dec.decode(p, &mut out).expect("decodes");
    }
    assert_eq!(dec.recover(&packets[41], &mut out).expect("recovers"), FRAME_SAMPLES);
    let lost = &clean[40 * FRAME_SAMPLES..41 * FRAME_SAMPLES];
    let (_, corr) = best_correlation(lost, &out, 1);
    assert!(corr > 0.7, "FEC frame correlates {corr:.3} with the lost one");
    assert_eq!(dec.decode(&packets[41], &mut out).expect("decodes"), FRAME_SAMPLES);
    assert!(matches!(dec.recover(&[], &mut out), Err(OpusError::CorruptPacket { len: 0 })));
}

#[test]
fn encoder_rejects_bad_frames_and_settings() {
    let mut enc = OpusEncoder::new(OpusSettings::default()).expect("encoder");
    let mut packet = [0u8; PACKET_BYTES];
    assert!(matches!(enc.encode(&[0.0; 100], &mut packet), Err(OpusError::FrameSize(100))));
    assert!(matches!(
        enc.encode(&[0.0; FRAME_SAMPLES], &mut []),
        Err(OpusError::PacketTooLarge(0))
    ));
    assert!(matches!(enc.set_bitrate(1_000), Err(OpusError::Bitrate(1_000))));
    let e = OpusEncoder::new(OpusSettings { bitrate: 600_000, ..OpusSettings::default() })
        .expect_err("fails");
    assert!(matches!(e, OpusError::Bitrate(600_000)));
    // 10 ms frames are valid Opus too.
    assert!(enc.encode(&[0.0; 480], &mut packet).expect("encodes") > 0);
}

#[test]
fn reset_restores_the_initial_state() {
    let tone: Vec<f32> = sine(440.0, 48_000, 0.3, FRAME_SAMPLES).map(|s| s as f32).collect();
    let mut enc = OpusEncoder::new(OpusSettings::default()).expect("encoder");
    let mut a = [0u8; PACKET_BYTES];
    let mut b = [0u8; PACKET_BYTES];
    let n = enc.encode(&tone, &mut a).expect("encodes");
    enc.encode(&tone, &mut b).expect("encodes");
    enc.reset().expect("resets");
    let m = enc.encode(&tone, &mut b).expect("encodes");
    assert_eq!(a[..n], b[..m], "same first packet after reset");

    let mut dec = OpusDecoder::new().expect("decoder");
    let mut x = [0.0f32; FRAME_SAMPLES];
    let mut y = [0.0f32; FRAME_SAMPLES];
    dec.decode(&a[..n], &mut x).expect("decodes");
    dec.decode(&a[..n], &mut y).expect("decodes");
    dec.reset().expect("resets");
    dec.decode(&a[..n], &mut y).expect("decodes");
    assert_eq!(x, y);
}
