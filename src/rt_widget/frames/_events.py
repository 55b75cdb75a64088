"""``events()``: one row per record."""

from __future__ import annotations

import json
import json.encoder
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ..messages import SOURCES
from ._common import GA_NAMES, Records, call_origins, seconds_since_start

_INF = math.inf
_NAN = math.nan

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
        (``response_id`` or ``response.id``), ``size_bytes`` (length of the event as compact UTF-8
        JSON, the size it had on the data channel give or take key order), ``event`` (the event
        dict itself: the log's own object, not a copy, so don't modify it).
    """
    rows: list[tuple] = []
    append = rows.append
    event_objects: list[object] = []
    keep_event = event_objects.append
    origins: list[float] = [_INF]
    call = 0
    # Codes for the categoricals, built as we go: one dict lookup per record instead of a
    # factorize over a million strings afterwards.
    source_codes = {name: i for i, name in enumerate(SOURCES)}
    type_codes: dict[str, tuple[int, int]] = {}
    type_names: list[str] = []
    original_names: list[str] = []
    encode = _encode

    for record in records:
        event = record["event"]
        t_browser = record.get("t_browser_ms")
        t_kernel = record.get("t_kernel_ms")
        t = t_browser if t_browser is not None else t_kernel
        if t is None:
            t = _NAN
        kind = event.get("type")
        if kind == "widget.phase" and event.get("phase") == "start":
            call += 1
            origins.append(_INF)
        if t < origins[call]:
            origins[call] = t

        if kind.__class__ is str:
            codes = type_codes.get(kind)
            if codes is None:
                codes = _new_type_codes(kind, type_names, original_names)
                type_codes[kind] = codes
        else:
            codes = (-1, -1)
        source = record.get("source")
        source_code = source_codes.get(source, -1) if source.__class__ is str else -1  # -1: NaN

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
        size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))

        append((record.get("seq"), call, source_code, codes[0], codes[1], t, t_browser, t_kernel,
                event.get("event_id"), item_id, response_id, size))
        keep_event(event)

    n = len(rows)
    columns = list(zip(*rows)) if n else [()] * 12
    origin = np.asarray(origins, dtype=np.float64)
    origin[np.isinf(origin)] = np.nan
    calls = np.asarray(columns[1], dtype=np.int64)
    t_ms = np.asarray(columns[5], dtype=np.float64)
    t_browser_ms = np.asarray(columns[6], dtype=np.float64)  # None -> NaN
    t_kernel_ms = np.asarray(columns[7], dtype=np.float64)
    event_column = np.empty(n, dtype=object)
    event_column[:] = event_objects

    frame = pd.DataFrame(
        {
            "seq": np.asarray(columns[0], dtype=np.int64),
            "call": calls,
            "source": _categorical(columns[2], list(SOURCES)),
            "type": _categorical(columns[3], type_names),
            "original_type": _categorical(columns[4], original_names),
            "t_ms": t_ms,
            "t_s": seconds_since_start(t_ms, calls, origin),
            # Each clock counts from the call's earliest time on that same clock, so a skew
            # between browser and kernel clocks cannot make an offset negative.
            "t_browser_ms": t_browser_ms,
            "t_browser_s": seconds_since_start(
                t_browser_ms, calls, call_origins(calls, t_browser_ms, len(origin))),
            "t_kernel_ms": t_kernel_ms,
            "t_kernel_s": seconds_since_start(
                t_kernel_ms, calls, call_origins(calls, t_kernel_ms, len(origin))),
            "event_id": _strings(columns[8]),
            "item_id": _strings(columns[9]),
            "response_id": _strings(columns[10]),
            "size_bytes": np.asarray(columns[11], dtype=np.int64),
            "event": event_column,
        }
    )
    return frame


def _new_type_codes(kind: str, type_names: list[str], original_names: list[str]) -> tuple[int, int]:
    """Category codes for a type not seen yet: its GA name's, and the original's if renamed."""
    ga = GA_NAMES.get(kind, kind)
    if ga not in type_names:
        type_names.append(ga)
    original = -1
    if ga != kind:
        original = len(original_names)
        original_names.append(kind)
    return type_names.index(ga), original


def _categorical(codes: tuple[int, ...], categories: list[str]) -> pd.Categorical:
    return pd.Categorical.from_codes(
        np.asarray(codes, dtype=np.int32), categories=categories, validate=False
    )


def _strings(values: tuple[object, ...]) -> pd.api.extensions.ExtensionArray:
    """A string column, NaN where the event had no such field."""
    return pd.array(list(values), dtype="str")
