"""Turning a tool's return value into the ``output`` string the model reads, within the size a
data-channel message can carry.

Decisions:
    * A ``str`` result is sent as it is: the model reads text best, and a JSON-quoted string only
      adds escapes. Anything else is JSON (``None`` -> ``null``).
    * Dataclasses, pydantic models, Enums, dates, sets... are converted by pydantic; numpy values
      and pandas objects by their own ``tolist``/``to_json``; anything else becomes ``str(value)``,
      and the ``widget.tool`` record carries a note saying so.
    * Data-channel messages over ~256 KiB close the channel (../shared/FACTS.md), so the whole
      ``conversation.item.create`` event, as JSON in UTF-8, is kept under a budget; a longer output
      is cut and ends with a marker that says how much was left out.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from pydantic_core import to_jsonable_python

MAX_EVENT_BYTES = 200_000
"""Budget for one ``conversation.item.create`` event: below the ~256 KiB data-channel limit,
with room for what the front end adds (``event_id``)."""

MAX_RECORD_RESULT_BYTES = 64 * 1024
"""Largest result kept whole in a ``widget.tool`` record; the log is for reading, not for bulk."""

STR_FALLBACK_NOTE = "some values were not JSON-serializable and were sent as str(value)"


@dataclass(frozen=True)
class EncodedResult:
    output: str  # what the model reads
    jsonable: Any  # the same value as plain JSON types (a str result stays a str)
    note: str | None = None


def encode_result(result: Any) -> EncodedResult:
    """The model's ``output`` text for a tool's return value."""
    if isinstance(result, str):
        return EncodedResult(result, result)
    fell_back = False

    def fallback(value: Any) -> Any:
        nonlocal fell_back
        converted = _convert_known(value)
        if converted is not _UNKNOWN:
            return converted
        fell_back = True
        return str(value)

    try:
        jsonable = to_jsonable_python(
            result, fallback=fallback, inf_nan_mode="null", bytes_mode="base64"
        )
        # inf_nan_mode does not reach inside a pydantic model, which keeps its own config.
        jsonable = _finite(jsonable)
        text = json.dumps(jsonable, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except Exception:  # e.g. a circular structure: say what it is rather than fail the call
        jsonable, fell_back = str(result), True
        text = json.dumps(jsonable, ensure_ascii=False)
    return EncodedResult(text, jsonable, STR_FALLBACK_NOTE if fell_back else None)


_UNKNOWN = object()


def _finite(value: Any) -> Any:
    """NaN and infinities as ``null``: they are not JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def _convert_known(value: Any) -> Any:
    """numpy and pandas values, recognised without importing either."""
    module = type(value).__module__ or ""
    try:
        if module.startswith("pandas") and hasattr(value, "to_json"):
            # DataFrame -> list of row objects, Series -> {index: value}; handles NaN and dates.
            orient = "records" if hasattr(value, "columns") else None
            return json.loads(value.to_json(orient=orient, date_format="iso"))
        if module.startswith("numpy"):
            if getattr(value, "shape", None) == () and hasattr(value, "item"):
                return value.item()
            if hasattr(value, "tolist"):
                return value.tolist()
    except Exception:
        return _UNKNOWN
    return _UNKNOWN


def truncated(text: str, limit: int, fits: Any = None) -> tuple[str, bool]:
    """``text`` cut so that ``fits(candidate)`` holds (default: its UTF-8 size <= ``limit``),
    ending with a marker that says how much was left out. Returns ``(text, was_cut)``."""
    if fits is None:

        def fits(candidate: str) -> bool:
            return len(candidate.encode("utf-8")) <= limit

    if fits(text):
        return text, False

    def marked(n: int) -> str:
        return (
            f"{text[:n]}\n...[truncated by rt_widget: the tool returned {len(text):,} characters;"
            f" the first {n:,} are shown]"
        )

    # Every character costs at least one byte, so the answer is below `limit`; search for the
    # longest prefix that fits (escaping makes the cost per character uneven).
    lo, hi = 0, min(len(text), limit)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(marked(mid)):
            lo = mid
        else:
            hi = mid - 1
    return marked(lo), True


def event_size(event: dict[str, Any]) -> int:
    """Bytes of ``event`` as the front end sends it (JSON, UTF-8, non-ASCII unescaped)."""
    return len(json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
