"""Driving one ``RealtimeWidget`` in a notebook page: its panel(s) in the DOM, its state and log in
the kernel (read through the harness's kernel client, never by blocking inside the kernel)."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Locator, expect

from e2e.harness import LIVE_MIC_TRACKS_JS, HarnessError, Notebook

ENDED = ("closed", "failed")


class Driven:
    """The widget bound to ``var`` in the notebook's kernel, and its views in the page."""

    def __init__(self, nb: Notebook, var: str = "w") -> None:
        assert nb.kernel is not None, "open the notebook first"
        self.nb, self.var, self.k, self.page = nb, var, nb.kernel, nb.page

    # -- the page ----------------------------------------------------------------------------------
    def views(self) -> Locator:
        """Every rendered view of this widget (one output area per view)."""
        return self.page.locator(".jp-OutputArea-output").filter(
            has=self.page.get_by_test_id("connect")
        )

    def view(self, index: int = 0) -> Locator:
        return self.views().nth(index)

    def el(self, testid: str, view: int = 0) -> Locator:
        return self.view(view).get_by_test_id(testid)

    def wait_rendered(self, n_views: int = 1, timeout_s: float = 30) -> None:
        expect(self.views()).to_have_count(n_views, timeout=timeout_s * 1000)
        for i in range(n_views):
            expect(self.el("connect", i)).to_be_visible(timeout=timeout_s * 1000)
        # The front end said hello: from now on the kernel can drive calls.
        self.k.wait_for(f"{self.var}._frontend_ready", timeout=timeout_s, what="rt:hello")

    def click(self, testid: str, view: int = 0) -> None:
        self.el(testid, view).click()

    def expect_state_shown(
        self, states: tuple[str, ...] | str, view: int = 0, timeout_s: float = 20
    ) -> None:
        """The panel's state element names one of ``states`` (case-insensitive)."""
        states = (states,) if isinstance(states, str) else states
        pattern = re.compile(f"^({'|'.join(re.escape(s) for s in states)})$", re.IGNORECASE)
        expect(self.el("state", view)).to_have_text(pattern, timeout=timeout_s * 1000)

    def live_mic_tracks(self) -> int:
        """How many microphone tracks the page holds open (see TRACK_MIC_STREAMS_JS)."""
        return self.page.evaluate(LIVE_MIC_TRACKS_JS)

    def expect_mic_released(self, timeout_s: float = 10) -> None:
        self.page.wait_for_function(
            f"() => ({LIVE_MIC_TRACKS_JS})() === 0", timeout=timeout_s * 1000
        )

    # -- the kernel --------------------------------------------------------------------------------
    def ev(self, expr: str) -> Any:
        """Evaluate ``expr`` with ``w`` (the widget) in scope."""
        return self.k.eval(f"(lambda w: {expr})({self.var})")

    def wait(self, expr: str, timeout: float = 20, what: str | None = None, **kw: Any) -> Any:
        return self.k.wait_for(
            f"(lambda w: {expr})({self.var})", timeout=timeout, what=what or expr,
            show=f"(lambda w: (w.state, w.phase, w.error, len(w.log)))({self.var})", **kw,
        )  # fmt: skip

    def state(self) -> str:
        return self.ev("w.state")

    def error(self) -> str:
        return self.ev("w.error")

    def wait_state(self, states: tuple[str, ...] | str, timeout: float = 30) -> str:
        states = (states,) if isinstance(states, str) else states
        return self.wait(f"w.state if w.state in {states!r} else None", timeout=timeout,
                         what=f"w.state in {states}")  # fmt: skip

    def log_len(self) -> int:
        return self.ev("len(w.log)")

    def records(
        self, since: int = 0, source: str | None = None, type_: str | None = None
    ) -> list[dict]:
        cond = []
        if source:
            cond.append(f"r['source'] == {source!r}")
        if type_:
            cond.append(f"r['event'].get('type') == {type_!r}")
        where = " and ".join(cond) or "True"
        return self.ev(f"[r for r in w.log[{since}:] if {where}]")

    def count(self, type_: str, since: int = 0) -> int:
        return self.ev(f"sum(1 for r in w.log[{since}:] if r['event'].get('type') == {type_!r})")

    def wait_event(self, type_: str, since: int = 0, n: int = 1, timeout: float = 30) -> list[dict]:
        """Wait until ``n`` records of ``type_`` are in the log after ``since``; return them."""
        self.wait(
            f"sum(1 for r in w.log[{since}:] if r['event'].get('type') == {type_!r})",
            timeout=timeout, what=f"{n} x {type_} in w.log[{since}:]", until=lambda c: c >= n,
        )  # fmt: skip
        return self.records(since, type_=type_)

    def phases(self, since: int = 0) -> list[dict]:
        return [r for r in self.records(since, type_="widget.phase")]

    def call_starts(self) -> list[int]:
        """``seq`` of every ``widget.phase`` ``start`` record: where each call begins in the log."""
        return self.ev("[r['seq'] for r in w.log if r['event'].get('type') == 'widget.phase' "
                       "and r['event'].get('phase') == 'start']")  # fmt: skip

    def call_id(self) -> str:
        """The id of the current (or last) call, as the kernel knows it."""
        cid = self.ev("w._call_id")
        if not cid:
            raise HarnessError("the kernel knows no call id for this widget")
        return cid

    # -- figures -----------------------------------------------------------------------------------
    def click_to_channel_open_ms(self, since: int = 0) -> float:
        """From the ``start`` phase to ``channel_open``, on the browser's clock, for the call at
        ``since`` in the log."""
        phases = {r["event"]["phase"]: r for r in self.phases(since)}
        missing = [p for p in ("start", "channel_open") if p not in phases]
        if missing:
            raise HarnessError(f"no {missing} phase after seq {since}: {sorted(phases)}")
        return phases["channel_open"]["t_browser_ms"] - phases["start"]["t_browser_ms"]


def response_text(response_done: dict) -> str:
    """The assistant's words in a ``response.done`` event (audio transcript or text parts)."""
    parts = []
    for item in response_done.get("response", {}).get("output", []) or []:
        for c in item.get("content", []) or []:
            parts.append(c.get("transcript") or c.get("text") or "")
    return "".join(parts)
