"""openai-whisper assets: mel filters (.npz of .npy) and tiktoken vocabularies."""

from __future__ import annotations

import ast
import base64
import math
import struct
import zipfile
from pathlib import Path

from .errors import ConversionError

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
