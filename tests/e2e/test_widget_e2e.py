"""Issue 3's acceptance, end to end: RealtimeWidget in JupyterLab in headless Chromium, a fake
microphone playing speech, the built-in emulator as the peer, real WebRTC.

Each test opens a fresh notebook (own page, own kernel) on the session's JupyterLab server. The
kernel client attached to that kernel reads ``w.log``, ``w.state`` and the emulator's own record
(``emu.sent_events(call_id)``); the page is asserted through the panel's ``data-testid`` elements.
No OPENAI_API_KEY reaches the kernels (the harness drops it), so ``RealtimeWidget()`` starts the
emulator itself.
"""

from __future__ import annotations

import json
import re
import statistics
import time

import pytest
from playwright.sync_api import expect

from e2e.driver import ENDED, Driven, response_text

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

IMPORT = "from rt_widget import RealtimeWidget\n"
# Tests that do not speak switch server VAD off: the fake mic replays its sentence at the start of
# every call, and a VAD turn's response would interleave with the response the test asks for.
NO_VAD = 'session={"audio": {"input": {"turn_detection": None}}}'
# Transcribe the user's audio, so the panel has a user turn to show.
TRANSCRIBE = 'session={"audio": {"input": {"transcription": {"model": "gpt-4o-mini-transcribe"}}}}'

# Click -> data channel open of every call started by a click in this module, per signaling path,
# and each phase's offset from the click; events the emulator sent vs events in w.log, all calls.
_CLICK_TO_OPEN_MS: dict[str, list[float]] = {}
_PHASE_OFFSETS_MS: dict[str, list[float]] = {}
_SENT_VS_LOGGED = {"calls": 0, "sent_by_emulator": 0, "logged_as_server": 0}


@pytest.fixture(scope="module", autouse=True)
def _click_to_open_figure(figures):
    yield
    for path, values in _CLICK_TO_OPEN_MS.items():
        figures[f"click_to_channel_open_ms[{path}]"] = {
            "calls": len(values),
            "median": round(statistics.median(values), 1),
            "min": round(min(values), 1),
            "max": round(max(values), 1),
        }
    if _PHASE_OFFSETS_MS:
        figures["phase_offsets_from_click_ms_median[client_secret]"] = {
            phase: round(statistics.median(v), 1)
            for phase, v in sorted(
                _PHASE_OFFSETS_MS.items(), key=lambda kv: statistics.median(kv[1])
            )
        }
    if _SENT_VS_LOGGED["calls"]:
        figures["events_sent_vs_logged_all_checked_calls"] = dict(_SENT_VS_LOGGED)


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _connect_by_click(d: Driven, view: int = 0) -> int:
    """Click Connect and wait for session.created; returns where this call starts in the log."""
    starts_before = len(d.call_starts())
    d.click("connect", view)
    d.wait_state("connected")
    d.expect_state_shown("connected", view)
    starts = d.wait(
        "[r['seq'] for r in w.log if r['event'].get('type') == 'widget.phase' "
        "and r['event'].get('phase') == 'start']",
        what="a new call's start phase",
        until=lambda s: len(s) > starts_before,
    )
    since = starts[-1]
    d.wait_event("session.created", since=since)
    assert d.live_mic_tracks() == 1, "a connected call holds exactly one microphone track"
    start_record = d.records(since, type_="widget.phase")[0]
    start, start_t = start_record["event"], start_record["t_browser_ms"]
    assert start["phase"] == "start" and start.get("trigger") == "click", start
    ms = d.click_to_channel_open_ms(since)
    assert 0 < ms < 15_000, ms
    signaling = d.ev("w.signaling")
    _CLICK_TO_OPEN_MS.setdefault(signaling, []).append(ms)
    offsets: dict[str, float] = {}
    for r in d.phases(since):
        # Kernel-side phases (secret_minted, offer_relayed) have no browser time.
        if r["t_browser_ms"] is not None and r["event"]["phase"] not in offsets:
            offsets[r["event"]["phase"]] = r["t_browser_ms"] - start_t
    if signaling == "client_secret":
        for phase, offset in offsets.items():
            _PHASE_OFFSETS_MS.setdefault(phase, []).append(offset)
    return since


def _server_ids(
    d: Driven, emu: str, call_id: str, since: int, until: int | None
) -> tuple[list, list]:
    """(event ids the emulator sent on the call, ids of server records in w.log[since:until])."""
    sent, logged = d.ev(
        f"([e.get('event_id') for e in {emu}.sent_events({call_id!r})], "
        f"[r['event'].get('event_id') for r in w.log[{since}:{until}] if r['source'] == 'server'])"
    )
    return sent, logged


def _check_every_sent_event_logged(
    d: Driven,
    call_id: str,
    since: int,
    until: int | None = None,
    *,
    emu: str = "w.emulator",
    complete: bool = True,
    timeout: float = 15,
) -> tuple[int, int]:
    """Every server event the emulator sent on ``call_id`` is in the log, once, in order.

    Polls until the log has caught up and the emulator has stopped sending. ``complete=False`` is
    for a call the peer tore down: events in flight when the channel died may never arrive, so
    the log must then hold a prefix of what was sent. Returns (sent, logged) counts, also added to
    the module's totals for the figures.
    """
    deadline = time.monotonic() + timeout
    previous = -1
    while True:
        sent, logged = _server_ids(d, emu, call_id, since, until)
        settled = len(sent) == previous and (len(logged) == len(sent) or not complete)
        if settled or time.monotonic() > deadline:
            break
        previous = len(sent)
        time.sleep(0.3)
    assert sent and None not in sent and len(set(sent)) == len(sent), sent
    expected = sent if complete else sent[: len(logged)]
    first_diff = next(
        (i for i, (a, b) in enumerate(zip(sent, logged, strict=False)) if a != b),
        min(len(sent), len(logged)),
    )
    assert logged == expected, (
        f"call {call_id}: the emulator sent {len(sent)} events, w.log has {len(logged)}; "
        f"they differ from index {first_diff}: sent {sent[first_diff : first_diff + 3]}, "
        f"logged {logged[first_diff : first_diff + 3]}"
    )
    _SENT_VS_LOGGED["calls"] += 1
    _SENT_VS_LOGGED["sent_by_emulator"] += len(sent)
    _SENT_VS_LOGGED["logged_as_server"] += len(logged)
    return len(sent), len(logged)


# -- the main path: click, speak, every event in the kernel ----------------------------------------
def test_click_connect_and_speak_every_event_reaches_the_kernel(open_notebook, figures, artifacts):
    nb = open_notebook([IMPORT + f"w = RealtimeWidget({TRANSCRIBE})\nw"])
    d = Driven(nb)
    d.wait_rendered()
    # No key: the widget started the built-in emulator, and the panel says so plainly.
    assert d.ev("w.backend") == "emulator"
    assert d.ev("w.emulator is not None")
    expect(d.el("backend")).to_contain_text(re.compile("emulator", re.IGNORECASE))
    expect(d.el("state")).to_have_text("idle")

    since = _connect_by_click(d)
    call_id = d.call_id()
    assert d.ev("w.emulator.calls") == [call_id]

    # The fake microphone says its sentence: server VAD makes a turn of it, then a response.
    started = d.wait_event("input_audio_buffer.speech_started", since=since, timeout=20)
    stopped = d.wait_event("input_audio_buffer.speech_stopped", since=since, timeout=30)
    committed = d.wait_event("input_audio_buffer.committed", since=since, timeout=10)
    created = d.wait_event("response.created", since=since, timeout=10)
    done = d.wait_event("response.done", since=since, timeout=60)
    assert (
        started[0]["seq"]
        < stopped[0]["seq"]
        < committed[0]["seq"]
        < created[0]["seq"]
        < done[0]["seq"]
    )
    assert done[0]["event"]["response"]["status"] == "completed"
    assert created[0]["event"]["response"]["id"] == done[0]["event"]["response"]["id"]
    user_text = d.wait_event(
        "conversation.item.input_audio_transcription.completed", since=since, timeout=20
    )[0]["event"]["transcript"]
    assistant_text = response_text(done[0]["event"])
    assert assistant_text.strip(), f"the response has no words: {done[0]['event']}"

    # Every event the emulator sent on this call is in the log, in order, nothing else.
    n_sent, n_logged = _check_every_sent_event_logged(d, call_id, since)
    assert n_sent > 10
    sent_types = d.ev(f"[e['type'] for e in w.emulator.sent_events({call_id!r})]")
    logged_types = [r["event"]["type"] for r in d.records(since, source="server")]
    assert logged_types == sent_types
    assert logged_types[0] == "session.created"
    # Every record carries a browser time and a kernel time, and seq counts in arrival order.
    recs = d.records(since)
    assert [r["seq"] for r in recs] == list(range(since, since + len(recs)))
    assert all(r["t_browser_ms"] is not None for r in recs if r["source"] != "widget")
    assert all(r["t_kernel_ms"] >= r["t_browser_ms"] - 1000 for r in recs if r["t_browser_ms"])
    figures["events_sent_vs_logged_speech_call"] = {
        "sent_by_emulator": n_sent,
        "logged_as_server": n_logged,
        "all_records_of_call": len(recs),
    }

    # The transcript appears in the panel: the user's turn and the assistant's answer.
    transcript = d.el("transcript")
    expect(transcript.locator('[data-role="user"]').first).to_have_text(
        re.compile(re.escape(user_text.strip()))
    )
    expect(transcript.locator('[data-role="assistant"]').first).to_have_text(
        re.compile(re.escape(assistant_text.strip()))
    )

    # The connected panel, as a picture.
    d.view(0).scroll_into_view_if_needed()
    d.view(0).screenshot(path=str(artifacts / "connected-panel.png"))
    assert (artifacts / "connected-panel.png").stat().st_size > 5_000


# -- Python drives the call ------------------------------------------------------------------------
def test_send_text_round_trip(open_notebook):
    nb = open_notebook([IMPORT + f"w = RealtimeWidget({NO_VAD})\nw"])
    d = Driven(nb)
    d.wait_rendered()
    since = _connect_by_click(d)
    mark = d.log_len()
    text = "Please repeat after me: the quick brown fox jumps over the lazy dog."
    nb.kernel.run(f"w.send_text({text!r})")

    done = d.wait_event("response.done", since=mark, timeout=60)[0]["event"]
    # The client events went out on the data channel (logged by the browser as it sent them).
    client = d.records(mark, source="client")
    creates = [r for r in client if r["event"]["type"] == "conversation.item.create"]
    assert creates and creates[0]["event"]["item"]["content"][0]["text"] == text
    assert any(r["event"]["type"] == "response.create" for r in client)
    # The echo assistant repeats it.
    assert _norm(text) in _norm(response_text(done))
    # ...and the panel shows the answer.
    expect(d.el("transcript").locator('[data-role="assistant"]').last).to_contain_text(
        "the quick brown fox jumps over the lazy dog"
    )
    # No VAD turn crept in, and every server event of the call is in the log.
    assert d.count("input_audio_buffer.speech_started", since=since) == 0
    _check_every_sent_event_logged(d, d.call_id(), since)


def test_connect_from_python_without_a_click(open_notebook):
    nb = open_notebook([IMPORT + f"w = RealtimeWidget({NO_VAD})\nw"])
    d = Driven(nb)
    d.wait_rendered()
    assert d.ev("w.state") == "idle"
    nb.kernel.run("w.connect()")
    d.wait_state("connected")
    d.expect_state_shown("connected")
    since = d.call_starts()[0]
    d.wait_event("session.created", since=since)
    assert d.ev("w.emulator.calls") == [d.call_id()]
    start = d.phases(since)[0]["event"]
    assert start["phase"] == "start" and start.get("trigger") == "kernel", start
    # And Python can use the call it started.
    mark = d.log_len()
    nb.kernel.run("w.send_text('hello from python')")
    done = d.wait_event("response.done", since=mark, timeout=60)[0]["event"]
    assert "hello from python" in _norm(response_text(done))
    _check_every_sent_event_logged(d, d.call_id(), since)


def test_relay_signaling_puts_no_secret_in_the_browser(open_notebook):
    nb = open_notebook([IMPORT + f'w = RealtimeWidget(signaling="relay", {NO_VAD})\nw'])
    d = Driven(nb)
    d.wait_rendered()
    assert d.ev("w.signaling") == "relay"
    since = _connect_by_click(d)
    phases = [r["event"]["phase"] for r in d.phases(since)]
    assert "offer_relayed" in phases, phases
    assert not {"secret_requested", "secret_received", "secret_minted"} & set(phases), phases
    assert d.ev("w.emulator.calls") == [d.call_id()]
    # The call works.
    mark = d.log_len()
    nb.kernel.run("w.send_text('relayed hello')")
    done = d.wait_event("response.done", since=mark, timeout=60)[0]["event"]
    assert "relayed hello" in _norm(response_text(done))
    _check_every_sent_event_logged(d, d.call_id(), since)
    # Nothing that looks like a client secret was logged by the browser.
    assert "ek_" not in json.dumps(d.records(since))


def test_disconnect_and_reconnect_starts_a_second_call(open_notebook):
    nb = open_notebook([IMPORT + f"w = RealtimeWidget({NO_VAD})\nw"])
    d = Driven(nb)
    d.wait_rendered()
    first = _connect_by_click(d)
    first_call = d.call_id()

    d.click("disconnect")
    d.wait_state("closed")
    d.expect_state_shown("closed")
    d.expect_mic_released()
    # The hangup reached the emulator: the call is gone there.
    d.wait(f"{first_call!r} not in w.emulator.calls", what="the emulator to end the first call")

    second = _connect_by_click(d)
    second_call = d.call_id()
    assert second > first and second_call != first_call
    assert d.ev("w.emulator.calls") == [second_call]
    # The log keeps both calls, each opened by its own start phase and session.created.
    assert d.call_starts() == [first, second]
    sessions = d.records(type_="session.created")
    assert len(sessions) == 2
    assert first < sessions[0]["seq"] < second < sessions[1]["seq"]
    assert sessions[0]["event"]["session"]["id"] != sessions[1]["event"]["session"]["id"]
    # The second call is fully usable.
    mark = d.log_len()
    nb.kernel.run("w.send_text('second call')")
    d.wait_event("response.done", since=mark, timeout=60)
    # Each call's server events are all in the log, in its own stretch of the log.
    _check_every_sent_event_logged(d, first_call, first, second)
    _check_every_sent_event_logged(d, second_call, second)


@pytest.mark.parametrize("fault", ["close_peer_connection", "close_data_channel"])
def test_emulator_drops_the_call_mid_response_then_a_fresh_call_works(open_notebook, fault):
    nb = open_notebook([IMPORT + f"w = RealtimeWidget({NO_VAD})\nw"])
    d = Driven(nb)
    d.wait_rendered()
    since = _connect_by_click(d)
    call_id = d.call_id()

    # A long answer: the emulator paces its deltas with its speech, so this takes seconds.
    mark = d.log_len()
    nb.kernel.run(
        "w.send_text('Please repeat this long sentence about rivers, mountains, forests, "
        "deserts, oceans, islands, valleys and the many small towns between them.')"
    )
    response_id = d.wait_event("response.created", since=mark, timeout=30)[0]["event"]["response"][
        "id"
    ]
    d.wait_event("response.output_audio_transcript.delta", since=mark, timeout=30)
    nb.kernel.run(f"w.emulator.inject_fault({call_id!r}, {fault!r})")

    state = d.wait_state(ENDED, timeout=30)
    d.expect_state_shown(ENDED)
    d.expect_mic_released()
    # It really was mid-response: the emulator never finished that response.
    sent_done = d.ev(
        f"[e['response']['id'] for e in w.emulator.sent_events({call_id!r}) "
        f"if e['type'] == 'response.done']"
    )
    assert response_id not in sent_done
    # The state says why.
    changes = [r["event"] for r in d.records(mark, type_="widget.state")]
    final = [c for c in changes if c["state"] == state]
    assert final and final[-1]["reason"].strip(), changes
    # The panel is ready for a fresh call, and it works.
    expect(d.el("connect")).to_be_enabled()
    second = _connect_by_click(d)
    assert d.call_id() != call_id
    mark = d.log_len()
    nb.kernel.run("w.send_text('after the fault')")
    done = d.wait_event("response.done", since=mark, timeout=60)[0]["event"]
    assert "after the fault" in _norm(response_text(done))
    assert second > since
    # What reached the page before the drop is in the log in order; the new call is complete.
    _check_every_sent_event_logged(d, call_id, since, second, complete=False)
    _check_every_sent_event_logged(d, d.call_id(), second)


def test_two_views_of_one_widget_make_one_call(open_notebook):
    nb = open_notebook([IMPORT + f"w = RealtimeWidget({NO_VAD})", "w", "w"])
    d = Driven(nb)
    d.wait_rendered(n_views=2)
    _connect_by_click(d, view=0)
    # Both panels show the one call.
    d.expect_state_shown("connected", view=0)
    d.expect_state_shown("connected", view=1)
    call_id = d.call_id()
    assert d.ev("w.emulator.calls") == [call_id]
    assert len(d.call_starts()) == 1
    assert d.count("session.created") == 1
    # Closing one view (clearing its output) does not hang up.
    nb.page.evaluate(
        "() => window.jupyterapp.shell.currentWidget.content.widgets[2].model.outputs.clear()"
    )
    expect(d.views()).to_have_count(1)
    time.sleep(1.5)
    assert d.ev("w.state") == "connected"
    assert d.ev("w.emulator.calls") == [call_id]
    # The remaining view still drives the call: typing in its text box gets an answer.
    mark = d.log_len()
    d.el("text-input").fill("typed in the panel")
    d.click("send-text")
    done = d.wait_event("response.done", since=mark, timeout=60)[0]["event"]
    assert "typed in the panel" in _norm(response_text(done))
    # Two views did not double anything: each server event is logged exactly once.
    _check_every_sent_event_logged(d, call_id, 0)


# -- errors the user sees --------------------------------------------------------------------------
GOOD_KEY = "sk-e2e-good-key"
BAD_KEY = "sk-e2e-bad-key"


def test_bad_api_key_shows_an_error_in_the_panel_and_in_w_error(open_notebook):
    nb = open_notebook([
        "from rt_widget.emulator import Emulator\n"
        f"emu = Emulator(api_key={GOOD_KEY!r}).start()",
        IMPORT + f"w = RealtimeWidget(api_key={BAD_KEY!r}, base_url=emu.base_url)\nw",
    ])  # fmt: skip
    d = Driven(nb)
    d.wait_rendered()
    assert d.ev("w.backend") == "custom"
    d.click("connect")
    d.wait_state("failed")
    d.expect_state_shown("failed")
    error = d.wait("w.error", what="w.error to be set")
    assert BAD_KEY not in error and GOOD_KEY not in error
    assert re.search(r"key|401|unauthori[sz]ed", error, re.IGNORECASE), error
    expect(d.el("error")).to_contain_text(error.strip()[:80])
    assert d.ev("emu.calls") == []
    codes = [r["event"].get("code") for r in d.records(type_="widget.error")]
    assert codes, "no widget.error record"


def test_mic_permission_denied_shows_an_error(open_notebook):
    nb = open_notebook([IMPORT + "w = RealtimeWidget()\nw"], mic=False)
    d = Driven(nb)
    d.wait_rendered()
    d.click("connect")
    d.wait_state("failed")
    d.expect_state_shown("failed")
    error = d.wait("w.error", what="w.error to be set")
    assert re.search("microphone", error, re.IGNORECASE), error
    expect(d.el("error")).to_contain_text(error.strip()[:80])
    codes = [r["event"].get("code") for r in d.records(type_="widget.error")]
    assert "mic_denied" in codes, codes
    assert d.live_mic_tracks() == 0
    assert d.ev("w.emulator.calls") == []


def test_saved_notebook_contains_no_secret(open_notebook):
    # The key is made in the kernel (as a user would read it from the environment), so the only
    # way it could reach the file is through the widget.
    nb = open_notebook([
        "import secrets\nfrom rt_widget.emulator import Emulator\n"
        "KEY = 'sk-e2e-' + secrets.token_hex(16)\nemu = Emulator(api_key=KEY).start()",
        IMPORT + f"w = RealtimeWidget(api_key=KEY, base_url=emu.base_url, {NO_VAD})\nw",
    ])  # fmt: skip
    key = nb.kernel.eval("KEY")
    d = Driven(nb)
    d.wait_rendered()
    since = _connect_by_click(d)
    # The call used a client secret (the client_secret signaling path), minted ahead: when the
    # widget was shown, so Connect waited neither for the kernel nor for the service.
    received = [r["event"] for r in d.phases(since) if r["event"]["phase"] == "secret_received"]
    assert received and received[0].get("prefetched") is True, d.phases(since)
    mark = d.log_len()
    nb.kernel.run("w.send_text('a message to keep')")
    d.wait_event("response.done", since=mark, timeout=60)
    _check_every_sent_event_logged(d, d.call_id(), since, emu="emu")
    # Show what a user would: the widget's repr, every log record, the log as a DataFrame; and
    # save the log as JSON Lines.
    nb.add_and_run_cell(
        "print(repr(w))\nfor r in w.log:\n    print(r)\n"
        "w.log.save('saved-log.jsonl')\nw.log.events()"
    )
    log_text = (nb.lab.root / "saved-log.jsonl").read_text()
    assert key not in log_text and "ek_" not in log_text

    saved = nb.save()
    text = nb.file.read_text()
    assert key not in text
    assert "ek_" not in text
    # The saved notebook really holds the widget's synced state (so a secret there would show).
    state = saved["metadata"].get("widgets", {}).get("application/vnd.jupyter.widget-state+json")
    assert state and any(
        m.get("state", {}).get("backend") == "custom" for m in state["state"].values()
    ), "widget state was not saved"
    # ...and the outputs a user would keep: the log's records are in the file.
    assert "a message to keep" in text
