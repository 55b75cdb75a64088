"""The hand-built sessions are valid GA traffic: every server and client event parses as the
``openai.types.realtime`` model of its type, so the frames are tested on shapes the service
sends."""

from __future__ import annotations

import pytest

from .scenarios import ALL

realtime = pytest.importorskip("openai.types.realtime")
pydantic = pytest.importorskip("pydantic")

SERVER = pydantic.TypeAdapter(realtime.RealtimeServerEvent)
CLIENT = pydantic.TypeAdapter(realtime.RealtimeClientEvent)


@pytest.mark.parametrize("name", sorted(ALL))
def test_fixture_events_are_valid_ga(name: str) -> None:
    session = ALL[name]()
    checked = 0
    for record in session.records:
        if record["source"] == "server":
            SERVER.validate_python(record["event"])
        elif record["source"] == "client":
            CLIENT.validate_python(record["event"])
        else:
            assert record["event"]["type"] in ("widget.phase", "widget.stats")
            continue
        checked += 1
    assert checked > 0
