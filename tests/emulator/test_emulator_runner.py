"""Ways to run the emulator: the in-process API (thread + loop) and the command line."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
from support.emulator_clients import run

from rt_widget.emulator import CallKnobs, Emulator
from rt_widget.emulator.__main__ import _parser


def mint(base_url: str, key: str = "sk-test") -> dict:
    request = urllib.request.Request(
        f"{base_url}/realtime/client_secrets",
        data=b"{}",
        method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        return json.loads(reply.read())


def test_in_process_api_starts_on_a_free_port_and_stops_cleanly() -> None:
    before = {t.ident for t in threading.enumerate()}
    with Emulator() as emu:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", emu.base_url)
        assert emu.admin_url == emu.base_url[:-3] + "/admin"
        assert emu.running and "127.0.0.1" in repr(emu)
        assert mint(emu.base_url)["value"].startswith("ek_")
        assert emu.calls == [] and emu.call_history == []
        with pytest.raises(RuntimeError, match="already running"):
            emu.start()
        thread = next(t for t in threading.enumerate() if t.name == "rt_widget-emulator")
        assert thread.daemon
    assert not emu.running and not thread.is_alive()
    assert {t.ident for t in threading.enumerate()} <= before
    with pytest.raises(RuntimeError, match="not running"):
        _ = emu.base_url
    emu.stop()  # stopping twice is harmless


def test_two_emulators_side_by_side() -> None:
    with Emulator() as a, Emulator() as b:
        assert a.port != b.port
        assert mint(a.base_url) and mint(b.base_url)


def test_a_taken_port_is_reported() -> None:
    with Emulator() as emu, pytest.raises(OSError):
        Emulator(port=emu.port).start()


def test_knobs_through_the_api() -> None:
    with Emulator(response_delay_ms=10, delta_interval_ms=5) as emu:
        assert emu.set_knobs() == CallKnobs(10, 5)
        assert emu.set_knobs(response_delay_ms=0) == CallKnobs(0, 5)
        with pytest.raises(Exception, match="Unknown knob"):
            emu.set_knobs(pace=1)
        with pytest.raises(Exception, match="not found"):
            emu.set_knobs("rtc_nope", response_delay_ms=1)
        with pytest.raises(Exception, match="Unknown fault"):
            emu.inject_fault(None, "meltdown")
        with pytest.raises(Exception, match="needs a call_id"):
            emu.inject_fault(None, "close_peer_connection")
        with pytest.raises(TimeoutError):
            emu.wait_for_call(timeout=0.1)


def test_script_from_a_json_file(tmp_path: Path, emulator: Emulator) -> None:
    from rt_widget.emulator.script import Turn, load_script

    path = tmp_path / "script.json"
    path.write_text(json.dumps([{"user": "Hi", "assistant": "Hello!"}, {"assistant": "Bye."}]))
    assert load_script(path) == [Turn("Hi", "Hello!"), Turn(None, "Bye.")]
    for bad, message in [
        ("{}", "array"),
        ("[1]", "object"),
        ('[{"bot": "x"}]', "unknown keys"),
        ("[{", "not valid JSON"),
    ]:
        path.write_text(bad)
        with pytest.raises(ValueError, match=message):
            load_script(path)
    with pytest.raises(ValueError, match="cannot read"):
        load_script(tmp_path / "missing.json")


def test_help_documents_every_option() -> None:
    text = _parser().format_help()
    for option in (
        "--host",
        "--port",
        "--api-key",
        "--script",
        "--response-delay-ms",
        "--delta-interval-ms",
        "--voice",
        "--log-level",
    ):
        assert option in text
    assert "no language model" in text


def test_command_line_serves_until_interrupted(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text('[{"assistant": "Scripted hello."}]')
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rt_widget.emulator",
            "--port",
            "0",
            "--api-key",
            "sk-cli",
            "--script",
            str(script),
            "--voice",
            "pattern",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        match = re.search(r"serving (http://127\.0\.0\.1:\d+/v1)", line)
        assert match, line
        base_url = match.group(1)
        assert mint(base_url, "sk-cli")["value"].startswith("ek_")
        with pytest.raises(urllib.error.HTTPError) as info:
            mint(base_url, "sk-other")
        assert info.value.code == 401
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
        log = proc.stderr.read()  # type: ignore[union-attr]
        assert "rt_widget emulator: serving" in log and "rt_widget emulator: stopped" in log
        assert "sk-cli" not in log  # no key in the log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_command_line_rejects_a_bad_script(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("nope")
    done = subprocess.run(
        [sys.executable, "-m", "rt_widget.emulator", "--script", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "not valid JSON" in done.stderr


def test_wait_for_call_and_event_from_another_thread(emulator: Emulator, clients) -> None:
    found: dict = {}

    def watch() -> None:
        call_id = emulator.wait_for_call(timeout=20)
        found["event"] = emulator.wait_for_event(call_id, "session.created", timeout=20)

    watcher = threading.Thread(target=watch)
    watcher.start()

    async def go() -> None:
        async with clients.connected() as c:
            await asyncio.get_running_loop().run_in_executor(None, watcher.join, 30)
            assert found["event"] == c.events[0]

    run(go())
