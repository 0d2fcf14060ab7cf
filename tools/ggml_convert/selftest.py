"""Self test: synthetic CT2 model -> ggml -> re-parse, compared with the reference."""

from __future__ import annotations

import base64
import math
import random
import struct
import tempfile
import zipfile
from pathlib import Path
from typing import Callable

from .converter import convert
from .ct2 import CT2_ACTIVATION_GELU, CT2_FORMAT_VERSION, CT2_SPEC_NAME, CORRUPT_HINT, Ct2Variable
from .errors import ConversionError
from .ggml import read_ggml, validate_ggml
from .layout import GGML_F16, HParams, expected_tensors
from .mapping import Piece, _to_f32_values, iter_tensor_bytes


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


def _case_weights() -> None:
    from .quantize import quantize_q8_0
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        paths, ref, h, (npz, tik, _mel, _toks) = _synthetic(tmp)
        f16 = tmp / "ggml.bin"
        convert(paths, npz, tik, f16, warn=lambda _m: None)
        src = read_ggml(f16)
        for kind, ftype, ttype in (("q8_0", 2007, 8), ("bf16", 24, 30)):
            out = tmp / f"ggml-{kind}.bin"
            converted, kept = quantize_q8_0(f16, out, kind)
            g = read_ggml(out)
            _expect(g.hparams.ftype == ftype, f"{kind}: ftype {g.hparams.ftype}")
            _expect(converted + kept == len(src.tensors) and converted > 0, f"{kind}: {converted} + {kept} tensors")
            raw = out.read_bytes()
            for a, b in zip(src.tensors, g.tensors):
                _expect((a.name, a.shape) == (b.name, b.shape), f"{kind}: tensor order or shape of '{a.name}'")
                if b.ggml_type == a.ggml_type:
                    _expect(raw[b.offset:b.offset + b.nbytes] == f16.read_bytes()[a.offset:a.offset + a.nbytes],
                            f"{kind}: kept tensor '{a.name}' changed")
                    continue
                _expect(b.ggml_type == ttype and len(a.shape) == 2, f"{kind}: '{a.name}' converted")
                vals = ref[a.name] if a.name in ref else src.tensor_values(a.name)
                data = raw[b.offset:b.offset + b.nbytes]
                if kind == "bf16":
                    got = [struct.unpack("<f", struct.pack("<I", v << 16))[0]
                           for v in struct.unpack(f"<{len(vals)}H", data)]
                    _expect(all(abs(x - y) <= abs(x) / 128 for x, y in zip(vals, got)), f"bf16 values of '{a.name}'")
                else:
                    for k in range(len(vals) // 32):
                        scale, *qs = struct.unpack("<e32b", data[34 * k:34 * k + 34])
                        block = vals[32 * k:32 * k + 32]
                        _expect(max(map(abs, qs)) == 127 or scale == 0, f"q8_0 scale of '{a.name}' block {k}")
                        _expect(all(abs(x - q * scale) <= scale * 0.51 + 1e-3 * abs(x) for x, q in zip(block, qs)),
                                f"q8_0 values of '{a.name}' block {k}")


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
        ("q8_0 and bf16 variants of an f16 file", _case_weights),
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
