//! `attendant say`: a prompt rendered to a WAV file, so that an operator can hear a flow's
//! prompt (plain text or SSML-lite) as callers will before it goes live.
//!
//! The audio is what a call gets: the same renderer (level, resampling) as the dialogue, and
//! with `--ulaw` the same G.711 µ-law encoding as a PCMU trunk, so the file sounds like the
//! phone line rather than like the engine's 24 kHz output.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use tts::PromptRenderer;
use types::SampleRate;

use crate::models::ModelDir;
use crate::voice::{self, VoiceKind};

/// Rates a prompt can be written at: the G.711 line, the worker's bus, the neural voice's own.
pub const RATES: [SampleRate; 3] = [SampleRate::HZ_8000, SampleRate::HZ_16000, SampleRate::HZ_24000];

/// WAVE_FORMAT_MULAW (RFC 2361, appendix A).
const TAG_ULAW: u16 = 0x0007;

/// What `attendant say` was asked for.
#[derive(Clone, Debug)]
pub struct SayOptions {
    /// Plain text or SSML-lite.
    pub text: String,
    pub output: PathBuf,
    /// Hz. Default 24 000 for PCM, 8 000 with `ulaw`.
    pub rate: Option<u32>,
    /// G.711 µ-law (WAV format 7) instead of 16-bit PCM; only at 8 kHz.
    pub ulaw: bool,
    /// `None`: hibari when available, else espeak-ng with a warning.
    pub voice: Option<VoiceKind>,
}

/// What was written.
#[derive(Clone, Debug)]
pub struct SayReport {
    pub voice: String,
    pub rate: SampleRate,
    pub ulaw: bool,
    pub samples: usize,
    /// Why the neural voice was not used, when it was not asked for by name.
    pub warning: Option<String>,
}

impl SayOptions {
    /// The output rate, or an error naming the flag at fault.
    pub fn checked_rate(&self) -> anyhow::Result<SampleRate> {
        let hz = self.rate.unwrap_or(if self.ulaw { 8_000 } else { 24_000 });
        let rate = RATES.into_iter().find(|r| r.hz() == hz).with_context(|| format!("--rate {hz}: must be 8000, 16000 or 24000"))?;
        if self.ulaw && rate != SampleRate::HZ_8000 {
            anyhow::bail!("--ulaw needs --rate 8000 (G.711 is an 8 kHz codec), not {hz}");
        }
        Ok(rate)
    }
}

/// Loads the voice, renders the text and writes the file. Arguments are checked before the
/// voice loads (seconds for hibari), and the output file is created before synthesis, so a
/// typo or an unwritable path fails at once.
pub fn run(options: &SayOptions, models: &ModelDir) -> anyhow::Result<SayReport> {
    let rate = options.checked_rate()?;
    if options.text.trim().is_empty() {
        anyhow::bail!("TEXT is empty: nothing to say");
    }
    let file = std::fs::File::create(&options.output).with_context(|| format!("cannot write {}", options.output.display()))?;
    let loaded = match options.voice {
        Some(kind) => voice::load_kind(models, kind).map(|v| (v, None)),
        None => voice::load_voice(models),
    };
    let result = loaded.and_then(|(synth, warning)| {
        let renderer = PromptRenderer::new(Arc::clone(&synth));
        let samples = write_prompt(&renderer, &options.text, rate, options.ulaw, file, &options.output)?;
        Ok(SayReport { voice: synth.name().to_owned(), rate, ulaw: options.ulaw, samples, warning })
    });
    if result.is_err() {
        // Leave no empty or half-written WAV behind for a player to choke on.
        let _ = std::fs::remove_file(&options.output);
    }
    result
}

/// Renders `text` at `rate` and writes it to `file` (named `path` in errors) as 16-bit PCM or
/// µ-law WAV. Returns the number of samples.
pub fn write_prompt(renderer: &PromptRenderer, text: &str, rate: SampleRate, ulaw: bool, mut file: std::fs::File, path: &Path) -> anyhow::Result<usize> {
    let pcm = renderer.render(text, rate).with_context(|| format!("rendering {text:?}"))?;
    if pcm.is_empty() {
        anyhow::bail!("{text:?} has nothing to say (it rendered no audio)");
    }
    let bytes = if ulaw {
        let mut encoded = vec![0u8; pcm.len()];
        codec::g711::f32_to_ulaw(&pcm, &mut encoded);
        ulaw_wav(rate, &encoded)
    } else {
        let samples: Vec<i16> = pcm.iter().map(|&s| codec::l16::f32_to_i16(s)).collect();
        codec::wav::write_pcm16(rate, &samples)
    };
    file.write_all(&bytes).and_then(|()| file.flush()).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(pcm.len())
}

/// A mono µ-law WAV file image. Non-PCM formats carry `cbSize` in `fmt ` and a `fact` chunk
/// with the sample count (the RIFF WAVE spec, "fact chunk"); players that ignore both still
/// read the file.
pub fn ulaw_wav(rate: SampleRate, encoded: &[u8]) -> Vec<u8> {
    // The RIFF size field is 32 bits; a prompt is bounded by the renderer far below 4 GB
    // (tts::hibari::MAX_TEXT_CHARS, about two minutes of speech).
    let data_len = encoded.len() as u32;
    let pad = data_len & 1;
    let mut out = Vec::with_capacity(58 + encoded.len() + 1);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(4 + (8 + 18) + (8 + 4) + 8 + data_len + pad).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&18u32.to_le_bytes());
    out.extend_from_slice(&TAG_ULAW.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // channels
    out.extend_from_slice(&rate.hz().to_le_bytes());
    out.extend_from_slice(&rate.hz().to_le_bytes()); // bytes per second
    out.extend_from_slice(&1u16.to_le_bytes()); // block align
    out.extend_from_slice(&8u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(&0u16.to_le_bytes()); // cbSize
    out.extend_from_slice(b"fact");
    out.extend_from_slice(&4u32.to_le_bytes());
    out.extend_from_slice(&data_len.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    out.extend_from_slice(encoded);
    if pad == 1 {
        out.push(0);
    }
    out
}

/// The command's summary line: file, duration, format, voice.
pub fn describe(report: &SayReport, path: &Path) -> String {
    let seconds = report.samples as f64 / f64::from(report.rate.hz());
    let format = if report.ulaw { "G.711 µ-law" } else { "16-bit PCM" };
    format!("wrote {}: {seconds:.2} s, {} Hz {format}, voice {}", path.display(), report.rate.hz(), report.voice)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn options(rate: Option<u32>, ulaw: bool) -> SayOptions {
        SayOptions { text: "Hello.".into(), output: "x.wav".into(), rate, ulaw, voice: None }
    }

    #[test]
    fn rate_defaults_to_24k_for_pcm_and_8k_for_ulaw() {
        assert_eq!(options(None, false).checked_rate().unwrap(), SampleRate::HZ_24000);
        assert_eq!(options(None, true).checked_rate().unwrap(), SampleRate::HZ_8000);
        assert_eq!(options(Some(16_000), false).checked_rate().unwrap(), SampleRate::HZ_16000);
    }

    #[test]
    fn ulaw_off_8k_and_odd_rates_are_refused_by_flag() {
        let e = options(Some(16_000), true).checked_rate().unwrap_err().to_string();
        assert!(e.contains("--ulaw") && e.contains("8000"), "{e}");
        let e = options(Some(44_100), false).checked_rate().unwrap_err().to_string();
        assert!(e.contains("--rate 44100"), "{e}");
    }

    #[test]
    fn ulaw_wav_reads_back_through_the_codec_crate() {
        let encoded = [0xffu8, 0x7f, 0x00];
        let img = ulaw_wav(SampleRate::HZ_8000, &encoded);
        let riff_len = u32::from_le_bytes(img[4..8].try_into().unwrap()) as usize;
        assert_eq!(riff_len + 8, img.len());
        let w = codec::WavFile::parse(&img).unwrap();
        assert_eq!((w.format, w.rate, w.channels), (codec::SampleFormat::Ulaw, SampleRate::HZ_8000, 1));
        assert_eq!(w.data, encoded);
    }
}
