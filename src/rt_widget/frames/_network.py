"""``connection()`` and ``stats()``: the widget's own records of the call's life and of WebRTC."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..messages import STATS_FIELDS
from ._common import Records, collector_paused, duration, scan


@collector_paused
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
    n = len(hits)
    calls = np.asarray(hits.call, dtype=np.int64)
    t_ms = np.asarray(hits.t, dtype=np.float64)
    since_start = t_ms - origins[calls]
    # each phase lasts until the next phase of the same call
    next_t = np.full(n, np.nan)
    same_call = np.flatnonzero(calls[1:] == calls[:-1])
    next_t[same_call] = t_ms[same_call + 1]
    details = np.empty(n, dtype=object)
    details[:] = [
        {k: v for k, v in event.items() if k not in ("type", "phase")} or None
        for event in hits.event
    ]
    phases = [event.get("phase") for event in hits.event]
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


@collector_paused
def stats(records: Records) -> pd.DataFrame:
    """One row per ``widget.stats`` sample (the widget's ``getStats()`` summary), in log order.

    Columns:
        ``call``, ``t_ms``, ``t_s``, the sample's fields (``rtt_ms``, ``jitter_ms``,
        ``packets_lost``, ``packets_received``, ``packets_sent``, ``bytes_sent``,
        ``bytes_received``, ``audio_level_in``, ``audio_level_out``, ``jitter_buffer_ms``,
        ``concealed_samples``, ``available_outgoing_bitrate``; float, NaN when absent or not a
        number), and rates
        over the interval since the call's previous sample: ``bitrate_in_kbps`` and
        ``bitrate_out_kbps`` (from the byte counters), ``packet_loss_pct`` (lost / (lost +
        received) packets in the interval). A rate is NaN for a call's first sample, and when a
        counter went backwards (a restarted peer connection) or time did not advance.
    """
    hits, origins = scan(records, ("widget.stats",))
    n = len(hits)
    calls = np.asarray(hits.call, dtype=np.int64)
    t_ms = np.asarray(hits.t, dtype=np.float64)
    samples = hits.event
    data: dict[str, Any] = {"call": calls, "t_ms": t_ms, "t_s": (t_ms - origins[calls]) / 1000.0}
    data.update(_fields(samples, STATS_FIELDS))

    # Interval rates: each sample against the previous one of the same call.
    previous = np.full(n, -1)
    same_call = np.flatnonzero(calls[1:] == calls[:-1]) + 1
    previous[same_call] = same_call - 1
    has_previous = previous >= 0

    def delta(values: np.ndarray) -> np.ndarray:
        d = np.full(n, np.nan)
        d[has_previous] = values[has_previous] - values[previous[has_previous]]
        d[d < 0] = np.nan  # a counter that went backwards was reset: no rate
        return d

    dt = delta(t_ms)
    dt[dt == 0] = np.nan
    lost, received = delta(data["packets_lost"]), delta(data["packets_received"])
    packets = lost + received
    packets[packets == 0] = np.nan
    data["bitrate_in_kbps"] = delta(data["bytes_received"]) * 8.0 / dt  # bits per ms = kbit/s
    data["bitrate_out_kbps"] = delta(data["bytes_sent"]) * 8.0 / dt
    data["packet_loss_pct"] = 100.0 * lost / packets
    return pd.DataFrame(data)


def _fields(samples: Sequence[Mapping[str, Any]], fields: Sequence[str]) -> dict[str, np.ndarray]:
    """Each field of every sample as floats, NaN where absent.

    One numpy conversion for the whole table (None becomes NaN) is five times faster than value
    by value; it fails on a value that is no number, and then each value is read on its own.
    """
    try:
        table = np.array([tuple(map(sample.get, fields)) for sample in samples],
                         dtype=np.float64).reshape(len(samples), len(fields))
        return {field: table[:, i].copy() for i, field in enumerate(fields)}
    except (TypeError, ValueError):
        return {field: np.array([_number(sample.get(field)) for sample in samples],
                                dtype=np.float64) for field in fields}


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return np.nan
    return float(value)
