"""``notebooks/01_quickstart.ipynb``, top to bottom, in JupyterLab in headless Chromium, against the
built-in emulator over real WebRTC.

The notebook is copied as it is, with one change: its parameters cell sets
``CONNECT_FROM_PYTHON = True``, so the notebook places the call itself (``w.connect()`` +
``w.wait_for(...)``) and its guarded cells run on a live call instead of the recorded one. Cells run
one at a time from the page, as a student runs them, and the test waits for the panel to be on
screen after the cell that displays it (a call can only start once a front end shows the widget).

The fake microphone plays silence here, so the only turns are the notebook's typed ones.
"""

from __future__ import annotations

import json
import shutil
import wave
from pathlib import Path
from typing import Any

import nbformat
import pytest

from e2e.driver import Driven, response_text
from e2e.harness import CHROMIUM_ARGS, TRACK_MIC_STREAMS_JS, HarnessError, Notebook, fake_mic_args

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = PROJECT_ROOT / "notebooks"
QUICKSTART = NOTEBOOKS / "01_quickstart.ipynb"

_CELL_DONE_JS = """([path, i]) => {
  const w = window.jupyterapp.shell.currentWidget;
  if (!w || w.context.path !== path) return null;
  const c = w.content.widgets[i];
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  if (c.model.executionCount === null || !k || k.status !== 'idle') return null;
  return c.model.outputs.toJSON();
}"""


@pytest.fixture(scope="module")
def quiet_browser(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A second Chromium from the suite's Playwright, whose fake microphone plays silence."""
    wav = tmp_path_factory.mktemp("quiet") / "silence.wav"
    with wave.open(str(wav), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(48_000)
        f.writeframes(b"\0\0" * 48_000 * 2)
    quiet = browser.browser_type.launch(
        executable_path=shutil.which("chromium"), headless=True,
        args=[*CHROMIUM_ARGS, *fake_mic_args(wav, loop=True)],
    )  # fmt: skip
    yield quiet
    quiet.close()


def _parametrized_copy(lab_root: Path) -> tuple[str, list[Any]]:
    """01_quickstart.ipynb (and its data) in the server's root, connecting from Python."""
    folder = lab_root / "course"
    shutil.copytree(NOTEBOOKS / "data", folder / "data", dirs_exist_ok=True)
    nb = nbformat.read(QUICKSTART, as_version=4)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and "CONNECT_FROM_PYTHON = False" in params[0].source, params
    params[0].source = params[0].source.replace(
        "CONNECT_FROM_PYTHON = False", "CONNECT_FROM_PYTHON = True"
    )
    nbformat.write(nb, folder / QUICKSTART.name)
    return f"course/{QUICKSTART.name}", nb.cells


def _run_cell(nb: Notebook, index: int, timeout: float = 120) -> list[dict]:
    """Run cell ``index`` from the page (select it, notebook:run-cell); its outputs once done."""
    nb.page.evaluate(
        "(i) => { window.jupyterapp.shell.currentWidget.content.activeCellIndex = i; }", index
    )
    nb.command("notebook:run-cell")
    handle = nb.page.wait_for_function(_CELL_DONE_JS, arg=[nb.path, index], timeout=timeout * 1000)
    return handle.json_value()


def _text(outputs: list[dict]) -> str:
    parts = []
    for o in outputs:
        if o.get("output_type") == "stream":
            parts.append(o.get("text", ""))
        elif "data" in o:
            parts.append(o["data"].get("text/plain", ""))
    return "".join(parts)


def test_quickstart_runs_top_to_bottom_on_a_live_call(lab, quiet_browser, artifacts):
    path, cells = _parametrized_copy(lab.root)
    context = quiet_browser.new_context(
        permissions=["microphone"], viewport={"width": 1280, "height": 1000}
    )
    context.add_init_script(TRACK_MIC_STREAMS_JS)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(f"[{m.type}] {m.text}"))
    nb = Notebook(lab, page, path)
    outputs: dict[int, list[dict]] = {}
    try:
        nb.open()
        for index, cell in enumerate(cells):
            if cell.cell_type != "code":
                continue
            outputs[index] = _run_cell(nb, index)
            errors = [o for o in outputs[index] if o.get("output_type") == "error"]
            if errors:
                e = errors[0]
                raise HarnessError(
                    f"cell {index} raised {e['ename']}: {e['evalue']}\n{cell.source}\n"
                    + "\n".join(e.get("traceback", []))
                )
            if "RealtimeWidget(" in cell.source:
                # The panel is on screen and its front end said hello: a call can start now.
                Driven(nb).wait_rendered()
        _check_the_run(nb, cells, outputs)
    except BaseException:
        page.screenshot(path=str(artifacts / "quickstart-e2e-failure.png"), full_page=True)
        print("--- browser console (last 40) ---", *console[-40:], sep="\n")
        if nb.kernel is not None:
            try:
                tail = nb.kernel.eval("[r['event'].get('type') for r in w.log][-40:]", timeout=5)
                print("--- last records of w.log ---", tail)
            except AssertionError as e:
                print(f"w.log: {str(e).splitlines()[0]}")
        raise
    finally:
        nb.close()
        context.close()


def _check_the_run(nb: Notebook, cells: list[Any], outputs: dict[int, list[dict]]) -> None:
    d = Driven(nb)
    by_source = {cells[i].source: _text(out) for i, out in outputs.items()}

    def output_of(snippet: str) -> str:
        found = [text for source, text in by_source.items() if snippet in source]
        assert len(found) == 1, f"{len(found)} cells contain {snippet!r}"
        return found[0]

    every_output = "\n".join(by_source.values())
    # A live run: no cell fell back to the recorded session or skipped its live part.
    assert "No live call" not in every_output, every_output
    assert "backend: emulator" in output_of("RealtimeWidget(")
    assert "connected: session sess_" in output_of("w.connect()")
    # The typed turn went out on the data channel and its answer came back (the emulator echoes).
    assert "completed: You said: What is WebRTC, in one sentence?" in output_of(
        'w.send_text("What is WebRTC'
    )
    assert "Using your call:" in output_of("def call_log(w")
    # The handler saw the second answer, and stopped collecting once removed (exercise 4).
    assert "You said: Say hello in three languages." in output_of("@w.on(")
    assert "answers before: 1, after: 1" in output_of('w.off("response.done", remember)')

    # The kernel's view of the same call: one call, handshake complete, three typed turns.
    phases = [r["event"]["phase"] for r in d.records(type_="widget.phase")]
    for phase in ("start", "secret_received", "offer_created", "answer_received", "channel_open",
                  "session_created"):  # fmt: skip
        assert phase in phases, phases
    assert phases.count("start") == 1
    assert d.records(type_="widget.phase")[0]["event"].get("trigger") == "kernel"
    done = [r["event"] for r in d.records(type_="response.done")]
    assert [e["response"]["status"] for e in done] == ["completed"] * 3, done
    sent = [r["event"]["item"]["content"][0]["text"]
            for r in d.records(source="client", type_="conversation.item.create")]  # fmt: skip
    assert sent == [
        "What is WebRTC, in one sentence?", "Say hello in three languages.", "One more thing.",
    ]  # fmt: skip
    assert [response_text(e) for e in done] == [f"You said: {text}" for text in sent]
    # The last cell hung up: the call ends in the page, the kernel and the emulator.
    d.wait_state("closed", timeout=20)
    d.wait("w.emulator.calls == []", what="the emulator to end the call")
    d.expect_mic_released()
    assert "ek_" not in json.dumps(d.records()), "a client secret reached the log"
