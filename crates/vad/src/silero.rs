//! Silero VAD (v5/v6 ONNX graph) through `ort`.
//!
//! Graph contract (checked on silero-vad 6.2.3): input `input` f32 `[N, 576]` = 64 samples of
//! context (the previous chunk's tail) followed by 512 new samples at 16 kHz; `state` f32
//! `[2, N, 128]`; `sr` i64 scalar. Outputs `output` `[N, 1]` (speech probability) and `stateN`
//! `[2, N, 128]`. Rows are independent, so N streams of different calls batch into one run.

use std::path::Path;
use std::sync::OnceLock;

use ort::session::Session;
use ort::value::TensorRef;

use crate::VadError;

/// New samples per inference: 32 ms at 16 kHz.
pub const CHUNK: usize = 512;
/// Samples of the previous chunk prepended to each input row.
pub const CONTEXT: usize = 64;
const ROW: usize = CONTEXT + CHUNK;
/// Width of one recurrent state row.
const STATE: usize = 128;
/// Largest frame a stream accepts in one push (60 ms at 16 kHz); 20 ms is the norm.
const MAX_PUSH: usize = 960;

/// One call's Silero state: recurrent state, context, samples waiting for a full chunk.
///
/// About 5 KB; allocation-free after construction.
#[derive(Clone, Debug)]
pub struct SileroStream {
    state: [f32; 2 * STATE],
    context: [f32; CONTEXT],
    pending: [f32; CHUNK + MAX_PUSH],
    filled: usize,
    probability: f32,
}

impl Default for SileroStream {
    fn default() -> Self {
        Self { state: [0.0; 2 * STATE], context: [0.0; CONTEXT], pending: [0.0; CHUNK + MAX_PUSH], filled: 0, probability: 0.0 }
    }
}

impl SileroStream {
    /// Appends 16 kHz samples. Samples beyond [`MAX_PUSH`] in one call are dropped (a caller
    /// bug, not a network condition: frames are 20 ms).
    pub fn push(&mut self, samples: &[f32]) {
        let room = self.pending.len() - self.filled;
        let n = samples.len().min(room).min(MAX_PUSH);
        self.pending[self.filled..self.filled + n].copy_from_slice(&samples[..n]);
        self.filled += n;
    }

    /// True when a full 512-sample chunk waits for inference.
    pub fn chunk_ready(&self) -> bool {
        self.filled >= CHUNK
    }

    /// Speech probability of the most recent chunk.
    pub fn probability(&self) -> f32 {
        self.probability
    }

    /// Forgets all history (a new call, or a stream discontinuity).
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    fn write_row(&self, row: &mut [f32]) {
        row[..CONTEXT].copy_from_slice(&self.context);
        row[CONTEXT..].copy_from_slice(&self.pending[..CHUNK]);
    }

    fn finish_chunk(&mut self, probability: f32, state_l0: &[f32], state_l1: &[f32]) {
        self.probability = probability;
        self.state[..STATE].copy_from_slice(state_l0);
        self.state[STATE..].copy_from_slice(state_l1);
        self.context.copy_from_slice(&self.pending[CHUNK - CONTEXT..CHUNK]);
        self.pending.copy_within(CHUNK..self.filled, 0);
        self.filled -= CHUNK;
    }
}

/// The shared Silero network. Scratch tensors grow to the largest batch seen and are reused.
pub struct SileroModel {
    session: Session,
    input: Vec<f32>,
    state: Vec<f32>,
    /// Indices (into the caller's slice) of the streams in the current batch.
    batch: Vec<usize>,
}

impl std::fmt::Debug for SileroModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SileroModel").field("capacity", &self.batch.capacity()).finish()
    }
}

/// The process-wide ONNX Runtime environment. `ort` loads its library once per process, so
/// the first path given wins; later calls with another path get that first environment.
pub fn ort_environment(library: &Path) -> Result<ort::environment::Environment, VadError> {
    static ENV: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();
    let runtime_error = |reason: String| VadError::Runtime { path: library.display().to_string(), reason };
    ENV.get_or_init(|| {
        if !library.is_file() {
            return Err("file not found".to_owned());
        }
        ort::init_from(library).map_err(|e| e.to_string())?.build().map_err(|e| e.to_string())
    })
    .clone()
    .map_err(runtime_error)
}

impl SileroModel {
    /// Loads the network from `model` with ONNX Runtime loaded from `runtime`. Inference runs on
    /// the calling thread (one intra-op thread): parallelism comes from batching and from the
    /// worker's compute pool, not from ONNX Runtime's own pool.
    pub fn load(runtime: &Path, model: &Path) -> Result<Self, VadError> {
        let env = ort_environment(runtime)?;
        let model_error = |reason: String| VadError::Model { path: model.display().to_string(), reason };
        if !model.is_file() {
            return Err(model_error("file not found".to_owned()));
        }
        let session = Session::builder(&env)
            .map_err(|e| model_error(e.to_string()))?
            .with_intra_threads(1)
            .map_err(|e| model_error(e.to_string()))?
            .with_inter_threads(1)
            .map_err(|e| model_error(e.to_string()))?
            .commit_from_file(model)
            .map_err(|e| model_error(e.to_string()))?;
        Ok(Self { session, input: Vec::new(), state: Vec::new(), batch: Vec::new() })
    }

    /// Runs one chunk for every stream that has one ready, all in one batch, and returns how
    /// many ran. Streams without a full chunk are left alone.
    pub fn infer(&mut self, streams: &mut [&mut SileroStream]) -> Result<usize, VadError> {
        self.batch.clear();
        self.batch.extend(streams.iter().enumerate().filter(|(_, s)| s.chunk_ready()).map(|(i, _)| i));
        let n = self.batch.len();
        if n == 0 {
            return Ok(0);
        }
        self.input.resize(n * ROW, 0.0);
        self.state.resize(2 * n * STATE, 0.0);
        for (row, &i) in self.batch.iter().enumerate() {
            let s = &streams[i];
            s.write_row(&mut self.input[row * ROW..(row + 1) * ROW]);
            // State layout [2, N, 128]: layer-major.
            self.state[row * STATE..(row + 1) * STATE].copy_from_slice(&s.state[..STATE]);
            self.state[(n + row) * STATE..(n + row + 1) * STATE].copy_from_slice(&s.state[STATE..]);
        }
        let sr = [16_000i64];
        let inference = |e: ort::Error| VadError::Inference(e.to_string());
        let input = TensorRef::from_array_view(([n, ROW], &self.input[..])).map_err(inference)?;
        let state = TensorRef::from_array_view(([2, n, STATE], &self.state[..])).map_err(inference)?;
        let sr = TensorRef::from_array_view((Vec::<usize>::new(), &sr[..])).map_err(inference)?;
        let outputs = self
            .session
            .run(ort::inputs!["input" => input, "state" => state, "sr" => sr])
            .map_err(inference)?;
        let (_, probs) = outputs["output"].try_extract_tensor::<f32>().map_err(inference)?;
        let (_, new_state) = outputs["stateN"].try_extract_tensor::<f32>().map_err(inference)?;
        if probs.len() != n {
            return Err(VadError::OutputShape { name: "output", expected: n, actual: probs.len() });
        }
        if new_state.len() != 2 * n * STATE {
            return Err(VadError::OutputShape { name: "stateN", expected: 2 * n * STATE, actual: new_state.len() });
        }
        for (row, &i) in self.batch.iter().enumerate() {
            let l0 = &new_state[row * STATE..(row + 1) * STATE];
            let l1 = &new_state[(n + row) * STATE..(n + row + 1) * STATE];
            streams[i].finish_chunk(probs[row], l0, l1);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_accumulates_frames_into_chunks() {
        let mut s = SileroStream::default();
        s.push(&[0.1; 320]);
        assert!(!s.chunk_ready());
        s.push(&[0.2; 320]);
        assert!(s.chunk_ready());
        s.finish_chunk(0.7, &[1.0; STATE], &[2.0; STATE]);
        assert_eq!(s.filled, 128);
        assert_eq!(s.probability(), 0.7);
        // Context is the tail of the consumed chunk: samples 448..512 were the second frame.
        assert_eq!(s.context, [0.2; CONTEXT]);
        assert_eq!(s.pending[0], 0.2);
    }

    #[test]
    fn oversized_push_is_truncated_not_a_panic() {
        let mut s = SileroStream::default();
        for _ in 0..10 {
            s.push(&[0.0; 5000]);
        }
        assert_eq!(s.filled, s.pending.len());
    }
}
