"""``python -m rt_widget.emulator`` (or ``rt-emulator``): serve the emulator until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from .knobs import CallKnobs
from .script import load_script
from .server import EmulatorServer, EmulatorSettings


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m rt_widget.emulator",
        description=(
            "A local stand-in for OpenAI's Realtime API: a real WebRTC peer (aiortc) behind the "
            "same REST paths (/v1/realtime/client_secrets, /v1/realtime/calls), speaking the same "
            "GA events. It has no language model: it echoes what it hears. Point a client's base "
            "URL at http://HOST:PORT/v1."
        ),
        epilog="The admin path (/admin: faults, knobs, bursts, event records) answers loopback "
        "clients only. See docs/emulator.md.",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: %(default)s; 0.0.0.0 for a classroom)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=8765,
        help="port to listen on, 0 for any free one (default: %(default)s)",
    )
    p.add_argument(
        "--api-key",
        default=None,
        metavar="KEY",
        help="accept only this API key (default: any non-empty key)",
    )
    p.add_argument(
        "--script",
        default=None,
        metavar="FILE",
        help='JSON file of scripted turns: [{"user": "...", "assistant": "..."}, ...]',
    )
    p.add_argument(
        "--response-delay-ms",
        type=float,
        default=0.0,
        metavar="MS",
        help="added delay before each response's output, like model latency (default: %(default)s)",
    )
    p.add_argument(
        "--delta-interval-ms",
        type=float,
        default=None,
        metavar="MS",
        help="fixed time between deltas (default: transcript deltas follow the "
        "speech, text deltas every 20 ms)",
    )
    p.add_argument(
        "--voice",
        choices=("auto", "espeak", "pattern"),
        default="auto",
        help="speech engine: espeak-ng, a synthesized tone pattern, or auto "
        "(espeak-ng when installed; default: %(default)s)",
    )
    p.add_argument(
        "--log-level",
        default="INFO",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="log level (default: %(default)s)",
    )
    return p


async def serve(server: EmulatorServer) -> None:
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl+C raises instead
            loop.add_signal_handler(sig, stop.set)
    print(
        f"rt_widget emulator: serving {server.base_url} (no language model; Ctrl+C stops)",
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(message)s")
    if args.log_level != "DEBUG":  # the WebRTC stack's own INFO lines (ICE checks) are noise here
        for name in ("aioice", "aiortc"):
            logging.getLogger(name).setLevel(logging.WARNING)
    try:
        settings = EmulatorSettings(
            host=args.host,
            port=args.port,
            api_key=args.api_key,
            script=load_script(args.script),
            knobs=CallKnobs(args.response_delay_ms, args.delta_interval_ms),
            voice=args.voice,
        )
        server = EmulatorServer(settings)
    except (ValueError, RuntimeError) as e:
        print(f"rt_widget emulator: {e}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(server))
    except OSError as e:  # the port is taken, the address is not ours
        print(
            f"rt_widget emulator: cannot listen on {args.host}:{args.port}: {e.strerror}",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
