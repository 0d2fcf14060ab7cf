"""The conversion itself: CT2 model.bin part(s) + assets -> ggml file."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from .assets import read_mel_filters, read_tiktoken
from .ct2 import read_ct2
from .errors import ConversionError
from .ggml import write_ggml
from .layout import GGML_F16, HParams
from .mapping import check_scalars, hparams_from_ct2, map_tensors


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
            write_ggml(f, h, (n_mel_rows, n_mel_cols), mel_bytes, tokens, pieces)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    n_f16 = sum(1 for p in pieces if p.ggml_type == GGML_F16)
    return ConversionResult(h, len(pieces), n_f16, len(pieces) - n_f16, len(tokens),
                            out.stat().st_size, tiktoken, notes)
