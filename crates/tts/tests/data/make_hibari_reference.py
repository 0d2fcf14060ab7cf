"""Reference waveforms for crates/tts/tests/hibari.rs, rendered by the original Python package.

Provenance: hibari-tts 0.2.1 (PyPI, Apache-2.0), its own model (hibari/assets/hibari.onnx, the same
file as models/hibari/hibari.onnx) and its own vocoder (hibari/dsp.py), run through onnxruntime on
CPU. The noise branch is switched off (the generator's standard_normal returns zeros) so that the
output is deterministic and independent of numpy's PRNG; the Rust side renders with noise_gain 0.

Run with the project's TTS venv (tools/setup.sh makes it):
    /root/.cache/attendant/venv-tts/bin/python crates/tts/tests/data/make_hibari_reference.py
Writes, next to this file:
    hibari_reference.json   phoneme strings, speed, sample counts, peak, WAV file names
    hibari_ref_N.wav        24 kHz mono 16-bit PCM, one per sentence
"""
import json, os, wave

import numpy as np
from hibari import Hibari, dsp
from hibari.g2p import G2P

HERE = os.path.dirname(os.path.abspath(__file__))
TEXTS = ["Hello there.", "Press one for billing.", "Your call may be recorded."]
SPEED = 1.0


class ZeroNoise:
    """Stands in for numpy's Generator in dsp.synth: the noise branch adds nothing."""

    def standard_normal(self, shape, dtype=np.float32):
        return np.zeros(shape, dtype)


def main():
    tts, g2p = Hibari(), G2P()
    cases = []
    for i, text in enumerate(TEXTS):
        ps = g2p(text)
        ids = tts.ids(ps)
        out = tts.sess.run(None, {"ids": np.asarray([ids], np.int64), "speed": np.asarray([SPEED], np.float32)})
        lh, th, ln, lr, phi, f0 = (o[0] for o in out)
        wav = dsp.synth(lh, th, ln, lr, phi, f0, ZeroNoise())
        name = f"hibari_ref_{i}.wav"
        pcm = (np.clip(wav, -1.0, 1.0) * 32767.0).round().astype("<i2")
        with wave.open(os.path.join(HERE, name), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(dsp.SR)
            w.writeframes(pcm.tobytes())
        cases.append({"text": text, "phonemes": ps, "speed": SPEED, "frames": int(f0.shape[0]),
                      "samples": int(wav.shape[0]), "peak": float(np.abs(wav).max()), "wav": name})
        print(f"{name}: {ps!r} {wav.shape[0]} samples, peak {np.abs(wav).max():.3f}")
    meta = {"generator": "hibari-tts 0.2.1 (model + dsp.synth, noise branch zeroed)", "sample_rate": dsp.SR,
            "cases": cases}
    with open(os.path.join(HERE, "hibari_reference.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
