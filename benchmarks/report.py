"""The issue's keys and targets, judged and printed as a table (no measuring here)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# Every key results.json must carry (issue 7), in the order the table shows them.
KEYS = (
    "events_sent",
    "events_logged",
    "kernel_events_per_s",
    "page_events_per_s",
    "kernel_vs_page_ratio",
    "paced_p50_ms",
    "paced_p99_ms",
    "cost_growth_ratio",
    "setup_widget_ms",
    "setup_bare_ms",
    "setup_ratio",
    "frames_100k_s",
    "frames_1m_s",
    "kernel_rss_mb_per_100k_events",
    "notebook_bytes_growth",
)
# Burst figures also reported per burst size.
BURST_KEYS = KEYS[:5]


@dataclass(frozen=True)
class Target:
    key: str
    text: str
    check: Callable[[float, Mapping[str, Any]], bool]


def _at_least(limit: float) -> Callable[[float, Mapping[str, Any]], bool]:
    return lambda value, _: operator.ge(value, limit)


def _at_most(limit: float) -> Callable[[float, Mapping[str, Any]], bool]:
    return lambda value, _: operator.le(value, limit)


TARGETS = {
    t.key: t
    for t in (
        Target("events_logged", "== events_sent", lambda v, r: v == r.get("events_sent")),
        Target("kernel_events_per_s", ">= 5000", _at_least(5000)),
        Target("paced_p50_ms", "<= 15", _at_most(15)),
        Target("paced_p99_ms", "<= 60", _at_most(60)),
        Target("cost_growth_ratio", "<= 1.3", _at_most(1.3)),
        Target("setup_ratio", "<= 1.25", _at_most(1.25)),
        Target("frames_100k_s", "<= 2", _at_most(2)),
        Target("kernel_rss_mb_per_100k_events", "<= 150", _at_most(150)),
        Target("notebook_bytes_growth", "<= 10000", _at_most(10_000)),
    )
}


def verdict(key: str, value: Any, scope: Mapping[str, Any]) -> str:
    """PASS / FAIL against the key's target; '' for a key without one, SKIP when not measured."""
    target = TARGETS.get(key)
    if value is None:
        return "SKIP"
    if target is None:
        return ""
    return "PASS" if target.check(value, scope) else "FAIL"


def judge(results: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every target, top level and per burst size: {name: {value, target, verdict}}."""
    judged: dict[str, dict[str, Any]] = {}
    for key in KEYS:
        judged[key] = _row(key, results.get(key), results)
    for size, burst in results.get("bursts", {}).items():
        for key in BURST_KEYS:
            judged[f"{key}[{_size_label(int(size))}]"] = _row(key, burst.get(key), burst)
    return judged


def _row(key: str, value: Any, scope: Mapping[str, Any]) -> dict[str, Any]:
    target = TARGETS.get(key)
    return {
        "value": value,
        "target": target.text if target else "",
        "verdict": verdict(key, value, scope),
    }


def _size_label(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)


def table(results: Mapping[str, Any], markdown: bool = False) -> str:
    """The figures with their targets and PASS/FAIL, as text (or a Markdown table)."""
    judged = results.get("targets") or judge(results)
    rows = [
        (name, _fmt(row["value"]), row["target"], row["verdict"]) for name, row in judged.items()
    ]
    if markdown:
        lines = ["| figure | value | target | |", "|---|--:|---|---|"]
        lines += [f"| `{a}` | {b} | {c} | {d} |" for a, b, c, d in rows]
        return "\n".join(lines)
    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    return "\n".join(f"{a:<{width}}  {b:>{vwidth}}  {c:<10}  {d}" for a, b, c, d in rows)


def failures(results: Mapping[str, Any]) -> list[str]:
    judged = results.get("targets") or judge(results)
    return [name for name, row in judged.items() if row["verdict"] == "FAIL"]
