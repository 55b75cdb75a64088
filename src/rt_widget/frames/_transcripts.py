"""``transcripts()``: one row per utterance, user and assistant, in conversation order."""

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
    earliest,
    scan,
    str_or_none,
)
from ._items import part_text, parts

_USER_AUDIO = ("input_audio_buffer.speech_started", "input_audio_buffer.committed")
_ITEM_SNAPSHOTS = ("conversation.item.added", "conversation.item.done",
                   "response.output_item.added", "response.output_item.done")
_ASSISTANT_DELTAS = ("response.output_audio_transcript.delta", "response.output_text.delta")
_ASSISTANT_DONE = {"response.output_audio_transcript.done": "transcript",
                   "response.output_text.done": "text"}
_WANTED = frozenset(
    (*_USER_AUDIO, *_ITEM_SNAPSHOTS, *_ASSISTANT_DELTAS, *_ASSISTANT_DONE,
     "response.content_part.done", "response.done",
     "conversation.item.input_audio_transcription.delta",
     "conversation.item.input_audio_transcription.completed",
     "conversation.item.truncated", "output_audio_buffer.cleared")
)


class _Part:
    """One content part of an item: the deltas so far, and its final text once a final record
    (a ``*.done``, a transcription ``completed``, a finished item) has given it.

    The first final text is kept: later final records repeat it in a consistent log, and in an
    inconsistent one (fragments pasted together) the first is the one closest to the deltas.
    """

    __slots__ = ("deltas", "text", "final_ms")

    def __init__(self) -> None:
        self.deltas: list[str] = []
        self.text: str | None = None
        self.final_ms = NAN


class _Utterance:
    """What the log has said so far about one conversation item."""

    __slots__ = ("call", "item_id", "role", "modality", "response_id", "first_pos", "first_ms",
                 "first_text_ms", "parts")

    def __init__(self, call: int, item_id: str, pos: int, t: float) -> None:
        self.call = call
        self.item_id = item_id
        self.role: str | None = None
        self.modality: str | None = None
        self.response_id: str | None = None
        self.first_pos = pos  # where the item first shows up in the log
        self.first_ms = t
        self.first_text_ms = NAN
        self.parts: dict[int, _Part] = {}

    def part(self, index: Any) -> _Part:
        index = index if isinstance(index, int) else 0
        found = self.parts.get(index)
        if found is None:
            found = self.parts[index] = _Part()
        return found

    def delta(self, index: Any, text: Any, t: float) -> None:
        if text.__class__ is str:
            part = self.parts.get(index) if index.__class__ is int else None
            if part is None:
                part = self.part(index)
            part.deltas.append(text)
            if not t >= self.first_text_ms:  # NaN-safe "earlier than": NaN never compares
                self.first_text_ms = earliest(self.first_text_ms, t)

    def final(self, index: Any, text: Any, t: float) -> None:
        if isinstance(text, str):
            part = self.part(index)
            if part.text is None:
                part.text, part.final_ms = text, t
            self.first_text_ms = earliest(self.first_text_ms, t)


@collector_paused
def transcripts(records: Records) -> pd.DataFrame:
    """One row per utterance (a user or assistant message item), in conversation order.

    Columns:
        ``call``, ``role`` ("user" / "assistant"), ``item_id``, ``response_id`` (the response that
        spoke it; NaN for the user), ``modality`` ("audio" / "text"), ``text``, ``final``,
        ``interrupted``, ``started_ms``, ``done_ms`` and their ``*_s`` twins.

    Text: user speech from ``conversation.item.input_audio_transcription.*``, typed user text from
    the ``input_text`` item, assistant text from ``response.output_audio_transcript.*`` or
    ``response.output_text.*`` (beta names read as these). The first final record of a content
    part (``*.done``, ``*.completed``, ``response.content_part.done``, or a finished item in
    ``conversation.item.*``, ``response.output_item.done``, ``response.done``) gives its text;
    until one arrives, ``text`` is the deltas joined and ``final`` is False. A user audio item
    with no transcription at all (transcription not enabled in the session) still gets its row,
    with NaN text.

    ``started_ms``: for user speech, ``input_audio_buffer.speech_started``; otherwise the first
    record carrying the item's text (its first delta). ``done_ms``: when the text became final,
    the last of its parts to do so (NaN while it is not).

    Conversation order is the server's: each item follows its ``previous_item_id`` (given by
    ``conversation.item.added`` / ``.done`` and ``input_audio_buffer.committed``), so a log whose
    events arrived out of order still reads in order. Items without that link keep the order in
    which they first appear in the log; either way a user transcription completed after the
    response still sits before the answer.

    ``interrupted`` (assistant only): the response was cancelled (``status == "cancelled"``, e.g.
    ``status_details.reason`` ``turn_detected`` on barge-in), its audio was cut
    (``output_audio_buffer.cleared``), or the item was truncated (``conversation.item.truncated``).
    """
    hits, origins = scan(records, _WANTED)
    items: dict[tuple[int, str], _Utterance] = {}
    speech_started: dict[tuple[int, str], float] = {}
    cut_responses: set[tuple[int, str]] = set()
    truncated: set[tuple[int, str]] = set()
    # Conversation links, for every item (function calls too: a chain runs through them).
    previous: dict[tuple[int, str], Any] = {}
    first_seen: dict[tuple[int, str], int] = {}

    def link(call: int, item_id: Any, previous_id: Any, pos: int) -> None:
        if isinstance(item_id, str):
            key = (call, item_id)
            previous.setdefault(key, previous_id)
            first_seen.setdefault(key, pos)

    def utterance(
        call: int, item_id: Any, pos: int, t: float, role: str | None
    ) -> _Utterance | None:
        if not isinstance(item_id, str):
            return None
        key = (call, item_id)
        found = items.get(key)
        if found is None:
            found = items[key] = _Utterance(call, item_id, pos, t)
        elif pos < found.first_pos:
            found.first_pos, found.first_ms = pos, t
        if role is not None and found.role is None:
            found.role = role
        return found

    for pos, call, t, kind, event in hits:
        if kind in _ASSISTANT_DELTAS:
            item_id = event.get("item_id")
            u = items.get((call, item_id)) if item_id.__class__ is str else None
            if u is None or u.response_id is None or u.modality is None:
                # the item's first delta (or first record): note what the delta tells about it
                u = utterance(call, item_id, pos, t, "assistant")
                if u is None:
                    continue
                u.response_id = u.response_id or str_or_none(event.get("response_id"))
                u.modality = u.modality or (
                    "text" if kind == "response.output_text.delta" else "audio")
            u.delta(event.get("content_index"), event.get("delta"), t)
        elif kind in _ASSISTANT_DONE:
            u = utterance(call, event.get("item_id"), pos, t, "assistant")
            if u is not None:
                u.response_id = u.response_id or str_or_none(event.get("response_id"))
                u.modality = u.modality or (
                    "text" if kind == "response.output_text.done" else "audio")
                u.final(event.get("content_index"), event.get(_ASSISTANT_DONE[kind]), t)
        elif kind == "conversation.item.input_audio_transcription.delta":
            u = utterance(call, event.get("item_id"), pos, t, "user")
            if u is not None:
                u.modality = u.modality or "audio"
                u.delta(event.get("content_index"), event.get("delta"), t)
        elif kind == "conversation.item.input_audio_transcription.completed":
            u = utterance(call, event.get("item_id"), pos, t, "user")
            if u is not None:
                u.modality = u.modality or "audio"
                u.final(event.get("content_index"), event.get("transcript"), t)
        elif kind == "response.content_part.done":
            part = dict_or_empty(event.get("part"))
            modality, text = part_text(part)
            u = utterance(call, event.get("item_id"), pos, t, "assistant")
            if u is not None:
                u.response_id = u.response_id or str_or_none(event.get("response_id"))
                u.modality = u.modality or modality
                u.final(event.get("content_index"), text, t)
        elif kind in _ITEM_SNAPSHOTS:
            item = dict_or_empty(event.get("item"))
            if kind.startswith("conversation."):
                link(call, item.get("id"), event.get("previous_item_id"), pos)
            _snapshot(utterance, call, pos, t, item, str_or_none(event.get("response_id")),
                      is_done=kind.endswith(".done"))
        elif kind == "response.done":
            response = dict_or_empty(event.get("response"))
            response_id = str_or_none(response.get("id"))
            if response.get("status") == "cancelled" and response_id is not None:
                cut_responses.add((call, response_id))
            output = response.get("output")
            for item in output if isinstance(output, list) else ():
                if isinstance(item, dict):
                    _snapshot(utterance, call, pos, t, item, response_id, is_done=True)
        elif kind == "input_audio_buffer.speech_started":
            item_id = event.get("item_id")
            if isinstance(item_id, str):
                key = (call, item_id)
                speech_started[key] = earliest(speech_started.get(key, NAN), t)
        elif kind == "input_audio_buffer.committed":
            link(call, event.get("item_id"), event.get("previous_item_id"), pos)
            u = utterance(call, event.get("item_id"), pos, t, "user")
            if u is not None:
                u.modality = u.modality or "audio"
        elif kind == "output_audio_buffer.cleared":
            response_id = event.get("response_id")
            if isinstance(response_id, str):
                cut_responses.add((call, response_id))
        elif kind == "conversation.item.truncated":
            item_id = event.get("item_id")
            if isinstance(item_id, str):
                truncated.add((call, item_id))

    rows = []
    for key in _conversation_order(items, previous, first_seen):
        u = items[key]
        if u.role not in ("user", "assistant"):
            continue  # function calls, system messages: not speech
        text, final = _text(u)
        if u.role == "user" and u.modality == "audio" and key in speech_started:
            started = speech_started[key]
        elif not math.isnan(u.first_text_ms):
            started = u.first_text_ms
        else:
            started = u.first_ms
        interrupted = u.role == "assistant" and (
            key in truncated
            or (u.response_id is not None and (u.call, u.response_id) in cut_responses)
        )
        done = max(part.final_ms for part in u.parts.values()) if final else NAN
        rows.append((u.call, u.role, u.item_id, u.response_id if u.role == "assistant" else None,
                     u.modality, text, final, interrupted, started, done))

    columns = list(zip(*rows, strict=True)) if rows else [()] * 10
    frame = pd.DataFrame(
        {
            "call": np.asarray(columns[0], dtype=np.int64),
            "role": pd.array(list(columns[1]), dtype="str"),
            "item_id": pd.array(list(columns[2]), dtype="str"),
            "response_id": pd.array(list(columns[3]), dtype="str"),
            "modality": pd.array(list(columns[4]), dtype="str"),
            "text": pd.array(list(columns[5]), dtype="str"),
            "final": np.asarray(columns[6], dtype=bool),
            "interrupted": np.asarray(columns[7], dtype=bool),
            "started_ms": np.asarray(columns[8], dtype=np.float64),
            "done_ms": np.asarray(columns[9], dtype=np.float64),
        }
    )
    add_seconds(frame, origins, "started_ms", "done_ms")
    return frame


def _snapshot(utterance: Any, call: int, pos: int, t: float, item: Mapping[str, Any],
              response_id: str | None, is_done: bool) -> None:
    """Take what a whole-item record says: role, modality, and any text it carries.

    Its text counts as final when the record is a ``*.done`` or the item says it is complete
    (a beta ``conversation.item.created`` of a finished item, a typed user message). An empty
    string in a snapshot means "no text yet" (a user audio item before transcription), not "".
    """
    if item.get("type") != "message":
        return
    role = item.get("role")
    u = utterance(call, item.get("id"), pos, t, role if isinstance(role, str) else None)
    if u is None:
        return
    if response_id is not None and u.response_id is None:
        u.response_id = response_id
    final = is_done or item.get("status") in ("completed", "incomplete")
    for index, part in parts(item):
        modality, text = part_text(part)
        u.modality = u.modality or modality
        if final and text:
            u.final(index, text, t)


def _text(u: _Utterance) -> tuple[str | None, bool]:
    """The utterance's text (parts in content order) and whether all of it is final."""
    texts: list[str] = []
    final = True
    for index in sorted(u.parts):
        part = u.parts[index]
        if part.text is not None:
            texts.append(part.text)
        elif part.deltas:
            texts.append("".join(part.deltas))
            final = False
    if not texts:
        return None, False
    return "\n".join(texts), final


def _conversation_order(
    items: dict[tuple[int, str], _Utterance],
    previous: dict[tuple[int, str], Any],
    first_seen: dict[tuple[int, str], int],
) -> list[tuple[int, str]]:
    """The utterance keys in conversation order.

    Items form a forest: an item whose ``previous_item_id`` is a known item of the same call hangs
    under it, any other item is a root. Roots go by (call, first appearance in the log), and each
    is followed by its descendants, depth first, siblings by first appearance. Malformed links (a
    cycle) cannot lose an item: whatever the walk misses is walked again as a root.
    """
    position = dict(first_seen)
    for key, u in items.items():
        position[key] = min(u.first_pos, position.get(key, u.first_pos))
    children: dict[tuple[int, str], list[tuple[int, str]]] = {}
    roots = []
    for key in position:
        parent_id = previous.get(key)
        parent = (key[0], parent_id) if isinstance(parent_id, str) else None
        if parent is not None and parent != key and parent in position:
            children.setdefault(parent, []).append(key)
        else:
            roots.append(key)

    def first_appearance(key: tuple[int, str]) -> tuple[int, int]:
        return key[0], position[key]

    ordered: list[tuple[int, str]] = []
    visited: set[tuple[int, str]] = set()

    def walk(root: tuple[int, str]) -> None:
        stack = [root]
        while stack:  # iterative: a long call is one long chain
            key = stack.pop()
            if key in visited:
                continue
            visited.add(key)
            ordered.append(key)
            stack.extend(sorted(children.get(key, ()), key=first_appearance, reverse=True))

    for root in sorted(roots, key=first_appearance):
        walk(root)
    for key in sorted(position, key=first_appearance):
        if key not in visited:
            walk(key)
    return [key for key in ordered if key in items]
