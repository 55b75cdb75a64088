"""The kernel's record of a session: every data-channel event and widget record, in order.

Kept in a plain Python list on purpose: a synced or observed list trait appended per event is
quadratic (../shared/FACTS.md measured 127 s for 5k events). The analysis methods (``events()``,
``turns()``...) live in :mod:`rt_widget.frames`; they are reached from here so that ``w.log`` and
``EventLog.load(path)`` answer the same questions.
"""

from __future__ import annotations

import gc
import json
import os
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, overload

import orjson

from .messages import SOURCES, Source

if TYPE_CHECKING:
    import pandas as pd

Record = dict[str, Any]
_Path = str | os.PathLike[str]


def now_ms() -> float:
    """Unix epoch milliseconds, the unit of every time in the log."""
    return time.time() * 1000.0


class EventLog:
    """Append-only, ordered log of records.

    Each record is ``{"seq", "source", "t_browser_ms", "t_kernel_ms", "event"}``: ``seq`` counts
    from 0 in arrival order, ``source`` is ``server`` (received on the data channel), ``client``
    (sent on it) or ``widget`` (the widget's own records, ``event.type`` starting ``widget.``).
    """

    __slots__ = ("_records",)

    def __init__(self, records: Iterable[Record] = ()) -> None:
        self._records: list[Record] = []
        for record in records:
            self._records.append(_checked(record, len(self._records)))

    # -- writing ----------------------------------------------------------------------------------
    def append(
        self,
        source: Source,
        event: dict[str, Any],
        t_browser_ms: float | None = None,
        t_kernel_ms: float | None = None,
    ) -> Record:
        """Add one record and return it. ``seq`` and (by default) ``t_kernel_ms`` are stamped here."""
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, not {source!r}")
        if not isinstance(event, dict):
            raise TypeError(f"event must be a dict, not {type(event).__name__}")
        record: Record = {
            "seq": len(self._records),
            "source": source,
            "t_browser_ms": t_browser_ms,
            "t_kernel_ms": now_ms() if t_kernel_ms is None else t_kernel_ms,
            "event": event,
        }
        self._records.append(record)
        return record

    # -- reading ----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[Record]:
        return iter(self._records)

    @overload
    def __getitem__(self, index: int) -> Record: ...
    @overload
    def __getitem__(self, index: slice) -> list[Record]: ...
    def __getitem__(self, index: int | slice) -> Record | list[Record]:
        return self._records[index]

    def __repr__(self) -> str:
        if not self._records:
            return "EventLog(0 records)"
        counts: dict[str, int] = {}
        for record in self._records:
            counts[record["source"]] = counts.get(record["source"], 0) + 1
        parts = ", ".join(f"{n} {source}" for source, n in counts.items())
        return f"EventLog({len(self._records)} records: {parts})"

    def of_type(self, event_type: str) -> list[Record]:
        """The records whose ``event["type"]`` is ``event_type`` (``"*"`` for all)."""
        if event_type == "*":
            return list(self._records)
        return [r for r in self._records if r["event"].get("type") == event_type]

    # -- files ------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the log as JSON Lines, one record per line."""
        with open(path, "w", encoding="utf-8") as f:
            for record in self._records:
                f.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
                f.write("\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> EventLog:
        """Read a JSON Lines file written by :meth:`save`. Blank lines are skipped; a line that is
        not a record raises ``ValueError`` naming the line."""
        log = cls()
        # JSON yields trees, which the cyclic collector can never free; pausing it while millions
        # of dicts are made keeps loading linear (measured: 1M records 14.3 s -> 9.1 s).
        collecting = gc.isenabled()
        gc.disable()
        try:
            with open(path, encoding="utf-8") as f:
                done = 0  # lines read so far
                try:
                    # A megabyte of lines at a time, so that parsing and the big-integer guard
                    # run as C loops over the whole chunk.
                    while lines := f.readlines(_CHUNK_CHARS):
                        _add_lines(log._records, lines, path, done)
                        done += len(lines)
                except UnicodeDecodeError:
                    # Reading ahead met bytes that are not UTF-8. Read the rest again line by
                    # line, as the file decodes: a bad record before those bytes is reported
                    # first, and the decoding error itself is the one line iteration gives.
                    with open(path, encoding="utf-8") as again:
                        for n, line in enumerate(again):
                            if n >= done:
                                _add_lines(log._records, [line], path, n)
                    raise
        finally:
            if collecting:
                gc.enable()
        if collecting:
            _promote_to_oldest_generation()
        return log

    # -- analysis (see rt_widget.frames) ----------------------------------------------------------
    def events(self) -> pd.DataFrame:
        """One row per record."""
        from . import frames

        return frames.events(self)

    def transcripts(self) -> pd.DataFrame:
        """One row per utterance (user and assistant), in conversation order."""
        from . import frames

        return frames.transcripts(self)

    def turns(self) -> pd.DataFrame:
        """One row per response, with the latency of each step and the usage."""
        from . import frames

        return frames.turns(self)

    def connection(self) -> pd.DataFrame:
        """One row per call phase, for a waterfall of the handshake."""
        from . import frames

        return frames.connection(self)

    def stats(self) -> pd.DataFrame:
        """The ``widget.stats`` samples (getStats) as a time series."""
        from . import frames

        return frames.stats(self)


#: Lines are read about a megabyte at a time (see :meth:`EventLog.load`).
_CHUNK_CHARS = 1 << 20
#: A record's fields, in the order :meth:`EventLog.save` writes them.
_FIELDS = ("seq", "source", "t_browser_ms", "t_kernel_ms", "event")
_BLANK = object()
_DIGIT_MARKS = bytes.maketrans(b"0123456789", b"\0" * 10)
_LONG_DIGIT_RUN = b"\0" * 19


class _Failure:
    """A line that is not JSON, kept until its turn so that errors are raised in line order."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


def _add_lines(records: list[Record], lines: list[str], path: _Path, before: int) -> None:
    """Append the records of ``lines``, lines ``before + 1``... of the file ``path``."""
    append = records.append
    for lineno, value in enumerate(_parse_lines(lines, path, before), start=before + 1):
        # A record just as save() writes it, which _checked() would only copy, is kept as it is
        # (a new dict per line would cost a fifth of the load).
        if value.__class__ is dict and tuple(value) == _FIELDS:
            seq, source, t_browser, t_kernel, event = value.values()
            if (
                seq.__class__ is int
                and source in SOURCES
                and (t_browser is None or t_browser.__class__ is float)
                and (t_kernel is None or t_kernel.__class__ is float)
                and event.__class__ is dict
            ):
                append(value)
                continue
        if value is _BLANK:
            continue
        if value.__class__ is _Failure:
            raise value.error from None
        try:
            append(_checked(value, len(records)))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}:{lineno}: {exc}") from None


def _parse_lines(lines: list[str], path: _Path, before: int) -> list[Any]:
    """Each line's JSON value, exactly as ``json.loads`` reads it; ``_BLANK`` for a blank line,
    a ``_Failure`` for one that is not JSON.

    orjson reads what json.loads reads, to the same values (checked by fuzzing both), three
    times faster. json.loads reads the lines orjson refuses (NaN and Infinity, lone surrogates,
    numbers beyond a double, and errors, which json words as it always did), and those where an
    integer might need more than 64 bits: orjson would give a float.
    """
    try:
        values = list(map(orjson.loads, lines))  # the whole chunk in one C loop
    except orjson.JSONDecodeError:  # a blank or odd line somewhere: line by line
        values = [_parse_line(line, path, n) for n, line in enumerate(lines, start=before + 1)]
    for i in _long_digit_runs(lines):
        values[i] = _parse_line_by_json(lines[i], path, before + 1 + i)
    return values


def _parse_line(line: str, path: _Path, lineno: int) -> Any:
    """One line by orjson, or by json.loads when orjson refuses it (see :func:`_parse_lines`)."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return _parse_line_by_json(line, path, lineno)


def _parse_line_by_json(line: str, path: _Path, lineno: int) -> Any:
    """One line by json.loads: its value, ``_BLANK`` for a blank line, a ``_Failure`` naming the
    line for one that is not JSON."""
    if not line.strip():
        return _BLANK
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        return _Failure(ValueError(f"{path}:{lineno}: not JSON ({exc.msg})"))
    except RecursionError as exc:  # nested too deep for json (orjson stops at 1024 levels)
        return _Failure(exc)


def _long_digit_runs(lines: list[str]) -> list[int]:
    """Indices of the lines with 19 digits in a row, as the shortest integer beyond 64 bits has
    (long fractions match too; they only cost a slower read). C passes over the whole chunk."""
    text = "".join(lines).encode("utf-8", "surrogatepass")
    marks = text.translate(_DIGIT_MARKS)
    found: list[int] = []
    line, start = 0, 0
    at = marks.find(_LONG_DIGIT_RUN)
    while at >= 0:
        line += text.count(b"\n", start, at)  # each line but the last ends in "\n" (text mode)
        found.append(line)
        start = text.find(b"\n", at)
        if start < 0:
            break
        at = marks.find(_LONG_DIGIT_RUN, start)
    return found


def _promote_to_oldest_generation() -> None:
    """Move every object the collector tracks into its oldest generation, without walking them.

    The records of a loaded log live as long as the log, but they are born in the youngest
    generation: left there, the next collections walk all of them twice (young, then middle
    generation) before they settle, each walk 0.1 s per 100k records. ``freeze`` then
    ``unfreeze`` moves them in two list splices. Skipped when something else in the process has
    frozen objects, which unfreezing would release.
    """
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()


def _checked(record: Any, expected_seq: int) -> Record:
    """Validate a record read from elsewhere; keep its own ``seq`` if it has one."""
    if not isinstance(record, dict):
        raise TypeError("a record must be a JSON object")
    event = record.get("event")
    if not isinstance(event, dict):
        raise ValueError("a record needs an 'event' object")
    source = record.get("source")
    if source not in SOURCES:
        raise ValueError(f"'source' must be one of {SOURCES}, not {source!r}")
    seq = record.get("seq", expected_seq)
    return {
        "seq": int(seq) if seq is not None else expected_seq,
        "source": source,
        "t_browser_ms": _float_or_none(record.get("t_browser_ms")),
        "t_kernel_ms": _float_or_none(record.get("t_kernel_ms")),
        "event": event,
    }


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)
