//! [`PromptRenderer`]: synthesized prompts at the rate a call needs, level-normalized and cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use dsp::Resampler;
use types::SampleRate;

use crate::stream_resample::StreamResampler;
use crate::{Synthesizer, TtsError};

/// Renderer settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RendererConfig {
    /// Peak level every prompt is scaled to, in dBFS, in [-40, 0]. Default -3: loud enough over
    /// a phone line, with headroom for a codec's overshoot.
    pub peak_dbfs: f32,
    /// Most prompts kept. Default 256: a tenant's flow has tens of fixed prompts per language.
    pub max_entries: usize,
    /// Most samples kept over all prompts. Default 19.2 M (20 minutes at 16 kHz, 77 MB of f32).
    /// A prompt larger than this on its own is returned but not kept.
    pub max_samples: usize,
}

impl Default for RendererConfig {
    fn default() -> Self {
        Self { peak_dbfs: -3.0, max_entries: 256, max_samples: 16_000 * 60 * 20 }
    }
}

/// Renders prompt text through a [`Synthesizer`] and keeps the results.
///
/// `&self` throughout, so one renderer in an `Arc` serves every call. The cache is bounded by
/// [`RendererConfig::max_entries`] and [`RendererConfig::max_samples`]; when full, the least
/// recently used prompts go first. The lock is not held while synthesizing: cache hits never
/// wait behind a render. Two calls that miss on the same prompt at once both render it; the
/// first to finish is kept, and both return that one. That matters beyond saving work:
/// espeak-ng's output varies slightly from call to call, and every call should hear the same
/// prompt.
pub struct PromptRenderer {
    synth: Arc<dyn Synthesizer>,
    peak: f32,
    max_entries: usize,
    max_samples: usize,
    cache: Mutex<Cache>,
}

impl std::fmt::Debug for PromptRenderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptRenderer").field("synth", &self.synth.name()).field("peak", &self.peak).finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    text: String,
    voice: String,
    hz: u32,
}

#[derive(Debug, Default)]
struct Cache {
    entries: HashMap<Key, Entry>,
    samples: usize,
    /// Incremented on every use; an entry's `used` is the tick of its last use.
    tick: u64,
}

#[derive(Debug)]
struct Entry {
    pcm: Arc<[f32]>,
    used: u64,
}

impl PromptRenderer {
    /// A renderer with [`RendererConfig::default`].
    pub fn new(synth: Arc<dyn Synthesizer>) -> Self {
        let c = RendererConfig::default();
        Self::build(synth, &c)
    }

    pub fn with_config(synth: Arc<dyn Synthesizer>, config: RendererConfig) -> Result<Self, TtsError> {
        if !(-40.0..=0.0).contains(&config.peak_dbfs) {
            return Err(TtsError::InvalidConfig { field: "peak_dbfs", reason: format!("{} is outside [-40, 0]", config.peak_dbfs) });
        }
        if config.max_entries == 0 {
            return Err(TtsError::InvalidConfig { field: "max_entries", reason: "must be at least 1".to_owned() });
        }
        Ok(Self::build(synth, &config))
    }

    fn build(synth: Arc<dyn Synthesizer>, c: &RendererConfig) -> Self {
        Self {
            synth,
            peak: 10f32.powf(c.peak_dbfs / 20.0),
            max_entries: c.max_entries,
            max_samples: c.max_samples,
            cache: Mutex::new(Cache::default()),
        }
    }

    pub fn synthesizer(&self) -> &Arc<dyn Synthesizer> {
        &self.synth
    }

    /// `text` spoken as mono samples at `rate`, peak at [`RendererConfig::peak_dbfs`]. Empty
    /// text (or text with nothing to say) renders as no samples. Blocking: see the crate docs.
    ///
    /// Engines that report a [`Synthesizer::typical_peak`] (the neural voice) are scaled by a
    /// fixed gain instead of normalized, exactly as [`PromptRenderer::render_stream`] does, so a
    /// prompt sounds the same whichever of the two rendered it first.
    pub fn render(&self, text: &str, rate: SampleRate) -> Result<Arc<[f32]>, TtsError> {
        let key = self.key(text, rate);
        if let Some(pcm) = self.lock().get(&key) {
            return Ok(pcm);
        }
        if let Some(gain) = self.stream_gain() {
            let mut pcm = Vec::new();
            self.stream_miss(text, rate, gain, &mut pcm, &mut |_| true)?;
            return Ok(self.keep(key, pcm.into()));
        }
        let mut speech = Vec::new();
        self.synth.synthesize(text, &mut speech)?;
        let mut pcm = resample(&speech, self.synth.sample_rate(), rate)?;
        normalize_peak(&mut pcm, self.peak);
        Ok(self.keep(key, pcm.into()))
    }

    /// The prompt if it is in the cache (counts as a use).
    pub fn cached_prompt(&self, text: &str, rate: SampleRate) -> Option<Arc<[f32]>> {
        let key = self.key(text, rate);
        self.lock().get(&key)
    }

    /// Like [`PromptRenderer::render`], but hands the audio to `sink` as it becomes ready: a
    /// cached prompt in one call; otherwise, for engines that stream, one call per sentence (the
    /// first sentence plays while the rest is synthesized). `sink` returns false to stop; the
    /// prompt is then not cached (it is incomplete), and that is not an error.
    ///
    /// Streamed audio cannot be peak-normalized (the loudest sentence may come last), so it is
    /// scaled by the target peak over the engine's [`Synthesizer::typical_peak`] and limited to
    /// [-1, 1]. The whole prompt is cached at the end, so later calls hear the same audio.
    /// Engines without a typical peak are rendered whole and delivered as one chunk.
    pub fn render_stream(&self, text: &str, rate: SampleRate, sink: &mut dyn FnMut(&[f32]) -> bool) -> Result<(), TtsError> {
        let key = self.key(text, rate);
        let hit = self.lock().get(&key);
        let Some(gain) = self.stream_gain().filter(|_| hit.is_none()) else {
            let pcm = match hit {
                Some(pcm) => pcm,
                None => self.render(text, rate)?,
            };
            if !pcm.is_empty() {
                sink(&pcm);
            }
            return Ok(());
        };
        let mut pcm = Vec::new();
        if self.stream_miss(text, rate, gain, &mut pcm, sink)? {
            self.keep(key, pcm.into());
        }
        Ok(())
    }

    /// Synthesizes `text` sentence by sentence into `pcm` (resampled, scaled), handing each new
    /// stretch to `sink`. True when the prompt ran to its end, false when `sink` stopped it.
    fn stream_miss(&self, text: &str, rate: SampleRate, gain: f32, pcm: &mut Vec<f32>, sink: &mut dyn FnMut(&[f32]) -> bool) -> Result<bool, TtsError> {
        let mut resampler = StreamResampler::new(self.synth.sample_rate(), rate)?;
        let mut stopped = false;
        let mut failed = None;
        self.synth.synthesize_stream(text, &mut |chunk| {
            let start = pcm.len();
            if let Err(e) = resampler.push(chunk, pcm) {
                failed = Some(e);
                return false;
            }
            scale(&mut pcm[start..], gain);
            if pcm.len() > start && !sink(&pcm[start..]) {
                stopped = true;
            }
            !stopped
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        if stopped {
            return Ok(false);
        }
        let start = pcm.len();
        resampler.finish(pcm)?;
        scale(&mut pcm[start..], gain);
        if pcm.len() > start {
            // The prompt is complete whatever the sink says about its last stretch.
            sink(&pcm[start..]);
        }
        Ok(true)
    }

    /// Gain for streamed audio, when the engine's level is known ahead.
    fn stream_gain(&self) -> Option<f32> {
        self.synth.typical_peak().filter(|p| p.is_finite() && *p > 0.0).map(|p| self.peak / p)
    }

    fn key(&self, text: &str, rate: SampleRate) -> Key {
        Key { text: text.to_owned(), voice: self.synth.name().to_owned(), hz: rate.hz() }
    }

    /// Caches `pcm` under `key` unless another call got there first; returns the cached one.
    fn keep(&self, key: Key, pcm: Arc<[f32]>) -> Arc<[f32]> {
        let mut cache = self.lock();
        if let Some(raced) = cache.get(&key) {
            return raced;
        }
        if pcm.len() <= self.max_samples {
            cache.insert(key, Arc::clone(&pcm), self.max_entries, self.max_samples);
        }
        pcm
    }

    /// Number of prompts cached.
    pub fn cached(&self) -> usize {
        self.lock().entries.len()
    }

    fn lock(&self) -> MutexGuard<'_, Cache> {
        // The cache is consistent between statements (no call that could panic leaves it half
        // updated), so a poisoned lock is still usable.
        self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Cache {
    fn get(&mut self, key: &Key) -> Option<Arc<[f32]>> {
        self.tick += 1;
        let e = self.entries.get_mut(key)?;
        e.used = self.tick;
        Some(Arc::clone(&e.pcm))
    }

    fn insert(&mut self, key: Key, pcm: Arc<[f32]>, max_entries: usize, max_samples: usize) {
        // Least recently used first, by a linear scan: eviction is rare and the cache is small.
        while !self.entries.is_empty() && (self.entries.len() >= max_entries || self.samples + pcm.len() > max_samples) {
            let Some(oldest) = self.entries.iter().min_by_key(|(_, e)| e.used).map(|(k, _)| k.clone()) else { break };
            if let Some(e) = self.entries.remove(&oldest) {
                self.samples -= e.pcm.len();
            }
        }
        self.tick += 1;
        self.samples += pcm.len();
        self.entries.insert(key, Entry { pcm, used: self.tick });
    }
}

/// Converts a whole utterance with the `dsp` resampler, in 20 ms frames like the worker's WAV
/// prompts, with the filter delay removed so the prompt starts on its first sample.
fn resample(input: &[f32], from: SampleRate, to: SampleRate) -> Result<Vec<f32>, TtsError> {
    if from == to || input.is_empty() {
        return Ok(input.to_vec());
    }
    let mut r = Resampler::new(from, to)?;
    let (n_in, n_out) = (from.frame_samples(), to.frame_samples());
    let delay = r.delay();
    let expected = (input.len() as u64 * u64::from(to.hz()) / u64::from(from.hz())) as usize;
    // Silent frames after the audio push the filter's delay out.
    let flush = std::iter::repeat_n(&[][..], delay.div_ceil(n_out) + 1);
    let mut out = Vec::with_capacity(expected + delay + 2 * n_out);
    let mut frame_in = vec![0.0f32; n_in];
    let mut frame_out = vec![0.0f32; n_out];
    for chunk in input.chunks(n_in).chain(flush) {
        frame_in.fill(0.0);
        frame_in[..chunk.len()].copy_from_slice(chunk);
        r.process(&frame_in, &mut frame_out)?;
        out.extend_from_slice(&frame_out);
    }
    out.drain(..delay.min(out.len()));
    out.truncate(expected);
    Ok(out)
}

/// Multiplies by `gain`, limited to [-1, 1]: a sentence louder than the engine's typical peak
/// clips rather than wrapping in a codec.
fn scale(pcm: &mut [f32], gain: f32) {
    pcm.iter_mut().for_each(|s| *s = (*s * gain).clamp(-1.0, 1.0));
}

/// Scales `pcm` so its largest magnitude is `peak`. Silence (below -80 dBFS) is left alone
/// rather than amplified into noise.
fn normalize_peak(pcm: &mut [f32], peak: f32) {
    let max = pcm.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    if max > 1e-4 {
        let gain = peak / max;
        pcm.iter_mut().for_each(|s| *s *= gain);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A synthesizer that "speaks" a 440 Hz tone, 0.1 s per character, at 24 kHz.
    #[derive(Debug)]
    struct Tone;

    impl Synthesizer for Tone {
        fn name(&self) -> &str {
            "tone"
        }
        fn sample_rate(&self) -> SampleRate {
            SampleRate::HZ_24000
        }
        fn synthesize(&self, text: &str, out: &mut Vec<f32>) -> Result<(), TtsError> {
            let n = text.trim().chars().count() * 2_400;
            out.extend((0..n).map(|i| (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 24_000.0).sin() * 0.2));
            Ok(())
        }
    }

    #[test]
    fn render_resamples_and_normalizes_to_the_peak() {
        let r = PromptRenderer::new(Arc::new(Tone));
        let pcm = r.render("abcde", SampleRate::HZ_8000).unwrap();
        assert_eq!(pcm.len(), 4_000);
        let peak = pcm.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!((20.0 * peak.log10() - -3.0).abs() < 0.01, "peak {peak}");
    }

    #[test]
    fn cache_evicts_least_recently_used_past_max_entries() {
        let config = RendererConfig { max_entries: 2, ..RendererConfig::default() };
        let r = PromptRenderer::with_config(Arc::new(Tone), config).unwrap();
        let a = r.render("a", SampleRate::HZ_16000).unwrap();
        r.render("b", SampleRate::HZ_16000).unwrap();
        // Touch "a" so that "b" is the least recently used.
        assert!(Arc::ptr_eq(&a, &r.render("a", SampleRate::HZ_16000).unwrap()));
        r.render("c", SampleRate::HZ_16000).unwrap();
        assert_eq!(r.cached(), 2);
        assert!(Arc::ptr_eq(&a, &r.render("a", SampleRate::HZ_16000).unwrap()));
    }

    #[test]
    fn cache_respects_the_sample_budget() {
        let config = RendererConfig { max_samples: 20_000, ..RendererConfig::default() };
        let r = PromptRenderer::with_config(Arc::new(Tone), config).unwrap();
        r.render("abcde", SampleRate::HZ_16000).unwrap(); // 8 000 samples
        r.render("fghij", SampleRate::HZ_16000).unwrap(); // 8 000
        r.render("klmno", SampleRate::HZ_16000).unwrap(); // evicts the first
        assert_eq!(r.cached(), 2);
        // Too large on its own: returned, not kept.
        assert_eq!(r.render(&"x".repeat(20), SampleRate::HZ_16000).unwrap().len(), 32_000);
        assert_eq!(r.cached(), 2);
    }

    #[test]
    fn bad_config_is_rejected_by_field() {
        let bad = RendererConfig { peak_dbfs: 3.0, ..RendererConfig::default() };
        assert!(matches!(PromptRenderer::with_config(Arc::new(Tone), bad), Err(TtsError::InvalidConfig { field: "peak_dbfs", .. })));
    }

    /// Streams one 0.1 s-per-character tone chunk per '.'-ended sentence, at a known level.
    #[derive(Debug)]
    struct Sentences;

    impl Synthesizer for Sentences {
        fn name(&self) -> &str {
            "sentences"
        }
        fn sample_rate(&self) -> SampleRate {
            SampleRate::HZ_24000
        }
        fn synthesize(&self, text: &str, out: &mut Vec<f32>) -> Result<(), TtsError> {
            self.synthesize_stream(text, &mut |c| {
                out.extend_from_slice(c);
                true
            })
        }
        fn typical_peak(&self) -> Option<f32> {
            Some(0.2)
        }
        fn synthesize_stream(&self, text: &str, sink: &mut dyn FnMut(&[f32]) -> bool) -> Result<(), TtsError> {
            let mut i = 0usize;
            for sentence in text.split_inclusive('.').filter(|s| !s.trim().is_empty()) {
                let n = sentence.trim().chars().count() * 2_400;
                let chunk: Vec<f32> = (i..i + n).map(|j| (2.0 * std::f32::consts::PI * 440.0 * j as f32 / 24_000.0).sin() * 0.2).collect();
                i += n;
                if !sink(&chunk) {
                    break;
                }
            }
            Ok(())
        }
    }

    #[test]
    fn streamed_prompt_arrives_per_sentence_and_equals_the_cached_render() {
        let r = PromptRenderer::new(Arc::new(Sentences));
        let mut chunks: Vec<Vec<f32>> = Vec::new();
        r.render_stream("ab. cde. f.", SampleRate::HZ_8000, &mut |c| {
            chunks.push(c.to_vec());
            true
        })
        .unwrap();
        // Three sentences, then the resampler's flushed tail.
        assert!(chunks.len() >= 3, "{} chunks", chunks.len());
        let streamed: Vec<f32> = chunks.concat();
        assert_eq!(streamed.len(), 9 * 800); // 9 characters without the spaces
        // Fixed gain: peak 0.2 * (0.708 / 0.2) = -3 dBFS.
        let peak = streamed.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!((20.0 * peak.log10() - -3.0).abs() < 0.1, "peak {peak}");
        // Continuous across chunk joins: no sample-to-sample jump beyond the tone's own slope.
        let max_step = streamed.windows(2).fold(0.0f32, |m, w| m.max((w[1] - w[0]).abs()));
        assert!(max_step < 2.0 * std::f32::consts::PI * 440.0 / 8_000.0 * 0.75, "step {max_step}");
        // Cached whole: a hit is one chunk with the same samples, and render() agrees.
        assert_eq!(r.cached(), 1);
        let mut hit = Vec::new();
        r.render_stream("ab. cde. f.", SampleRate::HZ_8000, &mut |c| {
            hit.push(c.to_vec());
            true
        })
        .unwrap();
        assert_eq!(hit, std::slice::from_ref(&streamed));
        assert_eq!(&*r.render("ab. cde. f.", SampleRate::HZ_8000).unwrap(), &streamed[..]);
        // A fresh renderer's render() gives the same audio as the stream did.
        let fresh = PromptRenderer::new(Arc::new(Sentences));
        assert_eq!(&*fresh.render("ab. cde. f.", SampleRate::HZ_8000).unwrap(), &streamed[..]);
    }

    #[test]
    fn a_stopped_stream_is_not_cached() {
        let r = PromptRenderer::new(Arc::new(Sentences));
        let mut calls = 0;
        r.render_stream("ab. cde. f.", SampleRate::HZ_16000, &mut |_| {
            calls += 1;
            false
        })
        .unwrap();
        assert_eq!(calls, 1);
        assert_eq!(r.cached(), 0);
    }

    #[test]
    fn engines_without_a_typical_peak_stream_as_one_normalized_chunk() {
        let r = PromptRenderer::new(Arc::new(Tone));
        let mut chunks = Vec::new();
        r.render_stream("abc", SampleRate::HZ_8000, &mut |c| {
            chunks.push(c.len());
            true
        })
        .unwrap();
        assert_eq!(chunks, [2_400]);
        assert_eq!(r.cached(), 1);
    }

    #[test]
    fn silence_is_not_amplified() {
        let mut x = vec![0.0, 1e-6, -1e-6];
        normalize_peak(&mut x, 0.7);
        assert_eq!(x, [0.0, 1e-6, -1e-6]);
    }
}
