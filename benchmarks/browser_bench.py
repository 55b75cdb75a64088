"""The browser figures: call setup, the event path, its memory, the saved notebook.

One :class:`Stack` holds everything up for the whole run: the emulator (in this process, on its
own thread, so that its CPU is not the kernel's), JupyterLab (the e2e harness's
:class:`~e2e.harness.LabServer`, widget state saving on), one headless Chromium, a notebook with a
connected ``RealtimeWidget`` (its page and a kernel client on its kernel), and the bare page
(:mod:`benchmarks.bare_page`) with a call of its own to the same emulator. Each figure is measured
on both in the same run, in alternating order, so a busy machine weighs on both alike.

Clocks: the page stamps records with ``performance.timeOrigin + performance.now()``, the kernel
and this process use ``time.time()``; all are the same machine's clock.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import httpx
import psutil

from benchmarks import ROOT, use_test_harness
from rt_widget.emulator import ApiError, Emulator

use_test_harness()
from e2e.driver import Driven  # noqa: E402 (the e2e harness lives under tests/)
from e2e.harness import CHROMIUM_ARGS, HarnessError, LabServer, Notebook  # noqa: E402

# No server VAD: the fake microphone's beep must not start responses during a burst.
SESSION = {"audio": {"input": {"turn_detection": None}}}
WIDGET_CELL = (
    "from rt_widget import RealtimeWidget\n"
    "w = RealtimeWidget(base_url={base_url!r}, session={session!r})\n"
    "w"
)
# With --frontend: the same widget with another build of the front end (an A/B comparison).
FRONTEND_CELL = (
    "import pathlib\n"
    "from rt_widget import RealtimeWidget as _Packaged\n"
    "class RealtimeWidget(_Packaged):\n"
    "    _esm = pathlib.Path({frontend!r})\n"
)


# After a call opens, its first moments are busy (stats, state, audio starting): let them pass.
SETTLE_S = 1.0
# A burst that makes no progress for this long has failed (lost events would never arrive).
STALL_S = 30


def burst_timeout(n: int) -> float:
    """Generous: assumes only 400 events/s."""
    return 30 + n / 400


def now_ms() -> float:
    return time.time() * 1000.0


@dataclass
class Burst:
    """One burst of ``n`` events into one receiver."""

    n: int
    sent: int
    received: int
    seconds: float  # from the burst request to the last event received (logged, for the kernel)
    ok: bool  # every event received once, in order
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def per_s(self) -> float:
        return self.n / self.seconds


class Stack:
    """Emulator, JupyterLab, Chromium, the widget's notebook and the bare page, for one run."""

    def __init__(self, log: Callable[[str], None] = print, frontend: Path | None = None) -> None:
        self.say = log
        self.frontend = frontend
        self._exit = ExitStack()
        self.emu: Emulator
        self.nb: Notebook
        self.driven: Driven
        self.bare: Any  # the bare page (Playwright Page)
        self.browser_version = ""
        self.kernel_pid = 0
        self.widget_call: str | None = None
        self.bare_call: str | None = None
        self._cursor: dict[str, int] = {}  # call id -> events of it already checked

    # -- up and down --------------------------------------------------------------------------------
    def __enter__(self) -> Self:
        try:
            self._start()
        except BaseException:
            self._exit.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._exit.close()

    def _start(self) -> None:
        from playwright.sync_api import sync_playwright

        from benchmarks.bare_page import BarePageServer

        chromium = shutil.which("chromium")
        if chromium is None:
            raise RuntimeError("no chromium on PATH (apt-get install -y chromium)")
        work = Path(self._exit.enter_context(tempfile.TemporaryDirectory(prefix="rt-bench-")))
        self.emu = self._exit.enter_context(Emulator())
        self.admin = self._exit.enter_context(httpx.Client(base_url=self.emu.admin_url, timeout=60))
        page_server = BarePageServer(self.emu.base_url, {"type": "realtime", **SESSION}).start()
        self._exit.callback(page_server.stop)

        lab = LabServer(work).start()
        self._exit.callback(lab.stop)
        playwright = self._exit.enter_context(sync_playwright())
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=list(CHROMIUM_ARGS)
        )
        self._exit.callback(browser.close)
        self.browser_version = browser.version

        context = browser.new_context(
            permissions=["microphone"], viewport={"width": 1280, "height": 900}
        )
        self._exit.callback(context.close)
        cell = WIDGET_CELL.format(base_url=self.emu.base_url, session=SESSION)
        if self.frontend is not None:
            cell = (
                FRONTEND_CELL.format(frontend=str(self.frontend.resolve())) + cell.split("\n", 1)[1]
            )
        name = Notebook.write(lab, [cell])
        self.nb = Notebook(lab, context.new_page(), name).open()
        self._exit.callback(self.nb.close)
        self.nb.run_all()
        self.driven = Driven(self.nb)
        self.driven.wait_rendered()
        kernel = self.nb.kernel
        assert kernel is not None
        kernel.run(
            f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
            "from benchmarks import kernel_probe as _probe\n"
            "_probe_pid = _probe.install(w)"
        )
        self.kernel_pid = kernel.eval("_probe_pid")
        self.kernel_process = psutil.Process(self.kernel_pid)

        bare_context = browser.new_context(permissions=["microphone"])
        self._exit.callback(bare_context.close)
        self.bare = bare_context.new_page()
        self.bare.goto(page_server.url)

    @property
    def kernel(self) -> Any:
        assert self.nb.kernel is not None
        return self.nb.kernel

    # -- calls ------------------------------------------------------------------------------------
    def widget_connect(self) -> float:
        """Click Connect and wait for the channel; returns click -> channel open (browser clock)."""
        d = self.driven
        since = d.log_len()
        d.click("connect")
        # Wait in the page, not by polling the kernel: a poll is a request the kernel serves
        # between the widget's messages, among them the secret it mints for this call.
        d.expect_state_shown("connected")
        d.wait(
            f"any(r['event'].get('phase') == 'channel_open' for r in w.log[{since}:] "
            "if r['event'].get('type') == 'widget.phase')",
            what="the channel_open phase",
        )
        self.widget_call = d.call_id()
        return d.click_to_channel_open_ms(since)

    def widget_disconnect(self) -> None:
        self.driven.click("disconnect")
        self.driven.expect_state_shown(("closed", "failed"))
        self.driven.wait_state(("closed", "failed"))
        self._wait_call_gone(self.widget_call)
        self.widget_call = None

    def bare_connect(self) -> dict[str, Any]:
        result = self.bare.evaluate("bench.connect()")
        self.bare_call = result["callId"]
        # The emulator sends session.created when the channel opens: wait for it, so that a
        # burst never races it.
        self.bare.wait_for_function("bench.received >= 1", timeout=10_000)
        return result

    def bare_disconnect(self) -> None:
        self.bare.evaluate("bench.hangup()")
        if self.bare_call:
            with contextlib.suppress(ApiError):  # already gone: the peer connection closed first
                self.emu.hangup(self.bare_call)
        self._wait_call_gone(self.bare_call)
        self.bare_call = None

    def only(self, which: str | None) -> None:
        """Have exactly one call up, the widget's or the bare page's (None: neither): the other
        call's audio (encoded, sent, decoded, played, metered; ~0.2-0.3 s of CPU per second
        here) would otherwise weigh on every figure of this one."""
        if which is None:
            if self.widget_call:
                self.widget_disconnect()
            if self.bare_call:
                self.bare_disconnect()
        elif which == "widget":
            if self.bare_call:
                self.bare_disconnect()
            if not self.widget_call:
                self.widget_connect()
                time.sleep(SETTLE_S)
        else:
            if self.widget_call:
                self.widget_disconnect()
            if not self.bare_call:
                self.bare_connect()
                time.sleep(SETTLE_S)

    def _wait_call_gone(self, call_id: str | None, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while call_id in self.emu.calls:
            if time.monotonic() > deadline:
                raise HarnessError(f"the emulator still has call {call_id} after {timeout} s")
            time.sleep(0.05)

    # -- what the emulator sent -------------------------------------------------------------------
    def sent_since_last_check(self, call_id: str) -> list[dict[str, Any]]:
        """The events the emulator sent on ``call_id`` since the last call of this (or since the
        call started), read through its admin path."""
        start = self._cursor.get(call_id, 0)
        reply = self.admin.get(f"/calls/{call_id}/events", params={"start": start})
        reply.raise_for_status()
        events = reply.json()["events"]
        self._cursor[call_id] = start + len(events)
        return events

    # -- bursts -----------------------------------------------------------------------------------
    def bare_burst(self, n: int, timeout: float) -> Burst:
        self.only("bare")
        assert self.bare_call
        self.sent_since_last_check(self.bare_call)  # skip what came before
        self.bare.evaluate("bench.reset()")
        t0 = now_ms()
        self.emu.burst(self.bare_call, n)
        self.bare.wait_for_function(f"bench.received >= {n}", polling=50, timeout=timeout * 1000)
        time.sleep(0.05)  # anything beyond n would be a duplicate: give it a moment to show
        state = self.bare.evaluate(
            "({received: bench.received, first: bench.firstT, last: bench.lastT})"
        )
        sent = self.sent_since_last_check(self.bare_call)
        return Burst(
            n=n,
            sent=len(sent),
            received=state["received"],
            seconds=(state["last"] - t0) / 1000,
            ok=state["received"] == len(sent) == n,
            extra={"first_event_ms": round(state["first"] - t0, 1)},
        )

    def widget_burst(self, n: int, timeout: float, interval_ms: float = 0.0) -> Burst:
        """A burst into the connected widget, timed to the kernel's publication of its last
        event; the kernel's CPU time and RSS around it; every event checked by id and order."""
        self.only("widget")
        assert self.widget_call
        k = self.kernel
        self.sent_since_last_check(self.widget_call)
        mark = k.eval("len(w.log)")
        dones = k.eval("_probe.done_count()")
        proc = self.kernel_process
        k.run("_probe.collect()")
        rss0, cpu0 = proc.memory_info().rss, _cpu(proc)
        t0 = now_ms()
        self.emu.burst(self.widget_call, n, interval_ms)
        # Polls are requests the kernel serves between the widget's messages: none while paced
        # events are expected, few during a burst (the kernel stamps the end itself).
        time.sleep(n * interval_ms / 1000)
        deadline = time.monotonic() + timeout
        last_len, last_change = mark, time.monotonic()
        # Poll gently: each poll is a request the kernel handles between the widget's messages.
        while True:
            count, length = k.eval("(_probe.done_count(), len(w.log))")
            if count > dones:
                break
            now = time.monotonic()
            if length != last_len:
                last_len, last_change = length, now
            if now > deadline or now - last_change > STALL_S:
                raise HarnessError(
                    f"a burst of {n} did not reach the kernel (in {timeout:.0f} s, or without "
                    f"progress for {STALL_S} s): {length - mark} records so far"
                )
            time.sleep(0.5)
        cpu1 = _cpu(proc)
        t_done, end = k.eval("_probe.DONE[-1]")
        k.run("_probe.collect()")
        rss1 = proc.memory_info().rss
        logged = k.eval(f"_probe.burst_records(w, {mark}, {end})")
        sent = self.sent_since_last_check(self.widget_call)
        sent_digest = hashlib.sha1()
        for event in sent:
            sent_digest.update(f"{event.get('event_id')}\n".encode())
        return Burst(
            n=n,
            sent=len(sent),
            received=logged["count"],
            seconds=(t_done - t0) / 1000,
            ok=logged["count"] == len(sent) == n and logged["ids_sha1"] == sent_digest.hexdigest(),
            extra={
                "kernel_cpu_s": cpu1 - cpu0,
                "kernel_rss_growth_bytes": rss1 - rss0,
                "page_last_receipt_s": (logged["last_t_browser_ms"] - t0) / 1000,
                "log_range": (mark, end),
            },
        )


def _cpu(proc: psutil.Process) -> float:
    """CPU seconds of the process (every thread; children too, though a kernel has none)."""
    t = proc.cpu_times()
    return t.user + t.system + t.children_user + t.children_system


# -- the figures ---------------------------------------------------------------------------------------
def call_setup(stack: Stack, rounds: int) -> dict[str, Any]:
    """Click -> channel open through the widget vs the bare page's seed flow, ``rounds`` each,
    alternating which goes first; the first round of each warms up and is not counted."""
    widget: list[float] = []
    bare: list[float] = []
    bare_marks: list[dict[str, float]] = []
    stack.only(None)
    for i in range(rounds + 1):
        for which in ("widget", "bare") if i % 2 else ("bare", "widget"):
            if which == "widget":
                ms = stack.widget_connect()
                stack.widget_disconnect()
                if i:
                    widget.append(ms)
            else:
                result = stack.bare_connect()
                stack.bare_disconnect()
                if i:
                    bare.append(result["ms"])
                    bare_marks.append(result["marks"])
    phases = _widget_phase_medians(stack)
    w, b = statistics.median(widget), statistics.median(bare)
    stack.say(
        f"  setup: widget median {w:.0f} ms {_spread(widget)}, bare median {b:.0f} ms {_spread(bare)}"
    )
    return {
        "setup_widget_ms": round(w, 1),
        "setup_bare_ms": round(b, 1),
        "setup_ratio": round(w / b, 3),
        "detail": {
            "rounds": rounds,
            "widget_ms": [round(x, 1) for x in widget],
            "bare_ms": [round(x, 1) for x in bare],
            "widget_phase_offsets_ms_median": phases,
            "bare_step_offsets_ms_median": {
                k: round(statistics.median(m[k] for m in bare_marks), 1) for k in bare_marks[0]
            },
        },
    }


def _widget_phase_medians(stack: Stack) -> dict[str, float]:
    """Median offset of each widget.phase from its call's start, over every call so far."""
    calls = stack.kernel.eval(
        "[[(r['event']['phase'], r['t_browser_ms']) for r in w.log "
        "if r['event'].get('type') == 'widget.phase' and r['t_browser_ms'] is not None]]"
    )[0]
    offsets: dict[str, list[float]] = {}
    start = None
    seen: set[str] = set()
    for phase, t in calls:
        if phase == "start":
            start, seen = t, set()
        if start is None or phase in seen:
            continue
        seen.add(phase)
        offsets.setdefault(phase, []).append(t - start)
    medians = {p: round(statistics.median(v), 1) for p, v in offsets.items()}
    return dict(sorted(medians.items(), key=lambda kv: kv[1]))


def event_path(stack: Stack, plan: dict[int, int]) -> tuple[dict[str, Any], dict[int, list[Burst]]]:
    """Bursts of each size (``plan``: size -> rounds) into the bare page and the widget: the
    summary per size, and the widget's bursts."""
    out: dict[str, Any] = {}
    widget_bursts: dict[int, list[Burst]] = {}
    for n, rounds in plan.items():
        timeout = burst_timeout(n)
        bare: list[Burst] = []
        widget: list[Burst] = []
        for i in range(rounds):
            # ABBA: alternate which goes first, with one switch of call per round
            order = ("bare", "widget") if i % 2 == 0 else ("widget", "bare")
            for which in order:
                if which == "bare":
                    bare.append(stack.bare_burst(n, timeout))
                else:
                    widget.append(stack.widget_burst(n, timeout))
        widget_bursts[n] = widget
        out[str(n)] = _burst_summary(n, bare, widget)
        s = out[str(n)]
        stack.say(
            f"  burst {n:>7,}: kernel {s['kernel_events_per_s']:>7,.0f}/s, bare page "
            f"{s['page_events_per_s']:>7,.0f}/s, ratio {s['kernel_vs_page_ratio']:.2f}; "
            f"kernel CPU {s['kernel_cpu_us_per_event']:.1f} us/event; "
            f"logged {s['events_logged']}/{s['events_sent']}"
        )
    return out, widget_bursts


def _burst_summary(n: int, bare: list[Burst], widget: list[Burst]) -> dict[str, Any]:
    kernel_rate = statistics.median(b.per_s for b in widget)
    page_rate = statistics.median(b.per_s for b in bare)
    cpu_per_event = statistics.median(b.extra["kernel_cpu_s"] / b.n for b in widget)
    return {
        "events_sent": sum(b.sent for b in widget),
        "events_logged": sum(b.received for b in widget),
        "kernel_events_per_s": round(kernel_rate),
        "page_events_per_s": round(page_rate),
        "kernel_vs_page_ratio": round(kernel_rate / page_rate, 3),
        "kernel_cpu_us_per_event": round(cpu_per_event * 1e6, 2),
        "rounds": len(widget),
        "all_complete_in_order": all(b.ok for b in widget) and all(b.ok for b in bare),
        "detail": {
            "kernel_events_per_s": [round(b.per_s) for b in widget],
            "page_events_per_s": [round(b.per_s) for b in bare],
            "widget_page_events_per_s": [round(n / b.extra["page_last_receipt_s"]) for b in widget],
            "kernel_cpu_s": [round(b.extra["kernel_cpu_s"], 3) for b in widget],
            "kernel_rss_growth_mb": [
                round(b.extra["kernel_rss_growth_bytes"] / 2**20, 1) for b in widget
            ],
            "bare_received": [b.received for b in bare],
            "bare_sent": [b.sent for b in bare],
            "log_ranges": [b.extra["log_range"] for b in widget],
        },
    }


def memory(stack: Stack, burst: Burst) -> dict[str, Any]:
    """Kernel RSS growth over a widget burst, per 100k events, and what the new records hold by
    ``sys.getsizeof`` (the rest is the allocator's and the message path's)."""
    n = burst.n
    growth = burst.extra["kernel_rss_growth_bytes"]
    start, end = burst.extra["log_range"]
    held = stack.kernel.eval(f"_probe.retained_bytes(w, {start}, {end})")
    per_100k = growth / 2**20 * 100_000 / n
    stack.say(
        f"  memory: kernel RSS +{growth / 2**20:.1f} MB over {n:,} events "
        f"({per_100k:.1f} MB per 100k); the records hold {held / n:.0f} B/event"
    )
    return {
        "kernel_rss_mb_per_100k_events": round(per_100k, 1),
        "detail": {
            "events": n,
            "rss_growth_mb": round(growth / 2**20, 1),
            "records_bytes_per_event": round(held / n),
            "kernel_rss_mb_after": round(stack.kernel_process.memory_info().rss / 2**20, 1),
        },
    }


def paced(stack: Stack, count: int, interval_ms: float) -> dict[str, Any]:
    """``count`` events, one every ``interval_ms``, into the widget: browser receipt -> the
    kernel's ``last_event`` (stamped by an observer)."""
    k = stack.kernel
    stack.only("widget")
    k.run("_probe.paced_start(w)")
    try:
        burst = stack.widget_burst(count, 30 + count * interval_ms / 1000, interval_ms)
    finally:
        k.run("_probe.paced_stop(w)")
    latencies = k.eval("_probe.paced_latencies(w, {}, {})".format(*burst.extra["log_range"]))
    if not burst.ok or len(latencies) != count:
        raise HarnessError(f"paced: {len(latencies)} of {count} events stamped; {burst}")
    ordered = sorted(latencies)
    p50, p99 = _percentile(ordered, 50), _percentile(ordered, 99)
    stack.say(
        f"  paced {count} events at {1000 / interval_ms:.0f}/s: browser -> kernel p50 {p50:.1f} ms, "
        f"p99 {p99:.1f} ms, max {ordered[-1]:.1f} ms"
    )
    return {
        "paced_p50_ms": round(p50, 2),
        "paced_p99_ms": round(p99, 2),
        "paced_ok": burst.ok,
        "detail": {
            "events": count,
            "interval_ms": interval_ms,
            "p90_ms": round(_percentile(ordered, 90), 2),
            "max_ms": round(ordered[-1], 2),
            "min_ms": round(ordered[0], 2),
        },
    }


def notebook_growth(stack: Stack, n: int) -> dict[str, Any]:
    """Bytes the saved notebook grows by when ``n`` events go through the connected widget."""
    before = len(_save(stack.nb))
    burst = stack.widget_burst(n, burst_timeout(n))
    after = len(_save(stack.nb))
    stack.say(f"  notebook: {before:,} bytes saved before {n:,} events, {after:,} after")
    return {
        "notebook_bytes_growth": after - before,
        "notebook_events_ok": burst.ok,
        "detail": {"events": n, "bytes_before": before, "bytes_after": after},
    }


def _save(nb: Notebook) -> bytes:
    saved = nb.save()
    state = saved["metadata"].get("widgets", {}).get("application/vnd.jupyter.widget-state+json")
    if not state:
        raise HarnessError("the saved notebook holds no widget state (saveState is off?)")
    return nb.file.read_bytes()


def _percentile(ordered: list[float], p: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return ordered[max(1, math.ceil(len(ordered) * p / 100)) - 1]


def _spread(values: list[float]) -> str:
    return f"(min {min(values):.0f}, max {max(values):.0f}, n={len(values)})"
