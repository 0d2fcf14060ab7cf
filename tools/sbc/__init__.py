"""The SBC peer of tools/sbc_peer.py, which documents what it does.

    sip       SIP messages (parse, build) and the UAC side of the one dialog
    sdp       the SDES offer, and the answer parsed and checked
    rtp       RTP and RTCP packet formats, timing constants
    sender    the caller's SRTP stream (with bad packets when asked) and SRTCP
    receiver  the worker's SRTP and SRTCP, unprotected and checked packet by packet
    report    the JSON summary of what was received, and the end-of-call checks
    peer      the sockets and the call from INVITE to BYE
    cli       the command line
"""

try:
    import pylibsrtp  # PyPI; wraps libsrtp
except ImportError:  # pragma: no cover - reported by the command line as a usage error
    pylibsrtp = None


class ProtocolFailure(Exception):
    """A failure that ends the call early; reported in `failures`."""
