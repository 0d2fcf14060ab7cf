"""The command line of tools/sbc_peer.py."""
import argparse
import json

from g711wav import read_wav_ulaw

from . import pylibsrtp
from .peer import run
from .sdp import SUITES


def main(doc):
    """Parses the command line (`doc`, the entry point's docstring, gives the help text), places
    the call and prints the summary. Returns the exit status: 0 when the call went through
    cleanly, 1 on a protocol failure; bad arguments exit with 2."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0], epilog=doc.split("\n\n", 2)[2], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("worker", metavar="HOST:PORT", help="the worker's SIP UDP address")
    p.add_argument("--wav", help="8 kHz mono WAV (µ-law, A-law or 16-bit PCM) to send as the caller's audio")
    p.add_argument("--lead-ms", type=int, default=400, help="silence sent before the WAV (default 400)")
    p.add_argument("--tail-ms", type=int, default=2000, help="silence sent after the WAV (default 2000)")
    p.add_argument("--drain-ms", type=int, default=200, help="wait after the last packet before BYE (default 200)")
    p.add_argument("--bad-srtp", action="store_true", help="interleave tampered, replayed and truncated SRTP/SRTCP")
    p.add_argument("--no-rtcp", action="store_true", help="send no SRTCP")
    p.add_argument("--suites", default="AES_CM_128_HMAC_SHA1_80", help="crypto suites to offer, comma-separated, in order (default AES_CM_128_HMAC_SHA1_80)")
    p.add_argument("--no-record-route", dest="record_route", action="store_false", help="send the INVITE without a Record-Route")
    p.add_argument("--local-ip", default="127.0.0.1", help="address for the SIP and media sockets (default 127.0.0.1)")
    p.add_argument("--sip-port", type=int, default=0, help="local SIP port (default any)")
    p.add_argument("--rtp-port", type=int, default=0, help="local media port (default any even port)")
    p.add_argument("--user", default="ivr", help="user part of the Request-URI (default ivr)")
    p.add_argument("--caller", default="+15551230001", help="user part of From and Contact")
    p.add_argument("--reference", help="8 kHz mono WAV the received audio is expected to start with (a prompt): report the correlation")
    p.add_argument("--compact", action="store_true", help="print the summary on one line")
    args = p.parse_args()
    args.suites = [s.strip() for s in args.suites.split(",") if s.strip()]
    if pylibsrtp is None:
        p.error("pylibsrtp is not installed: python3 -m pip install pylibsrtp")
    for s in args.suites:
        if s not in SUITES:
            p.error(f"unsupported suite {s}; choose from {', '.join(SUITES)}")
    for wav in (args.wav, args.reference):
        try:
            if wav:
                read_wav_ulaw(wav)
        except ValueError as e:  # g711wav.WavError, which names the file
            p.error(str(e))
    summary = run(args)
    print(json.dumps(summary, indent=None if args.compact else 1))
    return 0 if summary["ok"] else 1
