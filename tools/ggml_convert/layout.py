"""What whisper.cpp loads: ggml tensor types, hyper-parameters and the tensor set."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Iterable

GGML_MAGIC = 0x67676D6C  # "ggml"

# ggml tensor types as written in the file.
GGML_F32 = 0
GGML_F16 = 1
GGML_Q8_0 = 8   # blocks of 32: f16 scale + 32 int8 (quantize.py)
GGML_BF16 = 30
GGML_TYPE_NAMES = {GGML_F32: "f32", GGML_F16: "f16", GGML_Q8_0: "q8_0", GGML_BF16: "bf16"}
GGML_TYPE_SIZE = {GGML_F32: 4, GGML_F16: 2, GGML_BF16: 2}
# (values per block, bytes per block) of every type a file may hold.
GGML_TYPE_BLOCK = {GGML_F32: (1, 4), GGML_F16: (1, 2), GGML_Q8_0: (32, 34), GGML_BF16: (1, 2)}


@dataclass
class HParams:
    n_vocab: int
    n_audio_ctx: int
    n_audio_state: int
    n_audio_head: int
    n_audio_layer: int
    n_text_ctx: int
    n_text_state: int
    n_text_head: int
    n_text_layer: int
    n_mels: int
    ftype: int = 1  # 1: matrices f16, small tensors f32 (what whisper.cpp calls f16)

    def values(self) -> list[int]:
        return [getattr(self, f.name) for f in fields(self)]

    @property
    def multilingual(self) -> bool:
        # Same rule as whisper.cpp and convert-pt-to-ggml.py.
        return self.n_vocab >= 51865

    def describe(self) -> str:
        return " ".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))


# Per-block tensor names in whisper.cpp (src/whisper-arch.h, ASR_TENSOR_NAMES) and
# in the PyTorch state_dict order of OpenAI's ResidualAttentionBlock.
_ATTN = ("query.weight", "query.bias", "key.weight", "value.weight", "value.bias",
         "out.weight", "out.bias")


def expected_tensors(h: HParams) -> dict[str, tuple[tuple[int, ...], int]]:
    """Names -> (shape outermost-first as in PyTorch, ggml type) that whisper.cpp loads.

    whisper.cpp creates each tensor with these dimensions and type (for ftype 1)
    and refuses a file whose tensor differs in name, shape or byte size.
    """
    out: dict[str, tuple[tuple[int, ...], int]] = {}
    s, t = h.n_audio_state, h.n_text_state

    def block(prefix: str, attn_names: Iterable[str], d: int) -> None:
        for part in attn_names:
            out[prefix + part] = ((d, d), GGML_F16) if part.endswith("weight") else ((d,), GGML_F32)

    def ln(name: str, d: int) -> None:
        out[name + ".weight"] = ((d,), GGML_F32)
        out[name + ".bias"] = ((d,), GGML_F32)

    def mlp(prefix: str, d: int) -> None:
        out[prefix + "mlp.0.weight"] = ((4 * d, d), GGML_F16)
        out[prefix + "mlp.0.bias"] = ((4 * d,), GGML_F32)
        out[prefix + "mlp.2.weight"] = ((d, 4 * d), GGML_F16)
        out[prefix + "mlp.2.bias"] = ((d,), GGML_F32)

    out["encoder.positional_embedding"] = ((h.n_audio_ctx, s), GGML_F32)
    out["encoder.conv1.weight"] = ((s, h.n_mels, 3), GGML_F16)
    out["encoder.conv1.bias"] = ((s, 1), GGML_F32)
    out["encoder.conv2.weight"] = ((s, s, 3), GGML_F16)
    out["encoder.conv2.bias"] = ((s, 1), GGML_F32)
    for i in range(h.n_audio_layer):
        p = f"encoder.blocks.{i}."
        block(p + "attn.", _ATTN, s)
        ln(p + "attn_ln", s)
        mlp(p, s)
        ln(p + "mlp_ln", s)
    ln("encoder.ln_post", s)

    out["decoder.positional_embedding"] = ((h.n_text_ctx, t), GGML_F32)
    out["decoder.token_embedding.weight"] = ((h.n_vocab, t), GGML_F16)
    for i in range(h.n_text_layer):
        p = f"decoder.blocks.{i}."
        block(p + "attn.", _ATTN, t)
        ln(p + "attn_ln", t)
        block(p + "cross_attn.", _ATTN, t)
        ln(p + "cross_attn_ln", t)
        mlp(p, t)
        ln(p + "mlp_ln", t)
    ln("decoder.ln", t)
    return out
