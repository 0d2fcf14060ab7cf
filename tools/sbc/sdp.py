"""SDP for the SBC peer: the SDES-SRTP offer (RFC 4568), and the worker's answer parsed and checked."""
import base64
import random
import re

from . import ProtocolFailure

# SDES suite name -> libsrtp profile (both with an 80-bit SRTCP tag; the SRTP tag is 80 or 32 bits)
SUITES = {"AES_CM_128_HMAC_SHA1_80": "SRTP_PROFILE_AES128_CM_SHA1_80", "AES_CM_128_HMAC_SHA1_32": "SRTP_PROFILE_AES128_CM_SHA1_32"}
CRYPTO_RE = re.compile(r"^(\d{1,9})\s+(\S+)\s+inline:([A-Za-z0-9+/=]+)(\|\S*)?(\s.*)?$")


def offer(ip, media_port, suites, keys):
    """PCMU and telephone-event over RTP/SAVP with rtcp-mux, one a=crypto per suite (tags from 1)."""
    lines = [
        "v=0",
        f"o=sbc {random.getrandbits(31)} 1 IN IP4 {ip}",
        "s=-",
        f"c=IN IP4 {ip}",
        "t=0 0",
        f"m=audio {media_port} RTP/SAVP 0 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=ptime:20",
        "a=sendrecv",
        "a=rtcp-mux",
    ]
    for tag, suite in enumerate(suites, 1):
        lines.append(f"a=crypto:{tag} {suite} inline:{base64.b64encode(keys[tag]).decode()}")
    return "\r\n".join(lines) + "\r\n"


def parse_sdp(text):
    """The first audio stream of an SDP: address, port, protocol, formats and attributes."""
    session_c, media = None, None
    for line in text.replace("\r\n", "\n").split("\n"):
        line = line.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        kind, value = line[0], line[2:]
        if kind == "m":
            if media is not None:
                break  # only the first m= line matters here
            parts = value.split()
            media = {"media": parts[0], "port": int(parts[1].split("/")[0]), "protocol": parts[2], "formats": parts[3:], "attrs": [], "c": None}
        elif kind == "c":
            addr = value.split()[-1].split("/")[0]
            if media is None:
                session_c = addr
            else:
                media["c"] = addr
        elif kind == "a" and media is not None:
            name, _, val = value.partition(":")
            media["attrs"].append((name, val))
    if media is None:
        raise ValueError("no m= line in the answer")
    media["address"] = media["c"] or session_c
    return media


def read_answer(sdp):
    """What the answer says, as reported in the summary's `answer` (crypto not yet checked)."""
    try:
        m = parse_sdp(sdp)
    except (ValueError, IndexError) as e:
        raise ProtocolFailure(f"bad SDP answer: {e}")
    rtpmaps = {v.split()[0]: v.split()[1] for n, v in m["attrs"] if n == "rtpmap" and len(v.split()) > 1}
    formats = [int(f) for f in m["formats"] if f.isdigit()]
    audio = [pt for pt in formats if pt != 101 and not rtpmaps.get(str(pt), "").lower().startswith("telephone-event")]
    te = [pt for pt in formats if rtpmaps.get(str(pt), "").lower().startswith("telephone-event")]
    return {
        "address": m["address"],
        "port": m["port"],
        "protocol": m["protocol"],
        "payload_type": audio[0] if audio else None,
        "telephone_event": te[0] if te else None,
        "rtcp_mux": any(n == "rtcp-mux" for n, _ in m["attrs"]),
        "crypto": [v for n, v in m["attrs"] if n == "crypto"],
        "crypto_tag": None,
        "crypto_suite": None,
        "key_differs": None,
        "sdp": sdp,
    }


def check_answer(answer, suites, keys, fail):
    """Checks the answer against our offer (filling in its crypto fields); returns the crypto
    tag, the suite and the worker's key||salt. Raises ProtocolFailure when no SRTP call can follow; `fail(what)`
    records a lesser failure."""
    if answer["protocol"].upper() != "RTP/SAVP":
        raise ProtocolFailure(f"answer protocol is {answer['protocol']}, not RTP/SAVP")
    if answer["port"] == 0:
        raise ProtocolFailure("the worker rejected the audio stream (port 0)")
    if answer["payload_type"] != 0:
        fail(f"answer payload type {answer['payload_type']}, expected 0 (PCMU)")
    cryptos = answer["crypto"]
    if len(cryptos) != 1:
        raise ProtocolFailure(f"answer has {len(cryptos)} a=crypto lines, expected 1")
    c = CRYPTO_RE.match(cryptos[0].strip())
    if not c:
        raise ProtocolFailure(f"unparseable a=crypto in the answer: {cryptos[0]!r}")
    tag, suite = int(c.group(1)), c.group(2)
    try:
        key = base64.b64decode(c.group(3), validate=True)
    except ValueError:
        raise ProtocolFailure(f"a=crypto key is not base64: {cryptos[0]!r}")
    answer.update({"crypto_tag": tag, "crypto_suite": suite})
    if tag not in keys or suites[tag - 1] != suite:
        raise ProtocolFailure(f"answer crypto tag {tag} / suite {suite} is not one we offered")
    if len(key) != 30:
        raise ProtocolFailure(f"answer key||salt is {len(key)} bytes, expected 30")
    answer["key_differs"] = key != keys[tag]
    if key == keys[tag]:
        fail("the worker answered with our own SRTP key")
    return tag, suite, key
