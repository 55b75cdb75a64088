"""EventLog: append-only, ordered, JSON Lines on disk."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from rt_widget import EventLog


def filled() -> EventLog:
    log = EventLog()
    log.append("widget", {"type": "widget.phase", "phase": "start"}, 1000.5)
    log.append("server", {"type": "session.created", "event_id": "event_1"}, 1001.25)
    log.append("client", {"type": "conversation.item.create", "item": {"text": "héllo ✓"}}, 1002.0)
    log.append("server", {"type": "response.done"}, None, t_kernel_ms=5.0)
    return log


def test_append_stamps_seq_and_kernel_time() -> None:
    log = EventLog()
    before = time.time() * 1000
    record = log.append("server", {"type": "a"}, 12.5)
    after = time.time() * 1000
    assert record == {
        "seq": 0,
        "source": "server",
        "t_browser_ms": 12.5,
        "t_kernel_ms": record["t_kernel_ms"],
        "event": {"type": "a"},
    }
    assert before <= record["t_kernel_ms"] <= after
    assert log.append("client", {"type": "b"})["seq"] == 1
    assert log[1]["t_browser_ms"] is None


def test_append_validates() -> None:
    log = EventLog()
    with pytest.raises(ValueError, match="source"):
        log.append("browser", {"type": "a"})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="dict"):
        log.append("server", ["a"])  # type: ignore[arg-type]
    assert len(log) == 0


def test_reading() -> None:
    log = filled()
    assert len(log) == 4
    assert [r["seq"] for r in log] == [0, 1, 2, 3]
    assert log[-1]["event"]["type"] == "response.done"
    assert [r["seq"] for r in log[1:3]] == [1, 2]
    assert [r["seq"] for r in log.of_type("session.created")] == [1]
    assert len(log.of_type("*")) == 4
    assert repr(log) == "EventLog(4 records: 1 widget, 2 server, 1 client)"
    assert repr(EventLog()) == "EventLog(0 records)"


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    log = filled()
    path = tmp_path / "session.jsonl"
    log.save(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4
    assert json.loads(lines[0]) == {
        "seq": 0,
        "source": "widget",
        "t_browser_ms": 1000.5,
        "t_kernel_ms": log[0]["t_kernel_ms"],
        "event": {"type": "widget.phase", "phase": "start"},
    }
    assert "héllo ✓" in lines[2]  # readable, not \u-escaped
    loaded = EventLog.load(path)
    assert list(loaded) == list(log)


def test_load_skips_blank_lines_and_names_bad_ones(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text(
        '{"source": "server", "event": {"type": "a"}}\n\n{not json}\n', encoding="utf-8"
    )
    with pytest.raises(ValueError, match=r"log.jsonl:3: not JSON"):
        EventLog.load(path)
    path.write_text(
        '{"source": "server", "event": {"type": "a"}}\n\n{"source": "nobody", "event": {}}\n'
    )
    with pytest.raises(ValueError, match=r"log.jsonl:3: 'source'"):
        EventLog.load(path)
    path.write_text('\n{"source": "server", "event": {"type": "a"}, "t_browser_ms": 3}\n')
    (record,) = EventLog.load(path)
    assert record == {
        "seq": 0,
        "source": "server",
        "t_browser_ms": 3.0,
        "t_kernel_ms": None,
        "event": {"type": "a"},
    }


def test_records_from_elsewhere_are_checked() -> None:
    with pytest.raises(ValueError, match="event"):
        EventLog([{"source": "server", "event": "a"}])
    with pytest.raises(TypeError):
        EventLog(["not a record"])  # type: ignore[list-item]
