"""How fast records go into the kernel's log, observers and handlers included.

Smoke tests, not timed assertions: they check every record arrives in order and print the rate
(run with ``-s`` to see it). The target is 5,000 events/s, the most a browser sends
(../shared/FACTS.md: batched bursts reach the kernel at 5.6k-6.6k events/s).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from .conftest import Harness, KernelSession

EVENTS = 20_000
BATCH = 100  # about what 20 ms of a 5k events/s burst holds


def delta(i: int) -> dict[str, Any]:
    return {
        "type": "response.output_audio_transcript.delta",
        "event_id": f"event_{i}",
        "response_id": "resp_1",
        "item_id": "item_1",
        "output_index": 0,
        "content_index": 0,
        "delta": "word ",
    }


def wire_batches() -> list[bytes]:
    """rt:events comm messages as they come off the wire (JSON)."""
    out = []
    for start in range(0, EVENTS, BATCH):
        records = [
            {"source": "server", "t_browser_ms": 1.7e12 + i, "event": delta(i)}
            for i in range(start, start + BATCH)
        ]
        content = {"kind": "rt:events", "batch": start // BATCH, "records": records}
        out.append(
            json.dumps(
                {"content": {"data": {"method": "custom", "content": content}}, "buffers": []}
            ).encode()
        )
    return out


def test_ingest_rate_in_process(make_widget: Callable[..., Harness]) -> None:
    h = make_widget()
    w = h.widget
    observed: list[int] = []
    handled: list[int] = []
    w.observe(lambda change: observed.append(1), "last_event")
    w.on("*", lambda event: handled.append(1))
    w.on("response.output_audio_transcript.delta", lambda event: None)
    messages = wire_batches()

    started = time.perf_counter()
    for raw in messages:
        # JSON decoding included: the kernel pays it for every comm message.
        w._handle_msg(json.loads(raw))
    elapsed = time.perf_counter() - started

    assert len(w.log) == EVENTS
    assert [r["event"]["event_id"] for r in w.log] == [f"event_{i}" for i in range(EVENTS)]
    assert len(observed) == len(handled) == EVENTS
    assert h.kinds() == ["rt:ack"] * len(messages)
    print(
        f"\nin-process ingest: {EVENTS / elapsed:,.0f} events/s ({1e6 * elapsed / EVENTS:.1f} µs/event)"
    )


@pytest.mark.timeout(120)
def test_ingest_rate_through_a_real_kernel(kernel: KernelSession) -> None:
    """Comm messages over ZeroMQ into an IPython kernel, as the browser sends them."""
    model_id = kernel.run(
        "from rt_widget import RealtimeWidget\n"
        "w = RealtimeWidget(base_url='http://127.0.0.1:9/v1')\n"
        "seen = []\n"
        "w.observe(lambda change: seen.append(1), 'last_event')\n"
        "w.on('*', lambda event: None)\n"
        "print(w.model_id)\n"
    ).strip()
    messages = [json.loads(raw)["content"]["data"]["content"] for raw in wire_batches()]

    started = time.perf_counter()
    for content in messages:
        kernel.comm_send(model_id, content)
    # Shell messages are handled in order: this runs after the last batch is in the log.
    result = kernel.run(
        "ids = [r['event']['event_id'] for r in w.log]\n"
        "print(len(w.log), len(seen), ids == [f'event_{i}' for i in range(len(ids))])"
    )
    elapsed = time.perf_counter() - started

    assert result.split() == [str(EVENTS), str(EVENTS), "True"]
    print(
        f"\nkernel ingest over ZeroMQ: {EVENTS / elapsed:,.0f} events/s ({len(messages)} batches of {BATCH})"
    )


def test_last_event_unobserved_then_observed(make_widget: Callable[..., Harness]) -> None:
    """Unobserved, ``last_event`` is stored without traitlets' notification (the hot path's fast
    path); an observer added later, of the trait or of every trait, is notified from then on,
    and one removed again is not."""
    h = make_widget()
    w = h.widget
    h.receive({"kind": "rt:events", "batch": 1, "records": [
        {"source": "server", "t_browser_ms": 1.0, "event": delta(0)},
        {"source": "server", "t_browser_ms": 2.0, "event": delta(1)},
    ]})  # fmt: skip
    assert w.last_event is w.log[-1]["event"]

    seen: list[str] = []
    every: list[str] = []

    def one(change: Any) -> None:
        seen.append(change["new"]["event_id"])

    def all_traits(change: Any) -> None:
        every.append(change["name"])

    w.observe(one, "last_event")
    w.observe(all_traits)
    h.receive({"kind": "rt:events", "batch": 2, "records": [
        {"source": "server", "t_browser_ms": 3.0, "event": delta(2)},
    ]})  # fmt: skip
    assert seen == ["event_2"] and every == ["last_event"]
    w.unobserve(one, "last_event")
    w.unobserve(all_traits)
    h.receive({"kind": "rt:events", "batch": 3, "records": [
        {"source": "server", "t_browser_ms": 4.0, "event": delta(3)},
    ]})  # fmt: skip
    assert seen == ["event_2"] and every == ["last_event"]
    assert w.last_event["event_id"] == "event_3"
