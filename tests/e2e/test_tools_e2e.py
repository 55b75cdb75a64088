"""Issue 5's acceptance, end to end: Python tools, ``wait_for`` and ``send_image`` with the widget in
JupyterLab in headless Chromium, the built-in emulator as the peer, real WebRTC.

The emulator's echo assistant calls a function tool of the session that the user's text names,
with the first JSON object in the text as arguments; after the ``function_call_output`` and
``response.create`` it says ``The <name> tool returned: <output>``. So every check here runs the
whole loop: model -> browser -> kernel (the tool runs) -> browser -> model -> spoken reply.

Cells that must block (``wait_for``, a busy ``time.sleep``) are run from the page, as a user runs
them; everything else goes through the harness's kernel client.
"""

from __future__ import annotations

import base64
import io
import json
import re
import statistics
import time

import pytest
from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent
from playwright.sync_api import expect
from pydantic import TypeAdapter

from e2e.driver import Driven, response_text
from e2e.harness import HarnessError, Notebook

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

CLIENT_EVENT = TypeAdapter(RealtimeClientEvent)
SERVER_EVENT = TypeAdapter(RealtimeServerEvent)

NO_VAD = 'session={"audio": {"input": {"turn_detection": None}}}'
# Fast deltas: the emulator's replies are checked by their words, not by their pace.
SETUP = """\
import asyncio, time
from rt_widget import RealtimeWidget

def get_weather(city: str, unit: str = "celsius") -> dict:
    '''Current weather for a city.

    Args:
        city: The city's name.
        unit: celsius or fahrenheit.
    '''
    return {"city": city, "temperature": 21, "unit": unit, "sky": "clear"}

async def add_slowly(a: int, b: int) -> int:
    '''Add two integers, taking a moment.'''
    await asyncio.sleep(0.3)
    return a + b

def explode(reason: str) -> str:
    '''Always fails.'''
    raise ValueError(f"no weather today: {reason}")

def stuck(seconds: float) -> str:
    '''Takes far too long.'''
    time.sleep(seconds)
    return "finally"
"""
WIDGET = (
    "w = RealtimeWidget(" + NO_VAD + "{tools})\nw.emulator.set_knobs(None, delta_interval_ms=10)\nw"
)

_TOOL_ROUND_TRIP_MS: list[float] = []


@pytest.fixture(scope="module", autouse=True)
def _tool_figures(figures):
    yield
    if _TOOL_ROUND_TRIP_MS:
        key = "tool_call_overhead_ms[browser: arguments.done -> output sent, less the tool's time]"
        figures[key] = {
            "calls": len(_TOOL_ROUND_TRIP_MS),
            "median": round(statistics.median(_TOOL_ROUND_TRIP_MS), 1),
            "max": round(max(_TOOL_ROUND_TRIP_MS), 1),
        }


# -- helpers ----------------------------------------------------------------------------------------------
def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _open(open_notebook, tools: str = "") -> tuple[Notebook, Driven]:
    """A notebook with the tool functions defined and ``w`` shown; ``tools`` is e.g. "[f, g]"."""
    nb = open_notebook([SETUP, WIDGET.replace("{tools}", f", tools={tools}" if tools else "")])
    d = Driven(nb)
    d.wait_rendered()
    return nb, d


def _connect(nb: Notebook, d: Driven) -> int:
    """Connect from Python; returns where the call starts in the log, once the session exists."""
    nb.kernel.run("w.connect()")
    d.wait_state("connected")
    since = d.call_starts()[-1]
    d.wait_event("session.created", since=since)
    return since


def _ask(nb: Notebook, d: Driven, text: str, n_responses: int = 2) -> tuple[int, list[dict]]:
    """Type ``text`` from Python and wait for ``n_responses`` responses (the call, the reply)."""
    mark = d.log_len()
    nb.kernel.run(f"w.send_text({text!r})")
    done = d.wait_event("response.done", since=mark, n=n_responses, timeout=60)
    return mark, [r["event"] for r in done]


def _check_tool_turn(
    d: Driven, mark: int, name: str, *, measure: bool = True
) -> tuple[dict, dict, str]:
    """The model called ``name``; the kernel answered that call with one output and one
    response.create, in that order; the reply quotes the output. Returns (widget.tool record,
    the output item event, the reply's transcript). ``measure``: add the round trip, less the
    tool's own time, to the figures."""
    [call] = [r for r in d.records(mark, type_="response.function_call_arguments.done")]
    assert call["event"]["name"] == name
    call_id = call["event"]["call_id"]
    client = d.records(mark, source="client")
    outputs = [
        r for r in client
        if r["event"]["type"] == "conversation.item.create"
        and r["event"]["item"]["type"] == "function_call_output"
    ]  # fmt: skip
    assert [o["event"]["item"]["call_id"] for o in outputs] == [call_id]
    output = outputs[0]
    creates = [r for r in client if r["event"]["type"] == "response.create"]
    assert len(creates) == 2, "the user's response.create and the kernel's follow-up"
    assert output["seq"] < creates[1]["seq"]
    for r in (output, creates[1]):
        CLIENT_EVENT.validate_python(r["event"])

    [record] = d.records(mark, type_="widget.tool")
    assert record["source"] == "widget" and record["event"]["call_id"] == call_id
    if measure:
        round_trip = output["t_browser_ms"] - call["t_browser_ms"]
        _TOOL_ROUND_TRIP_MS.append(round_trip - record["event"]["duration_ms"])
    transcripts = d.records(mark, type_="response.output_audio_transcript.done")
    assert transcripts, "no spoken reply"
    reply = transcripts[-1]["event"]["transcript"]
    assert reply.startswith(f"The {name} tool returned: ")
    # The reply quotes exactly what the kernel sent.
    assert reply == f"The {name} tool returned: {output['event']['item']['output']}"
    assert transcripts[-1]["seq"] > output["seq"]
    return record["event"], output["event"], reply


def _emulator_errors(d: Driven) -> list[dict]:
    call_id = d.call_id()
    return d.ev(f"[e for e in w.emulator.sent_events({call_id!r}) if e['type'] == 'error']")


def _start_cell(nb: Notebook, source: str) -> int:
    """Append a cell and run it from the page without waiting for it; returns its index."""
    index = nb.page.evaluate(
        """(src) => {
          const w = window.jupyterapp.shell.currentWidget;
          const n = w.content.model.cells.length;
          w.content.model.sharedModel.insertCell(n, {cell_type: 'code', source: src});
          w.content.activeCellIndex = n;
          return n;
        }""",
        source,
    )
    # Not nb.command(): its promise (JupyterLab's command) settles only when the cell has run.
    nb.page.evaluate(
        "() => { void window.jupyterapp.commands.execute('notebook:run-cell'); return true; }"
    )
    return index


def _cell_outputs(nb: Notebook, index: int, timeout: float = 60) -> list[dict]:
    """The outputs of cell ``index`` once it has run and the kernel is idle."""
    handle = nb.page.wait_for_function(
        """([path, i]) => {
          const w = window.jupyterapp.shell.currentWidget;
          if (!w || w.context.path !== path) return null;
          const c = w.content.widgets[i];
          const k = w.sessionContext.session && w.sessionContext.session.kernel;
          if (c.model.executionCount === null || !k || k.status !== 'idle') return null;
          return c.model.outputs.toJSON();
        }""",
        arg=[nb.path, index],
        timeout=timeout * 1000,
    )
    return handle.json_value()


def _text(outputs: list[dict]) -> str:
    return "".join(
        "".join(o.get("text", "")) if o.get("output_type") == "stream" else "" for o in outputs
    )


# -- tools ------------------------------------------------------------------------------------------------
def test_sync_and_async_tools_answer_the_model_and_tools_follow_the_session(open_notebook):
    nb, d = _open(open_notebook, "[get_weather, add_slowly]")
    since = _connect(nb, d)
    # The session the call started with already offers both tools (the minted secret carried them).
    session = d.records(since, type_="session.created")[0]["event"]["session"]
    assert [t["name"] for t in session["tools"]] == ["get_weather", "add_slowly"]
    assert (
        session["tools"][0]["parameters"]["properties"]["city"]["description"] == "The city's name."
    )

    # A sync tool.
    mark, done = _ask(nb, d, 'What is the weather? Please call get_weather with {"city": "Paris"}')
    assert done[0]["response"]["output"][0]["type"] == "function_call"
    record, output, reply = _check_tool_turn(d, mark, "get_weather")
    assert json.loads(output["item"]["output"]) == {
        "city": "Paris", "temperature": 21, "unit": "celsius", "sky": "clear"
    }  # fmt: skip
    assert record["status"] == "ok" and record["arguments"] == {"city": "Paris"}
    assert record["result"]["city"] == "Paris"
    assert "paris" in _norm(response_text(done[1]))
    expect(d.el("tool-status")).to_have_text(re.compile(r"^get_weather done in \d+ ms$"))

    # An async tool: the emulator's arguments come back as Python ints, and 2 + 40 is said aloud.
    mark, done = _ask(nb, d, 'add_slowly {"a": 2, "b": 40}')
    record, output, reply = _check_tool_turn(d, mark, "add_slowly")
    assert output["item"]["output"] == "42" and reply.endswith("returned: 42")
    assert record["status"] == "ok" and record["result"] == 42 and record["duration_ms"] >= 300
    expect(d.el("tool-status")).to_have_text(re.compile(r"^add_slowly done in \d+ ms$"))

    # A tool added during the call is offered at once (session.update), and the model can use it.
    mark = d.log_len()
    nb.kernel.run(
        "@w.tool\ndef shout(text: str) -> str:\n    '''Say it louder.'''\n    return text.upper()\n"
    )
    updated = d.wait_event("session.updated", since=mark)[-1]["event"]["session"]
    assert [t["name"] for t in updated["tools"]] == ["get_weather", "add_slowly", "shout"]
    mark, done = _ask(nb, d, 'shout {"text": "tools from a notebook"}')
    record, output, reply = _check_tool_turn(d, mark, "shout")
    assert reply == "The shout tool returned: TOOLS FROM A NOTEBOOK"
    # ...and removed the same way.
    mark = d.log_len()
    nb.kernel.run("w.remove_tool('shout')")
    updated = d.wait_event("session.updated", since=mark)[-1]["event"]["session"]
    assert [t["name"] for t in updated["tools"]] == ["get_weather", "add_slowly"]

    # w.log holds one widget.tool record per call, in order, next to the turns.
    records = [r["event"] for r in d.records(since, type_="widget.tool")]
    assert [(r["name"], r["status"]) for r in records] == [
        ("get_weather", "ok"), ("add_slowly", "ok"), ("shout", "ok")
    ]  # fmt: skip
    assert _emulator_errors(d) == [], "the emulator refused something the widget sent"


def test_a_tool_that_raises_and_a_tool_that_times_out_answer_with_errors(open_notebook):
    nb, d = _open(open_notebook, "[explode]")
    nb.kernel.run("w.tool(stuck, timeout=1)")
    _connect(nb, d)

    mark, done = _ask(nb, d, 'explode {"reason": "testing"}')
    record, output, _ = _check_tool_turn(d, mark, "explode")
    assert json.loads(output["item"]["output"]) == {
        "error": "ValueError: no weather today: testing"
    }
    assert record["status"] == "error" and "ValueError" in record["traceback"]
    expect(d.el("tool-status")).to_have_text(
        "explode failed: ValueError: no weather today: testing"
    )

    started = time.monotonic()
    mark, done = _ask(nb, d, 'stuck {"seconds": 30}')
    record, output, _ = _check_tool_turn(d, mark, "stuck", measure=False)
    assert time.monotonic() - started < 20, "the timeout did not cut the call short"
    assert json.loads(output["item"]["output"]) == {
        "error": "stuck did not finish within its timeout of 1 s"
    }
    assert record["status"] == "timeout" and 1000 <= record["duration_ms"] < 5000
    expect(d.el("tool-status")).to_have_text(re.compile(r"^stuck timed out after 1\.\d s$"))
    # The call goes on: the model still answers.
    mark, done = _ask(nb, d, "still there?", n_responses=1)
    assert "still there" in _norm(response_text(done[0]))
    assert _emulator_errors(d) == []


def test_a_busy_cell_holds_up_a_tool_call_and_the_panel_says_so(open_notebook):
    nb, d = _open(open_notebook, "[get_weather]")
    nb.kernel.run(
        "import threading\nthreads = set()\n"
        "w.on('*', lambda e: threads.add(threading.current_thread().name))"
    )
    _connect(nb, d)
    mark = d.log_len()
    # The cell sends, then keeps the kernel busy: the model's function call reaches the page but
    # not the kernel.
    index = _start_cell(nb, 'w.send_text(\'get_weather {"city": "Rome"}\')\ntime.sleep(5)')
    # Text and flag read together, in one look at the page: read one after the other, a loaded
    # machine let the cell end between the two reads.
    d.el("tool-status").wait_for(state="attached")
    d.page.wait_for_function(
        """([selector, text]) => {
            const line = document.querySelector(selector);
            return line !== null && line.textContent === text && line.dataset.waiting === "true";
        }""",
        arg=[
            '[data-testid="tool-status"]',
            "get_weather: waiting for the kernel (a running cell holds up tool calls)",
        ],
        timeout=8_000,
    )
    _cell_outputs(nb, index)
    # The cell is over: the kernel gets the call, runs the tool, and the model answers.
    d.wait_event("response.done", since=mark, n=2, timeout=60)
    _check_tool_turn(d, mark, "get_weather", measure=False)  # it waited for the cell on purpose
    expect(d.el("tool-status")).to_have_text(re.compile(r"^get_weather done in \d+ ms$"))
    assert d.el("tool-status").get_attribute("data-waiting") == "false"
    # Every record was handled on the main shell (the widget pins its messages there; ipykernel
    # would otherwise hop to JupyterLab's comm subshell), or, for widget.tool, on the tool's thread.
    threads = d.ev("sorted(threads)")
    assert "MainThread" in threads
    assert all(t == "MainThread" or t.startswith("rt-tool-") for t in threads), threads


# -- wait_for ---------------------------------------------------------------------------------------------
def test_wait_for_inside_a_running_cell_returns_instead_of_deadlocking(open_notebook, figures):
    nb, d = _open(open_notebook, "[get_weather]")

    # Connect and wait in one cell: the secret request (a widget message) is handled mid-cell.
    t0 = time.monotonic()
    outputs = nb.add_and_run_cell(
        "w.connect()\ncreated = w.wait_for('session.created', timeout=30)\n"
        "print('SESSION', created['session']['id'])"
    )
    connect_s = time.monotonic() - t0
    assert _text(outputs).startswith("SESSION sess_"), outputs
    assert d.ev("w.state") == "connected"

    # Send and wait for the answer in the same cell.
    t0 = time.monotonic()
    outputs = nb.add_and_run_cell(
        "w.send_text('a cell that waits for its answer')\n"
        "done = w.wait_for('response.done', timeout=30)\n"
        "print('DONE', done['response']['status'], done['response']['output'][0]['content'][0]['transcript'])"
    )
    wait_s = time.monotonic() - t0
    assert _text(outputs) == "DONE completed You said: a cell that waits for its answer\n", outputs
    assert wait_s < 20
    figures["wait_for_in_cell_s"] = {"connect_and_session_created": round(connect_s, 2),
                                     "send_text_and_response_done": round(wait_s, 2)}  # fmt: skip

    # A tool call runs while the cell waits; waits follow one another in one cell.
    outputs = nb.add_and_run_cell(
        'w.send_text(\'get_weather {"city": "Oslo"}\')\n'
        "tool = w.wait_for('widget.tool', timeout=30)\n"
        "said = w.wait_for('response.output_audio_transcript.done', timeout=30,\n"
        "                  predicate=lambda e: 'tool returned' in e['transcript'])\n"
        "print(tool['name'], tool['status'], '|', said['transcript'])"
    )
    line = _text(outputs)
    assert line.startswith("get_weather ok | The get_weather tool returned: "), outputs
    assert '"city":"Oslo"' in line

    # In an async cell, awaited.
    outputs = nb.add_and_run_cell(
        "w.send_text('awaited')\n"
        "done = await w.wait_for_async('response.done', timeout=30)\n"
        "print('AWAITED', done['response']['status'])"
    )
    assert _text(outputs) == "AWAITED completed\n", outputs
    # Connecting in an async cell: the widget's state still syncs afterwards. (Letting ipykernel
    # 7.4 handle the messages during a bare await left w.state at "idle" on a live call.)
    nb.kernel.run("w.disconnect()")
    d.wait_state("closed")
    outputs = nb.add_and_run_cell(
        "w.connect()\ncreated = await w.wait_for_async('session.created', timeout=30)\n"
        "print('RECONNECTED', created['type'])"
    )
    assert _text(outputs) == "RECONNECTED session.created\n", outputs
    d.wait_state("connected", timeout=10)

    # A cell queued behind a waiting cell runs after it, in order.
    nb.kernel.run("order = []")
    first = _start_cell(
        nb,
        "order.append('waiting')\nw.send_text('hold on')\nw.wait_for('response.done', timeout=30)\n"
        "order.append('waited')",
    )
    time.sleep(0.2)
    second = _start_cell(nb, "order.append('next cell')")
    _cell_outputs(nb, first)
    _cell_outputs(nb, second)
    assert d.ev("order") == ["waiting", "waited", "next cell"]

    # A timeout says so, promptly, and the kernel carries on.
    outputs = nb.add_and_run_cell("w.wait_for('no.such.event', timeout=1)", check=False)
    [error] = [o for o in outputs if o["output_type"] == "error"]
    assert error["ename"] == "TimeoutError"
    assert "No 'no.such.event' event arrived within 1 s" in error["evalue"]
    assert d.ev("w._waiters") == []


# -- send_image -------------------------------------------------------------------------------------------
def test_send_image_reaches_the_emulator_and_an_oversized_one_is_refused(open_notebook):
    nb, d = _open(open_notebook)
    _connect(nb, d)
    mark = d.log_len()
    nb.kernel.run(
        "from PIL import Image\n"
        "red = Image.new('RGB', (32, 24), (220, 20, 20))\n"
        "w.send_image(red, 'What colour is this?')"
    )
    d.wait_event("response.done", since=mark, timeout=60)

    # What the browser sent: a valid GA client event with the image inline.
    [sent] = [
        r["event"] for r in d.records(mark, source="client")
        if r["event"]["type"] == "conversation.item.create"
    ]  # fmt: skip
    CLIENT_EVENT.validate_python(sent)
    text_part, image_part = sent["item"]["content"]
    assert text_part == {"type": "input_text", "text": "What colour is this?"}
    assert image_part["type"] == "input_image"
    assert image_part["image_url"].startswith("data:image/png;base64,")

    # The emulator accepted it (no error event) and put it in the conversation, as its echo shows.
    call_id = d.call_id()
    added = d.ev(
        f"[e for e in w.emulator.sent_events({call_id!r}) if e['type'] == 'conversation.item.added'"
        " and e['item'].get('role') == 'user']"
    )
    assert len(added) == 1
    SERVER_EVENT.validate_python(added[0])
    assert added[0]["item"]["content"] == sent["item"]["content"]
    assert _emulator_errors(d) == []
    png = base64.b64decode(image_part["image_url"].split(",", 1)[1])
    image = pytest.importorskip("PIL.Image").open(io.BytesIO(png))
    assert (image.format, image.size, image.getpixel((0, 0))) == ("PNG", (32, 24), (220, 20, 20))

    # An image too large for one data-channel message is refused in the cell, with what to do.
    mark = d.log_len()
    outputs = nb.add_and_run_cell(
        "import os\nnoise = Image.frombytes('RGB', (400, 400), os.urandom(400 * 400 * 3))\n"
        "w.send_image(noise, 'and this?')",
        check=False,
    )
    [error] = [o for o in outputs if o["output_type"] == "error"]
    assert error["ename"] == "ValueError"
    assert re.search(
        r"The PIL image \(as PNG\) is too large to send: \d{3} KiB of PNG makes a \d{3} KiB "
        r"data-channel message .* over 256 KiB; images up to 19\d KiB fit\. Downscale it",
        error["evalue"],
    ), error["evalue"]
    time.sleep(0.5)
    assert d.records(mark, source="client") == [], "nothing may be sent"
    try:
        d.wait_event("conversation.item.added", since=mark, timeout=1)
        raise AssertionError("the oversized image reached the emulator")
    except HarnessError:
        pass
