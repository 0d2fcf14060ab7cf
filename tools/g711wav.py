"""G.711 (µ-law and A-law) and an 8 kHz mono WAV reader, shared by the tools that make or send
telephone audio (wav2pcap.py, sbc_peer.py).

The coders follow the ITU-T G.711 segment tables: `ulaw_encode` / `alaw_encode` take a 16-bit
sample, `ulaw_decode` / `alaw_decode` a code byte; `ULAW_DECODE` / `ALAW_DECODE` are the decoders
as 256-entry tables. `read_wav_8k_mono` returns the 16-bit samples of an 8 kHz mono WAV in 16-bit
PCM, µ-law or A-law; `read_wav_ulaw` returns its µ-law bytes (µ-law data as stored, the others
encoded). Both raise `WavError` (a ValueError) with a message naming the file.
"""
import struct

RATE = 8000
ULAW_BIAS, ULAW_CLIP = 0x84, 32635

# WAVE format tags (RFC 2361)
WAVE_PCM, WAVE_ALAW, WAVE_ULAW = 1, 6, 7


def ulaw_encode(s):
    sign = 0x80 if s < 0 else 0
    s = min(abs(s), ULAW_CLIP) + ULAW_BIAS
    exp = max(0, min(7, s.bit_length() - 8))
    mant = (s >> (exp + 3)) & 0x0F
    return ~(sign | (exp << 4) | mant) & 0xFF


def ulaw_decode(u):
    u = ~u & 0xFF
    exp, mant = (u >> 4) & 7, u & 0x0F
    mag = (((mant << 3) + ULAW_BIAS) << exp) - ULAW_BIAS
    return -mag if u & 0x80 else mag


def alaw_encode(s):
    sign, mag = (0x80, s >> 3) if s >= 0 else (0x00, (-s - 1) >> 3)
    if mag < 32:
        code = mag >> 1
    else:
        exp = mag.bit_length() - 5
        code = (exp << 4) | ((mag >> exp) & 0x0F)
    return (sign | code) ^ 0x55


def alaw_decode(a):
    a ^= 0x55
    exp, mant = (a >> 4) & 7, a & 0x0F
    mag = (mant << 4) + 8 if exp == 0 else ((mant << 4) + 0x108) << (exp - 1)
    return mag if a & 0x80 else -mag


ULAW_DECODE = [ulaw_decode(b) for b in range(256)]
ALAW_DECODE = [alaw_decode(b) for b in range(256)]
ULAW_SILENCE = ulaw_encode(0)
ALAW_SILENCE = alaw_encode(0)


class WavError(ValueError):
    """A WAV file that cannot be read or is not 8 kHz mono PCM16 / µ-law / A-law."""


def _read_8k_mono(path):
    """(format tag, sample data) of an 8 kHz mono WAV in one of the formats read here."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise WavError(f"{path}: {e.strerror or e}") from e
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise WavError(f"{path}: not a WAV file")
    pos, fmt, body = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        if cid == b"fmt ":
            fmt = data[pos + 8:pos + 8 + size]
        elif cid == b"data":
            body = data[pos + 8:pos + 8 + size]
        pos += 8 + size + (size & 1)
    if fmt is None or body is None:
        raise WavError(f"{path}: no fmt or data chunk")
    if len(fmt) < 16:
        raise WavError(f"{path}: fmt chunk of {len(fmt)} bytes, need 16")
    tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", fmt)
    if rate != RATE or channels != 1:
        raise WavError(f"{path}: {rate} Hz x{channels}; need 8000 Hz mono (convert with sox first)")
    if (tag, bits) not in ((WAVE_PCM, 16), (WAVE_ULAW, 8), (WAVE_ALAW, 8)):
        raise WavError(f"{path}: format tag {tag} with {bits} bits; need 16-bit PCM, µ-law or A-law")
    return tag, body


def _samples(tag, body):
    if tag == WAVE_ULAW:
        return [ULAW_DECODE[b] for b in body]
    if tag == WAVE_ALAW:
        return [ALAW_DECODE[b] for b in body]
    return list(struct.unpack(f"<{len(body) // 2}h", body[:len(body) // 2 * 2]))


def read_wav_8k_mono(path):
    """The 16-bit samples of an 8 kHz mono WAV (16-bit PCM, µ-law or A-law)."""
    return _samples(*_read_8k_mono(path))


def read_wav_ulaw(path):
    """The µ-law bytes of an 8 kHz mono WAV: µ-law data as stored, PCM16 and A-law encoded."""
    tag, body = _read_8k_mono(path)
    if tag == WAVE_ULAW:
        return bytes(body)
    return bytes(ulaw_encode(s) for s in _samples(tag, body))
