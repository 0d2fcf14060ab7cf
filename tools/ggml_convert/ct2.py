"""CTranslate2 model.bin reader (format version 6, spec WhisperSpec)."""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .errors import ConversionError

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
