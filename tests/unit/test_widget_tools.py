"""RealtimeWidget's tools, wait_for and send_image, without a front end: the comm messages the
front end would send go in through the widget's message handler (rt:events batches), and what the
kernel sends back is read from the comm. Tools really run, on the dispatcher's threads.

Events are checked against openai's GA Realtime types: the server events we feed in and the client
events the widget produces.
"""

from __future__ import annotations

import asyncio
import io
import json
import struct
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pytest
from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent
from openai.types.realtime.realtime_tools_config_union import RealtimeToolsConfigUnion
from pydantic import TypeAdapter

from rt_widget import CallStateError, RealtimeWidget
from rt_widget import widget as widget_module
from rt_widget.tools import Tool
from rt_widget.waiting import WaitUnsupportedError, shell_pump

from .conftest import API_KEY, FakeService, Harness

MakeWidget = Callable[..., Harness]
SERVER_EVENT = TypeAdapter(RealtimeServerEvent)
CLIENT_EVENT = TypeAdapter(RealtimeClientEvent)
SESSION_TOOL = TypeAdapter(RealtimeToolsConfigUnion)
WAIT = 10.0

MCP = {
    "type": "mcp",
    "server_label": "deepwiki",
    "server_url": "https://mcp.deepwiki.com/mcp",
    "require_approval": "never",
}


# -- tools used by the tests (module level: their type hints must resolve) --------------------------
def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict[str, Any]:
    """Current weather for a city.

    Args:
        city: The city's name, e.g. "Paris".
        unit: Temperature unit.
    """
    return {"city": city, "temperature": 21, "unit": unit}


async def slow_sum(a: int, b: int) -> int:
    """Add two numbers, slowly."""
    await asyncio.sleep(0.01)
    return a + b


def explode(reason: str) -> str:
    """Always fails."""
    raise ValueError(f"no weather: {reason}")


# -- helpers ------------------------------------------------------------------------------------------
def server_event(event: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    SERVER_EVENT.validate_python(event)
    return ("server", event)


def created(response_id: str) -> tuple[str, dict[str, Any]]:
    return server_event(
        {
            "type": "response.created",
            "event_id": f"ev_created_{response_id}",
            "response": {"id": response_id, "object": "realtime.response", "status": "in_progress"},
        }
    )


def function_call(name: str, arguments: Any, call_id: str, response_id: str) -> tuple[str, dict]:
    return server_event(
        {
            "type": "response.function_call_arguments.done",
            "event_id": f"ev_args_{call_id}",
            "response_id": response_id,
            "item_id": f"item_{call_id}",
            "output_index": 0,
            "call_id": call_id,
            "name": name,
            "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
        }
    )


def response_done(response_id: str, status: str = "completed") -> tuple[str, dict[str, Any]]:
    return server_event(
        {
            "type": "response.done",
            "event_id": f"ev_done_{response_id}",
            "response": {"id": response_id, "object": "realtime.response", "status": status},
        }
    )


def model_calls(h: Harness, name: str, arguments: Any, n: int = 1) -> None:
    """One response that calls ``name``, as the service sends it, in one batch."""
    h.events(
        created(f"resp_{n}"),
        function_call(name, arguments, f"call_{n}", f"resp_{n}"),
        response_done(f"resp_{n}"),
    )


def connected(h: Harness) -> Harness:
    h.hello()
    h.set_state_from_frontend(state="connected")
    return h


def sent_events(h: Harness) -> list[dict[str, Any]]:
    """Client events the kernel asked the front end to send, each checked against the GA types."""
    events = [c["event"] for c in list(h.sent) if c.get("kind") == "rt:send"]
    for event in events:
        model = CLIENT_EVENT.validate_python(event)
        # Every field is one the type knows (openai's models ignore unknown ones; the API rejects).
        assert model.model_dump(mode="json", exclude_unset=True) == event
    return events


def tool_traffic(h: Harness) -> list[dict[str, Any]]:
    """What the dispatcher sent: outputs and response.create (not the tools' session.update)."""
    return [e for e in sent_events(h) if e["type"] != "session.update"]


def settle(w: RealtimeWidget) -> None:
    assert w._dispatcher.wait_idle(WAIT), "the tool calls did not finish"


def tool_records(w: RealtimeWidget) -> list[dict[str, Any]]:
    return [r["event"] for r in w.log if r["event"]["type"] == "widget.tool"]


# -- construction and the tools list ------------------------------------------------------------------
def test_tools_argument_puts_schemas_and_raw_configs_in_the_session(
    make_widget: MakeWidget,
) -> None:
    w = make_widget(tools=[get_weather, MCP]).widget
    tools = w.session_config["tools"]
    assert [t.get("name") or t.get("server_label") for t in tools] == ["get_weather", "deepwiki"]
    for entry in tools:
        SESSION_TOOL.validate_python(entry)
    assert tools[0] == {
        "type": "function",
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": 'The city\'s name, e.g. "Paris".'},
                "unit": {
                    "type": "string",
                    "enum": ["celsius", "fahrenheit"],
                    "default": "celsius",
                    "description": "Temperature unit.",
                },
            },
            "required": ["city"],
            "additionalProperties": False,
        },
    }
    assert tools[1] == MCP  # passed through unchanged


def test_session_tools_join_the_tools_argument(make_widget: MakeWidget) -> None:
    raw_function = {"type": "function", "name": "lookup", "description": "Answered by my code."}
    w = make_widget(session={"tools": [raw_function]}, tools=[get_weather]).widget
    assert list(w.tools) == ["lookup", "get_weather"]
    assert w.session_config["tools"][0] == raw_function


def test_no_tools_means_no_tools_field(make_widget: MakeWidget) -> None:
    assert "tools" not in make_widget().widget.session_config


def test_tools_keyword_is_suggested_and_validated() -> None:
    with pytest.raises(TypeError, match=r"'tool' \(did you mean 'tools'\?\)"):
        RealtimeWidget(api_key=API_KEY, tool=[get_weather])
    with pytest.raises(TypeError, match="wrap a single tool in a list"):
        RealtimeWidget(api_key=API_KEY, tools=get_weather)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="server_label"):
        RealtimeWidget(api_key=API_KEY, tools=[{"type": "mcp"}])
    with pytest.raises(TypeError, match="session\\['tools'\\] must be a list"):
        RealtimeWidget(api_key=API_KEY, session={"tools": {"type": "mcp"}})


def test_tool_decorator_forms_and_the_read_only_view(make_widget: MakeWidget) -> None:
    w = make_widget().widget

    @w.tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @w.tool(name="weather", timeout=5)
    def weather_fn(city: str) -> str:
        return city

    assert w.tool(explode, description="Fails on purpose.", timeout=0.5) is explode
    assert w.tool(MCP) == MCP
    assert add(1, 2) == 3 and weather_fn.__name__ == "weather_fn"  # functions come back unchanged
    view = w.tools
    assert list(view) == ["add", "weather", "explode", "deepwiki"]
    assert isinstance(view["add"], Tool) and view["add"].fn is add
    assert (view["weather"].timeout_s, view["explode"].timeout_s) == (5, 0.5)
    assert view["explode"].description == "Fails on purpose."
    with pytest.raises(TypeError):
        view["x"] = get_weather  # type: ignore[index]
    view["deepwiki"]["server_url"] = "changed"  # a copy: the session is not affected
    assert w.session_config["tools"][3] == MCP
    with pytest.raises(TypeError, match="Python functions only"):
        w.tool(MCP, timeout=3)  # type: ignore[call-overload]

    w.remove_tool("weather")
    w.remove_tool(add)
    w.remove_tool("deepwiki")
    assert list(w.tools) == ["explode"]
    with pytest.raises(KeyError, match="no tool 'nope'"):
        w.remove_tool("nope")


def test_a_tool_redefined_under_the_same_name_replaces_it_in_place(make_widget: MakeWidget) -> None:
    w = make_widget(tools=[get_weather, slow_sum]).widget

    def newer(city: str) -> str:  # a notebook cell defining get_weather, run again
        """Newer weather."""
        return city

    w.tool(newer, name="get_weather")
    assert list(w.tools) == ["get_weather", "slow_sum"]
    assert w.session_config["tools"][0]["description"] == "Newer weather."


# -- the session follows the tools ----------------------------------------------------------------------
def test_changing_tools_during_a_call_sends_session_update(make_widget: MakeWidget) -> None:
    h = connected(make_widget(tools=[get_weather]))
    w = h.widget
    w.tool(slow_sum)
    w.tool(MCP)
    w.remove_tool("get_weather")
    updates = [e for e in sent_events(h) if e["type"] == "session.update"]
    assert [
        [t.get("name") or t["server_label"] for t in u["session"]["tools"]] for u in updates
    ] == [
        ["get_weather", "slow_sum"],
        ["get_weather", "slow_sum", "deepwiki"],
        ["slow_sum", "deepwiki"],
    ]
    assert all(set(u["session"]) == {"type", "tools"} for u in updates)
    w.remove_tool(slow_sum)
    w.remove_tool("deepwiki")
    assert sent_events(h)[-1]["session"]["tools"] == []  # emptied, not left as it was
    assert "tools" not in w.session_config


def test_changing_tools_between_calls_only_changes_the_next_call(
    make_widget: MakeWidget, service: FakeService
) -> None:
    h = make_widget()
    h.hello()
    h.widget.tool(get_weather)
    assert sent_events(h) == []
    assert h.invoke("mint_client_secret")["ok"] is True
    minted = json.loads(service.requests[-1].content)["session"]
    assert [t["name"] for t in minted["tools"]] == ["get_weather"]


def test_tools_changed_while_connecting_are_sent_once_connected(make_widget: MakeWidget) -> None:
    h = make_widget()
    h.hello()
    h.widget.connect()
    h.widget.tool(get_weather)  # the secret may already carry the old tools
    assert sent_events(h) == []
    h.set_state_from_frontend(state="connected")
    assert [e["type"] for e in sent_events(h)] == ["session.update"]
    assert sent_events(h)[0]["session"]["tools"][0]["name"] == "get_weather"


def test_update_session_tools_replaces_the_tools(make_widget: MakeWidget) -> None:
    h = connected(make_widget(tools=[get_weather]))
    w = h.widget
    w.update_session(tools=[slow_sum, MCP], instructions="Be brief.")
    update = sent_events(h)[-1]["session"]
    assert [t.get("name") or t["server_label"] for t in update["tools"]] == ["slow_sum", "deepwiki"]
    assert update["instructions"] == "Be brief."
    assert list(w.tools) == ["slow_sum", "deepwiki"]
    assert w.session_config["tools"] == update["tools"]
    assert w.session_config["instructions"] == "Be brief."
    # The new list is live: adding to it updates the session again.
    w.tool(get_weather)
    assert [t.get("name") for t in sent_events(h)[-1]["session"]["tools"]][-1] == "get_weather"


def test_update_session_with_bad_tools_changes_nothing(make_widget: MakeWidget) -> None:
    h = connected(make_widget(tools=[get_weather]))
    with pytest.raises(ValueError):
        h.widget.update_session(tools=[{"type": "mcp"}])
    assert sent_events(h) == []
    assert list(h.widget.tools) == ["get_weather"]


# -- dispatch -------------------------------------------------------------------------------------------
def test_a_sync_tool_call_is_answered_recorded_and_followed_by_response_create(
    make_widget: MakeWidget,
) -> None:
    h = connected(make_widget(tools=[get_weather]))
    w = h.widget
    model_calls(h, "get_weather", {"city": "Paris", "unit": "fahrenheit"})
    settle(w)
    events = sent_events(h)
    assert [e["type"] for e in events] == ["conversation.item.create", "response.create"]
    item = events[0]["item"]
    assert item["type"] == "function_call_output" and item["call_id"] == "call_1"
    assert json.loads(item["output"]) == {"city": "Paris", "temperature": 21, "unit": "fahrenheit"}
    [record] = tool_records(w)
    assert record["name"] == "get_weather" and record["status"] == "ok"
    assert record["arguments"] == {"city": "Paris", "unit": "fahrenheit"}
    assert record["result"] == {"city": "Paris", "temperature": 21, "unit": "fahrenheit"}
    assert record["duration_ms"] >= 0 and record["call_id"] == "call_1"
    # The record is in the log like any other, numbered in order, and published.
    assert [r["seq"] for r in w.log] == list(range(len(w.log)))
    assert w.last_event is record
    assert w.tool_status.startswith("get_weather done in ")


def test_an_async_tool_runs(make_widget: MakeWidget) -> None:
    h = connected(make_widget(tools=[slow_sum]))
    model_calls(h, "slow_sum", {"a": 2, "b": "3"})  # lax: "3" -> 3
    settle(h.widget)
    assert sent_events(h)[0]["item"]["output"] == "5"
    assert tool_records(h.widget)[0]["result"] == 5


@pytest.mark.parametrize(
    ("tools", "name", "arguments", "error"),
    [
        ([explode], "explode", {"reason": "tests"}, "ValueError: no weather: tests"),
        ([get_weather], "get_weather", {"town": "Paris"}, "city"),
        ([get_weather], "get_weather", "{not json", "not valid JSON"),
        ([get_weather], "get_wether", {}, "no tool named 'get_wether' (tools: get_weather)"),
    ],
)
def test_failures_go_back_to_the_model_as_errors(
    make_widget: MakeWidget, tools: list[Any], name: str, arguments: Any, error: str
) -> None:
    h = connected(make_widget(tools=tools))
    model_calls(h, name, arguments)
    settle(h.widget)
    item_event, follow_up = sent_events(h)
    assert error in json.loads(item_event["item"]["output"])["error"]
    assert follow_up == {"type": "response.create"}  # the conversation goes on
    [record] = tool_records(h.widget)
    assert record["status"] == "error" and error in record["error"]
    assert "failed" in h.widget.tool_status


def test_a_tool_past_its_timeout_is_answered_with_an_error(make_widget: MakeWidget) -> None:
    release = threading.Event()
    h = connected(make_widget())

    @h.widget.tool(timeout=0.2)
    def stuck() -> str:
        """Never returns in time."""
        release.wait(WAIT)
        return "too late"

    try:
        model_calls(h, "stuck", {})
        settle(h.widget)
        output = json.loads(tool_traffic(h)[0]["item"]["output"])
        assert output == {"error": "stuck did not finish within its timeout of 0.2 s"}
        assert tool_records(h.widget)[0]["status"] == "timeout"
        assert h.widget.tool_status.startswith("stuck timed out after")
    finally:
        release.set()


def test_the_tool_status_is_synced_for_the_panel(make_widget: MakeWidget) -> None:
    h = connected(make_widget(tools=[get_weather]))
    model_calls(h, "get_weather", {"city": "Oslo"})
    settle(h.widget)
    synced = [
        u["state"]["tool_status"] for u in h.state_updates if "tool_status" in u.get("state", {})
    ]
    assert synced[0] == "running get_weather…"
    assert synced[-1].startswith("get_weather done in ")
    # A new call starts with an empty line.
    h.events(("widget", {"type": "widget.phase", "phase": "start"}))
    assert h.widget.tool_status == ""


def test_raw_function_configs_and_widgets_without_python_tools_leave_calls_alone(
    make_widget: MakeWidget,
) -> None:
    raw = {"type": "function", "name": "lookup", "description": "My own handler answers."}
    for h in (connected(make_widget()), connected(make_widget(tools=[raw, get_weather]))):
        model_calls(h, "lookup", {"q": "x"})
        settle(h.widget)
        assert sent_events(h) == [] and tool_records(h.widget) == []


def test_no_response_create_after_a_cancelled_response(make_widget: MakeWidget) -> None:
    h = connected(make_widget(tools=[get_weather]))
    h.events(
        created("resp_1"),
        function_call("get_weather", {"city": "Rome"}, "call_1", "resp_1"),
        response_done("resp_1", status="cancelled"),
    )
    settle(h.widget)
    assert [e["type"] for e in sent_events(h)] == ["conversation.item.create"]


def test_outputs_of_a_call_that_ended_are_not_sent(make_widget: MakeWidget) -> None:
    release = threading.Event()
    h = connected(make_widget())

    @h.widget.tool
    def slow() -> str:
        release.wait(WAIT)
        return "late"

    model_calls(h, "slow", {})
    h.events(("widget", {"type": "widget.state", "state": "closed", "reason": "hung up"}))
    h.set_state_from_frontend(state="closed")
    release.set()
    settle(h.widget)
    assert tool_traffic(h) == []
    assert tool_records(h.widget)[0]["status"] == "ok"  # still recorded
    assert h.widget.tool_status.endswith("(after the call ended; not sent)")


def test_tool_records_and_batches_from_many_threads_keep_one_numbered_log(
    make_widget: MakeWidget,
) -> None:
    """Tool threads record while the comm handler ingests batches: every record lands once,
    numbered in order, and handlers see them one at a time in that order."""
    h = connected(make_widget(tools=[get_weather]))
    w = h.widget
    seen: list[int] = []
    active = threading.Lock()

    @w.on("*")
    def in_order(event: dict[str, Any]) -> None:
        assert active.acquire(blocking=False), "two handlers ran at once"
        try:
            seen.append(w.log[-1]["seq"])
        finally:
            active.release()

    for n in range(1, 41):
        model_calls(h, "get_weather", {"city": f"City {n}"}, n=n)
        h.events(*[server_event({"type": "rate_limits.updated", "event_id": f"rl_{n}_{i}",
                                 "rate_limits": []}) for i in range(5)])  # fmt: skip
    settle(w)
    assert len(tool_records(w)) == 40
    assert [r["seq"] for r in w.log] == list(range(len(w.log)))
    assert seen == list(range(len(w.log)))


# -- wait_for -----------------------------------------------------------------------------------------
def feed_later(
    h: Harness, *records: tuple[str, dict[str, Any]], delay: float = 0.05
) -> threading.Thread:
    """Deliver a batch from another thread after ``delay``, as a comm handler on a subshell
    thread would, while the test's thread waits."""

    def run() -> None:
        time.sleep(delay)
        h.events(*records)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_wait_for_returns_the_first_matching_event_after_the_call(make_widget: MakeWidget) -> None:
    h = connected(make_widget())
    w = h.widget
    h.events(response_done("resp_old"))  # before the call: does not count
    feeder = feed_later(h, created("resp_1"), response_done("resp_1"), response_done("resp_2"))
    event = w.wait_for("response.done", timeout=WAIT)
    feeder.join()
    assert event["response"]["id"] == "resp_1"
    assert event is w.log.of_type("response.done")[1]["event"]
    assert w._waiters == ()


def test_wait_for_with_a_predicate_and_star(make_widget: MakeWidget) -> None:
    h = connected(make_widget())
    feeder = feed_later(h, response_done("resp_1"), response_done("resp_2"))
    event = h.widget.wait_for("*", timeout=WAIT, predicate=lambda e: "resp_2" in json.dumps(e))
    feeder.join()
    assert event["response"]["id"] == "resp_2"
    feeder = feed_later(h, created("resp_3"))
    assert h.widget.wait_for("*", timeout=WAIT)["type"] == "response.created"
    feeder.join()


def test_wait_for_sees_tool_records(make_widget: MakeWidget) -> None:
    h = connected(make_widget(tools=[get_weather]))
    feeder = feed_later(
        h,
        created("resp_1"),
        function_call("get_weather", {"city": "Lima"}, "call_1", "resp_1"),
        response_done("resp_1"),
    )
    record = h.widget.wait_for("widget.tool", timeout=WAIT)
    feeder.join()
    assert record["name"] == "get_weather" and record["status"] == "ok"


def test_wait_for_times_out_with_a_clear_message(make_widget: MakeWidget) -> None:
    h = make_widget()
    started = time.monotonic()
    with pytest.raises(TimeoutError) as caught:
        h.widget.wait_for("response.done", timeout=0.2)
    assert 0.2 <= time.monotonic() - started < 2
    message = str(caught.value)
    assert "No 'response.done' event arrived within 0.2 s" in message
    assert "w.connect()" in message  # not connected: it says what to do
    assert h.widget._waiters == ()


def test_wait_for_fails_at_once_when_the_call_ends(make_widget: MakeWidget) -> None:
    h = connected(make_widget())
    feeder = feed_later(
        h, ("widget", {"type": "widget.state", "state": "failed", "reason": "ICE failed"})
    )
    started = time.monotonic()
    with pytest.raises(
        CallStateError, match=r"The call ended \(failed: ICE failed\) while waiting"
    ):
        h.widget.wait_for("response.done", timeout=WAIT)
    feeder.join()
    assert time.monotonic() - started < WAIT / 2
    # ...but waiting for the end itself works.
    feeder = feed_later(h, ("widget", {"type": "widget.state", "state": "closed", "reason": "bye"}))
    assert h.widget.wait_for("widget.state", timeout=WAIT)["state"] == "closed"
    feeder.join()


def test_wait_for_fails_at_once_when_the_widget_is_closed(make_widget: MakeWidget) -> None:
    h = connected(make_widget())
    w = h.widget
    closer = threading.Timer(0.05, w.close)
    closer.start()
    with pytest.raises(CallStateError, match="closed while waiting for a 'response.done' event"):
        w.wait_for("response.done", timeout=WAIT)
    closer.join()
    with pytest.raises(CallStateError, match="closed"):
        w.wait_for("response.done")


def test_a_failing_predicate_raises_in_the_waiter_not_on_the_event_path(
    make_widget: MakeWidget,
) -> None:
    h = connected(make_widget())
    feeder = feed_later(h, created("resp_1"))
    with pytest.raises(KeyError, match="nope"):
        h.widget.wait_for("response.created", timeout=WAIT, predicate=lambda e: e["nope"])
    feeder.join()
    assert [r["event"]["type"] for r in h.widget.log] == ["response.created"]


def test_wait_for_from_a_handler_is_refused(make_widget: MakeWidget) -> None:
    h = connected(make_widget())
    errors: list[BaseException] = []

    @h.widget.on("response.created")
    def nested(event: dict[str, Any]) -> None:
        try:
            h.widget.wait_for("response.done", timeout=1)
        except RuntimeError as exc:
            errors.append(exc)

    h.events(created("resp_1"))
    assert len(errors) == 1 and "called from an event handler" in str(errors[0])


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("",), TypeError),
        ((None,), TypeError),
        (("x", 0), ValueError),
        (("x", -1), ValueError),
        (("x", True), ValueError),
        (("x", 1, "not callable"), TypeError),
    ],
)
def test_wait_for_validates_its_arguments(
    make_widget: MakeWidget, args: tuple[Any, ...], error: type[Exception]
) -> None:
    with pytest.raises(error):
        make_widget().widget.wait_for(*args)


def test_wait_for_async(make_widget: MakeWidget) -> None:
    h = connected(make_widget())

    async def main() -> dict[str, Any]:
        feeder = feed_later(h, created("resp_1"), response_done("resp_1"))
        try:
            return await h.widget.wait_for_async("response.done", timeout=WAIT)
        finally:
            feeder.join()

    assert asyncio.run(main())["response"]["id"] == "resp_1"

    async def too_slow() -> None:
        await h.widget.wait_for_async("response.done", timeout=0.1)

    with pytest.raises(TimeoutError, match="No 'response.done' event arrived within 0.1 s"):
        asyncio.run(too_slow())
    assert h.widget._waiters == ()


def test_a_shell_of_a_kernel_rt_widget_cannot_drive_refuses_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On the main thread of an IPython kernel that is not ipykernel, waiting would hang."""
    import IPython

    class ForeignShell:
        kernel = object()  # a kernel, but not ipykernel's

    monkeypatch.setattr(IPython, "get_ipython", lambda: ForeignShell())
    with pytest.raises(WaitUnsupportedError, match="would deadlock this kernel.*use w.on"):
        shell_pump("use w.on")
    # Off the main thread the shell is free to handle messages: a plain wait is right.
    outcome: list[Any] = []
    thread = threading.Thread(target=lambda: outcome.append(shell_pump("x")))
    thread.start()
    thread.join()
    assert outcome == [None]


# -- send_image -----------------------------------------------------------------------------------------
def png(width: int = 2, height: int = 2, noise: int = 0) -> bytes:
    """A valid RGB PNG, made by hand (no PIL needed); ``noise`` bytes of random-ish pixels make
    it large, since they do not compress."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    if noise:
        width = height = int((noise / 3) ** 0.5) + 1
    row = width * 3
    pixels = bytearray()
    seed = 12345
    for _ in range(height):
        pixels.append(0)
        for _ in range(row):
            seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
            pixels.append(seed >> 16 & 0xFF)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(pixels), 9))
        + chunk(b"IEND", b"")
    )


def image_items(h: Harness) -> list[dict[str, Any]]:
    return [e for e in sent_events(h) if e["type"] == "conversation.item.create"]


def test_send_image_bytes_with_a_prompt(make_widget: MakeWidget) -> None:
    h = connected(make_widget())
    data = png()
    h.widget.send_image(data, "What is in this picture?", detail="low")
    item_event, follow_up = sent_events(h)
    assert follow_up == {"type": "response.create"}
    assert item_event["item"] == {
        "type": "message",
        "role": "user",
        "content": [
            {"type": "input_text", "text": "What is in this picture?"},
            {
                "type": "input_image",
                "image_url": "data:image/png;base64,"
                + __import__("base64").b64encode(data).decode(),
                "detail": "low",
            },
        ],
    }


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"GIF89a\x01\x00\x01\x00", "image/gif"),
        (b"GIF87a\x01\x00\x01\x00", "image/gif"),
    ],
)
def test_send_image_detects_the_type_from_the_first_bytes(
    make_widget: MakeWidget, head: bytes, mime: str
) -> None:
    h = connected(make_widget())
    h.widget.send_image(head + b"\x00" * 32, respond=False)
    [event] = sent_events(h)
    assert event["item"]["content"][0]["image_url"].startswith(f"data:{mime};base64,")


def test_send_image_from_a_path_and_from_pil(make_widget: MakeWidget, tmp_path: Path) -> None:
    image = pytest.importorskip("PIL.Image")
    h = connected(make_widget())
    path = tmp_path / "dot.png"
    path.write_bytes(png())
    h.widget.send_image(path, respond=False)
    h.widget.send_image(str(path), respond=False)
    picture = image.new("RGB", (4, 3), (200, 10, 10))
    h.widget.send_image(picture, respond=False)
    h.widget.send_image(image.new("CMYK", (2, 2)), respond=False)  # PNG has no CMYK: converted
    urls = [e["item"]["content"][0]["image_url"] for e in image_items(h)]
    assert urls[0] == urls[1]
    decoded = image.open(io.BytesIO(__import__("base64").b64decode(urls[2].split(",", 1)[1])))
    assert (decoded.format, decoded.size, decoded.getpixel((0, 0))) == (
        "PNG",
        (4, 3),
        (200, 10, 10),
    )
    assert urls[3].startswith("data:image/png;base64,")


def test_the_largest_image_that_fits_is_sent_and_one_byte_more_is_refused(
    make_widget: MakeWidget,
) -> None:
    h = connected(make_widget())
    budget = widget_module._MAX_EVENT_BYTES - 1 - widget_module._EVENT_ID_HEADROOM
    probe = {
        "type": "conversation.item.create",
        "item": {"type": "message", "role": "user",
                 "content": [{"type": "input_image", "image_url": "data:image/jpeg;base64,"}]},
    }  # fmt: skip
    fits = 3 * ((budget - widget_module._json_size(probe)) // 4)
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * (fits - 4)
    h.widget.send_image(jpeg, respond=False)
    [event] = sent_events(h)
    # What the browser sends, with the event_id it adds, is within the channel's limit.
    with_id = {**event, "event_id": "evt_" + "x" * 20}
    assert widget_module._json_size(with_id) <= widget_module._MAX_EVENT_BYTES
    with pytest.raises(ValueError, match="too large"):
        h.widget.send_image(jpeg + b"\x00", respond=False)


def test_an_oversized_image_is_refused_before_anything_is_sent(
    make_widget: MakeWidget, tmp_path: Path
) -> None:
    h = connected(make_widget())
    big = png(noise=300 * 1024)
    with pytest.raises(ValueError) as caught:
        h.widget.send_image(big, "describe it")
    message = str(caught.value)
    assert f"{len(big) / 1024:,.0f} KiB of PNG" in message
    assert "256 KiB" in message and "images up to 19" in message
    assert "Downscale" in message and "compress" in message
    # A file that large is refused without being read whole, with its name in the message.
    path = tmp_path / "huge.png"
    path.write_bytes(big)
    with pytest.raises(ValueError, match="^huge.png is too large to send: 30[0-9] KiB of PNG"):
        h.widget.send_image(path)
    assert sent_events(h) == []


@pytest.mark.parametrize(
    ("image", "error", "match"),
    [
        (b"%PDF-1.7 not an image", ValueError, "not a PNG, JPEG, WebP or GIF"),
        (12345, TypeError, "file path, the bytes"),
        (Path("/no/such/picture.png"), FileNotFoundError, "No image file"),
    ],
)
def test_send_image_refuses_what_is_not_an_image(
    make_widget: MakeWidget, image: Any, error: type[Exception], match: str
) -> None:
    h = connected(make_widget())
    with pytest.raises(error, match=match):
        h.widget.send_image(image)
    assert sent_events(h) == []


def test_send_image_needs_a_call(make_widget: MakeWidget) -> None:
    with pytest.raises(CallStateError, match="No call is connected"):
        make_widget().widget.send_image(png())
    with pytest.raises(TypeError):
        connected(make_widget()).widget.send_image(png(), prompt=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="detail"):
        connected(make_widget()).widget.send_image(png(), detail="max")  # type: ignore[arg-type]


# -- waiting inside a running cell, in a real kernel ----------------------------------------------------
# These drive an ipykernel subprocess as JupyterLab does: cells over the shell channel, the widget's
# comm messages in while a cell runs, everything the kernel says read from IOPub. (JupyterLab's own
# page, with real WebRTC, is tests/e2e/test_tools_e2e.py.)


@pytest.fixture(scope="module")
def kernel_widget(kernel: Any) -> str:
    """A widget in the test kernel; returns its comm id."""
    return str(
        kernel.run(
            "from rt_widget import RealtimeWidget\n"
            "w = RealtimeWidget(base_url='http://127.0.0.1:9/v1')\n"
            "print(w.model_id)\n"
        ).strip()
    )


class Timeline:
    """IOPub traffic in order: who printed what, the widget's custom messages, cells going idle."""

    def __init__(self, kernel: Any) -> None:
        self.kernel = kernel
        self.entries: list[tuple[str, str, Any]] = []  # (kind, parent msg_id, detail)

    def read_until(self, done: Callable[[], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            left = deadline - time.monotonic()
            assert left > 0, f"timed out; seen: {self.entries}"
            msg = self.kernel.kc.get_iopub_msg(timeout=left)
            parent = msg["parent_header"].get("msg_id", "")
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                self.entries.append(("out", parent, content["text"]))
            elif kind == "error":
                self.entries.append(("error", parent, f"{content['ename']}: {content['evalue']}"))
            elif kind == "status":
                self.entries.append((content["execution_state"], parent, None))
            elif kind == "comm_msg" and content["data"].get("method") == "custom":
                self.entries.append(("custom", parent, content["data"]["content"]))

    def index(
        self, kind: str, parent: str | None = None, where: Callable[[Any], bool] = bool
    ) -> int:
        for i, (k, p, detail) in enumerate(self.entries):
            if k == kind and (parent is None or p == parent) and (detail is None or where(detail)):
                return i
        return -1

    def idle(self, msg_id: str) -> bool:
        return self.index("idle", msg_id) >= 0

    def output(self, msg_id: str) -> str:
        return "".join(str(d) for k, p, d in self.entries if k in ("out", "error") and p == msg_id)


def batch(n: int, *events: dict[str, Any]) -> dict[str, Any]:
    records = [{"source": "server", "t_browser_ms": 1.0, "event": e} for e in events]
    return {"kind": "rt:events", "batch": n, "records": records}


def started(timeline: Timeline, msg_id: str) -> Callable[[], bool]:
    return lambda: timeline.index("busy", msg_id) >= 0


@pytest.mark.timeout(120)
def test_wait_for_in_a_running_cell_handles_the_widgets_messages(
    kernel: Any, kernel_widget: str
) -> None:
    timeline = Timeline(kernel)
    waiting_cell = kernel.kc.execute(
        "ev = w.wait_for('response.done', timeout=30)\nprint('got', ev['response']['id'])"
    )
    timeline.read_until(started(timeline, waiting_cell))
    time.sleep(0.3)  # the cell is now blocked in wait_for
    # The next cell arrives while the first waits: it must run after it, not be lost or jump in.
    next_cell = kernel.kc.execute("print('next cell ran')")
    time.sleep(0.2)
    comm_msg = kernel.comm_send(
        kernel_widget, batch(901, created("resp_k")[1], response_done("resp_k")[1])
    )
    timeline.read_until(lambda: timeline.idle(next_cell))

    assert timeline.output(waiting_cell) == "got resp_k\n"
    assert timeline.output(next_cell) == "next cell ran\n"
    # The batch was handled (and acknowledged) while the first cell was still running...
    ack = timeline.index("custom", where=lambda c: c == {"kind": "rt:ack", "batch": 901})
    assert 0 <= ack < timeline.index("idle", waiting_cell)
    # ...and reported busy, then idle, as the kernel does for each message it handles (ipywidgets'
    # front end holds a model's next state update until it sees that idle).
    assert 0 <= timeline.index("busy", comm_msg) < ack < timeline.index("idle", comm_msg)
    # The held cell ran once the first had finished.
    assert timeline.index("idle", waiting_cell) < timeline.index("busy", next_cell)
    assert kernel.run("print(len(w.log), w._waiters)").split() == ["2", "()"]


@pytest.mark.timeout(120)
def test_await_wait_for_async_in_an_async_cell(kernel: Any, kernel_widget: str) -> None:
    timeline = Timeline(kernel)
    cell = kernel.kc.execute(
        "ev = await w.wait_for_async('response.done', timeout=30)\nprint('awaited', ev['response']['id'])"
    )
    timeline.read_until(started(timeline, cell))
    time.sleep(0.3)
    comm_msg = kernel.comm_send(kernel_widget, batch(902, response_done("resp_async")[1]))
    timeline.read_until(lambda: timeline.idle(cell))
    assert timeline.output(cell) == "awaited resp_async\n"
    # Handled by the wait, with its status reported (ipykernel's own handling during an await
    # reports none, which stops ipywidgets' state sync for the model).
    assert 0 <= timeline.index("idle", comm_msg) < timeline.index("idle", cell)


@pytest.mark.timeout(120)
def test_wait_for_in_a_cell_times_out_and_the_kernel_carries_on(
    kernel: Any, kernel_widget: str
) -> None:
    out = kernel.run(
        "import time\nt0 = time.monotonic()\n"
        "try:\n    w.wait_for('response.done', timeout=0.5)\n"
        "except TimeoutError as exc:\n    print(round(time.monotonic() - t0, 1), exc)\n"
    )
    assert out.startswith("0.5 No 'response.done' event arrived within 0.5 s")
    # Messages that arrive after the wait wait for the cell to end, as ever, and are then logged.
    assert kernel.run("print(w._waiters)").strip() == "()"


@pytest.mark.timeout(120)
def test_the_widget_pins_its_messages_to_the_main_shell(kernel: Any, kernel_widget: str) -> None:
    """JupyterLab marks comm messages with a subshell of its own; ipykernel 7.4 would steer the
    widget's messages there whenever the widget last sent from that subshell."""
    out = kernel.run(
        "print(w.comm._reply_subshell_for({'method': 'custom'}, 'a-lab-subshell'),\n"
        "      w.comm._reply_subshell_for({'method': 'custom', 'content': {'id': 'c1'}}, None))"
    )
    assert out.split() == ["None", "None"]


@pytest.mark.timeout(120)
def test_one_cell_can_wait_for_events_one_after_another(kernel: Any, kernel_widget: str) -> None:
    """A wait stops handling messages once it has its event: the next wait in the same cell sees
    what came after, even when it was already queued (two batches sent back to back)."""
    timeline = Timeline(kernel)
    cell = kernel.kc.execute(
        "first = w.wait_for('response.created', timeout=30)\n"
        "second = w.wait_for('response.done', timeout=30)\n"
        "print(first['response']['id'], second['response']['id'])"
    )
    timeline.read_until(started(timeline, cell))
    time.sleep(0.3)
    kernel.comm_send(kernel_widget, batch(903, created("resp_seq")[1]))
    kernel.comm_send(kernel_widget, batch(904, response_done("resp_seq")[1]))
    timeline.read_until(lambda: timeline.idle(cell))
    assert timeline.output(cell) == "resp_seq resp_seq\n"


@pytest.mark.timeout(120)
def test_messages_a_wait_left_unhandled_are_handled_when_the_cell_ends(
    kernel: Any, kernel_widget: str
) -> None:
    timeline = Timeline(kernel)
    before = int(kernel.run("print(len(w.log))"))
    cell = kernel.kc.execute(
        "w.wait_for('response.created', timeout=30)\nimport time\ntime.sleep(1)\n"
        "print('during the cell:', len(w.log))"
    )
    timeline.read_until(started(timeline, cell))
    time.sleep(0.3)
    kernel.comm_send(kernel_widget, batch(905, created("resp_left")[1]))
    kernel.comm_send(kernel_widget, batch(906, response_done("resp_left")[1]))

    def acked() -> int:
        return timeline.index("custom", where=lambda c: c == {"kind": "rt:ack", "batch": 906})

    timeline.read_until(lambda: timeline.idle(cell) and acked() >= 0)
    # The second batch waited (the cell was busy), then was handled, and acknowledged, after it.
    assert timeline.output(cell) == f"during the cell: {before + 1}\n"
    assert timeline.index("idle", cell) < acked()
    assert int(kernel.run("print(len(w.log))")) == before + 2
