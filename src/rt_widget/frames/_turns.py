"""``turns()``: one row per response, with when each step happened, the latencies, and the usage."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ._common import (
    NAN,
    Records,
    add_seconds,
    collector_paused,
    dict_or_empty,
    duration,
    earliest,
    scan,
    str_or_none,
)
from ._items import input_kind

_DELTAS = frozenset(("response.output_text.delta", "response.output_audio_transcript.delta",
                     "response.function_call_arguments.delta"))
_ITEMS = frozenset(("conversation.item.added", "conversation.item.done"))
_OUTPUT_ITEMS = frozenset(("response.output_item.added", "response.output_item.done"))
_WANTED = _DELTAS | _ITEMS | _OUTPUT_ITEMS | {
    "input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
    "input_audio_buffer.committed", "response.created", "response.done",
    "output_audio_buffer.started", "output_audio_buffer.stopped", "output_audio_buffer.cleared",
    "conversation.item.truncated",
}

#: The step times, in row order; each gets a ``*_s`` twin.
TIMES = ("speech_started_ms", "speech_stopped_ms", "committed_ms", "response_created_ms",
         "first_delta_ms", "audio_started_ms", "response_done_ms", "audio_stopped_ms")
#: Usage columns and where response.done keeps them: (column, details key or None, field).
USAGE = (
    ("input_tokens", None, "input_tokens"),
    ("output_tokens", None, "output_tokens"),
    ("total_tokens", None, "total_tokens"),
    ("input_audio_tokens", "input_token_details", "audio_tokens"),
    ("input_text_tokens", "input_token_details", "text_tokens"),
    ("cached_tokens", "input_token_details", "cached_tokens"),
    ("output_audio_tokens", "output_token_details", "audio_tokens"),
    ("output_text_tokens", "output_token_details", "text_tokens"),
)


class _Response:
    __slots__ = ("audio_cleared", "audio_started", "audio_stopped", "call", "created", "done",
                 "first_delta", "first_pos", "id", "input", "out_of_band", "owns_input", "reason",
                 "status", "tools", "triggered", "usage")

    def __init__(self, call: int, response_id: str, pos: int) -> None:
        self.call = call
        self.id = response_id
        self.first_pos = pos
        self.created = self.first_delta = self.audio_started = self.done = NAN
        self.audio_stopped = self.audio_cleared = NAN
        self.status: str | None = None
        self.reason: str | None = None
        self.usage: Mapping[str, Any] = {}
        self.input: tuple[str, str] | None = None  # (kind, item_id) of the input it answers
        self.owns_input = False  # True for the first response after that input: the one it caused
        self.triggered = False
        self.out_of_band = False
        self.tools: list[str] = []


@collector_paused
def turns(records: Records) -> pd.DataFrame:
    """One row per response, in the order the responses were created.

    Columns:
        ``call``, ``response_id``, ``trigger``, ``user_item_id``, ``status``, ``status_reason``,
        ``interrupted``, ``out_of_band``; the step times ``speech_started_ms``,
        ``speech_stopped_ms``, ``committed_ms``, ``response_created_ms``, ``first_delta_ms``,
        ``audio_started_ms``, ``response_done_ms``, ``audio_stopped_ms`` (each with its ``*_s``
        twin); the latencies
        ``voice_to_voice_ms`` (audio_started - speech_stopped), ``turn_detection_ms`` (committed -
        speech_stopped), ``time_to_first_delta_ms`` (first_delta - response_created),
        ``response_ms`` (response_done - response_created), ``speech_ms`` (the user's speech,
        ``audio_end_ms - audio_start_ms`` of the VAD events, on the server's audio clock),
        ``audio_ms`` (audio_stopped - audio_started); the usage of ``response.done``:
        ``input_tokens``, ``output_tokens``, ``total_tokens``, ``input_audio_tokens``,
        ``input_text_tokens``, ``cached_tokens``, ``output_audio_tokens``, ``output_text_tokens``
        (nullable integers); and ``tools`` (names of the functions the response called, comma
        separated).

    ``trigger`` and ``user_item_id`` come from the newest input added to the conversation, in log
    order, since the previous ``response.created`` of the call:

    - ``"speech"``: audio committed by the server's turn detection (``input_audio_buffer.committed``
      of an item that had an ``input_audio_buffer.speech_stopped``);
    - ``"text"``: a user message with text (or image) content;
    - ``"tool"``: a ``function_call_output`` item;
    - ``"manual"``: nothing new, so the client asked with ``response.create`` (a greeting, a second
      response to the same input), or audio committed by the client without turn detection
      (push to talk: a commit with no ``speech_stopped``). An out-of-band response
      (``conversation: "none"``, seen as ``conversation_id: null``; ``out_of_band`` is True) is
      always "manual" and answers no input: the input stays for the response that follows.

    ``user_item_id`` is that input item; for a "manual" response with nothing new, the input the
    previous response answered (several responses to one user turn share it; NaN before any
    input). The speech times and ``committed_ms`` belong to the response the input caused (the
    first one after it), so a later response never borrows them: latencies are computed only
    from steps of the same turn. A step missing from the log gives NaN, as does a difference that
    comes out negative (records out of order).

    ``status`` is ``response.done``'s status (``completed``, ``cancelled``, ``incomplete``,
    ``failed``), ``in_progress`` if the log has ``response.created`` and no ``response.done``.
    ``interrupted``: cancelled, or its audio cut (``output_audio_buffer.cleared``, a truncated
    item). ``audio_stopped_ms`` is ``output_audio_buffer.stopped``, or ``.cleared`` when the audio
    was cut instead.
    """
    hits, origins = scan(records, _WANTED)
    responses: dict[tuple[int, str], _Response] = {}
    speech_started: dict[tuple[int, str], tuple[float, Any]] = {}
    speech_stopped: dict[tuple[int, str], tuple[float, Any]] = {}
    committed: dict[tuple[int, str], float] = {}
    pending: dict[int, tuple[str, str]] = {}  # call -> newest input not yet answered
    last_input: dict[int, tuple[str, str]] = {}  # call -> input the latest response answered
    consumed: set[tuple[int, str]] = set()
    item_response: dict[tuple[int, str], tuple[int, str]] = {}
    truncated: set[tuple[int, str]] = set()

    def response(call: int, response_id: Any, pos: int) -> _Response | None:
        if not isinstance(response_id, str):
            return None
        key = (call, response_id)
        found = responses.get(key)
        if found is None:
            found = responses[key] = _Response(call, response_id, pos)
        return found

    streamed: set[tuple[int, Any]] = set()  # responses whose first delta is known
    for pos, call, t, kind, event in hits:
        if kind in _DELTAS:
            # Most records are deltas and only the first of each response counts: skip the rest
            # with one set lookup.
            response_id = event.get("response_id")
            if response_id.__class__ is not str or (call, response_id) in streamed:
                continue
            streamed.add((call, response_id))
            r = response(call, response_id, pos)
            if r is not None:
                r.first_delta = earliest(r.first_delta, t)
        elif kind in _ITEMS:
            item = dict_or_empty(event.get("item"))
            item_id, input_type = item.get("id"), input_kind(item)
            if isinstance(item_id, str) and input_type and (call, item_id) not in consumed:
                pending[call] = (input_type, item_id)
        elif kind == "input_audio_buffer.committed":
            item_id = event.get("item_id")
            if isinstance(item_id, str):
                committed.setdefault((call, item_id), t)
                if (call, item_id) not in consumed:
                    pending[call] = ("audio", item_id)
        elif kind == "input_audio_buffer.speech_started":
            item_id = event.get("item_id")
            if isinstance(item_id, str):
                speech_started.setdefault((call, item_id), (t, event.get("audio_start_ms")))
        elif kind == "input_audio_buffer.speech_stopped":
            item_id = event.get("item_id")
            if isinstance(item_id, str):
                speech_stopped.setdefault((call, item_id), (t, event.get("audio_end_ms")))
        elif kind == "response.created":
            body = dict_or_empty(event.get("response"))
            r = response(call, body.get("id"), pos)
            if r is None:
                continue
            r.created = earliest(r.created, t)
            if r.status is None:
                r.status = "in_progress"
            if not r.triggered:
                r.triggered = True
                # conversation "none": outside the conversation, it answers no input
                r.out_of_band = "conversation_id" in body and body["conversation_id"] is None
                if r.out_of_band:
                    continue
                newest = pending.pop(call, None)
                if newest is not None:
                    r.input, r.owns_input = newest, True
                    consumed.add((call, newest[1]))
                    last_input[call] = newest
                else:
                    r.input = last_input.get(call)
        elif kind == "response.done":
            body = dict_or_empty(event.get("response"))
            r = response(call, body.get("id"), pos)
            if r is None:
                continue
            r.done = earliest(r.done, t)
            status = body.get("status")
            r.status = status if isinstance(status, str) else r.status
            r.reason = str_or_none(dict_or_empty(body.get("status_details")).get("reason"))
            r.usage = dict_or_empty(body.get("usage"))
            output = body.get("output")
            for item in output if isinstance(output, list) else ():
                if isinstance(item, dict):
                    _note_output_item(r, item, item_response)
        elif kind in _OUTPUT_ITEMS:
            r = response(call, event.get("response_id"), pos)
            if r is not None:
                _note_output_item(r, dict_or_empty(event.get("item")), item_response)
        elif kind == "output_audio_buffer.started":
            r = response(call, event.get("response_id"), pos)
            if r is not None:
                r.audio_started = earliest(r.audio_started, t)
        elif kind == "output_audio_buffer.stopped":
            r = response(call, event.get("response_id"), pos)
            if r is not None:
                r.audio_stopped = earliest(r.audio_stopped, t)
        elif kind == "output_audio_buffer.cleared":
            r = response(call, event.get("response_id"), pos)
            if r is not None:
                r.audio_cleared = earliest(r.audio_cleared, t)
        elif kind == "conversation.item.truncated":
            item_id = event.get("item_id")
            if isinstance(item_id, str):
                truncated.add((call, item_id))

    cut = {item_response[key] for key in truncated if key in item_response}
    rows = []
    for key, r in sorted(responses.items(), key=lambda kv: (kv[1].call, kv[1].first_pos)):
        trigger, user_item = _trigger(r, speech_stopped)
        # the user's speech belongs to the response it caused, and to no later one
        started = stopped = said = NAN
        said_at = NAN
        if r.owns_input and r.input is not None and r.input[0] == "audio":
            voice = (r.call, r.input[1])
            started, audio_start = speech_started.get(voice, (NAN, None))
            stopped, audio_end = speech_stopped.get(voice, (NAN, None))
            said_at = committed.get(voice, NAN)
            said = _speech_ms(audio_start, audio_end)
        cleared = not math.isnan(r.audio_cleared)
        interrupted = r.status == "cancelled" or cleared or key in cut
        # the audio ended when it stopped, or when it was cut
        audio_stopped = r.audio_cleared if math.isnan(r.audio_stopped) else r.audio_stopped
        usage = [_usage(r.usage, details, field) for _, details, field in USAGE]
        rows.append((
            r.call, r.id, trigger, user_item, r.status, r.reason, interrupted, r.out_of_band,
            started, stopped, said_at, r.created, r.first_delta, r.audio_started, r.done,
            audio_stopped, said, ", ".join(r.tools) or None, *usage,
        ))

    columns = list(zip(*rows, strict=True)) if rows else [()] * (18 + len(USAGE))
    data: dict[str, Any] = {
        "call": np.asarray(columns[0], dtype=np.int64),
        "response_id": pd.array(list(columns[1]), dtype="str"),
        "trigger": pd.array(list(columns[2]), dtype="str"),
        "user_item_id": pd.array(list(columns[3]), dtype="str"),
        "status": pd.array(list(columns[4]), dtype="str"),
        "status_reason": pd.array(list(columns[5]), dtype="str"),
        "interrupted": np.asarray(columns[6], dtype=bool),
        "out_of_band": np.asarray(columns[7], dtype=bool),
    }
    for offset, name in enumerate(TIMES, start=8):
        data[name] = np.asarray(columns[offset], dtype=np.float64)
    data["voice_to_voice_ms"] = duration(data["audio_started_ms"], data["speech_stopped_ms"])
    data["turn_detection_ms"] = duration(data["committed_ms"], data["speech_stopped_ms"])
    data["time_to_first_delta_ms"] = duration(data["first_delta_ms"], data["response_created_ms"])
    data["response_ms"] = duration(data["response_done_ms"], data["response_created_ms"])
    data["speech_ms"] = np.asarray(columns[16], dtype=np.float64)
    data["audio_ms"] = duration(data["audio_stopped_ms"], data["audio_started_ms"])
    for offset, (name, _, _) in enumerate(USAGE, start=18):
        data[name] = pd.array(list(columns[offset]), dtype="Int64")
    data["tools"] = pd.array(list(columns[17]), dtype="str")
    frame = pd.DataFrame(data)
    add_seconds(frame, origins, *TIMES)
    return frame


def _trigger(
    r: _Response, speech_stopped: dict[tuple[int, str], Any]
) -> tuple[str | None, str | None]:
    """(trigger, user_item_id) of a response; (None, None) if its response.created is missing."""
    if not r.triggered:
        return None, None
    if r.input is None:
        return "manual", None
    kind, item_id = r.input
    if not r.owns_input:
        return "manual", item_id
    if kind == "audio":
        return ("speech" if (r.call, item_id) in speech_stopped else "manual"), item_id
    return kind, item_id


def _note_output_item(
    r: _Response, item: Mapping[str, Any], item_response: dict[tuple[int, str], tuple[int, str]]
) -> None:
    """Remember which response made an item, and the function a function_call item calls."""
    item_id = item.get("id")
    if isinstance(item_id, str):
        item_response.setdefault((r.call, item_id), (r.call, r.id))
    name = item.get("name")
    if item.get("type") == "function_call" and isinstance(name, str) and name not in r.tools:
        r.tools.append(name)


def _usage(usage: Mapping[str, Any], details: str | None, field: str) -> int | None:
    source = dict_or_empty(usage.get(details)) if details else usage
    value = source.get(field)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return int(value)


def _speech_ms(audio_start: Any, audio_end: Any) -> float:
    """The user's speech on the server's audio clock (VAD ``audio_end_ms - audio_start_ms``)."""
    if not isinstance(audio_start, (int, float)) or not isinstance(audio_end, (int, float)):
        return NAN
    span = float(audio_end) - float(audio_start)
    return span if span >= 0 else NAN
