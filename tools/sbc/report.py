"""What the SBC peer reports about the worker's media: the `received` part of the JSON summary,
the correlation with a reference recording, and the checks that make the call fail."""
import math

from g711wav import ULAW_DECODE, ULAW_SILENCE

from .receiver import dbfs
from .rtp import CLOCK, FRAME_SAMPLES

ACTIVE_DBFS = -50.0  # frames above this level count as sound


def summary(rx):
    """The `received` part of the summary, from a Receiver."""
    seconds = [dbfs(*rx.seconds[k]) for k in sorted(rx.seconds)]
    frames = [rx.frame_levels.get(i, None) for i in range(max(rx.frame_levels) + 1)] if rx.frame_levels else []
    active = [i for i, v in enumerate(frames) if v is not None and v > ACTIVE_DBFS]
    wall = (rx.last_arrival - rx.first_arrival) * 1000 if rx.first_arrival is not None else 0.0
    return {
        "datagrams": rx.datagrams,
        "from": sorted(rx.from_addrs),
        "not_rtp": rx.not_rtp,
        "unprotect_ok": rx.unprotect_ok,
        "auth_failed": rx.auth_failed,
        "replay_failed": rx.replay_failed,
        "other_failed": rx.other_failed[:10],
        "audio_packets": rx.audio_packets,
        "dtmf_packets": rx.dtmf_packets,
        "wrong_pt": rx.wrong_pt,
        "ssrcs": rx.ssrcs,
        "ssrc_constant": len(rx.ssrcs) <= 1,
        "first_marker": rx.first_marker,
        "markers_after_first": rx.markers_after_first,
        "seq_gaps": rx.seq_gaps,
        "seq_backwards": rx.seq_backwards,
        "ts_step": FRAME_SAMPLES,
        "ts_errors": rx.ts_errors,
        "payload_len_errors": rx.payload_len_errors,
        "media_span_ms": round(rx.last_ts_ext / CLOCK * 1000, 1),
        "wall_span_ms": round(wall, 1),
        "max_interarrival_ms": round(rx.max_interarrival * 1000, 1),
        "level_dbfs_per_second": seconds,
        "frame_level_dbfs": frames,
        "active_dbfs_threshold": ACTIVE_DBFS,
        "first_active_ms": active[0] * 20 if active else None,
        "last_active_ms": active[-1] * 20 + 20 if active else None,
        "active_frames": len(active),
        "rtcp_ok": rx.rtcp_ok,
        "rtcp_failed": rx.rtcp_failed,
        "rtcp_types": rx.rtcp_types,
        "rtcp_bye": rx.rtcp_bye,
        "worker_report": rx.worker_report,
        "worker_echoed_our_sr": rx.worker_echoed_our_sr,
        "rtt_ms": rx.rtt_ms,
    }


def compare(rx, reference):
    """Best normalized cross-correlation of what was received with `reference` (µ-law),
    over lags of -5 to +20 ms (the worker's resampler delays a little)."""
    if not rx.payloads:
        return {"correlation": None, "lag_ms": None}
    silence = bytes([ULAW_SILENCE]) * FRAME_SAMPLES
    got = [ULAW_DECODE[b] for i in range(max(rx.payloads) + 1) for b in rx.payloads.get(i, silence)]
    ref = [ULAW_DECODE[b] for b in reference]
    ref_energy = sum(x * x for x in ref)
    best = (-2.0, 0)
    for lag in range(-40, 161):
        a = got[max(0, lag):max(0, lag) + len(ref)]
        b = ref[max(0, -lag):max(0, -lag) + len(a)]
        energy = sum(x * x for x in a)
        if not energy or not ref_energy:
            continue
        c = sum(map(int.__mul__, a, b)) / math.sqrt(energy * ref_energy)
        best = max(best, (c, lag))
    return {"correlation": round(best[0], 4), "lag_ms": best[1] / 8}


def failures(received):
    """What is wrong with the worker's media, from the `received` summary."""
    rx = received
    checks = [
        (rx["audio_packets"] > 0, "no audio packets received from the worker"),
        (rx["auth_failed"] == 0, f"{rx['auth_failed']} packets from the worker failed SRTP authentication"),
        (rx["replay_failed"] == 0, f"{rx['replay_failed']} packets from the worker were replays"),
        (not rx["other_failed"], f"unprotect errors: {rx['other_failed']}"),
        (rx["rtcp_failed"] == 0, f"{rx['rtcp_failed']} SRTCP packets from the worker failed"),
        (not rx["wrong_pt"], f"unexpected payload types {rx['wrong_pt']}"),
        (rx["ssrc_constant"], f"SSRC changed: {rx['ssrcs']}"),
        (rx["first_marker"] is not False, "first packet from the worker has no marker bit"),
        (rx["ts_errors"] == 0, f"{rx['ts_errors']} timestamp steps other than {FRAME_SAMPLES} per packet"),
        (rx["seq_backwards"] == 0, f"{rx['seq_backwards']} packets out of order or duplicated"),
        (rx["payload_len_errors"] == 0, f"{rx['payload_len_errors']} payloads not {FRAME_SAMPLES} bytes"),
    ]
    return [what for good, what in checks if not good]
