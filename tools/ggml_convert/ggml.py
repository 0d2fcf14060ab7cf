"""whisper.cpp ggml files: writer, and a reader/validator to check what was written.

Layout, as whisper.cpp's convert-pt-to-ggml.py writes it (f16 variant): magic,
11 i32 hparams, mel filters, vocabulary, tensors under the original OpenAI names.
"""

from __future__ import annotations

import io
import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Sequence

from .errors import ConversionError
from .layout import GGML_F16, GGML_MAGIC, GGML_TYPE_BLOCK, GGML_TYPE_NAMES, GGML_TYPE_SIZE, HParams, expected_tensors
from .mapping import Piece, iter_tensor_bytes


def write_ggml(f: BinaryIO, h: HParams, mel_shape: tuple[int, int], mel_bytes: bytes,
               tokens: Sequence[bytes], pieces: Sequence[Piece]) -> None:
    f.write(struct.pack("<i", GGML_MAGIC))
    f.write(struct.pack("<11i", *h.values()))
    f.write(struct.pack("<ii", *mel_shape))
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
            if not 1 <= n_dims <= 4 or not 0 < name_len < 256 or ttype not in GGML_TYPE_BLOCK:
                raise ConversionError(
                    f"{path}: bad tensor header at byte {f.tell() - 12}: "
                    f"n_dims={n_dims} name_len={name_len} type={ttype}"
                )
            ne = struct.unpack(f"<{n_dims}i", read(4 * n_dims, "tensor dims"))
            name = read(name_len, "tensor name").decode("utf-8")
            per_block, block_bytes = GGML_TYPE_BLOCK[ttype]
            if ne[0] % per_block:
                raise ConversionError(f"{path}: tensor '{name}' rows of {ne[0]} are not whole {GGML_TYPE_NAMES[ttype]} blocks")
            nbytes = math.prod(ne) // per_block * block_bytes
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
