//! G.722 tests: round-trip quality on a tone and a speech fixture, bit-exactness with FFmpeg's
//! decoder on committed reference files (testdata/codec/PROVENANCE.md), robustness and reset.
//!
//! The ITU-T G.722 test vectors (G.191 STL) are not reachable from these machines, so
//! conformance rests on the FFmpeg cross-check.

use super::*;
use crate::test_util::{best_lag, read_bytes, sine, Rng};

/// Encoder plus decoder delay in samples, measured: the two 24-tap QMFs (about 1.4 ms).
const CODEC_DELAY: usize = 22;

fn read_wav_i16(path: &str) -> Vec<i16> {
    let (rate, samples) = crate::test_util::read_wav_i16(path);
    assert_eq!(rate, SAMPLE_RATE, "{path}");
    samples
}

fn round_trip(input: &[i16]) -> Vec<i16> {
    let mut coded = vec![0u8; input.len() / 2];
    assert_eq!(G722Encoder::new().encode(input, &mut coded), coded.len());
    let mut decoded = vec![0i16; input.len()];
    assert_eq!(G722Decoder::new().decode(&coded, &mut decoded), decoded.len());
    decoded
}

#[test]
fn tone_round_trip_snr_above_20_db() {
    let tone: Vec<i16> = sine(1000.0, 16_000, 10_000.0, 16_000).map(|s| s as i16).collect();
    let decoded = round_trip(&tone);
    // Skip the first 20 ms while the scale factors adapt.
    let a = best_lag(&tone[320..], &decoded[320..], 64);
    let (lag, snr) = (a.lag, a.snr_db);
    assert!(snr > 20.0, "SNR {snr:.1} dB at lag {lag}");
    // The tone repeats every 16 samples, so only the lag modulo 16 is the codec delay.
    assert_eq!(lag % 16, CODEC_DELAY % 16, "codec delay");
}

#[test]
fn speech_round_trip_correlates() {
    let speech = read_wav_i16("ivr/pay-bill.16k.wav");
    let decoded = round_trip(&speech);
    let a = best_lag(&speech, &decoded, 64);
    let (lag, snr, corr) = (a.lag, a.snr_db, a.correlation);
    assert_eq!(lag, CODEC_DELAY, "codec delay");
    assert!(corr > 0.99, "correlation {corr:.4} (SNR {snr:.1} dB)");
    assert!(snr > 15.0, "SNR {snr:.1} dB");
}

#[test]
fn decoder_matches_ffmpeg_on_speech() {
    let coded = read_bytes("codec/pay-bill.g722");
    let reference = read_wav_i16("codec/pay-bill.g722.ffmpeg.wav");
    let mut out = vec![0i16; 2 * coded.len()];
    assert_eq!(G722Decoder::new().decode(&coded, &mut out), reference.len());
    let first_diff = out.iter().zip(&reference).position(|(a, b)| a != b);
    assert_eq!(first_diff, None, "differs from FFmpeg");
}

#[test]
fn decoder_matches_ffmpeg_on_random_octets() {
    // Random codes drive the predictor and scale factors to their limits, and include the
    // lower-band codes 0-3 that no encoder sends.
    let coded = read_bytes("codec/random.g722");
    let reference = read_wav_i16("codec/random.g722.ffmpeg.wav");
    let mut out = vec![0i16; 2 * coded.len()];
    // Decode in 20 ms packets, as from RTP: the state carries across calls.
    let mut dec = G722Decoder::new();
    for (packet, pcm) in coded.chunks(FRAME_BYTES).zip(out.chunks_mut(FRAME_SAMPLES)) {
        dec.decode(packet, pcm);
    }
    let first_diff = out.iter().zip(&reference).position(|(a, b)| a != b);
    assert_eq!(first_diff, None, "differs from FFmpeg");
}

#[test]
fn encoder_matches_ffmpeg_on_speech() {
    // The reference was encoded from this very fixture: regenerate it (testdata/codec/
    // PROVENANCE.md) whenever tools/synth_fixtures.py rewrites the WAV.
    let speech = read_wav_i16("ivr/pay-bill.16k.wav");
    let reference = read_bytes("codec/pay-bill.g722");
    let mut coded = vec![0u8; speech.len() / 2];
    G722Encoder::new().encode(&speech, &mut coded);
    let first_diff = coded.iter().zip(&reference).position(|(a, b)| a != b);
    assert_eq!(first_diff, None, "differs from FFmpeg");
}

#[test]
fn digital_silence_stays_quiet() {
    // With zero input the scale factors sit at their minimum and the codes settle into a
    // small idle pattern; what the decoder makes of it must stay far below speech levels.
    let decoded = round_trip(&[0; 16_000]);
    let peak = decoded.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
    assert!(peak <= 8, "idle noise peak {peak}");
}

#[test]
fn codec_matches_ffmpeg_on_clipped_full_scale_input() {
    // A full-scale chirp with noise, clipped: the sub-band signals and predictor saturate.
    let input = read_wav_i16("codec/chirp-noise-clipped.16k.wav");
    let reference = read_bytes("codec/chirp-noise-clipped.g722");
    let mut coded = vec![0u8; input.len() / 2];
    G722Encoder::new().encode(&input, &mut coded);
    let first_diff = coded.iter().zip(&reference).position(|(a, b)| a != b);
    assert_eq!(first_diff, None, "encoder differs from FFmpeg");

    let decoded_reference = read_wav_i16("codec/chirp-noise-clipped.g722.ffmpeg.wav");
    let mut out = vec![0i16; 2 * reference.len()];
    G722Decoder::new().decode(&reference, &mut out);
    let first_diff = out.iter().zip(&decoded_reference).position(|(a, b)| a != b);
    assert_eq!(first_diff, None, "decoder differs from FFmpeg");
}

#[test]
fn random_octets_never_panic() {
    let mut rng = Rng(0x722);
    let mut dec = G722Decoder::new();
    let mut pcm = [0i16; FRAME_SAMPLES];
    let mut packet = [0u8; FRAME_BYTES];
    for _ in 0..2_000 {
        rng.fill(&mut packet);
        assert_eq!(dec.decode(&packet, &mut pcm), FRAME_SAMPLES);
    }
    // Constant streams push single codes (largest levels, unused codes) for a long time.
    for code in [0x00u8, 0x04, 0x20, 0x3f, 0x80, 0xc0, 0xff] {
        dec.reset();
        for _ in 0..200 {
            dec.decode(&[code; FRAME_BYTES], &mut pcm);
        }
    }
}

#[test]
fn full_scale_input_never_panics_and_survives() {
    // Full-scale square wave and alternating extremes: the worst case for the QMF sums and the
    // quantizer; the round trip must still follow the square wave's level.
    let square: Vec<i16> =
        (0..8_000).map(|n| if (n / 8) % 2 == 0 { i16::MAX } else { i16::MIN }).collect();
    let decoded = round_trip(&square);
    let corr = best_lag(&square[800..], &decoded[800..], 64).correlation;
    assert!(corr > 0.9, "correlation {corr:.3}");
    let alternating: Vec<i16> =
        (0..8_000).map(|n| if n % 2 == 0 { i16::MAX } else { i16::MIN }).collect();
    round_trip(&alternating);
}

#[test]
fn reset_restores_the_initial_state() {
    let speech = read_wav_i16("ivr/pay-bill.16k.wav");
    let head = &speech[8_000..8_000 + 2 * FRAME_SAMPLES];
    let mut enc = G722Encoder::new();
    let mut first = [0u8; 2 * FRAME_BYTES];
    enc.encode(head, &mut first);
    let mut again = [0u8; 2 * FRAME_BYTES];
    enc.encode(head, &mut again);
    assert_ne!(first, again, "state carried over");
    enc.reset();
    enc.encode(head, &mut again);
    assert_eq!(first, again);

    let mut dec = G722Decoder::new();
    let mut a = [0i16; 4 * FRAME_SAMPLES];
    let mut b = [0i16; 4 * FRAME_SAMPLES];
    dec.decode(&first, &mut a);
    dec.decode(&first, &mut b);
    assert_ne!(a, b, "state carried over");
    dec.reset();
    dec.decode(&first, &mut b);
    assert_eq!(a, b);
}

#[test]
fn short_buffers_bound_the_work() {
    let mut dec = G722Decoder::new();
    let mut out = [0i16; 7];
    assert_eq!(dec.decode(&[0x55; 10], &mut out), 6, "three octets fit");
    let mut enc = G722Encoder::new();
    let mut coded = [0u8; 2];
    assert_eq!(enc.encode(&[100; 7], &mut coded), 2, "two octets fit");
    assert_eq!(enc.encode(&[100; 3], &mut [0u8; 8]), 1, "odd sample left over");
}

#[test]
fn f32_paths_match_i16_paths() {
    let speech = read_wav_i16("ivr/pay-bill.16k.wav");
    let frame = &speech[8_000..8_000 + FRAME_SAMPLES];
    let as_f32: Vec<f32> = frame.iter().map(|&s| f32::from(s) / 32_767.0).collect();
    let (mut a, mut b) = ([0u8; FRAME_BYTES], [0u8; FRAME_BYTES]);
    G722Encoder::new().encode(frame, &mut a);
    G722Encoder::new().encode_f32(&as_f32, &mut b);
    assert_eq!(a, b);
    let mut pcm = [0i16; FRAME_SAMPLES];
    let mut pcm_f32 = [0f32; FRAME_SAMPLES];
    G722Decoder::new().decode(&a, &mut pcm);
    G722Decoder::new().decode_f32(&a, &mut pcm_f32);
    for (&i, &f) in pcm.iter().zip(&pcm_f32) {
        assert_eq!(f32::from(i) / 32_768.0, f);
    }
}
