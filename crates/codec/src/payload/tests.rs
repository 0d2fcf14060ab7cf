//! Tests of the RTP payload codecs as one type: clocks and names, round trips of every codec,
//! concealment, and typed errors for bad buffers and payloads.

use super::*;
use crate::test_util::{best_correlation, read_wav_f32, sine, Rng};

const OUT: usize = crate::opus::MAX_PACKET_SAMPLES;

fn decoder(codec: PayloadCodec) -> Decoder {
    Decoder::new(codec).expect("decoder")
}

fn encoder(codec: PayloadCodec) -> Encoder {
    Encoder::new(codec, OpusSettings::default()).expect("encoder")
}

fn tone(codec: PayloadCodec, frames: usize) -> Vec<f32> {
    let rate = codec.sample_rate().hz();
    sine(440.0, rate, 0.3, frames * codec.frame_samples()).map(|s| s as f32).collect()
}

/// Encodes and decodes `pcm` frame by frame.
fn round_trip(codec: PayloadCodec, pcm: &[f32]) -> Vec<f32> {
    let (mut enc, mut dec) = (encoder(codec), decoder(codec));
    let frame = codec.frame_samples();
    let mut payload = [0u8; 1_500];
    let mut decoded = vec![0.0; pcm.len()];
    for (input, output) in pcm.chunks_exact(frame).zip(decoded.chunks_exact_mut(frame)) {
        let len = enc.encode(input, &mut payload).expect("encodes");
        if let Some(bytes) = codec.frame_bytes() {
            assert_eq!(len, bytes, "{codec}");
        }
        assert_eq!(dec.decode(&payload[..len], output).expect("decodes"), frame, "{codec}");
    }
    decoded
}

#[test]
fn clocks_rates_and_names_follow_the_rfcs() {
    use PayloadCodec::*;
    let table = [
        (Pcmu, 8_000, 8_000, 160, 160, Some(0), "PCMU"),
        (Pcma, 8_000, 8_000, 160, 160, Some(8), "PCMA"),
        (G722, 8_000, 16_000, 320, 160, Some(9), "G722"),
        (Opus, 48_000, 48_000, 960, 960, None, "opus"),
    ];
    for (codec, clock, rate, samples, ticks, pt, name) in table {
        assert_eq!(codec.rtp_clock_hz(), clock, "{codec}");
        assert_eq!(codec.sample_rate().hz(), rate, "{codec}");
        assert_eq!(codec.frame_samples(), samples, "{codec}");
        assert_eq!(codec.frame_ticks(), ticks, "{codec}");
        assert_eq!(codec.static_payload_type(), pt, "{codec}");
        assert_eq!(codec.encoding_name(), name);
        assert_eq!(PayloadCodec::from_encoding_name(&name.to_ascii_lowercase()), Some(codec));
        assert_eq!(PayloadCodec::from_encoding_name(&name.to_ascii_uppercase()), Some(codec));
        if let Some(pt) = pt {
            assert_eq!(PayloadCodec::from_static_payload_type(pt), Some(codec));
        }
    }
    assert_eq!(PayloadCodec::from_encoding_name("G729"), None);
    assert_eq!(PayloadCodec::from_static_payload_type(18), None);
}

#[test]
fn every_codec_round_trips_a_tone() {
    for codec in PayloadCodec::ALL {
        let input = tone(codec, 25);
        let decoded = round_trip(codec, &input);
        let skip = 5 * codec.frame_samples();
        let (lag, corr) =
            best_correlation(&input[skip..input.len() - skip], &decoded[skip..], skip);
        assert!(corr > 0.95, "{codec}: correlation {corr:.3} at lag {lag}");
    }
}

#[test]
fn g722_payloads_carry_speech() {
    let (rate, speech) = read_wav_f32("ivr/pay-bill.16k.wav");
    assert_eq!(rate, PayloadCodec::G722.sample_rate());
    let decoded = round_trip(PayloadCodec::G722, &speech);
    let (lag, corr) = best_correlation(&speech, &decoded, 64);
    assert!(corr > 0.99, "correlation {corr:.4} at lag {lag}");
}

#[test]
fn short_output_buffers_are_errors() {
    let mut out = [0.0f32; 100];
    for (codec, payload_len, expected) in [
        (PayloadCodec::Pcmu, 160, 160),
        (PayloadCodec::Pcma, 160, 160),
        (PayloadCodec::G722, 160, 320),
    ] {
        let e = decoder(codec).decode(&vec![0x55; payload_len], &mut out).expect_err("fails");
        let want = BufferSize { expected, actual: 100 };
        assert!(matches!(&e, CodecError::BufferSize(b) if *b == want), "{e}");
    }
    let mut payload = [0u8; 1_500];
    let opus_len = encoder(PayloadCodec::Opus).encode(&[0.0; 960], &mut payload).expect("encodes");
    let e = decoder(PayloadCodec::Opus).decode(&payload[..opus_len], &mut out).expect_err("fails");
    assert!(matches!(e, CodecError::Opus(OpusError::BufferSize(_))), "{e}");

    let mut small = [0u8; 10];
    let e = encoder(PayloadCodec::Pcma).encode(&[0.0; 160], &mut small).expect_err("fails");
    assert!(matches!(e, CodecError::OutputTooSmall { expected: 160, actual: 10 }), "{e}");
    let e = encoder(PayloadCodec::G722).encode(&[0.0; 320], &mut small).expect_err("fails");
    assert!(matches!(e, CodecError::OutputTooSmall { expected: 160, actual: 10 }), "{e}");
    let e = encoder(PayloadCodec::G722).encode(&[0.0; 319], &mut payload).expect_err("fails");
    assert!(matches!(e, CodecError::OddSampleCount(319)), "{e}");
    let e = encoder(PayloadCodec::Opus).encode(&[0.0; 100], &mut payload).expect_err("fails");
    assert!(matches!(e, CodecError::Opus(OpusError::FrameSize(100))), "{e}");
}

#[test]
fn random_payloads_never_panic() {
    let mut rng = Rng(3551);
    let mut payload = [0u8; 600];
    let mut out = vec![0.0f32; OUT];
    for codec in PayloadCodec::ALL {
        let mut dec = decoder(codec);
        for _ in 0..500 {
            let len = (rng.next_u64() as usize) % payload.len();
            rng.fill(&mut payload[..len]);
            match dec.decode(&payload[..len], &mut out) {
                Ok(n) => {
                    assert!(out[..n].iter().all(|s| s.is_finite() && s.abs() <= 1.0), "{codec}")
                }
                Err(CodecError::Opus(OpusError::CorruptPacket { .. })) => {}
                Err(e) => panic!("{codec}: {e}"),
            }
            if len % 7 == 3 {
                dec.conceal(&mut out);
            }
        }
    }
}

#[test]
fn waveform_concealment_repeats_then_fades_to_silence() {
    for codec in [PayloadCodec::Pcmu, PayloadCodec::Pcma, PayloadCodec::G722] {
        let frame = codec.frame_samples();
        let input = tone(codec, 5);
        let mut enc = encoder(codec);
        let mut dec = decoder(codec);
        let mut payload = [0u8; 320];
        let mut last = vec![0.0f32; frame];
        for chunk in input.chunks_exact(frame) {
            let len = enc.encode(chunk, &mut payload).expect("encodes");
            dec.decode(&payload[..len], &mut last).expect("decodes");
        }
        let mut out = vec![1.0f32; frame + 50];
        assert_eq!(dec.conceal(&mut out), frame, "{codec}: one 20 ms frame");
        assert_eq!(out[frame], 1.0, "{codec}: nothing past the frame");
        // The first sample repeats the last frame's first sample at full gain, and the gain falls.
        assert_eq!(out[0], last[0], "{codec}");
        let level = |x: &[f32]| x.iter().map(|s| s.abs()).sum::<f32>();
        let first = level(&out[..frame]);
        dec.conceal(&mut out);
        let second = level(&out[..frame]);
        dec.conceal(&mut out);
        let third = level(&out[..frame]);
        assert!(
            first > second && second > third && third > 0.0,
            "{codec}: {first} {second} {third}"
        );
        dec.conceal(&mut out);
        assert!(out[..frame].iter().all(|&s| s == 0.0), "{codec}: silent after 60 ms");
        // A decoded payload restarts the fade.
        let len = enc.encode(&input[..frame], &mut payload).expect("encodes");
        dec.decode(&payload[..len], &mut last).expect("decodes");
        dec.conceal(&mut out);
        assert!(level(&out[..frame]) > 0.5 * first, "{codec}");
    }
}

#[test]
fn concealment_without_history_is_silence() {
    for codec in PayloadCodec::ALL {
        let mut dec = decoder(codec);
        let mut out = vec![1.0f32; OUT];
        assert_eq!(dec.conceal(&mut out), codec.frame_samples(), "{codec}");
        let peak = out[..codec.frame_samples()].iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!(peak < 1e-3, "{codec}: {peak}");
        // Shorter buffers are filled, not overrun.
        assert_eq!(dec.conceal(&mut out[..10]), 10, "{codec}");
    }
}

#[test]
fn opus_recovery_falls_back_to_concealment() {
    let mut dec = decoder(PayloadCodec::Opus);
    let input = tone(PayloadCodec::Opus, 10);
    let mut enc = encoder(PayloadCodec::Opus);
    let mut payload = [0u8; 1_500];
    let mut out = vec![0.0f32; OUT];
    for chunk in input.chunks_exact(960) {
        let len = enc.encode(chunk, &mut payload).expect("encodes");
        dec.decode(&payload[..len], &mut out).expect("decodes");
    }
    // A corrupt next packet: concealment instead of an error.
    assert_eq!(dec.recover(&[0x03], &mut out), 960);
    let len = enc.encode(&input[..960], &mut payload).expect("encodes");
    assert_eq!(dec.recover(&payload[..len], &mut out), 960);
    // G.722 has no FEC: recovery is concealment.
    let mut g722 = decoder(PayloadCodec::G722);
    assert_eq!(g722.recover(&[0u8; 160], &mut out), 320);
}

#[test]
fn reset_forgets_the_stream() {
    for codec in PayloadCodec::ALL {
        let input = tone(codec, 3);
        let frame = codec.frame_samples();
        let (mut enc, mut dec) = (encoder(codec), decoder(codec));
        let mut payload = [0u8; 1_500];
        let mut first = vec![0.0f32; frame];
        let mut again = vec![0.0f32; frame];
        let len = enc.encode(&input[frame..2 * frame], &mut payload).expect("encodes");
        dec.decode(&payload[..len], &mut first).expect("decodes");
        enc.reset().expect("resets");
        let len2 = enc.encode(&input[frame..2 * frame], &mut payload[len..]).expect("encodes");
        assert_eq!(payload[..len], payload[len..len + len2], "{codec}: encoder reset");
        dec.reset().expect("resets");
        dec.decode(&payload[..len], &mut again).expect("decodes");
        assert_eq!(first, again, "{codec}: decoder reset");
        dec.reset().expect("resets");
        dec.conceal(&mut again);
        assert!(again.iter().all(|s| s.abs() < 1e-3), "{codec}: history forgotten");
    }
}
