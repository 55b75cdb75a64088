"""Record ``widget_session.jsonl``: one call of the real widget, in headless Chromium, to the
built-in emulator, over real WebRTC. The workshop notebooks read it when they run without a live
call (no microphone, no browser, a CI run).

What the call holds, in order:

1. Connect, clicked in the panel (client-secret signaling: every ``widget.phase`` of the
   handshake, the SDP offer and answer as ``widget.sdp`` records);
2. a spoken turn: Chromium's fake microphone plays a sentence, the emulator's server VAD ends the
   turn, input transcription is on;
3. a typed turn (``w.send_text``);
4. a tool turn: the emulator calls ``get_weather``, the kernel runs it and answers;
5. a tool turn that fails: ``divide`` by zero, the error goes back to the model;
6. a barge-in: a long typed answer, cut off by a second spoken sentence;
7. Disconnect, clicked in the panel.

``widget.stats`` samples arrive once a second throughout. The script reuses the end-to-end test
harness (``tests/e2e``: JupyterLab, Chromium through Playwright, a kernel client) and the speech
fixtures (``tests/support/speech.py``: espeak-ng + sox). Run it from the project root with the
test extras installed::

    .venv/bin/python notebooks/data/record_session.py            # writes notebooks/data/widget_session.jsonl
    .venv/bin/python notebooks/data/record_session.py --out /tmp/session.jsonl

It takes a little over a minute. It checks the recording (every step above is in it, no client
secret anywhere) before writing the file.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from e2e.driver import Driven
from e2e.harness import CHROMIUM_ARGS, LabServer, Notebook, fake_mic_args
from support.speech import speech_wav

OUT = Path(__file__).resolve().parent / "widget_session.jsonl"
RATE = 48_000

FIRST_SENTENCE = "Hello there. What is the weather like in Paris today?"
SECOND_SENTENCE = "Sorry, stop. Say that again, please."
# When the second sentence starts, in seconds after the microphone opens. The typed and tool turns
# before it take about 15 s (more on a busy machine); the long answer it interrupts is started 2 s
# before it.
SECOND_AT_S = 38.0
LEAD_S = 1.0

WIDGET_CELL = '''\
from rt_widget import RealtimeWidget


def get_weather(city: str) -> dict:
    """The weather in a city (made up: there is no weather service here).

    Args:
        city: The city's name, e.g. "Paris".
    """
    return {"city": city, "sky": "clear", "temperature_c": 21}


def divide(a: float, b: float) -> float:
    """Divide a by b."""
    return a / b


w = RealtimeWidget(
    instructions="You are a friendly tutor.",
    session={"audio": {"input": {"transcription": {"model": "gpt-4o-mini-transcribe"}}}},
    tools=[get_weather, divide],
)
w'''

TYPED = "What is WebRTC, in one sentence?"
TOOL_OK = 'What is the weather in Paris? Use get_weather with {"city": "Paris"}'
TOOL_ERROR = 'Use divide with {"a": 1, "b": 0}'
LONG = (
    "Please tell me, slowly and in detail, how a lighthouse keeper spent a long winter night on a "
    "rock far out at sea, from the first lamp at dusk to the last one at dawn."
)


def read_pcm(path: Path) -> np.ndarray:
    with wave.open(str(path)) as f:
        assert f.getframerate() == RATE and f.getnchannels() == 1 and f.getsampwidth() == 2
        return np.frombuffer(f.readframes(f.getnframes()), dtype="<i2")


def microphone_wav(folder: Path) -> Path:
    """The fake microphone's audio: silence, the first sentence, silence until SECOND_AT_S, the
    second sentence, silence."""
    first = read_pcm(speech_wav(FIRST_SENTENCE, RATE, lead_silence_s=0, tail_silence_s=0))
    second = read_pcm(speech_wav(SECOND_SENTENCE, RATE, lead_silence_s=0, tail_silence_s=0))
    lead = np.zeros(int(LEAD_S * RATE), dtype=np.int16)
    gap = np.zeros(int(SECOND_AT_S * RATE) - lead.size - first.size, dtype=np.int16)
    tail = np.zeros(4 * RATE, dtype=np.int16)
    pcm = np.concatenate([lead, first, gap, second, tail])
    path = folder / "microphone.wav"
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(RATE)
        f.writeframes(pcm.tobytes())
    return path


def wait_response(d: Driven, since: int, timeout: float = 60) -> dict:
    """The first response.done after ``since``, once the audio of that response (if it spoke)
    has stopped too."""
    done = d.wait_event("response.done", since=since, timeout=timeout)[0]
    response = done["event"]["response"]
    response_id = response["id"]
    spoke = any(item.get("type") == "message" for item in response.get("output") or [])
    if response.get("status") == "completed" and spoke:
        d.wait(
            f"any(r['event'].get('type') == 'output_audio_buffer.stopped' and "
            f"r['event'].get('response_id') == {response_id!r} for r in w.log[{since}:])",
            timeout=30,
            what=f"the audio of {response_id} to stop",
        )
    return done


def record(out: Path) -> None:
    chromium = shutil.which("chromium")
    if not chromium:
        sys.exit("Debian's chromium is needed: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="rt-record-") as tmp:
        tmp_path = Path(tmp)
        wav = microphone_wav(tmp_path)
        lab = LabServer(tmp_path / "lab").start()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=chromium, headless=True,
                    args=[*CHROMIUM_ARGS, *fake_mic_args(wav)],
                )  # fmt: skip
                context = browser.new_context(permissions=["microphone"])
                nb = Notebook(lab, context.new_page(), Notebook.write(lab, [WIDGET_CELL]))
                try:
                    nb.open()
                    nb.run_all()
                    d = Driven(nb)
                    d.wait_rendered()
                    run_the_call(d)
                    nb.kernel.run(f"w.log.save({str(tmp_path / 'session.jsonl')!r})")
                finally:
                    nb.close()
                    context.close()
                    browser.close()
        finally:
            lab.stop()
        records = [json.loads(line) for line in (tmp_path / "session.jsonl").open()]
        check(records)
        shutil.copyfile(tmp_path / "session.jsonl", out)
    print(f"wrote {out} ({len(records)} records, {out.stat().st_size / 1024:.0f} KiB)")


def run_the_call(d: Driven) -> None:
    k = d.k
    # 1. Connect, as a user does.
    d.click("connect")
    d.wait_state("connected", timeout=30)
    d.wait_event("session.created", timeout=30)
    phases = d.records(type_="widget.phase")
    mic_ready_ms = next(r["t_browser_ms"] for r in phases if r["event"]["phase"] == "mic_ready")
    print("connected")

    # 2. The first sentence: server VAD makes a turn of it.
    d.wait_event("input_audio_buffer.speech_stopped", timeout=30)
    wait_response(d, 0)
    print("spoken turn done")

    # 3-5. Typed turns, the last two calling tools.
    for text in (TYPED, TOOL_OK, TOOL_ERROR):
        mark = d.log_len()
        k.run(f"w.send_text({text!r})")
        done = wait_response(d, mark)
        if text != TYPED:
            # The function call's response, then the kernel's answer and the model's reply to it.
            d.wait_event("widget.tool", since=mark, timeout=30)
            wait_response(d, d.records(mark, type_="widget.tool")[0]["seq"])
        print("typed turn done:", done["event"]["response"]["status"])

    # 6. A long answer, under way when the second sentence starts.
    start_long_at = mic_ready_ms + (SECOND_AT_S - 2.0) * 1000
    wait_s = (start_long_at - time.time() * 1000) / 1000
    if wait_s < 0:
        raise SystemExit(f"the turns before the barge-in took {-wait_s:.1f} s too long")
    time.sleep(wait_s)
    mark = d.log_len()
    k.run(f"w.send_text({LONG!r})")
    cut = d.wait(
        f"[r['event'] for r in w.log[{mark}:] if r['event'].get('type') == 'response.done']",
        timeout=40, what="the long answer to end", until=lambda found: bool(found),
    )[0]  # fmt: skip
    print("long answer:", cut["response"]["status"])
    committed = d.wait_event("input_audio_buffer.committed", since=mark, timeout=20)[0]
    wait_response(d, committed["seq"])
    print("barge-in turn done")

    # 7. A moment of idle call for the stats, then hang up as a user does.
    time.sleep(2)
    d.click("disconnect")
    d.wait_state("closed", timeout=20)
    d.wait(
        "any(r['event'].get('phase') == 'hung_up' for r in w.log)",
        timeout=10, what="the hung_up phase",
    )  # fmt: skip


def check(records: list[dict]) -> None:
    """Everything the notebooks rely on is in the recording, and no secret is."""
    text = json.dumps(records)
    assert "ek_" not in text, "a client secret reached the log"
    types = [r["event"].get("type") for r in records]
    phases = {r["event"].get("phase") for r in records if r["event"].get("type") == "widget.phase"}
    # The secret was minted ahead (when the widget was shown), so the call has no secret_minted:
    # its secret_requested / secret_received are marked prefetched.
    for phase in (
        "start",
        "secret_requested",
        "secret_received",
        "offer_created",
        "answer_received",
        "channel_open",
        "session_created",
        "closed",
        "hung_up",
    ):
        assert phase in phases, f"no {phase} phase"
    roles = {r["event"].get("role") for r in records if r["event"].get("type") == "widget.sdp"}
    assert roles == {"offer", "answer"}, roles
    assert types.count("widget.stats") >= 20, types.count("widget.stats")
    tools = [r["event"] for r in records if r["event"].get("type") == "widget.tool"]
    assert [(t["name"], t["status"]) for t in tools] == [("get_weather", "ok"), ("divide", "error")]
    statuses = [r["event"]["response"]["status"] for r in records
                if r["event"].get("type") == "response.done"]  # fmt: skip
    assert "cancelled" in statuses, f"the barge-in did not cut the long answer: {statuses}"
    assert types.count("input_audio_buffer.speech_stopped") == 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write (default {OUT})")
    record(parser.parse_args().out)


if __name__ == "__main__":
    main()
