"""CT2 WhisperSpec -> OpenAI Whisper tensors: hparams, architecture checks, names, dtypes.

CTranslate2 renames OpenAI's tensors and fuses the attention projections (q|k|v
in self-attention, k|v in cross-attention); whisper.cpp wants them separate and
under their PyTorch names. Each output tensor is a Piece: a row range of one
CT2 variable, converted to the ggml type whisper.cpp expects when written.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from .ct2 import CT2_DTYPES, CT2_FLOAT_DTYPES, CT2_KNOWN_SCALARS, Ct2Model, Ct2Variable
from .errors import ConversionError
from .layout import GGML_F16, GGML_F32, HParams, expected_tensors

CHUNK_ELEMS = 1 << 20  # elements per struct pack/unpack batch when converting dtypes


def _count_layers(model: Ct2Model, side: str) -> int:
    """Number of ``{side}/layer_N`` blocks; they must be numbered 0..n-1."""
    found = {int(m.group(1)) for k in model.variables
             if (m := re.match(rf"{side}/layer_(\d+)/", k))}
    if found != set(range(len(found))):
        raise ConversionError(f"{model.label}: {side} layers are numbered {sorted(found)}, not 0..n-1")
    return len(found)


def hparams_from_ct2(model: Ct2Model) -> HParams:
    """Read whisper's dimensions off the tensor shapes and the num_heads scalars."""
    L = model.label

    def shape(name: str, rank: int) -> tuple[int, ...]:
        var = model.require(name)
        if len(var.shape) != rank:
            raise ConversionError(f"{L}: '{name}' has shape {list(var.shape)}, expected rank {rank}")
        return var.shape

    n_vocab, n_text_state = shape("decoder/embeddings/weight", 2)
    n_text_ctx, dec_pos_state = shape("decoder/position_encodings/encodings", 2)
    n_audio_ctx, n_audio_state = shape("encoder/position_encodings/encodings", 2)
    conv_out, n_mels, kernel = shape("encoder/conv1/weight", 3)
    # CT2 copies PyTorch's Conv1d weight as is: [out_channels, in_channels, kernel].
    # A transposed layout would show up here as kernel != 3 or in != 80/128.
    if conv_out != n_audio_state or kernel != 3:
        raise ConversionError(
            f"{L}: encoder/conv1/weight shape {[conv_out, n_mels, kernel]} is not "
            f"[n_audio_state={n_audio_state}, n_mels, 3]"
        )
    if dec_pos_state != n_text_state:
        raise ConversionError(f"{L}: decoder position encodings width {dec_pos_state} != {n_text_state}")
    n_audio_head = model.scalar("encoder/num_heads")
    n_text_head = model.scalar("decoder/num_heads")
    if n_audio_head is None or n_text_head is None:
        raise ConversionError(f"{L}: missing encoder/num_heads or decoder/num_heads scalar")
    for name, heads, width in (("encoder", n_audio_head, n_audio_state), ("decoder", n_text_head, n_text_state)):
        if heads <= 0 or width % heads:
            raise ConversionError(f"{L}: {name}/num_heads={heads} does not divide width {width}")
    h = HParams(
        n_vocab=n_vocab,
        n_audio_ctx=n_audio_ctx,
        n_audio_state=n_audio_state,
        n_audio_head=n_audio_head,
        n_audio_layer=_count_layers(model, "encoder"),
        n_text_ctx=n_text_ctx,
        n_text_state=n_text_state,
        n_text_head=n_text_head,
        n_text_layer=_count_layers(model, "decoder"),
        n_mels=n_mels,
    )
    if h.n_audio_layer == 0 or h.n_text_layer == 0:
        raise ConversionError(f"{L}: no encoder or decoder layers found")
    return h


def is_metadata(var: Ct2Variable) -> bool:
    """Scalars and known integer metadata (not weights)."""
    return var.shape == () or (var.name in CT2_KNOWN_SCALARS and var.dtype not in CT2_FLOAT_DTYPES)


def check_scalars(model: Ct2Model, warn: Callable[[str], None]) -> None:
    """Refuse models whose architecture flags differ from OpenAI Whisper's."""
    for name, var in model.variables.items():
        if not is_metadata(var):
            continue
        if name not in CT2_KNOWN_SCALARS:
            warn(f"{model.label}: ignoring unknown scalar '{name}'")
            continue
        want = CT2_KNOWN_SCALARS[name]
        if want is not None:
            got = model.scalar(name)
            if got != want:
                raise ConversionError(
                    f"{model.label}: scalar '{name}' is {got}, OpenAI Whisper has {want}; "
                    "whisper.cpp cannot run this architecture"
                )



@dataclass
class Piece:
    """One output tensor: a row range of a CT2 variable (rows of the outermost dim)."""

    name: str
    source: Ct2Variable
    shape: tuple[int, ...]  # output shape, outermost first
    row_start: int = 0  # first outer row taken from the source
    ggml_type: int = GGML_F16

    def raw(self) -> memoryview:
        row_elems = math.prod(self.source.shape[1:]) if len(self.source.shape) > 1 else 1
        item = CT2_DTYPES[self.source.dtype][1]
        start = self.row_start * row_elems * item
        return self.source.data[start:start + math.prod(self.shape) * item]


class _Mapper:
    def __init__(self, model: Ct2Model):
        self.model = model
        self.used: set[str] = set()
        self.pieces: list[Piece] = []
        self.notes: list[str] = []

    def var(self, name: str) -> Ct2Variable:
        v = self.model.require(name)
        self.used.add(v.name)
        return v

    def whole(self, out: str, src: str, shape: tuple[int, ...] | None = None) -> None:
        v = self.var(src)
        if shape is not None and math.prod(shape) != math.prod(v.shape):
            raise ConversionError(f"{self.model.label}: '{src}' {list(v.shape)} cannot become {list(shape)}")
        self.pieces.append(Piece(out, v, shape or v.shape))

    def split(self, src: str, outs: Sequence[str | None], fused_what: str) -> None:
        """Split a CT2 variable fused along its first dimension into equal parts.

        An output name None drops that part (the key bias, which OpenAI does not have).
        """
        v = self.var(src)
        n = len(outs)
        if not v.shape or v.shape[0] % n:
            raise ConversionError(
                f"{self.model.label}: '{src}' {list(v.shape)} cannot be split into {fused_what}"
            )
        rows = v.shape[0] // n
        for k, out in enumerate(outs):
            if out is None:
                self._check_dropped_bias(v, k * rows, rows)
                continue
            self.pieces.append(Piece(out, v, (rows,) + v.shape[1:], row_start=k * rows))

    def _check_dropped_bias(self, v: Ct2Variable, start: int, rows: int) -> None:
        # OpenAI's key projections have no bias; CTranslate2 fuses q|k|v (and k|v) and
        # fills the key part with zeros. Dropping it is exact even when it is not
        # zero: a key bias adds q.b_k to every logit of a query row, which softmax
        # cancels. Mention it anyway, since a non-zero value means an unusual model.
        if v.dtype not in CT2_FLOAT_DTYPES:
            return  # not written anyway; quantized weights are refused later
        vals = _to_f32_values(Piece("", v, (rows,), row_start=start))
        if any(x != 0.0 for x in vals):
            self.notes.append(f"'{v.name}': dropped key bias is not all zero (harmless for attention)")

    def linear(self, out: str, src: str) -> None:
        self.whole(out + ".weight", src + "/weight")
        self.whole(out + ".bias", src + "/bias")

    def layer_norm(self, out: str, src: str) -> None:
        self.whole(out + ".weight", src + "/gamma")
        self.whole(out + ".bias", src + "/beta")

    def self_attention(self, out: str, src: str) -> None:
        self.split(src + "/linear_0/weight",
                   [out + ".query.weight", out + ".key.weight", out + ".value.weight"], "q|k|v")
        self.split(src + "/linear_0/bias", [out + ".query.bias", None, out + ".value.bias"], "q|k|v")
        self.linear(out + ".out", src + "/linear_1")

    def cross_attention(self, out: str, src: str) -> None:
        self.linear(out + ".query", src + "/linear_0")
        self.split(src + "/linear_1/weight", [out + ".key.weight", out + ".value.weight"], "k|v")
        self.split(src + "/linear_1/bias", [None, out + ".value.bias"], "k|v")
        self.linear(out + ".out", src + "/linear_2")


def map_tensors(model: Ct2Model, h: HParams) -> tuple[list[Piece], list[str]]:
    """Build the output tensor list in PyTorch state_dict order, with OpenAI names."""
    m = _Mapper(model)
    s = h.n_audio_state
    m.whole("encoder.positional_embedding", "encoder/position_encodings/encodings")
    m.whole("encoder.conv1.weight", "encoder/conv1/weight")
    m.whole("encoder.conv1.bias", "encoder/conv1/bias", (s, 1))  # whisper.cpp wants [n, 1]
    m.whole("encoder.conv2.weight", "encoder/conv2/weight")
    m.whole("encoder.conv2.bias", "encoder/conv2/bias", (s, 1))
    for i in range(h.n_audio_layer):
        src, out = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        m.self_attention(out + ".attn", src + "/self_attention")
        m.layer_norm(out + ".attn_ln", src + "/self_attention/layer_norm")
        m.linear(out + ".mlp.0", src + "/ffn/linear_0")
        m.linear(out + ".mlp.2", src + "/ffn/linear_1")
        m.layer_norm(out + ".mlp_ln", src + "/ffn/layer_norm")
    m.layer_norm("encoder.ln_post", "encoder/layer_norm")

    m.whole("decoder.positional_embedding", "decoder/position_encodings/encodings")
    m.whole("decoder.token_embedding.weight", "decoder/embeddings/weight")
    for i in range(h.n_text_layer):
        src, out = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        m.self_attention(out + ".attn", src + "/self_attention")
        m.layer_norm(out + ".attn_ln", src + "/self_attention/layer_norm")
        m.cross_attention(out + ".cross_attn", src + "/attention")
        m.layer_norm(out + ".cross_attn_ln", src + "/attention/layer_norm")
        m.linear(out + ".mlp.0", src + "/ffn/linear_0")
        m.linear(out + ".mlp.2", src + "/ffn/linear_1")
        m.layer_norm(out + ".mlp_ln", src + "/ffn/layer_norm")
    m.layer_norm("decoder.ln", "decoder/layer_norm")

    # The output projection is tied to the token embedding (an alias in CT2); any
    # other tensor variable left over is something whisper.cpp has no place for.
    leftovers = [
        name for name, v in model.variables.items()
        if name not in m.used and not is_metadata(v)
    ]
    if leftovers:
        raise ConversionError(
            f"{model.label}: unexpected variable(s) with no whisper.cpp counterpart: "
            + ", ".join(sorted(leftovers)[:8]) + (" ..." if len(leftovers) > 8 else "")
        )

    expected = expected_tensors(h)
    for p in m.pieces:
        want = expected.get(p.name)
        if want is None:
            raise ConversionError(f"internal: produced tensor '{p.name}' that whisper.cpp does not load")
        if p.shape != want[0]:
            raise ConversionError(
                f"{model.label}: '{p.source.name}' gives '{p.name}' shape {list(p.shape)}, "
                f"whisper.cpp expects {list(want[0])}"
            )
        p.ggml_type = want[1]
        if p.source.dtype not in CT2_FLOAT_DTYPES:
            raise ConversionError(
                f"{model.label}: variable '{p.source.name}' is {p.source.dtype_name} (quantized); "
                "this converter needs float16, bfloat16 or float32 weights "
                "(convert the model with CTranslate2 --quantization float16)"
            )
    # Write in OpenAI's state_dict order, as convert-pt-to-ggml.py does. whisper.cpp
    # looks tensors up by name, so this is for byte-level comparability only.
    rank = {name: k for k, name in enumerate(expected)}
    m.pieces.sort(key=lambda p: rank[p.name])
    names = [p.name for p in m.pieces]
    name_set = set(names)
    missing = [n for n in expected if n not in name_set]
    if missing or len(names) != len(set(names)):
        raise ConversionError(f"internal: tensor set mismatch, missing {missing[:5]}")
    return m.pieces, m.notes


# dtype conversion (stdlib only)


def _bf16_to_f32_bytes(raw: memoryview) -> bytes:
    # bfloat16 is the top half of a float32: put its two bytes above two zero bytes.
    out = bytearray(len(raw) * 2)
    out[2::4] = raw[0::2]
    out[3::4] = raw[1::2]
    return bytes(out)


def _to_f32_values(piece: Piece) -> list[float]:
    raw = piece.raw()
    dt = piece.source.dtype
    if dt == 5:
        raw, dt = memoryview(_bf16_to_f32_bytes(raw)), 0
    fmt = {0: "f", 4: "e"}[dt]
    return list(struct.unpack(f"<{len(raw) // struct.calcsize(fmt)}{fmt}", raw))


def iter_tensor_bytes(piece: Piece) -> Iterable[bytes | memoryview]:
    """Yield the tensor data converted to its ggml type, in chunks."""
    raw = piece.raw()
    src = piece.source.dtype
    if src == 5:  # bfloat16 -> float32 first, then as float32
        raw, src = memoryview(_bf16_to_f32_bytes(raw)), 0
    if (src, piece.ggml_type) in ((0, GGML_F32), (4, GGML_F16)):
        yield raw
        return
    in_fmt, in_size = ("e", 2) if src == 4 else ("f", 4)
    out_fmt = "f" if piece.ggml_type == GGML_F32 else "e"
    n = len(raw) // in_size
    for start in range(0, n, CHUNK_ELEMS):
        count = min(CHUNK_ELEMS, n - start)
        vals = struct.unpack_from(f"<{count}{in_fmt}", raw, start * in_size)
        try:
            yield struct.pack(f"<{count}{out_fmt}", *vals)
        except (OverflowError, struct.error):
            raise ConversionError(
                f"'{piece.source.name}': a value is out of float16 range; cannot write '{piece.name}' as f16"
            ) from None
