//! The BERT encoder of all-MiniLM-L6-v2, one sentence at a time, on candle tensors.
//!
//! Why not `candle_transformers::models::bert::BertModel`: for one short sentence (about ten
//! tokens) the encoder is bound by reading its 42 MB of f32 weights, and candle's `Linear`
//! (`x · Wᵀ` with W stored `[out, in]`) makes the gemm kernel repack every weight matrix on
//! every call. Here the weights are stored once as `[in, out]` in f16 (half the bytes to
//! stream, used in place by gemm), query/key/value are one product, and activations, layer
//! norms, softmax and pooling stay f32. Same arithmetic otherwise; `tests/intents.rs` checks the
//! output against `BertModel` (cosine > 0.999).

use std::collections::HashMap;

use candle_core::{DType, Device, Module, Tensor};
use serde::Deserialize;

/// The fields of a Hugging Face BERT `config.json` that the forward pass uses.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BertConfig {
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub max_position_embeddings: usize,
    pub layer_norm_eps: f64,
    pub hidden_act: String,
}

/// Storage type of the encoder's weight matrices (see the module docs).
const WEIGHT_DTYPE: DType = DType::F16;

#[derive(Debug)]
struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
}

impl LayerNorm {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        candle_nn::ops::layer_norm(x, &self.weight, &self.bias, self.eps)
    }
}

/// `x · W + b` with W stored `[in, out]` in [`WEIGHT_DTYPE`]; x and the result are f32.
#[derive(Debug)]
struct Dense {
    weight: Tensor,
    bias: Tensor,
}

impl Module for Dense {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let x = x.to_dtype(self.weight.dtype())?;
        x.matmul(&self.weight)?
            .to_dtype(DType::F32)?
            .broadcast_add(&self.bias)
    }
}

#[derive(Debug)]
struct Layer {
    qkv: Dense,
    attn_out: Dense,
    attn_norm: LayerNorm,
    ff_in: Dense,
    ff_out: Dense,
    ff_norm: LayerNorm,
}

#[derive(Debug)]
pub(crate) struct Bert {
    word: Tensor,
    position: Tensor,
    token_type0: Tensor,
    embed_norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    head_dim: usize,
    max_tokens: usize,
}

/// Takes tensors out of the safetensors map by name, with the name in the error.
struct Weights(HashMap<String, Tensor>);

impl Weights {
    fn get(&mut self, name: &str) -> candle_core::Result<Tensor> {
        self.0
            .remove(name)
            .ok_or_else(|| candle_core::Error::CannotFindTensor {
                path: name.to_string(),
            })
    }

    /// A linear layer from one or more `[out, in]` matrices concatenated along `out`.
    fn dense(&mut self, prefixes: &[String]) -> candle_core::Result<Dense> {
        let mut ws = Vec::with_capacity(prefixes.len());
        let mut bs = Vec::with_capacity(prefixes.len());
        for p in prefixes {
            ws.push(self.get(&format!("{p}.weight"))?);
            bs.push(self.get(&format!("{p}.bias"))?);
        }
        let weight = Tensor::cat(&ws, 0)?
            .t()?
            .contiguous()?
            .to_dtype(WEIGHT_DTYPE)?;
        Ok(Dense {
            weight,
            bias: Tensor::cat(&bs, 0)?,
        })
    }

    fn norm(&mut self, prefix: &str, eps: f64) -> candle_core::Result<LayerNorm> {
        Ok(LayerNorm {
            weight: self.get(&format!("{prefix}.weight"))?,
            bias: self.get(&format!("{prefix}.bias"))?,
            eps: eps as f32,
        })
    }
}

impl Bert {
    /// Builds the encoder from the tensors of `model.safetensors` (f32, Hugging Face names,
    /// with or without a `bert.` prefix).
    pub(crate) fn new(
        tensors: HashMap<String, Tensor>,
        cfg: &BertConfig,
    ) -> candle_core::Result<Bert> {
        if cfg.hidden_act != "gelu" {
            candle_core::bail!(
                "hidden_act {:?} is not supported (gelu only)",
                cfg.hidden_act
            );
        }
        if cfg.hidden_size.checked_rem(cfg.num_attention_heads) != Some(0) {
            candle_core::bail!("hidden_size must be a multiple of num_attention_heads");
        }
        let tensors = tensors
            .into_iter()
            .map(|(k, v)| {
                (
                    k.strip_prefix("bert.").map(str::to_string).unwrap_or(k),
                    v.to_dtype(DType::F32),
                )
            })
            .map(|(k, v)| v.map(|v| (k, v)))
            .collect::<candle_core::Result<HashMap<_, _>>>()?;
        let mut w = Weights(tensors);
        let eps = cfg.layer_norm_eps;
        let token_types = w.get("embeddings.token_type_embeddings.weight")?;
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for l in 0..cfg.num_hidden_layers {
            let p = format!("encoder.layer.{l}");
            let qkv = ["query", "key", "value"].map(|n| format!("{p}.attention.self.{n}"));
            layers.push(Layer {
                qkv: w.dense(&qkv)?,
                attn_out: w.dense(&[format!("{p}.attention.output.dense")])?,
                attn_norm: w.norm(&format!("{p}.attention.output.LayerNorm"), eps)?,
                ff_in: w.dense(&[format!("{p}.intermediate.dense")])?,
                ff_out: w.dense(&[format!("{p}.output.dense")])?,
                ff_norm: w.norm(&format!("{p}.output.LayerNorm"), eps)?,
            });
        }
        let bert = Bert {
            word: w.get("embeddings.word_embeddings.weight")?,
            position: w.get("embeddings.position_embeddings.weight")?,
            token_type0: token_types.get(0)?,
            embed_norm: w.norm("embeddings.LayerNorm", eps)?,
            layers,
            heads: cfg.num_attention_heads,
            head_dim: cfg.hidden_size / cfg.num_attention_heads,
            max_tokens: cfg.max_position_embeddings,
        };
        if bert.word.dim(1)? != cfg.hidden_size {
            candle_core::bail!("word embeddings are not {} wide", cfg.hidden_size);
        }
        Ok(bert)
    }

    /// Hidden states `[tokens, hidden]` of one sentence (token ids with `[CLS]`/`[SEP]`).
    pub(crate) fn forward(&self, ids: &[u32]) -> candle_core::Result<Tensor> {
        let t = ids.len();
        if t == 0 || t > self.max_tokens {
            candle_core::bail!("{t} tokens (1 to {} supported)", self.max_tokens);
        }
        let ids = Tensor::from_slice(ids, t, &Device::Cpu)?;
        let x = self.word.index_select(&ids, 0)?;
        let x = x
            .add(&self.position.narrow(0, 0, t)?)?
            .broadcast_add(&self.token_type0)?;
        let mut x = self.embed_norm.forward(&x)?;
        let hidden = self.heads * self.head_dim;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        for layer in &self.layers {
            let qkv = layer.qkv.forward(&x)?; // [t, 3 * hidden]
            let split = |k: usize| -> candle_core::Result<Tensor> {
                qkv.narrow(1, k * hidden, hidden)?
                    .reshape((t, self.heads, self.head_dim))?
                    .transpose(0, 1)?
                    .contiguous()
            };
            let (q, k, v) = (split(0)?, split(1)?, split(2)?); // [heads, t, head_dim]
            let scores = (q.matmul(&k.t()?)? * scale)?;
            let probs = candle_nn::ops::softmax_last_dim(&scores)?;
            let ctx = probs.matmul(&v)?.transpose(0, 1)?.reshape((t, hidden))?;
            let attn = layer
                .attn_norm
                .forward(&layer.attn_out.forward(&ctx)?.add(&x)?)?;
            let ff = gelu(&layer.ff_in.forward(&attn)?)?;
            x = layer
                .ff_norm
                .forward(&layer.ff_out.forward(&ff)?.add(&attn)?)?;
        }
        Ok(x)
    }
}

/// GELU with the exact erf form the model was trained with, computed with a rational erf
/// approximation (the one Eigen uses for f32; error within a few ulp on [-4, 4], saturated
/// outside). candle's `gelu_erf` calls scalar libm `erff` per element, which was 10% of an
/// embedding; this loop has no calls or branches and vectorizes.
fn gelu(x: &Tensor) -> candle_core::Result<Tensor> {
    let mut v: Vec<f32> = x.flatten_all()?.to_vec1()?;
    for x in v.iter_mut() {
        *x = 0.5 * *x * (1.0 + erf(*x * std::f32::consts::FRAC_1_SQRT_2));
    }
    Tensor::from_vec(v, x.shape(), x.device())
}

fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = -2.726_142_3e-10_f32;
    p = x2 * p + 2.770_681_4e-8;
    p = x2 * p - 2.101_024e-6;
    p = x2 * p - 5.692_506_4e-5;
    p = x2 * p - 7.349_906_3e-4;
    p = x2 * p - 2.954_6e-3;
    p = x2 * p - 1.609_603_3e-2;
    let mut q = -1.456_607_2e-5_f32;
    q = x2 * q - 2.133_740_6e-4;
    q = x2 * q - 1.682_827e-3;
    q = x2 * q - 7.373_329_3e-3;
    q = x2 * q - 1.426_473_9e-2;
    x * p / q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_gelu_matches_candles_erf_gelu() {
        let xs: Vec<f32> = (-2000..=2000).map(|k| k as f32 / 200.0).collect();
        let t = Tensor::from_vec(xs.clone(), xs.len(), &Device::Cpu).expect("tensor");
        let ours: Vec<f32> = gelu(&t).and_then(|g| g.to_vec1()).expect("gelu");
        let reference: Vec<f32> = t.gelu_erf().and_then(|g| g.to_vec1()).expect("gelu_erf");
        let worst = ours
            .iter()
            .zip(&reference)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst < 2e-6, "max abs difference {worst}");
    }
}
