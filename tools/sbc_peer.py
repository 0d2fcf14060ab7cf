#!/usr/bin/env python3
"""An SBC that places one SDES-SRTP call to `attendant serve` over UDP, and reports what it saw.

    tools/sbc_peer.py HOST:PORT [--wav 8k-ulaw.wav] [--bad-srtp] [--lead-ms 400] [--tail-ms 2000]

It plays the part of a Teams Direct Routing SBC toward a contact-center platform:

1. INVITE with an SDES offer: `m=audio PORT RTP/SAVP 0 101`, PCMU and telephone-event,
   `a=rtcp-mux`, and `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:<30 random bytes>` (RFC 4568).
   The INVITE is retransmitted on timer A until a response arrives (RFC 3261 §17.1.1.2).
2. 100/180/200 are recorded. The 200's SDP answer is checked: RTP/SAVP, one payload type we
   offered, an `a=crypto` line whose tag is one we offered and whose key is the worker's own.
3. ACK to the remote target (the 200's Contact) with the route set (the 200's Record-Route,
   reversed) and the To tag of the 200. A retransmitted 200 is ACKed again.
4. The WAV (8 kHz mono: µ-law, A-law or 16-bit PCM) is sent as SRTP-protected PCMU, 160
   samples every 20 ms, marker bit on the first packet, after `--lead-ms` of silence and
   followed by `--tail-ms` of silence. An SRTCP sender report goes out every 2 s (rtcp-mux). With
   `--bad-srtp`, every 10th packet is preceded by a bad one, in turn: payload bit flipped,
   sequence number changed, exact replay of a recent packet, replay of one older than the
   128-packet window, cut shorter than header + tag, tag cut short, cut to 8 bytes, tampered
   SRTCP (fresh index), replayed SRTCP. The worker must drop them all and play the call as if
   they were never sent; `sent.expect_auth_failures`, `expect_replays` and `expect_malformed`
   say how the worker should count them (libsrtp's and RFC 3711's order: replay check first).
5. Meanwhile the worker's SRTP on the media socket is unprotected with the key of its answer and
   checked: payload type, sequence continuity, timestamp step (160 per 20 ms), marker bit on the
   first packet, one SSRC, payload size; the µ-law is decoded and its RMS level measured per
   20 ms frame and per second of RTP time. SRTCP from the worker is unprotected and parsed too.
6. BYE (retransmitted on timer E) and its 200; then a short wait for the worker's RTCP BYE.

A JSON summary goes to stdout. Exit status: 0 when the call went through cleanly, 1 on a
protocol failure (listed in `failures`), 2 on bad arguments or input files.

Needs `pylibsrtp` (PyPI; wraps libsrtp), which the tests install with pip.
"""
import os
import sys

# The peer is the package tools/sbc/ (one module per part: SIP, SDP, RTP, sender, receiver, report);
# it and tools/g711wav.py are imported from this file's directory, whatever the working directory.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sbc.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(__doc__))
