//! Prompts: WAV files decoded once into mono samples at the rate a call's codec runs at, and
//! cached per file and rate (many calls share a tenant's greeting).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use codec::WavFile;
use dsp::Resampler;
use types::SampleRate;

#[derive(Debug, Default)]
pub struct PromptCache {
    cache: HashMap<(PathBuf, u32), Arc<[f32]>>,
}

impl PromptCache {
    /// The prompt at `path` as mono samples at `rate`.
    pub fn get(&mut self, path: &Path, rate: SampleRate) -> anyhow::Result<Arc<[f32]>> {
        let key = (path.to_owned(), rate.hz());
        if let Some(p) = self.cache.get(&key) {
            return Ok(Arc::clone(p));
        }
        let prompt: Arc<[f32]> = load(path, rate)?.into();
        self.cache.insert(key, Arc::clone(&prompt));
        Ok(prompt)
    }
}

pub(crate) fn load(path: &Path, rate: SampleRate) -> anyhow::Result<Vec<f32>> {
    use anyhow::Context as _;
    let wav = WavFile::open(path).with_context(|| format!("prompt {}", path.display()))?;
    let channels = usize::from(wav.channels);
    let mut interleaved = vec![0.0f32; wav.data.len() / wav.format.bytes_per_sample()];
    let n = codec::decode(wav.format, &wav.data, &mut interleaved)?;
    let mono: Vec<f32> = interleaved[..n].chunks_exact(channels).map(|c| c.iter().sum::<f32>() / channels as f32).collect();
    let mut resampler = Resampler::new(wav.rate, rate)?;
    let (n_in, n_out) = (wav.rate.frame_samples(), rate.frame_samples());
    let mut out = Vec::with_capacity(mono.len() * n_out / n_in + 2 * n_out);
    let mut frame_in = vec![0.0f32; n_in];
    let mut frame_out = vec![0.0f32; n_out];
    // One frame of silence after the audio flushes the filter's delay out.
    let flush = std::iter::once(&[][..]);
    for chunk in mono.chunks(n_in).chain(flush) {
        frame_in.fill(0.0);
        frame_in[..chunk.len()].copy_from_slice(chunk);
        resampler.process(&frame_in, &mut frame_out)?;
        out.extend_from_slice(&frame_out);
    }
    // The filter's delay is leading silence: drop it so the prompt starts on its first frame.
    let expected = mono.len() * n_out / n_in;
    let delay = resampler.delay().min(out.len());
    out.drain(..delay);
    out.truncate(expected.max(1));
    Ok(out)
}
