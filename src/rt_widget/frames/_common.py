"""What every frame shares: record times, call numbering, GA event names, one pass over the log."""

from __future__ import annotations

import functools
import gc
import math
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from typing import Any, TypeVar, cast

import numpy as np
import pandas as pd

Record = Mapping[str, Any]
#: What the frame functions accept: an :class:`~rt_widget.EventLog` or any iterable of its records.
Records = Iterable[Record]

NAN = math.nan
_INF = math.inf

#: Beta event names still found in older files, and the GA name each is read as.
GA_NAMES: Mapping[str, str] = {
    "response.audio_transcript.delta": "response.output_audio_transcript.delta",
    "response.audio_transcript.done": "response.output_audio_transcript.done",
    "response.audio.delta": "response.output_audio.delta",
    "response.audio.done": "response.output_audio.done",
    "response.text.delta": "response.output_text.delta",
    "response.text.done": "response.output_text.done",
    "conversation.item.created": "conversation.item.added",
}


_Builder = TypeVar("_Builder", bound=Callable[..., pd.DataFrame])


def collector_paused(build: _Builder) -> _Builder:
    """Run a frame function with the cyclic garbage collector paused.

    A frame's temporaries (per-item objects, dicts keyed by tuples) are acyclic and freed by
    reference counting, but while they live they count as new objects: every few hundred of them
    start a collection, and enough of them start a full one, which walks every record of the log
    (measured at 1M records: 1.5 s of transcripts()' 4 s). Paused, nothing is walked; the
    collector resumes at the end, as it was.
    """

    @functools.wraps(build)
    def run(*args: Any, **kwargs: Any) -> pd.DataFrame:
        collecting = gc.isenabled()
        gc.disable()
        try:
            return build(*args, **kwargs)
        finally:
            if collecting:
                gc.enable()

    return cast(_Builder, run)


class Hits:
    """The records :func:`scan` kept, as parallel columns: position in the log, call, time, GA
    type, event. Columns rather than a tuple per record: at a million records, every object that
    outlives the loop makes the cyclic garbage collector walk the whole log again."""

    __slots__ = ("call", "event", "pos", "t", "type")

    def __init__(self) -> None:
        self.pos: list[int] = []
        self.call: list[int] = []
        self.t: list[float] = []
        self.type: list[str] = []
        self.event: list[Mapping[str, Any]] = []

    def __len__(self) -> int:
        return len(self.pos)

    def __iter__(self) -> Iterator[tuple[int, int, float, str, Mapping[str, Any]]]:
        """(pos, call, t, type, event) per record, in log order."""
        return zip(self.pos, self.call, self.t, self.type, self.event, strict=True)


def scan(records: Records, wanted: Collection[str]) -> tuple[Hits, np.ndarray]:
    """Walk the log once, in order: number the calls and keep the records whose GA type is wanted.

    Returns the kept records and ``origins``, each call's start in epoch ms (``origins[call]``,
    NaN for a call without times). A call starts at its earliest record time, not at its first
    record, so offsets from it are never negative even when records arrive out of order.

    Calls: ``call`` counts the ``widget.phase`` records with ``phase == "start"`` seen so far, the
    start record included. Records before any start (files from other tools, or a log started
    mid-call) are call 0; a widget's first call is call 1.

    A record whose ``event_id`` was already seen in the same call is a duplicate (a re-sent batch,
    a file concatenated twice) and is skipped, so it cannot double a transcript or move a time.
    """
    # recorded name -> GA name, for the wanted types only: one lookup per record does both
    keep = {name: name for name in wanted}
    keep.update((old, new) for old, new in GA_NAMES.items() if new in keep)
    keep_get = keep.get
    hits = Hits()
    add_pos, add_call, add_t = hits.pos.append, hits.call.append, hits.t.append
    add_type, add_event = hits.type.append, hits.event.append
    origins: list[float] = [_INF]
    call = 0
    seen: set[str] = set()
    for pos, record in enumerate(records):
        event = record["event"]
        t = record.get("t_browser_ms")
        if t is None or t != t:  # no browser time (None, or NaN): the kernel's
            t = record.get("t_kernel_ms")
            if t is None:
                t = NAN
        kind = event.get("type")
        if kind == "widget.phase" and event.get("phase") == "start":
            call += 1
            origins.append(_INF)
            seen = set()
        if t < origins[call]:  # False for NaN, which never becomes an origin
            origins[call] = t
        if kind.__class__ is not str:
            continue  # not a Realtime event: it counts for the call's start, nothing more
        kind = keep_get(kind)
        if kind is None:
            continue
        event_id = event.get("event_id")
        if event_id.__class__ is str:
            if event_id in seen:
                continue
            seen.add(event_id)
        add_pos(pos)
        add_call(call)
        add_t(t)
        add_type(kind)
        add_event(event)
    origin = np.asarray(origins, dtype=np.float64)
    origin[np.isinf(origin)] = np.nan
    return hits, origin


def call_origins(calls: np.ndarray, t_ms: np.ndarray, n_calls: int) -> np.ndarray:
    """Each call's earliest time in ``t_ms`` (NaN for a call without one): ``origins[call]``."""
    origins = np.full(n_calls, np.inf)
    if len(calls):
        np.fmin.at(origins, calls, t_ms)  # fmin: NaN times never win
    origins[np.isinf(origins)] = np.nan
    return origins


def seconds_since_start(t_ms: Any, calls: Any, origins: np.ndarray) -> np.ndarray:
    """Seconds from each call's start to ``t_ms`` (vectorised; NaN stays NaN)."""
    t = np.asarray(t_ms, dtype=np.float64)
    seconds = origins[np.asarray(calls, dtype=np.intp)]
    # in place: one new array rather than three (fresh memory is dear at a million rows)
    np.subtract(t, seconds, out=seconds)
    seconds /= 1000.0
    return seconds


def add_seconds(frame: pd.DataFrame, origins: np.ndarray, *columns: str) -> None:
    """Insert ``<name>_s`` after each ``<name>_ms`` column: seconds since the call started."""
    for column in columns:
        stem = column[: -len("_ms")]
        values = seconds_since_start(frame[column].to_numpy(), frame["call"].to_numpy(), origins)
        frame.insert(frame.columns.get_loc(column) + 1, f"{stem}_s", values)


def duration(end: Any, start: Any) -> np.ndarray:
    """``end - start`` in ms, NaN when either is missing or when the result would be negative.

    A negative duration can only come from records out of order or from different clocks; giving
    NaN keeps a wrong number out of a mean.
    """
    d = np.asarray(end, dtype=np.float64) - np.asarray(start, dtype=np.float64)
    d[d < 0] = np.nan
    return d


def dict_or_empty(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a dict, else an empty one (events from files are not always well
    formed)."""
    return value if isinstance(value, dict) else {}


def str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def earliest(current: float, t: float) -> float:
    """The earlier of two times, ignoring NaN."""
    return t if current != current or t < current else current
