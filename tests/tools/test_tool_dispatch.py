"""The dispatcher: the model's calls run, answered in the right order, whatever the tool does.

Timing: tools that must be slow block on a ``threading.Event`` the test releases; waits are
generous (10 s) and only timeouts under test are short.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from openai.types.realtime import RealtimeServerEvent
from pydantic import TypeAdapter
from tool_helpers import Sink, assert_client_event

from rt_widget.tools import ToolDispatcher, ToolRegistry

SERVER_EVENT = TypeAdapter(RealtimeServerEvent)
WAIT = 10.0


# -- server events, checked against the GA types so the tests speak the real protocol --------------
def call(
    name: str,
    arguments: Any = "{}",
    *,
    call_id: str = "call_1",
    response_id: str = "resp_1",
) -> dict[str, Any]:
    event = {
        "type": "response.function_call_arguments.done",
        "event_id": f"event_{call_id}",
        "response_id": response_id,
        "item_id": f"item_{call_id}",
        "output_index": 0,
        "call_id": call_id,
        "name": name,
        "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
    }
    SERVER_EVENT.validate_python(event)
    return event


def created(response_id: str = "resp_1") -> dict[str, Any]:
    event = {
        "type": "response.created",
        "event_id": f"event_created_{response_id}",
        "response": {"id": response_id, "object": "realtime.response", "status": "in_progress"},
    }
    SERVER_EVENT.validate_python(event)
    return event


def done(
    response_id: str = "resp_1",
    status: str = "completed",
    output: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    event = {
        "type": "response.done",
        "event_id": f"event_done_{response_id}",
        "response": {
            "id": response_id,
            "object": "realtime.response",
            "status": status,
            "output": output or [],
        },
    }
    SERVER_EVENT.validate_python(event)
    return event


def kinds(sink: Sink) -> list[str]:
    """The sent events as short names, in order: 'item:<call_id>' or 'response.create'."""
    out = []
    for e in sink.sent:
        out.append(
            f"item:{e['item']['call_id']}" if e["type"] == "conversation.item.create" else e["type"]
        )
    return out


def output_of(sink: Sink, call_id: str = "call_1") -> str:
    for e in sink.sent:
        if e["type"] == "conversation.item.create" and e["item"]["call_id"] == call_id:
            return e["item"]["output"]
    raise AssertionError(f"no output for {call_id}: {sink.sent}")


def record_of(sink: Sink, call_id: str = "call_1") -> dict[str, Any]:
    found = [r for r in sink.records if r["call_id"] == call_id]
    assert len(found) == 1, sink.records
    return found[0]


def has_response_create(s: Sink) -> bool:
    return "response.create" in kinds(s)


# -- fixtures --------------------------------------------------------------------------------------
@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
def registry() -> ToolRegistry:
    return ToolRegistry()


@pytest.fixture
def dispatcher(registry: ToolRegistry, sink: Sink) -> Iterator[ToolDispatcher]:
    d = ToolDispatcher(
        registry, send_event=sink.send_event, record=sink.record, on_status=sink.on_status
    )
    yield d
    d.close()


@pytest.fixture(autouse=True)
def every_sent_event_is_valid(sink: Sink) -> Iterator[None]:
    yield
    for event in sink.sent:
        assert_client_event(event)


def run_turn(d: ToolDispatcher, *events: dict[str, Any]) -> None:
    """One response: created, the given calls, done."""
    rid = events[0]["response_id"] if events else "resp_1"
    d.handle_event(created(rid))
    for e in events:
        d.handle_event(e)
    d.handle_event(done(rid))


# -- the happy paths -------------------------------------------------------------------------------
def test_sync_tool(dispatcher: ToolDispatcher, registry: ToolRegistry, sink: Sink) -> None:
    threads: list[str] = []

    @registry.tool
    def get_weather(city: str, days: int = 1) -> dict[str, Any]:
        threads.append(threading.current_thread().name)
        return {"city": city, "days": days, "sky": "clear"}

    before = time.time() * 1000
    run_turn(dispatcher, call("get_weather", {"city": "Oslo", "days": "2"}))
    sink.wait_for(has_response_create, WAIT)

    assert kinds(sink) == ["item:call_1", "response.create"]
    assert json.loads(output_of(sink)) == {"city": "Oslo", "days": 2, "sky": "clear"}
    assert threads and threads[0] != threading.main_thread().name
    rec = record_of(sink)
    assert rec["type"] == "widget.tool"
    assert rec["name"] == "get_weather" and rec["status"] == "ok"
    assert rec["arguments"] == {"city": "Oslo", "days": "2"}  # as the model sent them
    assert rec["result"] == {"city": "Oslo", "days": 2, "sky": "clear"}
    assert rec["error"] is None and rec["truncated"] is False
    assert (rec["item_id"], rec["response_id"]) == ("item_call_1", "resp_1")
    assert rec["duration_ms"] >= 0 and before - 1 <= rec["started_ms"] <= time.time() * 1000 + 1
    json.dumps(rec)  # the record is JSON as it is
    assert sink.statuses[0] == "running get_weather…"
    assert sink.statuses[-1].startswith("get_weather done in ")


def test_async_tool_runs_on_a_private_loop(
    dispatcher: ToolDispatcher, registry: ToolRegistry, sink: Sink
) -> None:
    seen: dict[str, Any] = {}

    @registry.tool
    async def get_time(zone: str = "UTC") -> str:
        await asyncio.sleep(0.01)
        seen["thread"] = threading.current_thread()
        seen["loop"] = asyncio.get_running_loop()
        return f"12:00 {zone}"

    run_turn(dispatcher, call("get_time", {"zone": "CET"}))
    sink.wait_for(has_response_create, WAIT)
    assert output_of(sink) == "12:00 CET"  # a str result goes as it is
    assert seen["thread"] is not threading.main_thread()
    assert record_of(sink)["status"] == "ok"
    dispatcher.close()
    assert seen["loop"].is_closed()


def test_async_tool_on_a_given_loop(registry: ToolRegistry, sink: Sink) -> None:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        d = ToolDispatcher(registry, send_event=sink.send_event, record=sink.record, loop=loop)

        @registry.tool
        async def which_loop() -> bool:
            return asyncio.get_running_loop() is loop

        run_turn(d, call("which_loop"))
        sink.wait_for(has_response_create, WAIT)
        assert output_of(sink) == "true"
        d.close()
        assert not loop.is_closed()  # not ours to close
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(WAIT)
        loop.close()


def test_handle_event_returns_while_a_tool_is_busy(
    dispatcher: ToolDispatcher, registry: ToolRegistry, sink: Sink
) -> None:
    release = threading.Event()

    @registry.tool
    def slow() -> str:
        release.wait(WAIT)
        return "finally"

    t0 = time.monotonic()
    run_turn(dispatcher, call("slow"))
    assert time.monotonic() - t0 < 2.0  # the comm handler is not held (the tool waits for WAIT)
    assert dispatcher.in_flight == ["slow"]
    assert sink.sent == []
    release.set()
    sink.wait_for(has_response_create, WAIT)
    assert output_of(sink) == "finally"
    assert dispatcher.wait_idle(WAIT) and dispatcher.in_flight == []


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ("plain text", "plain text"),
        (None, "null"),
        (3.5, "3.5"),
        ([1, "two"], '[1,"two"]'),
        ({"ünïcode": "✓"}, '{"ünïcode":"✓"}'),
    ],
)
def test_result_encoding(
    dispatcher: ToolDispatcher, registry: ToolRegistry, sink: Sink, result: Any, expected: str
) -> None:
    registry.add(lambda: result, name="give")
    run_turn(dispatcher, call("give"))
    sink.wait_for(has_response_create, WAIT)
    assert output_of(sink) == expected
    assert record_of(sink)["result"] == result


def test_unserializable_result_is_sent_as_str_with_a_note(
    dispatcher: ToolDispatcher, registry: ToolRegistry, sink: Sink
) -> None:
    class Opaque:
        def __str__(self) -> str:
            return "<opaque thing>"

    @dataclasses.dataclass
    class Reading:
        value: float
        raw: Any

    registry.add(lambda: Reading(1.5, Opaque()), name="read")
    run_turn(dispatcher, call("read"))
    sink.wait_for(has_response_create, WAIT)
    assert json.loads(output_of(sink)) == {"value": 1.5, "raw": "<opaque thing>"}
    assert "str(value)" in record_of(sink)["note"]


def test_result_that_cannot_even_be_printed(
    dispatcher: ToolDispatcher, registry: ToolRegistry, sink: Sink
) -> None:
    class Hostile:
        def __str__(self) -> str:
            raise RuntimeError("no")

        __repr__ = __str__

    registry.add(lambda: Hostile(), name="hostile")
    run_turn(dispatcher, call("hostile"))
    sink.wait_for(has_response_create, WAIT)
    assert json.loads(output_of(sink))["error"].startswith("the result of hostile could not")
    assert record_of(sink)["status"] == "error"


# -- errors become outputs, and the call goes on ---------------------------------------------------
def test_tool_that_raises(dispatcher: ToolDispatcher, registry: ToolRegistry, sink: Sink) -> None:
    @registry.tool
    def explode(city: str) -> str:
        raise ValueError(f"no weather for {city}")

    run_turn(dispatcher, call("explode", {"city": "Atlantis"}))
    sink.wait_for(has_response_create, WAIT)
    assert json.loads(output_of(sink)) == {"error": "ValueError: no weather for Atlantis"}
    rec = record_of(sink)
    assert rec["status"] == "error" and rec["error"] == "ValueError: no weather for Atlantis"
    assert rec["arguments"] == {"city": "Atlantis"} and rec["result"] is None
    assert "raise ValueError" in rec["traceback"]
    assert sink.statuses[-1] == "explode failed: ValueError: no weather for Atlantis"


def test_bad_json_arguments(dispatcher: ToolDispatcher, registry: ToolRegistry, sink: Sink) -> None:
    ran = threading.Event()
    registry.add(lambda city: ran.set(), name="echo")
    run_turn(dispatcher, call("echo", '{"city": "Oslo"'))
    sink.wait_for(has_response_create, WAIT)
    error = json.loads(output_of(sink))["error"]
    assert error.startswith("arguments are not valid JSON")
    rec = record_of(sink)
    assert rec["status"] == "error" and rec["arguments"] is None
    assert rec["arguments_raw"] == '{"city": "Oslo"'
    assert not ran.is_set()


def test_wrong_argument_types(
    dispatcher: ToolDispatcher, registry: ToolRegistry, sink: Sink
) -> None:
    ran = threading.Event()

    @registry.tool
    def forecast(city: str, days: int) -> None:
        ran.set()

    run_turn(dispatcher, call("forecast", {"city": "Oslo", "days": "a few"}))
    sink.wait_for(has_response_create, WAIT)
    error = json.loads(output_of(sink))["error"]
    assert error.startswith("invalid arguments: days: Input should be a valid integer")
    assert record_of(sink)["arguments"] == {"city": "Oslo", "days": "a few"}
    assert not ran.is_set()


def test_empty_arguments_mean_no_arguments(
    dispatcher: ToolDispatcher, registry: ToolRegistry, sink: Sink
) -> None:
    registry.add(lambda: "ok", name="ping")
    run_turn(dispatcher, call("ping", ""))
    sink.wait_for(has_response_create, WAIT)
    assert output_of(sink) == "ok"


def test_unknown_tool(dispatcher: ToolDispatcher, registry: ToolRegistry, sink: Sink) -> None:
    registry.add(lambda: 1, name="known")
    run_turn(dispatcher, call("made_up", {"x": 1}))
    sink.wait_for(has_response_create, WAIT)
    assert json.loads(output_of(sink)) == {"error": "no tool named 'made_up' (tools: known)"}
    rec = record_of(sink)
    assert rec["status"] == "error" and rec["arguments"] == {"x": 1}


def test_sync_timeout(dispatcher: ToolDispatcher, registry: ToolRegistry, sink: Sink) -> None:
    release = threading.Event()
    finished = threading.Event()

    @registry.tool(timeout=0.2)
    def stuck() -> str:
        release.wait(WAIT)
        finished.set()
        return "too late"

    run_turn(dispatcher, call("stuck"))
    sink.wait_for(has_response_create, WAIT)
    assert json.loads(output_of(sink)) == {
        "error": "stuck did not finish within its timeout of 0.2 s"
    }
    rec = record_of(sink)
    assert rec["status"] == "timeout" and rec["duration_ms"] >= 200
    assert sink.statuses[-1].startswith("stuck timed out after")
    # The thread cannot be stopped; when it ends, nothing more is sent or recorded.
    release.set()
    assert finished.wait(WAIT)
    time.sleep(0.05)
    assert kinds(sink) == ["item:call_1", "response.create"] and len(sink.records) == 1


def test_async_timeout_cancels_the_task(
    dispatcher: ToolDispatcher, registry: ToolRegistry, sink: Sink
) -> None:
    cancelled = threading.Event()

    @registry.tool(timeout=0.2)
    async def sleepy() -> str:
        try:
            await asyncio.sleep(WAIT)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    run_turn(dispatcher, call("sleepy"))
    sink.wait_for(has_response_create, WAIT)
    assert record_of(sink)["status"] == "timeout"
    assert cancelled.wait(WAIT)


def test_a_tool_raising_timeouterror_is_an_error_not_a_timeout(
    dispatcher: ToolDispatcher, registry: ToolRegistry, sink: Sink
) -> None:
    @registry.tool
    def upstream() -> None:
        raise TimeoutError("the weather service did not answer")

    run_turn(dispatcher, call("upstream"))
    sink.wait_for(has_response_create, WAIT)
    rec = record_of(sink)
    assert rec["status"] == "error"
    assert rec["error"] == "TimeoutError: the weather service did not answer"


def test_a_failing_callback_does_not_stop_the_dispatcher(
    registry: ToolRegistry, sink: Sink
) -> None:
    failures = iter([True])

    def flaky_send(event: dict[str, Any]) -> None:
        if next(failures, False):
            raise RuntimeError("comm closed")
        sink.send_event(event)

    d = ToolDispatcher(registry, send_event=flaky_send, record=sink.record)
    registry.add(lambda: "x", name="t")
    run_turn(d, call("t"))
    sink.wait_for(lambda s: len(s.records) == 1 and has_response_create(s), WAIT)
    assert kinds(sink) == ["response.create"]  # the item was lost with the failing send only
    d.close()


def test_callbacks_may_take_a_lock_the_comm_handler_holds(
    registry: ToolRegistry, sink: Sink
) -> None:
    # The widget appends records to its log under its own lock, and may hold that lock while it
    # feeds handle_event. Neither side may wait for the other.
    widget_lock = threading.Lock()
    recording = threading.Event()

    def record(rec: dict[str, Any]) -> None:
        recording.set()
        with widget_lock:
            sink.record(rec)

    d = ToolDispatcher(registry, send_event=sink.send_event, record=record)
    registry.add(lambda: "ok", name="t")
    d.handle_event(created())
    with widget_lock:
        d.handle_event(call("t"))
        assert recording.wait(WAIT)  # the worker is now waiting for widget_lock
        t0 = time.monotonic()
        d.handle_event(done())  # releases a response.create while the worker is delivering
        assert time.monotonic() - t0 < 2.0
    sink.wait_for(has_response_create, WAIT)
    assert kinds(sink) == ["item:call_1", "response.create"] and len(sink.records) == 1
    assert d.wait_idle(WAIT)
    d.close()


# -- when response.create goes ---------------------------------------------------------------------
def test_response_create_waits_for_the_response_to_end(
    dispatcher: ToolDispatcher, registry: ToolRegistry, sink: Sink
) -> None:
    registry.add(lambda: "fast", name="fast")
    dispatcher.handle_event(created())
    dispatcher.handle_event(call("fast"))
    sink.wait_for(lambda s: len(s.sent) == 1, WAIT)
    assert dispatcher.wait_idle(WAIT)
    assert kinds(sink) == ["item:call_1"]  # answered, but the response is still going
    dispatcher.handle_event(done())
    assert kinds(sink) == ["item:call_1", "response.create"]


def test_parallel_calls_get_one_response_create_after_all_outputs(
    dispatcher: ToolDispatcher, registry: ToolRegistry, sink: Sink
) -> None:
    release = threading.Event()

    @registry.tool
    def slow(n: int) -> int:
        release.wait(WAIT)
        return n

    @registry.tool
    def quick(n: int) -> int:
        return n

    run_turn(
        dispatcher,
        call("slow", {"n": 1}, call_id="call_a"),
        call("quick", {"n": 2}, call_id="call_b"),
    )
    sink.wait_for(lambda s: len(s.sent) == 1, WAIT)
    assert kinds(sink) == ["item:call_b"]
    release.set()
    sink.wait_for(has_response_create, WAIT)
    assert kinds(sink) == ["item:call_b", "item:call_a", "response.create"]
    assert [r["call_id"] for r in sink.records] == ["call_b", "call_a"]


def test_response_create_waits_for_another_running_response(
    dispatcher: ToolDispatcher, registry: ToolRegistry, sink: Sink
) -> None:
    release = threading.Event()
    registry.add(lambda: release.wait(WAIT), name="t")
    run_turn(dispatcher, call("t"))
    dispatcher.handle_event(created("resp_2"))  # e.g. the user spoke: VAD started a response
    release.set()
    assert dispatcher.wait_idle(WAIT)
    sink.wait_for(lambda s: len(s.sent) == 1, WAIT)
    assert kinds(sink) == ["item:call_1"]
    dispatcher.handle_event(done("resp_2"))
    assert kinds(sink) == ["item:call_1", "response.create"]


def test_interrupted_response_gets_outputs_but_no_new_response(
    dispatcher: ToolDispatcher, registry: ToolRegistry, sink: Sink
) -> None:
    registry.add(lambda: "ok", name="t")
    dispatcher.handle_event(created())
    dispatcher.handle_event(call("t"))
    dispatcher.handle_event(done(status="cancelled"))
    assert dispatcher.wait_idle(WAIT)
    assert kinds(sink) == ["item:call_1"]
    assert record_of(sink)["status"] == "ok"


def test_call_known_only_from_response_done(
    dispatcher: ToolDispatcher, registry: ToolRegistry, sink: Sink
) -> None:
    registry.add(lambda city: f"sun in {city}", name="weather")
    item = {
        "type": "function_call",
        "id": "item_late",
        "object": "realtime.item",
        "status": "completed",
        "call_id": "call_late",
        "name": "weather",
        "arguments": '{"city": "Rome"}',
    }
    dispatcher.handle_event(created())
    dispatcher.handle_event(done(output=[item]))
    sink.wait_for(has_response_create, WAIT)
    assert kinds(sink) == ["item:call_late", "response.create"]
    assert output_of(sink, "call_late") == "sun in Rome"


def test_repeated_call_event_runs_the_tool_once(
    dispatcher: ToolDispatcher, registry: ToolRegistry, sink: Sink
) -> None:
    runs: list[int] = []
    registry.add(lambda: runs.append(1), name="once")
    event = call("once")
    dispatcher.handle_event(created())
    dispatcher.handle_event(event)
    dispatcher.handle_event(event)
    dispatcher.handle_event(
        done(
            output=[
                {"type": "function_call", "call_id": "call_1", "name": "once", "arguments": "{}"}
            ]
        )
    )
    sink.wait_for(has_response_create, WAIT)
    assert runs == [1] and len(sink.records) == 1


def test_raw_function_configs_are_left_to_their_owner(
    dispatcher: ToolDispatcher, registry: ToolRegistry, sink: Sink
) -> None:
    registry.add({"type": "function", "name": "mine", "parameters": {"type": "object"}})
    run_turn(dispatcher, call("mine"))
    assert dispatcher.wait_idle(WAIT)
    assert sink.sent == [] and sink.records == []


def test_outputs_of_an_ended_call_are_recorded_not_sent(
    dispatcher: ToolDispatcher, registry: ToolRegistry, sink: Sink
) -> None:
    release = threading.Event()

    @registry.tool
    def slow() -> str:
        release.wait(WAIT)
        return "late"

    run_turn(dispatcher, call("slow"))
    dispatcher.reset()  # the call ended (hang-up) while the tool ran
    release.set()
    assert dispatcher.wait_idle(WAIT)
    assert sink.sent == []
    assert record_of(sink)["status"] == "ok"
    assert sink.statuses[-1].endswith("(after the call ended; not sent)")


# -- size ------------------------------------------------------------------------------------------
def test_huge_result_is_truncated_below_the_data_channel_limit(
    dispatcher: ToolDispatcher, registry: ToolRegistry, sink: Sink
) -> None:
    # Quotes and control characters grow when escaped; non-ASCII grows in UTF-8.
    chunk = 'line "quoted" \x01 ünï ✓\n'
    registry.add(lambda: chunk * 50_000, name="dump")
    run_turn(dispatcher, call("dump"))
    sink.wait_for(has_response_create, WAIT)
    item_event = sink.sent[0]
    size = len(json.dumps(item_event, ensure_ascii=False, separators=(",", ":")).encode())
    assert dispatcher.max_event_bytes - 200 < size <= dispatcher.max_event_bytes
    output = item_event["item"]["output"]
    assert output.startswith(chunk * 10)
    assert f"the tool returned {len(chunk) * 50_000:,} characters" in output
    rec = record_of(sink)
    assert rec["truncated"] is True
    assert len(rec["result"].encode()) <= dispatcher.max_record_result_bytes
    assert "[truncated by rt_widget" in rec["result"]


def test_large_json_result_in_the_record(
    dispatcher: ToolDispatcher, registry: ToolRegistry, sink: Sink
) -> None:
    rows = [{"i": i, "name": f"row {i}"} for i in range(10_000)]  # ~250 kB of JSON
    registry.add(lambda: rows, name="rows")
    run_turn(dispatcher, call("rows"))
    sink.wait_for(has_response_create, WAIT)
    rec = record_of(sink)
    assert rec["truncated"] is True
    assert isinstance(rec["result"], str) and rec["result"].startswith('[{"i":0,"name":"row 0"}')
