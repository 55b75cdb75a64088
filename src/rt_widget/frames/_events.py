"""``events()``: one row per record."""

from __future__ import annotations

import json
import json.encoder
from array import array
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ..messages import SOURCES
from ._common import GA_NAMES, Records, call_origins, collector_paused, seconds_since_start


def _compact_json_encoder() -> Callable[[Any], str]:
    """A function giving an event as compact JSON (``separators=(",", ":")``, no ASCII escaping):
    the bytes ``EventLog.save`` writes for it, and near enough what crossed the data channel.

    ``JSONEncoder.encode`` builds a new C encoder on every call, which is a third of the cost at a
    million events; the C encoder is built once here when the interpreter has it. ``default=str``
    gives a hand-made event holding a non-JSON value (a kernel-side record, say) a size instead of
    an exception; no circular check, since events come from JSON.
    """
    c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
    c_encode_string = getattr(json.encoder, "c_encode_basestring", None)
    if c_make_encoder is not None and c_encode_string is not None:
        try:
            chunks = c_make_encoder(None, str, c_encode_string, None, ":", ",", False, False, True)
        except TypeError:  # another signature on some future Python: use the public path
            pass
        else:
            join = "".join
            return lambda event: join(chunks(event, 0))
    return json.JSONEncoder(
        ensure_ascii=False, separators=(",", ":"), check_circular=False, default=str
    ).encode


_encode = _compact_json_encoder()


@collector_paused
def events(records: Records) -> pd.DataFrame:
    """One row per record, in log order.

    Columns:
        ``seq`` (int), ``call`` (int: see :mod:`rt_widget.frames`), ``source`` (category:
        server / client / widget), ``type`` (category, GA name: beta names such as
        ``response.audio_transcript.delta`` are read as ``response.output_audio_transcript.delta``),
        ``original_type`` (category: the name as recorded when it was renamed, else NaN),
        ``t_ms`` (browser time if the record has it, else kernel time), ``t_browser_ms``,
        ``t_kernel_ms``, each with its ``*_s`` twin (seconds since the call started; for the
        two clocks, since the call's earliest time on that clock),
        ``event_id``, ``item_id`` (``item_id`` or ``item.id``), ``response_id``
        (``response_id`` or ``response.id``), ``size_bytes`` (bytes of the event as compact UTF-8
        JSON: what ``EventLog.save`` writes for it, and near its size on the data channel; the
        costliest column, two thirds of this function's time), ``event`` (the event dict itself:
        the log's own object, not a copy, so don't modify it).
    """
    # One list per column, no tuple per row: container objects that outlive the loop make the
    # cyclic garbage collector walk the whole log again (measured: a quarter of the time).
    # Numbers go in arrays, not lists: no int object kept per row (a size is one), and no copy
    # to numpy; at a million rows, fresh memory costs more than the copies themselves.
    seq: list[Any] = []
    starts: list[int] = []  # rows that open a call
    sources = array("i")
    kinds = array("i")
    t_browser: list[Any] = []
    t_kernel: list[Any] = []
    event_ids: list[Any] = []
    item_ids: list[Any] = []
    response_ids: list[Any] = []
    sizes = array("q")
    events: list[Any] = []
    # Category codes as we go: one dict lookup per record instead of a factorize afterwards.
    # Types are coded as recorded; the GA renaming is applied to the few categories at the end.
    source_codes = {name: i for i, name in enumerate(SOURCES)}
    kind_codes: dict[str, int] = {}
    encode = _encode

    for record in records:
        event = record["event"]
        kind = event.get("type")
        if kind.__class__ is str:
            code = kind_codes.get(kind)
            if code is None:
                code = kind_codes[kind] = len(kind_codes)
            if kind == "widget.phase" and event.get("phase") == "start":
                starts.append(len(events))
        else:
            code = -1
        source = record.get("source")
        item_id = event.get("item_id")
        if item_id is None:
            item = event.get("item")
            if item.__class__ is dict:
                item_id = item.get("id")
        response_id = event.get("response_id")
        if response_id is None:
            response = event.get("response")
            if response.__class__ is dict:
                response_id = response.get("id")
        text = encode(event)

        seq.append(record.get("seq"))
        sources.append(source_codes.get(source, -1) if source.__class__ is str else -1)
        kinds.append(code)
        t_browser.append(record.get("t_browser_ms"))
        t_kernel.append(record.get("t_kernel_ms"))
        event_ids.append(event.get("event_id"))
        item_ids.append(item_id)
        response_ids.append(response_id)
        sizes.append(len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass")))
        events.append(event)

    n = len(events)
    call_array = np.zeros(n, dtype=np.int64)
    call_array[starts] = 1
    np.cumsum(call_array, out=call_array)
    t_browser_ms = np.asarray(t_browser, dtype=np.float64)  # None -> NaN
    t_kernel_ms = np.asarray(t_kernel, dtype=np.float64)
    t_ms = np.where(np.isnan(t_browser_ms), t_kernel_ms, t_browser_ms)
    event_column = np.empty(n, dtype=object)
    event_column[:] = events
    type_column, original_column = _type_columns(np.frombuffer(kinds, dtype=np.intc), kind_codes)

    def offsets(t: np.ndarray) -> np.ndarray:
        return seconds_since_start(t, call_array, call_origins(call_array, t, len(starts) + 1))

    # copy=False: every column is a new array of this call's own; copying them into consolidated
    # blocks would only add fresh memory (a third of a second at a million rows).
    return pd.DataFrame(
        {
            "seq": _sequence_numbers(seq),
            "call": call_array,
            "source": _categorical(np.frombuffer(sources, dtype=np.intc), list(SOURCES)),
            "type": type_column,
            "original_type": original_column,
            "t_ms": t_ms,
            "t_s": offsets(t_ms),
            # Each clock counts from the call's earliest time on that same clock, so a skew
            # between the browser's and the kernel's clocks cannot make an offset negative.
            "t_browser_ms": t_browser_ms,
            "t_browser_s": offsets(t_browser_ms),
            "t_kernel_ms": t_kernel_ms,
            "t_kernel_s": offsets(t_kernel_ms),
            "event_id": _strings(event_ids),
            "item_id": _strings(item_ids),
            "response_id": _strings(response_ids),
            "size_bytes": np.frombuffer(sizes, dtype=np.int64),
            "event": event_column,
        },
        copy=False,
    )


def _type_columns(
    codes: np.ndarray, kind_codes: dict[str, int]
) -> tuple[pd.Categorical, pd.Categorical]:
    """The ``type`` (GA name) and ``original_type`` (recorded name where it was renamed) columns,
    from the codes of the recorded names."""
    ga_names: list[str] = []
    originals: list[str] = []
    # code -> code lookups; the extra last slot takes code -1 (no type) to -1 (NaN)
    to_ga = np.full(len(kind_codes) + 1, -1, dtype=np.int32)
    to_original = np.full(len(kind_codes) + 1, -1, dtype=np.int32)
    for name, code in kind_codes.items():
        ga = GA_NAMES.get(name, name)
        if ga not in ga_names:
            ga_names.append(ga)
        to_ga[code] = ga_names.index(ga)
        if ga != name:
            to_original[code] = len(originals)
            originals.append(name)
    return _categorical(to_ga[codes], ga_names), _categorical(to_original[codes], originals)


def _categorical(codes: np.ndarray, categories: list[str]) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, categories=categories, validate=False)


def _sequence_numbers(seq: list[Any]) -> np.ndarray:
    """The records' ``seq``; a plain list of records may lack it: then its position."""
    try:
        return np.asarray(seq, dtype=np.int64)
    except (TypeError, ValueError):
        return np.asarray([i if s is None else int(s) for i, s in enumerate(seq)], dtype=np.int64)


def _strings(values: list[Any]) -> pd.api.extensions.ExtensionArray:
    """A string column, NaN where the event had no such field."""
    return pd.array(values, dtype="str")
