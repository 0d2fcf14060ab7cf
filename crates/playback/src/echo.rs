//! [`EchoCanceller`]: the call's own prompt, removed from the caller's audio.
//!
//! On phone calls the echo that matters is linear: a speakerphone or a handset's acoustic path,
//! or an SBC or gateway looping the worker's audio back, attenuated (10 dB and more) and delayed
//! by the round trip (tens to hundreds of ms). We know exactly what was sent, so:
//! 1. find the delay: every 250 ms while a prompt plays (every 2 s once found), the caller's
//!    audio is correlated
//!    with the reference over the whole delay range, on signals decimated to 2 kHz (cheap: about
//!    0.6 M multiply-adds per estimate at 300 ms range);
//! 2. cancel: a short NLMS filter (8 ms of taps) placed at that delay, seeded with the gain the
//!    correlation found so the echo is cancelled from the first estimate, refined sample by
//!    sample while the caller is silent (adapting during double talk would make it diverge);
//! 3. judge: the caller is talking over the prompt ("near end") when the residual carries more
//!    energy than a small fraction of the echo estimate, or than the noise floor. Before the
//!    delay is known, audio quieter than half the reference is taken as echo, until the line
//!    has shown it has no echo worth the name (half a second of prompt with the caller's side
//!    20 dB below it): most lines are like that, and their callers must not need to shout;
//! 4. suppress: a frame judged to be echo alone is silenced (an AEC's "non-linear processor").
//!    The residual of a good cancellation is 20-30 dB down, but a VAD judges speech by its shape,
//!    not its level: left in, it keeps turns open through the prompt and the caller's answer
//!    after it lands in a turn that began as echo.
//!
//! Everything is sized at construction; `process` allocates nothing, except on the rare frame
//! where a diverged filter is reset.

/// Echo canceller settings.
#[derive(Clone, Debug, PartialEq)]
pub struct EchoConfig {
    /// Longest echo delay searched. Default 300 ms.
    pub max_delay_ms: u32,
    /// Residual energy above this fraction of the echo estimate's is the caller talking.
    /// Default 0.15 (about -8 dB): a converged canceller leaves echo 20 dB and more below.
    pub near_end_ratio: f32,
    /// Residual RMS below this is silence whatever the echo (default 0.003, about -50 dBFS).
    pub floor_rms: f32,
}

impl Default for EchoConfig {
    fn default() -> Self {
        Self { max_delay_ms: 300, near_end_ratio: 0.15, floor_rms: 0.003 }
    }
}

/// What one frame looked like.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EchoFrame {
    /// A prompt was sent within the delay range: echo may be in this frame.
    pub reference_active: bool,
    /// The caller is making sound of their own (not just the echo).
    pub near_end: bool,
    /// The echo delay in use, in samples at the call's rate.
    pub delay: Option<usize>,
}

/// Decimated rate the delay search runs at.
const SEARCH_HZ: u32 = 2_000;
/// Window correlated per estimate, in decimated samples (0.5 s).
const SEARCH_WINDOW: usize = 1_000;
/// Time between estimates: 250 ms until a delay is found, then 2 s (a path rarely changes
/// mid-call; when it does, the residual gives it away within that time).
const SEARCH_EVERY_MS: u32 = 250;
const RECHECK_EVERY_MS: u32 = 2_000;
/// Correlation (normalized) a delay needs to be trusted: an echo alone gives 0.9 and more;
/// two different voices can reach 0.5 at some lag over half a second.
const MIN_CORRELATION: f32 = 0.7;
/// NLMS step size and filter length.
const MU: f32 = 0.3;
const TAPS_MS: u32 = 8;
/// Geigel double-talk threshold: echo is assumed at least 4.4 dB below what was sent.
const GEIGEL: f32 = 0.6;
/// A frame cancelled to this fraction of its energy (13 dB) marks the weights as good.
const GOOD_RESIDUAL: f32 = 0.05;
/// Frames of history kept for `near_end_recent`.
const FLAG_FRAMES: usize = 32;

/// One call's echo canceller, at the call's codec rate.
#[derive(Debug)]
pub struct EchoCanceller {
    config: EchoConfig,
    hz: u32,
    decim: usize,
    taps: usize,
    max_delay: usize,
    /// Full-rate reference, oldest first; the last sample is the newest sent.
    reference: Vec<f32>,
    /// Decimated reference and caller audio for the delay search.
    ref_dec: Vec<f32>,
    mic_dec: Vec<f32>,
    /// Partial sums of the current decimation block.
    acc_ref: f32,
    acc_mic: f32,
    acc_n: usize,
    /// Reference samples since the last non-silent one (for `reference_active`).
    since_reference: usize,
    since_estimate: usize,
    /// Reference samples sent while the caller's side stayed 20 dB below them.
    quiet_under_reference: usize,
    delay: Option<usize>,
    weights: Vec<f32>,
    /// The last weights that cancelled well (or the seed from the delay search).
    good_weights: Vec<f32>,
    flags: [bool; FLAG_FRAMES],
    flag_next: usize,
}

impl EchoCanceller {
    pub fn new(rate: types::SampleRate, config: EchoConfig) -> Self {
        let hz = rate.hz();
        let decim = (hz / SEARCH_HZ).max(1) as usize;
        let taps = (hz * TAPS_MS / 1000) as usize;
        let max_delay = (u64::from(hz) * u64::from(config.max_delay_ms) / 1000) as usize;
        let lag_dec = max_delay / decim + 1;
        Self {
            config,
            hz,
            decim,
            taps,
            max_delay,
            reference: vec![0.0; max_delay + taps + hz as usize / 25],
            ref_dec: vec![0.0; SEARCH_WINDOW + lag_dec],
            mic_dec: vec![0.0; SEARCH_WINDOW],
            acc_ref: 0.0,
            acc_mic: 0.0,
            acc_n: 0,
            since_reference: usize::MAX / 2,
            since_estimate: 0,
            quiet_under_reference: 0,
            delay: None,
            weights: vec![0.0; taps],
            good_weights: vec![0.0; taps],
            flags: [false; FLAG_FRAMES],
            flag_next: 0,
        }
    }

    /// The delay in use, in samples.
    pub fn delay(&self) -> Option<usize> {
        self.delay
    }

    /// Whether the sound of the last 200 ms (ten 20 ms frames) was the prompt's echo rather than
    /// the caller: the caller was heard in fewer than 3 of them. Asked when a turn starts; a turn
    /// that began as echo must not barge in.
    pub fn heard_only_echo(&self) -> bool {
        self.near_end_recent(10) < 3
    }

    /// How many of the last `frames` frames (at most 32) had the caller talking.
    pub fn near_end_recent(&self, frames: usize) -> usize {
        let n = frames.min(FLAG_FRAMES);
        (1..=n).filter(|k| self.flags[(self.flag_next + FLAG_FRAMES - k) % FLAG_FRAMES]).count()
    }

    /// Takes one frame: `sent`, the audio sent to the caller this frame (the reference), and
    /// `mic`, the caller's audio received this frame; writes the caller's audio with the echo
    /// removed to `out`. All three the same length (one frame at the call's rate).
    pub fn process(&mut self, sent: &[f32], mic: &[f32], out: &mut [f32]) -> EchoFrame {
        let n = mic.len().min(sent.len()).min(out.len());
        let frame_ref_energy: f32 = sent[..n].iter().map(|s| s * s).sum();
        // The newest samples go to the end of the reference history.
        shift_in(&mut self.reference, &sent[..n]);
        self.since_reference = if frame_ref_energy > 1e-8 { 0 } else { self.since_reference.saturating_add(n) };
        let active = self.since_reference <= self.max_delay + self.taps;
        self.decimate(&sent[..n], &mic[..n]);

        if !active {
            out[..n].copy_from_slice(&mic[..n]);
            let near = rms(&mic[..n]) > self.config.floor_rms;
            self.push_flag(near);
            return EchoFrame { reference_active: false, near_end: near, delay: self.delay };
        }

        self.since_estimate += n;
        let every = if self.delay.is_some() { RECHECK_EVERY_MS } else { SEARCH_EVERY_MS };
        if self.since_estimate as u64 * 1000 >= u64::from(self.hz) * u64::from(every) {
            self.since_estimate = 0;
            self.estimate_delay();
        }

        let (level, sent_level) = (rms(&mic[..n]), rms(&sent[..n]));
        if self.delay.is_none() && sent_level > 0.01 && level < 0.1 * sent_level {
            self.quiet_under_reference += n;
        }
        let near = match self.delay {
            Some(d) => self.cancel(d, &mic[..n], &mut out[..n]),
            None => {
                out[..n].copy_from_slice(&mic[..n]);
                if self.quiet_under_reference >= self.hz as usize / 2 {
                    // No echo on this line: nothing to cancel or suppress.
                    let near = level > self.config.floor_rms;
                    self.push_flag(near);
                    return EchoFrame { reference_active: true, near_end: near, delay: None };
                }
                // Unknown delay: compare with the loudest reference that could be echoing.
                level > self.config.floor_rms && level > 0.5 * self.loudest_reference_rms(n)
            }
        };
        if !near {
            out[..n].fill(0.0);
        }
        self.push_flag(near);
        EchoFrame { reference_active: true, near_end: near, delay: self.delay }
    }

    fn push_flag(&mut self, near: bool) {
        self.flags[self.flag_next] = near;
        self.flag_next = (self.flag_next + 1) % FLAG_FRAMES;
    }

    /// NLMS over the reference around delay `d`; returns whether the caller is talking.
    fn cancel(&mut self, d: usize, mic: &[f32], out: &mut [f32]) -> bool {
        let n = mic.len();
        let len = self.reference.len();
        // The filter spans the reference from `d + taps - lead - 1` to `d - lead` samples back.
        let lead = self.taps / 4;
        let (mut res_e, mut echo_e) = (0.0f32, 0.0f32);
        for i in 0..n {
            // Index in `reference` of the sample sent at the same time as mic[i].
            let now_idx = len - n + i;
            let Some(newest) = (now_idx + lead).checked_sub(d) else {
                out[i] = mic[i];
                continue;
            };
            let Some(oldest) = (newest + 1).checked_sub(self.taps) else {
                out[i] = mic[i];
                continue;
            };
            if newest >= len {
                out[i] = mic[i];
                continue;
            }
            let x = &self.reference[oldest..=newest];
            let y = dot(x, &self.weights);
            let e = mic[i] - y;
            out[i] = e;
            res_e += e * e;
            echo_e += y * y;
        }
        let mic_e = dot(mic, mic);
        // Geigel: the caller is talking if the line is louder than the echo could be (a peak above
        // GEIGEL times the loudest reference in the filter's span). Cheap, and independent of the
        // filter, so a diverged filter cannot talk itself into adapting on the caller's speech.
        let double_talk = peak(mic) > GEIGEL * self.reference_peak(d, n);
        // A filter that adds energy has diverged (adapted on speech it took for echo): back to the
        // last state that cancelled well.
        if res_e > mic_e && !double_talk && mic_e > 0.0 {
            self.weights.copy_from_slice(&self.good_weights);
            out.copy_from_slice(mic);
            for (o, y) in out.iter_mut().zip(self.estimate(d, n)) {
                *o -= y;
            }
            res_e = dot(out, out);
        }
        let near = double_talk
            || res_e > self.config.near_end_ratio * echo_e && (res_e / n as f32).sqrt() > self.config.floor_rms;
        if !near {
            if res_e < GOOD_RESIDUAL * mic_e {
                self.good_weights.copy_from_slice(&self.weights);
            }
            self.adapt(d, mic);
        }
        near
    }

    /// The filter's echo estimate for the last `n` samples (after a weights reset).
    fn estimate(&self, d: usize, n: usize) -> Vec<f32> {
        let len = self.reference.len();
        let lead = self.taps / 4;
        (0..n)
            .map(|i| {
                let now_idx = len - n + i;
                match (now_idx + lead).checked_sub(d).and_then(|newest| Some((newest + 1).checked_sub(self.taps)?..=newest)) {
                    Some(r) if *r.end() < len => dot(&self.reference[r], &self.weights),
                    _ => 0.0,
                }
            })
            .collect()
    }

    /// Loudest reference sample that can be echoing in the last `n` samples.
    fn reference_peak(&self, d: usize, n: usize) -> f32 {
        let len = self.reference.len();
        let lead = self.taps / 4;
        let newest = (len + lead).saturating_sub(d).min(len);
        let oldest = (len - n.min(len) + lead + 1).saturating_sub(d + self.taps);
        self.reference.get(oldest..newest).map_or(0.0, peak)
    }

    /// One NLMS pass over the frame (after judging it: the whole frame adapts or none of it).
    fn adapt(&mut self, d: usize, mic: &[f32]) {
        let n = mic.len();
        let len = self.reference.len();
        let lead = self.taps / 4;
        for (i, &m) in mic.iter().enumerate() {
            let now_idx = len - n + i;
            let Some(newest) = (now_idx + lead).checked_sub(d) else { continue };
            let Some(oldest) = (newest + 1).checked_sub(self.taps) else { continue };
            if newest >= len {
                continue;
            }
            let x = &self.reference[oldest..=newest];
            let power = dot(x, x) + 1e-6;
            let y = dot(x, &self.weights);
            let step = MU * (m - y) / power;
            for (w, a) in self.weights.iter_mut().zip(x) {
                *w += step * a;
            }
        }
    }

    fn loudest_reference_rms(&self, n: usize) -> f32 {
        let len = self.reference.len();
        let span = &self.reference[len.saturating_sub(self.max_delay + n)..];
        span.chunks(n.max(1)).map(rms).fold(0.0, f32::max)
    }

    /// Box-averages both signals down to the search rate; the histories shift once per frame.
    fn decimate(&mut self, sent: &[f32], mic: &[f32]) {
        let mut new_ref = [0.0f32; 64];
        let mut new_mic = [0.0f32; 64];
        let mut k = 0;
        for (&r, &m) in sent.iter().zip(mic) {
            self.acc_ref += r;
            self.acc_mic += m;
            self.acc_n += 1;
            if self.acc_n == self.decim {
                let scale = 1.0 / self.decim as f32;
                if k == new_ref.len() {
                    // Frames longer than 32 ms: make room by shifting what we have.
                    shift_in(&mut self.ref_dec, &new_ref);
                    shift_in(&mut self.mic_dec, &new_mic);
                    k = 0;
                }
                new_ref[k] = self.acc_ref * scale;
                new_mic[k] = self.acc_mic * scale;
                k += 1;
                self.acc_ref = 0.0;
                self.acc_mic = 0.0;
                self.acc_n = 0;
            }
        }
        shift_in(&mut self.ref_dec, &new_ref[..k]);
        shift_in(&mut self.mic_dec, &new_mic[..k]);
    }

    /// Correlates the caller's last 0.5 s with the reference at every lag in range; a clear peak
    /// sets the delay and seeds the filter with the echo's gain.
    fn estimate_delay(&mut self) {
        let w = SEARCH_WINDOW;
        let lags = self.ref_dec.len() - w;
        let mic = &self.mic_dec;
        let mic_e: f32 = mic.iter().map(|s| s * s).sum();
        if mic_e < 1e-6 {
            return;
        }
        let mut best = (0.0f32, 0usize, 0.0f32);
        for lag in 0..lags {
            // The reference `lag` decimated samples before the caller's window.
            let start = lags - lag;
            let r = &self.ref_dec[start..start + w];
            let (dot, ref_e) = r.iter().zip(mic).fold((0.0f32, 0.0f32), |(d, e), (a, b)| (d + a * b, e + a * a));
            if ref_e < 1e-6 {
                continue;
            }
            let c = dot / (mic_e * ref_e).sqrt();
            if c > best.0 {
                best = (c, lag, dot / ref_e);
            }
        }
        let (c, lag, gain) = best;
        if c < MIN_CORRELATION {
            return;
        }
        // The decimated lag is the delay to within one block; the taps' lead covers the rest.
        let d = lag * self.decim;
        let moved = self.delay.is_none_or(|old| old.abs_diff(d) > self.decim);
        if moved {
            self.delay = Some(d);
            self.weights.fill(0.0);
            // Weights run oldest to newest like the reference slice; the newest `lead` taps
            // are after the delay.
            let lead = self.taps / 4;
            let at = self.taps - 1 - lead;
            self.weights[at] = gain;
            self.good_weights.copy_from_slice(&self.weights);
        }
    }
}

/// Appends `new` to `buf`, dropping as many of its oldest samples.
fn shift_in(buf: &mut [f32], new: &[f32]) {
    let k = new.len().min(buf.len());
    buf.copy_within(k.., 0);
    let len = buf.len();
    buf[len - k..].copy_from_slice(&new[new.len() - k..]);
}

/// Dot product in 8 independent lanes, so the compiler can vectorize it.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f32>() + tail
}

fn peak(x: &[f32]) -> f32 {
    x.iter().fold(0.0, |m, s| m.max(s.abs()))
}

fn rms(x: &[f32]) -> f32 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|s| s * s).sum::<f32>() / x.len() as f32).sqrt()
}

#[cfg(test)]
#[path = "echo_tests.rs"]
mod tests;
