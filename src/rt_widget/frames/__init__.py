"""A session log as pandas DataFrames: what was said, how long each turn took, how the call went.

Each function takes an :class:`~rt_widget.EventLog` (or any iterable of its records, such as a list)
and returns a new DataFrame; ``EventLog.events()``, ``.transcripts()``, ``.turns()``,
``.connection()`` and ``.stats()`` call them. The same code reads a live ``w.log`` and a file from
``EventLog.load(path)``.

Conventions shared by every frame:

Times
    A record's time is its browser time (``t_browser_ms``, epoch ms) when it has one, else its
    kernel time (``t_kernel_ms``). Every column naming a moment, ``*_ms``, has a ``*_s`` twin:
    seconds since the call started, the call's earliest record time. Columns naming a span
    (``duration_ms``, ``voice_to_voice_ms``...) have no twin, and are NaN rather than negative:
    a step missing from the log, or records out of order, give NaN, never a wrong number.
Calls
    ``call`` numbers the connections in one log: each ``widget.phase`` record with
    ``phase == "start"`` (Connect) begins the next call. A widget's calls are 1, 2, ...;
    records before any start (files recorded by other tools, which have no widget records) are
    call 0. Item and response ids are matched within a call only.
GA names
    Older (beta) files are read as GA: ``response.audio_transcript.*`` as
    ``response.output_audio_transcript.*``, ``response.audio.*`` as ``response.output_audio.*``,
    ``response.text.*`` as ``response.output_text.*``, ``conversation.item.created`` as
    ``conversation.item.added`` (its item, when complete, counts as done too). Beta usage fields
    have the GA names already. ``events()`` keeps the recorded name in ``original_type``.
Duplicates
    A record whose ``event_id`` already appeared in the same call is ignored by
    ``transcripts()`` and ``turns()`` (``events()`` shows every record).
"""

from __future__ import annotations

from ._common import GA_NAMES
from ._events import events
from ._network import connection, stats
from ._transcripts import transcripts
from ._turns import turns

__all__ = ["GA_NAMES", "connection", "events", "stats", "transcripts", "turns"]
