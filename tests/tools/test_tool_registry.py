"""The session's tool list: functions, raw configs passed through, changes reported."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from tool_helpers import assert_client_event, assert_session_tool

from rt_widget.tools import Tool, ToolRegistry

MCP = {
    "type": "mcp",
    "server_label": "deepwiki",
    "server_url": "https://mcp.deepwiki.com/mcp",
    "require_approval": "never",
    "allowed_tools": ["ask_question"],
}


def get_weather(city: str) -> str:
    """Weather for a city."""
    return f"sunny in {city}"


async def get_time(zone: str = "UTC") -> str:
    """The time in a zone."""
    return "noon"


def test_functions_and_raw_configs_in_order() -> None:
    reg = ToolRegistry([get_weather, MCP, get_time])
    tools = reg.session_tools()
    assert [t.get("name", t.get("server_label")) for t in tools] == [
        "get_weather",
        "deepwiki",
        "get_time",
    ]
    for entry in tools:
        assert_session_tool(entry)
    assert tools[1] == MCP  # unchanged
    assert reg.names == ["get_weather", "deepwiki", "get_time"]
    assert [t.name for t in reg.tools] == ["get_weather", "get_time"]
    assert reg.get("get_time") is not None and reg.get("get_time").is_async  # type: ignore[union-attr]
    assert reg.get("deepwiki") is None  # not a Python tool


def test_raw_config_is_copied_both_ways() -> None:
    config = copy.deepcopy(MCP)
    reg = ToolRegistry([config])
    config["allowed_tools"].append("later")  # the caller changes its dict afterwards
    listed = reg.session_tools()
    assert listed == [MCP]
    listed[0]["server_url"] = "changed"  # and changes what it was given
    assert reg.session_tools() == [MCP]


def test_session_update_event_is_valid_ga() -> None:
    reg = ToolRegistry([get_weather, MCP])
    event = reg.session_update()
    assert event["type"] == "session.update"
    assert event["session"] == {"type": "realtime", "tools": reg.session_tools()}
    assert_client_event(event)
    assert_client_event(ToolRegistry().session_update())  # no tools: an empty list


def test_decorator_forms_and_options() -> None:
    reg = ToolRegistry()

    @reg.tool
    def plain(x: int) -> int:
        return x

    @reg.tool(name="renamed", description="Custom.", timeout=2.5)
    def original(x: int) -> int:
        return x

    reg.tool(get_weather, timeout=1)
    assert plain(3) == 3 and original(4) == 4  # the functions come back unchanged
    renamed = reg.get("renamed")
    assert renamed is not None
    assert (renamed.description, renamed.timeout_s, renamed.fn) == ("Custom.", 2.5, original)
    assert reg.get("get_weather").timeout_s == 1  # type: ignore[union-attr]
    assert reg.get("plain").timeout_s == 30.0  # type: ignore[union-attr]


def test_same_name_replaces_in_place() -> None:
    reg = ToolRegistry([get_weather, get_time])

    def get_weather_v2(city: str, days: int = 1) -> str:  # a cell re-run with a new version
        return city

    reg.add(get_weather_v2, name="get_weather")
    assert reg.names == ["get_weather", "get_time"]
    assert reg.get("get_weather").fn is get_weather_v2  # type: ignore[union-attr]
    assert "days" in reg.session_tools()[0]["parameters"]["properties"]


def test_remove_by_name_function_tool_or_label() -> None:
    reg = ToolRegistry([get_weather, get_time, MCP])
    time_tool = reg.get("get_time")
    reg.remove(get_weather)
    reg.remove(time_tool)  # type: ignore[arg-type]
    reg.remove("deepwiki")
    assert len(reg) == 0
    with pytest.raises(KeyError, match="no tool 'nope'"):
        reg.remove("nope")


def test_on_change_after_each_change_not_for_the_initial_tools() -> None:
    calls: list[list[str]] = []
    reg = ToolRegistry([get_weather], on_change=lambda: calls.append(reg.names))
    assert calls == []
    reg.add(get_time)
    reg.add(MCP)
    reg.remove("get_weather")
    reg.clear()
    reg.clear()  # nothing to clear: no change
    assert calls == [
        ["get_weather", "get_time"],
        ["get_weather", "get_time", "deepwiki"],
        ["get_time", "deepwiki"],
        [],
    ]


def test_a_tool_object_can_be_added_and_adjusted() -> None:
    tool = Tool.from_function(get_weather)
    reg = ToolRegistry()
    stored = reg.add(tool, timeout=5)
    assert isinstance(stored, Tool) and stored.timeout_s == 5 and stored.schema == tool.schema


def test_own_schema_on_a_tool() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string", "minLength": 2}}}
    tool = Tool(fn=get_weather, name="weather", description="W.", schema=schema)
    assert tool.session_tool()["parameters"] == schema
    assert tool.signature is not None  # still validated against the signature


def test_raw_function_config_is_external() -> None:
    reg = ToolRegistry([{"type": "function", "name": "handled_elsewhere", "parameters": {}}])
    assert reg.is_external("handled_elsewhere")
    assert not reg.is_external("get_weather")


@pytest.mark.parametrize(
    ("tool", "kwargs", "error"),
    [
        ({"server_label": "x"}, {}, ValueError),  # no type
        ({"type": "mcp"}, {}, ValueError),  # nothing to tell it apart by
        (MCP, {"timeout": 3}, TypeError),  # options are for functions
        (42, {}, TypeError),
        (get_weather, {"timeout": 0}, ValueError),
        (get_weather, {"timeout": float("inf")}, ValueError),
        (get_weather, {"name": "no spaces please"}, ValueError),
    ],
)
def test_refusals(tool: Any, kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        ToolRegistry().add(tool, **kwargs)
