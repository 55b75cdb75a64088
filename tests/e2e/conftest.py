"""Fixtures of the end-to-end suite: one JupyterLab server and one Chromium for the whole run, a
fresh notebook (own page, own kernel) per test.

``open_notebook(cells)`` writes a notebook with those cells, opens it in a new browser context,
runs every cell from the page and returns a :class:`~e2e.harness.Notebook` whose ``kernel`` is a
client on the notebook's own kernel. When a test fails, the teardown prints, for each notebook,
the widget's ``error``/``state``, the last 30 log records and the browser console, and saves a
screenshot under ``test-artifacts/failures/``.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from e2e.harness import (
    CHROMIUM_ARGS,
    TRACK_MIC_STREAMS_JS,
    LabServer,
    Notebook,
    ensure_artifacts_dir,
    fake_mic_args,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = PROJECT_ROOT / "test-artifacts"

# What the fake microphone says in every call (once per call: %noloop).
SPEECH_TEXT = "Hello there. What is the weather like in Paris today?"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def artifacts() -> Path:
    return ensure_artifacts_dir(PROJECT_ROOT)


_FIGURES: dict[str, Any] = {}


@pytest.fixture(scope="session")
def figures(artifacts: Path) -> Iterator[dict[str, Any]]:
    """Measurements the tests add to; written to test-artifacts/e2e-figures.json at the end of the
    session and printed in pytest's terminal summary."""
    yield _FIGURES
    if _FIGURES:
        out = artifacts / "e2e-figures.json"
        out.write_text(json.dumps(_FIGURES, indent=2, sort_keys=True) + "\n")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _FIGURES:
        terminalreporter.section("e2e figures (test-artifacts/e2e-figures.json)")
        for key, value in sorted(_FIGURES.items()):
            terminalreporter.write_line(f"{key}: {json.dumps(value)}")


# The server and the browser live as long as this package's tests: Playwright's sync API keeps an
# asyncio loop marked running on the main thread while it is up, which would break any later test
# calling asyncio.run(), and the server's kernels would hold CPU the rest of the suite needs.
@pytest.fixture(scope="package")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    server = LabServer(tmp_path_factory.mktemp("lab")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def speech_file() -> Path:
    from support.speech import speech_wav

    return speech_wav(SPEECH_TEXT, rate=48_000)


@pytest.fixture(scope="package")
def browser(speech_file: Path) -> Iterator[Any]:
    chromium = shutil.which("chromium")
    if not chromium:
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # Playwright gives every launch a fresh, empty --user-data-dir of its own.
        b = p.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=[*CHROMIUM_ARGS, *fake_mic_args(speech_file)],
        )
        try:
            yield b
        finally:
            b.close()


class Opened:
    """What the fixture keeps about one opened notebook, for teardown and failure reports."""

    def __init__(self, nb: Notebook, context: Any, console: list[str], widget_var: str) -> None:
        self.nb, self.context, self.console, self.widget_var = nb, context, console, widget_var


@pytest.fixture
def open_notebook(
    request: pytest.FixtureRequest, lab: LabServer, browser: Any, artifacts: Path
) -> Iterator[Callable[..., Notebook]]:
    opened: list[Opened] = []

    def _open(
        cells: Sequence[str],
        *,
        mic: bool = True,
        run: bool = True,
        widget_var: str = "w",
        check: bool = True,
    ) -> Notebook:
        """Open a notebook of ``cells`` in a new context (mic granted unless ``mic=False``)."""
        context = browser.new_context(
            permissions=["microphone"] if mic else [],
            viewport={"width": 1280, "height": 1000},
        )
        context.add_init_script(TRACK_MIC_STREAMS_JS)
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda m: console.append(f"[{m.type}] {m.text}"))
        page.on("pageerror", lambda e: console.append(f"[pageerror] {e}"))
        name = Notebook.write(lab, cells)
        nb = Notebook(lab, page, name)
        opened.append(Opened(nb, context, console, widget_var))
        nb.open()
        if run:
            nb.run_all(check=check)
        return nb

    yield _open

    rep = getattr(request.node, "rep_call", None)
    failed = rep is not None and rep.failed
    for o in opened:
        if failed:
            _report_failure(request.node.name, o, artifacts)
        o.nb.close()
        o.context.close()


def _report_failure(test_name: str, o: Opened, artifacts: Path) -> None:
    nb, var = o.nb, o.widget_var
    print(f"\n===== e2e failure report: {test_name} / {nb.path} =====")
    if nb.kernel is not None:
        for expr in (f"{var}.state", f"{var}.error"):
            try:
                print(f"{expr} = {nb.kernel.eval(expr, timeout=5)!r}")
            except AssertionError as e:
                print(f"{expr}: {str(e).splitlines()[0]}")
        try:
            tail = nb.kernel.eval(f"list({var}.log)[-30:]", timeout=5)
            print(f"--- last {len(tail)} records of {var}.log ---")
            for r in tail:
                print(json.dumps(r, default=str)[:400])
        except AssertionError as e:
            print(f"{var}.log: {str(e).splitlines()[0]}")
    print(f"--- browser console ({len(o.console)} messages, last 60) ---")
    for line in o.console[-60:]:
        print(line[:400])
    try:
        shots = artifacts / "failures"
        shots.mkdir(exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{test_name}-{nb.path}")
        nb.page.screenshot(path=str(shots / f"{safe}.png"), full_page=True)
        print(f"screenshot: {shots / f'{safe}.png'}")
    except Exception as e:  # noqa: BLE001 - a report must not hide the real failure
        print(f"no screenshot: {e}")
    print(f"--- jupyter lab log (tail) ---\n{nb.lab.log_tail(20)}")
