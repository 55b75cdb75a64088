"""``connection()`` and ``stats()``: the widget's own records of the call's life and of WebRTC."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..messages import STATS_FIELDS
from ._common import Records, duration, scan


def connection(records: Records) -> pd.DataFrame:
    """One row per ``widget.phase`` record, in log order: the handshake as a waterfall.

    Columns:
        ``call``, ``phase`` (``start``, ``secret_requested``, ... ``closed``, and ICE / peer
        connection states as ``ice_<state>`` / ``pc_<state>``), ``t_ms``, ``t_s``,
        ``since_start_ms`` (ms since the call started: its earliest record), ``duration_ms``
        (until the call's next phase; NaN for its last, or if the next one is recorded earlier),
        ``detail`` (the record's other fields as a dict, None if it has none).
    """
    hits, origins = scan(records, ("widget.phase",))
    calls = np.asarray([h.call for h in hits], dtype=np.int64)
    t_ms = np.asarray([h.t for h in hits], dtype=np.float64)
    since_start = t_ms - origins[calls] if len(hits) else t_ms.copy()
    next_t = np.full(len(hits), np.nan)
    same_call_next = np.flatnonzero(calls[1:] == calls[:-1]) if len(hits) > 1 else np.array([], int)
    next_t[same_call_next] = t_ms[same_call_next + 1]
    details = np.empty(len(hits), dtype=object)
    details[:] = [
        {k: v for k, v in h.event.items() if k not in ("type", "phase")} or None for h in hits
    ]
    phases = [h.event.get("phase") for h in hits]
    return pd.DataFrame(
        {
            "call": calls,
            "phase": pd.array([p if isinstance(p, str) else None for p in phases], dtype="str"),
            "t_ms": t_ms,
            "t_s": since_start / 1000.0,
            "since_start_ms": since_start,
            "duration_ms": duration(next_t, t_ms),
            "detail": details,
        }
    )


def stats(records: Records) -> pd.DataFrame:
    """One row per ``widget.stats`` sample (the widget's ``getStats()`` summary), in log order.

    Columns:
        ``call``, ``t_ms``, ``t_s``, the sample's fields (``rtt_ms``, ``jitter_ms``,
        ``packets_lost``, ``packets_received``, ``packets_sent``, ``bytes_sent``,
        ``bytes_received``, ``audio_level_in``, ``audio_level_out``, ``jitter_buffer_ms``,
        ``concealed_samples``, ``available_outgoing_bitrate``; float, NaN when absent), and rates
        over the interval since the call's previous sample: ``bitrate_in_kbps`` and
        ``bitrate_out_kbps`` (from the byte counters), ``packet_loss_pct`` (lost / (lost +
        received) packets in the interval). A rate is NaN for a call's first sample, and when a
        counter went backwards (a restarted peer connection) or time did not advance.
    """
    hits, origins = scan(records, ("widget.stats",))
    n = len(hits)
    calls = np.asarray([h.call for h in hits], dtype=np.int64)
    t_ms = np.asarray([h.t for h in hits], dtype=np.float64)
    data: dict[str, Any] = {
        "call": calls,
        "t_ms": t_ms,
        "t_s": (t_ms - origins[calls]) / 1000.0 if n else t_ms.copy(),
    }
    for field in STATS_FIELDS:
        data[field] = np.asarray([_number(h.event.get(field)) for h in hits], dtype=np.float64)

    # Interval rates: each sample against the previous one of the same call.
    previous = np.full(n, -1)
    if n > 1:
        same = np.flatnonzero(calls[1:] == calls[:-1]) + 1
        previous[same] = same - 1
    has_previous = previous >= 0
    prev = np.where(has_previous, previous, 0)

    def delta(values: np.ndarray) -> np.ndarray:
        d = np.where(has_previous, values - values[prev], np.nan) if n else values.copy()
        d[d < 0] = np.nan
        return d

    dt = delta(t_ms)
    dt[dt == 0] = np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        data["bitrate_in_kbps"] = delta(data["bytes_received"]) * 8.0 / dt  # bits/ms = kbit/s
        data["bitrate_out_kbps"] = delta(data["bytes_sent"]) * 8.0 / dt
        lost, received = delta(data["packets_lost"]), delta(data["packets_received"])
        total = lost + received
        total[total == 0] = np.nan
        data["packet_loss_pct"] = 100.0 * lost / total
    return pd.DataFrame(data)


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return np.nan
    return float(value)
