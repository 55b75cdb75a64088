"""The harness proves itself on a plain notebook (no widget): JupyterLab runs the cells from the
page, the kernel client reads the same kernel, and the fake mic is granted or denied per context."""

from __future__ import annotations

import statistics
import time

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

GET_USER_MEDIA = """async () => {
  try {
    const s = await navigator.mediaDevices.getUserMedia({audio: true});
    const label = s.getAudioTracks()[0].label;
    s.getTracks().forEach(t => t.stop());
    return 'ok: ' + label;
  } catch (e) { return e.name; }
}"""


def test_page_and_kernel_client_share_one_kernel(open_notebook, figures):
    nb = open_notebook([
        "import os\nx = 6 * 7\nprint('from the page', x)",
        "key = os.environ.get('OPENAI_API_KEY')",
    ])  # fmt: skip
    # The page ran the cells: their output is in the DOM.
    expect(nb.page.locator(".jp-OutputArea-output").first).to_contain_text("from the page 42")
    # The kernel client sees what the page's cells defined, in the same process.
    assert nb.kernel.eval("x") == 42
    assert nb.kernel.eval("key") is None, "the suite must run kernels without OPENAI_API_KEY"
    nb.kernel.run("y = x + 1")
    assert nb.kernel.eval("{'y': y, 'pid': os.getpid()}")["y"] == 43
    # Round trips are cheap enough to poll.
    times = []
    for _ in range(50):
        t0 = time.perf_counter()
        nb.kernel.eval("y")
        times.append((time.perf_counter() - t0) * 1000)
    median_ms = statistics.median(times)
    figures["kernel_client_eval_round_trip_ms_median"] = round(median_ms, 2)
    assert median_ms < 100, times
    # A cell added from the page also runs in that kernel.
    nb.add_and_run_cell("z = y * 2")
    assert nb.kernel.eval("z") == 86


def test_kernel_errors_are_readable(open_notebook):
    nb = open_notebook(["a = 1"])
    with pytest.raises(AssertionError, match="ZeroDivisionError"):
        nb.kernel.eval("a / 0")
    with pytest.raises(AssertionError, match="NameError"):
        nb.kernel.run("undefined_name + 1")


def test_fake_mic_granted_and_denied_per_context(open_notebook):
    granted = open_notebook([], run=False)
    assert granted.page.evaluate(GET_USER_MEDIA).startswith("ok: ")
    denied = open_notebook([], run=False, mic=False)
    assert denied.page.evaluate(GET_USER_MEDIA) == "NotAllowedError"


def test_save_writes_the_notebook_to_disk(open_notebook):
    nb = open_notebook(["print('saved output')"])
    saved = nb.save()
    outputs = [o for c in saved["cells"] for o in c.get("outputs", [])]
    assert any("saved output" in "".join(o.get("text", "")) for o in outputs)
