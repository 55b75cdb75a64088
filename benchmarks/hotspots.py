"""Where a burst's time goes: ``python -m benchmarks --profile`` (after the figures).

Three views of the same 10k-event burst into the widget (the slowest path of the run):

* CPU seconds of every process taking part, per event, for the widget and for the bare page,
  each with only its own call up and that state's idle rate (measured just before) subtracted;
* the widget page's JavaScript, sampled by Chromium's profiler (self and inclusive time);
* the kernel's main thread, by ``cProfile``.
"""

from __future__ import annotations

import collections
import time
from typing import Any

import psutil

from benchmarks.browser_bench import Stack, burst_timeout


def profile_burst(stack: Stack, n: int = 10_000) -> dict[str, Any]:
    groups = _processes(stack)
    per_event: dict[str, dict[str, float]] = {}
    idle_rates: dict[str, dict[str, float]] = {}
    for which in ("bare", "widget"):
        stack.only(which)
        idle = idle_rates[which] = _cpu_rates(groups, seconds=3.0)
        before, t0 = _cpu(groups), time.monotonic()
        if which == "bare":
            stack.bare_burst(n, burst_timeout(n))
        else:
            stack.widget_burst(n, burst_timeout(n))
        elapsed, after = time.monotonic() - t0, _cpu(groups)
        per_event[which] = {
            name: round(1e6 * max(0.0, after[name] - before[name] - idle[name] * elapsed) / n, 1)
            for name in groups
        }
    js = _js_profile(stack, n)
    kernel = _kernel_profile(stack, n)
    stack.say("  CPU per event (us), each process's rate with the call up and idle subtracted:")
    for name in groups:
        stack.say(f"    {name:<24} widget {per_event['widget'][name]:7.1f} (idle "
                  f"{1000 * idle_rates['widget'][name]:4.0f} ms/s)   bare page "
                  f"{per_event['bare'][name]:7.1f} (idle {1000 * idle_rates['bare'][name]:4.0f} ms/s)")  # fmt: skip
    stack.say("  widget page JavaScript during the burst (ms; self / inclusive):")
    for name, ms in js["inclusive"][:14]:
        stack.say(f"    {ms:8.1f}  {name}")
    stack.say("  kernel main thread during the burst, the event path (cProfile, cumulative s):")
    for line in kernel[:14]:
        stack.say(f"    {line}")
    return {
        "cpu_us_per_event": per_event,
        "idle_ms_per_s": {
            w: {k: round(1000 * v) for k, v in r.items()} for w, r in idle_rates.items()
        },
        "widget_page_js_ms": js,
        "kernel_cprofile": kernel,
    }


def _processes(stack: Stack) -> dict[str, list[psutil.Process]]:
    """The processes of the run, grouped: kernel, Jupyter server, this process (the emulator
    runs in it), and Chromium's by type (its renderers hold both pages)."""
    assert stack.nb.lab.proc is not None
    groups: dict[str, list[psutil.Process]] = {
        "kernel": [stack.kernel_process],
        "jupyter server": [psutil.Process(stack.nb.lab.proc.pid)],
        "emulator (this process)": [psutil.Process()],
    }
    for proc in psutil.Process().children(recursive=True):
        try:
            cmdline = proc.cmdline()
        except psutil.Error:
            continue
        if not cmdline or "chrom" not in cmdline[0]:
            continue
        kind = next((a.split("=", 1)[1] for a in cmdline if a.startswith("--type=")), "browser")
        if kind == "zygote":
            continue
        groups.setdefault(f"chromium {kind}", []).append(proc)
    return groups


def _cpu(groups: dict[str, list[psutil.Process]]) -> dict[str, float]:
    out = {}
    for name, procs in groups.items():
        total = 0.0
        for proc in procs:
            try:
                t = proc.cpu_times()
            except psutil.Error:
                continue
            total += t.user + t.system
        out[name] = total
    return out


def _cpu_rates(groups: dict[str, list[psutil.Process]], seconds: float) -> dict[str, float]:
    before = _cpu(groups)
    time.sleep(seconds)
    after = _cpu(groups)
    return {name: (after[name] - before[name]) / seconds for name in groups}


def _js_profile(stack: Stack, n: int) -> dict[str, list[tuple[str, float]]]:
    page = stack.nb.page
    cdp = page.context.new_cdp_session(page)
    cdp.send("Profiler.enable")
    cdp.send("Profiler.setSamplingInterval", {"interval": 500})
    cdp.send("Profiler.start")
    try:
        stack.widget_burst(n, burst_timeout(n))
    finally:
        profile = cdp.send("Profiler.stop")["profile"]
        cdp.detach()
    nodes = {node["id"]: node for node in profile["nodes"]}
    parent = {child: node["id"] for node in profile["nodes"] for child in node.get("children", ())}

    def name(node_id: int) -> str:
        frame = nodes[node_id]["callFrame"]
        where = frame["url"].rsplit("/", 1)[-1].split("?")[0]
        if len(where) > 24:  # anywidget's blob: URL, a UUID: the widget's own bundle
            where = "widget.js"
        return f"{frame['functionName'] or '(anonymous)'} {where}".strip()

    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    for sample, delta in zip(profile["samples"], profile["timeDeltas"], strict=True):
        own[name(sample)] += delta
        seen = set()
        node: int | None = sample
        while node is not None:
            label = name(node)
            if label not in seen:
                seen.add(label)
                inclusive[label] += delta
            node = parent.get(node)
    return {
        "self": [(k, round(v / 1000, 1)) for k, v in own.most_common(20)],
        "inclusive": [
            (k, round(v / 1000, 1)) for k, v in inclusive.most_common(30) if k != "(root)"
        ],
    }


def _kernel_profile(stack: Stack, n: int) -> list[str]:
    k = stack.kernel
    k.run("import cProfile as _cp\n_bench_prof = _cp.Profile()\n_bench_prof.enable()")
    try:
        stack.widget_burst(n, burst_timeout(n))
    finally:
        k.run("_bench_prof.disable()")
    # The event path only: the harness's own requests (polls, gc.collect) are left out.
    text: str = k.eval(
        "(lambda s: (__import__('pstats').Stats(_bench_prof, stream=s).sort_stats('cumulative')"
        f".print_stats({_EVENT_PATH!r}, 30), s.getvalue())[1])(__import__('io').StringIO())"
    )
    lines = [line.strip() for line in text.splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith("ncalls"))
    rows = [line for line in lines[start + 1 :] if line and "{method 'poll'" not in line]
    return [_short(row) for row in rows]


_EVENT_PATH = "comm_msg|rt_widget|ipywidgets|traitlets|jupyter_client|json|zmq"


def _short(row: str) -> str:
    """'ncalls tottime percall cumtime percall file:line(fn)' -> 'cumtime  tottime  ncalls  fn'."""
    parts = row.split(None, 5)
    if len(parts) < 6:
        return row
    ncalls, tottime, _, cumtime, _, where = parts
    if "site-packages/" in where:
        where = where.split("site-packages/", 1)[1]
    elif "/src/" in where:
        where = where.split("/src/", 1)[1]
    return f"{cumtime:>8} s cum  {tottime:>7} s self  {ncalls:>12}  {where}"
