"""EventLog.load reads exactly what ``json.loads`` line by line would: the same values (orjson
does the reading, json.loads what orjson would read otherwise), the same errors, in line order,
and it leaves the garbage collector as it found it."""

from __future__ import annotations

import gc
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rt_widget import EventLog, frames
from rt_widget.eventlog import _CHUNK_CHARS

RECORD = {
    "seq": 0,
    "source": "server",
    "t_browser_ms": 1.5,
    "t_kernel_ms": 2.5,
    "event": {"type": "a"},
}


def line(record: Any, ensure_ascii: bool = False) -> str:
    return json.dumps(record, ensure_ascii=ensure_ascii, separators=(",", ":")) + "\n"


def load_by_json(path: Path) -> list[dict[str, Any]]:
    """What EventLog.load always meant: json.loads line by line, each value checked as a record."""
    with open(path, encoding="utf-8") as f:
        return list(EventLog(json.loads(x) for x in f if x.strip()))


def same(a: Any, b: Any) -> bool:
    """Equal with the same types all the way down (1 is not 1.0), NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


json_values = st.recursive(
    st.none()
    | st.booleans()
    # beyond 64 bits orjson gives floats: json.loads must read those lines
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**30])
    | st.floats()  # NaN and infinities too: json writes them, orjson refuses them
    | st.text(),  # lone surrogates too: \ud800 escapes orjson refuses
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
records = st.fixed_dictionaries(
    {
        "seq": st.integers(0, 10**6),
        "source": st.sampled_from(["server", "client", "widget"]),
        "t_browser_ms": st.none() | st.floats(allow_nan=False) | st.integers(-(10**20), 10**20),
        "t_kernel_ms": st.none() | st.floats(allow_nan=False),
        "event": st.dictionaries(st.text(max_size=8), json_values, max_size=5),
    }
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(records, max_size=20), st.booleans())
def test_load_reads_what_json_loads_reads(
    tmp_path_factory: pytest.TempPathFactory, written: list[dict[str, Any]], ascii_only: bool
) -> None:
    path = tmp_path_factory.mktemp("load") / "log.jsonl"
    text = "".join(line(r, ensure_ascii=ascii_only) for r in written)
    # unescaped, a lone surrogate is no UTF-8: both readers must then fail alike
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        expected = load_by_json(path)
    except UnicodeDecodeError as exc:
        with pytest.raises(UnicodeDecodeError, match=exc.reason):
            EventLog.load(path)
        return
    loaded = list(EventLog.load(path))
    assert len(loaded) == len(expected)
    for got, want in zip(loaded, expected, strict=True):
        assert same(got, want), (got, want)


def test_numbers_orjson_would_read_otherwise(tmp_path: Path) -> None:
    big = {
        "type": "a",
        "big": 2**64,
        "neg": -(2**63) - 1,
        "huge": 10**30,
        "max": 2**64 - 1,
        "fraction": 0.0074910836339872385,
    }
    special = {"type": "b", "nan": math.nan, "inf": -math.inf}
    path = tmp_path / "log.jsonl"
    path.write_text("".join(line({**RECORD, "event": e}) for e in ({}, big, special, {})))
    (_, got, special_got, _) = (r["event"] for r in EventLog.load(path))
    assert same(got, big)  # ints stay ints (orjson would give floats beyond 64 bits)
    assert math.isnan(special_got["nan"]) and special_got["inf"] == -math.inf


def test_a_file_of_many_chunks(tmp_path: Path) -> None:
    """More than one read-ahead chunk: every record kept in order, and a bad line far in is
    named by its own number."""
    padding = "x" * 1000
    count = 3 * _CHUNK_CHARS // 1000
    lines = [
        line({**RECORD, "seq": i, "event": {"type": "a", "pad": padding}}) for i in range(count)
    ]
    path = tmp_path / "log.jsonl"
    path.write_text("".join(lines))
    assert [r["seq"] for r in EventLog.load(path)] == list(range(count))
    lines[count - 5] = "{not json}\n"
    path.write_text("".join(lines))
    with pytest.raises(ValueError, match=rf"log.jsonl:{count - 4}: not JSON"):
        EventLog.load(path)


def test_the_first_bad_line_is_the_one_named(tmp_path: Path) -> None:
    """Lines are parsed a chunk at a time; errors are still raised in line order."""
    good, not_a_record = line(RECORD), '{"source": "nobody", "event": {}}\n'
    path = tmp_path / "log.jsonl"
    path.write_text(good + not_a_record + good + "{not json}\n")
    with pytest.raises(ValueError, match=r"log.jsonl:2: 'source'"):
        EventLog.load(path)
    path.write_text(good + "{not json}\n" + not_a_record)
    with pytest.raises(ValueError, match=r"log.jsonl:2: not JSON"):
        EventLog.load(path)
    deep = "[" * 100_000 + "]" * 100_000 + "\n"
    path.write_text(good + not_a_record + deep)
    with pytest.raises(ValueError, match=r"log.jsonl:2: 'source'"):
        EventLog.load(path)
    path.write_text(good + deep + not_a_record)
    with pytest.raises(RecursionError):
        EventLog.load(path)


def test_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    """Far past a bad record, in the same read-ahead chunk: the record is named first. Alone:
    the decoding error, as reading the file line by line gives it."""
    good, not_a_record = line(RECORD).encode(), b'{"source": "nobody", "event": {}}\n'
    path = tmp_path / "log.jsonl"
    path.write_bytes(good + not_a_record + good * 3000 + b'{"x": "\xff"}\n')
    with pytest.raises(ValueError, match=r"log.jsonl:2: 'source'"):
        EventLog.load(path)
    path.write_bytes(good * 3000 + b'{"x": "\xff"}\n')
    with open(path, encoding="utf-8") as f, pytest.raises(UnicodeDecodeError) as expected:
        list(f)
    with pytest.raises(UnicodeDecodeError) as got:
        EventLog.load(path)
    assert str(got.value) == str(expected.value)


def test_records_not_as_save_writes_them(tmp_path: Path) -> None:
    """Fields in another order, extra fields, integer times: rebuilt as save() would write them."""
    path = tmp_path / "log.jsonl"
    path.write_text(
        '{"event": {"type": "a"}, "t_browser_ms": 3, "source": "client", "x": 1}\n'
        "\n  \n"
        '{"seq": 7, "source": "server", "t_browser_ms": null, "t_kernel_ms": 4.0,'
        ' "event": {"type": "b"}}\r\n'
    )
    assert list(EventLog.load(path)) == [
        {
            "seq": 0,
            "source": "client",
            "t_browser_ms": 3.0,
            "t_kernel_ms": None,
            "event": {"type": "a"},
        },
        {
            "seq": 7,
            "source": "server",
            "t_browser_ms": None,
            "t_kernel_ms": 4.0,
            "event": {"type": "b"},
        },
    ]


def test_the_collector_is_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text(line(RECORD) * 10)
    assert gc.isenabled()
    assert len(EventLog.load(path)) == 10
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.disable()
    try:
        EventLog.load(path)
        assert not gc.isenabled()
    finally:
        gc.enable()
    # objects someone else froze stay frozen
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        EventLog.load(path)
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
    path.write_text("{not json}\n")
    with pytest.raises(ValueError):
        EventLog.load(path)
    assert gc.isenabled()


@pytest.mark.parametrize("name", ["events", "transcripts", "turns", "connection", "stats"])
def test_frames_leave_the_collector_as_it_was(name: str) -> None:
    build = getattr(frames, name)
    assert build.__name__ == name and build.__doc__
    log = EventLog([RECORD])
    assert gc.isenabled()
    build(log)
    assert gc.isenabled()
    with pytest.raises(KeyError):
        build([{"source": "server"}])  # no event
    assert gc.isenabled()
    gc.disable()
    try:
        build(log)
        assert not gc.isenabled()
    finally:
        gc.enable()
