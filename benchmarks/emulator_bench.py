"""Figures for the emulator: SDP answer latency and event-burst throughput.

    .venv/bin/python benchmarks/emulator_bench.py              # both, both ways of running
    .venv/bin/python benchmarks/emulator_bench.py --profile    # and where a burst's time goes
    .venv/bin/python benchmarks/emulator_bench.py --browser    # and a burst into headless Chromium

The client is aiortc (tests/support/aiortc_client.py, validation off: it only counts messages).
The emulator runs two ways: in this process (its own loop and thread, as in a notebook; client
and emulator then share one GIL), and as ``python -m rt_widget.emulator`` in a subprocess (as in
a workshop; client and emulator each get a core). The machine's load average is printed with
the figures: on a shared machine they move with it.

Answer latency: wall time of ``POST /v1/realtime/calls`` (HTTP keep-alive, a browser-shaped
offer with audio + data channel + BUNDLE), each call hung up after; plus, in process, the time
of each aiortc step on the emulator side.

Burst: one call, ``POST /admin/calls/{id}/burst`` of N events; the rate is N over the time from
that request to the client's N-th message. With ``--browser``, the same into a page of headless
Chromium (Playwright, Debian's chromium) counting ``message`` events on its data channel.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import os
import pstats
import re
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from support.aiortc_client import RealtimeClient  # noqa: E402

from rt_widget.emulator import Emulator  # noqa: E402
from rt_widget.emulator.conversation import burst_delta  # noqa: E402

KEY = {"Authorization": "Bearer sk-bench"}
TEXT_SESSION = {"type": "realtime", "output_modalities": ["text"]}


# -- where the emulator runs -----------------------------------------------------------------------


@contextlib.contextmanager
def in_process() -> Iterator[tuple[str, Emulator]]:
    with Emulator(voice="pattern") as emu:
        yield emu.base_url, emu


@contextlib.contextmanager
def subprocess_emulator() -> Iterator[tuple[str, None]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rt_widget.emulator",
            "--port",
            str(port),
            "--voice",
            "pattern",
            "--log-level",
            "WARNING",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        match = re.search(r"serving (\S+/v1)", line)
        if not match:
            raise RuntimeError(f"the emulator did not start: {line!r}")
        yield match.group(1), None
    finally:
        proc.terminate()
        proc.wait(10)


# -- answer latency --------------------------------------------------------------------------------


async def browser_like_offer() -> str:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("audio", direction="sendrecv")
    pc.createDataChannel("oai-events")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return sdp


async def answer_latency(base_url: str, count: int) -> list[float]:
    offer = await browser_like_offer()
    times = []
    async with aiohttp.ClientSession() as http:
        for i in range(count + 3):
            t0 = time.perf_counter()
            async with http.post(
                f"{base_url}/realtime/calls",
                data=offer,
                headers={**KEY, "Content-Type": "application/sdp"},
            ) as r:
                await r.text()
                elapsed = time.perf_counter() - t0
                assert r.status == 201, r.status
                call_url = f"{base_url}/realtime/calls/{r.headers['Location'].rsplit('/', 1)[1]}"
            async with http.post(f"{call_url}/hangup", headers=KEY) as r:
                assert r.status == 200
            if i >= 3:  # the first calls warm up imports and caches
                times.append(elapsed * 1000)
    return times


async def answer_steps(count: int) -> dict[str, list[float]]:
    """The emulator side of an answer, step by step, as Call.answer does it."""
    offer = await browser_like_offer()
    steps: dict[str, list[float]] = {
        k: []
        for k in (
            "RTCPeerConnection()",
            "setRemoteDescription",
            "createAnswer",
            "setLocalDescription (ICE gathering)",
            "total",
        )
    }
    for _ in range(count):
        t0 = time.perf_counter()
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        t1 = time.perf_counter()
        await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        pc.addTrack(AudioStreamTrack())
        t2 = time.perf_counter()
        answer = await pc.createAnswer()
        t3 = time.perf_counter()
        await pc.setLocalDescription(answer)
        t4 = time.perf_counter()
        await pc.close()
        for name, a, b in zip(steps, (t0, t1, t2, t3, t0), (t1, t2, t3, t4, t4), strict=True):
            steps[name].append((b - a) * 1000)
    return steps


# -- burst -----------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def one_call(base_url: str) -> AsyncIterator[tuple[RealtimeClient, aiohttp.ClientSession]]:
    async with aiohttp.ClientSession() as http:
        client = RealtimeClient(base_url, validate=False)
        await client.connect(http, form="multipart", session=TEXT_SESSION)
        try:
            yield client, http
        finally:
            await client.close()


async def burst_rate(base_url: str, count: int) -> tuple[float, float]:
    """(events/s delivered to the client, events/s handed to the data channel)."""
    async with one_call(base_url) as (client, http):
        admin = base_url.rsplit("/v1", 1)[0] + "/admin"
        before = len(client.events)
        t0 = time.perf_counter()
        async with http.post(f"{admin}/calls/{client.call_id}/burst", json={"count": count}) as r:
            report = await r.json()
        await client.wait_for_count(before + count, timeout=300)
        elapsed = time.perf_counter() - t0
        deltas = [
            e["delta"] for e in client.events[before:] if e["type"] == "response.output_text.delta"
        ]
        assert deltas == [burst_delta(i) for i in range(len(deltas))], "lost or reordered events"
        return count / elapsed, count / report["seconds"]


def profile_burst(count: int) -> str:
    """cProfile of the emulator's thread during an in-process burst: where the time goes."""
    profiler = cProfile.Profile()
    with Emulator(voice="pattern") as emu:

        async def go() -> None:
            async with one_call(emu.base_url) as (client, _):
                emu._await(lambda s: _enable(profiler))
                before = len(client.events)
                emu.burst(client.call_id, count)
                await client.wait_for_count(before + count, timeout=300)
                emu._await(lambda s: _disable(profiler))

        asyncio.run(go())
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(18)
    return out.getvalue()


async def _enable(profiler: cProfile.Profile) -> None:
    profiler.enable()  # profiles the thread it is called on: the emulator's


async def _disable(profiler: cProfile.Profile) -> None:
    profiler.disable()


# -- burst into a browser --------------------------------------------------------------------------

_PAGE_CALL = """async (base) => {
  const pc = new RTCPeerConnection();
  pc.addTransceiver('audio', {direction: 'recvonly'});
  const channel = pc.createDataChannel('oai-events');
  window.received = 0;
  channel.onmessage = () => { window.received++; };
  await pc.setLocalDescription(await pc.createOffer());
  const reply = await fetch(base + '/realtime/calls', {
    method: 'POST', body: pc.localDescription.sdp,
    headers: {'Authorization': 'Bearer sk-bench', 'Content-Type': 'application/sdp'}});
  await pc.setRemoteDescription({type: 'answer', sdp: await reply.text()});
  await new Promise((done) => { const wait = () => window.received ? done() : setTimeout(wait, 10);
                                wait(); });
  return reply.headers.get('Location').split('/').pop();
}"""


def browser_bursts(count: int, rounds: int) -> list[float]:
    import shutil

    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        raise RuntimeError("no chromium on PATH (apt-get install -y chromium)")
    rates = []
    with Emulator(voice="pattern") as emu, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True)
        try:
            page = browser.new_page()
            call_id = page.evaluate(_PAGE_CALL, emu.base_url)
            for _ in range(rounds):
                before = page.evaluate("window.received")
                t0 = time.perf_counter()
                emu.burst(call_id, count)
                page.wait_for_function(
                    f"window.received >= {before + count}", polling=10, timeout=300_000
                )
                rates.append(count / (time.perf_counter() - t0))
        finally:
            browser.close()
    return rates


# -- report ----------------------------------------------------------------------------------------


def summary(values: list[float], unit: str) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return (
        f"median {statistics.median(values):8.1f} {unit}   p90 {p90:8.1f}   "
        f"min {ordered[0]:8.1f}   max {ordered[-1]:8.1f}   (n={len(values)})"
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--answers", type=int, default=50, help="offers to time (default 50)")
    p.add_argument("--events", type=int, default=10_000, help="events per burst (default 10000)")
    p.add_argument("--bursts", type=int, default=3, help="bursts per setting (default 3)")
    p.add_argument("--profile", action="store_true", help="profile an in-process burst")
    p.add_argument("--browser", action="store_true", help="also burst into headless Chromium")
    args = p.parse_args(argv)
    print(
        f"rt_widget emulator benchmark  (load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} CPUs)"
    )

    print("\nSDP answer latency, POST /v1/realtime/calls round trip:")
    for name, where in (("in process", in_process), ("subprocess", subprocess_emulator)):
        with where() as (base_url, _):
            print(
                f"  {name:11s} {summary(asyncio.run(answer_latency(base_url, args.answers)), 'ms')}"
            )
    print("  emulator side, per aiortc step (in process):")
    for step, values in asyncio.run(answer_steps(args.answers)).items():
        print(f"    {step:37s} {summary(values, 'ms')}")

    print(f"\nBurst of {args.events} events on one call, delivered to an aiortc client:")
    for name, where in (("in process", in_process), ("subprocess", subprocess_emulator)):
        with where() as (base_url, _):
            results = [asyncio.run(burst_rate(base_url, args.events)) for _ in range(args.bursts)]
        delivered = [r[0] for r in results]
        handed = [r[1] for r in results]
        print(f"  {name:11s} delivered {summary(delivered, 'ev/s')}")
        print(f"  {'':11s} handed to the channel: median {statistics.median(handed):,.0f} ev/s")
    if args.browser:
        rates = browser_bursts(args.events, args.bursts)
        print(f"  {'Chromium':11s} delivered {summary(rates, 'ev/s')}  (emulator in process)")
    print(f"  load average now {os.getloadavg()[0]:.1f}")

    if args.profile:
        print(f"\nWhere an in-process burst's time goes (emulator thread, {args.events} events):")
        print(profile_burst(args.events))


if __name__ == "__main__":
    main()
