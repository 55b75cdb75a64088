"""What the benchmark runs inside the notebook's kernel, next to the widget ``w``.

Imported there by the runner (``from benchmarks import kernel_probe``); every function returns
plain JSON-able values, since the runner reads them through a kernel client. Nothing here runs
per event, except the ``last_event`` observer of :func:`paced_start`, which is what the paced
figure measures.
"""

from __future__ import annotations

import gc
import hashlib
import os
import sys
import time
from typing import Any

# (kernel time in ms, len(w.log)) when each response.done was published: a burst's last event.
DONE: list[tuple[float, int]] = []
# (index of the record in w.log, kernel time in ms) of every record published while pacing.
_PACED: list[tuple[int, float]] = []
_observer: Any = None


def install(w: Any) -> int:
    """Stamp every ``response.done`` (one per burst: its last event); returns the kernel's pid."""
    log = w.log

    def on_done(event: dict[str, Any], _now: Any = time.time, _log: Any = log) -> None:
        DONE.append((_now() * 1000.0, len(_log)))

    w.on("response.done", on_done)
    return os.getpid()


def done_count() -> int:
    return len(DONE)


def burst_records(w: Any, start: int, end: int) -> dict[str, Any]:
    """The server records in ``w.log[start:end]``: how many, a digest of their event ids in
    order, and the first and last browser receipt times."""
    digest = hashlib.sha1()
    count = 0
    first = last = None
    for record in w.log[start:end]:
        if record["source"] != "server":
            continue
        count += 1
        digest.update(str(record["event"].get("event_id")).encode())
        digest.update(b"\n")
        last = record["t_browser_ms"]
        if first is None:
            first = last
    return {
        "count": count,
        "ids_sha1": digest.hexdigest(),
        "first_t_browser_ms": first,
        "last_t_browser_ms": last,
    }


def collect() -> None:
    gc.collect()


def retained_bytes(w: Any, start: int, end: int) -> int:
    """An estimate of what the records ``w.log[start:end]`` hold: the record and event dicts and
    every object directly in them (nested objects, such as a response, counted one level deep)."""
    seen: set[int] = set()
    total = 0

    def add(obj: Any) -> None:
        nonlocal total
        if id(obj) not in seen:
            seen.add(id(obj))
            total += sys.getsizeof(obj)

    for record in w.log[start:end]:
        add(record)
        for value in record.values():
            add(value)
        for key, value in record["event"].items():
            add(key)
            add(value)
    return total


def paced_start(w: Any) -> None:
    """Stamp every published record with the kernel's time, from an observer of ``last_event``."""
    global _observer
    _PACED.clear()
    log = w.log

    def stamp(
        change: Any, _now: Any = time.time, _log: Any = log, _add: Any = _PACED.append
    ) -> None:
        _add((len(_log) - 1, _now() * 1000.0))

    _observer = stamp
    w.observe(stamp, "last_event")


def paced_stop(w: Any) -> None:
    """Stop stamping."""
    global _observer
    if _observer is not None:
        w.unobserve(_observer, "last_event")
        _observer = None


def paced_latencies(w: Any, start: int, end: int) -> list[float]:
    """The latency (kernel stamp - browser receipt, ms) of each server event in
    ``w.log[start:end]`` that was stamped; forgets the stamps."""
    latencies = []
    for index, t_kernel in _PACED:
        record = w.log[index]
        if start <= index < end and record["source"] == "server":
            latencies.append(round(t_kernel - record["t_browser_ms"], 3))
    _PACED.clear()
    return latencies
