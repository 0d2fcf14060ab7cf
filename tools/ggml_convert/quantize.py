"""f16 ggml whisper file -> q8_0 (the way whisper.cpp's examples/quantize does it) or bf16.

q8_0 stores each run of 32 weights as one f16 scale d = max|x| / 127 and 32 int8 values
round(x / d): 34 bytes instead of 64. Quantized are the 2-D weight matrices (attention, MLP,
token embedding); biases, layer norms, the 3-D convolution kernels and the two positional
embeddings stay as they are, as whisper.cpp's quantizer leaves them and its loader expects.

Why: the decoder reads every weight once per generated token (the vocabulary projection alone
is 51864 x 384), so half the bytes is about half that memory traffic, and ggml (with
llamafile's tinyBLAS) has int8 kernels for the encoder's matrix products.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

from .errors import ConversionError
from .ggml import read_ggml
from .layout import GGML_BF16, GGML_F16, GGML_MAGIC, GGML_Q8_0

QK8_0 = 32
GGML_FTYPE_MOSTLY_BF16 = 24
# whisper.cpp writes ftype + GGML_QNT_VERSION * GGML_QNT_VERSION_FACTOR for quantized files.
GGML_FTYPE_MOSTLY_Q8_0 = 7
GGML_QNT_VERSION = 2
GGML_QNT_VERSION_FACTOR = 1000

# As whisper.cpp's examples/quantize: never quantized whatever their shape.
_SKIP = {"encoder.conv1.bias", "encoder.conv2.bias", "encoder.positional_embedding",
         "decoder.positional_embedding"}


def _quantize_block(xs: tuple[float, ...]) -> bytes:
    amax = max(abs(x) for x in xs)
    d = amax / 127.0
    inv = 1.0 / d if d else 0.0
    # ggml rounds half away from zero (roundf), not to even.
    qs = [int(math.copysign(math.floor(abs(x) * inv + 0.5), x)) for x in xs]
    return struct.pack("<e32b", d, *qs)


def _bf16(xs: tuple[float, ...]) -> bytes:
    # f32 bits rounded to the nearest bf16 (ties to even), as ggml_fp32_to_bf16 does; f16
    # values are never NaN here (whisper weights).
    bits = struct.unpack(f"<{len(xs)}I", struct.pack(f"<{len(xs)}f", *xs))
    return struct.pack(f"<{len(xs)}H", *((b + 0x7FFF + ((b >> 16) & 1)) >> 16 for b in bits))


def quantize_q8_0(src: Path | str, dst: Path | str, kind: str = "q8_0") -> tuple[int, int]:
    """Writes `dst`, the `kind` ("q8_0" or "bf16") version of the f16 whisper file `src`.
    Returns (tensors converted, tensors kept)."""
    if kind not in ("q8_0", "bf16"):
        raise ConversionError(f"unknown weight type {kind!r} (q8_0 or bf16)")
    g = read_ggml(src)
    if g.hparams.ftype != 1:
        raise ConversionError(f"{src}: ftype {g.hparams.ftype}; only f16 files (ftype 1) are quantized")
    done = kept = 0
    with open(src, "rb") as fin, open(dst, "wb") as out:
        h = g.hparams
        values = h.values()
        values[-1] = (GGML_FTYPE_MOSTLY_Q8_0 + GGML_QNT_VERSION * GGML_QNT_VERSION_FACTOR
                      if kind == "q8_0" else GGML_FTYPE_MOSTLY_BF16)
        out.write(struct.pack("<i", GGML_MAGIC))
        out.write(struct.pack("<11i", *values))
        rows, cols = g.mel_shape
        out.write(struct.pack("<ii", rows, cols))
        fin.seek(g.mel_offset)
        out.write(fin.read(rows * cols * 4))
        out.write(struct.pack("<i", len(g.tokens)))
        for tok in g.tokens:
            out.write(struct.pack("<i", len(tok)))
            out.write(tok)
        for t in g.tensors:
            fin.seek(t.offset)
            raw = fin.read(t.nbytes)
            inner = t.shape[-1]
            quantize = (len(t.shape) == 2 and t.ggml_type == GGML_F16 and t.name not in _SKIP
                        and inner % QK8_0 == 0)
            name = t.name.encode("utf-8")
            new_type = GGML_Q8_0 if kind == "q8_0" else GGML_BF16
            out.write(struct.pack("<iii", len(t.shape), len(name), new_type if quantize else t.ggml_type))
            out.write(struct.pack(f"<{len(t.shape)}i", *reversed(t.shape)))
            out.write(name)
            if not quantize:
                out.write(raw)
                kept += 1
                continue
            n = len(raw) // 2
            xs = struct.unpack(f"<{n}e", raw)
            if kind == "bf16":
                out.write(_bf16(xs))
            else:
                out.write(b"".join(_quantize_block(xs[i:i + QK8_0]) for i in range(0, n, QK8_0)))
            done += 1
    return done, kept
